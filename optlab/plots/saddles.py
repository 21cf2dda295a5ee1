"""Around a saddle: trajectories on the zoomed contour, distance to the saddle vs step,
and the escape step per method."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from .landscape import contour
from matplotlib import patheffects

from .style import MARKERS, color_for, figure

OUTLINE = [patheffects.Stroke(linewidth=3.2, foreground="white", alpha=0.8), patheffects.Normal()]
from .traces import LINESTYLES, event_bars, trace


def saddle_figure(panels, title):
    """Three rows by one column per saddle.

    ``panels``: dicts with ``entry`` (objective entry: spec, options, label),
    ``x_s`` (saddle), ``v_s``/``v_u`` (stable / unstable directions), ``r0``
    (start distance = escape radius), ``title`` and ``runs``: dicts with
    ``label``, ``method``, ``style``, ``hyper``, ``steps``, ``dist``, ``path``
    (records, 2) and ``escape_step`` (None: never).
    """
    n = len(panels)
    fig, axes = figure(3, n, figsize=(4.6 * n, 12.0), squeeze=False,
                       gridspec_kw=dict(height_ratios=[1.15, 1.0, 0.7]))
    for col, pn in enumerate(panels):
        ax_c, ax_d, ax_b = axes[:, col]
        e, x_s, r0 = pn["entry"], pn["x_s"], pn["r0"]
        half = 1.7 * r0
        box = np.array([[x_s[0] - half, x_s[0] + half], [x_s[1] - half, x_s[1] + half]])
        cs, zlabel = contour(ax_c, e.spec, box, e.options, n=200, levels=25)
        cb = fig.colorbar(cs, ax=ax_c, fraction=0.046, pad=0.03)
        cb.set_label(zlabel, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        for sign, vec, name in ((1, pn["v_s"], "stable"), (1, pn["v_u"], "unstable")):
            seg = x_s + np.outer([-half, half], vec)
            ax_c.plot(seg[:, 0], seg[:, 1], color="white", lw=0.8, ls=(0, (2, 2)), alpha=0.9)
        marker, size, face = MARKERS["saddle"]
        ax_c.scatter([x_s[0]], [x_s[1]], marker=marker, s=size * 1.3, c=face, edgecolors="k", zorder=7)
        ax_c.add_patch(_circle(x_s, r0))
        for r in pn["runs"]:
            path = r["path"][np.isfinite(r["path"]).all(axis=1)]
            ax_c.plot(path[:, 0], path[:, 1], LINESTYLES[r["style"]], color=color_for(r["method"]), lw=1.8,
                      alpha=0.95, path_effects=OUTLINE)
            ax_c.plot(path[0, 0], path[0, 1], "o", color=color_for(r["method"]), ms=4, mec="k", mew=0.5)
        ax_c.set_xlim(box[0])
        ax_c.set_ylim(box[1])
        ax_c.set_aspect("equal")
        ax_c.set_title(pn["title"], fontsize=8.5)
        # distance to the saddle
        lows = []
        for r in pn["runs"]:
            d = np.where(r["dist"] > 0, r["dist"], np.nan)
            if np.isfinite(d).any():
                lows.append(np.nanmin(d))
            k = None if r["escape_step"] is None else int(np.searchsorted(r["steps"], r["escape_step"]))
            trace(ax_d, r["steps"], d, r["label"], r["method"], r["style"], marker_at=k)
        ax_d.axhline(r0, color="0.3", lw=0.9, ls=(0, (1, 2)))
        ax_d.text(0.99, r0, "escape radius r0 ", transform=ax_d.get_yaxis_transform(), ha="right", va="bottom",
                  fontsize=7, color="0.3")
        ax_d.set_yscale("log")
        ax_d.set_ylim(max(min(lows, default=1e-3) / 3, 1e-300), 30 * r0)
        ax_d.set_xlabel("step")
        ax_d.set_ylabel("distance to the saddle (log)")
        ax_d.set_title(f"{e.label}: distance to the saddle\n{pn.get('hyper', '')}", fontsize=9)
        # escape steps
        event_bars(ax_b, [r["label"] for r in pn["runs"]], [r["method"] for r in pn["runs"]],
                   [r["escape_step"] for r in pn["runs"]], [r["style"] for r in pn["runs"]],
                   never_label="stays (never escapes)", xlabel="escape step (distance > r0 after the closest approach)")
        ax_b.set_title(f"{e.label}: escape step per method", fontsize=9)
    fig.suptitle(title, fontsize=11)
    handles = [Line2D([], [], color=color_for(r["method"]), ls=LINESTYLES[r["style"]], lw=1.8, label=r["label"])
               for r in panels[0]["runs"]]
    handles += [Line2D([], [], color="white", marker=MARKERS["saddle"][0], mec="k", ls="none", ms=9, label="saddle"),
                Line2D([], [], color="0.4", ls=(0, (2, 2)), label="stable / unstable eigen-directions"),
                Line2D([], [], color="0.3", ls=(0, (1, 2)), label="escape radius r0 (circle, line)"),
                Line2D([], [], color="0.3", marker="o", ls="none", mec="k", ms=5,
                       label="start (top row), escape step (middle row)")]
    fig.tight_layout(rect=(0, 0.045, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, fontsize=8.5)
    return fig


def _circle(center, r):
    from matplotlib.patches import Circle
    return Circle(tuple(center), r, fill=False, ec="white", lw=0.9, ls=(0, (1, 2)), alpha=0.9)
