"""The command line: a thin Hydra edge around :func:`optlab.runner.run`.

``python -m optlab [overrides]`` and the ``optlab`` console script compose
``conf/`` and hand a plain dict to the library; ``optlab bench``,
``optlab report``, ``optlab cache``, ``optlab list`` and ``optlab check`` are sub-commands. A user
mistake prints one line (``optlab: error: ...``) and exits with status 2, without
a traceback. A single run's config is composed and checked in full
(:func:`optlab.runner.prepare`) before Hydra creates the run folder, so a
refused run leaves nothing behind.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

_FAILED: list = []
_CURRENT: dict = {}  # the run or sweep in progress, for the one-line message after Ctrl-C


def _error(msg: str) -> None:
    print(f"optlab: error: {msg}", file=sys.stderr)


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def _remove_if_only_hydra(run_dir: Path) -> None:
    """A run refused for bad input leaves no folder behind (only Hydra's own files were there)."""
    import shutil
    if not run_dir.is_dir():
        return
    leftovers = [p for p in run_dir.iterdir() if p.name not in (".hydra", "optlab.log")]
    if not leftovers:
        shutil.rmtree(run_dir, ignore_errors=True)


def task(cfg) -> dict | None:
    """The Hydra task: resolve the config, run the study, write the artifacts."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from .errors import OptlabError
    from .runner import run

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = _is_multirun()
    _note_current(cfg, run_dir, multirun)
    if multirun:
        from .callbacks import resumed_summary
        done = resumed_summary(cfg, run_dir)  # report.resume: a complete job is not run again
        if done is not None:
            return done
    t0 = time.perf_counter()
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
        overrides = list(HydraConfig.get().overrides.task)
        import warnings
        with warnings.catch_warnings():
            # matplotlib's layout and log-scale notes on extreme data (a loss near 1e308, a study knob at
            # 0) reached the terminal as two lines of source; the figures are drawn all the same
            warnings.filterwarnings("ignore", module=r"matplotlib\b")
            warnings.filterwarnings("ignore", message=r"Tight layout not applied|Data has no positive values",
                                    category=UserWarning)
            summary = run(plain, run_dir, config_yaml=OmegaConf.to_yaml(cfg, resolve=True), overrides=overrides)
    except OptlabError as exc:
        _error(str(exc))
        if multirun:
            from .runner import write_failure
            write_failure(run_dir, exc)
            _FAILED.append((run_dir, str(exc)))
            return None
        _remove_if_only_hydra(run_dir)
        sys.exit(2)
    except Exception as exc:  # a bug: keep the traceback, but let the other jobs of a sweep run
        if not multirun:
            raise
        import traceback
        from .runner import write_failure
        traceback.print_exc()
        write_failure(run_dir, exc)
        _FAILED.append((run_dir, repr(exc)))
        return None
    from .errors import say
    header = f"[job {HydraConfig.get().job.num}] " if multirun else ""
    say(f"{header}{summary.get('title', summary.get('study', ''))} -- {time.perf_counter() - t0:.2f} s")
    if summary.get("table"):
        say(summary["table"])
    say(f"results: {run_dir}")
    return summary


def note_sweep(config) -> None:
    """The launching process of a multirun (whose jobs may run elsewhere) notes its sweep folder."""
    _CURRENT.update(multirun=True, sweep_dir=Path(str(config.hydra.sweep.dir)).resolve(), job=None,
                    run_dir=None, report=_report_settings(config))


def _report_settings(cfg) -> dict:
    from omegaconf import OmegaConf
    return {k: OmegaConf.select(cfg, f"report.{k}", default=d)
            for k, d in (("enabled", True), ("figures", True), ("job_figures", 50))}


def _note_current(cfg, run_dir: Path, multirun: bool) -> None:
    from hydra.core.hydra_config import HydraConfig
    hc = HydraConfig.get()
    _CURRENT.update(run_dir=run_dir, multirun=multirun,
                    sweep_dir=Path(str(hc.sweep.dir)).resolve() if multirun else None,
                    job=hc.job.num if multirun else None, report=_report_settings(cfg), started=time.time())


def _interrupted() -> int:
    """After Ctrl-C: write the report of what finished, print one line, exit status 130."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the report short
    from .callbacks import stop_progress
    stop_progress()
    cur = dict(_CURRENT)
    _CURRENT.clear()
    if not cur:
        _error_line("interrupted (Ctrl-C) before a run started; nothing was written")
        return 130
    folder = cur["sweep_dir"] if cur["multirun"] else cur["run_dir"]
    if not cur["multirun"] and _earlier_run_kept(folder, cur.get("started", 0.0)):
        _error_line(f"run interrupted (Ctrl-C) before it wrote anything; the earlier run's results and "
                    f"report in {folder} are kept")
        return 130
    res = _report_quietly(folder, cur.get("report") or {})
    report = f" and report ({res['html'].name})" if res else ""
    if cur["multirun"]:
        from .report.artifacts import is_complete
        done = f"{res['counts'].get('ok', 0)} of {res['jobs']} jobs finished; " if res else ""
        where = "" if cur.get("job") is None else (
            f" after job {cur['job']}" if is_complete(cur["run_dir"], verify=False) else f" in job {cur['job']}")
        msg = (f"sweep interrupted (Ctrl-C){where}; {done}results{report} in {folder}; "
               f"to resume, run it again with report.resume=true into that folder (hydra.sweep.dir={folder})")
    else:
        from . import manifest
        what = "partial results" if manifest.read(folder) is not None else "no results yet; the config"
        msg = f"run interrupted (Ctrl-C); {what}{report} in {folder}; run the same command again to redo it"
    _error_line(msg)
    return 130


_SIGINT = {"seen": False}


def _note_sigint(signum, frame):
    """Python's own Ctrl-C (a KeyboardInterrupt), noted: Hydra can turn the KeyboardInterrupt into
    another exception (a ConfigCompositionException when it arrives while a job's config is
    composed), which then still counts as Ctrl-C."""
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


def _interrupt_inside(exc: BaseException) -> bool:
    """True after Ctrl-C, or when a KeyboardInterrupt is in ``exc``'s chain of causes."""
    if _SIGINT["seen"]:
        return True
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _launcher_failed(exc: Exception, multirun: bool = True) -> int:
    """A sweep's launcher failed outside the jobs (no srun, no Ray cluster, joblib n_jobs=0, a
    worker process killed): one line instead of the launcher's traceback. Before any job started,
    status 2 and the sweep folder removed if it holds only Hydra's multirun.yaml; after, the report
    of what finished and the resume hint, as after Ctrl-C, status 1."""
    from .callbacks import stop_progress
    stop_progress()
    cur = dict(_CURRENT)
    what = f"{type(exc).__name__}: {_clip(' '.join(str(exc).split()), 200)}"
    folder = cur.get("sweep_dir")
    started = folder is not None and Path(folder).is_dir() and any(
        p.is_dir() and not p.name.startswith(".") for p in Path(folder).iterdir())
    if not started:
        if folder is not None and Path(folder).is_dir() and \
                {p.name for p in Path(folder).iterdir()} <= {"multirun.yaml"}:
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
        _error(f"the sweep's launcher failed before any job started: {what}" if multirun else
               f"Hydra stopped before the run started: {what}")
        return 2
    res = _report_quietly(folder, cur.get("report") or {})
    report = f" and report ({res['html'].name})" if res else ""
    done = f"{res['counts'].get('ok', 0)} of {res['jobs']} jobs finished; " if res else ""
    _error(f"the sweep stopped ({what}); {done}results{report} in {folder}; to resume, run it again with "
           f"report.resume=true into that folder (hydra.sweep.dir={folder})")
    return 1


def _earlier_run_kept(folder, started: float) -> bool:
    """True when ``folder`` holds an earlier run's manifest that this run has not touched (a run
    into a used folder removes the earlier files at its first write): its report stays as it is."""
    from . import manifest
    path = Path(folder) / manifest.MANIFEST
    try:
        return manifest.read(folder) is not None and path.stat().st_mtime < started
    except OSError:
        return False


def _error_line(msg: str) -> None:
    print(f"optlab: {msg}", file=sys.stderr)


def _report_quietly(folder: Path, settings: dict):
    """The report of ``folder`` (None when disabled or when it cannot be written)."""
    if not settings.get("enabled", True) or not Path(folder).is_dir():
        return None
    try:
        from .report import build_report
        return build_report(folder, figures=bool(settings.get("figures", True)),
                            job_figures=int(settings.get("job_figures", 50)))
    except Exception:  # noqa: BLE001 - the one line still says where the results are
        return None


_GROUPS = ("optimizer", "objective", "scheduler", "engine", "plot", "experiment")
_SKIP_SWEEP = ("range(", "choice(", "interval(", "glob(", "sort(", "shuffle(", "tag(", "${")


def _conf_dir() -> Path:
    return Path(__file__).resolve().parent / "conf"


def _precheck(args) -> None:
    """One-line errors for the mistakes Hydra reports in many lines.

    Checks ``group=name`` choices (with a did-you-mean) and ``optimizer.key=``
    overrides against the chosen optimizer's hyperparameters, before Hydra
    composes anything or creates a folder.
    """
    from .errors import OptlabError, unknown_name

    chosen = {}
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        group = key[:-len(".name")] if key.endswith(".name") else None
        if group in ("optimizer", "objective", "scheduler") and not any(
                a.lstrip("+~").split("=", 1)[0] == group for a in args) and _unquoted(value) != _default_choice(group):
            # the section keeps the default's other keys: "Unknown hyperparameter 'betas' for 'sgd'"
            raise OptlabError(f"{key}={value} renames the default {group} but keeps its settings; choose the "
                              f"{group} with {group}={value}")
        if key in _GROUPS and not any(t in value for t in _SKIP_SWEEP):
            available = sorted(p.stem for p in (_conf_dir() / key).glob("*.yaml"))
            for choice in value.split(","):
                choice = choice.strip()
                if choice and choice not in available:
                    raise unknown_name(key if key != "experiment" else "experiment", choice, available)
            chosen[key] = [c.strip() for c in value.split(",")]
    from . import optimizers
    from .optimizers._base import PAIRS
    names = chosen.get("optimizer", ["adam"] if "experiment" not in chosen else [])
    for arg in args:
        if "=" not in arg or arg.startswith(("+", "~", "-")):
            continue
        key = arg.split("=", 1)[0]
        if not key.startswith("optimizer.") or key.count(".") != 1:
            continue
        hp = key.split(".", 1)[1]
        for name in names:
            try:
                spec = optimizers.get(name)
            except OptlabError:
                continue
            allowed = set(spec.defaults) | {"name", "label"}
            pair = next((p for p, parts in PAIRS.items() if hp in parts and p in spec.defaults), None)
            if hp not in allowed and pair is not None:  # a part of a pair: the config holds the pair
                raise OptlabError(f"optimizer.{hp} is not in {spec.name}'s config, which sets {pair} "
                                  f"({', '.join(PAIRS[pair])}): set optimizer.{pair}=[...], or add the part "
                                  f"with +optimizer.{hp}=...")
            if hp not in allowed:
                raise OptlabError(f"Unknown hyperparameter '{hp}' for optimizer '{spec.name}'. "
                                  f"Allowed: {', '.join(sorted(allowed - {'name', 'label'}))}")


def _default_choice(group: str):
    """The name the base config gives ``group`` (``optimizer``: adam)."""
    from .checks import base_config
    return (base_config().get(group) or {}).get("name")


_COMPOSE_FLAGS = ("-m", "--multirun")
_INFO_FLAGS = ("-h", "--help", "--hydra-help", "--version", "-i", "--info", "-sc", "--shell-completion")


def _check_flags(args) -> None:
    """An unknown flag (``--bogus``) in one line: Hydra's parser printed its usage block first."""
    if not any(a.startswith("-") for a in args) or any(a in _INFO_FLAGS and a not in ("-i", "--info") for a in args):
        return  # --info is parsed: a bad choice printed Hydra's usage block
    from hydra._internal.utils import get_args_parser

    from .errors import OptlabError
    parser = get_args_parser()

    def error(message):
        raise OptlabError(f"{message} (see optlab --help and optlab --hydra-help)")
    parser.error = error
    ns = parser.parse_args(args)
    modes = [f for f, on in (("--run", ns.run), ("--multirun", ns.multirun), ("--cfg", ns.cfg),
                             ("--info", ns.info), ("--shell-completion", ns.shell_completion)) if on]
    if len(modes) > 1:
        raise OptlabError(f"{' and '.join(modes)} given together; give one of --run, --multirun, --cfg, --info")


def _one_line_hydra(exc: Exception, args) -> str:
    """A Hydra composition error in one line (its messages span several)."""
    import re
    msg = str(exc)
    m = re.match(r"Could not override '([^']+)'", msg)
    if m:
        key = m.group(1)
        sec = key.split(".")[0]
        from .checks import PLOT_KEYS, REPORT_KEYS, engine_keys
        from .errors import unknown_name
        known = {"engine": engine_keys(), "plot": PLOT_KEYS, "report": REPORT_KEYS}.get(sec)
        if known is not None and key.count(".") == 1 and key.split(".")[1] in known:
            # a key the section takes but the config does not set (engine.num_shards): its did-you-mean
            # named itself
            return f"Key '{key}' is not in the config: add it with +{key}=..."
        if known is not None and key.count(".") == 1:
            return str(unknown_name("key", key, [f"{sec}.{k}" for k in known]))
        return f"Unknown key '{key}' (not in the config; a new key is added with +{key}=...)"
    m = re.match(r"Could not append to config. An item is already at '([^']+)'", msg)
    if m:
        return f"Key '{m.group(1)}' is already in the config: set it without the + ({m.group(1)}=...)"
    if type(exc).__name__ == "OverrideParseException":
        from hydra.core.override_parser.overrides_parser import OverridesParser
        parser = OverridesParser.create()
        for arg in args:
            if arg.startswith("-"):
                continue
            try:
                parser.parse_overrides([arg])
            except Exception:  # noqa: BLE001 - the one that does not parse
                return f"Invalid override {_clip(arg)!r}: {_clip(msg.splitlines()[0])} (Hydra's override grammar: optlab --hydra-help)"
    cause = exc.__cause__
    if msg.startswith("Error merging override") and type(cause).__name__ == "ConfigIndexError":
        m = re.search(r"full_key: (\S+)\[(\d+)\]", str(cause))
        if m:  # study.optimizers.5.lr= on a list of 3: which indices there are
            from hydra import compose, initialize_config_dir
            from omegaconf import OmegaConf
            try:
                with initialize_config_dir(config_dir=str(_conf_dir()), version_base="1.3", job_name="optlab"):
                    base = compose(config_name="config", overrides=[a for a in args if not a.startswith("-")
                                                                    and m.group(1) not in a])
                size = len(OmegaConf.select(base, m.group(1)))
            except Exception:  # noqa: BLE001 - the message without the size
                size = None
            have = f"has {size} entries (0 to {size - 1})" if size else "has no such entry"
            return f"Invalid override {msg.split('override ', 1)[1]!r}: {m.group(1)} {have}"
    if msg.startswith("Ambiguous value for argument"):
        return msg.splitlines()[0] + ": use key=[v1,v2] for a list, or -m to sweep over the values"
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()
             and not ln.strip().startswith(("full_key", "object_type", "See https", "Config search path",
                                            "provider=", "Available options"))]
    return _clip(" ".join(lines) or type(exc).__name__, 240)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check_output_dir(overrides, key: str) -> None:
    """The run (or sweep) folder given on the command line can be a folder: it is not a file, nor
    under one, and the nearest folder that exists can be written (Hydra raised a traceback)."""
    import os
    from .errors import OptlabError
    for arg in overrides:
        k, _, value = arg.partition("=")
        if k.lstrip("+~") == key and "=" in arg and not _unquoted(value):  # Hydra took '' as the current folder
            raise OptlabError(f"Invalid {key}: '' (must name a folder, new or existing)")
        value = _unquoted(value)
        if k.lstrip("+~") != key or not value or "${" in value:
            continue
        path = Path(value).expanduser()
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            what = "is a file" if probe == path else f"is under {str(probe)!r}, a file"
            raise OptlabError(f"Invalid {key}: {value!r} {what} (must be a folder, new or existing)")
        if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
            raise OptlabError(f"Invalid {key}: {value!r}: {str(probe)!r} cannot be written")


