"""Checkers for the labs' experiments: one hidden unit, a learning-rate sweep, GELU with its gain, depth at a
fixed size.

Each checker runs the reader's function once, watching every ``Trainer.fit`` it makes
(:func:`~d2lmini.book.experiment_checks.watching_fits`), and checks the protocol the exercise asks for: the model
trained (its size, its learning rate, its initialisation), fresh weights for every setting, the number of epochs,
and that each reported number is the quantity asked (the final validation accuracy, not the loss, the training
accuracy or an earlier epoch). The result keeps what the function returned, so the next cell can use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from d2lmini.book.checking import fmt, wrong
from d2lmini.book.experiment_checks import Fit, expect_metric, experiment_checker
from d2lmini.history import History
from d2lmini.module import count_parameters, mlp_parameter_count

__all__ = ["check_depth_at_fixed_size", "check_gelu_gain", "check_lr_sweep", "check_one_unit"]

_TRAIN = "d2lmini.Trainer(max_epochs={epochs}, seed=0, progress='none').fit(model, data)"
LAB_PARAMETERS = mlp_parameter_count([784, 256, 10])


def _expect_fits(fits: list[Fit], how_many: int, epochs: int) -> None:
    """At least ``how_many`` fits (the reported ones are checked for their ``epochs`` with :func:`_expect_epochs`)."""
    if not fits:
        raise wrong(
            "It trains no model with Trainer.fit, so the check cannot tell how its numbers were obtained: train "
            f"as the exercise asks, with {_TRAIN.format(epochs=epochs)}."
        )
    if len(fits) < how_many:
        raise wrong(f"It trains {len(fits)} model(s) with Trainer.fit; the exercise needs {how_many} runs.")


def _expect_epochs(fits: list[Fit], epochs: int) -> None:
    """Each of the runs whose numbers are reported trained for ``epochs`` epochs."""
    for fit in fits:
        done = len(fit.history) if fit.history is not None else 0
        if done != epochs:
            raise wrong(
                f"One of its runs trains for {done} epoch(s); the exercise asks for {epochs} (max_epochs={epochs})."
            )


def _expect_fresh(fits: list[Fit], label: str) -> None:
    """Each fit starts from a model of its own, not from where an earlier fit left one."""
    for i, fit in enumerate(fits):
        for earlier in fits[:i]:
            if fit.model is earlier.model or fit.same_weights(fit.start, earlier.end):
                raise wrong(
                    f"Its runs keep training one model: a later {label} starts from the weights an earlier one "
                    "ended with, so it is not compared from the same start. Create a new model for each "
                    f"{label}, after d2lmini.seed_everything(0)."
                )


def _as_float(value: Any) -> float | None:
    """A reported number (int, float, one-element tensor on any device, NumPy scalar) as a float."""
    if isinstance(value, bool):
        return None
    try:
        return float(torch.as_tensor(value).detach().cpu().reshape(()))
    except (TypeError, ValueError, RuntimeError):
        return None


def _hidden_units(model: nn.Module) -> int | None:
    W1 = getattr(model, "W1", None)
    return int(W1.shape[1]) if isinstance(W1, torch.Tensor) and W1.dim() == 2 else None


# ---------------------------------------------------------------------------
# One hidden unit


def _active(fit: Fit, images: torch.Tensor, weights: dict[str, torch.Tensor] | None = None, *, raw: bool = False,
            at_least: bool = False) -> float | None:  # fmt: skip
    """The fraction of ``images`` on which the hidden unit's input x W1 + b1 is positive (>= 0 with ``at_least``),
    with the fit's trained weights, or ``weights``; pixels as the model sees them, or ``raw`` uint8 values."""
    weights = weights or {n: p.detach() for n, p in fit.model.named_parameters()}
    W1, b1, transform = weights.get("W1"), weights.get("b1"), getattr(fit.data, "transform", None)
    if W1 is None or b1 is None or not isinstance(images, torch.Tensor) or not len(images) or transform is None:
        return None
    X = images.float() if raw else transform(images)
    z = X.reshape(len(images), -1).to(W1.device) @ W1 + b1
    return float((z >= 0 if at_least else z > 0).float().mean())


