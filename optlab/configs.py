"""``python -m optlab.configs``: write ``conf/optimizer/*.yaml`` and ``conf/scheduler/*.yaml``.

An optimizer's defaults live in one place, its spec (torch.optim's names and
values), and a scheduler's in :mod:`optlab.schedulers` (torch's signatures);
the Hydra config files are generated from them, so the two cannot drift
(``tests/test_config.py`` regenerates them and compares). Run it after
adding an optimizer or changing a default; ``--check`` only compares.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from .errors import argument_parser

CONF = Path(__file__).resolve().parent / "conf"


def _value(v) -> str:
    import yaml
    if isinstance(v, tuple):
        v = list(v)
    return yaml.safe_dump(v, default_flow_style=True).splitlines()[0]


def optimizer_yaml(spec) -> str:
    """The config file of one optimizer: a comment from its summary and reference, then
    ``name`` and every default the config exposes (``spec.config_notes`` as end-of-line comments)."""
    head = spec.summary + (f" -- {spec.reference}" if spec.reference else "") + "."
    if tuple(spec.devices) == ("cpu",):
        head += " CPU engine only."
    lines = ["# " + line for line in textwrap.wrap(head, 98)]
    lines.append(f"name: {spec.name}")
    for key, value in spec.defaults.items():
        if key in spec.config_hidden:
            continue
        note = spec.config_notes.get(key)
        lines.append(f"{key}: {_value(value)}" + (f"  # {note}" if note else ""))
    return "\n".join(lines) + "\n"


def snake(name: str) -> str:
    """torch's class name as a config name: ``StepLR`` -> ``step_lr``, ``ReduceLROnPlateau`` ->
    ``reduce_lr_on_plateau``."""
    import re
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=LR)(?=[A-Z][a-z])", "_", name).lower()


SCHEDULER_NONE = """# No learning-rate scheduler: the optimizer's lr for every step (the default).
# Pick one with scheduler=<name> (python -m optlab list schedulers), e.g.
#   python -m optlab optimizer=sgd scheduler=step_lr scheduler.step_size=30
name: none
"""


def scheduler_yaml(name: str) -> str:
    """The config file of one scheduler: torch's class and options with torch's defaults;
    an option torch requires is ``null`` with a comment (the run says what is missing)."""
    from . import schedulers
    lines = [f"# torch.optim.lr_scheduler.{name} (torch 2.13), exact: optlab.schedulers. Every numeric option",
             "# may be one value per trajectory from the API; null: torch's default, or a required option.",
             f"name: {snake(name)}"]
    for key in schedulers.required(name):
        lines.append(f"{key}: null  # required")
    for key, value in schedulers.defaults(name).items():
        lines.append(f"{key}: {_value(value)}")
    return "\n".join(lines) + "\n"


def _write_one(path: Path, text: str, check: bool, differ: list) -> None:
    if not path.exists() or path.read_text() != text:
        differ.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def write(conf: Path = CONF, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) every optimizer's and scheduler's file; returns the
    files that differ."""
    from . import optimizers, schedulers
    differ = []
    for spec in optimizers.registry:
        _write_one(Path(conf) / "optimizer" / f"{spec.name}.yaml", optimizer_yaml(spec), check, differ)
    _write_one(Path(conf) / "scheduler" / "none.yaml", SCHEDULER_NONE, check, differ)
    for name in schedulers.NAMES:
        _write_one(Path(conf) / "scheduler" / f"{snake(name)}.yaml", scheduler_yaml(name), check, differ)
    return differ


def main(argv=None) -> int:
    parser = argument_parser(prog="python -m optlab.configs", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a file differs")
    args = parser.parse_args(argv)
    differ = write(check=args.check)
    for path in differ:
        print(f"{'differs' if args.check else 'wrote'}: {path}")
    return 1 if (args.check and differ) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
