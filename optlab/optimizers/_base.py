"""What every optimizer module provides, and the checks they share.

An optimizer module holds two kernel functions, written in the Numba subset
as plain Python so that one source serves the CPU engine, the CUDA engine and
``NUMBA_DISABLE_JIT=1`` runs:

``init(x, st, sc, hp, hs, n)``
    fill the state of a block of ``n`` trajectories before the first step.
``step(x, g, st, sc, hp, hs, t, n)``
    one torch ``optimizer.step()`` for the block, in place.

Shapes (B is the block width, D the dimension):

=====  ==========  ===================================================

x      (D, B)      parameters, updated in place
g      (D, B)      gradient at x (the kernel may overwrite it)
st     (S, D, B)   per-coordinate state (torch's state tensors), rows as ``spec.state``
sc     (K, B)      per-trajectory scalar state/scratch, rows as ``spec.scalars``
hp     (H, B)      per-trajectory hyperparameters, rows as ``spec.vector``
hs     (M,)        per-call options (booleans as 0/1), rows as ``spec.static``
t      int         torch's step counter, 1 on the first step
=====  ==========  ===================================================


The module also defines ``SPEC``, an :class:`OptimizerSpec` that owns the
names, defaults (torch.optim's, exactly) and validation (torch's messages).

**Named layouts.** The spec names every row (``state=("exp_avg", ...)``,
``scalars=(...)``, ``vector=("lr", ...)``) and the module names their indices
``S_EXP_AVG = 0``, ``K_...``, ``H_LR = 0`` ...; kernels index rows only
through those names (``st[S_EXP_AVG, d, j]``, ``uniform(hp, H_LR, n)``).
Numba freezes the constants, so this costs nothing at run time.
:func:`check_layout` runs when the registry loads the module and fails, with
one line naming the optimizer and the row, when the constants, the kernels'
use of them, or the record slots do not match the declaration.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

import numpy as np

from ..errors import OptlabError

# Hyperparameters given as a pair (or triple) in torch, split into one per-trajectory row each.
PAIRS = {
    "betas": ("beta1", "beta2"),
    "etas": ("etaminus", "etaplus"),
    "step_sizes": ("step_size_min", "step_size_max"),
    "ns_coefficients": ("ns_a", "ns_b", "ns_c"),
    "adamw_betas": ("adamw_beta1", "adamw_beta2"),
}
_PAIR_OF = {part: pair for pair, parts in PAIRS.items() for part in parts}


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: names, defaults, validation and kernels.

    ``defaults`` uses torch.optim's keyword names and values. ``vector`` are
    the per-trajectory rows of ``hp`` (pairs such as ``betas`` split into
    ``beta1``/``beta2``); ``static`` the per-call options in ``hs``.
    """

    name: str
    kernels: ModuleType
    defaults: dict
    vector: tuple
    static: tuple = ()
    # the kernel's named rows: st (torch's per-coordinate state tensors) and sc
    # (per-trajectory scalars); the module names each row's index S_<NAME>, K_<NAME>
    # (and H_<NAME> for the rows of ``vector``), checked at registration (check_layout)
    state: tuple = ()
    scalars: tuple = ()
    validate: Callable[[dict], None] | None = None
    summary: str = ""
    torch_name: str | None = None
    reference: str = ""
    preset_of: str | None = None
    aliases: tuple = ()
    # rows of ``state`` also recorded every record step (consecutive), e.g. ASGD's averaged iterate "ax"
    record_state: tuple = ()
    # rows of ``scalars`` returned per trajectory after the run (consecutive), e.g. LBFGS "func_evals"
    final_scalars: tuple = ()
    # callable(obj_spec, dtype) -> (source, tag): the generated CPU kernel of an algorithm that
    # needs a template of its own (L-BFGS); same ``run`` signature as the engine's, the objective
    # its ``fg`` argument likewise, and block arrays one trajectory wide (``cpu.workspace``)
    kernel_source: Callable | None = None
    # kernel function lookahead(x, xa, st, sc, hp, hs, t, n): the point xa where the step's
    # gradient is taken, when it is not x (the lecture's Nesterov); records stay those of x
    lookahead: Callable | None = None
    # which engines can run it
    devices: tuple = ("cpu", "cuda")
    # the objectives it runs on (empty: every one), e.g. Muon + AdamW on the MLP's named parameter blocks
    objectives: tuple = ()
    # why it refuses a learning-rate scheduler (empty: it takes one), e.g. two learning rates
    no_scheduler: str = ""
    # the generated config file (optlab.configs): keys it leaves out, end-of-line notes
    config_hidden: tuple = ()
    config_notes: dict = field(default_factory=dict)
    # rows of ``vector`` that torch lets be None, and the value torch then uses for a parameter
    # of this dtype: name -> callable(numpy dtype) (Adafactor's eps1: the machine epsilon)
    none_value: dict = field(default_factory=dict)
    # per-call options the kernel takes as integer codes: name -> the user's value of each code
    # (L-BFGS's line_search_fn: (None, "strong_wolfe")), for what a run reports of itself
    labels: dict = field(default_factory=dict)

    def label(self, name: str, value):
        """The user's value of a per-call option the kernel holds as a code (else ``value``)."""
        names = self.labels.get(name)
        if names is None or np.ndim(value) != 0:
            return value
        try:
            return names[int(value)]
        except (TypeError, ValueError, IndexError):
            return value

    @property
    def n_state(self) -> int:
        return len(self.state)

    @property
    def n_scalar(self) -> int:
        return len(self.scalars)

    @property
    def record_slots(self) -> list:
        """st rows of ``record_state``, in order."""
        return [self.state.index(name) for name in self.record_state]

    @property
    def final_slots(self) -> list:
        """sc rows of ``final_scalars``, in order."""
        return [self.scalars.index(name) for name in self.final_scalars]

    @property
    def doc(self) -> str:
        return self.kernels.__doc__ or ""

    def allowed_names(self) -> set:
        """Every keyword this optimizer takes: torch's names and the parts of its pairs."""
        allowed = set(self.defaults)
        for pair, parts in PAIRS.items():
            if pair in self.defaults:
                allowed.update(parts)
        return allowed

    def check_names(self, params, also=()) -> None:
        """One line for a keyword this optimizer does not take, with the nearest name among its
        own and ``also`` (the caller's other keywords: a misspelt ``steps`` reaches here). A part
        given with its pair (``betas`` and ``beta2``) is allowed: the part overrides that element,
        as ``+optimizer.beta2=0.99`` overrides the config's ``betas`` on the command line."""
        import difflib
        allowed = self.allowed_names()
        for key in params:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed | set(also)), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else "."
                raise OptlabError(
                    f"Unknown hyperparameter '{key}' for optimizer '{self.name}'{hint} "
                    f"Allowed: {', '.join(sorted(allowed))}")

    def resolve(self, n: int, params: dict, dtype=np.float64):
        """Per-trajectory ``hp`` (H, n), per-call ``hs`` and the plain values.

        ``params`` holds torch keyword names (``betas=(0.9, 0.99)``) or their
        components (``beta1=[0.8, 0.9]``); each value is a scalar or one per
        trajectory. Unknown names raise with the allowed list. ``hp`` is float64 whatever the
        run's ``dtype`` (torch keeps hyperparameters as Python floats for float32 parameters
        too); ``dtype`` fills the dtype-dependent defaults (Adafactor's ``eps1=None``).
        """
        self.check_names(params)
        for key, v in params.items():
            default = self.defaults.get(key, self.defaults.get(_PAIR_OF.get(key), 0.0))
            if default is None and key in self.static:
                continue  # an option of its own kind (line_search_fn): the optimizer checks it
            if not isinstance(default, (bool, np.bool_)) and has_bool(v):  # eps1=true ran as eps1=1
                raise OptlabError(f"Invalid {key} for optimizer '{self.name}': {v!r} (must be a number, not true/false)")
            if not isinstance(default, str) and has_text(v):  # lr="0.1" ran as 0.1; torch raises TypeError
                raise OptlabError(f"Invalid {key} for optimizer '{self.name}': {_short_repr(v)} (must be a number, "
                                  "not text)")
        values = {}
        for key, default in self.defaults.items():
            if key in PAIRS:
                parts = PAIRS[key]
                pair = params.get(key, default)
                pair_arr = np.asarray(pair, dtype=object)
                if pair_arr.ndim == 0 or pair_arr.shape[-1] != len(parts):
                    what = "a pair of numbers" if len(parts) == 2 else f"{len(parts)} numbers"
                    raise OptlabError(f"Invalid {key}: {pair!r} (must be {what})")
                try:
                    split = [np.asarray(pair, dtype=float)[..., i] for i in range(len(parts))]
                except (ValueError, TypeError):  # ragged, e.g. (an array of beta1, one beta2): numpy's error
                    names = ", ".join(f"{p}=..." for p in parts)
                    raise OptlabError(f"Invalid {key}: {_short_repr(pair)} (must be {len(parts)} numbers, or one "
                                      f"such tuple per trajectory; to give a part per trajectory: {names})") from None
                for part, v in zip(parts, split):
                    values[part] = params.get(part, v)
                continue
            values[key] = params.get(key, default)
        out = {}
        for key in self.vector:
            v = values[key]
            if key in self.none_value:
                v = _fill_none(v, self.none_value[key](np.dtype(dtype)))
            out[key] = _per_traj(key, v, n)
        for key in self.static:
            v = values[key]
            if isinstance(v, np.ndarray) and v.ndim == 0:
                v = v.item()
            out[key] = v
        if self.validate is not None:
            self.validate(out)
        hp = np.empty((len(self.vector), n), dtype=np.float64)
        for i, key in enumerate(self.vector):
            hp[i] = out[key]
        hs = np.array([_static_float(k, out[k]) for k in self.static] or [0.0], dtype=np.float64)
        return hp, hs, out


