r"""Muon on the MLP's hidden weight matrix, AdamW on its other parameters (torch.optim 2.13).

Muon is an optimizer for the weight matrices of hidden layers; its authors and torch's
documentation pair it with AdamW for everything else (biases, the output layer). This is
that setup on the ``mlp`` objective, whose parameter vector is
``theta = (W (h x 2, row-major), b (h), v (h), c)``, D = 4h + 1: exactly what

.. code-block:: python

    muon = torch.optim.Muon([W], lr=lr, weight_decay=weight_decay, momentum=momentum,
                            nesterov=nesterov, ns_coefficients=ns_coefficients, eps=eps,
                            ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
    adamw = torch.optim.AdamW([b, v, c], lr=adamw_lr, betas=adamw_betas, eps=adamw_eps,
                              weight_decay=adamw_weight_decay)
    for t in range(steps):
        loss(W, b, v, c).backward()
        muon.step(); adamw.step()

does, with W a 2-D ``(h, 2)`` float64 parameter. The width h is read from D. Muon's
hyperparameters keep torch's names and defaults; AdamW's are prefixed ``adamw_``, with
torch.optim.AdamW's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2).
It runs on the ``mlp`` objective only, on the CPU engine, without lr schedulers (there are
two learning rates).

.. math::

    &\textbf{W (Muon):}\; B_t = \mathrm{lerp}(B_{t-1}, G_t, 1-\mu);\;
        U_t = \mathrm{lerp}(G_t, B_t, \mu) \text{ (nesterov) or } B_t;\;
        O_t = \mathrm{NS}^{(a,b,c)}_k(U_t;\varepsilon) \\
    &\quad W_t = W_{t-1}(1 - \gamma\lambda) - \gamma' O_t, \quad
        \gamma' = \gamma\sqrt{\max(1, h/2)} \text{ ("original") or } 0.2\,\gamma\sqrt{\max(h, 2)}
        \text{ ("match\_rms\_adamw")} \\
    &\textbf{b, v, c (AdamW):}\; \text{optlab's adam kernel, decoupled weight decay, }
        \gamma_{A}, \beta_{A}, \epsilon_{A}, \lambda_{A}

**Newton-Schulz on an h x 2 matrix, as torch 2.13's CPU code rounds it.** torch's
``_zeropower_via_newtonschulz`` casts U to bfloat16 and, for h > 2 (rows > cols), works
on the 2 x h transpose X = U^T, so the Gram matrix ``X X^T`` and everything after it is
2 x 2; for h = 2 it works on U itself (2 x 2), for h = 1 on the 1 x 2 row (the ``muon``
kernel's recurrence). Every bfloat16 tensor is rounded here where torch stores it, from
torch's float32 arithmetic:

* ``U.bfloat16()``: float64 -> float32 -> bfloat16; ``X.norm()``: the squares of the 2h
  entries summed in float32 in memory order (W's row-major order; the transposed view
  reduces as the contiguous tensor: ``muon._sumsq_norm``), float32 sqrt, bfloat16;
  clamped at ``bf16(eps)``; ``X.div_(n)``: float32 quotient, bfloat16;
* ``X @ X.T``: three float32 dot products of length h (the Gram matrix is symmetric,
  bit for bit), rounded to bfloat16. The order depends on X's layout. In the first
  iteration X is the transposed view of U and torch's strided gemm adds the products
  one after the other, in index order. From the second iteration on X is a fresh
  contiguous 2 x h tensor and torch's bfloat16 dot product sums it as 8-lane float32
  vector code: passes of 64 products into 8 registers of 8 lanes (register r, lane l:
  product 8r + l of each pass), the registers reduced by halves (r + r+4, then r + r+2,
  r + r+1); from there up to the last multiple of 16, one more 8-lane register taking
  products l, l+8, l+16, ...; each register's lanes reduced by halves ((l, l+4), then
  (l, l+2), (l, l+1)), the two sums added, then the last h mod 16 products in order
  (for h < 16 all of them: index order again);
* ``addmm(A, A, A, beta=b, alpha=c)``: entry (i, j) is float32
  ``fma(b, A_ij, c * s_ij)`` with ``s_ij = A_i0 A_0j + A_i1 A_1j`` summed in float32
  and ``c * s_ij`` rounded to float32 (b, c as float32), bfloat16;
* ``addmm(X, C, X, beta=a)``: float32 ``fma(a, X_ik, C_i0 X_0k + C_i1 X_1k)``, bfloat16.

These orders were measured against torch 2.13 on an x86 CPU with AVX-512 (an AMD EPYC),
not read from torch's source: tests/test_muon_adamw.py probes each dot product with
entries built so that the summation tree decides the bfloat16 result, and compares the
whole Newton-Schulz with torch's on random and crafted matrices (h up to 130 there; h = 1
... 199, 300 matrices each, when the orders were found). Another CPU, or a torch build
that sends bfloat16 matrix products elsewhere (oneDNN, ARM's BFDOT), may sum in another
order.

**Against torch, 200 steps** (tests/test_parity.py: h = 1, 2, 3, 8 recorded, 16, 70, 80
live): W is bit-identical to torch's in every case; b, v and c are within 1e-15 (largest
difference 8.9e-16, most cases 0). That difference is torch's, not the algorithm's: its
float64 ``sqrt`` on AVX-512 is not correctly rounded (docs/DESIGN.md, "Torch parity"),
where the Adam kernel takes the correctly rounded one, so ``exp_avg_sq.sqrt()`` can differ
by an ulp; it has not changed a bfloat16 rounding of W's update in these runs.

The Muon and AdamW updates are float64 as in torch: the momentum buffer with torch.lerp's
two FMA branches, ``param.add_(O, alpha=-lr')`` one FMA; AdamW through ``adam._update``
(``lerp`` for the first moment, one FMA for the second, eps after the bias-corrected square
root).

Hyperparameters: ``lr``, ``weight_decay``, ``momentum``, ``ns_coefficients`` (split into
``ns_a``, ``ns_b``, ``ns_c``), ``eps``, ``adamw_lr``, ``adamw_betas`` (split into
``adamw_beta1``, ``adamw_beta2``), ``adamw_eps`` and ``adamw_weight_decay`` are per
trajectory; ``nesterov``, ``ns_steps`` and ``adjust_lr_fn`` one per run (as ``muon``).

References: Jordan et al., "Muon: An optimizer for hidden layers in neural networks"
(2024); Liu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982 (2025);
Loshchilov & Hutter, ICLR 2019 (AdamW).
"""
import math
import sys

