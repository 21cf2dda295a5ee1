r"""Linear and logistic regression on synthetic data: finite sums with minibatches.

Parameters theta = (w_1, ..., w_d, b): dimension D = d + 1 for d features,
default D = 2 (one feature and the bias) so the loss surface can be drawn;
any D >= 2 works.

``linear_regression`` (torch.nn.MSELoss on a linear model):

.. math::  L(\theta) = \frac1n \sum_{i=1}^n (x_i^\top w + b - y_i)^2

on X ~ N(1, 1) (the non-zero feature mean couples w and b: tilted,
elongated level sets, condition number ~7 for d = 1), y = X w* + b* +
noise eps with (w*, b*) drawn from ``seed``. Convex; the minimum is the
least-squares solution.

``logistic_regression`` (torch.nn.BCEWithLogitsLoss, plus l2/2 |theta|^2):

.. math::  L(\theta) = \frac1n \sum_i \left[\operatorname{softplus}(z_i) - y_i z_i\right]
           + \tfrac{l_2}{2}\|\theta\|^2, \quad z_i = x_i^\top w + b

on X ~ N(0, 1), y = 1[X w* + b* + noise eps > 0]. Convex; with noise = 0 the
classes are separable and (for l2 = 0) no minimiser exists -- the loss keeps
falling as |w| grows -- so keep noise > 0 or l2 > 0.

Options (``objective_options`` / conf/objective/<name>.yaml):
n_samples, noise, seed (the data), batch_size (0 = full batch, 1 = SGD,
m = minibatches of m drawn without replacement per epoch, see
``optlab.objectives._sampling``), full_loss (report the full-data loss each
step, the default, so that curves of different batch sizes compare; false:
report the minibatch's own loss, cheaper), l2 (logistic only).

The gradient is the minibatch gradient at step t of trajectory i
(``ctx``); the value is the full-data loss unless full_loss is false; the
Hessian is always the full-data Hessian. The linear model gets its full loss
(and full-batch gradient) from sufficient statistics, O(D^2) per step:
L = theta^T G theta - 2 c^T theta + y.y/n with G = Z^T Z/n, c = Z^T y/n,
Z = [X, 1].
"""
import numpy as np

from . import _data
from ._base import ObjectiveSpec
from ._data import HEADER
from ._sampling import (batch_positions, batch_positions_tab, batch_positions_tab4, batch_span, epoch_key,
                        perm_tables, permute)
from ._vecmath import add_l2, bce_logit_e, bce_logit_v, exp_neg_abs_v, nan_out, sigmoid, sigmoid_e
from ..engine.ops import CTX_HEAD, CTX_SCRATCH, jitable

#: loops over data samples: float64 code at the data width (512 bits where the CPU has AVX-512;
#: engine/jitopts.py, docs/DESIGN.md "Vector width per dtype")
VECTOR_WIDTH_CLASS = "data"


# --- linear regression ---------------------------------------------------------------
# p[8:]: X (n, d) row-major | y (n) | G (D, D) | c (D) | y.y/n

@jitable
def _line_sample(p, ia, iy, x0, x1, inv, gb, ga, fj):
    """One sample's terms of the one-feature line fit added to a trajectory's sums (gradient of
    the bias, of the slope, loss), in the one-sample loop's order: the sample's feature at
    ``p[ia]``, its target at ``p[iy]``."""
    a = p[ia]
    res = x1 - p[iy] + a * x0
    c2 = 2.0 * inv * res
    return gb + c2, ga + c2 * a, fj + inv * res * res


@jitable(inline="never")
def _gram_loss(x, g, f, p, n, D, oG, oc):
    """g = G theta and the full-data loss f = theta.(G theta - 2 c) + y.y/n from the sufficient
    statistics (G at ``oG``, c and y.y/n at ``oc``)."""
    for j in range(n):
        f[j] = p[oc + D]
    for a in range(D):
        for j in range(n):
            g[a, j] = 0.0
        for b in range(D):
            gab = p[oG + a * D + b]
            for j in range(n):
                g[a, j] += gab * x[b, j]
        ca = p[oc + a]
        for j in range(n):
            f[j] += x[a, j] * (g[a, j] - 2.0 * ca)


