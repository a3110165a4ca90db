"""Helpers shared by the tests: IDX files, small fake datasets, a faulty local file server, subprocess loads."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from d2lmini.idx import UBYTE, FileSpec

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip
FAKE_TRAIN, FAKE_VAL, FAKE_TEST = 96, 32, 32  # the fake training file holds train + val images


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a ``uint8`` tensor as a gzip-compressed IDX file, as the real datasets are stored."""
    array = array.to(torch.uint8).contiguous()
    header = bytes([0, 0, UBYTE, array.dim()])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    Path(path).write_bytes(gzip.compress(header + array.numpy().tobytes(), mtime=0))


def write_fake_dataset(folder: Path, n_train: int = FAKE_TRAIN, n_test: int = FAKE_TEST) -> Path:
    """Write four small IDX files shaped like Fashion-MNIST's; each image's bright row encodes its label."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for (images, labels), n in zip((FILES[:2], FILES[2:]), (n_train, n_test), strict=True):
        y = torch.randint(0, 10, (n,), generator=g)
        X = torch.zeros(n, 28, 28, dtype=torch.uint8)
        X[torch.arange(n), 2 + 2 * y] = 255
        write_idx(folder / images, X)
        write_idx(folder / labels, y)
    return folder


def fake_specs(folder: Path) -> dict[str, FileSpec]:
    """File specs for the fake dataset in ``folder`` with the files' own MD5s, so checksums are checked too."""
    from d2lmini.data import FashionMNIST

    return {
        key: FileSpec(spec.name, spec.ndim, hashlib.md5((folder / spec.name).read_bytes()).hexdigest())
        for key, spec in FashionMNIST.files.items()
    }


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder`` and below (temporary files included); nothing if it does not exist."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


class FileServer:
    """An HTTP server on 127.0.0.1 that serves a folder's files, well or with a chosen fault.

    Each fault is a mirror of its own: ``server.mirror(mode)`` is the URL
    prefix under which every file is served in that mode:

    - ``ok``: the file, with its Content-Length; ``delay``: the same after ``delay_s``;
    - ``cut-chunked``: chunked transfer encoding, half the file, then the connection closes;
    - ``cut-length``: Content-Length of the whole file, half of it sent, then the connection closes;
    - ``404``, ``500``: those status codes; ``html``: a login page with status 200;
    - ``wrong``: another, valid, file (the checksum tells them apart); ``slow``: nothing for ``slow_s``;
    - ``garbage``: not HTTP at all (another service on that port), then the connection closes.
    """

    def __init__(self, folder: Path, slow_s: float = 3.0, delay_s: float = 0.3) -> None:
        self.folder, self.slow_s, self.delay_s = folder, slow_s, delay_s
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                mode, _, name = self.path.strip("/").partition("/")
                if mode == "garbage":
                    self.close_connection = True
                    self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n")
                    return
                path = server.folder / name
                if mode in ("404", "500") or not path.is_file():
                    self.send_error(500 if mode == "500" else 404)
                    return
                body = path.read_bytes()
                if mode == "wrong":
                    other = sorted(p for p in server.folder.iterdir() if p.is_file() and p != path)[0]
                    body = other.read_bytes()
                if mode in ("slow", "delay"):
                    time.sleep(server.slow_s if mode == "slow" else server.delay_s)
                self.close_connection = True
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out has gone
                    self.respond(mode, body)

            def respond(self, mode: str, body: bytes) -> None:
                self.send_response(200)
                if mode == "html":
                    body = b"<!DOCTYPE html><html><body>Please sign in to continue.</body></html>"
                    self.send_header("Content-Type", "text/html")
                if mode == "cut-chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = body[: len(body) // 2]
                    self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")  # no final 0-length chunk
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "cut-length" else body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def mirror(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mode}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# Loads Fashion-MNIST in a fresh process, configured by a JSON argument: for two processes at once, or
# one that runs as another user or in its own mount namespace. Prints the folder used, or the DataError
# (exit code 3), then a line "left: [...]": what the folder `inspect` holds at the end.
LOAD_SCRIPT = """
import json, sys
from pathlib import Path
from d2lmini.data import FashionMNIST
from d2lmini.idx import DataError, FileSpec
args = json.loads(sys.argv[1])
FashionMNIST.mirrors = tuple(args["mirrors"])
FashionMNIST.files = {k: FileSpec(*v) for k, v in args["files"].items()}
FashionMNIST.system_dirs = tuple(Path(p) for p in args["system_dirs"])
FashionMNIST.val_size_default = args["val_size"]
code = 0
try:
    print(FashionMNIST(root=args["root"], download=args["download"]).root)
except DataError as err:
    print(err)
    code = 3
inspect = Path(args["inspect"]) if args["inspect"] else None
print("left:", json.dumps(sorted(str(p) for p in inspect.rglob("*")) if inspect and inspect.exists() else []))
sys.exit(code)
"""


def load_command(
    files: dict[str, FileSpec], mirrors: list[str], system_dirs: list[Path], root: Path | None = None,
    download: bool = True, inspect: Path | None = None, prefix: tuple[str, ...] = (),
) -> list[str]:
    """The command line that runs :data:`LOAD_SCRIPT` after ``prefix`` (``setpriv ...``, ``unshare ...``)."""
    args = {"mirrors": mirrors, "files": {k: [s.name, s.ndim, s.md5_gz] for k, s in files.items()},
            "system_dirs": [str(p) for p in system_dirs], "val_size": FAKE_VAL,
            "root": str(root) if root else None, "download": download,
            "inspect": str(inspect) if inspect else None}  # fmt: skip
    return [*prefix, sys.executable, "-c", LOAD_SCRIPT, json.dumps(args)]


# The checkout these tests belong to: the one a subprocess must import d2lmini from.
CHECKOUT = Path(__file__).resolve().parents[1]


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal environment: no D2LMINI_DATA or cache setting from outside, one thread.

    ``PYTHONPATH`` names this checkout, so the process imports the d2lmini under test, not an installed
    copy (whatever its working directory); mutmut's ``MUTANT_UNDER_TEST``, when set, passes on, so that the
    process runs the same mutant as the test that started it (``make mutate``).
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(CHECKOUT)}  # fmt: skip
    if "MUTANT_UNDER_TEST" in os.environ:
        env["MUTANT_UNDER_TEST"] = os.environ["MUTANT_UNDER_TEST"]
    return {**env, **extra}


# Debian's Chromium, driven by Playwright; never a downloaded browser.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium for one test module (the browser tests' ``browser`` fixtures)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
