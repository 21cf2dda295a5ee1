r"""Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \epsilon, \lambda \text{ (weight decay)},
        \text{amsgrad}, \text{maximize}, \text{decoupled} \\
    &\textbf{init}: m_0 = 0, \; v_0 = 0, \; \hat v^{max}_0 = 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ (decoupled) or }
          g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \quad (\text{torch.lerp}) \\
    &\quad v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    &\quad \text{amsgrad: } v^{max}_t \leftarrow \max(v^{max}_{t-1}, v_t), \; v_t \leftarrow v^{max}_t \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
          \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

eps is added *after* the bias correction of sqrt(v), as in torch; amsgrad
keeps the max of the raw v. AdamW is Adam with decoupled weight decay forced on
and ``weight_decay=1e-2`` by default.

References: Kingma & Ba, ICLR 2015; Reddi, Kale & Kumar, ICLR 2018 (amsgrad);
Loshchilov & Hutter, ICLR 2019 (AdamW).
"""
import math
import sys

from ..engine.ops import jitable, uniform
from ..engine.ops import div_rn, fma, libm_half, like, single
from ..engine.powexact import EXACT_FAST, pow_dd_round, pow_dd_step
from ._moments import adam_moments
from ._base import OptimizerSpec, check_betas, check_bool, check_eps, check_lr, check_weight_decay

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_EXP_AVG, S_EXP_AVG_SQ, S_MAX_EXP_AVG_SQ = 0, 1, 2
# sc: per-trajectory scalars
K_STEP_SIZE, K_SQRT_BC2, K_SAME_BETAS, K_SAME_ALL, K_SAME_REST = 0, 1, 2, 3, 4
K_POW1_HI, K_POW1_LO, K_POW2_HI, K_POW2_LO, K_RC2, K_POW2 = 5, 6, 7, 8, 9, 10
# K_FEW_RUNS: the block's (beta1, beta2) come in at most MAX_RUNS runs of neighbours (set by the first step),
# K_RUN_END: at a run's first trajectory, the index past its last
K_FEW_RUNS, K_RUN_END = 11, 12
# K_MEND: _bias_corrections' list of the trajectories whose powers or root libm decides this step
K_MEND = 13
# a run costs libm's pow three times a step (~50 ns); the per-trajectory products ~1-4 ns a
# trajectory: a block of 256 with more runs than this takes the products
MAX_RUNS = 8
# hp: the per-trajectory hyperparameters
H_LR, H_BETA1, H_BETA2, H_EPS, H_WEIGHT_DECAY = 0, 1, 2, 3, 4
H_SCHEDULE = 5  # the driver's: -1 none, 0 one lr schedule, 1 lrs differ, 2 betas change per step
# K_STEP_SIZE is lr / bc1, K_SQRT_BC2 sqrt(bc2) and K_RC2 1 / sqrt(bc2), this step's; K_SAME_ALL: the block shares every
# hyperparameter (scalars in registers), K_SAME_BETAS: it shares one
# (beta1, beta2) (set by init).  hs: amsgrad, maximize, decoupled.


def init(x, st, sc, hp, hs, n):
    for k in range(3):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0
    # test the block once, not every step: the hyperparameters are fixed, or (a scheduler) every
    # trajectory of the block follows one schedule, unless H_SCHEDULE says otherwise
    vary = hp[H_SCHEDULE, 0]
    same = uniform(hp, H_BETA1, n) and uniform(hp, H_BETA2, n) and vary < 2.0
    same_rest = same and uniform(hp, H_EPS, n) and uniform(hp, H_WEIGHT_DECAY, n)
    same_all = same_rest and uniform(hp, H_LR, n) and vary <= 0.0
    for j in range(n):
        sc[K_POW1_HI, j] = 1.0  # beta ** 0 as a double-double (engine/powexact)
        sc[K_POW1_LO, j] = 0.0
        sc[K_POW2_HI, j] = 1.0
        sc[K_POW2_LO, j] = 0.0
        sc[K_SAME_BETAS, j] = 1.0 if same else 0.0
        sc[K_SAME_ALL, j] = 1.0 if same_all else 0.0
        sc[K_SAME_REST, j] = 1.0 if same_rest else 0.0
        sc[K_FEW_RUNS, j] = 0.0  # found by step's first call (_find_runs): the shared kernel has no use for it


