"""Learning-rate schedules compared: loss and lr vs step, final-loss distributions, the lr search,
and the warm-up panel (how many starts fail at each peak lr, with and without a warm-up)."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from .style import figure

# one color per schedule, the same in every panel (optlab.plots.style.color_for hashes names, and
# several schedule names share a color there)
SCHEDULE_COLORS = {"constant": "#444444", "step": "#1f77b4", "cosine": "#2ca02c", "warmup_cosine": "#ff7f0e",
                   "onecycle": "#9467bd", "plateau": "#d62728"}


def schedule_color(key: str) -> str:
    return SCHEDULE_COLORS.get(key, "#8c564b")


def _positive(v, floor=1e-16):
    """Values for a log axis: below ``floor`` clipped to it, non-finite ones dropped (NaN)."""
    v = np.asarray(v, dtype=float)
    return np.where(np.isfinite(v), np.maximum(v, floor), np.nan)


def _lr_values(v):
    """An lr curve for a log axis: a zero lr (cosine's last step) is left out, not drawn at 1e-300."""
    v = np.asarray(v, dtype=float)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def draw_loss_band(ax, runs, ylabel):
    """Median over the starts (line) and the interquartile range (band) of each run's loss vs step."""
    for r in runs:
        c = schedule_color(r["key"])
        ax.fill_between(r["steps"], _positive(r["q25"]), _positive(r["q75"]), color=c, alpha=0.15, lw=0)
        ax.plot(r["steps"], _positive(r["median"]), color=c, lw=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)


def draw_lr_curves(ax, runs):
    """The lr in effect at every recorded step of each run (the tuned peak lr's schedule), drawn by
    optlab.plot's own ``draw_lr`` (one copy of the drawing), colored by schedule."""
    from types import SimpleNamespace

    from .curves import draw_lr
    as_results = [(r["key"], SimpleNamespace(lr=np.asarray(r["lr"], dtype=float).reshape(1, -1),
                                             steps=np.asarray(r["steps"]))) for r in runs]
    draw_lr(ax, as_results, colors={r["key"]: schedule_color(r["key"]) for r in runs},
            ylabel="learning rate (tuned peak)")
    if ax.get_legend() is not None:
        ax.get_legend().remove()  # the figure has one legend of the schedules
    ax.set_yscale("log")


def draw_final_strip(ax, runs, ylabel, threshold=None, seed=0):
    """One column per run: a box of its final losses over the starts and every start as a dot
    (a failed start, not finite, drawn at the top as a cross)."""
    rng = np.random.default_rng(seed)
    finite = np.concatenate([np.asarray(r["final"], float)[np.isfinite(r["final"])] for r in runs] + [[1.0]])
    top = float(np.max(finite)) * 3.0
    for k, r in enumerate(runs):
        c = schedule_color(r["key"])
        v = np.asarray(r["final"], dtype=float)
        ok = np.isfinite(v)
        if ok.any():
            ax.boxplot(_positive(v[ok]), positions=[k], widths=0.55, showfliers=False, whis=(0, 100),
                       medianprops=dict(color=c, lw=2), boxprops=dict(color=c), whiskerprops=dict(color=c),
                       capprops=dict(color=c))
        jitter = rng.uniform(-0.18, 0.18, v.size)
        ax.scatter(k + jitter[ok], _positive(v[ok]), s=12, color=c, alpha=0.75, zorder=3, lw=0)
        if (~ok).any():
            ax.scatter(k + jitter[~ok], np.full((~ok).sum(), top), marker="x", s=20, color=c, zorder=3)
    if threshold is not None:
        ax.axhline(threshold, color="0.35", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(runs)))
    ax.set_xticklabels([r["short"] for r in runs], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)


