"""Basins of attraction: a grid of start points colored by where each run ended."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from matplotlib.lines import Line2D

from .landscape import grid_values
from .style import MARKERS, color_for, figure

# colors of the minima (qualitative, none of them gray or black)
MINIMUM_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                  "#9c755f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                  "#bcbd22", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
                  "#dbdb8d", "#9edae5"]
OTHER, RUNNING, DIVERGED = "#6f6f6f", "#d9d9d9", "#000000"


PASTELS = ["#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#c7c7e2",
           "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1", "#d9f0a3"]
GLOBAL_COLOR = "#d62728"


def category_colors(n_minima, global_index=(), many=8):
    """Colors for labels 0..n-1 (minima), n (other stationary point), n+1 (not converged), n+2 (diverged).

    Up to ``many`` minima each get a strong color; with more, the global
    minima get a strong red and the local ones pastel shades.
    """
    if n_minima <= many:
        mins = [MINIMUM_COLORS[i % len(MINIMUM_COLORS)] for i in range(n_minima)]
    else:
        mins = [GLOBAL_COLOR if i in global_index else PASTELS[i % len(PASTELS)] for i in range(n_minima)]
    return mins + [OTHER, RUNNING, DIVERGED]


def contour_lines(spec, options, box, n=160):
    """(X, Y, Z - min Z, levels): the thin contour lines drawn over basin maps."""
    X, Y, Z = grid_values(spec, box, n, **options)
    zs = Z - np.nanmin(Z)
    levels = np.unique(np.quantile(zs[np.isfinite(zs)], np.linspace(0.02, 0.98, 14)))
    return X, Y, zs, levels


def basin_panel(ax, spec, options, box, labels, minima, global_index=(), max_legend=8, lines=None):
    """On ``ax``: ``labels`` (ny, nx) categories over ``box`` (see :func:`category_colors`), the
    objective's contour lines on top, thin, and the minima marked (global ones as gold stars). Returns
    the image."""
    k = len(minima)
    cmap = ListedColormap(category_colors(k, global_index, max_legend))
    X, Y, zs, levels = contour_lines(spec, options, box) if lines is None else lines
    im = ax.imshow(labels, origin="lower", extent=(box[0, 0], box[0, 1], box[1, 0], box[1, 1]),
                   cmap=cmap, vmin=-0.5, vmax=k + 2.5, interpolation="nearest", aspect="auto")
    if levels.size > 1:
        ax.contour(X, Y, zs, levels=levels, colors="k", linewidths=0.35, alpha=0.45)
    for i, (x, _v) in enumerate(minima):
        is_global = i in global_index
        marker, size, face = MARKERS["minimum"] if is_global else ("o", 28, "white")
        ax.scatter([x[0]], [x[1]], marker=marker, s=size, c=face, edgecolors="k", linewidths=0.8, zorder=5)
    ax.set_xlim(box[0])
    ax.set_ylim(box[1])
    ax.set_xlabel("$x_1$ of the start")
    ax.set_ylabel("$x_2$ of the start")
    ax.grid(False)
    return im


def basin_handles(minima, global_index=(), max_legend=8) -> list:
    """Legend entries of a basin map: each minimum's color (or global/pastel), the other categories and
    the markers."""
    k = len(minima)
    cols = category_colors(k, global_index, max_legend)
    handles = []
    if k <= max_legend:
        for i, (x, v) in enumerate(minima):
            tag = " (global)" if i in global_index else ""
            handles.append(Patch(fc=cols[i], ec="k", lw=0.5, label=f"→ ({x[0]:.3g}, {x[1]:.3g}), f={0.0 if abs(v) < 1e-12 else v:.4g}{tag}"))
    else:
        handles.append(Patch(fc=GLOBAL_COLOR, ec="k", lw=0.5, label="→ global minimum"))
        handles.append(Patch(fc=PASTELS[1], ec="k", lw=0.5,
                             label=f"pastel: → one of the other {k - len(global_index)} (local) minima"))
    handles += [Patch(fc=OTHER, ec="k", lw=0.5, label="→ another stationary point"),
                Patch(fc=RUNNING, ec="k", lw=0.5, label="not converged"),
                Patch(fc=DIVERGED, ec="k", lw=0.5, label="diverged"),
                Line2D([], [], marker=MARKERS["minimum"][0], color="gold", mec="k", ls="none", ms=11,
                       label="global minimum"),
                Line2D([], [], marker="o", color="white", mec="k", ls="none", ms=6, label="local minimum")]
    return handles


def basin_figure(spec, options, box, panels, minima, title, global_index=(), max_legend=8):
    """One panel per optimizer; ``panels``: dicts with ``label``, ``method``, ``labels`` (ny, nx) int
    categories and ``shares`` (dict). ``minima``: list of (x, value). The objective's contour lines are
    drawn on top, thin, so the basins stay readable."""
    n = len(panels)
    fig, axes = figure(1, n, figsize=(4.5 * n, 5.0), squeeze=False)
    lines = contour_lines(spec, options, box)
    for ax, pn in zip(axes[0], panels):
        basin_panel(ax, spec, options, box, pn["labels"], minima, global_index, max_legend, lines)
        share = pn["shares"].get("global", 0.0)
        # black: the optimizers' colours are the basins' colours here, and would name a basin
        ax.set_title(f"{pn['label']}\n{100 * share:.1f}% of starts reach a global minimum", fontsize=9)
    handles = basin_handles(minima, global_index, max_legend)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1 if len(handles) > 6 else 0.07, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False, fontsize=8)
    return fig


def share_figure(rows, title):
    """Grouped bars: share of starts reaching a global minimum, per objective and optimizer.
    ``rows``: list of (objective label, [(optimizer label, method, share), ...])."""
    fig, ax = figure(figsize=(6.8, 3.8))
    n_obj = len(rows)
    width = 0.8 / max(len(r[1]) for r in rows)
    seen = set()
    for i, (obj, bars) in enumerate(rows):
        for j, (lab, method, share) in enumerate(bars):
            x = i - 0.4 + width * (j + 0.5)
            ax.bar(x, 100 * share, width * 0.92, color=color_for(method), edgecolor="k", lw=0.5,
                   label=lab.split(" ")[0] if method not in seen else None)
            ax.text(x, 100 * share + 1, f"{100 * share:.0f}", ha="center", va="bottom", fontsize=7)
            seen.add(method)
    ax.set_xticks(range(n_obj))
    ax.set_xticklabels([r[0] for r in rows])
    ax.set_ylim(0, 112)
    ax.set_ylabel("% of starts reaching a global minimum")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(seen), frameon=False)
    return fig
