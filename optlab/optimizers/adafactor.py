r"""Adafactor, as torch.optim.Adafactor (torch 2.13, the single-tensor path).

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \tau \text{ (beta2\_decay)}, \epsilon_1, \epsilon_2,
        d \text{ (clipping threshold)}, \lambda \text{ (weight decay)}, \text{maximize} \\
    &\textbf{init}: \hat V_0 = 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad G_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}) \\
    &\quad \hat\beta_{2,t} \leftarrow 1 - t^{\tau}, \quad
          \rho_t \leftarrow \min(\gamma, 1/\sqrt{t}) \\
    &\quad \alpha_t \leftarrow \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
    &\quad \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \quad (\lambda \ne 0) \\
    &\quad \hat V_t \leftarrow \hat\beta_{2,t}\hat V_{t-1} + (1 - \hat\beta_{2,t})\, G_t^2
          \quad (\text{torch.lerp with weight } t^{\tau}) \\
    &\quad U_t \leftarrow G_t / \sqrt{\max(\hat V_t, \epsilon_1^2)}, \quad
          \hat U_t \leftarrow U_t / \max(1, \mathrm{RMS}(U_t)/d) \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \alpha_t \hat U_t

with :math:`\mathrm{RMS}(v) = \lVert v\rVert_2/\sqrt{D}`. There is no first
moment. ``lr`` caps the relative step size :math:`\rho_t` (the paper's
constant 0.01) and scales the decoupled weight decay; the step is relative to
the size of the parameter, :math:`\max(\epsilon_2, \mathrm{RMS}(\theta))`, so
the RMS of a step is at most that times ``rho * d``. ``beta2_decay``
(:math:`\tau \le 0`) makes the second-moment average grow longer with t
(:math:`\hat\beta_{2,1} = 0`: the first step uses :math:`G_1^2` alone).
``eps1=None`` (torch's default) is the machine epsilon of the parameter's
dtype (2**-52 in float64, 2**-23 in float32); it floors the second moment at
``eps1**2``. ``d`` clips the update's RMS (``d >= 1``).

**Keywords.** torch's ``eps=(eps1, eps2)`` is given as its two parts,
``eps1`` and ``eps2`` (``simulate(..., eps1=None, eps2=1e-3)``; ``eps1: null``
in YAML), each one value or one per trajectory like ``lr``, ``beta2_decay``,
``d`` and ``weight_decay``: the engine reads a list-valued keyword as one value
per trajectory, except the pairs it knows (``betas``, ``etas``,
``step_sizes``). ``foreach`` (None/False: torch's single-tensor path, its
default; True: the multi-tensor path) and ``maximize`` are per run.

**What the parameter is.** optlab's x for one trajectory is a vector of D
coordinates, and here it is torch's parameter: a 1-D tensor of shape (D,).
torch factors the second moment (a row and a column average, Adafactor's
sublinear memory) only for parameters of two or more dimensions; a vector
keeps an *unfactored* per-coordinate variance, which is what this kernel
holds (state ``variance``, one value per coordinate). Both RMS figures --
of the parameter and of the update -- are norms over the D coordinates of one
trajectory, so they couple the coordinates: unlike Adam, Adafactor is not
coordinate-wise, and a 2-D objective run here is not two 1-D runs.

**torch's rounding.** ``param.norm(2)`` on a CPU float64 vector (torch 2.13)
sums the squares in four interleaved lanes, ``a_k += x_{4i+k}**2`` (no FMA),
adds the lanes as ``((a_0 + a_1) + a_2) + a_3``, then the last ``D mod 4``
squares one FMA each (measured against torch for D = 1 .. 39, 64, 100, 129
and 1000; the parity tests pin it; from 32768 coordinates torch may split the
sum across threads, and its bits then depend on its thread count).
``t ** 0.5`` and ``D ** 0.5`` are libm's ``pow``, not always the correctly
rounded sqrt (they differ at 2921, 3541, ...; ``1 / t ** 0.5`` first at
t = 5579, where rho takes it once ``lr > 1/sqrt(t)``); the kernel calls
``pow`` with an exponent the compiler cannot see, since LLVM turns
``pow(x, 0.5)`` into ``sqrt``. The final ``param.add_(update, alpha=-a)`` is
one FMA; with ``foreach=True`` torch takes its multi-tensor path, which
multiplies first and adds after (two roundings), and so does the kernel.
"""
import math
import sys

