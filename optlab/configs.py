"""``python -m optlab.configs``: write ``conf/optimizer/*.yaml`` from the registry.

An optimizer's defaults live in one place, its spec (torch.optim's names and
values); the Hydra config files are generated from it, so the two cannot
drift (``tests/test_config.py`` regenerates them and compares). Run it after
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


def write(conf: Path = CONF, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) every optimizer's file; returns the files that differ."""
    from . import optimizers
    differ = []
    for spec in optimizers.registry:
        path = Path(conf) / "optimizer" / f"{spec.name}.yaml"
        text = optimizer_yaml(spec)
        if not path.exists() or path.read_text() != text:
            differ.append(path)
            if not check:
                path.write_text(text)
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
