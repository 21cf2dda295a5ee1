r"""The online linear problem on which Adam fails: Reddi, Kale & Kumar (ICLR 2018), Section 5.

A sequence of linear losses on the interval [-1, 1] (run it with
``bounds=(-1, 1)``), one per step t = 1, 2, ...:

.. math::

    f_t(x) = \begin{cases} C\,x & (t - 1) \bmod P = 0 \quad\text{(t mod P = 1 for P > 1)} \\
                           -D\,x & \text{otherwise} \end{cases}

(deterministic), or, with ``stochastic=true``, :math:`f_t(x) = C x` with
probability ``probability`` and :math:`-D x` otherwise, independently at every
step. The paper's constants are the defaults: C = 1010, D = 10, P = 101,
probability 0.01 ("f_t(x) = 1010x for t mod 101 = 1, -10x otherwise"; the
stochastic version "1010x with probability 0.01, -10x otherwise"). Over one
period the gradients sum to C - (P - 1) D = 10 > 0 (in expectation
0.01 * 1010 - 0.99 * 10 = 0.2 > 0), so the best fixed point on [-1, 1] is
x = -1; a method that ends near x = +1 has linear regret.

**Step index.** The engine evaluates the gradient of step t+1 at x_t with
``ctx[1] = t`` (0-based), so the paper's t is ``ctx[1] + 1``: the large
gradient comes at the first step and every P-th after it. The value is
:math:`f_t(x_t)`, the loss the online learner suffers at that step; the
regret of a run is the sum of its recorded losses minus
:math:`\min_{x \in [-1, 1]} \sum_t f_t(x) = -|\sum_t c_t|` (:func:`coefficients`
gives every :math:`c_t`).

**Randomness** (stochastic version): :math:`c_t = C` when
``optlab.engine.rng.uniform(seed, trajectory, t, STREAM) < probability``
(t the 0-based step, seed the run's seed, trajectory the global index), so a
run is reproducible and a trajectory's draws do not depend on the block it
runs in; :func:`coefficients` computes the same draws with numpy.

Hessian 0 everywhere. No minimum of its own (each f_t is unbounded below
without the interval), so the engine's ``tol`` does not apply.
"""
import warnings

import numpy as np

from ..engine.rng import uniform
from ..errors import OptlabError
from ._base import ObjectiveSpec

STREAM = 0x0A115AD  # the k of rng.key64 reserved for the draws of this objective


def online_linear(x, g, f, p, n, ctx):
    big = p[0]
    small = p[1]
    period = int(p[2])
    stochastic = p[3] != 0.0
    prob = p[4]
    if stochastic:
        for j in range(n):
            c = big if uniform(ctx[0], ctx[2] + j, ctx[1], STREAM) < prob else -small
            f[j] = c * x[0, j]
            g[0, j] = c
    else:
        c = big if ctx[1] % period == 0 else -small
        for j in range(n):
            f[j] = c * x[0, j]
            g[0, j] = c


def online_linear_hess(x, h, p, n):
    for j in range(n):
        h[0, 0, j] = 0.0


def online_params(dim, C=1010.0, D=10.0, period=101, stochastic=False, probability=0.01):
    """The parameters ``[C, D, period, stochastic, probability]``, checked."""
    big, small, prob = float(C), float(D), float(probability)
    if not big > 0.0:
        raise OptlabError(f"Invalid C for objective 'online_linear': {C!r} (must be > 0)")
    if not small > 0.0:
        raise OptlabError(f"Invalid D for objective 'online_linear': {D!r} (must be > 0)")
    if int(period) < 1:
        raise OptlabError(f"Invalid period for objective 'online_linear': {period!r} (must be an integer >= 1)")
    if not 0.0 <= prob <= 1.0:
        raise OptlabError(f"Invalid probability for objective 'online_linear': {probability!r} (must be in [0, 1])")
    return np.array([big, small, float(int(period)), 1.0 if stochastic else 0.0, prob])


# --- numpy twins: the coefficients c_t the kernel draws (tests, regret) ------------------

_M1, _M2, _G = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix64_np(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform_np(seed, traj, step, k):
    """``optlab.engine.rng.uniform`` on arrays (broadcast together): the same float64 values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # uint64 products wrap, as intended
        seed, traj, step, k = (np.asarray(v, dtype=np.uint64) for v in (seed, traj, step, k))
        z = _mix64_np(seed * _G + traj)
        z = _mix64_np(z + step * _G)
        z = _mix64_np(z + k * _G + _G)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def coefficients(steps: int, seed: int = 0, trajs=(0,), C=1010.0, D=10.0, period=101, stochastic=False,
                 probability=0.01) -> np.ndarray:
    """c_t (f_t(x) = c_t x) for the 0-based steps t < ``steps`` of each trajectory: shape
    (len(trajs), steps), what the kernel uses (``trajs``: global trajectory indices)."""
    big, small, per, sto, prob = online_params(1, C, D, period, stochastic, probability)
    t = np.arange(int(steps), dtype=np.int64)
    trajs = np.atleast_1d(np.asarray(trajs, dtype=np.int64))
    if sto:
        hit = uniform_np(seed, trajs[:, None], t[None, :], STREAM) < prob
    else:
        hit = np.broadcast_to(t % int(per) == 0, (trajs.size, t.size))
    return np.where(hit, big, -small)


def best_fixed_loss(c) -> np.ndarray:
    """min over x in [-1, 1] of sum_t c_t x = -|sum_t c_t|, per row of ``c``."""
    return -np.abs(np.sum(np.atleast_2d(c), axis=-1))


SPEC = ObjectiveSpec(
    name="online_linear",
    value_grad_kernel=online_linear,
    hess_kernel=online_linear_hess,
    dim=1,
    domain=(-1.0, 1.0),
    formula="f_t(x) = C x if (t-1) mod P = 0 (or with probability p), else -D x; t = step + 1; x in [-1, 1]",
    source="Reddi, Kale & Kumar, On the Convergence of Adam and Beyond, ICLR 2018, Sec. 5 (C=1010, D=10, P=101)",
    f_min=None,
    params=online_params,
    options=dict(C=1010.0, D=10.0, period=101, stochastic=False, probability=0.01),
    inert=lambda o, dim: ({"period": "it applies with stochastic=false"} if o.get("stochastic")
                          else {"probability": "it applies with stochastic=true"}),
    notes="online (step-dependent) linear losses on [-1, 1]; run with bounds=(-1, 1); Adam ends at +1, AMSGrad at -1",
)
