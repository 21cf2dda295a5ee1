"""optlab.schedulers against torch.optim.lr_scheduler 2.13, bit for bit.

(a) offline: every case of ``tests/torch_reference/schedulers.py`` (recorded
    under torch 2.13 into ``schedulers.npz``) against ``plan()``: lr and
    momentum/beta1 tables equal with ``==`` at every one of 300 steps;
(b) live (``-m parity``, needs torch): the same cases regenerated, torch's
    class list and signatures, torch's error messages, and
    ``plateau_reference`` against ``ReduceLROnPlateau.step``;
(c) plain checks: rows and index, names, the expression language, option errors.
"""
from __future__ import annotations

import ast
import inspect
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import optlab.schedulers as S
from optlab.errors import OptlabError

REF = Path(__file__).resolve().parent / "torch_reference"
sys.path.insert(0, str(REF))
import schedulers as ref  # noqa: E402

CASES = {c["label"]: c for c in ref.CASES}


def plan_case(c, **kw):
    return S.plan(c["spec"], c["lr"], kw.pop("steps", c["steps"]), momentum=c["momentum"],
                  momentum_name=c["momentum_name"], n=c["n"], **kw)


def assert_same_tables(c, p, torch_lr, torch_momentum):
    """optlab's tables, one column per trajectory, equal torch's bit for bit (``==``)."""
    lr = p.lr[:, p.index]
    assert lr.shape == torch_lr.shape
    bad = np.argwhere(lr != torch_lr)
    assert not len(bad), (f"{c['label']}: {len(bad)} lr values differ, first at (step, trajectory) "
                          f"{tuple(bad[0])}: {lr[tuple(bad[0])]!r} != torch {torch_lr[tuple(bad[0])]!r}")
    if p.momentum is None:  # no scheduler set the momentum: torch's stays the optimizer's
        assert torch_momentum is None or (torch_momentum == torch_momentum[0]).all(), c["label"]
    else:
        mom = p.momentum[:, p.index]
        bad = np.argwhere(mom != torch_momentum)
        assert not len(bad), (f"{c['label']}: {len(bad)} momentum values differ, first at {tuple(bad[0])}: "
                              f"{mom[tuple(bad[0])]!r} != torch {torch_momentum[tuple(bad[0])]!r}")


def _names_in(spec):
    yield S.canonical(spec["name"])
    for child in spec.get("schedulers", ()):
        yield from _names_in(child)


# ----------------------------------------------------------------------------- (a) offline reference

def test_reference_file_has_every_case_and_covers_every_table_scheduler():
    meta, arrays = ref.load()
    assert meta["cases"] == list(CASES) and meta["torch"].startswith("2.13")
    used = {name for c in ref.CASES for name in _names_in(c["spec"])}
    assert used == set(S.NAMES) - {"ReduceLROnPlateau"}  # plateau: plateau_reference, below
    per_traj = [c["label"] for c in ref.CASES
                if any(isinstance(v, list) and len(v) == c["n"] > 1 for v in c["spec"].values())]
    assert len(per_traj) >= 10
    assert sum(1 for c in ref.CASES if c["momentum_name"] == "betas") >= 4
    assert REF.joinpath("schedulers.npz").stat().st_size < 400_000


@pytest.mark.parametrize("label", list(CASES))
def test_offline_reference(label):
    c = CASES[label]
    _, arrays = ref.load()
    p = plan_case(c)
    assert_same_tables(c, p, arrays[f"{label}__lr"], arrays.get(f"{label}__momentum"))


# ----------------------------------------------------------------------------- (b) live torch

@pytest.mark.parity
@pytest.mark.parametrize("label", list(CASES))
def test_live_parity(label):
    pytest.importorskip("torch")
    c = CASES[label]
    assert_same_tables(c, plan_case(c), *ref.run_case(c))


@pytest.mark.parity
def test_names_are_torch_scheduler_classes():
    """A torch release that adds a scheduler fails here until it is ported."""
    lrs = pytest.importorskip("torch.optim.lr_scheduler")
    classes = {n for n, o in vars(lrs).items()
               if inspect.isclass(o) and issubclass(o, lrs.LRScheduler) and o.__module__ == lrs.__name__}
    assert set(S.NAMES) == classes - {"LRScheduler", "_LRScheduler"}
    assert set(S.NAMES) == set(lrs.__all__) - {"LRScheduler"}
    assert len(S.NAMES) == 15


