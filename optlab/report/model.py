"""The data model of a report: jobs on disk -> entries (rows) and what tells them apart.

* :class:`Entry` -- one row group: a job, or the shards of one sharded job
  (``engine.shard``) merged into one (:func:`make_entries`);
* :func:`swept_keys` -- the overrides whose value differs between entries
  (the columns and the axes of the comparison figures);
* :func:`worker_order` -- which worker process ran which job, in what order
  (a worker's first job loads its kernels, the later ones should not).

Reading the artifacts is :mod:`optlab.report.artifacts`' job; turning entries
into figures and files is :mod:`optlab.report.build`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .artifacts import Job, merge_runs, parse_override

IGNORED_KEYS = ("engine.shard", "hydra.job.num")


@dataclass
class Entry:
    """A row group of the report: one job, or the shards of one sharded job."""

    jobs: list
    overrides: dict
    status: str = "ok"
    runs: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    shards: tuple | None = None  # (present, expected)

    @property
    def name(self) -> str:
        nums = [j.name for j in self.jobs]
        if len(nums) == 1:
            return nums[0]
        return f"{nums[0]}–{nums[-1]}"

    @property
    def wall_s(self):
        vals = [j.wall_s for j in self.jobs if j.wall_s is not None]
        return float(sum(vals)) if vals else None

    @property
    def error(self) -> str | None:
        msgs = [f"{(j.error or {}).get('type', 'Error')}: {(j.error or {}).get('error', '')}"
                for j in self.jobs if j.status == "failed"]
        return "; ".join(msgs) if msgs else None


def _override_dict(job: Job) -> dict:
    out = {}
    for o in job.overrides:
        key, value = parse_override(o)
        # report.* (report.resume on the resumed jobs only, report.progress ...) changes no result:
        # taken as swept, it split a resumed sweep's series and its sharded jobs in two
        if key in IGNORED_KEYS or key.startswith(("hydra.", "report.")):
            continue
        out[key] = value
    return out


def make_entries(jobs: list[Job]) -> list[Entry]:
    """Jobs -> entries, merging the shards of a sharded job (same overrides but engine.shard)."""
    entries: list[Entry] = []
    groups: dict = {}
    for job in jobs:
        ov = _override_dict(job)
        if job.shard is None:
            entries.append(_entry([job], ov))
            continue
        key = tuple(sorted((k, str(v)) for k, v in ov.items()))
        if key not in groups:
            groups[key] = []
            entries.append(Entry(jobs=groups[key], overrides=ov))  # placeholder, filled below
        groups[key].append(job)
    out = []
    for e in entries:
        if len(e.jobs) == 1 and e.jobs[0].shard is None:
            out.append(e)
        else:
            out.append(_entry(sorted(e.jobs, key=lambda j: j.shard[0]), e.overrides))
    return out


def _entry(jobs: list[Job], overrides: dict) -> Entry:
    e = Entry(jobs=jobs, overrides=overrides)
    if len(jobs) == 1 and jobs[0].shard is None:
        job = jobs[0]
        e.status, e.runs, e.problems = job.status, list(job.runs), list(job.problems)
        return e
    count = max(j.shard[1] for j in jobs)
    present = {j.shard[0] for j in jobs if j.status == "ok"}
    e.shards = (len(present), count)
    for j in jobs:
        e.problems += [f"shard {j.shard[0]}: {p}" for p in j.problems]
    missing = sorted(set(range(count)) - {j.shard[0] for j in jobs})
    if missing:
        e.problems.append(f"shards {', '.join(map(str, missing))} of {count} have no folder")
    statuses = {j.status for j in jobs}
    if "failed" in statuses:
        e.status = "failed"
    elif statuses == {"not started"}:
        e.status = "not started"
    elif statuses == {"ok"} and not missing:
        e.status = "ok"
    else:
        e.status = "incomplete"
    ok_jobs = [j for j in jobs if j.status == "ok"]
    if ok_jobs:
        n_runs = min(len(j.runs) for j in ok_jobs)
        e.runs = [merge_runs([j.runs[i] for j in ok_jobs]) for i in range(n_runs)]
        if e.status != "ok":
            e.problems.append(f"numbers from {len(ok_jobs)} of {count} shards")
    return e


def swept_keys(entries: list[Entry]) -> list[str]:
    """Override keys whose value differs between entries, in first-seen order."""
    keys: list[str] = []
    for e in entries:
        for k in e.overrides:
            if k not in keys:
                keys.append(k)
    if len(entries) < 2:
        return []
    return [k for k in keys if len({str(e.overrides.get(k)) for e in entries}) > 1]


# --- which worker ran which job -------------------------------------------------------------------

def worker_order(entries: list[Entry]) -> dict:
    """job folder -> (pid, rank): the rank of the job among the jobs of its worker process that
    ran the engine, by start time (0 = the worker's first, which loads its kernels); None for a
    job that failed before running anything."""
    by_pid: dict = {}
    out = {}
    for e in entries:
        for j in e.jobs:
            info = j.info or {}
            if "pid" not in info or not isinstance(info.get("started"), (int, float)):
                continue
            if j.status == "failed" or j.kernel_s is None:
                out[j.folder] = (info["pid"], None)
                continue
            by_pid.setdefault((info.get("host"), info["pid"]), []).append((info["started"], j.folder))
    for (host, pid), items in by_pid.items():
        for rank, (_, folder) in enumerate(sorted(items, key=lambda t: t[0])):
            out[folder] = (pid, rank)
    return out
