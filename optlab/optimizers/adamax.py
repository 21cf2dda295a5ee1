r"""Adamax, as torch.optim.Adamax.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \theta_0, f, \lambda \text{ (weight decay)},
        \epsilon, \text{maximize} \\
    &\textbf{init}: m_0 \leftarrow 0, \; u_0 \leftarrow 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \quad (\text{torch.lerp}) \\
    &\quad u_t \leftarrow \max(\beta_2 u_{t-1}, |g_t| + \epsilon) \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\, \frac{m_t}{u_t}

Adam with the infinity norm in place of the L2 norm of past gradients. eps
is added to ``|g|`` *inside* the max (torch's choice; the paper has no eps),
and there is no second bias correction. A NaN in either argument of the max
propagates, as ``torch.maximum`` does.

Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization",
ICLR 2015, section 7.1.
"""
import sys

from ..engine.ops import fma, lerp, like
from ._base import OptimizerSpec, check_betas, check_bool, check_eps, check_lr, check_weight_decay

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_EXP_AVG, S_EXP_INF = 0, 1
# sc: per-trajectory scalars
K_CLR = 0
# hp: the per-trajectory hyperparameters
H_LR, H_BETA1, H_BETA2, H_EPS, H_WEIGHT_DECAY = 0, 1, 2, 3, 4
# hs: maximize.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    tf = float(t)
    pb1 = -1.0
    bc1 = 1.0
    for j in range(n):  # one pow per distinct beta1 in the block
        b1 = hp[H_BETA1, j]
        if b1 != pb1:
            bc1 = 1.0 - b1 ** tf
            pb1 = b1
        sc[K_CLR, j] = hp[H_LR, j] / bc1
    for d in range(x.shape[0]):
        for j in range(n):
            b1 = hp[H_BETA1, j]
            b2 = hp[H_BETA2, j]
            eps = hp[H_EPS, j]
            wd = hp[H_WEIGHT_DECAY, j]
            xi = x[d, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            # float32 coordinates: float32 arithmetic, each scalar rounded as torch's (ops.like)
            gi = fma(like(wd, xi), xi, gi) if wd != 0.0 else gi
            m = lerp(st[S_EXP_AVG, d, j], gi, like(1.0 - b1, xi))
            st[S_EXP_AVG, d, j] = m
            a = st[S_EXP_INF, d, j] * like(b2, xi)
            b = abs(gi) + like(eps, xi)
            u = a if (a > b or a != a) else b  # torch.maximum: NaN wins
            st[S_EXP_INF, d, j] = u
            x[d, j] = xi + (-like(sc[K_CLR, j], xi) * m) / u


def _validate(v):
    check_lr(v)
    check_eps(v)
    check_betas(v)
    check_weight_decay(v)
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="adamax",
    kernels=sys.modules[__name__],
    defaults=dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False),
    vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
    static=("maximize",),
    state=('exp_avg', 'exp_inf'), scalars=('clr',),
    validate=_validate,
    summary="Adamax: Adam with an infinity-norm second moment (torch.optim.Adamax)",
    torch_name="Adamax",
    reference="Kingma & Ba, ICLR 2015 (section 7.1)",
)
