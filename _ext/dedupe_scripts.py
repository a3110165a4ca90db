"""Drop inline scripts that appear twice in a page of the built book.

With jupyter-book 1.0.4, sphinx-thebe's inline configuration script (``const
THEBE_JS_URL = ...``) and sphinx-togglebutton's selector end up twice in every
page's head, and the second ``const`` throws "Identifier 'THEBE_JS_URL' has
already been declared" in the browser.  They are added after Sphinx's page
context is built, so this extension mends the written HTML once the build
has finished: a repeated ``<script>...</script>`` line is removed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

INLINE_SCRIPT = re.compile(r"^\s*<script>.*</script>\s*$")


def dedupe_file(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    seen: set[str] = set()
    kept = []
    for line in lines:
        if INLINE_SCRIPT.match(line):
            if line.strip() in seen:
                continue
            seen.add(line.strip())
        kept.append(line)
    if len(kept) != len(lines):
        path.write_text("".join(kept), encoding="utf-8")


def dedupe_site(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        for path in Path(app.outdir).rglob("*.html"):
            dedupe_file(path)


def setup(app: Any) -> dict:
    app.connect("build-finished", dedupe_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
