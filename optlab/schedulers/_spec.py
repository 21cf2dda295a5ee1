"""The schedulers' names and options (torch 2.13's signatures) and torch's checks of their values.

A spec is a dict ``{"name": ..., option: value, ...}``. :func:`parse` turns it
into a :class:`Node` tree (children for SequentialLR / ChainedScheduler) whose
numeric options are each one Python number for every trajectory or a
:class:`PerTrajectory` list of n; :func:`check` runs torch's constructor checks,
in torch's order and with torch's messages, on the values of one setting.
"""
from __future__ import annotations

import difflib
import math
import numbers
import struct
from dataclasses import dataclass, field

import numpy as np

from ..errors import OptlabError
from . import _expr


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()  # an option torch's signature has no default for

# class name -> (snake_case name, ((option, default), ...)) in torch's signature order; ``optimizer`` and
# ``last_epoch`` are not options (a run starts at step 0). tests/test_schedulers.py checks these against torch.
SIGNATURES = {
    "LambdaLR": ("lambda_lr", (("lr_lambda", REQUIRED),)),
    "MultiplicativeLR": ("multiplicative_lr", (("lr_lambda", REQUIRED),)),
    "StepLR": ("step_lr", (("step_size", REQUIRED), ("gamma", 0.1))),
    "MultiStepLR": ("multi_step_lr", (("milestones", REQUIRED), ("gamma", 0.1))),
    "ConstantLR": ("constant_lr", (("factor", 1.0 / 3), ("total_iters", 5))),
    "LinearLR": ("linear_lr", (("start_factor", 1.0 / 3), ("end_factor", 1.0), ("total_iters", 5))),
    "ExponentialLR": ("exponential_lr", (("gamma", REQUIRED),)),
    "SequentialLR": ("sequential_lr", (("schedulers", REQUIRED), ("milestones", REQUIRED))),
    "PolynomialLR": ("polynomial_lr", (("total_iters", 5), ("power", 1.0))),
    "CosineAnnealingLR": ("cosine_annealing_lr", (("T_max", REQUIRED), ("eta_min", 0.0))),
    "ChainedScheduler": ("chained_scheduler", (("schedulers", REQUIRED),)),
    "ReduceLROnPlateau": ("reduce_lr_on_plateau", (
        ("mode", "min"), ("factor", 0.1), ("patience", 10), ("threshold", 1e-4), ("threshold_mode", "rel"),
        ("cooldown", 0), ("min_lr", 0), ("eps", 1e-8))),
    "CyclicLR": ("cyclic_lr", (
        ("base_lr", REQUIRED), ("max_lr", REQUIRED), ("step_size_up", 2000), ("step_size_down", None),
        ("mode", "triangular"), ("gamma", 1.0), ("scale_fn", None), ("scale_mode", "cycle"),
        ("cycle_momentum", True), ("base_momentum", 0.8), ("max_momentum", 0.9))),
    "CosineAnnealingWarmRestarts": ("cosine_annealing_warm_restarts", (
        ("T_0", REQUIRED), ("T_mult", 1), ("eta_min", 0.0))),
    "OneCycleLR": ("one_cycle_lr", (
        ("max_lr", REQUIRED), ("total_steps", None), ("epochs", None), ("steps_per_epoch", None),
        ("pct_start", 0.3), ("anneal_strategy", "cos"), ("cycle_momentum", True), ("base_momentum", 0.85),
        ("max_momentum", 0.95), ("div_factor", 25.0), ("final_div_factor", 1e4), ("three_phase", False))),
}
NAMES = tuple(SIGNATURES)
NO_LAST_EPOCH = ("ChainedScheduler", "ReduceLROnPlateau")  # the two without a last_epoch parameter

TEXT = {"mode", "threshold_mode", "scale_mode", "anneal_strategy"}
FLAGS = {"cycle_momentum", "three_phase"}
FUNCTIONS = {"lr_lambda": "epoch", "scale_fn": "x"}  # option -> the variable of its expression
LISTS = {"milestones"}
CHILDREN = {"schedulers"}
# everything else is a number: one for all trajectories, or a sequence of n (one per trajectory)


