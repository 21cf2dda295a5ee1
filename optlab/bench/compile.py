"""``python -m optlab.bench --section compile``: what a cold engine kernel costs to compile.

Two measurements, each in a new Python process with empty caches (a fresh
temporary ``OPTLAB_CACHE_DIR`` and ``NUMBA_CACHE_DIR``), alternated
``--repeat`` times:

* the engine: wall seconds of the first
  ``optlab.simulate("adam", "rosenbrock", x0=np.zeros((4, 2)), steps=3)``
  (the generated Adam x Rosenbrock kernel, float64, D = 2: generating,
  compiling and running it), with the result's ``timing["load_s"]`` (the
  engine's own compile/load figure) beside it;
* the reference: wall seconds of the first call of
  :func:`adam_rosenbrock_blocked` below on the same 4 x 2 zeros, 3 steps --
  a hand-written Numba kernel doing the same per-step work the same way
  (``parallel=True``, ``cache=True``, ``nogil=True``, ``prange`` over blocks
  of 256 trajectories, the time loop inside the block, the block's
  trajectories innermost), so the ratio is what the engine's generality
  (templates, inlined optimizer and objective, book-keeping, records,
  divergence checks) adds to a Numba compile of the bare algorithm.

A second workload (``--section compile`` runs both, issue 13's budget for the
MLP): the first ``optlab.simulate("adam", "mlp", ...)`` (the MLP objective's
default, full batch, D = 33) against :func:`adam_mlp_blocked`, a hand-written
blocked Adam on the same network and data with ``math.tanh`` and
``math.exp``. A third: the same with minibatches of 32 (``full_loss=False``: the
reported loss is the minibatch's, as the reference computes no loss) against
:func:`adam_mlp_minibatch_blocked`, which draws the same samples (the engine's keyed
Feistel permutation of each trajectory's epoch, written out by hand).

Both processes import numpy and numba before the clock starts (the reference
module imports numba when it is imported); nothing is subtracted from the
timed call. Each is then run once more with the caches it filled: the warm
load (a new process finding its kernel on disk). Printed: best and median
of each, the ratio engine/reference (target <= 2.0), the CPU model and the
core count, and how far the two results after 3 steps differ (the same
arithmetic: equal up to rounding, since the engine may fuse multiply-adds).
"""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

#: Trajectories per block of the reference (the engine's block at D = 2).
BLOCK = 256
TARGET_RATIO = 2.0
#: Marks the one line of a child's stdout that carries its figures (JSON).
MARK = "OPTLAB-COMPILE-RESULT "
N_TRAJ, STEPS, LR = 4, 3, 1e-3


@njit(parallel=True, cache=True, nogil=True)
def adam_rosenbrock_blocked(x, lr, steps, b1, b2, eps):
    """Adam on 2-D Rosenbrock, in place on ``x`` of shape (2, N), one lr per trajectory.

    torch's update: bias corrections bc1 = 1 - b1**t and c2 = sqrt(1 - b2**t),
    step size lr / bc1, x -= step * m / (sqrt(v) / c2 + eps)."""
    n = x.shape[1]
    nblk = (n + BLOCK - 1) // BLOCK
    for blk in prange(nblk):
        i0 = blk * BLOCK
        w = min(BLOCK, n - i0)
        x0 = np.empty(BLOCK)
        x1 = np.empty(BLOCK)
        m0 = np.zeros(BLOCK)
        m1 = np.zeros(BLOCK)
        v0 = np.zeros(BLOCK)
        v1 = np.zeros(BLOCK)
        ss = np.empty(BLOCK)
        for j in range(w):
            x0[j] = x[0, i0 + j]
            x1[j] = x[1, i0 + j]
        for t in range(1, steps + 1):
            bc1 = 1.0 - b1 ** t
            c2 = math.sqrt(1.0 - b2 ** t)
            for j in range(w):
                ss[j] = lr[i0 + j] / bc1
            for j in range(w):
                a = x0[j]
                b = x1[j]
                t1 = b - a * a
                g0 = -400.0 * a * t1 - 2.0 * (1.0 - a)
                g1 = 200.0 * t1
                m0[j] += (1.0 - b1) * (g0 - m0[j])
                m1[j] += (1.0 - b1) * (g1 - m1[j])
                v0[j] = v0[j] * b2 + (1.0 - b2) * g0 * g0
                v1[j] = v1[j] * b2 + (1.0 - b2) * g1 * g1
                x0[j] = a - ss[j] * m0[j] / (math.sqrt(v0[j]) / c2 + eps)
                x1[j] = b - ss[j] * m1[j] / (math.sqrt(v1[j]) / c2 + eps)
        for j in range(w):
            x[0, i0 + j] = x0[j]
            x[1, i0 + j] = x1[j]


