"""The batched CPU engine: one compiled kernel per (optimizer, objective) pair.

Trajectories are processed in blocks of ``block_size(dim)``; inside a
block the time loop runs outside and the loops over the block's trajectories
run innermost, so LLVM vectorises the optimizer step and the gradient across
trajectories (docs/DESIGN.md has the measurements). Every step:

1. evaluate f and grad f for the block (``value_grad``),
2. the driver rules (:mod:`optlab.engine.driver`, compiled once and called,
   not inlined): divergence, best loss, the first step that met the
   tolerance, every ``record_every``-th state, gradient noise and clipping,
3. the optimizer's ``step``.

The kernel is a plain ``nogil`` function over the trajectories it is given;
the engine runs it on chunks of trajectories in a thread pool
(:func:`optlab.engine.core._run_chunked`). Without ``prange`` a kernel
compiles in less than half the time (parfor lowering was about 60% of it),
and with ``error_model="numpy"`` it vectorises as the parfor body did.

After the last step f and grad f are evaluated once more, so records hold
``steps // record_every + 1`` rows and ``x[:, 0]`` equals ``x0``.
"""
from __future__ import annotations

import threading

import numpy as np

from . import codegen, jitopts, ops

def block_size(dim: int, dtype="float64") -> int:
    """Trajectories per block: wide for low dimension (the per-step work that
    does not scale with the block -- bias corrections, the calls to the
    objective and the driver -- is shared by more trajectories; measured at
    D = 2: 16 -> 64 +25%, 64 -> 256 +13%), narrower when the block's state
    would spill out of L1. 256 -> 1024 measured +25-30% for Adam and NAdam
    on 100,000 trajectories with engine v2, when short runs were still padded
    to a whole block (the suite of small runs took 7:30 -> 9:06). Now a block
    works on its first ``w`` columns only (``BLOCK_STEP``, the optimizer's step
    excepted), but 1024 measured
    within the noise of 256 with the driver's lighter calls, so it stays 256.
    float32 runs at D <= 2 take 512: their step is half as long (8 lanes a
    vector), so the fixed part weighs twice as much; Adam's lr sweep, N =
    100,000, T = 1,000 (2-core Intel Xeon, AVX-512): 5.66e8 -> 6.10e8-6.14e8
    trajectory-steps/s (1024: 6.07e8-6.18e8; float64 at 512 within the noise
    of 256)."""
    if dim <= 2:
        return 512 if np.dtype(dtype).itemsize == 4 else 256
    return 64 if dim <= 4 else 32 if dim <= 16 else 16


#: the objective and the driver work on a block's first columns in multiples of this (a vector
#: loop's stride, unrolled): a run of 5 trajectories evaluates 32 columns, not a whole block. The
#: optimizer's init and step keep the whole block, whose width the kernel takes from its workspace
#: (``x.shape[1]``, :func:`block_size`): one kernel serves every dimension (a compile-time width
#: made one kernel per width, 256, 64, 32 and 16, and measured the same speed and compile time;
#: docs/DESIGN.md, "One kernel for every width")
BLOCK_STEP = 32

_TEMPLATE = '''{header}"""optlab CPU kernel (generated; do not edit)."""
import numpy as np
from numba import njit
from optlab.engine.driver_cpu import start, books, record, finish
{imports}

opt_init = njit(inline="always")(_opt_init)
opt_step = njit(inline="always")(_opt_step)

DTYPE = "{dtype}"  # the run's (a kernel compiles one signature; the block width B is the workspace's)
W = {step}
NEX = {n_extra}
EX0 = {extra_slot0}
NSX = {n_final}
FS0 = {final_slot0}


@njit({jit})
def run(x0, hp, hs, p, steps, rec_every, f_target, tol, blowup, noise, clip, seed, i_off,
        rec_x, rec_f, rec_e, x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out,
        x, g, f, xa, fa, st, sc, hb, bf, gn, bk, ctx, obj_fg, pert{sched_args}{bound_args}):
    # x .. ctx: this thread's block arrays (cpu.workspace), separate arguments so that they are
    # noalias (engine/jitopts.py); obj_fg: the objective, a first-class function (objective_cpu);
    # pert: gradient noise and clipping, likewise (driver_cpu.perturb_function)
    N = x0.shape[0]
    B = x.shape[1]  # trajectories a block: the workspace's width (cpu.block_size)
    bt = bk[0]
    dt = bk[1]
    ht = bk[2]
    for blk in range((N + B - 1) // B):
        i0 = blk * B
        n = min(B, N - i0)
        w = min(B, (n + W - 1) // W * W)  # the columns worked on: a short block is not padded to B
        start(x0, hp, i0, n, x, g, f, xa, fa, st, sc, hb, bf, gn, bt, dt, ht)
        ctx[0] = seed
        ctx[2] = i_off + i0
{sched_start}        opt_init(x, st, sc, hb, hs, B)
        for t in range(steps + 1):
            ctx[1] = t
{sched_load}            obj_fg(x, g, f, p, w, ctx)
            books(t, steps, f, g, f_target, tol, blowup, bf, bt, dt, ht, gn, w)
            if t % rec_every == 0:
                record(t, rec_every, x, f, st, EX0, NEX, dt, i0, n, rec_x, rec_f, rec_e)
{sched_record}            if t == steps:
                break
{look_eval}            if noise > 0.0 or clip > 0.0:
                pert(g, noise, clip, seed, i_off + i0, t, w)
            opt_step(x, g, st, sc, hb, hs, t + 1, B)
{bound_step}{sched_after}        finish(x, f, gn, bf, bt, dt, ht, sc, FS0, NSX, i0, n,
               x_out, f_out, gn_out, best_f, best_t, div_t, hit_t, ex_out)
'''