def _unquoted(value: str) -> str:
    """An override's value as Hydra reads it: ``'sw4'`` and ``"sw4"`` are ``sw4``."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _holds_sweep(folder: Path) -> list | None:
    """The job folders of a sweep in ``folder`` (numbered, as Hydra's basic sweeper makes them), or
    None when it holds no sweep (a project's ``conf/config.yaml`` is no job)."""
    from .report.artifacts import _is_job_folder
    jobs = [p for p in folder.iterdir() if p.name.isdigit() and _is_job_folder(p)]
    return jobs if jobs or (folder / "multirun.yaml").is_file() else None


def _holds_run(folder: Path) -> bool:
    return (folder / ".hydra").is_dir() and any((folder / n).is_file() for n in ("manifest.json", "metrics.json",
                                                                                   "error.json"))


def _check_folder_unused(overrides, multirun: bool, resume: bool, n_jobs: int = 1) -> None:
    """The folder given on the command line holds nothing the run would overwrite or mix with.

    A multirun into a folder holding an earlier sweep is refused unless it resumes that sweep
    (Hydra numbers the new jobs from 0: they overwrote the earlier jobs' results, and the report
    mixed the two sweeps' jobs); a multirun into a run's folder, and a run into a sweep's, are
    refused (the report showed only one of the two); a constant ``hydra.sweep.subdir`` in a sweep
    of several jobs is refused (``same`` had every job overwrite the one before, and exit 0)."""
    from .errors import OptlabError
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    for arg in overrides:
        k, _, value = arg.partition("=")
        k, value = k.lstrip("+~"), _unquoted(value)
        if multirun and n_jobs > 1 and k == "hydra.sweep.subdir" and "${" not in value:
            raise OptlabError(f"Invalid hydra.sweep.subdir: {value!r} (the {n_jobs} jobs would share one folder: "
                              "give each its own, e.g. ${hydra.job.num} or ${hydra.job.override_dirname})")
        if k != key or not value or "${" in value:
            continue
        folder = Path(value).expanduser()
        if not folder.is_dir():
            continue
        jobs = _holds_sweep(folder)
        if multirun and jobs is None and _holds_run(folder):
            raise OptlabError(f"hydra.sweep.dir={value!r} holds a run; a sweep there would mix with it: give a "
                              "new folder, or remove that one")
        if multirun and jobs is not None and not resume:
            raise OptlabError(
                f"hydra.sweep.dir={value!r} holds an earlier sweep ({len(jobs)} job folder(s)) that a new sweep "
                "would overwrite: give a new folder, remove that one, or add report.resume=true to finish "
                "that sweep (jobs whose config changed run again)")
        if not multirun and jobs is not None:
            raise OptlabError(f"hydra.run.dir={value!r} holds a sweep ({len(jobs)} job folder(s)); a run there "
                              "would mix with it: give a new folder, or remove that one")


def _compose_check(args) -> None:
    """Compose the config as Hydra will and check it in full, before any folder exists.

    A single run: composition errors and every value and key
    (:func:`optlab.runner.prepare`). A multirun: composition errors and the
    keys of its first job (the same in every job unless the study is swept);
    each job checks its own values, and a bad one is reported in the sweep's
    report while the others run.
    """
    if any(a.startswith("-") and a not in _COMPOSE_FLAGS for a in args):
        return  # --help, --cfg, -cd ...: Hydra's own business
    multirun = any(a in _COMPOSE_FLAGS for a in args)
    overrides = [a for a in args if not a.startswith("-")]
    _check_output_dir(overrides, "hydra.sweep.dir" if multirun else "hydra.run.dir")
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from .errors import OptlabError
    try:
        if multirun:
            from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
            from hydra.core.override_parser.overrides_parser import OverridesParser
            parsed = OverridesParser.create().parse_overrides(overrides)
            parsed = [o for o in parsed if not o.key_or_group.startswith("hydra.")]
            batches = BasicSweeper.split_arguments(parsed, None)
            first = batches[0][0] if batches and batches[0] else []
        else:
            first = overrides
        with initialize_config_dir(config_dir=str(_conf_dir()), version_base="1.3", job_name="optlab"):
            cfg = compose(config_name="config", overrides=[o for o in first if not o.lstrip("+~").startswith("hydra.")])
        plain = OmegaConf.to_container(cfg, resolve=True)
    except OptlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - Hydra's and OmegaConf's errors, said in one line
        raise OptlabError(_one_line_hydra(exc, overrides)) from None
    _check_folder_unused(overrides, multirun, bool((plain.get("report") or {}).get("resume")),
                         sum(len(b) for b in batches) if multirun else 1)
    if not multirun:
        from .runner import prepare
        prepare(plain, overrides)
        return
    swept = {o.key_or_group.lstrip("+~") for o in parsed if o.is_sweep_override()}
    if not swept & {"experiment", "study", "study.name"}:  # every job runs the same study: check its keys
        from . import checks, studies
        name = (plain.get("study") or {}).get("name", "single")
        checks.check_config(plain, studies.get(name if isinstance(name, str) else "single"), first, values=False)
    _check_some_job_runs([job for batch in batches for job in batch], plain, parsed)


#: a sweep of at most this many jobs is checked job by job before it starts (:func:`_check_some_job_runs`)
CHECK_JOBS = 16


def _check_some_job_runs(jobs, first_plain: dict, parsed=()) -> None:
    """A sweep in which no job can run is refused before any folder exists, with the first job's
    one line: a bad value that is not swept (plot.dpi=5, +optimizer.foo=1) wrote a folder of
    failed jobs, one error line each, where the same value in a single run is one line and
    nothing written. The jobs are checked as a single run is (:func:`optlab.runner.prepare`),
    stopping at the first that passes; a sweep where some job passes runs, its failing jobs
    reported. ``first_plain``: the first job's config, composed already; ``parsed``: the sweep's
    parsed overrides.

    A sweep of more than :data:`CHECK_JOBS` jobs is judged by its first job alone: refused when
    that job's error names neither a swept key nor a swept value (then it is not the sweep's
    doing, and every job would fail the same way); otherwise it runs, as before."""
    if not jobs:
        return
    if len(jobs) > CHECK_JOBS:
        _check_first_job(jobs[0], first_plain, parsed)
        return
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from .errors import OptlabError
    from .runner import prepare
    errors = []
    with initialize_config_dir(config_dir=str(_conf_dir()), version_base="1.3", job_name="optlab"):
        for k, job in enumerate(jobs):
            overrides = [o for o in job if not o.lstrip("+~").startswith("hydra.")]
            try:
                plain = first_plain if k == 0 else OmegaConf.to_container(
                    compose(config_name="config", overrides=overrides), resolve=True)
                prepare(plain, overrides)
                return
            except OptlabError as exc:
                errors.append(str(exc))
            except Exception:  # noqa: BLE001 - not a value this check knows: the job reports it
                return
    first = errors[0]
    where = "in every job of the sweep" if all(e == first for e in errors) else \
        f"job 0; each of the sweep's {len(errors)} jobs fails"
    raise OptlabError(f"{first} ({where}; nothing was run)")


def _check_first_job(job, plain: dict, parsed) -> None:
    from .errors import OptlabError
    from .runner import prepare
    try:
        prepare(plain, [o for o in job if not o.lstrip("+~").startswith("hydra.")])
        return
    except OptlabError as exc:
        message = str(exc)
    except Exception:  # noqa: BLE001 - not a value this check knows: the job reports it
        return
    words = set()
    for o in parsed:
        if not o.is_sweep_override():
            continue
        key = o.key_or_group.lstrip("+~")
        words.update((key, key.rsplit(".", 1)[-1]))
        try:
            values = [str(v) for v in o.sweep_string_iterator()]
        except Exception:  # noqa: BLE001 - a range or an interval: its values are not listed
            return
        if any(v.lstrip().startswith(("[", "{")) for v in values):
            return  # a list or dict value: an error names one element of it ("at index 1: 1.0")
        words.update(values)
    import re
    if any(w and re.search(rf"(?<![\w.]){re.escape(w)}(?![\w])", message) for w in words):
        return
    raise OptlabError(f"{message} (in every job of the sweep; nothing was run)")


def _register_resolvers() -> None:
    """``${optlab_list:experiments}`` for the help template (conf/hydra/help/optlab.yaml)."""
    from omegaconf import OmegaConf
    if not OmegaConf.has_resolver("optlab_list"):
        OmegaConf.register_new_resolver(
            "optlab_list", lambda kind: "\n".join(f"  {n:<20} {line}" for n, line in catalogue(kind)))


def _hydra_main(argv=None):
    import os

    import hydra
    # Hydra prints an exception that escapes the app (a launcher's: no srun, a killed joblib worker)
    # as a traceback and exits 1; with HYDRA_FULL_ERROR it raises, and main says it in one line
    had = os.environ.get("HYDRA_FULL_ERROR")
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        _run_hydra(hydra, argv)
    finally:
        if had is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)


def _run_hydra(hydra, argv):
    _register_resolvers()
    decorated = hydra.main(config_path="conf", config_name="config", version_base="1.3")(task)
    if argv is not None:
        sys.argv = [sys.argv[0]] + list(argv)
    decorated()


def main(argv=None) -> int:
    """Entry point of ``python -m optlab`` and the ``optlab`` script."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:  # a sub-command's, or the checks' before any run: one line, no traceback
        if args and args[0] in _SUBCOMMANDS:
            _error_line(f"{args[0]} interrupted (Ctrl-C)")
        else:
            _error_line("interrupted (Ctrl-C) before a run started; nothing was written")
        return 130


_SUBCOMMANDS = ("bench", "cache", "report", "list", "check")


def _main(args) -> int:
    if args and args[0] in ("--version", "-V"):  # Hydra's --version names Hydra's
        if len(args) > 1:
            _error(f"{args[0]} takes no other arguments, got {' '.join(args[1:])!r}")
            return 2
        from . import __version__
        print(f"optlab {__version__}")
        return 0
    if args and args[0] == "bench":
        from .bench import main as bench_main
        return bench_main(args[1:])
    if args and args[0] == "cache":
        from .cache import main as cache_main
        return cache_main(args[1:])
    if args and args[0] == "report":
        from .report import main as report_main
        return report_main(args[1:])
    if args and args[0] == "list":
        return list_main(args[1:])
    if args and args[0] == "check":
        from .check import main as check_main
        return check_main(args[1:])
    _FAILED.clear()
    _CURRENT.clear()
    from .errors import OptlabError
    try:
        _check_flags(args)
        _precheck(args)
        _compose_check(args)
    except OptlabError as exc:
        _error(str(exc))
        return 2
    import signal
    import threading
    _SIGINT["seen"] = False
    noting = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if noting:
        signal.signal(signal.SIGINT, _note_sigint)
    claimed = _claim_output_dir(args)
    resume = any(a.lstrip("+").lower() in ("report.resume=true", "report.resume=yes") for a in args)
    if claimed and claimed[0] == "hydra.sweep.dir" and resume:
        _error_line(f"note: report.resume=true without hydra.sweep.dir: the new folder {claimed[1]} has nothing "
                    "to resume (give the interrupted sweep's folder: hydra.sweep.dir=...)")
    elif resume and not any(a in _COMPOSE_FLAGS for a in args):
        _error_line("note: report.resume=true resumes a sweep (-m); a single run runs in full")
    try:
        _hydra_main(args + ([f"{claimed[0]}={claimed[1]}"] if claimed else []))
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # noqa: BLE001 - a launcher's, outside any job of this process
        if _interrupt_inside(exc):  # Ctrl-C while Hydra composed the next job: its exception wraps it
            return _interrupted()
        if _CURRENT.get("run_dir") is not None:
            raise  # a job of this process failed: a bug, keep its traceback
        return _launcher_failed(exc, multirun=any(a in _COMPOSE_FLAGS for a in args))
    finally:
        if claimed:
            _remove_if_empty(Path(claimed[1]))
        if noting and signal.getsignal(signal.SIGINT) is _note_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if _FAILED:
        _error(f"{len(_FAILED)} job(s) failed; see error.json in: " + ", ".join(str(d) for d, _ in _FAILED))
        return 1
    return 0


# conf/config.yaml's hydra.run.dir and hydra.sweep.dir (tests/test_cli.py checks they agree)
RUN_DIRS = {"hydra.run.dir": "outputs/runs", "hydra.sweep.dir": "outputs/multiruns"}
STAMP = "%Y-%m-%d_%H-%M-%S"


def _claim_output_dir(args, stamp=None):
    """``(key, folder)``: a new timestamped run (or sweep) folder, created here, when the command
    line names none; None otherwise (``hydra.run.dir=...`` given, ``--help`` ...).

    Hydra's ``${now:...}`` gives two runs started in the same second one folder, and the second
    overwrote the first's config and results. ``os.mkdir`` is atomic: the first process to create
    ``<stamp>`` has it, the next gets ``<stamp>_2``, and so on."""
    import os
    if any(a.startswith("-") and a not in _COMPOSE_FLAGS for a in args):
        return None
    key = "hydra.sweep.dir" if any(a in _COMPOSE_FLAGS for a in args) else "hydra.run.dir"
    if any(a.lstrip("+~").split("=", 1)[0] == key for a in args):
        return None
    base = Path(RUN_DIRS[key]) / (stamp or time.strftime(STAMP))
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        folder = base if k == 1 else base.with_name(f"{base.name}_{k}")
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        return key, folder.as_posix()
    return None


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # only an empty folder: a run that wrote nothing (Ctrl-C at its start)
    except OSError:
        pass


LIST_KINDS = ("optimizers", "objectives", "schedulers", "experiments", "studies")


def catalogue(kind: str) -> list[tuple[str, str]]:
    """(name, one line) for each optimizer, objective, experiment or study."""
    if kind == "optimizers":
        from . import optimizers
        return [(s.name, _clip(" ".join(s.summary.split()), 100)) for s in sorted(optimizers.registry, key=lambda s: s.name)]
    if kind == "objectives":
        from . import objectives
        return [(s.name, _first_line(s.notes or s.formula or s.source))
                for s in sorted(objectives.registry, key=lambda s: s.name)]
    if kind == "schedulers":
        from . import schedulers
        from .configs import snake
        return [(snake(n), f"torch.optim.lr_scheduler.{n}"
                 + (f" (requires {', '.join(schedulers.required(n))})" if schedulers.required(n) else ""))
                for n in schedulers.NAMES]
    if kind == "experiments":
        return [(p.stem, experiment_line(p)) for p in sorted((_conf_dir() / "experiment").glob("*.yaml"))]
    if kind == "studies":
        from . import studies
        # a study's first sentence whole: its "; " parts are the contrast it shows
        return [(n, _first_line(studies.get(n).__doc__ or "", ends=".")) for n in studies.names()]
    raise ValueError(kind)


def _first_line(text: str, limit: int = 100, ends: str = ".;") -> str:
    """The first sentence (up to ". " or "; ", the characters of ``ends``), not cut inside
    parentheses: a citation's abbreviations ("(SIAM J. Optim. 2016, Sec. 4.6)") do not end it."""
    line = " ".join(str(text).split())
    depth = 0
    for i, ch in enumerate(line):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in ends and depth == 0 and line[i + 1:i + 2] == " ":
            line = line[:i]
            break
    return _clip(line.rstrip("."), limit)


def experiment_line(path: Path) -> str:
    """An experiment file's description: its first comment sentence, without the leading name."""
    words = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text.startswith("#") or text.startswith("# @package"):
            if words:
                break
            continue
        words.append(text.lstrip("# "))
    text = " ".join(words)
    head = f"{path.stem}:"
    if text.lower().startswith(head.lower()):
        text = text[len(head):].strip()
    # the first sentence whole: its "; " parts are the contrast it shows ("GD on the stable manifold
    # stays; perturbation, noise, momentum and Adam escape"), as for the studies
    return _first_line(text, ends=".")


def list_main(argv) -> int:
    """``optlab list [optimizers|objectives|schedulers|experiments|studies]``: one line each."""
    kinds = list(argv) or list(LIST_KINDS)
    for kind in kinds:
        if kind not in LIST_KINDS:
            from .errors import unknown_name
            _error(str(unknown_name("list", kind, LIST_KINDS)).replace("Unknown list", "Unknown kind to list"))
            return 2
    for i, kind in enumerate(kinds):
        rows = catalogue(kind)
        if len(kinds) > 1:
            print(("\n" if i else "") + f"{kind}:")
        width = max(len(n) for n, _ in rows)
        for name, line in rows:
            print(f"  {name:<{width}}  {line}")
    return 0


def entry() -> None:
    sys.exit(main())
