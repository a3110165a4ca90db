"""Slider demos that work both live in Jupyter and in the static HTML book.

A :class:`Demo` couples a *pure* function ``render(**params) -> Frame`` with a
few discrete controls.  Displayed in a notebook it offers two views of the
same thing, and the front end picks one:

- live Jupyter shows an ipywidgets view: sliders (or buttons) that call
  ``render`` and redraw a matplotlib figure;
- the built book, where no kernel runs, shows a plotly figure with the same
  controls whose states were all computed in advance by calling ``render``
  on every point of the controls' grid.  A few lines of JavaScript pick the
  state that matches the controls, so several sliders combine correctly.

Both views draw from the same ``render`` calls, so they cannot disagree.
The HTML loads no plotly.js (the book serves its own copy on every page),
uses fixed element ids and rounds numbers, so re-running a notebook gives
the same text.

The activation chapter's pure functions and demos live in
:mod:`d2lmini.book.activations`.  plotly, ipywidgets and matplotlib are imported
only inside functions, so importing this module is instant.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------------------
# Frames: what one state of a demo shows
# ---------------------------------------------------------------------------

_DASH_MPL = {"solid": "-", "dash": "--", "dot": ":", "dashdot": "-."}


@dataclass(frozen=True)
class Trace:
    """One curve (``mode="lines"``) or set of points (``mode="markers"``)."""

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str = "#1f77b4"
    dash: Literal["solid", "dash", "dot", "dashdot"] = "solid"
    width: float = 2.0
    mode: Literal["lines", "markers"] = "lines"


@dataclass(frozen=True)
class Frame:
    """Everything one state of a demo shows: its traces and a title line."""

    traces: tuple[Trace, ...]
    title: str = ""


def _round(values: Any, digits: int = 4, tiny: float = 1e-9) -> tuple[float, ...]:
    """Round to ``digits`` significant digits: stable text, compact HTML, exact enough to plot.

    Values smaller than ``tiny`` in size become 0: they are floating-point
    noise (a least-squares residual of 1e-15, say) whose digits change with
    the number of CPU threads and would make the HTML differ between runs.
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().tolist()
    return tuple(0.0 if abs(float(v)) < tiny else float(f"{float(v):.{digits}g}") for v in values)


def trace(name: str, x: Any, y: Any, **style: Any) -> Trace:
    """Build a :class:`Trace` from tensors, arrays or lists, rounding the numbers."""
    return Trace(name, _round(x), _round(y), **style)


# ---------------------------------------------------------------------------
# Controls and the Demo class
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """A discrete control: a slider, or a row of buttons, over ``values``.

    ``labels`` are the texts shown for the values (default: the values).
    """

    name: str
    values: tuple[Any, ...]
    default: Any
    label: str = ""
    kind: Literal["slider", "buttons"] = "slider"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.default not in self.values:
            raise ValueError(f"default {self.default!r} of control {self.name!r} is not one of its values")
        if self.labels and len(self.labels) != len(self.values):
            raise ValueError(
                f"control {self.name!r} has {len(self.values)} values but {len(self.labels)} labels"
            )

    @property
    def texts(self) -> tuple[str, ...]:
        """What is written for each value."""
        return self.labels or tuple(f"{v:g}" if isinstance(v, float) else str(v) for v in self.values)


