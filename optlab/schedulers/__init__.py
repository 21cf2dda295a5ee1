"""torch.optim.lr_scheduler (torch 2.13) as tables over trajectories.

The engine runs many trajectories of an optimizer in one kernel; at step t it
reads each trajectory's lr (and, for CyclicLR / OneCycleLR with
``cycle_momentum``, its momentum or beta1) from a table computed here, up
front, in Python. :func:`plan` builds that table so that it holds, bit for bit,
what torch's standard loop puts in ``opt.param_groups[0]``::

    opt = Optim([p], lr=base_lr, ...); sched = Sched(opt, **options)
    for t in range(steps): loss = closure(); opt.step(); sched.step()

Row t of the table is the lr after construction (t = 0) and after t calls of
``sched.step()``: the lr of the optimizer's (t+1)-th step; row ``steps`` is the
lr after the last ``sched.step()``.

How: ``optlab/schedulers/_mirror.py`` is torch's scheduler code line for line,
with the one param group's values as arrays over *rows*: the distinct settings
(base lr, momentum where it matters, every per-trajectory option value).
Trajectories that share a setting share a row (``Plan.index``). torch's
recursive (chainable) formulas run step by step with torch's float rounding;
closed forms only where torch uses them (SequentialLR's switch at a milestone,
and the schedulers whose ``get_lr`` is one: CyclicLR, OneCycleLR,
CosineAnnealingWarmRestarts). Transcendentals (``cos``, ``**``) are Python's
``math`` and ``**`` on Python floats, as in torch, never numpy's.

ReduceLROnPlateau depends on the losses, so its table has one row (the start
lr) and ``Plan.plateau`` carries its options per row for the engine's in-kernel
state machine; :func:`plateau_reference` is torch's ``step(metrics)`` in plain
Python, the reference for that kernel.

Cost: one Python loop over the steps, numpy over the rows. 1,000 distinct rows
x 10,000 steps take 0.15-0.3 s when the rows differ in lr only, and 1.5-2 s when
a per-row option feeds a transcendental (a cos or ``**`` per row and step:
CosineAnnealingLR's T_max, OneCycleLR's total_steps, CyclicLR's exp_range gamma,
PolynomialLR's power).

This package imports numpy and ``optlab.errors`` only; torch is never needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OptlabError
from . import _mirror, _spec
from ._expr import REGISTERED
from ._plateau import plateau_reference
from ._spec import NAMES, PerTrajectory, canonical, defaults, required

__all__ = ["NAMES", "REGISTERED", "Plan", "canonical", "defaults", "plan", "plateau_reference", "required"]

MOMENTUM_NAMES = ("momentum", "betas")
CYCLING = ("CyclicLR", "OneCycleLR")


@dataclass
class Plan:
    """What the engine reads: trajectory i uses ``lr[t, index[i]]`` at step t (t = 0 .. steps)."""

    name: str                       # canonical name of the top scheduler
    options: dict                   # the checked options, defaults filled (children nested), for the Result
    lr: np.ndarray                  # float64 (steps + 1, R); ReduceLROnPlateau: (1, R), the start lr
    index: np.ndarray               # int64 (n,): the row of each trajectory
    momentum: np.ndarray | None     # float64 (steps + 1, R) when a scheduler sets momentum / beta1, else None
    plateau: dict | None            # ReduceLROnPlateau only: its options per row (see plan)

    @property
    def rows(self) -> int:
        return self.lr.shape[1]


def plan(spec: dict, lr, steps: int, *, momentum=None, momentum_name=None, n: int) -> Plan:
    """The lr (and momentum) table of scheduler ``spec`` for n trajectories over ``steps`` steps.

    ``spec``: ``{"name": "StepLR", "step_size": 30, "gamma": 0.5}`` with torch's
    option names; SequentialLR / ChainedScheduler take ``"schedulers": [spec, ...]``
    (and SequentialLR ``"milestones"``). A numeric option is one number or a
    sequence of n, one per trajectory; MultiStepLR's ``milestones`` may also be
    n lists. ``lr_lambda`` (and CyclicLR's ``scale_fn``) is a callable, a
    registered name (:data:`REGISTERED`, e.g. ``"linear_warmup:100"``) or an
    expression of ``epoch`` (``x``) such as ``"0.95 ** epoch"``.

    ``lr``: each trajectory's optimizer lr; ``momentum``: each trajectory's
    momentum or beta1 and ``momentum_name``: ``"momentum"`` or ``"betas"``
    (torch's ``use_beta1``), both None when the optimizer has neither.

    ReduceLROnPlateau: ``lr`` has one row (the start lr) and ``plateau`` is
    ``{"mode_max", "rel": bool (R,), "factor", "patience", "threshold",
    "cooldown", "min_lr", "eps": float64 (R,)}``.

    Errors are :class:`OptlabError` with torch's message where torch has one
    (``Expected positive integer T_0, but got -1``), raised before any table is
    returned, including the errors torch would raise mid-run (OneCycleLR
    stepped past ``total_steps``, a division by zero).
    """
    n = _count(n)
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise OptlabError(f"steps must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    lr = _vector("lr", lr, n)
    if momentum_name not in (None, *MOMENTUM_NAMES):
        raise OptlabError(f"momentum_name must be 'momentum', 'betas' or None, got {momentum_name!r}")
    if momentum is not None and momentum_name is None:
        raise OptlabError("momentum is given without momentum_name ('momentum' or 'betas')")
    mom = None if momentum is None else _vector("momentum", momentum, n)
    root = _spec.parse(spec, n)
    cycles = any(node.name in CYCLING and node.values["cycle_momentum"] is True for node in root.walk())

    columns = [lr.view(np.uint64)]
    if cycles and mom is not None:
        columns.append(mom.view(np.uint64))
    for node in root.walk():
        for v in node.values.values():
            if isinstance(v, PerTrajectory):
                columns.extend(_key_columns(v))
    first, index = _dedupe(columns, n)
    options = _spec.describe(root)

    if root.name == "ReduceLROnPlateau":
        values = _checked_rows(root, first, momentum_name)
        R = len(first)
        full = {k: np.broadcast_to(np.asarray(values[k], dtype=np.float64), (R,)).copy()
                for k in ("factor", "patience", "threshold", "cooldown", "min_lr", "eps")}
        plateau = {"mode_max": np.full(R, values["mode"] == "max"),
                   "rel": np.full(R, values["threshold_mode"] == "rel"), **full}
        return Plan(root.name, options, lr[first][None, :].copy(), index, None, plateau)

    group = {"lr": lr[first]}
    if momentum_name is not None:
        group["momentum"] = mom[first] if mom is not None else np.full(len(first), np.nan)
    at = [None]  # the step in progress, for the message (None: while torch would construct the scheduler)
    try:
        with np.errstate(all="ignore"):  # torch's floats overflow to inf silently; so do these
            table, moms = _run(root, group, first, momentum_name, steps, cycles, at)
    except OptlabError:
        raise
    except (ArithmeticError, ValueError, TypeError, NotImplementedError) as e:
        when = "while it is built" if at[0] is None else f"at its step {at[0]}"
        raise OptlabError(f"{root.name}: torch's scheduler raises {type(e).__name__} {when}: {e}") from None
    return Plan(root.name, options, table, index, moms, None)


def per_trajectory_options(spec: dict, n: int) -> dict:
    """The options of ``spec`` given one value per trajectory, for a run's tables:
    ``{"scheduler.<option>": [n values]}``, a child's as ``scheduler.schedulers.<k>.<option>``,
    MultiStepLR's milestones per trajectory as text (``"30, 80"``)."""
    out = {}

    def visit(node, prefix):
        for k, v in node.values.items():
            if isinstance(v, PerTrajectory):
                out[f"{prefix}.{k}"] = [", ".join(map(str, e)) if isinstance(e, tuple) else e for e in v]
        for i, child in enumerate(node.children):
            visit(child, f"{prefix}.schedulers.{i}")

    visit(_spec.parse(spec, _count(n)), "scheduler")
    return out


def _run(root, group, first, momentum_name, steps, cycles, at):
    """Build the scheduler tree on ``group`` and record ``group["lr"]`` (and the momentum) after
    construction and after each of ``steps`` steps."""
    top = _build(root, group, first, momentum_name)
    table = np.empty((steps + 1, len(first)))
    moms = np.empty((steps + 1, len(first))) if cycles else None
    table[0] = group["lr"]
    if cycles:
        moms[0] = group["momentum"]
    for t in range(1, steps + 1):
        at[0] = t
        top.step()
        table[t] = group["lr"]
        if cycles:
            moms[t] = group["momentum"]
    return table, moms


def _count(n):
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise OptlabError(f"n (the number of trajectories) must be an integer >= 1, got {n!r}")
    return int(n)


def _vector(what, v, n):
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptlabError(f"{what} must be numbers, one per trajectory ({n}), got {v!r}") from None
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise OptlabError(f"{what} must have one value per trajectory: shape ({n},), got {a.shape}")
    return np.ascontiguousarray(a)


def _key_columns(values):
    """A uint64 column that tells the trajectories' values of one option apart exactly (an id per distinct
    value: ints by value, floats by their bits, milestone lists by their items)."""
    if values.array is not None:  # a numeric array: ints by value, floats by their bits
        return [values.array.view(np.uint64)]
    if values and all(type(v) is float for v in values[:1]) and all(type(v) is float for v in values):
        return [np.asarray(values, dtype=np.float64).view(np.uint64)]  # floats: their bits (vectorised)
    if values and all(type(v) is int for v in values):
        try:
            arr = np.asarray(values, dtype=np.int64)
            return [arr.view(np.uint64)]  # ints by value
        except OverflowError:
            pass
    ids = {}
    keys = (v if isinstance(v, tuple) else _spec.ident(v) for v in values)
    return [np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.uint64)]


def _dedupe(columns, n):
    """(first trajectory of each distinct row, in order of first appearance; row of every trajectory)."""
    # one integer code per distinct row, a column at a time; a column with one value tells nothing
    # apart and costs no sort (np.unique over rows sorts structured records: 0.14 s for 100,000
    # trajectories, a third of a scheduled run)
    codes = None
    first = None
    for col in columns:
        col = np.asarray(col).reshape(-1)
        if n == 0 or (col == col[0]).all():
            continue
        u, idx, inv = _factorize(col)
        if codes is None:
            codes, first = inv, idx
            continue
        codes = codes * len(u) + inv
        _, first, codes = np.unique(codes, return_index=True, return_inverse=True)
        codes = codes.reshape(-1)
    if codes is None:
        return np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return first[order].astype(np.int64), rank[codes]


def _factorize(col):
    """np.unique(col, return_index=True, return_inverse=True) of a uint64 column; O(n) without a sort
    when the values span fewer than 4n integers (warm-up lengths, step sizes: a third of a
    100,000-trajectory run's preparation went to sorting them)."""
    n = col.shape[0]
    lo = col.min()
    span = int(col.max() - lo)
    if span >= 4 * n:
        u, idx, inv = np.unique(col, return_index=True, return_inverse=True)
        return u, idx, inv.reshape(-1)
    off = (col - lo).astype(np.int64)
    present = np.zeros(span + 1, dtype=bool)
    present[off] = True
    ids = np.cumsum(present) - 1
    first = np.full(span + 1, n, dtype=np.int64)
    np.minimum.at(first, off, np.arange(n))  # each value's first trajectory
    values = np.flatnonzero(present)
    return values.astype(np.uint64) + lo, first[values], ids[off]


def _checked_rows(node, first, momentum_name):
    """torch's checks on every distinct setting of ``node``; its values per row (Python numbers where one
    value serves every row, arrays where rows differ)."""
    per = [k for k, v in node.values.items() if isinstance(v, PerTrajectory)]
    base = {k: v for k, v in node.values.items() if k not in per}
    if "schedulers" in base:
        base["schedulers"] = node.children
    if not per:
        _spec.check(node.name, base, momentum_name)
        return base
    seen = set()
    for i in first:
        key = tuple(_spec.ident(node.values[k][i]) for k in per)
        if key not in seen:
            seen.add(key)
            _spec.check(node.name, {**base, **{k: node.values[k][i] for k in per}}, momentum_name)
    out = dict(base)
    for k in per:
        out[k] = _row_values(node.values[k], first)
    return out


def _row_values(values, first):
    """One value per row: the Python value itself when every row has the same, else an array
    (int64 when every value is an int)."""
    vals = [values[i] for i in first]
    if isinstance(vals[0], tuple):
        return vals
    key = _spec.ident(vals[0])
    if all(_spec.ident(v) == key for v in vals):
        return vals[0]
    if all(isinstance(v, int) for v in vals):
        try:
            return np.array(vals, dtype=np.int64)
        except OverflowError:
            pass
    return np.array(vals, dtype=np.float64)


def _build(node, group, first, momentum_name):
    """The mirror of ``node`` on ``group``, built as torch builds it: children first, each checked and then
    constructed (which takes its first step), then the node."""
    kids = [_build(c, group, first, momentum_name) if c.name != "ReduceLROnPlateau"
            else _checked_rows(c, first, momentum_name) for c in node.children]
    v = _checked_rows(node, first, momentum_name)
    f = node.functions
    M = _mirror
    name = node.name
    if name in ("LambdaLR", "MultiplicativeLR"):
        return M.CLASSES[name](group, f["lr_lambda"])
    if name == "StepLR":
        return M.StepLR(group, v["step_size"], v["gamma"])
    if name == "MultiStepLR":
        ms = v["milestones"]
        if isinstance(ms, list) and ms and isinstance(ms[0], tuple):  # per row
            if all(m == ms[0] for m in ms):
                return M.MultiStepLR(group, list(ms[0]), v["gamma"])
            counters = [_counter(m) for m in ms]
            keys = {k for c in counters for k in c}
            counts = {k: np.array([c.get(k, 0) for c in counters], dtype=np.int64) for k in keys}
            return M.MultiStepLR(group, None, v["gamma"], per_row=(counts, [sorted(m) for m in ms]))
        return M.MultiStepLR(group, ms, v["gamma"])
    if name == "ConstantLR":
        return M.ConstantLR(group, v["factor"], v["total_iters"])
    if name == "LinearLR":
        return M.LinearLR(group, v["start_factor"], v["end_factor"], v["total_iters"])
    if name == "ExponentialLR":
        return M.ExponentialLR(group, v["gamma"])
    if name == "PolynomialLR":
        return M.PolynomialLR(group, v["total_iters"], v["power"])
    if name == "CosineAnnealingLR":
        return M.CosineAnnealingLR(group, v["T_max"], v["eta_min"])
    if name == "CosineAnnealingWarmRestarts":
        return M.CosineAnnealingWarmRestarts(group, v["T_0"], v["T_mult"], v["eta_min"])
    if name == "CyclicLR":
        return M.CyclicLR(group, v["base_lr"], v["max_lr"], v["step_size_up"], v["step_size_down"], v["mode"],
                          v["gamma"], f.get("scale_fn"), v["scale_mode"], v["cycle_momentum"], v["base_momentum"],
                          v["max_momentum"])
    if name == "OneCycleLR":
        total = v["total_steps"] if v["total_steps"] is not None else v["epochs"] * v["steps_per_epoch"]
        return M.OneCycleLR(group, v["max_lr"], total, v["pct_start"], v["anneal_strategy"], v["cycle_momentum"],
                            v["base_momentum"], v["max_momentum"], v["div_factor"], v["final_div_factor"],
                            v["three_phase"])
    if name == "SequentialLR":
        return M.SequentialLR(group, kids, list(v["milestones"]))
    if name == "ChainedScheduler":
        return M.ChainedScheduler(group, kids)
    raise AssertionError(name)  # pragma: no cover - every name is handled above


def _counter(milestones):
    out = {}
    for m in milestones:
        out[m] = out.get(m, 0) + 1
    return out
