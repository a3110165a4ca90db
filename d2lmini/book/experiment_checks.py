"""Checkers for experiment exercises: the results a reader reports, and how they were obtained.

An experiment exercise (a one-unit hidden layer, a learning-rate sweep, depth at a fixed parameter count)
has no single right answer: the numbers depend on the run. What a checker can say is whether the reader
reported what was asked (the right settings, the right metrics, numbers rather than strings or tensors of
many values), whether each number is plausible (an accuracy between 0 and 1, no NaN where training should
not diverge), and, when it runs the reader's function itself, whether the experiment followed its protocol:
every ``Trainer.fit`` the function runs is watched (:class:`Fit`), so a checker's ``protocol`` can tell a
validation loss reported as an accuracy, a training accuracy reported as a validation accuracy, or a sweep that
kept training one model instead of starting each setting fresh. :func:`experiment_checker` builds such a checker.

The result keeps what the function returned (``result.value``, and ``check.last.value``), so that a later cell can
draw the curves without training again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from d2lmini.book.checking import CheckResult, Trial, checker, fmt, wrong
from d2lmini.history import History

__all__ = ["Fit", "expect_metric", "experiment_checker", "watching_fits"]

Range = tuple[float | None, float | None]
Protocol = Callable[[Mapping[Any, Any], list["Fit"]], None]


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


# ---------------------------------------------------------------------------
# Watching the fits an answer runs


@dataclass
class Fit:
    """One ``Trainer.fit`` that a reader's function ran while being checked.

    ``start`` and ``end`` are copies of the model's parameters (by name) when the fit began and ended (``start``
    is None for a model with lazy layers, whose parameters have no shape yet), ``lr`` its learning rate then;
    ``history`` is what ``fit`` returned (or the finished epochs, if it raised).
    """

    model: nn.Module
    data: Any
    trainer: Any
    start: dict[str, torch.Tensor] | None
    lr: float | None = None  # the model's learning rate (its ``lr``) when the fit began
    history: History | None = None
    end: dict[str, torch.Tensor] | None = None

    def linears(self) -> list[tuple[str, nn.Linear]]:
        """The model's linear layers, with their names, in order."""
        return [(name, m) for name, m in self.model.named_modules() if isinstance(m, nn.Linear)]

    def same_weights(self, a: dict[str, torch.Tensor] | None, b: dict[str, torch.Tensor] | None) -> bool:
        """True if two copies of parameters hold the same values (on whatever devices)."""
        if a is None or b is None or a.keys() != b.keys():
            return False
        return all(x.shape == b[k].shape and torch.equal(x.cpu(), b[k].cpu()) for k, x in a.items())


def _copy_parameters(model: nn.Module) -> dict[str, torch.Tensor] | None:
    params = dict(model.named_parameters())
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in params.values()):
        return None
    return {name: p.detach().clone() for name, p in params.items()}


@contextmanager
def watching_fits(fits: list[Fit]) -> Iterator[None]:
    """While active, every ``d2lmini.Trainer.fit`` (in any thread) is recorded in ``fits`` as a :class:`Fit`."""
    from d2lmini.train import Trainer

    original = Trainer.fit

    @functools.wraps(original)
    def fit(self: Any, model: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        lr = getattr(model, "lr", None)
        lr = float(lr) if isinstance(lr, int | float) and not isinstance(lr, bool) else None
        record = Fit(model, data, self, _copy_parameters(model) if isinstance(model, nn.Module) else None, lr)
        fits.append(record)
        try:
            record.history = original(self, model, data, *args, **kwargs)
            return record.history
        finally:
            record.history = record.history if record.history is not None else getattr(self, "history", None)
            record.end = _copy_parameters(model) if isinstance(model, nn.Module) else None

    Trainer.fit = fit  # type: ignore[method-assign]
    try:
        yield
    finally:
        Trainer.fit = original  # type: ignore[method-assign]


_METRICS = {
    "val_acc": "the validation accuracy",
    "val_loss": "the validation loss",
    "train_acc": "the training accuracy",
    "train_loss": "the training loss",
}


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 2e-6 + 2e-6 * abs(b)


def _accuracy(model: nn.Module, data: Any, split: str) -> float | None:
    """``model``'s accuracy on a split of ``data`` ("train" or "test"), computed here; None if it cannot be."""
    X, y = getattr(data, f"{split}_X", None), getattr(data, f"{split}_y", None)
    transform = getattr(data, "transform", None)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor) or transform is None:
        return None
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, len(X), 5000):
                logits = model(transform(X[start : start + 5000]).to(device))
                correct += int((logits.argmax(dim=1).cpu() == y[start : start + 5000].cpu()).sum())
    except Exception:
        return None
    finally:
        for m, mode in modes.items():
            m.training = mode
    return correct / max(len(X), 1)


