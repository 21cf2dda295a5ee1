"""Objectives: analytic test functions and finite-sum problems.

``optlab.objectives.get("rosenbrock")`` returns the :class:`ObjectiveSpec`
(``value``, ``grad``, ``hessian``, ``dim``, ``domain``, ``global_minima``,
``stationary_points``); ``names()`` lists them.
"""
from .._registry import Registry
from ._base import ObjectiveSpec, StationaryPoint

registry = Registry("objective", __name__)
get = registry.get
names = registry.names

__all__ = ["ObjectiveSpec", "StationaryPoint", "get", "names", "registry"]
