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
'''

HEADER = codegen.register_template("eval", _TEMPLATE)
_EVALUATORS: dict[str, object] = {}


class Evaluator:
    """``value_grad(x, p) -> (f, g)`` and ``hess(x, p) -> h`` for columns x (D, n)."""

    def __init__(self, spec):
        self.spec = spec
        self._hess = None

    def value_grad(self, x, p):
        # the engine's own compiled objective (objective_cpu): nothing more to compile
        from . import objective_cpu
        fn = objective_cpu.function(self.spec, np.float64)
        x = np.ascontiguousarray(x, dtype=np.float64)
        f = np.empty(x.shape[1])
        g = np.empty_like(x)
        fn(x, g, f, np.ascontiguousarray(p, dtype=np.float64), x.shape[1], np.zeros(3, dtype=np.int64))
        return f, g

    def hess(self, x, p):
        if self._hess is None:
            fn = self.spec.hess_kernel
            src = _TEMPLATE.format(header=HEADER, imports=codegen.import_line(fn, "_hs"))
            self._hess = codegen.load(codegen.safe_tag("hess", fn.__name__), src).hess
        return self._hess(x, p)


def evaluator(spec):
    """The :class:`Evaluator` of an objective (value and gradient through the engine's compiled
    objective; the Hessian from a generated module, compiled on first use)."""
    ev = _EVALUATORS.get(spec.name)
    if ev is None:
        ev = _EVALUATORS[spec.name] = Evaluator(spec)
    return ev


def as_columns(points) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(np.asarray(points, dtype=np.float64)).T)
