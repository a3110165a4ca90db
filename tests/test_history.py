"""History: per-epoch records, one metric as a list, the last record, and its short descriptions."""

from __future__ import annotations

import pytest

from d2lmini.history import History


def two_epochs() -> History:
    return History(
        records=[
            {"epoch": 1.0, "train_loss": 0.9, "val_acc": 0.70, "seconds": 1.25},
            {"epoch": 2.0, "train_loss": 0.5, "val_acc": 0.80, "seconds": 1.5},
        ],
        device="cuda",
    )


def test_a_metric_over_the_epochs_and_the_last_record() -> None:
    history = two_epochs()
    assert len(history) == 2 and history.keys() == ["epoch", "train_loss", "val_acc", "seconds"]
    assert history["train_loss"] == [0.9, 0.5]
    assert history.final == {"epoch": 2.0, "train_loss": 0.5, "val_acc": 0.80, "seconds": 1.5}
    with pytest.raises(KeyError, match=r"no metric 'accuracy'; this history has \['epoch', 'train_loss'"):
        history["accuracy"]


def test_descriptions() -> None:
    history = two_epochs()
    assert history.describe(0) == "epoch 1, train_loss 0.9000, val_acc 0.7000, 1.2s"
    assert repr(history) == "History(2 epochs on cuda; last: epoch 2, train_loss 0.5000, val_acc 0.8000, 1.5s)"
    history.interrupted = True
    assert repr(history).startswith("History(2 epochs on cuda, interrupted; last: epoch 2")


def test_an_empty_history() -> None:
    history = History()
    assert len(history) == 0 and history.keys() == [] and history.final == {} and history["val_acc"] == []
    assert repr(history) == "History(0 epochs on cpu)"


def test_an_epoch_number_as_key_points_to_the_records() -> None:
    with pytest.raises(KeyError, match=r"indexed by metric, such as history\['val_acc'\]; one epoch's record is "
                                       r"history\.records\[-1\] \(the last: history\.final\)"):  # fmt: skip
        two_epochs()[-1]  # type: ignore[index]


def test_early_stopping_shows_in_the_description() -> None:
    history = two_epochs()
    assert history.best_epoch is None and not history.stopped_early
    history.best_epoch, history.stopped_early = 1, True
    assert repr(history).startswith("History(2 epochs on cuda, stopped early, best epoch 1; last: epoch 2")


def test_the_description_shows_the_last_of_several_epochs() -> None:
    history = two_epochs()
    history.records.append({"epoch": 3.0, "train_loss": 0.25, "val_acc": 0.85, "seconds": 1.0})
    assert repr(history) == "History(3 epochs on cuda; last: epoch 3, train_loss 0.2500, val_acc 0.8500, 1.0s)"