@dataclass
class Demo:
    """An interactive figure: ``render(**params)`` drawn under the ``controls``.

    ``key`` names the demo; the plotly div's id is built from it, so keep it
    unique within a page.  Axis ranges are fixed, so moving a slider changes
    the curves and never the scale.
    """

    key: str
    render: Callable[..., Frame]
    controls: Sequence[Control]
    xlabel: str = "x"
    ylabel: str = ""
    xrange: tuple[float, float] | None = None
    yrange: tuple[float, float] | None = None
    ylog: bool = False
    height: int = 430
    _static: dict[str, Any] | None = field(default=None, init=False, repr=False)

    # -- the pure part -------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        """The controls' default values, by name."""
        return {c.name: c.default for c in self.controls}

    def frame(self, **params: Any) -> Frame:
        """``render`` at ``params``; controls not given take their defaults."""
        unknown = set(params) - {c.name for c in self.controls}
        if unknown:
            raise TypeError(f"unknown parameters {sorted(unknown)} for demo {self.key!r}")
        return self.render(**{**self.defaults(), **params})

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination of control values, the last control varying fastest."""
        names = [c.name for c in self.controls]
        for combo in itertools.product(*(c.values for c in self.controls)):
            yield dict(zip(names, combo, strict=True))

    def static_states(self) -> dict[str, Any]:
        """All the states of the static figure, computed once and cached.

        Returns ``{"traces": [...], "states": [...], "index": [...]}``.
        ``traces`` lists the traces that change with the controls (the others
        are drawn once); ``index[k]`` is the position in ``states`` of the
        ``k``-th point of :meth:`grid` (identical states are stored once).  A
        state holds the title and the ``y`` of every moving trace, and their
        ``x`` when any of those moves sideways.
        """
        if self._static is None:
            first = self.frame()
            frames = [self.render(**params) for params in self.grid()]
            if any(len(f.traces) != len(first.traces) for f in frames):
                raise ValueError(f"demo {self.key!r}: every state must draw the same number of traces")
            moving = [
                i for i, t in enumerate(first.traces)
                if any((f.traces[i].x, f.traces[i].y) != (t.x, t.y) for f in frames)
            ]  # fmt: skip
            states: list[dict[str, Any]] = []
            seen: dict[str, int] = {}
            index: list[int] = []
            for frame in frames:
                state: dict[str, Any] = {"title": frame.title, "y": [list(frame.traces[i].y) for i in moving]}
                if any(frame.traces[i].x != first.traces[i].x for i in moving):
                    state["x"] = [list(frame.traces[i].x) for i in moving]
                text = json.dumps(state, sort_keys=True)
                if text not in seen:
                    seen[text] = len(states)
                    states.append(state)
                index.append(seen[text])
            self._static = {"traces": moving, "states": states, "index": index}
        return self._static

    # -- the static view (plotly) ------------------------------------------
    @property
    def div_id(self) -> str:
        """The fixed id of the plotly div in the HTML."""
        return f"d2lmini-{self.key}"

    def figure(self) -> Any:
        """The plotly figure at the default state, with the controls drawn but not yet wired."""
        import plotly.graph_objects as go

        frame = self.frame()
        fig = go.Figure()
        for t in frame.traces:
            fig.add_trace(
                go.Scatter(
                    x=list(t.x), y=list(t.y), name=t.name, mode=t.mode,
                    line={"color": t.color, "dash": t.dash, "width": t.width},
                    marker={"color": t.color, "size": 8},
                )
            )  # fmt: skip
        sliders = [c for c in self.controls if c.kind == "slider"]
        buttons = [c for c in self.controls if c.kind == "buttons"]
        top = 62 if buttons else 40
        fig.update_layout(
            template="none",
            height=self.height + 70 * len(sliders),
            margin={"l": 60, "r": 20, "t": top + 30, "b": 50 + 70 * len(sliders)},
            paper_bgcolor="white",
            plot_bgcolor="white",
            font={"size": 13},
            title={"text": frame.title, "x": 0.5, "y": 1.0, "yanchor": "top", "pad": {"t": 8}},
            legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
            xaxis={"title": {"text": self.xlabel}, "range": self.xrange, "gridcolor": "#e5e5e5",
                   "zerolinecolor": "#999"},
            yaxis={"title": {"text": self.ylabel}, "range": self.yrange, "gridcolor": "#e5e5e5",
                   "zerolinecolor": "#999", "type": "log" if self.ylog else "linear"},
            sliders=[
                {
                    "active": c.values.index(c.default),
                    "currentvalue": {"prefix": f"{c.label or c.name} = "},
                    "pad": {"t": 55 + 70 * i},
                    "len": 1.0,
                    "steps": [{"label": s, "method": "skip", "args": []} for s in c.texts],
                }
                for i, c in enumerate(sliders)
            ],
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "active": c.values.index(c.default),
                    "showactive": True,
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.0,
                    "yanchor": "bottom",
                    "pad": {"b": 34 + 34 * i},
                    "buttons": [{"label": s, "method": "skip", "args": []} for s in c.texts],
                }
                for i, c in enumerate(buttons)
            ],
        )  # fmt: skip
        return fig

    def _script(self) -> str:
        """JavaScript that shows the precomputed state matching the controls."""
        slider_pos, button_pos = 0, 0
        controls = []
        for c in self.controls:
            if c.kind == "slider":
                controls.append({"kind": "sliders", "pos": slider_pos, "size": len(c.values)})
                slider_pos += 1
            else:
                controls.append({"kind": "updatemenus", "pos": button_pos, "size": len(c.values)})
                button_pos += 1
        data = json.dumps({"controls": controls, **self.static_states()}, separators=(",", ":"))
        return (
            "var gd = document.getElementById('{plot_id}');\n"
            f"var S = {data};\n"
            "var show = function () {\n"
            "  var k = 0;\n"
            "  S.controls.forEach(function (c) {\n"
            "    k = k * c.size + (gd.layout[c.kind][c.pos].active || 0);\n"
            "  });\n"
            "  var s = S.states[S.index[k]], upd = {y: s.y};\n"
            "  if (s.x) { upd.x = s.x; }\n"
            "  Plotly.update(gd, upd, {'title.text': s.title}, S.traces);\n"
            "};\n"
            "gd.on('plotly_sliderchange', show);\n"
            "gd.on('plotly_buttonclicked', show);\n"
        )

    def to_html(self) -> str:
        """A self-contained HTML fragment: the figure, its controls and their states.

        It expects ``Plotly`` to be defined already (the book loads its own copy
        of plotly.js on every page) and contacts no server.
        """
        fig = self.figure()
        return fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=self.div_id,
            default_width="100%",
            default_height=f"{fig.layout.height}px",
            post_script=self._script(),
            config={
                "displaylogo": False,
                "responsive": True,
                "modeBarButtonsToRemove": ["lasso2d", "select2d"],
            },
        )

    # -- the live view (ipywidgets + matplotlib) ----------------------------
    def draw(self, frame: Frame, axes: Any = None) -> Any:
        """Draw ``frame`` with matplotlib; returns the axes."""
        if axes is None:
            from d2lmini.plotting import figure

            _, axes = figure(figsize=(6.0, 3.4))
        for t in frame.traces:
            if t.mode == "markers":
                axes.plot(t.x, t.y, "o", color=t.color, label=t.name)
            else:
                axes.plot(t.x, t.y, _DASH_MPL[t.dash], color=t.color, lw=t.width * 0.75, label=t.name)
        axes.set_title(frame.title, fontsize=10)
        axes.set_xlabel(self.xlabel)
        axes.set_ylabel(self.ylabel)
        if self.ylog:
            axes.set_yscale("log")
        if self.xrange:
            axes.set_xlim(self.xrange)
        if self.yrange:  # plotly gives a log axis's range in powers of ten
            lo, hi = self.yrange
            axes.set_ylim((10**lo, 10**hi) if self.ylog else (lo, hi))
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8, loc="best")
        return axes

    def png(self, frame: Frame) -> bytes:
        """``frame`` drawn by :meth:`draw` as PNG bytes (the figure is closed again)."""
        import io

        import matplotlib.pyplot as plt

        axes = self.draw(frame)
        buffer = io.BytesIO()
        axes.figure.savefig(buffer, format="png", dpi=100, facecolor="white", bbox_inches="tight")
        plt.close(axes.figure)
        return buffer.getvalue()

    def widget(self) -> Any:
        """The live view: ipywidgets controls above an image redrawn by matplotlib on every change.

        The picture is an ``ipywidgets.Image`` whose bytes are replaced, not an
        ``Output`` widget: it sends no display messages, so it behaves the same
        in Jupyter, in headless execution and under nbval.
        """
        import ipywidgets as w

        inputs: dict[str, Any] = {}
        for c in self.controls:
            options = list(zip(c.texts, c.values, strict=True))
            description = c.label or c.name
            if c.kind == "buttons":
                inputs[c.name] = w.ToggleButtons(options=options, value=c.default, description=description)
            else:
                inputs[c.name] = w.SelectionSlider(
                    options=options, value=c.default, description=description,
                    continuous_update=True, layout=w.Layout(width="420px"),
                    style={"description_width": "initial"},
                )  # fmt: skip
        image = w.Image(value=self.png(self.frame()), format="png")

        def redraw(_: Any = None) -> None:
            image.value = self.png(self.frame(**{name: box.value for name, box in inputs.items()}))

        for box in inputs.values():
            box.observe(redraw, names="value")
        return w.VBox([*inputs.values(), image])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Both views: the widget for live Jupyter, the HTML figure for the static book."""
        bundle: dict[str, Any] = {}
        try:
            view = self.widget()._repr_mimebundle_()
            if isinstance(view, tuple):  # (data, metadata)
                view = view[0]
            bundle.update(view or {})
        except Exception:  # no usable widget machinery: the HTML view is enough
            pass
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = f"<Demo {self.key!r}: run the notebook in Jupyter for live sliders>"
        return bundle
