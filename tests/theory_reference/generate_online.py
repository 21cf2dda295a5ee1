"""Record what torch does in the studies ``amsgrad_counterexample`` and ``lr_range_test``, for
tests/test_theory_online.py.

    python tests/theory_reference/generate_online.py    # rewrite tests/theory_reference/online.npz

Everything here is torch's own loop, torch 2.13, float64 parameters:

* ``adam_*``: ``torch.optim.Adam([x], lr=ALPHA, betas=(0.9, 0.99), amsgrad=False/True)`` with
  ``LambdaLR(opt, lambda epoch: 1 / (epoch + 1) ** 0.5)`` on the online losses
  f_t(x) = c_t x, the gradient from torch autograd, ``opt.step(); sched.step()`` and then
  ``x.clamp_(-1, 1)`` under ``no_grad``; x after every step, for ``ADAM_STEPS`` steps.
  ``det``: the paper's deterministic c_t (1010 at t = 1, 102, 203, ..., else -10; written out
  here), from each of ``ADAM_X0``; ``sto``: the stochastic c_t of trajectories 0 and 1 of
  seed ``SEED`` (optlab's keyed draws, stored as ``sto_c`` so the test checks them too).
* ``range_*``: the LR range test, ``torch.optim.SGD([x], lr=RANGE_START)`` with
  ``ExponentialLR(opt, gamma)`` on the quadratic with eigenvalues 1/10 and 1 rotated by 30
  degrees (written out here in torch), from (1, 1), ``RANGE_STEPS`` steps: the loss before
  every step and the lr it was taken with.

The functions :func:`adam_runs` and :func:`range_run` are what the live parity test calls.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILE = HERE / "online.npz"
ALPHA = 1.0
BETAS = (0.9, 0.99)
ADAM_STEPS = 1500
ADAM_X0 = (-1.0, 0.0, 1.0)
SEED = 7
STO_TRAJ = (0, 1)
RANGE_START, RANGE_END, RANGE_STEPS = 1e-6, 1000.0, 300
RANGE_KAPPA, RANGE_ANGLE, RANGE_X0 = 10.0, 30.0, (1.0, 1.0)


def deterministic_c(steps: int) -> np.ndarray:
    """The paper's c_t for t = 1 .. steps: 1010 when t mod 101 = 1, else -10."""
    t = np.arange(1, steps + 1)
    return np.where(t % 101 == 1, 1010.0, -10.0)


def stochastic_c(steps: int) -> np.ndarray:
    """optlab's draws for trajectories STO_TRAJ of seed SEED: (len(STO_TRAJ), steps)."""
    from optlab.objectives.online_linear import coefficients
    return coefficients(steps, seed=SEED, trajs=STO_TRAJ, stochastic=True)


def _adam(c, x0, amsgrad):
    import torch
    x = torch.tensor([float(x0)], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x], lr=ALPHA, betas=BETAS, amsgrad=amsgrad)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1) ** 0.5)
    xs, lrs = [float(x.detach())], []
    for ct in c:
        opt.zero_grad()
        loss = float(ct) * x.sum()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        xs.append(float(x.detach()))
    return np.array(xs), np.array(lrs)


def adam_runs() -> dict:
    out = {}
    det = deterministic_c(ADAM_STEPS)
    sto = stochastic_c(ADAM_STEPS)
    for name, amsgrad in (("adam", False), ("amsgrad", True)):
        runs = [_adam(det, x0, amsgrad) for x0 in ADAM_X0]
        out[f"{name}_det_x"] = np.stack([r[0] for r in runs])
        out[f"{name}_sto_x"] = np.stack([_adam(c, 0.0, amsgrad)[0] for c in sto])
        out["adam_lr"] = runs[0][1]
    out["sto_c"] = sto
    return out


def quadratic_matrix(kappa=RANGE_KAPPA, angle=RANGE_ANGLE):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    q = np.array([[c, -s], [s, c]])
    return q @ np.diag([1.0 / kappa, 1.0]) @ q.T


def range_run() -> dict:
    import torch
    a = torch.tensor(quadratic_matrix())
    x = torch.tensor(RANGE_X0, dtype=torch.float64, requires_grad=True)
    gamma = (RANGE_END / RANGE_START) ** (1.0 / RANGE_STEPS)
    opt = torch.optim.SGD([x], lr=RANGE_START)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    losses, lrs = [], []
    for _ in range(RANGE_STEPS):
        opt.zero_grad()
        loss = 0.5 * x @ a @ x
        loss.backward()
        losses.append(float(loss.detach()))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return dict(range_loss=np.array(losses), range_lr=np.array(lrs), range_gamma=np.array(gamma))


def main() -> int:
    import torch
    np.savez_compressed(FILE, torch_version=np.array(torch.__version__), **adam_runs(), **range_run())
    print(f"wrote {FILE.name} (torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
