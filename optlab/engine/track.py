"""What a run can track besides x and the loss: the curvature along every trajectory.

``simulate(..., track=("sharpness",))`` gives ``res.sharpness`` and
``res.hess_min``, shape (n_traj, n_records): the largest and the smallest
eigenvalue of the objective's Hessian at every recorded x. Every objective
has an analytic Hessian kernel (``hess_kernel``), the MLP's included, so the
eigenvalues are exact to rounding: a closed form for D = 2 and a symmetric
eigen-solve (``numpy.linalg.eigvalsh``) above. (Lanczos on Hessian-vector
products would approximate what these sizes allow computing exactly: the
default MLP has 33 parameters, and the dense Hessian of one of width 64, 257
parameters, still solves in a fraction of a millisecond.) They are computed
from the records after the run, so the engine's kernel is the same with or
without them; records after a divergence are NaN and so are their eigenvalues.

``track=("preconditioned_sharpness",)`` (Adam and AdamW) also records Adam's
second moment and gives ``res.preconditioned_sharpness``: the largest
eigenvalue of :math:`P_t^{-1} H(x_t)` with the preconditioner of the step
that produced :math:`x_t`,

.. math:: P_t = (1 - \\beta_1^t)\\, \\mathrm{diag}\\big(\\sqrt{v_t / (1 - \\beta_2^t)} + \\epsilon\\big),

whose stability threshold is :math:`(2 + 2\\beta_1) / ((1 - \\beta_1)\\eta)`, 38/lr at
beta1 = 0.9 (Cohen et al., "Adaptive Gradient Methods at the Edge of
Stability", arXiv 2207.14484, 2022). At t = 0 (no step yet) it is NaN.
"""
from __future__ import annotations

import numpy as np

from ..errors import OptlabError

TRACKS = ("sharpness", "preconditioned_sharpness")
#: optimizers whose preconditioner is Adam's (the state row it needs: exp_avg_sq)
PRECONDITIONED = ("adam", "adamw")
CHUNK = 1 << 20  # Hessians per batch: bounds the memory of a big run's post-processing


def check_track(track, opt) -> tuple:
    """The tracked quantities as a tuple of names; one line for anything else."""
    if track is None:
        return ()
    if isinstance(track, str):
        track = (track,)
    try:
        names = tuple(track)
    except TypeError:
        raise OptlabError(f"Invalid track: {track!r} (must be a list of: {', '.join(TRACKS)})") from None
    for name in names:
        if name not in TRACKS:
            raise OptlabError(f"Invalid track entry {name!r} (allowed: {', '.join(TRACKS)})")
    if opt is not None and "preconditioned_sharpness" in names and opt.name not in PRECONDITIONED \
            and getattr(opt, "kernels", None) is not getattr(_spec("adam"), "kernels", None):
        raise OptlabError(f"track 'preconditioned_sharpness' is defined for Adam's preconditioner "
                          f"({', '.join(PRECONDITIONED)}); got optimizer '{opt.name}'")
    return tuple(dict.fromkeys(names))


def _spec(name):
    from .. import optimizers
    return optimizers.get(name)


def _hessians(obj, x, options):
    """Hessians at the rows of ``x`` (m, D), symmetrised: (m, D, D); NaN rows give NaN."""
    h = _raw(obj, x, options)
    h = np.moveaxis(h, -1, 0)
    return 0.5 * (h + np.swapaxes(h, 1, 2))


def _raw(obj, x, options):
    """The objective's compiled Hessian kernel on the rows of ``x``: (D, D, m)."""
    from .compiled import evaluator
    xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
    return evaluator(obj).hess(xt, obj.make_params(x.shape[1], **options))


