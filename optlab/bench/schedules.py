"""The cost of a learning-rate scheduler: the same Adam run with and without one.

``python -m optlab.bench --section schedules`` times, alternating, Adam on 2-D
Rosenbrock without a scheduler and with one, in four workloads users run:
one cosine schedule for all trajectories; an lr sweep (one lr per trajectory,
so one table row each) with a cosine schedule; a warm-up length per
trajectory (LinearLR's ``total_iters`` in eight values); and
ReduceLROnPlateau (its state machine in the kernel). Each figure is the
whole ``simulate`` call -- the schedule's tables are built in Python before
the kernel runs, and a user waits for both -- and the kernel alone. Target
(the scheduler issue): a scheduled run costs at most 1.2x the run without
(ratio >= 0.83).
"""
from __future__ import annotations

import numpy as np

TARGET = 1 / 1.2


def workloads(n: int, steps: int) -> list[tuple[str, dict, dict]]:
    """(title, hyperparameters, scheduler) of each workload; the unscheduled twin drops the scheduler."""
    sweep = np.geomspace(1e-4, 1.0, n)
    warm = np.tile(np.array([0, 5, 10, 20, 40, 80, 160, 320]), -(-n // 8))[:n]
    return [
        ("one cosine schedule, shared lr", dict(lr=1e-2), {"name": "CosineAnnealingLR", "T_max": steps}),
        ("lr sweep + cosine (one table row per trajectory)", dict(lr=sweep),
         {"name": "CosineAnnealingLR", "T_max": steps}),
        ("warm-up length per trajectory (LinearLR, 8 values)", dict(lr=1e-2),
         {"name": "LinearLR", "start_factor": 0.1, "total_iters": np.maximum(warm, 1)}),
        ("lr sweep + ReduceLROnPlateau", dict(lr=sweep), {"name": "ReduceLROnPlateau", "patience": 5}),
    ]


def bench_schedules(n=100_000, steps=500, repeat=3, min_seconds=0.0) -> list[dict]:
    """Rows {workload, plain_steps_per_s, sched_steps_per_s, ratio, kernel_ratio}."""
    import optlab

    from .peers import best_alternating
    rng = np.random.default_rng(0)
    x0 = np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])
    rows = []
    for title, hyper, sched in workloads(n, steps):
        timings = {}

        def run(with_sched, key):
            def fn():
                kw = dict(scheduler=sched) if with_sched else {}
                r = optlab.simulate("adam", "rosenbrock", x0=x0, steps=steps, record_every=100, progress=False,
                                    **hyper, **kw)
                timings[key] = min(timings.get(key, np.inf), r.timing["run_s"])
            return fn
        for f in (run(False, "plain"), run(True, "sched")):  # compile and load outside the timing
            f()
        timings.clear()
        best = best_alternating([run(False, "plain"), run(True, "sched")], repeat, min_seconds)
        plain, sched_s = best[0][0], best[1][0]
        rows.append(dict(workload=title, plain_steps_per_s=n * steps / plain, sched_steps_per_s=n * steps / sched_s,
                         ratio=plain / sched_s, kernel_ratio=timings["plain"] / timings["sched"]))
    return rows


def print_schedules(rows, n, steps) -> None:
    print(f"\nlearning-rate schedulers: Adam on 2-D rosenbrock, N={n}, T={steps}, the whole simulate call "
          f"(tables included) and the kernel alone; target ratio >= {TARGET:.2f} (at most 1.2x the cost)")
    print(f"  {'workload':52s} {'no scheduler':>13s} {'scheduled':>13s} {'ratio':>6s} {'kernel':>7s}")
    for r in rows:
        ok = "" if r["ratio"] >= TARGET else "  (below target)"
        print(f"  {r['workload']:52s} {r['plain_steps_per_s']:13.3g} {r['sched_steps_per_s']:13.3g} "
              f"{r['ratio']:6.2f} {r['kernel_ratio']:7.2f}{ok}")


#: the theory issue's target: sharpness every 10th record at most 2x the run without it (2-D)
TRACK_TARGET = 1 / 2.0


def bench_track(n=100_000, steps=500, repeat=3, min_seconds=0.0, record_every=10) -> dict:
    """Adam on 2-D Rosenbrock recording every ``record_every``-th step, without and with
    ``track=["sharpness"]`` (the whole simulate call): {plain_s, track_s, ratio}."""
    import optlab

    from .peers import best_alternating
    rng = np.random.default_rng(0)
    x0 = np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])

    def run(track):
        return lambda: optlab.simulate("adam", "rosenbrock", x0=x0, steps=steps, record_every=record_every,
                                       lr=1e-2, progress=False, track=track)
    for f in (run(None), run(["sharpness"])):
        f()
    best = best_alternating([run(None), run(["sharpness"])], repeat, min_seconds)
    return dict(plain_s=best[0][0], track_s=best[1][0], ratio=best[0][0] / best[1][0], n=n, steps=steps,
                record_every=record_every)


def print_track(row) -> None:
    ok = "" if row["ratio"] >= TRACK_TARGET else "  (below target)"
    print(f"\nsharpness along every trajectory: Adam on 2-D rosenbrock, N={row['n']}, T={row['steps']}, a record "
          f"every {row['record_every']} steps: {row['plain_s']:.3f} s without, {row['track_s']:.3f} s with "
          f"track=['sharpness']: ratio {row['ratio']:.2f} (target >= {TRACK_TARGET:.2f}, at most 2x){ok}")