@jitable(inline="never")
def _gram_grad(g, p, n, D, oc):
    """The full-batch gradient 2 (G theta - c) from g = G theta."""
    for a in range(D):
        ca = p[oc + a]
        for j in range(n):
            g[a, j] = 2.0 * (g[a, j] - ca)


def linear_regression(x, g, f, p, n, ctx):
    ns = int(p[0])
    d = int(p[1])
    m = int(p[2])
    full = p[3] != 0.0
    bits = int(p[5])
    D = d + 1
    oX = HEADER
    oy = oX + ns * d
    oG = oy + ns
    oc = oG + D * D
    minib = m > 0
    if full or not minib:
        _gram_loss(x, g, f, p, n, D, oG, oc)
    if not minib:
        _gram_grad(g, p, n, D, oc)
    else:
        for a in range(D):
            for j in range(n):
                g[a, j] = 0.0
        if not full:
            for j in range(n):
                f[j] = 0.0
        epoch, start, cnt = batch_span(ctx[1], ns, m)
        inv = 1.0 / cnt
        if ctx.shape[0] >= CTX_HEAD + (CTX_SCRATCH + d) * n:
            # the same sums, the block's trajectories innermost (ops.CTX_SCRATCH)
            sk = ctx[CTX_HEAD:CTX_HEAD + n]
            si = ctx[CTX_HEAD + n:CTX_HEAD + 2 * n]
            rs = ctx[CTX_HEAD + 2 * n:CTX_HEAD + 3 * n].view(np.float64)
            # the sample's features, gathered once for the forward and the backward pass (d rows)
            xs = ctx[CTX_HEAD + 3 * n:CTX_HEAD + (3 + d) * n].view(np.float64)
            # the tables after the scratch rows in use (the four-sample pass below: rows 1-4)
            ready, tab = perm_tables(ctx, sk, max(3 + d, 5), epoch, ns, bits, n)
            r0 = 0
            if d == 1 and ready:
                # one feature, four samples a pass: each trajectory's x, sums and round words read
                # once for four (each sum still takes the samples one by one, in order)
                si4 = ctx[CTX_HEAD + n:CTX_HEAD + 5 * n].reshape((4, n))
                while r0 + 4 <= cnt:
                    batch_positions_tab4(si4, tab, start + r0, ns, bits, n)
                    q0 = si4[0]
                    q1 = si4[1]
                    q2 = si4[2]
                    q3 = si4[3]
                    for j in range(n):
                        x0 = x[0, j]
                        x1 = x[1, j]
                        ga = g[0, j]
                        gb = g[1, j]
                        fj = f[j]
                        gb, ga, fj = _line_sample(p, oX + q0[j], oy + q0[j], x0, x1, inv, gb, ga, fj)
                        gb, ga, fj = _line_sample(p, oX + q1[j], oy + q1[j], x0, x1, inv, gb, ga, fj)
                        gb, ga, fj = _line_sample(p, oX + q2[j], oy + q2[j], x0, x1, inv, gb, ga, fj)
                        gb, ga, fj = _line_sample(p, oX + q3[j], oy + q3[j], x0, x1, inv, gb, ga, fj)
                        g[0, j] = ga
                        g[1, j] = gb
                        if not full:
                            f[j] = fj
                    r0 += 4
            for r in range(r0, cnt):
                if ready:
                    batch_positions_tab(si, tab, start + r, ns, bits, n)
                else:
                    batch_positions(si, sk, start + r, ns, bits, n)
                if d == 1:
                    # one feature (the lectures' line fit): one pass, nothing kept between loops
                    for j in range(n):
                        i = si[j]
                        gb, ga, fj = _line_sample(p, oX + i, oy + i, x[0, j], x[1, j], inv, g[1, j], g[0, j], f[j])
                        g[1, j] = gb
                        g[0, j] = ga
                        if not full:
                            f[j] = fj
                    continue
                for j in range(n):
                    rs[j] = x[d, j] - p[oy + si[j]]
                for k in range(d):
                    xk = xs[k * n:(k + 1) * n]
                    for j in range(n):
                        a = p[oX + si[j] * d + k]
                        xk[j] = a
                        rs[j] += a * x[k, j]
                for j in range(n):
                    res = rs[j]
                    c2 = 2.0 * inv * res
                    rs[j] = c2
                    g[d, j] += c2
                    if not full:
                        f[j] += inv * res * res
                for k in range(d):
                    xk = xs[k * n:(k + 1) * n]
                    for j in range(n):
                        g[k, j] += rs[j] * xk[j]
            return
        for j in range(n):
            key = epoch_key(ctx[0], ctx[2] + j, epoch)
            for r in range(cnt):
                i = permute(start + r, ns, bits, key)
                res = x[d, j] - p[oy + i]
                for k in range(d):
                    res += p[oX + i * d + k] * x[k, j]
                c2 = 2.0 * inv * res
                for k in range(d):
                    g[k, j] += c2 * p[oX + i * d + k]
                g[d, j] += c2
                if not full:
                    f[j] += inv * res * res


