"""``simulate`` and ``sweep``: validate, allocate, call one compiled kernel."""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import os
import time

import numpy as np

from .. import objectives as _objectives
from .. import optimizers as _optimizers
from ..errors import OptlabError
from .result import Result

ENGINE_DEFAULTS = dict(
    steps=100, record_every=1, seed=0, dtype="float64", device="cpu",
    tol=1e-6, blowup=1e10, grad_noise=0.0, clip_grad_norm=0.0, max_memory_gb=None,
    progress=None, bounds=None, track=None,
)


def default_starts(obj, dim: int, n: int = 5, seed: int = 0) -> np.ndarray:
    """A handful of start points across the objective's domain."""
    if dim == 2 and obj.starts:
        return np.asarray(obj.starts[:n], dtype=float)
    box = obj.bounds(dim)
    lo = box[:, 0] + 0.1 * (box[:, 1] - box[:, 0])
    hi = box[:, 1] - 0.1 * (box[:, 1] - box[:, 0])
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, dim))


def _check_positive_int(name, v, minimum=1):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise OptlabError(f"Invalid {name}: {v!r} (must be an integer >= {minimum})")
    return int(v)


def _check_float(name, v, ok, allowed):
    if isinstance(v, (bool, np.bool_, str, bytes)):  # text: tol="1e-3" ran as 1e-3 (steps="3" was refused)
        raise OptlabError(f"Invalid {name}: {v!r} (must be {allowed})")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid {name}: {v!r} (must be {allowed})") from None
    if not ok(f):
        raise OptlabError(f"Invalid {name}: {f} (must be {allowed})")
    return f


