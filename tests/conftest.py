"""Shared fixtures. Kernels come from the user cache (~/.cache/optlab), so a
second run of the suite compiles nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
