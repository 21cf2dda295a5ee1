"""The optimizer table of ``optlab bench``: every optimizer on 2-D Rosenbrock vs numpy.

For each elementwise optimizer the engine (``optlab.simulate``, float64,
N trajectories x T steps, recording only the first and last step) is timed
against a numpy implementation of the same algorithm vectorised over the N
trajectories (:data:`optlab.bench.references.REFERENCES`, one function per
optimizer, torch's defaults; the gradient of Rosenbrock is computed with
numpy too). Both are
timed in the same process, best of ``repeat``; the numpy reference runs
``min(T, 200)`` steps (its cost per step is constant). Target: the engine
>= 5x its reference. L-BFGS gets its own row (engine only: it has no
vectorised numpy counterpart; one ``.step(closure)`` counts as one step).

The references double as readable, vectorised statements of each algorithm;
``tests/test_optimizers.py`` checks them against the engine too.

``python -m optlab.bench.optimizers [NAME ...]`` prints the table alone.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .references import REFERENCES, rosen_grad

def _best(fn, repeat):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_pair(fa, fb, repeat, min_seconds=0.0):
    """Best seconds of two workloads, run alternately (a, b, a, b ...) at least
    ``repeat`` times each and for at least ``min_seconds`` in all, so that
    both see the same spells of load on a shared machine and a burst of load
    longer than a few runs does not decide the figure. numpy's overflow
    warnings from diverging trajectories are silenced: the engine runs the
    same trajectories and divergence is part of the workload."""
    ta = tb = math.inf
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        i = 0
        while i < repeat or time.perf_counter() - start < min_seconds:
            i += 1
            t0 = time.perf_counter()
            fa()
            ta = min(ta, time.perf_counter() - t0)
            t0 = time.perf_counter()
            fb()
            tb = min(tb, time.perf_counter() - t0)
    return ta, tb


def _starts(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])


def optimizer_table(N=100_000, T=1000, repeat=3, names=None, numpy_steps=200, min_seconds=6.0):
    """Rows {optimizer, name, engine_steps_per_s, numpy_steps_per_s, ratio} for 2-D Rosenbrock.

    ``names`` restricts the table (default: every registered optimizer).
    Hyperparameters are torch's defaults except a small lr for the ones
    whose default would blow up on Rosenbrock; engine and numpy use the same.
    """
    import optlab
    x0 = _starts(N)
    rows = []
    for name in names or optlab.optimizers.names():
        spec = optlab.optimizers.get(name)
        hyper = dict(lr=1e-3) if "lr" in spec.defaults else {}
        n, steps = N, T
        if spec.kernel_source is not None and name == "lbfgs":
            # each step is up to max_iter quasi-Newton iterations: a smaller workload
            hyper = dict(lr=1.0, max_iter=5, history_size=10)
            n, steps = max(1, min(N, 2000)), max(1, min(T, 50))
        optlab.simulate(name, "rosenbrock", x0=x0[:64], steps=2, progress=False, **hyper)  # compile/load
        def run_engine():
            optlab.simulate(name, "rosenbrock", x0=x0[:n], steps=steps, record_every=steps, progress=False,
                            **hyper)
        ref_fn = REFERENCES.get(name)
        if ref_fn is None:
            eng = n * steps / _best(run_engine, repeat)
            note = (f"N={n} T={steps}, max_iter=5; no vectorised numpy reference (one step = one "
                    ".step(closure))" if name == "lbfgs" else
                    "no vectorised numpy reference in optlab.bench.references")
            rows.append(dict(optimizer=name, name=name, engine_steps_per_s=eng, numpy_steps_per_s=None,
                             ratio=None, note=note))
            continue
        ns = min(T, numpy_steps)
        t_eng, t_np = best_pair(run_engine, lambda: ref_fn(x0.T.copy(), ns, rosen_grad, **hyper), repeat,
                                min_seconds)
        eng = n * steps / t_eng
        ref = N * ns / t_np
        rows.append(dict(optimizer=name, name=name, engine_steps_per_s=eng, numpy_steps_per_s=ref,
                         ratio=eng / ref))
    return rows


def main(argv=None) -> int:  # pragma: no cover - a command, timed by hand
    import argparse
    ap = argparse.ArgumentParser(prog="python -m optlab.bench.optimizers",
                                 description="optlab optimizer table (engine vs numpy on 2-D Rosenbrock)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    rows = optimizer_table(args.n, args.steps, args.repeat, names=args.names or None)
    for r in rows:
        ratio = f"{r['ratio']:6.1f}x" if r["ratio"] else "     -"
        ref = f"{r['numpy_steps_per_s']:.3e}" if r["numpy_steps_per_s"] else "-"
        print(f"{r['name']:<20} engine {r['engine_steps_per_s']:.3e}/s  numpy {ref:>10}/s  {ratio}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
