"""Slider demos that work both live in Jupyter and in the static HTML book.

A :class:`Demo` couples a *pure* function ``render(**params) -> Frame`` with a
few discrete controls.  A :class:`Frame` is what one state shows: its curves,
a title line and a one-sentence description of what the state shows, written
for a reader who cannot see the plot.  Displayed in a notebook a demo offers
two views of the same states, and the front end picks one:

- live Jupyter shows an ipywidgets view: sliders (or toggle buttons) over an
  image that matplotlib draws; each state's PNG is drawn once, in place in
  one kept figure, and reused when the reader comes back to that state;
- the built book, where no kernel runs, shows native HTML controls (range
  inputs and radio buttons: focusable, operable with Tab and the arrow keys,
  labelled, announcing their values) above a plotly plot, with the state's
  description in an ``aria-live`` line under it.  Every state was computed in
  advance by calling ``render`` on every point of the controls' grid; a few
  lines of JavaScript show the state that matches the controls.

A frame holds curves and point sets (:class:`Trace`; ``None`` in a trace's
coordinates breaks the line, so one trace can hold many segments) and maps of
a value over the plane (:class:`Heatmap`, drawn as colour with one contour
line, such as a classifier's probability and its decision boundary).

Both views draw from the same ``render`` calls, so they cannot disagree.
The HTML loads no plotly.js (the book adds plotly.js, async, to the pages
that hold a demo), waits for it if it is not there yet, uses fixed element
ids and rounds numbers, so re-running a notebook gives the same text.

The activation chapter's pure functions and demos live in
:mod:`d2lmini.book.activations`.  plotly, ipywidgets and matplotlib are imported
only inside functions, so importing this module is instant.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------------------
# Frames: what one state of a demo shows
# ---------------------------------------------------------------------------

_DASH_MPL = {"solid": "-", "dash": "--", "dot": ":", "dashdot": "-."}


@dataclass(frozen=True)
class Trace:
    """One curve (``mode="lines"``) or set of points (``mode="markers"``).

    A ``None`` in ``x`` and ``y`` breaks the curve there, so one trace can draw
    several separate segments (both views leave a gap).
    """

    name: str
    x: tuple[float | None, ...]
    y: tuple[float | None, ...]
    color: str = "#1f77b4"
    dash: Literal["solid", "dash", "dot", "dashdot"] = "solid"
    width: float = 2.0
    mode: Literal["lines", "markers"] = "lines"


_LEVEL_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Heatmap:
    """A value in [0, 1] over a grid, drawn as colour, with its contour line at ``boundary``.

    ``z[i][j]`` is the value at ``(x[j], y[i])`` (rows go up the y axis, as in
    ``imshow(..., origin="lower")``).  The colours run from ``colors[0]`` at 0
    through ``colors[1]`` at 1/2 to ``colors[2]`` at 1.  Values are shown in
    ``levels`` equal steps and travel to the browser as one character per
    cell, so a map of 31 x 31 cells costs under a kilobyte per state; build
    it with :func:`heatmap`, which rounds the values to those steps.  With
    ``boundary=None`` no contour line is drawn.
    """

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    z: tuple[tuple[float, ...], ...]
    colors: tuple[str, str, str] = ("#2166ac", "#f7f7f7", "#b2182b")
    boundary: float | None = 0.5
    opacity: float = 0.6
    levels: int = 21

    def __post_init__(self) -> None:
        if not 2 <= self.levels <= len(_LEVEL_CHARS):
            raise ValueError(f"heatmap {self.name!r}: levels must be between 2 and {len(_LEVEL_CHARS)}")
        if len(self.z) != len(self.y) or any(len(row) != len(self.x) for row in self.z):
            raise ValueError(
                f"heatmap {self.name!r}: z must have one row per y ({len(self.y)}) and one column per x "
                f"({len(self.x)}); got {len(self.z)} rows of lengths {sorted({len(row) for row in self.z})}"
            )
        if any(not 0 <= v <= 1 for row in self.z for v in row):
            raise ValueError(f"heatmap {self.name!r}: the values must lie in [0, 1] (probabilities, or rescale them)")

    def codes(self) -> str:
        """The values, row after row, one character per cell: the level in base 36."""
        top = self.levels - 1
        return "".join(_LEVEL_CHARS[round(v * top)] for row in self.z for v in row)


def heatmap(name: str, x: Any, y: Any, z: Any, **style: Any) -> Heatmap:
    """Build a :class:`Heatmap` from tensors, arrays or lists, rounding ``z`` to the heatmap's levels."""
    levels = style.get("levels", Heatmap.levels)
    if hasattr(z, "detach"):
        z = z.detach().cpu().double().tolist()
    rounded = tuple(tuple(round(float(v) * (levels - 1)) / (levels - 1) for v in row) for row in z)
    return Heatmap(name, significant(x), significant(y), rounded, **style)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Frame:
    """Everything one state of a demo shows: its traces, a title line and a description.

    ``description`` is required: one or two sentences that say what this state
    shows and what it means (``"w = 2, b = 0: the sigmoid is twice as steep,
    centred at x = 0"``).  The book reads it out to screen-reader users when a
    control moves, and shows it under the plot.
    """

    traces: tuple[Trace | Heatmap, ...]
    title: str
    description: str

    def __post_init__(self) -> None:
        if len(self.description.split()) < 3:
            raise ValueError(
                f"frame {self.title!r} needs a description: a sentence (three words or more) saying what this "
                f"state shows, for readers who cannot see the plot; got {self.description!r}"
            )


