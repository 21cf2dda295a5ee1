r"""lr_range_test: Smith's learning-rate range test and fastai's suggestion rules, scored against
the truth a batched sweep gives.

**The test** (L. N. Smith, "Cyclical Learning Rates for Training Neural
Networks", WACV 2017, Sec. 3.3; fastai's ``Learner.lr_find``): one run whose
lr grows exponentially, :math:`\mathrm{lr}_i = \mathrm{start}\cdot q^i`,
:math:`q = (\mathrm{end}/\mathrm{start})^{1/\mathrm{num\_it}}`, for ``num_it``
steps -- here torch's ``ExponentialLR(gamma=q)`` on GD (``SGD``, momentum 0)
-- recording the loss :math:`f(x_i)` with the lr :math:`\mathrm{lr}_i` of the
step about to be taken, as fastai's recorder pairs them. fastai's
conventions (``fastai/callback/schedule.py``): stop when the (smoothed) loss
exceeds ``stop_div`` = 4 times the best so far; score the points from
``num_it // 10`` to the fifth from the end; the suggestion rules

* ``minimum``: the lr of the lowest loss, divided by 10;
* ``steep``: the lr where the loss falls fastest against log lr
  (:math:`\min_i (\ell_{i+1} - \ell_i)/(\log \mathrm{lr}_{i+1} - \log \mathrm{lr}_i)`);
* ``valley`` (fastai's default): from the longest decreasing run ending at
  :math:`i_{\max}` (longest decreasing subsequence, taken as a run), the point
  :math:`\lfloor n/3\rfloor + \lfloor n/6 \rfloor` past its start.

fastai smooths its minibatch losses with an exponential moving average
(beta = 0.98, bias-corrected, fastai/learner.py ``AvgSmoothLoss``); the
losses here are exact full-batch values, so ``smoothing`` is 0 by default.
With beta = 0.98 the average lags by beta/(1 - beta) = 49 steps, q^49 = 30x
in lr at the default grid, more than the minimum rule's factor 10: then it
picks *above* the edge (``study.smoothing=0.98``; the page shows it).

**The truth.** Per objective and start, a sweep of fixed lrs (one engine
call, every lr a trajectory; ``per_decade`` per decade over the same range)
run for ``steps`` steps: the best lr (the smallest final gap
:math:`f - f^*`) and the edge, the geometric midpoint around the first lr
above the best at which the loss grows over the second half of the run while
above the converged level :math:`10^{-\mathrm{cap}} g_0` (or ends above its start,
or blows up). A pick's quality is its *efficiency*
:math:`\log(g_0/g_{\mathrm{pick}})/\log(g_0/g_{\mathrm{best}})` (gaps floored at
:math:`10^{-\mathrm{cap}} g_0`: ``cap`` orders of magnitude count as
converged): the share of the best run's orders of magnitude of reduction the
pick achieves in the same budget; for linearly convergent runs, 0.5 means
"twice the steps". A pick is good when its efficiency is >= ``good`` (0.5),
i.e. its final gap is within a factor :math:`\sqrt{g_0/g_{\mathrm{best}}}` of the
best's. (A fixed factor such as 10 would hinge on the budget: on a quadratic
the gaps differ by :math:`e^{\Theta(\mathrm{steps})}`; ``metrics.json`` keeps that
share too.) For the mlp, whose minimum is unknown, :math:`f^* = 0` (a lower
bound of its cross-entropy).

**Theory on a quadratic** (:math:`f = \tfrac12 (x-x^*)^\top A (x-x^*)`, GD
multiplies the component along an eigenvector of A, eigenvalue
:math:`\lambda`, by :math:`1 - \mathrm{lr}\,\lambda`):

* the loss falls at every step with :math:`\mathrm{lr} \le 2/L` (every factor
  has modulus < 1, or 1 at lr = 2/L on the top one), so the range test's first
  loss increase comes at an lr > 2/L; with a single curvature (kappa = 1) the
  loss ratio of a step is exactly :math:`(1 - \mathrm{lr}\,L)^2`, so the first
  increase is the first grid lr above 2/L: within a factor q of it -- the
  grid's ratio per step is the only error;
* with several curvatures the test goes *past* 2/L: near lr = 1/L the factor
  :math:`1 - \mathrm{lr}\,L` passes close to 0 and wipes out the top component,
  which must regrow from nearly nothing once lr > 2/L while the others keep
  falling. The closed form
  :math:`f_i = \tfrac12\sum_k \lambda_k z_k^2 \prod_{j<i}(1 - \mathrm{lr}_j\lambda_k)^2`
  (z the start in A's eigenbasis) puts the first increase at 6.4 (kappa = 10)
  and 12 (kappa = 100) times 2/L in exact arithmetic; in floating point the
  rounding of x re-seeds every component at about :math:`\epsilon |x|`, and
  the same recursion with that floor (:func:`quadratic_losses`) puts it at 4.3
  and 5.6 times 2/L. The run lies in that band. This overshoot is why
  ``minimum``'s factor 10 keeps it below the edge on these problems;
* the fixed-lr sweep's edge is 2/L within one grid step.

**Claims.** Per quadratic and start: no step with lr <= 2/L raises the loss
(a count, 0); the first increase inside
the closed form's band, floored to exact (one grid step of slack); the sweep's
edge at 2/L (one grid step); for kappa = 1, within a factor q. Per rule, over
every case: no pick is past the sweep's edge (a count, ``le`` 0; a pick
between the last good and the first failing lr of the grid is judged by its
own fixed-lr run). ``minimum`` and ``steep`` pick well more often than a
log-uniform random lr over the tested range (the share of good lrs in the
sweep's grid; ``ge``). ``valley`` does not (1 of 12 with the defaults, chance
14%), and the claim says why: on an exact loss that falls from the first
scored step and then rises, fastai's longest valley is the whole fall
(m + 1 points, m the minimum's index), so its pick is the point
:math:`-1 + \lfloor (m+1)/3 \rfloor + \lfloor (m+1)/6 \rfloor`, about the
log-midpoint of the first scored lr and the lowest loss's, decades below the
best (:func:`valley_midpoint`; exact, over the cases of that shape).

References: L. N. Smith, WACV 2017 (the range test); fastai
``fastai/callback/schedule.py`` (``LRFinder``, ``valley``, ``steep``,
``minimum``, ``lr_find``) and ``fastai/learner.py`` (``AvgSmoothLoss``);
torch.optim.lr_scheduler.ExponentialLR (torch 2.13).
"""
from __future__ import annotations

