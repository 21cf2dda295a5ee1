"""``python -m optlab.bench.cuda`` (or ``python -m optlab.bench --device cuda``): the GPU engine's speed.

Workload: Adam on 2-D Rosenbrock, N = 1,000,000 trajectories x T = 1,000
steps, recording every 100th step, per-trajectory learning rates
(10^U(-4, -1)), in float64 and float32. Reported per dtype, best of
``--repeat`` runs each:

* GPU: trajectory-steps/s of the kernel alone and end to end (allocation,
  copies both ways, the kernel), with the kernel and transfer seconds;
* CPU: the CPU engine on the same machine, all cores, on the first
  ``--cpu-n`` (100,000) of the same trajectories, and its rate;
* the ratio GPU/CPU (kernel-only and end-to-end);
* agreement: max |GPU - CPU| over those trajectories (final x, recorded x and
  loss) where neither diverged, and whether outcomes and divergence steps
  agree.

``--quick`` shrinks everything (a smoke test that also runs in the CUDA
simulator, ``NUMBA_ENABLE_CUDASIM=1``). Compilation is kept out of the
timings (a small warm-up run first) and reported as ``load_s``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from ..errors import argument_parser

import numpy as np


def _workload(n, seed=0):
    rng = np.random.default_rng(seed)
    x0 = np.column_stack([rng.uniform(-2.0, 2.0, n), rng.uniform(-1.0, 3.0, n)])
    lr = 10.0 ** rng.uniform(-4.0, -1.0, n)
    return x0, lr


def _agreement(rg, rc):
    """Max |GPU - CPU| where neither run diverged, and outcome/divergence agreement."""
    m = rc.n_traj
    live = (rc.diverged_step < 0) & (rg.diverged_step[:m] < 0)
    out = {"compared_trajectories": int(m), "non_diverged": int(live.sum())}
    for name, a, b in (("x_final", rg.x_final[:m], rc.x_final), ("x", rg.x[:m], rc.x),
                       ("loss", rg.loss[:m], rc.loss)):
        a = np.asarray(a, dtype=np.float64)[live]
        b = np.asarray(b, dtype=np.float64)[live]
        fin = np.isfinite(a) & np.isfinite(b)
        out[f"max_abs_diff_{name}"] = float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0
        out[f"max_rel_diff_{name}"] = (float(np.max(np.abs(a[fin] - b[fin]) / np.maximum(1.0, np.abs(b[fin]))))
                                       if fin.any() else 0.0)
    out["outcomes_equal"] = int(np.sum(rg.outcome[:m] == rc.outcome))
    out["diverged_step_equal"] = int(np.sum(rg.diverged_step[:m] == rc.diverged_step))
    return out


def bench_dtype(dtype, n, cpu_n, steps, record_every, repeat, log=print):
    """One dtype: GPU and CPU timings and their agreement, as a dict."""
    import optlab
    from optlab.engine import cuda as ecuda
    x0, lr = _workload(n)
    kw = dict(steps=steps, record_every=record_every, dtype=dtype, progress=False)
    # warm-up: generate/compile/load both kernels outside the timings
    warm_g = optlab.simulate("adam", "rosenbrock", x0=x0[:256], lr=lr[:256], device="cuda", **kw)
    warm_c = optlab.simulate("adam", "rosenbrock", x0=x0[:256], lr=lr[:256], **kw)
    res = {"dtype": dtype, "n": n, "steps": steps, "record_every": record_every,
           "gpu_load_s_first_call": warm_g.timing["load_s"], "cpu_load_s_first_call": warm_c.timing["load_s"]}

    best = None
    for _ in range(repeat):
        rg = optlab.simulate("adam", "rosenbrock", x0=x0, lr=lr, device="cuda", **kw)
        if best is None or rg.timing["run_s"] < best.timing["run_s"]:
            best = rg
    rg = best
    tg = rg.timing
    res.update(gpu_kernel_s=tg["kernel_s"], gpu_transfer_s=tg["transfer_s"], gpu_run_s=tg["run_s"],
               gpu_total_s=tg["total_s"], gpu_chunks=ecuda.LAST_RUN.get("chunks"),
               gpu_device=ecuda.LAST_RUN.get("device"),
               gpu_kernel_steps_per_s=n * steps / tg["kernel_s"],
               gpu_run_steps_per_s=n * steps / tg["run_s"])
    log(f"  GPU {dtype}: kernel {tg['kernel_s']:.3f} s, transfers {tg['transfer_s']:.3f} s, "
        f"engine call {tg['run_s']:.3f} s ({ecuda.LAST_RUN.get('chunks')} chunk(s)) -> "
        f"{res['gpu_kernel_steps_per_s']:.3e} traj-steps/s kernel, {res['gpu_run_steps_per_s']:.3e} end to end")

    m = min(cpu_n, n)
    best_c = None
    for _ in range(repeat):
        rc = optlab.simulate("adam", "rosenbrock", x0=x0[:m], lr=lr[:m], **kw)
        if best_c is None or rc.timing["run_s"] < best_c.timing["run_s"]:
            best_c = rc
    rc = best_c
    res.update(cpu_n=m, cpu_run_s=rc.timing["run_s"], cpu_steps_per_s=m * steps / rc.timing["run_s"])
    res["ratio_kernel"] = res["gpu_kernel_steps_per_s"] / res["cpu_steps_per_s"]
    res["ratio_end_to_end"] = res["gpu_run_steps_per_s"] / res["cpu_steps_per_s"]
    log(f"  CPU {dtype}: {m} trajectories in {rc.timing['run_s']:.3f} s -> {res['cpu_steps_per_s']:.3e} "
        f"traj-steps/s; GPU/CPU = {res['ratio_kernel']:.1f}x (kernel), {res['ratio_end_to_end']:.1f}x (end to end)")
    res["agreement"] = _agreement(rg, rc)
    a = res["agreement"]
    log(f"  agreement on {a['compared_trajectories']} trajectories ({a['non_diverged']} not diverged): "
        f"max |dx_final| = {a['max_abs_diff_x_final']:.3e}, max |dx| = {a['max_abs_diff_x']:.3e}, "
        f"max |dloss| = {a['max_abs_diff_loss']:.3e} (relative to max(1, |CPU|): "
        f"{a['max_rel_diff_x']:.1e}, {a['max_rel_diff_loss']:.1e}); outcomes equal {a['outcomes_equal']}/{m}, "
        f"divergence steps equal {a['diverged_step_equal']}/{m}")
    return res


def main(argv=None) -> int:
    ap = argument_parser(prog="python -m optlab.bench.cuda", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="GPU trajectories")
    ap.add_argument("--cpu-n", type=int, default=100_000, help="CPU trajectories (the first of the GPU's)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--record-every", type=int, default=100,
                    help="record stride; use --record-every equal to --steps to record only start and end")
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per figure")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test (also in the CUDA simulator)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.cpu_n, args.steps, args.record_every, args.repeat = 64, 32, 20, 5, 1

    from ..engine import cuda as ecuda
    from ..errors import OptlabError
    ok, device = ecuda.available()
    if not ok:
        print(f"optlab.bench.cuda: {device}", file=sys.stderr)
        return 2
    import numba
    print(f"optlab.bench.cuda -- {device}; CPU: {os.cpu_count()} cores, numba threads={numba.get_num_threads()}")
    print(f"Adam on 2-D Rosenbrock, N={args.n} (CPU {min(args.cpu_n, args.n)}), T={args.steps}, "
          f"record_every={args.record_every}, best of {args.repeat}")
    results = {"device": device, "cpu_cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
               "workload": f"adam/rosenbrock-2d N={args.n} T={args.steps} record_every={args.record_every}",
               "dtypes": {}}
    t0 = time.perf_counter()
    try:
        for dtype in args.dtypes.split(","):
            results["dtypes"][dtype] = bench_dtype(dtype.strip(), args.n, args.cpu_n, args.steps,
                                                   args.record_every, args.repeat)
    except OptlabError as e:
        print(f"optlab.bench.cuda: {e}", file=sys.stderr)
        return 2
    results["seconds"] = time.perf_counter() - t0
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
