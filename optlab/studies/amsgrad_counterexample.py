r"""amsgrad_counterexample: Adam ends at the worst point of an online problem, AMSGrad at the best.

Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018,
Section 5 (synthetic experiments), with the paper's constants (objective
``online_linear``): on the interval [-1, 1],

.. math::

    f_t(x) = \begin{cases} 1010\,x & t \bmod 101 = 1 \\ -10\,x & \text{otherwise} \end{cases}
    \qquad\text{(deterministic, "online")}

or :math:`f_t(x) = 1010x` with probability 0.01, else :math:`-10x`
(stochastic). Over a period the gradients sum to 1010 - 100 * 10 = 10 > 0
(in expectation 0.2 per step), so x = -1 is the best fixed point and x = +1
the worst. Both methods are torch's ``Adam(betas=(0.9, 0.99))``, with and
without ``amsgrad``, at the step size :math:`\alpha/\sqrt t`
(``LambdaLR`` with ``lr_lambda = 1 / (epoch + 1) ** 0.5``: torch applies
``lr_lambda(0)`` to the first step, so step t = 1, 2, ... uses
:math:`\alpha/\sqrt t`), and x clamped into [-1, 1] after every step
(``p.clamp_(-1, 1)``).

**Why Adam goes the wrong way** (deterministic). The gradient does not depend
on x, so Adam's moments are a fixed sequence; after the bias corrections have
died out they are P-periodic (P = 101): at phase s (s = 0 the large
gradient)

.. math::

    m_s = \frac{1-\beta_1}{1-\beta_1^P}\sum_{k=0}^{P-1}\beta_1^k g_{s-k}, \qquad
    v_s = \frac{1-\beta_2}{1-\beta_2^P}\sum_{k=0}^{P-1}\beta_2^k g_{s-k}^2,

and the step is :math:`x \leftarrow x - \mathrm{lr}\,u_s` with
:math:`u_s = m_s/(\sqrt{v_s} + \epsilon)` (AMSGrad: :math:`\sqrt{\max_s v_s}`
in the denominator, the limit of its running maximum). One period moves x by
:math:`-\mathrm{lr}\,S`, :math:`S = \sum_s u_s` (:func:`periodic_steps`).
With the paper's constants S = -1.9009 for Adam: the large gradient is
divided by a large :math:`\sqrt v` and forgotten by m within ~20 steps
(:math:`\beta_1` = 0.9), while the hundred small ones are divided by a
:math:`\sqrt v` that decays (:math:`\beta_2` = 0.99: 100 steps per factor e), so
the net move is *up*, away from the optimum. For AMSGrad every step is divided by the same
:math:`\sqrt{\max v}`, so S = (sum of the gradients over a period)/sqrt(max v)
> 0: the net move is down, to x = -1. The predicted end is +1 when S < 0 and
-1 when S > 0; since :math:`\sum_t \alpha/\sqrt t` diverges, the iterates get
there. Once there, the distance d to the end obeys Lindley's recursion
:math:`d_{t+1} = \max(0, d_t + \mathrm{lr}_t w_t)` (w = u at +1, -u at -1);
with the lr frozen over a period its periodic solution is
:math:`d_t = \mathrm{lr}_t D_{t \bmod P}`, D the periodic solution at unit lr
(:func:`periodic_distance`; it has a zero every period, since a whole period
adds S e < 0). So the run is predicted step by step, sawtooth included:
:math:`x_t = e - e\,\mathrm{lr}_t D_{t \bmod P}` (:func:`pinned_path`). The lr
of the steps in the last period before t differs from :math:`\mathrm{lr}_t` by
at most :math:`\mathrm{lr}_{t-P} - \mathrm{lr}_t`, so
:math:`|d_t - \mathrm{lr}_t D| \le (\mathrm{lr}_{t-P} - \mathrm{lr}_t)\sum_s |u_s|`.

**Claims** (the tolerances are these bounds, not fitted):

* drift: in an unclamped run at constant lr = 1, one period, once
  :math:`\beta_2^t` is below the dtype's eps, moves x by -S, relative
  tolerance 1e-9 (float64 rounding);
* position: the mean of x over the last period is the mean of the predicted
  path there, within :math:`(\mathrm{lr}_{T-2P+1} - \mathrm{lr}_{T-P+1})\sum_s|u_s|`
  (plus 1000 eps), for every start in ``x0`` (the update does not depend on
  x, so every start ends on the same path once it touches the end);
* regret: the average regret over the last half of the run (whole periods),
  :math:`\frac1W\sum_{t \in W} f_t(x_t) - \min_{x\in[-1,1]} \frac1W\sum_{t\in W} f_t(x)`,
  is that of the predicted path, within the mean |c| times the bound above.
  Sitting exactly at +1 would give 2 * 10/101 = 0.198 (Adam's average regret
  does not go to 0), at -1 zero; the sawtooth adds ~D lr;
* stochastic (``n_stochastic`` trajectories, draws keyed by (seed,
  trajectory, step) so Adam and AMSGrad see the same draws): the mean step per
  unit lr of an unclamped constant-lr run over its second half has the sign
  that sends Adam up and AMSGrad down (a sign claim; the value and its
  standard error are in ``where``). Adam's mean final x over the trajectories
  is +1 within the mean distance of a reflected random walk with that drift
  :math:`\mu` and long-run variance :math:`\sigma^2` per unit lr,
  :math:`\mathrm{lr}_T\,\sigma^2/(2\mu)` (the stationary law of reflected
  Brownian motion with drift is exponential with that mean; Adam's increments
  -- a steady climb and rare large drops -- stay closer to the end than that).
  AMSGrad's mean final x is on the optimum's side, <= 0: its drift per step,
  ~0.2/sqrt(max v), is 70 times smaller than Adam's, the first hundred steps
  (before the first large gradient, AMSGrad's max v is 100) carry it to +1,
  and the way back takes millions of steps -- the default 4 million brings
  the mean to about -0.94, the reflected-walk prediction; the quick mode's
  200,000 only to about -0.5. The page shows both.

References: S. J. Reddi, S. Kale & S. Kumar, ICLR 2018, Sec. 3 (the
non-convergence argument) and Sec. 5 (these problems); D. P. Kingma &
J. Ba, ICLR 2015 (Adam); J. M. Harrison, "Brownian Motion and Stochastic Flow
Systems" (1985), Sec. 5.6 (reflected Brownian motion); D. V. Lindley, Proc.
Camb. Phil. Soc. 48 (1952) (the recursion).
"""
from __future__ import annotations

