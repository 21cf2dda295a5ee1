r"""saddle_escape: who gets stuck at a saddle point, and who leaves.

Near a non-degenerate saddle :math:`x_s` GD is linear:
:math:`x_{t+1} - x_s \approx (I - \eta H)(x_t - x_s)`. The component along
the Hessian's negative-curvature eigenvector grows by :math:`1 + \eta|\lambda_-|`
per step, the others shrink. Started *exactly* on the stable manifold (the
set of points that flow into the saddle) GD converges to the saddle and
stays; any offset :math:`\delta` off the manifold is amplified and leaves
after about :math:`\log(r/\delta) / \log(1 + \eta|\lambda_-|)` steps.
Gradient noise supplies such offsets all the time; heavy-ball momentum
amplifies them faster (growth root of :math:`z^2 - (1 + \beta + \eta|\lambda_-|) z + \beta`);
Adam divides the tiny gradient by its own size and moves about lr per step
from the first step on.

Per objective the study finds the saddle (``spec.stationary_points``,
polished by Newton), its stable and unstable directions (Hessian
eigenvectors) and a start on the stable manifold: for ``saddle`` and
``monkey_saddle`` the x-axis (invariant: the y-gradient is exactly 0 there),
for a curved manifold (a saddle of himmelblau or beale) a point found by
bisection over starts (GD runs from a segment across the manifold; the sign
of the final unstable component tells the side). Then from that start it
runs: GD; GD from the start shifted by ``delta`` along the unstable
direction; GD with gradient noise; heavy-ball momentum and Adam from the
shifted start -- and, for the table, momentum and Adam exactly on the
manifold (symmetry is not broken by momentum or Adam alone).

Escape step: the first step after the closest approach at which the
distance to the saddle exceeds the start's distance ``r0``.

Theory table (:mod:`optlab.theory`), per saddle with negative curvature
:math:`\lambda_- < 0` (not the monkey saddle, whose Hessian is 0 and whose
escape is algebraic). GD from the start shifted by ``delta`` has the
unstable component :math:`\delta (1 + \eta|\lambda_-|)^t` and the stable one
:math:`r_0 (1 - \eta\lambda_+)^t`; it escapes when the first reaches
``r0`` (the second is long gone), after

.. math::  T = \log(r_0/\delta) / \log(1 + \eta|\lambda_-|)

steps: the escape step is the first integer at or above T. On a quadratic
saddle (one Hessian everywhere) this is exact (tolerance 1 step), and so are
GD on the stable manifold, whose distance is :math:`r_0|1 - \eta\lambda_+|^t`,
and heavy-ball (torch SGD, momentum :math:`\beta`): its unstable component
is :math:`A z_+^t + B z_-^t` with :math:`z_\pm` the roots of
:math:`z^2 - (1 + \beta + \eta|\lambda_-|) z + \beta`; the first step
(torch's buffer starts at the gradient) gives
:math:`y_1 = (1 + \eta|\lambda_-|)\delta`, so
:math:`A = \delta (1 + \eta|\lambda_-| - z_-)/(z_+ - z_-)` and the escape
comes after :math:`\log(r_0/A)/\log z_+` steps. On a curved saddle
(Himmelblau's) the formula is local: the approach along the curved manifold
and the exit at ``r0`` are not linear, so the claim is within 5%.
"""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..errors import OptlabError
from ..plots import save
from ..theory import Claim, table as theory_table
from ..plots.saddles import saddle_figure
from . import register
from ._lecture import _snap
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, constant_hessian, engine_options, newton_refine, objective_entries,
                       plot_options, points_of_kind, positive_int, require_2d, save_arrays, sgd_like, study_params)

NAME = "saddle_escape"

DEFAULTS = dict(
    objectives=[
        {"name": "saddle", "r0": 1.0, "lr": 0.1, "adam_lr": 0.05, "steps": 200},
        {"name": "monkey_saddle", "r0": 1.0, "lr": 0.1, "adam_lr": 0.05, "steps": 1500,
         "stable_dir": [1.0, 0.0], "unstable_dir": [0.0, 1.0]},
        {"name": "himmelblau", "near": [0.1, 2.9], "r0": 0.5, "lr": 0.005, "adam_lr": 0.05, "steps": 600},
    ],
    delta=1e-6,        # the small perturbation, along the unstable direction
    grad_noise=1e-3,   # std of the Gaussian gradient noise of the noisy GD run
    momentum=0.9,      # heavy-ball beta (torch SGD momentum)
    betas=[0.9, 0.999],
)
QUICK = dict()
ENTRY_KEYS = ("near", "r0", "lr", "adam_lr", "steps", "stable_dir", "unstable_dir")

