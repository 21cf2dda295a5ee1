"""The CUDA engine: the CPU engine's kernel, one trajectory per GPU thread.

One source. The optimizer's ``init``/``step`` and the objective's
``value_grad`` -- the same plain functions the CPU engine inlines -- are
wrapped as CUDA device functions in a generated module (cached on disk like
the CPU kernels, see :mod:`optlab.engine.codegen`), and a ``@cuda.jit`` kernel
runs them with the CPU template's semantics:

* one thread per trajectory, a grid-stride loop over trajectories;
* per-thread ``cuda.local.array`` blocks of width B = 1 -- x (D, 1), g (D, 1),
  f (1,), st (S, D, 1), sc (K, 1), hp (H, 1), ctx (3,) -- with D, S, K, H
  compile-time constants of the generated source, so the kernel functions
  see exactly the arrays they see on the CPU;
* the same counter-based RNG: gradient noise keyed by (seed, traj, step, k);
* the same records, best loss, divergence step, tol step, extra records
  (``spec.record_state``) and final scalars (``spec.final_scalars``).

:func:`run` has the interface :func:`optlab.engine.core.simulate` calls: it
estimates the device memory first (free memory from the driver) and, when the
records of all trajectories do not fit, runs in trajectory chunks, copying
each chunk back before the next; when not even one trajectory fits it raises
an :class:`~optlab.errors.OptlabError` with the numbers.

Nothing here imports numba.cuda at module level: ``import optlab`` never
touches CUDA. Missing pieces (numba-cuda, the driver, a GPU, the CUDA
compiler) raise one-line errors that say what is missing and how to fix it.
docs/CUDA.md has the design notes and what was tested where.
"""
from __future__ import annotations

import importlib.util
import math
import time
import warnings

import numpy as np

from ..errors import OptlabError
from . import codegen

THREADS_PER_BLOCK = 128
SIM_THREADS_PER_BLOCK = 8  # the simulator runs each thread as a Python thread
FREE_FRACTION = 0.9  # of the driver's free memory the engine plans to use ...
RESERVE_BYTES = 256 << 20  # ... minus this, for the context, local memory and the launch

#: What the last :func:`run` did (device, chunks, launch configuration); for benchmarks.
LAST_RUN: dict = {}

_USE_CPU = "or run on the CPU with device='cpu' (engine=cpu on the command line)"

_TEMPLATE = '''{header}"""optlab CUDA kernel: D={dim}, {dtype} (generated; do not edit)."""
# numba-cuda {numba_cuda}; FMA contraction: {contract}
import math
from numba import cuda, float64, int64, {dtype}
from optlab.engine.cuda_ops import device_function
from optlab.engine.driver import start as _start, observe as _observe, perturb as _perturb, finish as _finish
{imports}{variant_imports}

start = device_function(_start)
observe = device_function(_observe)
perturb = device_function(_perturb)
finish = device_function(_finish)

opt_init = device_function(_opt_init)
opt_step = device_function(_opt_step)
obj_fg = device_function(_obj_fg)

DT = {dtype}
D = {dim}
H = {n_hyper}
SA = {n_state_alloc}
KA = {n_scalar_alloc}
HA = {n_hyper_alloc}
NEX = {n_extra}
NSX = {n_final}
EX0 = {extra_slot0}
FS0 = {final_slot0}


@cuda.jit(cache=True)
def run(x0, hp, hs, p, steps, rec_every, f_target, tol, blowup, noise, clip, seed, i_off,
        rec_x, rec_f, rec_e, x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out{sched_args}{bound_args}):
    N = x0.shape[0]
    x = cuda.local.array((D, 1), DT)
    g = cuda.local.array((D, 1), DT)
    f = cuda.local.array(1, DT)
    st = cuda.local.array((SA, D, 1), DT)
    sc = cuda.local.array((KA, 1), float64)  # float64 in every run, as the CPU engine's (cpu.workspace)
    hb = cuda.local.array((HA, 1), float64)
    ctx = cuda.local.array(3, int64)
    bf = cuda.local.array(1, float64)
    gn = cuda.local.array(1, float64)
    bt = cuda.local.array(1, int64)
    dt = cuda.local.array(1, int64)
    ht = cuda.local.array(1, int64)
    for i in range(cuda.grid(1), N, cuda.gridsize(1)):
        # a fresh block of width 1 per trajectory (g and f stand in for the unused look-ahead arrays)
        start(x0, hp, i, 1, x, g, f, g, f, st, sc, hb, bf, gn, bt, dt, ht)
        ctx[0] = seed
        ctx[1] = 0
        ctx[2] = i_off + i
{sched_start}        opt_init(x, st, sc, hb, hs, 1)
        for t in range(steps + 1):
            ctx[1] = t
{sched_load}            obj_fg(x, g, f, p, 1, ctx)
            observe(t, steps, rec_every, x, f, g, st, EX0, NEX, f_target, tol, blowup,
                    bf, bt, dt, ht, gn, i, 1, rec_x, rec_f, rec_e)
{sched_record}            if t == steps:
                break
            perturb(g, noise, clip, seed, i_off + i, t, 1)
            opt_step(x, g, st, sc, hb, hs, t + 1, 1)
{bound_step}{sched_after}        finish(x, f, gn, bf, bt, dt, ht, sc, FS0, NSX, i, 1,
               x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out)
'''


