r"""adam_betas: Adam's two averaging constants.

Adam keeps :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t` (a running mean of
gradients, memory ~ :math:`1/(1-\beta_1)` steps) and
:math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2` (a running mean of squared
gradients, memory ~ :math:`1/(1-\beta_2)` steps) and steps
:math:`x \leftarrow x - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)`
with bias-corrected :math:`\hat m, \hat v` (Kingma & Ba, ICLR 2015).

The study runs the whole :math:`\beta_1 \times \beta_2` grid (times a few
start points) in one engine call per objective and draws the median steps
to tolerance and the median final gap :math:`f - f^*` over the starts. The
:math:`\beta_2` axis is :math:`1-\beta_2` on a log scale (the memory of
:math:`v`). Overlaid: torch's default (0.9, 0.999) and the curve
:math:`\beta_1 = \sqrt{\beta_2}`; Adam's convergence analyses assume
:math:`\beta_1 < \sqrt{\beta_2}` (Kingma & Ba's Theorem 4.1 uses
:math:`\beta_1^2/\sqrt{\beta_2} < 1`; Reddi, Kale & Kumar, ICLR 2018, show
what goes wrong without such conditions; Zhang et al., NeurIPS 2022).
"""
from __future__ import annotations

import numpy as np

from .. import sweep
from ..errors import OptlabError
from ..plots import save
from ..plots.heatmaps import heatmap, mask_handles
from ..plots.style import figure
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, positive_int, save_arrays,
                       study_params)

NAME = "adam_betas"

DEFAULTS = dict(
    objectives=[
        {"name": "rosenbrock", "lr": 0.02, "steps": 10000, "x0": [[-1.5, 2.0], [-1.2, 1.0], [0.0, 2.5]]},
        {"name": "beale", "lr": 0.01, "steps": 5000, "x0": [[1.0, 1.5], [-1.0, -1.0], [2.0, -1.5]]},
    ],
    beta1=[0.0, 0.99, 34],            # linspace(start, stop, num)
    one_minus_beta2=[1e-4, 0.5, 34],  # geomspace(start, stop, num)
    eps=1e-8,
    tol=1e-6,
)
QUICK = dict(beta1=[0.0, 0.99, 10], one_minus_beta2=[1e-4, 0.5, 10], objectives=[
    {"name": "beale", "lr": 0.01, "steps": 3000, "x0": [[1.0, 1.5]]},
])


def _grid(name, spec, log):
    vals = as_float_list(name, spec)
    if len(vals) != 3 or int(vals[2]) < 2:
        raise OptlabError(f"Invalid study.{name}: {spec!r} (must be [start, stop, num])")
    if log:
        if not 0 < vals[0] < vals[1] <= 1:
            raise OptlabError(f"Invalid study.{name}: {spec!r} (need 0 < start < stop <= 1)")
        return np.geomspace(vals[0], vals[1], int(vals[2]))
    if not 0 <= vals[0] < vals[1] < 1:
        raise OptlabError(f"Invalid study.{name}: {spec!r} (need 0 <= start < stop < 1)")
    return np.linspace(vals[0], vals[1], int(vals[2]))


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["adam"], extra=("lr", "steps", "x0"), sweep=True)


