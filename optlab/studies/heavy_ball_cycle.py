r"""heavy_ball_cycle: heavy ball tuned for quadratics cycles on a strongly convex function.

Lessard, Recht & Packard, "Analysis and design of optimization algorithms via
integral quadratic constraints", SIAM J. Optim. 26(1), 2016, Section 4.6,
give a one-dimensional function with :math:`\mu = 1`, L = 25 (objective
``piecewise_quadratic``):

.. math::

    f(x) = \begin{cases} \tfrac{25}{2}x^2 & x < 1 \\
                         \tfrac12 x^2 + 24x - 12 & 1 \le x < 2 \\
                         \tfrac{25}{2}x^2 - 24x + 36 & x \ge 2 \end{cases}
    \qquad
    f'(x) = \begin{cases} 25x & x < 1 \\ x + 24 & 1 \le x < 2 \\ 25x - 24 & x \ge 2, \end{cases}

f' continuous with slopes in [1, 25], so f is 1-strongly convex and
25-smooth. The heavy-ball method
:math:`x_{k+1} = x_k - \alpha f'(x_k) + \beta(x_k - x_{k-1})` with the
parameters that are optimal for quadratics with curvatures in [mu, L],
:math:`\alpha = 4/(\sqrt L + \sqrt\mu)^2 = 1/9` and
:math:`\beta = ((\sqrt\kappa - 1)/(\sqrt\kappa + 1))^2 = 4/9`, does not converge
on it: the paper reports that started at :math:`x_0 = x_1 \in [3.07, 3.46]`
its iterates settle into a limit cycle of period 3. torch's
``SGD(lr=1/9, momentum=4/9)`` is that iteration with :math:`x_{-1} = x_0`
(its buffer starts at the first gradient; see ``momentum.py``).

**The cycle, derived.** On piece i the gradient is affine,
:math:`f'(x) = s_i x + c_i` with :math:`(s, c) = (L, 0), (\mu, L-\mu), (L, -(L-\mu))`.
A 3-cycle :math:`(y_0, y_1, y_2)` with :math:`y_k` on piece :math:`i_k`
solves the linear system
:math:`y_{k+1} - (1 + \beta - \alpha s_{i_k})\,y_k + \beta y_{k-1} = -\alpha c_{i_k}`
(indices mod 3). Of the 27 piece patterns, two give a consistent non-constant
solution: (792, -2208, 2592)/1225 = (0.646531, -1.802449, 2.115918) with
pieces (x<1, x<1, x>=2), and (792, -2208, 2592)/1367 with pieces
(x<1, x<1, [1,2)). The three-step map's Jacobian is the product of the
per-piece matrices :math:`\begin{pmatrix} 1+\beta-\alpha s & -\beta \\ 1 & 0 \end{pmatrix}`;
its spectral radius is 0.296 (= :math:`\beta^{3/2}`) on the first cycle,
which attracts, and 2.93 on the second, which repels. The attracting one is
the prediction: :func:`period_cycles` computes both, from the objective's
(mu, L), not from a run. (Scanning starts finely, the iterates reach it
exactly from [3.0613, 3.4633], the paper's interval rounded inwards, and from
two smaller intervals below it; the figure shows the scan.)

**Contrast.** Gradient descent with :math:`\alpha = 1/L` or
:math:`2/(L+\mu)`, and Nesterov's method with :math:`\alpha = 1/L`,
:math:`\beta = (\sqrt\kappa-1)/(\sqrt\kappa+1)` (torch's ``nesterov=True``),
are globally convergent on every mu-strongly convex L-smooth function
(Nesterov, "Introductory Lectures on Convex Optimization", 2004, Thm 2.1.15
and Sec. 2.2): they converge on this one from every start. And heavy ball with
the same parameters converges from x0 = 0.5, where its whole run stays on
the quadratic piece x < 1 -- the failure is global, not local.

**Claims.** From ``x0`` the heavy-ball run ends in a cycle of period 3 (the
smallest p with :math:`|x_{t+p} - x_t| \le 10^{-10}` over the last records)
at the three derived points (abs. tolerance 1e-9; in float32 both are 1000
eps); every start of a grid over the paper's interval ends on the cycle
(share >= 1); heavy ball from ``local_x0`` and GD (both steps) and Nesterov
from every start (the grid, the scan and ``x0``) end with
:math:`f - f^* \le` ``tol``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import objectives, simulate
from ..errors import OptlabError
from ..plots import save
from ..plots.cycles import cycle_figure
from ..theory import Claim, format_table, summary as theory_summary, table as theory_table
from . import register
from ._lecture import as_float_list, engine_options, finish, plot_options, positive_int, save_arrays, sgd_like, \
    study_params
from .momentum import polyak_optimum

NAME = "heavy_ball_cycle"
OBJECTIVE = "piecewise_quadratic"

DEFAULTS = dict(
    x0=3.3,                       # the main start (the paper's interval is [3.07, 3.46])
    start_interval=[3.07, 3.46],  # the paper's interval of starts that cycle
    n_starts=40,                  # grid of starts over start_interval (each must end on the cycle)
    scan=[2.5, 4.0, 301],         # linspace of further starts, drawn in the figure
    local_x0=0.5,                 # a start from which heavy ball stays on the piece x < 1 and converges
    steps=1000,
    tol=1.0e-12,                  # converged: f - f* <= tol
)
QUICK = dict(n_starts=12, scan=[2.5, 4.0, 61], steps=400)

SOURCE = "Lessard, Recht & Packard, SIAM J. Optim. 26(1) 2016, Sec. 4.6"
SOURCE_CONVERGE = "Nesterov, Introductory Lectures on Convex Optimization (2004), Thm 2.1.15, Sec. 2.2"
PERIOD_ATOL = 1e-10   # float64; in float32 both widen to 1000 eps (rounding of x ~ 2 each step)
POINT_ATOL = 1e-9
ON_CYCLE_ATOL = 1e-6


# --- theory --------------------------------------------------------------------------------------

def pieces(mu: float, L: float):
    """(slope, offset) of f' on x < 1, 1 <= x < 2 and x >= 2."""
    return ((L, 0.0), (mu, L - mu), (L, -(L - mu)))