def canonical(name) -> str:
    """The torch class name for ``name``: the class name or its snake_case, any case
    (``StepLR``, ``step_lr``, ``steplr``)."""
    if isinstance(name, str):
        key = name.strip().lower()
        for cls, (snake, _) in SIGNATURES.items():
            if key in (cls.lower(), snake):
                return cls
    keys = {k: cls for cls, (snake, _) in SIGNATURES.items() for k in (cls, snake)}
    close = difflib.get_close_matches(str(name), list(keys), n=1, cutoff=0.5)
    hint = f"; did you mean '{keys[close[0]]}'?" if close else "."
    raise OptlabError(f"Unknown scheduler {str(name)!r}{hint} Available (or in snake_case): {', '.join(NAMES)}")


def defaults(name) -> dict:
    """torch's default of every option that has one (``required`` lists the others), in signature order."""
    return {k: v for k, v in SIGNATURES[canonical(name)][1] if v is not REQUIRED}


def required(name) -> tuple:
    """The options torch's signature gives no default (``step_size`` of StepLR, ...)."""
    return tuple(k for k, v in SIGNATURES[canonical(name)][1] if v is REQUIRED)


class PerTrajectory(list):
    """An option's n values, one per trajectory (Python numbers, or tuples for MultiStepLR milestones).

    ``array``: the same values as an int64 or float64 array when they came as a numeric
    numpy array (what tells 100,000 trajectories' values apart without a Python loop), else None."""

    array = None


@dataclass
class Node:
    name: str
    values: dict                         # option -> Python value or PerTrajectory (defaults filled)
    given: dict                          # option -> what the spec said (for Plan.options)
    children: list = field(default_factory=list)
    functions: dict = field(default_factory=dict)   # option -> checked callable (lr_lambda, scale_fn)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