# --- what is installed --------------------------------------------------------

def _require_numba_cuda():
    """numba.cuda from numba-cuda, or a one-line OptlabError."""
    try:
        found = importlib.util.find_spec("numba_cuda") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise OptlabError("device='cuda' needs numba-cuda, which is not installed: "
                          f"pip install 'optlab[cuda]' (or numba-cuda[cu12]), {_USE_CPU}")
    try:
        from numba import cuda
    except ImportError as e:  # e.g. the CUDA Python bindings are missing
        msg = " ".join(str(e).split())
        raise OptlabError(f"device='cuda': numba.cuda does not import ({msg}); "
                          f"pip install 'numba-cuda[cu12]' (or [cu13]), {_USE_CPU}") from None
    return cuda


def _require_gpu(cuda):
    """Raise a one-line OptlabError unless the driver and a GPU are there."""
    from numba.cuda.cudadrv import driver as drv
    d = drv.driver
    reason = None
    try:
        ok = d.is_available
    except Exception as e:  # CudaSupportError from cuInit
        ok, reason = False, str(e)
    if not ok:
        reason = " ".join(str(d.initialization_error or reason or "unknown error").split())
        if "lib" not in vars(d):  # find_driver() failed: no libcuda (hasattr would raise here)
            raise OptlabError(
                "device='cuda' found no NVIDIA driver (the CUDA driver library libcuda could not be "
                f"loaded); run on a machine with an NVIDIA GPU and its driver installed, {_USE_CPU}")
        raise OptlabError(
            f"device='cuda' found no usable GPU: the NVIDIA driver reports {reason}; check nvidia-smi "
            f"and CUDA_VISIBLE_DEVICES, {_USE_CPU}")
    if len(cuda.gpus) == 0:
        raise OptlabError(f"device='cuda' found no GPU (the NVIDIA driver lists none); check nvidia-smi "
                          f"and CUDA_VISIBLE_DEVICES, {_USE_CPU}")
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm_ok = nvvm.is_available()
    except Exception:
        nvvm_ok = False
    if not nvvm_ok:
        raise OptlabError(
            "device='cuda' found a GPU but not the CUDA compiler (libNVVM): pip install "
            f"'numba-cuda[cu12]' (or [cu13]), or set CUDA_HOME to a CUDA toolkit, {_USE_CPU}")


def require() -> object:
    """numba.cuda, checked: numba-cuda installed, and a driver and GPU (unless simulating)."""
    cuda = _require_numba_cuda()
    from . import cuda_ops
    if not cuda_ops.SIMULATOR:
        _require_gpu(cuda)
    return cuda


def available() -> tuple[bool, str]:
    """(True, device name) or (False, the reason), without raising."""
    try:
        cuda = require()
        from . import cuda_ops
        if cuda_ops.SIMULATOR:
            return True, "CUDA simulator"
        return True, _device_name(cuda)
    except OptlabError as e:
        return False, str(e)


def _device_name(cuda) -> str:
    try:
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # pragma: no cover - informational only
        return "GPU"


# --- the generated kernel -----------------------------------------------------

