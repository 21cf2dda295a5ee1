"""Finite-sum problems: synthetic data sets, option checks, and the ``p`` layout.

Every finite-sum objective packs its options and its data into the float64
parameter array ``p`` that the kernels read:

====== ======================================================================
p[0]   n_samples
p[1]   n_features (columns of X)
p[2]   batch_size m: 0 (or >= n_samples) = full batch, 1 = SGD, else minibatch
p[3]   full_loss: 1 = the reported loss is the full-data loss, 0 = the
       minibatch's own loss
p[4]   l2: the loss gets + l2/2 |theta|^2 (all parameters, like torch's
       weight_decay on every tensor)
p[5]   bits of the minibatch permutation (``_sampling.permutation_bits``)
p[6]   problem-specific (mlp: hidden units; sparse_linear: non-zeros/sample)
p[7]   problem-specific (mlp: the loss, 0 = bce, 1 = mse; else 0)
p[8:]  the data (layout in each module)
====== ======================================================================

Data are drawn in Python from ``numpy.random.default_rng(seed)`` (the
objective option ``seed``; the engine's own ``seed`` keys the minibatch
shuffles instead), once per option set, and cached.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import OptlabError
from ._sampling import permutation_bits

HEADER = 8


def _int(name, v, lo, hi=None, note=""):
    try:
        fv = float(v)
    except (TypeError, ValueError):
        fv = math.nan
    if isinstance(v, (bool, np.bool_)) or not fv.is_integer():
        raise OptlabError(f"Invalid {name}: {v!r} (must be an integer{note})")
    v = int(fv)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise OptlabError(f"Invalid {name}: {v} (must be {rng}{note})")
    return v


def _float(name, v):
    try:
        fv = float(v)
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid {name}: {v!r} (must be a finite number >= 0)") from None
    if not (fv >= 0.0 and math.isfinite(fv)):
        raise OptlabError(f"Invalid {name}: {fv} (must be a finite number >= 0)")
    return fv


def check_common(n_samples, noise, seed, batch_size, full_loss, l2=0.0):
    """Validated plain values of the options every finite-sum problem shares."""
    n = _int("n_samples", n_samples, 1, 2**31 - 1)
    m = _int("batch_size", batch_size, 0, note="; 0 = full batch")
    s = _int("seed", seed, 0)
    if m > n:
        raise OptlabError(f"Invalid batch_size: {m} (larger than the data set, n_samples = {n}; "
                          f"use 0 for the full batch)")
    noise = _float("noise", noise)
    l2 = _float("l2", l2)
    if not isinstance(full_loss, (bool, np.bool_, int, np.integer)) or int(full_loss) not in (0, 1):
        raise OptlabError(f"Invalid full_loss: {full_loss!r} (must be true or false)")
    return n, noise, s, m, bool(full_loss), l2


def header(n, d, m, full_loss, l2, extra=0.0):
    h = np.zeros(HEADER)
    h[0] = n
    h[1] = d
    h[2] = 0 if m >= n else m
    h[3] = 1.0 if full_loss else 0.0
    h[4] = l2
    h[5] = permutation_bits(n)
    h[6] = extra
    return h


def cached(fn):
    """Memoise a data generator on its (hashable) arguments; hand out copies."""
    fn = functools.lru_cache(maxsize=32)(fn)

    @functools.wraps(fn)
    def wrapper(*args):
        out = fn(*args)
        return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in out)
    wrapper.cache_clear = fn.cache_clear
    return wrapper


@cached
def regression_data(n, d, noise, seed):
    """X (n, d) ~ N(1, 1), true (w, b), y = X w + b + noise eps."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2.0, 2.0, size=d)
    b = rng.uniform(-1.0, 1.0)
    X = rng.normal(1.0, 1.0, size=(n, d))
    y = X @ w + b + noise * rng.standard_normal(n)
    return X, y, w, b


@cached
def classification_data(n, d, noise, seed):
    """X (n, d) ~ N(0, 1), y = 1[X w + b + noise eps > 0] with true (w, b)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(1.0, 3.0, size=d) * rng.choice([-1.0, 1.0], size=d)
    b = rng.uniform(-1.0, 1.0)
    X = rng.standard_normal(size=(n, d))
    y = (X @ w + b + noise * rng.standard_normal(n) > 0.0).astype(float)
    return X, y, w, b


@cached
def moons_data(n, noise, seed):
    """Two interleaving half-circles (scikit-learn's make_moons), centred."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = rng.uniform(0.0, math.pi, n0)
    t1 = rng.uniform(0.0, math.pi, n1)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    X = X + noise * rng.standard_normal(X.shape) - np.array([0.5, 0.25])
    order = rng.permutation(n)
    return X[order], y[order]


@cached
def sparse_data(n, d, nnz, noise, seed):
    """Bags of ``nnz`` distinct feature ids per sample, Zipf(1) distributed
    (feature k has weight 1/(k+1)), values 1; y = sum of true weights + noise."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    prob = 1.0 / np.arange(1, d + 1)
    prob /= prob.sum()
    idx = np.empty((n, nnz), dtype=np.int64)
    for i in range(n):
        idx[i] = np.sort(rng.choice(d, size=nnz, replace=False, p=prob))
    val = np.ones((n, nnz))
    y = (val * w[idx]).sum(1) + noise * rng.standard_normal(n)
    return idx, val, y, w