def _py_number(v):
    """A real number as a plain Python int or float; None for anything else (bool included)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        return None
    if isinstance(v, numbers.Integral):
        return int(v)
    return float(v)


def ident(v):
    """A key that tells two option values apart exactly: ints by value, floats by their bits."""
    if isinstance(v, int):
        return ("i", v)
    if isinstance(v, float):
        return ("f", struct.unpack("<Q", struct.pack("<d", v))[0])
    return ("o", v)


def _missing(name, missing):
    quoted = [f"'{m}'" for m in missing]
    listed = quoted[0] if len(quoted) == 1 else (
        " and ".join(quoted) if len(quoted) == 2 else ", ".join(quoted[:-1]) + ", and " + quoted[-1])
    s = "" if len(missing) == 1 else "s"
    return OptlabError(f"{name}.__init__() missing {len(missing)} required positional argument{s}: {listed}")


def parse(spec, n: int, where: str = "scheduler") -> Node:
    """The checked :class:`Node` tree of ``spec`` for n trajectories (types and shapes; torch's value
    checks come later, from :func:`check`)."""
    if not isinstance(spec, dict):
        raise OptlabError(f"{where} must be a dict with 'name' and the scheduler's options, got {spec!r}")
    if "name" not in spec:
        raise OptlabError(f"{where} {spec!r} has no 'name'; one of: {', '.join(NAMES)}")
    name = canonical(spec["name"])
    signature = dict(SIGNATURES[name][1])
    values, given, functions, children = {}, {}, {}, []
    for opt, v in spec.items():
        if opt == "name":
            continue
        if opt == "last_epoch" and name not in NO_LAST_EPOCH:
            if _py_number(v) != -1:
                raise OptlabError(f"{name}: last_epoch={v!r} is not allowed: runs start at step 0 "
                                  "(last_epoch=-1, the default)")
            continue
        if opt not in signature:
            extra = " (the run's optimizer is the scheduler's)" if opt == "optimizer" else ""
            raise OptlabError(f"{name} has no option {opt!r}{extra}; allowed: {', '.join(signature)}")
        given[opt] = v
        if opt in CHILDREN:
            if not isinstance(v, (list, tuple)):
                raise OptlabError(f"{name}: schedulers must be a list of scheduler dicts, got {v!r}")
            children = [parse(c, n, f"{name} schedulers[{i}]") for i, c in enumerate(v)]
            values[opt] = children
        elif opt in FUNCTIONS:
            values[opt] = _function(name, opt, v)
            if v is not None:
                functions[opt] = _checked(values[opt], name, opt)
        elif opt in LISTS:
            values[opt] = _milestones(name, v, n)
        elif opt in TEXT:
            if isinstance(v, (list, tuple, np.ndarray)):
                raise OptlabError(f"{name}: {opt} is one value for all trajectories, got {v!r}")
            values[opt] = v
        elif opt in FLAGS:
            if not isinstance(v, (bool, np.bool_)):
                raise OptlabError(f"{name}: {opt} must be true or false, got {v!r}")
            values[opt] = bool(v)
        else:
            values[opt] = _numeric(name, opt, v, n, nullable=signature[opt] is None)
    missing = [k for k, d in signature.items() if d is REQUIRED and k not in values]
    if missing:
        raise _missing(name, missing)
    for k, d in signature.items():
        values.setdefault(k, d)
    return Node(name, values, given, children, functions)


def _numeric(name, opt, v, n, nullable):
    out = _numeric_value(name, opt, v, n, nullable)
    items = [] if out is None else (out if isinstance(out, PerTrajectory) else [out])
    for x in items:
        if isinstance(x, float) and not math.isfinite(x):  # torch takes it; the lr would be NaN or inf
            raise OptlabError(f"{name}: {opt}={x} is not allowed (must be a finite number)")
    return out


def _numeric_value(name, opt, v, n, nullable):
    if v is None and nullable:
        return None
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if isinstance(v, (list, tuple, np.ndarray)):
        items = v.tolist() if isinstance(v, np.ndarray) else list(v)
        if len(items) != n:
            raise OptlabError(f"{name}: {opt} has {len(items)} values; give one number, or one per trajectory ({n})")
        if isinstance(v, np.ndarray) and v.dtype.kind in "iuf":  # tolist() gave Python ints or floats already
            out = PerTrajectory(items)
            if v.dtype.kind == "f" or (v.dtype.kind == "i" or v.max(initial=0) < 2 ** 63):
                out.array = np.ascontiguousarray(v, dtype=np.float64 if v.dtype.kind == "f" else np.int64)
            return out
        out = PerTrajectory()
        for x in items:
            p = _py_number(x)
            if p is None:
                raise OptlabError(f"{name}: every per-trajectory value of {opt} must be a number, got {x!r}")
            out.append(p)
        return out
    p = _py_number(v)
    if p is None:
        allowed = "a number or null" if nullable else "a number"
        raise OptlabError(f"{name}: {opt} must be {allowed} (or one per trajectory), got {v!r}")
    return p


def _milestones(name, v, n):
    """One list of numbers for every trajectory; MultiStepLR also takes n lists (one per trajectory)."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        raise OptlabError(f"{name}: milestones must be a list of step numbers, got {v!r}")
    if v and all(isinstance(m, (list, tuple, np.ndarray)) for m in v):
        if name != "MultiStepLR":
            raise OptlabError(f"{name}: milestones are one list for all trajectories (the child that runs at a "
                              "step must be the same for every trajectory)")
        if len(v) != n:
            raise OptlabError(f"{name}: per-trajectory milestones have {len(v)} lists; give one list, or one per "
                              f"trajectory ({n})")
        return PerTrajectory(tuple(_milestone_list(name, m)) for m in v)
    return list(_milestone_list(name, v))


def _milestone_list(name, v):
    out = []
    for m in (v.tolist() if isinstance(v, np.ndarray) else v):
        p = _py_number(m)
        if p is None or (isinstance(p, float) and not math.isfinite(p)):  # NaN, inf: a milestone never reached
            raise OptlabError(f"{name}: milestones must be step numbers, got {m!r}")
        out.append(p)
    return out


def _function(name, opt, v):
    if opt == "scale_fn" and v is None:
        return None
    if isinstance(v, (list, tuple)):
        raise OptlabError(f"{name}: {opt} is one function for all trajectories")
    if not callable(v) and not isinstance(v, str):
        raise OptlabError(f"{opt} should be a function, but got {type(v).__name__}")
    return _expr.function(v, FUNCTIONS[opt], opt)


def _checked(fn, name, opt):
    """``fn`` whose every value is checked to be a number (torch multiplies the lr by it)."""
    var = FUNCTIONS[opt]

    def call(x):
        return _expr.number(fn(x), f"{name} {opt}", var, x)
    return call