def _eig_extremes(h):
    """(largest, smallest) eigenvalue of each symmetric matrix of ``h`` (m, D, D); NaN in, NaN out."""
    if h.shape[1] == 1:
        return h[:, 0, 0].copy(), h[:, 0, 0].copy()
    if h.shape[1] == 2:
        return _closed_form(h[:, 0, 0], 0.5 * (h[:, 0, 1] + h[:, 1, 0]), h[:, 1, 1])
    top = np.full(h.shape[0], np.nan)
    low = np.full(h.shape[0], np.nan)
    ok = np.isfinite(h).all(axis=(1, 2))
    if ok.any():
        lam = np.linalg.eigvalsh(h[ok])
        top[ok] = lam[:, -1]
        low[ok] = lam[:, 0]
    return top, low


def _closed_form(a, b, c):
    """Eigenvalues of [[a, b], [b, c]]: mean +- sqrt(half-difference^2 + b^2)."""
    m = 0.5 * (a + c)
    r = np.hypot(0.5 * (a - c), b)
    return m + r, m - r


def sharpness(obj, x_rec, options) -> tuple[np.ndarray, np.ndarray]:
    """(largest, smallest) Hessian eigenvalue at every record of ``x_rec`` (n, n_rec, D)."""
    n, n_rec, dim = x_rec.shape
    flat = np.asarray(x_rec, dtype=np.float64).reshape(-1, dim)
    top = np.empty(flat.shape[0])
    low = np.empty(flat.shape[0])
    step = max(1, CHUNK // (dim * dim))
    if dim == 2:  # compiled, kernel and closed form fused, on the engine's threads
        from .compiled import evaluator
        from .core import _pool, threads
        ev = evaluator(obj)
        p = np.ascontiguousarray(obj.make_params(2, **options), dtype=np.float64)
        m = flat.shape[0]
        ev.extremes2(flat[:1], p, top[:1], low[:1])  # compile (or load) before the threads start
        size = max(4096, -(-m // (4 * threads())))
        list(_pool().map(lambda a: ev.extremes2(flat[a:a + size], p, top[a:a + size], low[a:a + size]),
                         range(0, m, size)))
        return top.reshape(n, n_rec), low.reshape(n, n_rec)
    for a in range(0, flat.shape[0], step):
        top[a:a + step], low[a:a + step] = _eig_extremes(_hessians(obj, flat[a:a + step], options))
    return top.reshape(n, n_rec), low.reshape(n, n_rec)


def preconditioned_sharpness(obj, x_rec, v_rec, steps, beta1, beta2, eps, options) -> np.ndarray:
    """Largest eigenvalue of ``P^-1 H`` at every record (module docstring); ``v_rec`` (n, n_rec, D)
    Adam's exp_avg_sq at the records, ``steps`` (n_rec,) their step numbers, the betas and eps one
    value or one per trajectory."""
    n, n_rec, dim = x_rec.shape
    t = np.asarray(steps, dtype=np.float64)[None, :]
    b1 = np.broadcast_to(np.asarray(beta1, dtype=np.float64).reshape(-1, 1), (n, 1))
    b2 = np.broadcast_to(np.asarray(beta2, dtype=np.float64).reshape(-1, 1), (n, 1))
    e = np.broadcast_to(np.asarray(eps, dtype=np.float64).reshape(-1, 1), (n, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        bc1 = 1.0 - b1 ** t  # (n, n_rec)
        bc2 = 1.0 - b2 ** t
        p = bc1[..., None] * (np.sqrt(np.asarray(v_rec, dtype=np.float64) / bc2[..., None]) + e[..., None])
        s = 1.0 / np.sqrt(p)  # P^-1/2; P^-1/2 H P^-1/2 is symmetric with the eigenvalues of P^-1 H
    flat_x = np.asarray(x_rec, dtype=np.float64).reshape(-1, dim)
    flat_s = s.reshape(-1, dim)
    out = np.empty(flat_x.shape[0])
    step = max(1, CHUNK // (dim * dim))
    for a in range(0, flat_x.shape[0], step):
        h = _hessians(obj, flat_x[a:a + step], options)
        ss = flat_s[a:a + step]
        h = ss[:, :, None] * h * ss[:, None, :]
        out[a:a + step] = _eig_extremes(h)[0]
    out = out.reshape(n, n_rec)
    out[:, np.asarray(steps) == 0] = np.nan
    return out
