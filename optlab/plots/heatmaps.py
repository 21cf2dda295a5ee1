"""Hyperparameter heatmaps: a metric over a 2-D grid, log color, failed cells masked."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.patches import Patch

from .style import figure

NOT_REACHED, DIVERGED = "#d0d0d0", "#3b3b3b"


def edges(values, log=False):
    """Cell edges around grid values (geometric midpoints on a log axis)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    if log:
        lv = np.log(v)
        mid = 0.5 * (lv[1:] + lv[:-1])
        return np.exp(np.concatenate([[lv[0] - (mid[0] - lv[0])], mid, [lv[-1] + (lv[-1] - mid[-1])]]))
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def heatmap(ax, x, y, values, diverged=None, xlog=False, ylog=False, cmap="viridis_r", vmin=None, vmax=None):
    """Draw ``values`` (len(y), len(x)) with a log color scale; NaN cells are 'not reached' (light
    gray), ``diverged`` cells dark gray. Returns the mappable for a colorbar."""
    vals = np.asarray(values, dtype=float)
    div = np.zeros_like(vals, dtype=bool) if diverged is None else np.asarray(diverged, dtype=bool)
    xe, ye = edges(x, xlog), edges(y, ylog)
    status = np.where(div, 2.0, np.where(np.isfinite(vals) & (vals > 0), np.nan, 1.0))
    ax.pcolormesh(xe, ye, np.ma.masked_invalid(status), cmap=ListedColormap([NOT_REACHED, DIVERGED]),
                  vmin=0.5, vmax=2.5, shading="flat")
    good = np.where(div | ~(np.isfinite(vals) & (vals > 0)), np.nan, vals)
    finite = good[np.isfinite(good)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 1.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 10.0)
    if hi <= lo:
        hi = lo * 10
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(good), cmap=cmap, norm=LogNorm(lo, hi), shading="flat")
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.grid(False)
    return mesh


def mask_handles(not_reached="not reached within the step budget", diverged="diverged"):
    return [Patch(fc=NOT_REACHED, ec="k", lw=0.5, label=not_reached),
            Patch(fc=DIVERGED, ec="k", lw=0.5, label=diverged)]


def heatmap_figure(n_panels, width=5.4, height=4.6):
    return figure(1, n_panels, figsize=(width * n_panels, height), squeeze=False)
