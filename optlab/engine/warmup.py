"""First use: say which kernels are compiled, and compile a run's kernels in parallel.

A kernel is compiled once per (code, block width, dtype) and then loaded from
the disk cache (:mod:`optlab.engine.codegen`). The first run that needs one
says so on stderr before compiling, instead of going silent for seconds. A
study that needs several (the optimizer race: every optimizer on every
objective) lists them up front (``kernels(cfg)`` beside its ``run``), and
:func:`precompile` compiles the missing ones in separate processes, one per
core, all writing to the shared disk cache; the study then loads them.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelKey:
    """One CPU kernel a run needs: optimizer, objective, dimension and dtype, and the kernel's
    variant: ``schedule`` (None, ``"table"``, ``"table+momentum"``, ``"plateau"``: a
    learning-rate scheduler, :func:`schedule_kind`), ``bounded`` (``bounds=``) and
    ``record_state`` (state rows recorded besides the spec's, for ``track=``); ``sweep``:
    the trajectories' hyperparameters differ (an lr or beta sweep). A run with one setting
    and no scheduler compiles a kernel without the sweep paths where the optimizer has one
    (``cpu.has_shared_step``), unless the full kernel is cached and that one is not: a study
    that sweeps names only ``sweep=True`` keys, and its runs at one setting take that kernel.
    ``full_batch``: every run is on the full batch of a finite sum whose spec has a
    ``full_batch_kernel`` (:func:`full_batch`): that one is compiled, not the general kernel with
    the minibatches' code (linear regression 0.3 s against 6 s cold); a study that runs both
    modes names the general one, which serves every mode."""
    optimizer: str
    objective: str
    dim: int | None = None
    dtype: str = "float64"
    schedule: str | None = None
    bounded: bool = False
    record_state: tuple | None = None
    sweep: bool = False
    full_batch: bool = False


def full_batch(spec, options=None) -> bool:
    """True when runs of objective ``spec`` with objective ``options`` are full-batch runs of a
    finite sum that has a full-batch kernel (``KernelKey.full_batch``)."""
    if spec.full_batch_kernel is None:
        return False
    m = dict(options or {}).get("batch_size", spec.options.get("batch_size", 0))
    return not m


#: objective parameters as ``objective_cpu.kernel_for`` reads them: the batch size (p[2]) 0
_FULL_P = (0.0, 0.0, 0.0)


def _objective_fn(obj, key: KernelKey):
    """(the objective function ``key`` names, the parameters kernel_for reads for its mode): the
    spec's full-batch kernel for a ``full_batch`` key where it has one, else the general one."""
    if key.full_batch and obj.full_batch_kernel is not None:
        return obj.full_batch_kernel, _FULL_P
    return obj.cpu_kernel, None


def schedule_kind(optimizer: str, scheduler) -> str | None:
    """The kernel variant a scheduler needs with this optimizer (None without one), as
    ``simulate`` decides it: ``"program"`` for the chainable schedulers, in every dtype
    (optlab.schedulers.program), else its table kind from a one-step plan (ReduceLROnPlateau:
    ``"plateau"``; a momentum-cycling one on an optimizer with momentum or betas:
    ``"table+momentum"``; else ``"table"``)."""
    if scheduler is None:
        return None
    import numpy as np
    from .. import optimizers, schedulers
    from ..schedulers.program import applies
    from .cpu import schedule_momentum_row
    if applies(scheduler):
        return "program"
    opt = optimizers.get(optimizer)
    row = schedule_momentum_row(opt)
    mname = None if row < 0 else ("betas" if "betas" in opt.defaults else "momentum")
    lr = float(np.ravel(opt.defaults.get("lr", 1e-3))[0])
    mom = None if row < 0 else np.array([0.9])
    plan = schedulers.plan(scheduler, np.array([lr]), 1, momentum=mom, momentum_name=mname, n=1)
    if plan.plateau is not None:
        return "plateau"
    return "table" if plan.momentum is None else "table+momentum"


def _specs(key: KernelKey):
    from .. import objectives, optimizers
    opt = optimizers.get(key.optimizer)
    obj = objectives.get(key.objective)
    dim = key.dim if key.dim is not None else obj.default_dim()
    return opt, obj, int(dim)


def source_of(key: KernelKey) -> tuple[str, str]:
    """(generated source, tag) of the kernel ``key`` names."""
    from . import cpu
    opt, obj, dim = _specs(key)
    src, tag = cpu.source(opt, obj, dim, key.schedule, key.bounded, key.record_state, shared=not key.sweep,
                          dtype=key.dtype)
    return src, tag


def effective(key: KernelKey) -> KernelKey:
    """The key of the kernel a run of ``key`` takes: its full twin (``sweep=True``) when ``key``
    is a run with one setting whose optimizer has a ``step_shared`` and that full kernel is
    cached (the same bits through the same path; ``simulate`` applies the same rule)."""
    if key.sweep or key.schedule is not None:
        return key
    from dataclasses import replace

    from . import codegen, cpu
    opt, obj, dim = _specs(key)
    if not cpu.has_shared_step(opt):
        return key
    full = replace(key, sweep=True)
    src, tag = source_of(full)
    return full if codegen.is_cached(tag, src) else key


def _units(key: KernelKey) -> list[tuple[str, str, bool]]:
    """``(unit id, label, cached)`` of what ``key`` compiles: its kernel (per optimizer code,
    dtype and variant) and its objective function (an argument of every CPU kernel)."""
    from . import codegen, objective_cpu
    key = effective(key)
    _, obj, _ = _specs(key)
    src, tag = source_of(key)
    # named by the key's mode, cached when what kernel_for takes for that mode is: the
    # full-batch kernel, or the general one where only that one is compiled
    fn, p = _objective_fn(obj, key)
    return [(f"{tag}_{codegen.identity(src)}", tag, codegen.is_cached(tag, src)),
            (f"objective:{fn.__module__}.{fn.__name__}", f"objective {obj.value_grad_kernel.__name__}",
             objective_cpu.is_cached(obj, p))]


def is_cached(key: KernelKey) -> bool:
    """True when running ``key`` compiles nothing."""
    return all(cached for _, _, cached in _units(key))


def identity_of(key: KernelKey) -> str:
    """What ``key`` compiles, by identity: equal for keys that share their kernel and objective."""
    return "+".join(unit for unit, _, _ in _units(key))


_USED: list = []
_QUIET: list = []


def physical_cores(sysfs: str = "/sys/devices/system/cpu") -> int:
    """The cores this process may run on, the hardware threads of one core counted once (Linux:
    each allowed CPU's ``topology/thread_siblings_list``). Where that cannot be read: half the
    logical CPUs (the rule measured on hyperthreaded 2-vCPU machines, :func:`default_workers`)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    cores = set()
    for c in cpus:
        try:
            with open(f"{sysfs}/cpu{c}/topology/thread_siblings_list") as f:
                cores.add(f.read().strip())
        except OSError:
            return max(1, len(cpus) // 2)
    return max(1, len(cores))


def default_workers() -> int:
    """Processes that compile kernels side by side: ``$OPTLAB_COMPILE_WORKERS``, else one per
    physical core (:func:`physical_cores`). Compiling is branchy single-threaded work that two
    hardware threads of one core share: on a 2-vCPU Intel Xeon (one core, two threads), two
    kernels compiled in two processes took 13.1 s against 10.8 s one after the other in one
    process (which also shares Numba's start-up and the helpers compiled on the way), so there
    it compiles in process; on a 2-core AMD EPYC (one thread a core) two processes are faster
    (docs/DESIGN.md, "Compile workers and test workers")."""
    return workers_env() or physical_cores()


def workers_env() -> int | None:
    """``$OPTLAB_COMPILE_WORKERS`` as a number, None when unset; a bad value raises (it was ignored
    silently, where a bad OPTLAB_DIVISION or OPTLAB_VECTOR_WIDTH is one line)."""
    env = os.environ.get("OPTLAB_COMPILE_WORKERS")
    if not env or not env.strip():
        return None
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        from ..errors import OptlabError
        raise OptlabError(f"OPTLAB_COMPILE_WORKERS={env!r} is not a whole number >= 1 (unset: one per physical core)")
    return n


@contextlib.contextmanager
def recording():
    """Collect the :class:`KernelKey` of every CPU engine call made inside the block."""
    used: list = []
    _USED.append(used)
    try:
        yield used
    finally:
        _USED.remove(used)


def note_used(key: KernelKey) -> None:
    for used in _USED:
        used.append(key)


def variant(key: KernelKey) -> str:
    """What sets ``key``'s kernel apart from the plain one, for the compile notice (one tag names
    several variants: 'compiling cpu_sgd_sched' came up once per scheduler kind and sweep)."""
    parts = [f"{key.schedule} scheduler"] if key.schedule else []
    parts += ["hyperparameters per trajectory"] if key.sweep and not key.schedule else []  # (a schedule: always)
    parts += ["bounds"] if key.bounded else []
    parts += ["track"] if key.record_state else []
    parts += ["float32"] if key.dtype != "float64" else []
    return f" ({', '.join(parts)})" if parts else ""


def announce(tags: list[str]) -> None:
    """One line on stderr before compiling: what, and that it happens once."""
    if os.environ.get("OPTLAB_WARMUP_WORKER") or _QUIET:
        return  # already said for the whole batch
    from . import codegen
    what = tags[0] if len(tags) == 1 else f"{len(tags)} kernels ({', '.join(tags[:3])}{', ...' if len(tags) > 3 else ''})"
    where = codegen.cache_dir()
    if codegen._FALLBACK and codegen._FALLBACK[0][1] == where:  # the cache folder is not usable: not kept
        print(f"optlab: compiling {what} (into {where}, for this process only)", file=sys.stderr, flush=True)
        return
    print(f"optlab: compiling {what}; this happens once, later runs load "
          f"{'it' if len(tags) == 1 else 'them'} from {where}", file=sys.stderr, flush=True)


#: schedulers that give each kernel variant (:func:`schedule_kind`), tried in order
_VARIANT_SCHEDULERS = ({"name": "ExponentialLR", "gamma": 1.0},
                       {"name": "CyclicLR", "base_lr": 1e-4, "max_lr": 1e-3, "cycle_momentum": False},
                       {"name": "CyclicLR", "base_lr": 1e-4, "max_lr": 1e-3},
                       {"name": "ReduceLROnPlateau"})


def compile_one(key: KernelKey) -> str:
    """Compile (or load) ``key``'s kernel in this process, for its one signature: a one-step
    run that needs exactly that variant (its scheduler kind, bounds, recorded state, an lr
    per trajectory for a sweep)."""
    from .. import simulate
    opt, obj, dim = _specs(key)
    box = obj.bounds(dim)
    x0 = box.mean(axis=1).reshape(1, dim)
    kw = {}
    if key.schedule is not None:
        kw["scheduler"] = next(s for s in _VARIANT_SCHEDULERS
                               if _kind_or_none(key.optimizer, s) == key.schedule)
    if key.bounded:
        kw["bounds"] = (-float("inf"), float("inf"))
    if key.record_state is not None:
        kw["track"] = ["preconditioned_sharpness"]
    if key.sweep:  # two trajectories, two learning rates
        import numpy as np
        x0 = np.repeat(x0, 2, axis=0)
        lr = float(np.ravel(opt.defaults.get("lr", 1e-3))[0])
        kw["lr"] = [lr, lr * 0.5]
    # the objective's function, what _units checks: the general one (cpu_kernel) serves a
    # study's runs in every mode (objective_cpu.kernel_for takes it where a full-batch kernel
    # is not compiled), a full_batch key's the spec's full-batch kernel; compiled first, so the
    # one-step run below (default options: the full batch) takes it too
    # (the function itself, even where kernel_for would take a cached general one)
    from . import objective_cpu
    objective_cpu.function(obj, key.dtype, fn=_objective_fn(obj, key)[0])
    simulate(key.optimizer, key.objective, x0=x0, steps=1, dtype=key.dtype, **kw)
    return key.optimizer


def _kind_or_none(optimizer, scheduler):
    from ..errors import OptlabError
    try:
        return schedule_kind(optimizer, scheduler)
    except OptlabError:  # CyclicLR's momentum on an optimizer without one
        return None


def precompile(keys, *, workers: int | None = None, progress=None) -> list[str]:
    """Compile the kernels among ``keys`` that are not cached yet; returns their tags.

    Several missing kernels compile in ``default_workers()`` new processes
    (each compile is single-threaded; :func:`_compile_in_workers`), which all
    write to the disk cache, or one after the other in this process where the
    machine has no core to spare; a progress bar in an interactive terminal or a Jupyter kernel. Keys that share
    a kernel (presets, aliases) compile once.
    """
    todo: dict[str, KernelKey] = {}  # one key per missing unit (shared units compile once)
    labels: list[str] = []
    seen: set = set()
    for key in keys:
        if not isinstance(key, KernelKey):
            key = KernelKey(*key)
        for unit, label, cached in _units(key):
            if cached or unit in seen:
                continue
            seen.add(unit)
            labels.append(label)
            todo.setdefault(repr(key), key)
    if not todo:
        return []
    tags = labels
    announce(tags)
    todo = list(todo.values())
    n_workers = min(len(todo), workers or default_workers())
    from ..progress import bar as make_bar
    bar = make_bar(total=len(todo), desc="compiling kernels", enabled=progress) if len(todo) > 1 else None
    try:
        if n_workers <= 1 or os.environ.get("OPTLAB_WARMUP_WORKER"):
            _QUIET.append(True)  # said once above, for all of them
            try:
                for key in todo:
                    compile_one(key)
                    if bar is not None:
                        bar.update(1)
            finally:
                _QUIET.pop()
            return tags
        _compile_in_workers(todo, n_workers, bar)
    finally:
        if bar is not None:
            bar.close()
        # objective_cpu.kernel_for decides once per process between a full-batch function and the
        # general one, from what is on disk: decide again now that both may be (a worker's own
        # decision does not reach this process)
        from . import objective_cpu
        objective_cpu.forget_choices()
    return tags


def _compile_in_workers(keys, n_workers, bar) -> None:
    """Compile ``keys`` in ``n_workers`` new Python processes, each taking the next key as it
    finishes one (:func:`_worker`: one key a line on its stdin, ``ok`` or the error on its
    stdout); all write to the disk cache. New interpreters rather than multiprocessing's spawn,
    which imports the caller's ``__main__`` again in every child: a script without an
    ``if __name__ == "__main__":`` guard would run again there. An error in a worker stops the
    others after their current key and is raised here (an :class:`~optlab.errors.OptlabError`
    as one, with its message)."""
    import dataclasses
    import json
    import subprocess
    import threading
    left = list(reversed(keys))
    lock = threading.Lock()
    failed: list = []
    procs: list = []
    env = {**os.environ, "OPTLAB_WARMUP_WORKER": "1"}
    # the caller's import path, as multiprocessing gives a child (a script may have put optlab on it)
    cmd = [sys.executable, "-c", f"import sys; sys.path[:] = {sys.path!r}; "
           "from optlab.engine.warmup import _worker; _worker()"]

    def pull():
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        procs.append(proc)
        try:
            while True:
                with lock:
                    if failed or not left:
                        return
                    key = left.pop()
                proc.stdin.write(json.dumps(dataclasses.asdict(key)) + "\n")
                proc.stdin.flush()
                reply = proc.stdout.readline()
                if reply.strip() != "ok":
                    with lock:
                        failed.append((key, reply))
                    return
                if bar is not None:
                    with lock:
                        bar.update(1)
        except OSError as e:  # the worker died (its pipe closed)
            with lock:
                failed.append((key, json.dumps(["", str(e)])))
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()

    threads = [threading.Thread(target=pull, daemon=True) for _ in range(n_workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if any(t.is_alive() for t in threads):  # interrupted (Ctrl-C): no key is half-written
            for proc in procs:                  # to the cache (each is renamed into place whole)
                proc.kill()
    if failed:
        key, reply = failed[0]
        try:
            kind, msg = json.loads(reply)
        except ValueError:
            kind, msg = "", f"the worker process stopped ({reply.strip() or 'no reply'})"
        if kind == "OptlabError":
            from ..errors import OptlabError
            raise OptlabError(msg)
        raise RuntimeError(f"compiling {key} in a worker process failed: {msg}")


def _worker() -> None:  # pragma: no cover - runs in the worker processes (_compile_in_workers)
    """A compile worker: a :class:`KernelKey` as JSON on each line of stdin, compiled
    (:func:`compile_one`); ``ok`` on stdout, or ``[error kind, message]`` and stop."""
    import json
    import signal
    import traceback
    from ..errors import OptlabError
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the caller stops the workers
    reply, sys.stdout = sys.stdout, sys.stderr  # stdout carries the replies only
    for line in sys.stdin:
        d = json.loads(line)
        if d.get("record_state") is not None:
            d["record_state"] = tuple(d["record_state"])
        try:
            compile_one(KernelKey(**d))
        except OptlabError as e:
            print(json.dumps(["OptlabError", str(e)]), file=reply, flush=True)
            return
        except Exception:
            print(json.dumps(["", traceback.format_exc()]), file=reply, flush=True)
            return
        print("ok", file=reply, flush=True)


def ensure(keys) -> list:
    """:func:`precompile`, tolerant of keys a study lists but cannot build (bad names); returns the
    tags of the kernels it compiled."""
    from ..errors import OptlabError
    good = []
    for key in keys:
        try:
            key = key if isinstance(key, KernelKey) else KernelKey(*key)
            _specs(key)
        except OptlabError:
            continue  # the study itself reports a bad name, with its own message
        good.append(key)
    return precompile(good)
