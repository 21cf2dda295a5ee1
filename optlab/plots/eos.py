"""The edge of stability: sharpness against the step with each learning rate's threshold, loss below."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.lines import Line2D

from .style import figure

THRESHOLD_LS = (0, (5, 2))


def lr_colors(n: int) -> list:
    """One color per learning rate of a panel, light to dark in the order given (small to large lr)."""
    cmap = colormaps["plasma"]
    return [cmap(v) for v in np.linspace(0.08, 0.78, max(n, 1))][:n]


def eos_figure(panels, title):
    """Two rows (sharpness with the thresholds; loss, log scale) by one column per panel.

    ``panels``: dicts with ``title``, ``ylabel`` (what the sharpness is: the
    Hessian's largest eigenvalue, or Adam's preconditioned one), optional
    ``xlog`` / ``ylog`` (step + 1 on a log axis, for a fast start; log sharpness axis when the
    thresholds span a wide range) and ``runs``: dicts with ``label`` (the lr),
    ``steps`` (records,), ``sharpness`` and ``loss`` (records,), ``threshold``
    and ``threshold_label`` (drawn as a dashed line in the run's color) and
    ``cross`` (record index of the first crossing, or None; a dot on both
    curves).
    """
    n = len(panels)
    fig, axes = figure(2, n, figsize=(4.6 * n, 7.4), sharex="col", squeeze=False)
    for col, panel in enumerate(panels):
        ax_s, ax_l = axes[0, col], axes[1, col]
        colors = lr_colors(len(panel["runs"]))
        for run, color in zip(panel["runs"], colors):
            steps = np.asarray(run["steps"], dtype=float)
            x = steps + 1.0 if panel.get("xlog") else steps
            s = np.asarray(run["sharpness"], dtype=float)
            loss = np.asarray(run["loss"], dtype=float)
            ax_s.plot(x, s, color=color, lw=0.9, alpha=0.9, label=run["label"])
            ax_s.axhline(run["threshold"], color=color, ls=THRESHOLD_LS, lw=1.4, alpha=0.95)
            ax_s.text(1.0, run["threshold"], f" {run['threshold_label']}", transform=ax_s.get_yaxis_transform(),
                      color=color, fontsize=7.5, va="center", ha="left", clip_on=False)
            ax_l.plot(x, np.maximum(loss, 1e-300), color=color, lw=1.0)
            k = run.get("cross")
            if k is not None:
                ax_s.plot([x[k]], [s[k]], "o", color=color, ms=5.5, mec="k", mew=0.7, zorder=5)
                ax_l.plot([x[k]], [loss[k]], "o", color=color, ms=5.5, mec="k", mew=0.7, zorder=5)
        if panel.get("xlog"):
            ax_s.set_xscale("log")
        if panel.get("ylog"):
            ax_s.set_yscale("log")
        tops = [r["threshold"] for r in panel["runs"]]
        if tops and not panel.get("ylog"):
            # room for the overshoot above the threshold (the minimalist example's sharpness reaches
            # 12-18 over thresholds of 5-8: a top of 1.35 x 8 cut it), at most 3x the largest threshold
            peaks = [np.nanmax(np.where(np.isfinite(r["sharpness"]), r["sharpness"], np.nan))
                     for r in panel["runs"] if np.isfinite(np.asarray(r["sharpness"], dtype=float)).any()]
            top = max([1.35 * max(tops)] + [1.05 * v for v in peaks])
            ax_s.set_ylim(0.0, min(top, 3.0 * max(tops)))
        elif tops:
            ax_s.set_ylim(min(tops) / 30.0, 3.0 * max(tops))
        ax_l.set_yscale("log")
        ax_s.set_title(panel["title"], fontsize=9.5)
        ax_s.set_ylabel(panel.get("ylabel", "sharpness (largest Hessian eigenvalue)"))
        ax_l.set_ylabel("training loss (log)")
        ax_l.set_xlabel("step + 1 (log scale)" if panel.get("xlog") else "step")
        ax_s.legend(loc="lower right", fontsize=7.5, title="learning rate", title_fontsize=7.5)
    handles = [Line2D([], [], color="0.3", ls=THRESHOLD_LS, lw=1.4, label="stability threshold of that lr (theory)"),
               Line2D([], [], color="0.3", marker="o", ls="none", mec="k", ms=6,
                      label="first record at or above the threshold: the late phase starts")]
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.045, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=8.5)
    return fig
