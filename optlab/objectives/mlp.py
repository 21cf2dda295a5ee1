r"""A one-hidden-layer tanh network on the two-moons data set.

.. math::

    o(x) = c + \sum_{k=1}^{h} v_k \tanh(W_{k1} x_1 + W_{k2} x_2 + b_k), \qquad
    L(\theta) = \frac1n \sum_i \ell(o(x_i), y_i) + \tfrac{l_2}{2}\|\theta\|^2

with ``loss: bce`` (the default, torch.nn.BCEWithLogitsLoss)
:math:`\ell(o, y) = \operatorname{softplus}(o) - y\, o`, or ``loss: mse``
(torch.nn.MSELoss on the raw output, targets 0/1) :math:`\ell(o, y) = (o - y)^2`
-- the squared loss under which Cohen et al. (ICLR 2021) observed progressive
sharpening and the edge of stability most clearly (see the
``edge_of_stability`` study).

theta = (W (h x 2, row-major), b (h), v (h), c): dimension D = 4h + 1, so the
dimension picks the width -- D = 33 (h = 8) by default; D must be 5, 9, 13,
... The data: n_samples points of scikit-learn's ``make_moons`` (two
interleaving half-circles, centred) with Gaussian noise ``noise`` (default
0.1), from ``seed``. A non-convex problem with saddles and symmetries
(permuting or sign-flipping hidden units leaves L unchanged); no closed-form
minimum, so the engine judges convergence by the gradient norm.

Options, minibatches and the reported loss are as for ``logistic_regression``
(see ``optlab.objectives.regression``), plus ``loss`` (``bce`` or ``mse``);
the Hessian is the full-data one.
Kernels: ``mlp`` (any ctx: CUDA, L-BFGS, the evaluators) runs trajectory by
trajectory, its full-data loss vectorised over the block (the logits
accumulate in g[0] before the gradient is formed), and its gradient pass
recomputes tanh instead of storing activations, so it allocates nothing (the
CUDA engine runs it as it is). The CPU engine's ``mlp_block`` and
``mlp_full_block`` run each sample over the block's trajectories in the
engine's scratch rows (``ops.CTX_SCRATCH``), the full-data loss as the first
passes of the same sample loop. ``mlp_hess`` is for the CPU
evaluators only: it allocates a scratch vector.
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ..errors import OptlabError
from . import _data
from ._base import ObjectiveSpec
from ._data import HEADER
from ._sampling import batch_keys, batch_positions, batch_span, epoch_key, permute
from ._vecmath import add_l2, bce_logit_e, bce_logit_v, exp_neg_abs_v, nan_out, sigmoid, sigmoid_e, tanh_v
from ..engine.ops import CTX_HEAD, CTX_SCRATCH, jitable

#: loops over data samples: float64 code at the data width (512 bits where the CPU has AVX-512;
#: engine/jitopts.py, docs/DESIGN.md "Vector width per dtype")
VECTOR_WIDTH_CLASS = "data"

# p[8:]: X (n, 2) row-major | y (n) in {0, 1};  p[6] = h;  p[7] = loss (0 bce, 1 mse)
LOSSES = ("bce", "mse")


@jitable(inline="never")
def _full_loss(x, g, f, p, n):
    """f = 0, then, with minibatches and ``full_loss``, the full-data loss (the reported loss;
    the logits accumulate in g[0], which the gradient then overwrites)."""
    ns = int(p[0])
    h = int(p[6])
    mse = p[7] != 0.0
    oX = HEADER
    oy = oX + 2 * ns
    ob = 2 * h
    ov = 3 * h
    oc = 4 * h
    inv_n = 1.0 / ns
    for j in range(n):
        f[j] = 0.0
    if p[3] != 0.0 and p[2] > 0.0:
        for i in range(ns):
            x0 = p[oX + 2 * i]
            x1 = p[oX + 2 * i + 1]
            for j in range(n):
                g[0, j] = x[oc, j]
            for k in range(h):
                for j in range(n):
                    z = x[2 * k, j] * x0 + x[2 * k + 1, j] * x1 + x[ob + k, j]
                    g[0, j] += x[ov + k, j] * tanh_v(z)
            yi = p[oy + i]
            if mse:
                for j in range(n):
                    e = g[0, j] - yi
                    f[j] += e * e
            else:
                for j in range(n):
                    f[j] += bce_logit_v(g[0, j], yi)
        for j in range(n):
            f[j] *= inv_n


@jitable(inline="never")
def mlp_block(x, g, f, p, n, ctx):
    """``mlp`` with the block's trajectories innermost, for a ctx with the scratch rows: the CPU
    engine compiles this one alone (``ObjectiveSpec.engine_kernel``), not the trajectory-by-trajectory
    loops it never runs (MLP's cold compile 1.2 s shorter).

    The full-data loss of a minibatch run (``full_loss``) is the first ``ns`` passes of the same
    sample loop, forward only, each sample in order; the minibatch's samples follow. Its samples
    come from the keyed permutation (``batch_keys``, ``batch_positions``), not the epoch's round
    tables: a sample of this network costs ~40 ns a trajectory, the tables would save ~1.5 ns of
    it, and they and the branch that picks them cost ~1.6 s of a cold compile (docs/DESIGN.md,
    "Compile time")."""
    ns = int(p[0])
    m = int(p[2])
    full = p[3] != 0.0
    bits = int(p[5])
    h = int(p[6])
    mse = p[7] != 0.0
    oX = HEADER
    oy = oX + 2 * ns
    ob = 2 * h
    ov = 3 * h
    oc = 4 * h
    minib = m > 0
    if ctx.shape[0] < CTX_HEAD + (CTX_SCRATCH + h) * n:  # not the engine's ctx: no scratch rows to use
        nan_out(g, f, n, oc + 1)
        return
    for j in range(n):
        f[j] = 0.0
    for a in range(oc + 1):
        for j in range(n):
            g[a, j] = 0.0
    epoch, start, cnt = batch_span(ctx[1], ns, m)
    inv = 1.0 / cnt
    inv_n = 1.0 / ns
    nfull = ns if full and minib else 0  # the full-data loss's passes, before the minibatch's
    own = nfull == 0
    # the same sums, the block's trajectories innermost (ops.CTX_SCRATCH): each sample's
    # inputs and label gathered into rows, its output (then its residual) in a row, the
    # hidden units' activations in h rows
    sk = ctx[CTX_HEAD:CTX_HEAD + n]
    si = ctx[CTX_HEAD + n:CTX_HEAD + 2 * n]
    rows = ctx[CTX_HEAD + 2 * n:CTX_HEAD + (6 + h) * n].view(np.float64)
    a0 = rows[:n]
    a1 = rows[n:2 * n]
    yv = rows[2 * n:3 * n]
    o = rows[3 * n:4 * n]
    act = rows[4 * n:]
    if minib:
        batch_keys(sk, ctx[0], ctx[2], epoch, n)
    for q in range(nfull + cnt):
        r = q - nfull
        if r >= 0 and minib:
            batch_positions(si, sk, start + r, ns, bits, n)
            for j in range(n):
                i = si[j]
                a0[j] = p[oX + 2 * i]
                a1[j] = p[oX + 2 * i + 1]
                yv[j] = p[oy + i]
        else:  # the full-data loss's sample q, or the full batch's sample r (= q), in order
            x0 = p[oX + 2 * q]
            x1 = p[oX + 2 * q + 1]
            yi = p[oy + q]
            for j in range(n):
                a0[j] = x0
                a1[j] = x1
                yv[j] = yi
        for j in range(n):
            o[j] = x[oc, j]
        for k in range(h):
            ak = act[k * n:(k + 1) * n]
            for j in range(n):
                a = tanh_v(x[2 * k, j] * a0[j] + x[2 * k + 1, j] * a1[j] + x[ob + k, j])
                ak[j] = a
                o[j] += x[ov + k, j] * a
        if r < 0:  # the full-data loss: the mean over the samples, scaled after the last
            if mse:
                for j in range(n):
                    e = o[j] - yv[j]
                    f[j] += e * e
            else:
                for j in range(n):
                    f[j] += bce_logit_v(o[j], yv[j])
            if r == -1:
                for j in range(n):
                    f[j] *= inv_n
            continue
        if mse:
            for j in range(n):
                e = o[j] - yv[j]
                res = inv * (2.0 * e)
                o[j] = res
                g[oc, j] += res
                if own:
                    f[j] += inv * (e * e)
        else:
            for j in range(n):
                oj = o[j]
                yi = yv[j]
                ez = exp_neg_abs_v(oj)
                res = inv * (sigmoid_e(oj, ez) - yi)
                o[j] = res
                g[oc, j] += res
                if own:
                    f[j] += inv * bce_logit_e(oj, yi, ez)
        dz = yv  # the labels are read: the row holds each unit's dz now
        for k in range(h):
            ak = act[k * n:(k + 1) * n]
            # one row of g per loop: stores to several rows of one array need overlap
            # checks that stop LLVM from vectorising
            for j in range(n):
                res = o[j]
                a = ak[j]
                g[ov + k, j] += res * a
                dz[j] = res * x[ov + k, j] * (1.0 - a * a)
            for j in range(n):
                g[ob + k, j] += dz[j]
            for j in range(n):
                g[2 * k, j] += dz[j] * a0[j]
            for j in range(n):
                g[2 * k + 1, j] += dz[j] * a1[j]
    add_l2(x, g, f, p[4], 4 * h + 1, n)


@jitable(inline="never")
def mlp_full_block(x, g, f, p, n, ctx):
    """``mlp_block`` for the full batch (batch_size 0), the engine's kernel for such runs: the same
    operations in the same order, without the minibatches' permutation, its helpers and the
    full-data loss's passes (about 1.2 s of a cold compile). NaN for a minibatch run or a ctx without the scratch rows. The
    sample's loops are written out in both kernels: as a shared helper (inlined by Numba, its
    rows passed as arguments) they measured 10-15% slower."""
    ns = int(p[0])
    h = int(p[6])
    mse = p[7] != 0.0
    oX = HEADER
    oy = oX + 2 * ns
    ob = 2 * h
    ov = 3 * h
    oc = 4 * h
    if p[2] > 0.0 or ctx.shape[0] < CTX_HEAD + (CTX_SCRATCH + h) * n:
        nan_out(g, f, n, oc + 1)
        return
    for j in range(n):  # a full-batch run reports its own loss: no full-data pass
        f[j] = 0.0
    for a in range(oc + 1):
        for j in range(n):
            g[a, j] = 0.0
    inv = 1.0 / ns
    own = ns > 0  # True: the block kernel's code, as it runs a full batch
    rows = ctx[CTX_HEAD + 2 * n:CTX_HEAD + (6 + h) * n].view(np.float64)
    a0 = rows[:n]
    a1 = rows[n:2 * n]
    yv = rows[2 * n:3 * n]
    o = rows[3 * n:4 * n]
    act = rows[4 * n:]
    for r in range(ns):
        x0 = p[oX + 2 * r]
        x1 = p[oX + 2 * r + 1]
        yi = p[oy + r]
        for j in range(n):
            a0[j] = x0
            a1[j] = x1
            yv[j] = yi
        for j in range(n):
            o[j] = x[oc, j]
        for k in range(h):
            ak = act[k * n:(k + 1) * n]
            for j in range(n):
                a = tanh_v(x[2 * k, j] * a0[j] + x[2 * k + 1, j] * a1[j] + x[ob + k, j])
                ak[j] = a
                o[j] += x[ov + k, j] * a
        if mse:
            for j in range(n):
                e = o[j] - yv[j]
                res = inv * (2.0 * e)
                o[j] = res
                g[oc, j] += res
                if own:
                    f[j] += inv * (e * e)
        else:
            for j in range(n):
                oj = o[j]
                yi = yv[j]
                ez = exp_neg_abs_v(oj)
                res = inv * (sigmoid_e(oj, ez) - yi)
                o[j] = res
                g[oc, j] += res
                if own:
                    f[j] += inv * bce_logit_e(oj, yi, ez)
        dz = yv  # the labels are read: the row holds each unit's dz now
        for k in range(h):
            ak = act[k * n:(k + 1) * n]
            # one row of g per loop: stores to several rows of one array need overlap
            # checks that stop LLVM from vectorising
            for j in range(n):
                res = o[j]
                a = ak[j]
                g[ov + k, j] += res * a
                dz[j] = res * x[ov + k, j] * (1.0 - a * a)
            for j in range(n):
                g[ob + k, j] += dz[j]
            for j in range(n):
                g[2 * k, j] += dz[j] * a0[j]
            for j in range(n):
                g[2 * k + 1, j] += dz[j] * a1[j]
    add_l2(x, g, f, p[4], 4 * h + 1, n)


def mlp(x, g, f, p, n, ctx):
    """f and grad f for any ctx: the block's loops (``mlp_block``) when the ctx has the scratch rows
    (the CPU engine), else trajectory by trajectory (CUDA, L-BFGS, the evaluators)."""
    ns = int(p[0])
    m = int(p[2])
    full = p[3] != 0.0
    bits = int(p[5])
    h = int(p[6])
    mse = p[7] != 0.0
    oX = HEADER
    oy = oX + 2 * ns
    ob = 2 * h
    ov = 3 * h
    oc = 4 * h
    minib = m > 0
    if ctx.shape[0] >= CTX_HEAD + (CTX_SCRATCH + h) * n:
        mlp_block(x, g, f, p, n, ctx)
        return
    _full_loss(x, g, f, p, n)
    for a in range(oc + 1):
        for j in range(n):
            g[a, j] = 0.0
    epoch, start, cnt = batch_span(ctx[1], ns, m)
    inv = 1.0 / cnt
    own = not (full and minib)
    for j in range(n):
        key = epoch_key(ctx[0], ctx[2] + j, epoch)
        for r in range(cnt):
            i = permute(start + r, ns, bits, key) if minib else r
            x0 = p[oX + 2 * i]
            x1 = p[oX + 2 * i + 1]
            oj = x[oc, j]
            for k in range(h):
                oj += x[ov + k, j] * tanh_v(x[2 * k, j] * x0 + x[2 * k + 1, j] * x1 + x[ob + k, j])
            yi = p[oy + i]
            if mse:
                e = oj - yi
                res = inv * (2.0 * e)
                if own:
                    f[j] += inv * (e * e)
            else:
                ez = exp_neg_abs_v(oj)
                res = inv * (sigmoid_e(oj, ez) - yi)
                if own:
                    f[j] += inv * bce_logit_e(oj, yi, ez)
            g[oc, j] += res
            for k in range(h):
                a = tanh_v(x[2 * k, j] * x0 + x[2 * k + 1, j] * x1 + x[ob + k, j])
                g[ov + k, j] += res * a
                dz = res * x[ov + k, j] * (1.0 - a * a)
                g[ob + k, j] += dz
                g[2 * k, j] += dz * x0
                g[2 * k + 1, j] += dz * x1
    add_l2(x, g, f, p[4], 4 * h + 1, n)


def mlp_hess(x, hh, p, n):
    """H = mean_i [s_i grad o grad o^T + r_i hess o] + l2 I with the loss's l'' and l' at o:
    bce s = sigma(1 - sigma), r = sigma - y; mse s = 2, r = 2 (o - y)."""
    ns = int(p[0])
    l2 = p[4]
    h = int(p[6])
    mse = p[7] != 0.0
    oX = HEADER
    oy = oX + 2 * ns
    ob = 2 * h
    ov = 3 * h
    oc = 4 * h
    D = oc + 1
    inv_n = 1.0 / ns
    do = np.zeros(D)
    for a in range(D):
        for b in range(D):
            for j in range(n):
                hh[a, b, j] = l2 if a == b else 0.0
    for j in range(n):
        for i in range(ns):
            x0 = p[oX + 2 * i]
            x1 = p[oX + 2 * i + 1]
            o = x[oc, j]
            for k in range(h):
                a = libm.tanh(x[2 * k, j] * x0 + x[2 * k + 1, j] * x1 + x[ob + k, j])
                o += x[ov + k, j] * a
                d1 = 1.0 - a * a
                vk = x[ov + k, j]
                do[2 * k] = vk * d1 * x0
                do[2 * k + 1] = vk * d1 * x1
                do[ob + k] = vk * d1
                do[ov + k] = a
            do[oc] = 1.0
            if mse:
                w = 2.0 * inv_n
                r = 2.0 * inv_n * (o - p[oy + i])
            else:
                s = sigmoid(o)
                w = inv_n * s * (1.0 - s)
                r = inv_n * (s - p[oy + i])
            for a in range(D):
                for b in range(D):
                    hh[a, b, j] += w * do[a] * do[b]
            for k in range(h):
                a = libm.tanh(x[2 * k, j] * x0 + x[2 * k + 1, j] * x1 + x[ob + k, j])
                d1 = 1.0 - a * a
                d2 = -2.0 * a * d1
                vk = x[ov + k, j]
                # second derivatives of o within unit k: inputs (x0, x1, 1) of (W_k1, W_k2, b_k)
                i0 = 2 * k
                i1 = 2 * k + 1
                i2 = ob + k
                iv = ov + k
                c = r * vk * d2
                hh[i0, i0, j] += c * x0 * x0
                hh[i0, i1, j] += c * x0 * x1
                hh[i1, i0, j] += c * x0 * x1
                hh[i1, i1, j] += c * x1 * x1
                hh[i0, i2, j] += c * x0
                hh[i2, i0, j] += c * x0
                hh[i1, i2, j] += c * x1
                hh[i2, i1, j] += c * x1
                hh[i2, i2, j] += c
                e = r * d1
                hh[iv, i0, j] += e * x0
                hh[i0, iv, j] += e * x0
                hh[iv, i1, j] += e * x1
                hh[i1, iv, j] += e * x1
                hh[iv, i2, j] += e
                hh[i2, iv, j] += e


def hidden_units(dim):
    """Width h of the network with D = 4h + 1 parameters (an error otherwise)."""
    if dim < 5 or (dim - 1) % 4 != 0:
        raise OptlabError(f"Objective 'mlp' needs dimension 4*hidden + 1 (5, 9, 13, ..., 33, ...); got {dim}")
    return (dim - 1) // 4


def loss_code(loss) -> float:
    """The ``loss`` option as the kernel reads it (p[7]): 0.0 for bce, 1.0 for mse."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise OptlabError(f"Invalid loss for objective 'mlp': {loss!r} (must be 'bce' or 'mse')")
    return float(LOSSES.index(loss))


