"""Learning-rate sweeps: final loss and steps to tolerance against lr, bounds overlaid."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from .style import color_for, figure

LINESTYLES = ("-", "--", ":", "-.")


def lr_sweep_figure(panels, title, ylabel_loss="f - f* after the last step", floor=1e-16):
    """Two rows (final gap, steps to tolerance) by one column per panel.

    ``panels``: list of dicts with ``title``, ``lrs`` (n,), ``curves`` and
    ``bounds``. A curve is a dict with ``label``, ``method`` (its color key),
    ``final`` (n,) gap, ``steps_to_tol`` (n,) with -1 for "never",
    ``diverged`` (n,) bool and an optional ``style`` index (line style, one
    per start point, named by ``start_labels`` of the panel). A bound is
    ``(lr, label, method)``, drawn as a dashed vertical line in the method's
    color; ``measured`` lists ``(lr, label, method)`` drawn as triangles above
    the top panel. Gaps below ``floor`` are drawn at the floor. One legend for
    the whole figure sits below the panels, so no data is hidden.
    """
    n = len(panels)
    fig, axes = figure(2, n, figsize=(4.4 * n, 6.9), sharex="col", squeeze=False)
    methods = {}
    bound_ls = (0, (6, 2, 1, 2))
    for col, panel in enumerate(panels):
        styles = {}
        ax_f, ax_t = axes[0, col], axes[1, col]
        lrs = np.asarray(panel["lrs"], dtype=float)
        vals = [np.asarray(c["final"], dtype=float)[~np.asarray(c["diverged"], dtype=bool)] for c in panel["curves"]]
        vals = np.concatenate(vals) if vals else np.array([1.0])
        vals = vals[np.isfinite(vals)]
        top = float(vals.max()) if vals.size and vals.max() > floor else 1.0
        ceiling = top * 30
        for c in panel["curves"]:
            color = color_for(c["method"])
            ls = LINESTYLES[c.get("style", 0) % len(LINESTYLES)]
            methods.setdefault(c["method"], c.get("method_label", c["method"]))
            if "start_label" in c:
                styles.setdefault(c.get("style", 0), c["start_label"])
            fin = np.asarray(c["final"], dtype=float)
            div = np.asarray(c["diverged"], dtype=bool)
            with np.errstate(invalid="ignore"):
                y = np.where(div | ~np.isfinite(fin), np.nan, np.maximum(fin, floor))
            ax_f.plot(lrs, y, ls, color=color, lw=1.4)
            if div.any():
                ax_f.plot(lrs[div], np.full(div.sum(), ceiling), "x", color=color, ms=3.5, mew=0.9, alpha=0.7)
            st = np.asarray(c["steps_to_tol"], dtype=float)
            st = np.where((st >= 0) & ~div, np.maximum(st, 1), np.nan)
            ax_t.plot(lrs, st, ls, color=color, lw=1.3)
        for lr, _label, method in panel.get("bounds", ()):
            for ax in (ax_f, ax_t):
                ax.axvline(lr, color=color_for(method), ls=bound_ls, lw=1.3, alpha=0.95)
        for lr, _label, method in panel.get("measured", ()):
            ax_f.plot([lr], [ceiling * 4], "v", color=color_for(method), ms=8, mec="k", mew=0.7,
                      clip_on=False, zorder=6)
        if len(styles) > 1:
            ax_t.legend(handles=[Line2D([], [], color="0.3", ls=LINESTYLES[k % len(LINESTYLES)], lw=1.4, label=lab)
                                 for k, lab in sorted(styles.items())], loc="lower left", fontsize=7.5)
        ax_f.set_xscale("log")
        ax_f.set_yscale("log")
        ax_f.set_ylim(floor / 5, ceiling * 8)
        ax_t.set_yscale("log")
        ax_t.set_xlabel("learning rate (log scale)")
        ax_f.set_title(panel["title"], fontsize=9.5)
        if col == 0:
            ax_f.set_ylabel(f"{ylabel_loss}\n(× = diverged; floor {floor:g})")
            ax_t.set_ylabel("steps to tolerance\n(no line: never reached)")
    handles = [Line2D([], [], color=color_for(m), lw=2, label=lab) for m, lab in methods.items()]
    handles += [Line2D([], [], color="0.3", ls=bound_ls, lw=1.3, label="stability bound (theory)"),
                Line2D([], [], color="0.3", marker="v", ls="none", mec="k", ms=8, label="measured edge"),
                Line2D([], [], color="0.3", marker="x", ls="none", ms=5, label="diverged run")]
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), frameon=False, fontsize=8.5)
    return fig
