r"""Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \epsilon, \lambda \text{ (weight decay)},
        \text{amsgrad}, \text{maximize}, \text{decoupled} \\
    &\textbf{init}: m_0 = 0, \; v_0 = 0, \; \hat v^{max}_0 = 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ (decoupled) or }
          g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \quad (\text{torch.lerp}) \\
    &\quad v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    &\quad \text{amsgrad: } v^{max}_t \leftarrow \max(v^{max}_{t-1}, v_t), \; v_t \leftarrow v^{max}_t \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
          \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

eps is added *after* the bias correction of sqrt(v), as in torch; amsgrad
keeps the max of the raw v. AdamW is Adam with decoupled weight decay forced on
and ``weight_decay=1e-2`` by default.

References: Kingma & Ba, ICLR 2015; Reddi, Kale & Kumar, ICLR 2018 (amsgrad);
Loshchilov & Hutter, ICLR 2019 (AdamW).
"""
import math
import sys

from ..engine.ops import div_rn, fma, lerp
from ._base import OptimizerSpec, check_betas, check_bool, check_eps, check_lr, check_weight_decay

# st rows: 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq.
# sc rows: 0 bc1 then step_size, 1 1/bc1, 2 sqrt(bc2), 3 1/sqrt(bc2).
# hp rows: lr, beta1, beta2, eps, weight_decay.  hs: amsgrad, maximize, decoupled.


def init(x, st, sc, hp, hs, n):
    for k in range(3):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    amsgrad = hs[0] != 0.0
    maximize = hs[1] != 0.0
    decoupled = hs[2] != 0.0
    tf = float(t)
    # bias corrections: one pow (and one division) per distinct beta in the
    # block; a block with one beta pair (the common case) skips the scan
    nu = 0
    for j in range(n):
        nu += (hp[1, j] != hp[1, 0]) + (hp[2, j] != hp[2, 0])
    pb1 = -1.0
    pb2 = -1.0
    bc1 = 1.0
    rb1 = 1.0
    bc2s = 1.0
    rb2 = 1.0
    if nu == 0:
        bc1 = 1.0 - hp[1, 0] ** tf
        rb1 = 1.0 / bc1
        bc2s = math.sqrt(1.0 - hp[2, 0] ** tf)
        rb2 = 1.0 / bc2s
        for j in range(n):
            sc[0, j] = bc1
            sc[1, j] = rb1
            sc[2, j] = bc2s
            sc[3, j] = rb2
    else:
        for j in range(n):
            b1 = hp[1, j]
            b2 = hp[2, j]
            if b1 != pb1:
                bc1 = 1.0 - b1 ** tf
                rb1 = 1.0 / bc1
                pb1 = b1
            if b2 != pb2:
                bc2s = math.sqrt(1.0 - b2 ** tf)
                rb2 = 1.0 / bc2s
                pb2 = b2
            sc[0, j] = bc1
            sc[1, j] = rb1
            sc[2, j] = bc2s
            sc[3, j] = rb2
    for j in range(n):  # step_size = lr / bc1, exactly, without the divider
        sc[0, j] = div_rn(hp[0, j], sc[0, j], sc[1, j])
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[0, j]
            b1 = hp[1, j]
            b2 = hp[2, j]
            eps = hp[3, j]
            wd = hp[4, j]
            gi = g[d, j]
            xi = x[d, j]
            gi = -gi if maximize else gi
            # weight decay as selects (no branches in the vectorised loop)
            xd = xi * (1.0 - lr * wd)
            gd = fma(wd, xi, gi)
            use_wd = wd != 0.0
            xi = xd if (use_wd and decoupled) else xi
            gi = gd if (use_wd and not decoupled) else gi
            m = lerp(st[0, d, j], gi, 1.0 - b1)
            v = fma((1.0 - b2) * gi, gi, st[1, d, j] * b2)
            st[0, d, j] = m
            st[1, d, j] = v
            vd = v
            if amsgrad:  # loop-invariant: LLVM unswitches it
                vm = st[2, d, j]
                vd = v if (v > vm or v != v) else vm
                st[2, d, j] = vd
            # torch: (sqrt(v) / sqrt(bc2)) + eps; the first division is exact via div_rn
            denom = div_rn(math.sqrt(vd), sc[2, j], sc[3, j]) + eps
            x[d, j] = xi + (-sc[0, j] * m) / denom


def _validate(v):
    check_lr(v)
    check_eps(v)
    check_betas(v)
    check_weight_decay(v)
    check_bool(v, "amsgrad", "maximize", "decoupled_weight_decay")


_DEFAULTS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False, decoupled_weight_decay=False)

SPECS = [
    OptimizerSpec(
        name="adam",
        kernels=sys.modules[__name__],
        defaults=_DEFAULTS,
        vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
        static=("amsgrad", "maximize", "decoupled_weight_decay"),
        n_state=3, n_scalar=4,
        validate=_validate,
        summary="Adam: bias-corrected first and second moment estimates (torch.optim.Adam)",
        torch_name="Adam",
        reference="Kingma & Ba, ICLR 2015; Reddi et al., ICLR 2018 (amsgrad)",
    ),
    OptimizerSpec(
        name="adamw",
        kernels=sys.modules[__name__],
        defaults={**_DEFAULTS, "weight_decay": 1e-2, "decoupled_weight_decay": True},
        vector=("lr", "beta1", "beta2", "eps", "weight_decay"),
        static=("amsgrad", "maximize", "decoupled_weight_decay"),
        n_state=3, n_scalar=4,
        validate=_validate,
        summary="AdamW: Adam with decoupled weight decay (torch.optim.AdamW)",
        torch_name="AdamW",
        reference="Loshchilov & Hutter, ICLR 2019",
    ),
]
