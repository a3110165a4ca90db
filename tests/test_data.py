"""The data modules: where files are found, downloads, batching, labels, pictures."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from d2lmini import data as data_mod
from d2lmini.data import MNIST, FashionMNIST, TensorLoader
from d2lmini.idx import DataError
from tests.helpers import (
    FAKE_VAL,
    FILES,
    FileServer,
    fake_specs,
    load_command,
    subprocess_env,
    write_fake_dataset,
    write_idx,
)

REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env var, an empty cache folder and no system folder: nothing is found by default."""
    monkeypatch.delenv(data_mod.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (tmp_path / "system",))
    return tmp_path


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
    with pytest.raises(TypeError, match=r"expects raw uint8 pixels.*converted already"):
        data.transform(X)


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
    ("value", "error", "advice"),
    [(2.5, TypeError, "batch_size=256"), ("2", TypeError, "batch_size=256"), (64.0, TypeError, "batch_size=64"),
     (0, ValueError, "batch_size=256"), (True, TypeError, "batch_size=256")],
)
def test_batch_size_is_checked_when_the_data_is_made(
    value: object, error: type, advice: str, fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    with pytest.raises(error, match=f"batch_size must be a positive integer, got .*pass e.g. {advice}"):
        FashionMNIST(batch_size=value, root=fake_data_dir)  # type: ignore[arg-type]


def test_bad_split_and_resize_arguments(fake_data_dir: Path, no_checksums: None, isolated: Path) -> None:
    with pytest.raises(ValueError, match=r"val_size=96 leaves no training images.*holds 96"):
        FashionMNIST(root=fake_data_dir, val_size=96)
    with pytest.raises(ValueError, match="val_size must be a positive integer"):
        FashionMNIST(root=fake_data_dir, val_size=0)
    with pytest.raises(TypeError, match=r"resize must be a pair \(height, width\)"):
        FashionMNIST(root=fake_data_dir, resize=32)  # type: ignore[arg-type]


def test_search_order(no_checksums: None, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = write_fake_dataset(isolated / "env")
    cache = write_fake_dataset(isolated / "cache" / "d2lmini" / "fashion-mnist")
    system = write_fake_dataset(isolated / "system")
    assert FashionMNIST(download=False).root == cache  # cache before the system folder
    monkeypatch.setenv(data_mod.ENV_VAR, str(env_dir))
    assert FashionMNIST(download=False).root == env_dir  # the env var before the cache
    assert FashionMNIST(root=system, download=False).root == system  # root before everything


def test_nothing_found_without_download(isolated: Path) -> None:
    with pytest.raises(DataError) as err:
        FashionMNIST(download=False)
    message = str(err.value)
    assert "are in none of these folders" in message
    assert "dataset-fashion-mnist" in message and data_mod.ENV_VAR in message


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


# Downloads, against a local server with real faults --------------------------------------------
@pytest.fixture
def server(fake_data_dir: Path) -> Iterator[FileServer]:
    served = FileServer(fake_data_dir)
    yield served
    served.close()


@pytest.fixture
def cache(isolated: Path, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The (empty) cache folder downloads go to; the fake files are the dataset, checked by their own MD5s."""
    monkeypatch.setattr(FashionMNIST, "files", fake_specs(fake_data_dir))
    monkeypatch.setattr(FashionMNIST, "val_size_default", FAKE_VAL)
    return isolated / "cache" / "d2lmini" / "fashion-mnist"


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder`` and below (temporary files included); nothing if it does not exist."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_download_goes_to_the_cache_atomically(
    cache: Path, server: FileServer, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    data = FashionMNIST()
    assert data.root == cache and len(data.test_X) == 32
    assert leftovers(cache) == sorted(FILES)  # no temporary files left
    assert all((cache / f).read_bytes() == (fake_data_dir / f).read_bytes() for f in FILES)
    FashionMNIST()  # found now: no second download
    assert len(server.requests) == 4


def test_mirrors_are_tried_in_order(cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("404"), server.mirror("cut-chunked"),
                                                  server.mirror("ok")))  # fmt: skip
    assert FashionMNIST().root == cache
    assert [r.split("/")[1] for r in server.requests[:3]] == ["404", "cut-chunked", "ok"]
    assert leftovers(cache) == sorted(FILES)


@pytest.mark.parametrize(
    ("mode", "what", "fix"),
    [
        ("cut-chunked", r"the download was cut short \(the connection closed after \d+ bytes\)", "run again"),
        ("cut-length", r"the download was cut short \(the connection closed after \d+ of \d+ bytes\)", "run again"),
        ("404", "the server answered 404 Not Found", "the mirrors may be down or moved"),
        ("500", "the server answered 500 Internal Server Error", "the mirrors may be down or moved"),
        ("html", r"a web page \(HTML\), not the gzip file", "the mirrors may be down or moved"),
        ("wrong", "checksum mismatch", "the mirrors may be down or moved"),
        ("slow", r"the server sent nothing for 0.2 s \(timed out\)", "run again"),
    ],
)
def test_a_failed_download_says_what_and_leaves_nothing(
    mode: str, what: str, fix: str, cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror(mode),))
    with pytest.raises(DataError) as err:
        FashionMNIST(timeout=0.2)
    message = str(err.value)
    url = server.mirror(mode) + "train-images-idx3-ubyte.gz"
    assert message.startswith("fashion-mnist: could not download train-images-idx3-ubyte.gz; every mirror failed")
    assert re.search(f"{re.escape(url)}: {what}", message), message
    assert f"Fix: {fix}" in message and "or set D2LMINI_DATA to a folder that holds the four files" in message
    assert "no internet" not in message and ".part" not in message
    assert leftovers(cache) == []  # nothing partial, nothing corrupt


def test_no_server_at_all_suggests_the_offline_ways(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(FashionMNIST, "mirrors", (f"http://127.0.0.1:{port}/",))
    with pytest.raises(DataError, match=r"could not reach the server .*Connection refused") as err:
        FashionMNIST()
    assert f"with no internet, install Debian's package: sudo apt-get install dataset-fashion-mnist, or copy the " \
           f"four files into {cache}" in str(err.value)  # fmt: skip
    assert leftovers(cache) == []


def test_with_root_the_advice_is_root_not_the_variable(
    isolated: Path, fake_data_dir: Path, no_checksums: None, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("404"),))
    for download in (True, False):
        with pytest.raises(DataError) as err:
            FashionMNIST(root=isolated / "mine", download=download)
        assert "pass root= a folder that holds" in str(err.value) and "D2LMINI_DATA" not in str(err.value)
    broken = fake_data_dir / FILES[1]
    broken.write_bytes(broken.read_bytes()[:-5])
    with pytest.raises(DataError, match="pass root= a folder with good copies") as err:
        FashionMNIST(root=fake_data_dir)
    assert "D2LMINI_DATA" not in str(err.value)


def test_cache_under_a_file_names_the_file_and_the_alternatives(
    cache: Path, isolated: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    blocker = isolated / "not-a-folder"
    blocker.write_text("a file where the cache's parent should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(DataError) as err:
        FashionMNIST()
    message = str(err.value)
    assert f"cannot create the folder {blocker}/d2lmini/fashion-mnist: {blocker} is a file, not a folder" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message
    monkeypatch.setenv(data_mod.ENV_VAR, str(blocker))  # the variable naming a file
    with pytest.raises(DataError, match=f"cannot create the folder {blocker}: {blocker} is a file"):
        FashionMNIST()
    with pytest.raises(DataError, match=r"is a file, not a folder\. Fix: pass root= a folder you can write to;"):
        FashionMNIST(root=blocker / "data")
    assert blocker.read_text() == "a file where the cache's parent should be" and server.requests == []


def test_a_folder_where_a_file_should_be(cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    (cache / FILES[2]).mkdir(parents=True)
    with pytest.raises(DataError, match=f"{cache / FILES[2]}: a folder where the file should be; remove it"):
        FashionMNIST()
    assert server.requests == []  # found out before downloading anything


@pytest.mark.parametrize(
    ("labels", "what"),
    [(torch.zeros(95), "holds 96 images but train-labels-idx1-ubyte.gz holds 95 labels; the two files come from"),
     (torch.full((96,), 12), r"96 label\(s\) outside 0\.\.9 \(largest 12\); not a fashion-mnist labels file")],
)
def test_labels_that_do_not_fit_the_images(
    labels: torch.Tensor, what: str, fake_data_dir: Path, no_checksums: None, isolated: Path
) -> None:
    write_idx(fake_data_dir / FILES[1], labels)
    with pytest.raises(DataError, match=what):
        FashionMNIST(root=fake_data_dir)


@pytest.mark.slow  # two fresh Python processes (2-3 s each to import torch)
def test_two_processes_downloading_into_one_cache_both_succeed(
    cache: Path, isolated: Path, server: FileServer, fake_data_dir: Path
) -> None:
    command = load_command(FashionMNIST.files, [server.mirror("delay")], [isolated / "system"])
    env = subprocess_env({"XDG_CACHE_HOME": str(isolated / "cache")})
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all(out.splitlines()[-2] == str(cache) for out in outputs)  # the last line before "left: ..."
    assert leftovers(cache) == sorted(FILES)
    assert all((cache / f).read_bytes() == (fake_data_dir / f).read_bytes() for f in FILES)
    assert len(server.requests) >= 5  # the two really did download at the same time, not one after the other


# Faults a process running as root cannot meet: another user's view, a read-only or full file system.
# Each test starts a fresh Python process (2-3 s to import torch), hence "slow". -------------------------
@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder that other users may enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="d2lmini-test-"))
    folder.chmod(0o755)
    yield folder
    for parent, children, _ in os.walk(folder):  # unlock what a test locked, so that it can be removed
        for child in children:
            os.chmod(os.path.join(parent, child), 0o755)
    shutil.rmtree(folder)


def as_other_user() -> tuple[str, ...]:
    """Run as ``nobody`` when we are root, for whom permission bits do not apply; as ourselves otherwise."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot run as a user that permissions stop")
    return ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def with_tmpfs(folder: Path, options: str, then: str = "true") -> tuple[str, ...]:
    """Run in new user and mount namespaces, with a small tmpfs mounted on ``folder`` (and ``then`` run in it)."""
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("needs user and mount namespaces (unshare) to mount a read-only or a full file system")
    setup = f'mount -t tmpfs -o {options} tmpfs "$0" && cd "$0" && {{ {then}; }} && cd / && exec "$@"'
    return ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", setup, str(folder))


def run_load(command: list[str], env: dict[str, str]) -> tuple[int, str, list[str]]:
    """Run a load command; its exit code, its message and what its ``inspect`` folder holds at the end."""
    done = subprocess.run(command, env=subprocess_env(env), capture_output=True, text=True, timeout=120)
    *message, left = done.stdout.splitlines() or ["", "left: []"]
    assert left.startswith("left: "), done.stderr
    return done.returncode, "\n".join(message), json.loads(left.removeprefix("left: "))


@pytest.mark.slow
def test_no_permission_to_write_the_cache(open_tmp: Path, fake_data_dir: Path, server: FileServer) -> None:
    locked = open_tmp / "cache"
    locked.mkdir()
    locked.chmod(0o555)
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [open_tmp / "system"],
                           inspect=locked, prefix=as_other_user())  # fmt: skip
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(locked)})
    assert code == 3, message
    assert f"cannot create the folder {locked}/d2lmini/fashion-mnist: permission denied" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message
    assert left == [] and server.requests == []


