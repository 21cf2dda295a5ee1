"""``optlab check``: run the theory studies in quick mode and say which claims hold.

Every study registered with ``theory=True`` (or the ones named) runs through
:func:`optlab.runner.run` in its quick mode, from the config that
``python -m optlab study.name=NAME +study.quick=true`` composes, into
``outputs/check/<timestamp>/<study>`` (or ``--out DIR``), where it leaves
what a run leaves: metrics.json with the theory table, figures, config.yaml
and report.html / report.md. Then one line per claim::

    PASS  lr_divergence  quadratic (κ=10)  GD stops converging at lr = 2/L  2  2.01555  ±0.0404

and a summary line. Exit status 0 when every claim holds, 1 when one fails
or a study stops with an error, 2 (one line) for a usage mistake such as an
unknown study.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .errors import OptlabError, argument_parser


def theory_studies() -> list[str]:
    """The names of the registered studies that return a theory table."""
    from . import studies
    return [n for n in studies.names() if getattr(studies.get(n), "theory", False)]


def resolve(names) -> list[str]:
    """The studies to check: all theory studies when none is named; a name that is not one raises."""
    from . import studies
    known = theory_studies()
    if not names:
        return known
    for name in names:
        if name not in studies.names():
            from .errors import unknown_name
            raise unknown_name("study", name, known)
        if name not in known:
            raise OptlabError(f"Study '{name}' makes no theory claims (theory studies: {', '.join(known)})")
    return list(dict.fromkeys(names))


def study_config(name: str) -> tuple[dict, str, list[str]]:
    """(plain config, its YAML, the overrides) of the study's quick mode, composed as the command
    line ``python -m optlab study.name=NAME +study.quick=true`` would compose it.

    Not ``+experiment=NAME study.quick=true``: an experiment file sets every knob of its study,
    and values set explicitly win over the quick-mode ones (see ``study_params``), so that
    command runs the full study."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parent / "conf"
    overrides = [f"study.name={name}", "+study.quick=true"]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3", job_name="optlab"):
            cfg = compose(config_name="config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg, resolve=True), OmegaConf.to_yaml(cfg, resolve=True), overrides


def run_study(name: str, out_dir: Path) -> list:
    """Run one study in quick mode into ``out_dir`` (with its report); its claims as
    :class:`optlab.theory.Claim` objects."""
    from .report import build_report
    from .runner import run
    from .theory import from_dict

    cfg, yaml_text, overrides = study_config(name)
    summary = run(cfg, out_dir, config_yaml=yaml_text, overrides=overrides)
    _note_overrides(out_dir, overrides)
    try:
        build_report(out_dir)
    except Exception as exc:  # noqa: BLE001 - the claims stand without the report; say so in one line
        print(f"optlab: warning: no report for {out_dir}: {exc}", file=sys.stderr)
    return [from_dict(row) for row in summary.get("theory") or []]


def _note_overrides(out_dir: Path, overrides: list[str]) -> None:
    """``.hydra/overrides.yaml`` as Hydra writes it, so that the report shows the command that
    reproduces the run (``python -m optlab study.name=NAME +study.quick=true``)."""
    import yaml
    hydra_dir = out_dir / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))


def claim_lines(study: str, claims) -> list[str]:
    """``PASS  study  case  claim  predicted  measured  tolerance``, the columns aligned."""
    from .theory import number_text, tolerance_text
    rows = [("PASS" if c.passed else "FAIL", study, c.where or "-", c.claim, number_text(c.predicted),
             number_text(c.measured), tolerance_text(c)) for c in claims]
    if not rows:
        return [f"FAIL  {study}  -  the study returned no theory claims"]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(v.ljust(w) for v, w in zip(r, widths)), r[-1]]) for r in rows]


def default_out() -> Path:
    return Path("outputs") / "check" / time.strftime("%Y-%m-%d_%H-%M-%S")


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and its parents up to the first that holds anything (a study stopped
    before it wrote a file)."""
    try:
        for sub in sorted(folder.rglob("*"), reverse=True):
            if sub.is_dir():
                sub.rmdir()
        folder.rmdir()
    except OSError:
        pass


def main(argv=None) -> int:
    """``optlab check [STUDY ...] [--out DIR]``."""
    p = argument_parser(prog="optlab check",
                        description="Run the theory studies (all, or the ones named) in quick mode, print "
                                    "PASS or FAIL for each claim of their theory tables, and exit 1 when one "
                                    "fails. Each study writes its outputs and report into DIR/<study>.")
    p.add_argument("studies", nargs="*", metavar="STUDY", help="a study with a theory table (default: all of them)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder for the runs (default: outputs/check/<timestamp>)")
    args = p.parse_args(argv)
    try:
        names = resolve(args.studies)
        out = Path(args.out) if args.out else default_out()
        if out.exists() and not out.is_dir():
            raise OptlabError(f"Invalid --out: {str(out)!r} is a file (must be a folder, new or existing)")
        if not names:
            raise OptlabError("No study has a theory table")
    except OptlabError as exc:
        print(f"optlab: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    held = total = 0
    failing = []
    for name in names:
        try:
            claims = run_study(name, out / name)
        except KeyboardInterrupt:
            _remove_empty(out / name)
            print(f"optlab check: interrupted (Ctrl-C) in {name}; {held} of {total} claims held before it; "
                  f"results and reports in {out}", file=sys.stderr)
            return 130
        except OptlabError as exc:
            print(f"FAIL  {name}  -  the study stopped: {exc}", flush=True)
            failing.append(f"{name} (error)")
            continue
        for line in claim_lines(name, claims):
            print(line, flush=True)
        ok = sum(c.passed for c in claims)
        held, total = held + ok, total + len(claims)
        if ok < len(claims) or not claims:
            failing.append(name)
    line = (f"{held} of {total} claims hold in {len(names)} stud{'y' if len(names) == 1 else 'ies'} "
            f"({time.perf_counter() - t0:.1f} s); results and reports in {out}")
    print(f"optlab check: {line}" + (f"; failing: {', '.join(failing)}" if failing else ""))
    return 1 if failing else 0