@pytest.mark.parity
@pytest.mark.parametrize("name", S.NAMES)
def test_defaults_and_required_are_torch_signatures(name):
    lrs = pytest.importorskip("torch.optim.lr_scheduler")
    params = [p for p in inspect.signature(getattr(lrs, name).__init__).parameters.values()
              if p.name not in ("self", "optimizer", "last_epoch")]
    want = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    assert S.defaults(name) == want and list(S.defaults(name)) == list(want)  # values and signature order
    assert S.required(name) == tuple(p.name for p in params if p.default is inspect.Parameter.empty)


# (label, spec, steps, momentum_name, torch's exception type, torch's message); "run": raised by step()
ERRORS = [
    ("T_0", {"name": "CosineAnnealingWarmRestarts", "T_0": -1}, 5, None, "ValueError",
     "Expected positive integer T_0, but got -1"),
    ("T_0_float", {"name": "CosineAnnealingWarmRestarts", "T_0": 2.0}, 5, None, "ValueError",
     "Expected positive integer T_0, but got 2.0"),
    ("T_mult", {"name": "CosineAnnealingWarmRestarts", "T_0": 3, "T_mult": 0}, 5, None, "ValueError",
     "Expected integer T_mult >= 1, but got 0"),
    ("constant_factor", {"name": "ConstantLR", "factor": 1.5}, 5, None, "ValueError",
     "Constant multiplicative factor expected to be between 0 and 1."),
    ("linear_start", {"name": "LinearLR", "start_factor": 0.0}, 5, None, "ValueError",
     "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    ("linear_end", {"name": "LinearLR", "end_factor": 1.5}, 5, None, "ValueError",
     "Ending multiplicative factor expected to be between 0 and 1."),
    ("onecycle_total", {"name": "OneCycleLR", "max_lr": 0.1}, 5, "momentum", "ValueError",
     "You must define either total_steps OR (epochs AND steps_per_epoch)"),
    ("onecycle_total_0", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 0}, 5, "momentum", "ValueError",
     "Expected positive integer total_steps, but got 0"),
    ("onecycle_epochs", {"name": "OneCycleLR", "max_lr": 0.1, "epochs": -2, "steps_per_epoch": 3}, 5, "momentum",
     "ValueError", "Expected positive integer epochs, but got -2"),
    ("onecycle_pct_int", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 1}, 5, "momentum",
     "ValueError", "Expected float between 0 and 1 pct_start, but got 1"),
    ("onecycle_anneal", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "anneal_strategy": "sin"}, 5,
     "momentum", "ValueError", "anneal_strategy must be one of 'cos' or 'linear', instead got sin"),
    ("onecycle_no_momentum", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}, 5, None, "ValueError",
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
    ("cyclic_mode", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "mode": "saw"}, 5, "betas", "ValueError",
     "mode is invalid and scale_fn is None"),
    ("multiplicative_not_function", {"name": "MultiplicativeLR", "lr_lambda": 3}, 5, None, "TypeError",
     "lr_lambda should be a function, but got int"),
    ("missing", {"name": "StepLR"}, 5, None, "TypeError",
     "StepLR.__init__() missing 1 required positional argument: 'step_size'"),
    ("seq_milestones", {"name": "SequentialLR", "milestones": [3, 6], "schedulers": [
        {"name": "ExponentialLR", "gamma": 0.9}, {"name": "StepLR", "step_size": 2}]}, 5, None, "ValueError",
     "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone "
     "points, but got number of schedulers 2 and the number of milestones to be equal to 2"),
    ("seq_empty", {"name": "SequentialLR", "milestones": [], "schedulers": []}, 5, None, "ValueError",
     "SequentialLR expects at least one scheduler, but got no scheduler."),
    ("chain_empty", {"name": "ChainedScheduler", "schedulers": []}, 5, None, "ValueError",
     "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler."),
    ("chain_plateau", {"name": "ChainedScheduler", "schedulers": [
        {"name": "ExponentialLR", "gamma": 0.9}, {"name": "ReduceLROnPlateau"}]}, 5, None, "ValueError",
     "ChainedScheduler does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to be "
     "specified when calling `step`, but got one at index 1 in the given schedulers sequence."),
    ("seq_plateau", {"name": "SequentialLR", "milestones": [2], "schedulers": [
        {"name": "ReduceLROnPlateau"}, {"name": "ExponentialLR", "gamma": 0.9}]}, 5, None, "ValueError",
     "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to be "
     "specified when calling `step`, but got one at index 0 in the given schedulers sequence."),
    ("plateau_factor", {"name": "ReduceLROnPlateau", "factor": 1.0}, 5, None, "ValueError", "Factor should be < 1.0."),
    ("plateau_mode", {"name": "ReduceLROnPlateau", "mode": "up"}, 5, None, "ValueError", "mode up is unknown!"),
    ("plateau_threshold_mode", {"name": "ReduceLROnPlateau", "threshold_mode": "log"}, 5, None, "ValueError",
     "threshold mode log is unknown!"),
    # raised by torch's step(), mid-run
    ("run_onecycle_past_total", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}, 11, "momentum",
     "ValueError", "Tried to step 11 times. The specified number of total steps is 10"),
    ("run_step_size_0", {"name": "StepLR", "step_size": 0}, 3, None, "ZeroDivisionError",
     "integer modulo by zero"),
    ("run_constant_factor_0", {"name": "ConstantLR", "factor": 0.0, "total_iters": 2}, 3, None, "ZeroDivisionError",
     "float division by zero"),
    ("run_onecycle_empty_phase", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 0.1}, 3,
     "betas", "ZeroDivisionError", "float division by zero"),
    ("run_polynomial_negative_power", {"name": "PolynomialLR", "total_iters": 4, "power": -1.0}, 6, None,
     "ZeroDivisionError", "0.0 cannot be raised to a negative power"),
    ("run_seq_linear_closed_form", {"name": "SequentialLR", "milestones": [3], "schedulers": [
        {"name": "ExponentialLR", "gamma": 0.9}, {"name": "LinearLR", "total_iters": 0}]}, 5, None,
     "ZeroDivisionError", "float division by zero"),
    ("run_seq_to_chained", {"name": "SequentialLR", "milestones": [3], "schedulers": [
        {"name": "ExponentialLR", "gamma": 0.9},
        {"name": "ChainedScheduler", "schedulers": [{"name": "ExponentialLR", "gamma": 0.9}]}]}, 5, None,
     "NotImplementedError", ""),
]