import numpy as np

from ..engine.ops import fma, jitable, lerp, libm_half, uniform
from ..errors import OptlabError
from ._base import OptimizerSpec, check_bool, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state (a vector parameter: the unfactored second moment)
S_VARIANCE = 0
# sc: per-trajectory scalars: this step's lerp weight t ** beta2_decay and step factor (alpha, then
# -alpha / clip); the decay factor 1 - lr * wd (each step: the lr may be scheduled) and the floor
# eps1 ** 2 (set by init); four partial
# sums of a squared norm (NORM0 ends holding the sum)
K_WEIGHT, K_SCALE, K_DECAY, K_FLOOR, K_NORM0, K_NORM1, K_NORM2, K_NORM3 = 0, 1, 2, 3, 4, 5, 6, 7
# hp: the per-trajectory hyperparameters
H_LR, H_BETA2_DECAY, H_EPS1, H_EPS2, H_D, H_WEIGHT_DECAY = 0, 1, 2, 3, 4, 5
# hs: foreach, maximize.


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_VARIANCE, d, j] = 0.0
    # the floor once (eps1 is no scheduler's); the decay factor follows the lr: each step
    for j in range(n):
        e1 = hp[H_EPS1, j]
        sc[K_FLOOR, j] = e1 * e1  # clamp_(min=eps1 * eps1)


@jitable(inline="never")
def _column_sumsq(a, sc, n):
    """``sc[K_NORM0, j]`` = the sum of squares of ``a[:, j]`` as torch.linalg.vector_norm adds it on
    a CPU float64 vector: four lanes of plain adds, the lanes summed in order, then the tail with
    one FMA each (the caller takes the square root)."""
    size = a.shape[0]
    full = size - size % 4
    if full == 0:  # D < 4: no lanes, the sum of four zeros is zero
        for j in range(n):
            sc[K_NORM0, j] = 0.0
    else:
        for j in range(n):
            sc[K_NORM0, j] = 0.0
            sc[K_NORM1, j] = 0.0
            sc[K_NORM2, j] = 0.0
            sc[K_NORM3, j] = 0.0
        for d in range(0, full, 4):
            for j in range(n):
                sc[K_NORM0, j] = sc[K_NORM0, j] + a[d, j] * a[d, j]
                sc[K_NORM1, j] = sc[K_NORM1, j] + a[d + 1, j] * a[d + 1, j]
                sc[K_NORM2, j] = sc[K_NORM2, j] + a[d + 2, j] * a[d + 2, j]
                sc[K_NORM3, j] = sc[K_NORM3, j] + a[d + 3, j] * a[d + 3, j]
        for j in range(n):
            sc[K_NORM0, j] = ((sc[K_NORM0, j] + sc[K_NORM1, j]) + sc[K_NORM2, j]) + sc[K_NORM3, j]
    for d in range(full, size):
        for j in range(n):
            sc[K_NORM0, j] = fma(a[d, j], a[d, j], sc[K_NORM0, j])