import math

import numpy as np

from .. import simulate, sweep
from ..errors import OptlabError
from ..plots import save
from ..plots.range_test import range_test_figure
from ..theory import Claim, format_table, summary as theory_summary, table as theory_table
from . import register
from ._lecture import (as_float_list, constant_hessian, curvature_at_minimum, engine_options, finish, in_grid,
                       objective_entries, plot_options, positive_int, save_arrays, sgd_like, study_params)

NAME = "lr_range_test"

DEFAULTS = dict(
    objectives=[
        {"name": "quadratic", "cond": 1.0, "angle": 30.0, "x0": [[1.0, 1.0]]},
        {"name": "quadratic", "cond": 10.0, "angle": 30.0, "x0": [[1.0, 1.0], [-1.8, 1.5]]},
        {"name": "quadratic", "cond": 100.0, "angle": 30.0, "x0": [[1.0, 1.0]]},
        # 500 steps leave GD in Rosenbrock's valley: a period-2 cycle across it above 2/L (gap 0.34)
        # then beat every converging run; 5,000 steps let those through (cheap: 2-D)
        {"name": "rosenbrock", "x0": [[-1.2, 1.0], [1.2, 1.2]], "steps": 5000},
        {"name": "linear_regression", "x0": [[-3.5, 3.5], [3.5, 3.0]]},
        {"name": "logistic_regression", "x0": [[-5.0, 5.0], [5.0, 4.0]]},
        {"name": "mlp", "dim": 33, "random_x0": [2, 0.5]},
    ],
    start_lr=1.0e-6,       # the range test's first lr (fastai: 1e-7)
    end_lr=1000.0,         # and the end of its range (fastai: 10; the edges here reach ~95)
    num_it=300,            # steps of the range test (fastai: 100)
    smoothing=0.0,         # fastai's EMA of the losses (0.98 there, for minibatch losses; these are exact)
    stop_div=4.0,          # stop when the loss exceeds this times the best (fastai: 4); 0: never
    steps=500,             # budget of every fixed-lr run of the sweep
    per_decade=20,         # sweep grid: lrs per decade over [start_lr, end_lr]
    cap=12.0,              # orders of magnitude of gap reduction that count as converged
    good=0.5,              # a pick is good when its efficiency is at least this
)
QUICK = dict(
    objectives=[
        {"name": "quadratic", "cond": 1.0, "angle": 30.0, "x0": [[1.0, 1.0]]},
        {"name": "quadratic", "cond": 10.0, "angle": 30.0, "x0": [[1.0, 1.0]]},
        {"name": "rosenbrock", "x0": [[1.2, 1.2]], "steps": 5000},
        {"name": "linear_regression", "x0": [[-3.5, 3.5]]},
        {"name": "logistic_regression", "x0": [[-5.0, 5.0]]},
    ],
    steps=300, per_decade=10,
)
EXTRA = ("x0", "random_x0", "steps")
RULES = ("minimum", "steep", "valley")
SOURCE_SMITH = "Smith, WACV 2017, Sec. 3.3; fastai lr_find"
SOURCE_FASTAI = "fastai/callback/schedule.py (LRFinder, minimum, steep, valley)"
SOURCE_GD = "GD on a quadratic: each eigencomponent times (1 − lr λ) per step"


