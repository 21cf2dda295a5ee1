"""Slow, obvious numpy references for every optimizer: one trajectory, a Python loop over steps.

Each ``<name>(grad, x0, steps, **hyper)`` follows torch.optim's algorithm (the
pseudocode box of its documentation and the single-tensor code path of
``torch/optim/*.py`` in torch 2.13, the one that runs on the CPU) line by
line with plain numpy arithmetic (no FMA, no caching, no blocks) and
returns a dict with ``x`` of shape (steps + 1, D) -- the start point and
every iterate -- plus extras (ASGD's ``ax``, L-BFGS's ``func_evals``).
``grad(x) -> g`` (``value_grad(x) -> (f, g)`` for L-BFGS) is the objective.
Keyword names and defaults are torch's.
"""
from __future__ import annotations

import math

import numpy as np


def _run(x0, steps, update):
    x = np.array(x0, dtype=np.float64)
    xs = [x.copy()]
    for t in range(1, steps + 1):
        x = update(x, t)
        xs.append(x.copy())
    return np.array(xs)


def sgd(grad, x0, steps, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
        maximize=False):
    buf = None

    def update(x, t):
        nonlocal buf
        g = grad(x)
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * x
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        return x - lr * g
    return {"x": _run(x0, steps, update)}


def gd(grad, x0, steps, **kw):
    return sgd(grad, x0, steps, **{"momentum": 0.0, **kw})


def momentum(grad, x0, steps, **kw):
    return sgd(grad, x0, steps, **{"momentum": 0.9, **kw})


def nesterov(grad, x0, steps, **kw):
    return sgd(grad, x0, steps, **{"momentum": 0.9, "nesterov": True, **kw})


def nesterov_lookahead(grad, x0, steps, lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False):
    """The lecture's form, literally: v <- rho v + lr grad L(w - rho v); w <- w - v."""
    v = np.zeros(len(x0))

    def update(w, t):
        nonlocal v
        look = w - momentum * v
        g = grad(look)
        g = -g if maximize else g
        g = g + weight_decay * look
        v = momentum * v + lr * g
        return w - v
    return {"x": _run(x0, steps, update)}


def adagrad(grad, x0, steps, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
            eps=1e-10, maximize=False):
    s = np.full(len(x0), float(initial_accumulator_value))

    def update(x, t):
        nonlocal s
        g = grad(x)
        g = -g if maximize else g
        g = g + weight_decay * x
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        return x - clr * g / (np.sqrt(s) + eps)
    return {"x": _run(x0, steps, update)}


