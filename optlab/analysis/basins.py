"""Basins of attraction: which minimum each run ends at (used by the local_minima study and optlab.plot)."""
from __future__ import annotations

import numpy as np


def classify(x_final, grad_norm, diverged, minima, radius, gtol):
    """Category per run: index of the minimum, then k (other stationary point), k+1 (not converged),
    k+2 (diverged)."""
    k = len(minima)
    m = np.asarray([x for x, _ in minima], dtype=float).reshape(k, -1)
    out = np.full(len(x_final), k + 1, dtype=np.int64)
    ok = np.isfinite(x_final).all(axis=1) & ~diverged
    if k:
        with np.errstate(over="ignore", invalid="ignore"):  # diverged ends: overwritten just below
            d = np.linalg.norm(x_final[:, None, :] - m[None, :, :], axis=2)
        d[~ok] = np.inf
        near = np.argmin(d, axis=1)
        hit = d[np.arange(len(d)), near] <= radius
        out[hit] = near[hit]
    else:
        hit = np.zeros(len(x_final), dtype=bool)
    other = ok & ~hit & (grad_norm <= gtol)
    out[other] = k
    out[~ok] = k + 2
    return out


def global_index(minima) -> tuple:
    """Indices of the global minima among ``minima`` (list of (x, value))."""
    if not minima:
        return ()
    f_glob = min(v for _, v in minima)
    return tuple(i for i, (_, v) in enumerate(minima) if v <= f_glob + 1e-9 * (1 + abs(f_glob)))
