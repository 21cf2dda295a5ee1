r"""Resilient backpropagation (Rprop), as torch.optim.Rprop.

.. math::

    &\textbf{input}: \theta_0, f, \gamma \text{ (initial step)}, \eta_-, \eta_+ \text{ (etas)},
        \Gamma_{min}, \Gamma_{max} \text{ (step sizes)}, \text{maximize} \\
    &\textbf{init}: g_{prev} \leftarrow 0, \; s_0 \leftarrow \gamma \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \phi \leftarrow \eta_+ \text{ if } g_t g_{prev} > 0, \;
          \eta_- \text{ if } g_t g_{prev} < 0, \; 1 \text{ otherwise} \\
    &\quad s_t \leftarrow \min(\max(s_{t-1}\phi, \Gamma_{min}), \Gamma_{max}) \\
    &\quad g_t \leftarrow 0 \text{ where } \phi = \eta_- \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \mathrm{sign}(g_t)\, s_t, \quad g_{prev} \leftarrow g_t

Notes, as in torch: the clamp runs on every step including the first, so an
lr above ``step_sizes[1]`` is cut at once; after a sign flip the stored
gradient is zero, so the next step neither grows nor shrinks that
coordinate's step. There is no weight decay. This is the Rprop- variant
(no weight backtracking).

Reference: Riedmiller & Braun, "A Direct Adaptive Method for Faster
Backpropagation Learning: The RPROP Algorithm", IEEE ICNN 1993.
"""
import sys

import numpy as np

from ..engine.ops import like
from ..errors import OptlabError
from ._base import OptimizerSpec, check_bool, check_lr

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_PREV, S_STEP_SIZE = 0, 1
# hp: the per-trajectory hyperparameters
H_LR, H_ETAMINUS, H_ETAPLUS, H_STEP_SIZE_MIN, H_STEP_SIZE_MAX = 0, 1, 2, 3, 4
# hs: maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_PREV, d, j] = 0.0
            st[S_STEP_SIZE, d, j] = hp[H_LR, j]


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            gi = g[d, j]
            # float32 coordinates: float32 arithmetic, each scalar rounded as torch's (ops.like)
            em = like(hp[H_ETAMINUS, j], gi)
            ep = like(hp[H_ETAPLUS, j], gi)
            lo = like(hp[H_STEP_SIZE_MIN, j], gi)
            hi = like(hp[H_STEP_SIZE_MAX, j], gi)
            one = like(1.0, gi)
            gi = -gi if maximize else gi
            p = gi * st[S_PREV, d, j]
            f = ep if p > 0.0 else (em if p < 0.0 else (one if p == 0.0 else p))
            s = st[S_STEP_SIZE, d, j] * f
            s = lo if s < lo else s  # torch.clamp_: min(max(s, lo), hi), NaN kept
            s = hi if s > hi else s
            st[S_STEP_SIZE, d, j] = s
            gi = like(0.0, gi) if f == em else gi
            sg = one if gi > 0.0 else (-one if gi < 0.0 else gi)  # torch.sign (0 -> 0, NaN -> NaN)
            x[d, j] = x[d, j] - sg * s
            st[S_PREV, d, j] = gi


def _validate(v):
    check_lr(v)
    em = np.atleast_1d(v["etaminus"])
    ep = np.atleast_1d(v["etaplus"])
    with np.errstate(invalid="ignore"):
        bad = ~((0.0 < em) & (em < 1.0) & (1.0 < ep))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise OptlabError(f"Invalid eta values: {float(em[i])}, {float(ep[i])}")
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="rprop",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False),
    vector=("lr", "etaminus", "etaplus", "step_size_min", "step_size_max"),
    static=("maximize",),
    state=('prev', 'step_size'),
    validate=_validate,
    summary="Rprop: sign-based steps whose sizes grow or shrink with sign agreement (torch.optim.Rprop)",
    torch_name="Rprop",
    reference="Riedmiller & Braun, IEEE ICNN 1993",
)