def adadelta(grad, x0, steps, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    v = np.zeros(len(x0))
    u = np.zeros(len(x0))

    def update(x, t):
        nonlocal v, u
        g = grad(x)
        g = -g if maximize else g
        g = g + weight_decay * x
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        return x - lr * delta
    return {"x": _run(x0, steps, update)}


def _decay(x, g, lr, weight_decay, decoupled):
    if decoupled:
        return x * (1 - lr * weight_decay), g
    return x, g + weight_decay * x


def adam(grad, x0, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         maximize=False, decoupled_weight_decay=False):
    b1, b2 = betas
    m = np.zeros(len(x0))
    v = np.zeros(len(x0))
    vmax = np.zeros(len(x0))

    def update(x, t):
        nonlocal m, v, vmax
        g = grad(x)
        g = -g if maximize else g
        x, g = _decay(x, g, lr, weight_decay, decoupled_weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        denom = np.sqrt(vv) / math.sqrt(1 - b2 ** t) + eps
        return x - lr / (1 - b1 ** t) * m / denom
    return {"x": _run(x0, steps, update)}


def adamw(grad, x0, steps, weight_decay=1e-2, **kw):
    return adam(grad, x0, steps, weight_decay=weight_decay, decoupled_weight_decay=True, **kw)


def adamax(grad, x0, steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    m = np.zeros(len(x0))
    u = np.zeros(len(x0))

    def update(x, t):
        nonlocal m, u
        g = grad(x)
        g = -g if maximize else g
        g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        return x - lr / (1 - b1 ** t) * m / u
    return {"x": _run(x0, steps, update)}


def nadam(grad, x0, steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
          decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros(len(x0))
    v = np.zeros(len(x0))
    prod = np.float32(1.0)

    def update(x, t):
        nonlocal m, v, prod
        g = grad(x)
        g = -g if maximize else g
        x, g = _decay(x, g, lr, weight_decay, decoupled_weight_decay)
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod = np.float32(prod * np.float32(mu))  # torch keeps mu_product in float32
        prod_next = float(prod) * mu_next
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2 ** t)) + eps
        x = x - lr * (1 - mu) / (1 - float(prod)) * g / denom
        return x - lr * mu_next / (1 - prod_next) * m / denom
    return {"x": _run(x0, steps, update)}


def radam(grad, x0, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros(len(x0))
    v = np.zeros(len(x0))
    rho_inf = 2 / (1 - b2) - 1

    def update(x, t):
        nonlocal m, v
        g = grad(x)
        g = -g if maximize else g
        x, g = _decay(x, g, lr, weight_decay, decoupled_weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
            return x - lr * m_hat * adaptive * r
        return x - lr * m_hat
    return {"x": _run(x0, steps, update)}


def rmsprop(grad, x0, steps, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
            maximize=False):
    v = np.zeros(len(x0))
    gbar = np.zeros(len(x0))
    buf = np.zeros(len(x0))

    def update(x, t):
        nonlocal v, gbar, buf
        g = grad(x)
        g = -g if maximize else g
        g = g + weight_decay * x
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            avg = np.sqrt(v - gbar * gbar) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            return x - lr * buf
        return x - lr * g / avg
    return {"x": _run(x0, steps, update)}


def asgd(grad, x0, steps, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    eta = float(np.float32(lr))  # torch keeps eta and mu as float32 tensors
    mu = 1.0
    ax = np.zeros(len(x0))
    axs = [ax.copy()]

    def update(x, t):
        nonlocal eta, mu, ax
        g = grad(x)
        g = -g if maximize else g
        g = g + weight_decay * x
        x = x * (1 - lambd * eta) - eta * g
        ax = ax + (x - ax) * mu if mu != 1 else x.copy()
        axs.append(ax.copy())
        eta = float(np.float32(lr / (1 + lambd * lr * t) ** alpha))
        mu = float(np.float32(1 / max(1, t - t0)))
        return x
    xs = _run(x0, steps, update)
    return {"x": xs, "ax": np.array(axs)}


def rprop(grad, x0, steps, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False):
    etaminus, etaplus = etas
    lo, hi = step_sizes
    prev = np.zeros(len(x0))
    size = np.full(len(x0), float(lr))

    def update(x, t):
        nonlocal prev, size
        g = grad(x)
        g = -g if maximize else g
        s = np.sign(g * prev)
        factor = np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0))
        size = np.minimum(np.maximum(size * factor, lo), hi)
        g = np.where(s < 0, 0.0, g)
        prev = g
        return x - np.sign(g) * size
    return {"x": _run(x0, steps, update)}


def sparse_adam(grad, x0, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
    """Adam on the non-zero gradient entries only (torch's SparseAdam fed ``g.to_sparse()``)."""
    b1, b2 = betas
    m = np.zeros(len(x0))
    v = np.zeros(len(x0))

    def update(x, t):
        nonlocal m, v
        g = grad(x)
        g = -g if maximize else g
        idx = np.flatnonzero(g != 0)
        m[idx] = m[idx] + (1 - b1) * (g[idx] - m[idx])
        v[idx] = v[idx] + (1 - b2) * (g[idx] ** 2 - v[idx])
        step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        x = x.copy()
        x[idx] -= step * m[idx] / (np.sqrt(v[idx]) + eps)
        return x
    return {"x": _run(x0, steps, update)}


def _bf16(v):
    """float64 -> float32 -> bfloat16 by bit arithmetic (round to nearest even), as float64."""
    f = np.float32(v)
    if f != f:
        return float(f)
    u = int(np.array(f).view(np.uint32))
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return float(np.array(u & 0xFFFFFFFF, dtype=np.uint32).view(np.float32))


def muon(grad, x0, steps, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
         ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
    """torch.optim.Muon on x as one 1 x D matrix; _zeropower_via_newtonschulz written out per
    entry: every bfloat16 tensor of torch a float rounded by ``_bf16``, float32 arithmetic
    in between (squares summed in order: torch's order for D < 16; float32 fma as a float64
    expression rounded once to float32)."""
    f32 = np.float32
    a, b, c = (float(f32(v)) for v in ns_coefficients)
    dim = len(x0)
    ratio = 0.2 * math.sqrt(max(1, dim)) if adjust_lr_fn == "match_rms_adamw" else math.sqrt(max(1, 1 / dim))
    buf = np.zeros(dim)

    def newton_schulz(u):
        X = [_bf16(v) for v in u]
        sq = f32(0.0)
        for v in X:
            sq = f32(sq + f32(v * v))
        n = max(_bf16(math.sqrt(sq)), _bf16(eps))
        X = [_bf16(f32(v) / f32(n)) for v in X]
        for _ in range(ns_steps):
            s = f32(0.0)
            for v in X:
                s = f32(s + f32(v * v))
            s = _bf16(s)
            cc = _bf16(b * s + float(f32(c * s * s)))
            X = [_bf16(a * v + float(f32(cc * v))) for v in X]
        return np.array(X)

    def update(x, t):
        nonlocal buf
        g = grad(x)
        buf = buf + (1 - momentum) * (g - buf)
        u = g + momentum * (buf - g) if nesterov else buf
        return x * (1 - lr * weight_decay) - lr * ratio * newton_schulz(u)
    return {"x": _run(x0, steps, update)}


def muon_adamw(grad, x0, steps, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
               ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None,
               adamw_lr=1e-3, adamw_betas=(0.9, 0.999), adamw_eps=1e-8, adamw_weight_decay=1e-2):
    """torch.optim.Muon on the MLP's W (x[:2h] as an h x 2 matrix) and torch.optim.AdamW on the rest
    (b, v, c), both stepped every iteration. _zeropower_via_newtonschulz with 2-D numpy arrays: the
    transpose for h > 2, every bfloat16 tensor of torch rounded by ``_bf16``, float32 matrix products
    summed in index order (torch's order while 2h < 16), float32 fma as a float64 expression
    rounded once to float32."""
    f32 = np.float32
    h = (len(x0) - 1) // 4
    a, b, c = (float(f32(v)) for v in ns_coefficients)
    ratio = 0.2 * math.sqrt(max(h, 2)) if adjust_lr_fn == "match_rms_adamw" else math.sqrt(max(1, h / 2))
    b1, b2 = adamw_betas
    buf = np.zeros((h, 2))
    m = np.zeros(2 * h + 1)
    v = np.zeros(2 * h + 1)

    def bf16(M):
        return np.array([[_bf16(e) for e in row] for row in M])

    def matmul(P, Q):
        out = np.zeros((P.shape[0], Q.shape[1]))
        for i in range(P.shape[0]):
            for j in range(Q.shape[1]):
                s = f32(0.0)
                for k in range(P.shape[1]):
                    s = f32(s + f32(P[i, k] * Q[k, j]))
                out[i, j] = s
        return out

    def newton_schulz(G):
        X = bf16(G)
        sq = f32(0.0)
        for e in X.reshape(-1):  # the norm of the entries in memory order (G's)
            sq = f32(sq + f32(e * e))
        n = max(_bf16(math.sqrt(sq)), _bf16(eps))
        X = bf16(X / n)
        if h > 2:
            X = X.T
        for _ in range(ns_steps):
            A = bf16(matmul(X, X.T))
            C = bf16(b * A + f32(c * matmul(A, A)))
            X = bf16(a * X + matmul(C, X))
        return X.T if h > 2 else X

    def update(x, t):
        nonlocal buf, m, v
        g = grad(x)
        W, gw = x[:2 * h].reshape(h, 2), g[:2 * h].reshape(h, 2)
        buf = buf + (1 - momentum) * (gw - buf)
        u = gw + momentum * (buf - gw) if nesterov else buf
        W = W * (1 - lr * weight_decay) - lr * ratio * newton_schulz(u)
        rest, gr = x[2 * h:] * (1 - adamw_lr * adamw_weight_decay), g[2 * h:]
        m = b1 * m + (1 - b1) * gr
        v = b2 * v + (1 - b2) * gr * gr
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + adamw_eps
        rest = rest - adamw_lr / (1 - b1 ** t) * m / denom
        return np.concatenate([W.reshape(-1), rest])
    return {"x": _run(x0, steps, update)}


def adafactor(grad, x0, steps, lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
              foreach=None, maximize=False):
    """torch's Adafactor on a vector parameter: the unfactored second moment (torch's eps pair is
    ``eps1``, ``eps2``; ``foreach`` changes only a rounding, which this reference does not model)."""
    eps1 = np.finfo(np.float64).eps if eps1 is None else eps1
    v = np.zeros(len(x0))

    def rms(a):
        return np.sqrt(np.mean(a * a))

    def update(x, t):
        nonlocal v
        g = grad(x)
        g = -g if maximize else g
        beta2 = 1 - t ** beta2_decay
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps2, rms(x)) * rho
        x = x * (1 - lr * weight_decay)
        v = beta2 * v + (1 - beta2) * g * g
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        u = u / max(1.0, rms(u) / d)
        return x - alpha * u
    return {"x": _run(x0, steps, update)}


# --- L-BFGS: torch.optim.LBFGS.step(closure), transcribed with numpy vectors ----------------
# torch computes ``v.add_(w, alpha=a)`` as one fused multiply-add per entry; the line searches
# branch on comparisons of nearly equal numbers, so the reference rounds those three updates the
# same way (with the exact Python ``fma``) to be comparable at 1e-9 rather than 1e-4.

def _dot(a, b):
    """Plain sum of products (np.dot may use FMA inside BLAS; torch's dot does not)."""
    return float(np.sum(a * b))


def _axpy(a, x, y):
    """y + a*x entrywise, rounded once (torch's ``y.add(x, alpha=a)``)."""
    from optlab.engine.ops import fma
    return np.array([fma(float(a), float(xi), float(yi)) for xi, yi in zip(x, y)])


def _cubic(x1, f1, g1, x2, f2, g2, bounds=None):
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(pos, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(fg, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    d_norm = np.abs(d).max()
    f_new, g_new = fg(_axpy(t, d, x))
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    it = 0
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br, bf, bg, bd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, bf, bg, bd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            br, bf, bg, bd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        tmp = t
        t = _cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = fg(_axpy(t, d, x))
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
    if it == max_ls:
        br, bf, bg = [0.0, t], [f, f_new], [g, g_new]
    insuf = False
    lo, hi = (0, 1) if bf[0] <= bf[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic(br[0], bf[0], bd[0], br[1], bf[1], bd[1])
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if insuf or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insuf = False
            else:
                insuf = True
        else:
            insuf = False
        f_new, g_new = fg(_axpy(t, d, x))
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= bf[lo]:
            br[hi], bf[hi], bg[hi], bd[hi] = t, f_new, g_new, gtd_new
            lo, hi = (0, 1) if bf[0] <= bf[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[hi] - br[lo]) >= 0:
                br[hi], bf[hi], bg[hi], bd[hi] = br[lo], bf[lo], bg[lo], bd[lo]
            br[lo], bf[lo], bg[lo], bd[lo] = t, f_new, g_new, gtd_new
    return bf[lo], bg[lo], br[lo], evals


def lbfgs(value_grad, x0, steps, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
          tolerance_change=1e-9, history_size=100, line_search_fn=None):
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    x = np.array(x0, dtype=np.float64)
    st = dict(func_evals=0, n_iter=0, d=None, t=None, dirs=[], stps=[], ro=[], H=1.0, g_prev=None)
    xs = [x.copy()]
    counts = []
    for _ in range(steps):
        loss, g = value_grad(x)
        evals = 1
        st["func_evals"] += 1
        if np.abs(g).max() > tolerance_grad:
            n = 0
            d, t = st["d"], st["t"]
            while n < max_iter:
                n += 1
                st["n_iter"] += 1
                if st["n_iter"] == 1:
                    d = -g
                    st["dirs"], st["stps"], st["ro"], st["H"] = [], [], [], 1.0
                else:
                    y = g - st["g_prev"]
                    s = d * t
                    ys = _dot(y, s)
                    if ys > 1e-10:
                        if len(st["dirs"]) == history_size:
                            for k in ("dirs", "stps", "ro"):
                                st[k].pop(0)
                        st["dirs"].append(y)
                        st["stps"].append(s)
                        st["ro"].append(1.0 / ys)
                        st["H"] = ys / _dot(y, y)
                    q = -g
                    al = [0.0] * len(st["dirs"])
                    for i in range(len(st["dirs"]) - 1, -1, -1):
                        al[i] = _dot(st["stps"][i], q) * st["ro"][i]
                        q = _axpy(-al[i], st["dirs"][i], q)
                    d = q * st["H"]
                    for i in range(len(st["dirs"])):
                        be = _dot(st["dirs"][i], d) * st["ro"][i]
                        d = _axpy(al[i] - be, st["stps"][i], d)
                st["g_prev"] = g.copy()
                prev_loss = loss
                t = min(1.0, 1.0 / np.abs(g).sum()) * lr if st["n_iter"] == 1 else lr
                gtd = _dot(g, d)
                if gtd > -tolerance_change:
                    break
                ls = 0
                opt_cond = False
                if line_search_fn == "strong_wolfe":
                    loss, g, t, ls = _strong_wolfe(value_grad, x, t, d, loss, g, gtd,
                                                   tolerance_change=tolerance_change,
                                                   max_ls=max_eval - evals)
                    x = _axpy(t, d, x)
                    opt_cond = np.abs(g).max() <= tolerance_grad
                else:
                    x = _axpy(t, d, x)
                    if n != max_iter:
                        loss, g = value_grad(x)
                        opt_cond = np.abs(g).max() <= tolerance_grad
                        ls = 1
                evals += ls
                st["func_evals"] += ls
                if n == max_iter or evals >= max_eval or opt_cond:
                    break
                if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                    break
            st["d"], st["t"] = d, t
        xs.append(x.copy())
        counts.append(st["func_evals"])
    return {"x": np.array(xs), "func_evals": np.array(counts)}
