"""Drop scripts that appear twice on a page of the built book.

With jupyter-book 1.0.4, sphinx-thebe adds its inline configuration script
twice (``const THEBE_JS_URL = ...``), and the second copy throws "Identifier
'THEBE_JS_URL' has already been declared" in the browser on every page.
"""

from __future__ import annotations

from typing import Any


def dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        key = (str(script), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", dedupe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
