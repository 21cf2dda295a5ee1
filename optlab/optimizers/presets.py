r"""The lecture's names for SGD settings: ``gd``, ``momentum`` and ``nesterov``.

Each is torch.optim.SGD (the same kernels as ``sgd``) with other defaults:

=========  ==========================================================
gd         plain gradient descent: :math:`\theta_t = \theta_{t-1} - \gamma g_t`
momentum   heavy ball, ``momentum=0.9``:
           :math:`b_t = \mu b_{t-1} + g_t,\; \theta_t = \theta_{t-1} - \gamma b_t`
nesterov   Nesterov momentum in torch's form, ``momentum=0.9, nesterov=True``:
           :math:`b_t = \mu b_{t-1} + g_t,\; \theta_t = \theta_{t-1} - \gamma (g_t + \mu b_t)`
=========  ==========================================================

Every SGD hyperparameter can still be given (``momentum("rosenbrock", lr=...)``
with ``dampening`` say), so a preset with the same settings *is* ``sgd``. The
momentum buffer starts at the first gradient, as in torch. For the lecture's
look-ahead form of Nesterov (gradient at ``w - rho v``) see
``nesterov_lookahead``; ``nesterov`` here iterates exactly the look-ahead
point of that form (see its docstring for the change of variables).

References: Cauchy (1847) for gradient descent; Polyak, USSR Comput. Math.
Math. Phys. 4 (1964) for heavy-ball momentum; Nesterov, Soviet Math. Dokl. 27
(1983) and Sutskever, Martens, Dahl & Hinton, ICML 2013 for Nesterov momentum.
"""
from dataclasses import replace

from .sgd import SPEC as _SGD

SPECS = [
    replace(_SGD, name="gd", preset_of="sgd", torch_name="SGD",
            defaults={**_SGD.defaults, "momentum": 0.0},
            summary="Gradient descent: torch.optim.SGD without momentum",
            reference="Cauchy 1847"),
    replace(_SGD, name="momentum", preset_of="sgd", torch_name="SGD",
            defaults={**_SGD.defaults, "momentum": 0.9},
            summary="Heavy-ball momentum: torch.optim.SGD(momentum=0.9)",
            reference="Polyak 1964", aliases=("heavy_ball",)),
    replace(_SGD, name="nesterov", preset_of="sgd", torch_name="SGD",
            defaults={**_SGD.defaults, "momentum": 0.9, "nesterov": True},
            summary="Nesterov momentum: torch.optim.SGD(momentum=0.9, nesterov=True)",
            reference="Nesterov 1983; Sutskever et al., ICML 2013"),
]
