r"""L-BFGS, as torch.optim.LBFGS: one engine step is one ``optimizer.step(closure)``.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, m \text{ (history size)},
        \text{max\_iter}, \text{max\_eval}, \tau_g, \tau_c \text{ (tolerances)},
        \text{line search} \\
    &\textbf{each step}: \; g \leftarrow \nabla f(\theta); \;
          \textbf{if } \|g\|_\infty \le \tau_g: \textbf{return} \\
    &\quad \textbf{repeat up to max\_iter times}: \\
    &\qquad \textbf{first iteration ever}: \; d \leftarrow -g, \; H_0 \leftarrow 1 \\
    &\qquad \textbf{else}: \; y \leftarrow g - g_{prev}, \; s \leftarrow t d; \;
          \textbf{if } y^\top s > 10^{-10}: \text{push } (y, s, 1/y^\top s),
          \; H_0 \leftarrow y^\top s / y^\top y \\
    &\qquad\quad q \leftarrow -g; \; \text{for } i = k{-}1 \ldots 0: \;
          \alpha_i \leftarrow \rho_i s_i^\top q, \; q \leftarrow q - \alpha_i y_i \\
    &\qquad\quad d \leftarrow H_0 q; \; \text{for } i = 0 \ldots k{-}1: \;
          \beta \leftarrow \rho_i y_i^\top d, \; d \leftarrow d + (\alpha_i - \beta) s_i \\
    &\qquad t \leftarrow \min(1, 1/\|g\|_1)\gamma \text{ (first iteration ever) else } \gamma; \;
          \textbf{if } g^\top d > -\tau_c: \textbf{break} \\
    &\qquad \text{no line search}: \theta \leftarrow \theta + t d, \text{ re-evaluate } f, g
          \text{ (not on the last iteration)} \\
    &\qquad \text{strong Wolfe } (c_1 = 10^{-4}, c_2 = 0.9): \;
          (f, g, t) \leftarrow \text{search}(\theta, t, d), \; \theta \leftarrow \theta + t d \\
    &\qquad \textbf{stop if}: \text{max\_iter}, \; \text{evals} \ge \text{max\_eval}, \;
          \|g\|_\infty \le \tau_g, \; \|t d\|_\infty \le \tau_c, \; |f - f_{prev}| < \tau_c

The state (direction, step, history, ``H_diag``, ``n_iter``, ``func_evals``)
persists across steps exactly as torch keeps it, so "the first iteration
ever" happens once per trajectory. ``max_eval=None`` means
``max_iter * 5 // 4`` (torch's default). ``Result.extra["func_evals"]`` holds
torch's ``state["func_evals"]`` after the last step (every closure call,
including the one that opens each step). ``line_search_fn`` is None or
"strong_wolfe"; in ``Result.hyper`` it shows as 0 or 1.

The kernel (``optlab.engine.cpu_lbfgs``) runs one trajectory per thread and
follows torch's rounding (FMA in ``add_(alpha=)``, torch.dot's summation
order, the reciprocal in the cubic interpolation when t is a tensor): on the
recorded cases (2-D and 4-D Rosenbrock, a 5-D quadratic, both line-search
modes) iterates and ``func_evals`` are identical to torch's. CPU engine only.

References: Nocedal, "Updating Quasi-Newton Matrices with Limited Storage",
Math. Comp. 35 (1980); Liu & Nocedal, Math. Programming 45 (1989); line
search after Nocedal & Wright, Numerical Optimization (2006), alg. 3.5/3.6,
as ported from minFunc (Schmidt) via torch/optim (lua).
"""
import sys

import numpy as np

from ..errors import OptlabError
from ._base import OptimizerSpec, check_lr

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# sc: per-trajectory scalars
K_FUNC_EVALS = 0
# hp: the per-trajectory hyperparameters
H_LR = 0
# hs: max_iter, max_eval, tolerance_grad, tolerance_change, history_size, line_search_fn
# (0 none, 1 strong_wolfe).  The state lives in the kernel (engine/cpu_lbfgs.py); K_FUNC_EVALS is
# the ex_out slot of torch's state["func_evals"].

_STATIC = ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
           "line_search_fn")


def init(x, st, sc, hp, hs, n):  # pragma: no cover - the L-BFGS kernel keeps its own state
    pass


def step(x, g, st, sc, hp, hs, t, n):  # pragma: no cover - not elementwise; see cpu_lbfgs
    pass


def _int(v, name, minimum):
    ok = (not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, np.integer, float, np.floating))
          and np.isfinite(v) and float(v) == int(v) and int(v) >= minimum)
    if not ok:
        raise OptlabError(f"Invalid {name} value: {v!r} (must be an integer >= {minimum})")
    return int(v)


def _validate(v):
    check_lr(v)
    # torch resolves max_eval=None in the constructor; the kernel needs the number
    v["max_iter"] = _int(v["max_iter"], "max_iter", 1)
    if v["max_eval"] is None:
        v["max_eval"] = v["max_iter"] * 5 // 4
    v["max_eval"] = _int(v["max_eval"], "max_eval", 1)
    v["history_size"] = _int(v["history_size"], "history_size", 1)
    for key in ("tolerance_grad", "tolerance_change"):
        try:
            v[key] = float(v[key])
        except (TypeError, ValueError):
            raise OptlabError(f"Invalid {key} value: {v[key]!r} (must be a number)") from None
    ls = v["line_search_fn"]
    if isinstance(ls, (bool, np.bool_)):  # true ran as strong_wolfe
        raise OptlabError(f"Invalid line_search_fn: {ls!r} (must be null or 'strong_wolfe')")
    if ls in (0, 1) and not isinstance(ls, str):
        ls = int(ls)
    elif ls is None:
        ls = 0
    elif ls == "strong_wolfe":
        ls = 1
    else:
        raise OptlabError("only 'strong_wolfe' is supported")
    v["line_search_fn"] = ls


def kernel_source(obj_spec, dtype="float64"):
    from ..engine import cpu_lbfgs
    return cpu_lbfgs.source(obj_spec, dtype)


SPEC = OptimizerSpec(
    name="lbfgs",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                  history_size=100, line_search_fn=None),
    vector=("lr",),
    static=_STATIC,
    validate=_validate,
    summary="L-BFGS: limited-memory quasi-Newton, optional strong-Wolfe line search "
            "(torch.optim.LBFGS; one step = one .step(closure))",
    torch_name="LBFGS",
    reference="Nocedal 1980; Liu & Nocedal 1989",
    scalars=("func_evals",), final_scalars=("func_evals",),
    kernel_source=kernel_source,
    config_notes={"max_eval": "null = max_iter * 5 // 4, as torch", "line_search_fn": "null or strong_wolfe"},
    devices=("cpu",),
    labels={"line_search_fn": (None, "strong_wolfe")},
)
