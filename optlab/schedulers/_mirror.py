"""torch.optim.lr_scheduler (torch 2.13), line for line, over many rows at once.

Each class here is the torch class of the same name with its optimizer reduced to
ONE param group, ``group``: a dict of the keys torch's schedulers read and write
(``lr``, ``initial_lr``, ``momentum`` -- the SGD momentum or Adam's beta1 --,
``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum``). A value in it is a
Python number (the same for every row) or a float64 array with one entry per
row (one distinct setting: base lr and option values). Options are Python
numbers where one value serves every row and arrays where they differ per row.

Why it gives torch's bits:

- the control flow (``last_epoch``, ``_step_count``, ``_is_initial``, which
  child a SequentialLR steps) is torch's, and is the same for every row; where
  a condition depends on a per-row option, :func:`branch` computes each side
  for the rows that take it;
- ``+ - * /`` and ``%``/``//`` on float64 arrays round as Python's floats do
  (IEEE 754; numpy's remainder and floor division follow Python's signs), and
  every expression keeps torch's order of operations;
- every transcendental (``math.cos``, ``**``, ``math.floor`` of user functions)
  runs in Python on Python numbers, one row at a time where rows differ
  (:func:`apply`), because numpy's ``cos``/``power`` may differ from libm in
  the last bit;
- where Python raises (a division or modulo by zero, ``**`` overflowing), the
  same operation raises here for the rows that reach it, as torch would.

Errors with torch's text are raised as :class:`OptlabError`; arithmetic errors
propagate as Python's own exceptions and :func:`optlab.schedulers.plan` names
the step.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from itertools import repeat

import numpy as np

from ..errors import OptlabError


# ----------------------------------------------------------------------------- row-wise arithmetic

def _py(v):
    """A numpy scalar as the Python number it holds (so ``/``, ``%`` and ``**`` are Python's)."""
    return v.item() if isinstance(v, np.generic) else v


def _is_rows(v) -> bool:
    return isinstance(v, np.ndarray)


def apply(fn, *args, live=None):
    """``fn(*args)`` with Python numbers: once when no argument differs per row, else row by row.

    ``live``: the rows that reach this call (None: all); the others get NaN and are
    never evaluated, so an error a row would not meet in torch is not raised.
    """
    if not any(_is_rows(a) for a in args):
        return _real(fn(*[_py(a) for a in args]))
    n = next(a.shape[0] for a in args if _is_rows(a))
    if live is None:
        cols = [a.tolist() if _is_rows(a) else repeat(_py(a), n) for a in args]
        return _array(map(fn, *cols), n)
    idx = np.flatnonzero(live)
    cols = [a[idx].tolist() if _is_rows(a) else repeat(_py(a), len(idx)) for a in args]
    out = np.full(n, np.nan)
    out[idx] = _array(map(fn, *cols), len(idx))
    return out


def _real(v):
    if isinstance(v, complex):
        raise ValueError(f"a negative number to a fractional power: torch's value would be complex ({v})")
    return v


def _array(values, n):
    values = list(values)
    try:
        return np.fromiter(values, dtype=np.float64, count=n)
    except TypeError:
        for v in values:
            _real(v)
        raise


def _pow(a, b, live=None):
    return apply(pow, a, b, live=live)


def _cos(x, live=None):
    return apply(math.cos, x, live=live)


def _binary(a, b, live, ufunc, pyop):
    """``pyop(a, b)`` as Python computes it (scalars) or ``ufunc`` on rows, raising Python's
    ZeroDivisionError where a live row divides by zero."""
    if not (_is_rows(a) or _is_rows(b)):
        return pyop(_py(a), _py(b))
    zero = np.asarray(b) == 0
    if zero.ndim and live is not None:
        zero = zero & live
    if zero.any():
        i = int(np.flatnonzero(np.broadcast_to(zero, np.broadcast(a, b).shape))[0])
        pyop(_py(a[i]) if _is_rows(a) else _py(a), _py(b[i]) if _is_rows(b) else _py(b))  # raises Python's error
    with np.errstate(all="ignore"):
        return ufunc(a, b)


def div(a, b, live=None):
    """``a / b``."""
    return _binary(a, b, live, np.true_divide, lambda x, y: x / y)


def mod(a, b, live=None):
    """``a % b`` (the sign of ``b``, as Python)."""
    return _binary(a, b, live, np.remainder, lambda x, y: x % y)


def floordiv(a, b, live=None):
    """``a // b``."""
    return _binary(a, b, live, np.floor_divide, lambda x, y: x // y)


def pick(cond, a, b):
    """``a if cond else b`` per row, both sides already computed."""
    if _is_rows(cond):
        return np.where(cond, a, b)
    return a if cond else b


def branch(cond, yes, no):
    """``yes() if cond else no()`` per row; ``yes``/``no`` take the mask of the rows that take them
    (None: all rows), and a side no row takes is not computed."""
    if not _is_rows(cond):
        return yes(None) if cond else no(None)
    if cond.all():
        return yes(None)
    if not cond.any():
        return no(None)
    return np.where(cond, yes(cond), no(~cond))


def _and(a, b):
    return (a & b) if (_is_rows(a) or _is_rows(b)) else (a and b)


def _any(m) -> bool:
    return bool(m.any()) if _is_rows(m) else bool(m)


# ----------------------------------------------------------------------------- the classes

class LRScheduler:
    """``LRScheduler.__init__`` / ``_initial_step`` / ``step`` / ``_update_lr`` with ``last_epoch=-1``."""

    closed_form = None  # the subclasses with ``_get_closed_form_lr`` define it

    def __init__(self, group):
        self.group = group
        group.setdefault("initial_lr", group["lr"])
        self.base_lrs = group["initial_lr"]
        self.last_epoch = -1
        self._is_initial = False
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self):
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:  # only SequentialLR calls this with an epoch (0, at a milestone)
            self.last_epoch = epoch
            values = self.closed_form() if self.closed_form is not None else self.get_lr()
        self.group["lr"] = values

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__} has no get_lr: torch's LRScheduler.get_lr raises "
                                  "when a SequentialLR switches to it at a milestone")


