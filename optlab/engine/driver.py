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
   the divergence step, the first step within the tolerance) and every
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

from .ops import jitable
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
            hb[k, j] = hp[k, i0 + (j if j < n else 0)] if k < hp.shape[0] else 0.0
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
      ``|f| > blowup`` or non-finite ``f``), the first step within the
      tolerance (``f - f_target <= tol``, or ``gn <= tol``)."""
    use_f = f_target == f_target
    if not use_f or t == steps:
        for j in range(w):
            s2 = 0.0
            for d in range(g.shape[0]):
                s2 += float(g[d, j]) * float(g[d, j])
            gn[j] = math.sqrt(s2)
    for j in range(w):
        fj = float(f[j])
        better = fj < bf[j]
        bf[j] = fj if better else bf[j]
        bt[j] = t if better else bt[j]
        dj = dt[j]
        nd = (dj < 0) & (not abs(fj) <= blowup)
        dj = t if nd else dj
        dt[j] = dj
        crit = (fj - f_target) if use_f else gn[j]
        nh = (ht[j] < 0) & (dj < 0) & (crit <= tol)
        ht[j] = t if nh else ht[j]


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
                g[d, j] += noise * normal(seed, traj0 + j, t, d)
    if clip > 0.0:  # torch.nn.utils.clip_grad_norm_ on the (noisy) gradient
        for j in range(w):
            s2 = 0.0
            for d in range(g.shape[0]):
                s2 += float(g[d, j]) * float(g[d, j])
            c = clip / (math.sqrt(s2) + 1e-6)
            if c < 1.0:
                for d in range(g.shape[0]):
                    g[d, j] = g[d, j] * c


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