def step(x, g, st, sc, hp, hs, t, n):
    foreach = hs[0] != 0.0
    maximize = hs[1] != 0.0
    half = libm_half(hs[1])  # torch's `t ** 0.5` and `numel ** 0.5`: libm's pow
    tf = float(t)
    root_size = float(x.shape[0]) ** half  # torch: param.numel() ** 0.5
    inv_root_t = 1.0 / tf ** half  # torch: 1 / (step ** 0.5)
    # the lerp weight 1 - beta2_t = t ** beta2_decay: one pow for the block when it shares beta2_decay
    if uniform(hp, H_BETA2_DECAY, n):
        w = tf ** hp[H_BETA2_DECAY, 0]
        for j in range(n):
            sc[K_WEIGHT, j] = w
    else:
        for j in range(n):
            sc[K_WEIGHT, j] = tf ** hp[H_BETA2_DECAY, j]
    # alpha from the parameter before weight decay (torch's order)
    _column_sumsq(x, sc, n)
    for j in range(n):
        lr = hp[H_LR, j]
        wd = hp[H_WEIGHT_DECAY, j]
        # torch's param.mul_(1 - lr * weight_decay) with this step's lr (a scheduler changes it: set
        # once in init, the factor kept the first lr); x * 1.0 is x: no decay, as torch skips it
        sc[K_DECAY, j] = 1.0 - lr * wd if wd != 0.0 else 1.0
        rho = inv_root_t if inv_root_t < lr else lr  # min(lr, 1 / t ** 0.5): lr on a tie, as Python's
        rms = math.sqrt(sc[K_NORM0, j]) / root_size  # param.norm(2) / numel ** 0.5
        eps2 = hp[H_EPS2, j]
        sc[K_SCALE, j] = (rms if rms > eps2 else eps2) * rho  # max(eps2, rms): eps2 unless rms is larger
    # the variance, and the unclipped update U = G / sqrt(max(V, eps1^2)), kept in g
    for d in range(x.shape[0]):
        for j in range(n):
            gi = -g[d, j] if maximize else g[d, j]
            v = lerp(st[S_VARIANCE, d, j], gi * gi, sc[K_WEIGHT, j])
            st[S_VARIANCE, d, j] = v
            fl = sc[K_FLOOR, j]
            vc = v if (v > fl) | (v != v) else fl  # clamp_min: NaN stays NaN
            # rsqrt_ is 1 / sqrt, then mul_(grad); a float64 (np.float64 as plain Python, as compiled)
            g[d, j] = np.float64(1.0 / math.sqrt(vc)) * gi
    _column_sumsq(g, sc, n)
    for j in range(n):
        q = math.sqrt(sc[K_NORM0, j]) / (root_size * hp[H_D, j])  # update.norm(2) / (numel ** 0.5 * d)
        sc[K_SCALE, j] = -sc[K_SCALE, j] / (q if q > 1.0 else 1.0)  # -alpha / max(1, RMS(U) / d)
    for d in range(x.shape[0]):
        for j in range(n):
            xi = x[d, j] * sc[K_DECAY, j]
            u = g[d, j]
            s = sc[K_SCALE, j]
            x[d, j] = xi + u * s if foreach else fma(s, u, xi)


def _machine_eps(dtype):
    """torch's eps1 for eps=(None, ...): torch.finfo(param.dtype).eps."""
    return float(np.finfo(dtype).eps)


def _validate(v):
    # torch's checks, in torch's order and wording (Adafactor.__init__)
    require(v["lr"], lambda a: a >= 0.0, "Learning rate should be >= 0 but is: {}")
    require(v["beta2_decay"], lambda a: a <= 0.0, "beta2_decay should be <= 0 but is: {}")
    require(v["eps1"], lambda a: a >= 0.0, "epsilon1 should be >= 0 but is: {}")
    require(v["eps2"], lambda a: a >= 0.0, "epsilon2 should be >= 0 but is: {}")
    require(v["d"], lambda a: a >= 1.0, "Clipping threshold d should be >= 1 but is: {}")
    require(v["weight_decay"], lambda a: a >= 0.0, "weight_decay should be >= 0 but is: {}")
    fe = v["foreach"]
    if fe is not None and not (isinstance(fe, (bool, np.bool_, int, np.integer)) and fe in (0, 1)):
        raise OptlabError(f"Invalid foreach: {fe!r} (must be true, false or null)")
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="adafactor",
    kernels=sys.modules[__name__],
    # torch's eps=(eps1, eps2) pair is given as its two parts (None: the dtype's machine epsilon)
    defaults=dict(lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
                  foreach=None, maximize=False),
    vector=("lr", "beta2_decay", "eps1", "eps2", "d", "weight_decay"),
    static=("foreach", "maximize"),
    state=("variance",),
    scalars=("weight", "scale", "decay", "floor", "norm0", "norm1", "norm2", "norm3"),
    none_value={"eps1": _machine_eps},
    validate=_validate,
    summary="Adafactor: steps relative to RMS(x), update clipping; x is one vector (torch.optim.Adafactor)",
    torch_name="Adafactor",
    reference="Shazeer & Stern, ICML 2018",
    config_notes={"eps1": "torch's eps[0]; null: the dtype's machine epsilon", "eps2": "torch's eps[1]",
                  "foreach": "true: torch's multi-tensor rounding (multiply, then add)"},
)
