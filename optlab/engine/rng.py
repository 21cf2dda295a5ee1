"""A counter-based random generator: numbers keyed by (seed, trajectory, step, k).

Each draw is a pure function of its key, so runs are reproducible, do not
depend on the thread count or the block size, and are the same on the CPU and
on a GPU. The mixer is SplitMix64's finaliser applied to a combined key
(Steele, Lea & Flood, OOPSLA 2014), evaluated twice with different
constants; it passes the usual avalanche checks, which is what we need for
gradient noise and minibatch shuffles (not for cryptography).
"""
import math
import warnings

import numpy as np

from .ops import jitable

# uint64 arithmetic wraps on purpose; numpy warns when this runs as Python.
warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning, __name__)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_G = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_TOP = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@jitable
def mix64(z):
    """SplitMix64 finaliser of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jitable
def key64(seed, traj, step, k):
    """Hash of the key (seed, traj, step, k), as a uint64."""
    z = mix64(np.uint64(seed) * _G + np.uint64(traj))
    z = mix64(z + np.uint64(step) * _G)
    return mix64(z + np.uint64(k) * _G + _G)


@jitable
def uniform(seed, traj, step, k):
    """A float64 in [0, 1) from the key."""
    return float(key64(seed, traj, step, k) >> _TOP) * _INV53


@jitable
def normal(seed, traj, step, k):
    """A standard normal from the key (Box-Muller on two keyed uniforms)."""
    u1 = uniform(seed, traj, step, 2 * k)
    u2 = uniform(seed, traj, step, 2 * k + 1)
    r = math.sqrt(-2.0 * math.log(1.0 - u1))
    return r * math.cos(6.283185307179586 * u2)