def significant(values: Any, digits: int = 4) -> tuple[float | None, ...]:
    """Round every value to ``digits`` significant digits: stable text, compact HTML, exact enough to plot.

    Rounding is relative to each value, so 9.8e-18 stays 9.8e-18: on a log
    axis a tiny value is a point like any other.  Floating-point noise (a
    least-squares residual of 1e-15 that changes with the number of threads)
    must be removed where it arises, with :func:`snap_noise`.  ``None`` (a
    gap in a curve) stays ``None``.
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().tolist()
    return tuple(None if v is None else float(f"{float(v):.{digits}g}") for v in values)


def snap_noise(values: Any, relative: float = 1e-9) -> Any:
    """Set to 0 the values below ``relative`` times the largest magnitude among ``values``.

    For results of a numerical solve (least squares, say) whose true value
    is 0 at some points: there they come out as 1e-15-sized noise that
    changes with the number of CPU threads.  Works on tensors and sequences.
    """
    if hasattr(values, "abs"):
        if values.numel() == 0:
            return values
        return values.masked_fill(values.abs() < relative * float(values.abs().max()), 0.0)
    scale = max((abs(float(v)) for v in values), default=0.0)
    return [0.0 if abs(float(v)) < relative * scale else float(v) for v in values]


def trace(name: str, x: Any, y: Any, **style: Any) -> Trace:
    """Build a :class:`Trace` from tensors, arrays or lists, rounding the numbers."""
    return Trace(name, significant(x), significant(y), **style)


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

    @property
    def title(self) -> str:
        """The control's visible label."""
        return self.label or self.name


