"""What every objective provides.

Kernel functions (plain Python in the Numba subset, one source for the CPU
engine, the CUDA engine and ``NUMBA_DISABLE_JIT=1``) work on a *block* of
points stored column-wise:

``value_grad(x, g, f, p, n, ctx)``
    for columns ``j < n`` of ``x`` (D, B): ``f[j] = f(x[:, j])`` and
    ``g[:, j] = grad f(x[:, j])``. ``ctx`` is an int64 array
    ``[seed, step, traj0]``: stochastic objectives (minibatches, sparse
    gradients) draw their randomness from ``optlab.engine.rng`` keyed by
    ``(seed, traj0 + j, step, k)``; deterministic ones ignore it.
``hess(x, h, p, n)``
    ``h[:, :, j] = Hessian f(x[:, j])``, h of shape (D, D, B).

``p`` is a 1-D float array of the objective's parameters (a quadratic's
matrix, say), built once per run by ``spec.params(dim, **options)``.
Loops run over the dimension outside and the block inside so that LLVM
vectorises across trajectories.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import OptlabError


@dataclass(frozen=True)
class StationaryPoint:
    """A point with grad f = 0: ``kind`` is "minimum", "saddle" or "maximum"."""

    x: tuple
    value: float
    kind: str


_STATIONARY_FILE = "stationary_points.json"
_STATIONARY_CACHE: dict = {}


def _stored_stationary() -> dict:
    """name -> tuple of StationaryPoint, from the committed JSON table (read once)."""
    if "table" not in _STATIONARY_CACHE:
        import json
        from pathlib import Path
        path = Path(__file__).with_name(_STATIONARY_FILE)
        table = {}
        if path.exists():
            data = json.loads(path.read_text())
            for name, entry in data.get("objectives", {}).items():
                table[name] = tuple(StationaryPoint(tuple(pt["x"]), float(pt["value"]), pt["kind"])
                                    for pt in entry["points"])
        _STATIONARY_CACHE["table"] = table
    return _STATIONARY_CACHE["table"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective: kernels, dimension, domain and known minima.

    ``dim`` is an int, or None for "any dimension >= min_dim". ``domain`` is
    the plotting box per coordinate ((lo, hi), ...) for 2-D, or one (lo, hi)
    used for every coordinate. ``minima`` holds the global minima as
    ``(x, value)`` for 2-D objectives, or a function of the dimension.
    """

    name: str
    value_grad_kernel: Callable
    hess_kernel: Callable
    dim: int | None
    domain: tuple
    formula: str = ""
    source: str = ""
    min_dim: int = 1
    minima: object = ()
    f_min: object = None  # global minimum value, a float, a function of dim, or None
    starts: tuple = ()  # suggested 2-D start points for demos
    params: Callable | None = None  # (dim, **options) -> 1-D float array
    options: dict = field(default_factory=dict)  # option -> default
    aliases: tuple = ()
    notes: str = ""
    stationary: tuple = ()  # StationaryPoint records (2-D objectives); empty: the stored table
    dim_default: int | None = None  # default dimension of an N-D objective (else max(2, min_dim))
    stationary_bounds: tuple | None = None  # box of the stored stationary points, if smaller than domain
    # non-empty: the stationary points are not isolated (curves of minima, say), so no finite table lists
    # them; the note says what they are, and ``stationary_points`` is empty
    stationary_note: str = ""
    # the function the CPU engine compiles, when it is not value_grad_kernel: one that takes only a
    # ctx with the engine's scratch rows (value_grad_kernel, which takes any ctx, calls it then), so
    # a first use does not compile the trajectory-by-trajectory loops the engine never runs
    engine_kernel: Callable | None = None
    # the engine's function for a full-batch run (batch size 0), when the spec has one: the same
    # operations as engine_kernel's full batch, without the minibatch sampling compiled
    full_batch_kernel: Callable | None = None
    # (options, dim) -> {option: why} for the options that have no effect there (online_linear's
    # probability without stochastic=true): the config's objective section refuses a non-default value
    inert: Callable | None = None

    @property
    def cpu_kernel(self) -> Callable:
        """What the blocked CPU engine calls: ``engine_kernel`` or ``value_grad_kernel``."""
        return self.engine_kernel if self.engine_kernel is not None else self.value_grad_kernel

    # --- shape ---------------------------------------------------------------
    def check_dim(self, dim: int, what: str = "x0") -> int:
        dim = int(dim)
        if self.dim is not None and dim != self.dim:
            raise OptlabError(f"Objective '{self.name}' is {self.dim}-dimensional; got {what} of dimension {dim}")
        if self.dim is None and dim < self.min_dim:
            raise OptlabError(f"Objective '{self.name}' needs dimension >= {self.min_dim}; got {dim}")
        return dim

    def default_dim(self) -> int:
        if self.dim is not None:
            return self.dim
        return self.dim_default if self.dim_default is not None else max(2, self.min_dim)

    # --- critical points -------------------------------------------------------
    @property
    def stationary_points(self) -> tuple:
        """Every point with grad f = 0 in the 2-D plotting box (``stationary_box``).

        Computed once by ``python -m optlab.analysis.stationary --write`` and
        read lazily from ``optlab/objectives/stationary_points.json``; for
        finite-sum problems they hold for the default options. Empty for
        objectives without a 2-D form, and for those whose stationary points
        are not isolated (``stationary_note`` says what they are).
        """
        if self.stationary:
            return tuple(self.stationary)
        if self.stationary_note:
            return ()
        return _stored_stationary().get(self.name, ())

    @property
    def stationary_box(self) -> np.ndarray:
        """The box (2, 2) in which ``stationary_points`` is complete."""
        if self.stationary_bounds is not None:
            return np.asarray(self.stationary_bounds, dtype=float)
        return self.bounds(2)

    def bounds(self, dim: int | None = None) -> np.ndarray:
        """Plotting/sampling box, shape (dim, 2)."""
        dim = self.default_dim() if dim is None else self.check_dim(dim)
        dom = np.asarray(self.domain, dtype=float)
        if dom.ndim == 1:
            return np.tile(dom, (dim, 1))
        if dom.shape[0] != dim:
            return np.tile(dom[0], (dim, 1))
        return dom

    def make_params(self, dim: int, **options) -> np.ndarray:
        unknown = set(options) - set(self.options)
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise OptlabError(f"Unknown option '{sorted(unknown)[0]}' for objective '{self.name}'. Allowed: {allowed}")
        for key, v in options.items():
            _check_option_type(self.name, key, v, self.options[key])
        if self.params is None:
            return np.zeros(1)
        merged = {**self.options, **options}
        return _memo(("params", self.name, id(self.params), dim, merged),
                     lambda: np.ascontiguousarray(self.params(dim, **merged), dtype=np.float64)).copy()

    def global_minima(self, dim: int | None = None, **options):
        """List of (x, value) global minima, [] when none is known."""
        dim = self.default_dim() if dim is None else dim
        if callable(self.minima):
            merged = {**self.options, **options}
            m = _memo(("minima", self.name, id(self.minima), dim, merged), lambda: list(self.minima(dim, **merged)))
        else:
            m = self.minima
        return [(np.array(x, dtype=float), float(v)) for x, v in m]

    def min_value(self, dim: int | None = None, **options):
        mins = self.global_minima(dim, **options)
        return min(v for _, v in mins) if mins else None

    # --- evaluation from Python ------------------------------------------------
    def _eval(self, X, options):
        from ..engine.compiled import evaluator
        given = X
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise OptlabError(f"Invalid point {given!r} for objective '{self.name}' (must be numbers, "
                              "shape (..., D))") from None
        if X.ndim == 0:
            raise OptlabError(f"Invalid point {given!r} for objective '{self.name}' (must have shape (..., D))")
        single = X.ndim == 1
        pts = np.atleast_2d(X)
        dim = self.check_dim(pts.shape[-1], what="points")
        lead = pts.shape[:-1]
        xt = np.ascontiguousarray(pts.reshape(-1, dim).T)
        p = self.make_params(dim, **options)
        return evaluator(self), xt, p, lead, single, dim

    def value(self, X, **options):
        """f at points X of shape (..., D); returns shape (...)."""
        fns, xt, p, lead, single, dim = self._eval(X, options)
        f, _ = fns.value_grad(xt, p)
        f = f.reshape(lead)
        return float(f[0]) if single else f

    def grad(self, X, **options):
        """grad f at points X of shape (..., D); returns shape (..., D)."""
        fns, xt, p, lead, single, dim = self._eval(X, options)
        _, g = fns.value_grad(xt, p)
        g = g.T.reshape(lead + (dim,))
        return g[0] if single else g

    def hess(self, X, **options):
        """Hessian at points X of shape (..., D); returns shape (..., D, D)."""
        fns, xt, p, lead, single, dim = self._eval(X, options)
        h = fns.hess(xt, p)
        h = np.moveaxis(h, -1, 0).reshape(lead + (dim, dim))
        return h[0] if single else h