class LambdaLR(LRScheduler):
    def __init__(self, group, lr_lambda):
        self.lr_lambda = lr_lambda
        super().__init__(group)

    def get_lr(self):
        return self.base_lrs * self.lr_lambda(self.last_epoch)


class MultiplicativeLR(LRScheduler):
    def __init__(self, group, lr_lambda):
        self.lr_lambda = lr_lambda
        super().__init__(group)

    def get_lr(self):
        if not self._is_initial:
            return self.group["lr"] * self.lr_lambda(self.last_epoch)
        return self.group["lr"]


class StepLR(LRScheduler):
    def __init__(self, group, step_size, gamma):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(group)

    def get_lr(self):
        lr, t = self.group["lr"], self.last_epoch
        if t == 0:
            return lr
        return branch(mod(t, self.step_size) != 0, lambda live: lr, lambda live: lr * self.gamma)

    def closed_form(self):
        return self.base_lrs * _pow(self.gamma, floordiv(self.last_epoch, self.step_size))


class MultiStepLR(LRScheduler):
    """``milestones``: one list for every row, or (per row) a dict milestone -> int array of counts."""

    def __init__(self, group, milestones, gamma, per_row=None):
        self.milestones = Counter(milestones) if per_row is None else None
        self.per_row = per_row  # (dict milestone -> counts (R,), list of sorted milestone lists per row)
        self.gamma = gamma
        super().__init__(group)

    def get_lr(self):
        lr, t = self.group["lr"], self.last_epoch
        if self.per_row is None:
            if t not in self.milestones:
                return lr
            return lr * _pow(self.gamma, self.milestones[t])
        counts = self.per_row[0].get(t)
        if counts is None:
            return lr
        return branch(counts > 0, lambda live: lr * _pow(self.gamma, counts, live), lambda live: lr)

    def closed_form(self):
        t = self.last_epoch
        if self.per_row is None:
            return self.base_lrs * _pow(self.gamma, bisect_right(sorted(self.milestones.elements()), t))
        k = np.array([bisect_right(m, t) for m in self.per_row[1]], dtype=np.int64)
        return self.base_lrs * _pow(self.gamma, k)


class ConstantLR(LRScheduler):
    def __init__(self, group, factor, total_iters):
        self.factor, self.total_iters = factor, total_iters
        super().__init__(group)

    def get_lr(self):
        lr, t = self.group["lr"], self.last_epoch
        if t == 0:
            return lr * self.factor
        return branch(t != self.total_iters, lambda live: lr, lambda live: lr * div(1.0, self.factor, live))

    def closed_form(self):
        return self.base_lrs * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))


class LinearLR(LRScheduler):
    def __init__(self, group, start_factor, end_factor, total_iters):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(group)

    def get_lr(self):
        lr, t = self.group["lr"], self.last_epoch
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        if t == 0:
            return lr * s
        if self._is_initial:
            return lr
        return branch(t > n, lambda live: lr,
                      lambda live: lr * (1.0 + div(e - s, n * s + (t - 1) * (e - s), live)))

    def closed_form(self):
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        return self.base_lrs * (s + div((e - s) * _min(n, t), n))


def _min(a, b):
    """Python's ``min(a, b)`` (the first when equal), per row."""
    if _is_rows(a) or _is_rows(b):
        return np.where(b < a, b, a)
    return min(a, b)


