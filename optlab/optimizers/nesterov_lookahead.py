r"""Nesterov momentum in the lecture's look-ahead form.

.. math::

    &\textbf{input}: \lambda \text{ (lr)}, \rho \text{ (momentum)}, w_0, L,
        \text{weight decay } \kappa, \text{maximize} \\
    &\textbf{init}: v_0 \leftarrow 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad \tilde w \leftarrow w_{t-1} - \rho v_{t-1} \quad \text{(the look-ahead point)} \\
    &\quad g_t \leftarrow \pm\nabla L(\tilde w) + \kappa\tilde w \\
    &\quad v_t \leftarrow \rho v_{t-1} + \lambda g_t \\
    &\quad w_t \leftarrow w_{t-1} - v_t

The gradient is evaluated at the look-ahead point ``w - rho v``, which this
optimizer declares with its ``lookahead`` hook: the engine's kernel then makes
one extra objective evaluation per step, at the look-ahead point: the recorded ``x``,
the loss, best loss and divergence checks are those of ``w``, while the step
uses the gradient at ``w - rho v``. CPU engine only.

With a learning-rate scheduler the velocity keeps the lrs of past steps
(``v_t = rho v_{t-1} + lr_t g_t``), so the look-ahead form is then its own
algorithm: it equals torch's Nesterov only while the lr is constant.

**Equivalence with torch's form** (``nesterov``, i.e. ``SGD(nesterov=True)``).
Let ``theta_t = w_t - rho v_t`` (the look-ahead point) and ``v_t = lr b_t``.
Substituting,

.. math::

    b_t = \rho b_{t-1} + \nabla L(\theta_{t-1}), \qquad
    \theta_t = w_t - \rho v_t = \theta_{t-1} + \rho v_{t-1} - (1+\rho) v_t
             = \theta_{t-1} - \lambda\,(\nabla L(\theta_{t-1}) + \rho b_t),

which is exactly torch's Nesterov update with the buffer starting at the
first gradient (``b_1 = g_1`` since ``v_0 = 0``) and ``theta_0 = w_0``. So
torch iterates the look-ahead point, and ``w_t = theta_t + rho lr b_t``
recovers this optimizer's iterate from torch's state (equal up to rounding:
within 1e-14 over 200 steps in ``tests/test_parity.py``). Weight decay here is
that of the look-ahead point, as in torch.

References: Nesterov, Soviet Math. Dokl. 27 (1983); Sutskever, Martens,
Dahl & Hinton, ICML 2013 (the momentum form used in the lecture).
"""
import sys

from ..engine.ops import fma
from ._base import OptimizerSpec, check_bool, check_lr, check_weight_decay, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_V = 0
# hp: the per-trajectory hyperparameters
H_LR, H_MOMENTUM, H_WEIGHT_DECAY = 0, 1, 2
# S_V is the lecture's velocity (lr-scaled).  hs: maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_V, d, j] = 0.0


def lookahead(x, xa, st, sc, hp, hs, t, n):
    """xa = w - rho v: where the gradient of step t is taken."""
    for d in range(x.shape[0]):
        for j in range(n):
            xa[d, j] = x[d, j] - hp[H_MOMENTUM, j] * st[S_V, d, j]


def step(x, g, st, sc, hp, hs, t, n):
    """One step; ``g`` is the gradient at the look-ahead point ``w - rho v``."""
    maximize = hs[0] != 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[H_LR, j]
            mom = hp[H_MOMENTUM, j]
            wd = hp[H_WEIGHT_DECAY, j]
            v = st[S_V, d, j]
            xi = x[d, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            xa = xi - mom * v
            gi = fma(wd, xa, gi) if wd != 0.0 else gi
            v = fma(lr, gi, mom * v)
            st[S_V, d, j] = v
            x[d, j] = xi - v


def _validate(v):
    check_lr(v)
    require(v["momentum"], lambda a: a >= 0.0, "Invalid momentum value: {}")
    check_weight_decay(v)
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="nesterov_lookahead",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False),
    vector=("lr", "momentum", "weight_decay"),
    static=("maximize",),
    state=('v',),
    validate=_validate,
    summary="Nesterov momentum, lecture form: v = rho v + lr grad L(w - rho v), w = w - v",
    reference="Nesterov 1983; Sutskever et al., ICML 2013",
    preset_of=None,
    lookahead=lookahead,
    devices=("cpu",),
)
