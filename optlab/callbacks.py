"""Hydra callbacks: reports at the end of runs and sweeps, sweep progress, resume.

Configured in ``conf/config.yaml``::

    hydra:
      callbacks:
        report:
          _target_: optlab.callbacks.ReportCallback

and steered by the ``report:`` section of the config (``report.enabled``,
``report.figures``, ``report.job_figures``, ``report.progress``,
``report.resume``). This module is the Hydra edge of :mod:`optlab.report`.

Where each hook runs: ``on_run_end``, ``on_multirun_start`` and
``on_multirun_end`` in the process that launched the sweep;
``on_job_start`` / ``on_job_end`` in the process that runs the job (the same
one for the basic launcher, a joblib or Ray worker otherwise). So the
callback learns about the jobs from their folders: each job leaves
``job.json`` (worker pid, host, start and end time), and a failed one
``error.json``.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .engine.result import write_json_atomic
from .errors import say


def _setting(config, key: str, default):
    value = OmegaConf.select(config, f"report.{key}", default=default)
    return default if value is None and default is not None else value


class ReportCallback(Callback):
    """report.html / report.md after every run and multirun; progress and job.json for sweeps."""

    def __init__(self) -> None:
        self._watcher = None
        self._job_started = None
        self._job_cpu = None
        self._multirun_started = None
        self._kernel_clock = None

    def __getstate__(self):  # launchers pickle the callbacks to their workers: no thread goes along
        return {"_watcher": None, "_job_started": None, "_job_cpu": None,
                "_multirun_started": self._multirun_started, "_kernel_clock": None}

    # --- in the job's process ------------------------------------------------------------------
    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        self._job_started = time.time()
        self._job_cpu = time.process_time()
        self._kernel_clock = KernelClock().start()

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        value = getattr(job_return, "_return_value", None)
        if isinstance(value, dict) and value.get("resumed"):
            return  # a job skipped by report.resume keeps the job.json of the run that made its results
        try:
            out_dir = Path(config.hydra.runtime.output_dir)
            if not out_dir.is_dir():
                return  # a run refused for bad input removed its folder
            kernel = self._kernel_clock.stop() if self._kernel_clock is not None else {}
            self._kernel_clock = None
            status = getattr(getattr(job_return, "status", None), "name", "UNKNOWN")
            if status == "COMPLETED" and value is None and (out_dir / "error.json").exists():
                status = "FAILED"
            write_json_atomic(out_dir / "job.json", {
                "num": OmegaConf.select(config, "hydra.job.num"),
                "pid": os.getpid(), "host": socket.gethostname(),
                "started": self._job_started, "ended": time.time(), "status": status,
                "cpu_s": round(time.process_time() - self._job_cpu, 3) if self._job_cpu is not None else None,
                **kernel,
                "launcher": str(OmegaConf.select(config, "hydra.launcher._target_", default="")).rsplit(".", 1)[-1],
            })
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never fail a job
            print(f"optlab: warning: could not write job.json: {exc}", file=sys.stderr)

    # --- in the launching process ------------------------------------------------------------
    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        if not _setting(config, "enabled", True):
            return
        out_dir = Path(OmegaConf.select(config, "hydra.runtime.output_dir") or config.hydra.run.dir)
        if out_dir.is_dir():
            _write_report(config, out_dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._multirun_started = time.time()
        from .cli import note_sweep
        note_sweep(config)  # for the one line after Ctrl-C, also when the jobs run in other processes
        sweep_dir = Path(str(config.hydra.sweep.dir))
        show = _setting(config, "progress", None)

        show = sys.stderr.isatty() if show is None else bool(show)
        if show:
            from .report.artifacts import expand_sweep, is_complete
            jobs = expand_sweep(OmegaConf.to_container(config.hydra, resolve=False))
            skipped = set()
            if _setting(config, "resume", False) and sweep_dir.is_dir():
                skipped = {p.name for p in sweep_dir.iterdir() if p.is_dir() and is_complete(p, verify=False)}
            self._watcher = SweepProgress(sweep_dir, len(jobs) if jobs is not None else None,
                                          self._multirun_started, skipped, enabled=True)
            self._watcher.start()
            _WATCHERS.append(self._watcher)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            if self._watcher in _WATCHERS:
                _WATCHERS.remove(self._watcher)
            self._watcher = None
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_dir():
            return
        from .engine.result import remove_stale_temp_files
        remove_stale_temp_files(sweep_dir)  # the jobs are done: a temporary file here is a killed write's
        register_failures(sweep_dir, self._multirun_started or 0.0)
        if _setting(config, "enabled", True):
            _write_report(config, sweep_dir)


_WATCHERS: list = []  # sweep progress bars running in this process


def stop_progress() -> None:
    """Stop the sweep progress bars of this process (after Ctrl-C, before the one-line message)."""
    while _WATCHERS:
        try:
            _WATCHERS.pop().stop()
        except Exception:  # noqa: BLE001 - a progress bar must not hide the message
            pass


class KernelClock:
    """Seconds this process holds Numba's compiler lock, and the kernels it compiles, during a job.

    Numba takes its global compiler lock both to load a compiled function
    from the disk cache and to compile one, so the time under the lock is
    the job's kernel load/compile time (the engine's ``timing['load_s']``
    only covers importing the generated module; Numba compiles or loads
    lazily, at the first call). ``numba:compile`` events fire only for a
    real compilation: ``numba_compiles == 0`` means every kernel came from
    the cache (or was already in memory).
    """

    def start(self):
        self._listeners = []
        try:
            from numba.core import event as ev
        except ImportError:  # pragma: no cover - numba is a dependency
            return self
        self._lock = ev.TimingListener()
        self._compile = _compile_counter()
        for kind, listener in (("numba:compiler_lock", self._lock), ("numba:compile", self._compile)):
            ev.register(kind, listener)
            self._listeners.append((kind, listener))
        return self

    def stop(self) -> dict:
        if not self._listeners:
            return {}
        from numba.core import event as ev
        for kind, listener in self._listeners:
            try:
                ev.unregister(kind, listener)
            except (ValueError, KeyError):
                pass
        self._listeners = []
        return {"numba_lock_s": round(self._lock.duration if self._lock.done else 0.0, 4),
                "numba_compiles": self._compile.count,
                "numba_compile_s": round(self._compile.seconds, 4)}


def _compile_counter():
    """A Numba listener counting outermost ``numba:compile`` events and their seconds."""
    from numba.core import event as ev

    class CompileCounter(ev.Listener):
        def __init__(self):
            self.depth = 0
            self.count = 0
            self.seconds = 0.0

        def on_start(self, event):
            if self.depth == 0:
                self._t0 = time.perf_counter()
                self.count += 1
            self.depth += 1

        def on_end(self, event):
            self.depth -= 1
            if self.depth == 0:
                self.seconds += time.perf_counter() - self._t0

    return CompileCounter()


def _write_report(config, folder: Path) -> None:
    from .report import build_report, counts_line
    t0 = time.perf_counter()
    try:
        res = build_report(folder, figures=bool(_setting(config, "figures", True)),
                           job_figures=int(_setting(config, "job_figures", 50)))
    except Exception as exc:  # noqa: BLE001 - a report bug must not hide the results or the exit status
        import traceback
        traceback.print_exc()
        print(f"optlab: warning: the report could not be written ({type(exc).__name__}: {exc}); "
              f"rebuild it with: optlab report {folder}", file=sys.stderr)
        return
    if res["kind"] == "multirun":
        say(f"sweep: {counts_line(res)}")
    say(f"report: {res['html']} ({time.perf_counter() - t0:.1f} s)")


def register_failures(sweep_dir: Path, since: float) -> list:
    """Add the jobs that failed in this multirun to ``optlab.cli._FAILED`` (so the exit status is 1).

    With the basic launcher ``cli.task`` did that itself; a joblib, Ray or
    SLURM worker appended to its own copy of the list, so the launching
    process finds those jobs by their ``error.json`` written since the
    multirun started (and newer than any summary.json).
    """
    from . import cli
    known = {Path(d).resolve() for d, _ in cli._FAILED}
    added = []
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        err = job / "error.json"
        try:
            mtime = err.stat().st_mtime
        except OSError:
            continue
        summary = job / "summary.json"
        if mtime < since - 1.0 or (summary.exists() and summary.stat().st_mtime > mtime):
            continue
        if job.resolve() in known:
            continue
        try:
            msg = json.loads(err.read_text()).get("error", "")
        except (OSError, ValueError):
            msg = "error.json unreadable"
        cli._FAILED.append((job, msg))
        added.append(job)
    return added


class SweepProgress:
    """A progress bar for a sweep, fed by polling the sweep folder (works for every launcher).

    A job counts as done when it wrote ``job.json`` after the sweep started;
    jobs that a resumed sweep skips count from the start.
    """

    def __init__(self, sweep_dir: Path, total, started: float, skipped=(), interval: float = 0.5,
                 enabled=None, file=None):
        from .progress import bar
        self.sweep_dir = Path(sweep_dir)
        self.started = started
        self.skipped = set(skipped)
        self.interval = interval
        self.bar = bar(total=total, desc="sweep", enabled=enabled) if file is None else _tqdm(total, file)
        if self.bar is not None:
            self.bar.unit = "job"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="optlab-sweep-progress", daemon=True)
        self.done = 0
        self.failed = 0

    def start(self):
        if self.bar is not None:
            self.poll()
            self._thread.start()
        return self

    def poll(self):
        done = failed = 0
        try:
            entries = list(self.sweep_dir.iterdir())
        except OSError:
            entries = []
        for p in entries:
            if not p.is_dir() or p.name.startswith("."):
                continue
            if p.name in self.skipped:
                done += 1
                continue
            try:
                if (p / "job.json").stat().st_mtime >= self.started - 1.0:
                    done += 1
                    failed += (p / "error.json").exists() and (p / "error.json").stat().st_mtime >= self.started - 1.0
            except OSError:
                continue
        if self.bar is not None and done != self.done:
            self.bar.update(done - self.done)
        self.done, self.failed = done, failed
        if self.bar is not None and failed:
            self.bar.set_postfix_str(f"{failed} failed", refresh=False)
        return done

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.interval + 1)
        if self.bar is not None:
            self.poll()
            self.bar.close()


def _tqdm(total, file):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="sweep", unit="job", file=file, leave=True)


# --- resume --------------------------------------------------------------------------------------

def resumed_summary(cfg, run_dir) -> dict | None:
    """With ``report.resume=true``: the saved summary of a job whose results are complete, else None.

    For :func:`optlab.cli.task` (a multirun job): a job is skipped when its
    manifest.json is complete and every file it lists reads back as written
    (each npz loaded, its array shapes those the manifest recorded: a
    truncated or damaged file makes the job run again), no newer error.json
    exists, and its saved config.yaml equals the job's config (the ``report``
    section aside), so a changed sweep reruns the job. A skipped job's folder
    is cleared of temporary files left by killed writes.
    """
    from .report.artifacts import is_complete
    resume = OmegaConf.select(cfg, "report.resume", default=False) if isinstance(cfg, DictConfig) else \
        bool((cfg.get("report") or {}).get("resume"))
    run_dir = Path(run_dir)
    if not resume or not is_complete(run_dir):
        return None
    err, summary_path = run_dir / "error.json", run_dir / "summary.json"
    if err.exists() and err.stat().st_mtime >= summary_path.stat().st_mtime:
        return None
    try:
        saved = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=False)
    except Exception:  # noqa: BLE001 - no readable config: rerun
        return None
    current = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    for d in (saved, current):
        if isinstance(d, dict):
            d.pop("report", None)
            d.pop("hydra", None)
    if saved != current:
        return None
    summary = json.loads(summary_path.read_text())
    summary["resumed"] = True
    from .engine.result import remove_stale_temp_files
    remove_stale_temp_files(run_dir)
    say(f"skipped (report.resume=true, results complete): {run_dir}")
    return summary
