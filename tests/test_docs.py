"""The README's Python examples and the docstring examples of the public notebook API run as written."""
import doctest
import importlib
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

ROOT = Path(__file__).resolve().parents[1]
README_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
FRAMES_CALLS = ("to_xarray", "to_pandas")


def test_the_readme_has_python_examples():
    assert len(README_BLOCKS) >= 2


@pytest.mark.parametrize("k", range(len(README_BLOCKS)))
def test_readme_python_block_runs(k, tmp_path, monkeypatch):
    code = README_BLOCKS[k]
    if any(c in code for c in FRAMES_CALLS):
        pytest.importorskip("xarray")   # the `frames` extra; CI installs it
        pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)         # anything an example writes stays out of the checkout
    try:
        exec(compile(code, f"README.md python block {k + 1}", "exec"), {"__name__": "__readme__"})
    finally:
        plt.close("all")


# module -> the public names whose docstrings must carry an example
DOCUMENTED = {
    "optlab.plot": ("paths", "loss", "heatmap", "basins"),
    "optlab.engine.sweep": ("sweep", "Sweep.to_xarray", "Sweep.to_pandas"),
    "optlab.engine.result": ("Result.to_pandas",),
}


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_docstring_examples_run(module):
    mod = importlib.import_module(module)
    if module != "optlab.plot":
        pytest.importorskip("xarray")   # to_xarray / to_pandas examples need the `frames` extra
        pytest.importorskip("pandas")
    tests = {t.name.removeprefix(module + "."): t
             for t in doctest.DocTestFinder().find(mod, module) if t.examples}
    for name in DOCUMENTED[module]:
        assert name in tests, f"{module}.{name} has no docstring example"
        assert not any(ex.options.get(doctest.SKIP) for ex in tests[name].examples), f"{name}: a skipped example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report = []
    try:
        for t in tests.values():
            runner.run(t, out=report.append)
    finally:
        plt.close("all")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted >= sum(len(tests[n].examples) for n in DOCUMENTED[module])