def _mlp_params(dim, n_samples, noise, seed, batch_size, full_loss, l2, loss):
    h = hidden_units(dim)
    code = loss_code(loss)
    n, noise, seed, m, full, l2 = _data.check_common(n_samples, noise, seed, batch_size, full_loss, l2)
    X, y = _data.moons_data(n, noise, seed)
    head = _data.header(n, 2, m, full, l2, extra=h)
    head[7] = code
    return np.concatenate([head, X.ravel(), y])


def mlp_loss_np(theta, X, y, l2=0.0, loss="bce"):
    """Full-data loss and gradient in numpy (the reference), for either loss."""
    h = hidden_units(theta.size)
    W = theta[:2 * h].reshape(h, 2)
    b = theta[2 * h:3 * h]
    v = theta[3 * h:4 * h]
    c = theta[4 * h]
    A = np.tanh(X @ W.T + b)
    o = A @ v + c
    if loss == "mse":
        value = np.mean((o - y) ** 2)
        r = 2.0 * (o - y) / len(y)
    else:
        s = 0.5 * (1.0 + np.tanh(0.5 * o))
        value = np.mean(np.logaddexp(0.0, o) - y * o)
        r = (s - y) / len(y)
    value += 0.5 * l2 * theta @ theta
    dZ = (r[:, None] * v[None, :]) * (1.0 - A * A)
    grad = np.concatenate([(dZ.T @ X).ravel(), dZ.sum(0), A.T @ r, [r.sum()]]) + l2 * theta
    return value, grad


SPEC = ObjectiveSpec(
    name="mlp",
    value_grad_kernel=mlp,
    engine_kernel=mlp_block,
    full_batch_kernel=mlp_full_block,
    hess_kernel=mlp_hess,
    dim=None, min_dim=5, dim_default=33,
    domain=(-1.0, 1.0),
    formula="BCE (or MSE) of c + sum_k v_k tanh(W_k . x + b_k) on two moons; D = 4 hidden + 1",
    source="a 2-h-1 tanh network (h = 8 by default); data as sklearn.datasets.make_moons",
    minima=lambda dim, **o: [],
    params=_mlp_params,
    options=dict(n_samples=256, noise=0.1, seed=0, batch_size=0, full_loss=True, l2=0.0, loss="bce"),
    aliases=("mlp_moons", "two_moons"),
    notes="finite sum: non-convex, 33 parameters by default; minibatches via batch_size",
)
