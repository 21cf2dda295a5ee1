"""``python -m optlab.bench --peers``: the engine against what a user would pick instead.

The workload is the lab's main job, an lr sweep: Adam (torch's defaults
otherwise) on 2-D Rosenbrock, float64, N trajectories (default 100,000) x
T steps (default 1,000), one learning rate per trajectory, log-spaced from
1e-4 to 1 (:func:`sweep_workload`; start points uniform in the objective's
domain, seed 0). The engine records x and the loss every 100th step. Its
peers, each run on the same start points and learning rates:

* ``numba``: :func:`adam_sweep_blocked` below, a hand-written blocked Numba
  kernel in torch's operation order (the practical reference: ``prange`` over
  blocks of 256 trajectories, the time loop inside the block, the block's
  trajectories innermost so every coordinate's update is a vector loop; it
  records x every 100th step too);
* ``jax``: JAX + optax -- the parameters a pytree of two (N,) arrays (the
  first and second coordinate of every trajectory), the gradient
  ``jax.vmap(jax.grad(f))`` over trajectories, ``optax.adam`` with the (N,)
  array of learning rates (its last stage multiplies each trajectory's update
  by -lr), ``optax.apply_updates``; ``lax.scan`` over the steps (an outer
  scan over the records, an inner one over the 100 steps between them),
  ``jax.jit``, float64 (``jax_enable_x64``). optax's Adam is torch's up to
  rounding: eps outside the square root, both bias corrections; it divides
  the moments by them (``m / bc1``, ``sqrt(v / bc2)``) where torch scales lr
  and divides sqrt(v) by ``sqrt(bc2)``. Measured on the 2-core EPYC, this
  spelling was the fastest of those tried: ``jax.vmap`` of a whole
  one-trajectory step (``optax.adam(lr_i)`` inside) was 4-8x slower (each
  trajectory then carries its own step count, so both bias corrections become
  a ``pow`` per trajectory and step), an (N, 2) or (2, N) array 1.2-1.5x
  slower than the pair of (N,) arrays;
* ``torch``: torch batched over trajectories -- the parameters stacked as one
  (N, 2) tensor, the closed-form Rosenbrock gradient, and Adam's update
  written with torch tensor ops in ``torch.optim.Adam``'s order (``lerp_``,
  ``mul_().addcmul_()``, ``sqrt() / sqrt(bc2) + eps``, ``addcdiv_``):
  ``torch.optim.Adam`` takes one learning rate per parameter group, not a
  tensor of them, so a per-trajectory lr needs the update written out; it
  records x every 100th step. It runs on torch's default threads (printed):
  on an oversubscribed machine torch's OpenMP threads wait on each other
  (measured on the 2-core EPYC at load ~4: 2 threads 10x slower than 1), so
  read its figure with its CPU seconds per wall second;
* ``numpy``: :data:`optlab.bench.references.REFERENCES` ``["adam"]`` with the
  lr array, timed on min(T, 200) steps (its cost per step is constant; it
  keeps no records), its final points from one full-length run.

Every peer is run once before the clock starts (compiles, jit traces, the
engine's kernel load), then all are run in turn -- engine, numba, jax, torch,
numpy, engine, ... -- at least ``repeat`` times and for at least
``min_seconds``, keeping the best of each (the machine is shared and noisy).
Printed: trajectory-steps/s of each, engine/peer ratios with the targets
(engine >= 1.5x JAX+optax, >= 0.9x the hand-written kernel), the CPU model,
and for each peer the share of the converging trajectories (the engine's
final loss <= :data:`CONVERGED_LOSS`) whose final points agree with the
engine's within ``rtol`` :data:`RTOL`, ``atol`` :data:`ATOL`, and the share
that are the same bits. A peer that is not installed is skipped with one line
naming the extra (``pip install -e ".[bench]"``).
"""
from __future__ import annotations

import math
import os
import time