#: Trajectories per block of the MLP reference (the engine's block at D = 33).
BLOCK_MLP = 16
MLP_DIM, MLP_HIDDEN = 33, 8


@njit(parallel=True, cache=True, nogil=True)
def adam_mlp_blocked(theta, X, y, lr, steps, b1, b2, eps, h):
    """Adam on the full-batch BCE loss of a one-hidden-layer tanh network (the ``mlp``
    objective's default), in place on ``theta`` of shape (4h + 1, N), one lr per trajectory:
    the code a user would write (``math.tanh``, ``math.exp``), blocked as the engine is
    (``prange`` over blocks of 16 trajectories, the time loop inside, the block's trajectories
    innermost)."""
    D, n = theta.shape
    ns = X.shape[0]
    ob, ov, oc = 2 * h, 3 * h, 4 * h
    nblk = (n + BLOCK_MLP - 1) // BLOCK_MLP
    for blk in prange(nblk):
        i0 = blk * BLOCK_MLP
        w = min(BLOCK_MLP, n - i0)
        th = np.empty((D, BLOCK_MLP))
        m = np.zeros((D, BLOCK_MLP))
        v = np.zeros((D, BLOCK_MLP))
        g = np.empty((D, BLOCK_MLP))
        o = np.empty(BLOCK_MLP)
        for d in range(D):
            for j in range(w):
                th[d, j] = theta[d, i0 + j]
        for t in range(1, steps + 1):
            for d in range(D):
                for j in range(w):
                    g[d, j] = 0.0
            for i in range(ns):
                x0 = X[i, 0]
                x1 = X[i, 1]
                for j in range(w):
                    o[j] = th[oc, j]
                for k in range(h):
                    for j in range(w):
                        o[j] += th[ov + k, j] * math.tanh(th[2 * k, j] * x0 + th[2 * k + 1, j] * x1 + th[ob + k, j])
                for j in range(w):
                    o[j] = (1.0 / (1.0 + math.exp(-o[j])) - y[i]) / ns
                    g[oc, j] += o[j]
                for k in range(h):
                    for j in range(w):
                        a = math.tanh(th[2 * k, j] * x0 + th[2 * k + 1, j] * x1 + th[ob + k, j])
                        g[ov + k, j] += o[j] * a
                        dz = o[j] * th[ov + k, j] * (1.0 - a * a)
                        g[ob + k, j] += dz
                        g[2 * k, j] += dz * x0
                        g[2 * k + 1, j] += dz * x1
            bc1 = 1.0 - b1 ** t
            c2 = math.sqrt(1.0 - b2 ** t)
            for d in range(D):
                for j in range(w):
                    gd = g[d, j]
                    m[d, j] += (1.0 - b1) * (gd - m[d, j])
                    v[d, j] = v[d, j] * b2 + (1.0 - b2) * gd * gd
                    th[d, j] -= lr[i0 + j] / bc1 * m[d, j] / (math.sqrt(v[d, j]) / c2 + eps)
        for d in range(D):
            for j in range(w):
                theta[d, i0 + j] = th[d, j]


