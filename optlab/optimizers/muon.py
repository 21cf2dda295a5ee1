r"""Muon, as torch.optim.Muon: momentum, then a Newton-Schulz orthogonalisation in bfloat16.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \lambda \text{ (weight decay)}, \mu \text{ (momentum)},
        \text{nesterov}, (a, b, c) \text{ (ns\_coefficients)}, \varepsilon, k \text{ (ns\_steps)} \\
    &\textbf{init}: B_0 = 0 \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad B_t \leftarrow \mathrm{lerp}(B_{t-1}, g_t, 1 - \mu); \quad
          U \leftarrow \mathrm{lerp}(g_t, B_t, \mu) \text{ (nesterov) else } B_t \\
    &\quad X \leftarrow \mathrm{bf16}(U); \; X \leftarrow X / \max(\|X\|_F, \varepsilon) \\
    &\quad k \text{ times}: \; A \leftarrow X X^\top; \; C \leftarrow b A + c A A; \; X \leftarrow a X + C X \\
    &\quad \theta_t \leftarrow \theta_{t-1} (1 - \gamma\lambda) - \gamma' X, \quad
          \gamma' = \gamma \sqrt{\max(1, A/B)} \text{ ("original", the default) or }
          0.2\,\gamma \sqrt{\max(A, B)} \text{ ("match\_rms\_adamw")}

Weight decay is decoupled and uses the unadjusted lr, as torch's ``param.mul_(1 - lr *
weight_decay)``.

**What optlab's parameter is.** torch's Muon takes only 2-D parameters (``A x B``
matrices). On an analytic objective optlab's x (D coordinates) is one ``1 x D`` matrix,
exactly what torch does with a ``(1, D)`` parameter: ``A = 1``, so torch never transposes
(``rows > cols`` is false for every D, D = 1 included), the Gram matrix ``X X^T`` is
1 x 1, and the iteration is a scalar recurrence per trajectory:

    ``s = |X|^2;  C = b s + c s^2;  X <- a X + C X``.

The learning-rate adjustment is then 1 ("original": ``sqrt(max(1, 1/D))``) or
``0.2 sqrt(D)`` ("match_rms_adamw"). A 1 x D Newton-Schulz step is not an
orthogonalisation of anything richer than a direction: it drives ``|X|`` towards the
polynomial's fixed band (about 0.7 to 1.2 for torch's coefficients), so Muon on a
vector behaves like normalised-gradient descent with momentum and a step of about lr.
Muon's real use, a hidden layer's weight matrix in a network with AdamW on the rest
(biases, embeddings, the output layer), is ``muon_adamw`` on the ``mlp`` objective
(Muon on its h x 2 weight matrix, AdamW on the other parameters, both learning rates
settable); ``muon`` on the ``mlp`` objective treats all of its weights as one 1 x D
matrix, which is not what torch's usage is.

**Rounding, as torch 2.13's CPU code.** The momentum buffer and the parameter are float64
(torch.lerp's two FMA branches; ``add_(alpha=)`` one FMA). Newton-Schulz runs in bfloat16,
and every value torch stores as a bfloat16 tensor is rounded here to bfloat16 (nearest,
ties to even) at the same point, from the float32 arithmetic torch's kernels do:

* ``update.bfloat16()``: float64 -> float32 -> bfloat16 (two roundings, as c10);
* ``X.norm()``: squares summed in float32 (exact squares; for D < 16 in index order; from
  16 on, torch's vector loop: 8 lanes over the first 16 * (D // 16) entries, lanes added
  in order, then the rest in order), float32 sqrt, rounded to bfloat16;
  ``.clamp(min=eps)`` against ``bf16(eps)``; ``X.div_(n)``: float32 quotient, bfloat16;
* ``X @ X.T``: float32 sum of the squares (D < 16 in order; from 16 on, 16 lanes over the
  first 16 * (D // 16) entries reduced pairwise by halves, then the rest), bfloat16;
* ``addmm(A, A, A, beta=b, alpha=c)``: float32 ``fma(b, A, c * A*A)`` (b, c as float32,
  ``c * A*A`` rounded to float32 first), bfloat16;
* ``addmm(X, C, X, beta=a)``: float32 ``fma(a, X, C*X)``, bfloat16.

These orders were measured against torch 2.13 on an AVX-512 CPU; tests/test_lowp.py checks
them on crafted near-tie rows for D <= 64 (where a different order changes the bfloat16
result). The D >= 16 orders follow torch's vectorised kernels and may differ on other CPUs;
for some D between 64 and 128 (80, 96, 100) torch's Gram sum takes yet another order, which
differs on about 1 in 100 crafted near-tie rows. 200-step runs against torch were identical
for every D tried (1 to 200, 100 included); the recorded parity cases have D = 2, 4, 5.

Hyperparameters: ``ns_coefficients`` is split into per-trajectory ``ns_a``, ``ns_b``,
``ns_c``; ``lr``, ``weight_decay``, ``momentum`` and ``eps`` are per trajectory too;
``nesterov``, ``ns_steps`` (an integer below 100, torch's limit; 0 or less: no iteration) and ``adjust_lr_fn``
(None, "original" or "match_rms_adamw"; shown as 0, 0, 1 in ``Result.hyper``) are one per
run.

Reference: Jordan et al., "Muon: An optimizer for hidden layers in neural networks"
(2024); Liu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982 (2025), for
"match_rms_adamw".
"""
import math
import sys