_LOOK_EVAL = """            opt_look(x, xa, st, sc, hb, hs, t + 1, B)
            obj_fg(xa, g, fa, p, w, ctx)
"""
# a scheduled kernel (optlab.schedulers): the lr (and momentum) rows loaded before each step from
# tables, or ReduceLROnPlateau's state machine after it; ``SR`` is the optimizer's H_SCHEDULE row
_SCHED_ARGS = ", lrtab, mtab, sidx, pst, popt, rec_lr"
_SCHED_START = """        same = schedule_start(sidx, i0, n, hb, SR, MOM >= 0, PLATEAU)
        if PROGRAM:
            for j in range(B):  # the block's option rows, once (bk[3]: the books' spare row)
                bk[3, j] = sidx[i0 + (j if j < n else 0)]
            schedule_step(lrtab, bk[3], hp, LR, i0, n, 0, hb, LR, same)
        elif not PLATEAU:  # ReduceLROnPlateau starts from the optimizer's lr, in hb already
            schedule_load(lrtab, blk, 0, hb, LR)
        if MOM >= 0:
            schedule_load(mtab, blk, 0, hb, MOM)
        if PLATEAU:
            plateau_start(pst, popt, sidx, i0, n)
"""
_SCHED_LOAD = """            if t > 0 and PROGRAM:
                schedule_step(lrtab, bk[3], hp, LR, i0, n, t, hb, LR, same)
            elif t > 0 and not PLATEAU:
                schedule_load(lrtab, blk, t, hb, LR)
                if MOM >= 0:
                    schedule_load(mtab, blk, t, hb, MOM)
"""
_SCHED_RECORD = """            if t % rec_every == 0:
                record_lr(t, rec_every, hb, LR, i0, n, rec_lr)
"""
_SCHED_AFTER = """            if PLATEAU:
                plateau_step(f, hb, LR, pst, popt, sidx, i0, n, same)
"""
# bounds: x.clamp_(lo, hi) after every step (compiled into the kernel, as schedule_load)
_BOUND_ARGS = ", lo, hi"
_BOUND_STEP = """            clamp(x, lo, hi, w)
"""
_BOUND_IMPORT = "from optlab.engine.driver import clamp"
_SCHED_IMPORT = """from optlab.engine.driver_cpu import schedule_start, plateau_start, record_lr
# compiled into the kernel: a call per step of a cached driver function cost the lr sweep a third of its speed
from optlab.engine.driver import schedule_load, schedule_step, plateau_step
LR = {lr_row}
MOM = {mom_row}
SR = {sched_row}
PLATEAU = {plateau}
PROGRAM = {program}"""
HEADER = codegen.register_template(
    "cpu", _TEMPLATE + _LOOK_EVAL + _SCHED_ARGS + _SCHED_START + _SCHED_LOAD + _SCHED_RECORD + _SCHED_AFTER
    + _SCHED_IMPORT + _BOUND_ARGS + _BOUND_STEP + _BOUND_IMPORT)


#: the kernel's own reference counting off: it allocates nothing (cpu.workspace passes every array
#: in), and with it on, Numba increfs and decrefs the block arrays around the IR-inlined optimizer
#: step, a dozen calls with an atomic add each, every block and step, that its pruning pass does
#: not remove (the step's loops lie between them): 5% of Adam's lr sweep on a 2-core AMD EPYC
#: (docs/DESIGN.md, "Reference counts"). The helpers it calls keep theirs (a null meminfo is a no-op)
NO_NRT = ", _nrt=False"


