"""The moment update that Adam, AdamW, NAdam and RAdam share, in torch's order."""
from ..engine.ops import fma, jitable, lerp, like


@jitable(inline="never")
def adam_moments(xi, gi, m0, v0, lr, b1, b2, wd, maximize, decoupled):
    """maximize, weight decay, then the two moments, for one coordinate.

    Weight decay is either L2 folded into the gradient (``g + wd x``, one FMA
    as torch's ``grad.add(param, alpha=wd)``) or decoupled (``x (1 - lr wd)``,
    AdamW and ``decoupled_weight_decay=True``), written as selects so the loop
    stays vectorised. ``m <- lerp(m, g, 1 - beta1)`` (torch.lerp's rounding)
    and ``v <- beta2 v + (1 - beta2) g^2`` (one FMA, as ``addcmul``).
    Returns ``(x, g, m, v)``: the parameter after decoupled decay and the
    gradient after L2 decay, which NAdam's step uses again. In a float32 run
    (float32 coordinates) the arithmetic is float32 as torch's on float32
    tensors: each float64 scalar (``1 - beta1``, ``beta2``, ...) rounded to float32
    first (``ops.like``).
    """
    gi = -gi if maximize else gi
    xd = xi * like(1.0 - lr * wd, xi)
    gd = fma(like(wd, xi), xi, gi)
    use_wd = wd != 0.0
    xi = xd if (use_wd and decoupled) else xi
    gi = gd if (use_wd and not decoupled) else gi
    m = lerp(m0, gi, like(1.0 - b1, xi))
    v = fma(like(1.0 - b2, xi) * gi, gi, v0 * like(b2, xi))
    return xi, gi, m, v
