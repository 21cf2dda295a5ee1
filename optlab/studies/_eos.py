"""What the edge_of_stability study measures and claims, as small pure functions.

Kept apart from the study module (``optlab.studies.edge_of_stability``) so
that tests and the torch reference generator can use the thresholds, the
network's start and the measures without importing a study (importing one
study module registers it on its own).
"""
from __future__ import annotations

import numpy as np

from ..theory import Claim

# Relative tolerance of "median sharpness over the late phase = threshold", per method; the reasons are in
# experiments/edge_of_stability.md (measured spread across initialisations, against the distance to what the
# claim rules out).
TOLERANCE = {"gd": 0.05, "momentum": 0.10, "adam": 0.15}
INCREASE_FLOOR = 1e-9  # a loss increase counts when larger than this times the loss at the crossing

SOURCES = {"gd": "Cohen et al., ICLR 2021", "momentum": "Cohen et al., ICLR 2021 (Polyak momentum)",
           "adam": "Cohen et al., arXiv 2207.14484 (2022)", "minimalist": "Zhu et al., ICLR 2023"}


# --- thresholds -------------------------------------------------------------------

def gd_threshold(lr: float) -> float:
    """2/lr: the largest curvature GD with step lr keeps stable on a quadratic."""
    return 2.0 / lr


def heavy_ball_threshold(lr: float, beta: float) -> float:
    """(2 + 2 beta)/lr: heavy ball's bound (roots of z^2 - (1 + beta - lr S) z + beta inside the unit circle)."""
    return (2.0 + 2.0 * beta) / lr


def adam_threshold(lr: float, beta1: float) -> float:
    """(2 + 2 beta1)/((1 - beta1) lr): the bound on the preconditioned sharpness of Adam (38/lr at beta1 0.9)."""
    return (2.0 + 2.0 * beta1) / ((1.0 - beta1) * lr)


# --- the mlp's start ----------------------------------------------------------------

def mlp_start(width: int, init_scale: float, seed: int) -> np.ndarray:
    """PyTorch's default init of nn.Linear(2, width) and nn.Linear(width, 1) -- weights and biases
    uniform in +-1/sqrt(fan_in) -- in the mlp's layout (W, b, v, c), the first layer times init_scale."""
    rng = np.random.default_rng(seed)
    a, b = 1.0 / np.sqrt(2.0), 1.0 / np.sqrt(width)
    first = np.concatenate([rng.uniform(-a, a, 2 * width), rng.uniform(-a, a, width)]) * init_scale
    return np.concatenate([first, rng.uniform(-b, b, width), rng.uniform(-b, b, 1)])


# --- what a run shows --------------------------------------------------------------

def first_crossing(sharpness, threshold):
    """Index of the first record with sharpness >= threshold, or None (NaN records never count)."""
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(np.asarray(sharpness, dtype=float) >= threshold)
    return int(hit[0]) if hit.size else None


def end_loss(loss) -> float:
    """The loss at the end of a run: the median of its last tenth of records (at least one), so that one
    spike on the last record does not decide whether the loss fell."""
    f = np.asarray(loss, dtype=float)
    return float(np.median(f[-max(1, f.size // 10):]))


def eos_measures(steps, sharpness, loss, threshold) -> dict:
    """The numbers the claims compare: start sharpness (first finite record), first crossing, median
    sharpness of the late phase (crossing to end), loss increases in it, loss at the crossing and at the end
    (:func:`end_loss`)."""
    s = np.asarray(sharpness, dtype=float)
    f = np.asarray(loss, dtype=float)
    finite = np.flatnonzero(np.isfinite(s))
    start = float(s[finite[0]]) if finite.size else float("nan")
    k = first_crossing(s, threshold)
    out = dict(threshold=float(threshold), start_sharpness=start,
               start_step=int(steps[finite[0]]) if finite.size else None,
               cross=k, cross_step=None if k is None else int(steps[k]),
               median_late=float("nan"), median_over_threshold=float("nan"), loss_increases=0,
               loss_at_cross=float("nan"), loss_final=float(f[-1]), loss_end=end_loss(f),
               final_sharpness=float(s[-1]),
               diverged=bool(not np.isfinite(f[-1])))
    if k is not None:
        late = s[k:]
        med = float(np.median(late)) if np.isfinite(late).all() else float("nan")
        # rises between records an even number of steps apart: GD's step-to-step period-2 flip is not
        # what is counted (the minimalist example records every step: its 91-107 'rises' were the flip)
        stride = 2 if len(steps) > 1 and (int(steps[1]) - int(steps[0])) % 2 else 1
        with np.errstate(invalid="ignore"):
            ups = int(np.sum(np.diff(f[k::stride]) > INCREASE_FLOOR * abs(f[k])))
        out.update(median_late=med, median_over_threshold=med / threshold, loss_increases=ups,
                   loss_at_cross=float(f[k]))
    return out


def claims_for(m: dict, method: str, where: str, threshold_formula: str, source: str,
               minimalist: bool = False) -> list:
    """The theory-table rows of one run (``m`` from :func:`eos_measures`)."""
    thr = m["threshold"]
    what = "preconditioned sharpness" if method == "adam" else "sharpness"
    rows = [
        Claim(f"{what} at the start is below the threshold (progressive sharpening has room)",
              f"S(start) <= {threshold_formula}", thr, m["start_sharpness"], 0.0, "le", source, where),
        Claim(f"median {what} over the late phase (first crossing to end) is the threshold",
              f"median S(late) = {threshold_formula}", thr, m["median_late"], TOLERANCE[method], "rel", source, where),
        Claim("the loss is non-monotone over the late phase (increases between records)",
              "#{t: L(t+1) > L(t)} >= 1", 1.0, float(m["loss_increases"]), 0.0, "ge", source, where),
        Claim("the loss still falls over the late phase: at the end (median of the last tenth) <= at the "
              "first crossing", "L(end) <= L(first crossing)", m["loss_at_cross"], m["loss_end"], 0.0, "le", source,
              where),
    ]
    if minimalist:
        rows.append(Claim("GD ends at a minimum no sharper than 2/lr (a stable fixed point), not at gradient "
                          "flow's", "S(end) <= 2/lr", thr, m["final_sharpness"], 0.0, "le", source, where))
    return rows
