r"""Averaged SGD, as torch.optim.ASGD.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, \lambda \text{ (lambd)}, \alpha, t_0,
        \text{weight decay } w, \text{maximize} \\
    &\textbf{init}: \eta_0 \leftarrow \gamma, \; \mu_0 \leftarrow 1, \; \bar\theta_0 \leftarrow 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad g_t \leftarrow g_t + w\theta_{t-1} \\
    &\quad \theta_t \leftarrow \theta_{t-1}(1 - \lambda\eta_{t-1}) - \eta_{t-1} g_t \\
    &\quad \bar\theta_t \leftarrow \bar\theta_{t-1} + \mu_{t-1}(\theta_t - \bar\theta_{t-1})
          \text{ if } \mu_{t-1} \ne 1 \text{ else } \theta_t \\
    &\quad \eta_t \leftarrow \gamma / (1 + \lambda\gamma t)^\alpha \\
    &\quad \mu_t \leftarrow 1 / \max(1, t - t_0)

Notes, as in torch 2.13: ``eta`` and ``mu`` are float32 scalar tensors, so
both are rounded to float32 when stored -- the first step already uses lr
rounded to float32. The parameters themselves are never replaced by the
average; the averaged iterate ``ax`` is recorded every recorded step
(``Result.extra["ax"]``). ``ax`` simply equals theta while ``t <= t0 + 1``.

Reference: Polyak & Juditsky, "Acceleration of Stochastic Approximation by
Averaging", SIAM J. Control Optim. 30 (1992); step-size schedule after
Bottou, "Stochastic Gradient Descent Tricks" (2012) / Xu, arXiv:1107.2490.
"""
import math
import sys

import numpy as np