def piece_of(x: float) -> int:
    return 0 if x < 1.0 else (1 if x < 2.0 else 2)


def period_cycles(alpha: float, beta: float, mu: float, L: float, period: int = 3) -> list[dict]:
    """Every non-constant cycle of the given period of heavy ball (step alpha, momentum beta) on
    ``piecewise_quadratic``, one per cyclic rotation: ``points`` (in iteration order, starting
    with the smallest), ``pattern`` (the piece of each point) and ``radius``, the spectral radius
    of the Jacobian of the period-step map (< 1: the cycle attracts)."""
    sc = pieces(mu, L)
    found = []
    for pattern in itertools.product(range(3), repeat=period):
        a = np.zeros((period, period))
        rhs = np.zeros(period)
        for k, i in enumerate(pattern):
            s, c = sc[i]
            a[k, (k + 1) % period] += 1.0
            a[k, k] -= 1.0 + beta - alpha * s
            a[k, (k - 1) % period] += beta
            rhs[k] = -alpha * c
        try:
            y = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError:
            continue
        if any(piece_of(v) != i for v, i in zip(y, pattern)) or np.ptp(y) < 1e-12:
            continue
        k0 = int(np.argmin(y))
        y, pattern = np.roll(y, -k0), tuple(np.roll(pattern, -k0))
        if any(np.allclose(y, f["points"]) for f in found):
            continue
        jac = np.eye(2)
        for i in pattern:
            jac = np.array([[1.0 + beta - alpha * sc[i][0], -beta], [1.0, 0.0]]) @ jac
        found.append(dict(points=y, pattern=pattern, radius=float(max(abs(np.linalg.eigvals(jac))))))
    return found


def measured_period(x, max_period: int = 12, window: int = 24, atol: float = PERIOD_ATOL):
    """The smallest p <= max_period with |x_{t+p} - x_t| <= atol over the last ``window`` records;
    NaN when there is none (or the records are not finite)."""
    x = np.asarray(x, dtype=float)
    for p in range(1, max_period + 1):
        if len(x) < window + p:
            break
        d = np.abs(x[-window:] - x[-window - p:-p])
        if np.all(np.isfinite(d)) and d.max() <= atol:
            return p
    return math.nan