def _plan_error(spec, steps, momentum_name):
    with pytest.raises(OptlabError) as e:
        S.plan(spec, [0.1], steps, momentum=None if momentum_name is None else [0.9],
               momentum_name=momentum_name, n=1)
    return str(e.value)


@pytest.mark.parametrize("label,spec,steps,momentum_name,kind,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_carry_torchs_message(label, spec, steps, momentum_name, kind, message):
    got = _plan_error(spec, steps, momentum_name)
    assert "\n" not in got
    if label.startswith("run_") and kind != "ValueError":  # Python's own exception, named with its step
        assert f"raises {kind}" in got and got.endswith(message), got
    else:
        assert got == message


@pytest.mark.parity
@pytest.mark.parametrize("label,spec,steps,momentum_name,kind,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_messages_are_torchs(label, spec, steps, momentum_name, kind, message):
    pytest.importorskip("torch")
    with pytest.raises(Exception) as e:
        if spec["name"] == "ReduceLROnPlateau":
            _torch_plateau(spec)
        else:
            ref.torch_tables(spec, [0.1], steps, None if momentum_name is None else [0.9], momentum_name)
    assert type(e.value).__name__ == kind
    assert str(e.value) == message


def _torch_plateau(spec):
    import torch
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **{k: v for k, v in spec.items() if k != "name"})


# ----------------------------------------------------------------------------- ReduceLROnPlateau

RNG = np.random.default_rng(7)
WALK = list(np.cumsum(RNG.normal(0.0, 0.05, 120)) + 3.0)
PLATEAU_CASES = [
    ("walk_default", WALK, {}),
    ("walk_patience_cooldown", WALK, {"patience": 3, "cooldown": 4, "factor": 0.5}),
    ("nan_losses", [1.0, 0.9, float("nan"), 0.95, float("nan"), float("nan"), 0.8, float("nan")] * 6,
     {"patience": 1, "factor": 0.3}),
    ("abs_threshold", WALK, {"threshold_mode": "abs", "threshold": 0.02, "patience": 2}),
    ("mode_max_rel", [-x for x in WALK], {"mode": "max", "patience": 2, "threshold": 1e-3}),
    ("mode_max_abs_min_lr", [-x for x in WALK], {"mode": "max", "threshold_mode": "abs", "patience": 0,
                                                 "min_lr": 0.004, "factor": 0.7}),
    ("eps_blocks_small_cuts", [1.0] * 60, {"patience": 0, "factor": 0.9, "eps": 0.002}),
    ("flat_then_drop", [2.0] * 30 + [1.0] * 30, {"patience": 4, "cooldown": 2, "factor": 0.1, "min_lr": 1e-4}),
]


@pytest.mark.parity
@pytest.mark.parametrize("label,losses,opts", PLATEAU_CASES, ids=[c[0] for c in PLATEAU_CASES])
def test_plateau_reference_is_torchs_step(label, losses, opts):
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **opts)
    want = [opt.param_groups[0]["lr"]]
    for loss in losses:
        opt.step()
        sched.step(loss)
        want.append(opt.param_groups[0]["lr"])
    got = S.plateau_reference(0.05, losses, **opts)
    assert got == want
    assert len(set(got)) > 1 or label == "eps_blocks_small_cuts"  # the case reduces the lr at least once