def _one_unit_protocol(results: Mapping[Any, Any], fits: list[Fit]) -> None:
    _expect_fits(fits, 1, 3)
    reported = _as_float(results["val_acc"])
    matching = [f for f in fits if f.history is not None and f.history.records and reported is not None
                and abs(f.history.final.get("val_acc", math.nan) - reported) <= 2e-6]  # fmt: skip
    # The run it reports (a function may train others too); among runs that report the same number, the one asked.
    asked = [f for f in matching if f.lr is None or math.isclose(f.lr, 0.1)]
    fit = (asked or matching or fits)[-1]
    _expect_epochs([fit], 3)
    units, lr = _hidden_units(fit.model), fit.lr
    if units is not None and units != 1:
        raise wrong(f"It trains a model with {units} hidden units; the exercise asks for one (num_hiddens=1).")
    if lr is not None and not math.isclose(lr, 0.1):
        raise wrong(f"It trains with learning rate {lr:g}; the exercise asks for 0.1 (lr=0.1).")
    expect_metric("results['val_acc']", results["val_acc"], fit)
    active = _as_float(results["active"])
    images = getattr(fit.data, "train_X", None)
    if active is None or not isinstance(images, torch.Tensor):
        return
    first = images[:10_000]
    want = _active(fit, first)
    if want is None or abs(active - want) <= 1e-6:
        return
    what = f"of the first {len(first):,} training images"
    variants = {
        "That counts an input of exactly 0 as active: the unit is on where x W1 + b1 > 0.": _active(
            fit, first, at_least=True),
        f"That is the fraction where it is off: the unit is active where x W1 + b1 > 0, on {fmt(want)} {what}.": (
            1 - want),
        "That uses the raw uint8 pixels (0 to 255): the model sees data.transform(pixels), floats in [0, 1].": _active(
            fit, first, raw=True),
        f"That is the fraction on the validation images; the exercise asks for the first {len(first):,} training "
        "images, data.train_X[:10_000].": _active(fit, getattr(fit.data, "val_X", torch.empty(0))[:10_000]),
        f"That is the fraction on all {len(images):,} training images; the exercise asks for the first 10,000.": (
            _active(fit, images) if len(images) > len(first) else None),
        "That uses the weights the model started with; the exercise asks about the trained unit, after fit.": (
            _active(fit, first, fit.start)),
        "That is a percentage; report the fraction, a number between 0 and 1.": 100 * want,
    }  # fmt: skip
    for why, value in variants.items():
        if value is not None and abs(active - value) <= 1e-6 and abs(value - want) > 1e-6:
            raise wrong(f"results['active'] is {fmt(active)}. {why}")
    raise wrong(
        f"results['active'] is {fmt(active)}, but the trained unit's input is positive on {fmt(want)} {what} "
        "(data.transform(data.train_X[:10_000]))."
    )


check_one_unit = experiment_checker(
    "one_unit",
    expected_keys=["val_acc", "active"],
    ranges={"val_acc": (0.0, 0.7), "active": (0.0, 1.0)},
    summary="Both numbers are there, and plausible for a network with a single hidden unit.",
    protocol=_one_unit_protocol,
    example="check_one_unit(one_unit_experiment)",
)


# ---------------------------------------------------------------------------
# A learning-rate sweep


def _fit_of(reported: Any, fits: list[Fit]) -> Fit | None:
    """The fit whose History (or its last record) is ``reported``."""
    for fit in fits:
        if fit.history is reported:
            return fit
    for fit in fits:
        if fit.history is None or not fit.history.records:
            continue
        if isinstance(reported, History) and fit.history.records == reported.records:
            return fit
        if isinstance(reported, Mapping) and dict(reported) == fit.history.final:
            return fit
    return None


