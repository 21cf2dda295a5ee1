r"""convergence_rates: measured linear rates and stability edges against the formulas.

On the 2-D quadratic :math:`f = \tfrac12 x^\top A x` (objective ``quadratic``:
eigenvalues :math:`\mu = L/\kappa` and L, L = ``lmax`` = 1, rotated by
``angle``; minimum x* = 0) every method below is a linear iteration, one
2x2 (or 1x1) block per eigen-direction of curvature :math:`\lambda`; write
:math:`h = \eta\lambda` (:math:`\eta` = lr).

**Rates.**

* GD, :math:`x_{t+1} = (1 - h)\,x_t` per direction. At
  :math:`\eta = 2/(L+\mu)` the factors are :math:`\pm(\kappa-1)/(\kappa+1)` at
  :math:`\lambda = \mu` and :math:`\lambda = L`, so on a 2-D quadratic
  :math:`\|x_t - x^*\| = r^t \|x_0 - x^*\|` exactly, :math:`r = (\kappa-1)/(\kappa+1)`.
* Heavy ball, torch's SGD with momentum :math:`\beta` and dampening 0
  (:math:`b \leftarrow \beta b + g`, :math:`x \leftarrow x - \eta b`), iterates
  :math:`x_{t+1} = x_t - \eta\nabla f(x_t) + \beta(x_t - x_{t-1})` with roots of
  :math:`z^2 - (1+\beta-h)z + \beta`. At Polyak's parameters
  (``momentum.polyak_optimum``: :math:`\sqrt{\beta^*} = (\sqrt\kappa-1)/(\sqrt\kappa+1)`,
  :math:`\eta^* = (1+\sqrt{\beta^*})^2/L`) both extreme directions sit on a
  *double* root :math:`\pm\sqrt{\beta^*}`: the iteration matrix is defective
  and each component is :math:`(a + bt)(\pm r)^t`, :math:`r = \sqrt{\beta^*}`.
  So :math:`\|x_t - x^*\| = r^t\sqrt{c_0 + c_1 t + c_2 t^2}` and
  :math:`\log(\|x_t - x^*\|/t) = t\log r + \tfrac12\log(c_2 + c_1/t + c_0/t^2)`,
  whose slope is :math:`\log r + O(1/t^2)`.

*Measurement.* One engine call per (method, kappa), x recorded every step
(every k-th past 20000 steps). The rate is :math:`e^{s}`, s the
least-squares slope of :math:`\log\|x_t - x^*\| - m\log t` against t over the
tail: the records with :math:`\|x_t - x^*\|/\|x_0 - x^*\|` in
[``tail[1]``, ``tail[0]``] (m = 0 for GD, m = 1 for the defective heavy ball;
the slope of the plain log, m = 0, is also reported for heavy ball: it is
biased by ~1/t, 5% at kappa = 2). Since x* = 0 the iteration is linear and
homogeneous: rounding errors are relative to x_t and there is no round-off
floor, only underflow; the tail stops at the square root of the dtype's
smallest normal number (the loss, ~|x|^2, stays normal). The step budget is
sized from the predicted rate (1.25 x the steps to reach ``tail[1]``); a
slower run simply fits over fewer records.

**Stability edges** (in units of :math:`\eta L`; Jury's test: both roots of
:math:`z^2 + a_1 z + a_0` lie inside the unit circle iff
:math:`|a_0| < 1` and :math:`1 \pm a_1 + a_0 > 0`).

* GD: :math:`|1 - h| < 1 \iff h < 2`, so :math:`\eta L < 2`.
* Heavy ball: :math:`p(1) = h > 0`, :math:`p(-1) = 2 + 2\beta - h`,
  :math:`a_0 = \beta`: stable iff :math:`\eta L < 2(1+\beta)`.
* Nesterov in torch's form (SGD ``nesterov=True``:
  :math:`b \leftarrow \beta b + g`, :math:`x \leftarrow x - \eta(g + \beta b)`).
  With :math:`c = \eta b` and :math:`g = \lambda x` per direction,
  :math:`c_{t+1} = \beta c_t + h x_t` and
  :math:`x_{t+1} = x_t - h x_t - \beta c_{t+1} = (1 - (1+\beta)h)\,x_t - \beta^2 c_t`,
  i.e. the matrix :math:`\begin{pmatrix} 1-(1+\beta)h & -\beta^2 \\ h & \beta \end{pmatrix}`
  with trace :math:`(1+\beta)(1-h)` and determinant :math:`\beta(1-h)`:
  :math:`p(z) = z^2 - (1+\beta)(1-h)z + \beta(1-h)`. Then :math:`p(1) = h > 0`,
  :math:`p(-1) = 1 + (1+2\beta)(1-h) > 0 \iff h < (2+2\beta)/(1+2\beta)`, and
  there :math:`|1-h| < 1`, so :math:`|a_0| = \beta|1-h| < 1`. Stable iff
  :math:`\eta L < (2+2\beta)/(1+2\beta)`: 2 at :math:`\beta = 0`, falling to 4/3
  as :math:`\beta \to 1` -- torch's Nesterov tolerates *smaller* steps than
  GD, the heavy ball larger ones. (torch's first step, :math:`b_1 = g_1`, does
  not change the asymptotics.)

*Measurement.* One engine call per (method, kappa) over the whole
(beta, lr) grid: a fine log grid of :math:`\eta L` (``n_lr`` points over
``lr_span``), ``edge_steps`` steps, the loss recorded at 0, T/2 and T. A run
converges when it did not blow up and its loss did not grow over the second
half (the modes other than the one at the edge have died out by T/2, so the
dominant root's modulus decides). The measured edge is the geometric
midpoint between the last converging grid value below the first
non-converging one and that one; the claim allows one grid step there.
Also checked: no grid value above the measured edge converges.

References: B. T. Polyak, "Some methods of speeding up the convergence of
iteration methods", USSR Comp. Math. & Math. Phys. 4 (1964); Y. Nesterov,
"Introductory Lectures on Convex Optimization" (2004), Thm 2.1.15 (GD's
rate); E. I. Jury, "Theory and Application of the z-Transform Method" (1964)
(the stability test); I. Sutskever et al., ICML 2013 (the momentum form of
Nesterov's method torch uses).
"""
from __future__ import annotations

