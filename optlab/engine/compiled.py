"""Compiled Python-side evaluators of an objective (value, gradient, Hessian).

Used for plots, analysis and the stationary-point solver; the engine inlines
the same kernel functions into its own loops instead.
"""
from __future__ import annotations

import numpy as np

from . import codegen

_TEMPLATE = '''{header}"""optlab evaluator of an objective (generated; do not edit)."""
import numpy as np
from numba import njit
{imports}

_fg = njit(inline="always")(_vg)
_h = njit(inline="always")(_hs)


@njit(cache=True)
def value_grad(x, p):
    f = np.empty(x.shape[1])
    g = np.empty_like(x)
    _fg(x, g, f, p, x.shape[1], np.zeros(3, dtype=np.int64))
    return f, g


@njit(cache=True)
def hess(x, p):
    h = np.empty((x.shape[0], x.shape[0], x.shape[1]))
    _h(x, h, p, x.shape[1])
    return h
'''

HEADER = codegen.register_template("eval", _TEMPLATE)
_EVALUATORS: dict[str, object] = {}


def evaluator(spec):
    """Module with ``value_grad(x, p) -> (f, g)`` and ``hess(x, p) -> h``."""
    mod = _EVALUATORS.get(spec.name)
    if mod is None:
        fns = (spec.value_grad_kernel, spec.hess_kernel)
        src = _TEMPLATE.format(
            header=HEADER,
            imports="\n".join([codegen.import_line(fns[0], "_vg"), codegen.import_line(fns[1], "_hs")]),
        )
        mod = codegen.load(codegen.safe_tag("eval", fns[0].__name__), src)
        _EVALUATORS[spec.name] = mod
    return mod


def as_columns(points) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(np.asarray(points, dtype=np.float64)).T)
