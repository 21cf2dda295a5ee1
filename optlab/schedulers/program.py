"""Schedules as a program of per-step operations on each trajectory's lr (no lr table).

A table (:func:`optlab.schedulers.plan`) holds one row per distinct setting,
the trajectory's base lr included: an lr sweep of 100,000 trajectories with a
cosine schedule is a table of 100,000 rows x steps, built in Python before the
kernel runs -- several times the run itself (``--section schedules``). But the
chainable schedulers update ``group["lr"]`` by an operation whose coefficients
depend on the step and the scheduler's options only, never on the lr:

=========  =====================================  ======================================
op         update (torch's order of operations)   schedulers
=========  =====================================  ======================================
``MUL``    ``lr * a``                             StepLR, MultiStepLR, ExponentialLR,
                                                  ConstantLR, LinearLR, PolynomialLR,
                                                  MultiplicativeLR (``a = 1``: unchanged)
``AFF``    ``a * (lr - e) + e``                   CosineAnnealingLR (recursive form)
``COS2``   ``lr + (base - e) * a / 2``            CosineAnnealingLR at a period's end
``BASE``   ``base * a``                           LambdaLR
``WARM``   ``e + (base - e) * a / 2``             CosineAnnealingWarmRestarts
=========  =====================================  ======================================

(``base`` is the trajectory's initial lr, torch's ``base_lrs``.) So
:func:`program` returns, for these ten schedulers, a table ``(steps + 1, R, 3)``
of ``(op, a, e)`` over the R distinct *option* settings (one when no option is
per trajectory, whatever the lrs), and the engine's kernel applies step t's
operation to every trajectory's lr before its step (``driver.schedule_step``).
The coefficients are torch's subexpressions computed as torch computes them
(Python floats, ``math.cos``), and each operation is the rest of torch's
expression in its order, so the lrs are torch's bits: the tests check every
program against :func:`plan`'s tables, which are checked against torch.

SequentialLR, ChainedScheduler (a step may apply several operations),
CyclicLR and OneCycleLR (closed forms of their own options, which
deduplicate well as tables) and ReduceLROnPlateau keep their tables.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _spec
from ._spec import PerTrajectory

MUL, AFF, COS2, BASE, WARM = 1.0, 2.0, 3.0, 4.0, 5.0

SUPPORTED = ("StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR", "LinearLR", "PolynomialLR",
             "CosineAnnealingLR", "LambdaLR", "MultiplicativeLR", "CosineAnnealingWarmRestarts")


def applies(spec) -> bool:
    """True when ``spec`` runs as a program (the engine's choice, and what its kernel plans
    name): one of the SUPPORTED schedulers, in a run of any dtype (the lr is a float64
    hyperparameter in float32 runs too, torch's Python float)."""
    from . import canonical
    name = spec.get("name") if isinstance(spec, dict) else None
    return isinstance(name, str) and canonical(name) in SUPPORTED


@dataclass
class Program:
    """Trajectory i applies ``ops[t, index[i]]`` = (op, a, e) to its lr at step t (t = 0: the
    construction's step, from its base lr)."""

    ops: np.ndarray      # float64 (steps + 1, R, 4): op, a, e, and a flag per step: 1.0 where every row
    #                      has step t's op, 2.0 where every row multiplies by 1 (the step changes no lr)
    index: np.ndarray    # int64 (n,)


def program(spec: dict, steps: int, n: int) -> Program | None:
    """The program of ``spec`` (already checked by :func:`optlab.schedulers.plan`), or None when
    the scheduler keeps its table (module docstring)."""
    root = _spec.parse(spec, n)
    if root.name not in SUPPORTED or root.children:
        return None
    from . import _checked_rows, _dedupe, _key_columns
    columns = [np.zeros(n, dtype=np.uint64)]
    for v in root.values.values():
        if isinstance(v, PerTrajectory):
            columns.extend(_key_columns(v))
    first, index = _dedupe(columns, n)
    values = _checked_rows(root, first, None)
    rows = len(first)
    ops = np.empty((steps + 1, rows, 4))
    fn = root.functions.get("lr_lambda")
    lam = None
    if fn is not None:  # one callable for every trajectory: once per step
        lam = [fn(t) for t in range(steps + 1)]
    for r in range(rows):
        v = {k: (val[r] if isinstance(val, (np.ndarray, list)) and k != "milestones" else val)
             for k, val in values.items()}
        if root.name == "MultiStepLR" and isinstance(v["milestones"], list) and v["milestones"] \
                and isinstance(v["milestones"][0], tuple):
            v["milestones"] = v["milestones"][r]
        v = {k: (x.item() if isinstance(x, np.generic) else x) for k, x in v.items()}
        _fill(root.name, v, lam, ops[:, r, :3], steps)
    same = (ops[:, :, 0] == ops[:, :1, 0]).all(axis=1)
    identity = same & (ops[:, 0, 0] == MUL) & (ops[:, :, 1] == 1.0).all(axis=1)
    ops[:, :, 3] = np.where(identity, 2.0, same.astype(np.float64))[:, None]
    return Program(ops=ops, index=index)


def _fill(name, v, lam, out, steps):
    """Row ``out`` (steps + 1, 3: op, a, e) of one option setting: torch's get_lr, step by step
    (torch/optim/lr_scheduler.py, torch 2.13); ``t`` is torch's ``last_epoch``."""
    out[:, 0] = MUL
    out[:, 1] = 1.0
    out[:, 2] = 0.0
    if name == "StepLR":
        for t in range(1, steps + 1):
            if t % v["step_size"] == 0:
                out[t, 1] = v["gamma"]
    elif name == "MultiStepLR":
        counts = {}
        for m in v["milestones"]:
            counts[m] = counts.get(m, 0) + 1
        for t in range(steps + 1):  # a milestone at 0 applies at construction (torch's last_epoch 0)
            if t in counts:
                out[t, 1] = v["gamma"] ** counts[t]
    elif name == "ExponentialLR":
        out[1:, 1] = v["gamma"]
    elif name == "ConstantLR":
        out[0, 1] = v["factor"]
        if 0 < v["total_iters"] <= steps:
            out[v["total_iters"], 1] = 1.0 / v["factor"]
    elif name == "LinearLR":
        s, e, total = v["start_factor"], v["end_factor"], v["total_iters"]
        out[0, 1] = s
        for t in range(1, min(steps, total) + 1):
            out[t, 1] = 1.0 + (e - s) / (total * s + (t - 1) * (e - s))
    elif name == "PolynomialLR":
        total, power = v["total_iters"], v["power"]
        for t in range(1, min(steps, total) + 1):
            out[t, 1] = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** power
    elif name == "MultiplicativeLR":
        for t in range(1, steps + 1):
            out[t, 1] = lam[t]
    elif name == "LambdaLR":
        out[:, 0] = BASE
        for t in range(steps + 1):
            out[t, 1] = lam[t]
    elif name == "CosineAnnealingLR":
        T, e = v["T_max"], v["eta_min"]
        out[:, 2] = e
        for t in range(1, steps + 1):
            if (t - 1 - T) % (2 * T) == 0:
                out[t, 0] = COS2
                out[t, 1] = 1 - math.cos(math.pi / T)
            else:
                out[t, 0] = AFF
                out[t, 1] = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
    elif name == "CosineAnnealingWarmRestarts":
        t0, mult, e = v["T_0"], v["T_mult"], v["eta_min"]
        out[:, 0] = WARM
        out[:, 2] = e
        t_i, t_cur = t0, 0
        out[0, 1] = 1 + math.cos(math.pi * t_cur / t_i)
        for t in range(1, steps + 1):
            t_cur = t_cur + 1
            if t_cur >= t_i:
                t_cur = t_cur % t_i
                t_i = t_i * mult
            out[t, 1] = 1 + math.cos(math.pi * t_cur / t_i)
    else:  # pragma: no cover - SUPPORTED lists the names above
        raise AssertionError(name)


def apply(ops, lr, base):
    """The program's lrs in plain numpy, rows of ``ops`` over trajectories: (steps + 1, n) from
    ``ops`` (steps + 1, n, 3) and the base lrs (n,). The kernel computes the same, per step."""
    out = np.empty(ops.shape[:2])
    cur = np.asarray(base, dtype=np.float64).copy()
    for t in range(ops.shape[0]):
        op, a, e = ops[t, :, 0], ops[t, :, 1], ops[t, :, 2]
        cur = np.where(op == MUL, cur * a,
              np.where(op == AFF, a * (cur - e) + e,
              np.where(op == COS2, cur + (base - e) * a / 2,
              np.where(op == BASE, base * a, e + (base - e) * a / 2))))
        out[t] = cur
    return out
