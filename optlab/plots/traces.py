"""A quantity against the step (or epoch, or gradient evaluations), one line per run,
plus bar charts of per-run event times (escape step, steps to tolerance)."""
from __future__ import annotations

import numpy as np

from .style import color_for

LINESTYLES = {"solid": "-", "dashed": "--", "dotted": ":", "dashdot": "-."}


def trace(ax, x, y, label, method, style="solid", marker_at=None, lw=1.5):
    """One line in the method's color; ``marker_at`` (an index) gets a dot (e.g. the escape step)."""
    color = color_for(method)
    ls = LINESTYLES.get(style, style)
    ax.plot(x, y, ls, color=color, lw=lw, label=label)
    if marker_at is not None and 0 <= marker_at < len(x) and np.isfinite(y[marker_at]):
        ax.plot([x[marker_at]], [y[marker_at]], "o", color=color, ms=6, mec="k", mew=0.7, zorder=5)


def event_bars(ax, labels, methods, values, styles=None, never_label="never", xlabel="step"):
    """Horizontal bars, one per run; ``None`` values are drawn as a hatched 'never' bar at the axis end."""
    vals = [np.nan if v is None else float(v) for v in values]
    finite = [v for v in vals if np.isfinite(v)]
    end = (max(finite) if finite else 1.0) * 1.25
    y = np.arange(len(labels))[::-1]
    for yi, lab, m, v, st in zip(y, labels, methods, vals, styles or ["solid"] * len(labels)):
        color = color_for(m)
        hatch = {"dashed": "//", "dotted": "..", "dashdot": "x"}.get(st)
        if np.isfinite(v):
            ax.barh(yi, v, color=color, alpha=0.85, edgecolor="k", lw=0.6, hatch=hatch)
            ax.text(v, yi, f" {v:.0f}", va="center", fontsize=7.5)
        else:
            ax.barh(yi, end, color="white", edgecolor=color, lw=1.0, hatch="xx", alpha=0.9)
            ax.text(end * 0.5, yi, never_label, va="center", ha="center", fontsize=7.5,
                    bbox=dict(fc="white", ec="none", pad=0.5))
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7.5)
    ax.set_xlim(0, end * 1.08)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
