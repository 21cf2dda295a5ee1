"""The CPU engine for L-BFGS: one generated kernel (per dtype) for every objective.

L-BFGS is not elementwise: a torch ``LBFGS.step(closure)`` runs up to
``max_iter`` quasi-Newton iterations, each with a dot-product two-loop
recursion over the history and (optionally) a strong-Wolfe line search that
calls the closure several times. So it cannot use the blocked template of
:mod:`optlab.engine.cpu`; this module generates its own kernel, with exactly
the same ``run(...)`` signature and outputs (records, divergence step, best
loss, tolerance step, ``ex_out``), in which

* the kernel runs its trajectories one after another (the engine's threads
  take chunks of them); the objective is the kernel's ``fg`` argument, the
  elementwise engine's compiled first-class function
  (:mod:`optlab.engine.objective_cpu`), called on a (D, 1) block with n = 1
  and a ctx with the engine's scratch rows;
* the engine's block arrays (``cpu.workspace``, one trajectory wide here) are
  the driver's, and L-BFGS's own state is one float64 allocation per call,
  zeroed for each trajectory: every array allocated in compiled code costs
  compile time (25 ``np.zeros`` cost ~2.5 s of the first compile). The
  trajectory loop is ``run`` itself, not a function it calls: Numba links a
  callee's optimised code into its caller and LLVM optimises the whole again
  at each level, so one level less is one pass over the kernel less
  (docs/DESIGN.md, "L-BFGS's first compile");
* one engine step is one ``optimizer.step(closure)`` -- the closure
  evaluation that starts the step is the one that is recorded;
* the state (direction, step, history of ``history_size`` pairs as a ring
  buffer, ``H_diag``, previous gradient and loss, ``n_iter``, ``func_evals``)
  persists across steps, as torch keeps it in ``optimizer.state``;
* ``ex_out[i, 0]`` is torch's ``state["func_evals"]`` after the last step;
* in a float32 run the parameters are rounded to float32 at each update (torch keeps them
  in float32: kept in float64 between float32 evaluations, the line search compared the
  float32 losses of points it did not hold, and Rosenbrock stalled at 1.34); the direction,
  the history and the line search compute in float64.

Bit-level details follow torch 2.13's ``torch/optim/lbfgs.py``:
``p.add_(d, alpha=t)`` is ``fma(t, d, p)``, ``q.add_(y, alpha=-a)`` is
``fma(-a, y, q)``; ``torch.dot`` on CPU float64 sums the products in four
interleaved accumulators combined as ``(a0 + a2) + (a1 + a3)`` (exact for
n <= 8, measured against torch 2.13) and ``Tensor.sum`` of |g| adds four
interleaved accumulators in order (exact for n <= 5). In the cubic
interpolation torch computes ``3 (f1 - f2) / (x1 - x2)`` as a reciprocal
times the scalar when the step ``t`` is a 0-dim tensor -- it is one on the
very first iteration (``t = min(1, 1/sum|g|) * lr``) when ``1/sum|g| < 1``,
and stays one through the arithmetic of that line search. The kernels track
that "is a tensor" flag alongside each step value.

Gradient noise and clipping apply to every closure gradient: evaluation
``e`` of step ``t`` draws its noise with key ``(seed, trajectory, t, e*D + d)``
(so the first evaluation of a step draws the same numbers as the elementwise
engine), and clipping uses the norm of the noisy gradient.
"""
from __future__ import annotations

from . import codegen