def describe(node: Node) -> dict:
    """The checked options of a node (defaults filled, nested children), for a run's record."""
    out = {}
    for k, v in node.values.items():
        if k in CHILDREN:
            out[k] = [{"name": c.name, **describe(c)} for c in node.children]
        elif k in FUNCTIONS and v is not None:
            out[k] = repr(v) if isinstance(v, _expr.Expression) else \
                f"callable:{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', type(v).__name__)}"
        elif isinstance(v, PerTrajectory):
            out[k] = list(v) if v.array is not None else [list(x) if isinstance(x, tuple) else x for x in v]
        else:
            out[k] = v
    return out


# ----------------------------------------------------------------------------- torch's checks

MOMENTUM_ERROR = "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"


def check(name: str, v: dict, momentum_name) -> None:
    """torch 2.13's constructor checks of one setting ``v`` (option -> Python value), in torch's order."""
    if name == "ConstantLR":
        if v["factor"] > 1.0 or v["factor"] < 0:
            raise OptlabError("Constant multiplicative factor expected to be between 0 and 1.")
    elif name == "LinearLR":
        if v["start_factor"] > 1.0 or v["start_factor"] <= 0:
            raise OptlabError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if v["end_factor"] > 1.0 or v["end_factor"] < 0:
            raise OptlabError("Ending multiplicative factor expected to be between 0 and 1.")
    elif name == "CosineAnnealingWarmRestarts":
        T_0, T_mult, eta_min = v["T_0"], v["T_mult"], v["eta_min"]
        if T_0 <= 0 or not isinstance(T_0, int):
            raise OptlabError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise OptlabError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise OptlabError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
    elif name == "CyclicLR":
        if v["mode"] not in ["triangular", "triangular2", "exp_range"] and v["scale_fn"] is None:
            raise OptlabError("mode is invalid and scale_fn is None")
        if v["cycle_momentum"] and momentum_name is None:
            raise OptlabError(MOMENTUM_ERROR)
    elif name == "OneCycleLR":
        total_steps, epochs, spe = v["total_steps"], v["epochs"], v["steps_per_epoch"]
        if total_steps is not None:
            if total_steps <= 0 or not isinstance(total_steps, int):
                raise OptlabError(f"Expected positive integer total_steps, but got {total_steps}")
        elif epochs is not None and spe is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise OptlabError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(spe, int) or spe <= 0:
                raise OptlabError(f"Expected positive integer steps_per_epoch, but got {spe}")
        else:
            raise OptlabError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        pct = v["pct_start"]
        if pct < 0 or pct > 1 or not isinstance(pct, float):
            raise OptlabError(f"Expected float between 0 and 1 pct_start, but got {pct}")
        if v["anneal_strategy"] not in ["cos", "linear"]:
            raise OptlabError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {v['anneal_strategy']}")
        if v["cycle_momentum"] and momentum_name is None:
            raise OptlabError(MOMENTUM_ERROR)
    elif name == "ReduceLROnPlateau":
        if v["factor"] >= 1.0:
            raise OptlabError("Factor should be < 1.0.")
        if v["mode"] not in {"min", "max"}:
            raise OptlabError(f"mode {v['mode']} is unknown!")
        if v["threshold_mode"] not in {"rel", "abs"}:
            raise OptlabError(f"threshold mode {v['threshold_mode']} is unknown!")
    elif name in ("SequentialLR", "ChainedScheduler"):
        children = v["schedulers"]
        if len(children) < 1:
            what = "to be chained" if name == "ChainedScheduler" else ""
            raise OptlabError(f"{name} expects at least one scheduler{' ' + what if what else ''}, "
                              "but got no scheduler.")
        for i, c in enumerate(children):
            if c.name == "ReduceLROnPlateau":
                raise OptlabError(f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                                  "kwargs to be specified when calling `step`, but got one at index "
                                  f"{i} in the given schedulers sequence.")
        if name == "SequentialLR" and len(v["milestones"]) != len(children) - 1:
            raise OptlabError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                              f"number of milestone points, but got number of schedulers {len(children)} and the "
                              f"number of milestones to be equal to {len(v['milestones'])}")