import numpy as np

from ..engine.ops import fma, jitable, libm_half
from ._base import OptimizerSpec, require
from ._lowp import bf16, f32, fma_f32
from .adam import _update as _adam_update
from .muon import _momentum, _newton_schulz, _sumsq_norm
from .muon import _validate as _validate_muon

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state (Muon's buffer on W's rows, AdamW's moments on the others)
S_MOMENTUM_BUFFER, S_EXP_AVG, S_EXP_AVG_SQ = 0, 1, 2
# sc: AdamW's step size lr / (1 - beta1**t) and sqrt(1 - beta2**t), this step's, per trajectory
K_STEP_SIZE, K_SQRT_BC2 = 0, 1
# hp: the per-trajectory hyperparameters
H_LR, H_WEIGHT_DECAY, H_MOMENTUM, H_NS_A, H_NS_B, H_NS_C, H_EPS = 0, 1, 2, 3, 4, 5, 6
H_ADAMW_LR, H_ADAMW_BETA1, H_ADAMW_BETA2, H_ADAMW_EPS, H_ADAMW_WEIGHT_DECAY = 7, 8, 9, 10, 11
# hs: nesterov, ns_steps, adjust_lr_fn (0 original, 1 match_rms_adamw).
# The kernel overwrites g's first 2h rows with the Newton-Schulz result.

_PASS = 64  # products per pass of torch's main loop (8 registers x 8 float32 lanes)
_VEC = 16  # products per pass of its vector tail (two 8-lane halves of 16 bfloat16)


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_MOMENTUM_BUFFER, d, j] = 0.0
            st[S_EXP_AVG, d, j] = 0.0
            st[S_EXP_AVG_SQ, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    nesterov = hs[0] != 0.0
    ns_steps = int(hs[1])
    match_rms = hs[2] != 0.0
    dim = x.shape[0]
    h = (dim - 1) // 4
    nw = 2 * h
    # Muon on W = x[:2h] as an (h, 2) matrix: torch's _adjust_lr for param.shape = (h, 2)
    ratio = 0.2 * math.sqrt(float(max(h, 2))) if match_rms else math.sqrt(max(1.0, h / 2.0))
    for d in range(nw):
        for j in range(n):
            b, u = _momentum(st[S_MOMENTUM_BUFFER, d, j], g[d, j], hp[H_MOMENTUM, j], nesterov)
            st[S_MOMENTUM_BUFFER, d, j] = b
            g[d, j] = bf16(f32(u))
    for j in range(n):
        _newton_schulz_hx2(g, j, h, hp[H_NS_A, j], hp[H_NS_B, j], hp[H_NS_C, j], hp[H_EPS, j], ns_steps)
    for d in range(nw):
        for j in range(n):
            lr = hp[H_LR, j]
            xi = x[d, j] * (1.0 - lr * hp[H_WEIGHT_DECAY, j])
            x[d, j] = fma(-(lr * ratio), g[d, j], xi)
    # AdamW on b, v, c = x[2h:]
    tf = float(t)
    for j in range(n):
        sc[K_STEP_SIZE, j] = hp[H_ADAMW_LR, j] / (1.0 - hp[H_ADAMW_BETA1, j] ** tf)
        sc[K_SQRT_BC2, j] = (1.0 - hp[H_ADAMW_BETA2, j] ** tf) ** libm_half(hs[0])  # torch's ** 0.5
    for d in range(nw, dim):
        for j in range(n):
            # in float64, as Muon's matrix (a float32 run rounds what it stores; adam._update would
            # take float32 coordinates to float32 arithmetic, DESIGN "float32 runs")
            xi, m, v, vm = _adam_update(np.float64(x[d, j]), np.float64(g[d, j]), np.float64(st[S_EXP_AVG, d, j]),
                                        np.float64(st[S_EXP_AVG_SQ, d, j]), 0.0,
                                        hp[H_ADAMW_LR, j], hp[H_ADAMW_BETA1, j], hp[H_ADAMW_BETA2, j],
                                        hp[H_ADAMW_EPS, j], hp[H_ADAMW_WEIGHT_DECAY, j], sc[K_STEP_SIZE, j],
                                        sc[K_SQRT_BC2, j], 0.0, False, True, False)
            x[d, j] = xi
            st[S_EXP_AVG, d, j] = m
            st[S_EXP_AVG_SQ, d, j] = v


@jitable(inline="never")
def _newton_schulz_hx2(g, j, h, a, b, c, eps, ns_steps):
    """torch's _zeropower_via_newtonschulz on the (h, 2) bfloat16 matrix g[:2h, j] (row-major), in
    place; the result is (h, 2) row-major again."""
    if h == 1:  # a 1 x 2 row: torch does not transpose (rows > cols is false)
        _newton_schulz(g, j, 2, a, b, c, eps, ns_steps)
        return
    nw = 2 * h
    nrm = bf16(f32(math.sqrt(_sumsq_norm(g, j, nw))))  # over the entries in memory order
    lo = bf16(f32(eps))
    nrm = lo if nrm < lo else nrm  # clamp(min=eps); a nan norm stays nan
    for d in range(nw):
        g[d, j] = bf16(f32(g[d, j] / nrm))
    if h == 2:  # torch keeps the 2 x 2 matrix as it is: store its transpose, so that X[r, k] = g[2k + r]
        _swap(g, j, 1, 2)
    fa = f32(a)
    fb = f32(b)
    fc = f32(c)
    for it in range(ns_steps):
        # h > 2: the first Gram matrix is taken of the transposed view (index order), later ones of a
        # contiguous 2 x h tensor (torch's 8-lane dot product); for h = 2 both orders agree
        a00 = bf16(_gram(g, j, h, 0, 0, it == 0))
        a01 = bf16(_gram(g, j, h, 0, 1, it == 0))
        a11 = bf16(_gram(g, j, h, 1, 1, it == 0))
        # addmm(A, A, A, beta=b, alpha=c); A and so A @ A and the result are symmetric
        c00 = bf16(fma_f32(fb, a00, f32(fc * f32(a00 * a00 + a01 * a01))))
        c01 = bf16(fma_f32(fb, a01, f32(fc * f32(a00 * a01 + a01 * a11))))
        c11 = bf16(fma_f32(fb, a11, f32(fc * f32(a01 * a01 + a11 * a11))))
        # addmm(X, C, X, beta=a), column by column
        for k in range(h):
            x0 = g[2 * k, j]
            x1 = g[2 * k + 1, j]
            g[2 * k, j] = bf16(fma_f32(fa, x0, f32(c00 * x0 + c01 * x1)))
            g[2 * k + 1, j] = bf16(fma_f32(fa, x1, f32(c01 * x0 + c11 * x1)))
    if h == 2:
        _swap(g, j, 1, 2)


@jitable(inline="never")
def _swap(g, j, p, q):
    v = g[p, j]
    g[p, j] = g[q, j]
    g[q, j] = v


@jitable(inline="never")
def _gram(g, j, h, r1, r2, strided):
    """Entry (r1, r2) of ``X @ X.T`` for the 2 x h matrix X[r, k] = g[2k + r, j], summed in float32
    as torch does: in index order for the transposed view (``strided``), else torch's 8-lane
    bfloat16 dot product (see the module docstring)."""
    if strided:
        return _lane(g, j, r1, r2, 0, 1, h)
    main = (h // _PASS) * _PASS
    vec = (h // _VEC) * _VEC
    s = 0.0
    if main > 0:
        s = _halves(_registers(g, j, r1, r2, 0, main), _registers(g, j, r1, r2, 4, main),
                    _registers(g, j, r1, r2, 2, main), _registers(g, j, r1, r2, 6, main),
                    _registers(g, j, r1, r2, 1, main), _registers(g, j, r1, r2, 5, main),
                    _registers(g, j, r1, r2, 3, main), _registers(g, j, r1, r2, 7, main))
    # the vector tail: one register, lane l taking products l, l + 8, l + 16, ... of [main, vec)
    tail = _halves(_lane(g, j, r1, r2, main, 8, vec), _lane(g, j, r1, r2, main + 4, 8, vec),
                   _lane(g, j, r1, r2, main + 2, 8, vec), _lane(g, j, r1, r2, main + 6, 8, vec),
                   _lane(g, j, r1, r2, main + 1, 8, vec), _lane(g, j, r1, r2, main + 5, 8, vec),
                   _lane(g, j, r1, r2, main + 3, 8, vec), _lane(g, j, r1, r2, main + 7, 8, vec))
    s = f32(s + tail)
    for k in range(vec, h):
        s = f32(s + g[2 * k + r1, j] * g[2 * k + r2, j])
    return s


@jitable(inline="never")
def _registers(g, j, r1, r2, lane, main):
    """Lane ``lane`` of the main loop's 8 registers, reduced by halves over the registers:
    register r holds products 8r + lane, 8r + lane + 64, ... below ``main``."""
    return _halves(_lane(g, j, r1, r2, lane, _PASS, main), _lane(g, j, r1, r2, 32 + lane, _PASS, main),
                   _lane(g, j, r1, r2, 16 + lane, _PASS, main), _lane(g, j, r1, r2, 48 + lane, _PASS, main),
                   _lane(g, j, r1, r2, 8 + lane, _PASS, main), _lane(g, j, r1, r2, 40 + lane, _PASS, main),
                   _lane(g, j, r1, r2, 24 + lane, _PASS, main), _lane(g, j, r1, r2, 56 + lane, _PASS, main))


@jitable(inline="never")
def _halves(v0, v4, v2, v6, v1, v5, v3, v7):
    """Eight float32 lanes reduced by halves, as torch's vector reductions: (0 + 4), (2 + 6),
    (1 + 5), (3 + 7), then ((0 + 4) + (2 + 6)) and ((1 + 5) + (3 + 7)), then their sum."""
    return f32(f32(f32(v0 + v4) + f32(v2 + v6)) + f32(f32(v1 + v5) + f32(v3 + v7)))


@jitable(inline="never")
def _lane(g, j, r1, r2, k0, stride, stop):
    """float32 sum of X[r1, k] * X[r2, k] = g[2k + r1, j] * g[2k + r2, j] for k = k0, k0 + stride, ...
    below ``stop``, in that order (bfloat16 products are exact in float32's 24 bits)."""
    s = 0.0
    for k in range(k0, stop, stride):
        s = f32(s + g[2 * k + r1, j] * g[2 * k + r2, j])
    return s


def _validate(v):
    _validate_muon(v)
    for name, ok, text in (
            ("adamw_lr", lambda a: a >= 0.0, "Invalid learning rate: {}"),
            ("adamw_eps", lambda a: a >= 0.0, "Invalid epsilon value: {}"),
            ("adamw_beta1", lambda a: (a >= 0.0) & (a < 1.0), "Invalid beta parameter at index 0: {}"),
            ("adamw_beta2", lambda a: (a >= 0.0) & (a < 1.0), "Invalid beta parameter at index 1: {}"),
            ("adamw_weight_decay", lambda a: a >= 0.0, "Invalid weight_decay value: {}")):
        require(v[name], ok, text + f" ({name})")


SPEC = OptimizerSpec(
    name="muon_adamw",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                  ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None,
                  adamw_lr=1e-3, adamw_betas=(0.9, 0.999), adamw_eps=1e-8, adamw_weight_decay=1e-2),
    vector=("lr", "weight_decay", "momentum", "ns_a", "ns_b", "ns_c", "eps",
            "adamw_lr", "adamw_beta1", "adamw_beta2", "adamw_eps", "adamw_weight_decay"),
    static=("nesterov", "ns_steps", "adjust_lr_fn"),
    state=("momentum_buffer", "exp_avg", "exp_avg_sq"),
    scalars=("step_size", "sqrt_bc2"),
    validate=_validate,
    summary="Muon on the MLP's hidden weight matrix W (h x 2), AdamW on its biases and output layer "
            "(torch.optim.Muon + torch.optim.AdamW); mlp objective only",
    torch_name=None,
    reference="Jordan et al. 2024; Liu et al. 2025; Loshchilov & Hutter, ICLR 2019",
    devices=("cpu",),
    objectives=("mlp",),
    no_scheduler="it has two learning rates (lr for Muon, adamw_lr for AdamW)",
    config_notes={"adjust_lr_fn": "null (= original), original or match_rms_adamw",
                  "lr": "Muon's, on the hidden weight matrix", "adamw_lr": "AdamW's, on b, v and c"},
    labels={"adjust_lr_fn": ("original", "match_rms_adamw")},
)
