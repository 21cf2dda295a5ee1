"""Building a report: entries -> comparison figures, the render context, the files.

:func:`build_report` reads a run or multirun folder (:mod:`.artifacts`), groups
its jobs into entries (:mod:`.model`), draws the figures comparing them
(:func:`comparison_figures`, drawn by :mod:`.figures`), renders
``report.html`` and ``report.md`` (:mod:`.render`) and writes them
atomically. :func:`main` is ``optlab report``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..engine.result import atomic_path
from ..errors import OptlabError
from .artifacts import RunData, base_config_text, command_line, find_jobs, median_curve
from .model import Entry, make_entries, swept_keys, worker_order
from ..errors import argument_parser


def _as_float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _gap(run: RunData):
    """The final value a figure shows: median over all trajectories of f - f* (f when f* is unknown),
    diverged ones counting as +inf; None when more than half diverged."""
    if run.loss_final is not None:
        return run.final_gap_all
    v = run.final_loss_median
    if v is None:
        return None
    return v - run.f_target if run.f_target is not None else v


# --- comparison figures ----------------------------------------------------------------------------

def comparison_figures(entries: list[Entry], swept: list[str]) -> list[tuple[str, str, bytes]]:
    """[(file stem, caption, png bytes)] comparing the entries; empty for a single job."""
    from . import figures as F
    out = []
    done = [e for e in entries if e.runs and e.status == "ok"]
    if len(entries) < 2 or not done:
        return out
    known_fmin = all(r.f_target is not None for e in done for r in e.runs)
    ylab = "f(x) - f*" if known_fmin else "f(x)"
    multi = any(len(e.runs) > 1 for e in done)

    def name(e, run):
        ov = ", ".join(f"{k}={e.overrides.get(k)}" for k in swept) or f"job {e.name}"
        return f"{ov} · {run.label}" if multi else ov

    series = []
    for e in done:
        for run in e.runs:
            mc = median_curve(run)
            if mc is None:
                continue
            series.append(dict(label=name(e, run), color_key=run.optimizer or run.label, steps=mc[0], y=mc[1]))
    if series:
        sampled = any(r.n_curve_total > r.curve_rows.shape[0] for e in done for r in e.runs
                      if r.curve_rows is not None)
        cap = ("Median over trajectories" + (" (of an even subsample of each job)" if sampled else "")
               + " of the loss" + (" minus the known minimum value" if known_fmin else "")
               + "; a curve ends where more than half of its trajectories have diverged.")
        out.append(("report_loss", cap, F.loss_curves(series, ylab + " (median)", "loss vs step, all jobs")))

    keys = [k for k in swept]
    if keys:
        x_key = next((k for k in keys if all(_as_float(e.overrides.get(k)) is not None for e in entries)), keys[0])
        numeric = all(_as_float(e.overrides.get(x_key)) is not None for e in entries)
        x_vals = _ordered({e.overrides.get(x_key) for e in entries}, numeric)
        others = [k for k in keys if k != x_key]
        lines: dict = {}
        for e in entries:
            runs = e.runs or [None]
            for i, run in enumerate(runs):
                gkey = tuple(str(e.overrides.get(k)) for k in others) + ((run.label,) if multi and run else ())
                ln = lines.setdefault(gkey, dict(
                    label=", ".join(f"{k}={v}" for k, v in zip(others, gkey)) + (
                        (" · " if others else "") + gkey[-1] if multi and run else "") or "final loss",
                    color_key=(run.optimizer or run.label) if run else str(gkey[0] if gkey else "job"),
                    y=[None] * len(x_vals), missing=[True] * len(x_vals)))
                j = x_vals.index(e.overrides.get(x_key))
                ln["missing"][j] = e.status not in ("ok", "failed")  # incomplete / not started: no point
                ln["y"][j] = _gap(run) if (run is not None and e.status == "ok") else None
        # a line for an optimizer sweep takes the optimizer's color
        for gkey, ln in lines.items():
            for k, v in zip(others, gkey):
                if k in ("optimizer", "optimizer.name"):
                    ln["color_key"] = v
        cap = (f"Median final {'gap f - f*' if known_fmin else 'loss'} against {x_key}"
               + (f", one line per {', '.join(others)}" if others else "")
               + "; diverged trajectories count as +inf, so a job where more than half diverged has no point.")
        xs_disp = [_as_float(v) if numeric else v for v in x_vals]
        out.append(("report_sweep", cap, F.sweep_lines(x_key, xs_disp, numeric, list(lines.values()),
                                                       f"final {ylab} (median)", f"final loss vs {x_key}")))
        if len(keys) == 2:
            out += _heatmaps(entries, keys, multi, ylab, F)
    return out


def _ordered(values, numeric):
    vals = list(values)
    if numeric:
        return sorted(vals, key=lambda v: _as_float(v))
    return sorted(vals, key=lambda v: str(v))


def _heatmaps(entries, keys, multi, ylab, F):
    row_key, col_key = keys
    r_num = all(_as_float(e.overrides.get(row_key)) is not None for e in entries)
    c_num = all(_as_float(e.overrides.get(col_key)) is not None for e in entries)
    # the categorical key (an optimizer) goes on the rows, a numeric one (lr) on the columns
    if r_num and not c_num:
        row_key, col_key, r_num, c_num = col_key, row_key, c_num, r_num
    rows = _ordered({e.overrides.get(row_key) for e in entries}, r_num)
    cols = _ordered({e.overrides.get(col_key) for e in entries}, c_num)
    labels = [None]
    if multi:
        labels = []
        for e in entries:
            for r in e.runs:
                if r.label not in labels:
                    labels.append(r.label)
        labels = labels[:6]
    out = []
    for lab in labels:
        cells = np.full((len(rows), len(cols)), np.nan)
        status = np.full((len(rows), len(cols)), "—", dtype=object)
        notes = np.full((len(rows), len(cols)), "", dtype=object)
        for e in entries:
            i, j = rows.index(e.overrides.get(row_key)), cols.index(e.overrides.get(col_key))
            run = next((r for r in e.runs if lab is None or r.label == lab), None)
            v = _gap(run) if (run is not None and e.status == "ok") else None
            if v is not None:
                cells[i, j] = v
                frac = run.diverged_frac
                if frac:
                    notes[i, j] = f"{100 * frac:.0f}% div" if frac >= 0.005 else "<1% div"
            else:
                status[i, j] = {"failed": "failed", "not started": "not run", "incomplete": "incomplete"}.get(
                    e.status, ">50% div" if run is not None else "—")
        title = f"final {ylab} (median)" + (f": {lab}" if lab else "")
        stem = "report_heatmap" + (f"_{len(out)}" if lab else "")
        cap = (f"Median final {ylab} over {row_key} and {col_key}" + (f" for {lab}" if lab else "")
               + " (diverged trajectories count as +inf; the share that diverged is noted in the cell).")
        out.append((stem, cap, F.heatmap(row_key, rows, col_key, cols, cells, status, ylab, title, notes)))
    return out


# --- kernel loading: first job of each worker vs the later ones ---------------------------------

def load_summary_line(entries: list[Entry], order: dict) -> str | None:
    first, later, compiled = [], [], 0
    for e in entries:
        for j in e.jobs:
            compiled += j.compiles or 0
            if j.kernel_s is None or order.get(j.folder, (None, None))[1] is None:
                continue
            (first if order[j.folder][1] == 0 else later).append(j.kernel_s)
    if not first:
        return None
    workers = len({order[f][0] for f in order if order[f][1] is not None})
    text = (f"Kernel load/compile per job: the first job of each of {workers} worker process(es) "
            f"{np.median(first):.3f} s (median, max {max(first):.3f} s)")
    if later:
        text += f"; the {len(later)} later job(s) max {max(later):.3f} s (median {np.median(later):.3f} s)"
    text += (f"; {compiled} kernel(s) compiled, the rest loaded from the disk cache" if compiled
             else "; every kernel came from the disk cache (no compilation)")
    return text + "."


# --- build ------------------------------------------------------------------------------------------

def build_report(folder, *, figures: bool = True, job_figures: int = 50, write: bool = True) -> dict:
    """Write ``report.html`` and ``report.md`` into ``folder``; return their paths and the counts.

    ``figures``: draw the comparison figures; ``job_figures``: embed the
    figures of at most this many jobs in the HTML (the rest are linked).
    Raises :class:`OptlabError` when the folder holds no run.
    """
    from . import render
    root = Path(folder)
    if not root.is_dir():
        raise OptlabError(f"No such folder: {root}")
    earlier: list[str] = []
    kind, jobs = find_jobs(root, curves=figures, earlier=earlier)
    if not kind:
        raise OptlabError(f"No optlab run or multirun in {root} (no summary.json, metrics.json, .hydra/ "
                          "or multirun.yaml)")
    entries = make_entries(jobs)
    swept = swept_keys(entries) if kind == "multirun" else []
    figs = comparison_figures(entries, swept) if (figures and kind == "multirun") else []
    order = worker_order(entries)
    counts = {s: sum(1 for j in jobs if j.status == s) for s in ("ok", "failed", "incomplete", "not started")}
    ctx = render.Context(
        root=root, kind=kind, jobs=jobs, entries=entries, swept=swept, figures=figs, order=order,
        counts=counts, command=command_line(root, kind, jobs), config=base_config_text(root, kind, jobs),
        load_line=load_summary_line(entries, order), job_figures=job_figures,
        written=time.strftime("%Y-%m-%d %H:%M:%S"), earlier=earlier)
    html_text = render.html_report(ctx)
    md_text = render.markdown_report(ctx)
    paths = {"html": root / "report.html", "md": root / "report.md"}
    if write:
        for stem, _, png in figs:
            _write_bytes(root / f"{stem}.png", png)
        _write_bytes(paths["html"], html_text.encode("utf-8"))
        _write_bytes(paths["md"], md_text.encode("utf-8"))
    return {**paths, "counts": counts, "kind": kind, "jobs": len(jobs), "html_text": html_text,
            "md_text": md_text}


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def counts_line(result: dict) -> str:
    c = result["counts"]
    parts = [f"{v} {k}" for k, v in c.items() if v]
    return f"{result['jobs']} job(s): {', '.join(parts) or 'none'}"


# --- command line -----------------------------------------------------------------------------------

def main(argv=None) -> int:
    """``optlab report FOLDER`` / ``python -m optlab.report FOLDER``: (re)build the report."""
    p = argument_parser(prog="optlab report",
                                description="Build report.html and report.md for a run or multirun folder "
                                            "from its saved artifacts (also for an interrupted sweep).")
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="a run folder or a multirun folder")
    p.add_argument("--no-figures", action="store_true", help="skip the figures comparing the jobs")
    p.add_argument("--job-figures", type=int, default=50, metavar="N",
                   help="embed the figures of at most N jobs in the HTML, link the rest (default 50)")
    args = p.parse_args(argv)
    if args.job_figures < 0:  # report.job_figures=-1 on a run is refused in the same words
        p.error(f"Invalid --job-figures: {args.job_figures} (must be an integer >= 0)")
    status = 0
    for folder in args.folders:
        try:
            res = build_report(folder, figures=not args.no_figures, job_figures=args.job_figures)
        except OptlabError as exc:
            print(f"optlab: error: {exc}", file=sys.stderr)
            status = 2
            continue
        except OSError as exc:  # report.html a folder, a read-only folder, a full disk: one line
            print(f"optlab: error: cannot write the report of {folder}: {exc.strerror or exc}"
                  f"{f' ({exc.filename})' if exc.filename else ''}", file=sys.stderr)
            status = 1
            continue
        print(f"{res['kind']} {folder}: {counts_line(res)}")
        print(f"report: {res['html']}\n        {res['md']}")
    return status
