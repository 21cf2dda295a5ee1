"""The one exception type a user mistake raises."""
from __future__ import annotations

import difflib


class OptlabError(ValueError):
    """A user mistake: bad name, bad value, a run that would not fit.

    The message is one line that names the value and what is allowed; the CLI
    prints it without a traceback and exits with status 2.
    """


# the kinds ``optlab list`` lists in full
LISTED = {"optimizer": "optimizers", "objective": "objectives", "scheduler": "schedulers", "experiment": "experiments",
          "study": "studies"}
MAX_LIST_CHARS = 120


def short_list(names, limit: int = MAX_LIST_CHARS, more: str = "") -> str:
    """``a, b, c`` -- or, when longer than ``limit`` characters, as many as fit then ``...`` and ``more``."""
    names = [str(n) for n in names]
    text = ", ".join(names)
    if len(text) <= limit:
        return text
    shown = []
    for n in names:
        if len(", ".join(shown + [n])) > limit:
            break
        shown.append(n)
    rest = len(names) - len(shown)
    return ", ".join(shown) + f", ... ({rest} more{'; ' + more if more else ''})"


def unknown_name(kind: str, name: str, available) -> OptlabError:
    """``Unknown objective 'rosenbrok'; did you mean 'rosenbrock'? Available: ...``

    A long list is cut with ``...`` and a pointer to ``optlab list``.
    """
    available = sorted(str(a) for a in available)
    close = difflib.get_close_matches(str(name), available, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    more = f"all: optlab list {LISTED[kind]}" if kind in LISTED else ""
    return OptlabError(f"Unknown {kind} {str(name)!r}{hint} Available: {short_list(available, more=more)}")


def argument_parser(**kw):
    """An ``argparse.ArgumentParser`` whose usage errors are one line (``optlab: error: ...``, status 2)
    instead of argparse's usage block and error line."""
    import argparse
    import sys

    class _OneLine(argparse.ArgumentParser):
        def error(self, message):
            print(f"optlab: error: {self.prog}: {message} (usage: {self.prog} --help)", file=sys.stderr)
            raise SystemExit(2)

    return _OneLine(**kw)


def say(*args, **kw) -> None:
    """``print`` for the command line's results: when the reader has gone (``optlab ... | head -1``)
    the rest of the output goes to /dev/null instead of ending the run with a BrokenPipeError
    (Python's recipe: https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    import os
    import sys
    try:
        print(*args, **kw)
        (kw.get("file") or sys.stdout).flush()
    except BrokenPipeError:
        stream = kw.get("file") or sys.stdout
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):
            pass
