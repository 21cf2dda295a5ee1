"""ReduceLROnPlateau: its options per row for the engine, and torch's ``step(metrics)`` in plain Python.

The lr of a plateau schedule depends on the losses of the run, so it cannot be
a table: the engine runs the state machine in its kernel, and
:func:`plateau_reference` is the reference that kernel is tested against.
"""
from __future__ import annotations

import math

from ..errors import OptlabError
from . import _spec

NAME = "ReduceLROnPlateau"


def options(given: dict) -> dict:
    """``given`` (torch's keyword names) with torch's defaults filled and checked, one setting."""
    node = _spec.parse({"name": NAME, **given}, 1)
    values = {}
    for k, v in node.values.items():
        if isinstance(v, _spec.PerTrajectory):
            raise OptlabError(f"{NAME}: {k} is one number here, got {list(v)!r}")
        values[k] = v
    _spec.check(NAME, values, None)
    return values


def plateau_reference(lr0, losses, **opts) -> list:
    """The lr in effect at each step of a run under ``ReduceLROnPlateau(**opts)``, as torch 2.13 computes it.

    ``result[0]`` is ``lr0`` and ``result[k]`` the lr after ``k`` calls of
    ``scheduler.step(losses[k-1])`` (length ``len(losses) + 1``). Every line is
    torch's ``ReduceLROnPlateau.step`` / ``_reduce_lr`` / ``_is_better`` for one
    param group, on Python floats (NaN losses are never better: they count as
    bad epochs).
    """
    o = options(opts)
    mode, threshold, threshold_mode = o["mode"], o["threshold"], o["threshold_mode"]
    factor, patience, cooldown, min_lr, eps = o["factor"], o["patience"], o["cooldown"], o["min_lr"], o["eps"]

    def is_better(a, best):
        if mode == "min" and threshold_mode == "rel":
            rel_epsilon = 1.0 - threshold
            return a < best * rel_epsilon
        elif mode == "min" and threshold_mode == "abs":
            return a < best - threshold
        elif mode == "max" and threshold_mode == "rel":
            rel_epsilon = threshold + 1.0
            return a > best * rel_epsilon
        else:
            return a > best + threshold

    lr = lr0
    best = math.inf if mode == "min" else -math.inf
    cooldown_counter = 0
    num_bad_epochs = 0
    out = [lr]
    for metrics in losses:
        current = float(metrics)
        if is_better(current, best):
            best = current
            num_bad_epochs = 0
        else:
            num_bad_epochs += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            num_bad_epochs = 0
        if num_bad_epochs > patience:
            old_lr = float(lr)
            new_lr = max(old_lr * factor, min_lr)
            if old_lr - new_lr > eps:
                lr = new_lr
            cooldown_counter = cooldown
            num_bad_epochs = 0
        out.append(lr)
    return out