import math

import numpy as np

from .. import objectives, simulate
from ..errors import OptlabError
from ..objectives.online_linear import coefficients
from ..plots import save
from ..plots.online import online_figure
from ..theory import Claim, format_table, summary as theory_summary, table as theory_table
from . import register
from ._lecture import as_float_list, engine_options, finish, plot_options, positive_int, save_arrays, study_params

NAME = "amsgrad_counterexample"
OBJECTIVE = "online_linear"

DEFAULTS = dict(
    alpha=1.0,                    # step size alpha / sqrt(t)
    betas=[0.9, 0.99],            # the paper's beta1, beta2
    eps=1.0e-8,                   # torch's default
    C=1010.0,                     # f_t = C x at t mod period = 1 (or with probability `probability`) ...
    D=10.0,                       # ... else -D x
    period=101,
    probability=0.01,
    x0=[-1.0, 0.0, 1.0],          # starts of the deterministic runs
    steps=1000000,                # deterministic runs (x recorded every step: the regret)
    stochastic_steps=4000000,     # stochastic runs
    n_stochastic=32,              # trajectories of the stochastic runs (each its own draws)
    n_drift=256,                  # trajectories of the stochastic drift runs (one block: as cheap as one)
    drift_periods=100,            # deterministic drift run: periods at constant lr = 1, unclamped (at least
                                  # until beta2^t < eps)
    drift_steps=1000000,          # stochastic drift runs: steps at constant lr = 1, unclamped
)
QUICK = dict(steps=100000, stochastic_steps=200000, n_stochastic=16, drift_steps=200000)

