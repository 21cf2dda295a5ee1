"""Animated GIF of trajectories moving together on the landscape (matplotlib draws, Pillow writes)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from PIL import Image

from .landscape import mark_points
from .panels import log_background
from .style import color_for, figure

OUTLINE = [patheffects.Stroke(linewidth=2.8, foreground="white", alpha=0.7), patheffects.Normal()]


def frame_indices(n_records, frames):
    """Record indices shown: 0, then log-spaced so the fast early motion gets frames too."""
    if n_records <= frames:
        return np.arange(n_records)
    idx = np.unique(np.round(np.geomspace(1, n_records - 1, frames - 1)).astype(int))
    return np.concatenate([[0], idx])


def animate_paths(spec, runs, title, path, bounds=None, options=None, frames=48, fps=10, dpi=90,
                  trail=True, ncol=3):
    """Write a GIF: each run of ``runs`` (list of (label, Result), first trajectory) as a moving dot
    with its path so far. Returns the path written."""
    fig, ax = figure(figsize=(5.8, 6.2))
    box = spec.bounds(2) if bounds is None else np.asarray(bounds, dtype=float)
    im, zlabel = log_background(ax, spec, box, options, n=160)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(zlabel)
    box = np.asarray(ax.get_xlim() + ax.get_ylim()).reshape(2, 2)
    mark_points(ax, spec, box)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    lines, dots = [], []
    for label, res in runs:
        color = color_for(label)
        (ln,) = ax.plot([], [], "-", color=color, lw=1.6, label=label, path_effects=OUTLINE)
        (dot,) = ax.plot([], [], "o", color=color, ms=7, mec="k", mew=0.8, zorder=6)
        lines.append(ln)
        dots.append(dot)
    ax.set_xlim(box[0])
    ax.set_ylim(box[1])
    n_rec = max(res.x.shape[1] for _, res in runs)
    idx = frame_indices(n_rec, frames)
    steps = runs[0][1].steps
    head = ax.set_title(f"{title}\nstep 0", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=ncol, fontsize=7, frameon=False)
    fig.tight_layout()

    def update(k):
        i = idx[k]
        for (label, res), ln, dot in zip(runs, lines, dots):
            p = res.x[0, : min(i, res.x.shape[1] - 1) + 1]
            p = p[np.isfinite(p).all(axis=1)]
            if len(p):
                ln.set_data(p[:, 0], p[:, 1]) if trail else ln.set_data([], [])
                dot.set_data([p[-1, 0]], [p[-1, 1]])
        head.set_text(f"{title}\nstep {int(steps[min(i, len(steps) - 1)])}")
        return lines + dots + [head]

    # Blitting by hand: the landscape is drawn once, each frame only redraws the moving artists,
    # and Pillow writes the GIF (a full redraw per frame is ~50x slower).
    fig.set_dpi(dpi)
    for a in lines + dots + [head]:
        a.set_animated(True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    for k in range(len(idx)):
        update(k)
        fig.canvas.restore_region(background)
        for a in lines + dots + [head]:
            ax.draw_artist(a)
        rgba = np.asarray(fig.canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
    palette = images[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    path = Path(path).with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.gif")  # Pillow needs .gif
    os.close(fd)
    try:
        durations = [int(1000 / fps)] * (len(frames_p) - 1) + [2000]  # hold the last frame
        frames_p[0].save(tmp, save_all=True, append_images=frames_p[1:], duration=durations, loop=0,
                         optimize=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        import matplotlib.pyplot as plt
        plt.close(fig)
    from ..manifest import note
    note(path, "figure")
    return path