# --- the study -----------------------------------------------------------------------------------

def _params(cfg: dict) -> dict:
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    out = dict(quick=p["quick"])
    out["x0"] = as_float_list("x0", p["x0"])
    out["local_x0"] = as_float_list("local_x0", p["local_x0"])
    if len(out["x0"]) != 1 or len(out["local_x0"]) != 1:
        raise OptlabError(f"Invalid study.x0 / study.local_x0: {p['x0']!r}, {p['local_x0']!r} (must be numbers: "
                          "the function is one-dimensional)")
    out["x0"], out["local_x0"] = out["x0"][0], out["local_x0"][0]
    iv = as_float_list("start_interval", p["start_interval"])
    if len(iv) != 2 or not iv[0] < iv[1]:
        raise OptlabError(f"Invalid study.start_interval: {p['start_interval']!r} (must be [lo, hi] with lo < hi)")
    out["start_interval"] = iv
    out["n_starts"] = positive_int("n_starts", p["n_starts"], minimum=2)
    scan = as_float_list("scan", p["scan"])
    if len(scan) != 3 or not scan[0] < scan[1] or scan[2] != int(scan[2]) or scan[2] < 2:
        raise OptlabError(f"Invalid study.scan: {p['scan']!r} (must be [start, stop, num] with start < stop, num >= 2)")
    out["scan"] = scan
    out["steps"] = positive_int("steps", p["steps"], minimum=50)
    tol = as_float_list("tol", p["tol"], minimum=0.0)[0]
    out["tol"] = tol
    return out


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    from ..engine.warmup import KernelKey
    _params(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    names = dict.fromkeys(sgd_like(m)[0] for m in ("gd", "momentum", "nesterov"))
    return [KernelKey(n, OBJECTIVE, 1, dtype) for n in names]


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """Heavy ball at the quadratic-optimal (alpha, beta) on Lessard et al.'s function: a period-3 cycle;
    GD and Nesterov converge."""
    p = _params(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    spec = objectives.get(OBJECTIVE)
    mu, L = float(spec.options["mu"]), float(spec.options["L"])
    kappa = L / mu
    beta_hb, alpha_hb, _ = polyak_optimum(L, mu)          # 4/(sqrt L + sqrt mu)^2 and ((sqrt k - 1)/(sqrt k + 1))^2
    beta_nag = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)
    cycles = period_cycles(alpha_hb, beta_hb, mu, L, 3)
    stable = [c for c in cycles if c["radius"] < 1.0]
    if len(stable) != 1:
        raise OptlabError(f"Objective '{OBJECTIVE}' (mu={mu:g}, L={L:g}) has {len(stable)} attracting period-3 "
                          "cycles of heavy ball, not 1; the study reproduces Lessard et al.'s mu=1, L=25")
    cycle = stable[0]
    predicted = np.sort(cycle["points"])

    grid = np.linspace(p["start_interval"][0], p["start_interval"][1], p["n_starts"])
    scan = np.linspace(p["scan"][0], p["scan"][1], int(p["scan"][2]))
    starts = np.concatenate([[p["x0"], p["local_x0"]], grid, scan])[:, None]
    steps, tol = p["steps"], p["tol"]
    methods = [
        ("momentum", f"heavy ball α=4/(√L+√μ)²={alpha_hb:.4g}, β={beta_hb:.4g}",
         dict(lr=alpha_hb, momentum=beta_hb)),
        ("gd", f"GD α=1/L={1 / L:.4g}", dict(lr=1.0 / L)),
        ("gd", f"GD α=2/(L+μ)={2 / (L + mu):.4g}", dict(lr=2.0 / (L + mu))),
        ("nesterov", f"Nesterov α=1/L, β=(√κ−1)/(√κ+1)={beta_nag:.4g}", dict(lr=1.0 / L, momentum=beta_nag)),
    ]
    runs, arrays = [], {"starts": starts[:, 0], "cycle_predicted": predicted}
    for k, (method, label, hyper) in enumerate(methods):
        opt, hyper = sgd_like(method, dampening=0.0, **hyper)
        res = simulate(opt, OBJECTIVE, x0=starts, steps=steps, record_every=1, tol=tol, **hyper, **eng)
        x = res.x[..., 0]
        gap = res.loss_final - spec.min_value(1)
        runs.append(dict(method=method, label=label, optimizer=opt, hyper={k2: float(v) for k2, v in hyper.items()},
                         x=x, gap=gap))
        arrays[f"run{k}__{method}__x"] = x

    hb = runs[0]
    x_main = hb["x"][0]
    eps = float(np.finfo(np.dtype(eng.get("dtype", "float64"))).eps)
    period_atol, point_atol = max(PERIOD_ATOL, 1e3 * eps), max(POINT_ATOL, 1e3 * eps)
    period = measured_period(x_main, atol=period_atol)
    last = np.sort(x_main[-3:])
    n_main, n_local, n_grid = 1, 1, len(grid)
    on_grid = hb["x"][n_main + n_local:n_main + n_local + n_grid, -1]
    dist = np.min(np.abs(on_grid[:, None] - predicted[None, :]), axis=1)
    share = float(np.mean(np.isfinite(dist) & (dist <= ON_CYCLE_ATOL)))
    where = f"x0={p['x0']:g}, {steps} steps"
    claims = [Claim("Heavy ball at the quadratic-optimal (α, β) ends in a cycle of period 3", "period 3", 3.0,
                    float(period), 0.0, "abs", SOURCE, where)]
    names = ("smallest", "middle", "largest")
    for i in range(3):
        claims.append(Claim(f"… whose {names[i]} point is the derived one (pattern x<1, x<1, x≥2)",
                            "(792, −2208, 2592)/1225 for μ=1, L=25", float(predicted[i]), float(last[i]), point_atol,
                            "abs", SOURCE, where))
    claims.append(Claim("Every start in the paper's interval ends on the cycle", "share of starts = 1", 1.0, share, 0.0,
                        "ge", SOURCE, f"{n_grid} starts over [{grid[0]:g}, {grid[-1]:g}]"))
    claims.append(Claim("Heavy ball converges from a start whose run stays on the quadratic piece x < 1",
                        "f − f* ≤ tol", tol, float(hb["gap"][1]), 0.0, "le", SOURCE,
                        f"x0={p['local_x0']:g}, max x_t = {np.nanmax(hb['x'][1]):.4g}"))
    for r in runs[1:]:
        worst = float(np.nanmax(np.where(np.isfinite(r["gap"]), r["gap"], np.inf)))
        claims.append(Claim(f"{r['label']} converges from every start", "max over starts of f − f* ≤ tol", tol,
                            worst, 0.0, "le", SOURCE_CONVERGE,
                            f"{len(starts)} starts in [{starts.min():g}, {starts.max():g}]"))

    fig = cycle_figure(spec, runs, cycle, p, scan, len(starts) - len(scan))
    figure_path = save(fig, out_dir / "heavy_ball_cycle", fmt, dpi)
    save_arrays(out_dir / "heavy_ball_cycle.npz", **arrays)
    theory = theory_table(claims)
    rows = [dict(method=r["method"], label=r["label"], optimizer=r["optimizer"], hyper=r["hyper"],
                 final_x_main=float(r["x"][0, -1]), last3_main=r["x"][0, -3:].tolist(),
                 max_final_gap=float(np.nanmax(r["gap"])), n_starts=len(starts)) for r in runs]
    doc = dict(study=NAME, objective=OBJECTIVE, mu=mu, L=L, steps=steps, tol=tol,
               cycles=[dict(points=c["points"].tolist(), pattern=list(c["pattern"]), radius=c["radius"])
                       for c in cycles],
               measured_period=period, measured_points=last.tolist(), share_on_cycle=share, runs=rows,
               theory=theory, figures=[figure_path.name])
    text = format_table(claims) + "\n" + theory_summary(claims)
    return finish(out_dir, doc, {"study": NAME, "title": "heavy_ball_cycle: heavy ball tuned for quadratics cycles on "
                                 "a strongly convex function; GD and Nesterov converge", "runs": rows,
                                 "theory": theory, "figures": [figure_path.name], "table": text})
