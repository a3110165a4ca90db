"""Small matplotlib helpers for the book's figures.

Nothing here touches matplotlib's global settings: every figure is created
with an explicit opaque white background, so it stays readable on a dark
page, and every function returns the axes it drew on, so the same calls
work in notebooks, in scripts and in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from d2lmini.history import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BACKGROUND = "white"


def figure(
    nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (3.5, 2.5), **kwargs: Any
) -> tuple[Figure, Any]:
    """Create a figure with an opaque background; returns ``(figure, axes)``.

    A thin wrapper of :func:`matplotlib.pyplot.subplots`; extra keyword
    arguments are passed on to it.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, facecolor=BACKGROUND, **kwargs)  # opaque: alpha 1
    return fig, axes


def set_axes(
    axes: Axes,
    xlabel: str | None = None,
    ylabel: str | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    xscale: str = "linear",
    yscale: str = "linear",
    legend: Sequence[str] | None = None,
) -> Axes:
    """Set labels, limits, scales, legend and a light grid on ``axes``."""
    axes.set_xlabel(xlabel or "")
    axes.set_ylabel(ylabel or "")
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    if xlim is not None:
        axes.set_xlim(xlim)
    if ylim is not None:
        axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid(True, alpha=0.3)
    return axes


def show_images(
    images: Any,
    nrows: int,
    ncols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
    cmap: str = "gray_r",
) -> Any:
    """Show a grid of grayscale images (a tensor or array of shape (n, h, w), or (n, 1, h, w)).

    Returns the array of axes.  The default colour map draws ink dark on a
    light background, the way Fashion-MNIST's items are usually pictured.
    """
    if getattr(images, "ndim", None) == 2:
        raise TypeError(
            f"show_images takes a batch of images, of shape (n, height, width), not {tuple(images.shape)}: "
            "one image goes in as X[None]; flattened images as X.reshape(-1, 28, 28)."
        )
    pictures = [_grayscale(images[i], i) for i in range(min(len(images), nrows * ncols))]
    _, axes = figure(nrows, ncols, figsize=(ncols * scale, nrows * scale * 1.15), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= len(pictures):
            continue
        ax.imshow(pictures[i], cmap=cmap)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    return axes


def _grayscale(img: Any, i: int) -> Any:
    """Image ``i`` of a batch as a 2-D array for imshow; one channel of size 1 is dropped."""
    if hasattr(img, "detach"):
        img = img.detach().cpu().numpy()
    if img.ndim == 3 and img.shape[0] == 1:  # (1, h, w), as the loaders give them
        img = img[0]
    if img.ndim != 2:
        raise TypeError(f"show_images draws images of shape (height, width); image {i} is {tuple(img.shape)}.")
    return img


def plot_history(history: Any, axes: Sequence[Axes] | None = None, label: str = "") -> Sequence[Axes]:
    """Draw a training history's loss (left) and accuracy (right) per epoch.

    ``history`` is what :meth:`d2lmini.Trainer.fit` returns.  Pass the axes of
    an earlier call and a ``label`` to compare several runs in one figure.
    """
    if not isinstance(history, History):
        raise TypeError(
            f"plot_history takes the History that Trainer.fit returns (or trainer.history), not a "
            f"{type(history).__name__}."
        )
    if not len(history):
        raise ValueError("plot_history got a History without epochs: no epoch finished, so there is nothing to plot.")
    if axes is not None and (not hasattr(axes, "__len__") or len(axes) != 2):
        raise TypeError(
            "plot_history draws loss and accuracy side by side, on two axes: pass axes= the pair an earlier call "
            f"returned, or nothing for a new figure; got {type(axes).__name__} {axes!r}."
        )
    if axes is None:
        _, axes = figure(1, 2, figsize=(7, 2.6), layout="constrained")
    prefix = f"{label} " if label else ""
    epochs = history["epoch"]
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{metric}"
            if key in history.keys():  # noqa: SIM118 (a History, not a dict)
                ax.plot(epochs, history[key], style, marker="o", markersize=3,
                        label=f"{prefix}{split} {metric}")  # fmt: skip
        set_axes(ax, xlabel="epoch", ylabel="loss" if metric == "loss" else "accuracy")
        ax.legend(fontsize=7)
    return axes
