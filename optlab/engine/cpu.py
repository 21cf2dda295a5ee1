"""The batched CPU engine: one compiled kernel per (optimizer, objective) pair.

Trajectories are processed in blocks of ``block_size(dim)`` under ``prange``; inside a
block the time loop runs outside and the loops over the block's trajectories
run innermost, so LLVM vectorises the optimizer step and the gradient across
trajectories (docs/DESIGN.md has the measurements). Every step:

1. evaluate f and grad f for the block (``value_grad``),
2. book-keep: divergence (non-finite or ``|f| > blowup``), best loss, the
   first step that met the tolerance, and every ``record_every``-th state,
3. optional gradient noise (counter-based RNG) and gradient-norm clipping,
4. the optimizer's ``step``.

After the last step f and grad f are evaluated once more, so records hold
``steps // record_every + 1`` rows and ``x[:, 0]`` equals ``x0``.
"""
from __future__ import annotations

from . import codegen

def block_size(dim: int) -> int:
    """Trajectories per block: wide for low dimension (the per-step work that
    does not scale with the block -- bias corrections, loop set-up -- is
    shared by more trajectories; measured at D = 2: 16 -> 64 +25%,
    64 -> 256 +13%), narrower when the block's state would spill out of L1."""
    return 256 if dim <= 2 else 64 if dim <= 4 else 32 if dim <= 16 else 16

_TEMPLATE = '''"""optlab CPU kernel: {opt} on {obj} (generated; do not edit)."""
import math
import numpy as np
from numba import njit, prange
from optlab.engine.rng import normal
{imports}

opt_init = njit(inline="always")(_opt_init)
opt_step = njit(inline="always")(_opt_step)
obj_fg = njit(inline="always")(_obj_fg)

B = {block}
S = {n_state}
K = {n_scalar}
NEX = {n_extra}
NSX = {n_final}


@njit(parallel=True, cache=True, nogil=True)
def run(x0, hp, hs, p, steps, rec_every, f_target, tol, blowup, noise, clip, seed, i_off,
        rec_x, rec_f, rec_e, x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out):
    N = x0.shape[0]
    D = x0.shape[1]
    H = hp.shape[0]
    use_f = f_target == f_target
    nblk = (N + B - 1) // B
    for blk in prange(nblk):
        i0 = blk * B
        n = min(B, N - i0)
        x = np.zeros((D, B), dtype=x0.dtype)
        g = np.zeros((D, B), dtype=x0.dtype)
        f = np.zeros(B, dtype=x0.dtype)
        st = np.zeros((max(S, 1), D, B), dtype=x0.dtype)
        sc = np.zeros((max(K, 1), B), dtype=x0.dtype)
        hb = np.zeros((max(H, 1), B), dtype=hp.dtype)
        bf = np.empty(B)
        bt = np.zeros(B, dtype=np.int64)
        dt = np.full(B, -1, dtype=np.int64)
        ht = np.full(B, -1, dtype=np.int64)
        gn = np.zeros(B)
        # a short last block is padded with copies of its first trajectory:
        # every loop then runs B (a compile-time constant) iterations
        for d in range(D):
            for j in range(B):
                x[d, j] = x0[i0 + (j if j < n else 0), d]
        for k in range(H):
            for j in range(B):
                hb[k, j] = hp[k, i0 + (j if j < n else 0)]
        for j in range(B):
            bf[j] = np.inf
        ctx = np.zeros(3, dtype=np.int64)
        ctx[0] = seed
        ctx[2] = i_off + i0
        opt_init(x, st, sc, hb, hs, B)
        for t in range(steps + 1):
            ctx[1] = t
            obj_fg(x, g, f, p, B, ctx)
            if not use_f or t == steps:
                for j in range(B):
                    s2 = 0.0
                    for d in range(D):
                        s2 += float(g[d, j]) * float(g[d, j])
                    gn[j] = math.sqrt(s2)
            # book-keeping as selects, so the loop stays vectorised
            if use_f:
                for j in range(B):
                    fj = float(f[j])
                    better = fj < bf[j]
                    bf[j] = fj if better else bf[j]
                    bt[j] = t if better else bt[j]
                    dj = dt[j]
                    nd = (dj < 0) & (not abs(fj) <= blowup)
                    dj = t if nd else dj
                    dt[j] = dj
                    nh = (ht[j] < 0) & (dj < 0) & (fj - f_target <= tol)
                    ht[j] = t if nh else ht[j]
            else:
                for j in range(B):
                    fj = float(f[j])
                    better = fj < bf[j]
                    bf[j] = fj if better else bf[j]
                    bt[j] = t if better else bt[j]
                    dj = dt[j]
                    nd = (dj < 0) & (not abs(fj) <= blowup)
                    dj = t if nd else dj
                    dt[j] = dj
                    nh = (ht[j] < 0) & (dj < 0) & (gn[j] <= tol)
                    ht[j] = t if nh else ht[j]
            if t % rec_every == 0:
                r = t // rec_every
                for j in range(n):
                    if dt[j] >= 0 and dt[j] < t:
                        rec_f[i0 + j, r] = np.nan
                        for d in range(D):
                            rec_x[i0 + j, r, d] = np.nan
                    else:
                        rec_f[i0 + j, r] = f[j]
                        for d in range(D):
                            rec_x[i0 + j, r, d] = x[d, j]
                    for e in range(NEX):
                        for d in range(D):
                            rec_e[e, i0 + j, r, d] = st[{extra_slot0} + e, d, j]
            if t == steps:
                break
            if noise > 0.0:
                for d in range(D):
                    for j in range(B):
                        g[d, j] += noise * normal(seed, i_off + i0 + j, t, d)
            if clip > 0.0:  # torch.nn.utils.clip_grad_norm_ on the (noisy) gradient
                for j in range(B):
                    s2 = 0.0
                    for d in range(D):
                        s2 += float(g[d, j]) * float(g[d, j])
                    c = clip / (math.sqrt(s2) + 1e-6)
                    if c < 1.0:
                        for d in range(D):
                            g[d, j] = g[d, j] * c
            opt_step(x, g, st, sc, hb, hs, t + 1, B)
        for j in range(n):
            i = i0 + j
            for d in range(D):
                x_out[i, d] = x[d, j]
            f_out[i] = f[j]
            gn_out[i] = gn[j]
            best_f[i] = bf[j]
            best_t[i] = bt[j]
            div_t[i] = dt[j]
            hit_t[i] = ht[j]
            for e in range(NSX):
                ex_out[i, e] = sc[{final_slot0} + e, j]
'''