from ..engine.ops import fma, jitable, like, uniform
from ._base import OptimizerSpec, check_bool, check_lr, check_weight_decay

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_AX = 0
# sc: per-trajectory scalars
K_ETA, K_MU = 0, 1
# K_LAMBD_LR_MAX: the largest |lambd * lr| of the block (set by init; the eta series' bound while
# no scheduler changes the lr)
K_LAMBD_LR_MAX = 2
# K_SAME_REST: the block shares one (lambd, alpha, t0) (set by init: no scheduler changes them)
K_SAME_REST = 3
# hp: the per-trajectory hyperparameters
H_LR, H_LAMBD, H_ALPHA, H_T0, H_WEIGHT_DECAY = 0, 1, 2, 3, 4
H_SCHEDULE = 5  # the driver's: -1 no scheduler (init's K_LAMBD_LR_MAX holds), else the lrs may change
# K_ETA and K_MU hold float32 values (torch keeps them as float32 tensors).  hs: maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_AX, d, j] = 0.0
    for j in range(n):
        sc[K_ETA, j] = float(np.float32(hp[H_LR, j]))
        sc[K_MU, j] = 1.0
    big = _lambd_lr_max(hp, n)  # the eta series' bound for the run (a step finds it again under a scheduler)
    # tested once, not every step: a scheduler changes the lr only
    same = 1.0 if uniform(hp, H_LAMBD, n) and uniform(hp, H_ALPHA, n) and uniform(hp, H_T0, n) else 0.0
    for j in range(n):
        sc[K_LAMBD_LR_MAX, j] = big
        sc[K_SAME_REST, j] = same


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            lambd = hp[H_LAMBD, j]
            wd = hp[H_WEIGHT_DECAY, j]
            eta = sc[K_ETA, j]
            mu = sc[K_MU, j]
            xi = x[d, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            # float32 coordinates: float32 arithmetic, each scalar rounded as torch's (ops.like)
            gi = fma(like(wd, xi), xi, gi) if wd != 0.0 else gi
            xi = xi * like(1.0 - lambd * eta, xi)
            xi = fma(like(-eta, xi), gi, xi)
            x[d, j] = xi
            ax = st[S_AX, d, j]
            st[S_AX, d, j] = ax + (xi - ax) * like(mu, xi) if mu != 1.0 else xi
    tf = float(t)
    same_rest = sc[K_SAME_REST, 0] != 0.0
    if same_rest and uniform(hp, H_LR, n):
        # one (lr, lambd, alpha, t0) in the block: one pow, broadcast
        eta = float(np.float32(hp[H_LR, 0] / (1.0 + hp[H_LAMBD, 0] * hp[H_LR, 0] * tf) ** hp[H_ALPHA, 0]))
        dt = tf - hp[H_T0, 0]
        mu = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0
        for j in range(n):
            sc[K_ETA, j] = eta
            sc[K_MU, j] = mu
        return
    alpha = hp[H_ALPHA, 0]
    if (same_rest or uniform(hp, H_ALPHA, n)) and (alpha == 0.75 or alpha == 0.5 or alpha == 0.25 or alpha == 1.0):
        # a sweep with torch's alpha (or 1/2, 1/4, 1): eta without libm's pow, vectorised; while
        # lambd lr t is small, without the square-root unit either
        bad = _eta_by_series(sc, hp, tf, alpha, n)
        if bad < 0:
            bad = _eta_by_roots(sc, hp, tf, alpha, n)
        if bad == 0:
            return
    plr = -1.0
    plam = -1.0
    palpha = -1.0
    eta = 0.0
    for j in range(n):  # new eta and mu, one pow per distinct (lr, lambd, alpha) run
        lr = hp[H_LR, j]
        lambd = hp[H_LAMBD, j]
        alpha = hp[H_ALPHA, j]
        if lr != plr or lambd != plam or alpha != palpha:
            eta = float(np.float32(lr / (1.0 + lambd * lr * tf) ** alpha))
            plr = lr
            plam = lambd
            palpha = alpha
        sc[K_ETA, j] = eta
        dt = tf - hp[H_T0, j]
        sc[K_MU, j] = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0


#: how far (relatively) a float64 eta computed from roots may lie from torch's: the roots are
#: within 3.5 float64 ulp of b ** alpha, libm's pow within 1 ulp, each quotient rounds by half an
#: ulp, so they differ by less than 8.3e-16; the margin is twelve times that
ETA_MARGIN = 1e-14


#: the series below is used while every |lambd lr t| of the block is at most this, and cut
#: after d ** 2 while they are at most SERIES_SHORT, after d ** 3 while at most SERIES_MID (the
#: truncation, below |d| ** 3 <= 1e-15 and |d| ** 4 <= 1e-15 respectively, stays well inside
#: ETA_MARGIN)
SERIES_MAX = 2.0 ** -8
SERIES_SHORT = 1e-5
SERIES_MID = 1.7e-4


@jitable
def _float32_within(q):
    """``(float32(q), unsure)``: unsure unless both ends of ``q``'s ETA_MARGIN interval round to
    the same float32, in which case so does the exact value the interval holds (rounding is
    monotonic)."""
    e = np.float32(q * (1.0 - ETA_MARGIN))
    return float(e), not (np.float32(q * (1.0 + ETA_MARGIN)) == e)


@jitable
def _lambd_lr_max(hp, n):
    """The block's largest ``|lambd lr|``: the eta series' bound (init's for a run without a
    scheduler, each step's under one)."""
    big = 0.0
    for j in range(n):
        a = abs(hp[H_LAMBD, j] * hp[H_LR, j])
        big = a if not (a <= big) else big
    return big


@jitable(inline="never")
def _eta_by_series(sc, hp, tf, alpha, n):
    """:func:`_eta_by_roots` where ``d = lambd lr t`` is small (the block's largest
    ``|lambd lr|`` times t at most SERIES_MAX; else -1, and the caller computes every eta
    again): ``(1 + d) ** -alpha`` as its binomial series to the
    sixth power, in FMAs, so no square root and no division (the units that bound this step;
    0.59x of the shared lr on an Intel Xeon with roots). ``d`` is torch's ``b - 1`` exactly
    (``b = 1 + lambd * lr * step`` rounded as torch rounds it; the subtraction is exact near 1),
    the coefficients are at most 1 in magnitude for alpha <= 1, so the truncation is below
    ``d ** 7 <= 2 ** -56`` and, with the roundings, ``lr (1 + d) ** -alpha`` lies within 5e-16
    (relative) of libm's quotient: the same float32 test with ETA_MARGIN keeps torch's bits.
    Smaller blocks' bounds cut the series sooner (to d ** 2 up to SERIES_SHORT, to d ** 3 up to
    SERIES_MID: truncations below 1e-15, two FMAs or three fewer a trajectory). Returns 1 when
    a trajectory's float32 rounding is unsure (the caller computes the block's etas with
    libm's pow), else 0."""
    # |d| <= |lambd lr| t, up to the roundings of torch's b (relatively a few ulp, and at most
    # 2**-53 absolutely from the sum with 1: d a hair past a threshold, its truncation error too,
    # still far inside ETA_MARGIN): the block's largest |lambd lr| picks the series, init's when no
    # scheduler runs, this step's under one (a scheduler may raise the lr after init). Tested once
    # for the block, not once a trajectory: a check per d cost the lr sweep 8% (an AMD EPYC)
    big = sc[K_LAMBD_LR_MAX, 0] if hp[H_SCHEDULE, 0] < 0.0 else _lambd_lr_max(hp, n)
    bound = big * tf * (1.0 + 1e-12)
    if not (bound <= SERIES_MAX):  # NaN too
        return -1
    a = -alpha  # binomial coefficients of (1 + d) ** a
    c1 = a
    c2 = c1 * (a - 1.0) / 2.0
    c3 = c2 * (a - 2.0) / 3.0
    c4 = c3 * (a - 3.0) / 4.0
    c5 = c4 * (a - 4.0) / 5.0
    c6 = c5 * (a - 5.0) / 6.0
    bad = False  # an or, not a count: one vector operation a trajectory, not four
    if bound <= SERIES_SHORT:  # truncation below bound ** 3 <= 1e-15: to d ** 2
        for j in range(n):
            lr = hp[H_LR, j]
            d = (1.0 + hp[H_LAMBD, j] * lr * tf) - 1.0
            q = lr * fma(fma(c2, d, c1), d, 1.0)
            e, unsure = _float32_within(q)
            bad |= unsure
            sc[K_ETA, j] = e
    elif bound <= SERIES_MID:  # truncation below bound ** 4 <= 1e-15: to d ** 3
        for j in range(n):
            lr = hp[H_LR, j]
            d = (1.0 + hp[H_LAMBD, j] * lr * tf) - 1.0
            q = lr * fma(fma(fma(c3, d, c2), d, c1), d, 1.0)
            e, unsure = _float32_within(q)
            bad |= unsure
            sc[K_ETA, j] = e
    else:
        for j in range(n):
            lr = hp[H_LR, j]
            d = (1.0 + hp[H_LAMBD, j] * lr * tf) - 1.0
            q = lr * fma(fma(fma(fma(fma(fma(c6, d, c5), d, c4), d, c3), d, c2), d, c1), d, 1.0)
            e, unsure = _float32_within(q)
            bad |= unsure
            sc[K_ETA, j] = e
    _mu(sc, hp, tf, n)
    return 1 if bad else 0


@jitable(inline="never")
def _mu(sc, hp, tf, n):
    """torch's ``mu = 1 / max(1, step - t0)`` (float32) for every trajectory of the block."""
    if sc[K_SAME_REST, 0] != 0.0 or uniform(hp, H_T0, n):
        dt = tf - hp[H_T0, 0]
        mu = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0
        for j in range(n):
            sc[K_MU, j] = mu
    else:
        for j in range(n):
            dt = tf - hp[H_T0, j]
            sc[K_MU, j] = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0


@jitable(inline="never")
def _eta_by_roots(sc, hp, tf, alpha, n):
    """New eta and mu for every trajectory of the block, where alpha is 3/4, 1/2, 1/4 or 1.

    torch stores ``lr / (1 + lambd lr t) ** alpha`` as a float32. ``b ** 0.75`` is computed
    here as ``sqrt(b) sqrt(sqrt(b))`` (correctly rounded roots: within a few float64 ulp of
    libm's pow), and its float32 rounding is kept only where it is certain: where
    ``eta (1 - m)`` and ``eta (1 + m)`` round to the same float32 (``m`` = ETA_MARGIN, ten
    times the bound on the difference). Rounding is monotonic, so libm's quotient, which lies in that
    interval, rounds to the same float32: same bits as torch. Elsewhere (about 3 in 10^7,
    and non-finite values) the trajectory is marked and the caller's libm loop computes it.
    Returns how many were marked."""
    bad = 0
    for j in range(n):
        lr = hp[H_LR, j]
        b = 1.0 + hp[H_LAMBD, j] * lr * tf
        s1 = math.sqrt(b)
        s2 = math.sqrt(s1)
        pw = b if alpha == 1.0 else s1 if alpha == 0.5 else s2 if alpha == 0.25 else s1 * s2
        q = lr / pw
        e = np.float32(q)
        same = (np.float32(q * (1.0 - ETA_MARGIN)) == e) & (np.float32(q * (1.0 + ETA_MARGIN)) == e)
        bad += not same
        sc[K_ETA, j] = float(e)
    _mu(sc, hp, tf, n)
    return bad


def _validate(v):
    check_lr(v)
    check_weight_decay(v)
    check_bool(v, "maximize")  # (torch checks no lambd, alpha or t0: NaN meets the engine's finite check)


SPEC = OptimizerSpec(
    name="asgd",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False),
    vector=("lr", "lambd", "alpha", "t0", "weight_decay"),
    static=("maximize",),
    state=('ax',), scalars=('eta', 'mu', 'lambd_lr_max', 'same_rest'),
    validate=_validate,
    summary="ASGD: SGD with a decaying step and Polyak-Ruppert iterate averaging (torch.optim.ASGD)",
    torch_name="ASGD",
    reference="Polyak & Juditsky 1992",
    record_state=("ax",),
)
