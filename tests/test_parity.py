"""optlab's optimizers against torch.optim 2.13, step by step.

(a) offline: every case recorded in ``tests/torch_reference/*.npz`` (written by
    ``tests/torch_reference/generate.py`` under torch 2.13, float64) against
    ``optlab.simulate``: max |x_optlab - x_torch| <= 1e-12 at every one of the
    200 steps (ASGD's averaged iterate too); L-BFGS <= 1e-10 at every
    ``.step(closure)`` and the same ``func_evals`` after every step.
(b) live (``-m parity``, needs torch): the same cases regenerated in-process
    (plus SparseAdam on genuinely sparse minibatch gradients, and Muon + AdamW
    on wider MLPs), so a change of torch version or of an objective shows up
    here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import optlab

REF = Path(__file__).resolve().parent / "torch_reference"
sys.path.insert(0, str(REF))
import generate  # noqa: E402

TOL = 1e-12
TOL_LBFGS = 1e-10


#: reference files of other suites in the same folder (tests/test_schedulers.py, tests/test_scheduled.py,
#: tests/test_float32.py)
OTHER_SUITES = ("schedulers", "scheduled", "float32")


def _files():
    """The optimizer reference files, one per optimizer (``<name>.npz``)."""
    return sorted(p for p in REF.glob("*.npz") if p.stem not in OTHER_SUITES)


def simulate_case(case, steps=None):
    return optlab.simulate(case["optimizer"], case["objective"], x0=case["x0"],
                           steps=steps or case["steps"], objective_options=case["options"],
                           progress=False, **case["kwargs"])


def compare(case, ref):
    """Max abs differences {name: value} between optlab and torch for one case."""
    r = simulate_case(case)
    diffs = {"x": float(np.max(np.abs(r.x[0] - ref["x"])))}
    if "ax" in ref:
        diffs["ax"] = float(np.max(np.abs(r.extra["ax"][0] - ref["ax"])))
    if "func_evals" in ref:
        evals = [int(simulate_case(case, steps=k).extra["func_evals"][0])
                 for k in range(1, case["steps"] + 1)]
        diffs["func_evals"] = int(np.max(np.abs(np.asarray(evals) - ref["func_evals"])))
    return diffs


def _check(case, diffs):
    tol = TOL_LBFGS if case["optimizer"] == "lbfgs" else TOL
    name = f"{case['optimizer']}/{case['label']}/{case['key']}"
    assert diffs["x"] <= tol, f"{name}: max |dx| = {diffs['x']:.3e} > {tol:g}"
    if "ax" in diffs:
        assert diffs["ax"] <= tol, f"{name}: max |d ax| = {diffs['ax']:.3e}"
    if "func_evals" in diffs:
        assert diffs["func_evals"] == 0, f"{name}: func_evals differ by up to {diffs['func_evals']}"


def test_every_optimizer_has_a_reference_file():
    have = {p.stem for p in _files()}
    missing = sorted(set(optlab.optimizers.names()) - have)
    assert not missing, f"no torch reference for {missing}; run tests/torch_reference/generate.py"
    assert sum(p.stat().st_size for p in _files()) < 2 * 2**20


def test_reference_cases_cover_the_settings():
    for path in _files():
        meta, arrays = generate.load(path)
        cases = meta["cases"]
        assert len({c["label"] for c in cases}) >= 3, path.stem
        assert len({c["key"] for c in cases}) >= 3, path.stem
        for c in cases:
            assert arrays[f"{c['name']}__x"].shape == (c["steps"] + 1, len(c["x0"]))
            # the extra checks of _check run where they belong: ASGD's averaged iterate, L-BFGS's evaluations
            assert (f"{c['name']}__ax" in arrays) == (c["optimizer"] == "asgd"), path.stem
            assert (f"{c['name']}__func_evals" in arrays) == (c["optimizer"] == "lbfgs"), path.stem


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_offline_parity(path):
    meta, arrays = generate.load(path)
    for case in meta["cases"]:
        ref = {k[len(case["name"]) + 2:]: v for k, v in arrays.items()
               if k.startswith(case["name"] + "__")}
        _check(case, compare(case, ref))


#: the live re-runs the default run keeps; the rest run under -m slow (the offline parity above holds every
#: optimizer to torch's recorded trajectories in the default run; a live re-run adds torch's own time, up
#: to 15 s for L-BFGS's Python loops, and the same engine runs)
LIVE_DEFAULT = {"sgd", "adam", "nadam"}


@pytest.mark.parity
@pytest.mark.parametrize("opt", [o if o in LIVE_DEFAULT else pytest.param(o, marks=pytest.mark.slow)
                                 for o in generate.SETTINGS])
def test_live_parity(opt):
    pytest.importorskip("torch")
    for case in generate.cases([opt]):
        _check(case, compare(case, generate.run_case(case)))


@pytest.mark.parity
def test_live_parity_sparse_adam_on_sparse_minibatch_gradients():
    pytest.importorskip("torch")
    case = generate.sparse_case()
    ref = generate.run_case(case)
    # the minibatch gradients really are sparse: some coordinates sit still on some steps
    still = np.diff(ref["x"], axis=0) == 0.0
    assert still.any() and not still.all()
    _check(case, compare(case, ref))


@pytest.mark.parity
@pytest.mark.parametrize("case", generate.muon_adamw_live_cases(), ids=lambda c: f"{c['label']}-{c['key']}")
def test_live_parity_muon_adamw_on_wider_networks(case):
    """Muon + AdamW on MLPs with h = 16, 70 and 80 hidden units (torch's 8-lane dot product's vector tail
    and main loop), 200 steps, live only (the recorded files share a size budget)."""
    pytest.importorskip("torch")
    _check(case, compare(case, generate.run_case(case)))


@pytest.mark.parity
@pytest.mark.parametrize("name", ["adam", "adamw", "radam"])
@pytest.mark.parametrize("kw", [dict(lr=0.1, betas=(0.9, 0.5)),                        # one setting
                                dict(lr=[0.1, 0.05, 0.02], betas=(0.9, 0.5)),           # an lr sweep
                                dict(lr=0.1, betas=[(0.9, 0.5), (0.8, 0.5), (0.5, 0.5)])])  # betas per trajectory
def test_the_root_of_one_ulp_below_one_is_libms(name, kw, monkeypatch):
    """From step 53, 1 - 0.5**53 is 1 - 2**-53, whose libm ``** 0.5`` is 1.0 and whose sqrt is not.
    The kernels passed ``0.5 + 0.0 * float(t)`` to pow so that LLVM would not make it a sqrt, but
    inside a kernel that folds (a converted integer is never NaN or inf): Adam, AdamW and RAdam left
    torch's trajectory at every such step (found by fuzzing against torch). torch's float64
    ``Tensor.sqrt`` is taken correctly rounded here (numpy's): on some AVX-512 CPUs torch's own is
    one ulp off for a value in a few hundred, even in a tensor of two."""
    import math
    b = 1 - 0.5 ** 53
    assert b ** 0.5 == 1.0 != math.sqrt(b)  # the premise
    torch = pytest.importorskip("torch")
    plain = torch.Tensor.sqrt
    monkeypatch.setattr(torch.Tensor, "sqrt", lambda self: torch.from_numpy(np.sqrt(self.detach().numpy()))
                        if self.dtype == torch.float64 else plain(self))
    obj = optlab.objectives.get("sphere")
    x0 = np.array([[-0.1, -0.29], [1.0, -1.0], [0.5, 0.3]])
    res = optlab.simulate(name, "sphere", x0=x0, steps=60, record_every=1, **kw)
    for i in range(3):
        one = {k: (v[i] if isinstance(v, list) else v) for k, v in kw.items()}
        p = torch.tensor(x0[i], dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, {"adam": "Adam", "adamw": "AdamW", "radam": "RAdam"}[name])([p], **one)
        for t in range(60):
            p.grad = torch.tensor(obj.grad(p.detach().numpy()), dtype=torch.float64)
            opt.step()
            np.testing.assert_array_equal(res.x[i, t + 1], p.detach().numpy(), err_msg=f"step {t + 1}")


@pytest.mark.parametrize("name, kw, torch_kw", [
    ("adam", dict(lr=1e-3), [dict(lr=1e-3)] * 3),
    ("adam", dict(lr=1e-3, beta1=[0.9, 0.8, 0.85], beta2=[0.999, 0.998, 0.999]),
     [dict(lr=1e-3, betas=(b1, b2)) for b1, b2 in ((0.9, 0.999), (0.8, 0.998), (0.85, 0.999))]),
    ("radam", dict(lr=1e-3), [dict(lr=1e-3)] * 3),
])
def test_long_runs_take_torchs_pow_for_the_root_of_the_bias_correction(name, kw, torch_kw):
    """torch computes bias_correction2 ** 0.5 (libm's pow), which differs from the correctly rounded
    sqrt at t = 1270, 2582, 3069 for beta2 = 0.999: 1400 steps on a 2-D quadratic (whose tensors are
    short enough for torch's correctly rounded scalar sqrt), bit for bit, on the shared and the
    per-trajectory-betas paths."""
    import math
    b = 1 - 0.999 ** 1270
    assert b ** 0.5 != math.sqrt(b)  # the premise: the two roots differ at this step
    torch = pytest.importorskip("torch")
    obj = optlab.objectives.get("quadratic")
    x0 = np.array([[1.0, -1.0], [0.5, 0.3], [2.0, 1.0]])
    res = optlab.simulate(name, "quadratic", x0=x0, steps=1400, record_every=1400, **kw)
    for i in range(3):
        p = torch.tensor(x0[i], dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, {"adam": "Adam", "radam": "RAdam"}[name])([p], **torch_kw[i])
        for _ in range(1400):
            p.grad = torch.tensor(obj.grad(p.detach().numpy()), dtype=torch.float64)
            opt.step()
        np.testing.assert_array_equal(res.x_final[i], p.detach().numpy())


@pytest.mark.parity
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dim", [1, 2, 3, 5, 8, 12, 13, 33])
def test_clip_grad_norm_is_torchs_bit_for_bit(dtype, dim):
    """``clip_grad_norm`` against ``torch.nn.utils.clip_grad_norm_`` then ``SGD.step``. The factor was
    ``clip / (norm + 1e-6)`` with the squares summed in float64 in coordinate order, where torch
    takes ``reciprocal(norm + 1e-6) * clip`` in the tensor's type with its CPU norm's lanes and
    fused tail (driver.clip_coef): one clipped step in 5-60 left torch's by an ulp or more.

    (a) one step from 1,000 starts of scales 1e-3 to 1e3 on the sphere (gradient 2x, exact), and
    two starts whose float32 squares overflow (torch's factor is then 0: the point stays; the CUDA
    simulator moved it); (b) 40 steps of 3 trajectories on Rosenbrock, every step. The norm's lanes
    are those of torch's AVX2 and AVX-512 kernels (x86-64); torch's portable build adds otherwise."""
    torch = pytest.importorskip("torch")
    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip(f"torch runs its {torch.backends.cpu.get_cpu_capability()} kernels here: other norm lanes")
    tdt = getattr(torch, dtype)
    rng = np.random.default_rng(dim)
    x0 = (rng.standard_normal((1000, dim)) * 10.0 ** rng.uniform(-3, 3, (1000, 1))).astype(dtype)
    x0[:2] = 3e19 if dtype == "float32" else x0[:2]
    one = optlab.simulate("sgd", "sphere", x0=x0, steps=1, lr=0.5, clip_grad_norm=0.7, blowup=np.inf, dtype=dtype)
    want = np.empty_like(x0)
    for i in range(len(x0)):
        p = torch.tensor(x0[i], requires_grad=True)
        p.grad = torch.from_numpy(2 * x0[i])
        torch.nn.utils.clip_grad_norm_([p], 0.7)
        torch.optim.SGD([p], lr=0.5).step()
        want[i] = p.detach().numpy()
    np.testing.assert_array_equal(one.x_final, want)
    if dtype == "float32":
        assert (one.x_final[:2] == x0[:2]).all()
    name = "sphere" if dim == 1 else "rosenbrock"
    obj = optlab.objectives.get(name)
    x0 = rng.uniform(-2.0, 2.0, (3, dim)).astype(dtype)
    res = optlab.simulate("sgd", name, x0=x0, steps=40, lr=1e-3, clip_grad_norm=0.5, blowup=np.inf,
                          dtype=dtype, record_every=1)
    for i in range(3):
        p = torch.tensor(x0[i], dtype=tdt, requires_grad=True)
        opt = torch.optim.SGD([p], lr=1e-3)
        for t in range(40):
            g = obj.grad(p.detach().numpy().astype(np.float64)).astype(dtype)  # the engine's: float64, rounded once
            p.grad = torch.from_numpy(g)
            torch.nn.utils.clip_grad_norm_([p], 0.5)
            opt.step()
            np.testing.assert_array_equal(res.x[i, t + 1], p.detach().numpy(), err_msg=f"trajectory {i}, step {t + 1}")