def expect_metric(where: str, value: Any, fit: Fit, metric: str = "val_acc") -> None:
    """Check that the number ``value`` is the final ``metric`` of ``fit``'s history; else say what it is instead
    (another metric of that epoch, an earlier or the best epoch, the accuracy on the training or test set)."""
    number, history = _as_number(value), fit.history
    if number is None or history is None or not history.records or metric not in history.final:
        return
    want, name = history.final[metric], _METRICS.get(metric, metric)
    if _same(number, want):
        return
    asked = f"the exercise asks for {name} of the final epoch, history.final[{metric!r}] ({fmt(want)} in this run)"
    for key, other in _METRICS.items():
        if key != metric and key in history.final and _same(number, history.final[key]):
            raise wrong(f"{where} is {fmt(number)}, {other}; {asked}.")
    series = history[metric]
    for i, past in enumerate(series[:-1]):
        if _same(number, past):
            best = " (its best epoch)" if past == max(series) and metric.endswith("acc") else ""
            raise wrong(f"{where} is {fmt(number)}, {name} after epoch {i + 1}{best}; {asked}.")
    if metric == "val_acc":
        for split, said in (("train", "on the training set"), ("test", "on the test set")):
            accuracy = _accuracy(fit.model, fit.data, split)
            if accuracy is not None and abs(number - accuracy) <= 1e-6:
                why = " (the test set is kept for the final report, once)" if split == "test" else ""
                raise wrong(f"{where} is {fmt(number)}, the trained model's accuracy {said}{why}; {asked}.")
    raise wrong(f"{where} is {fmt(number)}, which is not {name} of the model your function trained: {asked}.")


# ---------------------------------------------------------------------------
# The checker


def experiment_checker(
    task: str,
    *,
    expected_keys: Iterable[Hashable],
    ranges: Range | Mapping[str, Range] | None = None,
    diverged_ok: Iterable[Hashable] = (),
    summary: str = "",
    time_limit: float = 600.0,
    protocol: Protocol | None = None,
    example: str | None = None,
) -> Callable[..., CheckResult]:
    """Build a checker for the results an experiment exercise reports: their shape, plausibility and protocol.

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
    verdict; ``example`` shows the right call (``check_<task>(results)`` by default).

    ``protocol(results, fits)`` judges how the results were obtained, when the answer is a function: ``fits``
    lists every ``Trainer.fit`` it ran (:class:`Fit`), and the protocol raises :func:`wrong` for what the
    exercise did not ask (use :func:`expect_metric` for a reported metric). It runs before the plausibility
    ranges, so that a validation loss reported as an accuracy is named as such. Results passed as a dict get a
    note that only their numbers could be judged. The result keeps what the answer returned as ``value``.
    For example, a learning-rate sweep reporting the last epoch's History per rate::

        check_lr_sweep = experiment_checker(
            "lr_sweep", expected_keys=[0.01, 0.1, 1.0, 10.0],
            ranges={"val_acc": (0.0, 1.0), "train_loss": (0.0, None)}, diverged_ok=[10.0])
        check_lr_sweep(results)        # results = {0.01: history, 0.1: history, ...}
        check_lr_sweep(run_sweep)      # or the function that trains and returns them
    """
    keys, ok_to_diverge = list(expected_keys), list(diverged_ok)
    # A ranges dict names either the keys (flat results) or the metrics of each key (nested results).
    nested = isinstance(ranges, Mapping) and any(_find(keys, name) is None for name in ranges)

    def values_of(results: Mapping[Any, Any]) -> Iterator[tuple[Hashable, str, Any, Any]]:
        for key in keys:
            reported_value = results[_find(results, key)]
            yield key, f"results[{key!r}]", reported_value, _metrics(reported_value)

    @checker(task, example=example or f"check_{task}(results)", expects="any", time_limit=time_limit,
             seeding_expected=True)  # fmt: skip
    def check(answer: Any, trial: Trial) -> str:
        if answer is None:
            raise wrong("You passed None: pass the dict of results (or the function that returns it).")
        fits: list[Fit] = []
        if callable(answer):
            with watching_fits(fits):
                reported = trial.call(answer)
        else:
            reported = answer
        trial.keep(reported)
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
        for _, where, reported_value, value in values_of(results):
            if isinstance(reported_value, History) and not reported_value.records:
                raise wrong(f"{where} is an empty History: no epoch finished (was training interrupted?).")
            if isinstance(value, Mapping) != nested:
                if not nested:
                    raise wrong(_not_a_number(where, reported_value))
                want = f"a dict of metrics with {sorted(ranges)}"  # type: ignore[arg-type]
                raise wrong(f"{where} is a {type(reported_value).__name__}; expected {want}.")
            for metric in ranges if nested else ():  # type: ignore[union-attr]
                if metric not in value:
                    raise wrong(f"{where} has no {metric!r}; it has {sorted(map(str, value))}.")
                if _as_number(value[metric]) is None:
                    raise wrong(_not_a_number(f"{where}[{metric!r}]", value[metric]))
            if not nested and _as_number(value) is None:
                raise wrong(_not_a_number(where, value))
        if protocol is not None and callable(answer):
            protocol(results, fits)
        elif protocol is not None:
            trial.note(
                "Note: the check could judge only these numbers, not how they were obtained: pass your function "
                f"itself, as in `{example or f'check_{task}(...)'}`, so that it can also watch the training runs."
            )
        for key, where, _, value in values_of(results):
            diverged = _find(ok_to_diverge, key) is not None
            if nested:
                for metric, bounds in ranges.items():  # type: ignore[union-attr]
                    _judge_number(f"{where}[{metric!r}]", value[metric], bounds, diverged)
            else:
                bounds = ranges.get(key) if isinstance(ranges, Mapping) else ranges
                _judge_number(where, value, bounds, diverged)
        return summary or f"All {len(keys)} results are there, each a plausible number."

    check.__name__ = check.__qualname__ = f"check_{task}"
    return check
