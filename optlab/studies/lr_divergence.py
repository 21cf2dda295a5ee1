r"""lr_divergence: how large may the learning rate be?

On a quadratic :math:`f = \tfrac12 x^\top A x` gradient descent multiplies
the component along an eigenvector of A (eigenvalue :math:`\lambda`) by
:math:`1 - \eta\lambda` every step, so it converges iff
:math:`0 < \eta < 2/L` with L the largest eigenvalue. Heavy-ball momentum
(torch.optim.SGD with momentum :math:`\beta`, dampening 0) iterates
:math:`x_{t+1} = x_t - \eta g_t + \beta (x_t - x_{t-1})`, whose
characteristic polynomial :math:`z^2 - (1 + \beta - \eta\lambda) z + \beta`
has both roots inside the unit circle iff :math:`0 < \eta\lambda < 2(1+\beta)`
(Polyak 1964): the bound becomes :math:`2(1+\beta)/L`. On a smooth
non-convex function the same holds *near* a minimum, with L the largest
eigenvalue of the Hessian there.

The study computes L from the objective's Hessian at its minimum
(``spec.hess`` + ``np.linalg.eigvalsh``), runs GD and heavy-ball over a dense
log grid of learning rates (one engine call per method and objective, every
lr and start a trajectory), and measures the edge above the largest lr whose
run converges. On a quadratic a run converges when it reaches ``tol`` and
stays, or halves its gap to f* over the second half of the run (slow but
steady); it fails when it grows, or reached ``tol`` and left it again (GD on
Rosenbrock just above 2/L settles into an oscillation). Off a quadratic only
reaching ``tol`` and staying counts: a run that wanders chaotically can
halve its gap by chance. It reports the geometric midpoint between that lr
and the next, its relative distance to the bound, and the first failure
above the fastest lr (heavy-ball on Rosenbrock has a ragged zone below its
edge, where some lrs fail and their neighbours converge).

Theory table (:mod:`optlab.theory`): per objective, method and start, the
measured edge against the bound. On a quadratic (the same Hessian
everywhere) the bound is exact, and the claim is that the edge is within one
grid step of it (kind ``abs``: the two grid neighbours bracket the true
edge). Elsewhere the bound is local: a run can only converge to x* if x* is
linearly stable for the iteration, so it is a *necessary* condition, stated
as ``measured <= bound`` (kind ``le``, one grid step of slack); the path may
see larger curvature and fail earlier, as heavy-ball on Rosenbrock does.
"""
from __future__ import annotations

import numpy as np

from .. import sweep
from ..errors import OptlabError
from ..plots import save
from ..theory import Claim, table as theory_table
from ..plots.sweeps import lr_sweep_figure
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, constant_hessian, curvature_at_minimum, engine_options, in_grid,
                       log_grid_step, objective_entries, plot_options, positive_int, save_arrays, sgd_like,
                       study_params)

NAME = "lr_divergence"

DEFAULTS = dict(
    objectives=[
        {"name": "quadratic", "cond": 10.0, "x0": [[1.0, 1.0]], "steps": 2000},
        {"name": "quadratic", "cond": 100.0, "x0": [[1.0, 1.0]], "steps": 2000},
        {"name": "rosenbrock", "x0": [[1.2, 1.2], [-1.2, 1.0]], "steps": 20000},
    ],
    momentum=0.9,      # heavy-ball beta (torch SGD momentum, dampening 0)
    n_lr=1201,         # log-grid points; spacing (span in decades)/(n_lr - 1)
    lr_span=[1e-3, 3.0],  # grid from lr_span[0] * 2/L to lr_span[1] * 2/L
    tol=1e-6,          # converged: f - f* <= tol
)
QUICK = dict(n_lr=401, objectives=[
    {"name": "quadratic", "cond": 10.0, "x0": [[1.0, 1.0]], "steps": 1000},
    {"name": "rosenbrock", "x0": [[1.2, 1.2]], "steps": 6000},
])