def _per_traj(key, value, n):
    try:
        if not (isinstance(value, np.ndarray) and value.dtype != object) and \
                any(v is None for v in np.asarray(value, dtype=object).reshape(-1)):
            raise TypeError("None is not a number")  # numpy would read it as NaN
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid {key}: {value!r} (must be a number or one number per trajectory)") from None
    if arr.ndim == 0 or arr.size == 1 and arr.ndim == 1:  # [0.1]: one value for all
        return np.full(n, float(arr.reshape(-1)[0]))
    if arr.ndim > 1:
        raise OptlabError(f"Invalid {key}: values of shape {arr.shape} (must be a number or a flat list, "
                          "one number per trajectory)")
    if arr.size != n:
        raise OptlabError(f"Invalid {key}: {arr.size} values for {n} trajectories (give one value or one per trajectory)")
    return arr


def _fill_none(value, fill):
    """``value`` (one or one per trajectory) with every None replaced by ``fill``."""
    arr = np.asarray(value, dtype=object)
    if not any(v is None for v in arr.reshape(-1)):
        return value
    return np.array([fill if v is None else v for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)


def has_text(v) -> bool:
    """True when ``v`` is, or holds, text (numpy would read "0.1" as 0.1)."""
    if isinstance(v, (str, bytes, np.str_)):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "US" or (v.dtype == object and any(has_text(x) for x in v.ravel()))
    if isinstance(v, (list, tuple)):
        return any(has_text(x) for x in v)
    return False


def has_bool(v) -> bool:
    """True when ``v`` is, or holds, a true/false value (numpy would read it as 1.0 / 0.0)."""
    if isinstance(v, (bool, np.bool_)):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype == bool or (v.dtype == object and any(has_bool(x) for x in v.ravel()))
    if isinstance(v, (list, tuple)):
        return any(has_bool(x) for x in v)
    return False


def _static_float(key, v):
    if v is None:
        return 0.0
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    raise OptlabError(f"Invalid {key}: {v!r} (must be a single value, not one per trajectory)")


# --- torch's checks, one line each, torch's wording --------------------------

def first_bad(values, bad_mask):
    """The first value where ``bad_mask`` holds, as torch would print it."""
    arr = np.atleast_1d(values)
    i = int(np.flatnonzero(bad_mask)[0])
    return float(arr[i])


def require(values, ok: Callable, message: str):
    """Raise ``OptlabError(message.format(v))`` for the first value not ok."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        good = ok(arr)
    if good.all():
        return
    raise OptlabError(message.format(first_bad(arr, ~good)))


def check_lr(v):
    require(v["lr"], lambda a: a >= 0.0, "Invalid learning rate: {}")


def check_eps(v, name="eps"):
    require(v[name], lambda a: a >= 0.0, "Invalid epsilon value: {}")


def check_weight_decay(v):
    require(v["weight_decay"], lambda a: a >= 0.0, "Invalid weight_decay value: {}")


def check_betas(v):
    require(v["beta1"], lambda a: (a >= 0.0) & (a < 1.0), "Invalid beta parameter at index 0: {}")
    require(v["beta2"], lambda a: (a >= 0.0) & (a < 1.0), "Invalid beta parameter at index 1: {}")


def check_bool(v, *names):
    for name in names:
        if not isinstance(v[name], (bool, np.bool_, int)) or v[name] not in (0, 1):
            raise OptlabError(f"Invalid {name}: {v[name]!r} (must be true or false)")



# --- the kernel layout, checked at registration ------------------------------

_ROWS = (("st", "S_", "state"), ("sc", "K_", "scalars"), ("hp", "H_", "vector"))

#: the block's hyperparameter array has one more row than ``vector``, written by the engine's
#: driver: -1 without a scheduler (the hyperparameters init saw hold for the whole run), 0 when
#: the block's trajectories share one lr schedule, 1 when their learning rates may differ from
#: one another, 2 when their momenta or betas may also change from step to step (a
#: momentum-cycling scheduler). An optimizer whose ``init`` decides a path once from the
#: uniformity of lr or betas, or keeps a bound on the lrs it saw, names it ``H_SCHEDULE =
#: len(vector)`` and reads it there (Adam, NAdam, ASGD); the others never need it, since they
#: read lr and momentum every step.
SCHEDULE_ROW = "H_SCHEDULE"


def _const_name(name: str, prefix: str) -> str:
    return prefix + name.upper()


def check_layout(spec: OptimizerSpec) -> None:
    """The declared rows against the kernel module: constants, use, record slots.

    * the module defines ``S_<NAME>`` = i for the i-th name of ``state`` (likewise
      ``K_`` for ``scalars`` and ``H_`` for ``vector``), and no other such constant;
    * its kernel functions index ``st``, ``sc`` and ``hp`` rows only through those
      constants (``st[S_EXP_AVG, d, j]``, ``uniform(hp, H_LR, n)``), never by a bare
      number, and each with the constants of its own array;
    * every declared row is used (not for kernels brought by ``kernel_source``);
    * ``record_state`` and ``final_scalars`` are consecutive rows.

    Raises ``RuntimeError`` naming the optimizer and the row.
    """
    mod = spec.kernels
    where = f"optimizer '{spec.name}' ({mod.__name__})"
    for array, prefix, field_name in _ROWS:
        names = tuple(getattr(spec, field_name))
        for i, name in enumerate(names):
            const = _const_name(name, prefix)
            value = getattr(mod, const, None)
            if value != i or isinstance(value, bool):
                raise RuntimeError(f"{where}: {field_name} row {i} is {name!r}, so the module must define "
                                   f"{const} = {i} (found {value!r})")
        declared = {_const_name(n, prefix) for n in names}
        if prefix == "H_" and hasattr(mod, SCHEDULE_ROW):  # the driver's row after the declared ones
            if getattr(mod, SCHEDULE_ROW) != len(names):
                raise RuntimeError(f"{where}: {SCHEDULE_ROW} is the row after the declared ones, so the "
                                   f"module must define {SCHEDULE_ROW} = {len(names)} "
                                   f"(found {getattr(mod, SCHEDULE_ROW)!r})")
            declared.add(SCHEDULE_ROW)
        extra = sorted(k for k in vars(mod) if k.startswith(prefix) and k.isupper() and k not in declared)
        if extra:
            raise RuntimeError(f"{where}: {extra[0]} names no declared {field_name} row "
                               f"(declared: {', '.join(names) or 'none'})")
    used = _rows_used_memo(mod, where)
    if spec.kernel_source is None:
        for array, prefix, field_name in _ROWS:
            for name in getattr(spec, field_name):
                if _const_name(name, prefix) not in used:
                    raise RuntimeError(f"{where}: declares {field_name} row {name!r} "
                                       f"({_const_name(name, prefix)}) that its kernel never uses")
    for field_name, rows, slots in (("record_state", spec.state, None), ("final_scalars", spec.scalars, None)):
        wanted = tuple(getattr(spec, field_name))
        for name in wanted:
            if name not in rows:
                raise RuntimeError(f"{where}: {field_name} names {name!r}, which is not a declared row "
                                   f"({', '.join(rows) or 'none'})")
        idx = [rows.index(n) for n in wanted]
        if idx and idx != list(range(idx[0], idx[0] + len(idx))):
            raise RuntimeError(f"{where}: {field_name} rows {', '.join(wanted)} must be consecutive")


#: bump when _rows_used's rules change: the remembered scans of an older rule are not read
_ROWS_SCAN_VERSION = 1


def _rows_used_memo(mod, where: str) -> set:
    """:func:`_rows_used`, remembered per module source in the user cache (``layout/``): the scan
    parses every optimizer module, 0.17 s of each process that loads the optimizers (a CLI call's
    warm start is about a second), while the sources change only with optlab. A scan that raises
    is not remembered; an unreadable or unwritable cache is only slower."""
    import hashlib
    import json

    from ..engine.codegen import _write_atomic, user_cache_root
    try:
        src = inspect.getsource(mod)
    except (OSError, TypeError):  # pragma: no cover - a module without source
        return set()
    digest = hashlib.sha256(f"{_ROWS_SCAN_VERSION}\n{src}".encode()).hexdigest()[:20]
    path = user_cache_root() / "layout" / f"{mod.__name__}-{digest}.json"
    try:
        got = json.loads(path.read_text())
        if isinstance(got, list) and all(isinstance(k, str) for k in got):
            return set(got)
    except (OSError, ValueError):
        pass
    used = _rows_used(src, where)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(sorted(used)), replace=True)
    except OSError:
        pass
    return used


def _rows_used(src: str, where: str) -> set:
    """Row constants the functions of module source ``src`` index ``st``/``sc``/``hp`` with; bare
    numbers raise."""
    tree = ast.parse(textwrap.dedent(src))
    prefixes = {array: prefix for array, prefix, _ in _ROWS}
    used = set()

    def row_index(array, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            raise RuntimeError(f"{where}: line {node.lineno} indexes {array}[{node.value}, ...] by number; "
                               f"use the row's name ({prefixes[array]}<NAME>)")
        if isinstance(node, ast.Name) and node.id.isupper() and node.id[:2] in ("S_", "K_", "H_"):
            if not node.id.startswith(prefixes[array]):
                raise RuntimeError(f"{where}: line {node.lineno} indexes {array} with {node.id}, "
                                   f"a row of another array")
            used.add(node.id)

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in prefixes:
            first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            row_index(node.value.id, first)
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) \
                and node.args[0].id in prefixes:  # helpers taking (array, row, ...), e.g. uniform(hp, H_LR, n)
            row_index(node.args[0].id, node.args[1])
    return used


def _short_repr(value, limit: int = 80) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
