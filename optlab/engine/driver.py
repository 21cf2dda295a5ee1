"""The driver rules, once: what every engine does around an optimizer's step.

Every kernel -- the blocked CPU template, the CUDA template (one trajectory
per thread, a block of width 1) and L-BFGS's own CPU kernel -- calls these
functions; none writes the rules again. They work on a *block*: arrays whose
last axis holds ``n`` trajectories (columns), as the optimizer and objective
kernels do, and they are plain Python in the Numba subset (the kernel layer:
they import only ``ops`` and ``rng``), so one source serves every target:

* CPU: compiled once, on their own, and cached (:mod:`optlab.engine.driver_cpu`);
  a kernel calls them instead of inlining them, so they add nothing to a
  kernel's compile time;
* CUDA: device functions (``optlab.engine.cuda_ops.device_function``);
* ``NUMBA_DISABLE_JIT=1`` and the CUDA simulator: plain Python.

Per step ``t`` (0 .. steps; the last evaluation follows the last step):

1. ``f`` and ``g`` at ``x`` come from the objective;
2. :func:`observe` (:func:`books`, :func:`record`): the gradient norm, the books (best loss and its step,
   the divergence step, the step from which the run stayed within the tolerance) and every
   ``rec_every``-th step's record (NaN once diverged, so plots show where a
   run broke off), with the optimizer's extra records;
3. :func:`perturb`: additive Gaussian gradient noise from the counter-based
   generator, keyed ``(seed, trajectory, t, d)``, then gradient-norm clipping
   as ``torch.nn.utils.clip_grad_norm_``;
4. the optimizer's step.

Book-keeping is written as selects with ``&``, not branches with ``and``, so
the loops stay vectorised (docs/DESIGN.md).
"""
import math

import numpy as np

from .ops import fma, jitable, like, opaque_one, single
from .rng import normal


def start(x0, hp, i0, n, x, g, f, xa, fa, st, sc, hb, bf, gn, bt, dt, ht):
    """Begin a block: trajectories ``i0 .. i0+n`` and their hyperparameters loaded,
    every working array zeroed and the books reset.

    Columns past ``n`` (a short last block) are copies of the first, so every
    loop over the block has the same trip count. The engine allocates the
    arrays once per thread, outside the kernel: allocating in compiled code
    costs each kernel ~0.2 s of compile per array type."""
    for d in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[d, j] = x0[i0 + (j if j < n else 0), d]
            g[d, j] = 0.0
    for k in range(hb.shape[0]):
        for j in range(x.shape[1]):
            # the H_SCHEDULE row: -1, no scheduler (schedule_start overwrites it in a scheduled kernel)
            hb[k, j] = hp[k, i0 + (j if j < n else 0)] if k < hp.shape[0] else -1.0
    for d in range(xa.shape[0]):
        for j in range(xa.shape[1]):
            xa[d, j] = 0.0
    for j in range(fa.shape[0]):
        fa[j] = 0.0
    for k in range(st.shape[0]):
        for d in range(st.shape[1]):
            for j in range(st.shape[2]):
                st[k, d, j] = 0.0
    for k in range(sc.shape[0]):
        for j in range(sc.shape[1]):
            sc[k, j] = 0.0
    for j in range(x.shape[1]):
        f[j] = 0.0
        gn[j] = 0.0
        bf[j] = np.inf
        bt[j] = 0
        dt[j] = -1
        ht[j] = -1


def observe(t, steps, rec_every, x, f, g, st, ex0, nex, f_target, tol, blowup,
            bf, bt, dt, ht, gn, i0, n, rec_x, rec_f, rec_e):
    """Everything the engine notes after evaluating ``f`` and ``g`` at step ``t``:
    :func:`books`, then, every ``rec_every``-th step, :func:`record`. (The CPU
    template calls the two itself: a call that passes fewer arrays costs less.)"""
    books(t, steps, f, g, f_target, tol, blowup, bf, bt, dt, ht, gn, f.shape[0])
    if t % rec_every == 0:
        record(t, rec_every, x, f, st, ex0, nex, dt, i0, n, rec_x, rec_f, rec_e)


