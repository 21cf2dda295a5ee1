"""Contour of a 2-D objective with trajectories and its stationary points marked."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import LogFormatterSciNotation, LogLocator

from .style import MARKERS, color_for, figure


def grid_values(spec, bounds, n=300, **options):
    xs = np.linspace(bounds[0, 0], bounds[0, 1], n)
    ys = np.linspace(bounds[1, 0], bounds[1, 1], n)
    X, Y = np.meshgrid(xs, ys)
    Z = spec.value(np.stack([X, Y], axis=-1), **options)
    return X, Y, Z


def stationary_points(spec, bounds=None):
    """Stationary points to mark: the registry's list, else the global minima."""
    pts = list(getattr(spec, "stationary_points", ()) or ())
    if not pts:
        pts = [type("P", (), dict(x=x, value=v, kind="minimum"))() for x, v in spec.global_minima(2)]
    if bounds is not None:
        pts = [p for p in pts if bounds[0, 0] <= p.x[0] <= bounds[0, 1] and bounds[1, 0] <= p.x[1] <= bounds[1, 1]]
    return pts


def contour(ax, spec, bounds=None, options=None, n=300, levels=30):
    """Filled log-scaled contour of the objective on ``ax``; returns the mappable."""
    options = options or {}
    bounds = spec.bounds(2) if bounds is None else np.asarray(bounds, dtype=float)
    X, Y, Z = grid_values(spec, bounds, n, **options)
    f_min = spec.min_value(2, **options)
    zmin = min(np.nanmin(Z), f_min) if f_min is not None else np.nanmin(Z)
    shifted = Z - zmin
    finite = shifted[np.isfinite(shifted) & (shifted > 0)]
    if finite.size and finite.max() / max(np.percentile(finite, 1), 1e-300) > 100:
        lo = max(np.percentile(finite, 0.5), finite.max() * 1e-9)
        lv = np.geomspace(lo, finite.max(), levels)
        cs = ax.contourf(X, Y, np.clip(shifted, lo, None), levels=lv, norm=LogNorm(), cmap="viridis", alpha=0.9)
        label = "f - f*  (log scale)" if f_min is not None and zmin == f_min else f"f - ({zmin:.3g})  (log scale)"
    else:
        cs = ax.contourf(X, Y, Z, levels=levels, cmap="viridis", alpha=0.9)
        label = "f"
    ax.contour(X, Y, Z, levels=cs.levels if label == "f" else levels, colors="k", linewidths=0.3, alpha=0.35)
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    ax.grid(False)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return cs, label


def mark_points(ax, spec, bounds=None):
    seen = set()
    for p in stationary_points(spec, bounds):
        marker, size, face = MARKERS.get(p.kind, ("o", 60, "white"))
        lab = {"minimum": "minimum", "saddle": "saddle", "maximum": "maximum"}.get(p.kind, p.kind)
        ax.scatter([p.x[0]], [p.x[1]], marker=marker, s=size, c=face, edgecolors="k", linewidths=0.8,
                   zorder=9, label=lab if lab not in seen else None)
        seen.add(lab)


LINESTYLES = ("-", "--", "-.", ":")


def draw_paths(ax, x, label, color, max_paths=50, order=0):
    """Trajectories x (n, records, 2): lines, start dots, end squares (crosses where diverged).

    ``order`` is the run's position in the figure: earlier runs are drawn
    wider and lower, later ones narrower and dashed on top, so paths that
    share a valley stay visible.
    """
    lw = max(1.0, 3.4 - 0.9 * order)
    for i in range(min(len(x), max_paths)):
        path = x[i]
        ok = np.isfinite(path).all(axis=1)
        path = path[ok]
        if len(path) == 0:
            continue
        # a light halo under every run's lines (a blue path on the dark valley floor of a log-scaled
        # landscape was invisible), below all of them, so that no run's halo hides another's line
        ax.plot(path[:, 0], path[:, 1], "-", color="white", lw=lw + 2.0, alpha=0.7, zorder=1.5,
                solid_capstyle="round", gid="halo")
        ax.plot(path[:, 0], path[:, 1], LINESTYLES[order % len(LINESTYLES)], color=color, lw=lw, alpha=0.95,
                zorder=2 + order, label=label if i == 0 else None, solid_capstyle="round")
        ax.plot(path[0, 0], path[0, 1], "o", color=color, ms=5, mec="k", mew=0.6, zorder=6)
        ax.plot(path[-1, 0], path[-1, 1], "X" if len(path) < x.shape[1] else "s", color=color, ms=7,
                mec="k", mew=0.8, zorder=7)


def draw_runs(ax, spec, runs, bounds=None, options=None, max_paths=50, colorbar=True, legend=True):
    """``runs``: list of (label, Result). On ``ax``: the contour, every run's trajectories in its color,
    the stationary points marked; a colorbar and a legend below the axes. Returns the contour's mappable."""
    cs, zlabel = contour(ax, spec, bounds, options)
    if colorbar:
        cb = ax.figure.colorbar(cs, ax=ax)
        if "log" in zlabel:
            cb.locator = LogLocator()
            cb.formatter = LogFormatterSciNotation()
            cb.update_ticks()
        cb.set_label(zlabel)
    for k, (label, res) in enumerate(runs):
        draw_paths(ax, res.x, label, color_for(label), max_paths, order=k)
    mark_points(ax, spec, np.asarray(ax.get_xlim() + ax.get_ylim()).reshape(2, 2))
    ax.set_xlim(cs.axes.get_xlim())
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(3, len(labels)),
                  frameon=False)
    return cs


def contour_figure(spec, runs, title, bounds=None, options=None, max_paths=50):
    """``runs``: list of (label, Result). One figure, all trajectories on one contour."""
    fig, ax = figure(figsize=(6.4, 5.2))
    draw_runs(ax, spec, runs, bounds, options, max_paths)
    ax.set_title(title)
    return fig