@jitable(inline="never")
def _update(xi, gi, m0, v0, vm0, lr, b1, b2, eps, wd, ss, c2, rc2, maximize, decoupled, amsgrad):
    """One coordinate of torch's Adam step: (x, exp_avg, exp_avg_sq, max_exp_avg_sq). ``rc2``:
    ``1 / c2`` when c2 is shared by the loop (the quotient by ``div_rn``, no divider), else 0.
    float32 coordinates: float32 arithmetic, the step size, c2 and eps rounded to float32 as
    torch passes them to a float32 tensor's kernels (the divider then is fast: no div_rn)."""
    xi, gi, m, v = adam_moments(xi, gi, m0, v0, lr, b1, b2, wd, maximize, decoupled)
    vm = v if (v > vm0 or v != v) else vm0
    vd = vm if amsgrad else v
    r = like(math.sqrt(vd), vd)  # a float32's root is a float32 (compiled; as Python: ops.like)
    # torch: (sqrt(v) / sqrt(bc2)) + eps
    q = like(div_rn(r, c2, rc2), r) if rc2 > 0.0 and not single(r) else r / like(c2, r)
    denom = q + like(eps, r)
    return xi + (-like(ss, r) * m) / denom, m, v, vm


@jitable
def _sizes_stand(b1, bc1, tf, hp):
    """True when the step sizes ``lr / bc1`` the last step wrote are this step's too: no
    scheduler changes the lrs, and ``bc1 = 1 - b1**t`` is 1.0 now and was 1.0 last step
    (``b1**t`` below 2**-54: from step 356 at torch's beta1 = 0.9), so the row holds this
    step's quotients of the same numbers (the lrs themselves). Skips a division a trajectory
    and step in long sweeps (5-8% of Adam's lr sweep at T = 1,000 on an AMD EPYC). ``&``, not
    ``and``: a short-circuit's branches, inlined by Numba at two call sites, made its SSA pass
    print a NumbaIRAssumptionWarning at the kernel's first compile (numba/numba#9489); the
    power is one scalar ``pow`` a block and step either way."""
    return (bc1 == 1.0) & (hp[H_SCHEDULE, 0] < 0.0) & (1.0 - b1 ** (tf - 1.0) == 1.0)


@jitable
def _step_same_all(x, g, st, sc, hp, hs, t, n):
    """The step of a block that shares every hyperparameter (a single run): scalars in registers."""
    amsgrad = hs[0] != 0.0
    maximize = hs[1] != 0.0
    decoupled = hs[2] != 0.0
    tf = float(t)
    half = libm_half(hs[0])  # torch's bias_correction2 ** 0.5: libm's pow
    lr = hp[H_LR, 0]
    b1 = hp[H_BETA1, 0]
    b2 = hp[H_BETA2, 0]
    eps = hp[H_EPS, 0]
    wd = hp[H_WEIGHT_DECAY, 0]
    c2 = (1.0 - b2 ** tf) ** half
    rc2 = 1.0 / c2
    ss = lr / (1.0 - b1 ** tf)
    for d in range(x.shape[0]):
        for j in range(n):
            vm0 = st[S_MAX_EXP_AVG_SQ, d, j]
            xi, m, v, vm = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j],
                                   vm0, lr, b1, b2, eps, wd, ss, c2, rc2, maximize, decoupled, amsgrad)
            x[d, j] = xi
            st[S_EXP_AVG, d, j] = m
            st[S_EXP_AVG_SQ, d, j] = v
            # stored always (`if amsgrad:` became a store under a loop-invariant mask, microcoded on AMD)
            st[S_MAX_EXP_AVG_SQ, d, j] = vm if amsgrad else vm0


def step_shared(x, g, st, sc, hp, hs, t, n):
    """:func:`step` of a run whose trajectories all have the same hyperparameters and no
    scheduler: the engine compiles this one then (optlab.engine.cpu.source, ``shared``),
    without the sweep paths, 1.5 s less to compile cold (docs/DESIGN.md, "Compile time")."""
    _step_same_all(x, g, st, sc, hp, hs, t, n)


