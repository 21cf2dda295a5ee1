r"""Averaged SGD, as torch.optim.ASGD.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, \lambda \text{ (lambd)}, \alpha, t_0,
        \text{weight decay } w, \text{maximize} \\
    &\textbf{init}: \eta_0 \leftarrow \gamma, \; \mu_0 \leftarrow 1, \; \bar\theta_0 \leftarrow 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad g_t \leftarrow g_t + w\theta_{t-1} \\
    &\quad \theta_t \leftarrow \theta_{t-1}(1 - \lambda\eta_{t-1}) - \eta_{t-1} g_t \\
    &\quad \bar\theta_t \leftarrow \bar\theta_{t-1} + \mu_{t-1}(\theta_t - \bar\theta_{t-1})
          \text{ if } \mu_{t-1} \ne 1 \text{ else } \theta_t \\
    &\quad \eta_t \leftarrow \gamma / (1 + \lambda\gamma t)^\alpha \\
    &\quad \mu_t \leftarrow 1 / \max(1, t - t_0)

Notes, as in torch 2.13: ``eta`` and ``mu`` are float32 scalar tensors, so
both are rounded to float32 when stored -- the first step already uses lr
rounded to float32. The parameters themselves are never replaced by the
average; the averaged iterate ``ax`` is recorded every recorded step
(``Result.extra["ax"]``). ``ax`` simply equals theta while ``t <= t0 + 1``.

Reference: Polyak & Juditsky, "Acceleration of Stochastic Approximation by
Averaging", SIAM J. Control Optim. 30 (1992); step-size schedule after
Bottou, "Stochastic Gradient Descent Tricks" (2012) / Xu, arXiv:1107.2490.
"""
import sys

import numpy as np

from ..engine.ops import fma, uniform
from ._base import OptimizerSpec, check_bool, check_lr, check_weight_decay, require

# st rows: 0 ax.  sc rows: 0 eta (float32 values), 1 mu (float32 values).
# hp rows: lr, lambd, alpha, t0, weight_decay.  hs: maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[0, d, j] = 0.0
    for j in range(n):
        sc[0, j] = float(np.float32(hp[0, j]))
        sc[1, j] = 1.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            lambd = hp[1, j]
            wd = hp[4, j]
            eta = sc[0, j]
            mu = sc[1, j]
            xi = x[d, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            gi = fma(wd, xi, gi) if wd != 0.0 else gi
            xi = xi * (1.0 - lambd * eta)
            xi = fma(-eta, gi, xi)
            x[d, j] = xi
            ax = st[0, d, j]
            st[0, d, j] = ax + (xi - ax) * mu if mu != 1.0 else xi
    tf = float(t)
    if uniform(hp, 0, n) and uniform(hp, 1, n) and uniform(hp, 2, n) and uniform(hp, 3, n):
        # one (lr, lambd, alpha, t0) in the block: one pow, broadcast
        eta = float(np.float32(hp[0, 0] / (1.0 + hp[1, 0] * hp[0, 0] * tf) ** hp[2, 0]))
        dt = tf - hp[3, 0]
        mu = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0
        for j in range(n):
            sc[0, j] = eta
            sc[1, j] = mu
        return
    plr = -1.0
    plam = -1.0
    palpha = -1.0
    eta = 0.0
    for j in range(n):  # new eta and mu, one pow per distinct (lr, lambd, alpha) run
        lr = hp[0, j]
        lambd = hp[1, j]
        alpha = hp[2, j]
        if lr != plr or lambd != plam or alpha != palpha:
            eta = float(np.float32(lr / (1.0 + lambd * lr * tf) ** alpha))
            plr = lr
            plam = lambd
            palpha = alpha
        sc[0, j] = eta
        dt = tf - hp[3, j]
        sc[1, j] = float(np.float32(1.0 / dt)) if dt > 1.0 else 1.0


def _validate(v):
    check_lr(v)
    check_weight_decay(v)
    for key in ("lambd", "alpha", "t0"):
        require(v[key], lambda a: a == a, "Invalid " + key + " value: {}")
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="asgd",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False),
    vector=("lr", "lambd", "alpha", "t0", "weight_decay"),
    static=("maximize",),
    n_state=1, n_scalar=2,
    validate=_validate,
    summary="ASGD: SGD with a decaying step and Polyak-Ruppert iterate averaging (torch.optim.ASGD)",
    torch_name="ASGD",
    reference="Polyak & Juditsky 1992",
    record_state={"ax": 0},
)