SOURCE = "Reddi, Kale & Kumar, ICLR 2018, Sec. 3 and 5"
SOURCE_WALK = "reflected random walk with drift: Lindley (1952); Harrison (1985), Sec. 5.6"
METHODS = (("adam", False, "Adam"), ("amsgrad", True, "AMSGrad"))
DRIFT_RTOL = 1e-9          # float64; float32: 1e-3
MAX_PLOT_POINTS = 2500


def inverse_sqrt(epoch: int) -> float:
    """``lr_lambda`` of the paper's step size: 1/sqrt(epoch + 1), so that step t = epoch + 1 uses
    alpha/sqrt(t) (the same as the expression ``"1 / (epoch + 1) ** 0.5"``)."""
    return 1 / (epoch + 1) ** 0.5


LR_LAMBDA_TEXT = "1 / (epoch + 1) ** 0.5"


# --- theory --------------------------------------------------------------------------------------

def period_gradients(C: float, D: float, period: int) -> np.ndarray:
    """The gradients of one period, phase 0 first: C, then -D (period - 1 times)."""
    g = np.full(int(period), -float(D))
    g[0] = float(C)
    return g


def periodic_moments(g, beta1: float, beta2: float):
    """(m, v): Adam's moments in the periodic steady state of the gradient period ``g`` (the
    limits of torch's exp_avg and exp_avg_sq at each phase; the bias corrections are then 1)."""
    g = np.asarray(g, dtype=float)
    p = len(g)
    k = np.arange(p)
    idx = (np.arange(p)[:, None] - k[None, :]) % p
    m = (1 - beta1) / (1 - beta1 ** p) * (beta1 ** k[None, :] * g[idx]).sum(axis=1)
    v = (1 - beta2) / (1 - beta2 ** p) * (beta2 ** k[None, :] * (g * g)[idx]).sum(axis=1)
    return m, v


def periodic_steps(g, beta1: float, beta2: float, eps: float, amsgrad: bool) -> np.ndarray:
    """u_s: the step per unit lr at each phase (x <- x - lr u_s) in the steady state; AMSGrad
    divides by the square root of the largest v."""
    m, v = periodic_moments(g, beta1, beta2)
    denom = np.sqrt(v.max() if amsgrad else v) + eps
    return m / denom


def sawtooth(w) -> float:
    """A = the largest sum of ``w`` over a circular window of 1 to len(w) consecutive phases
    (0 if none is positive): the bound of Lindley's recursion d <- max(0, d + w) once the
    sum over a whole period is negative."""
    w = np.asarray(w, dtype=float)
    p = len(w)
    ww = np.concatenate([w, w])
    best = 0.0
    for i in range(p):
        best = max(best, float(np.max(np.cumsum(ww[i:i + p]))))
    return best


def predicted_end(S: float) -> float:
    """+1 when a period's steps sum to a move up (S < 0), -1 when down."""
    return 1.0 if S < 0 else -1.0


def periodic_distance(w, max_periods: int = 100000) -> np.ndarray:
    """D_s: the periodic solution of Lindley's recursion D <- max(0, D + w_s) (unit lr), D_s the
    distance to the end before the step of phase s. Requires sum(w) < 0; found by iterating from
    0 until a period repeats exactly (after the first zero the sequence no longer depends on where
    it started)."""
    w = np.asarray(w, dtype=float)
    if not w.sum() < 0:
        raise OptlabError(f"Invalid steps: their sum over a period is {w.sum():g} (must be < 0 for the iterates "
                          "to stay at the end)")
    d, prev = 0.0, None
    for _ in range(max_periods):
        out = np.empty(len(w))
        for s, ws in enumerate(w):
            out[s] = d
            d = max(0.0, d + ws)
        if prev is not None and np.array_equal(out, prev):
            return out
        prev = out
    raise OptlabError("Lindley's recursion did not become periodic")  # pragma: no cover - sum(w) < 0


def end_regret(g, end: float) -> float:
    """Average regret per step of sitting exactly at ``end`` for whole periods: (sum g * end + |sum g|)/P
    (the sawtooth adds to it; see :func:`pinned_path`)."""
    g = np.asarray(g, dtype=float)
    return float((g.sum() * end + abs(g.sum())) / len(g))


