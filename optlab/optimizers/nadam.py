r"""NAdam, as torch.optim.NAdam.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \theta_0, f, \lambda \text{ (weight decay)},
        \psi \text{ (momentum decay)}, \epsilon, \text{decoupled}, \text{maximize} \\
    &\textbf{init}: m_0 \leftarrow 0, \; v_0 \leftarrow 0, \; P_0 \leftarrow 1 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ (decoupled) or }
          g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad \mu_t \leftarrow \beta_1\big(1 - \tfrac12\, 0.96^{t\psi}\big), \quad
          \mu_{t+1} \leftarrow \beta_1\big(1 - \tfrac12\, 0.96^{(t+1)\psi}\big) \\
    &\quad P_t \leftarrow P_{t-1}\mu_t \;(\text{float32}), \quad P_{t+1} \leftarrow P_t\,\mu_{t+1} \\
    &\quad m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
          v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    &\quad \delta_t \leftarrow \sqrt{v_t / (1-\beta_2^t)} + \epsilon \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \gamma\frac{1-\mu_t}{1-P_t}\frac{g_t}{\delta_t}
          - \gamma\frac{\mu_{t+1}}{1-P_{t+1}}\frac{m_t}{\delta_t}

Notes, as in torch 2.13: the running product of the momentum schedule
(``mu_product``) is a float32 scalar tensor, so ``P_t`` is rounded to float32
every step (``mu_t`` is rounded to float32 first); ``P_{t+1}`` is formed in
float64 from the rounded ``P_t``. The two parameter updates are applied one
after the other. eps is added outside the square root, after the bias
correction (which sits inside the root).

References: Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
workshop; decoupled weight decay after Loshchilov & Hutter, ICLR 2019.
"""
import math
import sys

import numpy as np