_TEMPLATE = '''{header}"""optlab CPU kernel: L-BFGS (generated; do not edit)."""
import math
import numpy as np
from numba import njit
from optlab.engine.rng import normal
from optlab.engine.ops import fma
from optlab.engine.driver import clip_coef
from optlab.engine.driver_cpu import start, observe, finish
from optlab.engine.lbfgs_ops import tdot, tabssum, tabsmax, cubic_interpolate, C1, C2

DTYPE = "{dtype}"  # the run's (a kernel compiles one signature)


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def closure(x, t, d, xb, gb, fb, gout, p, ctx, noise, clip, seed, traj, step, ev, obj_fg):
    """Evaluate f and grad f at x + t*d (fma, as p.add_(d, alpha=t)); grad into gout."""
    D = x.shape[0]
    for k in range(D):
        xb[k, 0] = fma(t, d[k], x[k])
    obj_fg(xb, gb, fb, p, 1, ctx)
    for k in range(D):
        gout[k] = gb[k, 0]
    if noise > 0.0:
        for k in range(D):
            gout[k] += noise * normal(seed, traj, step, ev * D + k)
    if clip > 0.0:  # torch.nn.utils.clip_grad_norm_, as the other kernels (driver.clip_coef)
        c = clip_coef(gout.reshape((D, 1)), 0, clip)
        if not (c >= 1.0):
            for k in range(D):
                gout[k] = gout[k] * c
    return float(fb[0])


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def strong_wolfe(x, t, t_tensor, d, f, g, gtd, tol_change, max_ls, xb, gb, fb, p, ctx,
                 noise, clip, seed, traj, step, ev0, g0, gp, gn_, bg, gout, out, obj_fg):
    """torch's ``_strong_wolfe``: the new loss, gradient (into gout), t and evals (into out)."""
    D = x.shape[0]
    d_norm = tabsmax(d, D)
    for k in range(D):
        g0[k] = g[k]
    f_new = closure(x, t, d, xb, gb, fb, gn_, p, ctx, noise, clip, seed, traj, step, ev0, obj_fg)
    ls_evals = 1
    gtd_new = tdot(gn_, d, D)
    t_prev = 0.0
    tp_tensor = False
    f_prev = f
    for k in range(D):
        gp[k] = g0[k]
    gtd_prev = gtd
    done = False
    ls_iter = 0
    nb = 0
    b0 = 0.0
    b1 = 0.0
    tb0 = False
    tb1 = False
    bf0 = 0.0
    bf1 = 0.0
    bd0 = 0.0
    bd1 = 0.0
    while ls_iter < max_ls:
        if f_new > (f + C1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            nb = 2
            b0, b1, tb0, tb1 = t_prev, t, tp_tensor, t_tensor
            bf0, bf1 = f_prev, f_new
            bd0, bd1 = gtd_prev, gtd_new
            for k in range(D):
                bg[0, k] = gp[k]
                bg[1, k] = gn_[k]
            break
        if abs(gtd_new) <= -C2 * gtd:
            nb = 1
            b0, tb0 = t, t_tensor
            bf0 = f_new
            for k in range(D):
                bg[0, k] = gn_[k]
            done = True
            break
        if gtd_new >= 0.0:
            nb = 2
            b0, b1, tb0, tb1 = t_prev, t, tp_tensor, t_tensor
            bf0, bf1 = f_prev, f_new
            bd0, bd1 = gtd_prev, gtd_new
            for k in range(D):
                bg[0, k] = gp[k]
                bg[1, k] = gn_[k]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10.0
        tmp = t
        tmp_tensor = t_tensor
        t, t_tensor = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                        min_step, max_step, True, tp_tensor, t_tensor,
                                        t_tensor or tp_tensor, t_tensor)
        t_prev = tmp
        tp_tensor = tmp_tensor
        f_prev = f_new
        for k in range(D):
            gp[k] = gn_[k]
        gtd_prev = gtd_new
        f_new = closure(x, t, d, xb, gb, fb, gn_, p, ctx, noise, clip, seed, traj, step,
                        ev0 + ls_evals, obj_fg)
        ls_evals += 1
        gtd_new = tdot(gn_, d, D)
        ls_iter += 1
    if ls_iter == max_ls:
        nb = 2
        b0, b1, tb0, tb1 = 0.0, t, False, t_tensor
        bf0, bf1 = f, f_new
        for k in range(D):
            bg[0, k] = g0[k]
            bg[1, k] = gn_[k]
    # zoom
    insuf_progress = False
    if nb == 1:
        low = 0 if bf0 <= bf0 else 1
    else:
        low = 0 if bf0 <= bf1 else 1
    if low >= nb:  # NaN loss with a one-point bracket: torch would fail; keep the point
        low = 0
    high = 1 - low
    while (not done) and ls_iter < max_ls:
        if abs(b1 - b0) * d_norm < tol_change:
            break
        t, t_tensor = cubic_interpolate(b0, bf0, bd0, b1, bf1, bd1, 0.0, 0.0, False,
                                        tb0, tb1, False, False)
        # Python's max/min over the list [b0, b1]
        if b1 > b0:
            bmax, tmax = b1, tb1
        else:
            bmax, tmax = b0, tb0
        if b1 < b0:
            bmin, tmin = b1, tb1
        else:
            bmin, tmin = b0, tb0
        eps = 0.1 * (bmax - bmin)
        teps = tmax or tmin
        a1 = bmax - t
        a2 = t - bmin
        close = (a2 if a2 < a1 else a1) < eps
        if close:
            if insuf_progress or t >= bmax or t <= bmin:
                if abs(t - bmax) < abs(t - bmin):
                    t = bmax - eps
                    t_tensor = tmax or teps
                else:
                    t = bmin + eps
                    t_tensor = tmin or teps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new = closure(x, t, d, xb, gb, fb, gn_, p, ctx, noise, clip, seed, traj, step,
                        ev0 + ls_evals, obj_fg)
        ls_evals += 1
        gtd_new = tdot(gn_, d, D)
        ls_iter += 1
        bf_low = bf0 if low == 0 else bf1
        if f_new > (f + C1 * t * gtd) or f_new >= bf_low:
            if high == 0:
                b0, tb0, bf0, bd0 = t, t_tensor, f_new, gtd_new
            else:
                b1, tb1, bf1, bd1 = t, t_tensor, f_new, gtd_new
            for k in range(D):
                bg[high, k] = gn_[k]
            low = 0 if bf0 <= bf1 else 1
            high = 1 - low
        else:
            if abs(gtd_new) <= -C2 * gtd:
                done = True
            elif gtd_new * ((b1 - b0) if high == 1 else (b0 - b1)) >= 0.0:
                # old high becomes new low
                if high == 0:
                    b0, tb0, bf0, bd0 = b1, tb1, bf1, bd1
                else:
                    b1, tb1, bf1, bd1 = b0, tb0, bf0, bd0
                for k in range(D):
                    bg[high, k] = bg[low, k]
            if low == 0:
                b0, tb0, bf0, bd0 = t, t_tensor, f_new, gtd_new
            else:
                b1, tb1, bf1, bd1 = t, t_tensor, f_new, gtd_new
            for k in range(D):
                bg[low, k] = gn_[k]
    for k in range(D):
        gout[k] = bg[low, k]
    out[0] = b0 if low == 0 else b1
    out[1] = ls_evals
    return bf0 if low == 0 else bf1


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def lbfgs_step(x, g, loss, lr, hs, d, pg, dirs, stps, ro, al, sv, iv, xb, gb, fb, p, ctx,
               noise, clip, seed, traj, step, wk, bg, out, obj_fg):
    """One ``LBFGS.step(closure)`` after its first closure call gave (loss, g) at x.

    sv: [t, H_diag, prev_loss]; iv: [n_iter, func_evals, oldest slot, history length].
    """
    D = x.shape[0]
    max_iter = int(hs[0])
    max_eval = int(hs[1])
    tol_grad = float(hs[2])
    tol_change = float(hs[3])
    hist = int(hs[4])
    use_ls = hs[5] != 0.0
    w0 = wk[0]
    w1 = wk[1]
    w2 = wk[2]
    gw = wk[3]
    current_evals = 1
    iv[1] += 1
    if tabsmax(g, D) <= tol_grad:
        return loss
    t = sv[0]
    n_iter = 0
    ev = np.int64(1)
    while n_iter < max_iter:
        n_iter += 1
        iv[0] += 1
        if iv[0] == 1:
            for k in range(D):
                d[k] = -g[k]
            iv[2] = 0
            iv[3] = 0
            sv[1] = 1.0
        else:
            # y = g - g_prev and s = d * t go straight into the next history slot
            h0 = iv[2]
            nh = iv[3]
            slot = (h0 + nh) % hist
            for k in range(D):
                w0[k] = g[k] - pg[k]
                w1[k] = d[k] * t
            ys = tdot(w0, w1, D)
            if ys > 1e-10:
                if nh == hist:
                    h0 = (h0 + 1) % hist
                    nh -= 1
                    slot = (h0 + nh) % hist
                for k in range(D):
                    dirs[slot, k] = w0[k]
                    stps[slot, k] = w1[k]
                ro[slot] = 1.0 / ys
                nh += 1
                iv[2] = h0
                iv[3] = nh
                sv[1] = ys / tdot(w0, w0, D)
            # two-loop recursion
            for k in range(D):
                w2[k] = -g[k]
            for i in range(nh - 1, -1, -1):
                s_ = (h0 + i) % hist
                a = tdot(stps[s_], w2, D) * ro[s_]
                al[i] = a
                for k in range(D):
                    w2[k] = fma(-a, dirs[s_, k], w2[k])
            hd = sv[1]
            for k in range(D):
                d[k] = w2[k] * hd
            for i in range(nh):
                s_ = (h0 + i) % hist
                be = tdot(dirs[s_], d, D) * ro[s_]
                c = al[i] - be
                for k in range(D):
                    d[k] = fma(c, stps[s_, k], d[k])
        for k in range(D):
            pg[k] = g[k]
        sv[2] = loss
        prev_loss = loss
        t_tensor = False
        if iv[0] == 1:
            r = 1.0 / tabssum(g, D)
            t_tensor = r < 1.0
            t = (r if t_tensor else 1.0) * lr
        else:
            t = lr
        gtd = tdot(g, d, D)
        if gtd > -tol_change:
            break
        ls_evals = 0
        opt_cond = False
        if use_ls:
            # torch 2.13 calls _strong_wolfe without tolerance_change: its default 1e-9, not the
            # optimizer's (found by a torch fuzz: tolerance_change=1e-6 stopped a step early)
            loss = strong_wolfe(x, t, t_tensor, d, loss, g, gtd, 1e-9,
                                max_eval - current_evals, xb, gb, fb, p, ctx, noise, clip,
                                seed, traj, step, np.int64(ev), w0, w1, w2, bg, gw, out, obj_fg)
            t = out[0]
            ls_evals = int(out[1])
            for k in range(D):
                g[k] = gw[k]
                xb[k, 0] = fma(t, d[k], x[k])  # the parameters are stored in the run's dtype
                x[k] = xb[k, 0]
            opt_cond = tabsmax(g, D) <= tol_grad
        else:
            for k in range(D):
                xb[k, 0] = fma(t, d[k], x[k])
                x[k] = xb[k, 0]
            if n_iter != max_iter:
                loss = closure(x, 0.0, d, xb, gb, fb, g, p, ctx, noise, clip, seed, traj,
                               step, np.int64(ev), obj_fg)
                opt_cond = tabsmax(g, D) <= tol_grad
                ls_evals = 1
        ev += ls_evals
        current_evals += ls_evals
        iv[1] += ls_evals
        if n_iter == max_iter:
            break
        if current_evals >= max_eval:
            break
        if opt_cond:
            break
        dt_max = 0.0
        for k in range(D):
            v = abs(d[k] * t)
            dt_max = v if (v > dt_max or v != v) else dt_max
        if dt_max <= tol_change:
            break
        if abs(loss - prev_loss) < tol_change:
            break
    sv[0] = t
    return loss


@njit(cache=True, nogil=True)
def run(x0, hp, hs, p, steps, rec_every, f_target, tol, blowup, noise, clip, seed, i_off,
        rec_x, rec_f, rec_e, x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out,
        xb, gb, fb, xa, fa, st, sc, hb, bf, gn, bk, ctx, fg, pert):
    """All steps of every trajectory, one after another, with the engine's book-keeping.

    xb .. ctx: the engine's block arrays (cpu.workspace), one trajectory wide for L-BFGS; fg:
    the objective, the elementwise engine's first-class function (objective_cpu), called on a
    block of one, so that one kernel serves every objective; pert: the gradient noise and
    clipping of the step's first gradient, likewise (driver_cpu.perturb_function: nothing to
    compile in a run without them; the line search's closure perturbs its own gradients).
    L-BFGS's own state is one float64 allocation (and four step counts): each array allocated
    in compiled code costs compile time."""
    D = x0.shape[1]
    hist = int(hs[4])
    buf = np.empty(10 * D + 2 * hist * (D + 1) + 5)
    iv = np.empty(4, dtype=np.int64)  # n_iter, func_evals, oldest slot, history length
    x = buf[0:D]
    g = buf[D:2 * D]
    d = buf[2 * D:3 * D]
    pg = buf[3 * D:4 * D]
    wk = buf[4 * D:8 * D].reshape((4, D))
    bg = buf[8 * D:10 * D].reshape((2, D))
    o = 10 * D
    dirs = buf[o:o + hist * D].reshape((hist, D))
    o += hist * D
    stps = buf[o:o + hist * D].reshape((hist, D))
    o += hist * D
    ro = buf[o:o + hist]
    al = buf[o + hist:o + 2 * hist]
    o += 2 * hist
    sv = buf[o:o + 3]  # t, H_diag, prev_loss
    out = buf[o + 3:o + 5]
    bt = bk[0]
    dt = bk[1]
    ht = bk[2]
    for i in range(x0.shape[0]):
        for k in range(buf.shape[0]):
            buf[k] = 0.0
        for k in range(4):
            iv[k] = 0
        traj = np.int64(i_off + i)
        lr = float(hp[0, i])
        # the engine's ctx for a block of one: its scratch rows let a finite sum's block loops run
        # (ops.CTX_SCRATCH; with n = 1 they draw by key, as a trajectory at a time does)
        for k in range(ctx.shape[0]):
            ctx[k] = 0
        ctx[0] = seed
        ctx[2] = traj
        # the engine's driver rules (optlab.engine.driver) on a block of width 1
        start(x0, hp, i, 1, xb, gb, fb, xa, fa, st, sc, hb, bf, gn, bt, dt, ht)
        for k in range(D):
            x[k] = xb[k, 0]
        f = 0.0
        for t in range(steps + 1):
            ctx[1] = t
            # the closure call that opens step t + 1 (and the record of step t)
            for k in range(D):
                xb[k, 0] = x[k]
            fg(xb, gb, fb, p, 1, ctx)
            f = float(fb[0])
            # steps=t: L-BFGS keeps the gradient norm of every closure call
            observe(t, t, rec_every, xb, fb, gb, st, 0, 0, f_target, tol, blowup,
                    bf, bt, dt, ht, gn, i, 1, rec_x, rec_f, rec_e)
            if t == steps:
                break
            pert(gb, noise, clip, seed, traj, t, gb.shape[1])
            for k in range(D):
                g[k] = gb[k, 0]
            lbfgs_step(x, g, f, lr, hs, d, pg, dirs, stps, ro, al, sv, iv, xb, gb, fb, p, ctx,
                       noise, clip, seed, traj, np.int64(t), wk, bg, out, fg)
        finish(xb, fb, gn, bf, bt, dt, ht, st[0], 0, 0, i, 1,
               x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out)
        ex_out[i, 0] = iv[1]
'''


HEADER = codegen.register_template("cpu_lbfgs", _TEMPLATE)


def source(obj_spec, dtype="float64") -> tuple[str, str]:
    """(generated source, file tag) of L-BFGS's kernel: one per dtype, for every objective (the
    objective is the kernel's ``fg`` argument, as in the elementwise engine's kernels)."""
    import numpy as np

    if not _GUARDED:  # once a process (0.5 ms of a 3 ms warm run), as objective_cpu guards each module
        from . import lbfgs_ops
        codegen.guard_cached_functions(lbfgs_ops, ("tdot", "tabssum", "tabsmax", "cubic_interpolate"))
        _GUARDED.append(True)
    return _TEMPLATE.format(header=HEADER, dtype=np.dtype(dtype).name), "cpu_lbfgs"


#: non-empty once this process checked lbfgs_ops' cached code (:func:`codegen.guard_cached_functions`)
_GUARDED: list = []
