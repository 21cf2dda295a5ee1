"""Small multiples: one contour panel per run, the same landscape and color scale in each."""
from __future__ import annotations

import numpy as np
from matplotlib import patheffects
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm

from .landscape import grid_values, stationary_points
from .style import MARKERS, color_for, figure

OUTLINE = [patheffects.Stroke(linewidth=3.0, foreground="white", alpha=0.8), patheffects.Normal()]


def log_background(ax, spec, box, options=None, n=160, contour_lines=12):
    """The landscape as an image (log color of f - f*, or of f - min f on the grid) with a few
    contour lines: much cheaper to draw than a filled contour, for animations and many panels.
    Returns (image, colorbar label)."""
    options = options or {}
    X, Y, Z = grid_values(spec, box, n, **options)
    f_min = spec.min_value(2, **options)
    zmin = min(np.nanmin(Z), f_min) if f_min is not None else np.nanmin(Z)
    S = Z - zmin
    pos = S[np.isfinite(S) & (S > 0)]
    lo = max(np.percentile(pos, 0.5), pos.max() * 1e-9) if pos.size else 1e-12
    hi = pos.max() if pos.size else 1.0
    im = ax.imshow(np.clip(S, lo, None), origin="lower", extent=(box[0, 0], box[0, 1], box[1, 0], box[1, 1]),
                   norm=LogNorm(lo, hi), cmap=plt.get_cmap("viridis", 24), alpha=0.9, aspect="auto",
                   interpolation="nearest")
    if contour_lines and pos.size:
        ax.contour(X, Y, np.clip(S, lo, None), levels=np.geomspace(lo, hi, contour_lines), colors="k",
                   linewidths=0.3, alpha=0.35)
    ax.set_xlim(box[0])
    ax.set_ylim(box[1])
    ax.grid(False)
    label = "f − f* (log)" if f_min is not None and zmin == f_min else f"f − ({zmin:.3g}) (log)"
    return im, label


def contour_panels(spec, runs, title, bounds=None, options=None, ncols=6, notes=None, n=160):
    """``runs``: list of (label, Result); the first trajectory of each is drawn in its own panel,
    with the start (dot), the end (square; a cross if it diverged) and the known minima (stars).
    ``notes``: optional list of one-line strings printed under each panel's title."""
    options = options or {}
    box = spec.bounds(2) if bounds is None else np.asarray(bounds, dtype=float)
    k = len(runs)
    ncols = min(ncols, k)
    nrows = -(-k // ncols)
    fig, axes = figure(nrows, ncols, figsize=(2.55 * ncols, 2.75 * nrows + 0.6), squeeze=False,
                       sharex=True, sharey=True)
    minima = [p for p in stationary_points(spec, box) if p.kind == "minimum"]
    im, zlabel = None, ""
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.axis("off")
            continue
        label, res = runs[i]
        im, zlabel = log_background(ax, spec, box, options, n, contour_lines=10)
        color = color_for(label)
        path = res.x[0]
        ok = np.isfinite(path).all(axis=1)
        p = path[ok]
        ax.plot(p[:, 0], p[:, 1], "-", color=color, lw=1.5, path_effects=OUTLINE)
        ax.plot(p[0, 0], p[0, 1], "o", color=color, ms=5, mec="k", mew=0.6, zorder=5)
        ax.plot(p[-1, 0], p[-1, 1], "x" if not ok.all() else "s", color=color, ms=6, mec="k", mew=0.8, zorder=5)
        for m in minima:
            marker, size, face = MARKERS["minimum"]
            ax.scatter([m.x[0]], [m.x[1]], marker=marker, s=size * 0.6, c=face, edgecolors="k", lw=0.6, zorder=6)
        ax.set_xlim(box[0])
        ax.set_ylim(box[1])
        sub = f"\n{notes[i]}" if notes else ""
        ax.set_title(f"{label}{sub}", fontsize=7.5)
        for spine in ax.spines.values():  # the optimizer's color as the frame: pale colors stay readable
            spine.set_edgecolor(color)
            spine.set_linewidth(2.2)
        if i % ncols == 0:
            ax.set_ylabel("$x_2$")
        if i + ncols >= k:
            ax.set_xlabel("$x_1$")
            ax.tick_params(labelbottom=True)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    if im is not None:
        cax = fig.add_axes([0.945, 0.15, 0.012, 0.7])
        cb = fig.colorbar(im, cax=cax)
        cb.set_label(zlabel)
    return fig
