"""report.html and report.md from a :class:`Context`; plain string building.

Every string that comes from a config, an override, a label or an error
message passes through :func:`esc` (HTML) or :func:`md` (Markdown, which
renders inline HTML too). The HTML carries a Content-Security-Policy that
allows no script and no network, only inline styles and ``data:`` images.
"""
from __future__ import annotations

import base64
import html
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..theory import number_text, summary as theory_summary, tolerance_text

MAX_ERROR_CHARS = 600

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555;margin:.2rem 0}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.6rem;overflow-x:auto;font-size:.8rem;
white-space:pre-wrap;word-break:break-word}
table{border-collapse:collapse;font-size:.8rem;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .4rem;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.ok{color:#1a7f37;font-weight:600}.failed{color:#cf222e;font-weight:600}
.incomplete{color:#9a6700;font-weight:600}.not-started{color:#6e7781;font-weight:600}
.problem{color:#6e7781;font-size:.75rem;display:block}
td.verdict{font-weight:600;text-align:center}
code{font-size:.8rem}figure{display:inline-block;margin:.4rem;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.75rem;color:#555;max-width:700px}
details{margin:.4rem 0}summary{cursor:pointer}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif", ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg"}


@dataclass
class Context:
    root: Path
    kind: str
    jobs: list
    entries: list
    swept: list
    figures: list
    order: dict
    counts: dict
    command: str
    config: str | None
    load_line: str | None
    job_figures: int
    written: str
    earlier: list = field(default_factory=list)  # job folders of an earlier, longer sweep: left out


def esc(value) -> str:
    return html.escape(str(value), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def md(value) -> str:
    """Text for a Markdown table cell or line: HTML escaped, Markdown's specials backslashed."""
    text = html.escape(str(value), quote=False).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _num(v, spec=".3e"):
    if v is None:
        return "—"
    return format(v, spec)


def _secs(v):
    return "—" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _overrides_text(ctx: Context, entry) -> str:
    keys = ctx.swept if ctx.swept else list(entry.overrides)
    parts = [f"{k}={entry.overrides.get(k)}" for k in keys]
    if entry.shards:
        parts.append(f"({entry.shards[0]}/{entry.shards[1]} shards)")
    return ", ".join(parts) or "(defaults)"


#: a config that ran a study's quick mode: its study values above are the experiment file's, not what ran
_QUICK = re.compile(r"^\s*quick:\s*true\s*$", re.M)
QUICK_NOTE = ("study.quick=true: the study ran its quick mode, whose own settings (fewer objectives, steps "
              "and grid points) replace study values listed above; summary.json and metrics.json hold "
              "what ran.")


def _study_tables(ctx: Context) -> list:
    """(job, entry, text) for the jobs whose study has no per-trajectory rows (its row in the jobs
    table is dashes): the table the run printed (summary ``table``), up to its theory table (which
    has its own section)."""
    out = []
    for e in ctx.entries:
        if e.runs:
            continue
        for j in e.jobs:
            table = (j.summary or {}).get("table")
            if isinstance(table, str) and table.strip():
                out.append((j, e, table.split("\n\n")[0].rstrip()))
    return out


def _job_text(ctx: Context, entry, job) -> str:
    """A job's own label in a section of its own: a shard of a merged row is that shard ('shard 1
    of 3'), not the merged row's '(3/3 shards)' over 10 of its 30 trajectories."""
    if not entry.shards or job.shard is None:
        return _overrides_text(ctx, entry)
    keys = ctx.swept if ctx.swept else list(entry.overrides)
    parts = [f"{k}={entry.overrides.get(k)}" for k in keys if k not in ("engine.shard", "engine.num_shards")]
    parts.append(f"shard {job.shard[0]} of {job.shard[1]}")
    return ", ".join(parts)


def _status_class(status: str) -> str:
    return status.replace(" ", "-")


def _worker(ctx: Context, entry) -> str:
    items = []
    for j in entry.jobs:
        if j.folder in ctx.order:
            pid, rank = ctx.order[j.folder]
            items.append(f"{pid}" + ("" if rank is None else " (1st)" if rank == 0 else f" (#{rank + 1})"))
    return ", ".join(items) if items else "—"


def _error_text(entry) -> str | None:
    err = entry.error
    if err and len(err) > MAX_ERROR_CHARS:
        err = err[:MAX_ERROR_CHARS] + " …"
    return err


def table_rows(ctx: Context):
    """[(entry, run or None, first_of_entry, n_rows)] in table order."""
    rows = []
    for e in ctx.entries:
        runs = e.runs or [None]
        for i, run in enumerate(runs):
            rows.append((e, run, i == 0, len(runs)))
    return rows


def _run_cells(run, entry=None) -> list[tuple[str, bool]]:
    """(text, numeric) cells of one run: label, n, final, best, conv, div, running, steps->tol, engine s."""
    if run is None:
        title = next((j.summary.get("title") for j in (entry.jobs if entry else []) if j.summary
                      and isinstance(j.summary.get("title"), str)), None)
        return [(title or "—", False)] + [("—", True)] * 8
    oc = run.outcomes or {}
    return [(run.label, False), (str(run.n_traj) if run.n_traj is not None else "—", True),
            (_num(run.final_loss_median), True), (_num(run.best_loss_min), True),
            (str(oc.get("converged", "—")), True), (str(oc.get("diverged", "—")), True),
            (str(oc.get("running", "—")), True),
            # the kernel's seconds: the engine call's wall time held its load or compile too, which the
            # kernel load column already counts (0.440 shown for a run of 0.0005 s)
            (_num(run.steps_to_tol_median, ".0f"), True), (_secs(run.run_s if run.run_s is not None else run.wall_s), True)]


def _kernel(entry) -> str:
    """Kernel load/compile seconds of an entry's jobs, with the number of kernels compiled."""
    parts = []
    for j in entry.jobs:
        if j.kernel_s is None or j.status == "failed":
            continue
        n = j.compiles
        parts.append(f"{j.kernel_s:.3f}" + ("" if n is None else " (cached)" if n == 0 else f" ({n} compiled)"))
    if not parts:
        return "—"
    if len(parts) <= 3:
        return ", ".join(parts)
    return f"max {max(j.kernel_s for j in entry.jobs if j.kernel_s is not None):.3f}"


HEAD = ["job", "overrides", "status", "job wall s", "kernel load s", "run", "trajectories",
        "final loss (median)", "best loss (min)", "converged", "diverged", "running", "steps to tol (median)",
        "engine s", "worker pid"]


def html_report(ctx: Context) -> str:
    out = []
    w = out.append
    title = f"optlab report: {ctx.kind} {ctx.root.name or ctx.root}"
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    w(f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">")
    w("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    w(f"<title>{esc(title)}</title><style>{CSS}</style></head><body>")
    w(f"<h1>{esc(title)}</h1>")
    w(f"<p class=\"meta\">Folder <code>{esc(ctx.root)}</code> · written {esc(ctx.written)} by optlab "
      f"{esc(__version__)} · {_counts_text(ctx)}</p>")
    if ctx.load_line:
        w(f"<p class=\"meta\">{esc(ctx.load_line)}</p>")
    _html_theory(ctx, w)
    w("<h2>Command</h2>")
    w(f"<pre>{esc(ctx.command)}</pre>")
    if ctx.config:
        what = ("base config of the sweep, without its hydra section (each job's swept values are in the table)"
                if ctx.kind == "multirun" else "config.yaml")
        w(f"<h2>Config</h2><details{' open' if ctx.kind == 'run' else ''}><summary>{esc(what)}</summary>"
          f"<pre>{esc(ctx.config)}</pre></details>")
        if _QUICK.search(ctx.config):
            w(f"<p class=\"meta\">{esc(QUICK_NOTE)}</p>")
    w("<h2>Jobs</h2>")
    if ctx.swept:
        w(f"<p class=\"meta\">Swept: {esc(', '.join(ctx.swept))}. Engine and load seconds are per job "
          "(summed over shards); loss columns are medians/minimum over all trajectories of the job.</p>")
    # its own scroll box: at 800 px the table ran off the page (and numbers wrapped mid-value: nowrap)
    w("<div class=\"scroll\"><table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in HEAD) + "</tr></thead><tbody>")
    for e, run, first, n in table_rows(ctx):
        w("<tr>")
        if first:
            span = f" rowspan=\"{n}\"" if n > 1 else ""
            w(f"<td{span}>{esc(e.name)}</td><td{span}><code>{esc(_overrides_text(ctx, e))}</code></td>")
            notes = "".join(f"<span class=\"problem\">{esc(p)}</span>" for p in e.problems[:6])
            err = _error_text(e)
            if err:
                notes = f"<span class=\"problem\">{esc(err)}</span>" + notes
            w(f"<td{span}><span class=\"{_status_class(e.status)}\">{esc(e.status)}</span>{notes}</td>")
            w(f"<td{span} class=\"num\">{esc(_secs(e.wall_s))}</td><td{span} class=\"num\">{esc(_kernel(e))}</td>")
        for text, numeric in _run_cells(run, e):
            w(f"<td class=\"num\">{esc(text)}</td>" if numeric else f"<td>{esc(text)}</td>")
        if first:
            w(f"<td{span} class=\"num\">{esc(_worker(ctx, e))}</td>")
        w("</tr>")
    w("</tbody></table></div>")
    tables = _study_tables(ctx)
    if tables:
        w("<h2>" + ("The study's table" if ctx.kind == "run" else "The studies' tables") + "</h2>")
        for job, entry, text in tables:
            if ctx.kind != "run":
                w(f"<p>job {esc(job.name)}: <code>{esc(_job_text(ctx, entry, job))}</code></p>")
            w(f"<div class=\"scroll\"><pre>{esc(text)}</pre></div>")
    pages = _pages(ctx)
    if pages:
        w("<h2>Interactive pages</h2><ul>")
        for job, entry, path in pages:
            rel = _rel(ctx.root, path)
            who = "" if ctx.kind == "run" else f" (job {esc(job.name)}: <code>{esc(_overrides_text(ctx, entry))}</code>)"
            w(f"<li><a href=\"{esc(urllib.parse.quote(rel))}\">{esc(rel)}</a>{who} · {esc(_mb(path))}, "
              "self-contained: opens offline in a browser</li>")
        w("</ul>")

    bad = [e for e in ctx.entries if e.status != "ok"]
    if bad:
        w("<h2>Failed and incomplete jobs</h2><ul>")
        for e in bad:
            w(f"<li><b>job {esc(e.name)}</b> (<code>{esc(_overrides_text(ctx, e))}</code>): "
              f"<span class=\"{_status_class(e.status)}\">{esc(e.status)}</span>")
            if e.error:
                w(f"<pre>{esc(e.error)}</pre>")
            for p in e.problems:
                w(f"<span class=\"problem\">{esc(p)}</span>")
            tbs = [(j.error or {}).get("traceback") for j in e.jobs if j.error]
            for tb in filter(None, tbs):
                w(f"<details><summary>traceback</summary><pre>{esc(tb)}</pre></details>")
            w("</li>")
        w("</ul>")

    if ctx.figures:
        w("<h2>Comparison</h2>")
        for stem, caption, png in ctx.figures:
            w(f"<figure><img alt=\"{esc(stem)}\" src=\"data:image/png;base64,{base64.b64encode(png).decode()}\">"
              f"<figcaption>{esc(caption)}</figcaption></figure>")

    jobs_with_figs = [j for e in ctx.entries for j in e.jobs if j.figures]
    if jobs_with_figs:
        w("<h2>" + ("Figures" if ctx.kind == "run" else "Each job's figures") + "</h2>")
        for k, j in enumerate(jobs_with_figs):
            embed = k < ctx.job_figures
            entry = next(e for e in ctx.entries if j in e.jobs)
            if ctx.kind == "run":
                w("<div>")
            else:
                opened = " open" if len(jobs_with_figs) <= 4 else ""
                w(f"<details{opened}><summary>job {esc(j.name)}: <code>{esc(_job_text(ctx, entry, j))}</code>"
                  f" ({esc(j.status)})</summary>")
            for fig in j.figures:
                rel = _rel(ctx.root, fig)
                if embed:
                    data = _data_uri(fig)
                    if data:
                        w(f"<figure><img alt=\"{esc(fig.name)}\" src=\"{data}\"><figcaption>{esc(rel)}"
                          "</figcaption></figure>")
                        continue
                w(f"<p><a href=\"{esc(urllib.parse.quote(rel))}\">{esc(rel)}</a></p>")
            w("</div>" if ctx.kind == "run" else "</details>")
        if len(jobs_with_figs) > ctx.job_figures:
            w(f"<p class=\"meta\">Figures of the {len(jobs_with_figs) - ctx.job_figures} jobs beyond the first "
              f"{ctx.job_figures} are linked, not embedded (report.job_figures).</p>")
    w("</body></html>\n")
    return "\n".join(out)


# --- theory tables ----------------------------------------------------------------------------------

THEORY_HEAD = ["verdict", "case", "claim", "formula", "predicted", "measured", "tolerance", "source"]


def theory_jobs(ctx: Context) -> list:
    """(job, entry) of every job whose metrics.json has a theory table (or a malformed one)."""
    return [(j, e) for e in ctx.entries for j in e.jobs if j.theory or j.theory_problem]


def theory_cells(claim) -> list[str]:
    """The text of one claim's row, in the order of :data:`THEORY_HEAD`."""
    return ["PASS" if claim.passed else "FAIL", claim.where, claim.claim, claim.formula,
            number_text(claim.predicted), number_text(claim.measured), tolerance_text(claim), claim.source]


def _theory_line(job) -> str:
    line = theory_summary(job.theory) if job.theory else "no claims"
    return line + (f" ({job.theory_problem})" if job.theory_problem else "")


def _html_theory(ctx: Context, w) -> None:
    """The theory section: one line saying how many claims hold, then the table (each job's, in a sweep)."""
    jobs = theory_jobs(ctx)
    if not jobs:
        return
    w("<h2>Theory</h2>")
    multi = ctx.kind != "run"
    if multi:
        w("<ul>")
        for j, e in jobs:
            cls = "ok" if all(c.passed for c in j.theory) and not j.theory_problem else "failed"
            w(f"<li>job {esc(j.name)} (<code>{esc(_overrides_text(ctx, e))}</code>): "
              f"<span class=\"{cls}\">{esc(_theory_line(j))}</span></li>")
        w("</ul>")
    for j, e in jobs:
        cls = "ok" if all(c.passed for c in j.theory) and not j.theory_problem else "failed"
        if multi:
            opened = " open" if len(jobs) <= 4 else ""
            w(f"<details{opened}><summary>job {esc(j.name)}: <code>{esc(_overrides_text(ctx, e))}</code> · "
              f"<span class=\"{cls}\">{esc(_theory_line(j))}</span></summary>")
        else:
            w(f"<p class=\"meta\"><span class=\"{cls}\">{esc(_theory_line(j))}</span>: what theory predicts "
              "next to what the run measured, with the tolerance of each claim.</p>")
        if j.theory:
            w("<div class=\"scroll\"><table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in THEORY_HEAD)
              + "</tr></thead><tbody>")
            for c in j.theory:
                cells = theory_cells(c)
                verdict = f"<td class=\"verdict {'ok' if c.passed else 'failed'}\">{esc(cells[0])}</td>"
                w("<tr>" + verdict + "".join(f"<td>{esc(t)}</td>" for t in cells[1:4])
                  + "".join(f"<td class=\"num\">{esc(t)}</td>" for t in cells[4:7])
                  + f"<td>{esc(cells[7])}</td></tr>")
            w("</tbody></table></div>")
        if multi:
            w("</details>")


def _md_theory(ctx: Context, w) -> None:
    jobs = theory_jobs(ctx)
    if not jobs:
        return
    w("## Theory\n")
    multi = ctx.kind != "run"
    if multi:
        for j, e in jobs:
            w(f"- job {md(j.name)} ({md(_overrides_text(ctx, e))}): {md(_theory_line(j))}")
        w("")
    for j, e in jobs:
        if multi:
            w(f"### job {md(j.name)}: {md(_overrides_text(ctx, e))}\n")
        w(f"{md(_theory_line(j))}.\n")
        if j.theory:
            w("| " + " | ".join(THEORY_HEAD) + " |")
            w("|" + "|".join("---:" if 4 <= i <= 6 else "---" for i in range(len(THEORY_HEAD))) + "|")
            for c in j.theory:
                w("| " + " | ".join(md(t) for t in theory_cells(c)) + " |")
            w("")


def _pages(ctx: Context) -> list:
    """(job, entry, path) of every interactive page (explorer.html ...) the jobs wrote: linked, never embedded."""
    return [(j, e, p) for e in ctx.entries for j in e.jobs for p in getattr(j, "pages", [])]


def _mb(path: Path) -> str:
    try:
        return f"{path.stat().st_size / 1e6:.1f} MB"
    except OSError:
        return "size unknown"


def _counts_text(ctx: Context) -> str:
    c = ctx.counts
    total = sum(c.values())
    parts = [f"{v} {k}" for k, v in c.items() if v]
    text = f"{total} job{'s' if total != 1 else ''}: " + (", ".join(parts) if parts else "none")
    if ctx.earlier:
        text += (f" (job folder(s) {', '.join(ctx.earlier)} belong to an earlier sweep in this folder "
                 "and are left out)")
    return text


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _data_uri(path: Path) -> str | None:
    mime = MIME.get(path.suffix.lower())
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if mime is None or not data:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def markdown_report(ctx: Context) -> str:
    out = []
    w = out.append
    w(f"# optlab report: {md(ctx.kind)} {md(ctx.root.name or ctx.root)}\n")
    w(f"Folder `{md(ctx.root)}`, written {md(ctx.written)} by optlab {md(__version__)}. {md(_counts_text(ctx))}.\n")
    if ctx.load_line:
        w(md(ctx.load_line) + "\n")
    _md_theory(ctx, w)
    w("## Command\n")
    w(md_fence(ctx.command, "sh") + "\n")
    if ctx.config:
        w("## Config\n")
        if ctx.kind == "multirun":
            w("Base config of the sweep (without its hydra section):\n")
        w(md_fence(ctx.config, "yaml") + "\n")
        if _QUICK.search(ctx.config):
            w(md(QUICK_NOTE) + "\n")
    w("## Jobs\n")
    if ctx.swept:
        w(f"Swept: {md(', '.join(ctx.swept))}.\n")
    w("| " + " | ".join(HEAD) + " |")
    w("|" + "|".join("---:" if i in (3, 4) or 6 <= i < len(HEAD) else "---" for i in range(len(HEAD))) + "|")
    for e, run, first, n in table_rows(ctx):
        if first:
            status = e.status + (f": {_error_text(e)}" if e.error else "")
            if e.problems:
                status += " (" + "; ".join(e.problems[:4]) + ")"
            lead = [md(e.name), md(_overrides_text(ctx, e)), md(status), md(_secs(e.wall_s)), md(_kernel(e))]
            worker = md(_worker(ctx, e))
        else:
            lead, worker = ["", "", "", "", ""], ""
        w("| " + " | ".join(lead + [md(t) for t, _ in _run_cells(run, e)] + [worker]) + " |")
    w("")
    tables = _study_tables(ctx)
    if tables:
        w("## " + ("The study's table" if ctx.kind == "run" else "The studies' tables") + "\n")
        for job, entry, text in tables:
            if ctx.kind != "run":
                w(f"job {md(job.name)}: {md(_job_text(ctx, entry, job))}\n")
            w(md_fence(text, "text") + "\n")
    bad = [e for e in ctx.entries if e.status != "ok"]
    if bad:
        w("## Failed and incomplete jobs\n")
        for e in bad:
            line = f"- **job {md(e.name)}** ({md(_overrides_text(ctx, e))}): {md(e.status)}"
            if e.error:
                line += f": {md(_error_text(e))}"
            if e.problems:
                line += " — " + md("; ".join(e.problems))
            w(line)
        w("")
    pages = _pages(ctx)
    if pages:
        w("## Interactive pages\n")
        for job, entry, path in pages:
            rel = _rel(ctx.root, path)
            who = "" if ctx.kind == "run" else f" (job {md(job.name)}: {md(_overrides_text(ctx, entry))})"
            w(f"- [{md(rel)}]({urllib.parse.quote(rel)}){who}, {_mb(path)}, self-contained: opens offline in a browser")
        w("")
    if ctx.figures:
        w("## Comparison\n")
        for stem, caption, _ in ctx.figures:
            w(f"![{md(stem)}]({stem}.png)\n\n{md(caption)}\n")
    jobs_with_figs = [j for e in ctx.entries for j in e.jobs if j.figures]
    if jobs_with_figs:
        w("## " + ("Figures" if ctx.kind == "run" else "Each job's figures") + "\n")
        for j in jobs_with_figs:
            entry = next(e for e in ctx.entries if j in e.jobs)
            if ctx.kind != "run":
                w(f"### job {md(j.name)}: {md(_job_text(ctx, entry, j))}\n")
            w(" ".join(f"![{md(f.name)}]({urllib.parse.quote(_rel(ctx.root, f))})" for f in j.figures) + "\n")
    return "\n".join(out) + "\n"
