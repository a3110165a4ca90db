"""Checkers for experiment exercises: the results a reader reports, judged on their shape and plausibility.

An experiment exercise (a one-unit hidden layer, a learning-rate sweep, depth at a fixed parameter count)
has no single right answer: the numbers depend on the run. What a checker can say is whether the reader
reported what was asked (the right settings, the right metrics, numbers rather than strings or tensors of
many values) and whether each number is plausible (an accuracy between 0 and 1, no NaN where training should
not diverge). :func:`experiment_checker` builds such a checker in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import torch

from d2lmini.book.checking import CheckResult, Trial, checker, fmt, wrong
from d2lmini.history import History

__all__ = ["experiment_checker"]

Range = tuple[float | None, float | None]


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (int, float, one-element tensor, NumPy scalar), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool and not value.is_complex():
        return float(value.detach().cpu().item()) if value.device.type != "meta" else None
    if type(value).__module__ == "numpy" and getattr(value, "size", None) == 1:  # a NumPy scalar or 1-element array
        return _as_number(value.item())
    return None


def _parsed(text: str) -> float | None:
    """The number a text such as "0.01" writes, else None."""
    try:
        return float(text)
    except ValueError:
        return None


def _metrics(value: Any) -> Any:
    """A History stands for its last epoch's record."""
    return value.final if isinstance(value, History) else value


def _find(keys: Iterable[Hashable], wanted: Hashable) -> Hashable | None:
    """The key equal to ``wanted``; a number that differs by rounding only counts as equal: 0.30000000000000004, or
    0.009999999776482582, the float32 nearest 0.01 (a rate taken from a tensor), and a NumPy or 0-dim tensor key."""
    keys = list(keys)
    for key in keys:
        if type(key) is type(wanted) and key == wanted:
            return key
    target = _as_number(wanted) if not isinstance(wanted, str) else None
    for key in keys:
        number = _as_number(key) if not isinstance(key, str) else None
        if target is not None and number is not None and math.isclose(number, target, rel_tol=1e-6):
            return key
    return None


def _not_a_number(where: str, value: Any) -> str:
    """Why ``value`` is no number, and what to report instead."""
    why = f"{where} is a {type(value).__name__}; expected a number."
    if isinstance(value, History):
        return why + (
            " Report one of its final metrics, such as history.final['val_acc']."
            if value.records
            else " It is empty: no epoch finished (was training interrupted?)."
        )
    if isinstance(value, list | tuple) and value and all(_as_number(v) is not None for v in value):
        return why + f" It holds {len(value)} numbers: if they are one per epoch, report the last one."
    if isinstance(value, torch.Tensor) and value.numel() > 1:
        return why + f" It holds {value.numel()} values: report one number (if their mean: .float().mean().item())."
    if type(value).__module__ == "numpy" and getattr(value, "size", 1) > 1:
        return why + f" It holds {value.size} values: report one number (if their mean: .mean().item())."
    return why


def _judge_number(where: str, value: Any, bounds: Range | None, diverged_ok: bool) -> None:
    number = _as_number(value)
    if number is None:
        raise wrong(_not_a_number(where, value))
    if not math.isfinite(number):
        if diverged_ok:
            return
        raise wrong(f"{where} is {number}: did training diverge (a learning rate too large?) or a loss take log(0)?")
    if bounds is not None:
        low, high = bounds
        if (low is not None and number < low) or (high is not None and number > high):
            span = (
                f"between {fmt(low)} and {fmt(high)}"
                if low is not None and high is not None
                else (f"at least {fmt(low)}" if low is not None else f"at most {fmt(high)}")
            )
            percentage = high is not None and 1 < number <= 100 * high and high <= 1
            shown = fmt(int(number)) if number.is_integer() and abs(number) < 1e15 else fmt(number)
            raise wrong(
                f"{where} is {shown}, which is not plausible here: expected {span}. Check what you "
                f"report ({'a fraction, not a percentage? ' if percentage else ''}the right metric?) and how it was "
                "computed."
            )


