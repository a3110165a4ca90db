"""Serve the built book from 127.0.0.1 as a static host does, compressed copies included.

``_ext/site_assets.py`` writes a ``.gz`` copy next to every text file of the
site.  Like nginx with ``gzip_static on`` (or Caddy's ``precompressed``), this
server sends that copy, with ``Content-Encoding: gzip``, to a browser that
accepts gzip, and the file itself otherwise.  The browser tests and
``scripts/lighthouse.py`` load the book through it, so they see the bytes a
reader's phone would download.  By hand::

    .venv/bin/python scripts/static_host.py [_build/html] [--port 8000]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class StaticHost(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; a file with a ``.gz`` sibling is sent as that sibling to a browser that accepts gzip."""

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # redirects to the folder's address with a slash
            path = path / "index.html"
        packed = path.with_name(path.name + ".gz")
        accepted = {part.split(";")[0].strip() for part in self.headers.get("Accept-Encoding", "").split(",")}
        if "gzip" not in accepted or not path.is_file() or not packed.is_file():
            return super().send_head()
        body = packed.open("rb")
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(packed.stat().st_size))
        self.end_headers()
        return body

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(folder: Path, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start serving ``folder`` in a background thread; returns the server (``shutdown()`` it) and its URL."""
    handler = functools.partial(StaticHost, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server, url = serve(args.site, args.port)
    print(f"Serving {args.site} at {url} (Ctrl+C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