import numpy as np
from numba import njit, prange

from ..engine.ops import fma

#: the lr sweep: log-spaced from LR_RANGE[0] to LR_RANGE[1], one per trajectory
LR_RANGE = (1e-4, 1.0)
BETAS = (0.9, 0.999)
EPS = 1e-8
RECORD_EVERY = 100
#: trajectories per block of the hand-written kernel (the engine's block at D = 2)
BLOCK = 256
#: a trajectory "converges" when the engine's final loss is at most this
CONVERGED_LOSS = 1e-6
#: final points agree when |x_peer - x_engine| <= ATOL + RTOL * |x_engine| in both coordinates
RTOL, ATOL = 1e-6, 1e-9
#: engine / peer targets of the issue
TARGETS = {"jax": 1.5, "numba": 0.9}
LABELS = {"engine": "optlab engine", "numba": "hand-written Numba kernel", "jax": "JAX + optax (vmap, scan, jit)",
          "torch": "torch, batched over trajectories", "numpy": "numpy reference"}
EXTRA = 'pip install -e ".[bench]"'


def sweep_workload(n, seed=0, lr_range=LR_RANGE):
    """(x0 of shape (n, 2), lr of shape (n,)): starts uniform in Rosenbrock's domain, lr log-spaced."""
    rng = np.random.default_rng(seed)
    x0 = np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])
    lr = np.geomspace(lr_range[0], lr_range[1], n) if n > 1 else np.full(n, lr_range[0])
    return x0, lr


def rosenbrock_loss(x):
    """2-D Rosenbrock of x of shape (N, 2)."""
    return 100.0 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (1.0 - x[:, 0]) ** 2


# --- the hand-written Numba kernel ----------------------------------------------------------------

@njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def adam_sweep_blocked(x, lr, steps, b1, b2, eps, record_every, rec):
    """torch's Adam on 2-D Rosenbrock, one lr per trajectory, in place on ``x`` of shape (2, N);
    ``rec`` (steps // record_every + 1, 2, N) gets x at step 0 and every ``record_every``-th step.

    torch's operations and roundings: ``m.lerp_(g, 1 - b1)`` (one FMA, torch's branch for a
    weight below 0.5), ``v.mul_(b2).addcmul_(g, g, value=1 - b2)`` (one FMA), step size
    ``lr / (1 - b1**t)``, ``denom = sqrt(v) / sqrt(1 - b2**t) + eps``,
    ``x.addcdiv_(m, denom, value=-step_size)``."""
    n = x.shape[1]
    nblk = (n + BLOCK - 1) // BLOCK
    w1 = 1.0 - b1
    w2 = 1.0 - b2
    small = abs(w1) < 0.5
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
            rec[0, 0, i0 + j] = x0[j]
            rec[0, 1, i0 + j] = x1[j]
        for t in range(1, steps + 1):
            tf = float(t)
            bc1 = 1.0 - b1 ** tf
            c2 = math.sqrt(1.0 - b2 ** tf)
            for j in range(w):
                ss[j] = lr[i0 + j] / bc1
            for j in range(w):
                a = x0[j]
                b = x1[j]
                t1 = b - a * a
                g0 = -400.0 * a * t1 - 2.0 * (1.0 - a)
                g1 = 200.0 * t1
                d0 = g0 - m0[j]
                d1 = g1 - m1[j]
                mm0 = fma(w1, d0, m0[j]) if small else fma(-d0, 1.0 - w1, g0)
                mm1 = fma(w1, d1, m1[j]) if small else fma(-d1, 1.0 - w1, g1)
                vv0 = fma(w2 * g0, g0, v0[j] * b2)
                vv1 = fma(w2 * g1, g1, v1[j] * b2)
                m0[j] = mm0
                m1[j] = mm1
                v0[j] = vv0
                v1[j] = vv1
                x0[j] = a + (-ss[j] * mm0) / (math.sqrt(vv0) / c2 + eps)
                x1[j] = b + (-ss[j] * mm1) / (math.sqrt(vv1) / c2 + eps)
            if t % record_every == 0:
                r = t // record_every
                for j in range(w):
                    rec[r, 0, i0 + j] = x0[j]
                    rec[r, 1, i0 + j] = x1[j]
        for j in range(w):
            x[0, i0 + j] = x0[j]
            x[1, i0 + j] = x1[j]