class ExponentialLR(LRScheduler):
    def __init__(self, group, gamma):
        self.gamma = gamma
        super().__init__(group)

    def get_lr(self):
        if self._is_initial:
            return self.group["lr"]
        return self.group["lr"] * self.gamma

    def closed_form(self):
        return self.base_lrs * _pow(self.gamma, self.last_epoch)


class PolynomialLR(LRScheduler):
    def __init__(self, group, total_iters, power):
        self.total_iters, self.power = total_iters, power
        super().__init__(group)

    def get_lr(self):
        lr, t, n = self.group["lr"], self.last_epoch, self.total_iters
        if self._is_initial:
            return lr

        def decay(live):
            ratio = div(1.0 - div(t, n, live), 1.0 - div(t - 1, n, live), live)
            return lr * _pow(ratio, self.power, live)
        return branch(t > n, lambda live: lr, decay)

    def closed_form(self):
        n = self.total_iters
        return self.base_lrs * _pow(1.0 - div(_min(n, self.last_epoch), n), self.power)


class CosineAnnealingLR(LRScheduler):
    def __init__(self, group, T_max, eta_min):
        self.T_max, self.eta_min = T_max, eta_min
        self._cos_memo = {}  # t -> cos(pi * t / T_max), every row: step t's denominator is step t-1's numerator
        super().__init__(group)

    def _cos_t(self, t, live):
        """``math.cos(math.pi * t / self.T_max)``; torch computes the same argument at steps t and t+1.

        Kept for every row when every row's argument is finite (then no row's cos can raise), so a row that
        restarts at step t still finds its step t-1 value computed."""
        c = self._cos_memo.get(t)
        if c is not None:
            return c
        arg = div(math.pi * t, self.T_max, live)
        if live is not None and not np.isfinite(arg).all():
            return _cos(arg, live)
        c = _cos(arg)
        self._cos_memo = {k: v for k, v in self._cos_memo.items() if k >= t - 1}
        self._cos_memo[t] = c
        return c

    def get_lr(self):
        lr, t, T, eta, base = self.group["lr"], self.last_epoch, self.T_max, self.eta_min, self.base_lrs
        if self._is_initial:
            return lr
        if self._step_count == 1 and t > 0:
            return eta + (base - eta) * (1 + _cos(div(t * math.pi, T))) / 2
        restart = mod(t - 1 - T, 2 * T) == 0
        return branch(
            restart,
            lambda live: lr + (base - eta) * (1 - _cos(div(math.pi, T, live), live)) / 2,
            lambda live: div(1 + self._cos_t(t, live), 1 + self._cos_t(t - 1, live), live) * (lr - eta) + eta)

    def closed_form(self):
        eta, t = self.eta_min, self.last_epoch
        return eta + (self.base_lrs - eta) * (1 + _cos(div(math.pi * t, self.T_max))) / 2


class CosineAnnealingWarmRestarts(LRScheduler):
    def __init__(self, group, T_0, T_mult, eta_min):
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = -1
        super().__init__(group)

    def get_lr(self):
        eta = self.eta_min
        return eta + (self.base_lrs - eta) * (1 + _cos(div(math.pi * self.T_cur, self.T_i))) / 2

    def step(self):
        # torch's step(epoch=None); an explicit epoch only ever comes as 0, from the first step
        if self.last_epoch < 0:
            epoch = 0
            self.T_i = self.T_0  # epoch (0) < T_0 (a positive integer)
            self.T_cur = epoch
        else:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            wrap = self.T_cur >= self.T_i
            if _any(wrap):
                self.T_cur, self.T_i = (pick(wrap, mod(self.T_cur, self.T_i), self.T_cur),
                                        pick(wrap, self.T_i * self.T_mult, self.T_i))
        self.last_epoch = math.floor(epoch)
        self.group["lr"] = self.get_lr()


