"""Optimizers: torch.optim's algorithms as batched Numba kernels.

``optlab.optimizers.get("adam")`` returns the :class:`OptimizerSpec`;
``names()`` lists them. Each module of this package is one algorithm.
"""
from .._registry import Registry
from ._base import OptimizerSpec, check_layout

registry = Registry("optimizer", __name__, check=check_layout)
get = registry.get
names = registry.names

__all__ = ["OptimizerSpec", "get", "names", "registry"]