from ..engine.ops import div_rn, fma, jitable, lerp, like, single, uniform
from ._moments import adam_moments
from ._base import (OptimizerSpec, check_betas, check_bool, check_eps, check_lr,
                    check_weight_decay, require)

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_EXP_AVG, S_EXP_AVG_SQ = 0, 1
# sc: per-trajectory scalars
K_MU_PRODUCT, K_COEF_G, K_COEF_M, K_BC2, K_INV_BC2, K_SAME, K_SAME_REST = 0, 1, 2, 3, 4, 5, 6
# hp: the per-trajectory hyperparameters
H_LR, H_BETA1, H_BETA2, H_EPS, H_WEIGHT_DECAY, H_MOMENTUM_DECAY = 0, 1, 2, 3, 4, 5
H_SCHEDULE = 6  # the driver's: -1 none, 0 one lr schedule, 1 lrs differ, 2 betas change per step
# K_MU_PRODUCT holds float32 values; K_COEF_G and K_COEF_M are the coefficients of g and m;
# K_SAME: the block shares one set of hyperparameters (set by init).  hs: maximize, decoupled.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0
    # hyperparameters are fixed (H_SCHEDULE -1, or one lr schedule for the block, 0), and mu_product
    # starts at 1 for every trajectory: a block that shares them follows one schedule throughout
    vary = hp[H_SCHEDULE, 0]
    same_rest = (uniform(hp, H_BETA1, n) and uniform(hp, H_BETA2, n) and uniform(hp, H_EPS, n)
                 and uniform(hp, H_WEIGHT_DECAY, n) and uniform(hp, H_MOMENTUM_DECAY, n) and vary < 2.0)
    same = same_rest and uniform(hp, H_LR, n) and vary <= 0.0
    for j in range(n):
        sc[K_MU_PRODUCT, j] = 1.0
        sc[K_SAME, j] = 1.0 if same else 0.0
        sc[K_SAME_REST, j] = 1.0 if same_rest else 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    decoupled = hs[1] != 0.0
    tf = float(t)
    pb1 = -1.0
    ppsi = -1.0
    pb2 = -1.0
    mu = 0.0
    mu_next = 0.0
    bc2 = 1.0
    rb2 = 1.0
    same = sc[K_SAME, 0] != 0.0
    same_rest = sc[K_SAME_REST, 0] != 0.0  # only lr differs: one schedule, per-trajectory coefficients
    n_scan = 1 if same_rest else n  # one schedule in the block: compute it for the first only
    for j in range(n_scan):  # schedule and bias correction, pows only when the block's values change
        b1 = hp[H_BETA1, j]
        psi = hp[H_MOMENTUM_DECAY, j]
        b2 = hp[H_BETA2, j]
        if b1 != pb1 or psi != ppsi:
            mu = b1 * (1.0 - 0.5 * 0.96 ** (tf * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((tf + 1.0) * psi))
            pb1 = b1
            ppsi = psi
        if b2 != pb2:
            bc2 = 1.0 - b2 ** tf
            rb2 = 1.0 / bc2
            pb2 = b2
        # mu_product *= mu on a float32 tensor: both factors float32, product rounded to float32
        prod = float(np.float32(float(np.float32(sc[K_MU_PRODUCT, j])) * float(np.float32(mu))))
        prod_next = prod * mu_next
        lr = hp[H_LR, j]
        sc[K_MU_PRODUCT, j] = prod
        sc[K_COEF_G, j] = (-lr * (1.0 - mu)) / (1.0 - prod)
        sc[K_COEF_M, j] = (-lr * mu_next) / (1.0 - prod_next)
        sc[K_BC2, j] = bc2
        sc[K_INV_BC2, j] = rb2
    if same:
        # one set of hyperparameters in the block: scalars in registers
        lr = hp[H_LR, 0]
        b1 = hp[H_BETA1, 0]
        b2 = hp[H_BETA2, 0]
        eps = hp[H_EPS, 0]
        wd = hp[H_WEIGHT_DECAY, 0]
        c1 = sc[K_COEF_G, 0]
        c2 = sc[K_COEF_M, 0]
        bc2 = sc[K_BC2, 0]
        rb2 = sc[K_INV_BC2, 0]
        for d in range(x.shape[0]):
            for j in range(n):
                xi, m, v = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j], lr, b1, b2, eps, wd,
                                   c1, c2, bc2, rb2, maximize, decoupled)
                x[d, j] = xi
                st[S_EXP_AVG, d, j] = m
                st[S_EXP_AVG_SQ, d, j] = v
        return
    if same_rest:  # an lr sweep: the schedule of trajectory 0, each trajectory's coefficients
        prod = sc[K_MU_PRODUCT, 0]
        prod_next = prod * mu_next
        b1 = hp[H_BETA1, 0]
        b2 = hp[H_BETA2, 0]
        eps = hp[H_EPS, 0]
        wd = hp[H_WEIGHT_DECAY, 0]
        bc2 = sc[K_BC2, 0]
        rb2 = sc[K_INV_BC2, 0]
        den_g = 1.0 - prod
        den_m = 1.0 - prod_next
        r_g = 1.0 / den_g
        r_m = 1.0 / den_m
        # (K_MU_PRODUCT: the scan above kept the block's in trajectory 0's column, the only one read)
        for j in range(n):  # the block's two divisors, shared: div_rn (the same quotients, no divider)
            lr = hp[H_LR, j]
            sc[K_COEF_G, j] = div_rn(-lr * (1.0 - mu), den_g, r_g)
            sc[K_COEF_M, j] = div_rn(-lr * mu_next, den_m, r_m)
        for d in range(x.shape[0]):
            for j in range(n):
                xi, m, v = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j], hp[H_LR, j],
                                   b1, b2, eps, wd, sc[K_COEF_G, j], sc[K_COEF_M, j], bc2, rb2, maximize, decoupled)
                x[d, j] = xi
                st[S_EXP_AVG, d, j] = m
                st[S_EXP_AVG_SQ, d, j] = v
        return
    for d in range(x.shape[0]):
        for j in range(n):
            xi, m, v = _update(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j], hp[H_LR, j],
                               hp[H_BETA1, j], hp[H_BETA2, j], hp[H_EPS, j], hp[H_WEIGHT_DECAY, j],
                               sc[K_COEF_G, j], sc[K_COEF_M, j], sc[K_BC2, j], sc[K_INV_BC2, j], maximize, decoupled)
            x[d, j] = xi
            st[S_EXP_AVG, d, j] = m
            st[S_EXP_AVG_SQ, d, j] = v


@jitable(inline="never")
def _update(xi, gi, m0, v0, lr, b1, b2, eps, wd, c1, c2, bc2, rb2, maximize, decoupled):
    """One coordinate of torch's NAdam step: (x, exp_avg, exp_avg_sq). float32 coordinates:
    float32 arithmetic, each scalar rounded to float32 as torch's (ops.like)."""
    xi, gi, m, v = adam_moments(xi, gi, m0, v0, lr, b1, b2, wd, maximize, decoupled)
    q = v / like(bc2, v) if single(v) else like(div_rn(v, bc2, rb2), v)  # v / bc2, exactly
    denom = math.sqrt(q) + like(eps, v)
    xi = xi + (like(c1, v) * gi) / denom
    return xi + (like(c2, v) * m) / denom, m, v


def _validate(v):
    check_lr(v)
    check_eps(v)
    check_betas(v)
    check_weight_decay(v)
    require(v["momentum_decay"], lambda a: a >= 0.0, "Invalid momentum_decay value: {}")
    check_bool(v, "maximize", "decoupled_weight_decay")


SPEC = OptimizerSpec(
    name="nadam",
    kernels=sys.modules[__name__],
    defaults=dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                  decoupled_weight_decay=False, maximize=False),
    vector=("lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay"),
    static=("maximize", "decoupled_weight_decay"),
    state=('exp_avg', 'exp_avg_sq'), scalars=('mu_product', 'coef_g', 'coef_m', 'bc2', 'inv_bc2', 'same', 'same_rest'),
    validate=_validate,
    summary="NAdam: Adam with Nesterov momentum and a momentum schedule (torch.optim.NAdam)",
    torch_name="NAdam",
    reference="Dozat, ICLR 2016 workshop",
)
