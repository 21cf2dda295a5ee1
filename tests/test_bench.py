"""Smoke tests of the benchmark commands (their figures are measured by hand, not here)."""
import json
import math
import os
import sys

import pytest

from optlab import bench
from optlab.bench.optimizers import best_pair, optimizer_table


def test_best_pair_alternates_and_keeps_the_best():
    calls = []
    ta, tb = best_pair(lambda: calls.append("a"), lambda: calls.append("b"), repeat=3)
    assert calls == ["a", "b"] * 3
    assert 0.0 <= ta < 1.0 and 0.0 <= tb < 1.0


def test_core_quick_writes_its_figures(tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--section", "core", "--json", str(out)]) == 0
    core = json.loads(out.read_text())["core"]
    for key in ("engine_steps_per_s", "numpy_steps_per_s", "divider_floor_steps_per_s"):
        assert math.isfinite(core[key]) and core[key] > 0
    assert core["ratio"] == core["engine_steps_per_s"] / core["numpy_steps_per_s"]


def test_optimizer_table_rows():
    rows = optimizer_table(N=256, T=20, repeat=1, names=["sgd", "adam"], min_seconds=0.0)
    assert [r["name"] for r in rows] == ["sgd", "adam"]
    for r in rows:
        assert r["engine_steps_per_s"] > 0 and r["numpy_steps_per_s"] > 0
        assert r["ratio"] == r["engine_steps_per_s"] / r["numpy_steps_per_s"]


# --- --section compile -------------------------------------------------------------------------

def test_compile_child_output_is_parsed_strictly():
    from optlab.bench.compile import MARK, parse_child
    noise = "progress 3/3\n" + MARK + '{"first_call_s": 9.0}\n'
    out = parse_child(noise + MARK + '{"first_call_s": 1.5, "load_s": 1.25, "x": [[0.0, 1.0]]}\ntrailing\n')
    assert out == {"first_call_s": 1.5, "load_s": 1.25, "x": [[0.0, 1.0]]}  # the last marked line
    for bad in ("", "first_call_s 1.5\n", MARK + "[1.5]\n", MARK + '{"load_s": 1.0}\n',
                MARK + '{"first_call_s": -1.0}\n', MARK + '{"first_call_s": NaN}\n', MARK + "{not json\n"):
        with pytest.raises(ValueError):
            parse_child(bad)


def test_compile_children_get_their_own_empty_caches_and_this_optlab(tmp_path):
    from pathlib import Path

    from optlab.bench.compile import child_command, child_env
    base = {"PATH": "/bin", "PYTHONPATH": "/elsewhere", "OPTLAB_CACHE_DIR": "/shared", "NUMBA_CACHE_DIR": "/shared2"}
    env = child_env(tmp_path / "a", base)
    assert base["OPTLAB_CACHE_DIR"] == "/shared"  # the base is not changed
    assert env["OPTLAB_CACHE_DIR"] == str(tmp_path / "a" / "optlab")
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "a" / "numba")
    assert env["PATH"] == "/bin"
    repo = Path(bench.__file__).resolve().parents[2]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(repo), "/elsewhere"]
    other = child_env(tmp_path / "b", base)
    assert other["OPTLAB_CACHE_DIR"] != env["OPTLAB_CACHE_DIR"] and other["NUMBA_CACHE_DIR"] != env["NUMBA_CACHE_DIR"]
    engine, reference = child_command("engine"), child_command("reference")
    assert engine[0] == sys.executable and engine[1] == "-c"
    assert 'optlab.simulate("adam", "rosenbrock", x0=np.zeros((4, 2)), steps=3)' in engine[2]
    assert "adam_rosenbrock_blocked(x, lr, 3," in reference[2]
    with pytest.raises(KeyError):
        child_command("torch")


def test_compile_cpu_model_from_cpuinfo():
    from optlab.bench.compile import best_median, cpu_model
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
    assert cpu_model(text) == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    assert cpu_model("processor\t: 0\n") and cpu_model("") == cpu_model("model name\t: \n")  # the fallback
    assert best_median([3.0, 1.0, 2.0, 10.0]) == {"best": 1.0, "median": 2.5}


def test_compile_reference_kernel_is_adam():
    """The hand-written reference does the engine's work: torch's Adam, per-trajectory lr, on
    whole and partial blocks of 256 (against the bench's numpy reference)."""
    import numpy as np

    from optlab.bench.compile import BLOCK, adam_rosenbrock_blocked
    from optlab.bench.references import REFERENCES, rosen_grad
    rng = np.random.default_rng(1)
    n = BLOCK + 45
    x0 = np.vstack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])
    lr = 10.0 ** rng.uniform(-4, -2, n)
    x = x0.copy()
    adam_rosenbrock_blocked(x, lr, 25, 0.9, 0.999, 1e-8)
    ref = REFERENCES["adam"](x0.copy(), 25, rosen_grad, lr=lr)
    assert np.abs(x - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())
    assert np.abs(x - x0).min() > 0  # every trajectory moved, the partial block's last one too


def test_compile_section_smoke(tmp_path):
    """One cold and one warm run of each side (about 20-25 s on 2 cores)."""
    out = tmp_path / "bench.json"
    assert bench.main(["--section", "compile", "--repeat", "1", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["compile"]
    assert row["repeat"] == 1 and row["cpu_cores"] == os.cpu_count() and row["cpu_model"]
    cold, ref = row["engine_cold"]["best"], row["reference_cold"]["best"]
    assert row["ratio_best"] == cold / ref and row["target_ratio"] == 2.0
    assert 0 < row["engine_load"]["best"] <= cold  # load_s is part of the first simulate call
    assert row["engine_warm"]["best"] < cold and row["reference_warm"]["best"] < ref
    assert row["max_abs_diff_x"] <= 1e-12