def available_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_memory(n, n_rec, dim, itemsize, steps, record_every, max_memory_gb, n_extra=0):
    """Refuse a run whose records would not fit, naming a stride that would.

    The advice is computed with the same formula as the check, so following
    it (``record_every=<stride>``) fits; when not even the first and last
    records fit, it asks for fewer trajectories instead.
    """
    per_record = n * (dim * (1 + n_extra) + 1) * itemsize
    fixed = n * (6 * dim + 16) * 8
    need = per_record * n_rec + fixed
    limit = (max_memory_gb * 2**30) if max_memory_gb else 0.5 * available_memory_bytes()
    if need > limit:
        fit = int((limit - fixed) // per_record) if limit > fixed else 0  # records that fit
        head = (f"Recording {n} trajectories x {n_rec} records x {dim} dims needs {need / 2**30:.3g} GiB, "
                f"over the limit of {limit / 2**30:.3g} GiB")
        if fit >= 2:
            stride = max(record_every + 1, -(-steps // (fit - 1)))
            while steps // stride + 1 > fit:  # the formula above, checked
                stride += 1
            if stride <= steps:
                raise OptlabError(f"{head}; use record_every={stride} or more "
                                  "(or fewer trajectories, or raise max_memory_gb)")
        raise OptlabError(f"{head}; use fewer trajectories (or raise max_memory_gb)")
    return need


def check_options(steps=100, record_every=1, seed=0, dtype="float64", device="cpu", tol=1e-6, blowup=1e10,
                  grad_noise=0.0, clip_grad_norm=0.0, max_memory_gb=None, progress=None, bounds=None,
                  track=None) -> dict:
    """The engine options, checked one by one (one line each), as plain Python values.

    Used by :func:`simulate` and by the runner, which checks a config's
    ``engine`` section before anything runs or is written.
    """
    from .jitopts import WIDTH_ERROR
    from .warmup import workers_env
    if WIDTH_ERROR:
        raise OptlabError(WIDTH_ERROR)
    workers_env()  # a bad OPTLAB_COMPILE_WORKERS: one line, before anything runs
    out = dict(
        steps=_check_positive_int("steps", steps),
        record_every=_check_positive_int("record_every", record_every),
        seed=check_seed(seed),
        tol=_check_float("tol", tol, lambda v: v >= 0 and np.isfinite(v), "a finite number >= 0"),
        blowup=_check_float("blowup", blowup, lambda v: v > 0, "> 0 (inf: only NaN/inf loss diverges)"),
        grad_noise=_check_float("grad_noise", grad_noise, lambda v: v >= 0 and np.isfinite(v),
                                "a finite number >= 0"),
        clip_grad_norm=_check_float("clip_grad_norm", 0.0 if clip_grad_norm is None else clip_grad_norm,
                                    lambda v: v >= 0 and np.isfinite(v), "a finite number >= 0 (0 = off)"),
    )
    if isinstance(dtype, type) and dtype in (np.float64, np.float32, float):  # np.float32: the type itself
        dtype = np.dtype(dtype).name
    if dtype not in ("float64", "float32"):
        raise OptlabError(f"Invalid dtype: {dtype!r} (must be 'float64' or 'float32')")
    if device not in ("cpu", "cuda"):
        raise OptlabError(f"Invalid device: {device!r} (must be 'cpu' or 'cuda')")
    if max_memory_gb is not None:
        max_memory_gb = _check_float("max_memory_gb", max_memory_gb, lambda v: v > 0 and np.isfinite(v),
                                     "a number > 0, or null for half of the free memory")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise OptlabError(f"Invalid progress: {progress!r} (must be true, false or null)")
    out.update(dtype=dtype, device=device, max_memory_gb=max_memory_gb,
               progress=None if progress is None else bool(progress))
    if bounds is not None:
        out["bounds"] = check_bounds(bounds)
    if track:
        from .track import check_track
        out["track"] = check_track(track, None)
    return out


def check_finite_options(objective: str, options: dict) -> None:
    """Objective options that are numbers must be finite (``cond=inf`` gets one line)."""
    for key, v in options.items():
        if isinstance(v, (bool, np.bool_, str)) or v is None:
            continue
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # the objective's own checks speak for it
        if not np.isfinite(arr).all():
            raise OptlabError(f"Invalid {key} for objective '{objective}': {v!r} (must be a finite number)")


SEED_MAX = 2**63 - 1


def check_seed(seed) -> int:
    """The generator's key: an integer from 0 to 2**63 - 1, always passed on as a Python int.

    (A key outside int64 would give the kernel another argument type -- or
    none -- so the range is the same whatever ran before in the process.)
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
        raise OptlabError(f"Invalid seed: {seed!r} (must be an integer from 0 to 2**63 - 1)")
    return int(seed)


def check_finite_hyper(opt, values: dict) -> None:
    """Every numeric hyperparameter value finite: inf or NaN gets one line, whatever the optimizer."""
    for key, v in values.items():
        if v is None or isinstance(v, (str, bool, np.bool_)):
            continue
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # not numeric: the optimizer's own checks speak for it
        if not np.isfinite(arr).all():
            bad = arr.reshape(-1)[~np.isfinite(arr.reshape(-1))][0]
            raise OptlabError(f"Invalid {key} for optimizer '{opt.name}': {bad} (must be a finite number)")


def _as_x0(obj, x0, n_hyper):
    if x0 is None:
        dim = obj.default_dim()
        pts = default_starts(obj, dim)
    else:
        from ..optimizers._base import has_bool
        try:
            if has_bool(x0):
                raise TypeError("true/false is not a coordinate")
            pts = np.asarray(x0, dtype=np.float64)
        except (TypeError, ValueError):
            raise OptlabError(f"Invalid x0: {x0!r} (must be one point (dim,) or points (n, dim) of numbers)") from None
        if pts.ndim == 1:
            pts = pts[None, :]
        if pts.ndim != 2 or pts.shape[1] == 0:
            raise OptlabError(f"Invalid x0 of shape {pts.shape} (must be one point (dim,) or points (n, dim))")
        if pts.shape[0] == 0:  # went on to a ZeroDivisionError after the kernel's compile
            raise OptlabError(f"Invalid x0 of shape {pts.shape}: no start point (give at least one)")
    obj.check_dim(pts.shape[1])
    if not np.isfinite(pts).all():
        raise OptlabError("Invalid x0: contains NaN or inf")
    return pts


def _n_per_traj(params) -> int:
    """Number of trajectories implied by per-trajectory hyperparameters (1 if all scalar)."""
    from ..optimizers._base import PAIRS
    n = 1
    for key, v in params.items():
        # an array's shape as it is (an object copy of an lr sweep's array cost ~20 us a run)
        arr = v if isinstance(v, np.ndarray) and v.dtype != object else np.asarray(v, dtype=object)
        if key in PAIRS:  # a tuple per trajectory: (beta1, beta2), (ns_a, ns_b, ns_c), ...
            size = arr.size // len(PAIRS[key]) if arr.ndim >= 2 else 1
        else:
            size = arr.size if arr.ndim >= 1 else 1
        if size > 1:
            if n > 1 and size != n:
                raise OptlabError(f"Hyperparameter '{key}' has {size} values but another has {n}; "
                                  "give one value or one per trajectory (use optlab.sweep for grids)")
            n = size
    return n


_NOT_PER_TRAJECTORY = ("name", "schedulers", "milestones", "lr_lambda", "scale_fn")


def _n_scheduler(spec) -> int:
    """Trajectories implied by a scheduler's per-trajectory options (1 if none): the length of a
    numeric option given as a sequence, in the scheduler or its children (milestone lists, the
    children list and functions are not per-trajectory values)."""
    if not isinstance(spec, dict):
        return 1
    n = 1
    for key, v in spec.items():
        if key == "schedulers" and isinstance(v, (list, tuple)):
            for child in v:
                n = max(n, _n_scheduler(child))
        elif key not in _NOT_PER_TRAJECTORY and isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) == 1:
            n = max(n, len(v))
    return n


class DryRun(BaseException):
    """Raised by :func:`simulate` inside :func:`dry_run`, once every argument is checked and
    before anything is compiled or computed (a BaseException: a study's ``except Exception``
    does not swallow it)."""


_DRY_RUN = contextvars.ContextVar("optlab_dry_run", default=False)


@contextlib.contextmanager
def dry_run():
    """Within this block, the first :func:`simulate` call checks its arguments, then raises
    :class:`DryRun`: a study run this way performs every check it makes before its first engine
    call (its ``study.*`` values), and compiles nothing (``optlab.runner.prepare``)."""
    token = _DRY_RUN.set(True)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


def simulate(optimizer, objective, x0=None, *, steps=100, record_every=1, seed=0, dtype="float64",
             device="cpu", tol=1e-6, blowup=1e10, grad_noise=0.0, clip_grad_norm=0.0,
             max_memory_gb=None, objective_options=None, progress=None, scheduler=None, bounds=None,
             track=None, trajectory_offset=0, **hyper) -> Result:
    """Run ``optimizer`` on ``objective`` for many trajectories in one engine call.

    Parameters
    ----------
    optimizer, objective : str
        Registered names (``optlab.optimizers.names()``, ``optlab.objectives.names()``).
    x0 : array (dim,) or (n, dim), optional
        Start points; default: a handful across the objective's domain.
    steps : int
        Optimizer steps per trajectory.
    record_every : int
        Record x and the loss every k-th step: steps 0, k, 2k, ... (the last step
        too when k divides steps); records have ``steps // k + 1`` rows.
    seed : int
        Key of the counter-based generator (gradient noise, minibatches).
    trajectory_offset : int
        The index of the first trajectory in that key (the draws are keyed by
        (seed, trajectory, step)): a run of a larger run's trajectories
        ``k .. k + n`` with ``trajectory_offset=k`` draws that run's noise and
        minibatches, so its slices (the shards of ``engine.num_shards``) are
        the larger run bit for bit.
    dtype : "float64" or "float32"
    tol : float
        A trajectory "converged" when its final gradient norm, or its final
        gap to the known minimum value, is <= tol; ``tol_step`` is the step
        from which the run met the gap (or gradient) criterion to the end, -1
        when it ended outside (a run that reaches the tolerance and leaves it
        again has not reached it).
    blowup : float
        |loss| above this (or a non-finite loss) counts as divergence, from
        step 0 (a start whose loss is above it has diverged at step 0); the
        trajectory steps on, its records NaN from then (see :class:`Result`).
    grad_noise : float
        Std of additive Gaussian gradient noise (a stochastic-gradient stand-in).
    clip_grad_norm : float
        If > 0, rescale the gradient to at most this norm, as
        ``torch.nn.utils.clip_grad_norm_``.
    scheduler : dict, optional
        A learning-rate scheduler of ``torch.optim.lr_scheduler``:
        ``{"name": "StepLR", "step_size": 30, "gamma": 0.5}`` (torch's class
        name or its snake_case, torch's option names; each numeric option a
        scalar or one value per trajectory). The loop is torch's
        ``loss = closure(); opt.step(); sched.step()`` (ReduceLROnPlateau:
        ``sched.step(loss)``); ``res.lr`` holds the lr of every recorded step.
        See :mod:`optlab.schedulers`.
    bounds : (lo, hi), optional
        Clamp x into the box ``[lo, hi]`` after every step, as
        ``p.clamp_(lo, hi)`` after ``optimizer.step()`` (projected methods,
        online problems on an interval); the start point is not clamped.
    track : list of str, optional
        ``"sharpness"``: ``res.sharpness`` and ``res.hess_min``, the largest and
        smallest Hessian eigenvalue at every recorded x;
        ``"preconditioned_sharpness"`` (Adam, AdamW): ``res.preconditioned_sharpness``,
        the largest eigenvalue of Adam's preconditioned Hessian. See
        :mod:`optlab.engine.track`.
    **hyper
        Optimizer hyperparameters with torch.optim's names; each a scalar or
        one value per trajectory. A pair's parts are names too (``beta1``,
        ``beta2`` of ``betas``); given with the pair, a part overrides its
        element, as ``+optimizer.beta2=0.99`` does on the command line.
    """
    t_start = time.perf_counter()
    opt = _optimizers.get(optimizer)
    obj = _objectives.get(objective)
    check_objective(opt, obj)
    checked = check_options(steps=steps, record_every=record_every, seed=seed, dtype=dtype, device=device,
                            tol=tol, blowup=blowup, grad_noise=grad_noise, clip_grad_norm=clip_grad_norm,
                            max_memory_gb=max_memory_gb, progress=progress)
    steps, record_every, seed, dtype = checked["steps"], checked["record_every"], checked["seed"], checked["dtype"]
    tol, blowup, grad_noise, clip = checked["tol"], checked["blowup"], checked["grad_noise"], checked["clip_grad_norm"]
    max_memory_gb, progress = checked["max_memory_gb"], checked["progress"]
    if isinstance(trajectory_offset, (bool, np.bool_)) or not isinstance(trajectory_offset, (int, np.integer)) \
            or not 0 <= trajectory_offset < 2 ** 62:
        raise OptlabError(f"Invalid trajectory_offset: {trajectory_offset!r} (must be an integer >= 0)")
    if objective_options is not None and not isinstance(objective_options, dict):
        raise OptlabError(f"Invalid objective_options: {objective_options!r} (must be a dict of option -> value)")
    opt.check_names(hyper, also=_SIMULATE_OPTIONS)
    n_h = _n_per_traj(hyper)
    n_s = _n_scheduler(scheduler)
    if n_s > 1 and n_h > 1 and n_s != n_h:
        raise OptlabError(f"The scheduler has {n_s} values per trajectory but the hyperparameters have {n_h}; "
                          "give one value or one per trajectory (use optlab.sweep for grids)")
    which = "the scheduler's options have" if n_s > n_h else "hyperparameters have"
    n_h = max(n_h, n_s)
    pts = _as_x0(obj, x0, n_h)
    if pts.shape[0] == 1 and n_h > 1:
        pts = np.repeat(pts, n_h, axis=0)
    elif n_h > 1 and pts.shape[0] != n_h:
        starts = f"x0 has {pts.shape[0]} points" if x0 is not None else \
            f"no x0 was given, and '{obj.name}' has {pts.shape[0]} default starts,"
        raise OptlabError(f"{starts} but {which} {n_h} values; "
                          "give one start, or one start per value (use optlab.sweep for grids)")
    n, dim = pts.shape
    options = dict(objective_options or {})
    check_finite_options(obj.name, options)
    p = obj.make_params(dim, **options)
    np_dtype = np.dtype(dtype)
    hp, hs, hvals = opt.resolve(n, hyper, dtype=np_dtype)
    check_finite_hyper(opt, hvals)
    f_min = obj.min_value(dim, **options)
    n_rec = steps // record_every + 1
    box = None if bounds is None else check_bounds(bounds, opt, device)
    from . import track as _track
    tracks = _track.check_track(track, opt)
    rec_state = tuple(opt.record_state)
    if "preconditioned_sharpness" in tracks:
        if device != "cpu":
            raise OptlabError(f"track 'preconditioned_sharpness' runs on the CPU engine only; got device={device!r}")
        rec_state = rec_state + tuple(k for k in ("exp_avg_sq",) if k not in rec_state)
    sched = None if scheduler is None else schedule_plan(opt, scheduler, hvals, steps, n, dim, device, np_dtype)
    n_extra = len(rec_state)
    check_memory(n, n_rec, dim, np_dtype.itemsize, steps, record_every, max_memory_gb, n_extra)
    if device not in opt.devices:
        raise OptlabError(f"Optimizer '{opt.name}' runs on the {' and '.join(opt.devices)} engine only; "
                          f"got device={device!r}")
    if _DRY_RUN.get():
        raise DryRun()
    x0c = np.ascontiguousarray(pts, dtype=np_dtype)
    order = None
    if device == "cpu" and opt.kernel_source is None and grad_noise == 0.0 and not draws_per_trajectory(obj):
        from .cpu import block_size
        lr_row = opt.vector.index("lr") if "lr" in opt.vector else -1
        key = setting_key(hp, lr_row, None if sched is None else sched["index"])
        if key is not None:
            order = regroup(key, block_size(dim, np_dtype))
    if order is not None:  # the kernel runs the trajectories in this order; the outputs are put back
        x0c = np.ascontiguousarray(x0c[order])
        hp = np.ascontiguousarray(hp[:, order])
        if sched is not None:
            # the row index, and the tables the kernel reads by position (block-major) with it
            sched = dict(sched, index=np.ascontiguousarray(sched["index"][order]),
                         **(sched["reorder"](order) if "reorder" in sched else {}))
    out = dict(
        rec_x=np.empty((n, n_rec, dim), dtype=np_dtype),
        rec_f=np.empty((n, n_rec), dtype=np_dtype),
        rec_e=np.empty((n_extra, n, n_rec, dim) if n_extra else (0, 1, 1, 1), dtype=np_dtype),
        x_out=np.empty((n, dim), dtype=np_dtype),
        f_out=np.empty(n, dtype=np_dtype),
        gn_out=np.empty(n),
        best_f=np.empty(n),
        best_t=np.empty(n, dtype=np.int64),
        div_t=np.empty(n, dtype=np.int64),
        hit_t=np.empty(n, dtype=np.int64),
        ex_out=np.zeros((n, max(1, len(opt.final_scalars)))),
    )
    if box is not None:
        out["bounds"] = box
    out["i_off"] = int(trajectory_offset)
    if sched is not None:
        out["sched_kind"] = sched["kind"]
        out["sched"] = (sched["lr"], sched["momentum"], sched["index"], np.zeros((3, n)), sched["plateau"],
                        np.empty((n, n_rec), dtype=hp.dtype))
    f_target = np.nan if f_min is None else float(f_min)
    scalars = (steps, record_every, f_target, tol, blowup, grad_noise, clip, seed)
    if device == "cuda":
        from . import cuda as _cuda
        timing = _cuda.run(opt, obj, x0c, hp, hs, p, scalars, out, progress=progress,
                           schedule=None if sched is None else sched["kind"])
    else:
        import numba

        from . import codegen, cpu, objective_cpu, warmup
        t0 = time.perf_counter()
        key = warmup.KernelKey(opt.name, obj.name, dim, dtype, None if sched is None else sched["kind"],
                               box is not None, rec_state if rec_state != tuple(opt.record_state) else None,
                               sweep=not (sched is None and one_setting(hp)),
                               full_batch=obj.full_batch_kernel is not None and p[2] == 0.0)
        if not numba.config.DISABLE_JIT:
            key = warmup.effective(key)  # a run with one setting takes a cached full kernel
        shared = not key.sweep
        warmup.note_used(key)
        src, tag = cpu.source(opt, obj, dim, None if sched is None else sched["kind"], bounded=box is not None,
                              record_state=rec_state, shared=shared, dtype=np_dtype)
        if not numba.config.DISABLE_JIT:
            missing = [] if codegen.is_cached(tag, src) else [tag + warmup.variant(key)]
            missing += [] if objective_cpu.is_cached(obj, p) else [f"objective {obj.value_grad_kernel.__name__}"]
            if missing:
                warmup.announce(missing)
        from . import repair
        helpers = repair.helper_modules(opt, obj)
        repair.check(helpers)
        out["ws"] = (lambda: cpu.workspace(opt, dim, np_dtype, hp.dtype)) if opt.kernel_source is not None \
            else (lambda: cpu.thread_workspace(opt, dim, np_dtype, hp.dtype))
        # damaged cached code the checks could not see: removed (the objective's, or the kernel's and
        # the driver's), then loaded once more
        out["fg"] = repair.retry(lambda: objective_cpu.argument(obj, np_dtype, p), helpers[1:2], None)
        def kpath():  # the kernel's file, named only when loading it failed
            return codegen.cache_dir() / f"{tag}_{codegen.identity(src)}.py"

        def load():
            from .driver_cpu import perturb_function
            out["pert"] = perturb_function(np_dtype, grad_noise > 0.0 or clip > 0.0)
            return compile_for(codegen.load(tag, src).run, x0c, hp, hs, p, scalars, out)
        run = repair.retry(load, [helpers[0]] + helpers[2:], kpath)
        t1 = time.perf_counter()
        _run_chunked(run, x0c, hp, hs, p, scalars, out, progress, cpu.block_size(dim, np_dtype))
        if order is not None:
            restore_order(out, order)
        t2 = time.perf_counter()
        timing = dict(load_s=t1 - t0, run_s=t2 - t1)
    timing["total_s"] = time.perf_counter() - t_start
    run_options = {"trajectory_offset": int(trajectory_offset)} if trajectory_offset else {}
    if sched is not None:
        run_options["scheduler"] = sched["options"]
    if box is not None:
        run_options["bounds"] = list(box)
    extra = {name: out["rec_e"][k] for k, name in enumerate(rec_state)}
    tracked = {}
    if "sharpness" in tracks:
        tracked["sharpness"], tracked["hess_min"] = _track.sharpness(obj, out["rec_x"], options)
    if "preconditioned_sharpness" in tracks:
        tracked["preconditioned_sharpness"] = _track.preconditioned_sharpness(
            obj, out["rec_x"], out["rec_e"][rec_state.index("exp_avg_sq")], np.arange(n_rec) * record_every,
            hvals["beta1"], hvals["beta2"], hvals["eps"], options)
        if "exp_avg_sq" not in opt.record_state:
            extra.pop("exp_avg_sq", None)
    if tracks:
        run_options["track"] = list(tracks)
    extra.update({name: out["ex_out"][:, k] for k, name in enumerate(opt.final_scalars)})
    return Result(
        optimizer=opt.name, objective=obj.name,
        x=out["rec_x"], loss=out["rec_f"], steps=np.arange(n_rec) * record_every,
        x_final=out["x_out"], loss_final=out["f_out"], grad_norm_final=out["gn_out"],
        best_loss=out["best_f"], best_step=out["best_t"], diverged_step=out["div_t"],
        tol_step=out["hit_t"], hyper={k: v for k, v in hvals.items()},
        options=dict(steps=steps, record_every=record_every, seed=seed, dtype=dtype, device=device,
                     tol=tol, blowup=blowup, grad_noise=grad_noise, clip_grad_norm=clip,
                     f_target=f_min, objective_options=options, **run_options),
        extra=extra, timing=timing, lr=None if sched is None else out["sched"][5], **tracked,
    )


# simulate's own keywords: a misspelt one is named in the hyperparameters' message (did you mean)
_SIMULATE_OPTIONS = tuple(k for k in inspect.signature(simulate).parameters
                          if k not in ("optimizer", "objective", "hyper"))


def one_setting(hp) -> bool:
    """True when every trajectory has the same hyperparameters (each row of ``hp`` one value)."""
    if hp.shape[1] > 1 and bool((hp[:, -1] != hp[:, 0]).any() & (hp[:, -1] == hp[:, -1]).all()):
        return False  # a sweep's first and last differ: no need to compare them all
    return hp.shape[1] <= 1 or bool(np.array_equal(hp, np.broadcast_to(hp[:, :1], hp.shape), equal_nan=True))


def draws_per_trajectory(obj) -> bool:
    """True when the objective's kernels draw random numbers keyed by the trajectory's index
    (``ctx[2]``: minibatches, sparse or online samples), so that a trajectory's numbers depend
    on its place in the run; read from its module's source (a helper may do the drawing)."""
    name = obj.value_grad_kernel.__module__
    hit = _DRAWS.get(name)
    if hit is None:
        import inspect
        import sys
        try:
            hit = "ctx[2]" in inspect.getsource(sys.modules[name])
        except (OSError, TypeError, KeyError):
            hit = True
        _DRAWS[name] = hit
    return hit


_DRAWS: dict = {}  # draws_per_trajectory by module: reading the source cost ~20 us a run


def setting_key(hp, lr_row: int, sched_index=None):
    """One integer per trajectory, equal for trajectories with the same hyperparameters apart from
    the lr (``hp`` row ``lr_row``) and the same scheduler setting (``sched_index``); None when all
    share one, or when the settings are so many (most trajectories their own) that grouping them
    cannot give a block one setting.

    An optimizer's block takes its shared paths (bias corrections, decayed rates once a step)
    when its trajectories share everything but the lr: :func:`regroup` by this key makes a grid
    sweep fast whatever the order of its axes (``optlab.sweep`` puts the last axis innermost)."""
    n = hp.shape[1]
    cols = [sched_index] if sched_index is not None and n and sched_index.max() > 0 else []
    for k in range(hp.shape[0]):
        if k == lr_row or n == 0:
            continue
        row = hp[k]
        if row[0] == row[0] and bool(np.all(row == row[0])):
            continue
        sample = row[:: max(1, n // 2048)]
        if np.unique(sample).shape[0] * 2 > sample.shape[0]:
            return None  # mostly distinct values: no group fills a block
        cols.append(np.unique(row, return_inverse=True)[1].reshape(-1))
    if not cols:
        return None
    key = np.asarray(cols[0], dtype=np.int64)
    for c in cols[1:]:  # settings numbered 0, 1, ... in order (regroup counts them by the largest)
        key = np.unique(key * (int(c.max()) + 1) + c, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return key


def regroup(index, width: int):
    """An order of the trajectories that puts those with the same setting (``index``, one number
    per trajectory from 0: the scheduler's row, :func:`setting_key`) next to each other, stable within a setting; None when the blocks
    of ``width`` trajectories already hold one setting each (up to one block per boundary).

    A block whose trajectories share a setting reads its schedule once a step and keeps its
    optimizer's shared-hyperparameter paths; settings mixed inside every block (a warm-up
    length per trajectory, eight values repeated) read them per trajectory. Every trajectory
    computes the same numbers wherever it runs, unless its objective draws per trajectory or
    the run adds gradient noise (both keyed by the trajectory's index): the caller checks."""
    index = np.asarray(index)
    n = index.shape[0]
    rows = int(index.max()) + 1 if n else 0
    if rows <= 1:
        return None
    nb = -(-n // width)
    pad = np.concatenate([index, np.repeat(index[-1:], nb * width - n)]).reshape(nb, width)
    mixed = int((pad.min(axis=1) != pad.max(axis=1)).sum())
    if mixed <= rows - 1:
        return None
    if rows <= np.iinfo(np.uint16).max:  # numpy sorts 16-bit keys stably by radix: O(n)
        index = index.astype(np.uint16)
    return np.argsort(index, kind="stable")


def restore_order(out, order) -> None:
    """Put the kernel's outputs, run in ``order`` (:func:`regroup`), back in the caller's order."""
    back = np.empty_like(order)
    back[order] = np.arange(order.shape[0])
    for k in ("rec_x", "rec_f", "x_out", "f_out", "gn_out", "best_f", "best_t", "div_t", "hit_t", "ex_out"):
        out[k] = out[k].take(back, axis=0)
    if out["rec_e"].shape[0]:
        out["rec_e"] = out["rec_e"].take(back, axis=1)
    if "sched" in out:
        sched = out["sched"]
        out["sched"] = sched[:5] + (sched[5].take(back, axis=0),)


def check_objective(opt, obj) -> None:
    """One line when the optimizer runs on named objectives only (``spec.objectives``) and this is
    not one of them."""
    if opt.objectives and obj.name not in opt.objectives:
        raise OptlabError(f"Optimizer '{opt.name}' runs on the {', '.join(opt.objectives)} objective only "
                          f"(it optimizes that model's named parameter blocks); got objective '{obj.name}'")


def check_bounds(bounds, opt=None, device="cpu") -> tuple:
    """``(lo, hi)`` as two floats, ``lo <= hi`` (inf for an open side); one line otherwise."""
    try:
        if isinstance(bounds, (str, bytes)) or any(isinstance(v, (bool, np.bool_)) for v in bounds):
            raise TypeError
        lo, hi = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid bounds: {bounds!r} (must be (lo, hi): two numbers, lo <= hi)") from None
    if lo != lo or hi != hi or lo > hi:
        raise OptlabError(f"Invalid bounds: ({lo}, {hi}) (must be (lo, hi) with lo <= hi; -inf/inf for an open side)")
    if opt is not None and opt.kernel_source is not None:
        raise OptlabError(f"Optimizer '{opt.name}' does not run with bounds (they apply to the elementwise optimizers)")
    return lo, hi


def schedule_plan(opt, scheduler, hvals, steps, n, dim, device, dtype="float64") -> dict:
    """The scheduler's tables for the kernel (:mod:`optlab.schedulers`): the kernel kind, the lr
    (and momentum) table in float64 (the hyperparameters' dtype in every run), one table row
    per trajectory, and ReduceLROnPlateau's options; one line for a scheduler the optimizer or
    device cannot run. ``dtype``: the run's, for the block width the tables follow."""
    from .. import schedulers
    from .cpu import schedule_momentum_row
    if not isinstance(scheduler, dict):
        raise OptlabError(f"Invalid scheduler: {scheduler!r} (must be a dict such as "
                          "{'name': 'StepLR', 'step_size': 30}, or None)")
    if opt.kernel_source is not None or "lr" not in opt.vector:
        raise OptlabError(f"Optimizer '{opt.name}' does not run with a learning-rate scheduler "
                          "(schedulers drive the elementwise optimizers)")
    if opt.no_scheduler:
        raise OptlabError(f"Optimizer '{opt.name}' does not run with a learning-rate scheduler: {opt.no_scheduler}")
    mrow = schedule_momentum_row(opt)
    mname = None if mrow < 0 else ("betas" if "betas" in opt.defaults else "momentum")
    mom = None if mrow < 0 else np.asarray(hvals[opt.vector[mrow]], dtype=np.float64)
    lr = np.broadcast_to(np.asarray(hvals["lr"], dtype=np.float64), (n,))
    mom = None if mom is None else np.broadcast_to(mom, (n,))
    from ..schedulers.program import applies, program
    if applies(scheduler):  # per-step operations instead of a table (optlab.schedulers.program)
        name = schedulers.canonical(scheduler["name"])
        check = schedulers.plan(scheduler, lr, min(steps, 2), momentum=mom, momentum_name=mname, n=n)
        try:
            with np.errstate(all="ignore"):
                prog = program(scheduler, steps, n)
        except (ArithmeticError, ValueError, TypeError) as e:  # what torch raises at a step past the check's
            raise OptlabError(f"{name}: torch's scheduler raises {type(e).__name__} during the run: {e}") from None
        if prog is not None:
            return dict(kind="program", lr=np.ascontiguousarray(prog.ops), momentum=np.zeros((1, 1, 1), dtype=np.float64),
                        index=np.ascontiguousarray(prog.index, dtype=np.int64), plateau=np.zeros((8, 1)),
                        options={"name": check.name, **check.options})
    try:
        plateau = schedulers.canonical(scheduler.get("name")) == "ReduceLROnPlateau"
    except OptlabError:
        plateau = False  # plan says what is wrong, in its words
    # ReduceLROnPlateau starts from the optimizer's lr (in the kernel's hyperparameter rows, not a
    # table): its rows are its option settings alone, not one per lr of a sweep (which cost a
    # 100,000-trajectory sweep ~5 ms of factorizing and gathering the lrs per run)
    plan = schedulers.plan(scheduler, np.broadcast_to(lr[:1], lr.shape) if plateau else lr, steps, momentum=mom,
                           momentum_name=mname, n=n)
    from .cpu import block_size
    width = 1 if device == "cuda" else block_size(dim, dtype)  # the CUDA engine's blocks: one trajectory
    none = np.zeros((1, 1, 1), dtype=np.float64)

    def tables(index):
        """The block-major lr and momentum tables for trajectories whose rows are ``index``
        (called again with the regrouped index: the kernel reads the tables by position)."""
        lr_tab = none if plan.plateau is not None else block_major(plan.lr, index, width, np.float64)
        return lr_tab, none if plan.momentum is None else block_major(plan.momentum, index, width, np.float64)
    m_tab = tables(plan.index)[1] if plan.plateau is not None else None
    if plan.plateau is not None:
        popt = np.ascontiguousarray(np.stack([np.asarray(plan.plateau[k], dtype=np.float64) for k in (
            "mode_max", "rel", "factor", "patience", "threshold", "cooldown", "min_lr", "eps")]))
        # the kernel's rows of options: the plan's rows, its distinct option settings (planned
        # with one lr, above: an lr sweep with one setting is one row, read once a block); no lr
        # table: the run starts from the optimizer's lr
        return dict(kind="plateau", lr=none, momentum=m_tab, index=np.ascontiguousarray(plan.index, dtype=np.int64),
                    plateau=popt,
                    options={"name": plan.name, **plan.options},
                    reorder=lambda order: dict(momentum=tables(plan.index[order])[1]))
    lr_tab, m_tab = tables(plan.index)
    return dict(kind="table" if plan.momentum is None else "table+momentum", lr=lr_tab, momentum=m_tab,
                index=np.ascontiguousarray(plan.index, dtype=np.int64), plateau=np.zeros((8, 1)),
                options={"name": plan.name, **plan.options},
                reorder=lambda order: dict(zip(("lr", "momentum"), tables(plan.index[order]))))


_POOL = None


def threads() -> int:
    """Worker threads for the CPU engine: ``NUMBA_NUM_THREADS`` (default: every core)."""
    import numba
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(threads(), thread_name_prefix="optlab-engine")
    return _POOL


def _run_chunked(run, x0, hp, hs, p, scalars, out, progress, align=1):
    """Call the kernel on trajectory chunks, one thread per core.

    The CPU kernel is a plain ``nogil`` function over the trajectories it is
    given (no ``prange``: parfor lowering was 60% of a kernel's compile time,
    docs/DESIGN.md), so the threads here run it on chunks in parallel.
    Chunks start at multiples of ``align`` (the kernel's block width), so
    they add no padded blocks; each passes C-contiguous arrays only and
    reuses the one compiled signature. Results do not depend on the chunks:
    randomness is keyed by the global trajectory index (``i_off``).
    """
    n = x0.shape[0]
    steps = scalars[0]
    show = progress if progress is not None else (n * steps >= 5e8)
    nthreads = min(threads(), -(-n // align))
    bar = None
    if show:
        from ..progress import bar as make_bar
        bar = make_bar(total=n, desc="trajectories", enabled=progress)
    if bar is None and nthreads == 1:
        run(x0, hp, hs, p, *scalars, out.get("i_off", 0), out["rec_x"], out["rec_f"], out["rec_e"], out["x_out"],
            out["f_out"], out["gn_out"], out["best_f"], out["best_t"], out["div_t"], out["hit_t"],
            out["ex_out"], *out["ws"](), out["fg"], out["pert"], *out.get("sched", ()), *out.get("bounds", ()))
        return
    # two a thread: evens out a busy core and a pool thread that starts late (_run_pulled); four
    # measured slower on short runs (each chunk pays the kernel call again)
    pieces = 20 if bar is not None else 2 * nthreads
    chunk = -(-max(align, -(-n // pieces)) // align) * align
    has_e = out["rec_e"].shape[0] > 0

    sched = out.get("sched", ())

    def one(a):
        b = min(n, a + chunk)
        # the schedule's per-trajectory arrays, this chunk's (lrtab, mtab, sidx, pst, popt, rec_lr)
        sch = (sched[0] if out.get("sched_kind") == "program" else _blocks(sched[0], a, b, align),
               _blocks(sched[1], a, b, align), sched[2][a:b], np.ascontiguousarray(sched[3][:, a:b]), sched[4],
               sched[5][a:b]) if sched else ()
        rec_e = np.empty((out["rec_e"].shape[0], b - a) + out["rec_e"].shape[2:], out["rec_e"].dtype) \
            if has_e else out["rec_e"]
        run(x0[a:b], np.ascontiguousarray(hp[:, a:b]), hs, p, *scalars, out.get("i_off", 0) + a, out["rec_x"][a:b],
            out["rec_f"][a:b], rec_e, out["x_out"][a:b], out["f_out"][a:b], out["gn_out"][a:b],
            out["best_f"][a:b], out["best_t"][a:b], out["div_t"][a:b], out["hit_t"][a:b],
            out["ex_out"][a:b], *out["ws"](), out["fg"], out["pert"], *sch, *out.get("bounds", ()))
        if has_e:
            out["rec_e"][:, a:b] = rec_e
        return b - a

    if bar is None:
        _run_pulled(one, list(range(0, n, chunk)), nthreads)
        return
    from concurrent.futures import as_completed
    futures = [_pool().submit(one, a) for a in range(0, n, chunk)]
    try:
        for fut in as_completed(futures):
            bar.update(fut.result())
    finally:
        for fut in futures:
            fut.cancel()
        bar.close()


def _run_pulled(one, starts, nthreads):
    """Run ``one(a)`` for every chunk start, the calling thread and ``nthreads - 1`` pool threads
    each taking the next chunk until none is left.

    The calling thread starts at once: a pool thread that sleeps takes 0.1-0.6 ms to wake on the
    machines measured (docs/DESIGN.md, "The fixed cost of a short run"), about the whole of a
    run of 2,000 trajectories x 20 steps, which it then spent waiting. On an exception here
    (Ctrl-C included) the pool threads take no further chunk."""
    import threading
    lock = threading.Lock()
    left = list(reversed(starts))
    stop = [False]

    def pull():
        while True:
            with lock:
                if stop[0] or not left:
                    return
                a = left.pop()
            one(a)

    futures = [_pool().submit(pull) for _ in range(min(nthreads, len(starts)) - 1)]
    try:
        pull()
    except BaseException:
        stop[0] = True
        raise
    for fut in futures:
        fut.result()


def _blocks(tab, a, b, align):
    """The blocks of a block-major schedule table that trajectories ``a .. b`` use (``a`` a
    multiple of the block width); a shared schedule (one block of width 1) whole."""
    if tab.shape[0] == 1 and tab.shape[2] == 1:
        return tab
    return tab[a // align:-(-b // align)]


def block_major(table, index, width, dtype) -> np.ndarray:
    """A scheduler's table ``(steps + 1, R)`` with row ``index[i]`` for trajectory ``i``, as the
    kernel reads it: ``(blocks, steps + 1, width)``, a block's steps contiguous, a short last
    block padded with its first trajectory's (as the engine pads blocks); one shared row stays
    ``(1, steps + 1, 1)``."""
    table = np.asarray(table)
    index = np.asarray(index)
    if table.shape[1] == 1 or (index == index[0]).all():
        return np.ascontiguousarray(table[:, index[0]], dtype=dtype).reshape(1, -1, 1)
    n = index.shape[0]
    nb = -(-n // width)
    idx = np.concatenate([index, np.repeat(index[(nb - 1) * width:][:1], nb * width - n)])
    full = table[:, idx]  # (steps + 1, blocks * width)
    return np.ascontiguousarray(full.reshape(table.shape[0], nb, width).transpose(1, 0, 2), dtype=dtype)


def compile_for(run, x0, hp, hs, p, scalars, out):
    """Compile (or load from the disk cache) the kernel's one signature now; returns what to
    call: the compiled entry point of that signature (so the objective, a different function
    on each call, is always passed as a first-class function and never specialises the
    kernel), or ``run`` itself under ``NUMBA_DISABLE_JIT``."""
    import numba
    if getattr(run, "compile", None) is None or numba.config.DISABLE_JIT:
        return run
    from . import objective_cpu
    args = (x0, hp, hs, p, *scalars, 0, out["rec_x"], out["rec_f"], out["rec_e"], out["x_out"],
            out["f_out"], out["gn_out"], out["best_f"], out["best_t"], out["div_t"], out["hit_t"], out["ex_out"])
    extra = (*out.get("sched", ()), *out.get("bounds", ()))
    # the workspace's types follow from x0's and hp's dtypes (in the key already): it is built
    # only to type a new signature, not on every call
    key = (id(run), tuple(map(_type_key, args)), tuple(map(_type_key, extra)))
    entry = _ENTRY_POINTS.get(key)
    if entry is not None and _ENTRY_POINTS_RUN.get(key) is run:
        return entry
    from .driver_cpu import perturb_type
    args += tuple(out["ws"]())
    sig = tuple(numba.typeof(a) for a in args) + (objective_cpu.function_type(x0.dtype), perturb_type(x0.dtype)) \
        + tuple(numba.typeof(a) for a in extra)
    from .codegen import compile_signature
    entry = compile_signature(run, sig).overloads[sig].entry_point
    _ENTRY_POINTS[key] = entry
    _ENTRY_POINTS_RUN[key] = run
    return entry


#: compile_for's entry points by the kernel and what Numba's typeof reads of each argument
#: (numba.typeof on ~40 arguments costs ~0.5 ms, a fifth of a short run's fixed cost)
_ENTRY_POINTS: dict = {}
_ENTRY_POINTS_RUN: dict = {}


def _type_key(a):
    if isinstance(a, np.ndarray):
        fl = a.flags
        return (a.dtype.str, a.ndim, fl.c_contiguous, fl.f_contiguous, fl.writeable, fl.aligned)
    return type(a)
