"""A demo's first frame as a static SVG picture, drawn when the book is built (see lazy_demos.py).

A demo's plot is drawn by plotly.js, which the page loads only when the reader
comes near the demo.  Until then the plot's place shows this picture of the
demo's default state, drawn by matplotlib from the same plotly figure (its
``data`` and ``layout``): the curves and points (``scatter``), the coloured
maps with their contour line (``contour``, ``heatmap``), axis ranges, log
axes, titles, equal scales and the legend above the plot.  It covers what
:mod:`d2lmini.book.widgets` draws; a trace of another kind is a build
warning (the picture then leaves it out).
"""

from __future__ import annotations

import io
import math
from typing import Any

#: The width of the picture in CSS pixels (the book's text column on a laptop); its height is the plot's.
WIDTH_PX = 720
DPI = 100
DASHES = {"solid": "-", "dash": "--", "dot": ":", "dashdot": "-."}
DRAWN = ("scatter", "contour", "heatmap")


def values(seq: list[Any]) -> list[float]:
    """plotly's coordinates for matplotlib: a ``None`` (a gap in a line) becomes NaN."""
    return [math.nan if v is None else v for v in seq]


def colormap(scale: list[list[Any]]) -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("scale", [(float(at), colour) for at, colour in scale])


def draw_map(axes: Any, trace: dict[str, Any]) -> None:
    """A ``contour`` or ``heatmap`` trace: its values as smooth colour, and a contour's line."""
    x, y, z = trace["x"], trace["y"], trace["z"]
    axes.imshow(z, origin="lower", extent=(x[0], x[-1], y[0], y[-1]), cmap=colormap(trace["colorscale"]),
                vmin=trace.get("zmin", 0), vmax=trace.get("zmax", 1), alpha=trace.get("opacity", 1),
                interpolation="bilinear", aspect="auto")  # fmt: skip
    level = trace.get("contours", {}).get("start") if trace["type"] == "contour" else None
    flat = [v for row in z for v in row]
    if level is not None and min(flat) < level < max(flat):
        line = trace.get("line", {})
        axes.contour(x, y, z, levels=[level], colors=line.get("color", "black"), linewidths=line.get("width", 2) * 0.75)


def draw_scatter(axes: Any, trace: dict[str, Any]) -> None:
    x, y = values(trace["x"]), values(trace["y"])
    name = trace.get("name")
    if trace.get("mode") == "markers":
        marker = trace.get("marker", {})
        axes.plot(x, y, "o", color=marker.get("color"), markersize=marker.get("size", 8) * 0.75, label=name)
    else:
        line = trace.get("line", {})
        axes.plot(x, y, DASHES.get(line.get("dash", "solid"), "-"), color=line.get("color"),
                  linewidth=line.get("width", 2) * 0.75, label=name)  # fmt: skip


def axis(axes: Any, layout: dict[str, Any], letter: str) -> None:
    spec = layout.get(f"{letter}axis", {})
    label = (spec.get("title") or {}).get("text") or ""
    getattr(axes, f"set_{letter}label")(label)
    log = spec.get("type") == "log"
    if log:
        getattr(axes, f"set_{letter}scale")("log")
    if spec.get("range"):
        low, high = spec["range"]  # plotly gives a log axis's range in powers of ten
        getattr(axes, f"set_{letter}lim")((10**low, 10**high) if log else (low, high))


def frame_svg(figure: dict[str, Any], height_px: int) -> tuple[bytes, list[str]]:
    """The figure (plotly's ``{"data": [...], "layout": {...}}``) as SVG bytes, and the trace types left out."""
    from matplotlib.figure import Figure

    layout = figure.get("layout", {})
    margin = layout.get("margin", {})
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor=layout.get("paper_bgcolor", "white"))
    legend_px = 28  # plotly puts the legend in a row above the plot area
    fig.subplots_adjust(left=margin.get("l", 56) / WIDTH_PX, right=1 - margin.get("r", 12) / WIDTH_PX,
                        bottom=margin.get("b", 48) / height_px,
                        top=1 - (margin.get("t", 8) + legend_px) / height_px)  # fmt: skip
    axes = fig.add_subplot()
    axes.set_facecolor(layout.get("plot_bgcolor", "white"))
    skipped = []
    for trace in figure.get("data", []):
        kind = trace.get("type", "scatter")
        if kind == "scatter":
            draw_scatter(axes, trace)
        elif kind in ("contour", "heatmap"):
            draw_map(axes, trace)
        else:
            skipped.append(kind)
    axis(axes, layout, "x")
    axis(axes, layout, "y")
    if layout.get("yaxis", {}).get("scaleanchor") == "x":
        axes.set_aspect("equal", adjustable="box")
    axes.grid(True, color=layout.get("xaxis", {}).get("gridcolor", "#e5e5e5"))
    axes.set_axisbelow(True)
    axes.tick_params(length=0)
    for spine in axes.spines.values():  # plotly draws no axis lines, only the zero lines
        spine.set_visible(False)
    zero = layout.get("xaxis", {}).get("zerolinecolor", "#999")
    if axes.get_xscale() == "linear" and min(axes.get_xlim()) < 0 < max(axes.get_xlim()):
        axes.axvline(0, color=zero, linewidth=0.75, zorder=0.5)
    if axes.get_yscale() == "linear" and min(axes.get_ylim()) < 0 < max(axes.get_ylim()):
        axes.axhline(0, color=zero, linewidth=0.75, zorder=0.5)
    if axes.get_legend_handles_labels()[0]:
        fig.legend(loc="upper left", bbox_to_anchor=(margin.get("l", 56) / WIDTH_PX, 1.0), ncol=4, frameon=False,
                   fontsize=10, handlelength=2.2, borderaxespad=0.2)  # fmt: skip
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out.getvalue(), skipped


def svg_settings() -> dict[str, Any]:
    """matplotlib settings for small, reproducible SVG: text as text (the browser's sans-serif), fixed ids."""
    return {"svg.fonttype": "none", "svg.hashsalt": "d2lmini-demo", "font.family": "sans-serif", "font.size": 10}