import math

import numpy as np

from .. import simulate, sweep
from ..errors import OptlabError
from ..plots import save
from ..plots.rates import rates_figure
from ..theory import Claim, format_table, summary as theory_summary, table as theory_table
from . import register
from ._lecture import (ObjectiveEntry, as_float_list, curvature_at_minimum, engine_options, finish, plot_options,
                       positive_int, save_arrays, sgd_like, study_params)
from .momentum import polyak_optimum

NAME = "convergence_rates"

DEFAULTS = dict(
    kappas=[2.0, 10.0, 100.0, 1000.0],   # condition numbers of the rate runs
    angle=30.0,                          # rotation of the quadratic's eigenbasis, degrees
    x0=[1.0, 1.0],
    tail=[1.0e-3, 1.0e-60],              # fit over ||x_t - x*|| / ||x_0 - x*|| in [tail[1], tail[0]]
    max_steps=500000,                    # refuse a kappa whose rate run would need more steps
    edge_kappas=[10.0, 100.0],           # quadratics of the edge grids
    momenta=[0.25, 0.5, 0.75, 0.9],      # betas of the heavy-ball and Nesterov edges (GD: beta = 0)
    n_lr=1201,                           # log grid of lr * L over lr_span
    lr_span=[1.0, 4.5],
    edge_steps=4000,
)
QUICK = dict(kappas=[2.0, 10.0, 100.0], edge_kappas=[10.0], momenta=[0.5, 0.9], n_lr=601, edge_steps=2000)

RATE_TOL = 0.01   # the rate claims: 1% relative
MAX_RECORDS = 20000
SOURCES = {
    "gd": "Nesterov, Introductory Lectures on Convex Optimization (2004), Thm 2.1.15",
    "heavy_ball": "Polyak, USSR Comp. Math. Math. Phys. 4 (1964)",
    "nesterov": "Jury's test on torch's SGD(nesterov=True) update (derived in this module)",
}
METHOD_LABELS = {"gd": "GD", "momentum": "heavy ball", "nesterov": "Nesterov (torch)"}


# --- theory --------------------------------------------------------------------------------------

def gd_rate(kappa: float) -> float:
    """GD's rate at lr = 2/(L + mu): (kappa - 1)/(kappa + 1)."""
    return (kappa - 1.0) / (kappa + 1.0)


def heavy_ball_rate(kappa: float) -> float:
    """Heavy ball's rate at Polyak's parameters: (sqrt(kappa) - 1)/(sqrt(kappa) + 1)."""
    s = math.sqrt(kappa)
    return (s - 1.0) / (s + 1.0)