def has_shared_step(opt_spec) -> bool:
    """True when the optimizer's kernels offer ``step_shared``: its step without the paths of
    per-trajectory hyperparameters, for runs that have none (``source(shared=True)``)."""
    return opt_spec.kernel_source is None and hasattr(opt_spec.kernels, "step_shared")


def source(opt_spec, obj_spec, dim: int = 2, schedule: str | None = None, bounded: bool = False,
           record_state: tuple | None = None, shared: bool = False, dtype="float64") -> tuple[str, str]:
    """(generated source, file tag) of the CPU kernel for this pair.

    Optimizers that are not elementwise (LBFGS) or that evaluate the gradient
    elsewhere bring their own source through ``spec.kernel_source``.
    ``schedule``: None (a fixed lr), ``"table"`` (lr read from a table every
    step), ``"table+momentum"`` (lr and momentum or beta1), ``"program"`` (per-step
    operations on each lr, optlab.schedulers.program) or ``"plateau"``
    (ReduceLROnPlateau); each is its own kernel, so a run without a scheduler
    compiles none of it. ``bounded``: ``x.clamp_(lo, hi)`` after every step
    (two more arguments), likewise its own kernel. ``record_state``: the
    state rows recorded with x (default the spec's ``record_state``; more for
    ``track=("preconditioned_sharpness",)``), consecutive rows. ``shared``: every
    trajectory has the same hyperparameters and there is no scheduler; an optimizer
    with a ``step_shared`` (:func:`has_shared_step`) compiles that instead of ``step``
    (its own kernel, fewer paths to compile). ``dtype``: the run's (one kernel a dtype, as a
    kernel compiles one signature). ``dim`` does not change the source: the block width is
    the workspace's (:func:`block_size`), read by the kernel.
    """
    if opt_spec.kernel_source is not None:
        if schedule is not None or bounded:
            from ..errors import OptlabError
            what = "a learning-rate scheduler" if schedule is not None else "bounds"
            raise OptlabError(f"Optimizer '{opt_spec.name}' does not run with {what} "
                              "(they apply to the elementwise optimizers)")
        return opt_spec.kernel_source(obj_spec, dtype)
    key = (id(opt_spec), id(obj_spec), schedule, bounded, None if record_state is None else tuple(record_state),
           shared, np.dtype(dtype).str, jitopts.decorator_text())
    hit = _SOURCES.get(key)
    if hit is not None and hit[0] is opt_spec and hit[1] is obj_spec:
        return hit[2]  # every run asks: formatting the template cost ~10 us
    made = _source(opt_spec, obj_spec, schedule, bounded, record_state, shared, dtype)
    _SOURCES[key] = (opt_spec, obj_spec, made)
    return made


#: source's (src, tag) by its arguments (the specs checked by identity)
_SOURCES: dict = {}


def _source(opt_spec, obj_spec, schedule, bounded, record_state, shared, dtype) -> tuple[str, str]:
    k = opt_spec.kernels
    shared = shared and schedule is None and has_shared_step(opt_spec)
    imports = [codegen.import_line(k.init, "_opt_init"),
               codegen.import_line(k.step_shared if shared else k.step, "_opt_step")]
    look_eval = ""
    if opt_spec.lookahead is not None:
        # the optimizer takes its gradient at a point of its own (``lookahead``
        # fills xa from x and the state); records and checks stay those of x
        imports += [codegen.import_line(opt_spec.lookahead, "_opt_look"),
                    'opt_look = njit(inline="always")(_opt_look)']
        look_eval = _LOOK_EVAL
    extra = opt_spec.record_slots if record_state is None else [opt_spec.state.index(k) for k in record_state]
    final = opt_spec.final_slots
    sched = dict(sched_args="", sched_start="", sched_load="", sched_record="", sched_after="")
    if schedule is not None:
        vec = tuple(opt_spec.vector)
        mom = schedule_momentum_row(opt_spec) if schedule == "table+momentum" else -1
        imports.append(_SCHED_IMPORT.format(lr_row=vec.index("lr"), mom_row=mom, sched_row=len(vec),
                                            plateau=schedule == "plateau", program=schedule == "program"))
        sched = dict(sched_args=_SCHED_ARGS, sched_start=_SCHED_START, sched_load=_SCHED_LOAD,
                     sched_record=_SCHED_RECORD, sched_after=_SCHED_AFTER)
    if bounded:
        imports.append(_BOUND_IMPORT)
    src = _TEMPLATE.format(
        header=HEADER, dtype=np.dtype(dtype).name, step=BLOCK_STEP, jit=jitopts.decorator_text() + NO_NRT,
        n_extra=len(extra), extra_slot0=extra[0] if extra else 0,
        n_final=len(final), final_slot0=final[0] if final else 0,
        imports="\n".join(imports), look_eval=look_eval, **sched,
        bound_args=_BOUND_ARGS if bounded else "", bound_step=_BOUND_STEP if bounded else "",
    )
    more = "" if record_state is None or tuple(record_state) == tuple(opt_spec.record_state) else "_trk"
    return src, (tag(opt_spec, obj_spec) + ("_shared" if shared else "") + ("" if schedule is None else "_sched")
                 + ("_bnd" if bounded else "") + more)


