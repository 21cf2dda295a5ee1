r"""Adagrad, as torch.optim.Adagrad.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, \lambda \text{ (weight decay)},
        \tau \text{ (initial accumulator value)}, \eta \text{ (lr decay)}, \epsilon, \text{maximize} \\
    &\textbf{init}: s_0 \leftarrow \tau \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad g_t \leftarrow g_t + \lambda\theta_{t-1} \quad (\lambda \ne 0) \\
    &\quad \tilde\gamma \leftarrow \gamma / (1 + (t-1)\eta) \\
    &\quad s_t \leftarrow s_{t-1} + g_t^2 \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \tilde\gamma\, g_t / (\sqrt{s_t} + \epsilon)

eps is added *outside* the square root, as in torch. The accumulator starts at
``initial_accumulator_value`` (torch creates it in the constructor). Sparse
gradients are not modelled: every coordinate is updated every step.

Reference: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online
Learning and Stochastic Optimization", JMLR 12 (2011).
"""
import math
import sys

from ..engine.ops import fma, jitable, like, uniform
from ._base import OptimizerSpec, check_bool, check_eps, check_lr, check_weight_decay, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_SUM = 0
# sc: per-trajectory scalars
K_CLR = 0
# hp: the per-trajectory hyperparameters
H_LR, H_LR_DECAY, H_WEIGHT_DECAY, H_INITIAL_ACCUMULATOR_VALUE, H_EPS = 0, 1, 2, 3, 4
# hs: maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_SUM, d, j] = hp[H_INITIAL_ACCUMULATOR_VALUE, j]


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    tm1 = float(t) - 1.0
    if uniform(hp, H_LR, n) and uniform(hp, H_LR_DECAY, n) and uniform(hp, H_WEIGHT_DECAY, n) \
            and uniform(hp, H_EPS, n):
        # one set of hyperparameters in the block: one clr, scalars in registers
        clr = hp[H_LR, 0] / (1.0 + tm1 * hp[H_LR_DECAY, 0])
        wd = hp[H_WEIGHT_DECAY, 0]
        eps = hp[H_EPS, 0]
        for d in range(x.shape[0]):
            for j in range(n):
                x[d, j], st[S_SUM, d, j] = _update(x[d, j], g[d, j], st[S_SUM, d, j], clr, wd, eps, maximize)
        return
    if uniform(hp, H_LR, n) and uniform(hp, H_LR_DECAY, n):  # one clr for the block
        clr = hp[H_LR, 0] / (1.0 + tm1 * hp[H_LR_DECAY, 0])
        for j in range(n):
            sc[K_CLR, j] = clr
    else:
        for j in range(n):
            sc[K_CLR, j] = hp[H_LR, j] / (1.0 + tm1 * hp[H_LR_DECAY, j])
    for d in range(x.shape[0]):
        for j in range(n):
            x[d, j], st[S_SUM, d, j] = _update(x[d, j], g[d, j], st[S_SUM, d, j], sc[K_CLR, j],
                                               hp[H_WEIGHT_DECAY, j], hp[H_EPS, j], maximize)


@jitable(inline="never")
def _update(xi, gi, s0, clr, wd, eps, maximize):
    """One coordinate: (x, state_sum) after torch's Adagrad step (float32 coordinates: float32
    arithmetic, each scalar rounded to float32 as torch's, ops.like)."""
    gi = -gi if maximize else gi
    gi = fma(like(wd, xi), xi, gi) if wd != 0.0 else gi
    s = fma(gi, gi, s0)
    return xi + (-like(clr, xi) * gi) / (math.sqrt(s) + like(eps, xi)), s


def _validate(v):
    check_lr(v)
    require(v["lr_decay"], lambda a: a >= 0.0, "Invalid lr_decay value: {}")
    check_weight_decay(v)
    require(v["initial_accumulator_value"], lambda a: a >= 0.0,
            "Invalid initial_accumulator_value value: {}")
    check_eps(v)
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="adagrad",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                  eps=1e-10, maximize=False),
    vector=("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    static=("maximize",),
    state=('sum',), scalars=('clr',),
    validate=_validate,
    summary="Adagrad: per-coordinate steps scaled by the root of the summed squared gradients "
            "(torch.optim.Adagrad)",
    torch_name="Adagrad",
    reference="Duchi, Hazan & Singer, JMLR 2011",
)
