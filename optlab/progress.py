"""Progress bars: shown in an interactive terminal or a Jupyter notebook, silent otherwise."""
from __future__ import annotations

import sys


def interactive() -> bool:
    """True in a terminal (stderr is one) or in a Jupyter kernel, where stderr is no terminal but
    its cell output shows a bar as it goes (a long sweep in a notebook showed nothing)."""
    if sys.stderr.isatty():
        return True
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # noqa: BLE001 - an IPython without a running shell
        shell = None
    return type(shell).__name__ == "ZMQInteractiveShell"


def bar(total: int, desc: str, enabled=None):
    """A tqdm bar, or None when output is not interactive (or tqdm is missing)."""
    if enabled is None:
        enabled = interactive()
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)