def _lr_sweep_protocol(results: Mapping[Any, Any], fits: list[Fit]) -> None:
    _expect_fits(fits, 3, 2)
    used = {}
    for key, history in results.items():
        where = f"results[{float(torch.as_tensor(key)):g}]"
        fit = _fit_of(history, fits)
        if fit is not None and not isinstance(history, History):
            raise wrong(
                f"{where} is the last epoch's record of a run; return the History itself (what Trainer.fit returns), "
                "which keeps every epoch: the cell after the check draws the curves from it."
            )
        if fit is None:
            raise wrong(
                f"{where} is not the History of a run your function made: return, for each rate, what "
                "Trainer.fit returned when it trained that rate's model."
            )
        used[where, float(torch.as_tensor(key))] = fit
    _expect_fresh(sorted(used.values(), key=fits.index), "rate")
    for (where, rate), fit in used.items():
        units = _hidden_units(fit.model)
        if fit.lr is not None and not math.isclose(fit.lr, rate, rel_tol=1e-6):
            raise wrong(
                f"{where} is the History of the model trained with learning rate {fit.lr:g}: the keys are mixed up."
            )
        if units is not None and units != 256:
            raise wrong(f"{where} comes from a model with {units} hidden units; the exercise asks for the lab's 256.")
    runs = list(used.values())
    _expect_epochs(runs, 2)
    if not all(runs[0].same_weights(runs[0].start, fit.start) for fit in runs[1:]):
        raise wrong(
            "Its models start from different initial weights, so the rates are not compared from the same start: "
            "call d2lmini.seed_everything(0) right before creating each model."
        )


check_lr_sweep = experiment_checker(
    "lr_sweep",
    expected_keys=[0.01, 0.1, 1.0],
    ranges={"val_acc": (0.0, 1.0), "train_loss": (0.0, None)},
    summary="A history for each of the three learning rates, each from a fresh model, with plausible final numbers.",
    protocol=_lr_sweep_protocol,
    example="check_lr_sweep(lr_sweep)",
)


# ---------------------------------------------------------------------------
# Initialisations: PyTorch's default and He's


def _initialisation(fit: Fit) -> str:
    """"he" if every linear layer started with weights of standard deviation sqrt(2 / d_in) and zero biases,
    "default" if every one started from PyTorch's default, uniform within 1 / sqrt(d_in), else "other"."""
    if fit.start is None or not fit.linears():
        return "other"
    kinds = set()
    for name, _ in fit.linears():
        weight, bias = fit.start.get(f"{name}.weight"), fit.start.get(f"{name}.bias")
        if weight is None:
            return "other"
        fan_in, std = weight.shape[1], float(weight.float().std())
        zero_bias = bias is None or bool((bias == 0).all())
        uniform = float(weight.abs().max()) <= (1 + 1e-6) / math.sqrt(fan_in)  # PyTorch's default: U(-1/sqrt(d), ...)
        if zero_bias and abs(std / math.sqrt(2 / fan_in) - 1) < 0.25:
            kinds.add("he")
        elif uniform and abs(std * math.sqrt(3 * fan_in) - 1) < 0.25:
            kinds.add("default")
        else:
            kinds.add("other")
    return kinds.pop() if len(kinds) == 1 else "other"


def _hidden_widths(fit: Fit) -> list[int]:
    return [layer.out_features for _, layer in fit.linears()[:-1]]


def _activations(fit: Fit) -> set[str]:
    return {type(m).__name__ for m in fit.model.modules() if type(m).__module__ == "torch.nn.modules.activation"}