# the scheduled and bounded variants, as the CPU template's (engine/cpu.py): blocks of width 1
_SCHED_ARGS = ", lrtab, mtab, sidx, pst, popt, rec_lr"
_SCHED_START = """        same = schedule_start(sidx, i, 1, hb, SR, MOM >= 0, PLATEAU)
        if PROGRAM:
            schedule_step(lrtab, sidx[i:i + 1], hp, LR, i, 1, 0, hb, LR, same)
        elif not PLATEAU:  # ReduceLROnPlateau starts from the optimizer's lr, in hb already
            schedule_load(lrtab, i, 0, hb, LR)
        if MOM >= 0:
            schedule_load(mtab, i, 0, hb, MOM)
        if PLATEAU:
            plateau_start(pst, popt, sidx, i, 1)
"""
_SCHED_LOAD = """            if t > 0 and PROGRAM:
                schedule_step(lrtab, sidx[i:i + 1], hp, LR, i, 1, t, hb, LR, same)
            elif t > 0 and not PLATEAU:
                schedule_load(lrtab, i, t, hb, LR)
                if MOM >= 0:
                    schedule_load(mtab, i, t, hb, MOM)
"""
_SCHED_RECORD = """            if t % rec_every == 0:
                record_lr(t, rec_every, hb, LR, i, 1, rec_lr)
"""
_SCHED_AFTER = """            if PLATEAU:
                plateau_step(f, hb, LR, pst, popt, sidx, i, 1, same)
"""
_SCHED_IMPORT = """
from optlab.engine.driver import (schedule_start as _schedule_start, schedule_load as _schedule_load,
                                  schedule_step as _schedule_step,
                                  plateau_start as _plateau_start, plateau_step as _plateau_step,
                                  record_lr as _record_lr)
schedule_start = device_function(_schedule_start)
schedule_load = device_function(_schedule_load)
schedule_step = device_function(_schedule_step)
plateau_start = device_function(_plateau_start)
plateau_step = device_function(_plateau_step)
record_lr = device_function(_record_lr)
LR = {lr_row}
MOM = {mom_row}
SR = {sched_row}
PLATEAU = {plateau}
PROGRAM = {program}"""
_BOUND_ARGS = ", lo, hi"
_BOUND_STEP = """            clamp(x, lo, hi, 1)
"""
_BOUND_IMPORT = """
from optlab.engine.driver import clamp as _clamp
clamp = device_function(_clamp)"""
HEADER = codegen.register_template("cuda", _TEMPLATE + _SCHED_ARGS + _SCHED_START + _SCHED_LOAD + _SCHED_RECORD
                                   + _SCHED_AFTER + _SCHED_IMPORT + _BOUND_ARGS + _BOUND_STEP + _BOUND_IMPORT)


def source(opt_spec, obj_spec, dim: int, dtype="float64", schedule=None, bounded=False) -> tuple[str, tuple, str]:
    """(kernel source, the functions it inlines, module tag) for this pair (``schedule`` and
    ``bounded``: the variants of :func:`optlab.engine.cpu.source`)."""
    if opt_spec.kernel_source is not None or opt_spec.lookahead is not None:
        raise OptlabError(f"Optimizer '{opt_spec.name}' brings its own CPU kernel and has no CUDA "
                          f"kernel; {_USE_CPU}")
    import numba_cuda
    from . import cuda_ops
    dtype = np.dtype(dtype).name
    if dtype not in ("float64", "float32"):
        raise OptlabError(f"Invalid dtype: {dtype!r} (must be 'float64' or 'float32')")
    k = opt_spec.kernels
    fns = (k.init, k.step, obj_spec.value_grad_kernel, cuda_ops.device_function)
    extra = opt_spec.record_slots
    final = opt_spec.final_slots
    n_hyper = len(opt_spec.vector)
    src = _TEMPLATE.format(
        header=HEADER, dim=int(dim), dtype=dtype,
        numba_cuda=numba_cuda.__version__, contract="on" if cuda_ops.CONTRACT else "off",
        n_hyper=n_hyper, n_hyper_alloc=n_hyper + 1,
        n_state_alloc=max(opt_spec.n_state, 1), n_scalar_alloc=max(opt_spec.n_scalar, 1),
        n_extra=len(extra), extra_slot0=extra[0] if extra else 0,
        n_final=len(final), final_slot0=final[0] if final else 0,
        imports="\n".join([
            codegen.import_line(fns[0], "_opt_init"),
            codegen.import_line(fns[1], "_opt_step"),
            codegen.import_line(fns[2], "_obj_fg"),
        ]),
        **_variant(opt_spec, schedule, bounded),
    )
    tag = codegen.safe_tag("cuda", k.__name__.rsplit(".", 1)[-1], obj_spec.value_grad_kernel.__name__,
                           f"d{int(dim)}", dtype) + ("" if schedule is None else "_sched") + ("_bnd" if bounded else "")
    return src, fns, tag


