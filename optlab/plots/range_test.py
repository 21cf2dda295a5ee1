"""The LR range test next to the fixed-lr sweep: the rules' picks against the best lr and the edge."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D

from .style import figure

RULE_COLORS = {"minimum": "#2ca02c", "steep": "#9467bd", "valley": "#d62728"}
RULE_MARKERS = {"minimum": "o", "steep": "s", "valley": "^"}
FLOOR = 1e-16     # gaps are drawn between FLOOR g0 and CEILING g0 (a blown-up run at the ceiling)
CEILING = 1e6


def _gap(v, g0):
    v = np.asarray(v, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(v), np.clip(v, FLOOR * g0, CEILING * g0), CEILING * g0)


def range_test_figure(cases, rules, params, cols: int = 2):
    """Per case (objective and start) two panels side by side: (left) f - f* along the range test
    against its lr, the rules' picks, 2/L and the first increase; (right) f - f* after the budget
    for every fixed lr of the sweep, the best lr, the edge and the rules' picks at their own
    final gap. ``cases``: the study's case dicts (``range_lrs``, ``range_losses``, ``f_ref``,
    ``sweep_lrs``, ``sweep_final``, ``picks``, ``pick_final``, ``best_lr``, ``edge``,
    ``two_over_L``, ``first_increase_lr``, ``where``)."""
    n = len(cases)
    rows = (n + cols - 1) // cols
    fig, axes = figure(rows, 2 * cols, figsize=(5.0 * 2 * cols, 3.3 * rows + 1.2), squeeze=False)
    for i, c in enumerate(cases):
        ax_r, ax_s = axes[i // cols, 2 * (i % cols)], axes[i // cols, 2 * (i % cols) + 1]
        lrs = np.asarray(c["range_lrs"], dtype=float)
        gap = np.asarray(c["range_losses"], dtype=float) - c["f_ref"]
        g0 = float(gap[0]) if np.isfinite(gap[0]) and gap[0] > 0 else 1.0
        ax_r.loglog(lrs, _gap(gap, g0), "-", color="0.15", lw=1.3)
        n_stop = c["stopped_at"]
        if n_stop < len(lrs):
            ax_r.axvline(lrs[n_stop - 1], color="0.5", ls=":", lw=1.0)
        sw_lrs = np.asarray(c["sweep_lrs"], dtype=float)
        ax_s.loglog(sw_lrs, _gap(c["sweep_final"], g0), ".-", color="0.15", lw=1.0, ms=3)
        for ax in (ax_r, ax_s):
            if c["two_over_L"] is not None:
                ax.axvline(c["two_over_L"], color="#1f77b4", ls="--", lw=1.1)
            if math.isfinite(c["edge"]):
                ax.axvline(c["edge"], color="k", ls=(0, (6, 2, 1, 2)), lw=1.1)
            ax.axvline(c["best_lr"], color="#ff7f0e", ls="-", lw=1.1, alpha=0.8)
        if c["first_increase_lr"] is not None:
            k = int(np.argmin(np.abs(lrs - c["first_increase_lr"])))
            ax_r.plot([lrs[k]], [_gap(gap[k:k + 1], g0)[0]], "*", color="gold", mec="k", ms=11, zorder=6)
        for r in rules:
            lr = c["picks"][r]
            k = int(np.argmin(np.abs(np.log(lrs) - math.log(lr))))
            ax_r.plot([lr], [_gap(gap[k:k + 1], g0)[0]], RULE_MARKERS[r], color=RULE_COLORS[r], mec="k", ms=7,
                      zorder=5)
            ax_s.plot([lr], [_gap([c["pick_final"][r]], g0)[0]], RULE_MARKERS[r], color=RULE_COLORS[r], mec="k", ms=7,
                      zorder=5)
        ax_r.set_title(f"{c['where'][:46]}\nrange test: f − f* at each step", fontsize=8.5)
        ax_s.set_title(f"fixed lr, {c.get('steps', params['steps']):,} steps: f − f* at the end", fontsize=8.5)
        ax_r.set_ylabel("f − f*" + (" (f* = 0: a bound)" if c["f_ref"] == 0 and c["L"] is None else ""), fontsize=8)
        for ax in (ax_r, ax_s):
            ax.set_xlim(params["start_lr"], params["end_lr"])
            ax.set_ylim(FLOOR * g0 / 3, CEILING * g0 * 3)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("learning rate", fontsize=8)
    for j in range(n, rows * cols):
        axes[j // cols, 2 * (j % cols)].set_visible(False)
        axes[j // cols, 2 * (j % cols) + 1].set_visible(False)
    handles = [Line2D([], [], marker=RULE_MARKERS[r], color=RULE_COLORS[r], mec="k", ls="", ms=7,
                      label=f"fastai '{r}'" + (" (lr at the lowest loss / 10)" if r == "minimum" else ""))
               for r in rules]
    handles += [Line2D([], [], marker="*", color="gold", mec="k", ls="", ms=11, label="first loss increase"),
                Line2D([], [], color="#1f77b4", ls="--", label="2/L (L: largest Hessian eigenvalue at x*)"),
                Line2D([], [], color="#ff7f0e", label="best fixed lr (sweep)"),
                Line2D([], [], color="k", ls=(0, (6, 2, 1, 2)), label="edge: the sweep's first failing lr"),
                Line2D([], [], color="0.5", ls=":", label=f"range test stopped (loss > {params['stop_div']:g}× best)")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8.5, frameon=False)
    fig.suptitle(f"LR range test (GD, lr ×{(params['end_lr'] / params['start_lr']) ** (1 / params['num_it']):.4f} per "
                 f"step, {params['num_it']} steps) and fastai's rules, against a sweep of fixed lrs", fontsize=12)
    fig.subplots_adjust(left=0.04, right=0.99, top=1 - 1.5 / (3.3 * rows + 1.2), bottom=0.9 / (3.3 * rows + 1.2),
                        hspace=0.55, wspace=0.28)
    return fig
