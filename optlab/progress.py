"""Progress bars: shown in an interactive terminal, silent otherwise."""
from __future__ import annotations

import sys


def bar(total: int, desc: str, enabled=None):
    """A tqdm bar, or None when output is not a terminal (or tqdm is missing)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)
