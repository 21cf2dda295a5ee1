"""Record, with torch, what the edge_of_stability study measures: trajectories and sharpness.

    python tests/eos_reference/generate.py      # rewrite tests/eos_reference/eos.npz

torch 2.13, float64, independently of optlab's kernels: the 2-8-1 tanh network
is ``nn.Linear(2, 8) -> tanh -> nn.Linear(8, 1)`` with ``nn.MSELoss`` on
optlab's two-moons data (``optlab.objectives._data.moons_data(64, 0.1, 0)``),
called through ``torch.func.functional_call`` with its parameters set to the
study's start (``mlp_start(8, 0.5, 0)``, in the layout W, b, v, c of
``optlab.objectives.mlp``); the minimalist example is
``(x^2 y^2 - 1)^2 / 4`` written in torch. Each case runs torch.optim (SGD
without / with momentum, dampening 0; Adam) full batch, ``loss.backward();
opt.step()``, and records every ``record_every`` steps: the parameters, the
loss, the sharpness (largest eigenvalue of ``torch.autograd.functional.hessian``)
and, for Adam, the largest eigenvalue of ``P^-1 H`` with
``P = (1 - beta1^t) (sqrt(v_t / (1 - beta2^t)) + eps)`` from Adam's own state
``exp_avg_sq`` (Cohen et al., arXiv 2207.14484).

The cases cover the progressive sharpening, the first crossing of each
threshold (GD at lr 0.4 crosses 2/lr near step 250, heavy ball near 690,
Adam near 1620) and some of the late phase. Up to the crossing torch and
optlab agree to rounding; after it the two float64 runs separate (the edge of
stability amplifies rounding differences, by about twelve orders of magnitude
over 350 steps at lr 0.4), so there ``tests/test_eos.py`` applies the study's measures to
torch's own records instead. :func:`cases` and :func:`run_case`
are what the live test (``-m parity``) reuses.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FILE = HERE / "eos.npz"
WIDTH, N_SAMPLES, INIT_SCALE, INIT_SEED = 8, 64, 0.5, 0


def cases() -> list[dict]:
    """The recorded cases: name, model, optimizer (torch class and keywords), steps, record_every."""
    return [
        dict(name="mlp_gd_04", model="mlp", optimizer="gd", kwargs=dict(lr=0.4), steps=2000, record_every=10),
        dict(name="mlp_gd_035", model="mlp", optimizer="gd", kwargs=dict(lr=0.35), steps=600, record_every=10),
        dict(name="mlp_hb_05", model="mlp", optimizer="momentum", kwargs=dict(lr=0.5, momentum=0.5, dampening=0.0),
             steps=2000, record_every=10),
        dict(name="mlp_adam_003", model="mlp", optimizer="adam", kwargs=dict(lr=0.03, betas=(0.9, 0.999)),
             steps=2400, record_every=10),
        dict(name="minimalist_gd_03", model="minimalist", optimizer="gd", kwargs=dict(lr=0.3), steps=300,
             record_every=1, x0=[2.0, 0.01]),
    ]


def start(case) -> np.ndarray:
    if case["model"] == "minimalist":
        return np.asarray(case["x0"], dtype=float)
    sys.path.insert(0, str(ROOT))
    from optlab.studies._eos import mlp_start
    return mlp_start(WIDTH, INIT_SCALE, INIT_SEED)


def _loss_fn(case):
    import torch
    if case["model"] == "minimalist":
        def f(theta):
            return 0.25 * (theta[0] ** 2 * theta[1] ** 2 - 1.0) ** 2
        return f
    sys.path.insert(0, str(ROOT))
    from optlab.objectives import _data
    X, y = _data.moons_data(N_SAMPLES, 0.1, 0)
    X = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(y, dtype=torch.float64)
    h = WIDTH
    net = torch.nn.Sequential(torch.nn.Linear(2, h), torch.nn.Tanh(), torch.nn.Linear(h, 1)).to(torch.float64)
    mse = torch.nn.MSELoss()

    def f(theta):
        # torch's own layers, their parameters set to theta's slices in optlab's layout (W, b, v, c)
        params = {"0.weight": theta[:2 * h].reshape(h, 2), "0.bias": theta[2 * h:3 * h],
                  "2.weight": theta[3 * h:4 * h].reshape(1, h), "2.bias": theta[4 * h:4 * h + 1]}
        out = torch.func.functional_call(net, params, (X,)).squeeze(1)
        return mse(out, y)
    return f


def run_case(case, steps=None) -> dict:
    """torch's records of one case: x (records, D), loss, sharpness, and for Adam precond; ``steps``
    (a multiple of record_every) stops early (the live test runs prefixes)."""
    import torch
    f = _loss_fn(case)
    theta = torch.nn.Parameter(torch.tensor(start(case), dtype=torch.float64))
    kw = dict(case["kwargs"])
    if case["optimizer"] == "adam":
        opt = torch.optim.Adam([theta], **kw)
    else:
        opt = torch.optim.SGD([theta], **kw)
    xs, losses, sharp, pre = [], [], [], []

    def record(t):
        x = theta.detach().clone()
        H = torch.autograd.functional.hessian(f, x, vectorize=True).numpy()
        H = 0.5 * (H + H.T)
        xs.append(x.numpy())
        losses.append(float(f(x)))
        sharp.append(float(np.linalg.eigvalsh(H)[-1]))
        if case["optimizer"] == "adam":
            if t == 0:
                pre.append(np.nan)
                return
            b1, b2 = kw["betas"]
            eps = kw.get("eps", 1e-8)
            v = opt.state[theta]["exp_avg_sq"].numpy()
            p = (1.0 - b1 ** t) * (np.sqrt(v / (1.0 - b2 ** t)) + eps)
            s = 1.0 / np.sqrt(p)
            pre.append(float(np.linalg.eigvalsh(s[:, None] * H * s[None, :])[-1]))

    record(0)
    for t in range(1, (steps or case["steps"]) + 1):
        opt.zero_grad()
        loss = f(theta)
        loss.backward()
        opt.step()
        if t % case["record_every"] == 0:
            record(t)
    out = dict(x=np.array(xs), loss=np.array(losses), sharpness=np.array(sharp))
    if case["optimizer"] == "adam":
        out["precond"] = np.array(pre)
    return out


def write(path=FILE) -> Path:
    import torch
    arrays, meta = {}, []
    for case in cases():
        rec = run_case(case)
        for k, v in rec.items():
            arrays[f"{case['name']}__{k}"] = v
        meta.append({**case, "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in case["kwargs"].items()}})
    arrays["meta"] = np.array(json.dumps({"torch": torch.__version__, "cases": meta}))
    np.savez_compressed(path, **arrays)
    return path


def load(path=FILE):
    """(meta dict, arrays) of the recorded file."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


if __name__ == "__main__":
    print(write())