@jitable(inline="never")
def books(t, steps, f, g, f_target, tol, blowup, bf, bt, dt, ht, gn, w):
    """The gradient norm and the books of the block's first ``w`` columns after
    evaluating ``f`` and ``g`` at step ``t``.

    * the gradient norm ``gn`` (summed in coordinate order): every step when
      the minimum value is unknown (``f_target`` NaN), else at the last step;
    * the books: best loss and its step, the divergence step (first
      ``|f| > blowup`` or non-finite ``f``), the step from which the run
      stayed within the tolerance (``f - f_target <= tol``, or ``gn <= tol``;
      -1 while it is outside), so a run that touches the tolerance and leaves
      again has not reached it."""
    use_f = f_target == f_target
    if not use_f or t == steps:
        for d in range(g.shape[0]):  # trajectories innermost: a vector loop, the sums in coordinate order
            for j in range(w):
                s2 = 0.0 if d == 0 else gn[j]
                gn[j] = s2 + float(g[d, j] * g[d, j])  # the square in g's type (Numba's float() keeps a float32)
        for j in range(w):
            gn[j] = math.sqrt(gn[j])
    # no masked stores (ops.opaque_one): a kept value is written back as ``old ^ z`` (a step
    # number; z = 0, as a step number is below 2**62) or ``old * one`` (the best loss), never as
    # the loaded ``old``, and every load is unconditional. The books were a fifth of Adam's lr
    # sweep on an AMD EPYC with the masked stores LLVM made of ``a[j] = v if c else a[j]``.
    z = t >> 62
    one = opaque_one(tol)  # tol: finite, given at run time
    for j in range(w):
        fj = float(f[j])
        b0 = bf[j]
        better = fj < b0
        bf[j] = fj if better else b0 * one
        bj = bt[j]
        bt[j] = t if better else bj ^ z
        dj = dt[j]
        nd = (dj < 0) & (not abs(fj) <= blowup)
        dj = t if nd else dj ^ z
        dt[j] = dj
        crit = (fj - f_target) if use_f else gn[j]
        hj = ht[j]
        inside = (dj < 0) & (crit <= tol)  # NaN: outside
        # the step the run entered the tolerance for the last time: -1 again on every step
        # outside it, so at the end it is the step from which the run stayed inside
        nh = (hj < 0) & inside
        hj = t if nh else hj ^ z
        ht[j] = hj if inside else -1 - z


@jitable(inline="never")
def record(t, rec_every, x, f, st, ex0, nex, dt, i0, n, rec_x, rec_f, rec_e):
    """Record row ``t // rec_every`` of trajectories ``i0 .. i0+n``: x, f and
    ``nex`` state rows from ``st[ex0]``; NaN for a run that diverged before
    ``t``, so plots show where a run broke off."""
    r = t // rec_every
    for j in range(n):
        gone = (dt[j] >= 0) & (dt[j] < t)
        rec_f[i0 + j, r] = np.nan if gone else f[j]
        for d in range(x.shape[0]):
            rec_x[i0 + j, r, d] = np.nan if gone else x[d, j]
        for e in range(nex):
            for d in range(x.shape[0]):
                rec_e[e, i0 + j, r, d] = st[ex0 + e, d, j]


def perturb(g, noise, clip, seed, traj0, t, w):
    """Gradient noise (std ``noise``, trajectory ``traj0 + j``), then clipping to norm ``clip``,
    on the block's first ``w`` columns."""
    if noise > 0.0:
        for d in range(g.shape[0]):
            for j in range(w):
                g[d, j] = np.float64(g[d, j]) + noise * normal(seed, traj0 + j, t, d)  # in float64, as compiled
    if clip > 0.0:  # torch.nn.utils.clip_grad_norm_ on the (noisy) gradient
        for j in range(w):
            c = clip_coef(g, j, clip)
            if not (c >= 1.0):  # torch clamps the factor to 1 and multiplies: a NaN factor too
                for d in range(g.shape[0]):
                    g[d, j] = g[d, j] * c


@jitable
def clip_coef(g, j, clip):
    """``torch.nn.utils.clip_grad_norm_``'s factor for column ``j`` of ``g``, in ``g``'s type and
    with torch's roundings (torch 2.13's CPU kernels, measured bit for bit on an Intel Xeon with
    AVX-512): ``max_norm / (total_norm + 1e-6)``, a Python scalar over a tensor, is
    ``reciprocal(total_norm + 1e-6) * max_norm``; the total norm of one parameter is its norm;
    the norm of one element is its absolute value, of more the root of :func:`torch_sum_sq`."""
    z = like(0.0, g[0, j])
    if g.shape[0] == 1:
        n = abs(g[0, j])
    else:
        s = torch_sum_sq(g, j)
        n = like(math.sqrt(s), s)
    return (like(1.0, z) / (n + like(1e-6, z))) * like(clip, z)


