"""A one-dimensional function, a method's limit cycle on it, and x_t of several methods."""
from __future__ import annotations

import numpy as np

from .style import color_for, figure

FLOOR = 1e-20
CYCLE_COLOR = "#d62728"


def _color(run) -> str:
    """Heavy ball, GD (two steps: the second brown; a darker blue was hard to tell from the first
    on a projector) and Nesterov keep distinct colors."""
    if run["method"] == "gd" and "2/(L+μ)" in run["label"]:
        return "#8c564b"
    return color_for(run["method"])


def cycle_figure(spec, runs, cycle, params, scan, n_first):
    """Four panels: (a) f with its pieces, the predicted cycle's points (in iteration order) and the
    start; (b) x_t against t over the first steps from the main start; (c) |x_t - x*| against t (log);
    (d) over the scanned starts, the largest |x| of the last three iterates of each method.

    ``runs``: dicts with ``label``, ``method`` and ``x`` (n_starts, n_records), start 0 the main
    one, the scanned starts last (from index ``n_first``). ``cycle``: ``points`` in iteration order
    and ``pattern``."""
    fig, axes = figure(2, 2, figsize=(13.0, 9.0))
    (ax_f, ax_x), (ax_l, ax_s) = axes
    box = spec.bounds(1)[0]
    xs = np.linspace(box[0], box[1], 801)
    ax_f.plot(xs, spec.value(xs[:, None]), "-", color="0.2", lw=1.6, label="f")
    ax_f.axvspan(1.0, 2.0, color="0.85", alpha=0.6, lw=0, label="piece 1 ≤ x < 2: curvature μ (elsewhere L)")
    for k in (1.0, 2.0):
        ax_f.axvline(k, color="0.4", ls=":", lw=1.0)
    pts = np.asarray(cycle["points"], dtype=float)
    fp = spec.value(pts[:, None])
    for i in range(len(pts)):
        j = (i + 1) % len(pts)
        ax_f.annotate("", xy=(pts[j], fp[j]), xytext=(pts[i], fp[i]),
                      arrowprops=dict(arrowstyle="->", color=CYCLE_COLOR, lw=1.2, connectionstyle="arc3,rad=0.25"))
    ax_f.plot(pts, fp, "o", color=CYCLE_COLOR, ms=9, mec="k", mew=0.8, zorder=5,
              label="heavy ball's period-3 cycle: " + ", ".join(f"{v:.4f}" for v in pts))
    x0 = params["x0"]
    ax_f.plot([x0], [spec.value(np.array([[x0]]))[0]], "s", color="gold", ms=8, mec="k", zorder=6,
              label=f"start x0 = {x0:g}")
    ax_f.set_xlabel("x")
    ax_f.set_ylabel("f(x)")
    ax_f.set_title("(a) the function (μ = 1, L = 25) and the cycle, in iteration order", fontsize=10)
    ax_f.legend(loc="upper center", fontsize=7.5)

    t_show = 45
    for r in runs:
        x = np.asarray(r["x"][0], dtype=float)
        ax_x.plot(np.arange(min(t_show, len(x))), x[:t_show], ".-", color=_color(r), lw=1.2, ms=4, label=r["label"])
        ax_l.semilogy(np.arange(len(x)), np.maximum(np.abs(x), FLOOR), "-", color=_color(r), lw=1.3, label=r["label"])
    for v in pts:
        ax_x.axhline(v, color=CYCLE_COLOR, ls=":", lw=1.0)
    ax_x.plot([], [], ":", color=CYCLE_COLOR, lw=1.0, label="the predicted cycle's points")
    ax_x.set_xlabel("step t")
    ax_x.set_ylabel("x_t")
    ax_x.set_title(f"(b) x_t from x0 = {x0:g}, first {t_show} steps", fontsize=10)
    # the legend below the axes: inside it covered the cycle's low points at -1.8, and room made
    # for it stretched the axis to -7 with no data below -3.2
    ax_x.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7.5, frameon=False)
    ax_l.set_xlabel("step t")
    ax_l.set_ylabel(f"|x_t − x*| (log; floor {FLOOR:g})")
    ax_l.set_title("(c) distance to the minimum x* = 0 (GD at α = 1/L and Nesterov hit 0 exactly)", fontsize=10)
    ax_l.set_ylim(FLOOR / 10, 30)
    ax_l.legend(loc="center right", fontsize=7.5)

    lo_iv, hi_iv = params["start_interval"]
    ax_s.axvspan(lo_iv, hi_iv, color="#ffe8a8", alpha=0.7, lw=0, label=f"the paper's interval [{lo_iv:g}, {hi_iv:g}]")
    for r in runs:
        x = np.asarray(r["x"][n_first:], dtype=float)
        amp = np.max(np.abs(x[:, -3:]), axis=1)
        ax_s.semilogy(scan, np.maximum(amp, 1e-16), ".-", color=_color(r), lw=1.0, ms=3, label=r["label"])
    ax_s.axhline(np.max(np.abs(pts)), color=CYCLE_COLOR, ls=":", lw=1.0, label="the cycle's largest |x|")
    ax_s.set_xlabel("start x0")
    ax_s.set_ylabel("max |x| over the last three iterates (log; floor 1e-16)")
    ax_s.set_title("(d) which starts cycle: heavy ball ends on the cycle or at 0; GD and Nesterov always at 0",
                   fontsize=9.5)
    ax_s.legend(loc="center right", fontsize=7.5)
    fig.suptitle("heavy_ball_cycle: Lessard, Recht & Packard (2016), Sec. 4.6 — heavy ball tuned for quadratics "
                 "does not converge on a strongly convex function", fontsize=11)
    fig.tight_layout()
    return fig
