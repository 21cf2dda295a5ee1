"""Shared fixtures. Kernels come from the user cache (~/.cache/optlab), so a
second run of the suite compiles nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# absl's log handler (optax imports absl.logging; the bench's peer tests import optax) keeps the
# sys.stderr of the test that created it, and closes that stream when logging shuts its handlers
# down unless it is the *current* sys.stderr. An in-process Hydra run later in the same worker
# (the CLI tests) reconfigures logging, which shuts every handler down: absl then closed pytest's
# captured stderr and the rest of the worker's tests failed ("I/O operation on closed file").
# Pointed at the process's own stderr, absl never closes it.
try:
    from absl import logging as _absl_logging
    _absl_logging.get_absl_handler().python_handler.setStream(sys.__stderr__)
except ImportError:  # no bench extra
    pass


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): the whole suite in one worker per physical core, where
    there are two or more; a run of named files or tests in this process (0: no workers).

    The suite's time is mostly compiling kernels, single-threaded work that two hardware threads
    of one core share: on a 2-core AMD EPYC (one thread a core) two workers took the default run
    from 20:07 to 11:09 with every cache empty; on a 2-vCPU Intel Xeon (two threads of one core)
    two workers were slower, 12:15 against about 8 minutes (docs/DESIGN.md, "Compile workers and test workers")."""
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return 0
    from optlab.engine.warmup import physical_cores
    n = physical_cores()
    return n if n > 1 else 0


def load_module(path, name):
    """A test helper module by path, under its own name: three folders of tests hold a
    ``generate.py``, and ``import generate`` would give whichever was imported first."""
    import importlib.util
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def quick_study(name, tmp_path, theory=False, **study):
    """Run study ``name`` in quick mode into ``tmp_path/name``: the kernels it names up front are
    the ones it runs, its figures and metrics are written; with ``theory``, its theory table is the
    summary's and metrics.json's, non-empty, and every claim holds. Returns (summary, metrics, out)."""
    import json
    from dataclasses import replace

    import optlab.studies
    from optlab.engine import warmup
    from optlab.runner import run
    cfg = {"study": {"name": name, "quick": True, **study}, "plot": {"dpi": 50}}
    out = tmp_path / name
    with warmup.recording() as used:
        summary = run(cfg, out)
    keys = optlab.studies.get(name).kernels(cfg)
    # a run with one setting takes the optimizer's full kernel instead of its shared one when that is
    # cached (warmup.effective): compiled already, so nothing unplanned compiles
    # and a full-batch run of a study that planned the general objective function (which serves every mode)
    # takes it, or the full-batch function where that one is cached (objective_cpu.kernel_for): nothing compiles
    planned = {warmup.identity_of(replace(k, sweep=s, full_batch=f)) for k in keys
               for s in {k.sweep, True} for f in {k.full_batch, True}}
    ran = {warmup.identity_of(k) for k in used}
    assert ran and ran <= planned, sorted(ran - planned)
    for fig in summary.get("figures", []):
        assert (out / fig).is_file() and (out / fig).stat().st_size > 5_000, fig
    assert (out / "metrics.json").is_file() and (out / "summary.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    if theory:
        assert optlab.studies.get(name).theory
        assert metrics["theory"] == summary["theory"] and summary["theory"]
        failed = [r for r in metrics["theory"] if not r["passed"]]
        assert not failed, failed
    return summary, metrics, out


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run ``python -m optlab ARGS`` in a subprocess; returns CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "optlab", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli(tmp_path):
    def _run(*args, **kw):
        return run_cli(*args, **kw)
    return _run
