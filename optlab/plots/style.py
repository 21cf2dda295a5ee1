"""The one place where optlab's figure style lives.

Every optimizer keeps its color across all figures: colors are assigned from
a fixed palette in the order of a fixed list of names, so "adam" is the same
orange in the contour, the loss curves and the report.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import matplotlib

# runs and studies draw off screen; a notebook (MPLBACKEND set by its kernel) or a session that already
# chose a backend by importing pyplot keeps its own, so optlab.plot's figures show inline there
if not os.environ.get("MPLBACKEND") and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..engine.result import atomic_path  # noqa: E402
from ..manifest import note  # noqa: E402

_ORDER = ["gd", "sgd", "momentum", "nesterov", "nesterov_lookahead", "adagrad", "rmsprop", "adadelta",
          "adam", "adamw", "adamax", "nadam", "radam", "asgd", "rprop", "sparse_adam", "lbfgs"]
_PALETTE = ["#1f77b4", "#17becf", "#2ca02c", "#9467bd", "#8c564b", "#bcbd22", "#d62728", "#e377c2",
            "#ff7f0e", "#7f7f7f", "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#000000"]
_EXTRA = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354"]

STYLE = {
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.framealpha": 0.85,
}

MARKERS = {"minimum": ("*", 180, "gold"), "saddle": ("X", 90, "white"), "maximum": ("^", 90, "white")}


def color_for(name: str) -> str:
    """The color of an optimizer (or any label), the same in every figure."""
    key = str(name).split(" ")[0].split("(")[0].lower()
    if key in _ORDER:
        return _PALETTE[_ORDER.index(key)]
    return _EXTRA[sum(map(ord, key)) % len(_EXTRA)]


def figure(*args, **kwargs):
    with plt.rc_context(STYLE):
        return plt.subplots(*args, **kwargs)


@contextlib.contextmanager
def styled(ax=None, **figure_kw):
    """The house style while drawing: yields ``ax``, or the axes of a new styled figure when it is None."""
    with plt.rc_context(STYLE):
        if ax is None:
            _, ax = plt.subplots(**figure_kw)
        yield ax


def save(fig, path, fmt="png", dpi=120) -> Path:
    """Write a figure atomically and close it."""
    path = Path(path).with_suffix("." + fmt)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    note(path, "figure")  # into the run's manifest, when a run is writing this folder
    return path


def hyper_label(hyper: dict, keys=None, limit=3) -> str:
    """'lr=0.01, momentum=0.9' from scalar hyperparameters that differ from defaults."""
    items = []
    for k, v in hyper.items():
        if keys is not None and k not in keys:
            continue
        items.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(items[:limit])
