"""float32 runs in torch's float32 arithmetic, bit for bit.

In a float32 run the parameters, the optimizer state, f and the gradient are
float32; the hyperparameters stay float64 (torch's Python floats); the analytic
objectives evaluate in float64 at the float32 point and round f and the
gradient once. Adam, AdamW, Adamax, NAdam, RAdam, SparseAdam, SGD (and its
presets), RMSprop, Adagrad, Adadelta, Rprop and ASGD then compute as torch's CPU kernels do on float32
tensors: each float64 scalar (``1 - beta1``, ``beta2``, the step size
``lr / (1 - beta1**t)``, ``sqrt(1 - beta2**t)``, eps; SGD's ``-lr``, momentum,
``1 - dampening``; RMSprop's ``alpha``; Adagrad's decayed lr; Rprop's etas and
step-size bounds; ASGD's ``1 - lambd eta``) rounded to float32 where torch hands it to a float32 kernel,
and float32 operations in torch's order.

(a) offline: ``tests/torch_reference/float32.npz`` (written by this file run as
    a script, ``python tests/test_float32.py``, under torch 2.13) against
    ``optlab.simulate(dtype="float32")``: every coordinate of every one of the
    200 steps equal, through the shared kernel, an lr sweep, betas per
    trajectory and runs of betas;
(b) live (``-m parity``, needs torch): the same cases regenerated in-process.

torch's own float32 ``sqrt`` is not correctly rounded on every CPU (here it goes
through a vector math library: 0.7% of random float32 inputs came back one ulp
off on an AVX-512 Xeon), and which CPU path torch takes changes it; the
references are recorded with ``Tensor.sqrt`` (and ``sqrt_``) taken in float64 and
rounded to float32, the correctly rounded root that optlab (and IEEE 754) computes, so that
they do not depend on the machine that wrote them.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

import optlab

REF = Path(__file__).resolve().parent / "torch_reference" / "float32.npz"
STEPS = 200
STARTS = {"rosen2d": ("rosenbrock", [[-1.5, 2.0], [0.3, -0.4], [1.2, 1.1]]),
          "rosen4d": ("rosenbrock", [[-1.2, 1.0, -0.5, 0.8]]),
          "sphere3d": ("sphere", [[0.7, -1.3, 2.1]])}
#: (label, optimizer, keywords) on every start of every objective (maximize: the sphere only)
CASES = [
    ("adam_default", "adam", dict()),
    ("adam_lr", "adam", dict(lr=1e-2)),
    ("adam_betas_wd", "adam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.01)),
    ("adam_amsgrad_wd", "adam", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01)),
    ("adam_decoupled_eps", "adam", dict(lr=5e-3, eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam_maximize", "adam", dict(lr=1e-2, maximize=True)),
    ("adamw_default", "adamw", dict()),
    ("adamw_betas_wd", "adamw", dict(lr=3e-2, betas=(0.5, 0.9), weight_decay=0.3)),
    ("sgd_plain", "sgd", dict(lr=1e-3)),
    ("sgd_momentum_damp_wd", "sgd", dict(lr=1e-3, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", "sgd", dict(lr=1e-3, momentum=0.8, nesterov=True)),
    ("sgd_nesterov_maximize", "sgd", dict(lr=1e-2, momentum=0.5, nesterov=True, maximize=True)),
    ("rmsprop_default", "rmsprop", dict(lr=1e-3)),
    ("rmsprop_centered_momentum", "rmsprop", dict(lr=1e-3, alpha=0.9, momentum=0.5, centered=True)),
    ("rmsprop_momentum_wd_eps", "rmsprop", dict(lr=1e-3, momentum=0.3, weight_decay=0.01, eps=1e-6)),
    ("rmsprop_maximize", "rmsprop", dict(lr=1e-2, centered=True, maximize=True)),
    ("adagrad_default", "adagrad", dict()),
    ("adagrad_decay_init_eps", "adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, eps=1e-8)),
    ("adagrad_wd_maximize", "adagrad", dict(lr=0.05, weight_decay=0.01, maximize=True)),
    ("adamax_default", "adamax", dict()),
    ("adamax_betas_eps_wd", "adamax", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.02)),
    ("adamax_maximize", "adamax", dict(lr=1e-2, maximize=True)),
    ("adadelta_default", "adadelta", dict()),
    ("adadelta_rho_eps_lr", "adadelta", dict(lr=0.5, rho=0.95, eps=1e-5)),
    ("adadelta_wd_maximize", "adadelta", dict(lr=1.0, rho=0.8, weight_decay=0.01, maximize=True)),
    ("nadam_default", "nadam", dict()),
    ("nadam_betas_mdecay_wd", "nadam", dict(lr=5e-3, betas=(0.85, 0.99), momentum_decay=8e-3, weight_decay=0.01)),
    ("nadam_decoupled_wd", "nadam", dict(lr=5e-3, weight_decay=0.1, decoupled_weight_decay=True)),
    ("nadam_maximize", "nadam", dict(lr=1e-2, maximize=True)),
    ("radam_default", "radam", dict()),
    ("radam_betas_wd", "radam", dict(lr=1e-3, betas=(0.9, 0.9), weight_decay=0.01)),
    ("radam_never_rectified", "radam", dict(lr=5e-4, betas=(0.8, 0.6))),
    ("radam_decoupled_wd", "radam", dict(lr=1e-3, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam_maximize", "radam", dict(lr=1e-2, maximize=True)),
    ("rprop_default", "rprop", dict()),
    ("rprop_etas_sizes", "rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-4, 0.5))),
    ("rprop_maximize", "rprop", dict(lr=1e-3, maximize=True)),
    ("asgd_default", "asgd", dict(lr=1e-3)),
    ("asgd_t0_lambd_alpha", "asgd", dict(lr=1e-3, lambd=1e-3, alpha=0.6, t0=50.0)),
    ("asgd_wd_t0_0", "asgd", dict(lr=1e-3, weight_decay=0.01, t0=0.0, lambd=1e-2)),
    ("asgd_maximize", "asgd", dict(lr=1e-2, t0=20.0, maximize=True)),
    ("sparse_adam_default", "sparse_adam", dict()),
    ("sparse_adam_lr_betas_eps", "sparse_adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("sparse_adam_maximize", "sparse_adam", dict(lr=1e-2, maximize=True)),
]


def _cases():
    for label, opt, kw in CASES:
        for key, (obj, starts) in STARTS.items():
            if kw.get("maximize") and obj != "sphere":
                continue  # ascent on Rosenbrock blows up
            for i, x0 in enumerate(starts):
                yield f"{label}/{key}/{i}", opt, obj, np.array(x0), kw


@contextlib.contextmanager
def _correct_sqrt(torch):
    """``Tensor.sqrt`` and ``Tensor.sqrt_`` of float32 tensors correctly rounded (through float64)."""
    plain, inplace = torch.Tensor.sqrt, torch.Tensor.sqrt_

    def sqrt(self):
        return plain(self.double()).float() if self.dtype == torch.float32 else plain(self)

    def sqrt_(self):
        return self.copy_(plain(self.double())) if self.dtype == torch.float32 else inplace(self)
    torch.Tensor.sqrt, torch.Tensor.sqrt_ = sqrt, sqrt_
    try:
        yield
    finally:
        torch.Tensor.sqrt, torch.Tensor.sqrt_ = plain, inplace


def torch_trajectory(torch, opt, obj, x0, kw, steps=STEPS):
    """torch.optim on one float32 parameter, ``p.grad`` = optlab's gradient at the float32 point
    (evaluated in float64, rounded to float32: what a float32 run computes)."""
    spec = optlab.objectives.get(obj)
    p = torch.nn.Parameter(torch.tensor(np.asarray(x0, dtype=np.float32)))
    name = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
            "adamax": "Adamax", "adadelta": "Adadelta", "nadam": "NAdam", "radam": "RAdam",
            "rprop": "Rprop", "asgd": "ASGD", "sparse_adam": "SparseAdam"}[opt]
    o = getattr(torch.optim, name)([p], **kw)
    xs = [p.detach().numpy().copy()]
    with _correct_sqrt(torch):
        for _ in range(steps):
            g = np.asarray(spec.grad(p.detach().numpy().astype(np.float64)), dtype=np.float64)
            grad = torch.tensor(g.astype(np.float32))
            p.grad = grad.to_sparse() if opt == "sparse_adam" else grad  # SparseAdam: its zeros left out
            o.step()
            xs.append(p.detach().numpy().copy())
    return np.array(xs)


def generate(path=REF):
    import torch
    assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
    out = {name: torch_trajectory(torch, opt, obj, x0, kw) for name, opt, obj, x0, kw in _cases()}
    np.savez_compressed(path, **out)
    return out


def _engine(opt, obj, x0, kw, **more):
    return optlab.simulate(opt, obj, x0=x0, steps=STEPS, dtype="float32", progress=False, **kw, **more).x


def _reference():
    with np.load(REF) as z:
        return {k: z[k] for k in z.files}


def test_reference_file_covers_the_cases():
    ref = _reference()
    assert sorted(ref) == sorted(name for name, *_ in _cases())
    assert all(v.dtype == np.float32 and v.shape[0] == STEPS + 1 for v in ref.values())


#: optimizers whose float32 kernels only the slow run compiles (about 5 s each with every cache empty): their
#: float64 kernels meet torch in the default run, and their float32 arithmetic is ops.like's, which Adam,
#: AdamW, SGD, RMSprop, NAdam and ASGD (the default run's float32 cases) exercise on every path
SLOW_FLOAT32 = {"adagrad", "adadelta", "adamax", "radam", "rprop", "sparse_adam"}


@pytest.mark.parametrize("label", [pytest.param(c[0], marks=pytest.mark.slow) if c[1] in SLOW_FLOAT32 else c[0]
                                   for c in CASES])
def test_float32_adam_is_torchs_float32_bit_for_bit(label):
    ref = _reference()
    for name, opt, obj, x0, kw in _cases():
        if not name.startswith(label + "/"):
            continue
        x = _engine(opt, obj, x0, kw)[0]
        assert x.dtype == np.float32
        bad = np.flatnonzero((x != ref[name]).any(axis=1))
        assert bad.size == 0, f"{name}: first step that differs {bad[0]}: {x[bad[0]]} vs torch {ref[name][bad[0]]}"


def test_float32_sweep_paths_give_each_trajectory_torchs_bits():
    # the lr sweep path (lrs differ, betas shared), runs of shared betas in a block (at most
    # adam.MAX_RUNS) and betas per trajectory (more runs: the per-trajectory bias corrections);
    # each trajectory against its own torch run
    ref = _reference()
    x0 = np.array(STARTS["rosen2d"][1])
    lrs = [1e-3, 1e-2, 1e-2]
    x = _engine("adam", "rosenbrock", x0, {}, lr=lrs)
    for i in range(3):
        want = ref[f"adam_default/rosen2d/{i}"] if lrs[i] == 1e-3 else ref[f"adam_lr/rosen2d/{i}"]
        np.testing.assert_array_equal(x[i], want)
    from optlab.optimizers import adam
    for n in (6, 6 * adam.MAX_RUNS):
        k = np.arange(n)
        starts = x0[(k // 2) % 3]
        x = _engine("adam", "rosenbrock", starts, dict(lr=1e-2, beta1=np.where(k % 2, 0.8, 0.9),
                                                      beta2=np.where(k % 2, 0.99, 0.999),
                                                      weight_decay=np.where(k % 2, 0.01, 0.0)))
        for i in range(n):
            name = ("adam_betas_wd" if i % 2 else "adam_lr") + f"/rosen2d/{(i // 2) % 3}"
            np.testing.assert_array_equal(x[i], ref[name], err_msg=f"{n} trajectories, #{i}")


def test_float32_paths_agree_whatever_the_neighbours():
    # a trajectory's bits do not depend on which path its block takes: alone (the shared kernel),
    # in an lr sweep, in a few runs of betas, with betas per trajectory (more runs than MAX_RUNS)
    from optlab.optimizers import adam
    alone = _engine("adam", "rosenbrock", np.array([[-1.5, 2.0]]), dict(lr=3e-3, betas=(0.85, 0.995)))[0]
    for n in (4, 4 * adam.MAX_RUNS):
        x0 = np.array([[-1.5, 2.0]] * n)
        k = np.arange(n)
        lr = np.where(k % 2, 1e-2 * (1 + k / n), 3e-3)
        sweep = _engine("adam", "rosenbrock", x0, dict(lr=lr, betas=(0.85, 0.995)))
        betas = _engine("adam", "rosenbrock", x0, dict(lr=lr, beta1=np.where(k % 2, 0.9 - 0.1 * k / n, 0.85),
                                                       beta2=np.where(k % 2, 0.999 - 0.05 * k / n, 0.995)))
        for i in range(0, n, 2):
            np.testing.assert_array_equal(sweep[i], alone, err_msg=f"lr sweep, {n} trajectories, #{i}")
            np.testing.assert_array_equal(betas[i], alone, err_msg=f"betas, {n} trajectories, #{i}")


@pytest.mark.parity
@pytest.mark.slow
def test_live_float32_parity():
    torch = pytest.importorskip("torch")
    if torch.__version__.split("+")[0] != "2.13.0":
        pytest.skip(f"the references are torch 2.13.0's (found {torch.__version__})")
    ref = _reference()
    for name, opt, obj, x0, kw in _cases():
        np.testing.assert_array_equal(torch_trajectory(torch, opt, obj, x0, kw), ref[name], err_msg=name)


# objectives whose float32 f or gradient accumulates in the run's float32 rows (docs/DESIGN.md,
# "float32 runs"): f of the N-D sums, and every value of these
ACCUMULATE_F = {"sphere", "rastrigin", "styblinski_tang", "rosenbrock"}
ACCUMULATE_ALL = {"quadratic", "griewank", "plateau_cliff", "linear_regression", "logistic_regression",
                  "sparse_linear", "mlp"}  # (the quadratic's A x: one rounding only while A is diagonal)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(optlab.objectives.names()) - ACCUMULATE_ALL))
def test_float32_objectives_round_once(name):
    """A float32 run's f and first step (SGD, lr 1: x - g) are float32 of the float64 values at the
    float32 point, for every objective that computes them in one expression; the N-D sums' f
    accumulates (Rosenbrock's 2-D form is one expression). A torch fuzz found Griewank's gradient
    rounded twice."""
    spec = optlab.objectives.get(name)
    dims = [spec.dim] if spec.dim else [2, 3]
    rng = np.random.default_rng(1)
    for dim in dims:
        lo, hi = np.asarray(spec.domain, dtype=float).reshape(-1, 2)[0] if spec.domain is not None else (-2, 2)
        x = rng.uniform(lo, hi, (64, dim)).astype(np.float32).astype(np.float64)
        res = optlab.simulate("sgd", name, x0=x, steps=1, lr=1.0, dtype="float32", progress=False, blowup=np.inf)
        want_x = np.stack([np.float32(p) - np.float32(spec.grad(p)) for p in x]).astype(np.float32)
        np.testing.assert_array_equal(res.x[:, 1], want_x, err_msg=f"{name} D={dim}: the gradient")
        if name in ACCUMULATE_F and (dim > 2 or name != "rosenbrock"):  # Rosenbrock's 2-D form: one expression
            continue
        want_f = np.array([np.float32(spec.value(p)) for p in x])
        np.testing.assert_array_equal(res.loss[:, 0], want_f, err_msg=f"{name} D={dim}: f")


if __name__ == "__main__":
    generate()
    print(f"wrote {REF}")
