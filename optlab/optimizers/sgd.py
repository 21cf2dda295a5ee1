r"""Stochastic gradient descent with momentum, as torch.optim.SGD.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, \lambda \text{ (weight decay)},
        \mu \text{ (momentum)}, \tau \text{ (dampening)}, \text{nesterov}, \text{maximize} \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \nabla_\theta f(\theta_{t-1}); \quad
          g_t \leftarrow -g_t \text{ if maximize} \\
    &\quad g_t \leftarrow g_t + \lambda \theta_{t-1} \quad (\lambda \ne 0) \\
    &\quad \text{if } \mu \ne 0: \;
          b_t \leftarrow g_t \text{ if } t = 1 \text{ else } \mu b_{t-1} + (1-\tau) g_t; \;
          g_t \leftarrow g_t + \mu b_t \text{ (nesterov) else } b_t \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \gamma g_t

Note (as in torch): the momentum buffer starts at the *first gradient*, with
no dampening on that step, and the velocity is not scaled by lr (Sutskever et
al. 2013 scale it). Nesterov uses the look-ahead form ``g + mu * b``; for the
lecture's form that evaluates the gradient at ``w - rho v`` see
``nesterov_lookahead``.

Reference: Robbins & Monro (1951); Polyak (1964) for momentum;
Sutskever, Martens, Dahl & Hinton, ICML 2013 for Nesterov momentum.
"""
import sys

from ..engine.ops import fma, like, opaque_one
from ._base import OptimizerSpec, check_bool, require
from ..errors import OptlabError


# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_MOMENTUM_BUFFER = 0
# hp: the per-trajectory hyperparameters
H_LR, H_MOMENTUM, H_DAMPENING, H_WEIGHT_DECAY = 0, 1, 2, 3

def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_MOMENTUM_BUFFER, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    # float32 coordinates: float32 arithmetic, each float64 scalar rounded to float32 as torch
    # passes it to a float32 tensor's kernel (ops.like); float64: the same operations
    maximize = hs[1] != 0.0
    nesterov = hs[0] != 0.0
    first = t == 1
    one = opaque_one(hs[0])  # 1.0: the nesterov flag, 0.0 or 1.0, loaded
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[H_LR, j]
            mom = hp[H_MOMENTUM, j]
            damp = hp[H_DAMPENING, j]
            wd = hp[H_WEIGHT_DECAY, j]
            xi = x[d, j]
            gi = g[d, j]
            if maximize:
                gi = -gi
            if wd != 0.0:
                gi = fma(like(wd, xi), xi, gi)
            # the buffer loaded and stored whatever the momentum, a trajectory without one keeping
            # it as b0 * 1.0 (ops.opaque_one: no masked load or store)
            b0 = st[S_MOMENTUM_BUFFER, d, j]
            if mom != 0.0:
                b = gi if first else fma(like(1.0 - damp, xi), gi, b0 * like(mom, xi))
                gi = fma(like(mom, xi), b, gi) if nesterov else b
            else:
                b = b0 * like(one, xi)
            st[S_MOMENTUM_BUFFER, d, j] = b
            x[d, j] = fma(like(-lr, xi), gi, xi)


def _validate(v):
    # torch's SGD tests `lr < 0.0` (and likewise momentum, weight_decay): NaN passes its checks, so it
    # is not refused here in torch's words (the engine's finite check refuses it in its own); torch
    # checks no dampening
    require(v["lr"], lambda a: ~(a < 0.0), "Invalid learning rate: {}")
    require(v["momentum"], lambda a: ~(a < 0.0), "Invalid momentum value: {}")
    require(v["weight_decay"], lambda a: ~(a < 0.0), "Invalid weight_decay value: {}")
    check_bool(v, "nesterov", "maximize")
    if v["nesterov"] and ((v["momentum"] <= 0).any() or (v["dampening"] != 0).any()):
        raise OptlabError("Nesterov momentum requires a momentum and zero dampening")


SPEC = OptimizerSpec(
    name="sgd",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False, maximize=False),
    vector=("lr", "momentum", "dampening", "weight_decay"),
    static=("nesterov", "maximize"),
    state=('momentum_buffer',),
    validate=_validate,
    summary="SGD with optional heavy-ball or Nesterov momentum (torch.optim.SGD)",
    torch_name="SGD",
    reference="Robbins & Monro 1951; Polyak 1964; Sutskever et al. 2013",
)
