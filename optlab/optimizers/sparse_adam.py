r"""SparseAdam, as torch.optim.SparseAdam fed ``grad.to_sparse()``.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2, \theta_0, f, \epsilon, \text{maximize} \\
    &\textbf{init}: m_0 \leftarrow 0, \; v_0 \leftarrow 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad
          I_t \leftarrow \{i : g_{t,i} \ne 0\} \quad (\text{to\_sparse drops exact zeros}) \\
    &\quad \text{for } i \in I_t: \;
          m_i \leftarrow m_i + (1-\beta_1)(g_i - m_i), \;
          v_i \leftarrow v_i + (1-\beta_2)(g_i^2 - v_i), \\
    &\quad \phantom{\text{for } i \in I_t:} \;
          \theta_i \leftarrow \theta_i - \gamma\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
          \frac{m_i}{\sqrt{v_i} + \epsilon}

Coordinates outside ``I_t`` keep their m, v and theta (no decay of the
moments); the step counter t advances every step all the same. With every
coordinate active this is Adam except for where eps sits: SparseAdam adds eps
to the *uncorrected* sqrt(v), i.e. Adam with ``eps / sqrt(1 - beta2^t)``.
Unlike the other optimizers, lr and eps must be strictly positive (torch's
check).

Reference: Kingma & Ba, ICLR 2015; torch.optim.SparseAdam (masked "lazy"
Adam for sparse gradients, e.g. ``nn.Embedding(sparse=True)``).
"""
import math
import sys

from ..engine.ops import like, opaque_one, uniform
from ._base import OptimizerSpec, check_betas, check_bool, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_EXP_AVG, S_EXP_AVG_SQ = 0, 1
# sc: per-trajectory scalars
K_STEP_SIZE = 0
# hp: the per-trajectory hyperparameters
H_LR, H_BETA1, H_BETA2, H_EPS = 0, 1, 2, 3
# hs: maximize.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    # a kept value is stored as ``old * one``, not the loaded ``old`` (ops.opaque_one, as the books
    # do): 2.7e8 -> 4.1e8 trajectory-steps/s on 2-D Rosenbrock, an Intel Xeon with AVX-512, with no
    # masked store in the machine code either way. hs[0] (maximize, 0 or 1) is finite, as it must be
    one = opaque_one(hs[0])
    tf = float(t)
    pb1 = -1.0
    pb2 = -1.0
    bc1 = 1.0
    bc2 = 1.0
    if uniform(hp, H_LR, n) and uniform(hp, H_BETA1, n) and uniform(hp, H_BETA2, n):  # one step size, broadcast
        ss = hp[H_LR, 0] * math.sqrt(1.0 - hp[H_BETA2, 0] ** tf) / (1.0 - hp[H_BETA1, 0] ** tf)
        for j in range(n):
            sc[K_STEP_SIZE, j] = ss
        n_scan = 0
    elif uniform(hp, H_BETA1, n) and uniform(hp, H_BETA2, n):  # an lr sweep: two pows, a vectorised loop
        bc1 = 1.0 - hp[H_BETA1, 0] ** tf
        bc2 = 1.0 - hp[H_BETA2, 0] ** tf
        for j in range(n):
            sc[K_STEP_SIZE, j] = hp[H_LR, j] * math.sqrt(bc2) / bc1
        n_scan = 0
    else:
        n_scan = n
    for j in range(n_scan):  # one pow per distinct beta in the block
        b1 = hp[H_BETA1, j]
        b2 = hp[H_BETA2, j]
        if b1 != pb1:
            bc1 = 1.0 - b1 ** tf
            pb1 = b1
        if b2 != pb2:
            bc2 = 1.0 - b2 ** tf
            pb2 = b2
        sc[K_STEP_SIZE, j] = hp[H_LR, j] * math.sqrt(bc2) / bc1
    for d in range(x.shape[0]):
        for j in range(n):
            b1 = hp[H_BETA1, j]
            b2 = hp[H_BETA2, j]
            eps = hp[H_EPS, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            m0 = st[S_EXP_AVG, d, j]
            v0 = st[S_EXP_AVG_SQ, d, j]
            # float32 coordinates: float32 arithmetic, each scalar rounded as torch's (ops.like)
            dm = (gi - m0) * like(1.0 - b1, gi)
            dv = (gi * gi - v0) * like(1.0 - b2, gi)
            m = m0 + dm
            v = v0 + dv
            upd = like(-sc[K_STEP_SIZE, j], gi) * (m / (math.sqrt(v) + like(eps, gi)))
            active = gi != 0.0
            x0 = x[d, j]
            keep = like(one, gi)
            st[S_EXP_AVG, d, j] = m if active else m0 * keep
            st[S_EXP_AVG_SQ, d, j] = v if active else v0 * keep
            x[d, j] = x0 + upd if active else x0 * keep


def _validate(v):
    require(v["lr"], lambda a: a > 0.0, "Invalid learning rate: {}")
    require(v["eps"], lambda a: a > 0.0, "Invalid epsilon value: {}")
    check_betas(v)
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="sparse_adam",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False),
    vector=("lr", "beta1", "beta2", "eps"),
    static=("maximize",),
    state=('exp_avg', 'exp_avg_sq'), scalars=('step_size',),
    validate=_validate,
    summary="SparseAdam: Adam that updates only the coordinates with a non-zero gradient "
            "(torch.optim.SparseAdam)",
    torch_name="SparseAdam",
    reference="Kingma & Ba, ICLR 2015 (lazy/masked variant of torch.optim.SparseAdam)",
    aliases=("sparseadam",),
)
