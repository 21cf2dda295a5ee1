r"""momentum: the (lr, momentum) plane of heavy-ball SGD.

torch.optim.SGD with momentum :math:`\beta` (dampening 0) keeps
:math:`b_{t+1} = \beta b_t + g_t` and steps :math:`x_{t+1} = x_t - \eta b_{t+1}`;
the velocity is *not* scaled by lr. Eliminating b gives Polyak's heavy ball
with step :math:`\alpha = \eta`:

.. math::  x_{t+1} = x_t - \eta \nabla f(x_t) + \beta (x_t - x_{t-1}).

On a quadratic each eigen-direction (curvature :math:`\lambda`) evolves by
the roots of :math:`z^2 - (1 + \beta - \eta\lambda) z + \beta = 0`:

* stable iff :math:`0 \le \beta < 1` and :math:`0 < \eta\lambda < 2(1 + \beta)`;
  with L the largest curvature, the boundary is :math:`\eta = 2(1+\beta)/L`.
* when the roots are complex their modulus is :math:`\sqrt\beta`, whatever
  :math:`\eta\lambda`. Putting both the smallest (:math:`\mu`) and the largest
  (L) curvature on the edge of the complex region,
  :math:`(1-\sqrt\beta)^2 = \eta\mu` and :math:`(1+\sqrt\beta)^2 = \eta L`, gives

  .. math::  \sqrt{\beta^*} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}, \qquad
             \eta^* = \frac{(1+\sqrt{\beta^*})^2}{L} = \frac{4}{(\sqrt L + \sqrt\mu)^2},

  with rate :math:`\sqrt{\beta^*}` per step against GD's best
  :math:`(\kappa-1)/(\kappa+1)` -- :math:`\sqrt\kappa` instead of
  :math:`\kappa` steps per e-fold.

References: B. T. Polyak, "Some methods of speeding up the convergence of
iteration methods", USSR Comp. Math. & Math. Phys. 4 (1964); G. Goh, "Why
Momentum Really Works", Distill (2017), whose parameterisation
(:math:`z \leftarrow \beta z + \nabla f`, :math:`w \leftarrow w - \alpha z`) is torch's.

The study runs the whole (lr, beta) grid in one engine call per objective
and draws steps-to-tolerance with a log color scale; diverged and
not-reached cells are masked. Curvatures come from the Hessian at the
minimum. On Rosenbrock the same formulas use the Hessian at the minimum
(a local statement; the path sees larger curvature).

Theory table (:mod:`optlab.theory`), on objectives with one Hessian
everywhere (quadratics), where the theory is exact:

* the convergence rate of the run at (beta*, lr*), fitted over the second
  half of its distance to x*, is :math:`\sqrt{\beta^*}` (2%; the double root
  adds a factor t, about ``2**(2/steps)`` over that window);
* Polyak's optimum is the fastest: one more engine call runs the whole grid
  for ``RATE_STEPS`` steps and measures each cell's rate from the envelope of
  its distance to x*; no cell beats :math:`\sqrt{\beta^*}` (1% slack for the
  envelope), and the fastest cell lies within two grid cells of (beta*, lr*).
  Steps to a finite tolerance are *not* the claim: at the optimum the double
  root costs a factor t, so the fastest cell in steps sits at a larger beta;
* per beta row, the first diverged cell against :math:`2(1+\beta)/L`, within
  one lr grid step.
"""
from __future__ import annotations

import numpy as np

from .. import sweep
from ..errors import OptlabError
from ..plots import save
from ..theory import Claim, table as theory_table
from ..plots.heatmaps import heatmap, heatmap_figure, mask_handles
from ..plots.style import MARKERS
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, constant_hessian, curvature_at_minimum, engine_options, in_grid,
                       log_grid_step, objective_entries, plot_options, positive_int, save_arrays, sgd_like,
                       study_params)

NAME = "momentum"

DEFAULTS = dict(
    objectives=[
        {"name": "quadratic", "cond": 100.0, "x0": [1.0, 1.0], "steps": 3000},
        {"name": "rosenbrock", "x0": [-1.2, 1.0], "steps": 20000},
    ],
    n_lr=64,
    lr_span=[0.005, 3.0],      # grid from lr_span[0] * 2/L to lr_span[1] * 2/L (log)
    momenta=[0.0, 0.99, 45],   # linspace(start, stop, num) of beta
    tol=1e-6,
)
QUICK = dict(n_lr=24, momenta=[0.0, 0.95, 12], objectives=[
    {"name": "quadratic", "cond": 100.0, "x0": [1.0, 1.0], "steps": 1500},
])
RATE_STEPS = 400   # steps of the run of the whole grid that measures each cell's rate
SOURCE = "Polyak (1964); Goh, Why Momentum Really Works (2017)"


