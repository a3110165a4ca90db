"""Checks of the arguments the core's classes take, worded one way everywhere.

A wrong type is a ``TypeError``, a wrong value of the right type a
``ValueError`` (Python's own convention), and every message names the
argument, says what it must be with an example, and shows what it got.
"""

from __future__ import annotations

import numbers


def positive_int(name: str, value: object, example: int) -> int:
    """``value`` as an ``int`` if it is a whole number of 1 or more; otherwise an error that says what to pass.

    ``bool`` does not count, nor does a float, even a whole one: ``64.0``
    most likely came from a division, so the message suggests ``64`` itself.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer() and value >= 1:
            example = int(value)
        raise TypeError(f"{name} must be a positive whole number such as {example}, not {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number such as {example}, not {value!r}.")
    return int(value)


def positive_number(name: str, value: object, example: float) -> float:
    """``value`` if it is a real number above 0 (a ``bool`` or a string does not count); otherwise what to pass."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number such as {example}, not {value!r}.")
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{name} must be a positive number such as {example}, not {value!r}.")
    return value