def linear_full_block(x, g, f, p, n, ctx):
    """``linear_regression`` for the full batch (batch_size 0), the engine's kernel for such runs
    (``ObjectiveSpec.full_batch_kernel``): the same operations in the same order (the sufficient
    statistics), without the minibatches' loops and the permutation's helpers, about 5.7 s of the
    6 s the general kernel takes to compile cold. NaN for a minibatch run."""
    ns = int(p[0])
    d = int(p[1])
    D = d + 1
    if p[2] > 0.0:
        nan_out(g, f, n, D)
        return
    oG = HEADER + ns * d + ns
    oc = oG + D * D
    _gram_loss(x, g, f, p, n, D, oG, oc)
    _gram_grad(g, p, n, D, oc)


def linear_regression_hess(x, h, p, n):
    ns = int(p[0])
    D = int(p[1]) + 1
    oG = HEADER + ns * D
    for a in range(D):
        for b in range(D):
            gab = 2.0 * p[oG + a * D + b]
            for j in range(n):
                h[a, b, j] = gab


def _linear_params(dim, n_samples, noise, seed, batch_size, full_loss):
    n, noise, seed, m, full, _ = _data.check_common(n_samples, noise, seed, batch_size, full_loss)
    d = dim - 1
    X, y, _, _ = _data.regression_data(n, d, noise, seed)
    Z = np.hstack([X, np.ones((n, 1))])
    G = Z.T @ Z / n
    c = Z.T @ y / n
    return np.concatenate([_data.header(n, d, m, full, 0.0), X.ravel(), y, G.ravel(), c, [y @ y / n]])


def _linear_minimum(dim, n_samples, noise, seed, batch_size, full_loss):
    n, noise, seed, _, _, _ = _data.check_common(n_samples, noise, seed, batch_size, full_loss)
    X, y, _, _ = _data.regression_data(n, dim - 1, noise, seed)
    Z = np.hstack([X, np.ones((n, 1))])
    theta = np.linalg.lstsq(Z, y, rcond=None)[0]
    res = Z @ theta - y
    return [(theta, float(res @ res / n))]


# --- logistic regression -------------------------------------------------------------
# p[8:]: X (n, d) row-major | y (n) in {0, 1}

