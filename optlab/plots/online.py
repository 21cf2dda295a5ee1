"""Adam and AMSGrad on an online problem on [-1, 1]: where x goes, why, and what it costs."""
from __future__ import annotations

import numpy as np

from .style import figure

COLORS = {"adam": "#ff7f0e", "amsgrad": "#1f77b4"}
START_STYLES = ("-", "--", ":", "-.")


def online_figure(theory, det, sto, arrays, params):
    """Six panels: (a) x_t of the deterministic runs from every start; (b) the stochastic runs, mean
    over draws and the 10-90% band; (c) the average regret R_t/t of the deterministic runs with the
    value of sitting at the predicted end; (d) the displacement over one steady-state period in
    units of lr, the mechanism; (e) the lr alpha/sqrt(t) the runs used, against the formula;
    (f) the final x of every stochastic draw.

    ``theory[key]``: ``label``, ``u``, ``S``, ``end``, ``regret``; ``det[key]``: ``t``, ``x``
    (starts, records), ``regret``; ``sto[key]``: ``t``, ``x`` (draws, records), ``final``,
    ``walk_prediction``."""
    fig, axes = figure(2, 3, figsize=(17.0, 9.5))
    (ax_d, ax_s, ax_r), (ax_m, ax_l, ax_h) = axes
    alpha = params["alpha"]
    for key, th in theory.items():
        col = COLORS[key]
        d = det[key]
        t = np.maximum(d["t"], 1)
        for i, x0 in enumerate(params["x0"]):
            ax_d.semilogx(t, d["x"][i], START_STYLES[i % len(START_STYLES)], color=col, lw=1.3,
                          label=f"{th['label']} from x0 = {x0:g}")
        s = sto[key]
        ts = np.maximum(s["t"], 1)
        mean = s["x"].mean(axis=0)
        lo, hi = np.percentile(s["x"], [10, 90], axis=0)
        ax_s.semilogx(ts, mean, "-", color=col, lw=1.6, label=f"{th['label']}: mean of {s['x'].shape[0]} draws")
        ax_s.fill_between(ts, lo, hi, color=col, alpha=0.18, lw=0, label=f"{th['label']}: 10–90% of draws")
        ax_s.plot([ts[-1]], [s["walk_prediction"]], "D", color=col, mec="k", ms=7, zorder=5,
                  label=f"{th['label']}: reflected-walk value {s['walk_prediction']:.3f}")
        r = det[key]["regret"]
        ax_r.loglog(t, r[0], "-", color=col, lw=1.4, label=f"{th['label']} (x0 = {params['x0'][0]:g})")
        if th["regret"] > 0:
            ax_r.axhline(th["regret"], color=col, ls="--", lw=1.0,
                         label=f"t → ∞: sitting at x = {th['end']:+g}, {th['regret']:.4f}")
        disp = -np.concatenate([[0.0], np.cumsum(th["u"])])
        ax_m.plot(np.arange(len(disp)), disp, "-", color=col, lw=1.6,
                  label=f"{th['label']}: one period moves x by −S = {-th['S']:+.4f} lr")
    for ax in (ax_d, ax_s):
        for v in (-1.0, 1.0):
            ax.axhline(v, color="0.3", ls=":", lw=0.9)
        ax.set_ylim(-1.08, 1.08)
        ax.set_xlabel("step t")
        ax.set_ylabel("x_t")
    ax_d.set_title(f"(a) online: f_t = {params['C']:g}x at t mod {params['period']} = 1, else −{params['D']:g}x;"
                   f" α/√t, α = {alpha:g}", fontsize=10)
    # the three starts of each optimizer meet at -1 within a few steps (the projection): said, so the
    # legend's six entries over two visible curves do not puzzle
    ax_d.legend(loc="center right", fontsize=7, title="the starts meet at step 5, and agree after", title_fontsize=7)
    ax_s.set_title(f"(b) stochastic: {params['C']:g}x with probability {params['probability']:g}, else "
                   f"−{params['D']:g}x", fontsize=10)
    ax_s.legend(loc="lower left", fontsize=7)
    ax_r.set_xlabel("step t")
    ax_r.set_ylabel("average regret R_t / t (log)")
    ax_r.set_ylim(1e-2, 20.0)
    ax_r.set_title("(c) online: Adam's average regret stays at that of the worst point", fontsize=10)
    ax_r.legend(loc="lower left", fontsize=7)
    ax_m.axhline(0.0, color="0.3", lw=0.8)
    ax_m.set_xlabel("steps after the large gradient (steady state)")
    ax_m.set_ylabel("displacement of x in units of lr")
    ax_m.set_title("(d) why: the large gradient is divided by a large √v and forgotten", fontsize=10)
    ax_m.legend(loc="lower right", fontsize=7.5)
    if "det__lr" in arrays:
        tl = np.asarray(arrays["det__lr_t"]) + 1
        ax_l.loglog(tl, arrays["det__lr"], ".", color="0.2", ms=3, label="lr of step t (the engine's LambdaLR)")
        ax_l.loglog(tl, alpha / np.sqrt(tl), "-", color="#d62728", lw=1.0, alpha=0.7, label="α/√t")
    ax_l.set_xlabel("step t (1 = the first step)")
    ax_l.set_ylabel("learning rate")
    ax_l.set_title("(e) the step size: LambdaLR, lr_lambda = 1/(epoch + 1)^0.5", fontsize=10)
    ax_l.legend(loc="lower left", fontsize=7.5)
    bins = np.linspace(-1.0, 1.0, 41)
    for key, th in theory.items():
        ax_h.hist(np.asarray(sto[key]["final"]), bins=bins, color=COLORS[key], alpha=0.6,
                  label=f"{th['label']}: mean {np.mean(sto[key]['final']):.3f}")
    ax_h.set_xlabel("final x of each stochastic draw")
    ax_h.set_ylabel("draws")
    ax_h.set_title("(f) stochastic: where every draw ends", fontsize=10)
    ax_h.legend(loc="upper center", fontsize=7.5)
    fig.suptitle("Reddi, Kale & Kumar (ICLR 2018), Sec. 5: torch's Adam (β = (0.9, 0.99)) ends at the worst point, "
                 "AMSGrad at the optimum x = −1", fontsize=12)
    fig.subplots_adjust(left=0.05, right=0.985, bottom=0.06, top=0.91, wspace=0.22, hspace=0.3)
    return fig