def step(x, g, st, sc, hp, hs, t, n):
    if sc[K_SAME_ALL, 0] != 0.0:
        _step_same_all(x, g, st, sc, hp, hs, t, n)
        return
    amsgrad = hs[0] != 0.0
    maximize = hs[1] != 0.0
    decoupled = hs[2] != 0.0
    tf = float(t)
    half = libm_half(hs[0])
    if sc[K_SAME_REST, 0] != 0.0:  # an lr sweep: only lr differs, one step size per trajectory
        b1 = hp[H_BETA1, 0]
        b2 = hp[H_BETA2, 0]
        eps = hp[H_EPS, 0]
        wd = hp[H_WEIGHT_DECAY, 0]
        bc1 = 1.0 - b1 ** tf
        rbc1 = 1.0 / bc1
        c2 = (1.0 - b2 ** tf) ** half
        rc2 = 1.0 / c2
        if not _sizes_stand(b1, bc1, tf, hp):
            for j in range(n):
                sc[K_STEP_SIZE, j] = div_rn(hp[H_LR, j], bc1, rbc1)  # lr / bc1 without the divider
        if not amsgrad:  # the sweep's usual case: max_exp_avg_sq neither read nor written; its row stays zero
            for d in range(x.shape[0]):
                for j in range(n):
                    v0 = st[S_EXP_AVG_SQ, d, j]  # also the unused max (a 0.0 would make v float64 in float32 runs)
                    xi, m, v, _ = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], v0,
                                          v0, hp[H_LR, j], b1, b2, eps, wd,
                                          sc[K_STEP_SIZE, j], c2, rc2, maximize, decoupled, False)
                    x[d, j] = xi
                    st[S_EXP_AVG, d, j] = m
                    st[S_EXP_AVG_SQ, d, j] = v
            return
        for d in range(x.shape[0]):
            for j in range(n):
                xi, m, v, vm = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j],
                                       st[S_MAX_EXP_AVG_SQ, d, j], hp[H_LR, j], b1, b2, eps, wd,
                                       sc[K_STEP_SIZE, j], c2, rc2, maximize, decoupled, True)
                x[d, j] = xi
                st[S_EXP_AVG, d, j] = m
                st[S_EXP_AVG_SQ, d, j] = v
                st[S_MAX_EXP_AVG_SQ, d, j] = vm
        return
    # a sweep: this step's per-trajectory scalars, then the same coordinate update
    if t == 1 and sc[K_SAME_BETAS, 0] == 0.0 and hp[H_SCHEDULE, 0] < 2.0:
        _find_runs(sc, hp, n)
    if sc[K_FEW_RUNS, 0] != 0.0:  # a few runs that share all but the lr: each as an lr sweep
        j = 0
        while j < n:
            e = int(sc[K_RUN_END, j])
            b1 = hp[H_BETA1, j]
            b2 = hp[H_BETA2, j]
            eps = hp[H_EPS, j]
            wd = hp[H_WEIGHT_DECAY, j]
            bc1 = 1.0 - b1 ** tf
            c2 = (1.0 - b2 ** tf) ** half
            rc2 = 1.0 / c2
            # views that start at the run: indices from 0, which LLVM sees are never negative
            # (an index j + i keeps a wraparound test per access and the loop scalar)
            lr_ = hp[H_LR, j:e]
            ss = sc[K_STEP_SIZE, j:e]
            rbc1 = 1.0 / bc1
            if not _sizes_stand(b1, bc1, tf, hp):
                for i in range(e - j):
                    ss[i] = div_rn(lr_[i], bc1, rbc1)
            for d in range(x.shape[0]):
                xd = x[d, j:e]
                gd = g[d, j:e]
                md = st[S_EXP_AVG, d, j:e]
                vd = st[S_EXP_AVG_SQ, d, j:e]
                wd_ = st[S_MAX_EXP_AVG_SQ, d, j:e]
                for i in range(e - j):
                    xi, m, v, vm = _update(xd[i], gd[i], md[i], vd[i], wd_[i], lr_[i], b1, b2, eps, wd, ss[i], c2,
                                           rc2, maximize, decoupled, amsgrad)
                    xd[i] = xi
                    md[i] = m
                    vd[i] = v
                    wd_[i] = vm if amsgrad else wd_[i]
            j = e
        return
    if sc[K_SAME_BETAS, 0] != 0.0:  # one (beta1, beta2) in the block: one pow each
        bc1 = 1.0 - hp[H_BETA1, 0] ** tf
        c2 = (1.0 - hp[H_BETA2, 0] ** tf) ** half
        rc2 = 1.0 / c2
        for j in range(n):
            sc[K_STEP_SIZE, j] = hp[H_LR, j] / bc1
            sc[K_SQRT_BC2, j] = c2
            sc[K_RC2, j] = rc2
    elif hp[H_SCHEDULE, 0] < 2.0:  # betas per trajectory: beta ** t without a pow per trajectory, same bits
        _bias_corrections(sc, hp, tf, n)
    else:  # beta1 cycled by a scheduler, per trajectory: torch's pow of this step's beta
        for j in range(n):
            sc[K_STEP_SIZE, j] = hp[H_LR, j] / (1.0 - hp[H_BETA1, j] ** tf)
            c2 = (1.0 - hp[H_BETA2, j] ** tf) ** half
            sc[K_SQRT_BC2, j] = c2
            sc[K_RC2, j] = 1.0 / c2
    for d in range(x.shape[0]):
        for j in range(n):  # sqrt(v) / c2 by div_rn from K_RC2 = 1 / c2 (the same bits, no divider)
            vm0 = st[S_MAX_EXP_AVG_SQ, d, j]
            xi, m, v, vm = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j],
                                   vm0, hp[H_LR, j], hp[H_BETA1, j], hp[H_BETA2, j],
                                   hp[H_EPS, j], hp[H_WEIGHT_DECAY, j], sc[K_STEP_SIZE, j], sc[K_SQRT_BC2, j],
                                   sc[K_RC2, j], maximize, decoupled, amsgrad)
            x[d, j] = xi
            st[S_EXP_AVG, d, j] = m
            st[S_EXP_AVG_SQ, d, j] = v
            st[S_MAX_EXP_AVG_SQ, d, j] = vm if amsgrad else vm0


