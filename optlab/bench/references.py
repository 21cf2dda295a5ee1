"""Numpy references of every elementwise optimizer, vectorised over trajectories.

One function per optimizer (:data:`REFERENCES`, keyed by the registry's
name), each a plain, readable statement of torch's algorithm with torch's
defaults, on ``x`` of shape (D, N) updated in place, with the gradient given
as a function (:func:`rosen_grad` for 2-D Rosenbrock). Two users, one copy:

* ``optlab.bench.optimizers`` times the engine against them (the optimizer
  table of ``python -m optlab.bench``);
* ``tests/test_optimizers.py`` checks the engine against them (they are its
  slow, obvious oracles, next to the per-step ones in
  ``tests/naive_optimizers.py``).

Only numpy: importing this module compiles nothing.
"""
from __future__ import annotations

import math

import numpy as np


def rosen_grad(x):
    """Gradient of 2-D Rosenbrock for x of shape (2, N)."""
    a, b = x[0], x[1]
    t1 = b - a * a
    return np.stack([-400.0 * a * t1 - 2.0 * (1.0 - a), 200.0 * t1])


def _grad(x, grad, maximize=False, weight_decay=0.0, lr=0.0, decoupled=False):
    """The prologue every reference shares, in torch's order: the gradient at x,
    negated for maximize, then weight decay folded into it (L2) or, decoupled
    (AdamW-style), applied to x in place as x *= 1 - lr * weight_decay."""
    g = grad(x)
    if maximize:
        g = -g
    if weight_decay:
        if decoupled:
            x *= 1.0 - lr * weight_decay
        else:
            g += weight_decay * x
    return g


# --- numpy references, vectorised over trajectories: x is (D, N) ----------------------------------

