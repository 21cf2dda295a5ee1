r"""RMSprop, as torch.optim.RMSprop.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \alpha, \epsilon, \lambda \text{ (weight decay)},
        \mu \text{ (momentum)}, \text{centered}, \text{maximize} \\
    &\textbf{init}: v_0 = 0, \; b_0 = 0, \; \bar g_0 = 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad v_t \leftarrow \alpha v_{t-1} + (1-\alpha) g_t^2 \\
    &\quad \text{centered: } \bar g_t \leftarrow \alpha\bar g_{t-1} + (1-\alpha) g_t, \;
          a_t = \sqrt{v_t - \bar g_t^2} + \epsilon \quad \text{else } a_t = \sqrt{v_t} + \epsilon \\
    &\quad \mu > 0: \; b_t \leftarrow \mu b_{t-1} + g_t / a_t, \; \theta_t \leftarrow \theta_{t-1} - \gamma b_t
          \quad \text{else } \theta_t \leftarrow \theta_{t-1} - \gamma g_t / a_t

No bias correction; eps is added outside the sqrt. Note that alpha here is the
smoothing constant (torch's name), which the lecture calls rho or beta.

Reference: Hinton, Srivastava & Swersky, "Neural Networks for Machine
Learning", lecture 6e (2012); Graves, arXiv:1308.0850 (centered form).
"""
import math
import sys

from ..engine.ops import fma, jitable, lerp, like, opaque_one, uniform
from ._base import OptimizerSpec, check_bool, check_eps, check_lr, check_weight_decay, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_SQUARE_AVG, S_MOMENTUM_BUFFER, S_GRAD_AVG = 0, 1, 2
# hp: the per-trajectory hyperparameters
H_LR, H_ALPHA, H_EPS, H_WEIGHT_DECAY, H_MOMENTUM = 0, 1, 2, 3, 4
# hs: centered, maximize.


def init(x, st, sc, hp, hs, n):
    for k in range(3):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    centered = hs[0] != 0.0
    maximize = hs[1] != 0.0
    # a block without momentum and not centered (the defaults) takes a loop
    # with no conditional store, which LLVM vectorises
    plain = uniform(hp, H_MOMENTUM, n) and not hp[H_MOMENTUM, 0] > 0.0
    if plain and not centered and uniform(hp, H_LR, n) and uniform(hp, H_ALPHA, n) and uniform(hp, H_EPS, n) \
            and uniform(hp, H_WEIGHT_DECAY, n):
        # ... and with one set of hyperparameters, held in registers
        lr = hp[H_LR, 0]
        alpha = hp[H_ALPHA, 0]
        eps = hp[H_EPS, 0]
        wd = hp[H_WEIGHT_DECAY, 0]
        for d in range(x.shape[0]):
            for j in range(n):
                x[d, j], st[S_SQUARE_AVG, d, j] = _plain(x[d, j], g[d, j], st[S_SQUARE_AVG, d, j], lr, alpha, eps, wd,
                                                         maximize)
        return
    if plain and not centered:
        for d in range(x.shape[0]):
            for j in range(n):
                x[d, j], st[S_SQUARE_AVG, d, j] = _plain(x[d, j], g[d, j], st[S_SQUARE_AVG, d, j], hp[H_LR, j],
                                                         hp[H_ALPHA, j], hp[H_EPS, j], hp[H_WEIGHT_DECAY, j], maximize)
        return
    one = opaque_one(hs[0])  # 1.0 (the centered flag, loaded): a kept buffer is stored as b * one
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[H_LR, j]
            alpha = hp[H_ALPHA, j]
            eps = hp[H_EPS, j]
            wd = hp[H_WEIGHT_DECAY, j]
            mom = hp[H_MOMENTUM, j]
            xi = x[d, j]  # float32 in a float32 run: each scalar rounded to it (ops.like), as torch's
            gi = g[d, j]
            if maximize:
                gi = -gi
            if wd != 0.0:
                gi = fma(like(wd, xi), xi, gi)
            v = fma(like(1.0 - alpha, xi) * gi, gi, st[S_SQUARE_AVG, d, j] * like(alpha, xi))
            st[S_SQUARE_AVG, d, j] = v
            ga0 = st[S_GRAD_AVG, d, j]
            b0 = st[S_MOMENTUM_BUFFER, d, j]
            if centered:
                ga = lerp(ga0, gi, like(1.0 - alpha, xi))
                avg = math.sqrt(fma(-ga, ga, v)) + like(eps, xi)
            else:
                ga = ga0 * like(one, xi)
                avg = math.sqrt(v) + like(eps, xi)
            st[S_GRAD_AVG, d, j] = ga
            if mom > 0.0:  # (never in a block that is `plain`)
                b = b0 * like(mom, xi) + gi / avg
                x[d, j] = fma(like(-lr, xi), b, xi)
            else:
                b = b0 * like(one, xi)
                x[d, j] = xi + (-like(lr, xi) * gi) / avg
            st[S_MOMENTUM_BUFFER, d, j] = b



@jitable(inline="never")
def _plain(xi, gi, v0, lr, alpha, eps, wd, maximize):
    """One coordinate without momentum, not centered: (x, square_avg)."""
    gi = -gi if maximize else gi
    gi = fma(like(wd, xi), xi, gi) if wd != 0.0 else gi
    v = fma(like(1.0 - alpha, xi) * gi, gi, v0 * like(alpha, xi))
    return xi + (-like(lr, xi) * gi) / (math.sqrt(v) + like(eps, xi)), v

def _validate(v):
    check_lr(v)
    check_eps(v)
    require(v["momentum"], lambda a: a >= 0.0, "Invalid momentum value: {}")
    check_weight_decay(v)
    require(v["alpha"], lambda a: a >= 0.0, "Invalid alpha value: {}")
    check_bool(v, "centered", "maximize")


SPEC = OptimizerSpec(
    name="rmsprop",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                  centered=False, maximize=False),
    vector=("lr", "alpha", "eps", "weight_decay", "momentum"),
    static=("centered", "maximize"),
    state=('square_avg', 'momentum_buffer', 'grad_avg'),
    validate=_validate,
    summary="RMSprop: divide by a running RMS of the gradient (torch.optim.RMSprop)",
    torch_name="RMSprop",
    reference="Hinton, Coursera lecture 6e, 2012; Graves 2013 (centered)",
)
