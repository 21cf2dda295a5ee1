"""Learning-rate search: one batched engine call over a log grid of learning rates x start points.

:func:`tune_lr` runs every (lr, start) pair of the grid as one trajectory of
one :func:`optlab.sweep` call and scores each lr by the **median over the
starts of the final gap** ``f - f*`` (the final loss when f* is unknown; a
diverged run scores +inf). Scores at or below ``floor`` count as equal (all
"solved"), and so do scores within a factor ``1 + rtol`` of the best (by
default 1e-6: the same local minimum reached); among the tied learning rates
the **largest** wins -- it reached the same quality with the most aggressive
step, and on a real problem it is the one that gets there first. The chosen
lr is therefore never worse than the default on the tuning starts. The optimizer's default lr is always evaluated in the same
call, so the tuned and the default score come side by side.

>>> from optlab.analysis.tuning import tune_lr            # doctest: +SKIP
>>> s = tune_lr("adam", "rosenbrock", x0=[[-1.5, 2.0], [0.0, 2.5]], steps=1000)
>>> s.best_lr, s.best_score, s.default_score               # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import objectives as _objectives
from .. import optimizers as _optimizers
from ..engine.sweep import Sweep, sweep
from ..errors import OptlabError


@dataclass
class LrSearch:
    """What :func:`tune_lr` found. ``lrs`` is sorted ascending; ``scores[i]`` is lr i's median
    final gap over the starts (inf when the median run diverged); ``diverged[i]`` the share of
    diverged starts. ``best_lr`` is the chosen lr, ``default_lr`` the optimizer's default."""

    optimizer: str
    objective: str
    lrs: np.ndarray
    scores: np.ndarray
    diverged: np.ndarray
    best_lr: float
    best_score: float
    default_lr: float
    default_score: float
    criterion: str
    sweep: Sweep | None = field(default=None, repr=False)

    @property
    def improvement(self) -> float:
        """default_score / best_score (inf when the default diverged, 1 when equal)."""
        if not np.isfinite(self.default_score):
            return float("inf")
        if self.best_score <= 0:
            return float("inf") if self.default_score > 0 else 1.0
        return float(self.default_score / self.best_score)

    def as_dict(self) -> dict:
        def plain(v):
            v = float(v)
            return v if np.isfinite(v) else None
        return dict(optimizer=self.optimizer, objective=self.objective, criterion=self.criterion,
                    best_lr=self.best_lr, best_score=plain(self.best_score), default_lr=self.default_lr,
                    default_score=plain(self.default_score),
                    lrs=[float(v) for v in self.lrs], scores=[plain(v) for v in self.scores],
                    diverged_share=[float(v) for v in self.diverged])


def default_grid(default_lr: float, n: int = 25, decades: tuple = (-3.0, 3.0)) -> np.ndarray:
    """``n`` learning rates log-spaced from default * 10**decades[0] to default * 10**decades[1]."""
    return float(default_lr) * np.logspace(decades[0], decades[1], n)


def choose(lrs, scores, floor=1e-12, rtol=1e-6):
    """Index of the chosen lr: the largest lr whose score ties the best (see the module doc)."""
    s = np.where(np.isfinite(scores), np.maximum(scores, floor), np.inf)
    if not np.isfinite(s).any():
        return None
    best = s.min()
    tied = np.flatnonzero(s <= best * (1.0 + rtol))
    return int(tied[np.argmax(np.asarray(lrs)[tied])])


def tune_lr(optimizer, objective, x0, lrs=None, *, steps=1000, hyper=None, objective_options=None,
            floor=1e-12, rtol=1e-6, keep_sweep=False, **engine) -> LrSearch:
    """Pick a learning rate for ``optimizer`` on ``objective`` in one engine call.

    Parameters
    ----------
    x0 : (n_starts, dim) start points; the score is the median over them.
    lrs : learning rates to try (default :func:`default_grid` around the optimizer's default).
    steps : steps per run.
    hyper : other hyperparameters (fixed), torch names.
    floor, rtol : the tie rule (scores <= floor are equal; within a factor 1 + rtol of the best tie).
    **engine : engine options for :func:`optlab.sweep` (seed, grad_noise, dtype, device ...).
    """
    opt = _optimizers.get(optimizer)
    obj = _objectives.get(objective)
    if "lr" not in opt.defaults:
        raise OptlabError(f"Optimizer '{opt.name}' has no learning rate to tune")
    hyper = dict(hyper or {})
    if "lr" in hyper:
        raise OptlabError("tune_lr chooses lr; do not pass it in hyper")
    default_lr = float(opt.defaults["lr"])
    grid = default_grid(default_lr) if lrs is None else np.asarray(lrs, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise OptlabError(f"Invalid lrs: {lrs!r} (must be positive numbers)")
    grid = np.unique(np.concatenate([grid, [default_lr]]))
    starts = np.asarray(x0, dtype=float)
    if starts.ndim == 1:
        starts = starts[None, :]
    options = dict(objective_options or {})
    dim = starts.shape[1]
    f_min = obj.min_value(dim, **options)
    sw = sweep(opt.name, obj.name, grid={"lr": grid}, x0=starts, steps=steps, record_every=steps,
               objective_options=options, **hyper, **engine)
    final = sw.grid("loss_final") - (f_min if f_min is not None else 0.0)     # (n_lr, n_start)
    div = (sw.grid("diverged_step") >= 0) | ~np.isfinite(final)
    final = np.where(div, np.inf, final)
    scores = np.median(final, axis=1)
    k = choose(grid, scores, floor, rtol)
    if k is None:
        raise OptlabError(f"Every learning rate in [{grid[0]:.3g}, {grid[-1]:.3g}] diverged for '{opt.name}' on "
                          f"'{obj.name}'; try smaller learning rates")
    d = int(np.flatnonzero(grid == default_lr)[0])
    crit = (f"median over {starts.shape[0]} starts of the final {'f - f*' if f_min is not None else 'f'} after "
            f"{steps} steps (<= {floor:g} counts as 0); ties (within {rtol:g} relative) -> larger lr")
    return LrSearch(optimizer=opt.name, objective=obj.name, lrs=grid, scores=scores, diverged=div.mean(axis=1),
                    best_lr=float(grid[k]), best_score=float(scores[k]), default_lr=default_lr,
                    default_score=float(scores[d]), criterion=crit, sweep=sw if keep_sweep else None)
