"""Measured linear rates against condition number, and measured stability edges against momentum."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from .style import color_for, figure

EDGE_MARKERS = ("o", "s", "^", "D", "v")


def _theory_rate(method, kappa):
    s = np.sqrt(kappa)
    return (kappa - 1) / (kappa + 1) if method == "gd" else (s - 1) / (s + 1)


def rates_figure(rate_rows, edge_rows, arrays, momenta, tail):
    """Three panels: (a) rate vs kappa, theory curves and measured points (heavy ball's plain
    log fit hollow); (b) distance to x* against t for the kappa nearest 100, with the predicted
    r^t (GD) and t r^t (heavy ball) through the first tail record; (c) edges in units of 1/L vs
    beta, theory curves and measured points (one marker per kappa)."""
    fig, (ax_r, ax_d, ax_e) = figure(1, 3, figsize=(16.5, 5.0))
    kappas = np.array(sorted({r["kappa"] for r in rate_rows}))
    kk = np.geomspace(max(1.2, kappas.min() / 1.6), kappas.max() * 1.6, 300)
    labels = {"gd": "GD, lr = 2/(L+μ): (κ−1)/(κ+1)",
              "momentum": "heavy ball at Polyak's (lr*, β*): (√κ−1)/(√κ+1)"}
    for method in ("gd", "momentum"):
        color = color_for(method)
        ax_r.plot(kk, _theory_rate(method, kk), "-", color=color, lw=1.6, label=labels[method])
        rows = [r for r in rate_rows if r["method"] == method]
        ax_r.plot([r["kappa"] for r in rows], [r["measured"] for r in rows], "o", color=color, ms=7, mec="k",
                  mew=0.7, zorder=5)
        if method == "momentum":
            ax_r.plot([r["kappa"] for r in rows], [r["plain_fit"] for r in rows], "o", mfc="none", mec=color,
                      ms=11, mew=1.3, zorder=4,
                      label="heavy ball, plain fit of log‖x−x*‖ (biased by the t·rᵗ term)")
    ax_r.plot([], [], "o", color="0.5", mec="k", mew=0.7, label="measured (fit over the tail)")
    ax_r.set_xscale("log")
    ax_r.set_xlabel("condition number κ = L/μ (log scale)")
    ax_r.set_ylabel("linear rate r: ‖x_t − x*‖ ~ rᵗ")
    ax_r.set_title("(a) asymptotic rate: measured vs theory", fontsize=10)
    ax_r.legend(loc="lower right", fontsize=7.5)

    show = min(kappas, key=lambda k: abs(np.log(k / 100.0)))
    hi, lo = tail
    t_max = 0
    for method in ("gd", "momentum"):
        row = next(r for r in rate_rows if r["method"] == method and r["kappa"] == show)
        t = np.asarray(arrays[f"{row['arrays']}__t"], dtype=float)
        d = np.asarray(arrays[f"{row['arrays']}__dist"], dtype=float)
        rel = d / d[0]
        keep = rel >= lo * 1e-3
        color = color_for(method)
        ax_d.plot(t[keep], rel[keep], "-", color=color, lw=1.6, label=f"{'GD' if method == 'gd' else 'heavy ball'}"
                      f" (measured r = {row['measured']:.5f})")
        if row["fit_from"] is not None:
            t0 = row["fit_from"]
            i0 = int(np.searchsorted(t, t0))
            tt = np.linspace(t0, t[keep][-1], 200)
            r = row["predicted"]
            scale = (tt / t0) if method == "momentum" else 1.0
            ax_d.plot(tt, rel[i0] * scale * r ** (tt - t0), "--", color="k", lw=0.9)
        t_max = max(t_max, t[keep][-1])
    ax_d.set_yscale("log")
    ax_d.axhspan(lo, hi, color="0.85", alpha=0.5, lw=0, label=f"fit window [{lo:g}, {hi:g}]")
    ax_d.plot([], [], "--", color="k", lw=0.9,
              label="theory through the window's start: rᵗ (GD), t·rᵗ (heavy ball)")
    ax_d.set_xlabel("step t")
    ax_d.set_ylabel("‖x_t − x*‖ / ‖x_0 − x*‖ (log)")
    ax_d.set_title(f"(b) distance to the minimum, κ = {show:g}", fontsize=10)
    ax_d.legend(loc="upper right", fontsize=7.5)

    bb = np.linspace(0.0, 0.999, 300)
    ax_e.plot(bb, 2 * (1 + bb), "-", color=color_for("momentum"), lw=1.6, label="heavy ball: 2(1+β)")
    ax_e.plot(bb, (2 + 2 * bb) / (1 + 2 * bb), "-", color=color_for("nesterov"), lw=1.6,
              label="Nesterov (torch): (2+2β)/(1+2β)")
    ax_e.plot([0.0], [2.0], "*", color=color_for("gd"), ms=11, mec="k", mew=0.6, zorder=3, label="GD: 2")
    edge_kappas = sorted({r["kappa"] for r in edge_rows})
    for i, kappa in enumerate(edge_kappas):
        mk = EDGE_MARKERS[i % len(EDGE_MARKERS)]
        for r in (r for r in edge_rows if r["kappa"] == kappa):
            ax_e.plot([r["momentum"]], [r["measured"]], mk, mfc="none", mec=color_for(r["method"]), ms=8 + 3 * i,
                      mew=1.3, zorder=5)
    handles, labs = ax_e.get_legend_handles_labels()
    for i, kappa in enumerate(edge_kappas):
        handles.append(Line2D([], [], marker=EDGE_MARKERS[i % len(EDGE_MARKERS)], ls="none", mfc="none", mec="0.3",
                              ms=8 + 3 * i, mew=1.3))
        labs.append(f"measured edge, κ = {kappa:g}")
    ax_e.legend(handles, labs, loc="upper left", fontsize=7.5)
    ax_e.set_xlabel("momentum β")
    ax_e.set_ylabel("largest stable lr, in units of 1/L")
    ax_e.set_title("(c) stability edges: measured on a log grid of lr vs theory", fontsize=10)
    fig.suptitle("convergence_rates: torch SGD (GD, heavy ball, Nesterov) on 2-D quadratics, measured against the "
                 "formulas", fontsize=11)
    fig.tight_layout()
    return fig
