"""Read what runs left on disk, whatever state they were left in.

A run folder (one Hydra job) holds, when it finished: ``config.yaml``,
``summary.json``, ``metrics.json``, the study's npz files and figures, and
``manifest.json`` listing them (:mod:`optlab.manifest`: each run's label and
file, each file's kind, size and array shapes; the files of the runs are read
from it, never guessed from labels); ``error.json`` when it failed;
``job.json`` (worker pid and times, from the report callback) and Hydra's
``.hydra/`` when it started. A multirun folder
holds ``multirun.yaml`` and one such folder per job (``0``, ``1``, ...).

Nothing here raises for a damaged folder: every problem becomes a line in
``Job.problems`` and the job's ``status`` says what it amounts to:

``ok``           summary.json, metrics.json and every file of the manifest read back as written
``failed``       error.json (newer than any summary.json): the job raised
``incomplete``   started, but some result is missing, truncated or unreadable
``not started``  a job of the sweep (from multirun.yaml) without a folder

No Hydra at import time; :func:`expand_sweep` imports Hydra's override parser
lazily (it exists wherever a multirun was made).
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import manifest

FIGURE_SUFFIXES = (".png", ".svg", ".gif", ".jpg", ".jpeg")
REPORT_PREFIX = "report"  # report.html, report.md, report_*.png: ours, never a job's figure
CURVE_ROWS = 4096  # at most this many trajectories per run enter a median loss curve
NPZ_KEYS = ("steps", "loss", "loss_final", "best_loss", "tol_step", "diverged_step", "outcome", "meta")


@dataclass
class RunData:
    """One optimizer run of a job (a job of the ``compare`` study has several)."""

    label: str
    optimizer: str | None = None
    n_traj: int | None = None
    final_loss_median: float | None = None
    best_loss_min: float | None = None
    outcomes: dict | None = None
    steps_to_tol_median: float | None = None
    wall_s: float | None = None
    load_s: float | None = None
    run_s: float | None = None      # the kernel's own seconds (wall_s: the engine call, its load included)
    f_target: float | None = None
    npz: Path | None = None
    # per-trajectory arrays from the npz (None when it could not be read)
    loss_final: np.ndarray | None = None
    best_loss: np.ndarray | None = None
    tol_step: np.ndarray | None = None
    outcome: np.ndarray | None = None
    steps: np.ndarray | None = None
    curve_rows: np.ndarray | None = None  # (<= CURVE_ROWS, n_records) loss - f*, NaN -> inf
    n_curve_total: int = 0

    @property
    def final_gap_all(self):
        """Median over *all* trajectories of the final loss (minus f* when known), a diverged one
        counting as +inf: None when more than half diverged. (The table's ``final_loss_median``,
        like the printed table, is over the finite ones only.)"""
        if self.loss_final is None or self.loss_final.size == 0:
            return None
        lf = np.where(np.isfinite(self.loss_final), self.loss_final, np.inf)
        if self.outcome is not None and self.outcome.shape == lf.shape:
            lf = np.where(self.outcome == "diverged", np.inf, lf)
        med = float(np.median(lf))
        if not np.isfinite(med):
            return None
        return med - (self.f_target or 0.0)

    @property
    def diverged_frac(self):
        if self.outcome is not None and self.outcome.size:
            return float(np.mean(self.outcome == "diverged"))
        if self.outcomes and self.n_traj:
            return self.outcomes.get("diverged", 0) / self.n_traj
        return None


@dataclass
class Job:
    folder: Path
    name: str
    num: int | None = None
    status: str = "incomplete"
    overrides: list = field(default_factory=list)
    config_text: str | None = None
    summary: dict | None = None
    error: dict | None = None
    problems: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    pages: list = field(default_factory=list)  # interactive pages the run wrote (manifest kind "page"): linked
    info: dict | None = None  # job.json: pid, host, started, ended
    notes: list = field(default_factory=list)  # remarks that do not make the job incomplete
    manifest: dict | None = None  # manifest.json (None: none, or a folder from before manifests)
    shard: tuple | None = None  # (index, count) from engine.shard / engine.num_shards
    theory: list = field(default_factory=list)  # optlab.theory.Claim rows of a theory study (metrics.json)
    theory_problem: str | None = None  # malformed rows of the theory table, in one line

    @property
    def wall_s(self):
        if self.summary and isinstance(self.summary.get("wall_s"), (int, float)):
            return float(self.summary["wall_s"])
        return None

    @property
    def kernel_s(self):
        """Seconds loading or compiling kernels: Numba's compiler-lock time (job.json) plus the
        engine's module import time (summary ``load_s``); None when neither was recorded."""
        lock = (self.info or {}).get("numba_lock_s")
        vals = [r.load_s for r in self.runs if r.load_s is not None]
        pre = self._precompiled.get("seconds")
        if lock is None and not vals and pre is None:
            return None
        return float(lock or 0.0) + float(sum(vals)) + float(pre or 0.0)

    @property
    def _precompiled(self) -> dict:
        """The study's up-front compile (summary ``precompiled``: in worker processes, so not in
        the job's own compile clock)."""
        pre = (self.summary or {}).get("precompiled")
        return pre if isinstance(pre, dict) else {}

    @property
    def compiles(self):
        """Kernels Numba compiled during the job (0: all from the cache); None when unknown."""
        n = (self.info or {}).get("numba_compiles")
        pre = self._precompiled.get("kernels")
        if not isinstance(n, int) and not isinstance(pre, int):
            return None
        return (n if isinstance(n, int) else 0) + (pre if isinstance(pre, int) else 0)