def pinned_path(t, lr, D, end: float) -> np.ndarray:
    """x_t at the end with its sawtooth: end - end * lr_t * D_{t mod P} (t the 0-based step whose
    gradient is taken at x_t; the lr varies little within a period, see the module docstring)."""
    t = np.asarray(t)
    return end - end * np.asarray(lr) * D[t % len(D)]


# --- the study -----------------------------------------------------------------------------------

def _params(cfg: dict) -> dict:
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    out = dict(quick=p["quick"])
    out["alpha"] = as_float_list("alpha", p["alpha"], minimum=0.0)[0]
    if not out["alpha"] > 0:
        raise OptlabError(f"Invalid study.alpha: {p['alpha']!r} (must be > 0)")
    betas = as_float_list("betas", p["betas"])
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise OptlabError(f"Invalid study.betas: {p['betas']!r} (must be [beta1, beta2], each in [0, 1))")
    out["betas"] = betas
    out["eps"] = as_float_list("eps", p["eps"], minimum=0.0)[0]
    out["C"] = as_float_list("C", p["C"])[0]
    out["D"] = as_float_list("D", p["D"])[0]
    out["period"] = positive_int("period", p["period"], minimum=2)
    out["probability"] = as_float_list("probability", p["probability"])[0]
    objectives.get(OBJECTIVE).make_params(1, C=out["C"], D=out["D"], period=out["period"],
                                          probability=out["probability"])   # the objective's checks
    x0 = as_float_list("x0", p["x0"])
    if not x0 or any(not -1.0 <= v <= 1.0 for v in x0):
        raise OptlabError(f"Invalid study.x0: {p['x0']!r} (must be starts in [-1, 1])")
    out["x0"] = x0
    for key in ("steps", "stochastic_steps", "drift_steps"):
        out[key] = positive_int(key, p[key], minimum=20 * out["period"])
    out["n_stochastic"] = positive_int("n_stochastic", p["n_stochastic"], minimum=2)
    out["n_drift"] = positive_int("n_drift", p["n_drift"], minimum=2)
    out["drift_periods"] = positive_int("drift_periods", p["drift_periods"], minimum=20)
    return out