@jitable(inline="never")
def _find_runs(sc, hp, n):
    """Runs of one (beta1, beta2) side by side in a block with several (a grid's start points,
    the edges of a regrouped sweep's settings, optlab.engine.core.regroup): ``K_RUN_END`` at
    each run's first trajectory, and ``K_FEW_RUNS`` when there are at most MAX_RUNS, which then
    take one pow each per step. Called by the first step (hyperparameters never change during a
    run, unless a scheduler cycles beta1: not called then)."""
    runs = 0
    j = 0
    while j < n:
        e = j + 1
        while e < n and hp[H_BETA1, e] == hp[H_BETA1, j] and hp[H_BETA2, e] == hp[H_BETA2, j] \
                and hp[H_EPS, e] == hp[H_EPS, j] and hp[H_WEIGHT_DECAY, e] == hp[H_WEIGHT_DECAY, j]:
            e += 1
        sc[K_RUN_END, j] = float(e)
        runs += 1
        j = e
    few = 1.0 if runs <= MAX_RUNS else 0.0
    for j in range(n):
        sc[K_FEW_RUNS, j] = few


@jitable(inline="never")
def _bias_corrections(sc, hp, tf, n):
    """Step size ``lr / (1 - beta1**t)``, ``c = (1 - beta2**t) ** 0.5`` and ``1 / c`` per
    trajectory, with each power libm's bits: a running double-double product (engine/powexact),
    vectorised, and libm's pow only where the product cannot decide the rounding (a few
    percent). The root is torch's ``** 0.5`` (libm's pow): the correctly rounded sqrt y with
    the residual ``(x - y*y) / 2y`` (from ``1 / y``, which the coordinates need anyway: they
    divide by c with ``div_rn``) as a double-double, kept where glibc's bound on pow says pow
    returns y too, libm's pow elsewhere (near a rounding tie). One vector loop marks with a NaN
    what libm must decide (the step size where beta1's power is undecided; ``K_POW2``, beta2's
    power, likewise; the root where it or beta2's power is), a branch-free loop lists the marked
    trajectories (``K_MEND``), and a scalar loop mends those only (about 8% of them a step for
    betas spread as in the bench's ``betas_sweep``, nearly all for the root alone: roots of
    ``1 - beta2**t``, a number with few significant bits while the power is near 1, fall near a
    tie more often than uniformly; for these libm's pow takes the decided power directly)."""
    bad = 0
    for j in range(n):
        h1, l1 = pow_dd_step(sc[K_POW1_HI, j], sc[K_POW1_LO, j], hp[H_BETA1, j])
        h2, l2 = pow_dd_step(sc[K_POW2_HI, j], sc[K_POW2_LO, j], hp[H_BETA2, j])
        sc[K_POW1_HI, j] = h1
        sc[K_POW1_LO, j] = l1
        sc[K_POW2_HI, j] = h2
        sc[K_POW2_LO, j] = l2
        r1, ok1 = pow_dd_round(h1, l1)
        r2, ok2 = pow_dd_round(h2, l2)
        # undecided, libm returns hi or its neighbour on lo's side, hi + 2 lo (rounded: |2 lo| is
        # within 2 BAND of the spacing there); only 1 - p matters here, the same for both more
        # often than not once p < 1/2 (and always below 2**-55)
        ok1 = (ok1 | (1.0 - h1 == 1.0 - (h1 + 2.0 * l1))) & EXACT_FAST
        ok2 = (ok2 | (1.0 - h2 == 1.0 - (h2 + 2.0 * l2))) & EXACT_FAST
        b = 1.0 - r2
        y = math.sqrt(b)
        rc = 1.0 / y
        # the residual over 2y as e * (0.5 / y): a relative error of an ulp on a term the band
        # test compares with 0.48 ulp of y, far inside its margin (powexact: BAND_NEAR)
        _, ok3 = pow_dd_round(y, fma(-y, y, b) * (0.5 * rc))
        ok3 = ok3 & ok2 & EXACT_FAST
        sc[K_STEP_SIZE, j] = hp[H_LR, j] / (1.0 - r1) if ok1 else math.nan  # NaN: libm decides, below
        sc[K_POW2, j] = r2 if ok2 else math.nan
        sc[K_SQRT_BC2, j] = y if ok3 else math.nan
        sc[K_RC2, j] = rc
        bad += not (ok1 & ok3)
    if bad == 0:
        return
    # the marked trajectories listed first, without a branch a trajectory (a scan that tested each
    # mispredicted on about one in twelve)
    k = 0
    for j in range(n):
        sc[K_MEND, k] = j
        k += (sc[K_STEP_SIZE, j] != sc[K_STEP_SIZE, j]) | (sc[K_SQRT_BC2, j] != sc[K_SQRT_BC2, j])
    half = libm_half(hp[H_EPS, 0])
    for q in range(k):  # a loop over the list: LLVM calls pow for these only
        j = int(sc[K_MEND, q])
        if sc[K_STEP_SIZE, j] != sc[K_STEP_SIZE, j]:
            sc[K_STEP_SIZE, j] = hp[H_LR, j] / (1.0 - hp[H_BETA1, j] ** tf)
        if sc[K_SQRT_BC2, j] == sc[K_SQRT_BC2, j]:
            continue
        p2 = sc[K_POW2, j]
        if p2 == p2:  # beta2's power decided, its root too near a tie: libm's root of it
            c = (1.0 - p2) ** half
        else:  # beta2's power from libm, then its root as above
            b = 1.0 - hp[H_BETA2, j] ** tf
            y = math.sqrt(b)
            _, ok = pow_dd_round(y, fma(-y, y, b) / (y + y))
            c = y if ok & EXACT_FAST else b ** half
        sc[K_SQRT_BC2, j] = c
        sc[K_RC2, j] = 1.0 / c


