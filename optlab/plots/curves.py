"""Loss vs step (log scale), and sweep curves."""
from __future__ import annotations

import numpy as np

from .style import color_for, figure


def loss_figure(runs, title, f_min=None, max_paths=50):
    """``runs``: list of (label, Result). Plots f - f* when the minimum is known."""
    fig, ax = figure(figsize=(6.4, 4.2))
    draw_losses(ax, runs, f_min, max_paths)
    ax.set_title(title)
    return fig


def draw_lr(ax, runs, max_paths=50, colors=None, ylabel="learning rate"):
    """``runs``: list of (label, Result) with a scheduler. On ``ax``: the lr in effect at every
    recorded step (``res.lr``, the one that step's update uses), as steps, log scale when it
    spans more than a decade (a zero lr, cosine's last step, left out there), one line per
    distinct schedule (at most ``max_paths`` a run). ``colors``: label -> color (default: the
    optimizer's color); the lr_schedules study colors by schedule."""
    span = []
    for label, res in runs:
        if res.lr is None:
            continue
        color = (colors or {}).get(label) or color_for(label)
        lr = np.asarray(res.lr, dtype=float)
        _, first = np.unique(lr, axis=0, return_index=True)
        for k, i in enumerate(sorted(first)[:max_paths]):
            ax.plot(res.steps, lr[i], color=color, lw=1.4, alpha=0.85, label=label if k == 0 else None,
                    drawstyle="steps-post")
        pos = lr[np.isfinite(lr) & (lr > 0)]
        span += [pos.min(), pos.max()] if pos.size else []
    if span and max(span) > 10 * min(span):
        ax.set_yscale("log")
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            line.set_ydata(np.where(y > 0, y, np.nan))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if ax.get_lines():
        ax.legend(loc="best")
    return ax


GAP_FLOOR = 1e-16
"""Where a gap to the minimum of 0 (or a rounding error below it) is drawn on a log scale."""


def draw_losses(ax, runs, f_min=None, max_paths=50):
    """``runs``: list of (label, Result). On ``ax``: f - f* (f when the minimum is unknown) vs step, log
    scale (a gap of 0 drawn at GAP_FLOOR; symlog for f itself when some values are not positive), an x
    where a run diverged, and a legend."""
    positive = True
    for label, res in runs:
        y = res.loss - (f_min if f_min is not None else 0.0)
        positive &= bool(np.all(y[np.isfinite(y)] > 0))
    # a gap to a known minimum on a log scale with a floor: a symlog scale drew everything below its
    # linear threshold (1e-6) as 0, hiding how far Adam or L-BFGS went below the tolerance
    floor = None if positive or f_min is None else GAP_FLOOR
    for label, res in runs:
        color = color_for(label)
        y = res.loss - (f_min if f_min is not None else 0.0)
        if floor is not None:
            y = np.where(np.isfinite(y), np.maximum(y, floor), y)
        for i in range(min(res.n_traj, max_paths)):
            ax.plot(res.steps, y[i], color=color, lw=1.2, alpha=0.8, label=label if i == 0 else None)
            if res.diverged_step[i] >= 0:
                ok = np.isfinite(y[i])
                if ok.any():
                    k = np.flatnonzero(ok)[-1]
                    ax.plot(res.steps[k], y[i, k], "x", color=color, ms=7, mew=2)
    if positive or floor is not None:
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=1e-6)
    ax.set_xlabel("step")
    ax.set_ylabel(("f(x) - f*" + ("" if floor is None else f" (log; below {floor:g} drawn at {floor:g})"))
                  if f_min is not None else "f(x)")
    ax.legend(loc="best")
    return ax