def experiment_checker(
    task: str,
    *,
    expected_keys: Iterable[Hashable],
    ranges: Range | Mapping[str, Range] | None = None,
    diverged_ok: Iterable[Hashable] = (),
    summary: str = "",
    time_limit: float = 600.0,
) -> Callable[..., CheckResult]:
    """Build a checker for the results an experiment exercise reports: their shape and their plausibility.

    The checker's answer is the results, or a function of no arguments returning them (called once, under
    the checker's guard, with ``time_limit`` seconds; its printed output is cut to a few lines, so return
    numbers and plot them in a later cell). The results must be a dict whose keys are exactly
    ``expected_keys`` (the settings tried: learning rates, depths, or metric names); a float key that
    differs only by rounding counts as equal. Each value is either

    - a number (int, float, one-element tensor, NumPy scalar): ``ranges`` is one ``(low, high)`` pair for
      every value, or a dict from key to pair; or
    - a dict of metrics, or a :class:`d2lmini.History` (its last epoch counts): ``ranges`` is a dict from
      metric name to pair, and every metric it names must be present (others are ignored).

    ``None`` at either end of a pair leaves that side open; a number with no pair (no ``ranges``, or a key
    the ``ranges`` dict does not name) is only required to be finite. NaN and infinity are wrong except for the keys in
    ``diverged_ok`` (a learning rate expected to diverge). ``summary`` replaces the detail of the correct
    verdict. For example, a learning-rate sweep reporting the last epoch's History per rate::

        check_lr_sweep = experiment_checker(
            "lr_sweep", expected_keys=[0.01, 0.1, 1.0, 10.0],
            ranges={"val_acc": (0.0, 1.0), "train_loss": (0.0, None)}, diverged_ok=[10.0])
        check_lr_sweep(results)        # results = {0.01: history, 0.1: history, ...}
        check_lr_sweep(run_sweep)      # or the function that trains and returns them
    """
    keys, ok_to_diverge = list(expected_keys), list(diverged_ok)
    # A ranges dict names either the keys (flat results) or the metrics of each key (nested results).
    nested = isinstance(ranges, Mapping) and any(_find(keys, name) is None for name in ranges)

    @checker(task, example=f"check_{task}(results)", expects="any", time_limit=time_limit)
    def check(answer: Any, trial: Trial) -> str:
        if answer is None:
            raise wrong("You passed None: pass the dict of results (or the function that returns it).")
        reported = trial.call(answer) if callable(answer) else answer
        if reported is None:
            raise wrong("Your function returns None: did you forget the `return` statement?")
        results = _metrics(reported)
        if not isinstance(results, Mapping):
            raise wrong(f"The results are a {type(results).__name__}; expected a dict with keys {keys}.")
        missing = [k for k in keys if _find(results, k) is None]
        extra = [] if isinstance(reported, History) else [k for k in results if _find(keys, k) is None]
        if missing or extra:
            as_text = [k for k in extra if isinstance(k, str) and _find(missing, _parsed(k)) is not None]
            raise wrong(
                f"The results should have exactly the keys {keys}"
                + (f"; missing: {missing}" if missing else "")
                + (f"; not asked for: {extra}" if extra else "")
                + "."
                + (f" The keys are numbers, not text: write {_find(missing, _parsed(as_text[0]))!r}, not "
                   f"{as_text[0]!r}." if as_text else "")
            )
        for key in keys:
            reported_value = results[_find(results, key)]
            value, where = _metrics(reported_value), f"results[{key!r}]"
            diverged = _find(ok_to_diverge, key) is not None
            if isinstance(reported_value, History) and not reported_value.records:
                raise wrong(f"{where} is an empty History: no epoch finished (was training interrupted?).")
            if isinstance(value, Mapping) != nested:
                if not nested:
                    raise wrong(_not_a_number(where, reported_value))
                want = f"a dict of metrics with {sorted(ranges)}"  # type: ignore[arg-type]
                raise wrong(f"{where} is a {type(reported_value).__name__}; expected {want}.")
            if nested:
                for metric, bounds in ranges.items():  # type: ignore[union-attr]
                    if metric not in value:
                        raise wrong(f"{where} has no {metric!r}; it has {sorted(map(str, value))}.")
                    _judge_number(f"{where}[{metric!r}]", value[metric], bounds, diverged)
            else:
                bounds = ranges.get(key) if isinstance(ranges, Mapping) else ranges
                _judge_number(where, value, bounds, diverged)
        return summary or f"All {len(keys)} results are there, each a plausible number."

    check.__name__ = check.__qualname__ = f"check_{task}"
    return check