# --- fastai's conventions and rules ---------------------------------------------------------------

def smooth(losses, beta: float) -> np.ndarray:
    """fastai's AvgSmoothLoss: val <- lerp(loss, val, beta) = loss + beta (val - loss), reported as
    val / (1 - beta^count). beta = 0: the losses themselves."""
    losses = np.asarray(losses, dtype=float)
    if beta == 0.0:
        return losses.copy()
    out = np.empty_like(losses)
    val = 0.0
    with np.errstate(over="ignore", invalid="ignore"):     # inf - inf once the test has blown up: NaN, as in torch
        for i, v in enumerate(losses):
            val = v + beta * (val - v)
            out[i] = val / (1.0 - beta ** (i + 1))
    return out


def recorded(lrs, losses, num_it: int, beta: float, stop_div: float):
    """(lrs, smoothed losses, n) as fastai's recorder keeps them: n points, the last the one at
    which the smoothed loss first exceeds ``stop_div`` times the best so far (or is not finite)."""
    sm = smooth(losses[:num_it], beta)
    lrs = np.asarray(lrs[:num_it], dtype=float)
    best = math.inf
    n = len(sm)
    for i, v in enumerate(sm):
        if v < best:
            best = v
        if stop_div > 0 and (v > stop_div * best or not math.isfinite(v)):
            n = i + 1
            break
    return lrs[:n], sm[:n], n


def scored(lrs, losses, num_it: int):
    """fastai's lr_find: the points ``num_it // 10`` to the fifth from the end, cut at the first NaN."""
    lrs, losses = np.asarray(lrs)[num_it // 10:-5], np.asarray(losses)[num_it // 10:-5]
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        lrs, losses = lrs[:bad[0]], losses[:bad[0]]
    return lrs, losses


def rule_minimum(lrs, losses) -> float:
    """fastai ``minimum``: the lr of the lowest loss, divided by 10."""
    return float(lrs[int(np.argmin(losses))]) / 10.0


def rule_steep(lrs, losses) -> float:
    """fastai ``steep``: the lr at the most negative slope of the loss against log lr."""
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[int(np.argmin(grads))])


def rule_valley(lrs, losses) -> float:
    """fastai ``valley``: longest decreasing subsequence (lds), its end and start as fastai computes
    them, the point a third and a sixth of its length past the start."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


RULE_FUNCTIONS = {"minimum": rule_minimum, "steep": rule_steep, "valley": rule_valley}


def suggestions(lrs, losses, num_it: int, beta: float, stop_div: float) -> dict:
    """Every rule's lr from one range test (fastai's recording, stopping and scoring)."""
    rl, rs, n = recorded(lrs, losses, num_it, beta, stop_div)
    sl, ss = scored(rl, rs, num_it)
    if len(sl) < 3:
        raise OptlabError(f"The range test stopped after {n} of {num_it} steps, too early to score (fastai scores "
                          f"points {num_it // 10} to n - 5); lower study.start_lr or raise study.num_it")
    return {r: RULE_FUNCTIONS[r](sl, ss) for r in RULES} | {"stopped_at": n, "valley_midpoint": valley_midpoint(sl, ss)}


# --- theory ---------------------------------------------------------------------------------------

def exponential_lrs(start: float, gamma: float, n: int) -> np.ndarray:
    """torch's ExponentialLR: lr_0 = start, lr_i = lr_{i-1} * gamma (chainable, Python floats)."""
    out, lr = [], float(start)
    for _ in range(n):
        out.append(lr)
        lr = lr * gamma
    return np.array(out)


