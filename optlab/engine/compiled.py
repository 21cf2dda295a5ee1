"""Compiled Python-side evaluators of an objective (value, gradient, Hessian).

Used for plots, analysis and the stationary-point solver. Value and gradient
go through the engine's own compiled objective (:mod:`optlab.engine.objective_cpu`),
so a figure compiles nothing more; the Hessian comes from a small generated
module, compiled the first time it is asked for.
"""
from __future__ import annotations

import numpy as np

from . import codegen

_TEMPLATE = '''{header}"""optlab Hessian evaluator of an objective (generated; do not edit)."""
import numpy as np
from numba import njit
{imports}

_h = njit(inline="always")(_hs)


@njit(cache=True)
def hess(x, p):
    h = np.empty((x.shape[0], x.shape[0], x.shape[1]))
    _h(x, h, p, x.shape[1])
    return h


@njit(cache=True, nogil=True)
def extremes2(xr, p, top, low):
    # 2-D: the Hessian's eigenvalues at the rows of xr (m, 2), blocks of 256, closed form
    m = xr.shape[0]
    x = np.empty((2, 256))
    h = np.empty((2, 2, 256))
    for i0 in range(0, m, 256):
        w = min(256, m - i0)
        for j in range(w):
            x[0, j] = xr[i0 + j, 0]
            x[1, j] = xr[i0 + j, 1]
        _h(x, h, p, w)
        for j in range(w):
            a = h[0, 0, j]
            c = h[1, 1, j]
            b = 0.5 * (h[0, 1, j] + h[1, 0, j])
            mid = 0.5 * (a + c)
            r = np.hypot(0.5 * (a - c), b)
            top[i0 + j] = mid + r
            low[i0 + j] = mid - r
'''

HEADER = codegen.register_template("eval", _TEMPLATE)
_EVALUATORS: dict[str, object] = {}
#: columns per call of the compiled objective in ``Evaluator.value_grad`` (its ctx grows with them)
CHUNK = 4096


class Evaluator:
    """``value_grad(x, p) -> (f, g)`` and ``hess(x, p) -> h`` for columns x (D, n)."""

    def __init__(self, spec):
        self.spec = spec
        self._hess = None

    def value_grad(self, x, p):
        # the engine's own compiled objective (objective_cpu): nothing more to compile. It may be
        # the block kernel of a finite sum (ObjectiveSpec.engine_kernel), which needs the engine's
        # ctx with scratch rows: columns go in chunks of CHUNK, ctx[2] their first index, as the
        # engine passes a block's first trajectory (the same minibatch keys as one call)
        from . import objective_cpu, ops
        x = np.ascontiguousarray(x, dtype=np.float64)
        p = np.ascontiguousarray(p, dtype=np.float64)
        fn = objective_cpu.function(self.spec, np.float64, p)
        d, n = x.shape
        f = np.empty(n)
        g = np.empty_like(x)
        if n == 0:
            return f, g
        w = min(n, CHUNK)
        ctx = np.zeros(ops.ctx_length(d, w), dtype=np.int64)
        for a in range(0, n, w):
            b = min(n, a + w)
            ctx[:] = 0
            ctx[2] = a
            xs = np.ascontiguousarray(x[:, a:b])
            gs = np.empty_like(xs)
            fs = np.empty(b - a)
            fn(xs, gs, fs, p, b - a, ctx)
            f[a:b] = fs
            g[:, a:b] = gs
        return f, g

    def _module(self):
        if self._hess is None:
            fn = self.spec.hess_kernel
            src = _TEMPLATE.format(header=HEADER, imports=codegen.import_line(fn, "_hs"))
            self._hess = codegen.load(codegen.safe_tag("hess", fn.__name__), src)
        return self._hess

    def hess(self, x, p):
        return self._module().hess(x, p)

    def extremes2(self, xr, p, top, low):
        """Largest and smallest Hessian eigenvalue at the rows of ``xr`` (m, 2) into ``top`` and
        ``low`` (a closed form; no GIL: the caller may run chunks on threads)."""
        self._module().extremes2(xr, p, top, low)


def evaluator(spec):
    """The :class:`Evaluator` of an objective (value and gradient through the engine's compiled
    objective; the Hessian from a generated module, compiled on first use)."""
    ev = _EVALUATORS.get(spec.name)
    if ev is None:
        ev = _EVALUATORS[spec.name] = Evaluator(spec)
    return ev


def as_columns(points) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(np.asarray(points, dtype=np.float64)).T)