def test_plateau_reference_by_hand():
    # flat losses, patience 2: better once (best = 1.0), then three bad steps cut the lr; then again
    got = S.plateau_reference(1.0, [1.0] * 10, patience=2, factor=0.5)
    assert got == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    # cooldown 2 holds the count at zero for two steps after a cut
    got = S.plateau_reference(1.0, [1.0] * 10, patience=0, factor=0.5, cooldown=2)
    assert got == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125]
    # min_lr floors the cut, and a cut smaller than eps is skipped
    assert S.plateau_reference(1.0, [1.0] * 4, patience=0, factor=0.1, min_lr=0.3)[-1] == 0.3
    assert S.plateau_reference(1.0, [1.0] * 4, patience=0, factor=0.5, eps=0.6) == [1.0] * 5


def test_plan_of_a_plateau_gives_the_options_per_row():
    p = S.plan({"name": "reduce_lr_on_plateau", "mode": "max", "factor": [0.5, 0.2, 0.5], "patience": 3,
                "threshold_mode": "abs"}, [0.1, 0.1, 0.3], 50, n=3)
    assert p.lr.shape == (1, 3) and list(p.lr[0, p.index]) == [0.1, 0.1, 0.3]
    assert p.momentum is None and p.name == "ReduceLROnPlateau"
    pl = p.plateau
    assert pl["mode_max"].tolist() == [True] * 3 and pl["rel"].tolist() == [False] * 3
    assert pl["factor"][p.index].tolist() == [0.5, 0.2, 0.5]
    assert pl["patience"].dtype == np.float64 and (pl["patience"] == 3).all()
    assert set(pl) == {"mode_max", "rel", "factor", "patience", "threshold", "cooldown", "min_lr", "eps"}
    assert (pl["eps"] == 1e-8).all() and (pl["min_lr"] == 0).all() and (pl["threshold"] == 1e-4).all()


# ----------------------------------------------------------------------------- (c) rows, names, options

