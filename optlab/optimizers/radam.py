r"""RAdam, as torch.optim.RAdam.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \theta_0, f, \lambda \text{ (weight decay)},
        \epsilon, \text{decoupled}, \text{maximize} \\
    &\textbf{init}: m_0 \leftarrow 0, \; v_0 \leftarrow 0, \;
          \rho_\infty \leftarrow 2/(1-\beta_2) - 1 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ (decoupled) or }
          g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
          v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    &\quad \hat m_t \leftarrow m_t / (1-\beta_1^t), \quad
          \rho_t \leftarrow \rho_\infty - 2t\beta_2^t/(1-\beta_2^t) \\
    &\quad \textbf{if } \rho_t > 5: \;
          a_t \leftarrow \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}, \;
          r_t \leftarrow \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}, \;
          \theta_t \leftarrow \theta_{t-1} - \gamma\hat m_t a_t r_t \\
    &\quad \textbf{else}: \; \theta_t \leftarrow \theta_{t-1} - \gamma\hat m_t

Notes, as in torch: eps is added to the sqrt of the *uncorrected* v, and
``sqrt(1 - beta2^t) / (sqrt(v) + eps)`` is computed as a reciprocal times the
scalar. While the variance of the adaptive rate is intractable (rho_t <= 5,
the first 5 steps for beta2 >= 0.9, for ever when beta2 <= 2/3) the step is
plain bias-corrected momentum SGD.

Reference: Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the
Adaptive Learning Rate and Beyond", ICLR 2020.
"""
import math
import sys

from ..engine.ops import div_rn, fma, lerp, libm_half, like, single, uniform
from ._moments import adam_moments
from ._base import OptimizerSpec, check_betas, check_bool, check_eps, check_lr, check_weight_decay

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_EXP_AVG, S_EXP_AVG_SQ = 0, 1
# sc: per-trajectory scalars
K_BC1, K_SQRT_BC2, K_RECT, K_RECTIFIED, K_INV_BC1 = 0, 1, 2, 3, 4
# hp: the per-trajectory hyperparameters
H_LR, H_BETA1, H_BETA2, H_EPS, H_WEIGHT_DECAY = 0, 1, 2, 3, 4
# K_RECT is the rectification r, K_RECTIFIED 1.0 where the step is rectified.  hs: maximize, decoupled.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    decoupled = hs[1] != 0.0
    tf = float(t)
    half = libm_half(hs[0])  # torch's ** 0.5: libm's pow
    pb1 = -1.0
    pb2 = -1.0
    bc1 = 1.0
    rb1 = 1.0
    bc2s = 1.0
    rect = 0.0
    ok = 0.0
    n_scan = n
    if uniform(hp, H_BETA1, n) and uniform(hp, H_BETA2, n):
        n_scan = 1  # one beta pair in the block: compute for the first, broadcast below
    for j in range(n_scan):  # per-trajectory scalars, pows only when the block's betas change
        b1 = hp[H_BETA1, j]
        b2 = hp[H_BETA2, j]
        if b1 != pb1:
            bc1 = 1.0 - b1 ** tf
            rb1 = 1.0 / bc1
            pb1 = b1
        if b2 != pb2:
            b2t = b2 ** tf
            bc2 = 1.0 - b2t
            bc2s = bc2 ** half
            rho_inf = 2.0 / (1.0 - b2) - 1.0
            rho_t = rho_inf - 2.0 * tf * b2t / bc2
            ok = 1.0 if rho_t > 5.0 else 0.0
            rect = 1.0
            if rho_t > 5.0:
                rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** half
            pb2 = b2
        sc[K_BC1, j] = bc1
        sc[K_SQRT_BC2, j] = bc2s
        sc[K_RECT, j] = rect
        sc[K_RECTIFIED, j] = ok
        sc[K_INV_BC1, j] = rb1
    for j in range(n_scan, n):
        sc[K_BC1, j] = bc1
        sc[K_SQRT_BC2, j] = bc2s
        sc[K_RECT, j] = rect
        sc[K_RECTIFIED, j] = ok
        sc[K_INV_BC1, j] = rb1
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[H_LR, j]
            b1 = hp[H_BETA1, j]
            b2 = hp[H_BETA2, j]
            eps = hp[H_EPS, j]
            wd = hp[H_WEIGHT_DECAY, j]
            xi, gi, m, v = adam_moments(x[d, j], g[d, j], st[S_EXP_AVG, d, j], st[S_EXP_AVG_SQ, d, j], lr, b1, b2,
                                        wd, maximize, decoupled)
            st[S_EXP_AVG, d, j] = m
            st[S_EXP_AVG_SQ, d, j] = v
            # m / bc1, exactly (float32 coordinates: float32 arithmetic, scalars rounded as torch's)
            mb = m / like(sc[K_BC1, j], m) if single(m) else like(div_rn(m, sc[K_BC1, j], sc[K_INV_BC1, j]), m)
            mlr = mb * like(lr, m)
            a = (like(1.0, m) / (math.sqrt(v) + like(eps, m))) * like(sc[K_SQRT_BC2, j], m)
            upd = mlr * a * like(sc[K_RECT, j], m) if sc[K_RECTIFIED, j] != 0.0 else mlr
            x[d, j] = xi - upd


def _validate(v):
    check_lr(v)
    check_eps(v)
    check_betas(v)
    check_weight_decay(v)
    check_bool(v, "maximize", "decoupled_weight_decay")


SPEC = OptimizerSpec(
    name="radam",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  decoupled_weight_decay=False, maximize=False),
    vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
    static=("maximize", "decoupled_weight_decay"),
    state=('exp_avg', 'exp_avg_sq'), scalars=('bc1', 'sqrt_bc2', 'rect', 'rectified', 'inv_bc1'),
    validate=_validate,
    summary="RAdam: Adam with a rectified adaptive learning rate (torch.optim.RAdam)",
    torch_name="RAdam",
    reference="Liu et al., ICLR 2020",
)