def logistic_regression(x, g, f, p, n, ctx):
    ns = int(p[0])
    d = int(p[1])
    m = int(p[2])
    full = p[3] != 0.0
    l2 = p[4]
    bits = int(p[5])
    oX = HEADER
    oy = oX + ns * d
    minib = m > 0
    inv_n = 1.0 / ns
    for j in range(n):
        f[j] = 0.0
    if full and minib:
        # full-data loss, vectorised over the block: the logits z go through g[0]
        for i in range(ns):
            for j in range(n):
                g[0, j] = x[d, j]
            for k in range(d):
                xik = p[oX + i * d + k]
                for j in range(n):
                    g[0, j] += xik * x[k, j]
            yi = p[oy + i]
            for j in range(n):
                f[j] += bce_logit_v(g[0, j], yi)
        for j in range(n):
            f[j] *= inv_n
    for a in range(d + 1):
        for j in range(n):
            g[a, j] = 0.0
    epoch, start, cnt = batch_span(ctx[1], ns, m)
    inv = 1.0 / cnt
    own = not (full and minib)
    if ctx.shape[0] >= CTX_HEAD + CTX_SCRATCH * n:
        # the same sums, the block's trajectories innermost (ops.CTX_SCRATCH)
        sk = ctx[CTX_HEAD:CTX_HEAD + n]
        si = ctx[CTX_HEAD + n:CTX_HEAD + 2 * n]
        zs = ctx[CTX_HEAD + 2 * n:CTX_HEAD + 3 * n].view(np.float64)
        # the permutation's tables (or keys) for minibatches; none for the full batch (width 0)
        ready, tab = perm_tables(ctx, sk, 3, epoch, ns, bits, n if minib else 0)
        for r in range(cnt):
            if ready:
                batch_positions_tab(si, tab, start + r, ns, bits, n)
            elif minib:
                batch_positions(si, sk, start + r, ns, bits, n)
            else:
                for j in range(n):
                    si[j] = r
            for j in range(n):
                zs[j] = x[d, j]
            for k in range(d):
                for j in range(n):
                    zs[j] += p[oX + si[j] * d + k] * x[k, j]
            for j in range(n):
                z = zs[j]
                yi = p[oy + si[j]]
                ez = exp_neg_abs_v(z)
                res = inv * (sigmoid_e(z, ez) - yi)
                zs[j] = res
                g[d, j] += res
                if own:
                    f[j] += inv * bce_logit_e(z, yi, ez)
            for k in range(d):
                for j in range(n):
                    g[k, j] += zs[j] * p[oX + si[j] * d + k]
    else:
        for j in range(n):
            key = epoch_key(ctx[0], ctx[2] + j, epoch)
            for r in range(cnt):
                i = permute(start + r, ns, bits, key) if minib else r
                z = x[d, j]
                for k in range(d):
                    z += p[oX + i * d + k] * x[k, j]
                yi = p[oy + i]
                ez = exp_neg_abs_v(z)
                res = inv * (sigmoid_e(z, ez) - yi)
                for k in range(d):
                    g[k, j] += res * p[oX + i * d + k]
                g[d, j] += res
                if own:
                    f[j] += inv * bce_logit_e(z, yi, ez)
    add_l2(x, g, f, l2, d + 1, n)


def logistic_full_block(x, g, f, p, n, ctx):
    """``logistic_regression`` for the full batch (batch_size 0), the engine's kernel for such runs
    (``ObjectiveSpec.full_batch_kernel``): the block loop's operations in its order, each sample's
    features read once for the block (the general kernel gathers them by index), without the
    minibatches' code and the permutation's helpers. NaN for a minibatch run or a ctx without the
    scratch rows."""
    ns = int(p[0])
    d = int(p[1])
    l2 = p[4]
    oX = HEADER
    oy = oX + ns * d
    if p[2] > 0.0 or ctx.shape[0] < CTX_HEAD + CTX_SCRATCH * n:
        nan_out(g, f, n, d + 1)
        return
    for j in range(n):
        f[j] = 0.0
    for a in range(d + 1):
        for j in range(n):
            g[a, j] = 0.0
    inv = 1.0 / ns
    zs = ctx[CTX_HEAD + 2 * n:CTX_HEAD + 3 * n].view(np.float64)
    for r in range(ns):
        for j in range(n):
            zs[j] = x[d, j]
        for k in range(d):
            xrk = p[oX + r * d + k]
            for j in range(n):
                zs[j] += xrk * x[k, j]
        yr = p[oy + r]
        for j in range(n):
            z = zs[j]
            ez = exp_neg_abs_v(z)
            res = inv * (sigmoid_e(z, ez) - yr)
            zs[j] = res
            g[d, j] += res
            f[j] += inv * bce_logit_e(z, yr, ez)
        for k in range(d):
            xrk = p[oX + r * d + k]
            for j in range(n):
                g[k, j] += zs[j] * xrk
    add_l2(x, g, f, l2, d + 1, n)


def logistic_regression_hess(x, h, p, n):
    ns = int(p[0])
    d = int(p[1])
    l2 = p[4]
    oX = HEADER
    D = d + 1
    inv_n = 1.0 / ns
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = l2 if a == b else 0.0
    for i in range(ns):
        for j in range(n):
            z = x[d, j]
            for k in range(d):
                z += p[oX + i * d + k] * x[k, j]
            s = sigmoid(z)
            w = inv_n * s * (1.0 - s)
            for a in range(D):
                za = p[oX + i * d + a] if a < d else 1.0
                for b in range(D):
                    zb = p[oX + i * d + b] if b < d else 1.0
                    h[a, b, j] += w * za * zb