# --- small readers -------------------------------------------------------------------------------

def read_json(path: Path):
    """(value, problem): the parsed JSON, or None and a one-line reason."""
    if not path.is_file():
        return None, f"{path.name} missing"
    try:
        return json.loads(path.read_text()), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path.name} unreadable: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"{path.name} truncated or corrupt ({exc.msg}, char {exc.pos})"


QUICK_JSON_BYTES = 1 << 20  # metrics.json above this is checked by its ends, not parsed (see read_metrics)


def read_metrics(path: Path, need_content: bool):
    """(metrics or {}, problem). A large metrics.json (10,000 trajectories: megabytes, a second to
    parse) that the report does not need is only checked to be whole: the studies write it
    atomically, so a damaged file is a cut one, and a cut JSON document does not end in ``}``."""
    try:
        size = path.stat().st_size
    except OSError:
        return None, f"{path.name} missing"
    if need_content or size <= QUICK_JSON_BYTES:
        return read_json(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
            fh.seek(max(0, size - 64))
            tail = fh.read().rstrip()
    except OSError as exc:
        return None, f"{path.name} unreadable: {exc}"
    if head.startswith(b"{") and tail.endswith(b"}"):
        return {}, None
    return None, f"{path.name} truncated or corrupt (does not end the JSON document)"


def read_theory(metrics, summary) -> tuple[list, str | None]:
    """(claims, problem): the theory table of a run (``"theory"`` in metrics.json, else in
    summary.json) as :class:`optlab.theory.Claim` objects; a malformed row is left out and named."""
    from ..theory import from_dict
    rows = None
    for doc in (metrics, summary):
        if isinstance(doc, dict) and isinstance(doc.get("theory"), list):
            rows = doc["theory"]
            break
    if rows is None:
        return [], None
    claims, bad = [], 0
    for row in rows:
        try:
            claims.append(from_dict(row))
        except (KeyError, TypeError, ValueError):
            bad += 1
    return claims, (f"{bad} malformed row(s) of the theory table left out" if bad else None)


def read_yaml(path: Path):
    if not path.is_file():
        return None
    try:
        import yaml
        return yaml.safe_load(path.read_text())
    except Exception:  # noqa: BLE001 - a damaged file is reported as missing information
        return None


def read_npz(path: Path, keys=NPZ_KEYS) -> tuple[dict | None, str | None]:
    """The arrays ``keys`` of an npz, or None and why (a truncated file fails here, never later)."""
    try:
        out = {}
        with np.load(path, allow_pickle=False) as z:
            for k in keys:
                if k in z.files:
                    out[k] = z[k]
        missing = [k for k in ("loss_final", "meta") if k not in out]
        if missing:
            return None, f"{path.name} lacks {', '.join(missing)}"
        return out, None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        return None, f"{path.name} truncated or corrupt ({type(exc).__name__}: {exc})"


def slug(label: str) -> str:
    """The file-name form of a run label (as the studies name their npz files)."""
    from ..studies._common import slug as _slug
    return _slug(label)


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def parse_override(text: str) -> tuple[str, str | None]:
    """``'+engine.shard=1'`` -> ``('engine.shard', '1')``; ``'~key'`` -> ``('key', None)``."""
    key, sep, value = str(text).partition("=")
    key = key.lstrip("+~")
    return key, (value if sep else None)


# --- one job ---------------------------------------------------------------------------------------

def _is_job_folder(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".") and any(
        (path / n).exists() for n in (".hydra", "summary.json", "metrics.json", "error.json", "config.yaml",
                                      "job.json"))


def load_job(folder: Path, name: str | None = None, curves: bool = True) -> Job:
    """Everything a report needs about one run folder; never raises for a damaged folder.

    ``curves=False`` skips the recorded losses (the largest arrays) that only the loss-curve
    figure needs."""
    folder = Path(folder)
    job = Job(folder=folder, name=name if name is not None else folder.name)
    job.num = int(folder.name) if folder.name.isdigit() else None
    overrides = read_yaml(folder / ".hydra" / "overrides.yaml")
    job.overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    for cand in (folder / "config.yaml", folder / ".hydra" / "config.yaml"):
        if cand.is_file():
            try:
                job.config_text = cand.read_text()
            except (OSError, UnicodeDecodeError):
                pass
            break
    info, _ = read_json(folder / "job.json")
    job.info = info if isinstance(info, dict) else None
    job.manifest = manifest.read(folder)
    if job.manifest is not None and isinstance(job.manifest.get("overrides"), list):
        # the command that made these files: .hydra/ is rewritten by a later attempt in this folder
        # even when it is interrupted before it writes anything
        job.overrides = [str(o) for o in job.manifest["overrides"]]
    job.shard = _shard_of(job)
    if job.manifest is not None:  # the run's own figures, not those an earlier run left
        listed = {str(f.get("name")) for f in job.manifest["files"] if isinstance(f, dict)
                  and f.get("kind") == "figure"}
        job.figures = sorted(folder / n for n in listed if "/" not in n and (folder / n).is_file())
        pages = {str(f.get("name")) for f in job.manifest["files"] if isinstance(f, dict) and f.get("kind") == "page"}
        job.pages = sorted(folder / n for n in pages if "/" not in n and (folder / n).is_file())
    else:
        job.figures = sorted(p for p in folder.iterdir() if p.suffix.lower() in FIGURE_SUFFIXES
                             and p.is_file() and not p.name.startswith((REPORT_PREFIX, ".")))

    summary, s_problem = read_json(folder / "summary.json")
    has_rows = isinstance(summary, dict) and isinstance(summary.get("runs"), list)
    metrics, m_problem = read_metrics(folder / "metrics.json", need_content=not has_rows)
    error, e_problem = (read_json(folder / "error.json") if (folder / "error.json").exists() else (None, None))
    job.summary = summary if isinstance(summary, dict) else None

    # an error.json older than a complete summary is from an earlier attempt (resume): stale
    failed = (folder / "error.json").exists()
    stale = False
    if failed and job.summary is not None and metrics is not None:
        try:
            stale = (folder / "error.json").stat().st_mtime < (folder / "summary.json").stat().st_mtime
        except OSError:
            pass
        failed = not stale
    if failed:
        job.status = "failed"
        job.error = error if isinstance(error, dict) else {"error": e_problem or "error.json unreadable",
                                                          "type": "unknown"}
        # the numbers and the manifest's command in a failed job's folder are an earlier attempt's (a
        # sweep rerun into its folder with a bad value showed the old lr and loss beside the new
        # error): the row shows the failed attempt's command (Hydra's) and no numbers
        job.overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
        job.summary, metrics = None, None
    else:
        job.problems += [p for p in (s_problem, m_problem) if p]
    job.runs = [] if failed else _load_runs(job, metrics if isinstance(metrics, dict) else None, curves)
    job.theory, job.theory_problem = read_theory(metrics, job.summary)
    if job.manifest is not None and not failed:
        run_files = {str(r.get("file")) for r in job.manifest.get("runs", []) if isinstance(r, dict)
                     and r.get("kind") == "trajectories"}
        job.problems += manifest.check(folder, job.manifest, full=False,
                                       skip={"summary.json", "metrics.json"} | run_files)
    if not failed:
        if job.summary is None and metrics is None and not job.runs and not job.problems:
            job.problems.append("no results written")
        job.status = "incomplete" if job.problems else "ok"
    if stale:
        job.notes.append("error.json is from an earlier attempt; the job has since completed")
    return job


def _shard_of(job: Job):
    idx = cnt = None
    for o in job.overrides:
        key, val = parse_override(o)
        if key == "engine.shard":
            idx = val
        elif key == "engine.num_shards":
            cnt = val
    if idx is None and job.config_text:
        m = re.search(r"^\s+shard:\s*(\d+)\s*$", job.config_text, re.M)
        n = re.search(r"^\s+num_shards:\s*(\d+)\s*$", job.config_text, re.M)
        idx, cnt = (m.group(1) if m else None), (n.group(1) if n else cnt)
    try:
        idx = int(idx) if idx is not None else None
        cnt = int(cnt) if cnt is not None else None
    except ValueError:
        return None
    if idx is None or cnt is None or cnt < 2:
        return None
    return idx, cnt


def _run_of_row(label: str, row: dict) -> RunData:
    return RunData(label=label, optimizer=row.get("optimizer"), n_traj=row.get("n_traj"),
                   final_loss_median=_num(row.get("final_loss_median")),
                   best_loss_min=_num(row.get("best_loss_min")),
                   outcomes=row.get("outcomes") if isinstance(row.get("outcomes"), dict) else None,
                   steps_to_tol_median=_num(row.get("steps_to_tol_median")),
                   wall_s=_num(row.get("wall_s")), load_s=_num(row.get("load_s")), run_s=_num(row.get("run_s")))


def _manifest_runs(job: Job, rows: list, curves: bool) -> list[RunData]:
    """The runs the manifest lists with a trajectories file of their own, numbers from their summary row
    (same label) or, without one (an interrupted run), from their arrays."""
    by_label = {str(r["label"]): r for r in rows if "label" in r}
    files = {str(f.get("name")): f for f in job.manifest["files"] if isinstance(f, dict)}
    runs = []
    for entry in job.manifest.get("runs", []):
        if not isinstance(entry, dict) or entry.get("kind") != "trajectories":
            continue  # a lecture study's runs live in its arrays file; the report shows its figures
        label, name = str(entry.get("label", "?")), str(entry.get("file", ""))
        row = by_label.get(label)
        run = _run_of_row(label, row or {})
        problem = (manifest.check_file(job.folder, files[name], full=False) if name in files
                   else f"{name or 'a run file'} is not among the files of manifest.json")
        if problem:
            run.npz = job.folder / name if name else None
            if job.status != "failed":
                job.problems.append(problem)
        else:
            _attach_npz(job, run, job.folder / name, curves)
            if row is None and run.loss_final is not None:
                run.n_traj = int(run.loss_final.shape[0])
                _stats_from_arrays(run)
        runs.append(run)
    return runs


def _load_runs(job: Job, metrics: dict | None, curves: bool = True) -> list[RunData]:
    rows = []
    if job.summary and isinstance(job.summary.get("runs"), list):
        rows = [r for r in job.summary["runs"] if isinstance(r, dict)]
    elif metrics and isinstance(metrics.get("runs"), list):
        rows = [{k: v for k, v in r.items() if k != "trajectories"} for r in metrics["runs"] if isinstance(r, dict)]
    if job.manifest is not None:
        return _manifest_runs(job, rows, curves)
    # a folder from before manifests: file names as those versions derived them from the labels
    rows = [r for r in rows if "label" in r]  # a lecture study's rows (``run``) have no trajectories file
    runs = []
    npz_files = sorted(job.folder.glob("trajectories_*.npz"))
    seen = set()
    for row in rows:
        label = str(row.get("label", "?"))
        run = _run_of_row(label, row)
        path = job.folder / f"trajectories_{slug(label)}.npz"
        if path.is_file():
            seen.add(path)
            _attach_npz(job, run, path, curves)
        elif job.status != "failed":
            job.problems.append(f"{path.name} missing")
        runs.append(run)
    for path in npz_files:  # npz without a summary row (the job died before writing its summary)
        if path in seen or job.summary is not None:
            continue
        run = RunData(label=path.stem[len("trajectories_"):])
        _attach_npz(job, run, path, curves)
        if run.loss_final is not None:
            run.n_traj = int(run.loss_final.shape[0])
            _stats_from_arrays(run)
        runs.append(run)
    return runs


def _attach_npz(job: Job, run: RunData, path: Path, curves: bool = True) -> None:
    arrays, problem = read_npz(path, NPZ_KEYS if curves else tuple(k for k in NPZ_KEYS if k != "loss"))
    run.npz = path
    if problem:
        job.problems.append(problem)
        return
    try:
        meta = json.loads(str(arrays["meta"]))
        f_target = (meta.get("options") or {}).get("f_target")
        run.f_target = float(f_target) if isinstance(f_target, (int, float)) else None
        run.optimizer = run.optimizer or meta.get("optimizer")
    except (ValueError, TypeError, AttributeError):
        pass
    run.loss_final = np.asarray(arrays["loss_final"], dtype=float)
    run.best_loss = np.asarray(arrays["best_loss"], dtype=float) if "best_loss" in arrays else None
    run.tol_step = np.asarray(arrays["tol_step"]) if "tol_step" in arrays else None
    run.outcome = np.asarray(arrays["outcome"]).astype(str) if "outcome" in arrays else None
    if "loss" in arrays and "steps" in arrays and arrays["loss"].ndim == 2:
        loss = np.asarray(arrays["loss"], dtype=float)
        n = loss.shape[0]
        idx = np.unique(np.linspace(0, n - 1, min(n, CURVE_ROWS)).round().astype(int)) if n else np.arange(0)
        rows = loss[idx] - (run.f_target or 0.0)
        run.curve_rows = np.where(np.isnan(rows), np.inf, rows)
        run.n_curve_total = n
        run.steps = np.asarray(arrays["steps"])


def _stats_from_arrays(run: RunData) -> None:
    """Table numbers from per-trajectory arrays, as the studies compute them (studies._common.run_summary)."""
    lf = run.loss_final
    finite = lf[np.isfinite(lf)]
    run.final_loss_median = float(np.median(finite)) if finite.size else None
    if run.best_loss is not None and np.isfinite(run.best_loss).any():
        run.best_loss_min = float(np.nanmin(np.where(np.isfinite(run.best_loss), run.best_loss, np.nan)))
    if run.tol_step is not None:
        ends = (run.outcome == "converged") if run.outcome is not None else True
        hit = run.tol_step[(run.tol_step >= 0) & ends]
        run.steps_to_tol_median = float(np.median(hit)) if hit.size else None
    if run.outcome is not None:
        run.outcomes = {k: int(np.sum(run.outcome == k)) for k in ("converged", "diverged", "running")}


def merge_runs(parts: list[RunData]) -> RunData:
    """One run from the shards of a run (same label), trajectories concatenated in shard order."""
    first = parts[0]
    out = RunData(label=first.label, optimizer=first.optimizer, f_target=first.f_target)
    if all(p.loss_final is not None for p in parts):
        out.loss_final = np.concatenate([p.loss_final for p in parts])
        out.best_loss = (np.concatenate([p.best_loss for p in parts])
                         if all(p.best_loss is not None for p in parts) else None)
        out.tol_step = (np.concatenate([p.tol_step for p in parts])
                        if all(p.tol_step is not None for p in parts) else None)
        out.outcome = (np.concatenate([p.outcome for p in parts])
                       if all(p.outcome is not None for p in parts) else None)
        out.n_traj = int(out.loss_final.shape[0])
        _stats_from_arrays(out)
    walls = [p.wall_s for p in parts if p.wall_s is not None]
    out.wall_s = float(sum(walls)) if walls else None
    loads = [p.load_s for p in parts if p.load_s is not None]
    out.load_s = float(max(loads)) if loads else None
    runs = [p.run_s for p in parts if p.run_s is not None]
    out.run_s = float(sum(runs)) if len(runs) == len(parts) else None
    curves = [p for p in parts if p.curve_rows is not None]
    if curves and all(np.array_equal(c.steps, curves[0].steps) for c in curves):
        out.steps = curves[0].steps
        out.curve_rows = np.concatenate([c.curve_rows for c in curves])
        out.n_curve_total = sum(c.n_curve_total for c in curves)
    return out


def median_curve(run: RunData):
    """(steps, median of loss - f* over trajectories); inf where more than half have diverged."""
    if run.curve_rows is None or run.curve_rows.size == 0:
        return None
    return run.steps, np.median(run.curve_rows, axis=0)


# --- folders ------------------------------------------------------------------------------------------

def is_complete(folder, verify: bool = True) -> bool:
    """What a resumed sweep skips: a complete manifest.json, every file it lists present with its
    recorded size, each npz loaded back with the recorded array shapes (``verify=False``: shapes from
    the npz headers only), and summary.json and metrics.json parseable."""
    folder = Path(folder)
    if manifest.check(folder, full=verify):
        return False
    for name in ("summary.json", "metrics.json"):
        value, problem = read_json(folder / name)
        if problem or not isinstance(value, dict):
            return False
    return True


def find_jobs(root: Path, curves: bool = True, earlier: list | None = None) -> tuple[str, list[Job]]:
    """("run" or "multirun", jobs) for a folder; ("", []) when it holds neither.

    A multirun's job folders numbered past the jobs of its multirun.yaml belong to an earlier,
    longer sweep in the same folder (resumed with a changed sweep): they are left out, and their
    names appended to ``earlier`` when given."""
    root = Path(root)
    if (root / "multirun.yaml").is_file() or not _is_job_folder(root):
        subs = [p for p in root.iterdir() if _is_job_folder(p)] if root.is_dir() else []
        if subs or (root / "multirun.yaml").is_file():
            expected = _expected_jobs(root)
            if expected is not None:
                old = [p for p in subs if p.name.isdigit() and int(p.name) >= len(expected)]
                if earlier is not None:
                    earlier.extend(sorted((p.name for p in old), key=int))
                subs = [p for p in subs if p not in old]
            subs.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
            jobs = [load_job(p, p.name, curves) for p in subs]
            jobs += _not_started(root, jobs)
            jobs.sort(key=lambda j: (j.num is None, j.num if j.num is not None else 0, j.name))
            return "multirun", jobs
        return "", []
    return "run", [load_job(root, ".", curves)]


def _expected_jobs(root: Path):
    """The job overrides of the sweep in ``root/multirun.yaml``, in job order; None when unknown."""
    cfg = read_yaml(root / "multirun.yaml")
    return expand_sweep(cfg.get("hydra") or {}) if isinstance(cfg, dict) else None


def _not_started(root: Path, jobs: list[Job]) -> list[Job]:
    """Jobs of the sweep in multirun.yaml with no folder (an interrupted multirun)."""
    expected = _expected_jobs(root)
    if expected is None:
        return []
    have = {j.num for j in jobs if j.num is not None}
    out = []
    for num, overrides in enumerate(expected):
        if num not in have:
            job = Job(folder=root / str(num), name=str(num), num=num, status="not started",
                      overrides=list(overrides), problems=["no folder: the job never started"])
            job.shard = _shard_of(job)
            out.append(job)
    return out


def expand_sweep(hydra_cfg: dict):
    """The job overrides of a basic-sweeper multirun, in job order; None when unknown.

    ``hydra_cfg`` is the ``hydra`` section (a plain dict, unresolved) of the
    multirun's config. Only Hydra's BasicSweeper with job-numbered subfolders
    numbers jobs predictably; for any other sweeper this returns None.
    """
    try:
        sweeper = hydra_cfg.get("sweeper") or {}
        if "BasicSweeper" not in str(sweeper.get("_target_", "")):
            return None
        if str((hydra_cfg.get("sweep") or {}).get("subdir", "")).replace(" ", "") != "${hydra.job.num}":
            return None
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser
        args = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
        args += list((hydra_cfg.get("overrides") or {}).get("task") or [])
        parsed = OverridesParser.create().parse_overrides(args)
        batches = BasicSweeper.split_arguments(parsed, None)
        return [list(job) for batch in batches for job in batch]
    except Exception:  # noqa: BLE001 - an unknown sweep is reported without a job count
        return None


def _claimed_dir(override: str) -> bool:
    """True for the run folder the CLI picks when the command names none
    (``optlab.cli._claim_output_dir``: ``<base>/<stamp>`` or ``<base>/<stamp>_<k>``): not typed, so
    not part of the command shown."""
    import time

    from ..cli import RUN_DIRS, STAMP
    key, _, value = override.partition("=")
    base = RUN_DIRS.get(key)
    if base is None or not value.startswith(base + "/"):
        return False
    name = value[len(base) + 1:]
    head, _, k = name.rpartition("_")
    stamp = head if k.isdigit() and head.count("_") == STAMP.count("_") else name
    try:
        time.strptime(stamp, STAMP)
    except ValueError:
        return False
    return True


def command_line(root: Path, kind: str, jobs: list[Job]) -> str:
    """The command that made the folder, rebuilt from Hydra's saved overrides."""
    import shlex
    if kind == "multirun":
        cfg = read_yaml(root / "multirun.yaml")
        hydra = (cfg or {}).get("hydra") or {}
        flag = ["-m"]
    else:
        cfg = read_yaml(root / ".hydra" / "hydra.yaml")
        hydra = (cfg or {}).get("hydra") or {}
        flag = []
    ov = hydra.get("overrides") or {}
    h = [o for o in (ov.get("hydra") or []) if not str(o).startswith("hydra.mode=")
         and not _claimed_dir(str(o))]
    t = list(ov.get("task") or [])
    if not (h or t or cfg) or (kind != "multirun" and jobs and jobs[0].manifest is not None
                               and isinstance(jobs[0].manifest.get("overrides"), list)):
        t = jobs[0].overrides if jobs else []  # the manifest's: the command of the files shown
    return " ".join(["python -m optlab", *flag, *(shlex.quote(str(a)) for a in [*h, *t])])


def _read_keys_only(job: Job) -> str:
    """A run's config as the report shows it: the sections and keys its study reads (a lecture study
    run from the default config listed optimizer adam, lr 0.001, objective rosenbrock, steps 500, none
    of which it uses); the run's config.yaml keeps them all."""
    import yaml
    text = job.config_text
    name = (job.manifest or {}).get("study")
    try:
        from .. import studies
        reads = getattr(studies.get(str(name)), "reads", None) if name else None
        cfg = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - an unknown study, an unreadable config: shown whole
        return text
    if not reads or not isinstance(cfg, dict):
        return text
    out, left = {}, []
    for key, value in cfg.items():
        keep = reads.get(key, "*" if key in ("study", "report") or not isinstance(value, dict) else ())
        if keep == "*":
            out[key] = value
        elif keep and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k in keep or k == "name"}
            left += [f"{key}.{k}" for k in value if k not in out[key]]
        else:
            left.append(key)
    if not left:
        return text
    return (yaml.safe_dump(out, sort_keys=False, default_flow_style=False, width=100)
            + f"# not read by study '{name}', left out here (config.yaml has them): {', '.join(left)}\n")


def base_config_text(root: Path, kind: str, jobs: list[Job], max_lines: int = 400) -> str | None:
    """The config shown in the header: the run's, or the multirun's without its ``hydra`` section."""
    text = None
    if kind == "multirun":
        cfg = read_yaml(root / "multirun.yaml")
        if isinstance(cfg, dict):
            import yaml
            cfg.pop("hydra", None)
            text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=100)
    if text is None:
        job = next((j for j in jobs if j.config_text), None)
        text = None if job is None else _read_keys_only(job)
    if text is None:
        return None
    lines = text.splitlines()
    if len(lines) > max_lines:
        text = "\n".join(lines[:max_lines]) + f"\n# ... {len(lines) - max_lines} more lines (see config.yaml)"
    return text