# (key, method for the color, line style, label template, start on manifold?, options)
RUNS = (
    ("gd_manifold", "gd", "solid", "GD on the stable manifold", True),
    ("gd_perturbed", "gd", "dashed", "GD, start + δ", False),
    ("gd_noise", "gd", "dotted", "GD + gradient noise", True),
    ("momentum", "momentum", "solid", "momentum, start + δ", False),
    ("adam", "adam", "solid", "Adam, start + δ", False),
    ("momentum_manifold", "momentum", "dotted", "momentum on the manifold", True),
    ("adam_manifold", "adam", "dotted", "Adam on the manifold", True),
)
IN_FIGURE = ("gd_manifold", "gd_perturbed", "gd_noise", "momentum", "adam")


def saddle_geometry(entry):
    """(x_s, v_stable, v_unstable, eigenvalues) of the saddle the entry names."""
    spec = entry.spec
    saddles = points_of_kind(spec, "saddle", 2, **entry.options)
    if not saddles:
        raise OptlabError(f"Objective '{entry.name}' has no saddle point in its box; use saddle, monkey_saddle, "
                          "himmelblau, beale or six_hump_camel")
    near = np.asarray(entry.extra.get("near", saddles[0].x), dtype=float)
    best = min(saddles, key=lambda p: np.linalg.norm(np.asarray(p.x, dtype=float) - near))
    x_s = _snap(spec, np.asarray(best.x, dtype=float))  # a table's 1e-15 for an exact 0 (monkey saddle)
    h = np.asarray(spec.hess(x_s, **entry.options), dtype=float)
    if np.max(np.abs(h)) > 1e-9:
        x_s = newton_refine(spec, x_s, entry.options)
        h = np.asarray(spec.hess(x_s, **entry.options), dtype=float)
    lam, vec = np.linalg.eigh(0.5 * (h + h.T))
    v_s = np.asarray(entry.extra.get("stable_dir", vec[:, -1]), dtype=float)
    v_u = np.asarray(entry.extra.get("unstable_dir", vec[:, 0]), dtype=float)
    if lam[0] >= 0 and "unstable_dir" not in entry.extra:
        raise OptlabError(f"The point ({x_s[0]:.6g}, {x_s[1]:.6g}) of '{entry.name}' has no negative curvature; "
                          "give stable_dir and unstable_dir for a degenerate saddle")
    return x_s, v_s / np.linalg.norm(v_s), v_u / np.linalg.norm(v_u), lam


def manifold_start(entry, x_s, v_s, v_u, r0, lr, steps, eng, rounds=12, m=65):
    """A start on GD's stable manifold at distance ~r0 along v_s, and whether it is exact.

    Exact when the line x_s + s v_s is invariant (the gradient has no v_u
    component there, as on the x-axis of the saddles); otherwise bisection
    over starts x_s + r0 v_s + s v_u: each round is one engine call of ``m``
    GD runs, the sign of the final v_u component tells the side, and the
    bracket shrinks by m - 1 until it is a few ulps wide.
    """
    spec = entry.spec
    probe = x_s + np.outer(np.linspace(0.2, 1.0, 5) * r0, v_s)
    g = np.asarray(spec.grad(probe, **entry.options), dtype=float)
    if np.all(g @ v_u == 0.0):
        return x_s + r0 * v_s, True, 0.0
    lo, hi = -0.5 * r0, 0.5 * r0
    base = x_s + r0 * v_s
    side_lo = None
    for _ in range(rounds):
        s = np.linspace(lo, hi, m)
        x0 = base + np.outer(s, v_u)
        opt, hyper = sgd_like("gd", lr=lr, momentum=0.0)
        res = simulate(opt, entry.name, x0=x0, steps=steps, record_every=steps, objective_options=entry.options,
                       **hyper, **eng)
        xf = np.where(np.isfinite(res.x_final), res.x_final, np.sign(res.x_final) * 1e300)
        side = np.sign((np.nan_to_num(xf, nan=0.0) - x_s) @ v_u)
        change = np.flatnonzero(side[:-1] * side[1:] < 0)
        if change.size == 0:
            break
        k = int(change[0])
        lo, hi = s[k], s[k + 1]
        side_lo = side[k]
        if hi - lo <= 4 * np.spacing(max(abs(lo), abs(hi), 1e-300)) + 1e-300:
            break
    if side_lo is None:
        raise OptlabError(f"Could not bracket the stable manifold of the saddle ({x_s[0]:.6g}, {x_s[1]:.6g}) of "
                          f"'{entry.name}' (GD from both sides ends on the same side); try another r0 or lr")
    return base + 0.5 * (lo + hi) * v_u, False, float(hi - lo)