def draw_search(ax, search, ylabel):
    """Median final loss over the starts vs the peak lr, one line per schedule; the tuned lr as a dot."""
    for s in search:
        c = schedule_color(s["key"])
        med = _positive(s["median"])
        ax.plot(s["lrs"], med, color=c, lw=1.4, marker=".", ms=4)
        if s["tuned"] is not None:
            ax.plot([s["lrs"][s["tuned"]]], [med[s["tuned"]]], "o", color=c, ms=7, mec="k", mew=0.8, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel(ylabel)


def schedules_figure(problems, title):
    """``problems``: one dict per row with ``title``, ``ylabel``, ``final_label``, ``threshold`` (or None),
    ``runs`` (per schedule: ``key``, ``short``, ``steps``, ``median``, ``q25``, ``q75``, ``lr``, ``final``)
    and ``search`` (per schedule: ``key``, ``lrs``, ``median``, ``tuned`` index or None)."""
    n = len(problems)
    fig, axes = figure(n, 4, figsize=(21, 4.9 * n), squeeze=False,
                       gridspec_kw=dict(width_ratios=[1.25, 1, 1, 1]))
    for row, pr in enumerate(problems):
        a_loss, a_lr, a_fin, a_search = axes[row]
        draw_loss_band(a_loss, pr["runs"], pr["ylabel"])
        if pr.get("stall") is not None:
            st = pr["stall"]
            a_loss.plot(st["steps"], _positive(st["median"]), color=schedule_color("constant"), lw=1.4, ls="--",
                        label=f"constant lr at cosine's peak ({st['lr']:.3g}): its noise floor")
            a_loss.legend(loc="upper right", fontsize=8, frameon=False)
        a_loss.set_title(f"{pr['title']}\n{pr['ylabel']} at each schedule's tuned peak lr "
                         f"(median, band: quartiles over {pr['n_starts']} starts)", fontsize=9)
        draw_lr_curves(a_lr, pr["runs"])
        a_lr.set_title("the schedules at their tuned peak lr", fontsize=9)
        draw_final_strip(a_fin, pr["runs"], pr["final_label"], pr.get("threshold"))
        a_fin.set_title("final loss of every start (box: quartiles, whiskers: range)"
                        + ("\ndashed: the failure threshold" if pr.get("threshold") is not None else ""), fontsize=9)
        draw_search(a_search, pr["search"], f"median {pr['final_label']}")
        a_search.set_title("the batched lr search (one engine call per schedule); ● tuned", fontsize=9)
    keys = [r["key"] for r in problems[0]["runs"]]
    labels = [r["label"] for r in problems[0]["runs"]]
    handles = [Line2D([], [], color=schedule_color(k), lw=2.2, label=lab) for k, lab in zip(keys, labels)]
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.05 / n, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9)
    return fig


def warmup_figure(panel, title):
    """``panel``: ``lrs``, ``fail`` (schedule key -> failure fraction per lr), ``labels`` (key -> label),
    ``lr_star``, ``threshold``, ``ylabel``, and ``curves``: per run at ``lr_star`` a dict with ``key``,
    ``steps``, ``loss`` (starts, records) and ``lr`` (records)."""
    fig, axes = figure(1, 4, figsize=(22, 5.0), gridspec_kw=dict(width_ratios=[1, 1, 1, 0.8]))
    ax_f, ax_r = axes[0], axes[3]
    for key, frac in panel["fail"].items():
        bold = key in ("cosine", "warmup_cosine")
        ax_f.plot(panel["lrs"], 100 * np.asarray(frac), color=schedule_color(key), lw=2.2 if bold else 1.0,
                  alpha=1.0 if bold else 0.6, marker="o" if bold else ".", ms=5 if bold else 3,
                  label=panel["labels"][key])
    if panel["lr_star"] is not None:
        ax_f.axvline(panel["lr_star"], color="0.3", ls=":", lw=1.2)
    ax_f.axhline(50, color="0.6", lw=0.8)
    ax_f.set_xscale("log")
    ax_f.set_ylim(-4, 104)
    ax_f.set_xlabel("peak learning rate")
    ax_f.set_ylabel(f"starts that fail (%): final full-data loss > {panel['threshold']:g}")
    ax_f.set_title("failures vs peak lr; dotted: the lr of the next panels", fontsize=9.5)
    ax_f.legend(loc="upper left", fontsize=7.5)
    lr_s = "—" if panel["lr_star"] is None else f"{panel['lr_star']:.3g}"
    curves = {c["key"]: c for c in panel["curves"]}
    lo = [np.nanmin(_positive(c["loss"])) for c in panel["curves"]]
    for ax, key in zip(axes[1:3], ("cosine", "warmup_cosine")):
        c = curves.get(key)
        if c is not None:
            loss = _positive(c["loss"])
            fails = ~(loss[:, -1] <= panel["threshold"])
            for i in range(loss.shape[0]):
                ax.plot(c["steps"], loss[i], color=schedule_color(key), lw=1.1 if fails[i] else 0.8,
                        alpha=0.9 if fails[i] else 0.5)
            ax.set_title(f"{panel['labels'][key]} at peak lr {lr_s}:\n{int(fails.sum())} of {fails.size} starts end "
                         f"above {panel['threshold']:g}", fontsize=9.5)
            ax_r.plot(c["steps"], _lr_values(c["lr"]), color=schedule_color(key), lw=1.8, drawstyle="steps-post",
                      label=panel["labels"][key])
        ax.axhline(panel["threshold"], color="0.35", ls="--", lw=1)
        ax.set_yscale("log")
        if lo and np.isfinite(lo).any():
            ax.set_ylim(0.5 * np.nanmin(lo), None)
        ax.set_xlabel("step")
        ax.set_ylabel(panel["ylabel"])
    axes[2].sharey(axes[1])
    ax_r.set_yscale("log")
    ax_r.set_xlabel("step")
    ax_r.set_ylabel("learning rate")
    ax_r.set_title("the two schedules at that peak lr", fontsize=9.5)
    if ax_r.get_lines():
        ax_r.legend(loc="lower center", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