def kernel(opt_spec, obj_spec, dim: int = 2):
    """The compiled ``run`` function for this pair (from the disk cache if there).

    Optimizers that are not elementwise (LBFGS) bring their own template
    through ``spec.kernel_factory``, with the same ``run`` signature.
    """
    if opt_spec.kernel_factory is not None:
        return opt_spec.kernel_factory(opt_spec, obj_spec, dim)
    block = block_size(dim)
    k = opt_spec.kernels
    fns = (k.init, k.step, obj_spec.value_grad_kernel)
    extra = list(opt_spec.record_state.values())
    final = list(opt_spec.final_scalars.values())
    src = _TEMPLATE.format(
        opt=opt_spec.name, obj=obj_spec.name, block=block,
        n_state=opt_spec.n_state, n_scalar=opt_spec.n_scalar,
        n_extra=len(extra), extra_slot0=extra[0] if extra else 0,
        n_final=len(final), final_slot0=final[0] if final else 0,
        imports="\n".join([
            codegen.import_line(fns[0], "_opt_init"),
            codegen.import_line(fns[1], "_opt_step"),
            codegen.import_line(fns[2], "_obj_fg"),
        ]),
    )
    mod = codegen.load(codegen.safe_tag("cpu", opt_spec.kernels.__name__.rsplit(".", 1)[-1],
                                        obj_spec.value_grad_kernel.__name__), src, fns)
    return mod.run
