"""``python -m optlab.bench``: the speed figures (see :mod:`optlab.bench.core`)."""
import sys

from .core import main

sys.exit(main())