def quadratic_losses(hess, x0, x_star, lrs, floor: float = 0.0) -> np.ndarray:
    """GD's losses f(x_i) - f* on the quadratic with Hessian ``hess``, from x0, at the lrs given (one
    per step), computed in A's eigenbasis: z_k <- (1 - lr lambda_k) z_k, f = 1/2 sum_k lambda_k z_k^2.
    Length len(lrs) + 1.

    ``floor`` = 0: exact arithmetic per component (a component wiped out near lr = 1/lambda stays
    as small as the product says). ``floor`` = eps: after every step each component is at least
    eps |z| -- what rounding x in the standard basis to the dtype's precision does to it (every
    eigencomponent of a rounding error of size eps |x| is about that size)."""
    lam, q = np.linalg.eigh(0.5 * (np.asarray(hess, float) + np.asarray(hess, float).T))
    z = q.T @ (np.asarray(x0, float) - np.asarray(x_star, float))
    out = [0.5 * float(np.sum(lam * z * z))]
    with np.errstate(over="ignore", invalid="ignore"):   # past the edge the losses overflow to inf, as GD's do
        for lr in np.asarray(lrs, dtype=float):
            z = (1.0 - lr * lam) * z
            if floor > 0.0:
                low = floor * float(np.sqrt(np.sum(z * z)))
                z = np.where(np.abs(z) < low, np.where(z < 0, -low, low), z)
            out.append(0.5 * float(np.sum(lam * z * z)))
    return np.array(out)


def valley_midpoint(lrs, losses):
    """The lr fastai's ``valley`` returns when the scored losses fall strictly to their minimum (index
    m) and rise strictly after it: the longest decreasing subsequence is the whole fall (length m + 1,
    fastai's start m - (m + 1) = -1), so its index is -1 + floor((m + 1)/3) + floor((m + 1)/6),
    about m/2 -- the log-midpoint of the first scored lr and the lowest loss's. None when the losses
    are not of that shape."""
    losses = np.asarray(losses, dtype=float)
    m = int(np.argmin(losses))
    fall, rise = np.diff(losses[:m + 1]), np.diff(losses[m:])
    if m < 2 or not (np.all(fall < 0) and np.all(rise > 0)):
        return None
    sections = (m + 1) / 3
    return float(np.asarray(lrs)[-1 + int(sections) + int(sections / 2)])


def first_increase(losses) -> int | None:
    """The first step i with f(x_{i+1}) > f(x_i) (its lr is lr_i), or None."""
    losses = np.asarray(losses, dtype=float)
    with np.errstate(invalid="ignore"):
        up = np.flatnonzero(~(losses[1:] <= losses[:-1]))
    return None if up.size == 0 else int(up[0])