@pytest.mark.slow
def test_an_unreadable_folder_does_not_hide_a_good_copy(open_tmp: Path, fake_data_dir: Path) -> None:
    system = shutil.copytree(fake_data_dir, open_tmp / "system")  # the Debian package's copy
    private = open_tmp / "private"
    private.mkdir(mode=0o000)
    private.chmod(0o000)
    env = {"D2LMINI_DATA": str(private), "XDG_CACHE_HOME": str(open_tmp / "cache")}
    specs = fake_specs(fake_data_dir)
    code, message, _ = run_load(load_command(specs, [], [system], download=False, prefix=as_other_user()), env)
    assert (code, message) == (0, str(system))
    code, message, _ = run_load(load_command(specs, [], [], download=False, prefix=as_other_user()), env)
    assert code == 3 and f"{private}  (cannot be read: Permission denied)" in message
    code, message, _ = run_load(load_command(specs, ["http://127.0.0.1:9/"], [], prefix=as_other_user()), env)
    assert code == 3 and f"cannot look into {private}: permission denied. Fix: set D2LMINI_DATA to a folder" in message


@pytest.mark.slow
def test_a_read_only_file_system(tmp_path: Path, fake_data_dir: Path, server: FileServer) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    prefix = with_tmpfs(mount, "ro,size=1m")
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [], inspect=mount, prefix=prefix)
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(mount)})
    assert code == 3, message
    assert f"cannot create the folder {mount}/d2lmini/fashion-mnist: it is on a read-only file system" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message and left == []


