"""Shards: one study's trajectories split over several jobs of a sweep.

A study with more trajectories than one engine call (or one machine) should
hold is run as ``K`` jobs, each with ``engine.shard=k`` (0 <= k < K) and
``engine.num_shards=K``::

    python -m optlab -m +study.starts=1000000 +engine.num_shards=4 +engine.shard=0,1,2,3

Job ``k`` runs the contiguous slice ``[k N // K, (k + 1) N // K)`` of the
``N`` trajectories (the start points, and the values of a hyperparameter
given one per trajectory; not ``np.array_split``'s bounds, which put the
longer slices first), and the report merges the jobs that differ only in
``engine.shard`` back into one row.

Randomness: the engine keys its counter-based generator by (seed,
trajectory index, step, k). A shard runs its slice ``[a, b)`` with
``trajectory_offset=a``, so its trajectories keep their indices in the whole
run and draw its gradient noise and minibatches: the shards together are the
unsharded run bit for bit, stochastic or not. (Before, shard ``k`` ran with
a seed derived from (seed, k, K): independent draws, not the unsharded ones.)

``study.starts: N`` (single and compare studies) asks for ``N`` start points
drawn uniformly from the inner 80 % of the objective's domain (the box the
default starts use), keyed by ``engine.seed``, so every shard sees the same
list of starts. No Hydra here: plain dicts in, plain values out.

The hook in a study (``optlab/studies/basic.py``)::

    cfg, shard = apply_shard(cfg)                      # before engine_kwargs()
    ...
    x0 = shard.starts(cfg, spec, dim, x0, default_starts)

"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptlabError

SHARD_KEYS = ("shard", "num_shards")


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptlabError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return int(value)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``; ``Shard(0, 1)`` is the whole study.

    ``base_seed`` is ``engine.seed``: the start points are drawn from it, the same for every shard.
    """

    index: int = 0
    count: int = 1
    base_seed: int = 0

    def bounds(self, n: int) -> tuple[int, int]:
        """[a, b): this shard's trajectories among ``n``."""
        if self.count > n:
            raise OptlabError(f"Invalid engine.num_shards: {self.count} (the study has only {n} "
                              f"trajectories; use at most {n} shards, or more starts with study.starts)")
        return self.index * n // self.count, (self.index + 1) * n // self.count

    def select(self, x0: np.ndarray) -> np.ndarray:
        """This shard's rows of the start points ``x0`` (n, dim)."""
        if self.count == 1:
            return x0
        a, b = self.bounds(len(x0))
        return x0[a:b]

    def starts(self, cfg: dict, spec, dim: int, x0, default) -> np.ndarray:
        """This shard's start points.

        All start points are ``x0`` (from ``objective.x0``) when given, else
        ``study.starts: N`` random ones, else ``default(spec, dim)``; then
        this shard's slice of them. ``study.starts: N`` draws ``N`` points
        uniformly from the inner 80 % of the objective's box (the box of the
        default starts), from ``numpy.random.default_rng(engine.seed)``.
        """
        n = (cfg.get("study") or {}).get("starts")
        if n is not None:
            n = _int("study.starts", n, 1)
            if x0 is not None:
                raise OptlabError("Give either objective.x0 or study.starts, not both")
            box = np.asarray(spec.bounds(dim), dtype=float)
            lo = box[:, 0] + 0.1 * (box[:, 1] - box[:, 0])
            hi = box[:, 1] - 0.1 * (box[:, 1] - box[:, 0])
            x0 = np.random.default_rng(self.base_seed).uniform(lo, hi, size=(n, dim))
        elif x0 is None:
            x0 = default(spec, dim)
        return self.select(np.asarray(x0, dtype=float))

    @property
    def info(self) -> dict:
        return {"index": self.index, "count": self.count}


def apply_shard(cfg: dict) -> tuple[dict, Shard]:
    """Take ``engine.shard`` / ``engine.num_shards`` out of ``cfg``.

    Returns a shallow copy of ``cfg`` whose ``engine`` section no longer has
    the two keys (so the engine's key check accepts it), and the :class:`Shard`
    (the study runs its slice with ``trajectory_offset``). Raises
    :class:`OptlabError` for a bad value, before any work.
    """
    eng = dict(cfg.get("engine") or {})
    base_seed = eng.get("seed") or 0
    valid_seed = (isinstance(base_seed, (int, np.integer)) and not isinstance(base_seed, (bool, np.bool_))
                  and base_seed >= 0)
    if not valid_seed:
        base_seed = 0  # the engine reports a bad seed with its own message
    if not any(k in eng for k in SHARD_KEYS):
        return cfg, Shard(base_seed=int(base_seed))
    count = eng.pop("num_shards", None)
    index = eng.pop("shard", None)
    count = 1 if count is None else _int("engine.num_shards", count, 1)
    index = 0 if index is None else _int("engine.shard", index, 0)
    if index >= count:
        raise OptlabError(f"Invalid engine.shard: {index} (must be in [0, {count}) for engine.num_shards={count})")
    return {**cfg, "engine": eng}, Shard(index, count, int(base_seed))



def kernel_timing(res) -> dict:
    """Seconds an engine call spent loading (or compiling) its kernel, and running it."""
    t = getattr(res, "timing", None) or {}
    return {"load_s": round(float(t.get("load_s", 0.0)), 4), "run_s": round(float(t.get("run_s", 0.0)), 4)}