def test_rows_are_distinct_settings_and_each_equals_its_own_plan():
    spec = {"name": "SequentialLR", "milestones": [12], "schedulers": [
        {"name": "LinearLR", "start_factor": 0.1, "total_iters": [4, 12, 4, 4, 8]},
        {"name": "CosineAnnealingLR", "T_max": [30, 30, 30, 55, 30], "eta_min": 0.001}]}
    lr = [0.1, 0.1, 0.1, 0.1, 0.2]
    p = S.plan(spec, lr, 80, n=5)
    assert p.rows == 4 and p.index.tolist() == [0, 1, 0, 2, 3] and p.index.dtype == np.int64
    assert p.lr.shape == (81, 4) and p.lr.dtype == np.float64
    for i in range(5):  # one trajectory on its own: the same column, bit for bit
        one = {**spec, "schedulers": [{k: (v[i] if isinstance(v, list) else v) for k, v in c.items()}
                                      for c in spec["schedulers"]]}
        alone = S.plan(one, [lr[i]], 80, n=1)
        assert np.array_equal(alone.lr[:, 0], p.lr[:, p.index[i]])


@pytest.mark.parametrize("spread", [1, 7, 300, 2 ** 40], ids=["one", "few", "many", "sparse"])
def test_factorize_is_np_unique(spread):
    """The rows' codes without a sort (values within 4n of each other) equal np.unique's: the
    distinct values, each one's first trajectory and every trajectory's code; a wider spread
    takes np.unique itself."""
    rng = np.random.default_rng(spread)
    for n in (1, 2, 5, 257, 1000):
        col = (rng.integers(0, spread, n) + 2 ** 50).astype(np.uint64)
        got = S._factorize(col)
        want = np.unique(col, return_index=True, return_inverse=True)
        for g, w in zip(got, want):
            assert np.array_equal(g, w.reshape(-1)), (spread, n)


def test_dedupe_gives_rows_in_order_of_first_appearance():
    cols = [np.array([3, 3, 1, 1, 3, 2], dtype=np.uint64), np.array([0, 5, 0, 0, 0, 5], dtype=np.uint64),
            np.full(6, 9, dtype=np.uint64)]  # a constant column tells nothing apart
    first, index = S._dedupe(cols, 6)
    assert first.tolist() == [0, 1, 2, 5] and index.tolist() == [0, 1, 2, 2, 0, 3]
    first, index = S._dedupe([np.full(4, 2, dtype=np.uint64)], 4)
    assert first.tolist() == [0] and index.tolist() == [0, 0, 0, 0]


