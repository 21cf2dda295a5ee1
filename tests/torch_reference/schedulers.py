"""Record torch.optim.lr_scheduler tables for optlab's scheduler tests.

    python tests/torch_reference/schedulers.py     # rewrite tests/torch_reference/schedulers.npz

Every case of :data:`CASES` runs the standard loop under torch 2.13, one
trajectory at a time (one optimizer with one parameter, one param group)::

    opt = Optim([p], lr=lr[i], ...); sched = Sched(opt, **options_i)
    for t in range(steps): opt.step(); sched.step()

and records ``opt.param_groups[0]["lr"]`` after construction and after every
``sched.step()`` (and the momentum, or beta1, where a scheduler cycles it):
arrays of shape (steps + 1, n). ``options_i`` is the case's spec with every
per-trajectory value (a list of n numbers; MultiStepLR's n milestone lists)
replaced by trajectory i's. The optimizer is SGD(momentum) for
``momentum_name="momentum"``, Adam(betas=(beta1, 0.999)) for ``"betas"`` and
Adagrad (neither) otherwise.

``lr_lambda`` / ``scale_fn`` given to optlab as text are given to torch as the
Python lambdas of :data:`TORCH_FUNCTIONS`, written here by hand, so the
expression evaluator is checked too.

:func:`torch_tables` is what ``tests/test_schedulers.py`` uses to compare live.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PATH = HERE / "schedulers.npz"
STEPS = 300


def _inv_time(epoch):
    return 1.0 / (1.0 + 0.01 * epoch)


def _every_seventh(epoch):
    return 0.9 if epoch % 7 == 0 else 0.999


def _halving(x):
    return 1 / (1.0 + 0.5 * x)


# optlab's text -> the lambda torch gets (the same expression, written as Python)
TORCH_FUNCTIONS = {
    "0.95 ** epoch": lambda epoch: 0.95 ** epoch,
    "linear_warmup:10": lambda epoch: epoch / 10 if epoch < 10 else 1.0,
    "inverse_sqrt:25": lambda epoch: 1.0 / math.sqrt(max(epoch, 25) / 25),
    "0.5 * (1 + cos(pi * epoch / 120)) if epoch < 120 else 0.01":
        lambda epoch: 0.5 * (1 + math.cos(math.pi * epoch / 120)) if epoch < 120 else 0.01,
    "0.9 if epoch % 10 == 0 and epoch > 0 else 1.0": lambda epoch: 0.9 if epoch % 10 == 0 and epoch > 0 else 1.0,
    "max(0.2, exp(-epoch / 80)) + floor(epoch / 100) * 0.1":
        lambda epoch: max(0.2, math.exp(-epoch / 80)) + math.floor(epoch / 100) * 0.1,
    "0.999": lambda epoch: 0.999,
    "1 / sqrt(x)": lambda x: 1 / math.sqrt(x),
    "0.998 ** x": lambda x: 0.998 ** x,
}


def case(label, spec, lr, momentum=None, momentum_name=None, steps=STEPS):
    lr = list(lr)
    return dict(label=label, spec=spec, lr=lr, momentum=momentum, momentum_name=momentum_name, steps=steps,
                n=len(lr))


LR3 = [0.1, 0.05, 0.1]
CASES = [
    # LambdaLR / MultiplicativeLR: callables, expressions, registered names
    case("lambda_callable", {"name": "LambdaLR", "lr_lambda": _inv_time}, [0.1, 0.3]),
    case("lambda_expr_pow", {"name": "LambdaLR", "lr_lambda": "0.95 ** epoch"}, [0.1, 0.02]),
    case("lambda_expr_cos", {"name": "lambda_lr",
                             "lr_lambda": "0.5 * (1 + cos(pi * epoch / 120)) if epoch < 120 else 0.01"}, [0.1]),
    case("lambda_expr_mixed", {"name": "LambdaLR",
                               "lr_lambda": "max(0.2, exp(-epoch / 80)) + floor(epoch / 100) * 0.1"}, [0.07]),
    case("lambda_linear_warmup", {"name": "LambdaLR", "lr_lambda": "linear_warmup:10"}, [0.1, 0.2]),
    case("lambda_inverse_sqrt", {"name": "LambdaLR", "lr_lambda": "inverse_sqrt:25"}, [0.1]),
    case("multiplicative_callable", {"name": "MultiplicativeLR", "lr_lambda": _every_seventh}, [0.1, 0.3]),
    case("multiplicative_expr", {"name": "MultiplicativeLR",
                                 "lr_lambda": "0.9 if epoch % 10 == 0 and epoch > 0 else 1.0"}, [0.1]),
    # StepLR / MultiStepLR
    case("step", {"name": "StepLR", "step_size": 30, "gamma": 0.5}, [0.1, 0.3]),
    case("step_per_traj", {"name": "StepLR", "step_size": [7, 13, 7], "gamma": [0.5, 0.9, 0.3]}, LR3),
    case("multistep_dup", {"name": "MultiStepLR", "milestones": [30, 80, 80, 150], "gamma": 0.3}, [0.1, 0.7]),
    case("multistep_per_traj", {"name": "MultiStepLR", "milestones": [[10, 20], [5, 5, 250], [10, 20]],
                                "gamma": [0.5, 0.5, 0.8]}, LR3),
    # ConstantLR / LinearLR / ExponentialLR / PolynomialLR
    case("constant_default", {"name": "ConstantLR"}, [0.1, 0.3]),
    case("constant_per_traj", {"name": "ConstantLR", "factor": [0.25, 0.7, 0.25], "total_iters": [10, 40, 200]},
         LR3),
    case("linear_default", {"name": "LinearLR"}, [0.1]),
    case("linear_per_traj", {"name": "LinearLR", "start_factor": 0.1, "end_factor": [0.9, 0.3, 1.0],
                             "total_iters": [50, 120, 50]}, LR3),
    case("exponential", {"name": "ExponentialLR", "gamma": 0.99}, [0.1, 0.3]),
    case("exponential_per_traj", {"name": "ExponentialLR", "gamma": [0.97, 0.995, 0.97]}, LR3),
    case("polynomial_default", {"name": "PolynomialLR"}, [0.1]),
    case("polynomial_per_traj", {"name": "PolynomialLR", "total_iters": [100, 250, 100], "power": [2.0, 0.5, 1.5]},
         LR3),
    # CosineAnnealingLR / CosineAnnealingWarmRestarts
    case("cosine", {"name": "CosineAnnealingLR", "T_max": 50, "eta_min": 1e-4}, [0.1, 0.3]),
    case("cosine_per_traj", {"name": "CosineAnnealingLR", "T_max": [30, 77, 30], "eta_min": [0.0, 0.01, 0.001]},
         LR3),
    case("warm_restarts", {"name": "CosineAnnealingWarmRestarts", "T_0": 10, "T_mult": 2, "eta_min": 1e-5},
         [0.1, 0.3]),
    case("warm_restarts_per_traj", {"name": "CosineAnnealingWarmRestarts", "T_0": [5, 17, 5], "T_mult": [1, 3, 2]},
         LR3),
    # CyclicLR: every mode, momentum and beta1, custom scale functions, no momentum
    case("cyclic_triangular_sgd", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 20},
         [0.1, 0.5], momentum=[0.9, 0.5], momentum_name="momentum"),
    case("cyclic_triangular2_adam", {"name": "CyclicLR", "base_lr": 0.001, "max_lr": [0.01, 0.03],
                                     "step_size_up": 15, "step_size_down": 35, "mode": "triangular2",
                                     "base_momentum": 0.85, "max_momentum": 0.95},
         [0.001, 0.001], momentum=[0.9, 0.9], momentum_name="betas"),
    case("cyclic_exp_range_sgd", {"name": "CyclicLR", "base_lr": [0.01, 0.02, 0.01], "max_lr": 0.2,
                                  "step_size_up": [10, 25, 7], "mode": "exp_range", "gamma": 0.995},
         LR3, momentum=[0.9, 0.9, 0.8], momentum_name="momentum"),
    case("cyclic_exp_range_adam", {"name": "CyclicLR", "base_lr": 0.001, "max_lr": 0.006, "step_size_up": 40,
                                   "step_size_down": 10, "mode": "exp_range", "gamma": [0.99, 0.999]},
         [0.001, 0.001], momentum=[0.9, 0.8], momentum_name="betas"),
    case("cyclic_scale_fn_callable", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 12,
                                      "scale_fn": _halving, "scale_mode": "cycle"},
         [0.1], momentum=[0.9], momentum_name="momentum"),
    case("cyclic_scale_fn_expr", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 12,
                                  "scale_fn": "0.998 ** x", "scale_mode": "iterations"},
         [0.1], momentum=[0.9], momentum_name="betas"),
    case("cyclic_scale_fn_expr_cycle", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 8,
                                        "scale_fn": "1 / sqrt(x)", "cycle_momentum": False}, [0.1]),
    case("cyclic_no_momentum", {"name": "CyclicLR", "base_lr": 0.05, "max_lr": 0.5, "step_size_up": 9,
                                "cycle_momentum": False}, [0.1, 0.2]),
    # OneCycleLR: cos / linear, three phases, epochs x steps_per_epoch, per-trajectory settings
    case("onecycle_cos_sgd", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 300},
         [0.1, 0.4], momentum=[0.9, 0.0], momentum_name="momentum"),
    case("onecycle_linear_adam", {"name": "OneCycleLR", "max_lr": [0.01, 0.05], "total_steps": 320,
                                  "anneal_strategy": "linear", "pct_start": 0.25, "div_factor": 10.0},
         [0.001, 0.001], momentum=[0.9, 0.9], momentum_name="betas"),
    case("onecycle_three_phase_sgd", {"name": "OneCycleLR", "max_lr": 0.2, "epochs": 10, "steps_per_epoch": 31,
                                      "three_phase": True, "final_div_factor": 100.0, "base_momentum": 0.8},
         [0.1], momentum=[0.9], momentum_name="momentum"),
    case("onecycle_three_phase_linear_adam", {"name": "OneCycleLR", "max_lr": 0.02, "total_steps": 300,
                                              "three_phase": True, "anneal_strategy": "linear",
                                              "pct_start": 0.35},
         [0.001], momentum=[0.95], momentum_name="betas"),
    case("onecycle_per_traj", {"name": "OneCycleLR", "max_lr": [0.1, 0.3, 0.1], "total_steps": [300, 450, 300],
                               "pct_start": [0.3, 0.1, 0.45]},
         LR3, momentum=[0.9, 0.9, 0.9], momentum_name="momentum"),
    case("onecycle_no_momentum", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 310, "cycle_momentum": False},
         [0.1]),
    # SequentialLR: warm-up then decay, closed forms at milestones, restarts, quirks
    case("seq_warmup_cosine", {"name": "SequentialLR", "milestones": [20], "schedulers": [
        {"name": "LinearLR", "start_factor": 0.01, "total_iters": 20},
        {"name": "CosineAnnealingLR", "T_max": 280}]}, [0.1, 0.3]),
    case("seq_warmup_per_traj", {"name": "SequentialLR", "milestones": [40], "schedulers": [
        {"name": "LinearLR", "start_factor": [0.1, 0.5, 0.1], "total_iters": [10, 40, 25]},
        {"name": "ExponentialLR", "gamma": [0.99, 0.98, 0.99]}]}, LR3),
    case("seq_three", {"name": "SequentialLR", "milestones": [10, 50], "schedulers": [
        {"name": "ConstantLR", "factor": 0.5, "total_iters": 5},
        {"name": "ExponentialLR", "gamma": 0.97},
        {"name": "StepLR", "step_size": 20, "gamma": 0.5}]}, [0.1]),
    case("seq_closed_forms", {"name": "SequentialLR", "milestones": [15, 60, 120], "schedulers": [
        {"name": "MultiStepLR", "milestones": [5, 10], "gamma": 0.5},
        {"name": "PolynomialLR", "total_iters": 30, "power": 2.0},
        {"name": "CosineAnnealingLR", "T_max": 25, "eta_min": 0.001},
        {"name": "LinearLR", "start_factor": 0.5, "total_iters": 40}]}, [0.1, 0.2]),
    case("seq_closed_forms_per_traj", {"name": "SequentialLR", "milestones": [20, 40, 60], "schedulers": [
        {"name": "ExponentialLR", "gamma": 0.95},
        {"name": "ConstantLR", "factor": [0.5, 0.25, 0.5], "total_iters": 10},
        {"name": "MultiStepLR", "milestones": [[0, 5], [3, 3], [0, 5]], "gamma": 0.5},
        {"name": "LambdaLR", "lr_lambda": "0.95 ** epoch"}]}, LR3),
    case("seq_restarts_lambda", {"name": "SequentialLR", "milestones": [30, 100], "schedulers": [
        {"name": "LambdaLR", "lr_lambda": "linear_warmup:10"},
        {"name": "CosineAnnealingWarmRestarts", "T_0": 20, "T_mult": 2},
        {"name": "MultiplicativeLR", "lr_lambda": "0.999"}]}, [0.1]),
    case("seq_onecycle_second", {"name": "SequentialLR", "milestones": [25], "schedulers": [
        {"name": "ConstantLR", "factor": 0.1, "total_iters": 100},
        {"name": "OneCycleLR", "max_lr": 0.5, "total_steps": 400}]},
         [0.1], momentum=[0.9], momentum_name="momentum"),
    case("seq_cyclic_first", {"name": "SequentialLR", "milestones": [50], "schedulers": [
        {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10},
        {"name": "ExponentialLR", "gamma": 0.99}]},
         [0.1], momentum=[0.9], momentum_name="betas"),
    case("seq_chained_first", {"name": "SequentialLR", "milestones": [40], "schedulers": [
        {"name": "ChainedScheduler", "schedulers": [{"name": "ConstantLR", "factor": 0.5, "total_iters": 20},
                                                    {"name": "ExponentialLR", "gamma": 0.98}]},
        {"name": "StepLR", "step_size": 25, "gamma": 0.5}]}, [0.1]),
    # ChainedScheduler
    case("chain_constant_exponential", {"name": "ChainedScheduler", "schedulers": [
        {"name": "ConstantLR", "factor": 0.2, "total_iters": 12},
        {"name": "ExponentialLR", "gamma": [0.99, 0.995]}]}, [0.1, 0.3]),
    case("chain_onecycle_step", {"name": "ChainedScheduler", "schedulers": [
        {"name": "OneCycleLR", "max_lr": 0.2, "total_steps": 300, "three_phase": True},
        {"name": "StepLR", "step_size": 40, "gamma": 0.7}]},
         [0.1], momentum=[0.9], momentum_name="betas"),
    case("chain_linear_cyclic", {"name": "ChainedScheduler", "schedulers": [
        {"name": "LinearLR", "start_factor": 0.5, "total_iters": 30},
        {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.05, "step_size_up": 13, "mode": "triangular2"}]},
         [0.1], momentum=[0.9], momentum_name="momentum"),
    case("chain_sequential_cosine", {"name": "ChainedScheduler", "schedulers": [
        {"name": "SequentialLR", "milestones": [10], "schedulers": [
            {"name": "LinearLR", "start_factor": 0.1, "total_iters": 10},
            {"name": "ConstantLR", "factor": 1.0, "total_iters": 1}]},
        {"name": "CosineAnnealingLR", "T_max": 100, "eta_min": 0.0}]}, [0.1, 0.05]),
]


# ----------------------------------------------------------------------------- torch side

def _torch_fn(v):
    if isinstance(v, str):
        return TORCH_FUNCTIONS[v]
    return v


def _one(value, i, n, key):
    """Trajectory i's value of an option: lists of n are per trajectory (for milestones: n lists)."""
    if key == "milestones":
        if value and all(isinstance(m, (list, tuple)) for m in value):
            return list(value[i])
        return list(value)
    if isinstance(value, (list, tuple, np.ndarray)) and key != "schedulers":
        assert len(value) == n, (key, value)
        return value[i]
    return value