#: SplitMix64's constants and the minibatch permutation's stream (``optlab.objectives._sampling``)
_G64, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_PERM_KEY = np.uint64((0x5EEDBA7C * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & ((1 << 64) - 1))
MLP_BATCH = 32


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _shuffled(pos, ns, bits, key):
    """Position ``pos`` of the epoch's shuffled [0, ns): a 4-round Feistel network on ``bits``
    bits keyed by ``key``, cycle-walking back into [0, ns)."""
    wl = bits // 2
    wr = np.uint64(bits - wl)
    ml = (np.uint64(1) << np.uint64(wl)) - np.uint64(1)
    mr = (np.uint64(1) << wr) - np.uint64(1)
    v = np.uint64(pos)
    while True:
        lo = v & mr
        t = ((v >> wr) ^ _mix(lo + key + _G64)) & ml
        hi2 = (lo ^ _mix(t + key + _G64 + _G64)) & mr
        t2 = (t ^ _mix(hi2 + key + _G64 + _G64 + _G64)) & ml
        v = (t2 << wr) | ((hi2 ^ _mix(t2 + key + _G64 + _G64 + _G64 + _G64)) & mr)
        if v < np.uint64(ns):
            return np.int64(v)


@njit(parallel=True, cache=True, nogil=True)
def adam_mlp_minibatch_blocked(theta, X, y, lr, steps, b1, b2, eps, h, m, seed):
    """:func:`adam_mlp_blocked` with minibatches of ``m`` drawn as the engine draws them (each
    trajectory's epoch shuffled by its own keyed permutation, the last batch of an epoch short):
    the sampling a user would add by hand, one permuted position per trajectory and sample."""
    D, n = theta.shape
    ns = X.shape[0]
    bits = max(1, int(math.ceil(math.log2(ns))))
    nb = (ns + m - 1) // m
    ob, ov, oc = 2 * h, 3 * h, 4 * h
    nblk = (n + BLOCK_MLP - 1) // BLOCK_MLP
    for blk in prange(nblk):
        i0 = blk * BLOCK_MLP
        w = min(BLOCK_MLP, n - i0)
        th = np.empty((D, BLOCK_MLP))
        mm = np.zeros((D, BLOCK_MLP))
        v = np.zeros((D, BLOCK_MLP))
        g = np.empty((D, BLOCK_MLP))
        o = np.empty(BLOCK_MLP)
        keys = np.empty(BLOCK_MLP, np.uint64)
        idx = np.empty(BLOCK_MLP, np.int64)
        for d in range(D):
            for j in range(w):
                th[d, j] = theta[d, i0 + j]
        for t in range(1, steps + 1):
            epoch = (t - 1) // nb
            start = (t - 1 - epoch * nb) * m
            cnt = min(m, ns - start)
            for j in range(w):
                z = _mix(np.uint64(seed) * _G64 + np.uint64(i0 + j))
                z = _mix(z + np.uint64(epoch) * _G64)
                keys[j] = _mix(z + _PERM_KEY)
            for d in range(D):
                for j in range(w):
                    g[d, j] = 0.0
            for r in range(cnt):
                for j in range(w):
                    idx[j] = _shuffled(start + r, ns, bits, keys[j])
                for j in range(w):
                    i = idx[j]
                    z = th[oc, j]
                    for k in range(h):
                        z += th[ov + k, j] * math.tanh(th[2 * k, j] * X[i, 0] + th[2 * k + 1, j] * X[i, 1]
                                                       + th[ob + k, j])
                    o[j] = (1.0 / (1.0 + math.exp(-z)) - y[i]) / cnt
                    g[oc, j] += o[j]
                for k in range(h):
                    for j in range(w):
                        i = idx[j]
                        a = math.tanh(th[2 * k, j] * X[i, 0] + th[2 * k + 1, j] * X[i, 1] + th[ob + k, j])
                        g[ov + k, j] += o[j] * a
                        dz = o[j] * th[ov + k, j] * (1.0 - a * a)
                        g[ob + k, j] += dz
                        g[2 * k, j] += dz * X[i, 0]
                        g[2 * k + 1, j] += dz * X[i, 1]
            bc1 = 1.0 - b1 ** t
            c2 = math.sqrt(1.0 - b2 ** t)
            for d in range(D):
                for j in range(w):
                    gd = g[d, j]
                    mm[d, j] += (1.0 - b1) * (gd - mm[d, j])
                    v[d, j] = v[d, j] * b2 + (1.0 - b2) * gd * gd
                    th[d, j] -= lr[i0 + j] / bc1 * mm[d, j] / (math.sqrt(v[d, j]) / c2 + eps)
        for d in range(D):
            for j in range(w):
                theta[d, i0 + j] = th[d, j]


# --- the two child processes ---------------------------------------------------------------------

def _engine_child(objective: str, x0: str, options: str = "") -> str:
    """A child that times the engine's first ``simulate`` of Adam on ``objective`` from ``x0``."""
    return f"""
import json, time
import numpy as np
import numba
import optlab
t0 = time.perf_counter()
r = optlab.simulate("adam", "{objective}", x0={x0}, steps={STEPS}{options})
wall = time.perf_counter() - t0
print({MARK!r} + json.dumps(dict(first_call_s=wall, load_s=r.timing["load_s"], x=r.x_final.tolist())))
"""


def _reference_child(fn: str, setup: str, x: str, args: str) -> str:
    """A child that times the first call ``fn(x, args)`` of a hand-written kernel of this module,
    after ``setup`` (data, in plain numpy); ``x`` (D, N) holds the final points."""
    return f"""
import json, time
import numpy as np
import numba
from optlab.bench.compile import {fn}
{setup}
lr = np.full({N_TRAJ}, {LR!r})
t0 = time.perf_counter()
{fn}({x}, {args})
wall = time.perf_counter() - t0
print({MARK!r} + json.dumps(dict(first_call_s=wall, x={x}.T.tolist())))
"""


_MLP_DATA = f"""from optlab.objectives._data import moons_data
X, y = moons_data(256, 0.1, 0)
theta = np.full(({MLP_DIM}, {N_TRAJ}), 0.1)"""
_MLP_X0 = f"np.full(({N_TRAJ}, {MLP_DIM}), 0.1)"

_ENGINE_CHILD = _engine_child("rosenbrock", f"np.zeros(({N_TRAJ}, 2))")
_REFERENCE_CHILD = _reference_child("adam_rosenbrock_blocked", f"x = np.zeros((2, {N_TRAJ}))", "x",
                                    f"lr, {STEPS}, 0.9, 0.999, 1e-8")
_ENGINE_MLP_CHILD = _engine_child("mlp", _MLP_X0)
_REFERENCE_MLP_CHILD = _reference_child("adam_mlp_blocked", _MLP_DATA, "theta",
                                        f"X, y, lr, {STEPS}, 0.9, 0.999, 1e-8, {MLP_HIDDEN}")
_ENGINE_MLP_MB_CHILD = _engine_child("mlp", _MLP_X0,
                                     f", objective_options=dict(batch_size={MLP_BATCH}, full_loss=False)")
_REFERENCE_MLP_MB_CHILD = _reference_child("adam_mlp_minibatch_blocked", _MLP_DATA, "theta",
                                           f"X, y, lr, {STEPS}, 0.9, 0.999, 1e-8, {MLP_HIDDEN}, {MLP_BATCH}, 0")

CHILDREN = {"engine": _ENGINE_CHILD, "reference": _REFERENCE_CHILD,
            "engine_mlp": _ENGINE_MLP_CHILD, "reference_mlp": _REFERENCE_MLP_CHILD,
            "engine_mlp_minibatch": _ENGINE_MLP_MB_CHILD, "reference_mlp_minibatch": _REFERENCE_MLP_MB_CHILD}
#: workload -> (its engine child, its reference child, what it runs, the reference's function)
WORKLOADS = {
    "rosenbrock": ("engine", "reference", f"adam/rosenbrock float64 D=2, first call on {N_TRAJ} trajectories x "
                                          f"{STEPS} steps", "adam_rosenbrock_blocked"),
    "mlp": ("engine_mlp", "reference_mlp", f"adam/mlp float64 D={MLP_DIM} (full batch, 256 samples), first call on "
                                           f"{N_TRAJ} trajectories x {STEPS} steps", "adam_mlp_blocked"),
    "mlp_minibatch": ("engine_mlp_minibatch", "reference_mlp_minibatch",
                      f"adam/mlp float64 D={MLP_DIM} (minibatches of {MLP_BATCH} of 256 samples, full_loss=False), "
                      f"first call on {N_TRAJ} trajectories x {STEPS} steps", "adam_mlp_minibatch_blocked"),
}


def child_command(kind: str) -> list[str]:
    """The command line of one measurement: ``kind`` is "engine" or "reference"."""
    return [sys.executable, "-c", CHILDREN[kind]]


def child_env(cache_root, base=None) -> dict:
    """The environment of a child: ``base`` (default ``os.environ``) with its own, new cache
    folders under ``cache_root`` (``OPTLAB_CACHE_DIR``, ``NUMBA_CACHE_DIR``) and this
    process's optlab first on ``PYTHONPATH``, so the child times the same source."""
    env = dict(os.environ if base is None else base)
    root = Path(cache_root)
    env["OPTLAB_CACHE_DIR"] = str(root / "optlab")
    env["NUMBA_CACHE_DIR"] = str(root / "numba")
    here = str(Path(__file__).resolve().parents[2])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    env["PYTHONPATH"] = os.pathsep.join([here, *paths])
    return env


def parse_child(stdout: str) -> dict:
    """The figures of a child from its stdout (the last line starting with :data:`MARK`);
    raises ``ValueError`` when there is none or it is not a JSON object with a finite,
    non-negative ``first_call_s``."""
    lines = [ln[len(MARK):] for ln in stdout.splitlines() if ln.startswith(MARK)]
    if not lines:
        raise ValueError(f"no line starting with {MARK.strip()!r} in the child's output")
    out = json.loads(lines[-1])
    if not isinstance(out, dict):
        raise ValueError(f"the child's figures are not a JSON object: {lines[-1][:200]}")
    first = out.get("first_call_s")
    if not isinstance(first, (int, float)) or not math.isfinite(first) or first < 0:
        raise ValueError(f"the child's first_call_s is not a duration: {first!r}")
    return out


def run_child(kind: str, cache_root, timeout=900) -> dict:
    """Run one measurement in a new process with the caches under ``cache_root``;
    adds ``process_s``, the child's whole wall time (interpreter start and imports too)."""
    t0 = time.perf_counter()
    p = subprocess.run(child_command(kind), env=child_env(cache_root), capture_output=True, text=True,
                       timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"the {kind} compile measurement failed (exit {p.returncode}):\n"
                           f"{(p.stdout + p.stderr)[-3000:]}")
    out = parse_child(p.stdout)
    out["process_s"] = wall
    return out


def cpu_model(cpuinfo: str | None = None) -> str:
    """The "model name" of /proc/cpuinfo (or of the text given), else ``platform.processor()``."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def best_median(values) -> dict:
    vals = [float(v) for v in values]
    return {"best": min(vals), "median": statistics.median(vals)}


def bench_compile(repeat: int = 3, log=None, workload: str = "rosenbrock") -> dict:
    """The compile figures (see the module's docstring) as a dict; ``log(str)`` gets a line per
    measurement as it is made. ``workload``: "rosenbrock" (Adam x Rosenbrock against
    :func:`adam_rosenbrock_blocked`), "mlp" (Adam x the MLP against :func:`adam_mlp_blocked`) or
    "mlp_minibatch" (the MLP with minibatches against :func:`adam_mlp_minibatch_blocked`)."""
    repeat = max(1, int(repeat))
    eng, ref_kind, what, ref_fn = WORKLOADS[workload]
    samples: dict = {k: [] for k in ("engine_cold_s", "engine_load_s", "engine_warm_s", "engine_warm_load_s",
                                     "reference_cold_s", "reference_warm_s")}
    diffs = []
    with tempfile.TemporaryDirectory(prefix="optlab-bench-compile-") as tmp:
        for rep in range(repeat):
            root = Path(tmp) / str(rep)
            cold = run_child(eng, root / "engine")
            warm = run_child(eng, root / "engine")  # the caches the cold run filled
            samples["engine_cold_s"].append(cold["first_call_s"])
            samples["engine_load_s"].append(cold["load_s"])
            samples["engine_warm_s"].append(warm["first_call_s"])
            samples["engine_warm_load_s"].append(warm["load_s"])
            ref = run_child(ref_kind, root / "reference")
            ref_warm = run_child(ref_kind, root / "reference")
            samples["reference_cold_s"].append(ref["first_call_s"])
            samples["reference_warm_s"].append(ref_warm["first_call_s"])
            diffs.append(float(np.max(np.abs(np.asarray(cold["x"]) - np.asarray(ref["x"])))))
            if log:
                log(f"  run {rep + 1}/{repeat}: engine cold {cold['first_call_s']:.2f} s (load_s "
                    f"{cold['load_s']:.2f} s), warm {warm['first_call_s']:.3f} s; reference cold "
                    f"{ref['first_call_s']:.2f} s, warm {ref_warm['first_call_s']:.3f} s")
    out = {"workload": f"{what}, new process, empty OPTLAB_CACHE_DIR and NUMBA_CACHE_DIR", "name": workload,
           "reference_function": ref_fn,
           "cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "repeat": repeat, "samples": samples}
    for key, vals in samples.items():
        out[key.removesuffix("_s")] = best_median(vals)
    out["ratio_best"] = out["engine_cold"]["best"] / out["reference_cold"]["best"]
    out["ratio_median"] = out["engine_cold"]["median"] / out["reference_cold"]["median"]
    out["target_ratio"] = TARGET_RATIO
    out["max_abs_diff_x"] = max(diffs)
    return out


def print_compile(row: dict) -> None:
    def bm(d, fmt=".2f"):
        return f"{d['best']:{fmt}} s / {d['median']:{fmt}} s"
    print(f"\ncompile: {row['workload']}")
    print(f"  {row['cpu_model']}, {row['cpu_cores']} cores; best / median of {row['repeat']}")
    print(f"  engine kernel, cold     first simulate {bm(row['engine_cold'])}   (timing['load_s'] "
          f"{bm(row['engine_load'])})")
    ref_fn = row.get("reference_function", "adam_rosenbrock_blocked")
    print(f"  reference kernel, cold  first call     {bm(row['reference_cold'])}   (hand-written, "
          f"optlab.bench.compile.{ref_fn})")
    ok = "ok" if row["ratio_best"] <= row["target_ratio"] else "ABOVE TARGET"
    print(f"  ratio engine/reference  {row['ratio_best']:.2f}x best, {row['ratio_median']:.2f}x median  "
          f"(target <= {row['target_ratio']:g}x: {ok})")
    print(f"  warm load (new process, filled cache): engine first simulate {bm(row['engine_warm'], '.3f')} "
          f"(load_s {bm(row['engine_warm_load'], '.3f')});\n"
          f"                                         reference first call {bm(row['reference_warm'], '.3f')}")
    print(f"  same arithmetic: max |x_engine - x_reference| after {STEPS} steps = {row['max_abs_diff_x']:.1e}")
