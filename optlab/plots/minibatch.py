"""Full batch vs minibatches: paths on the loss contour, loss per epoch and per gradient evaluation."""
from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, LogLocator

from .landscape import contour
from .style import MARKERS, color_for, figure
from .traces import LINESTYLES

OUTLINE = [patheffects.Stroke(linewidth=2.6, foreground="white", alpha=0.7), patheffects.Normal()]


def minibatch_figure(spec, options, runs, theta_star, title):
    """``runs``: dicts with ``label``, ``method``, ``style``, ``x`` (records, 2), ``gap`` (f - f*),
    ``epoch`` and ``evals`` per record."""
    fig, axes = figure(1, 3, figsize=(17.5, 5.4), gridspec_kw=dict(width_ratios=[1.2, 1, 1]))
    ax_c, ax_e, ax_g = axes
    pts = np.vstack([r["x"][np.isfinite(r["x"]).all(axis=1)] for r in runs] + [theta_star[None, :]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo) + 0.2
    box = np.array([[lo[0] - pad[0], hi[0] + pad[0]], [lo[1] - pad[1], hi[1] + pad[1]]])
    cs, zlabel = contour(ax_c, spec, box, options, n=200)
    cb = fig.colorbar(cs, ax=ax_c, fraction=0.046, pad=0.03)
    if "log" in zlabel:
        cb.locator = LogLocator()
        cb.formatter = LogFormatterSciNotation()
        cb.update_ticks()
    cb.set_label(zlabel)
    for r in runs:
        c, ls = color_for(r["method"]), LINESTYLES.get(r["style"], r["style"])
        p = r["x"][np.isfinite(r["x"]).all(axis=1)]
        lw = 0.5 if len(p) > 20000 else 1.5
        ax_c.plot(p[:, 0], p[:, 1], linestyle=ls, color=c, lw=lw, alpha=0.9 if lw > 1 else 0.5,
                  path_effects=OUTLINE if lw > 1 else None, zorder=3 if lw > 1 else 2)
        ax_c.plot(p[-1, 0], p[-1, 1], "s", color=c, ms=5, mec="k", mew=0.6, zorder=5)
        y = np.maximum(r["gap"], 1e-16)
        per_epoch = int(round(1.0 / max(r["epoch"][1] - r["epoch"][0], 1e-12))) if len(y) > 1 else 1
        if per_epoch > 1:  # noisy runs: raw values faint, the mean over each epoch bold
            ax_e.plot(r["epoch"], y, linestyle="-", color=c, lw=0.4, alpha=0.25)
            ax_g.plot(np.maximum(r["evals"], 1), y, linestyle="-", color=c, lw=0.4, alpha=0.25)
            k = (len(y) - 1) // per_epoch
            mean = y[1:1 + k * per_epoch].reshape(k, per_epoch).mean(axis=1)
            ep = r["epoch"][per_epoch:1 + k * per_epoch:per_epoch]
            ev = r["evals"][per_epoch:1 + k * per_epoch:per_epoch]
            ax_e.plot(np.concatenate([[0], ep]), np.concatenate([[y[0]], mean]), linestyle=ls, color=c, lw=1.8)
            ax_g.plot(np.concatenate([[1], ev]), np.concatenate([[y[0]], mean]), linestyle=ls, color=c, lw=1.8)
        else:
            ax_e.plot(r["epoch"], y, linestyle=ls, color=c, lw=1.8)
            ax_g.plot(np.maximum(r["evals"], 1), y, linestyle=ls, color=c, lw=1.8)
    ax_c.plot(*runs[0]["x"][0], "o", color="white", ms=7, mec="k", zorder=6)
    marker, size, face = MARKERS["minimum"]
    ax_c.scatter([theta_star[0]], [theta_star[1]], marker=marker, s=size, c=face, edgecolors="k", zorder=7)
    ax_c.set_xlabel("w (slope)")
    ax_c.set_ylabel("b (intercept)")
    ax_c.set_title("paths on the full-data loss; ★ numpy.linalg.lstsq, ○ start, □ end", fontsize=9.5)
    for ax, xl in ((ax_e, "epoch (n per-sample gradient evaluations)"),
                   (ax_g, "per-sample gradient evaluations (log scale)")):
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("full-data loss − least-squares loss (log)")
    ax_g.set_xscale("log")
    ax_e.set_title("loss vs epoch (bold: mean over each epoch; faint: every step)", fontsize=9.5)
    ax_g.set_title("loss vs gradient evaluations: SGD is ahead early, then stalls in its noise", fontsize=9.5)
    handles = [Line2D([], [], color=color_for(r["method"]), linestyle=LINESTYLES.get(r["style"], r["style"]),
                      lw=1.8, label=r["label"]) for r in runs]
    fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9)
    return fig
