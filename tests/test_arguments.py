"""The shared argument check: whole numbers of 1 or more pass; a wrong type is a TypeError, a bad value a ValueError."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from d2lmini.arguments import positive_int, positive_number


@pytest.mark.parametrize("value", [1, 64, np.int64(7), torch.tensor(3).item()])
def test_whole_numbers_of_one_or_more_pass_as_int(value: object) -> None:
    checked = positive_int("batch_size", value, 256)
    assert checked == value and type(checked) is int


@pytest.mark.parametrize(
    ("value", "error", "example"),
    [
        (0, ValueError, 256),
        (-3, ValueError, 256),
        (2.5, TypeError, 256),
        ("2", TypeError, 256),
        (True, TypeError, 256),  # a bool is an int to Python, but never what was meant
        (None, TypeError, 256),
        (torch.tensor(4), TypeError, 256),
        (64.0, TypeError, 64),  # a whole float: suggest the int it stands for
        (1.0, TypeError, 1),  # ... 1 included
        (np.float64(8.0), TypeError, 8),
        (0.0, TypeError, 256),  # ... but never a suggestion below 1
        (float("nan"), TypeError, 256),
    ],
)
def test_anything_else_says_what_to_pass(value: object, error: type, example: int) -> None:
    message = f"batch_size must be a positive whole number such as {example}, not {value!r}."
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        positive_int("batch_size", value, 256)


@pytest.mark.parametrize(
    ("value", "error"),
    [("0.1", TypeError), (None, TypeError), (True, TypeError), (0, ValueError), (-1e-3, ValueError),
     (float("nan"), ValueError)],
)  # fmt: skip
def test_positive_numbers_say_what_to_pass(value: object, error: type) -> None:
    assert positive_number("lr", 0.5, 0.1) == 0.5 and positive_number("lr", 2, 0.1) == 2
    message = f"lr must be a positive number such as 0.1, not {value!r}."
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        positive_number("lr", value, 0.1)
