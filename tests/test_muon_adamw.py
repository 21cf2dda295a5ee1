"""``muon_adamw``: Muon on the MLP's hidden weight matrix, AdamW on its other parameters.

* the engine against the slow numpy reference ``naive_optimizers.muon_adamw`` (2-D arrays, the
  transpose, index-order float32 sums) for h = 1, 2, 3, 5 and several settings;
* the Newton-Schulz kernel on h x 2 matrices against torch's ``_zeropower_via_newtonschulz``
  (torch 2.13), bit for bit, for h = 1 ... 130 on random and crafted matrices, and each of its dot
  products against torch's ``X @ X.T`` on probes built so that the float32 summation tree decides
  the bfloat16 result (strided first Gram matrix: index order; contiguous ones: the 8-lane code);
* what each half moves: lr = 0 leaves W, adamw_lr = 0 leaves b, v and c (no decay) untouched;
  per-trajectory hyperparameters equal separate runs; the pure-Python path gives the compiled bits;
* the one-line errors (another objective, a dimension that is not 4h + 1, a scheduler, CUDA, bad
  hyperparameters; with torch installed, AdamW's messages are torch's).

The parity runs against torch (recorded and live) are tests/test_parity.py's (``muon_adamw`` cases
of tests/torch_reference/generate.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

import naive_optimizers as naive
import optlab
from optlab import OptlabError
from optlab.optimizers import _lowp, muon_adamw
from optlab.optimizers._base import check_layout

MLP = optlab.objectives.get("mlp")
OPTIONS = dict(n_samples=64)


def start(hidden, seed=0):
    return np.random.default_rng(seed).normal(0.0, 0.5, 4 * hidden + 1)


def grad_fn(x):
    return np.asarray(MLP.grad(x, **OPTIONS))


def simulate(x0, steps, **kw):
    return optlab.simulate("muon_adamw", "mlp", x0=x0, steps=steps, objective_options=OPTIONS, progress=False,
                           **kw)


SETTINGS = [
    dict(),
    dict(lr=2e-2, momentum=0.9, nesterov=False, weight_decay=0.0, adamw_lr=1e-2, adamw_betas=(0.8, 0.99)),
    dict(lr=1e-2, adjust_lr_fn="match_rms_adamw", ns_coefficients=(3.0, -3.2, 1.2), ns_steps=3, eps=1e-5,
         weight_decay=0.01, adamw_lr=5e-3, adamw_eps=1e-6, adamw_weight_decay=0.1),
]


@pytest.mark.parametrize("hidden", [1, 2, 3, 5])
def test_kernel_matches_naive_reference(hidden):
    x0 = start(hidden, seed=hidden)
    for kw in SETTINGS:
        r = simulate(x0, 25, **kw)
        ref = naive.muon_adamw(grad_fn, x0, 25, **kw)
        scale = max(1.0, float(np.abs(ref["x"]).max()))
        assert np.abs(r.x[0] - ref["x"]).max() <= 1e-12 * scale, (hidden, kw)
        assert np.abs(ref["x"][-1] - x0).max() > 1e-3  # it moved


def test_each_half_moves_only_its_parameters():
    h = 3
    x0 = start(h, seed=1)
    w_only = simulate(x0, 10, lr=1e-2, adamw_lr=0.0, adamw_weight_decay=0.0)
    assert (w_only.x[0, :, 2 * h:] == x0[2 * h:]).all()
    assert (np.abs(w_only.x[0, -1, :2 * h] - x0[:2 * h]) > 0).all()
    rest_only = simulate(x0, 10, lr=0.0, adamw_lr=1e-2)
    assert (rest_only.x[0, :, :2 * h] == x0[:2 * h]).all()
    assert (np.abs(rest_only.x[0, -1, 2 * h:] - x0[2 * h:]) > 0).all()
    # one Muon step from a zero buffer moves W by lr' O with O = NS(bf16(g)) (orthogonal-ish rows)
    one = simulate(x0, 1, lr=1e-2, weight_decay=0.0, adamw_lr=0.0)
    step = (x0[:2 * h] - one.x[0, 1, :2 * h]).reshape(h, 2) / (1e-2 * np.sqrt(h / 2))
    s = np.linalg.svd(step, compute_uv=False)
    assert 0.5 < s.min() <= s.max() < 1.5  # Newton-Schulz's band around 1: an orthogonalised update


def test_per_trajectory_hyperparameters_equal_separate_runs():
    n = 40  # more than one block of the CPU engine at D = 13
    idx = np.arange(n) % 3
    triples = dict(lr=[1e-2, 5e-3, 2e-2], momentum=[0.95, 0.9, 0.5], ns_a=[3.4445, 3.0, 2.0],
                   ns_b=[-4.775, -3.2, -1.5], ns_c=[2.0315, 1.2, 0.5], adamw_lr=[1e-3, 1e-2, 5e-3],
                   adamw_beta1=[0.9, 0.8, 0.95], adamw_beta2=[0.999, 0.99, 0.9], adamw_weight_decay=[0.01, 0.0, 0.1])
    x0 = start(3)[None, :] + 0.01 * np.arange(n)[:, None]
    r = simulate(x0, 15, **{k: np.asarray(v)[idx] for k, v in triples.items()})
    for c in range(3):
        sel = np.flatnonzero(idx == c)
        one = simulate(x0[sel], 15, **{k: v[c] for k, v in triples.items()})
        np.testing.assert_array_equal(r.x[sel], one.x, err_msg=f"setting {c}")


@pytest.mark.slow
def test_pure_python_path_gives_the_same_bits(tmp_path):
    """NUMBA_DISABLE_JIT=1 runs the same kernel source as Python (exact fma fallback): h = 3 and h = 70
    (the dot product's main loop)."""
    runs = [(3, 4, {}), (70, 2, dict(lr=5e-2, ns_steps=3))]
    code = ("import json, sys, numpy as np, optlab\n"
            "out = []\n"
            "for h, steps, kw in json.loads(sys.argv[1]):\n"
            "    x0 = np.random.default_rng(0).normal(0.0, 0.5, 4 * h + 1)\n"
            "    r = optlab.simulate('muon_adamw', 'mlp', x0=x0, steps=steps, objective_options={'n_samples': 16},\n"
            "                        progress=False, **kw)\n"
            "    out.append(r.x.tolist())\n"
            "print(json.dumps(out))\n")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "OPTLAB_CACHE_DIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", code, json.dumps(runs)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    for (h, steps, kw), x in zip(runs, json.loads(p.stdout.strip().splitlines()[-1])):
        x0 = np.random.default_rng(0).normal(0.0, 0.5, 4 * h + 1)
        r = optlab.simulate("muon_adamw", "mlp", x0=x0, steps=steps, objective_options={"n_samples": 16},
                            progress=False, **kw)
        np.testing.assert_array_equal(np.array(x), r.x, err_msg=f"h={h}")


def test_layout_and_spec():
    spec = optlab.optimizers.get("muon_adamw")
    check_layout(spec)
    assert spec.objectives == ("mlp",) and spec.devices == ("cpu",) and spec.torch_name is None
    assert spec.defaults["adamw_weight_decay"] == 1e-2 and spec.defaults["weight_decay"] == 0.1
    _, _, vals = spec.resolve(2, dict(adamw_betas=(0.8, 0.99), adamw_beta2=[0.9, 0.95]))
    assert list(vals["adamw_beta1"]) == [0.8, 0.8] and list(vals["adamw_beta2"]) == [0.9, 0.95]


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: optlab.simulate("muon_adamw", "rosenbrock", x0=[1.0, 1.0], steps=2, progress=False),
     "Optimizer 'muon_adamw' runs on the mlp objective only (it optimizes that model's named parameter blocks); "
     "got objective 'rosenbrock'"),
    (lambda: simulate(np.zeros(10), 2),
     "Objective 'mlp' needs dimension 4*hidden + 1 (5, 9, 13, ..., 33, ...); got 10"),
    (lambda: simulate(start(2), 2, device="cuda"),
     "Optimizer 'muon_adamw' runs on the cpu engine only; got device='cuda'"),
    (lambda: simulate(start(2), 2, adamw_lr=-1.0), "Invalid learning rate: -1.0 (adamw_lr)"),
    (lambda: simulate(start(2), 2, adamw_betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0 (adamw_beta2)"),
    (lambda: simulate(start(2), 2, adamw_eps=-1e-8), "Invalid epsilon value: -1e-08 (adamw_eps)"),
    (lambda: simulate(start(2), 2, adamw_weight_decay=-0.1), "Invalid weight_decay value: -0.1 (adamw_weight_decay)"),
    (lambda: simulate(start(2), 2, lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    (lambda: simulate(start(2), 2, ns_steps=100), "Number of steps must be less than 100 for computational efficiency"),
    (lambda: simulate(start(2), 2, adamw_betas=0.9), "Invalid adamw_betas: 0.9 (must be a pair of numbers)"),
    (lambda: simulate(start(2), 2, betas=(0.9, 0.99)), "Unknown hyperparameter 'betas' for optimizer 'muon_adamw'"),
])
def test_errors_are_one_line(call, message):
    with pytest.raises(OptlabError) as e:
        call()
    assert str(e.value).startswith(message) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parity
def test_adamw_messages_are_torchs():
    torch = pytest.importorskip("torch")
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    spec = optlab.optimizers.get("muon_adamw")
    for ours, theirs, row in ((dict(adamw_lr=-1.0), dict(lr=-1.0), "adamw_lr"),
                              (dict(adamw_eps=-1.0), dict(eps=-1.0), "adamw_eps"),
                              (dict(adamw_betas=(1.0, 0.9)), dict(betas=(1.0, 0.9)), "adamw_beta1"),
                              (dict(adamw_betas=(0.9, -0.1)), dict(betas=(0.9, -0.1)), "adamw_beta2"),
                              (dict(adamw_weight_decay=-1.0), dict(weight_decay=-1.0), "adamw_weight_decay")):
        with pytest.raises(ValueError) as want:
            torch.optim.AdamW([p], **theirs)
        with pytest.raises(OptlabError) as got:
            spec.resolve(1, ours)
        assert str(got.value) == f"{want.value} ({row})"  # torch's text, then which of the two optimizers


# --- Newton-Schulz on h x 2 against torch ----------------------------------------------------------

NS = njit(muon_adamw._newton_schulz_hx2)
GRAM = njit(muon_adamw._gram)
TIE = 3 * 2.0 ** -26  # one alone vanishes next to 1 + 2**-8 in float32, two together tip its bfloat16 tie


def _crafted(rng, n):
    """A column whose products sum to a bfloat16 tie plus small terms (the summation order decides)."""
    big = [1.0, 2.0 ** -4] if rng.random() < 0.5 else [1.0, 2.0 ** -4, 2.0 ** -4, 2.0 ** -8]
    big = big[:n]
    m = n - len(big)
    tiny = np.ldexp(1 + rng.integers(0, 2, m) / 2, rng.integers(-14, -11, m))
    tiny[rng.permutation(m)[min(m, 8):]] = 0.0
    x = np.concatenate([big, tiny]) * rng.choice([-1.0, 1.0], n) * 2.0 ** rng.integers(-3, 3)
    return x[rng.permutation(n)]


def _probe(rng, n):
    """Products 1, 2**-8 and two TIE at random places of a length-n dot product: the bfloat16 result
    rounds up exactly when the two TIE meet before either meets the 1."""
    v = np.zeros(n)
    p, q, i, j = rng.choice(n, 4, replace=False)
    v[p], v[q], v[i], v[j] = 1.0, 2.0 ** -8, TIE, TIE
    return v


def _single_thread(torch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    return threads


@pytest.mark.parametrize("hidden", [4, 16] + [pytest.param(h, marks=pytest.mark.slow) for h in (33, 64, 70, 80, 100, 128, 130)])
def test_gram_dot_products_sum_in_torchs_order(hidden):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(hidden)
    threads = _single_thread(torch)
    differs = 0
    try:
        for _ in range(150):
            v = _probe(rng, hidden)
            # X = [v; 1] (2 x h): X @ X.T's off-diagonal is the dot product of v with ones
            cont = torch.stack([torch.tensor(v), torch.ones(hidden, dtype=torch.float64)]).bfloat16()
            strided = cont.T.contiguous().T  # the same X as a transposed view of an h x 2 tensor
            g = np.column_stack([v, np.ones(hidden)]).reshape(-1, 1)  # X[r, k] = g[2k + r]
            for X, first in ((cont, False), (strided, True)):
                want = (X @ X.T).double().numpy()
                got = _lowp.bf16(GRAM(g, 0, hidden, 0, 1, first))
                assert got == want[0, 1] == want[1, 0], (hidden, first, v.nonzero())
            seq = _lowp.bf16(GRAM(g, 0, hidden, 0, 1, True))
            differs += seq != (cont @ cont.T).double().numpy()[0, 1]
    finally:
        torch.set_num_threads(threads)
    if hidden >= 16:
        assert differs > 0  # the probes do tell index order from torch's vector order


@pytest.mark.parametrize("coefficients", [(3.4445, -4.7750, 2.0315), (3.0, -3.2, 1.2)])
def test_newton_schulz_equals_torchs(coefficients):
    torch = pytest.importorskip("torch")
    from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns
    rng = np.random.default_rng(3)
    threads = _single_thread(torch)
    try:
        for hidden in (1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 65, 70, 80, 96, 100, 127, 130):
            for trial in range(16):
                kind = trial % 4
                if kind == 0:
                    G = rng.normal(size=(hidden, 2)) * 10.0 ** rng.uniform(-3, 3)
                elif kind == 1:
                    G = np.column_stack([_crafted(rng, hidden), _crafted(rng, hidden)])
                elif kind == 2:
                    G = _crafted(rng, 2 * hidden).reshape(hidden, 2)
                else:
                    G = rng.normal(size=(hidden, 2)) * np.where(rng.random((hidden, 2)) < 0.3, 1e-3, 1.0)
                steps = (5, 7, 1, 0)[trial % 4 if trial < 8 else 0]
                want = torch_ns(torch.tensor(G), coefficients, steps, 1e-7).double().numpy()
                g = torch.tensor(G).bfloat16().double().numpy().reshape(-1, 1).copy()
                NS(g, 0, hidden, *coefficients, 1e-7, steps)
                np.testing.assert_array_equal(g[:, 0].reshape(hidden, 2), want, err_msg=f"h={hidden} G={G.tolist()}")
    finally:
        torch.set_num_threads(threads)