def kernels(cfg: dict) -> list:
    """Adam with the LambdaLR schedule and bounds (the runs), and plain Adam (the drift runs)."""
    from ..engine.warmup import KernelKey
    _params(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    # LambdaLR runs as per-step operations in every dtype (optlab.schedulers.program.applies)
    return [KernelKey("adam", OBJECTIVE, 1, dtype, "program", True),
            KernelKey("adam", OBJECTIVE, 1, dtype)]


def _objective_options(p, stochastic: bool) -> dict:
    return dict(C=p["C"], D=p["D"], period=p["period"], stochastic=stochastic, probability=p["probability"])


def _adam(p, amsgrad: bool) -> dict:
    return dict(betas=tuple(p["betas"]), eps=p["eps"], amsgrad=amsgrad)


def _plot_index(n: int) -> np.ndarray:
    """About MAX_PLOT_POINTS record indices, log-spaced in t (0 and the last included)."""
    if n <= MAX_PLOT_POINTS:
        return np.arange(n)
    idx = np.unique(np.concatenate([[0], np.geomspace(1, n - 1, MAX_PLOT_POINTS).astype(np.int64), [n - 1]]))
    return idx


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """Adam and AMSGrad (torch's Adam, amsgrad off/on) at alpha/sqrt(t) on Reddi et al.'s online problem,
    deterministic and stochastic: where they end, the drift per period, the regret."""
    p = _params(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    dtype = np.dtype(eng.get("dtype", "float64"))
    b1, b2 = p["betas"]
    P = p["period"]
    g = period_gradients(p["C"], p["D"], P)
    sched = {"name": "LambdaLR", "lr_lambda": inverse_sqrt}
    rtol = DRIFT_RTOL if dtype == np.float64 else 1e-3
    eps_dt = float(np.finfo(dtype).eps)
    claims, arrays, rows = [], {}, {}
    theory = {}
    for key, ams, label in METHODS:
        u = periodic_steps(g, b1, b2, p["eps"], ams)
        S = float(u.sum())
        end = predicted_end(S)
        theory[key] = dict(label=label, u=u, S=S, end=end, A=sawtooth(end * u), D=periodic_distance(end * u),
                           abs_sum=float(np.abs(u).sum()), regret=end_regret(g, end))
        arrays[f"theory__{key}__u"] = u

    # 1. deterministic drift per period: unclamped, constant lr = 1, long enough for beta2^t (the slowest
    #    memory: the bias corrections and AMSGrad's running max) to fall below the dtype's eps
    settle = math.ceil(math.log(eps_dt) / math.log(max(b1, b2, 1e-300)) / P) + 2 if max(b1, b2) > 0 else 2
    n_drift = max(p["drift_periods"], settle) * P
    for key, ams, label in METHODS:
        th = theory[key]
        res = simulate("adam", OBJECTIVE, x0=[[0.0]], steps=n_drift, record_every=P, lr=1.0, blowup=math.inf,
                       tol=0.0, objective_options=_objective_options(p, False), **_adam(p, ams), **eng)
        x = res.x[0, :, 0]
        measured = float(x[-1] - x[-2])
        th["drift_measured"] = measured
        arrays[f"drift__{key}__x_per_period"] = x
        claims.append(Claim(f"{label}: one period of steady-state steps moves x by −S "
                            f"({'up, away from' if -th['S'] > 0 else 'down, to'} the optimum)",
                            "−Σ_s m_s/(√v_s + ε) (AMSGrad: √max v)", -th["S"], measured, rtol, "rel", SOURCE,
                            f"lr = 1, unclamped, period {n_drift // P} of {P} steps"))

    # 2. deterministic runs: alpha/sqrt(t), clamped, every start, x and the loss every step
    T = p["steps"]
    c_det = coefficients(T, C=p["C"], D=p["D"], period=P)[0]
    det = {}
    for key, ams, label in METHODS:
        th = theory[key]
        res = simulate("adam", OBJECTIVE, x0=np.array(p["x0"])[:, None], steps=T, record_every=1, lr=p["alpha"],
                       scheduler=sched, bounds=(-1.0, 1.0), blowup=math.inf, tol=0.0,
                       objective_options=_objective_options(p, False), **_adam(p, ams), **eng)
        x = res.x[:, :, 0]
        lr = res.lr[0]
        loss = res.loss[:, :T]                                    # f_t(x_t), t = 1 .. T
        # the last period's iterates x_{T-P+1} .. x_T and the last half's whole periods
        last = np.arange(T - P + 1, T + 1)
        mean_last = x[:, last].mean(axis=1)
        pred_last = float(pinned_path(last, lr[last], th["D"], th["end"]).mean())
        # |d_t - lr_t D_s| <= (lr_{t-P} - lr_t) * sum|u|: the lr of the window's steps differs from lr_t
        tol_pos = float((lr[T - 2 * P + 1] - lr[T - P + 1]) * th["abs_sum"]) + 1e3 * eps_dt
        worst = int(np.argmax(np.abs(mean_last - pred_last)))
        claims.append(Claim(f"{label} ends at x = {th['end']:+g} "
                            f"({'the worst point' if th['end'] > 0 else 'the optimum'}) with the predicted sawtooth: "
                            "mean of x over the last period", "end − end·lr_t·D_(t mod P) (Lindley)", pred_last,
                            float(mean_last[worst]), tol_pos, "abs", SOURCE,
                            f"worst of x0 = {', '.join(f'{v:g}' for v in p['x0'])}; {T} steps, α = {p['alpha']:g}"))
        K = (T // 2) // P
        W = K * P
        win = np.arange(T - W, T)
        cw = c_det[win]
        reg_window = (loss[:, win].sum(axis=1) + abs(cw.sum())) / W
        pred_reg = float(((cw * pinned_path(win, lr[win], th["D"], th["end"])).sum() + abs(cw.sum())) / W)
        tol_reg = float(np.abs(cw).mean() * (lr[T - W - P] - lr[T - W]) * th["abs_sum"]) + 1e3 * eps_dt
        reg_full = (np.cumsum(loss, axis=1) + np.abs(np.cumsum(c_det))[None, :]) / np.arange(1, T + 1)[None, :]
        worst_r = int(np.argmax(np.abs(reg_window - pred_reg)))
        claims.append(Claim(f"{label}: average regret over the last half is that of its sawtooth at x = {th['end']:+g}"
                            + (" (it does not go to 0)" if th["end"] > 0 else ""),
                            "(1/W) Σ c_t x_t + |Σ c_t|/W on the predicted path", pred_reg, float(reg_window[worst_r]),
                            tol_reg, "abs", SOURCE, f"last {K} periods of {T} steps, worst start"))
        idx = _plot_index(T + 1)
        arrays[f"det__{key}__t"] = idx
        arrays[f"det__{key}__x"] = x[:, idx]
        arrays[f"det__{key}__avg_regret"] = reg_full[:, np.minimum(np.maximum(idx, 1), T) - 1]
        if key == "adam":
            arrays["det__lr"] = lr[idx[idx < T]]
            arrays["det__lr_t"] = idx[idx < T]
        det[key] = dict(x=x[:, idx], t=idx, regret=reg_full[:, np.minimum(np.maximum(idx, 1), T) - 1])
        rows[key] = dict(label=label, S=th["S"], predicted_end=th["end"], sawtooth_A=th["A"],
                         sawtooth_mean_D=float(th["D"].mean()), drift_per_period_measured=th["drift_measured"],
                         final_x=x[:, -1].tolist(), mean_last_period=mean_last.tolist(),
                         mean_last_period_predicted=pred_last, position_tolerance=tol_pos,
                         regret_window=reg_window.tolist(), regret_window_predicted=pred_reg,
                         regret_at_end_without_sawtooth=th["regret"],
                         regret_tolerance=tol_reg, average_regret_full=reg_full[:, -1].tolist())

    # 3. stochastic: drift at constant lr = 1 (unclamped), then the clamped alpha/sqrt(t) runs
    N, Nd = p["n_stochastic"], p["n_drift"]
    Td = p["drift_steps"]
    Ts = p["stochastic_steps"]
    sto = {}
    for key, ams, label in METHODS:
        res = simulate("adam", OBJECTIVE, x0=np.zeros((Nd, 1)), steps=Td, record_every=Td // 2, lr=1.0,
                       blowup=math.inf, tol=0.0, objective_options=_objective_options(p, True),
                       **_adam(p, ams), **eng)
        dx = res.x[:, 2, 0] - res.x[:, 1, 0]
        half = Td // 2
        mu = float(dx.mean() / half)                     # mean step per unit lr, + = up (away from -1)
        se = float(dx.std(ddof=1) / math.sqrt(Nd) / half)
        sigma2 = float(dx.var(ddof=1) / half)            # long-run variance per step, unit lr
        sto[key] = dict(mu=mu, se=se, sigma2=sigma2)
        way = "up, away from" if key == "adam" else "down, to"
        claims.append(Claim(f"{label} (stochastic): the mean step moves x {way} the optimum",
                            "sign of E[Δx] per unit lr", 0.0, mu, 0.0, "ge" if key == "adam" else "le", SOURCE,
                            f"{Nd} draws, lr = 1, unclamped, steps {half}–{Td}: {mu:.4g} ± {se:.2g} (s.e.)"))
    for key, ams, label in METHODS:
        s = sto[key]
        every = max(1, Ts // 1000)
        res = simulate("adam", OBJECTIVE, x0=np.zeros((N, 1)), steps=Ts, record_every=every, lr=p["alpha"],
                       scheduler=sched, bounds=(-1.0, 1.0), blowup=math.inf, tol=0.0,
                       objective_options=_objective_options(p, True), **_adam(p, ams), **eng)
        x = res.x[:, :, 0]
        t_rec = res.steps
        if every > 1:
            # the first `every` steps again, recorded every every/1000-th step: the same draws (keyed by
            # step), so the same trajectories; on panel (b)'s log-t axis the uniform records alone
            # drew the first 3.6 decades as one straight segment (AMSGrad's early rise was invisible)
            early = simulate("adam", OBJECTIVE, x0=np.zeros((N, 1)), steps=every, record_every=max(1, every // 1000),
                             lr=p["alpha"], scheduler=sched, bounds=(-1.0, 1.0), blowup=math.inf, tol=0.0,
                             objective_options=_objective_options(p, True), **_adam(p, ams), **eng)
            t_rec = np.concatenate([early.steps[:-1], res.steps[1:]])
            x = np.concatenate([early.x[:, :-1, 0], x[:, 1:]], axis=1)
        lr_T = p["alpha"] * inverse_sqrt(Ts - 1)              # the last step's lr
        final = res.x_final[:, 0]
        mean_final = float(final.mean())
        walk = lr_T * s["sigma2"] / (2.0 * abs(s["mu"])) if s["mu"] != 0 else math.inf
        s.update(mean_final=mean_final, final=final.tolist(), lr_T=lr_T, walk_distance=walk,
                 walk_prediction=(1.0 - walk) if s["mu"] > 0 else (-1.0 + walk))
        if key == "adam":
            claims.append(Claim("Adam (stochastic) ends at x = +1, the worst point: mean over draws of the final x",
                                "+1 within lr_T σ²/(2μ) (reflected walk)", 1.0, mean_final, walk, "abs", SOURCE_WALK,
                                f"{N} draws, {Ts} steps, α = {p['alpha']:g}; μ, σ² from the drift run"))
        else:
            claims.append(Claim("AMSGrad (stochastic) ends on the optimum's side: mean over draws of the final x",
                                "≤ 0 (drift toward −1, slow: see the page)", 0.0, mean_final, 0.0, "le", SOURCE,
                                f"{N} draws, {Ts} steps; reflected-walk value once settled: "
                                f"{s['walk_prediction']:.3f}"))
        arrays[f"sto__{key}__t"] = t_rec
        arrays[f"sto__{key}__x"] = x
        sto[key].update(t=t_rec, x=x)

    fig = online_figure(theory, det, sto, arrays, p)
    figure_path = save(fig, out_dir / NAME, fmt, dpi)
    save_arrays(out_dir / f"{NAME}.npz", **arrays)
    table = theory_table(claims)
    stochastic_rows = {k: {kk: vv for kk, vv in v.items() if kk not in ("t", "x")} for k, v in sto.items()}
    doc = dict(study=NAME, objective=OBJECTIVE, alpha=p["alpha"], betas=p["betas"], eps=p["eps"],
               lr_lambda=LR_LAMBDA_TEXT, problem=dict(C=p["C"], D=p["D"], period=P, probability=p["probability"]),
               steps=T, stochastic_steps=Ts, n_stochastic=N, deterministic=rows, stochastic=stochastic_rows,
               theory=table, figures=[figure_path.name])
    text = _table(rows, stochastic_rows) + "\n\n" + format_table(claims) + "\n" + theory_summary(claims)
    return finish(out_dir, doc, {"study": NAME, "title": "amsgrad_counterexample: Adam ends at the worst point of "
                                 "Reddi et al.'s online problem, AMSGrad at the optimum", "deterministic": rows,
                                 "stochastic": stochastic_rows, "theory": table, "figures": [figure_path.name],
                                 "table": text})


def _table(rows, sto) -> str:
    head = f"{'method':<9} {'S':>9} {'end':>4} {'mean x, last period':>20} {'predicted':>10} " \
           f"{'avg regret, 2nd half':>21} {'predicted':>10} {'stochastic mean x':>18}"
    lines = [head, "-" * len(head)]
    for key, r in rows.items():
        lines.append(f"{r['label']:<9} {r['S']:>9.4f} {r['predicted_end']:>+4.0f} {r['mean_last_period'][0]:>20.6f} "
                     f"{r['mean_last_period_predicted']:>10.6f} {r['regret_window'][0]:>21.6f} "
                     f"{r['regret_window_predicted']:>10.6f} {sto[key]['mean_final']:>18.4f}")
    return "\n".join(lines)
