"""Smoke tests of the benchmark commands (their figures are measured by hand, not here)."""
import json
import math

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