# --- the runners: each make_* returns run() -> final points (N, 2) as numpy -----------------------

def make_engine(x0, lr, steps, record_every=RECORD_EVERY):
    import optlab

    def run():
        return optlab.simulate("adam", "rosenbrock", x0=x0, steps=steps, record_every=record_every, lr=lr,
                               progress=False).x_final
    return run


def make_numba(x0, lr, steps, record_every=RECORD_EVERY):
    b1, b2 = BETAS
    rec = np.empty((steps // record_every + 1, 2, x0.shape[0]))

    def run():
        x = np.ascontiguousarray(x0.T)
        adam_sweep_blocked(x, lr, steps, b1, b2, EPS, record_every, rec)
        return x.T
    return run


def make_numpy(x0, lr, steps, record_every=RECORD_EVERY):
    from .references import REFERENCES, rosen_grad

    def run():
        with np.errstate(all="ignore"):
            return REFERENCES["adam"](x0.T.copy(), steps, rosen_grad, lr=lr, betas=BETAS, eps=EPS).T
    return run


def jax_modules():
    """(jax, jax.numpy, optax) with float64 enabled, or None when the bench extra is missing."""
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp, optax


def make_jax(x0, lr, steps, record_every=RECORD_EVERY):
    jax, jnp, optax = jax_modules()
    b1, b2 = BETAS
    n_rec = steps // record_every
    tail = steps - n_rec * record_every

    def f(p):  # one trajectory's loss, p = (x[0], x[1])
        a, b = p
        return 100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2

    grad = jax.vmap(jax.grad(f))  # over trajectories

    def one_step(params, state, lr):
        # optax.adam with the (N,) array of learning rates: its last stage scales each
        # trajectory's update by -lr (broadcast over the trajectory axis of each leaf)
        updates, state = optax.adam(lr, b1=b1, b2=b2, eps=EPS).update(grad(params), state, params)
        return optax.apply_updates(params, updates), state

    @jax.jit
    def sweep(params, lr):
        state = optax.adam(1.0, b1=b1, b2=b2, eps=EPS).init(params)

        def step(carry, _):
            return one_step(carry[0], carry[1], lr), None

        def between_records(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=record_every)
            return carry, carry[0]

        carry, recs = jax.lax.scan(between_records, (params, state), None, length=n_rec)
        if tail:
            carry, _ = jax.lax.scan(step, carry, None, length=tail)
        return carry[0], recs

    params = (jnp.asarray(x0[:, 0], dtype=jnp.float64), jnp.asarray(x0[:, 1], dtype=jnp.float64))
    lj = jnp.asarray(lr, dtype=jnp.float64)

    def run():
        return jax.block_until_ready(sweep(params, lj))[0]

    run.final = lambda out: np.column_stack([np.asarray(out[0]), np.asarray(out[1])])
    return run


def torch_module():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_adam_update(x, g, m, v, t, lrt, b1=BETAS[0], b2=BETAS[1], eps=EPS):
    """One step of ``torch.optim.Adam``'s single-tensor update on stacked parameters (N, D), in
    place, with ``lrt`` an (N, 1) tensor of per-trajectory learning rates: torch's operations in
    torch's order (``torch.optim.Adam`` itself takes one lr per parameter group, not a tensor of
    them)."""
    m.lerp_(g, 1.0 - b1)
    v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
    step_size = lrt / (1.0 - b1 ** t)
    denom = (v.sqrt() / math.sqrt(1.0 - b2 ** t)).add_(eps)
    x.addcdiv_(-step_size * m, denom)


def make_torch(x0, lr, steps, record_every=RECORD_EVERY):
    torch = torch_module()
    xt0 = torch.tensor(x0, dtype=torch.float64)
    lrt = torch.tensor(lr, dtype=torch.float64)[:, None]

    def run():
        with torch.no_grad():
            x = xt0.clone()
            m = torch.zeros_like(x)
            v = torch.zeros_like(x)
            g = torch.empty_like(x)
            recs = [x.clone()]
            for t in range(1, steps + 1):
                a, b = x[:, 0], x[:, 1]
                t1 = b - a * a
                torch.sub(-400.0 * a * t1, 2.0 * (1.0 - a), out=g[:, 0])
                torch.mul(t1, 200.0, out=g[:, 1])
                torch_adam_update(x, g, m, v, t, lrt)
                if t % record_every == 0:
                    recs.append(x.clone())
            return x
    run.final = lambda out: out.numpy()
    return run


MAKERS = {"engine": make_engine, "numba": make_numba, "jax": make_jax, "torch": make_torch, "numpy": make_numpy}
AVAILABLE = {"jax": lambda: jax_modules() is not None, "torch": lambda: torch_module() is not None}


def best_alternating(fns, repeat, min_seconds=0.0, settle=False):
    """[(best wall seconds, CPU seconds of that run)] of each workload, run in turn (f0, f1, f2,
    then f1, f2, f0, ...: each round starts one later, so that no workload always runs right after
    the same other) at least ``repeat`` times each and for at least ``min_seconds`` in all, so that
    all see the same spells of load on a shared machine. The CPU seconds (this process, all its
    threads) over the wall seconds tell how many cores a workload kept busy.

    ``settle``: each timed run follows an untimed run of the same workload (f0, f0*, f1, f1*, ...;
    * timed). For runs of a few milliseconds: a peer's thread pool keeps spinning on the cores
    for a while after its run returns (torch's OpenMP threads do), and the next workload's
    threads would otherwise be timed sharing the cores with it. Measured on the linear
    regression row of ``--section objectives`` (2,000 x 20 steps, 2 cores): the engine
    timed right after torch 1.2e7-1.3e7 trajectory-steps/s, with torch left out 1.95e7."""
    best = [(math.inf, math.inf)] * len(fns)
    start = time.perf_counter()
    i = 0
    with np.errstate(all="ignore"):
        while i < max(1, repeat) or time.perf_counter() - start < min_seconds:
            # each round starts one later (f0 f1 f2, f1 f2 f0, ...): no workload always follows the same one
            order = [(k + i) % len(fns) for k in range(len(fns))]
            i += 1
            for k in order:
                fn = fns[k]
                if settle:
                    fn()
                c0 = time.process_time()
                t0 = time.perf_counter()
                fn()
                wall = time.perf_counter() - t0
                if wall < best[k][0]:
                    best[k] = (wall, time.process_time() - c0)
    return best


def agreement(x_peer, x_engine, converging, rtol=RTOL, atol=ATOL):
    """(share of the converging trajectories whose final points agree within tolerance,
    share of them that are the same bits)."""
    if not converging.any():
        return math.nan, math.nan
    xp, xe = x_peer[converging], x_engine[converging]
    close = (np.abs(xp - xe) <= atol + rtol * np.abs(xe)).all(axis=1)
    same = (xp == xe).all(axis=1)
    return float(close.mean()), float(same.mean())


def bench_peers(n=100_000, steps=1000, repeat=3, min_seconds=10.0, peers=("numba", "jax", "torch", "numpy"),
                numpy_steps=200, log=None):
    """The figures of ``--peers`` as a dict (see the module's docstring); ``log(str)`` gets a line
    per skipped peer."""
    from .compile import cpu_model
    x0, lr = sweep_workload(n)
    names, skipped = ["engine"], {}
    for p in peers:
        if p in AVAILABLE and not AVAILABLE[p]():
            skipped[p] = f"{LABELS[p]}: not installed, skipped ({EXTRA})"
            if log:
                log(f"  {skipped[p]}")
            continue
        names.append(p)
    finals, runs, timed_steps = {}, [], {}
    with np.errstate(all="ignore"):
        for name in names:
            run = MAKERS[name](x0, lr, steps)
            out = run()  # warm-up: compile, trace, load; its final points are the agreement's
            finals[name] = np.asarray(getattr(run, "final", np.asarray)(out), dtype=np.float64)
            if name == "numpy" and numpy_steps and numpy_steps < steps:
                run = MAKERS[name](x0, lr, numpy_steps)
                timed_steps[name] = numpy_steps
            runs.append(run)
    best = best_alternating(runs, repeat, min_seconds)
    x_eng = finals["engine"]
    with np.errstate(all="ignore"):
        loss = rosenbrock_loss(x_eng)
    converging = np.isfinite(loss) & (loss <= CONVERGED_LOSS)
    rows = {}
    for name, (t, cpu) in zip(names, best):
        s = timed_steps.get(name, steps)
        rows[name] = {"label": LABELS[name], "steps_per_s": n * s / t, "best_s": t, "cpu_per_wall": cpu / t,
                      "steps_timed": s}
    eng = rows["engine"]["steps_per_s"]
    for name in names[1:]:
        r = rows[name]
        r["engine_ratio"] = eng / r["steps_per_s"]
        if name in TARGETS:
            r["target_ratio"] = TARGETS[name]
        r["agree_share"], r["same_bits_share"] = agreement(finals[name], x_eng, converging)
    return {"workload": f"adam/rosenbrock-2d float64 N={n} T={steps}, lr log-spaced {LR_RANGE[0]:g}..{LR_RANGE[1]:g} "
                        f"per trajectory, engine records every {RECORD_EVERY}th step",
            "cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "numba_threads": _numba_threads(),
            "torch_threads": torch_module().get_num_threads() if "torch" in names else None,
            "converging": int(converging.sum()), "n": n, "converged_loss": CONVERGED_LOSS, "rtol": RTOL,
            "atol": ATOL, "rows": rows, "skipped": skipped}


def _numba_threads():
    import numba
    return numba.get_num_threads()


def print_peers(res):
    print(f"\npeers on the lr sweep: {res['workload']}")
    print(f"  {res['cpu_model']}, {res['cpu_cores']} cores, numba threads {res['numba_threads']}"
          + (f", torch threads {res['torch_threads']}" if res.get("torch_threads") else ""))
    print(f"  {'':<34} {'traj-steps/s':>12} {'cpu/wall':>8} {'engine/peer':>11}  agreement on converging "
          "trajectories")
    for name, r in res["rows"].items():
        line = f"  {r['label']:<34} {r['steps_per_s']:>12.3e} {r['cpu_per_wall']:>8.2f}"
        if name != "engine":
            line += f" {r['engine_ratio']:>10.2f}x  {r['agree_share']:>6.1%} allclose, {r['same_bits_share']:>6.1%} same bits"
            if "target_ratio" in r:
                ok = "PASS" if r["engine_ratio"] >= r["target_ratio"] else "BELOW TARGET"
                line += f"  (target >= {r['target_ratio']:g}x: {ok})"
            if r["steps_timed"] != res["rows"]["engine"]["steps_timed"]:
                line += f"  [timed on {r['steps_timed']} steps]"
        print(line)
    for line in res["skipped"].values():
        print(f"  {line}")
    print(f"  converging: the engine's final loss <= {res['converged_loss']:g} ({res['converging']} of {res['n']}); "
          f"agree: |x_peer - x_engine| <= {res['atol']:g} + {res['rtol']:g} |x_engine| per coordinate")