@pytest.mark.slow
def test_a_full_disk(tmp_path: Path, fake_data_dir: Path, server: FileServer) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    fill = "head -c 1048576 /dev/zero > filler 2>/dev/null; true"  # a 4 kB file system, filled up
    prefix = with_tmpfs(mount, "size=4k", then=fill)
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [], inspect=mount, prefix=prefix)
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(mount)})
    assert code == 3, message
    target = mount / "d2lmini" / "fashion-mnist"
    assert re.search(rf"cannot write {FILES[0]} \([\d,]+ bytes\) into {target}: the disk is full", message)
    assert "Fix: free some space there; or set D2LMINI_DATA to a folder you can write to" in message
    assert left == sorted(str(p) for p in (mount / "d2lmini", target, mount / "filler"))  # no partial file


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
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
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


@pytest.mark.skipif(not REAL.is_dir(), reason="the Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    data = FashionMNIST(root=REAL, download=False)
    assert (len(data.train_X), len(data.val_X), len(data.test_X)) == (50_000, 10_000, 10_000)
    assert torch.bincount(torch.cat([data.train_y, data.val_y])).tolist() == [6000] * 10
    assert torch.bincount(data.test_y).tolist() == [1000] * 10
    assert len(data.train_dataloader()) == 196
    assert "train=50,000, val=10,000, test=10,000" in repr(data)