@jitable
def torch_sum_sq(g, j):
    """The sum of squares of column ``j`` of ``g`` as torch's CPU 2-norm of a contiguous vector
    adds it (``norm_kernel_tensor_iterator_impl``): lanes of 4 float64 (8 float32) elements,
    each ``acc + v * v`` unfused, folded left to right; then the rest one by one, fused
    (``fma``), float32's first four of them unfused. Measured against torch 2.13's AVX2 and
    AVX-512 kernels for 1-1000 elements (tests/test_parity.py); its portable build adds otherwise."""
    D = g.shape[0]
    z = like(0.0, g[0, j])
    f32 = single(z)
    V = 8 if f32 else 4
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
    nv = D - D % V
    for d in range(0, nv, V):
        a0 = a0 + g[d, j] * g[d, j]
        a1 = a1 + g[d + 1, j] * g[d + 1, j]
        a2 = a2 + g[d + 2, j] * g[d + 2, j]
        a3 = a3 + g[d + 3, j] * g[d + 3, j]
        if f32:
            a4 = a4 + g[d + 4, j] * g[d + 4, j]
            a5 = a5 + g[d + 5, j] * g[d + 5, j]
            a6 = a6 + g[d + 6, j] * g[d + 6, j]
            a7 = a7 + g[d + 7, j] * g[d + 7, j]
    s = a0 + a1 + a2 + a3
    if f32:
        s = s + a4 + a5 + a6 + a7
    d0 = nv
    if f32 and D - nv >= 4:
        for d in range(nv, nv + 4):
            s = s + g[d, j] * g[d, j]
        d0 = nv + 4
    for d in range(d0, D):
        s = fma(g[d, j], g[d, j], s)
    return s


def no_perturb(g, noise, clip, seed, traj0, t, w):
    """:func:`perturb` of a run without gradient noise or clipping: the CPU kernel calls its
    ``perturb`` argument only when one is on, and a run without them passes this, so that a
    kernel compiles neither (the noise generator was a fifth of a cold first run)."""
    return


def finish(x, f, gn, bf, bt, dt, ht, sc, fs0, nsx, i0, n,
           x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out):
    """Write the final state and the books of trajectories ``i0 .. i0+n``."""
    for j in range(n):
        i = i0 + j
        for d in range(x.shape[0]):
            x_out[i, d] = x[d, j]
        f_out[i] = f[j]
        gn_out[i] = gn[j]
        best_f[i] = bf[j]
        best_t[i] = bt[j]
        div_t[i] = dt[j]
        hit_t[i] = ht[j]
        for e in range(nsx):
            ex_out[i, e] = sc[fs0 + e, j]


# --- learning-rate schedules (torch.optim.lr_scheduler) ----------------------------------------
# A scheduled kernel reads, before each step, every trajectory's lr (and, for the schedulers that
# cycle it, its momentum or beta1) from a table ``tab[t, row]`` computed up front by
# optlab.schedulers, ``row = sidx[trajectory]`` (one row per distinct setting). ReduceLROnPlateau,
# which follows the loss, runs here instead, as torch's ``step(metrics)`` after each optimizer step.
# The optimizer sees the schedule only through its hyperparameter rows, and through one more row,
# ``hb[len(vector)]`` (its ``H_SCHEDULE``): -1 in a kernel without a scheduler (:func:`start`: every
# hyperparameter keeps the value init saw), 0 when every trajectory of the block follows the same
# schedule row (its shared-hyperparameter paths stay valid), 1 when their lrs may differ, 2 when
# their momenta or betas may differ from step to step (no path may assume a beta fixed in time).

@jitable(inline="never")
def schedule_start(sidx, i0, n, hb, row, has_mom, plateau):
    """The block's ``H_SCHEDULE`` flag, in every column of ``hb[row]``; returns True when every
    trajectory of the block has the same scheduler row (one setting: :func:`schedule_step` and
    :func:`plateau_step` then read it once a step, not once a trajectory)."""
    same = True
    for j in range(n):
        same &= sidx[i0 + j] == sidx[i0]
    vary = plateau or not same
    flag = 0.0
    if vary:
        flag = 2.0 if has_mom else 1.0
    for j in range(hb.shape[1]):
        hb[row, j] = flag
    return same


@jitable(inline="never")
def schedule_load(tab, blk, t, hb, row):
    """Step ``t`` of the table into the block's hyperparameter row ``row``.

    ``tab`` is block-major, ``(blocks, steps + 1, B)``: block ``blk``'s values of step ``t``
    are contiguous and follow those of step ``t - 1``, so a block streams through its part
    (a gather through a row index per trajectory measured 1.9 ns per value, a step-major table
    2.4 ns: cache misses at every step; this 0.4 ns). A table of shape ``(1, steps + 1, 1)`` is
    one schedule for every trajectory, broadcast; the CUDA engine's blocks are one trajectory
    wide, ``(n, steps + 1, 1)``. (Compiled into the kernel, not called: a call
    per step cost the lr sweep a third of its speed.)"""
    if tab.shape[0] == 1 and tab.shape[2] == 1:
        v = tab[0, t, 0]
        for j in range(hb.shape[1]):
            hb[row, j] = v
    else:
        for j in range(hb.shape[1]):
            hb[row, j] = tab[blk, t, j]