def _build(torch, opt, spec, i, n):
    lrs = torch.optim.lr_scheduler
    name = {"lambda_lr": "LambdaLR"}.get(spec["name"], spec["name"])
    kw = {}
    for k, v in spec.items():
        if k == "name":
            continue
        if k == "schedulers":
            kw[k] = [_build(torch, opt, c, i, n) for c in v]
        elif k in ("lr_lambda", "scale_fn"):
            kw[k] = _torch_fn(v)
        else:
            kw[k] = _one(v, i, n, k)
    if name == "ChainedScheduler":
        return lrs.ChainedScheduler(kw["schedulers"], opt)
    return getattr(lrs, name)(opt, **kw)


def _optimizer(torch, lr, momentum, momentum_name):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    if momentum_name == "momentum":
        return p, torch.optim.SGD([p], lr=lr, momentum=momentum)
    if momentum_name == "betas":
        return p, torch.optim.Adam([p], lr=lr, betas=(momentum, 0.999))
    return p, torch.optim.Adagrad([p], lr=lr)


def torch_tables(spec, lr, steps, momentum=None, momentum_name=None):
    """(lr (steps + 1, n), momentum (steps + 1, n) or None) of ``spec`` under torch, trajectory by trajectory."""
    import torch
    n = len(lr)
    lrs = np.empty((steps + 1, n))
    moms = np.empty((steps + 1, n)) if momentum_name else None
    for i in range(n):
        p, opt = _optimizer(torch, lr[i], None if momentum is None else momentum[i], momentum_name)
        group = opt.param_groups[0]

        def record(t):
            lrs[t, i] = group["lr"]
            if moms is not None:
                moms[t, i] = group["betas"][0] if momentum_name == "betas" else group["momentum"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = _build(torch, opt, spec, i, n)
            record(0)
            for t in range(1, steps + 1):
                p.grad = torch.ones_like(p)
                opt.step()
                sched.step()
                record(t)
    return lrs, moms


def run_case(c):
    return torch_tables(c["spec"], c["lr"], c["steps"], c["momentum"], c["momentum_name"])


def write():
    import torch
    arrays = {}
    for c in CASES:
        lr, mom = run_case(c)
        arrays[f"{c['label']}__lr"] = lr
        if mom is not None:
            arrays[f"{c['label']}__momentum"] = mom
    meta = {"torch": torch.__version__, "steps": STEPS, "cases": [c["label"] for c in CASES]}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(PATH, **arrays)
    print(f"{PATH.name}: {len(CASES)} cases")


def load():
    """(meta dict, arrays) of the recorded file."""
    with np.load(PATH, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


if __name__ == "__main__":
    write()