def np_sgd(x, steps, grad, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
           maximize=False):
    buf = None
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        if momentum:
            if buf is None:
                buf = g.copy()
            else:
                buf *= momentum
                buf += (1.0 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        x -= lr * g
    return x


def np_gd(x, steps, grad, **kw):
    return np_sgd(x, steps, grad, **{"momentum": 0.0, **kw})


def np_momentum(x, steps, grad, **kw):
    return np_sgd(x, steps, grad, **{"momentum": 0.9, **kw})


def np_nesterov(x, steps, grad, **kw):
    return np_sgd(x, steps, grad, **{"momentum": 0.9, "nesterov": True, **kw})


def np_nesterov_lookahead(x, steps, grad, lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False):
    v = np.zeros_like(x)
    for t in range(1, steps + 1):
        look = x - momentum * v
        grad(x)  # the engine evaluates f and grad f at w too (records, divergence checks)
        g = _grad(look, grad, maximize, weight_decay)
        v *= momentum
        v += lr * g
        x -= v
    return x


def np_adagrad(x, steps, grad, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
               eps=1e-10, maximize=False):
    s = np.full_like(x, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        s += g * g
        x -= (lr / (1.0 + (t - 1) * lr_decay)) * g / (np.sqrt(s) + eps)
    return x


def np_adadelta(x, steps, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    v = np.zeros_like(x)
    u = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        v *= rho
        v += (1.0 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1.0 - rho) * delta * delta
        x -= lr * delta
    return x


def np_adam(x, steps, grad, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
            maximize=False, decoupled_weight_decay=False):
    b1, b2 = betas
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    vmax = np.zeros_like(x) if amsgrad else None
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay, lr, decoupled_weight_decay)
        m += (1.0 - b1) * (g - m)
        v *= b2
        v += (1.0 - b2) * g * g
        if amsgrad:
            np.maximum(vmax, v, out=vmax)
        vv = vmax if amsgrad else v
        x -= (lr / (1.0 - b1 ** t)) * m / (np.sqrt(vv) / math.sqrt(1.0 - b2 ** t) + eps)
    return x


def np_adamw(x, steps, grad, weight_decay=1e-2, **kw):
    return np_adam(x, steps, grad, weight_decay=weight_decay, decoupled_weight_decay=True, **kw)


def np_adamax(x, steps, grad, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(x)
    u = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        m += (1.0 - b1) * (g - m)
        np.maximum(u * b2, np.abs(g) + eps, out=u)
        x -= (lr / (1.0 - b1 ** t)) * m / u
    return x


def np_nadam(x, steps, grad, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
             decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    prod = np.float32(1.0)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay, lr, decoupled_weight_decay)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod = np.float32(prod * np.float32(mu))
        prod_next = float(prod) * mu_next
        m += (1.0 - b1) * (g - m)
        v *= b2
        v += (1.0 - b2) * g * g
        denom = np.sqrt(v / (1.0 - b2 ** t)) + eps
        x -= (lr * (1.0 - mu) / (1.0 - float(prod))) * g / denom
        x -= (lr * mu_next / (1.0 - prod_next)) * m / denom
    return x


def np_radam(x, steps, grad, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay, lr, decoupled_weight_decay)
        m += (1.0 - b1) * (g - m)
        v *= b2
        v += (1.0 - b2) * g * g
        bc2 = 1.0 - b2 ** t
        rho_t = rho_inf - 2.0 * t * b2 ** t / bc2
        m_hat = m / (1.0 - b1 ** t)
        if rho_t > 5.0:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            x -= (lr * r * math.sqrt(bc2)) * m_hat / (np.sqrt(v) + eps)
        else:
            x -= lr * m_hat
    return x


def np_rmsprop(x, steps, grad, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
               centered=False, maximize=False):
    v = np.zeros_like(x)
    gbar = np.zeros_like(x)
    buf = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        v *= alpha
        v += (1.0 - alpha) * g * g
        if centered:
            gbar += (1.0 - alpha) * (g - gbar)
            avg = np.sqrt(v - gbar * gbar) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            buf *= momentum
            buf += g / avg
            x -= lr * buf
        else:
            x -= lr * g / avg
    return x


def np_asgd(x, steps, grad, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    eta = float(np.float32(lr))
    mu = 1.0
    ax = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize, weight_decay)
        x *= 1.0 - lambd * eta
        x -= eta * g
        if mu != 1.0:
            ax += (x - ax) * mu
        else:
            ax[...] = x
        eta = float(np.float32(lr / (1.0 + lambd * lr * t) ** alpha))
        mu = float(np.float32(1.0 / max(1.0, t - t0)))
    return x


def np_rprop(x, steps, grad, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False):
    em, ep = etas
    lo, hi = step_sizes
    prev = np.zeros_like(x)
    size = np.full_like(x, lr)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize)
        s = np.sign(g * prev)
        factor = np.where(s > 0, ep, np.where(s < 0, em, 1.0))
        np.clip(size * factor, lo, hi, out=size)
        g[s < 0] = 0.0
        prev = g
        x -= np.sign(g) * size
    return x


def np_sparse_adam(x, steps, grad, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = _grad(x, grad, maximize)
        active = g != 0.0
        m = np.where(active, m + (1.0 - b1) * (g - m), m)
        v = np.where(active, v + (1.0 - b2) * (g * g - v), v)
        step = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        x -= np.where(active, step * m / (np.sqrt(v) + eps), 0.0)
    return x


def bf16_bits(v):
    """float64 array -> float32 -> bfloat16 (nearest, ties to even) by bit arithmetic, as float64.

    torch's ``tensor.bfloat16()`` of a float64 tensor (through float32, as c10 converts)."""
    f = np.atleast_1d(np.asarray(v, dtype=np.float32))
    u = f.view(np.uint32).astype(np.uint64)
    r = (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(f), f, r).astype(np.float64).reshape(np.shape(v))


def np_muon(x, steps, grad, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
            ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
    """torch.optim.Muon with every column of x a 1 x D parameter: momentum in float64, then
    torch's bfloat16 Newton-Schulz (float32 arithmetic rounded to bfloat16 where torch stores a
    bfloat16 tensor; squares summed in index order, as torch does for D < 16)."""
    f32 = np.float32
    a, b, c = (f32(v) for v in ns_coefficients)
    dim = x.shape[0]
    ratio = 0.2 * math.sqrt(max(1, dim)) if adjust_lr_fn == "match_rms_adamw" else math.sqrt(max(1, 1 / dim))
    buf = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad(x)
        buf = buf + (1.0 - momentum) * (g - buf)
        u = g + momentum * (buf - g) if nesterov else buf
        X = bf16_bits(u).astype(np.float32)
        sq = np.zeros(x.shape[1], dtype=np.float32)
        for d in range(dim):
            sq = sq + X[d] * X[d]
        nrm = np.maximum(bf16_bits(np.sqrt(sq)), bf16_bits(eps)).astype(np.float32)
        X = bf16_bits(X / nrm).astype(np.float32)
        for _ in range(ns_steps):
            s = np.zeros(x.shape[1], dtype=np.float32)
            for d in range(dim):
                s = s + X[d] * X[d]
            s = bf16_bits(s)  # float64 from here: b*s + (c*s*s) stands for float32's fma
            cc = bf16_bits(b * s + (c * (s * s)).astype(np.float32))
            X = bf16_bits(a * X.astype(np.float64) + (cc * X).astype(np.float32)).astype(np.float32)
        x *= 1.0 - lr * weight_decay
        x -= (lr * ratio) * X.astype(np.float64)
    return x


def np_adafactor(x, steps, grad, lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
                 foreach=None, maximize=False):
    """Each column of x is one vector parameter: an unfactored second moment, and RMS figures
    over the column's D coordinates (``foreach`` changes only a rounding)."""
    eps1 = np.finfo(x.dtype).eps if eps1 is None else eps1
    v = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad(x)
        if maximize:
            g = -g
        w = t ** beta2_decay  # 1 - beta2_t
        alpha = np.maximum(eps2, np.sqrt(np.mean(x * x, axis=0))) * min(lr, 1.0 / math.sqrt(t))
        if weight_decay:
            x *= 1.0 - lr * weight_decay
        v += w * (g * g - v)
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        u /= np.maximum(1.0, np.sqrt(np.mean(u * u, axis=0)) / d)
        x -= alpha * u
    return x


REFERENCES = {name[3:]: fn for name, fn in list(globals().items()) if name.startswith("np_")}