def polyak_optimum(L, mu):
    """(beta*, lr*, rate) of heavy-ball on a quadratic with curvatures in [mu, L], torch's parameterisation."""
    kappa = L / mu
    sb = (np.sqrt(kappa) - 1.0) / (np.sqrt(kappa) + 1.0)
    return float(sb * sb), float((1.0 + sb) ** 2 / L), float(sb)


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["momentum"], extra=("x0", "steps"))


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """Steps to tolerance over (lr, momentum), stability boundary and Polyak's optimum overlaid."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=("x0", "steps"))
    n_lr = positive_int("n_lr", p["n_lr"], minimum=2)
    span = as_float_list("lr_span", p["lr_span"], minimum=0.0)
    if len(span) != 2 or not 0 < span[0] < span[1]:
        raise OptlabError(f"Invalid study.lr_span: {p['lr_span']!r} (must be [lo, hi], 0 < lo < hi, in units of 2/L)")
    mom = as_float_list("momenta", p["momenta"], minimum=0.0)
    if len(mom) != 3 or not mom[1] < 1.0 or int(mom[2]) < 2:
        raise OptlabError(f"Invalid study.momenta: {p['momenta']!r} (must be [start, stop, num] with stop < 1)")
    betas = np.linspace(mom[0], mom[1], int(mom[2]))
    tol = float(p["tol"])
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    curv = [curvature_at_minimum(e) for e in entries]
    for e, (_, L, mu) in zip(entries, curv):
        if not mu > 0:
            raise OptlabError(f"Study '{NAME}' needs a minimum with positive curvature (mu > 0) for Polyak's optimum; "
                              f"'{e.label}' has Hessian eigenvalues down to {mu:.3g} there. Use quadratic, rosenbrock, "
                              "beale, booth, ...")

    fig, axes = heatmap_figure(len(entries), width=6.4, height=4.8)
    rows, arrays, claims = [], {}, []
    for ax, e, (x_star, L, mu) in zip(axes[0], entries, curv):
        steps = positive_int("steps", e.extra.get("steps", 2000))
        x0 = np.asarray(e.extra.get("x0", x_star + 0.5), dtype=float).reshape(-1, e.dim)
        lrs = (2.0 / L) * np.geomspace(span[0], span[1], n_lr)
        opt, hyper = sgd_like("momentum", dampening=0.0)
        sw = sweep(opt, e.name, grid={"momentum": betas, "lr": lrs}, x0=x0[:1], steps=steps, record_every=steps,
                   tol=tol, objective_options=e.options, **hyper, **eng)
        f_min = e.f_min() or 0.0
        final = sw.grid("loss_final")[..., 0] - f_min
        start = sw.grid("loss")[..., 0, 0] - f_min
        with np.errstate(invalid="ignore"):
            diverged = (sw.grid("diverged_step")[..., 0] >= 0) | ~np.isfinite(final) | (final > start)
        tts = sw.grid("tol_step")[..., 0].astype(float)
        reached = (tts >= 0) & ~diverged
        value = np.where(reached, np.maximum(tts, 1), np.nan)
        mesh = heatmap(ax, lrs, betas, value, diverged=diverged, xlog=True)
        cb = fig.colorbar(mesh, ax=ax, pad=0.02)
        cb.set_label(f"steps to f − f* ≤ {tol:g} (log)")
        bb = np.linspace(betas[0], betas[-1], 200)
        ax.plot(2 * (1 + bb) / L, bb, color="white", lw=2.2, ls=(0, (5, 2)))
        ax.plot(2 * (1 + bb) / L, bb, color="k", lw=0.9, ls=(0, (5, 2)), label="stability bound lr = 2(1+β)/L")
        b_star, lr_star, rate = polyak_optimum(L, mu)
        marker, size, face = MARKERS["minimum"]
        ax.scatter([lr_star], [b_star], marker=marker, s=size * 1.2, c=face, edgecolors="k", zorder=6,
                   label=f"Polyak optimum β*={b_star:.3f}, lr*={lr_star:.3g}")
        if reached.any():
            i, j = np.unravel_index(np.nanargmin(value), value.shape)
            ax.scatter([lrs[j]], [betas[i]], marker="o", s=70, facecolors="none", edgecolors="red", lw=2,
                       zorder=6, label=f"fastest on the grid: {int(value[i, j])} steps (β={betas[i]:.2f}, lr={lrs[j]:.3g})")
            best = dict(steps=int(value[i, j]), momentum=float(betas[i]), lr=float(lrs[j]))
        else:
            best = None
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("momentum β")
        ax.set_title(f"{e.label}, start ({x0[0, 0]:g}, {x0[0, 1]:g}), {steps} steps\n"
                     f"L = {L:.5g}, μ = {mu:.4g} at x* (κ = {L / mu:.4g})", fontsize=9.5)
        handles, labels = ax.get_legend_handles_labels()
        masks = mask_handles(not_reached="not reached in the step budget")
        ax.legend(handles + masks, labels + [h.get_label() for h in masks], loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7.5, frameon=False)
        # theory vs measurement at the optimum: one more engine call of a single trajectory
        sw_star = sweep(opt, e.name, grid={"momentum": [b_star], "lr": [lr_star]}, x0=x0[:1], steps=steps,
                        record_every=1, tol=tol, objective_options=e.options, **hyper, **eng)
        t_star = int(sw_star.result.tol_step[0])
        rate_star = tail_rate(np.linalg.norm(sw_star.result.x[0] - x_star, axis=1))
        f0 = float(start.flat[0])
        predicted = float(np.log(max(f0, tol) / tol) / (-2.0 * np.log(rate))) if rate > 0 else None
        gd_best = (L - mu) / (L + mu)
        rows.append(dict(objective=e.label, L=L, mu=mu, kappa=L / mu, x0=x0[0].tolist(), steps=steps,
                         polyak_beta=b_star, polyak_lr=lr_star, polyak_rate=rate, gd_best_rate=gd_best,
                         steps_at_polyak=None if t_star < 0 else t_star,
                         steps_predicted_from_rate=predicted, fastest_on_grid=best,
                         rate_at_polyak=rate_star,
                         n_diverged=int(diverged.sum()), n_not_reached=int((~reached & ~diverged).sum()),
                         n_cells=int(diverged.size)))
        if constant_hessian(e, [x_star, *x0]):
            rates = grid_rates(opt, e, x_star, x0[:1], betas, lrs, hyper, eng)
            arrays[f"{e.slug}__rate"] = rates
            claims += quadratic_claims(e.label, L, betas, lrs, diverged, rates, rate_star, rows[-1])
        arrays[f"{e.slug}__steps_to_tol"] = np.where(reached, tts, -1)
        arrays[f"{e.slug}__diverged"] = diverged
        arrays[f"{e.slug}__lrs"] = lrs
        arrays[f"{e.slug}__momenta"] = betas
    fig.suptitle("Heavy-ball SGD (torch.optim.SGD, momentum β, dampening 0): steps to tolerance over (lr, β)",
                 fontsize=11)
    fig.tight_layout()
    figure_path = save(fig, out_dir / "momentum", fmt, dpi)
    save_arrays(out_dir / "momentum.npz", **arrays)
    theory = theory_table(claims)
    metrics = dict(study=NAME, tol=tol, objectives=rows, figures=[figure_path.name], theory=theory)
    return finish(out_dir, metrics, {"study": NAME, "title": "momentum: (lr, β) heatmap, stability bound and Polyak's optimum",
                                     "objectives": rows, "figures": [figure_path.name], "theory": theory,
                                     "table": _table(rows)})


def tail_rate(dist) -> float:
    """The per-step contraction of a distance sequence: ``exp`` of the least-squares slope of
    ``log dist`` over the second half of the records above the float64 floor (nan: too few)."""
    d = np.asarray(dist, dtype=float)
    bad = ~(np.isfinite(d) & (d > 1e-280))
    n = int(np.argmax(bad)) if bad.any() else d.size   # the records before the first one off the floor
    if n < 20:
        return float("nan")
    t = np.arange(n // 2, n)
    return float(np.exp(np.polyfit(t, np.log(d[t]), 1)[0]))


def envelope_rates(dist, window: int) -> np.ndarray:
    """Per-step rate of each distance sequence (rows of ``dist``, records 0..T) from the maxima
    of two windows of ``window`` records ending at T/2 and T: a rotating (complex-root) error
    passes near zero, its envelope does not."""
    d = np.where(np.isfinite(dist), dist, np.inf)
    T = d.shape[-1] - 1
    h = T // 2
    late = d[..., T - window:T + 1].max(axis=-1)
    early = d[..., h - window:h + 1].max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = (late / early) ** (1.0 / (T - h))
    return np.where(late == 0, 0.0, r)


def grid_rates(opt, e, x_star, x0, betas, lrs, hyper, eng) -> np.ndarray:
    """The measured rate of every (beta, lr) cell: one engine call of ``RATE_STEPS`` steps."""
    sw = sweep(opt, e.name, grid={"momentum": betas, "lr": lrs}, x0=x0, steps=RATE_STEPS, record_every=1,
               objective_options=e.options, **hyper, **eng)
    dist = np.linalg.norm(sw.result.x - x_star, axis=2).reshape(len(betas), len(lrs), -1)
    return envelope_rates(dist, RATE_STEPS // 10)


def quadratic_claims(label, L, betas, lrs, diverged, rates, rate_star, row) -> list:
    """The theory table of one quadratic: Polyak's rate and optimum, and the edge per beta row
    (the fastest-rate cell is also noted in ``row``, the objective's metrics row)."""
    b_star, lr_star, sb = row["polyak_beta"], row["polyak_lr"], row["polyak_rate"]
    out = [Claim(claim="the run at Polyak's (β*, lr*) converges at rate √β* per step",
                 formula="√β* = (√κ − 1)/(√κ + 1), fit over the run's second half", predicted=sb,
                 measured=rate_star, tolerance=0.02, kind="rel", source=SOURCE, where=label)]
    ok = np.isfinite(rates)
    if ok.any():
        r = np.where(ok, rates, np.inf)
        i, j = np.unravel_index(np.argmin(r), r.shape)
        row["fastest_rate_on_grid"] = dict(rate=float(r[i, j]), momentum=float(betas[i]), lr=float(lrs[j]))
        out.append(Claim(claim="no (β, lr) cell of the grid converges faster than √β*",
                         formula="min over the grid of the measured rate >= √β*", predicted=sb,
                         measured=float(r[i, j]), tolerance=0.01 * sb, kind="ge", source=SOURCE, where=label))
        if betas[0] <= b_star <= betas[-1] and in_grid(lrs, lr_star):
            db = float(betas[1] - betas[0])
            out.append(Claim(claim="the fastest-rate cell of the grid is at Polyak's β* (two cells)",
                             formula="β* = ((√κ − 1)/(√κ + 1))²", predicted=b_star, measured=float(betas[i]),
                             tolerance=2 * db, kind="abs", source=SOURCE, where=label))
            out.append(Claim(claim="the fastest-rate cell of the grid is at Polyak's lr* (two cells)",
                             formula="lr* = 4/(√L + √μ)²", predicted=lr_star, measured=float(lrs[j]),
                             tolerance=2 * log_grid_step(lrs, lr_star), kind="abs", source=SOURCE, where=label))
    for k, beta in enumerate(betas):
        bound = 2.0 * (1.0 + beta) / L
        if not in_grid(lrs, bound):
            continue
        out.append(Claim(claim=f"heavy-ball β={beta:.3g} diverges from lr = 2(1+β)/L on",
                         formula="2(1+β)/L", predicted=bound, measured=row_edge(lrs, diverged[k]),
                         tolerance=log_grid_step(lrs, bound), kind="abs", source=SOURCE, where=label))
    return out


def row_edge(lrs, diverged_row) -> float:
    """The geometric midpoint of the last cell before the first diverged one and that cell
    (nan when the row has no such pair)."""
    k = np.flatnonzero(np.asarray(diverged_row, dtype=bool))
    if k.size == 0 or k[0] == 0:
        return float("nan")
    return float(np.sqrt(lrs[k[0] - 1] * lrs[k[0]]))


def _table(rows) -> str:
    head = (f"{'objective':<18} {'κ':>8} {'β*':>6} {'lr*':>9} {'steps at (β*,lr*)':>17} {'rate-predicted':>14} "
            f"{'grid best':>9} {'at β':>5} {'lr':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        b = r["fastest_on_grid"] or {}
        st = "—" if r["steps_at_polyak"] is None else str(r["steps_at_polyak"])
        pr = "—" if r["steps_predicted_from_rate"] is None else f"{r['steps_predicted_from_rate']:.0f}"
        lines.append(f"{r['objective'][:18]:<18} {r['kappa']:>8.4g} {r['polyak_beta']:>6.3f} {r['polyak_lr']:>9.3g} "
                     f"{st:>17} {pr:>14} {b.get('steps', '—')!s:>9} {b.get('momentum', float('nan')):>5.2f} "
                     f"{b.get('lr', float('nan')):>9.3g}")
    return "\n".join(lines)