def progress(g0, gaps, cap: float) -> np.ndarray:
    """Orders of magnitude of gap reduction, log10(g0/gap), gaps floored at 10^-cap g0; -inf where
    a run blew up."""
    gaps = np.asarray(gaps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.log10(g0 / np.maximum(gaps, g0 * 10.0 ** -cap))
    return np.where(np.isfinite(gaps), p, -np.inf)


def best_index(gaps, stuck=None) -> int:
    """The best fixed lr of a sweep: the smallest final gap; among equal ones (several runs at an
    exact zero) the middle of them. ``stuck``: runs that cannot be the best (:func:`fails` with
    ``stuck``: GD on Rosenbrock locked in a period-2 cycle at a gap of 0.34 beat the converging runs'
    gaps after 500 steps, and the 'best' lr lay above 2/L)."""
    gaps = np.asarray(gaps, dtype=float)
    g = np.where(np.isfinite(gaps), gaps, np.inf)
    if stuck is not None and not np.all(stuck):
        g = np.where(np.asarray(stuck, dtype=bool), np.inf, g)
    ties = np.flatnonzero(g == g.min())
    return int(ties[len(ties) // 2])


#: a run whose gap fell by less than this fraction over the second half is stuck (with a known minimum)
STUCK = 1e-3


def fails(final, mid, start_gap, converged: float = 0.0, stuck: bool = False):
    """Whether a fixed-lr run failed: its gap is not finite, ends above where it started, or grew over
    the second half while above ``converged`` (a gap at the rounding level may wobble). ``stuck``
    (an objective whose minimum value is known): also a gap above ``converged`` that fell by less
    than :data:`STUCK` of itself over the second half. The records are an even number of steps
    apart, so GD's period-2 oscillation across Rosenbrock's valley just above 2/L (no growth, no
    progress) is caught; GD below its edge decreases f every step."""
    final, mid = np.asarray(final, dtype=float), np.asarray(mid, dtype=float)
    with np.errstate(invalid="ignore"):
        grew = (final > mid) & (final > converged)
        if stuck:
            grew |= (final >= (1.0 - STUCK) * mid) & (final > converged)
        return ~np.isfinite(final) | (final > start_gap) | grew


def sweep_edge(lrs, final, mid, start_gap, best: int, converged: float = 0.0, stuck: bool = False):
    """(edge, last good lr, first failing lr) above the best lr (:func:`fails`); (inf, None, None)
    when none in the grid fails."""
    lrs = np.asarray(lrs, dtype=float)
    fail = fails(final, mid, start_gap, converged, stuck)
    above = np.flatnonzero(fail[best:])
    if above.size == 0:
        return math.inf, None, None
    k = best + int(above[0])
    if k == 0:
        return float(lrs[0]), None, float(lrs[0])
    return float(math.sqrt(lrs[k - 1] * lrs[k])), float(lrs[k - 1]), float(lrs[k])


def past_edge(pick: float, last_ok, first_bad, pick_fails) -> bool:
    """A pick is past the sweep's edge when it is at or above the first failing lr, or between the
    last good one and that one and its own fixed-lr run fails (the grid alone cannot tell there)."""
    if first_bad is None:
        return False
    if pick >= first_bad:
        return True
    return bool(last_ok is not None and pick > last_ok and pick_fails)


def _quadratic_claims(case, hess, x0, x_star, L, lrs, inc, p, gamma, grid, eps_dt) -> list:
    """The claims of one quadratic case (module docstring): the first increase above 2/L, inside the
    closed form's band, within q of 2/L for one curvature; the sweep's edge at 2/L. A first increase
    the test never reached is +inf (so "none, as predicted" holds); a claim about an lr outside the
    test's or the sweep's range is not made."""
    where, edge = case["where"], case["edge"]
    two_l = 2.0 / L
    measured = math.inf if inc is None else float(lrs[inc])
    loss = np.asarray(case["range_losses"], dtype=float)
    with np.errstate(invalid="ignore"):
        rising = int(np.sum((loss[1:] > loss[:-1]) & (np.asarray(lrs[:len(loss) - 1]) <= two_l)))
    out = [Claim("GD's loss falls at every step of the range test while lr ≤ 2/L",
                 "steps with lr ≤ 2/L whose loss rises", 0.0, float(rising), 0.0, "abs", SOURCE_GD,
                 where + (f"; first rise at {measured / two_l:.3g} × 2/L" if math.isfinite(measured) else
                          "; no rise within the test"))]
    plan = exponential_lrs(p["start_lr"], gamma, p["num_it"])
    hi_i = first_increase(quadratic_losses(hess, x0, x_star, plan))
    lo_i = first_increase(quadratic_losses(hess, x0, x_star, plan, floor=eps_dt))
    hi = math.inf if hi_i is None else float(plan[hi_i])
    lo = math.inf if lo_i is None else float(plan[lo_i])
    case.update(predicted_first_increase=[lo, hi], overshoot=measured / two_l)
    text = f"… and first rises between the closed form with a rounding floor and the exact one: " \
           f"{lo / two_l:.3g}–{hi / two_l:.3g} × 2/L"
    formula = "½Σ λ z² Π (1 − lr_j λ)², z floored at ε|z| / exact"
    if math.isfinite(hi):
        out.append(Claim(text, formula, (lo + hi) / 2, measured, (hi - lo) / 2 + hi * (gamma - 1.0), "abs",
                         SOURCE_GD, where + ", ± one grid step"))
    elif math.isfinite(lo):
        out.append(Claim(text, formula, lo, measured, lo * (gamma - 1.0), "ge", SOURCE_GD, where + ", one grid step"))
    else:
        out.append(Claim("… and never rises within the test, as the closed form says", formula, math.inf, measured,
                         0.0, "abs", SOURCE_GD, where))
    lam = np.linalg.eigvalsh(0.5 * (hess + hess.T))
    if lam[-1] - lam[0] <= 1e-12 * lam[-1] and two_l * gamma < plan[-1]:
        out.append(Claim("With one curvature the first increase is the first grid lr above 2/L: within the grid's "
                         "ratio q", "(2/L, q·2/L]", two_l * (1 + gamma) / 2, measured, two_l * (gamma - 1) / 2, "abs",
                         SOURCE_GD, where + f", q = {gamma:.4g}"))
    if in_grid(grid, two_l):
        out.append(Claim("The fixed-lr sweep's edge is 2/L", "2/L", two_l, edge,
                         two_l * (float(grid[1] / grid[0]) - 1.0), "abs", SOURCE_GD, where + ", one grid step"))
    return out


# --- the study -------------------------------------------------------------------------------------

def _params(cfg: dict) -> dict:
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    out = dict(quick=p["quick"])
    out["entries"] = objective_entries(p["objectives"], NAME, extra=EXTRA)
    for key in ("start_lr", "end_lr", "smoothing", "stop_div", "cap", "good"):
        out[key] = as_float_list(key, p[key], minimum=0.0)[0]
    if not 0.0 < out["start_lr"] < out["end_lr"]:
        raise OptlabError(f"Invalid study.start_lr / study.end_lr: {p['start_lr']!r}, {p['end_lr']!r} "
                          "(must be 0 < start_lr < end_lr)")
    if not out["smoothing"] < 1.0:
        raise OptlabError(f"Invalid study.smoothing: {p['smoothing']!r} (must be in [0, 1))")
    if not 0.0 < out["good"] <= 1.0:
        raise OptlabError(f"Invalid study.good: {p['good']!r} (must be in (0, 1])")
    if not out["cap"] > 0:
        raise OptlabError(f"Invalid study.cap: {p['cap']!r} (must be > 0)")
    out["num_it"] = positive_int("num_it", p["num_it"], minimum=20)
    out["steps"] = positive_int("steps", p["steps"], minimum=10)
    out["per_decade"] = positive_int("per_decade", p["per_decade"], minimum=2)
    for e in out["entries"]:
        if "x0" in e.extra and "random_x0" in e.extra:
            raise OptlabError(f"Objective entry {e.label}: give x0 or random_x0, not both")
        if "random_x0" in e.extra:
            rx = as_float_list("random_x0", e.extra["random_x0"])
            if len(rx) != 2 or rx[0] != int(rx[0]) or rx[0] < 1 or not rx[1] > 0:
                raise OptlabError(f"Invalid random_x0 of {e.label}: {e.extra['random_x0']!r} (must be [count, "
                                  "scale]: count starts drawn from N(0, scale²))")
    return out


def _starts(entry, seed: int) -> np.ndarray:
    if "random_x0" in entry.extra:
        n, scale = entry.extra["random_x0"]
        return np.random.default_rng(seed).normal(0.0, float(scale), size=(int(n), entry.dim))
    if "x0" in entry.extra:
        x0 = np.asarray(entry.extra["x0"], dtype=float).reshape(-1, entry.dim)
        return x0
    mins = entry.spec.global_minima(entry.dim, **entry.options)
    if not mins:
        raise OptlabError(f"Objective entry {entry.label} needs x0 or random_x0 (no known minimum to start near)")
    return (np.asarray(mins[0][0], dtype=float) + 0.5)[None, :]


def kernels(cfg: dict) -> list:
    """GD with ExponentialLR (the range tests) and plain GD (the sweeps), on every objective."""
    from ..engine.warmup import KernelKey, full_batch
    p = _params(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    name = sgd_like("gd")[0]
    keys = {}
    for e in p["entries"]:
        # ExponentialLR: per-step operations in every dtype (optlab.schedulers.program.applies)
        full = full_batch(e.spec, e.options)
        keys[(e.name, e.dim, full, "s")] = KernelKey(name, e.name, e.dim, dtype, "program", full_batch=full)
        keys[(e.name, e.dim, full, "p")] = KernelKey(name, e.name, e.dim, dtype, full_batch=full)
    return list(keys.values())


def _f_ref(entry) -> float:
    v = entry.f_min()
    return 0.0 if v is None else float(v)


def _start_text(x) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in x[:2]) + (", …" if len(x) > 2 else "") + ")"


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """The LR range test on each objective and start, fastai's three rules, a batched fixed-lr sweep as
    ground truth; on quadratics the test's first loss increase against 2/L and the closed form."""
    p = _params(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    opt, hyper = sgd_like("gd")
    num_it = p["num_it"]
    gamma = (p["end_lr"] / p["start_lr"]) ** (1.0 / num_it)
    n_grid = int(round(p["per_decade"] * math.log10(p["end_lr"] / p["start_lr"]))) + 1
    grid = np.geomspace(p["start_lr"], p["end_lr"], n_grid)
    S = p["steps"]
    eps_dt = float(np.finfo(np.dtype(eng.get("dtype", "float64"))).eps)
    claims, cases, arrays = [], [], {}
    for e in p["entries"]:
        starts = _starts(e, eng["seed"])
        f_ref = _f_ref(e)
        try:
            x_star, L, mu = curvature_at_minimum(e)
            quad = constant_hessian(e, [x_star, *starts])
            hess = np.asarray(e.spec.hess(x_star, **e.options), dtype=float)
        except OptlabError:
            x_star, L, mu, quad, hess = None, None, None, False, None
        rt = simulate(opt, e.name, x0=starts, steps=num_it, record_every=1, lr=p["start_lr"],
                      scheduler={"name": "ExponentialLR", "gamma": gamma}, tol=0.0, blowup=math.inf,
                      objective_options=e.options, **hyper, **eng)
        S = positive_int("steps", e.extra.get("steps", p["steps"]), minimum=10)  # an entry's own budget
        half = S // 2 - (S - S // 2) % 2  # the middle record an even number of steps before the end (fails)
        sw = sweep(opt, e.name, grid={"lr": grid}, x0=starts, steps=S, record_every=half, tol=0.0,
                   blowup=math.inf, objective_options=e.options, **hyper, **eng)
        final = sw.grid("loss_final") - f_ref                          # (n_grid, n_start)
        rec = sw.grid("loss") - f_ref                                  # records at 0, half, (2 half)
        picks = []
        for s, x0 in enumerate(starts):
            lrs, loss = rt.lr[s, :num_it], rt.loss[s, :num_it + 1]
            sug = suggestions(lrs, loss, num_it, p["smoothing"], p["stop_div"])
            picks.append(sug)
        rules_lr = np.array([[pk[r] for r in RULES] for pk in picks])  # (n_start, n_rule)
        rr = simulate(opt, e.name, x0=np.repeat(starts, len(RULES), axis=0), steps=S, record_every=half, tol=0.0,
                      blowup=math.inf, lr=rules_lr.ravel(), objective_options=e.options, **hyper, **eng)
        rule_final = (rr.loss_final - f_ref).reshape(len(starts), len(RULES))
        rule_mid = (rr.loss[:, 1] - f_ref).reshape(len(starts), len(RULES))
        for s, x0 in enumerate(starts):
            label = e.label.replace("(, ", "(")          # "mlp (d=33)": an entry with a dimension only
            where = label + (f" from {_start_text(x0)}" if len(starts) > 1 or e.spec.dim is None else "")
            lrs, loss = rt.lr[s, :num_it], rt.loss[s, :num_it + 1]
            g0 = float(rec[0, s, 0])
            prog = progress(g0, final[:, s], p["cap"])
            conv = g0 * 10 ** -p["cap"]
            known = e.f_min() is not None  # (the mlp's f* = 0 is a bound: its runs level off above it)
            best = best_index(final[:, s], fails(final[:, s], rec[:, s, 1], g0, conv, known) if known else None)
            edge, last_ok, first_bad = sweep_edge(grid, final[:, s], rec[:, s, 1], g0, best, conv, known)
            eff_grid = prog / prog[best] if prog[best] > 0 else np.full_like(prog, np.nan)
            rule_prog = progress(g0, rule_final[s], p["cap"])
            eff = rule_prog / prog[best] if prog[best] > 0 else np.full(len(RULES), np.nan)
            inc = first_increase(loss)
            case = dict(objective=e.label, x0=x0.tolist(), steps=S, f_ref=f_ref, L=L,
                        two_over_L=None if L is None else 2 / L,
                        quadratic=bool(quad), range_lrs=lrs, range_losses=loss[:num_it],
                        stopped_at=picks[s]["stopped_at"],
                        first_increase_lr=None if inc is None else float(lrs[inc]),
                        sweep_lrs=grid, sweep_final=final[:, s], best_lr=float(grid[best]),
                        best_progress=float(prog[best]), edge=edge, last_ok=last_ok, first_failing=first_bad,
                        baseline_share=float(np.mean(eff_grid >= p["good"])),
                        picks={r: float(rules_lr[s, k]) for k, r in enumerate(RULES)},
                        valley_midpoint=picks[s]["valley_midpoint"],
                        pick_final={r: float(rule_final[s, k]) for k, r in enumerate(RULES)},
                        efficiency={r: float(eff[k]) for k, r in enumerate(RULES)},
                        within_10x={r: bool(rule_final[s, k] <= 10 * max(final[best, s], g0 * 10 ** -p["cap"]))
                                    for k, r in enumerate(RULES)},
                        past_edge={r: past_edge(float(rules_lr[s, k]), last_ok, first_bad,
                                                fails(rule_final[s, k], rule_mid[s, k], g0, conv, known))
                                   for k, r in enumerate(RULES)}, where=where)
            if quad and L is not None:
                claims += _quadratic_claims(case, hess, x0, x_star, L, lrs, inc, p, gamma, grid, eps_dt)
            cases.append(case)
            key = f"case{len(cases) - 1}"
            arrays[f"{key}__range_lr"] = lrs
            arrays[f"{key}__range_loss"] = loss[:num_it]
            arrays[f"{key}__sweep_final"] = final[:, s]
            arrays[f"{key}__picks"] = rules_lr[s]
    arrays["sweep_lrs"] = grid

    shares = {}
    base = float(np.mean([c["baseline_share"] for c in cases]))
    for r in RULES:
        past = [c["where"] for c in cases if c["past_edge"][r]]
        ratios = [(c["picks"][r] / c["edge"], c["where"]) for c in cases if math.isfinite(c["edge"])]
        worst = max(ratios) if ratios else (math.nan, "no edge in the grid")
        claims.append(Claim(f"fastai '{r}' picks an lr below the divergence edge", "cases with the pick past the edge",
                            0.0, float(len(past)), 0.0, "le", SOURCE_FASTAI,
                            f"{len(cases)} cases; largest pick/edge {worst[0]:.3g} ({worst[1]})"
                            + (f"; past: {', '.join(past)}" if past else "")))
        share = float(np.mean([c["efficiency"][r] >= p["good"] for c in cases]))
        shares[r] = dict(good=share, within_10x=float(np.mean([c["within_10x"][r] for c in cases])))
        if r != "valley":
            claims.append(Claim(f"fastai '{r}' picks well more often than a random lr from the tested range",
                                f"share with efficiency ≥ {p['good']:g} vs chance", base, share, 0.0, "ge",
                                SOURCE_SMITH, f"{len(cases)} cases (objective × start)"))
            continue
        shaped = [c for c in cases if c["valley_midpoint"] is not None]
        steps_off = [abs(math.log(c["picks"][r] / c["valley_midpoint"])) / math.log(gamma) for c in shaped]
        claims.append(Claim("fastai 'valley' picks the log-midpoint of the first scored lr and the lowest loss's "
                            "(so it picks well rarely: see the page)", "index −1 + ⌊(m+1)/3⌋ + ⌊(m+1)/6⌋",
                            0.0, max(steps_off) if steps_off else math.nan, 0.0, "abs", SOURCE_FASTAI,
                            f"{len(shaped)} of {len(cases)} cases fall then rise; grid steps off, worst; "
                            f"good picks {share:.0%}"))

    fig = range_test_figure(cases, RULES, p)
    figure_path = save(fig, out_dir / NAME, fmt, dpi)
    save_arrays(out_dir / f"{NAME}.npz", **arrays)
    table = theory_table(claims)
    rows = [{k: v for k, v in c.items() if k not in ("range_lrs", "range_losses", "sweep_lrs", "sweep_final")}
            for c in cases]
    doc = dict(study=NAME, optimizer=opt, start_lr=p["start_lr"], end_lr=p["end_lr"], num_it=num_it, gamma=gamma,
               smoothing=p["smoothing"], stop_div=p["stop_div"], steps=p["steps"], sweep_grid=[float(grid[0]), float(grid[-1]),
                                                                                     n_grid],
               good=p["good"], cap=p["cap"], chance_share=base, shares=shares, cases=rows, theory=table,
               figures=[figure_path.name])
    text = _table(rows, shares, base) + "\n\n" + format_table(claims) + "\n" + theory_summary(claims)
    return finish(out_dir, doc, {"study": NAME, "title": "lr_range_test: the LR range test and fastai's rules "
                                 "against a batched lr sweep", "cases": rows, "shares": shares,
                                 "chance_share": base, "theory": table, "figures": [figure_path.name],
                                 "table": text})


def _g(v) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def _table(rows, shares, base) -> str:
    head = f"{'case':<40} {'2/L':>7} {'1st up':>7} {'best':>7} {'edge':>7} " + \
           " ".join(f"{r + ' (eff)':>16}" for r in RULES)
    lines = [head, "-" * len(head)]
    for c in rows:
        cells = " ".join(f"{_g(c['picks'][r]):>8} ({c['efficiency'][r]:>5.2f})" for r in RULES)
        lines.append(f"{c['where'][:40]:<40} {_g(c['two_over_L']):>7} {_g(c['first_increase_lr']):>7} "
                     f"{_g(c['best_lr']):>7} {_g(c['edge']):>7} {cells}")
    lines.append("good picks: " + ", ".join(f"{r} {shares[r]['good']:.0%}" for r in RULES) + f"; chance {base:.0%}")
    return "\n".join(lines)
