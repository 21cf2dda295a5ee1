"""Measure a sweep: Hydra's default (sequential) launcher against joblib with parallel workers.

    python -m optlab.bench.sweep                      # 3 optimizers x 4 lr, 10,000 x 1,000 each
    python -m optlab.bench.sweep --workers 2 --trajectories 2000 --out /tmp/bench

Runs the same 12-job multirun twice through the real command line
(``python -m optlab -m ...``, figures and report on), once with the default
launcher and once with ``hydra/launcher=joblib hydra.launcher.n_jobs=W``,
after a small warm-up sweep that fills the kernel cache. Prints the two wall
times, the speed-up, and the seconds each job spent loading or compiling
kernels (Numba's compiler-lock time, from each job's ``job.json``), split
into the first job of each worker process and the later ones.

Targets: joblib with 2 workers at least 1.6x faster than sequential, and
no job after a worker's first over 0.2 s of kernel loading. The exit status
is 0 either way; the verdict is printed. Measure on a quiet machine: the
load average is printed too.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from ..errors import argument_parser

OPTIMIZERS = ("sgd", "adam", "rmsprop")
LRS = ("1e-4", "3e-4", "1e-3", "3e-3")


def sweep_args(args) -> list[str]:
    return ["-m", f"optimizer={','.join(args.optimizers)}", f"optimizer.lr={','.join(args.lrs)}",
            f"objective={args.objective}", f"+study.starts={args.trajectories}", f"engine.steps={args.steps}",
            f"engine.record_every={args.record_every}"]


CPU_S: list = []  # CPU seconds (user + system) of each sweep, its worker processes included


def run_sweep(extra: list[str], sweep_dir: Path, env: dict) -> float:
    import resource
    cmd = [sys.executable, "-m", "optlab", *extra, f"hydra.sweep.dir={sweep_dir}"]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_S.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"optlab.bench.sweep: the sweep failed (exit {p.returncode}): {' '.join(cmd)}")
    return wall


def kernel_times(sweep_dir: Path) -> dict:
    """{'first': [...], 'later': [...], 'compiles': n, 'workers': n, 'jobs': [(num, pid, rank, s)]}."""
    jobs = []
    for d in sorted(sweep_dir.iterdir(), key=lambda p: (not p.name.isdigit(), p.name.zfill(8))):
        if not d.is_dir() or not (d / "job.json").is_file():
            continue
        info = json.loads((d / "job.json").read_text())
        summary = json.loads((d / "summary.json").read_text()) if (d / "summary.json").is_file() else {}
        load = sum(r.get("load_s", 0.0) for r in summary.get("runs", []))
        jobs.append(dict(num=d.name, pid=info["pid"], started=info["started"], cpu_s=info.get("cpu_s") or 0.0,
                         kernel_s=info.get("numba_lock_s", 0.0) + load, compiles=info.get("numba_compiles", 0),
                         wall_s=summary.get("wall_s")))
    by_pid: dict = {}
    for j in sorted(jobs, key=lambda j: j["started"]):
        j["rank"] = len(by_pid.setdefault(j["pid"], []))
        by_pid[j["pid"]].append(j)
    first = [j["kernel_s"] for j in jobs if j["rank"] == 0]
    later = [j["kernel_s"] for j in jobs if j["rank"] > 0]
    return dict(first=first, later=later, compiles=sum(j["compiles"] for j in jobs), workers=len(by_pid),
                jobs=jobs, job_cpu=sum(j["cpu_s"] for j in jobs),
                worker_cpu={pid: sum(j["cpu_s"] for j in js) for pid, js in by_pid.items()})


def idle_estimate(seq_cpu: float, seq_k: dict, par_cpu: float, par_k: dict) -> tuple[float, float]:
    """Wall times the two sweeps would take with a full core per process, from CPU seconds.

    The launching process does the same work in both (start, compose, report): its CPU is the
    sequential sweep's total minus its jobs'. In the joblib sweep, whatever CPU is neither that
    nor the jobs' is the workers' start-up, split evenly; each worker's jobs then run back to back.
    """
    parent = seq_cpu - seq_k["job_cpu"]
    workers = max(1, len(par_k["worker_cpu"]))
    startup = max(0.0, par_cpu - parent - par_k["job_cpu"]) / workers
    par = parent + max(par_k["worker_cpu"].values(), default=0.0) + startup
    return seq_cpu, par


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover
        return "load average unknown"


def main(argv=None) -> int:
    p = argument_parser(prog="python -m optlab.bench.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2, help="joblib worker processes (default 2)")
    p.add_argument("--trajectories", type=int, default=10_000, help="start points per job (default 10000)")
    p.add_argument("--steps", type=int, default=1_000, help="optimizer steps (default 1000)")
    p.add_argument("--record-every", type=int, default=10,
                   help="record every k-th step (default 10: 101 records per trajectory)")
    p.add_argument("--objective", default="rosenbrock")
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    p.add_argument("--lrs", default=",".join(LRS))
    p.add_argument("--out", type=Path, default=None, help="keep the sweeps here (default: a temporary folder)")
    p.add_argument("--order", choices=("sequential-first", "joblib-first"), default="sequential-first")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each launcher this many times, alternating the order; report the best")
    args = p.parse_args(argv)
    args.optimizers = args.optimizers.split(",")
    args.lrs = args.lrs.split(",")
    n_jobs = len(args.optimizers) * len(args.lrs)

    root = args.out or Path(tempfile.mkdtemp(prefix="optlab-bench-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    print(f"{n_jobs} jobs: {len(args.optimizers)} optimizers x {len(args.lrs)} learning rates on {args.objective}, "
          f"{args.trajectories} trajectories x {args.steps} steps each (record every {args.record_every}), "
          f"figures and report on; {os.cpu_count()} CPUs; {_load()}")
    print(f"sweeps in {root}")

    t = run_sweep(["-m", f"optimizer={','.join(args.optimizers)}", f"objective={args.objective}",
                   "engine.steps=2", "report.enabled=false", "plot.contour=false", "plot.loss=false"],
                  root / "warmup", env)
    print(f"warm-up (fills the kernel cache): {t:.1f} s")

    base = sweep_args(args)
    par_name = f"joblib, {args.workers} workers"
    variants = {"sequential": [], par_name: ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.workers}"]}
    walls: dict = {name: [] for name in variants}
    later_all: list = []
    measured: dict = {}
    for rep in range(args.repeat):
        order = list(variants)
        if (args.order == "joblib-first") != (rep % 2 == 1):  # alternate the order between repetitions
            order.reverse()
        for name in order:
            folder = root / f"{name.split(',')[0]}-{rep}"
            if folder.exists():
                shutil.rmtree(folder)
            wall = run_sweep([*base, *variants[name]], folder, env)
            walls[name].append(wall)
            k = kernel_times(folder)
            measured.setdefault(name, []).append((CPU_S[-1], k))
            if name == par_name:
                later_all += k["later"]
            later = f"later jobs max {max(k['later']):.3f} s" if k["later"] else "no later jobs"
            print(f"{name:<22} {wall:7.1f} s wall, {CPU_S[-1]:6.1f} s CPU   kernel load/compile: first job of "
                  f"each of {k['workers']} worker(s) {', '.join(f'{v:.3f}' for v in k['first'])} s; {later}; "
                  f"{k['compiles']} compiled   ({_load()})", flush=True)
    seq, par = min(walls["sequential"]), min(walls[par_name])
    speedup = seq / par
    best = " (best of %d each)" % args.repeat if args.repeat > 1 else ""
    print(f"sequential {seq:.1f} s, {par_name} {par:.1f} s{best}: speed-up {speedup:.2f}x  "
          f"(target >= 1.6x: {'met' if speedup >= 1.6 else 'NOT met'})")
    est = [idle_estimate(*measured["sequential"][r], *measured[par_name][r]) for r in range(args.repeat)]
    e_seq, e_par = min(e[0] for e in est), min(e[1] for e in est)
    print(f"estimated with a full core per process (from CPU seconds; see idle_estimate): sequential "
          f"{e_seq:.1f} s, {par_name} {e_par:.1f} s: {e_seq / e_par:.2f}x")
    worst = max(later_all) if later_all else 0.0
    print(f"kernel load/compile of any joblib job after its worker's first: max {worst:.3f} s "
          f"(target <= 0.2 s: {'met' if worst <= 0.2 else 'NOT met'})")
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
