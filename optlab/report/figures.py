"""Figures that compare the jobs of a sweep, rendered to PNG bytes.

Each function takes plain series (no files) and returns the PNG as bytes,
so the caller can both embed it (base64) and write it next to report.md.
Colors come from :func:`optlab.plots.style.color_for`: an optimizer keeps
its color in every figure; jobs of one optimizer are told apart by shade.
"""
from __future__ import annotations

import io
import math

import numpy as np

from ..plots.style import color_for, figure

MAX_LEGEND = 24


def plain(text) -> str:
    """Text shown literally by matplotlib ('$' would start mathtext, and a bad formula would raise)."""
    return str(text).replace("$", r"\$")


def to_png(fig, dpi: int = 110) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def shade(color: str, k: int, n: int) -> tuple:
    """The k-th of n shades of ``color``, from light (k=0) to the full color (k=n-1)."""
    from matplotlib.colors import to_rgb
    rgb = np.array(to_rgb(color))
    if n <= 1:
        return tuple(rgb)
    t = 0.35 + 0.65 * k / (n - 1)
    return tuple(1.0 - t * (1.0 - rgb))


def colors_for(series: list[dict]) -> list:
    """One color per series: the optimizer's color, shaded by rank within the optimizer."""
    groups: dict = {}
    for s in series:
        groups.setdefault(s["color_key"], []).append(s)
    out = {}
    for key, members in groups.items():
        base = color_for(key)
        for k, s in enumerate(members):
            out[id(s)] = shade(base, k, len(members))
    return [out[id(s)] for s in series]


def loss_curves(series: list[dict], ylabel: str, title: str) -> bytes:
    """Median loss curves overlaid. ``series``: dicts with label, color_key, steps, y."""
    fig, ax = figure(figsize=(7.6, 4.6))
    positive = all(np.all(s["y"][np.isfinite(s["y"])] > 0) for s in series)
    for s, c in zip(series, colors_for(series)):
        y = np.where(np.isfinite(s["y"]), s["y"], np.nan)
        ax.plot(s["steps"], y, color=c, lw=1.4, label=plain(s["label"]) if len(series) <= MAX_LEGEND * 2 else None)
    ax.set_yscale("log" if positive else "symlog", **({} if positive else {"linthresh": 1e-8}))
    note = ""
    if positive:
        # one diverging job's median climbed to 1e27 and pressed the others into the bottom decade:
        # the axis stops 100x above the highest start, and such a curve runs off the top
        finite = [s["y"][np.isfinite(s["y"])] for s in series]
        starts = [f[0] for f in finite if f.size]
        highs = [f.max() for f in finite if f.size]
        if starts and max(highs) > 100 * max(starts):
            lows = [f.min() for f in finite if f.size]
            ax.set_ylim(0.5 * min(lows), 100 * max(starts))
            note = "\n(a curve that leaves the top grew 100x past the highest start: diverging)"
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(plain(title) + note)
    _legend(ax, len(series))
    return to_png(fig)


def _legend(ax, n):
    if n == 0:
        return
    ncol = 1 if n <= MAX_LEGEND else 2
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, ncol=ncol, frameon=False)


def _log_ok(values) -> bool:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return v.size > 0 and bool(np.all(v > 0)) and v.max() / v.min() >= 10


