"""The plateau-and-cliff picture: contour with paths, loss, step length and radius vs step."""
from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.colors import LogNorm

from .landscape import mark_points
from .style import color_for, figure
from .traces import LINESTYLES

OUTLINE = [patheffects.Stroke(linewidth=3.0, foreground="white", alpha=0.75), patheffects.Normal()]


def _ls(style):
    return LINESTYLES.get(style, style) if isinstance(style, str) else style


def cliff_figure(spec, options, runs, jump, title):
    """``runs``: dicts with ``label``, ``method``, ``style``, ``steps``, ``x`` (records, 2), ``loss``
    (f - f*), ``step_len`` (steps,), ``radius`` (records,) and ``tol_step``."""
    fig, axes = figure(2, 2, figsize=(12.5, 10.2))
    ax_c, ax_l, ax_s, ax_r = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    box = np.array(spec.bounds(2), dtype=float)
    # the window holds every path (GD's throw from (2.2, 0) lands at x = 4.4, past the objective's box)
    pts = np.concatenate([r["x"][np.isfinite(r["x"]).all(axis=1)] for r in runs] + [box.T])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.where(np.any([lo < box[:, 0], hi > box[:, 1]], axis=0), 0.04 * (hi - lo), 0.0)
    box = np.stack([np.minimum(box[:, 0], lo - pad), np.maximum(box[:, 1], hi + pad)], axis=1)
    xs = np.linspace(box[0, 0], box[0, 1], 300)
    ys = np.linspace(box[1, 0], box[1, 1], 300)
    G = np.linalg.norm(spec.grad(np.stack(np.meshgrid(xs, ys), axis=-1), **options), axis=-1)
    im = ax_c.imshow(np.maximum(G, 1e-4), origin="lower", extent=(box[0, 0], box[0, 1], box[1, 0], box[1, 1]),
                     norm=LogNorm(1e-3, G.max()), cmap="cividis", interpolation="nearest")
    cb = fig.colorbar(im, ax=ax_c, fraction=0.046, pad=0.03)
    cb.set_label("gradient norm |∇f| (log)")
    ax_c.set_xlim(box[0])
    ax_c.set_ylim(box[1])
    ax_c.set_xlabel("$x_1$")
    ax_c.set_ylabel("$x_2$")
    ax_c.grid(False)
    mark_points(ax_c, spec, box)
    for r in runs:
        c, ls = color_for(r["method"]), _ls(r["style"])
        p = r["x"][np.isfinite(r["x"]).all(axis=1)]
        ax_c.plot(p[:, 0], p[:, 1], linestyle=ls, color=c, lw=1.7, path_effects=OUTLINE)
        ax_c.plot(p[0, 0], p[0, 1], "o", color=c, ms=5, mec="k", mew=0.6)
        ax_l.plot(r["steps"], np.maximum(r["loss"], 1e-16), linestyle=ls, color=c, lw=1.5)
        ax_s.plot(r["steps"][1:], np.maximum(r["step_len"], 1e-12), linestyle=ls, color=c, lw=1.3)
        ax_r.plot(r["steps"], r["radius"], linestyle=ls, color=c, lw=1.5)
        if r["tol_step"] >= 0:
            k = int(np.searchsorted(r["steps"], r["tol_step"]))
            ax_l.plot([r["steps"][k]], [max(r["loss"][k], 1e-16)], "o", color=c, ms=5, mec="k", mew=0.6)
    ax_c.set_aspect("equal")
    ax_c.set_title("paths on |∇f|: plateau (dark, tiny gradient), cliff (bright ring |x| ≈ 0.5)", fontsize=9.5)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("f − f* (log)")
    ax_l.set_title("loss: the plateau (flat), the cliff (drop); ● tolerance reached", fontsize=9.5)
    ax_s.set_yscale("log")
    ax_s.axhline(jump, color="0.3", lw=0.9, ls=(0, (1, 2)))
    ax_s.text(0.99, jump, f"jump threshold {jump:g} ", transform=ax_s.get_yaxis_transform(), ha="right",
              va="bottom", fontsize=7.5, color="0.3")
    ax_s.set_xlabel("step")
    ax_s.set_ylabel("step length |x_{t+1} − x_t| (log)")
    ax_s.set_title("step length: GD's huge steps at the cliff (thrown across the crater); clipping caps them at lr·c", fontsize=9.5)
    ax_r.axhspan(0.45, 0.55, color="0.85", zorder=0)
    ax_r.text(0.99, 0.5, "cliff ", transform=ax_r.get_yaxis_transform(), ha="right", va="center", fontsize=8,
              color="0.3")
    ax_r.set_xlabel("step")
    ax_r.set_ylabel("distance from the minimum |x|")
    ax_r.set_title("distance from the minimum: creep, then cross (or overshoot)", fontsize=9.5)
    handles = [Line2D([], [], color=color_for(r["method"]), linestyle=_ls(r["style"]), lw=1.8, label=r["label"])
               for r in runs]
    fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8.5)
    return fig