def _validate(v):
    check_lr(v)
    check_eps(v)
    check_betas(v)
    check_weight_decay(v)
    check_bool(v, "amsgrad", "maximize", "decoupled_weight_decay")


_DEFAULTS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False, decoupled_weight_decay=False)

SPECS = [
    OptimizerSpec(
        name="adam",
        kernels=sys.modules[__name__],
        defaults=_DEFAULTS,
        vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
        static=("amsgrad", "maximize", "decoupled_weight_decay"),
        state=('exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'), scalars=('step_size', 'sqrt_bc2', 'same_betas', 'same_all', 'same_rest', 'pow1_hi', 'pow1_lo', 'pow2_hi',
             'pow2_lo', 'rc2', 'pow2', 'few_runs', 'run_end', 'mend'),
        validate=_validate,
        summary="Adam: bias-corrected first and second moment estimates (torch.optim.Adam)",
        torch_name="Adam",
        reference="Kingma & Ba, ICLR 2015; Reddi et al., ICLR 2018 (amsgrad)",
    ),
    OptimizerSpec(
        name="adamw",
        kernels=sys.modules[__name__],
        defaults={**_DEFAULTS, "weight_decay": 1e-2, "decoupled_weight_decay": True},
        vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
        static=("amsgrad", "maximize", "decoupled_weight_decay"),
        state=('exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'), scalars=('step_size', 'sqrt_bc2', 'same_betas', 'same_all', 'same_rest', 'pow1_hi', 'pow1_lo', 'pow2_hi',
             'pow2_lo', 'rc2', 'pow2', 'few_runs', 'run_end', 'mend'),
        validate=_validate,
        summary="AdamW: Adam with decoupled weight decay (torch.optim.AdamW)",
        config_hidden=("decoupled_weight_decay",),  # AdamW is Adam with it on; torch has no such keyword
        torch_name="AdamW",
        reference="Loshchilov & Hutter, ICLR 2019",
    ),
]
