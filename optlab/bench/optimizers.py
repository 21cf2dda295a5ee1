"""The optimizer table of ``optlab bench``: every optimizer on 2-D Rosenbrock vs numpy.

For each elementwise optimizer the engine (``optlab.simulate``, float64,
N trajectories x T steps, recording only the first and last step) is timed
against a numpy implementation of the same algorithm vectorised over the N
trajectories (:data:`optlab.bench.references.REFERENCES`, one function per
optimizer, torch's defaults; the gradient of Rosenbrock is computed with
numpy too). Both are
timed in the same process, best of ``repeat``; the numpy reference runs
``min(T, 200)`` steps (its cost per step is constant). Target: the engine
>= 5x its reference. Each optimizer is also run with one lr per trajectory
(log-spaced over [0.8 lr, 1.25 lr]): the sweep figure, and its ratio to the
shared one (target >= 0.8x). L-BFGS gets its own row (engine only: it has no
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
from ..errors import argument_parser

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


#: the per-trajectory lr of the sweep figure: log-spaced from lr * SWEEP_SPREAD[0] to lr * SWEEP_SPREAD[1]
SWEEP_SPREAD = (0.8, 1.25)
#: L-BFGS's spread: the quasi-Newton iterations an L-BFGS step takes depend on its lr (measured on
#: this table's workload, the shared figure at lr 0.8 / 1.0 / 1.25: 9.8e5 / 8.5e5 / 4.7e5
#: trajectory-steps/s), so a sweep over [0.8, 1.25] measures other work; a spread of 1e-6 keeps the
#: work and still gives every trajectory its own lr (the per-trajectory path)
LBFGS_SPREAD = (1 - 1e-6, 1 + 1e-6)
#: the sweep figure should be at least this fraction of the shared one (issue 13)
SWEEP_TARGET = 0.8


def sweep_lrs(name: str, lr0: float, n: int) -> np.ndarray:
    """The sweep figure's lrs: ``n`` log-spaced over ``lr0`` times :data:`SWEEP_SPREAD`
    (:data:`LBFGS_SPREAD` for L-BFGS)."""
    lo, hi = LBFGS_SPREAD if name == "lbfgs" else SWEEP_SPREAD
    return np.geomspace(lr0 * lo, lr0 * hi, n)


def optimizer_table(N=100_000, T=1000, repeat=3, names=None, numpy_steps=200, min_seconds=6.0):
    """Rows {optimizer, name, engine_steps_per_s, sweep_steps_per_s, sweep_ratio, numpy_steps_per_s,
    ratio} for 2-D Rosenbrock.

    ``names`` restricts the table (default: every registered optimizer that runs on any objective).
    Hyperparameters are torch's defaults except a small lr for the ones
    whose default would blow up on Rosenbrock; engine and numpy use the same.
    ``engine_steps_per_s`` is the engine with one lr for all trajectories (the
    shared path), ``sweep_steps_per_s`` the same run with one lr per
    trajectory, log-spaced over [0.8 lr, 1.25 lr] (the per-trajectory path on
    nearly the same trajectories, so the two do the same work; L-BFGS over
    :data:`LBFGS_SPREAD`, as its work depends on the lr), and
    ``sweep_ratio`` sweep / shared (target >= 0.8). The three runs -- shared,
    sweep, numpy -- are alternated.
    """
    import optlab

    from .peers import best_alternating
    x0 = _starts(N)
    rows = []
    for name in names or [n for n in optlab.optimizers.names() if not optlab.optimizers.get(n).objectives]:
        spec = optlab.optimizers.get(name)  # (the table runs Rosenbrock: not the optimizers of one model)
        hyper = dict(lr=1e-3) if "lr" in spec.defaults else {}
        n, steps = N, T
        if spec.kernel_source is not None and name == "lbfgs":
            # each step is up to max_iter quasi-Newton iterations: a smaller workload
            hyper = dict(lr=1.0, max_iter=5, history_size=10)
            n, steps = max(1, min(N, 2000)), max(1, min(T, 50))
        sweep = None
        if "lr" in hyper and "lr" in spec.vector:
            lr0 = hyper["lr"]
            sweep = {**hyper, "lr": sweep_lrs(name, lr0, n)}
        for h in (hyper, sweep):  # compile/load outside the timing
            if h is not None:
                optlab.simulate(name, "rosenbrock", x0=x0[:64], steps=2, progress=False,
                                **{k: (v[:64] if isinstance(v, np.ndarray) else v) for k, v in h.items()})

        def run_engine(h):
            return lambda: optlab.simulate(name, "rosenbrock", x0=x0[:n], steps=steps, record_every=steps,
                                           progress=False, **h)
        fns = [run_engine(hyper)] + ([run_engine(sweep)] if sweep is not None else [])
        ref_fn = REFERENCES.get(name)
        ns = min(T, numpy_steps)
        if ref_fn is not None:
            fns.append(lambda: ref_fn(x0.T.copy(), ns, rosen_grad, **hyper))
        best = [t for t, _ in best_alternating(fns, repeat, min_seconds)]
        eng = n * steps / best[0]
        row = dict(optimizer=name, name=name, engine_steps_per_s=eng, sweep_steps_per_s=None, sweep_ratio=None,
                   numpy_steps_per_s=None, ratio=None)
        if sweep is not None:
            row["sweep_steps_per_s"] = n * steps / best[1]
            row["sweep_ratio"] = row["sweep_steps_per_s"] / eng
        if ref_fn is not None:
            row["numpy_steps_per_s"] = N * ns / best[-1]
            row["ratio"] = eng / row["numpy_steps_per_s"]
        elif name == "lbfgs":
            row["note"] = (f"N={n} T={steps}, max_iter=5, sweep lr x [1 - 1e-6, 1 + 1e-6] (its work depends on "
                           "the lr); no vectorised numpy reference (one step = one .step(closure))")
        else:
            row["note"] = "no vectorised numpy reference in optlab.bench.references"
        rows.append(row)
    return rows


def print_optimizer_table(rows, title, target=5.0):
    """The optimizer table: shared and per-trajectory-lr figures, their ratio (flagged below
    :data:`SWEEP_TARGET`), and the shared figure against numpy (flagged below ``target``)."""
    print(f"\n{title}")
    print(f"  {'name':<20} {'shared/s':>10} {'sweep/s':>10} {'sweep/shared':>12} {'numpy/s':>10} "
          f"{'shared/numpy':>12}")
    for r in rows:
        line = f"  {r['name']:<20} {r['engine_steps_per_s']:>10.3e} "
        if r.get("sweep_ratio") is not None:
            flag = " *" if r["sweep_ratio"] < SWEEP_TARGET else "  "
            line += f"{r['sweep_steps_per_s']:>10.3e} {r['sweep_ratio']:>10.2f}x{flag}"
        else:
            line += f"{'-':>10} {'-':>11}  "
        if r.get("ratio") is not None:
            flag = " *" if r["ratio"] < target else ""
            line += f"{r['numpy_steps_per_s']:>10.3e} {r['ratio']:>11.1f}x{flag}"
        else:
            line += f"{'-':>10} {'-':>12}"
        if r.get("note"):
            line += f"  {r['note']}"
        print(line)
    below = [r["name"] for r in rows if r.get("sweep_ratio") is not None and r["sweep_ratio"] < SWEEP_TARGET]
    slow = [r["name"] for r in rows if r.get("ratio") is not None and r["ratio"] < target]
    print(f"  sweep: lr log-spaced per trajectory over [{SWEEP_SPREAD[0]:g} lr, {SWEEP_SPREAD[1]:g} lr]; "
          f"* = below target (sweep/shared >= {SWEEP_TARGET:g}x, shared/numpy >= {target:g}x)")
    print(f"  sweep/shared BELOW TARGET: {', '.join(below) or 'none'}; shared/numpy BELOW TARGET: "
          f"{', '.join(slow) or 'none'}")


def main(argv=None) -> int:  # pragma: no cover - a command, timed by hand
    ap = argument_parser(prog="python -m optlab.bench.optimizers",
                                 description="optlab optimizer table (engine vs numpy on 2-D Rosenbrock)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    rows = optimizer_table(args.n, args.steps, args.repeat, names=args.names or None)
    print_optimizer_table(rows, f"optimizers on 2-D rosenbrock, N={args.n}, T={args.steps}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
