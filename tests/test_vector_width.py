"""The preferred vector width per dtype (engine/jitopts.py): parsed, applied, keyed, and bit-neutral."""
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numba
import numpy as np
import pytest

import optlab
from optlab.engine import codegen, jitopts
from optlab.errors import OptlabError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, avx512, expect", [
    (None, True, {"float32": 512, "float64": None, "data": 512}),
    ("auto", False, {"float32": None, "float64": None, "data": None}),
    ("llvm", True, {"float32": None, "float64": None, "data": None}),
    ("256", True, {"float32": 256, "float64": 256, "data": 256}),
    (" 512 ", False, {"float32": 512, "float64": 512, "data": 512}),
    ("float32:512,float64:256", True, {"float32": 512, "float64": 256, "data": 256}),
    ("float32:512", True, {"float32": 512, "float64": None, "data": None}),
    ("float64:llvm,data:256", True, {"float32": None, "float64": None, "data": 256}),
])
def test_the_setting_parses(text, avx512, expect):
    assert jitopts.parse_vector_width(text, avx512) == expect


@pytest.mark.parametrize("text", ["300", "wide", "float16:512", "float32:1024", "float32=512", "float32:", "data:64"])
def test_a_bad_setting_names_the_value_and_what_is_allowed(text):
    with pytest.raises(ValueError) as e:
        jitopts.parse_vector_width(text, True)
    msg = str(e.value)
    assert repr(text.strip().lower()) in msg and "auto, llvm, 128, 256, 512" in msg and "\n" not in msg


def _probe(dtype, data=False):
    """A function of an optlab module compiled with the engine's options (not cached, so its IR
    can be read), and its LLVM IR for arrays of ``dtype``; ``data``: the module declares itself
    a loop over data samples."""
    code = "def probe(x, y):\n    for j in range(x.shape[0]):\n        y[j] = x[j] * 2.0 + 1.0\n"
    mod = types.ModuleType("optlab._width_probe_data" if data else "optlab._width_probe")
    if data:
        mod.VECTOR_WIDTH_CLASS = "data"
    exec(compile(code, "<probe>", "exec"), mod.__dict__)
    fn = mod.probe
    fn.__module__ = mod.__name__
    sys.modules[mod.__name__] = mod
    opts = dict(jitopts.CPU, cache=False)
    disp = numba.njit(**opts)(fn)
    ty = numba.from_dtype(np.dtype(dtype))
    sig = (numba.types.Array(ty, 1, "C"), numba.types.Array(ty, 1, "C"))
    disp.compile(sig)
    return disp.inspect_llvm(sig)


@pytest.mark.skipif(not jitopts.WIDTH_HOOK, reason="no width set for this CPU (LLVM's choice everywhere)")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("data", [False, True])
def test_an_engine_function_carries_its_dtypes_width(dtype, data):
    ir = _probe(dtype, data)
    width = jitopts.WIDTHS["data" if data and dtype == "float64" else dtype]
    if width is None:
        assert '"prefer-vector-width"' not in ir
    else:
        assert f'"prefer-vector-width"="{width}"' in ir


def test_the_finite_sums_declare_their_loops_data():
    from optlab.objectives import _sampling, _vecmath, mlp, quadratic, regression, rosenbrock
    for mod in (regression, mlp, _sampling, _vecmath):
        assert getattr(mod, "VECTOR_WIDTH_CLASS", None) == "data", mod.__name__
    for mod in (rosenbrock, quadratic):  # measured slower at 512 bits (docs/DESIGN.md)
        assert not hasattr(mod, "VECTOR_WIDTH_CLASS"), mod.__name__


def test_other_numba_code_keeps_llvms_width():
    def user(x, y):
        for j in range(x.shape[0]):
            y[j] = x[j] * 2.0
    disp = numba.njit(cache=False)(user)
    sig = (numba.types.float32[::1], numba.types.float32[::1])
    disp.compile(sig)
    assert '"prefer-vector-width"' not in disp.inspect_llvm(sig)


def test_the_widths_are_part_of_every_kernel_identity(monkeypatch):
    src = "# optlab kernel: kind=test template=0\nfrom optlab.engine.ops import like as _fn\n"
    codegen.forget()
    before = codegen.identity(src)
    monkeypatch.setattr(jitopts, "FINGERPRINT", jitopts.FINGERPRINT + "|other")
    codegen.forget()
    assert codegen.identity(src) != before
    codegen.forget()


def test_a_run_refuses_a_bad_setting_in_one_line(monkeypatch):
    monkeypatch.setattr(jitopts, "WIDTH_ERROR", "OPTLAB_VECTOR_WIDTH='300' is not one of auto, llvm")
    with pytest.raises(OptlabError, match="OPTLAB_VECTOR_WIDTH='300'"):
        optlab.simulate("adam", "rosenbrock", n=2, steps=2)


@pytest.mark.parametrize("var,value", [("OPTLAB_VECTOR_WIDTH", "300"), ("OPTLAB_DIVISION", "slow")])
def test_the_cli_refuses_a_bad_setting_without_a_traceback(tmp_path, var, value):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{var: value})
    p = subprocess.run([sys.executable, "-m", "optlab", "optimizer=adam", "objective=rosenbrock",
                        f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, env=env,
                       timeout=300, cwd=tmp_path)
    assert p.returncode != 0
    assert f"{var}={value!r}" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("*.npz"))


_RUN = textwrap.dedent('''
    import json
    import numpy as np
    import optlab
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-2, 2, size=(300, 2))
    out = {}
    for dtype in ("float32", "float64"):
        r = optlab.simulate("adam", "rosenbrock", x0=x0, steps=60, record_every=20,
                            lr=np.geomspace(1e-4, 1.0, 300), dtype=dtype, progress=False)
        out[dtype] = [r.x_final.astype(np.float64).tobytes().hex(), r.loss.astype(np.float64).tobytes().hex()]
    for name in ("logistic_regression", "mlp"):  # the data width: minibatches, gathers, the tanh
        dim = 33 if name == "mlp" else 2
        r = optlab.simulate("adam", name, x0=rng.uniform(-1, 1, size=(40, dim)), steps=12, record_every=4,
                            lr=np.geomspace(1e-3, 1e-1, 40), objective_options=dict(batch_size=16), progress=False)
        out[name] = [r.x.tobytes().hex(), r.loss.tobytes().hex()]
    print(json.dumps(out))
''')


@pytest.mark.slow
def test_every_width_gives_the_same_bits(tmp_path):
    """Elementwise IEEE operations and sums in order: the width changes the code, not the numbers."""
    outs = {}
    for width in ("llvm", "256", "512"):
        env = dict(os.environ, OPTLAB_VECTOR_WIDTH=width, PYTHONPATH=str(ROOT),
                   OPTLAB_CACHE_DIR=str(tmp_path / width), NUMBA_CACHE_DIR=str(tmp_path / width / "numba"))
        p = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, env=env, timeout=900)
        assert p.returncode == 0, p.stderr
        outs[width] = json.loads(p.stdout)
    assert outs["llvm"] == outs["256"] == outs["512"]