def _variant(opt_spec, schedule, bounded) -> dict:
    """The template's variant placeholders: empty for a plain run."""
    from .cpu import schedule_momentum_row
    out = dict(sched_args="", sched_start="", sched_load="", sched_record="", sched_after="",
               bound_args="", bound_step="", variant_imports="")
    if schedule is not None:
        vec = tuple(opt_spec.vector)
        mom = schedule_momentum_row(opt_spec) if schedule == "table+momentum" else -1
        out.update(sched_args=_SCHED_ARGS, sched_start=_SCHED_START, sched_load=_SCHED_LOAD,
                   sched_record=_SCHED_RECORD, sched_after=_SCHED_AFTER,
                   variant_imports=_SCHED_IMPORT.format(lr_row=vec.index("lr"), mom_row=mom, sched_row=len(vec),
                                                        plateau=schedule == "plateau",
                                                        program=schedule == "program"))
    if bounded:
        out.update(bound_args=_BOUND_ARGS, bound_step=_BOUND_STEP, variant_imports=out["variant_imports"] + _BOUND_IMPORT)
    return out


def kernel(opt_spec, obj_spec, dim: int, dtype="float64", schedule=None, bounded=False):
    """The ``@cuda.jit`` ``run`` dispatcher for this pair (generated module, disk-cached)."""
    _require_numba_cuda()
    src, fns, tag = source(opt_spec, obj_spec, dim, dtype, schedule, bounded)
    return codegen.load(tag, src).run


def arg_types(dim: int, n_hyper: int, dtype="float64", n_extra: int = 0):
    """Numba types of ``run``'s arguments (C-contiguous arrays), e.g. for ``cuda.compile_ptx``."""
    from numba import typeof, types
    dt = np.dtype(dtype)

    def arr(ndim, d=dt):
        return typeof(np.empty((1,) * ndim, dtype=d))

    i64, f64 = types.int64, types.float64
    # x0 in the run's dtype, the hyperparameters float64 in every run (core.simulate)
    return (arr(2), arr(2, np.float64), arr(1, np.float64), arr(1, np.float64),
            i64, i64, f64, f64, f64, f64, f64, i64, i64,
            arr(3), arr(2), arr(4), arr(2), arr(1), arr(1, np.float64), arr(1, np.float64),
            arr(1, np.int64), arr(1, np.int64), arr(1, np.int64), arr(2, np.float64))


def compile_ptx(opt_spec, obj_spec, dim: int, dtype="float64", cc=(9, 0)) -> str:
    """PTX of the kernel for this pair, compiled as :func:`run` compiles it (exact_fp)."""
    cuda = _require_numba_cuda()
    from . import cuda_ops
    if cuda_ops.SIMULATOR:
        raise OptlabError("compile_ptx needs the real numba.cuda, not the simulator (unset NUMBA_ENABLE_CUDASIM)")
    run_ = kernel(opt_spec, obj_spec, dim, dtype)
    sig = arg_types(dim, len(opt_spec.vector), dtype, len(opt_spec.record_state))
    with cuda_ops.exact_fp():
        ptx, _ = cuda.compile_ptx(run_.py_func, sig, cc=tuple(cc))
    return ptx


# --- memory -------------------------------------------------------------------

def bytes_per_trajectory(n_rec, dim, n_hyper, itemsize, n_extra=0, n_final=0) -> int:
    """Device bytes one trajectory needs: inputs, records and final values (the hyperparameters
    float64 in every run)."""
    return int(itemsize * (dim + n_rec * (dim * (1 + n_extra) + 1) + dim + 1)
               + 8 * (n_hyper + 2 + 3 + max(1, n_final)))


