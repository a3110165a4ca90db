"""Fixtures for the tests of the book's machinery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from d2lmini.book import checking


@pytest.fixture(autouse=True)
def no_answer_left_running() -> Iterator[None]:
    """An answer a check could not stop (one blocked in ``time.sleep``) ends before the next test starts.

    While such an answer runs, the checks leave out their profile hook (see ``checking._watched``), so a later
    test of a forbidden function would pass or fail by the order the tests ran in.
    """
    yield
    for thread in checking._STUCK:
        thread.join(timeout=30)