def _gelu_gain_protocol(results: Mapping[Any, Any], fits: list[Fit]) -> None:
    _expect_fits(fits, 2, 3)
    _expect_fresh(fits, "initialisation")
    for fit in fits:
        widths, activations = _hidden_widths(fit), _activations(fit)
        if widths and widths != [128] * 5:
            raise wrong(
                f"One of its networks has hidden layers of {widths}; the exercise's network has five hidden layers "
                "of 128 units."
            )
        if activations and "GELU" not in activations:
            raise wrong(f"One of its networks uses {', '.join(sorted(activations))}; the exercise's uses nn.GELU().")
    by_kind = {_initialisation(fit): fit for fit in fits}
    if "he" not in by_kind:
        raise wrong(
            "None of its networks starts from the chapter's initialisation: for the 'gain' run, draw every linear "
            "layer's weights with nn.init.kaiming_normal_(layer.weight, nonlinearity='relu') and set its biases to "
            "zero (nn.init.zeros_(layer.bias)) before training."
        )
    if "default" not in by_kind:
        raise wrong(
            "None of its networks keeps PyTorch's default initialisation: build the 'default' run's network and "
            "train it as it is, without re-initialising its layers."
        )
    he, default = by_kind["he"], by_kind["default"]
    _expect_epochs([he, default], 3)
    for key, fit, other in (("gain", he, default), ("default", default, he)):
        number = _as_float(results[key])
        final = other.history.final.get("val_acc") if other.history is not None and other.history.records else None
        mine = fit.history.final.get("val_acc") if fit.history is not None and fit.history.records else None
        swapped = number is not None and final is not None and mine is not None and abs(number - final) <= 2e-6
        if swapped and abs(final - mine) > 2e-6:  # type: ignore[operator]
            raise wrong(
                "The two numbers are swapped: results['gain'] must come from the He-initialised network and "
                "results['default'] from the one with PyTorch's default."
            )
        expect_metric(f"results[{key!r}]", results[key], fit)


check_gelu_gain = experiment_checker(
    "gelu_gain",
    expected_keys=["default", "gain"],
    ranges=(0.0, 1.0),
    summary="A validation accuracy for each initialisation, each from its own network, both plausible.",
    protocol=_gelu_gain_protocol,
    example="check_gelu_gain(gelu_gain)",
)


# ---------------------------------------------------------------------------
# Depth at a fixed size


def _best_width(depth: int) -> int:
    return min(range(8, 1024), key=lambda w: abs(mlp_parameter_count([784, *[w] * depth, 10]) - LAB_PARAMETERS))


def _depth_protocol(results: Mapping[Any, Any], fits: list[Fit]) -> None:
    _expect_fits(fits, 3, 3)
    _expect_fresh(fits, "depth")
    by_depth = {len(fit.linears()) - 1: fit for fit in fits if fit.linears()}
    for depth in (1, 2, 3):
        fit, where = by_depth.get(depth), f"results[{depth}]"
        if fit is None:
            trained = sorted(by_depth)
            raise wrong(f"It trains no network with {depth} hidden layer(s) (it trains depths {trained}).")
        _expect_epochs([fit], 3)
        widths, best = _hidden_widths(fit), _best_width(depth)
        if widths != [best] * depth:
            raise wrong(
                f"Its {depth}-hidden-layer network has hidden widths {widths}; the width whose network is closest to "
                f"{LAB_PARAMETERS:,} parameters is {best} ({mlp_parameter_count([784, *[best] * depth, 10]):,})."
            )
        if _initialisation(fit) != "he":
            raise wrong(
                f"Its {depth}-hidden-layer network does not start from He initialisation: apply "
                "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu') and nn.init.zeros_(layer.bias) to every "
                "linear layer before training."
            )
        params, counted = results[depth]["params"], count_parameters(fit.model)
        number = _as_float(params)
        if number is not None and number != counted:
            raise wrong(
                f"{where}['params'] is {fmt(number)}, but the {depth}-hidden-layer network it trains has "
                f"{counted:,} parameters (d2lmini.count_parameters(model))."
            )
        expect_metric(f"{where}['val_acc']", results[depth]["val_acc"], fit)


# The parameter counts must be within 2% of the lab model's 203,530.
check_depth_at_fixed_size = experiment_checker(
    "depth_at_fixed_size",
    expected_keys=[1, 2, 3],
    ranges={"params": (199_459, 207_601), "val_acc": (0.0, 1.0)},
    summary="Three depths of (nearly) the lab model's size, He-initialised, each with its final validation "
    "accuracy.",
    protocol=_depth_protocol,
    example="check_depth_at_fixed_size(depth_at_fixed_size)",
)
