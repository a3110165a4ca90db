"""How long does a slider move take in the live (ipywidgets) view of each demo?

For every demo of the activation chapter, moves each control across all its
values and back (the other controls at their defaults) and times each move:

* before: what a move cost until now: a new matplotlib figure, drawn and
  saved as PNG (``bbox_inches="tight"``), for every move;
* after, first visit: the widget's own move (``control.value = v`` on the
  real ipywidgets control, which runs its observer): the kept figure's lines
  are moved to the new state and saved;
* after, revisit: the same move to a state already shown (the way back): the
  kept PNG is reused.

The render itself (``demo.frame``) is part of every timing.  Prints the median
and the worst move per demo, in milliseconds; the target is well under 100 ms.
Run it with ``python bench/slider_latency.py [--demos NAME ...]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt

import d2lmini
from d2lmini.book import activations
from d2lmini.book.widgets import Demo

DEMOS: dict[str, Callable[[], Demo]] = {
    "activation-explorer": activations.activation_explorer,
    "neuron-sigmoid": activations.neuron_demo,
    "relu-bump": activations.bump_demo,
    "relu-fit": activations.relu_fit_demo,
    "vanishing-gradients": activations.vanishing_demo,
}


def moves(demo: Demo) -> list[tuple[str, object]]:
    """Each control swept from its first value to its last and back, as (control, value) moves."""
    out = []
    for c in demo.controls:
        sweep = list(c.values) + list(reversed(c.values))[1:]
        out += [(c.name, v) for v in sweep]
    return out


def before(demo: Demo, name: str, value: object) -> float:
    """One move as the live view made it until now: a fresh figure per move."""
    start = time.perf_counter()
    fig, axes = d2lmini.figure(figsize=(6.0, 3.4))
    demo.draw(demo.frame(**{name: value}), axes)
    fig.savefig(io.BytesIO(), format="png", dpi=100, facecolor="white", bbox_inches="tight")
    plt.close(fig)
    return time.perf_counter() - start


def after(demo: Demo) -> tuple[list[float], list[float]]:
    """Every move on the real widget, split into first visits and revisits."""
    box = demo.widget()
    controls = {c.name: box.children[i] for i, c in enumerate(demo.controls)}
    seen = {tuple(demo.defaults().values())}
    first, again = [], []
    for name, value in moves(demo):
        for other, control in controls.items():  # the other controls back at their defaults
            if other != name and control.value != demo.defaults()[other]:
                control.value = demo.defaults()[other]
        state = tuple({**demo.defaults(), name: value}.values())
        start = time.perf_counter()
        controls[name].value = value
        elapsed = time.perf_counter() - start
        if controls[name].value != value:
            raise RuntimeError(f"{demo.key}: the control did not take the value {value!r}")
        (again if state in seen else first).append(elapsed)
        seen.add(state)
    return first, again


def summary(seconds: list[float]) -> str:
    if not seconds:
        return "        -           -"
    return f"{1000 * statistics.median(seconds):9.1f} {1000 * max(seconds):11.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demos", nargs="*", default=list(DEMOS), choices=list(DEMOS))
    args = parser.parse_args()
    print(f"{'demo':22s} {'moves':>5s} | {'before (ms)':^21s} | {'after, first visit':^21s} | {'after, revisit':^21s}")
    print(f"{'':22s} {'':5s} | {'median':>9s} {'worst':>11s} | {'median':>9s} {'worst':>11s} | "
          f"{'median':>9s} {'worst':>11s}")  # fmt: skip
    for key in args.demos:
        demo = DEMOS[key]()
        demo.frame()  # warm up: imports and cached computations, as in a notebook that has run
        old = [before(demo, name, value) for name, value in moves(demo)]
        first, again = after(DEMOS[key]())
        print(f"{key:22s} {len(old):5d} | {summary(old)} | {summary(first)} | {summary(again)}", flush=True)


if __name__ == "__main__":
    main()