def measure_edge(lrs, converged, steps_to_tol):
    """The measured stability edge on a sorted lr grid, or None.

    Above the largest lr whose run converges: the geometric midpoint between it and the next grid
    value, with the two grid values, and the first lr above the fastest-converging one whose run
    failed (the start of a ragged zone when it lies below the largest converging lr; else the
    next grid value). None when no lr converges or the largest grid lr does. (The first failure
    alone made heavy-ball's edge on Rosenbrock from (1.2, 1.2) 0.00281, 26% below the bound,
    where 34 of the next 35 grid lrs converged, up to 0.00363.)
    """
    conv = np.asarray(converged, dtype=bool)
    if not conv.any():
        return None
    last = int(np.flatnonzero(conv)[-1])
    if last == conv.size - 1:
        return None
    st = np.asarray(steps_to_tol, dtype=float)
    st = np.where(conv & (st >= 0), st, np.inf)
    best = int(np.argmin(st)) if np.isfinite(st).any() else int(np.flatnonzero(conv)[0])
    first_fail = best + int(np.flatnonzero(~conv[best:])[0])
    return (float(np.sqrt(lrs[last] * lrs[last + 1])), float(lrs[last]), float(lrs[last + 1]),
            float(lrs[first_fail]))


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["gd", "momentum"], extra=("x0", "steps"))


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """GD and heavy-ball over a log grid of learning rates; measured edges vs 2/L and 2(1+beta)/L."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=("x0", "steps"))
    beta = as_float_list("momentum", p["momentum"], minimum=0.0)[0]
    if not beta < 1.0:
        raise OptlabError(f"Invalid study.momentum: {beta} (must be in [0, 1))")
    n_lr = positive_int("n_lr", p["n_lr"], minimum=8)
    span = as_float_list("lr_span", p["lr_span"], minimum=0.0)
    if len(span) != 2 or not 0 < span[0] < span[1]:
        raise OptlabError(f"Invalid study.lr_span: {p['lr_span']!r} (must be [lo, hi] with 0 < lo < hi, "
                          "in units of 2/L)")
    tol = float(p["tol"])
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    # curvature first, for every objective: a bad one fails before any run
    curv = [curvature_at_minimum(e) for e in entries]

    panels, rows, arrays, claims = [], [], {}, []
    for e, (x_star, L, mu) in zip(entries, curv):
        x0 = np.asarray(e.extra.get("x0", [x_star + 0.5]), dtype=float).reshape(-1, e.dim)
        exact = constant_hessian(e, [x_star, *x0])
        steps = positive_int("steps", e.extra.get("steps", 2000))
        lrs = (2.0 / L) * np.geomspace(span[0], span[1], n_lr)
        bounds = {"gd": 2.0 / L, "momentum": 2.0 * (1.0 + beta) / L}
        curves, measured, row = [], [], dict(objective=e.label, L=L, mu=mu, x_star=x_star.tolist(),
                                           bound_gd=bounds["gd"], bound_heavy_ball=bounds["momentum"],
                                           lr_grid=[float(lrs[0]), float(lrs[-1]), n_lr], steps=steps, runs=[])
        for method, mom in (("gd", 0.0), ("momentum", beta)):
            opt, hyper = sgd_like(method, momentum=mom, dampening=0.0)
            sw = sweep(opt, e.name, grid={"lr": lrs}, x0=x0, steps=steps, record_every=steps // 2, tol=tol,
                       objective_options=e.options, **hyper, **eng)
            f_min = e.f_min() or 0.0
            final = sw.grid("loss_final") - f_min            # (n_lr, n_start)
            rec = sw.grid("loss") - f_min                    # records at 0, steps/2, steps
            blown = sw.grid("diverged_step") >= 0
            with np.errstate(invalid="ignore"):
                diverged = blown | ~np.isfinite(final) | (final > rec[..., 0])
                # still converging: at the tolerance, or the gap halved over the second half of the run
                progressing = (final <= tol) | (final <= 0.5 * rec[..., 1])
            tts = sw.grid("tol_step")                        # reached the tolerance and stayed
            # a run that reached the tolerance and ended above it again has left the minimum: unstable
            with np.errstate(invalid="ignore"):
                left = (sw.grid("best_loss") - f_min <= tol) & ~(final <= tol)
            conv = progressing & ~diverged & ~left
            if not exact:
                # off a quadratic a run that wanders chaotically can halve its gap by chance
                # (heavy-ball on Rosenbrock from (-1.2, 1) at lr 0.0042, 11% above the bound):
                # only reaching the tolerance and staying there counts as converging
                conv &= final <= tol
            reached = (tts >= 0) & conv
            arrays[f"{e.slug}__{method}__final"] = final
            arrays[f"{e.slug}__{method}__steps_to_tol"] = tts
            arrays[f"{e.slug}__{method}__diverged"] = diverged
            arrays[f"{e.slug}__lrs"] = lrs
            name = "GD" if method == "gd" else f"heavy-ball β={beta:g}"
            for s in range(x0.shape[0]):
                curves.append(dict(label=name, method=method, method_label=f"{name} ({opt})",
                                   start_label="start (" + ", ".join(f"{v:g}" for v in x0[s][:2]) + ")",
                                   final=final[:, s], steps_to_tol=tts[:, s], diverged=diverged[:, s], style=s))
                edge = measure_edge(lrs, conv[:, s], tts[:, s])
                bound = bounds[method]
                fastest = reached[:, s]
                run_row = dict(method=method, optimizer=opt, momentum=mom, x0=x0[s].tolist(),
                               bound=bound,
                               measured_edge=None if edge is None else edge[0],
                               last_converged_lr=None if edge is None else edge[1],
                               next_lr=None if edge is None else edge[2],
                               first_failed_lr=None if edge is None else edge[3],
                               relative_error=None if edge is None else (edge[0] - bound) / bound,
                               best_lr=float(lrs[np.argmin(np.where(fastest, tts[:, s], np.iinfo(np.int64).max))])
                               if fastest.any() else None,
                               min_steps_to_tol=int(tts[fastest, s].min()) if fastest.any() else None,
                               n_diverged=int(diverged[:, s].sum()))
                row["runs"].append(run_row)
                if in_grid(lrs, bound):
                    claims.append(edge_claim(method, beta, bound, edge, log_grid_step(lrs, bound), exact,
                                             e.label + (f" from {_start(x0[s])}" if x0.shape[0] > 1 else "")))
                if edge is not None and s == 0:
                    measured.append((edge[0], name, method))
        meas = {m: v for v, _, m in measured}
        first = x0[0]
        where = f" from ({first[0]:g}, {first[1]:g})" if x0.shape[0] > 1 else ""
        panels.append(dict(
            title=(f"{e.label}: L = {L:.5g} at x*, {steps} steps\n"
                   f"2/L = {bounds['gd']:.4g}, measured {_g(meas.get('gd'))}{where}\n"
                   f"2(1+β)/L = {bounds['momentum']:.4g}, measured {_g(meas.get('momentum'))}"),
            lrs=lrs, curves=curves, measured=measured,
            bounds=[(bounds["gd"], "2/L", "gd"), (bounds["momentum"], "2(1+β)/L", "momentum")]))
        rows.append(row)

    fig = lr_sweep_figure(panels, f"GD and heavy-ball (torch SGD, momentum β={beta:g}) over a log grid of "
                                  f"{n_lr} learning rates: where does each stop converging?")
    figure_path = save(fig, out_dir / "lr_divergence", fmt, dpi)
    save_arrays(out_dir / "lr_divergence.npz", **arrays)
    theory = theory_table(claims)
    doc = dict(study=NAME, momentum=beta, tol=tol, n_lr=n_lr, objectives=rows,
               figures=[figure_path.name], theory=theory)
    return finish(out_dir, doc, {"study": NAME, "title": "lr_divergence: measured stability edges vs 2/L and 2(1+β)/L",
                                 "objectives": rows, "figures": [figure_path.name], "theory": theory,
                                 "table": _table(rows)})


def edge_claim(method: str, beta: float, bound: float, edge, step: float, exact: bool, where: str) -> Claim:
    """The theory-table row of one measured edge: ``abs`` within one grid step on a quadratic
    (``exact``), else the local bound as a necessary condition (``le``)."""
    gd = method == "gd"
    name = "GD" if gd else f"heavy-ball β={beta:g}"
    formula = "2/L" if gd else "2(1+β)/L"
    if exact:
        claim = f"{name} stops converging at lr = {formula}"
        source = "linear stability of GD on a quadratic" if gd else "Polyak (1964): heavy-ball on a quadratic"
    else:
        claim = f"{name} cannot converge above the local bound {formula}"
        source = ("local: x* must be linearly stable for the iteration to converge there; the path may see "
                  "larger curvature")
    return Claim(claim=claim, formula=f"{formula}, L = λmax(∇²f(x*))", predicted=bound,
                 measured=float("nan") if edge is None else edge[0], tolerance=step,
                 kind="abs" if exact else "le", source=source, where=where)


def _start(x) -> str:
    return "(" + ", ".join(f"{v:g}" for v in x[:2]) + ")"


def _g(v):
    return "—" if v is None else f"{v:.4g}"


def _table(rows) -> str:
    head = f"{'objective':<28} {'method':<9} {'start':<14} {'bound':>10} {'measured':>10} {'rel.err':>8} {'best lr':>9} {'steps':>6}"
    lines = [head, "-" * len(head)]
    for row in rows:
        for r in row["runs"]:
            me = "—" if r["measured_edge"] is None else f"{r['measured_edge']:.4g}"
            re = "—" if r["relative_error"] is None else f"{100 * r['relative_error']:+.2f}%"
            bl = "—" if r["best_lr"] is None else f"{r['best_lr']:.3g}"
            ms = "—" if r["min_steps_to_tol"] is None else str(r["min_steps_to_tol"])
            start = "(" + ", ".join(f"{v:g}" for v in r["x0"][:2]) + ")"
            lines.append(f"{row['objective'][:28]:<28} {r['method']:<9} {start:<14} {r['bound']:>10.4g} {me:>10} "
                         f"{re:>8} {bl:>9} {ms:>6}")
    return "\n".join(lines)
