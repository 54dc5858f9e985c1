"""Plotting shared by the papers: the house style, a panel grid (2-D or 3-D axes) and atomic
saving. Importing this module never switches matplotlib's backend; job adapters call
:func:`use_file_backend` themselves.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .tables import atomic_path

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "svg.hashsalt": "dlndyn",
}

PANEL_SIZE = (3.1, 2.6)  # inches per panel


def use_file_backend() -> None:
    """Select the non-interactive Agg backend (for jobs that only write files)."""
    import matplotlib

    matplotlib.use("Agg")


def style():
    """Context manager applying the house style."""
    return plt.rc_context(STYLE)


def colors(n: int, cmap: str = "viridis"):
    """``n`` colours spread over a colormap (its bright end left out, for contrast on white)."""
    m = plt.get_cmap(cmap)
    return [m(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def panel_grid(n: int, layout=None, *, projections=None, size=PANEL_SIZE):
    """A figure with ``n`` panels on a ``(rows, cols)`` layout (default one row).

    ``projections``: one entry per panel, None or "3d". Returns (figure, list of n axes).
    Raises ValueError when the layout has fewer cells than panels.
    """
    rows, cols = layout or (1, n)
    if rows * cols < n:
        raise ValueError(f"layout={[rows, cols]!r} has {rows * cols} cells for {n} panels")
    projections = list(projections or [None] * n)
    fig = plt.figure(figsize=(size[0] * cols, size[1] * rows))
    axes = [fig.add_subplot(rows, cols, i + 1, projection=projections[i]) for i in range(n)]
    return fig, axes


def save_figure(fig, paths) -> None:
    """Save ``fig`` to every path (format from the suffix), each written atomically."""
    for out in paths:
        fmt = Path(out).suffix.lstrip(".")
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=fmt,
                        metadata={"CreationDate": None} if fmt == "pdf" else None)
