"""The project's speed figures and the commands that measure them.

``python -m optlab.bench`` (or ``optlab bench``) prints the figures of
:mod:`optlab.bench.core`; the other modules are parts of it or commands of
their own:

* :mod:`~optlab.bench.core` -- the command: core (the sweeps first),
  start-up, compile, optimizer and objective sections, ``--peers``,
  ``--device cuda``;
* :mod:`~optlab.bench.peers` -- the lr sweep against JAX+optax, torch,
  numpy and a hand-written blocked Numba kernel (``--peers``; the ``bench``
  extra);
* :mod:`~optlab.bench.objective_peers` -- the finite sums against
  JAX+optax and torch (part of ``--section objectives``);
* :mod:`~optlab.bench.compile` -- a cold engine kernel against a hand-written
  Numba kernel of the same work (``--section compile``);
* :mod:`~optlab.bench.optimizers` -- every optimizer against its numpy
  reference (``python -m optlab.bench.optimizers``);
* :mod:`~optlab.bench.references` -- those numpy references, one per
  optimizer (the tests use them as oracles too);
* :mod:`~optlab.bench.objectives` -- objective families with Adam
  (``python -m optlab.bench.objectives``);
* :mod:`~optlab.bench.cuda` -- the GPU engine (``python -m optlab.bench.cuda``);
* :mod:`~optlab.bench.sweep` -- a sweep, sequential against joblib workers
  (``python -m optlab.bench.sweep``);
* :mod:`~optlab.bench.gallery` -- runs every lecture study and keeps one
  figure of each in docs/gallery/ (``python -m optlab.bench.gallery``).

Importing this package imports none of them (so ``python -m
optlab.bench.<module>`` runs a module that is not yet loaded).
"""
from __future__ import annotations


def main(argv=None) -> int:
    """``python -m optlab.bench`` / ``optlab bench``; see :func:`optlab.bench.core.main`."""
    from .core import main as core_main
    return core_main(argv)