def schedule_momentum_row(opt_spec) -> int:
    """The hyperparameter row a momentum-cycling scheduler sets: beta1 for optimizers with
    ``betas`` (torch's ``use_beta1``), else momentum; -1 when there is neither."""
    vec = tuple(opt_spec.vector)
    if "betas" in opt_spec.defaults and "beta1" in vec:
        return vec.index("beta1")
    if "momentum" in opt_spec.defaults and "momentum" in vec:
        return vec.index("momentum")
    return -1


def workspace(opt_spec, dim: int, dtype, hp_dtype) -> tuple:
    """One thread's block arrays, ``run``'s arguments ``x`` .. ``ctx``, zeroed by the kernel per block:
    x, g, f, xa, fa (the look-ahead point, 1 wide when unused), st, sc, hb, best loss, gradient
    norm, books (best step, divergence step, tolerance step) and the objective's context (with
    its scratch rows, ``ops.CTX_SCRATCH``). x, g, f and the state ``st`` are in the run's dtype;
    the per-trajectory scalars ``sc`` are float64 in every run (torch's step sizes and bias
    corrections are Python floats; a kernel rounds to float32 where torch does, NAdam's
    ``mu_product``, ASGD's ``eta``), as are the hyperparameters. L-BFGS's kernel
    (``kernel_source``) runs a trajectory at a time: its blocks are one wide."""
    b = 1 if opt_spec.kernel_source is not None else block_size(dim, dtype)
    wa = b if opt_spec.lookahead is not None else 1
    z = np.zeros
    return (z((dim, b), dtype), z((dim, b), dtype), z(b, dtype), z((dim, wa), dtype), z(wa, dtype),
            z((max(opt_spec.n_state, 1), dim, b), dtype), z((max(opt_spec.n_scalar, 1), b)),
            z((len(opt_spec.vector) + 1, b), hp_dtype), z(b), z(b), z((4, b), np.int64),
            z(ops.ctx_length(dim, b), np.int64))


_WS = threading.local()


def thread_workspace(opt_spec, dim: int, dtype, hp_dtype) -> tuple:
    """:func:`workspace`, kept per thread and reused by the next chunk of the same shape: the
    kernel sets every array it reads at the start of each block (``driver.start``), but for the
    objective's context ``ctx``, zeroed here at every hand-out as a new one was: its permutation
    tables carry a tag of what they were built for, and a narrower block's tables, written
    inside a wider block's, leave that one's tag in place (a later run of the same trajectories
    would read the overwritten tables as its own). Allocating the workspace took ~25 numpy calls
    a chunk (~40 us of a 2,000 x 20 run's ~1.6 ms). At most 8 shapes a thread are kept."""
    cache = getattr(_WS, "cache", None)
    if cache is None:
        cache = _WS.cache = {}
    key = (max(opt_spec.n_state, 1), max(opt_spec.n_scalar, 1), len(opt_spec.vector), opt_spec.lookahead is not None,
           dim, np.dtype(dtype).str, np.dtype(hp_dtype).str)
    ws = cache.get(key)
    if ws is None:
        if len(cache) >= 8:
            cache.clear()
        ws = cache[key] = workspace(opt_spec, dim, dtype, hp_dtype)
    else:
        ws[-1].fill(0)
    return ws


def tag(opt_spec, obj_spec=None) -> str:
    """A readable file-name prefix from the kernel functions' module (never a preset's name)."""
    return codegen.safe_tag("cpu", opt_spec.kernels.__name__.rsplit(".", 1)[-1])
