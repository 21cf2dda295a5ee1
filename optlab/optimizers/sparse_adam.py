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

from ..engine.ops import uniform
from ._base import OptimizerSpec, check_betas, check_bool, require

# st rows: 0 exp_avg, 1 exp_avg_sq.  sc rows: 0 step_size.
# hp rows: lr, beta1, beta2, eps.  hs: maximize.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    tf = float(t)
    pb1 = -1.0
    pb2 = -1.0
    bc1 = 1.0
    bc2 = 1.0
    if uniform(hp, 0, n) and uniform(hp, 1, n) and uniform(hp, 2, n):  # one step size, broadcast
        ss = hp[0, 0] * math.sqrt(1.0 - hp[2, 0] ** tf) / (1.0 - hp[1, 0] ** tf)
        for j in range(n):
            sc[0, j] = ss
        n_scan = 0
    else:
        n_scan = n
    for j in range(n_scan):  # one pow per distinct beta in the block
        b1 = hp[1, j]
        b2 = hp[2, j]
        if b1 != pb1:
            bc1 = 1.0 - b1 ** tf
            pb1 = b1
        if b2 != pb2:
            bc2 = 1.0 - b2 ** tf
            pb2 = b2
        sc[0, j] = hp[0, j] * math.sqrt(bc2) / bc1
    for d in range(x.shape[0]):
        for j in range(n):
            b1 = hp[1, j]
            b2 = hp[2, j]
            eps = hp[3, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            m0 = st[0, d, j]
            v0 = st[1, d, j]
            dm = (gi - m0) * (1.0 - b1)
            dv = (gi * gi - v0) * (1.0 - b2)
            m = m0 + dm
            v = v0 + dv
            upd = -sc[0, j] * (m / (math.sqrt(v) + eps))
            active = gi != 0.0
            st[0, d, j] = m if active else m0
            st[1, d, j] = v if active else v0
            x[d, j] = x[d, j] + upd if active else x[d, j]


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
    n_state=2, n_scalar=1,
    validate=_validate,
    summary="SparseAdam: Adam that updates only the coordinates with a non-zero gradient "
            "(torch.optim.SparseAdam)",
    torch_name="SparseAdam",
    reference="Kingma & Ba, ICLR 2015 (lazy/masked variant of torch.optim.SparseAdam)",
    aliases=("sparseadam",),
)