def plan_chunks(n, n_rec, dim, n_hyper, itemsize, free_bytes, steps, record_every,
                n_extra=0, n_final=0, device="the GPU") -> tuple[int, int]:
    """(trajectories per chunk, bytes per trajectory) that fit ``free_bytes``.

    Raises a one-line OptlabError, with the numbers and a record stride that
    would fit, when not even one trajectory fits.
    """
    per = bytes_per_trajectory(n_rec, dim, n_hyper, itemsize, n_extra, n_final)
    usable = FREE_FRACTION * float(free_bytes) - RESERVE_BYTES
    if usable < per:
        per_rec = itemsize * (dim * (1 + n_extra) + 1)
        base = per - n_rec * per_rec
        fit = int((usable - base) // per_rec) if usable > base else 0
        hint = (f"use record_every={max(record_every, -(-steps // (fit - 1)))} or more"
                if fit >= 2 else "free GPU memory (other processes hold it)")
        raise OptlabError(
            f"device='cuda': one trajectory needs {_size(per)} of GPU memory ({n_rec} records x "
            f"{dim} dims), but only {_size(max(usable, 0))} of the {_size(free_bytes)} free on {device} "
            f"are usable ({FREE_FRACTION:.0%} of free minus {_size(RESERVE_BYTES)} reserved); {hint}")
    return int(min(n, usable // per)), per


def _size(nbytes) -> str:
    nbytes = float(nbytes)
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes:.0f} bytes"


# --- the engine call ----------------------------------------------------------

def run(opt, obj, x0, hp, hs, p, scalars, out, progress=None, *, threads_per_block=None,
        max_blocks=None, free_bytes=None, schedule=None) -> dict:
    """Run the CUDA kernel for ``opt`` on ``obj``, writing into ``out`` (as the CPU engine).

    ``x0`` (n, D), ``hp`` (H, n), ``hs``, ``p`` and ``scalars`` = (steps,
    record_every, f_target, tol, blowup, grad_noise, clip, seed) are what
    :func:`optlab.engine.core.simulate` prepares; ``out`` holds its host
    arrays. ``threads_per_block``/``max_blocks`` override the launch
    configuration and ``free_bytes`` the driver's free memory (tests use them
    to exercise the grid-stride loop and the chunking). ``schedule``: the
    scheduler's kind (``out["sched"]`` holds its arrays, tables one trajectory
    wide); ``out["bounds"]``: (lo, hi).

    Returns ``{load_s, kernel_s, transfer_s, run_s}``: generating/loading and
    compiling the kernel, the kernel itself, host<->device copies, and
    everything after loading.
    """
    cuda = require()
    from . import cuda_ops
    sim = cuda_ops.SIMULATOR
    t_start = time.perf_counter()
    n, dim = x0.shape
    dtype = x0.dtype
    steps, record_every, f_target, tol, blowup, noise, clip, seed = scalars
    scal = (int(steps), int(record_every), float(f_target), float(tol), float(blowup), float(noise),
            float(clip), int(seed))
    n_rec = out["rec_x"].shape[1]
    n_extra = len(opt.record_state)
    n_final = out["ex_out"].shape[1]
    sched = out.get("sched", ())
    box = out.get("bounds", ())
    run_ = kernel(opt, obj, dim, dtype, schedule, bool(box))
    load_s = time.perf_counter() - t_start

    t_run = time.perf_counter()
    name = "CUDA simulator" if sim else _device_name(cuda)
    if free_bytes is None:
        free_bytes, _total = cuda.current_context().get_memory_info()
    free_bytes = float(free_bytes)
    if math.isinf(free_bytes):
        chunk = n
    else:
        chunk, _per = plan_chunks(n, n_rec, dim, hp.shape[0], dtype.itemsize, free_bytes, int(steps),
                                  int(record_every), n_extra, n_final, device=name)
    show = progress if progress is not None else (n * int(steps) >= 5e9)
    bar = None
    if show:
        from ..progress import bar as make_bar
        bar = make_bar(total=n, desc="trajectories (cuda)", enabled=progress)
        if bar is not None:
            chunk = min(chunk, max(4096, -(-n // 20)))
    tpb = int(threads_per_block or (SIM_THREADS_PER_BLOCK if sim else THREADS_PER_BLOCK))

    d_hs = cuda.to_device(np.ascontiguousarray(hs, dtype=np.float64))
    d_p = cuda.to_device(np.ascontiguousarray(p, dtype=np.float64))
    kernel_s = transfer_s = 0.0
    compiled = sim
    n_chunks = 0
    dev, dev_m = None, -1
    try:
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            m = b - a
            t0 = time.perf_counter()
            if m != dev_m:  # output buffers: once, again only for a short last chunk
                dev = None  # drop the old ones first (numba frees lazily, and retries on OOM)
                dev = _device_outputs(cuda, m, n_rec, dim, n_extra, n_final, dtype)
                dev_m = m
            d_x0 = cuda.to_device(np.ascontiguousarray(x0[a:b]))
            d_hp = cuda.to_device(np.ascontiguousarray(hp[:, a:b]))
            d_sched = ()
            if sched:  # lrtab, mtab, sidx, pst, popt, rec_lr: this chunk's rows
                lt, mt, si, ps, po, _ = sched
                whole = lt.shape[0] == 1 or schedule == "program"  # a program is the same for every chunk
                d_sched = (cuda.to_device(lt if whole else np.ascontiguousarray(lt[a:b])),
                           cuda.to_device(mt if mt.shape[0] == 1 else np.ascontiguousarray(mt[a:b])),
                           cuda.to_device(np.ascontiguousarray(si[a:b])), cuda.to_device(np.ascontiguousarray(ps[:, a:b])),
                           cuda.to_device(po), cuda.device_array((m, n_rec), dtype=sched[5].dtype))
            args = (d_x0, d_hp, d_hs, d_p, *scal, out.get("i_off", 0) + a, *(dev[k] for k in _OUT_KEYS), *d_sched,
                    *(float(v) for v in box))
            transfer_s += time.perf_counter() - t0
            if not compiled:  # compile (or load from the cache) outside the kernel timing
                t0 = time.perf_counter()
                with cuda_ops.exact_fp():
                    run_.compile(tuple(run_.typeof_pyval(v) for v in args))
                load_s += time.perf_counter() - t0
                compiled = True
            blocks = -(-m // tpb)
            if max_blocks:
                blocks = min(blocks, int(max_blocks))
            t0 = time.perf_counter()
            with cuda_ops.exact_fp(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*Grid size.*")  # small runs: low occupancy is fine
                run_[blocks, tpb](*args)
            cuda.synchronize()
            kernel_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            for key in _OUT_KEYS:
                if key != "rec_e":
                    dev[key].copy_to_host(out[key][a:b])
                elif n_extra:
                    out["rec_e"][:, a:b] = dev["rec_e"].copy_to_host()
            if sched:
                d_sched[5].copy_to_host(sched[5][a:b])
            transfer_s += time.perf_counter() - t0
            n_chunks += 1
            del args, d_x0, d_hp, d_sched
            if bar is not None:
                bar.update(m)
    except OptlabError:
        raise
    except Exception as e:
        _raise_toolkit_error(e)
        raise
    finally:
        dev = None
        if bar is not None:
            bar.close()
    run_s = time.perf_counter() - t_run
    LAST_RUN.clear()
    LAST_RUN.update(device=name, simulator=sim, chunks=n_chunks, chunk_size=int(chunk),
                    threads_per_block=tpb, free_bytes=free_bytes, n_traj=int(n), steps=int(steps),
                    dtype=dtype.name, fma_contraction=bool(cuda_ops.CONTRACT))
    return dict(load_s=load_s, kernel_s=kernel_s, transfer_s=transfer_s, run_s=run_s)


_OUT_KEYS = ("rec_x", "rec_f", "rec_e", "x_out", "f_out", "gn_out", "best_f", "best_t", "div_t", "hit_t",
             "ex_out")


def _device_outputs(cuda, m, n_rec, dim, n_extra, n_final, dtype):
    """Device arrays for the kernel's outputs, ``m`` trajectories (names as ``simulate``'s ``out``)."""
    return dict(
        rec_x=cuda.device_array((m, n_rec, dim), dtype=dtype),
        rec_f=cuda.device_array((m, n_rec), dtype=dtype),
        rec_e=cuda.device_array((n_extra, m, n_rec, dim) if n_extra else (0, 1, 1, 1), dtype=dtype),
        x_out=cuda.device_array((m, dim), dtype=dtype),
        f_out=cuda.device_array(m, dtype=dtype),
        gn_out=cuda.device_array(m, dtype=np.float64),
        best_f=cuda.device_array(m, dtype=np.float64),
        best_t=cuda.device_array(m, dtype=np.int64),
        div_t=cuda.device_array(m, dtype=np.int64),
        hit_t=cuda.device_array(m, dtype=np.int64),
        ex_out=cuda.device_array((m, n_final), dtype=np.float64),
    )


def _raise_toolkit_error(e):
    """Turn a missing CUDA toolkit piece (NVVM, NVRTC, libdevice) into one line."""
    kind = type(e).__name__
    if kind in ("NvvmSupportError", "NvrtcSupportError", "DynamicLibNotFoundError", "CudaSupportError"):
        msg = " ".join(str(e).split())[:200]
        raise OptlabError(f"device='cuda' could not compile the kernel: a CUDA toolkit library is missing "
                          f"({kind}: {msg}); pip install 'numba-cuda[cu12]' (or [cu13]) or set CUDA_HOME, "
                          f"{_USE_CPU}") from None
