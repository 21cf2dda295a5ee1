"""Record what torch.optim does in the two theory studies, for tests/test_theory_studies.py.

    python tests/theory_reference/generate.py     # rewrite tests/theory_reference/theory_studies.npz

Everything here is torch's own: torch.optim.SGD 2.13 on float64 parameters, with gradients
from torch autograd of objectives written out in torch (not optlab's kernels), so the
comparison checks optlab's objectives and engine together.

* ``cycle_x``: ``SGD(lr=1/9, momentum=4/9)`` (heavy ball at the step and momentum optimal for
  quadratics with mu = 1, L = 25) on the function of Lessard, Recht & Packard (SIAM J. Optim.
  2016, Sec. 4.6) from x0 = 3.3, every one of ``CYCLE_STEPS`` steps; ``nesterov_x`` and
  ``gd_x`` the same start under ``SGD(lr=1/25, momentum=2/3, nesterov=True)`` and
  ``SGD(lr=2/26)``.
* ``edge_*``: on the 2-D quadratic with eigenvalues 1/10 and 1 rotated by 30 degrees, from
  (1, 1), for GD, heavy ball and Nesterov (torch's form) at lr L = (1 -+ 2%) x the edge each
  formula gives: whether the loss did not grow over the second half of ``EDGE_STEPS`` steps
  (and stayed finite).

The functions :func:`cycle_runs` and :func:`edge_runs` are what the live parity test calls.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILE = HERE / "theory_studies.npz"
CYCLE_STEPS = 300
CYCLE_X0 = 3.3
EDGE_STEPS = 1000
EDGE_KAPPA = 10.0
EDGE_ANGLE = 30.0
EDGE_FACTORS = (0.98, 1.02)
EDGE_CASES = [("gd", 0.0), ("momentum", 0.5), ("momentum", 0.9), ("nesterov", 0.25), ("nesterov", 0.5),
              ("nesterov", 0.9)]


def lessard(x):
    """f of Lessard, Recht & Packard, Sec. 4.6, as written there (mu = 1, L = 25)."""
    import torch
    return torch.where(x < 1, 12.5 * x ** 2,
                       torch.where(x < 2, 0.5 * x ** 2 + 24 * x - 12, 12.5 * x ** 2 - 24 * x + 36))


def _run(x0, loss_fn, steps, record_every=1, **sgd):
    import torch
    x = torch.tensor(np.asarray(x0, dtype=np.float64), requires_grad=True)
    opt = torch.optim.SGD([x], **sgd)
    with torch.no_grad():
        xs, losses = [x.numpy().copy()], [float(loss_fn(x).sum())]
    for t in range(1, steps + 1):
        opt.zero_grad()
        loss = loss_fn(x).sum()
        loss.backward()
        opt.step()
        if t % record_every == 0:
            with torch.no_grad():
                xs.append(x.numpy().copy())
                losses.append(float(loss_fn(x).sum()))
    return np.asarray(xs), np.asarray(losses)


def cycle_runs() -> dict:
    runs = {"cycle_x": dict(lr=1 / 9, momentum=4 / 9), "nesterov_x": dict(lr=1 / 25, momentum=2 / 3, nesterov=True),
            "gd_x": dict(lr=2 / 26)}
    return {k: _run([CYCLE_X0], lessard, CYCLE_STEPS, **kw)[0][:, 0] for k, kw in runs.items()}


def quadratic_matrix(kappa=EDGE_KAPPA, angle=EDGE_ANGLE):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    q = np.array([[c, -s], [s, c]])
    return q @ np.diag([1.0 / kappa, 1.0]) @ q.T


def edge_formula(method, beta):
    return {"gd": 2.0, "momentum": 2.0 * (1 + beta), "nesterov": (2.0 + 2.0 * beta) / (1.0 + 2.0 * beta)}[method]


def edge_runs() -> dict:
    import torch
    a = torch.tensor(quadratic_matrix())

    def quad(x):
        return 0.5 * x @ a @ x

    methods, betas, lrs, conv = [], [], [], []
    for method, beta in EDGE_CASES:
        for factor in EDGE_FACTORS:
            lr = factor * edge_formula(method, beta)      # L = 1
            kw = dict(lr=lr, momentum=beta, nesterov=method == "nesterov")
            _, losses = _run([1.0, 1.0], quad, EDGE_STEPS, record_every=EDGE_STEPS // 2, **kw)
            ok = bool(np.all(np.isfinite(losses)) and losses[2] <= losses[1])
            methods.append(method)
            betas.append(beta)
            lrs.append(lr)
            conv.append(ok)
    return dict(edge_method=np.array(methods), edge_beta=np.array(betas), edge_lr=np.array(lrs),
                edge_converging=np.array(conv))


def main() -> int:
    import torch
    np.savez_compressed(FILE, torch_version=np.array(torch.__version__), **cycle_runs(), **edge_runs())
    print(f"wrote {FILE.name} (torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