def edge(method: str, beta: float = 0.0) -> float:
    """The stability edge in units of lr * L: GD 2, heavy ball 2(1 + beta), torch's Nesterov
    (2 + 2 beta)/(1 + 2 beta)."""
    if method == "gd":
        return 2.0
    if method == "momentum":
        return 2.0 * (1.0 + beta)
    if method == "nesterov":
        return (2.0 + 2.0 * beta) / (1.0 + 2.0 * beta)
    raise OptlabError(f"Invalid method {method!r} (must be 'gd', 'momentum' or 'nesterov')")


EDGE_FORMULAS = {"gd": "lr L < 2", "momentum": "lr L < 2(1 + β)", "nesterov": "lr L < (2 + 2β)/(1 + 2β)"}


# --- measurement ---------------------------------------------------------------------------------

def fit_rate(t, dist, hi: float, lo: float, power: int = 0):
    """(rate, number of records used, first t, last t): exp of the least-squares slope of
    ``log dist - power * log t`` against t over the records with ``dist / dist[0]`` in
    [lo, hi] (t > 0); rate NaN when fewer than 5 records qualify."""
    t = np.asarray(t, dtype=float)
    d = np.asarray(dist, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = d / d[0]
        sel = np.isfinite(rel) & (rel <= hi) & (rel >= lo) & (t > 0)
    if sel.sum() < 5:
        return math.nan, int(sel.sum()), None, None
    y = np.log(d[sel]) - power * np.log(t[sel])
    slope = np.polyfit(t[sel], y, 1)[0]
    return float(np.exp(slope)), int(sel.sum()), int(t[sel][0]), int(t[sel][-1])


def converging(loss_mid, loss_final, diverged):
    """A run converges: no blow-up, and its loss did not grow over the second half of the run."""
    mid = np.asarray(loss_mid, dtype=float)
    fin = np.asarray(loss_final, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.asarray(diverged, dtype=bool) & np.isfinite(fin) & (fin <= mid)


def measure_edge(h, conv):
    """(edge, last converging h, first failing h, converging runs above the edge) on an ascending
    grid: the geometric midpoint around the first run that does not converge; None when the first
    grid value already fails or none does."""
    h = np.asarray(h, dtype=float)
    conv = np.asarray(conv, dtype=bool)
    bad = np.flatnonzero(~conv)
    if bad.size == 0 or bad[0] == 0:
        return None
    k = int(bad[0])
    return float(np.sqrt(h[k - 1] * h[k])), float(h[k - 1]), float(h[k]), int(conv[k:].sum())


# --- the study -----------------------------------------------------------------------------------

def _params(cfg: dict) -> dict:
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    out = dict(quick=p["quick"])
    out["kappas"] = as_float_list("kappas", p["kappas"])
    out["edge_kappas"] = as_float_list("edge_kappas", p["edge_kappas"])
    for key in ("kappas", "edge_kappas"):
        if not out[key] or any(not k > 1.0 for k in out[key]):
            raise OptlabError(f"Invalid study.{key}: {p[key]!r} (must be a non-empty list of condition numbers > 1)")
    out["angle"] = as_float_list("angle", p["angle"])[0]
    x0 = as_float_list("x0", p["x0"])
    if len(x0) != 2 or not any(x0):
        raise OptlabError(f"Invalid study.x0: {p['x0']!r} (must be a point [x, y] other than the minimum [0, 0])")
    out["x0"] = x0
    tail = as_float_list("tail", p["tail"], minimum=0.0)
    if len(tail) != 2 or not 1.0 > tail[0] > tail[1] > 0.0:
        raise OptlabError(f"Invalid study.tail: {p['tail']!r} (must be [hi, lo] with 1 > hi > lo > 0)")
    out["tail"] = tail
    out["max_steps"] = positive_int("max_steps", p["max_steps"])
    mom = as_float_list("momenta", p["momenta"])
    if not mom or any(not 0.0 < b < 1.0 for b in mom):
        raise OptlabError(f"Invalid study.momenta: {p['momenta']!r} (every beta must be in (0, 1); "
                          "GD is the beta = 0 edge)")
    out["momenta"] = sorted(mom)
    out["n_lr"] = positive_int("n_lr", p["n_lr"], minimum=16)
    span = as_float_list("lr_span", p["lr_span"], minimum=0.0)
    if len(span) != 2 or not 0.0 < span[0] < span[1]:
        raise OptlabError(f"Invalid study.lr_span: {p['lr_span']!r} (must be [lo, hi], 0 < lo < hi, in units of 1/L)")
    edges = [edge("gd")] + [edge(m, b) for m in ("momentum", "nesterov") for b in out["momenta"]]
    if not span[0] < min(edges) or not span[1] > max(edges):
        raise OptlabError(f"Invalid study.lr_span: {p['lr_span']!r} (must contain every edge: "
                          f"{min(edges):.4g} to {max(edges):.4g} in units of 1/L)")
    out["lr_span"] = span
    out["edge_steps"] = positive_int("edge_steps", p["edge_steps"], minimum=20)
    return out


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    from ..engine.warmup import KernelKey
    _params(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    names = dict.fromkeys(sgd_like(m)[0] for m in ("gd", "momentum", "nesterov"))
    return [KernelKey(n, "quadratic", 2, dtype) for n in names]


def _entry(kappa: float, angle: float) -> ObjectiveEntry:
    return ObjectiveEntry({"name": "quadratic", "cond": float(kappa), "angle": float(angle)}, NAME)


def _rate_steps(rate: float, lo: float, kappa: float, method: str, max_steps: int) -> int:
    steps = int(math.ceil(1.25 * math.log(lo) / math.log(rate))) + 20
    if steps > max_steps:
        raise OptlabError(f"Invalid study.kappas: κ={kappa:g} needs {steps} steps for {METHOD_LABELS[method]} to "
                          f"reach the tail {lo:g} (study.max_steps={max_steps}); use a smaller κ or raise max_steps")
    return steps


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """GD and heavy-ball rates vs kappa against the formulas; GD, heavy-ball and Nesterov edges vs beta."""
    p = _params(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    dtype = np.dtype(eng.get("dtype", "float64"))
    hi, lo = p["tail"][0], max(p["tail"][1], math.sqrt(np.finfo(dtype).tiny))
    rate_entries = [(k, _entry(k, p["angle"])) for k in p["kappas"]]
    plans = []
    for kappa, e in rate_entries:
        x_star, L, mu = curvature_at_minimum(e)
        b_star, lr_star, r_hb = polyak_optimum(L, mu)
        kap = L / mu
        plans.append(dict(kappa=kappa, entry=e, x_star=x_star, L=L, mu=mu, runs=[
            dict(method="gd", hyper=dict(lr=2.0 / (L + mu)), predicted=gd_rate(kap), power=0,
                 steps=_rate_steps(gd_rate(kap), lo, kappa, "gd", p["max_steps"])),
            dict(method="momentum", hyper=dict(lr=lr_star, momentum=b_star, dampening=0.0),
                 predicted=heavy_ball_rate(kap), power=1,
                 steps=_rate_steps(heavy_ball_rate(kap), lo, kappa, "momentum", p["max_steps"]))]))

    claims, arrays, rate_rows = [], {}, []
    for plan in plans:
        e, kappa = plan["entry"], plan["kappa"]
        kap = plan["L"] / plan["mu"]
        for r in plan["runs"]:
            every = max(1, r["steps"] // MAX_RECORDS)
            opt, hyper = sgd_like(r["method"], **r["hyper"])
            res = simulate(opt, "quadratic", x0=[p["x0"]], steps=r["steps"], record_every=every, tol=0.0,
                           objective_options=e.options, **hyper, **eng)
            dist = np.linalg.norm(res.x[0] - plan["x_star"], axis=1)
            t = res.steps
            rate, n_fit, t0, t1 = fit_rate(t, dist, hi, lo, r["power"])
            plain = fit_rate(t, dist, hi, lo, 0)[0]
            key = f"kappa_{kappa:g}__{r['method']}"
            arrays[f"{key}__t"] = t
            arrays[f"{key}__dist"] = dist
            row = dict(kappa=kap, arrays=key, method=r["method"], optimizer=opt, **r["hyper"], steps=r["steps"],
                       record_every=every, predicted=r["predicted"], measured=rate, plain_fit=plain,
                       fit_power=r["power"], fit_records=n_fit, fit_from=t0, fit_to=t1,
                       relative_error=(rate - r["predicted"]) / r["predicted"])
            rate_rows.append(row)
            if r["method"] == "gd":
                claims.append(Claim("GD at lr = 2/(L+μ) converges linearly at rate (κ−1)/(κ+1)",
                                    "(κ−1)/(κ+1)", r["predicted"], rate, RATE_TOL, "rel", SOURCES["gd"],
                                    f"κ={kap:g}, fit of log‖x−x*‖ over t∈[{t0}, {t1}]"))
            else:
                claims.append(Claim("Heavy ball at Polyak's (lr*, β*) converges at rate (√κ−1)/(√κ+1) "
                                    "(defective: fit of log(‖x−x*‖/t))",
                                    "(√κ−1)/(√κ+1)", r["predicted"], rate, RATE_TOL, "rel",
                                    SOURCES["heavy_ball"],
                                    f"κ={kap:g}, β*={r['hyper']['momentum']:.4g}, t∈[{t0}, {t1}]"))

    h = np.geomspace(p["lr_span"][0], p["lr_span"][1], p["n_lr"])
    edge_rows = []
    for kappa in p["edge_kappas"]:
        e = _entry(kappa, p["angle"])
        _, L, mu = curvature_at_minimum(e)
        lrs = h / L
        steps = p["edge_steps"]
        for method in ("gd", "momentum", "nesterov"):
            betas = [0.0] if method == "gd" else p["momenta"]
            opt, hyper = sgd_like(method, dampening=0.0)
            grid = {"lr": lrs} if method == "gd" else {"momentum": betas, "lr": lrs}
            sw = sweep(opt, "quadratic", grid=grid, x0=[p["x0"]], steps=steps, record_every=steps // 2, tol=0.0,
                       objective_options=e.options, **hyper, **eng)
            loss = sw.grid("loss")[..., 0, :].reshape(len(betas), len(lrs), -1)
            div = (sw.grid("diverged_step")[..., 0] >= 0).reshape(len(betas), len(lrs))
            conv = converging(loss[..., 1], loss[..., 2], div)
            arrays[f"edges_kappa_{kappa:g}__{method}__converging"] = conv
            above_total = 0
            for i, beta in enumerate(betas):
                pred = edge(method, beta)
                m = measure_edge(h, conv[i])
                k = int(np.searchsorted(h, pred))
                step = float(h[min(k, len(h) - 1)] - h[max(k - 1, 0)])
                measured = math.nan if m is None else m[0]
                above = 0 if m is None else m[3]
                above_total += above
                edge_rows.append(dict(kappa=L / mu, method=method, optimizer=opt, momentum=beta, predicted=pred,
                                      measured=measured, grid_step=step,
                                      last_converging=None if m is None else m[1],
                                      first_failing=None if m is None else m[2], converging_above=above))
                claims.append(Claim(f"{METHOD_LABELS[method]} is stable iff {EDGE_FORMULAS[method]}",
                                    EDGE_FORMULAS[method].replace("lr L < ", ""), pred, measured, step, "abs",
                                    SOURCES["heavy_ball" if method == "momentum" else method],
                                    f"κ={L / mu:g}, β={beta:g}, edge in units of 1/L ± one grid step"))
            claims.append(Claim(f"{METHOD_LABELS[method]}: no lr above the measured edge converges",
                                "count of converging runs above the edge", 0.0, float(above_total), 0.0, "le",
                                SOURCES["heavy_ball" if method == "momentum" else method],
                                f"κ={L / mu:g}, {len(betas)} β × {len(lrs)} lr"))
    arrays["edges__lr_times_L"] = h

    fig = rates_figure(rate_rows, edge_rows, arrays, p["momenta"], (hi, lo))
    figure_path = save(fig, out_dir / "convergence_rates", fmt, dpi)
    save_arrays(out_dir / "convergence_rates.npz", **arrays)
    theory = theory_table(claims)
    metrics = dict(study=NAME, tail=[hi, lo], rates=rate_rows, edges=edge_rows, theory=theory,
                   figures=[figure_path.name])
    text = _table(rate_rows) + "\n\n" + format_table(claims) + "\n" + theory_summary(claims)
    return finish(out_dir, metrics, {"study": NAME, "title": "convergence_rates: measured rates and stability "
                                     "edges against the formulas", "rates": rate_rows, "edges": edge_rows,
                                     "theory": theory, "figures": [figure_path.name], "table": text})


def _table(rows) -> str:
    head = f"{'κ':>7} {'method':<11} {'steps':>7} {'predicted':>10} {'measured':>10} {'rel.err':>8} {'plain fit':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['kappa']:>7g} {METHOD_LABELS[r['method']]:<11} {r['steps']:>7} {r['predicted']:>10.6f} "
                     f"{r['measured']:>10.6f} {100 * r['relative_error']:>+7.3f}% {r['plain_fit']:>10.6f}")
    return "\n".join(lines)