def escape_step(steps, dist, r_escape):
    """First step after the closest approach where the distance exceeds ``r_escape`` (None: never)."""
    d = np.where(np.isfinite(dist), dist, np.inf)
    k_min = int(np.argmin(d))
    out = np.flatnonzero(d[k_min:] > r_escape)
    return None if out.size == 0 else int(steps[k_min + out[0]])


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["gd", "momentum", "adam"], extra=ENTRY_KEYS)


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """GD on the stable manifold stays; perturbation, noise, momentum and Adam escape."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=ENTRY_KEYS)
    for e in entries:
        require_2d(e, NAME, "draws the trajectories around a saddle on the plane",
                   "saddle, monkey_saddle, himmelblau, beale, six_hump_camel")
    delta = as_float_list("delta", p["delta"], minimum=0.0)[0]
    noise = as_float_list("grad_noise", p["grad_noise"], minimum=0.0)[0]
    beta = as_float_list("momentum", p["momentum"], minimum=0.0)[0]
    betas = tuple(as_float_list("betas", p["betas"], minimum=0.0))
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    geos = [saddle_geometry(e) for e in entries]  # every objective checked before any run

    panels, rows, arrays, claims = [], [], {}, []
    for e, (x_s, v_s, v_u, lam) in zip(entries, geos):
        r0 = float(e.extra.get("r0", 1.0))
        lr = float(e.extra.get("lr", 0.01))
        adam_lr = float(e.extra.get("adam_lr", 0.01))
        steps = positive_int("steps", e.extra.get("steps", 400))
        x_m, exact, width = manifold_start(e, x_s, v_s, v_u, r0, lr, 4 * steps, eng)
        runs = {}
        for key, method, style, label, on_manifold in RUNS:
            x0 = x_m if on_manifold else x_m + delta * v_u
            kw = dict(steps=steps, record_every=1, objective_options=e.options, **eng)
            if method == "adam":
                res = simulate("adam", e.name, x0=x0, lr=adam_lr, betas=betas, **kw)
                hyper = f"lr={adam_lr:g}"
            else:
                opt, hyper_d = sgd_like(method, lr=lr, momentum=beta if method == "momentum" else 0.0)
                if key == "gd_noise":
                    kw["grad_noise"] = noise
                res = simulate(opt, e.name, x0=x0, **hyper_d, **kw)
                hyper = f"lr={lr:g}" + (f", β={beta:g}" if method == "momentum" else "")
            dist = np.linalg.norm(res.x[0] - x_s, axis=1)
            esc = escape_step(res.steps, dist, r0)
            k_min = int(np.nanargmin(np.where(np.isfinite(dist), dist, np.inf)))
            runs[key] = dict(method=method, style=style, label=label, hyper=hyper, steps=res.steps, dist=dist,
                             path=res.x[0], escape_step=esc, closest=float(dist[k_min]), closest_step=k_min,
                             final_distance=float(dist[-1]) if np.isfinite(dist[-1]) else None,
                             x0=np.asarray(x0).tolist())
            arrays[f"{e.slug}__{key}__x"] = res.x[0]
            arrays[f"{e.slug}__{key}__distance"] = dist
        row = dict(objective=e.label, saddle=x_s.tolist(), hessian_eigenvalues=lam.tolist(),
                   stable_dir=v_s.tolist(), unstable_dir=v_u.tolist(), manifold_start=x_m.tolist(),
                   manifold_exact=exact, manifold_bracket=width, r0=r0, lr=lr, adam_lr=adam_lr, steps=steps,
                   runs={k: {kk: vv for kk, vv in r.items() if kk not in ("steps", "dist", "path")}
                         for k, r in runs.items()})
        rows.append(row)
        claims += escape_claims(e.label, lam, lr, beta, r0, delta, steps, runs,
                                constant_hessian(e, [x_s, x_m, x_m + r0 * v_u]), float(np.linalg.norm(x_s)))
        how = "exact (invariant line)" if exact else f"bisection, bracket {width:.1e}"
        gd_m = runs.get("gd_manifold")
        if not exact and gd_m is not None and gd_m["escape_step"] is not None:
            # said in the figure, not only on the page: the start is a double off the manifold, and
            # the error grows by |1 - lr λ-| a step along the escape direction
            how += (f"\nGD gets within {gd_m['closest']:.0e}, then its rounding off the manifold grows: "
                    f"out at step {gd_m['escape_step']}")
        panels.append(dict(entry=e, x_s=x_s, v_s=v_s, v_u=v_u, r0=r0, runs=[runs[k] for k in IN_FIGURE],
                           hyper=f"GD and momentum lr={lr:g}, Adam lr={adam_lr:g}",
                           title=f"{e.label}: saddle ({x_s[0] + 0.0:.4g}, {x_s[1] + 0.0:.4g}), "
                                 f"λ(H) = {', '.join(_eig(v) for v in lam)}\nstart on the manifold: {how}"))

    fig = saddle_figure(panels, f"Escaping a saddle: GD, momentum β={beta:g}, "
                                f"Adam β={betas}; δ = {delta:g} along the unstable direction, gradient noise σ = {noise:g}")
    figure_path = save(fig, out_dir / "saddle_escape", fmt, dpi)
    save_arrays(out_dir / "saddle_escape.npz", **arrays)
    theory = theory_table(claims)
    doc = dict(study=NAME, delta=delta, grad_noise=noise, momentum=beta, betas=list(betas), objectives=rows,
               figures=[figure_path.name], theory=theory)
    return finish(out_dir, doc, {"study": NAME, "title": "saddle_escape: distance from the saddle and escape step per method",
                                 "objectives": rows, "figures": [figure_path.name], "theory": theory,
                                 "table": _table(rows)})


SOURCE = "linearisation at the saddle: the unstable component grows by 1 + lr|λ₋| per step"


def gd_escape_time(r0: float, delta: float, lr: float, lam_min: float) -> float:
    """Steps until GD's unstable component, ``delta (1 + lr|lam_min|)^t``, reaches ``r0``."""
    return float(np.log(r0 / delta) / np.log1p(lr * abs(lam_min)))