@register(NAME, kernels=kernels)
def run(cfg: dict, out_dir) -> dict:
    """Median steps to tolerance and final gap of Adam over (beta1, beta2)."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=("lr", "steps", "x0"))
    b1 = _grid("beta1", p["beta1"], log=False)
    omb2 = _grid("one_minus_beta2", p["one_minus_beta2"], log=True)
    b2 = 1.0 - omb2
    eps = float(p["eps"])
    tol = float(p["tol"])
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    for e in entries:
        if e.f_min() is None:
            raise OptlabError(f"Study '{NAME}' measures the gap to the minimum; objective '{e.name}' has no known "
                              "minimum. Use rosenbrock, beale, himmelblau, booth, ...")

    n = len(entries)
    fig, axes = figure(2, n, figsize=(6.2 * n, 9.4), squeeze=False)
    rows, arrays = [], {}
    for col, e in enumerate(entries):
        lr = float(e.extra.get("lr", 1e-3))
        steps = positive_int("steps", e.extra.get("steps", 3000))
        x0 = np.asarray(e.extra.get("x0", [e.spec.starts[0]] if e.spec.starts else None), dtype=float)
        x0 = x0.reshape(-1, e.dim)
        sw = sweep("adam", e.name, grid={"beta1": b1, "beta2": b2}, x0=x0, steps=steps, record_every=steps,
                   tol=tol, lr=lr, eps=eps, objective_options=e.options, **eng)
        f_min = e.f_min()
        final = sw.grid("loss_final") - f_min                      # (n_b1, n_b2, n_start)
        div = (sw.grid("diverged_step") >= 0) | ~np.isfinite(final)
        tts = sw.grid("tol_step").astype(float)
        # tol_step: the step from which a run stayed within tol (with a short v-memory many runs
        # touch 1e-6 early and leave again: the fastest cell by first touch ended at 1e-4)
        tts = np.where((tts >= 0) & ~div, tts, np.inf)
        med_t = np.median(tts, axis=-1)
        med_f = np.median(np.where(div, np.inf, final), axis=-1)
        div_cell = np.mean(div, axis=-1) > 0.5
        where = f"median over {x0.shape[0]} starts" if x0.shape[0] > 1 else f"start ({x0[0, 0]:g}, {x0[0, 1]:g})"
        for row, (vals, label, cmap) in enumerate((
                (np.where(np.isfinite(med_t), np.maximum(med_t, 1), np.nan),
                 f"steps to f − f* ≤ {tol:g}, of runs ending there (log)",
                 "viridis_r"),
                (np.where(np.isfinite(med_f), np.maximum(med_f, 1e-16), np.nan), "f − f* after the last step (log)",
                 "magma_r"))):
            ax = axes[row, col]
            mesh = heatmap(ax, omb2, b1, vals, diverged=div_cell, xlog=True, cmap=cmap)
            cb = fig.colorbar(mesh, ax=ax, pad=0.02)
            cb.set_label(label)
            bb = np.geomspace(omb2[0], omb2[-1], 200)
            curve = np.sqrt(1.0 - bb)
            inside = curve <= b1[-1] + 0.5 * (b1[1] - b1[0])
            ax.plot(bb[inside], curve[inside], color="white", lw=2.4)
            ax.plot(bb[inside], curve[inside], color="k", lw=1.0, ls=(0, (4, 2)), label="β1 = √β2")
            ax.scatter([1 - 0.999], [0.9], marker="P", s=110, c="white", edgecolors="k", lw=1.2, zorder=6,
                       label="torch default (0.9, 0.999)")
            if row == 0 and np.isfinite(med_t).any():
                i, j = np.unravel_index(np.argmin(np.where(np.isfinite(med_t), med_t, np.inf)), med_t.shape)
                ax.scatter([omb2[j]], [b1[i]], marker="o", s=80, facecolors="none", edgecolors="red", lw=2, zorder=6,
                           label=f"fastest: {med_t[i, j]:.0f} steps at β1={b1[i]:.2f}, β2={b2[j]:.4g}")
            ax.set_xlabel("1 − β2 (log scale; memory of v ≈ 1/(1−β2) steps)")
            ax.set_ylabel("β1")
            what = "steps to tolerance" if row == 0 else "final gap"
            ax.set_title(f"Adam on {e.label}: {what}\nlr={lr:g}, eps={eps:g}, {steps} steps, {where}", fontsize=9.5)
            handles, labels = ax.get_legend_handles_labels()
            masks = mask_handles(not_reached="not reached in the step budget",
                                 diverged="diverged (most starts)")[(1 if row else 0):]
            ax.legend(handles + masks, labels + [h.get_label() for h in masks], loc="upper center",
                      bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=7.5, frameon=False)
        d_i = int(np.argmin(np.abs(b1 - 0.9)))
        d_j = int(np.argmin(np.abs(omb2 - 0.001)))
        best = None
        if np.isfinite(med_t).any():
            i, j = np.unravel_index(np.argmin(np.where(np.isfinite(med_t), med_t, np.inf)), med_t.shape)
            best = dict(beta1=float(b1[i]), beta2=float(b2[j]), median_steps=float(med_t[i, j]))
        rows.append(dict(objective=e.label, lr=lr, steps=steps, x0=x0.tolist(), fastest=best,
                         near_default=dict(beta1=float(b1[d_i]), beta2=float(b2[d_j]),
                                           median_steps=None if not np.isfinite(med_t[d_i, d_j]) else float(med_t[d_i, d_j]),
                                           median_final_gap=None if not np.isfinite(med_f[d_i, d_j]) else float(med_f[d_i, d_j])),
                         share_reached=float(np.isfinite(med_t).mean()), share_diverged=float(div_cell.mean())))
        arrays[f"{e.slug}__median_steps_to_tol"] = np.where(np.isfinite(med_t), med_t, -1)
        arrays[f"{e.slug}__median_final_gap"] = med_f
        arrays[f"{e.slug}__beta1"] = b1
        arrays[f"{e.slug}__beta2"] = b2
    fig.suptitle("Adam's β1 × β2: how fast, and how close, for a fixed learning rate", fontsize=11)
    fig.tight_layout()
    figure_path = save(fig, out_dir / "adam_betas", fmt, dpi)
    save_arrays(out_dir / "adam_betas.npz", **arrays)
    metrics = dict(study=NAME, tol=tol, eps=eps, objectives=rows, figures=[figure_path.name])
    return finish(out_dir, metrics, {"study": NAME, "title": "adam_betas: steps to tolerance over (β1, β2)",
                                     "objectives": rows, "figures": [figure_path.name], "table": _table(rows)})


def _table(rows) -> str:
    head = f"{'objective':<12} {'lr':>6} {'fastest β1':>10} {'β2':>8} {'steps':>6} {'(0.9, 0.999) steps':>19} {'reached':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        b = r["fastest"] or {}
        d = r["near_default"]
        ds = "—" if d["median_steps"] is None else f"{d['median_steps']:.0f}"
        lines.append(f"{r['objective'][:12]:<12} {r['lr']:>6g} {b.get('beta1', float('nan')):>10.2f} "
                     f"{b.get('beta2', float('nan')):>8.4g} {b.get('median_steps', float('nan')):>6.0f} {ds:>19} "
                     f"{100 * r['share_reached']:>7.0f}%")
    return "\n".join(lines)