def test_momentum_table_only_where_a_scheduler_sets_it():
    kw = dict(momentum=[0.9, 0.8], momentum_name="momentum", n=2)
    assert S.plan({"name": "StepLR", "step_size": 3}, [0.1, 0.1], 10, **kw).momentum is None
    p = S.plan({"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}, [0.1, 0.1], 10, **kw)
    assert p.momentum.shape == p.lr.shape == (11, 2) and p.momentum[0, 0] == 0.95
    p = S.plan({"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "cycle_momentum": False}, [0.1, 0.1], 10,
               n=2)
    assert p.momentum is None


def test_options_are_recorded_with_defaults():
    p = S.plan({"name": "sequential_lr", "milestones": [5], "schedulers": [
        {"name": "LambdaLR", "lr_lambda": "linear_warmup:5"},
        {"name": "StepLR", "step_size": [3, 4]}]}, [0.1, 0.1], 10, n=2)
    assert p.name == "SequentialLR"
    assert p.options == {"schedulers": [{"name": "LambdaLR", "lr_lambda": "linear_warmup:5"},
                                        {"name": "StepLR", "step_size": [3, 4], "gamma": 0.1}],
                         "milestones": [5]}


@pytest.mark.parametrize("name", ["StepLR", "step_lr", "steplr", "STEP_LR", " StepLR "])
def test_canonical_takes_the_class_name_and_snake_case(name):
    assert S.canonical(name) == "StepLR"


def test_canonical_names_every_scheduler_both_ways():
    for name in S.NAMES:
        assert S.canonical(name) == S.canonical(name.lower()) == name
    assert S.canonical("cosine_annealing_warm_restarts") == "CosineAnnealingWarmRestarts"
    assert S.canonical("reduce_lr_on_plateau") == "ReduceLROnPlateau"
    with pytest.raises(OptlabError, match=r"Unknown scheduler 'step'; did you mean 'StepLR'\? Available") as e:
        S.canonical("step")
    assert all(name in str(e.value) for name in S.NAMES)


@pytest.mark.parametrize("spec,n,pattern", [
    ({"name": "StepLR", "step_size": 3, "gama": 0.5}, 1, r"StepLR has no option 'gama'; allowed: step_size, gamma$"),
    ({"name": "StepLR", "step_size": 3, "last_epoch": 4}, 1, r"last_epoch=4 is not allowed: runs start at step 0"),
    ({"name": "StepLR", "step_size": 3, "optimizer": "sgd"}, 1, r"no option 'optimizer'"),
    ({"name": "StepLR", "step_size": [3, 4, 5]}, 2, r"step_size has 3 values; give one number, or one per "),
    ({"name": "StepLR", "step_size": True}, 1, r"step_size must be a number"),
    ({"name": "StepLR", "step_size": [3, "4"]}, 2, r"every per-trajectory value of step_size must be a number"),
    ({"name": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "mode": ["triangular", "exp_range"]}, 2,
     r"mode is one value for all trajectories"),
    ({"name": "SequentialLR", "milestones": [[2], [3]], "schedulers": [{"name": "StepLR", "step_size": 2},
                                                                       {"name": "StepLR", "step_size": 2}]}, 2,
     r"milestones are one list for all trajectories"),
    ({"name": "CosineAnnealingWarmRestarts", "T_0": [5, -1]}, 2, r"^Expected positive integer T_0, but got -1$"),
    ({"name": "LambdaLR", "lr_lambda": ["0.9", "0.8"]}, 2, r"lr_lambda is one function for all trajectories"),
    ({"step_size": 3}, 1, r"has no 'name'"),
])
def test_option_errors_are_one_line(spec, n, pattern):
    with pytest.raises(OptlabError, match=pattern) as e:
        S.plan(spec, [0.1] * n, 5, n=n)
    assert "\n" not in str(e.value)


def test_per_trajectory_milestone_lists():
    p = S.plan({"name": "MultiStepLR", "milestones": [[2, 4], [3, 3]], "gamma": 0.5}, [1.0, 1.0], 6, n=2)
    assert p.lr[:, 0].tolist() == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert p.lr[:, 1].tolist() == [1.0, 1.0, 1.0, 0.25, 0.25, 0.25, 0.25]  # a repeated milestone: gamma ** 2


@pytest.mark.parametrize("text,message", [
    ("__import__('os').system('true')", r"the call __import__\('os'\)\.system\(\.\.\.\) is not allowed"),
    ("__import__('os')", r"the call __import__\(\.\.\.\) is not allowed"),
    ("epoch.real", r"'epoch.real' \(Attribute\)"),
    ("(lambda: 1)()", r"is not allowed"),
    ("epoch +", r"is not an expression"),
    ("foo * epoch", r"the name 'foo' is not allowed"),
    ("[1, 2][0]", r"is not allowed"),
    ("'a'", r"the constant 'a'"),
    ("sqrt(epoch, 2)", r"sqrt\(\) with 2 arguments \(it takes 1\)"),
    ("linear_warmup", r"'linear_warmup' needs a value, e.g. 'linear_warmup:10'"),
    ("linear_warmup:ten", r"the value after ':' must be a number"),
])
def test_bad_expressions_are_refused_naming_them(text, message):
    with pytest.raises(OptlabError, match=message) as e:
        S.plan({"name": "LambdaLR", "lr_lambda": text}, [0.1], 3, n=1)
    assert "lr_lambda" in str(e.value) and "\n" not in str(e.value)


def test_scale_fn_is_an_expression_of_x():
    with pytest.raises(OptlabError, match=r"scale_fn 'linear_warmup:5': the registered names .* are lr_lambda's"):
        S.plan({"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "scale_fn": "linear_warmup:5",
                "cycle_momentum": False}, [0.1], 3, n=1)
    with pytest.raises(OptlabError, match=r"scale_fn '0.9 \*\* epoch': the name 'epoch' is not allowed"):
        S.plan({"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "scale_fn": "0.9 ** epoch",
                "cycle_momentum": False}, [0.1], 3, n=1)


def test_expression_errors_name_the_epoch():
    with pytest.raises(OptlabError, match=r"lr_lambda '1 / epoch' fails at epoch=0: ZeroDivisionError"):
        S.plan({"name": "LambdaLR", "lr_lambda": "1 / epoch"}, [0.1], 3, n=1)
    # MultiplicativeLR calls its lambda from epoch 1 on (not during construction): log(0) at epoch 3
    with pytest.raises(OptlabError, match=r"lr_lambda 'log\(3 - epoch\)' fails at epoch=3: ValueError"):
        S.plan({"name": "MultiplicativeLR", "lr_lambda": "log(3 - epoch)"}, [0.1], 3, n=1)
    with pytest.raises(OptlabError, match=r"must return a number .* returned str at epoch=0"):
        S.plan({"name": "LambdaLR", "lr_lambda": lambda e: "0.5"}, [0.1], 3, n=1)
    with pytest.raises(OptlabError, match=r"must return a number .* returned bool at epoch=0"):
        S.plan({"name": "LambdaLR", "lr_lambda": "epoch < 2"}, [0.1], 3, n=1)


EXPRESSIONS = [
    "epoch % 7 - 3 / 4 ** -0.5",
    "min(epoch, 5) * max(2, 3, 1) - abs(-epoch) + ceil(epoch / 3) + floor(-epoch / 4)",
    "exp(-epoch) + log(epoch + 1) + log(epoch + 2, 10) + sin(epoch) * cos(pi / (epoch + 1))",
    "1 if epoch < 3 and not epoch == 1 or epoch >= 6 else -1",
    "2 ** epoch - +epoch ** 2",
    "0.5 if 1 < epoch <= 4 else 2",
    "(epoch or 0.5) and 3",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expressions_evaluate_as_python_does(text):
    """Each expression gives exactly the value (and type) Python gives the same text."""
    from optlab.schedulers._expr import Expression
    env = {"min": min, "max": max, "abs": abs, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
           "cos": math.cos, "sin": math.sin, "floor": math.floor, "ceil": math.ceil, "pi": math.pi}
    code = compile(text, text, "eval")
    fn = Expression(text, "epoch", "lr_lambda")
    for epoch in range(10):
        want = eval(code, dict(env), {"epoch": epoch})  # the reference: Python itself
        got = fn(epoch)
        assert got == want and type(got) is type(want), (epoch, got, want)


def test_floor_division_is_not_in_the_language():
    with pytest.raises(OptlabError, match=r"the operator FloorDiv is not allowed"):
        S.plan({"name": "LambdaLR", "lr_lambda": "epoch // 2"}, [0.1], 3, n=1)


def test_the_package_imports_numpy_and_optlab_errors_only():
    here = Path(S.__file__).parent
    stdlib = {"__future__", "ast", "bisect", "collections", "dataclasses", "difflib", "itertools", "math", "numbers",
              "operator", "struct"}
    for path in here.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = ["." * node.level + (node.module or "")]
            else:
                continue
            for m in mods:
                assert m in stdlib | {"numpy", "..errors", "."} or (m.startswith(".") and not m.startswith("..")), \
                    (path.name, m)


def test_plan_checks_its_arguments():
    with pytest.raises(OptlabError, match=r"lr must have one value per trajectory: shape \(3,\)"):
        S.plan({"name": "StepLR", "step_size": 2}, [0.1, 0.2], 5, n=3)
    with pytest.raises(OptlabError, match=r"steps must be an integer >= 0"):
        S.plan({"name": "StepLR", "step_size": 2}, [0.1], -1, n=1)
    with pytest.raises(OptlabError, match=r"momentum_name must be 'momentum', 'betas' or None"):
        S.plan({"name": "StepLR", "step_size": 2}, [0.1], 5, momentum=[0.9], momentum_name="beta1", n=1)
    p = S.plan({"name": "StepLR", "step_size": 2}, 0.1, 0, n=4)  # a scalar lr serves every trajectory
    assert p.lr.shape == (1, 1) and p.index.tolist() == [0, 0, 0, 0]


def test_no_warning_where_a_row_overflows():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = S.plan({"name": "ExponentialLR", "gamma": [1e200, 0.5]}, [1e200, 0.1], 3, n=2)
    assert np.isinf(p.lr[2, 0]) and p.lr[3, 1] == 0.1 * 0.5 * 0.5 * 0.5