def momentum_escape_time(r0: float, delta: float, lr: float, lam_min: float, beta: float) -> float:
    """Steps until heavy-ball's unstable component ``A z+^t + B z-^t`` (roots of
    ``z^2 - (1 + beta + a) z + beta``, a = lr|lam_min|; y_0 = delta, y_1 = (1 + a) delta because
    torch's momentum buffer starts at the first gradient) reaches ``r0`` (the z- term is gone by then)."""
    a = lr * abs(lam_min)
    s = 1.0 + beta + a
    disc = np.sqrt(s * s - 4.0 * beta)
    zp, zm = 0.5 * (s + disc), 0.5 * (s - disc)
    amp = delta * (1.0 + a - zm) / (zp - zm)
    return float(np.log(r0 / amp) / np.log(zp))


def escape_claims(label, lam, lr, beta, r0, delta, steps, runs, exact: bool, scale: float) -> list:
    """The theory table of one saddle (empty without negative curvature or without a shift delta)."""
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    if not lam_min < 0 or not delta > 0 or not delta < r0:
        return []
    out = []
    tol, kind = (1.0, "abs") if exact else (0.05, "rel")
    where = label if exact else f"{label} (local)"

    def measured(key):
        step = runs[key]["escape_step"]
        return float("nan") if step is None else float(step)

    out.append(Claim(claim=f"GD from start + δ (δ={delta:g}) leaves the ball of radius r0={r0:g}",
                     formula="log(r0/δ) / log(1 + lr|λ₋|)", predicted=gd_escape_time(r0, delta, lr, lam_min),
                     measured=measured("gd_perturbed"), tolerance=tol, kind=kind, source=SOURCE, where=where))
    if not exact:
        return out
    out.append(Claim(claim=f"heavy-ball β={beta:g} from start + δ leaves the ball of radius r0={r0:g}",
                     formula="log(r0/A) / log z₊, z² − (1+β+lr|λ₋|)z + β = 0",
                     predicted=momentum_escape_time(r0, delta, lr, lam_min, beta), measured=measured("momentum"),
                     tolerance=1.0, kind="abs", source=SOURCE + "; heavy-ball: Polyak (1964)", where=where))
    predicted = r0 * abs(1.0 - lr * lam_max) ** steps
    if predicted > 1e-13 * scale:  # resolvable next to the saddle's coordinates
        got = runs["gd_manifold"]["final_distance"]
        out.append(Claim(claim=f"GD on the stable manifold runs into the saddle: distance after {steps} steps",
                         formula="r0 |1 − lr λ₊|^steps", predicted=predicted,
                         measured=float("nan") if got is None else got, tolerance=1e-9, kind="rel",
                         source="linearisation at the saddle (exact on a quadratic)", where=where))
    return out


def _eig(v):
    return "0" if abs(v) < 1e-9 else f"{v:.3g}"


def _table(rows) -> str:
    head = f"{'objective':<16} {'run':<26} {'closest':>9} {'at step':>7} {'escape step':>11} {'final dist':>10}"
    lines = [head, "-" * len(head)]
    for row in rows:
        for key, r in row["runs"].items():
            esc = "never" if r["escape_step"] is None else str(r["escape_step"])
            fd = "—" if r["final_distance"] is None else f"{r['final_distance']:.2e}"
            lines.append(f"{row['objective'][:16]:<16} {r['label'][:26]:<26} {r['closest']:>9.2e} "
                         f"{r['closest_step']:>7} {esc:>11} {fd:>10}")
    return "\n".join(lines)