@jitable(inline="never")
def schedule_step(prog, oidx, hp, lrow, i0, n, t, hb, row, same):
    """Step ``t`` of a schedule *program* (optlab.schedulers.program) on the block's lrs
    ``hb[row]``: ``(op, a, e) = prog[t, oidx[j]]`` (``oidx``: the block's option rows, one per
    column, computed once a block) applied to the trajectory's lr and its base lr
    ``hp[lrow, i]``, in torch's order of operations (MUL ``lr * a``, AFF ``a * (lr - e) + e``,
    COS2 ``lr + (base - e) * a / 2``, BASE ``base * a``, WARM ``e + (base - e) * a / 2``). One
    option setting in the block (``same``, from :func:`schedule_start`, or ``prog`` one row
    wide) decides the operation once a step. (Compiled into the kernel, as :func:`schedule_load`.)"""
    if same or prog.shape[1] == 1:
        r = 0 if prog.shape[1] == 1 else oidx[0]
        op = prog[t, r, 0]
        a = prog[t, r, 1]
        e = prog[t, r, 2]
        if op == 1.0:
            if a == 1.0:  # lr * 1.0 is lr, NaN and inf included: most steps of a step or warm-up schedule
                return
            for j in range(hb.shape[1]):
                hb[row, j] = hb[row, j] * a
        elif op == 2.0:
            for j in range(hb.shape[1]):
                hb[row, j] = a * (hb[row, j] - e) + e
        else:
            for j in range(hb.shape[1]):
                hb[row, j] = _program_op(op, a, e, hb[row, j], hp[lrow, i0 + (j if j < n else 0)])
        return
    op = prog[t, 0, 0]
    if prog[t, 0, 3] == 2.0:  # every setting multiplies by 1.0 this step: no lr changes
        return
    if prog[t, 0, 3] != 0.0 and op == 1.0:  # every setting multiplies this step (StepLR, LinearLR, ...)
        for j in range(hb.shape[1]):
            hb[row, j] = hb[row, j] * prog[t, oidx[j], 1]
        return
    for j in range(hb.shape[1]):
        r = oidx[j]
        hb[row, j] = _program_op(prog[t, r, 0], prog[t, r, 1], prog[t, r, 2], hb[row, j],
                                 hp[lrow, i0 + (j if j < n else 0)])


@jitable(inline="never")
def _program_op(op, a, e, lr, base):
    """One operation of a schedule program (:func:`schedule_step`)."""
    lr = float(lr)
    base = float(base)
    if op == 1.0:
        return lr * a
    if op == 2.0:
        return a * (lr - e) + e
    if op == 3.0:
        return lr + (base - e) * a / 2
    if op == 4.0:
        return base * a
    return e + (base - e) * a / 2


#: ReduceLROnPlateau's options, rows of ``popt`` (one column per distinct setting)
P_MODE_MAX, P_REL, P_FACTOR, P_PATIENCE, P_THRESHOLD, P_COOLDOWN, P_MIN_LR, P_EPS = 0, 1, 2, 3, 4, 5, 6, 7


@jitable(inline="never")
def plateau_start(pst, popt, sidx, i0, n):
    """ReduceLROnPlateau's state at construction: best = inf (mode min) or -inf (max), no bad
    epochs, no cooldown. ``pst`` is ``(3, trajectories)``: best, bad epochs, cooldown left
    (a block's values of one are contiguous)."""
    for j in range(n):
        i = i0 + j
        pst[0, i] = -np.inf if popt[P_MODE_MAX, sidx[i]] != 0.0 else np.inf
        pst[1, i] = 0.0
        pst[2, i] = 0.0


@jitable(inline="never")
def plateau_step(f, hb, row, pst, popt, sidx, i0, n, same):
    """``scheduler.step(loss)`` after the optimizer's step, ``loss`` the value at the start of
    that step, as torch's ReduceLROnPlateau.step (torch/optim/lr_scheduler.py, torch 2.13):
    is_better, bad-epoch count, cooldown, then ``_reduce_lr``: ``new = max(old * factor,
    min_lr)``, kept when ``old - new > eps``. ``same``: every trajectory of the block has one
    setting (:func:`schedule_start`): its options are read once and the block's columns run in
    one vectorised loop; else a column at a time."""
    j = 0
    while j < n:  # one call site: the helper is inlined
        j1 = n if same else j + 1
        _plateau_cols(f, hb, row, pst, popt, sidx[i0 + j], i0, j, j1)
        j = j1
    for j in range(n, hb.shape[1]):  # the block's padding follows its first trajectory
        hb[row, j] = hb[row, 0]


