"""Test selection for the whole repository (unit tests, notebooks, browsers).

Everything that executes a notebook or drives a browser is marked ``slow``:
``pytest -m "not slow"`` is the quick inner loop (the unit tests, well under
30 s), ``make test`` runs everything.
"""

from __future__ import annotations

import pytest

# Test modules that start kernels, build the book or drive a browser.
SLOW_MODULES = {"test_book.py", "test_book_tabs.py", "test_lab.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        executes_notebooks = path.suffix == ".ipynb"
        if executes_notebooks or path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