@dataclass
class Demo:
    """An interactive figure: ``render(**params)`` drawn under the ``controls``.

    ``key`` names the demo; the HTML's element ids are built from it, so keep
    it unique within a page.  ``caption`` is the figure's accessible name and
    visible caption: what the figure is and what to do with it.  Axis ranges
    are fixed, so moving a slider changes the curves and never the scale.
    ``square`` draws one unit of x as long as one unit of y (for maps of the
    plane).
    """

    key: str
    render: Callable[..., Frame]
    controls: Sequence[Control]
    caption: str
    xlabel: str = "x"
    ylabel: str = ""
    xrange: tuple[float, float] | None = None
    yrange: tuple[float, float] | None = None
    ylog: bool = False
    height: int = 400
    square: bool = False
    _static: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _live: _LiveFigure | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.caption.split()) < 3:
            raise ValueError(f"demo {self.key!r} needs a caption of three words or more (its accessible name)")
        names = [c.name for c in self.controls]
        if len(set(names)) != len(names):
            raise ValueError(f"demo {self.key!r}: control names must be unique, got {names}")

    # -- the pure part -------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        """The controls' default values, by name."""
        return {c.name: c.default for c in self.controls}

    def _params(self, **params: Any) -> dict[str, Any]:
        """Every control's value: ``params``, and the defaults of the controls not given."""
        unknown = set(params) - {c.name for c in self.controls}
        if unknown:
            raise TypeError(f"unknown parameters {sorted(unknown)} for demo {self.key!r}")
        return {**self.defaults(), **params}

    def frame(self, **params: Any) -> Frame:
        """``render`` at ``params``; controls not given take their defaults."""
        return self.render(**self._params(**params))

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination of control values, the last control varying fastest."""
        names = [c.name for c in self.controls]
        for combo in itertools.product(*(c.values for c in self.controls)):
            yield dict(zip(names, combo, strict=True))

    def static_states(self) -> dict[str, Any]:
        """All the states of the static figure, computed once and cached.

        Returns ``{"traces": [...], "heatmaps": [...], "states": [...], "index": [...]}``.
        ``traces`` lists the curves (:class:`Trace`) that change with the
        controls and ``heatmaps`` the :class:`Heatmap` s that do (the others
        are drawn once); ``index[k]`` is the position in ``states`` of the
        ``k``-th point of :meth:`grid` (identical states are stored once).  A
        state holds the title, the description and the ``y`` of every moving
        curve, their ``x`` when any of those moves sideways, and the
        :meth:`Heatmap.codes` of every moving heatmap as ``z``.
        """
        if self._static is None:
            first = self.frame()
            frames = [self.render(**params) for params in self.grid()]
            kinds = [type(t) for t in first.traces]
            if any([type(t) for t in f.traces] != kinds for f in frames):
                raise ValueError(
                    f"demo {self.key!r}: every state must draw the same traces, of the same kinds, in the same order"
                )
            moving = [
                i for i, t in enumerate(first.traces)
                if isinstance(t, Trace) and any((f.traces[i].x, f.traces[i].y) != (t.x, t.y) for f in frames)
            ]  # fmt: skip
            maps = [
                i for i, t in enumerate(first.traces)
                if isinstance(t, Heatmap) and any(f.traces[i] != t for f in frames)
            ]  # fmt: skip
            states: list[dict[str, Any]] = []
            seen: dict[str, int] = {}
            index: list[int] = []
            for frame in frames:
                state: dict[str, Any] = {
                    "title": frame.title,
                    "description": frame.description,
                    "names": [t.name for t in frame.traces],
                    "y": [list(frame.traces[i].y) for i in moving],
                }
                if any(frame.traces[i].x != first.traces[i].x for i in moving):
                    state["x"] = [list(frame.traces[i].x) for i in moving]
                if maps:
                    state["z"] = [frame.traces[i].codes() for i in maps]  # type: ignore[union-attr]
                text = json.dumps(state, sort_keys=True)
                if text not in seen:
                    seen[text] = len(states)
                    states.append(state)
                index.append(seen[text])
            self._static = {"traces": moving, "heatmaps": maps, "states": states, "index": index}
        return self._static

    # -- the static view (HTML controls + plotly) ---------------------------
    @property
    def div_id(self) -> str:
        """The fixed id of the figure element in the HTML; the plot's div is ``{div_id}-plot``."""
        return f"d2lmini-{self.key}"

    def figure(self) -> Any:
        """The plotly figure at the default state: no title (the HTML shows it), no controls, no toolbar.

        The legend sits above the plot, where it can wrap on a narrow screen,
        and zooming is off so that a finger dragging across the plot scrolls
        the page.
        """
        import plotly.graph_objects as go

        frame = self.frame()
        fig = go.Figure()
        for t in frame.traces:
            if isinstance(t, Heatmap):
                fig.add_trace(_plotly_heatmap(t))
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(t.x), y=list(t.y), name=t.name, mode=t.mode,
                    line={"color": t.color, "dash": t.dash, "width": t.width},
                    marker={"color": t.color, "size": 8},
                )
            )  # fmt: skip
        axis = {"gridcolor": "#e5e5e5", "zerolinecolor": "#999", "fixedrange": True, "automargin": True}
        fig.update_layout(
            template="none",
            autosize=True,
            margin={"l": 56, "r": 12, "t": 8, "b": 48},
            paper_bgcolor="white",
            plot_bgcolor="white",
            font={"size": 13, "color": "#222"},
            dragmode=False,
            legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
            xaxis={"title": {"text": self.xlabel}, "range": self.xrange, **axis},
            yaxis={"title": {"text": self.ylabel}, "range": self.yrange, "type": "log" if self.ylog else "linear",
                   "exponentformat": "power", **axis},
        )  # fmt: skip
        if self.square:
            fig.update_layout(yaxis={"scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
                              xaxis={"constrain": "domain"})  # fmt: skip
        return fig

    def _controls_html(self) -> str:
        """Native, labelled controls: a range input per slider, a radio group per row of buttons."""
        parts = []
        for c in self.controls:
            at = c.values.index(c.default)
            cid = html.escape(f"{self.div_id}-{c.name}")
            label = html.escape(c.title)
            if c.kind == "slider":
                parts.append(
                    f'<div class="d2lmini-demo-slider"><label for="{cid}">{label}</label>'
                    f'<input type="range" id="{cid}" data-control="{html.escape(c.name)}" min="0" '
                    f'max="{len(c.values) - 1}" step="1" value="{at}" '
                    f'aria-valuetext="{html.escape(c.texts[at])}" autocomplete="off">'
                    f'<output for="{cid}" aria-hidden="true">{html.escape(c.texts[at])}</output></div>'
                )
            else:
                options = "".join(
                    f'<label><input type="radio" name="{cid}" value="{i}"{" checked" if i == at else ""} '
                    f'autocomplete="off"><span>{html.escape(text)}</span></label>'
                    for i, text in enumerate(c.texts)
                )
                parts.append(
                    f'<fieldset class="d2lmini-demo-buttons" data-control="{html.escape(c.name)}">'
                    f"<legend>{label}</legend>{options}</fieldset>"
                )
        return "".join(parts)

    def _script(self) -> str:
        """JavaScript that shows the state the controls pick, and draws the plot once plotly.js is there
        and the figure comes near the screen (a page of five plots stays responsive while it loads)."""
        fig = json.loads(self.figure().to_json())
        static = self.static_states()
        arrays: dict[str, int] = {}  # every distinct list of numbers, stored once and named by its position

        def ref(values: list[Any]) -> int:
            return arrays.setdefault(json.dumps(values, separators=(",", ":")), len(arrays))

        states = [
            {**s, "y": [ref(v) for v in s["y"]], **({"x": [ref(v) for v in s["x"]]} if "x" in s else {})}
            for s in static["states"]
        ]
        first = self.frame()
        data = {
            "controls": [{"size": len(c.values), "texts": list(c.texts)} for c in self.controls],
            **static,
            "states": states,
            "arrays": "@ARRAYS@",
            "maps": [{"cols": len(first.traces[i].x), "levels": first.traces[i].levels} for i in static["heatmaps"]],
            "data": fig["data"],
            "layout": {k: v for k, v in fig["layout"].items() if k != "template"},
            "config": {"displayModeBar": False, "responsive": True, "scrollZoom": False},
        }
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        payload = payload.replace('"@ARRAYS@"', "[" + ",".join(arrays) + "]").replace("</", "<\\/")
        return (
            "(function () {\n"
            f"  var fig = document.getElementById('{self.div_id}');\n"
            f"  var S = {payload};\n"
            "  var plot = fig.querySelector('.d2lmini-demo-plot'), drawn = false;\n"
            "  plot.textContent = '';  // the note for front ends that run no scripts (a notebook not yet run)\n"
            "  var inputs = [].slice.call(fig.querySelectorAll('[data-control]'));\n"
            "  var position = function (el) {\n"
            "    if (el.tagName === 'INPUT') { return +el.value; }\n"
            "    var on = el.querySelector('input:checked');\n"
            "    return on ? +on.value : 0;\n"
            "  };\n"
            "  var show = function () {\n"
            "    var k = 0;\n"
            "    inputs.forEach(function (el, i) {\n"
            "      var at = position(el), c = S.controls[i];\n"
            "      k = k * c.size + at;\n"
            "      if (el.tagName === 'INPUT') {\n"
            "        el.setAttribute('aria-valuetext', c.texts[at]);\n"
            "        el.nextElementSibling.textContent = c.texts[at];\n"
            "      }\n"
            "    });\n"
            "    var s = S.states[S.index[k]];\n"
            "    fig.querySelector('.d2lmini-demo-title').textContent = s.title;\n"
            "    fig.querySelector('.d2lmini-demo-description').textContent = s.description;\n"
            "    if (!window.Plotly) { return; }\n"
            "    if (!drawn) { Plotly.newPlot(plot, S.data, S.layout, S.config); drawn = true; }\n"
            "    var arr = function (i) { return S.arrays[i]; };\n"
            "    var upd = {y: s.y.map(arr)};\n"
            "    if (s.x) { upd.x = s.x.map(arr); }\n"
            "    if (S.traces.length) { Plotly.restyle(plot, upd, S.traces); }\n"
            "    if (S.heatmaps.length) {\n"
            "      var z = s.z.map(function (codes, m) {\n"
            "        var c = S.maps[m], rows = [];\n"
            "        for (var i = 0; i < codes.length; i += c.cols) {\n"
            "          var row = [];\n"
            "          for (var j = i; j < i + c.cols; j++) { row.push(parseInt(codes[j], 36) / (c.levels - 1)); }\n"
            "          rows.push(row);\n"
            "        }\n"
            "        return rows;\n"
            "      });\n"
            "      Plotly.restyle(plot, {z: z}, S.heatmaps);\n"
            "    }\n"
            "    Plotly.restyle(plot, {name: s.names});\n"
            "  };\n"
            "  fig.addEventListener('input', show);\n"
            "  fig.addEventListener('change', show);\n"
            "  var start = function () {\n"
            "    if (!window.IntersectionObserver) { show(); return; }\n"
            "    var near = new IntersectionObserver(function (entries) {\n"
            "      if (entries.some(function (e) { return e.isIntersecting; })) { near.disconnect(); show(); }\n"
            "    }, {rootMargin: '400px 0px'});\n"
            "    near.observe(fig);\n"
            "  };\n"
            "  if (window.Plotly || document.readyState === 'complete') { start(); }\n"
            "  else { window.addEventListener('load', start); }\n"
            "})();\n"
        )

    def to_html(self) -> str:
        """A self-contained HTML fragment: caption, controls, title, plot, description, and the script.

        The figure is named by its caption; the plot, which a screen reader
        cannot read, is an image named by the state's description, and the
        description line is ``aria-live``, so moving a control reads out the
        new state.  Without JavaScript the default state's title and
        description still show, with a note in the plot's place that says to
        run the cell (a saved notebook opened in JupyterLab shows this view
        until its cell runs; the script clears the note).  It expects ``Plotly`` from the page (loaded
        ``async`` or ``defer``: the plot is drawn at the window's ``load``
        event if plotly.js has not run yet) and contacts no server.
        """
        frame = self.frame()
        i = self.div_id
        return (
            f'<figure class="d2lmini-demo" id="{i}" aria-labelledby="{i}-caption">\n'
            f'<figcaption id="{i}-caption" class="d2lmini-demo-caption">{html.escape(self.caption)}</figcaption>\n'
            f'<div class="d2lmini-demo-controls">{self._controls_html()}</div>\n'
            f'<p class="d2lmini-demo-title">{html.escape(frame.title)}</p>\n'
            f'<div class="d2lmini-demo-plot" id="{i}-plot" role="img" aria-labelledby="{i}-description" '
            f'style="height: {self.height}px"><p class="d2lmini-demo-waiting">Run this cell in '
            "Jupyter to see the figure and its live controls.</p></div>\n"
            f'<p class="d2lmini-demo-description" id="{i}-description" aria-live="polite">'
            f"{html.escape(frame.description)}</p>\n"
            f"<script>\n{self._script()}</script>\n"
            "</figure>"
        )

    # -- the live view (ipywidgets + matplotlib) ----------------------------
    def draw(self, frame: Frame, axes: Any) -> Any:
        """Draw ``frame`` on the matplotlib ``axes``; returns them."""
        for t in frame.traces:
            if isinstance(t, Heatmap):
                _draw_heatmap(axes, t)
            elif t.mode == "markers":
                axes.plot(_gaps(t.x), _gaps(t.y), "o", color=t.color, label=t.name)
            else:
                axes.plot(_gaps(t.x), _gaps(t.y), _DASH_MPL[t.dash], color=t.color, lw=t.width * 0.75, label=t.name)
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
        if self.square:
            axes.set_aspect("equal")
        axes.grid(True, alpha=0.3)
        _legend(axes, self.square)
        return axes

    def png(self, **params: Any) -> bytes:
        """The state at ``params`` as PNG bytes, drawn once and then kept (see :class:`_LiveFigure`)."""
        if self._live is None:
            self._live = _LiveFigure(self)
        return self._live.png(self._params(**params))

    def widget(self) -> Any:
        """The live view: ipywidgets controls above an image of the state they pick.

        The picture is an ``ipywidgets.Image`` whose bytes are replaced, not an
        ``Output`` widget: it sends no display messages, so it behaves the same
        in Jupyter, in headless execution and under nbval.
        """
        import ipywidgets as w

        inputs: dict[str, Any] = {}
        for c in self.controls:
            options = list(zip(c.texts, c.values, strict=True))
            if c.kind == "buttons":
                inputs[c.name] = w.ToggleButtons(options=options, value=c.default, description=c.title)
            else:
                inputs[c.name] = w.SelectionSlider(
                    options=options, value=c.default, description=c.title,
                    continuous_update=True, layout=w.Layout(width="420px"),
                    style={"description_width": "initial"},
                )  # fmt: skip
        image = w.Image(value=self.png(), format="png")

        def redraw(_: Any = None) -> None:
            image.value = self.png(**{name: box.value for name, box in inputs.items()})

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


class _LiveFigure:
    """One matplotlib figure for a demo's live view, redrawn in place; each state's PNG kept once made.

    A new figure for every slider move costs 100-300 ms (figure, axes, ticks,
    layout, legend, PNG).  Here the parts that never move (axes, ticks, grid,
    labels) are drawn once and kept as a bitmap; a move restores that bitmap,
    draws only the curves, the title and the legend over it ("blitting") and
    encodes the PNG with fast compression.  A state seen before costs nothing.
    When an axis has no fixed range and the new state changes its limits,
    the whole figure is drawn again.  The figure is not registered with pyplot,
    so the inline backend never shows it as an extra output.
    """

    def __init__(self, demo: Demo) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.demo = demo
        figure = Figure(figsize=(6.0, 4.2) if demo.square else (6.0, 3.4), dpi=100, facecolor="white")
        self.canvas = FigureCanvasAgg(figure)
        self.axes = demo.draw(demo.frame(), figure.add_subplot())
        figure.tight_layout()
        self.lines = self.axes.get_lines()  # one per Trace, in order
        self.images = self.axes.images  # one per Heatmap, in order
        self.contours: list[Any] = list(self.axes.collections)
        for artist in (*self.lines, *self.images, *self.contours, self.axes.title):
            artist.set_animated(True)
        self.limits: tuple[Any, ...] = ()
        self.pngs: dict[tuple[Any, ...], bytes] = {}

    def png(self, params: dict[str, Any]) -> bytes:
        """The PNG of the state at ``params`` (every control given, as ``Demo._params`` gives them)."""
        key = tuple(params[c.name] for c in self.demo.controls)
        if key not in self.pngs:
            self.pngs[key] = self._draw(self.demo.render(**params))
        return self.pngs[key]

    def _draw(self, frame: Frame) -> bytes:
        import io

        import numpy as np
        from PIL import Image

        curves = [t for t in frame.traces if isinstance(t, Trace)]
        maps = [t for t in frame.traces if isinstance(t, Heatmap)]
        for line, t in zip(self.lines, curves, strict=True):
            line.set_data(_gaps(t.x), _gaps(t.y))
            line.set_label(t.name)
        for contour in self.contours:
            contour.remove()
        self.contours = []
        for image, t in zip(self.images, maps, strict=True):
            image.set_data(np.array(t.z))
            self.contours += _contour(self.axes, t)
        for contour in self.contours:
            contour.set_animated(True)
        self.axes.set_title(frame.title, fontsize=10)
        if self.demo.xrange is None or self.demo.yrange is None:
            self.axes.relim()
            self.axes.autoscale_view(scalex=self.demo.xrange is None, scaley=self.demo.yrange is None)
        legend = _legend(self.axes, self.demo.square)
        if legend is not None:
            legend.set_animated(True)
        limits = (self.axes.get_xlim(), self.axes.get_ylim())
        if limits != self.limits:  # the first state, or an axis without a fixed range moved
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.axes.figure.bbox)
            self.limits = limits
        self.canvas.restore_region(self.background)
        for artist in (*self.images, *self.contours, *self.lines, self.axes.title, legend):
            if artist is not None:
                self.axes.draw_artist(artist)
        pixels = np.asarray(self.canvas.buffer_rgba())[..., :3]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


