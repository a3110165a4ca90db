"""The third pass's set of student answers (tests/book/student_mistakes.py), each run as a student runs it: every
verdict has the right status and the words that make it specific, no check raises or says only that the answer
"could not be checked", and no check leaves the notebook worse off or loses an experiment's results."""

from __future__ import annotations

import pytest
import torch

from tests.book.mistake_runner import run
from tests.book.student_mistakes import ANSWERS, Answer

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _params(experiments: bool) -> list[object]:
    chosen = [a for a in ANSWERS if a.experiment == experiments]
    return [pytest.param(a, id=a.id, marks=[CUDA] if a.needs_cuda else []) for a in chosen]


def _expect_specific(answer: Answer) -> None:
    outcome = run(answer)
    assert outcome.status == answer.status, outcome.message
    assert outcome.column == "true-specific", f"missing {answer.words}: {outcome.message}"
    assert not outcome.lost, f"the check left the notebook worse off: {outcome.message}"


@pytest.mark.parametrize("answer", _params(experiments=False))
def test_answer_gets_its_verdict(answer: Answer) -> None:
    _expect_specific(answer)


@pytest.mark.parametrize("answer", _params(experiments=True))
def test_experiment_gets_its_verdict(answer: Answer) -> None:
    _expect_specific(answer)


def test_the_set_is_large_and_mostly_mistakes() -> None:
    mistakes = [a for a in ANSWERS if a.status != "correct"]
    assert len(mistakes) >= 110 and len(ANSWERS) - len(mistakes) >= 30
    assert len({a.id for a in ANSWERS}) == len(ANSWERS), "ids are unique"