import numpy as np

from ..engine.ops import fma, jitable, lerp
from ..errors import OptlabError
from ._base import OptimizerSpec, check_bool, require
from ._lowp import bf16, f32, fma_f32

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_MOMENTUM_BUFFER = 0
# sc: per-trajectory scratch of the Newton-Schulz iteration below 16 coordinates: the norm, then
# each iteration's sum of squares and C
K_NORM, K_CC = 0, 1
# hp: the per-trajectory hyperparameters
H_LR, H_WEIGHT_DECAY, H_MOMENTUM, H_NS_A, H_NS_B, H_NS_C, H_EPS = 0, 1, 2, 3, 4, 5, 6
# hs: nesterov, ns_steps, adjust_lr_fn (0 original, 1 match_rms_adamw).
# The kernel overwrites g with the bfloat16 Newton-Schulz iterate.

_LANES = 16  # torch's vectorised reductions take 16 entries per pass (AVX-512 float32 vectors)


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_MOMENTUM_BUFFER, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    nesterov = hs[0] != 0.0
    ns_steps = int(hs[1])
    match_rms = hs[2] != 0.0
    dim = x.shape[0]
    # lr adjustment for a 1 x D matrix: sqrt(max(1, 1/D)) = 1, or 0.2 sqrt(max(1, D))
    ratio = 0.2 * math.sqrt(float(dim)) if match_rms else 1.0
    for d in range(dim):
        for j in range(n):
            b, u = _momentum(st[S_MOMENTUM_BUFFER, d, j], g[d, j], hp[H_MOMENTUM, j], nesterov)
            st[S_MOMENTUM_BUFFER, d, j] = b
            g[d, j] = bf16(f32(u))
    if dim < _LANES:  # the sums in index order: the iteration a step for the block's trajectories at once
        _newton_schulz_block(g, sc, hp, n, dim, ns_steps)
    else:
        for j in range(n):
            _newton_schulz(g, j, dim, hp[H_NS_A, j], hp[H_NS_B, j], hp[H_NS_C, j], hp[H_EPS, j], ns_steps)
    for d in range(dim):
        for j in range(n):
            lr = hp[H_LR, j]
            xi = x[d, j] * (1.0 - lr * hp[H_WEIGHT_DECAY, j])
            x[d, j] = fma(-(lr * ratio), g[d, j], xi)


@jitable(inline="never")
def _momentum(b0, gi, mom, nesterov):
    """(buffer, update): ``buf.lerp_(grad, 1 - momentum)``, then ``grad.lerp(buf, momentum)``
    (nesterov) or the buffer."""
    b = _lerp(b0, gi, 1.0 - mom)
    u = _lerp(gi, b, mom)
    return b, (u if nesterov else b)


@jitable(inline="never")
def _lerp(a, b, w):
    """torch.lerp, called twice above through a helper of its own: two inlined lerps in one
    function trip Numba's IR checks (numba/numba#9489, see engine.ops.jitable)."""
    return lerp(a, b, w)


@jitable(inline="never")
def _newton_schulz(g, j, dim, a, b, c, eps, ns_steps):
    """torch's _zeropower_via_newtonschulz on the 1 x D bfloat16 row g[:, j], in place."""
    nrm = bf16(f32(math.sqrt(_sumsq_norm(g, j, dim))))
    lo = bf16(f32(eps))
    nrm = lo if nrm < lo else nrm  # clamp(min=eps); a nan norm stays nan
    for d in range(dim):
        g[d, j] = bf16(f32(g[d, j] / nrm))
    fa = f32(a)
    fb = f32(b)
    fc = f32(c)
    for _ in range(ns_steps):
        s = bf16(_sumsq_gram(g, j, dim))
        cc = bf16(fma_f32(fb, s, f32(fc * f32(s * s))))
        for d in range(dim):
            xd = g[d, j]
            g[d, j] = bf16(fma_f32(fa, xd, f32(cc * xd)))


@jitable(inline="never")
def _newton_schulz_block(g, sc, hp, n, dim, ns_steps):
    """:func:`_newton_schulz` on every trajectory of the block, for ``dim`` below 16 (where torch
    sums the squares in index order): each pass a loop over the trajectories, which vectorises
    (one trajectory at a time, the iteration's scalar chain ran at 1/11 the speed on 2-D
    Rosenbrock). The same operations in the same order on each trajectory: the same bits."""
    _block_sumsq(g, sc, K_NORM, n, dim)
    for j in range(n):
        nrm = bf16(f32(math.sqrt(sc[K_NORM, j])))
        lo = bf16(f32(hp[H_EPS, j]))
        sc[K_NORM, j] = lo if nrm < lo else nrm  # clamp(min=eps); a nan norm stays nan
    for d in range(dim):
        for j in range(n):
            g[d, j] = bf16(f32(g[d, j] / sc[K_NORM, j]))
    for _ in range(ns_steps):
        _block_sumsq(g, sc, K_CC, n, dim)
        for j in range(n):
            s = bf16(sc[K_CC, j])
            sc[K_CC, j] = bf16(fma_f32(f32(hp[H_NS_B, j]), s, f32(f32(hp[H_NS_C, j]) * f32(s * s))))
        for d in range(dim):
            for j in range(n):
                xd = g[d, j]
                g[d, j] = bf16(fma_f32(f32(hp[H_NS_A, j]), xd, f32(sc[K_CC, j] * xd)))


