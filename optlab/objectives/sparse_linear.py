r"""A sparse linear model: sparse gradients for SparseAdam.

.. math::

    L(w) = \frac1n \sum_{i=1}^n \Big(\sum_{k \in S_i} w_k - y_i\Big)^2

Each sample i is a bag S_i of ``nnz`` distinct feature ids out of D (default
D = 64, nnz = 3), drawn with Zipf weights 1/(k+1) -- a few frequent
features and a long tail of rare ones, like tokens feeding a bag of scalar
embeddings (``nn.EmbeddingBag(D, 1, mode="sum")`` with MSE) -- and
y_i = sum_{k in S_i} w*_k + noise eps. No bias and no l2 term, on purpose:
either would touch every coordinate.

Why: the minibatch gradient is non-zero only on the features present in the
batch (at most batch_size * nnz of D), and exactly 0.0 elsewhere -- what
``torch.optim.SparseAdam`` (``optlab`` optimizer ``sparse_adam``, which
treats exact zeros as absent) is built for; dense Adam decays the moments of
every coordinate instead, so rare features learn at different speeds under
the two. Default batch_size = 4 (sparse gradients); batch_size = 0 gives the
full, dense gradient.

Options as for ``linear_regression``, plus ``nnz``. The value is the
full-data loss (vectorised over the block); the minimum is the least-squares
solution (minimum-norm when a feature never occurs).
"""
import numpy as np

from . import _data
from ._base import ObjectiveSpec
from ._data import HEADER
from ._sampling import batch_span, epoch_key, permute

# p[8:]: feature ids (n, nnz) as floats | values (n, nnz) | y (n);  p[6] = nnz


def sparse_linear(x, g, f, p, n, ctx):
    ns = int(p[0])
    m = int(p[2])
    full = p[3] != 0.0
    bits = int(p[5])
    nnz = int(p[6])
    oI = HEADER
    oV = oI + ns * nnz
    oy = oV + ns * nnz
    minib = m > 0
    inv_n = 1.0 / ns
    for j in range(n):
        f[j] = 0.0
    if full and minib:
        for i in range(ns):
            for j in range(n):
                g[0, j] = -p[oy + i]
            for t in range(nnz):
                k = int(p[oI + i * nnz + t])
                vt = p[oV + i * nnz + t]
                for j in range(n):
                    g[0, j] += vt * x[k, j]
            for j in range(n):
                f[j] += g[0, j] * g[0, j]
        for j in range(n):
            f[j] *= inv_n
    for a in range(x.shape[0]):
        for j in range(n):
            g[a, j] = 0.0
    epoch, start, cnt = batch_span(ctx[1], ns, m)
    inv = 1.0 / cnt
    for j in range(n):
        key = epoch_key(ctx[0], ctx[2] + j, epoch)
        for r in range(cnt):
            i = permute(start + r, ns, bits, key) if minib else r
            res = -p[oy + i]
            for t in range(nnz):
                res += p[oV + i * nnz + t] * x[int(p[oI + i * nnz + t]), j]
            c2 = 2.0 * inv * res
            for t in range(nnz):
                k = int(p[oI + i * nnz + t])
                g[k, j] += c2 * p[oV + i * nnz + t]
            if not (full and minib):
                f[j] += inv * res * res


def sparse_linear_hess(x, h, p, n):
    ns = int(p[0])
    nnz = int(p[6])
    oI = HEADER
    oV = oI + ns * nnz
    D = x.shape[0]
    inv_n = 1.0 / ns
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 0.0
    for i in range(ns):
        for t in range(nnz):
            a = int(p[oI + i * nnz + t])
            va = p[oV + i * nnz + t]
            for u in range(nnz):
                b = int(p[oI + i * nnz + u])
                c = 2.0 * inv_n * va * p[oV + i * nnz + u]
                for j in range(n):
                    h[a, b, j] += c


def _sparse_params(dim, n_samples, noise, seed, batch_size, full_loss, nnz):
    n, noise, seed, m, full, _ = _data.check_common(n_samples, noise, seed, batch_size, full_loss)
    nnz = _data._int("nnz", nnz, 1, dim, note=f", at most the dimension {dim}")
    idx, val, y, _ = _data.sparse_data(n, dim, nnz, noise, seed)
    return np.concatenate([_data.header(n, dim, m, full, 0.0, extra=nnz), idx.ravel().astype(float),
                           val.ravel(), y])


def sparse_design(dim, n_samples=512, noise=0.1, seed=0, nnz=3, **_):
    """The dense design matrix (n, D) and targets of the data set (for references)."""
    idx, val, y, _ = _data.sparse_data(int(n_samples), dim, int(nnz), float(noise), int(seed))
    A = np.zeros((len(y), dim))
    np.add.at(A, (np.arange(len(y))[:, None], idx), val)
    return A, y


def _sparse_minimum(dim, n_samples, noise, seed, batch_size, full_loss, nnz):
    _sparse_params(dim, n_samples, noise, seed, 0, full_loss, nnz)  # validates
    A, y = sparse_design(dim, n_samples, noise, seed, nnz)
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    res = A @ w - y
    return [(w, float(res @ res / len(y)))]


SPEC = ObjectiveSpec(
    name="sparse_linear",
    value_grad_kernel=sparse_linear,
    hess_kernel=sparse_linear_hess,
    dim=None, min_dim=1, dim_default=64,
    domain=(-3.0, 3.0),
    formula="mean_i (sum_{k in S_i} w_k - y_i)^2, |S_i| = nnz, Zipf-distributed feature ids",
    source="an nn.EmbeddingBag-style sparse linear model (for torch.optim.SparseAdam)",
    minima=_sparse_minimum,
    params=_sparse_params,
    options=dict(n_samples=512, noise=0.1, seed=0, batch_size=4, full_loss=True, nnz=3),
    aliases=("sparse", "sparse_embedding"),
    notes="minibatch gradients touch only the features in the batch (exact zeros elsewhere)",
)