# ---------------------------------------------------------------------------
# Drawing helpers shared by the two views
# ---------------------------------------------------------------------------


def _gaps(values: tuple[float | None, ...]) -> list[float]:
    """Coordinates for matplotlib: a ``None`` (a gap) becomes NaN, which breaks the line there too."""
    return [math.nan if v is None else v for v in values]


def _colorscale(t: Heatmap) -> list[list[Any]]:
    return [[0.0, t.colors[0]], [0.5, t.colors[1]], [1.0, t.colors[2]]]


def _plotly_heatmap(t: Heatmap) -> Any:
    """A plotly contour trace: the values as smooth colour, and the single contour line at ``boundary``."""
    import plotly.graph_objects as go

    common = {"x": list(t.x), "y": list(t.y), "z": [list(row) for row in t.z], "name": t.name, "zmin": 0, "zmax": 1,
              "colorscale": _colorscale(t), "opacity": t.opacity, "showscale": False, "hoverinfo": "skip"}  # fmt: skip
    if t.boundary is None:
        return go.Heatmap(**common, zsmooth="best")
    return go.Contour(
        **common, autocontour=False, line={"color": "black", "width": 2}, line_smoothing=0.85,
        contours={"start": t.boundary, "end": t.boundary, "size": 1, "coloring": "heatmap", "showlabels": False},
    )  # fmt: skip


def _draw_heatmap(axes: Any, t: Heatmap) -> None:
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list(t.name or "map", list(t.colors))
    extent = (t.x[0], t.x[-1], t.y[0], t.y[-1])
    axes.imshow(t.z, origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=1, alpha=t.opacity,
                interpolation="bilinear", aspect="auto")  # fmt: skip
    _contour(axes, t)


def _contour(axes: Any, t: Heatmap) -> list[Any]:
    """Draw the contour line at ``t.boundary`` if the values cross it; returns the artists drawn."""
    values = [v for row in t.z for v in row]
    if t.boundary is None or not min(values) < t.boundary < max(values):
        return []
    drawn = axes.contour(t.x, t.y, t.z, levels=[t.boundary], colors="black", linewidths=1.5)
    return [drawn]


def _legend(axes: Any, outside: bool) -> Any:
    """The legend: inside the axes where it covers least, or to their right (beside a square map); None if
    nothing drawn has a name to show."""
    if not axes.get_legend_handles_labels()[0]:
        return None
    if outside:
        return axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return axes.legend(fontsize=8, loc="best")
