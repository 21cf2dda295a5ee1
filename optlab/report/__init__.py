"""Reports: a run or multirun folder -> ``report.html`` and ``report.md``.

``report.html`` is one self-contained file (CSS inline, figures embedded as
base64 PNG, no script, no network): the command and the config, a table
with one row per job, figures comparing the jobs and each job's own
figures. ``report.md`` has the same text and refers to the figures as files
(``report_*.png`` beside it, each job's figures in its folder).

Built from the artifacts on disk only, so ``optlab report <folder>`` rebuilds
it at any time, also for an interrupted sweep: jobs that finished are
reported, failed, broken and never-started ones are listed as such (see
:mod:`optlab.report.artifacts`). Jobs of a sharded study (``engine.shard``)
are merged into one row. Every file is written atomically; every string
from a config is escaped.

The :class:`optlab.callbacks.ReportCallback` calls :func:`build_report` at the
end of every run and multirun.

The work is split by job: :mod:`.artifacts` reads what runs left on disk,
:mod:`.model` groups jobs into report entries, :mod:`.build` draws the
comparison figures (with :mod:`.figures`) and writes the files, and
:mod:`.render` turns a context into HTML and Markdown. This package
re-exports what other modules import from ``optlab.report``.
"""
from __future__ import annotations

from .artifacts import is_complete
from .build import build_report, comparison_figures, counts_line, load_summary_line, main
from .model import IGNORED_KEYS, Entry, make_entries, swept_keys, worker_order

__all__ = ["Entry", "build_report", "is_complete", "main"]
