"""The one exception type a user mistake raises."""
from __future__ import annotations

import difflib


class OptlabError(ValueError):
    """A user mistake: bad name, bad value, a run that would not fit.

    The message is one line that names the value and what is allowed; the CLI
    prints it without a traceback and exits with status 2.
    """


def unknown_name(kind: str, name: str, available) -> OptlabError:
    """``Unknown objective 'rosenbrok'; did you mean 'rosenbrock'? Available: ...``"""
    available = sorted(available)
    close = difflib.get_close_matches(str(name), available, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return OptlabError(f"Unknown {kind} '{name}'{hint} Available: {', '.join(available)}")
