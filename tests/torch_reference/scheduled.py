"""Record torch.optim runs under torch.optim.lr_scheduler for optlab's scheduled-engine parity tests.

    python tests/torch_reference/scheduled.py     # rewrite tests/torch_reference/scheduled.npz

Every case runs torch's standard loop under torch 2.13 (float64 parameters,
the CPU single-tensor path), one trajectory at a time::

    opt = Optim([p], **hyper); sched = Sched(opt, **options)
    for t in range(steps):
        f, g = objective(x_t)              # optlab's own value and gradient
        p.grad = g; opt.step()
        sched.step()                       # ReduceLROnPlateau: sched.step(f)

and records x after every step and the lr in effect at every step
(``opt.param_groups[0]["lr"]`` before step t; the last row is the lr after the
last ``sched.step()``), as ``optlab.simulate(..., scheduler=spec)`` returns
them in ``res.x`` and ``res.lr`` with ``record_every=1``. ``p.grad`` comes from
``optlab.objectives.get(name).grad`` as in ``generate.py``, so the comparison
isolates the optimizer and its schedule; ReduceLROnPlateau's ``f`` is the
objective's value at x before the update, the loss optlab's kernel hands to
its in-kernel ``step(loss)``.

Cases (:func:`cases`):

* every one of the 15 schedulers with at least two settings (:data:`SCHEDULES`),
  each with SGD (momentum 0.9), Adam and one more optimizer, rotating so that
  every optimizer torch has (L-BFGS excepted: it takes no scheduler) and
  optlab's SGD presets appear; 2-D Rosenbrock, and the first setting of each
  scheduler also on a 2-D quadratic; ReduceLROnPlateau also with ``mode="max"``
  on maximize runs (ascent on the quadratic). ``nesterov_lookahead`` is left
  out: optlab's own look-ahead form, not a torch optimizer, and equal to
  torch's Nesterov only at a constant lr (its velocity carries the lr);
* CyclicLR and OneCycleLR with ``cycle_momentum`` on every optimizer whose
  torch defaults have ``momentum`` or ``betas`` (torch's rule), RMSprop with
  momentum 0.5 and with momentum 0 (the scheduler sets it) (:data:`MOMENTUM`);
* per-trajectory options, n = 3 in one optlab call, torch one trajectory at a
  time (:data:`PER_TRAJECTORY`).

``lr_lambda`` given to optlab as text is given to torch as the Python lambda
of ``schedulers.TORCH_FUNCTIONS``; the schedulers are built by
``schedulers.py``'s builder, the one the table tests use.

:func:`cases` and :func:`run_case` are what ``tests/test_scheduled.py`` uses to
regenerate live.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import generate  # noqa: E402
import schedulers as sched_ref  # noqa: E402

PATH = HERE / "scheduled.npz"
STEPS = 150

OBJECTIVES = {
    "rosen2d": ("rosenbrock", {}, [-1.5, 2.0]),
    "quad2d": ("quadratic", {"cond": 50.0, "angle": 30.0}, [1.0, -0.8]),
}

# optimizer -> its hyperparameters in every scheduled case (torch's keywords; small enough that
# every schedule here stays bounded)
BASE = {
    "sgd": dict(lr=1e-3, momentum=0.9),
    "adam": dict(lr=1e-2),
    "rmsprop": dict(lr=1e-3, momentum=0.5),
    "adagrad": dict(lr=0.1),
    "nadam": dict(lr=5e-3),
    "adamw": dict(lr=1e-2, weight_decay=0.05),
    "radam": dict(lr=1e-2),
    "asgd": dict(lr=1e-3, lambd=1e-3, t0=50.0),
    "rprop": dict(lr=1e-2),
    "adamax": dict(lr=1e-2),
    "adadelta": dict(lr=1.0),
    "muon": dict(lr=1e-2),
    "adafactor": dict(lr=0.03, weight_decay=0.05),  # its decay factor follows the scheduled lr
    "gd": dict(lr=1.5e-3),
    "momentum": dict(lr=5e-4),
    "nesterov": dict(lr=5e-4),
    "sparse_adam": dict(lr=1e-2),
}

# (label, spec of the optimizer's lr, third optimizer): every scheduler, at least two settings;
# each runs with sgd, adam and the third. Absolute rates (CyclicLR, OneCycleLR, eta_min, min_lr)
# are multiples of the optimizer's lr.
SCHEDULES = [
    ("lambda_expr", lambda lr: {"name": "LambdaLR", "lr_lambda": "0.95 ** epoch"}, "rmsprop"),
    ("lambda_registered", lambda lr: {"name": "lambda_lr", "lr_lambda": "linear_warmup:10"}, "adagrad"),
    ("multiplicative_const", lambda lr: {"name": "MultiplicativeLR", "lr_lambda": "0.999"}, "nadam"),
    ("multiplicative_every_10", lambda lr: {"name": "MultiplicativeLR",
                                            "lr_lambda": "0.9 if epoch % 10 == 0 and epoch > 0 else 1.0"},
     "adamw"),
    ("step_30", lambda lr: {"name": "StepLR", "step_size": 30, "gamma": 0.5}, "radam"),
    ("step_7", lambda lr: {"name": "step_lr", "step_size": 7, "gamma": 0.8}, "asgd"),
    ("multistep_dup", lambda lr: {"name": "MultiStepLR", "milestones": [20, 60, 60, 100], "gamma": 0.3}, "rprop"),
    ("multistep_one", lambda lr: {"name": "MultiStepLR", "milestones": [50]}, "adamax"),
    # a milestone at 0 applies at construction (torch's last_epoch 0); twice: gamma ** 2
    ("multistep_at_0", lambda lr: {"name": "MultiStepLR", "milestones": [0, 0, 40], "gamma": 0.7}, "adafactor"),
    ("constant_default", lambda lr: {"name": "ConstantLR"}, "adadelta"),
    ("constant_half_60", lambda lr: {"name": "ConstantLR", "factor": 0.5, "total_iters": 60}, "muon"),
    ("linear_default", lambda lr: {"name": "LinearLR"}, "adafactor"),
    ("linear_100", lambda lr: {"name": "LinearLR", "start_factor": 0.1, "end_factor": 0.5, "total_iters": 100},
     "rprop"),
    ("exponential_098", lambda lr: {"name": "ExponentialLR", "gamma": 0.98}, "gd"),
    ("exponential_0995", lambda lr: {"name": "ExponentialLR", "gamma": 0.995}, "momentum"),
    ("polynomial_120_sq", lambda lr: {"name": "PolynomialLR", "total_iters": 120, "power": 2.0}, "nesterov"),
    ("polynomial_200_sqrt", lambda lr: {"name": "PolynomialLR", "total_iters": 200, "power": 0.5}, "sparse_adam"),
    ("cosine_150", lambda lr: {"name": "CosineAnnealingLR", "T_max": 150}, "adagrad"),
    ("cosine_40_eta", lambda lr: {"name": "CosineAnnealingLR", "T_max": 40, "eta_min": lr * 0.1}, "nadam"),
    ("warm_restarts_30", lambda lr: {"name": "CosineAnnealingWarmRestarts", "T_0": 30}, "adamw"),
    ("warm_restarts_10x2", lambda lr: {"name": "CosineAnnealingWarmRestarts", "T_0": 10, "T_mult": 2,
                                       "eta_min": lr * 0.01}, "radam"),
    ("cyclic_triangular", lambda lr: {"name": "CyclicLR", "base_lr": lr * 0.2, "max_lr": lr * 1.5,
                                      "step_size_up": 20}, "muon"),
    ("cyclic_exp_range", lambda lr: {"name": "CyclicLR", "base_lr": lr * 0.1, "max_lr": lr, "step_size_up": 15,
                                     "step_size_down": 25, "mode": "exp_range", "gamma": 0.99,
                                     "cycle_momentum": False}, "asgd"),
    ("onecycle_cos", lambda lr: {"name": "OneCycleLR", "max_lr": lr * 1.5, "total_steps": STEPS}, "rmsprop"),
    ("onecycle_linear_3phase", lambda lr: {"name": "one_cycle_lr", "max_lr": lr, "total_steps": 160,
                                           "anneal_strategy": "linear", "three_phase": True,
                                           "cycle_momentum": False}, "adafactor"),
    ("sequential_warmup_cosine", lambda lr: {"name": "SequentialLR", "milestones": [20], "schedulers": [
        {"name": "LinearLR", "start_factor": 0.01, "total_iters": 20},
        {"name": "CosineAnnealingLR", "T_max": STEPS - 20}]}, "adamax"),
    ("sequential_three", lambda lr: {"name": "SequentialLR", "milestones": [30, 80], "schedulers": [
        {"name": "ConstantLR", "factor": 0.5, "total_iters": 10},
        {"name": "ExponentialLR", "gamma": 0.98},
        {"name": "StepLR", "step_size": 20, "gamma": 0.5}]}, "adadelta"),
    ("chained_constant_exponential", lambda lr: {"name": "ChainedScheduler", "schedulers": [
        {"name": "ConstantLR", "factor": 0.2, "total_iters": 12},
        {"name": "ExponentialLR", "gamma": 0.99}]}, "sparse_adam"),
    ("chained_linear_step", lambda lr: {"name": "chained_scheduler", "schedulers": [
        {"name": "LinearLR", "start_factor": 0.5, "total_iters": 30},
        {"name": "StepLR", "step_size": 40, "gamma": 0.7}]}, "momentum"),
    ("plateau_rel", lambda lr: {"name": "ReduceLROnPlateau", "factor": 0.5, "patience": 5, "threshold": 1e-2},
     "nesterov"),
    ("plateau_abs_cooldown_min_lr", lambda lr: {"name": "ReduceLROnPlateau", "threshold_mode": "abs",
                                                "threshold": 1e-3, "patience": 3, "cooldown": 5, "factor": 0.5,
                                                "min_lr": lr * 0.1}, "adafactor"),
]

# maximize runs (ascent on the quadratic) under ReduceLROnPlateau(mode="max"): (label, spec, optimizers)
ASCENT = [
    ("plateau_max_rel", lambda lr: {"name": "ReduceLROnPlateau", "mode": "max", "patience": 2, "threshold": 0.05,
                                    "factor": 0.7, "eps": lr * 0.05}, ("sgd", "adam", "rmsprop")),
    ("plateau_max_abs", lambda lr: {"name": "ReduceLROnPlateau", "mode": "max", "threshold_mode": "abs",
                                    "threshold": 0.1, "patience": 1, "factor": 0.5}, ("nadam",)),
]

# momentum-cycling schedulers on every optimizer whose torch defaults have momentum or betas:
# (variant label, optimizer, its hyperparameters)
MOMENTUM_OPTIMIZERS = [
    ("sgd", "sgd", BASE["sgd"]),
    ("gd", "gd", BASE["gd"]),
    ("momentum", "momentum", BASE["momentum"]),
    ("nesterov", "nesterov", BASE["nesterov"]),
    ("adam", "adam", BASE["adam"]),
    ("adamw", "adamw", BASE["adamw"]),
    ("adamax", "adamax", BASE["adamax"]),
    ("nadam", "nadam", BASE["nadam"]),
    ("radam", "radam", BASE["radam"]),
    ("rmsprop", "rmsprop", BASE["rmsprop"]),
    ("rmsprop_m0", "rmsprop", dict(lr=1e-3, momentum=0.0)),  # the scheduler's momentum makes it a momentum run
    ("muon", "muon", BASE["muon"]),
    ("sparse_adam", "sparse_adam", BASE["sparse_adam"]),
]
MOMENTUM = [
    ("cyclic_momentum", lambda lr: {"name": "CyclicLR", "base_lr": lr * 0.2, "max_lr": lr * 1.5,
                                    "step_size_up": 25, "base_momentum": 0.8, "max_momentum": 0.95}),
    ("onecycle_momentum", lambda lr: {"name": "OneCycleLR", "max_lr": lr * 1.5, "total_steps": STEPS}),
]

# n = 3 trajectories in one optlab call: (label, optimizer, spec, per-trajectory hyperparameters)
PER_TRAJECTORY = [
    ("step_size_per_traj", "sgd", {"name": "StepLR", "step_size": [10, 20, 30], "gamma": 0.5}, {}),
    ("linear_total_iters_per_traj", "adam", {"name": "LinearLR", "start_factor": [0.1, 0.3, 0.1],
                                             "total_iters": [20, 50, 100]}, {}),
    ("onecycle_max_lr_per_traj", "nadam", {"name": "OneCycleLR", "max_lr": [5e-3, 7.5e-3, 1e-2],
                                           "total_steps": STEPS}, {}),
    ("cyclic_per_traj", "sgd", {"name": "CyclicLR", "base_lr": 2e-4, "max_lr": [1e-3, 1.5e-3, 1e-3],
                                "step_size_up": [10, 10, 30], "max_momentum": [0.9, 0.95, 0.9]}, {}),
    ("warm_restarts_per_traj", "rmsprop", {"name": "CosineAnnealingWarmRestarts", "T_0": [5, 17, 5],
                                           "T_mult": [1, 2, 3]}, {}),
    ("multistep_per_traj", "adamw", {"name": "MultiStepLR", "milestones": [[20, 40], [30], [20, 40, 40]],
                                     "gamma": 0.5}, {}),
    ("cosine_lr_sweep", "adam", {"name": "CosineAnnealingLR", "T_max": STEPS}, {"lr": [2e-3, 5e-3, 1e-2]}),
    ("sequential_per_traj", "radam", {"name": "SequentialLR", "milestones": [25], "schedulers": [
        {"name": "LinearLR", "start_factor": [0.05, 0.2, 0.05], "total_iters": 25},
        {"name": "ExponentialLR", "gamma": [0.99, 0.98, 0.995]}]}, {}),
    ("plateau_per_traj", "sgd", {"name": "ReduceLROnPlateau", "factor": [0.5, 0.2, 0.5], "patience": [3, 5, 8],
                                 "threshold": 1e-2}, {}),
]
N_PER_TRAJECTORY = 3


def _case(name, group, optimizer, key, spec, kwargs, per_traj=None, n=1):
    objective, options, x0 = OBJECTIVES[key]
    return dict(name=name, group=group, optimizer=optimizer, key=key, objective=objective, options=dict(options),
                x0=[list(x0) for _ in range(n)], kwargs=dict(kwargs), per_traj=dict(per_traj or {}),
                scheduler=spec, n=n, steps=STEPS)


def _top(spec):
    import optlab.schedulers
    return optlab.schedulers.canonical(spec["name"])


def cases():
    """Every case: name, group (the top scheduler's class), optimizer, objective key/name/options,
    x0 (n starts, all the same: a scheduler's per-trajectory options apply to the trajectories
    that x0 and the hyperparameters make, they do not make trajectories), kwargs (scalar
    hyperparameters), per_traj (hyperparameter -> n values), scheduler (the spec, per-trajectory
    options as lists of n), n, steps."""
    out = []
    seen = set()
    for label, make, third in SCHEDULES:
        spec0 = make(1.0)
        top = _top(spec0)
        keys = ("rosen2d",) if top in seen else ("rosen2d", "quad2d")  # a scheduler's first setting: both
        seen.add(top)
        for opt in ("sgd", "adam", third):
            kw = BASE[opt]
            for key in keys:
                out.append(_case(f"{label}__{opt}__{key}", top, opt, key, make(kw["lr"]), kw))
    for label, make, opts in ASCENT:
        for opt in opts:
            kw = {**BASE[opt], "maximize": True}
            out.append(_case(f"{label}__{opt}__quad2d", "ReduceLROnPlateau", opt, "quad2d", make(kw["lr"]), kw))
    for label, make in MOMENTUM:
        for variant, opt, kw in MOMENTUM_OPTIMIZERS:
            spec = make(kw["lr"])
            out.append(_case(f"{label}__{variant}__rosen2d", _top(spec), opt, "rosen2d", spec, kw))
    for label, opt, spec, per in PER_TRAJECTORY:
        kw = {k: v for k, v in BASE[opt].items() if k not in per}
        out.append(_case(f"{label}__{opt}__rosen2d", _top(spec), opt, "rosen2d", spec, kw, per,
                         n=N_PER_TRAJECTORY))
    names = [c["name"] for c in out]
    assert len(set(names)) == len(names), "case names must be unique"
    return out


def _torch_names(spec):
    """``spec`` with every scheduler named by its torch class (optlab also takes the snake_case)."""
    out = {**spec, "name": _top(spec)}
    if "schedulers" in spec:
        out["schedulers"] = [_torch_names(c) for c in spec["schedulers"]]
    return out


def hyper(case):
    """optlab's keyword arguments: the scalar hyperparameters and the per-trajectory lists."""
    return {**case["kwargs"], **case["per_traj"]}


def run_case(case):
    """Run one case under torch, trajectory by trajectory: {"x": (n, steps+1, D), "lr": (n, steps+1)}.

    torch runs single-threaded here (the tensors are tiny; see ``generate.run_case``).
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [_run_one(case, i, torch) for i in range(case["n"])]
    finally:
        torch.set_num_threads(threads)
    return {"x": np.stack([r[0] for r in runs]), "lr": np.stack([r[1] for r in runs])}


def _run_one(case, i, torch):
    kwargs = {**case["kwargs"], **{k: v[i] for k, v in case["per_traj"].items()}}
    cls_name, kw = generate.torch_setup(case["optimizer"], kwargs)
    fg = generate._gradient_fn(case)
    p = torch.tensor(np.asarray(case["x0"][i], dtype=np.float64), dtype=torch.float64, requires_grad=True)
    if cls_name == "Muon":  # 2-D parameters only: optlab's x is one 1 x D matrix
        p = p.detach().reshape(1, -1).requires_grad_(True)
    opt = getattr(torch.optim, cls_name)([p], **kw)
    group = opt.param_groups[0]
    plateau = _top(case["scheduler"]) == "ReduceLROnPlateau"
    xs = [p.detach().numpy().reshape(-1).copy()]
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = sched_ref._build(torch, opt, _torch_names(case["scheduler"]), i, case["n"])
        for step in range(case["steps"]):
            lrs.append(float(group["lr"]))
            f, g = fg(p.detach().numpy().reshape(-1).copy(), step)
            grad = torch.from_numpy(g.copy()).reshape(p.shape)
            p.grad = grad.to_sparse() if cls_name == "SparseAdam" else grad
            opt.step()
            if plateau:
                sched.step(f)
            else:
                sched.step()
            xs.append(p.detach().numpy().reshape(-1).copy())
        lrs.append(float(group["lr"]))
    return np.vstack(xs), np.asarray(lrs)


def write():
    import torch
    arrays = {}
    meta = []
    for case in cases():
        res = run_case(case)
        if not np.isfinite(res["x"]).all() or np.abs(res["x"]).max() > 1e3:
            raise SystemExit(f"case {case['name']} does not stay bounded; pick a smaller lr")
        meta.append(case)
        for k, v in res.items():
            arrays[f"{case['name']}__{k}"] = v
    arrays["meta"] = np.array(json.dumps({"torch": torch.__version__, "cases": meta}))
    np.savez_compressed(PATH, **arrays)
    print(f"{PATH.name}: {len(meta)} cases, {PATH.stat().st_size / 1024:.0f} KiB")


def load():
    """(meta dict, arrays) of the recorded file."""
    with np.load(PATH, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


if __name__ == "__main__":
    write()
