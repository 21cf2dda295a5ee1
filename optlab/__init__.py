"""optlab: a Numba-accelerated lab for the optimizers that train neural networks."""
__version__ = "0.1.0"

from . import objectives, optimizers  # noqa: E402
from .engine.core import simulate  # noqa: E402
from .engine.result import Result  # noqa: E402
from .engine.sweep import Sweep, sweep  # noqa: E402
from .errors import OptlabError  # noqa: E402

__all__ = ["OptlabError", "Result", "Sweep", "objectives", "optimizers", "plot", "simulate", "sweep", "__version__"]


def __getattr__(name):
    # optlab.plot (matplotlib) loads on first use, so `import optlab` stays quick
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'optlab' has no attribute {name!r}")