def _logistic_params(dim, n_samples, noise, seed, batch_size, full_loss, l2):
    n, noise, seed, m, full, l2 = _data.check_common(n_samples, noise, seed, batch_size, full_loss, l2)
    d = dim - 1
    X, y, _, _ = _data.classification_data(n, d, noise, seed)
    return np.concatenate([_data.header(n, d, m, full, l2), X.ravel(), y])


def logistic_loss_np(theta, X, y, l2=0.0):
    """Full-data loss, gradient and Hessian in numpy (the reference)."""
    z = X @ theta[:-1] + theta[-1]
    Z = np.hstack([X, np.ones((X.shape[0], 1))])
    s = 0.5 * (1.0 + np.tanh(0.5 * z))
    loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * theta @ theta
    grad = Z.T @ (s - y) / len(y) + l2 * theta
    hess = (Z * (s * (1 - s))[:, None]).T @ Z / len(y) + l2 * np.eye(len(theta))
    return loss, grad, hess


@_data.cached
def _logistic_min_cached(dim, n, noise, seed, l2):
    X, y, _, _ = _data.classification_data(n, dim - 1, noise, seed)
    theta = np.zeros(dim)
    for _ in range(100):
        loss, grad, hess = logistic_loss_np(theta, X, y, l2)
        if np.abs(grad).max() < 1e-13:
            break
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return (None,)
        t = 1.0
        while t > 1e-12 and logistic_loss_np(theta - t * step, X, y, l2)[0] > loss:
            t *= 0.5
        theta = theta - t * step
    loss, grad, hess = logistic_loss_np(theta, X, y, l2)
    if not (np.abs(grad).max() < 1e-9 and np.linalg.eigvalsh(hess).min() > 1e-9):
        # separable data without l2: Newton runs off to |theta| -> infinity, where the
        # gradient and the curvature both vanish; there is no minimiser
        return (None,)
    return (theta, float(loss))


def _logistic_minimum(dim, n_samples, noise, seed, batch_size, full_loss, l2):
    n, noise, seed, _, _, l2 = _data.check_common(n_samples, noise, seed, batch_size, full_loss, l2)
    res = _logistic_min_cached(dim, n, noise, seed, l2)
    return [] if res[0] is None else [res]


SPECS = (
    ObjectiveSpec(
        name="linear_regression",
        value_grad_kernel=linear_regression,
        full_batch_kernel=linear_full_block,
        hess_kernel=linear_regression_hess,
        dim=None, min_dim=2,
        domain=((-4.0, 4.0), (-4.0, 4.0)),
        formula="mean_i (x_i.w + b - y_i)^2",
        source="least squares (Legendre 1805, Gauss 1809); torch.nn.MSELoss",
        minima=_linear_minimum,
        params=_linear_params,
        options=dict(n_samples=256, noise=0.5, seed=0, batch_size=0, full_loss=True),
        starts=((-3.5, 3.5), (3.5, 3.0), (-3.0, -3.5), (3.5, -3.5), (0.0, 0.0)),
        aliases=("linreg", "least_squares"),
        notes="finite sum: minibatch SGD on least squares; full-data loss reported",
    ),
    ObjectiveSpec(
        name="logistic_regression",
        value_grad_kernel=logistic_regression,
        full_batch_kernel=logistic_full_block,
        hess_kernel=logistic_regression_hess,
        dim=None, min_dim=2,
        domain=((-6.0, 6.0), (-6.0, 6.0)),
        formula="mean_i [softplus(x_i.w + b) - y_i (x_i.w + b)] + l2/2 |theta|^2",
        source="Cox 1958; torch.nn.BCEWithLogitsLoss",
        minima=_logistic_minimum,
        params=_logistic_params,
        options=dict(n_samples=256, noise=1.0, seed=0, batch_size=0, full_loss=True, l2=0.0),
        starts=((-5.0, 5.0), (5.0, 4.0), (-4.0, -5.0), (5.0, -5.0), (0.0, 0.0)),
        aliases=("logreg",),
        notes="finite sum: convex, flat far from the minimum; full-data loss reported",
    ),
)
