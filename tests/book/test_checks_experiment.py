"""experiment_checker: checkers for the results an experiment exercise reports (their shape and plausibility)."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest
import torch

from d2lmini.book.checks import experiment_checker
from d2lmini.history import History

check_sweep = experiment_checker(
    "lr_sweep",
    expected_keys=[0.01, 0.1, 1.0, 10.0],
    ranges={"val_acc": (0.0, 1.0), "train_loss": (0.0, None)},
    diverged_ok=[10.0],
)
check_one_unit = experiment_checker(
    "one_unit", expected_keys=["train_acc", "val_acc"], ranges={"train_acc": (0.1, 0.9), "val_acc": (0.1, 0.9)}
)
check_depths = experiment_checker(
    "depth", expected_keys=[1, 2, 3], ranges=(0.0, 1.0), summary="Three depths, three accuracies."
)


def _record(val_acc: float, train_loss: float) -> dict[str, float]:
    return {"epoch": 3.0, "train_loss": train_loss, "val_acc": val_acc, "seconds": 1.0}


SWEEP = {
    0.01: _record(0.71, 0.8),
    0.1: _record(0.84, 0.45),
    1.0: _record(0.80, 0.5),
    10.0: _record(0.1, float("nan")),
}


def test_a_plausible_sweep_is_correct() -> None:
    result = check_sweep(SWEEP)
    assert result.passed and result.message == "✔ lr_sweep: correct. All 4 results are there, each a plausible number."
    assert check_sweep.__name__ == "check_lr_sweep"


def test_histories_count_by_their_last_epoch() -> None:
    histories = {lr: History(records=[_record(0.05, 2.3), record]) for lr, record in SWEEP.items()}
    assert check_sweep(histories).passed
    assert check_one_unit(History(records=[{"train_acc": 0.4, "val_acc": 0.38, "epoch": 1.0}])).passed


@pytest.mark.parametrize(
    "value",
    [0.4, 1, torch.tensor(0.4), torch.tensor([0.4]), np.float32(0.4), np.float64(0.4), np.array(0.4), np.array([0.4])],
    ids=repr,
)
def test_numbers_of_every_kind_are_accepted(value: Any) -> None:
    assert check_one_unit({"train_acc": value, "val_acc": 0.4}).status == ("wrong" if value == 1 else "correct")


def test_summary_and_tuple_ranges() -> None:
    assert check_depths({1: 0.8, 2: 0.82, 3: 0.81}).message == "✔ depth: correct. Three depths, three accuracies."
    assert check_depths({1: 0.8, 2: 82, 3: 0.81}).message == (
        "✘ depth: not yet. results[2] is 82, which is not plausible here: expected between 0 and 1. Check what you "
        "report (a fraction, not a percentage? the right metric?) and how it was computed."
    )


def test_a_float_key_that_differs_by_rounding_counts() -> None:
    rounded = {10**-2 + 1e-17: SWEEP[0.01], 0.1: SWEEP[0.1], 1.0: SWEEP[1.0], 10.0: SWEEP[10.0]}
    assert check_sweep(rounded).passed


WRONG = [
    (check_sweep, {k: v for k, v in SWEEP.items() if k != 1.0}, "exactly the keys [0.01, 0.1, 1.0, 10.0]; missing: "),
    (check_sweep, {**SWEEP, 0.5: SWEEP[0.1]}, "; not asked for: [0.5]."),
    (check_sweep, [0.7, 0.8], "The results are a list; expected a dict with keys [0.01, 0.1, 1.0, 10.0]."),
    (check_sweep, {**SWEEP, 0.1: {"val_acc": 0.8}}, "results[0.1] has no 'train_loss'; it has ['val_acc']."),
    (check_sweep, {**SWEEP, 0.1: _record(84.0, 0.4)}, "results[0.1]['val_acc'] is 84, which is not plausible"),
    (check_sweep, {**SWEEP, 0.1: _record(0.8, -0.4)}, "expected at least 0."),
    (check_sweep, {**SWEEP, 1.0: _record(0.8, float("inf"))}, "results[1.0]['train_loss'] is inf: did training"),
    (check_sweep, {**SWEEP, 0.1: 0.8}, "results[0.1] is a float; expected a dict of metrics with ['train_loss', "),
    (check_sweep, None, "You passed None: pass the dict of results"),
    (check_one_unit, {"train_acc": "0.4", "val_acc": 0.4}, "results['train_acc'] is a str; expected a number."),
    (check_one_unit, {"train_acc": True, "val_acc": 0.4}, "results['train_acc'] is a bool; expected a number."),
    (check_one_unit, {"train_acc": 0.4, "val_acc": float("nan")}, "results['val_acc'] is nan: did training diverge"),
    (check_one_unit, {"train_acc": 0.4, "val_acc": 0.95}, "expected between 0.1 and 0.9"),
    (check_depths, {1: {"val_acc": 0.8}, 2: 0.8, 3: 0.8}, "results[1] is a dict; expected a number."),
    (check_depths, {1: torch.tensor([0.8, 0.9]), 2: 0.8, 3: 0.8}, "results[1] is a Tensor; expected a number."),
    (check_depths, {1: np.array([0.8, 0.9]), 2: 0.8, 3: 0.8}, "results[1] is a ndarray; expected a number."),
    (check_depths, {1: torch.tensor(True), 2: 0.8, 3: 0.8}, "results[1] is a Tensor; expected a number."),
    (check_depths, lambda: None, "Your function returns None: did you forget the `return` statement?"),
]


@pytest.mark.parametrize(("check", "results", "phrase"), WRONG, ids=range(len(WRONG)))
def test_implausible_or_misshapen_results_are_wrong(check: Any, results: Any, phrase: str) -> None:
    result = check(results)
    assert result.status == "wrong" and result.message.startswith(f"✘ {result.task}: not yet.")
    assert phrase in result.message


def test_a_function_returning_the_results_is_called_under_guard() -> None:
    def sweep() -> dict[float, Any]:
        torch.manual_seed(0)
        random.seed(0)
        print("training...")
        return SWEEP

    before = torch.get_rng_state(), random.getstate()
    result = check_sweep(sweep)
    assert result.passed and "Note: your code printed 12 characters (1 line)" in result.message
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]


def test_a_stub_is_not_attempted_and_a_slow_function_is_stopped() -> None:
    def stub() -> Any:
        raise NotImplementedError

    assert check_sweep(stub).status == "not attempted"
    start = time.perf_counter()
    message = check_sweep(lambda: time.sleep(3), time_limit=0.2).message
    assert "did not return within 0.2 s" in message and time.perf_counter() - start < 2.5


# ---------------------------------------------------------------------------
# Answers from a review of plausible student answers: each was misjudged, or got a false or vague hint, before


def test_rates_rounded_to_float32_or_given_as_tensors_count() -> None:
    from_tensor = {lr: SWEEP[key] for lr, key in zip(torch.tensor(list(SWEEP)).tolist(), SWEEP, strict=True)}
    assert 0.009999999776482582 in from_tensor and check_sweep(from_tensor).passed
    assert check_sweep({np.float32(k): v for k, v in SWEEP.items()}).passed
    assert check_sweep({torch.tensor(k): v for k, v in SWEEP.items()}).passed
    assert not check_sweep({0.0101: SWEEP[0.01], 0.1: SWEEP[0.1], 1.0: SWEEP[1.0], 10.0: SWEEP[10.0]}).passed


REVIEWED = [
    # A History where a number is asked for is a History, not "a dict".
    (check_depths, {1: History(records=[_record(0.8, 0.5)]), 2: 0.8, 3: 0.8},
     "results[1] is a History; expected a number. Report one of its final metrics, such as history.final['val_acc']."),
    (check_sweep, {**SWEEP, 0.1: History()}, "results[0.1] is an empty History: no epoch finished"),
    (check_depths, {1: [0.7, 0.75, 0.8], 2: 0.8, 3: 0.8}, "It holds 3 numbers: if they are one per epoch, report the"),
    (check_depths, {1: torch.rand(100) > 0.5, 2: 0.8, 3: 0.8}, "It holds 100 values: report one number"),
    (check_depths, {"1": 0.8, "2": 0.8, "3": 0.8}, "The keys are numbers, not text: write 1, not '1'."),
]


@pytest.mark.parametrize(("check", "results", "phrase"), REVIEWED, ids=range(len(REVIEWED)))
def test_reviewed_results_get_a_true_specific_verdict(check: Any, results: Any, phrase: str) -> None:
    result = check(results)
    assert result.status == "wrong" and phrase in result.message, result.message


def test_a_percentage_is_suggested_only_where_it_would_fit() -> None:
    check_params = experiment_checker("params", expected_keys=[1], ranges={"params": (199_459, 207_601)})
    message = check_params({1: {"params": 100_000}}).message
    assert "results[1]['params'] is 100000, which" in message and "percentage" not in message
    assert "percentage" not in check_one_unit({"train_acc": 0.4, "val_acc": 0.95}).message
    assert "a fraction, not a percentage?" in check_one_unit({"train_acc": 0.4, "val_acc": 45.0}).message