def sweep_lines(xs_label: str, x_values: list, numeric: bool, lines: list[dict], ylabel: str,
                title: str) -> bytes:
    """Final loss against the swept value, one line per combination of the other swept values.

    ``x_values``: the swept values in axis order; each line: label, color_key,
    y (one value or None per x: None = no finite result, drawn as an x at the top).
    """
    fig, ax = figure(figsize=(7.6, 4.6))
    xs = np.asarray(x_values, dtype=float) if numeric else np.arange(len(x_values), dtype=float)
    all_y = [v for ln in lines for v in ln["y"] if v is not None and math.isfinite(v)]
    positive = bool(all_y) and min(all_y) > 0
    top = (max(all_y) if all_y else 1.0)
    top = top * 10 if positive else top + 1.0
    # the axis follows the values that have a result: a failed job's value (lr=-1) turned the lr axis
    # linear from -1 to 0 and squeezed the finished jobs into its right edge; it is left off a log axis
    finished = [x for k, x in enumerate(x_values)
                if any(ln["y"][k] is not None and math.isfinite(ln["y"][k]) for ln in lines)]
    log_x = numeric and _log_ok(finished or x_values)
    drawable = xs > 0 if log_x else np.ones(len(xs), dtype=bool)
    any_bad = False
    for ln, c in zip(lines, colors_for(lines)):
        y = np.array([np.nan if v is None or not math.isfinite(v) else v for v in ln["y"]], dtype=float)
        missing = np.asarray(ln.get("missing") or [False] * len(y), dtype=bool) | ~drawable
        ax.plot(xs[~missing], y[~missing], "o-", color=c, lw=1.4, ms=4, label=plain(ln["label"]))
        bad = np.isnan(y) & ~missing
        if bad.any():
            any_bad = True
            ax.plot(xs[bad], np.full(int(bad.sum()), top), "x", color=c, ms=8, mew=2)
    if log_x:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels([plain(v) for v in x_values], rotation=30 if len(x_values) > 4 else 0, ha="right"
                           if len(x_values) > 4 else "center")
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel(plain(xs_label))
    ax.set_ylabel(ylabel)
    note = "\n(x at the top: failed, or more than half of the trajectories diverged)" if any_bad else ""
    ax.set_title(plain(title) + note)
    _legend(ax, len(lines))
    return to_png(fig)


def heatmap(row_key: str, row_values: list, col_key: str, col_values: list, cells: np.ndarray,
            status: np.ndarray, zlabel: str, title: str, notes: np.ndarray | None = None) -> bytes:
    """Final loss over two swept values. ``cells`` (rows, cols) float (NaN: none);
    ``status`` the same shape of short strings shown in cells without a value."""
    nr, nc = cells.shape
    fig, ax = figure(figsize=(max(4.8, 1.0 + 0.95 * nc), max(3.2, 0.9 + 0.55 * nr)))
    finite = cells[np.isfinite(cells)]
    positive = finite.size > 0 and bool(np.all(finite > 0))
    if positive:
        z = np.log10(cells)
        zname = f"log10 {zlabel}"
    else:
        z = cells
        zname = zlabel
    masked = np.ma.masked_invalid(z)
    import matplotlib
    # bright = low, as the studies' heatmaps and the explorer draw a loss (this one had bright = high)
    cmap = matplotlib.colormaps["viridis_r"].copy()
    cmap.set_bad("#dddddd")
    im = ax.imshow(masked, cmap=cmap, aspect="auto", origin="upper")
    ax.grid(False)
    ax.set_xticks(range(nc))
    ax.set_xticklabels([plain(v) for v in col_values], rotation=30 if nc > 4 else 0,
                       ha="right" if nc > 4 else "center")
    ax.set_yticks(range(nr))
    ax.set_yticklabels([plain(v) for v in row_values])
    ax.set_xlabel(plain(col_key))
    ax.set_ylabel(plain(row_key))
    ax.set_title(plain(title))
    lo, hi = (np.nanmin(z[np.isfinite(z)]), np.nanmax(z[np.isfinite(z)])) if np.isfinite(z).any() else (0, 1)
    for i in range(nr):
        for j in range(nc):
            if np.isfinite(cells[i, j]):
                txt = f"{cells[i, j]:.2g}" + (f"\n{notes[i, j]}" if notes is not None and notes[i, j] else "")
                light = (z[i, j] - lo) / (hi - lo) < 0.4 if hi > lo else True  # viridis_r: bright at the low end
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="black" if light else "white")
            else:
                ax.text(j, i, status[i, j], ha="center", va="center", fontsize=7, color="#444444")
    if np.isfinite(z).any():
        fig.colorbar(im, ax=ax, label=f"{zname} (bright = low)", shrink=0.85)
    return to_png(fig)