_MEMO: dict = {}
_MEMO_SIZE = 64
_MEMO_LOCK = threading.Lock()


def _memo(key, compute):
    """``compute()``, remembered by ``key`` (its last item a dict of options) for the last
    _MEMO_SIZE keys: a run asks for its objective's parameters and minimum every time, and
    building them (data, a least-squares fit) cost a short run 50-100 us. Unhashable options
    are computed every time. Callers hand out copies."""
    try:
        k = key[:-1] + (tuple(sorted(key[-1].items())),)
        v = _MEMO.get(k)
    except TypeError:
        return compute()
    if v is None:
        v = compute()
        with _MEMO_LOCK:  # runs from several threads (a sweep's thread backend) may insert at once
            if len(_MEMO) >= _MEMO_SIZE:
                _MEMO.pop(next(iter(_MEMO)), None)
            _MEMO[k] = v
    return v


def _check_option_type(objective: str, key: str, v, default) -> None:
    """An option takes the kind of value its default has: true/false, an integer, or a number
    (true/false is not a number here; numpy would read it as 1 or 0)."""
    import numbers
    if default is None or isinstance(default, str):
        return
    if isinstance(default, bool):
        if not isinstance(v, (bool, np.bool_)):
            raise OptlabError(f"Invalid {key} for objective '{objective}': {v!r} (must be true or false)")
        return
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        kind = "an integer" if isinstance(default, int) else "a number"
        raise OptlabError(f"Invalid {key} for objective '{objective}': {v!r} (must be {kind})")
    if isinstance(default, int) and not isinstance(v, numbers.Integral):
        raise OptlabError(f"Invalid {key} for objective '{objective}': {v!r} (must be an integer)")
    if key == "seed" and v < 0:
        raise OptlabError(f"Invalid seed for objective '{objective}': {v!r} (must be an integer >= 0)")