class CyclicLR(LRScheduler):
    def __init__(self, group, base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode,
                 cycle_momentum, base_momentum, max_momentum):
        base_lrs = base_lr
        group["lr"] = base_lrs
        self.max_lrs = max_lr
        step_size_up = _float(step_size_up)
        step_size_down = _float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = div(step_size_up, self.total_size)
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        if scale_fn is None:
            self.scale_mode = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}[mode]
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.base_momentums, self.max_momentums = base_momentum, max_momentum
            group["momentum"] = max_momentum
            group["max_momentum"] = max_momentum
            group["base_momentum"] = base_momentum
        super().__init__(group)
        self.base_lrs = base_lrs

    def scale_fn(self, x, int_arg):
        """The scale at ``x`` (the cycle, an int, or ``last_epoch``) for every row."""
        if self._scale_fn_custom is not None:
            fn = self._scale_fn_custom
        elif self.mode == "triangular":
            return 1.0
        elif self.mode == "triangular2":
            def fn(c):
                return 1 / 2.0 ** (c - 1)
        else:
            return _pow(self.gamma, x)
        if int_arg and _is_rows(x):
            return apply(fn, x.astype(np.int64))
        return apply(fn, x)

    def get_lr(self):
        t = self.last_epoch
        frac = div(t, self.total_size)
        cycle = _floor(1 + frac)
        x = 1.0 + frac - cycle
        ratio = self.step_ratio
        scale_factor = branch(x <= ratio, lambda live: div(x, ratio, live),
                              lambda live: div(x - 1, ratio - 1, live))
        scale = self.scale_fn(cycle, True) if self.scale_mode == "cycle" else self.scale_fn(t, False)
        base_height = (self.max_lrs - self.base_lrs) * scale_factor
        lrs = self.base_lrs + base_height * scale
        if self.cycle_momentum:
            if self._scale_fn_custom is not None:
                # torch calls scale_fn again here: a custom one may keep state (the built-in ones give the same)
                scale = self.scale_fn(cycle, True) if self.scale_mode == "cycle" else self.scale_fn(t, False)
            base_height = (self.max_momentums - self.base_momentums) * scale_factor
            self.group["momentum"] = self.max_momentums - base_height * scale
        return lrs


def _float(v):
    return v.astype(np.float64) if _is_rows(v) else float(v)


def _floor(v):
    """``math.floor``: an int, or per row a float64 array of integers."""
    return np.floor(v) if _is_rows(v) else math.floor(v)


class OneCycleLR(LRScheduler):
    def __init__(self, group, max_lr, total_steps, pct_start, anneal_strategy, cycle_momentum, base_momentum,
                 max_momentum, div_factor, final_div_factor, three_phase):
        self.total_steps = total_steps
        if three_phase:
            self._schedule_phases = [
                (_float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (_float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                (_float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self.anneal_strategy = anneal_strategy
        group["initial_lr"] = div(max_lr, div_factor)
        group["max_lr"] = max_lr
        group["min_lr"] = div(group["initial_lr"], final_div_factor)
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            group["momentum"] = max_momentum
            group["max_momentum"] = max_momentum
            group["base_momentum"] = base_momentum
        super().__init__(group)

    def get_lr(self):
        group, step_num = self.group, self.last_epoch
        over = step_num > self.total_steps
        if _any(over):
            total = self.total_steps[np.flatnonzero(over)[0]] if _is_rows(over) else self.total_steps
            raise OptlabError(f"Tried to step {step_num} times. The specified number of total steps is {_py(total)}")
        start_step = 0.0
        pending = True  # the rows that have not found their phase yet
        lr = momentum = None
        last = len(self._schedule_phases) - 1
        for i, (end_step, start_lr, end_lr, start_m, end_m) in enumerate(self._schedule_phases):
            take = _and(pending, True if i == last else step_num <= end_step)
            if _any(take):
                live = take if _is_rows(take) and not take.all() else None
                pct = div(step_num - start_step, end_step - start_step, live)
                # torch's _annealing_cos / _annealing_linear; cos(pi * pct) serves the lr and the momentum
                anneal = _annealing_cos if self.anneal_strategy == "cos" else _annealing_linear
                w = _cos(math.pi * pct, live) + 1 if self.anneal_strategy == "cos" else pct
                new_lr = anneal(group[start_lr], group[end_lr], w)
                lr = new_lr if lr is None else pick(take, new_lr, lr)
                if self.cycle_momentum:
                    new_m = anneal(group[start_m], group[end_m], w)
                    momentum = new_m if momentum is None else pick(take, new_m, momentum)
            pending = _and(pending, not take if not _is_rows(take) else ~take)
            if not _any(pending):
                break
            start_step = end_step
        if self.cycle_momentum:
            group["momentum"] = momentum
        return lr


def _annealing_cos(start, end, cos_out):
    """torch's ``_annealing_cos`` after its first line, ``cos_out = math.cos(math.pi * pct) + 1``."""
    return end + (start - end) / 2.0 * cos_out


def _annealing_linear(start, end, pct):
    return (end - start) * pct + start


class SequentialLR(LRScheduler):
    def __init__(self, group, schedulers, milestones):
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = 0
        self.group = group
        group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()

    def recursive_undo(self, sched=None):
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()


class ChainedScheduler(LRScheduler):
    def __init__(self, group, schedulers):
        self._schedulers = schedulers
        self.group = group

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()


CLASSES = {c.__name__: c for c in (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR,
                                   ExponentialLR, SequentialLR, PolynomialLR, CosineAnnealingLR, ChainedScheduler,
                                   CyclicLR, CosineAnnealingWarmRestarts, OneCycleLR)}
