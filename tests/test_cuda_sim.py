"""The CUDA engine against the CPU engine, in Numba's CUDA simulator (no GPU needed).

The simulator must be chosen before numba.cuda is first imported, so every
check runs ``tests/cuda_sim_check.py`` in a subprocess with its own
environment and reads back JSON:

* simulator (``NUMBA_ENABLE_CUDASIM=1``) vs the CPU engine's kernel run as
  Python (``NUMBA_DISABLE_JIT=1``; tests/test_engine.py shows that path gives
  the compiled kernels' bits) for every registered optimizer that runs on
  CUDA -- picked up from the registry -- on rosenbrock 2-D, quadratic 3-D and
  himmelblau, with torch defaults, with per-trajectory learning rates up to
  10^4 x the default (diverging runs), and with gradient noise + clipping;
  float32 on the quadratic. About 25 s.
* chunked runs and a one-block grid (the grid-stride loop), the "does not
  fit" error, gradient noise;
* without the simulator: the one-line errors (no driver/GPU here, numba-cuda
  missing, an optimizer without a CUDA kernel) and that importing optlab
  imports no numba.cuda;
* the compiled CPU engine as the reference: every CUDA optimizer on
  rosenbrock and the quadratic (float32 for SGD and Adam), 3 trajectories x 12
  steps; its kernels are the ones tests/test_optimizers.py loads next (about
  5 s with them cached, 40 s cold);
* SGD on every registered objective in the simulator, 2 trajectories x 6
  steps (about 15 s);
* the real CUDA compiler (libNVVM, when a toolkit is on disk): the generated
  kernels compile to PTX, without FMA contraction.

The tests that run the simulator need numba-cuda (the ``cuda`` extra, which
CI installs) and are skipped without it. ``OPTLAB_TEST_SLOW=1`` adds the
``slow`` tests: the PTX of every optimizer and every objective (minutes with
a toolkit on disk; skipped without one).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve().parent / "cuda_sim_check.py"
SIM_PY = {"NUMBA_ENABLE_CUDASIM": "1", "NUMBA_DISABLE_JIT": "1"}
SIM_JIT = {"NUMBA_ENABLE_CUDASIM": "1"}

pytestmark = pytest.mark.cudasim
needs_slow_opt_in = pytest.mark.skipif(os.environ.get("OPTLAB_TEST_SLOW", "") in ("", "0"),
                                       reason="minutes with a CUDA toolkit on disk; set OPTLAB_TEST_SLOW=1")
needs_numba_cuda = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                      reason="the CUDA simulator needs numba-cuda: pip install -e '.[cuda]'")


def run_check(mode, *args, env=None, timeout=600):
    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT")}
    full.update(env or {})
    p = subprocess.run([sys.executable, str(SCRIPT), mode, *args], cwd=ROOT, env=full, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-4000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def cuda_optimizer_names():
    from optlab import optimizers
    return [s.name for s in optimizers.registry if "cuda" in s.devices and s.kernel_source is None]


@pytest.fixture(scope="module")
def sim_vs_python_cpu():
    return run_check("compare", env=SIM_PY)


def check_case(c, compiled_reference=False):
    where = f"{c['optimizer']} on {c['objective']} ({c['setting']}, {c['dtype']})"
    assert "error" not in c, f"{where}: {c.get('error')}\n{c.get('traceback', '')}"
    assert c["shapes_equal"] and c["dtype_cuda"] == c["dtype"], where
    assert c["outcomes_cuda"] == c["outcomes_cpu"], where
    assert c["diverged_cuda"] == c["diverged_cpu"], where
    assert c["tol_cuda"] == c["tol_cpu"], where
    assert c["best_cuda"] == c["best_cpu"], where
    assert c["patterns_equal"], f"{where}: NaN/inf records differ"
    assert c["extra_keys_cuda"] == c["extra_keys_cpu"], where
    if c["dtype"] == "float64":
        assert c["max_abs_live"] <= 1e-12, f"{where}: {c['max_abs_live']}"
    else:  # float32: the same bits (the kernels' plain Python keeps numpy's float32 where Numba does)
        assert c["max_abs_live"] == 0.0, f"{where}: {c['max_abs_live']}"


@pytest.mark.slow
@needs_numba_cuda
@pytest.mark.parametrize("name", cuda_optimizer_names())
def test_matches_cpu_engine(sim_vs_python_cpu, name):
    cases = [c for c in sim_vs_python_cpu["cases"] if c["optimizer"] == name]
    assert len(cases) >= 10, f"{name}: only {len(cases)} cases ran"
    for c in cases:
        check_case(c)


@pytest.mark.slow
@needs_numba_cuda
def test_comparisons_cover_divergence_convergence_and_extras(sim_vs_python_cpu):
    cases = [c for c in sim_vs_python_cpu["cases"] if "error" not in c]
    diverged = [c for c in cases if "diverged" in c["outcomes_cpu"]]
    converged = [c for c in cases if "converged" in c["outcomes_cpu"]]
    assert len(diverged) >= 5 and len(converged) >= 5, (len(diverged), len(converged))
    sgd_hot = [c for c in diverged if c["optimizer"] == "sgd" and c["setting"] == "hot"]
    assert sgd_hot and all(d >= 1 for c in sgd_hot for d in c["diverged_cuda"] if d >= 0)
    # an optimizer with extra per-step records (ASGD's averaged iterate)
    asgd = [c for c in cases if c["optimizer"] == "asgd"]
    assert asgd and all(c["extra_keys_cuda"] == c["extra_keys_cpu"] == ["ax"] for c in asgd)
    # the gradient-norm tol criterion (an objective without a known minimum) was exercised
    saddle = [c for c in cases if c["objective"] == "saddle"]
    assert saddle and all(c["tol_cuda"][0] == 0 for c in saddle)
    names = {c["optimizer"] for c in sim_vs_python_cpu["cases"]}
    assert names == set(cuda_optimizer_names())


@pytest.mark.slow
@needs_numba_cuda
def test_chunks_grid_stride_and_noise(sim_vs_python_cpu):
    sp = sim_vs_python_cpu["special"]
    for key, chunks in (("chunked", 4), ("chunked_2threads", 3)):
        c = dict(sp[key], optimizer="adam", objective="rosenbrock", setting=key, dtype="float64")
        check_case(c)
        assert c["chunks"] == chunks, key
        assert c["max_abs_all"] == 0.0, key
    assert "diverged" in sp["chunked"]["outcomes_cuda"]
    # an optimizer with extra per-step records (ASGD), chunked
    c = dict(sp["chunked_extra"], objective="rosenbrock", setting="chunked_extra", dtype="float64")
    check_case(c)
    assert c["chunks"] == 4 and c["extra_keys_cuda"] == ["ax"] and c["max_abs_all"] == 0.0
    assert sp["noise_changes_x"] > 1e-6  # the noise is really there, and identical to the CPU's (above)
    assert sp["offset_slice_equal"]  # trajectory_offset: a shard's slice draws the whole run's noise
    msg = sp["too_small"]
    assert msg and "\n" not in msg
    assert "one trajectory needs 320 bytes of GPU memory (8 records x 2 dims)" in msg and "free on" in msg


def test_no_gpu_error_and_import_does_not_touch_cuda():
    out = run_check("errors", timeout=300)
    assert out["cuda_modules_after_import"] == []
    assert out["lbfgs"]["type"] == "OptlabError" and "cpu engine only" in out["lbfgs"]["message"]
    adam = out["adam"]
    if adam["ran"]:
        pytest.skip("a GPU is present: the no-GPU error cannot be seen here")
    assert adam["type"] == "OptlabError", adam
    msg = adam["message"]
    assert "\n" not in msg and "device='cpu'" in msg and "engine=cpu" in msg
    if not out["numba_cuda_installed"]:  # the README's `pip install -e ".[test]"`: no cuda extra
        assert msg.startswith("device='cuda' needs numba-cuda, which is not installed"), msg
    elif not out["libcuda_found"]:
        assert msg.startswith("device='cuda' found no NVIDIA driver"), msg
    else:
        assert "GPU" in msg or "driver" in msg or "NVVM" in msg, msg


def test_missing_numba_cuda_error():
    out = run_check("missing", timeout=300)
    assert not out["ran"] and out["type"] == "OptlabError", out
    assert out["message"] == ("device='cuda' needs numba-cuda, which is not installed: pip install "
                              "'optlab[cuda]' (or numba-cuda[cu12]), or run on the CPU with device='cpu' "
                              "(engine=cpu on the command line)")


def _ptx_cases(out):
    if "skipped" in out:
        pytest.skip(out["skipped"])
    return out["cases"]


@pytest.mark.slow
def test_kernels_compile_for_a_real_gpu():
    """libNVVM compiles the generated kernels (typing, CUDA overloads, local arrays) without contraction."""
    out = run_check("ptx", "--optimizers", "adam", "--objectives", "rosenbrock,quadratic",
                    "--dtypes", "float64,float32", timeout=600)
    cases = _ptx_cases(out)
    assert len(cases) == 4
    for c in cases:
        assert c["ok"], c
        assert c["mul_rn"] > 0 and c["mul_plain"] == 0 and c["add_plain"] == 0, c  # exact_fp took effect


# --- the compiled CPU engine as reference; every objective -------------------------------

F32_SIM = ("sgd", "adam", "adamw", "adadelta", "rmsprop", "nadam")


@pytest.mark.slow
@needs_numba_cuda
def test_matches_compiled_cpu_engine():
    """Every CUDA optimizer against the compiled CPU kernels; float32 for those whose plain Python
    once left the compiled float32 bits (a root, an fma or the noise taken as a Python float)."""
    out = run_check("compare", "--objectives", "rosenbrock,quadratic", "--float32-optimizers", ",".join(F32_SIM),
                    "--n", "3", "--steps", "12", "--no-special", env=SIM_JIT, timeout=1200)
    assert out["disable_jit"] == "0"
    cases = out["cases"]
    assert {c["optimizer"] for c in cases} == set(cuda_optimizer_names())
    assert {(c["optimizer"], c["objective"]) for c in cases if c["dtype"] == "float32"} == {
        (name, "quadratic") for name in F32_SIM}
    assert any("diverged" in c.get("outcomes_cpu", ()) for c in cases)  # the NaN records are compared too
    for c in cases:
        check_case(c, compiled_reference=True)


@pytest.mark.slow
@needs_numba_cuda
def test_every_objective_matches_cpu_engine():
    """SGD on every registered objective (finite-sum ones draw minibatches from ctx), in the simulator."""
    out = run_check("compare", "--optimizers", "sgd", "--objectives", "all", "--n", "2", "--steps", "6",
                    env=SIM_PY, timeout=1200)
    from optlab import objectives
    assert {c["objective"] for c in out["cases"]} == set(objectives.names())
    for c in out["cases"]:
        check_case(c)


# --- slow: every optimizer's and every objective's PTX -----------------------------------


@pytest.mark.slow
@needs_slow_opt_in
def test_every_optimizer_and_objective_compiles_for_a_real_gpu():
    out = run_check("ptx", "--optimizers", "sgd", "--objectives", "all", timeout=3600)
    cases = _ptx_cases(out)
    from optlab import objectives
    assert {c["objective"] for c in cases} == set(objectives.names())
    for c in cases:
        assert c["ok"], c


@pytest.mark.slow
@needs_slow_opt_in
def test_every_optimizer_compiles_for_a_real_gpu():
    out = run_check("ptx", "--dtypes", "float64,float32", timeout=3600)
    cases = _ptx_cases(out)
    assert {c["optimizer"] for c in cases} == set(cuda_optimizer_names())
    for c in cases:
        assert c["ok"], c
        assert c["mul_plain"] == 0 and c["add_plain"] == 0, c


# --- in-process: memory planning (imports no numba.cuda) ---------------------------------

def test_plan_chunks_fits_and_refuses_with_numbers():
    from optlab.engine import cuda as ecuda
    from optlab.errors import OptlabError
    per = ecuda.bytes_per_trajectory(11, 2, 5, 8)
    free = (ecuda.RESERVE_BYTES + 1000.5 * per) / ecuda.FREE_FRACTION
    assert ecuda.plan_chunks(10**6, 11, 2, 5, 8, free, 1000, 100) == (1000, per)
    assert ecuda.plan_chunks(10, 11, 2, 5, 8, free, 1000, 100) == (10, per)
    # 10^6 steps recorded every step: one trajectory needs ~23 MiB, 8 MiB usable -> suggest a stride
    free = (ecuda.RESERVE_BYTES + 8 * 2**20) / ecuda.FREE_FRACTION
    with pytest.raises(OptlabError) as e:
        ecuda.plan_chunks(100, 10**6 + 1, 2, 5, 8, free, 10**6, 1)
    msg = str(e.value)
    assert "one trajectory needs 22.9 MiB of GPU memory (1000001 records x 2 dims)" in msg
    assert "use record_every=3 or more" in msg


def test_importing_the_cuda_engine_is_lazy():
    code = ("import sys, optlab, optlab.engine.cuda, optlab.bench.cuda; "
            "print([m for m in sys.modules if m == 'numba.cuda' or m.startswith(('numba.cuda.', 'numba_cuda'))])")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


@needs_numba_cuda
def test_bench_cuda_quick_runs_in_the_simulator(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items()}
    env.update(SIM_PY)
    p = subprocess.run([sys.executable, "-m", "optlab.bench.cuda", "--quick", "--dtypes", "float64", "--json",
                        str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())["dtypes"]["float64"]
    assert res["gpu_device"] == "CUDA simulator" and res["gpu_chunks"] == 1
    for key in ("gpu_kernel_steps_per_s", "gpu_run_steps_per_s", "cpu_steps_per_s", "ratio_kernel"):
        assert res[key] > 0, key
    agree = res["agreement"]
    assert agree["compared_trajectories"] == 32 and agree["outcomes_equal"] == 32
    assert agree["max_abs_diff_x"] == 0.0 and agree["max_abs_diff_x_final"] == 0.0