@jitable(inline="never")
def _block_sumsq(g, sc, k, n, dim):
    """``sc[k, j]``: the float32 sum of ``g[:, j]**2`` in index order (torch's below 16
    coordinates, :func:`_sumsq_norm` and :func:`_sumsq_gram`), for the block's trajectories."""
    for j in range(n):
        sc[k, j] = 0.0
    for d in range(dim):
        for j in range(n):
            sc[k, j] = f32(sc[k, j] + g[d, j] * g[d, j])


@jitable(inline="never")
def _lane(g, j, k, stride, stop):
    """float32 sum of g[i, j]**2 for i = k, k + stride, ... < stop, in that order."""
    s = 0.0
    for i in range(k, stop, stride):
        s = f32(s + g[i, j] * g[i, j])
    return s


@jitable(inline="never")
def _sumsq_norm(g, j, dim):
    """``X.norm()**2`` as torch sums it in float32 (see the module docstring)."""
    stop = (dim // _LANES) * _LANES
    s = 0.0
    for k in range(8):
        s = f32(s + _lane(g, j, k, 8, stop))
    for i in range(stop, dim):
        s = f32(s + g[i, j] * g[i, j])
    return s


@jitable(inline="never")
def _sumsq_gram(g, j, dim):
    """``(X @ X.T)[0, 0]`` as torch sums it in float32 (see the module docstring)."""
    stop = (dim // _LANES) * _LANES
    s = 0.0
    if stop > 0:
        # 16 lanes, reduced by halves: (k, k + 8), then (k, k + 4), (k, k + 2), (0, 1)
        h0 = 0.0
        h1 = 0.0
        for half in range(2):
            q0 = 0.0
            for quarter in range(2):
                k = half + 2 * quarter
                p0 = f32(_lane(g, j, k, 16, stop) + _lane(g, j, k + 8, 16, stop))
                p1 = f32(_lane(g, j, k + 4, 16, stop) + _lane(g, j, k + 12, 16, stop))
                p = f32(p0 + p1)
                q0 = p if quarter == 0 else f32(q0 + p)
            if half == 0:
                h0 = q0
            else:
                h1 = q0
        s = f32(h0 + h1)
    for i in range(stop, dim):
        s = f32(s + g[i, j] * g[i, j])
    return s


_ADJUST = {None: 0, "original": 0, "match_rms_adamw": 1}


def _validate(v):
    require(v["lr"], lambda a: a >= 0.0, "Learning rate should be >= 0 but is: {}")
    require(v["momentum"], lambda a: a >= 0.0, "momentum should be >= 0 but is: {}")
    require(v["weight_decay"], lambda a: a >= 0.0, "weight decay should be >= 0 but is: {}")
    fn = v["adjust_lr_fn"]
    if isinstance(fn, (int, float, np.integer, np.floating)) and not isinstance(fn, bool) and fn in (0, 1):
        fn = int(fn)  # a resolved value passed back
    elif isinstance(fn, str) or fn is None:
        if fn not in _ADJUST:
            raise OptlabError(f"Adjust learning rate function {fn} is not supported")
        fn = _ADJUST[fn]
    else:
        raise OptlabError(f"Adjust learning rate function {fn} is not supported")
    v["adjust_lr_fn"] = fn
    steps = v["ns_steps"]
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(steps) or float(steps) != int(steps):
        raise OptlabError(f"Invalid ns_steps value: {steps!r} (must be an integer)")
    if int(steps) >= 100:
        raise OptlabError("Number of steps must be less than 100 for computational efficiency")
    v["ns_steps"] = int(steps)
    check_bool(v, "nesterov")


SPEC = OptimizerSpec(
    name="muon",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                  ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None),
    vector=("lr", "weight_decay", "momentum", "ns_a", "ns_b", "ns_c", "eps"),
    static=("nesterov", "ns_steps", "adjust_lr_fn"),
    state=("momentum_buffer",),
    scalars=("norm", "cc"),
    validate=_validate,
    summary="Muon: momentum orthogonalised by a bfloat16 Newton-Schulz iteration; x is one 1 x D "
            "matrix (torch.optim.Muon)",
    torch_name="Muon",
    reference="Jordan et al. 2024; Liu et al. 2025 (match_rms_adamw)",
    config_notes={"adjust_lr_fn": "null (= original), original or match_rms_adamw"},
    labels={"adjust_lr_fn": ("original", "match_rms_adamw")},
)