@jitable
def _plateau_cols(f, hb, row, pst, popt, r, i0, j0, j1):
    """:func:`plateau_step` on the block's columns ``j0 <= j < j1``, options ``popt[:, r]``: no
    branch in the loop, which vectorises (0.7 ns a trajectory-step; 4-6 ns scalar, docs/DESIGN.md
    "Learning-rate schedules")."""
    mx = popt[P_MODE_MAX, r] != 0.0
    rel = popt[P_REL, r] != 0.0
    thr = popt[P_THRESHOLD, r]
    factor = popt[P_FACTOR, r]
    patience = popt[P_PATIENCE, r]
    cooldown = popt[P_COOLDOWN, r]
    lo = popt[P_MIN_LR, r]
    eps = popt[P_EPS, r]
    # torch's is_better as one multiply-add and one comparison: ref = best * (1 -/+ thr) (rel) or
    # best -/+ thr (abs) is best * scale + off with the same bits (best * 1.0 is best; + 0.0 changes
    # only the sign of a zero, which no comparison sees), and cur > ref is -cur < -ref
    scale = ((thr + 1.0) if mx else (1.0 - thr)) if rel else 1.0
    off = 0.0 if rel else (thr if mx else -thr)
    sign = -1.0 if mx else 1.0
    # views that start at the first column: the loop's indices then start at 0, which LLVM sees
    # are never negative; an index i0 + j kept a wraparound select per access and the loop scalar
    lr = hb[row, j0:]
    ff = f[j0:]
    best_ = pst[0, i0 + j0:]
    bad_ = pst[1, i0 + j0:]
    cool_ = pst[2, i0 + j0:]
    if cooldown == 0.0:  # torch's default: no cooldown, the counter stays 0 (a quarter less work)
        for j in range(j1 - j0):
            cur = float(ff[j])
            best = best_[j]
            better = sign * cur < sign * (best * scale + off)
            best_[j] = cur if better else best
            bad = (bad_[j] + 1.0) * (0.0 if better else 1.0)
            cut = 1.0 if bad > patience else 0.0
            old = float(lr[j])
            new = old * factor
            new = lo if lo > new else new  # Python's max(old * factor, min_lr)
            lr[j] = new if (cut != 0.0) & (old - new > eps) else lr[j]
            bad_[j] = bad * (1.0 - cut)
        return
    for j in range(j1 - j0):
        cur = float(ff[j])
        best = best_[j]
        better = sign * cur < sign * (best * scale + off)
        best_[j] = cur if better else best
        # the counters are small whole numbers: 0/1 factors give them exactly, without branches
        # (written as selects, LLVM kept them branches: 4-6 ns a trajectory-step, not 0.7)
        bad = (bad_[j] + 1.0) * (0.0 if better else 1.0)
        cool = cool_[j]
        cooling = 1.0 if cool > 0.0 else 0.0  # in cooldown
        cool = cool - cooling
        bad = bad * (1.0 - cooling)
        cut = 1.0 if bad > patience else 0.0
        old = float(lr[j])
        new = old * factor
        new = lo if lo > new else new  # Python's max(old * factor, min_lr)
        lr[j] = new if (cut != 0.0) & (old - new > eps) else lr[j]
        cool_[j] = cooldown * cut + cool * (1.0 - cut)
        bad_[j] = bad * (1.0 - cut)


@jitable(inline="never")
def record_lr(t, rec_every, hb, row, i0, n, rec_lr):
    """The lr in effect at step ``t`` (the one its step uses), into record ``t // rec_every``."""
    r = t // rec_every
    for j in range(n):
        rec_lr[i0 + j, r] = hb[row, j]


@jitable(inline="never")
def clamp(x, lo, hi, w):
    """``x.clamp_(lo, hi)`` after the optimizer's step (a projection onto the box ``[lo, hi]``,
    as ``p.clamp_(lo, hi)`` after ``optimizer.step()`` in torch): ``min(max(x, lo), hi)``, NaN
    kept. The block's first ``w`` columns."""
    for d in range(x.shape[0]):
        for j in range(w):
            v = x[d, j]
            v = lo if v < lo else v
            x[d, j] = hi if v > hi else v
