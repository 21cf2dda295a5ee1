"""Scheduled engine runs (an optimizer under torch.optim.lr_scheduler) against torch 2.13.

(a) offline: every case recorded in ``tests/torch_reference/scheduled.npz``
    (written by ``tests/torch_reference/scheduled.py`` under torch 2.13) against
    ``optlab.simulate(..., scheduler=spec)``: x within 1e-12 (relative to
    max(1, |x|)) at every one of 150 steps, as in ``tests/test_parity.py``
    (torch's CPU sqrt is not always correctly rounded), and ``res.lr`` equal to
    torch's lr at every step, bit for bit;
(b) live (``-m parity``, needs torch): the same cases regenerated in-process,
    among them one engine call with per-trajectory scheduler options (and a
    per-trajectory lr) against torch one trajectory at a time; torch's
    optimizer list and its rule for the momentum-cycling schedulers
    ('momentum' or 'betas' in ``optimizer.defaults``);
(c) without torch: per-trajectory options and lr sweeps equal separate runs
    bit for bit (also over several blocks and chunks); ReduceLROnPlateau's
    in-kernel lrs equal ``optlab.schedulers.plateau_reference`` fed with the
    run's own losses; a constant schedule equals no schedule; record_every;
    float32; the CUDA engine in Numba's CUDA simulator gives the CPU's bits;
(d) errors: one line each, torch's text where torch has one.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optlab
import optlab.schedulers as S
from optlab.engine.cpu import schedule_momentum_row
from optlab.errors import OptlabError

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).resolve().parent / "torch_reference"
sys.path.insert(0, str(REF))
import scheduled as ref  # noqa: E402

TOL = 1e-12
CASES = ref.cases()
GROUPS = sorted({c["group"] for c in CASES})
# what never runs under a scheduler here: L-BFGS takes none; nesterov_lookahead is no torch optimizer
# (its look-ahead form equals torch's Nesterov only at a constant lr); muon_adamw has two learning rates
# (two torch optimizers) and refuses one
UNSCHEDULED = {"lbfgs", "nesterov_lookahead", "muon_adamw"}
# the default suite's optimizers (every scheduler and kernel variant with them); the other optimizers'
# cases compile a scheduled kernel each from a cold cache, minutes in all: `pytest -m slow` (and CI)
CORE = {"sgd", "adam", "nadam"}


def _core(case) -> bool:
    return case["optimizer"] in CORE


def simulate_case(case, **over):
    kw = dict(x0=case["x0"], steps=case["steps"], objective_options=case["options"], scheduler=case["scheduler"],
              progress=False, **ref.hyper(case))
    kw.update(over)
    return optlab.simulate(case["optimizer"], case["objective"], **kw)


def check_case(case, want):
    """optlab's run of ``case`` against torch's arrays ``want`` ({"x": (n, steps+1, D), "lr": (n, steps+1)})."""
    r = simulate_case(case)
    assert r.x.shape == want["x"].shape and r.lr.shape == want["lr"].shape, case["name"]
    dx = float(np.max(np.abs(r.x - want["x"]) / np.maximum(1.0, np.abs(want["x"]))))
    assert dx <= TOL, f"{case['name']}: max relative |dx| = {dx:.3e} > {TOL:g}"
    bad = np.argwhere(r.lr != want["lr"])
    assert not len(bad), (f"{case['name']}: {len(bad)} lrs differ, first at (trajectory, step) {tuple(bad[0])}: "
                          f"{r.lr[tuple(bad[0])]!r} != torch {want['lr'][tuple(bad[0])]!r}")


def _recorded(case, arrays):
    return {k: arrays[f"{case['name']}__{k}"] for k in ("x", "lr")}


def _names_in(spec):
    yield S.canonical(spec["name"]), spec
    for child in spec.get("schedulers", ()):
        yield from _names_in(child)


def _momentum_optimizers():
    """optlab's optimizers whose lr schedulers may cycle momentum or beta1 (torch's rule, checked live)."""
    return {name for name in optlab.optimizers.names()
            if name not in UNSCHEDULED and schedule_momentum_row(optlab.optimizers.get(name)) >= 0}


# ----------------------------------------------------------------------------- (a) offline reference

def test_reference_file_is_the_generators_and_covers_every_scheduler_and_optimizer():
    meta, arrays = ref.load()
    assert meta["torch"].startswith("2.13")
    stale = "scheduled.npz is stale: run tests/torch_reference/scheduled.py"
    assert meta["cases"] == json.loads(json.dumps(CASES)), stale
    assert ref.PATH.stat().st_size < 2**20
    settings = {}
    for c in CASES:
        for name, spec in _names_in(c["scheduler"]):
            settings.setdefault(name, set()).add(json.dumps({k: v for k, v in spec.items() if k != "name"},
                                                            sort_keys=True))
    assert set(settings) == set(S.NAMES) and len(S.NAMES) == 15
    assert all(len(v) >= 2 for v in settings.values()), {k: len(v) for k, v in settings.items()}
    for name in S.NAMES:  # every scheduler with SGD (momentum), Adam and a third optimizer
        used = {c["optimizer"] for c in CASES if name in {n for n, _ in _names_in(c["scheduler"])}}
        assert {"sgd", "adam"} < used, name
    assert {c["optimizer"] for c in CASES} == set(optlab.optimizers.names()) - UNSCHEDULED
    cycling = {c["optimizer"] for c in CASES if c["scheduler"]["name"] in ("CyclicLR", "OneCycleLR")
               and c["scheduler"].get("cycle_momentum", True)}
    assert cycling == _momentum_optimizers()
    assert {c["key"] for c in CASES} == {"rosen2d", "quad2d"}
    assert any(c["kwargs"].get("maximize") and c["scheduler"].get("mode") == "max" for c in CASES)
    per = [c for c in CASES if c["n"] > 1]
    assert {c["scheduler"]["name"] for c in per} >= {"StepLR", "LinearLR", "OneCycleLR", "ReduceLROnPlateau"}
    assert any(c["per_traj"].get("lr") for c in per)
    for c in CASES:
        x, lr = arrays[f"{c['name']}__x"], arrays[f"{c['name']}__lr"]
        assert x.shape == (c["n"], c["steps"] + 1, 2) and lr.shape == (c["n"], c["steps"] + 1), c["name"]
        assert np.abs(x[:, -1] - x[:, 0]).max() > 1e-3, c["name"]  # every case moves
        if c["n"] > 1:  # the trajectories of a per-trajectory case follow different schedules
            assert len({tuple(row) for row in lr}) > 1, c["name"]


def test_every_plateau_option_set_reduces_the_lr():
    """Each ReduceLROnPlateau setting cuts the lr in some recorded case (else the kernel's branch is untested)."""
    _, arrays = ref.load()
    cut = {}
    for c in CASES:
        if c["group"] == "ReduceLROnPlateau":
            label = c["name"].split("__")[0]
            lr = arrays[f"{c['name']}__lr"]
            cut[label] = cut.get(label, False) or bool((lr[:, -1] < lr[:, 0]).any())
    assert len(cut) >= 5 and all(cut.values()), cut


@pytest.mark.parametrize("group", GROUPS)
def test_offline_parity(group):
    """Every scheduler, with sgd, adam and nadam (the rest: the slow test below)."""
    meta, arrays = ref.load()
    cases = [c for c in meta["cases"] if c["group"] == group and _core(c)]
    assert cases
    for case in cases:
        check_case(case, _recorded(case, arrays))


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_offline_parity_every_optimizer(group):
    meta, arrays = ref.load()
    for case in (c for c in meta["cases"] if c["group"] == group and not _core(c)):
        check_case(case, _recorded(case, arrays))


# ----------------------------------------------------------------------------- (b) live torch

@pytest.mark.parity
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.slow
def test_live_parity(group):
    pytest.importorskip("torch")
    for case in (c for c in CASES if c["group"] == group and c["n"] == 1 and _core(c)):  # n > 1: below
        check_case(case, ref.run_case(case))


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_live_parity_every_optimizer(group):
    pytest.importorskip("torch")
    for case in (c for c in CASES if c["group"] == group and c["n"] == 1 and not _core(c)):
        check_case(case, ref.run_case(case))


@pytest.mark.parity
@pytest.mark.slow
def test_live_per_trajectory_options_against_torch_one_trajectory_at_a_time():
    """One engine call with a per-trajectory option array against torch, one trajectory at a time
    (the cases of ``scheduled.PER_TRAJECTORY``: StepLR step_size [10, 20, 30], LinearLR total_iters,
    OneCycleLR max_lr, a per-trajectory lr, ...)."""
    pytest.importorskip("torch")
    per = [c for c in CASES if c["n"] > 1]
    assert len(per) == len(ref.PER_TRAJECTORY)
    for case in per:
        want = ref.run_case(case)
        assert len({tuple(row) for row in want["lr"]}) == case["n"], case["name"]  # three different schedules
        check_case(case, want)


@pytest.mark.parity
def test_optimizers_are_torch_optim_classes():
    """A torch release that adds an optimizer fails here until optlab has it."""
    torch = pytest.importorskip("torch")
    import inspect
    classes = {n for n, o in vars(torch.optim).items()
               if inspect.isclass(o) and issubclass(o, torch.optim.Optimizer) and o is not torch.optim.Optimizer}
    ours = {optlab.optimizers.get(n).torch_name for n in optlab.optimizers.names()} - {None}
    assert ours == classes


@pytest.mark.parity
def test_momentum_cycling_rule_is_torchs():
    """optlab cycles momentum (or beta1) exactly where torch's CyclicLR / OneCycleLR do: 'momentum'
    or 'betas' in the torch optimizer's defaults ('betas' first: torch's use_beta1)."""
    torch = pytest.importorskip("torch")
    import generate
    for name in sorted(set(optlab.optimizers.names()) - UNSCHEDULED):
        spec = optlab.optimizers.get(name)
        cls_name, kw = generate.torch_setup(name, {})
        p = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
        defaults = getattr(torch.optim, cls_name)([p], **kw).defaults
        row = schedule_momentum_row(spec)
        if "betas" in defaults:
            assert row >= 0 and spec.vector[row] == "beta1", name
        elif "momentum" in defaults:
            assert row >= 0 and spec.vector[row] == "momentum", name
        else:
            assert row < 0, name


# ----------------------------------------------------------------------------- (c) without torch

ROSEN = [-1.5, 2.0]


def run(opt, spec, n=1, steps=60, objective="rosenbrock", x0=ROSEN, **kw):
    kw.setdefault("progress", False)
    return optlab.simulate(opt, objective, x0=np.tile(np.asarray(x0, dtype=float), (n, 1)), steps=steps,
                           scheduler=spec, **kw)


def _one(value, i):
    return value[i] if isinstance(value, list) and value and not isinstance(value[0], (str, dict)) else value


def spec_of(spec, i):
    """Trajectory i's scheduler: every per-trajectory list replaced by its i-th value."""
    out = {}
    for k, v in spec.items():
        if k == "schedulers":
            out[k] = [spec_of(c, i) for c in v]
        elif k == "milestones" and not (v and isinstance(v[0], list)):
            out[k] = v  # one list for every trajectory
        else:
            out[k] = _one(v, i)
    return out


def assert_same_run(a, b, i=None, what=""):
    """Trajectory i of ``a`` (all of it when None) equals run ``b`` bit for bit."""
    sl = slice(None) if i is None else slice(i, i + 1)
    for field in ("x", "loss", "lr"):
        got, want = getattr(a, field)[sl], getattr(b, field)
        assert np.array_equal(got, want, equal_nan=True), f"{what}: {field} differs (trajectory {i})"
    for field in ("x_final", "loss_final", "best_loss", "best_step", "diverged_step"):
        assert np.array_equal(getattr(a, field)[sl], getattr(b, field), equal_nan=True), f"{what}: {field}"


PER_TRAJ = [
    ("adam", {"name": "StepLR", "step_size": [10, 20, 30], "gamma": 0.5}, dict(lr=1e-2)),
    ("adam", {"name": "LinearLR", "start_factor": 0.1, "total_iters": [5, 25, 45]}, dict(lr=1e-2)),
    ("sgd", {"name": "OneCycleLR", "max_lr": [1e-3, 1.5e-3, 2e-3], "total_steps": 60}, dict(lr=1e-3, momentum=0.9)),
    ("nadam", {"name": "CyclicLR", "base_lr": 1e-3, "max_lr": 1e-2, "step_size_up": [5, 9, 13],
               "base_momentum": [0.8, 0.85, 0.8]}, dict(lr=5e-3)),
    ("rmsprop", {"name": "MultiStepLR", "milestones": [[10, 30], [20], [10, 30, 30]]}, dict(lr=1e-3, momentum=0.5)),
    ("radam", {"name": "SequentialLR", "milestones": [15], "schedulers": [
        {"name": "LinearLR", "start_factor": [0.1, 0.5, 0.2], "total_iters": 15},
        {"name": "CosineAnnealingLR", "T_max": [30, 45, 60]}]}, dict(lr=1e-2)),
    ("sgd", {"name": "ReduceLROnPlateau", "factor": [0.5, 0.2, 0.7], "patience": [2, 4, 0], "threshold": 1e-2},
     dict(lr=1e-3, momentum=0.9)),
    ("adafactor", {"name": "CosineAnnealingWarmRestarts", "T_0": [4, 7, 4], "T_mult": [1, 1, 2]}, dict(lr=0.03)),
]


@pytest.mark.parametrize("opt,spec,hyper", [p if p[0] in CORE else pytest.param(*p, marks=pytest.mark.slow)
                                             for p in PER_TRAJ], ids=[f"{o}-{s['name']}" for o, s, _ in PER_TRAJ])
def test_per_trajectory_option_array_equals_separate_runs(opt, spec, hyper):
    both = run(opt, spec, n=3, **hyper)
    assert len({tuple(row) for row in both.lr}) == 3  # three schedules really ran
    for i in range(3):
        assert_same_run(both, run(opt, spec_of(spec, i), **hyper), i, f"{opt} {spec['name']}")


SWEEPS = [
    ("adam", {"name": "CosineAnnealingLR", "T_max": 60, "eta_min": 1e-4}, {}),
    ("sgd", {"name": "CyclicLR", "base_lr": 2e-4, "max_lr": 1.5e-3, "step_size_up": 10}, dict(momentum=0.9)),
    ("nadam", {"name": "ExponentialLR", "gamma": 0.97}, {}),
    # 1 - beta1**t is 1.0 from t = 32: the lrs still change, so Adam must divide again every step
    ("adam", {"name": "ExponentialLR", "gamma": 0.97}, dict(beta1=0.3)),
    ("sgd", {"name": "ReduceLROnPlateau", "factor": 0.5, "patience": 3, "threshold": 1e-2}, dict(momentum=0.9)),
    # a warm-up raises the lrs 100-fold after init: ASGD's eta series must not keep init's bound
    # on lambd lr (d = lambd lr t reaches 0.06, where that bound's short series is wrong)
    ("asgd", {"name": "LinearLR", "start_factor": 0.01, "total_iters": 30}, dict(lambd=1.0)),
]


@pytest.mark.parametrize("opt,spec,hyper", [p if p[0] in CORE else pytest.param(*p, marks=pytest.mark.slow)
                                             for p in SWEEPS], ids=[f"{o}-{s['name']}" for o, s, _ in SWEEPS])
def test_lr_sweep_with_a_schedule_equals_separate_runs(opt, spec, hyper):
    lrs = [5e-4, 1e-3, 2e-3]
    both = run(opt, spec, lr=lrs, **hyper)
    for i, lr in enumerate(lrs):
        assert_same_run(both, run(opt, spec, lr=lr, **hyper), i, f"{opt} lr={lr}")
    if spec["name"] != "CyclicLR":  # CyclicLR sets the lr itself (base_lr .. max_lr): every row the same
        assert len({tuple(row) for row in both.lr}) == 3


def test_per_trajectory_schedules_over_several_blocks_and_chunks():
    """600 trajectories (three CPU blocks at D = 2; ``progress=True`` runs them in chunks): each
    follows its own row of the block-major tables, as a run of its own would."""
    n = 600
    spec = {"name": "OneCycleLR", "max_lr": list(np.linspace(1e-3, 2e-3, n)), "total_steps": 40,
            "base_momentum": [0.8, 0.85, 0.9] * (n // 3)}
    lr = list(np.linspace(1e-3, 2e-3, n)[::-1])
    a = run("sgd", spec, n=n, steps=40, lr=lr, momentum=0.9)
    b = run("sgd", spec, n=n, steps=40, lr=lr, momentum=0.9, progress=True)
    assert_same_run(a, b, None, "chunked")
    for i in (0, 1, 255, 256, 257, 511, 512, 599):
        assert_same_run(a, run("sgd", spec_of(spec, i), steps=40, lr=lr[i], momentum=0.9), i, "alone")


REGROUPED = [  # settings mixed inside every block: the engine runs them grouped, then puts them back
    ("adam", {"name": "LinearLR", "start_factor": 0.1, "total_iters": [1, 5, 20] * 200}, dict(lr=1e-2)),
    ("sgd", {"name": "ReduceLROnPlateau", "patience": [1, 3, 0] * 200, "cooldown": [0, 0, 2] * 200, "factor": 0.5,
             "threshold": 1e-2}, dict(lr=list(np.geomspace(1e-4, 1e-3, 600)), momentum=0.9)),
]


@pytest.mark.parametrize("opt,spec,hyper", REGROUPED, ids=[s["name"] for _, s, _ in REGROUPED])
def test_settings_mixed_in_every_block_are_regrouped_and_give_each_trajectory_its_own_run(opt, spec, hyper,
                                                                                           monkeypatch):
    """600 trajectories, three settings alternating (every 256-wide block holds all three): the
    engine runs them grouped by setting (a block then reads its schedule once a step) and puts
    the outputs back, so every trajectory equals its run alone and the whole run equals one
    without the regrouping, distinct start points included (a wrong restore would move them)."""
    from optlab.engine import core
    rng = np.random.default_rng(3)
    x0 = np.asarray(ROSEN) + rng.uniform(-0.3, 0.3, (600, 2))
    orders = []
    real = core.regroup
    monkeypatch.setattr(core, "regroup", lambda *a: orders.append(real(*a)) or orders[-1])
    kw = dict(x0=x0, steps=50, scheduler=spec, progress=False)
    grouped = optlab.simulate(opt, "rosenbrock", **kw, **hyper)
    assert orders and orders[-1] is not None, "the run was not regrouped"
    assert len({tuple(row) for row in grouped.lr[:3]}) == 3
    monkeypatch.setattr(core, "regroup", lambda *a: None)
    assert_same_run(grouped, optlab.simulate(opt, "rosenbrock", **kw, **hyper), None, "not regrouped")
    for i in (0, 1, 2, 255, 256, 257, 599):
        alone = {k: (v[i] if isinstance(v, list) else v) for k, v in hyper.items()}
        assert_same_run(grouped, optlab.simulate(opt, "rosenbrock", x0=x0[i], steps=50, scheduler=spec_of(spec, i),
                                                 progress=False, **alone), i, "alone")


@pytest.mark.parametrize("dtype,spec", [
    ("float32", {"name": "StepLR", "step_size": 5, "gamma": 0.5}),
    ("float64", {"name": "CyclicLR", "base_lr": 1e-3, "max_lr": [1e-2, 2e-2] * 512, "step_size_up": 4}),
    ("float64", {"name": "OneCycleLR", "max_lr": 2e-2, "total_steps": 30, "cycle_momentum": True}),
])
def test_regrouped_runs_read_their_own_schedule_tables(dtype, spec, monkeypatch):
    """Table schedules (float32, the schedulers without a program) are read by position: when
    the run is regrouped (here by beta1, two values alternating), the tables follow the
    trajectories, so each keeps its own lr (a wrong table gave trajectory 256 another's lr)."""
    from optlab.engine import core
    n = 1024
    lr = np.array(([2e-2] * 256 + [1e-3] * 256) * 2)
    b1 = np.array([0.8, 0.9] * (n // 2))
    x0 = np.asarray(ROSEN) + 0.001 * np.arange(n)[:, None]
    orders = []
    real = core.regroup
    monkeypatch.setattr(core, "regroup", lambda *a: orders.append(real(*a)) or orders[-1])
    kw = dict(x0=x0, steps=30, progress=False, dtype=dtype, scheduler=spec)
    res = optlab.simulate("adam", "rosenbrock", lr=lr, beta1=b1, **kw)
    assert orders and orders[-1] is not None, "the run was not regrouped"
    monkeypatch.setattr(core, "regroup", lambda *a: None)
    assert np.array_equal(res.lr, optlab.simulate("adam", "rosenbrock", lr=lr, beta1=b1, **kw).lr)
    for i in (0, 1, 255, 256, 257, 1023):
        alone = optlab.simulate("adam", "rosenbrock", x0=x0[i], steps=30, progress=False, dtype=dtype, lr=lr[i],
                                beta1=b1[i], scheduler=spec_of(spec, i))
        assert np.array_equal(res.lr[i], alone.lr[0]), i
        np.testing.assert_allclose(res.x[i], alone.x[0], rtol=0, atol=1e-5 if dtype == "float32" else 0.0)


def test_runs_that_draw_per_trajectory_are_not_regrouped(monkeypatch):
    """A trajectory's minibatches (and gradient noise) are keyed by its index: those runs keep
    their order, whatever the settings."""
    from optlab.engine import core
    assert core.draws_per_trajectory(optlab.objectives.get("linear_regression"))
    assert not core.draws_per_trajectory(optlab.objectives.get("rosenbrock"))
    calls = []
    monkeypatch.setattr(core, "regroup", lambda *a: calls.append(a))
    spec = {"name": "StepLR", "step_size": [2, 3] * 300}
    run("sgd", spec, n=600, steps=4, lr=1e-3, grad_noise=0.1)
    assert not calls


PLATEAU = [  # (label, optimizer, objective, hyperparameters, options)
    ("rel_default_threshold", "sgd", "rosenbrock", dict(lr=1e-3, momentum=0.9), dict(patience=3, factor=0.5)),
    ("abs_threshold", "adam", "rosenbrock", dict(lr=1e-2), dict(threshold_mode="abs", threshold=1e-3, patience=2)),
    ("cooldown", "sgd", "rosenbrock", dict(lr=1e-3, momentum=0.9),
     dict(patience=1, cooldown=6, factor=0.7, threshold=1e-2)),
    ("min_lr", "adam", "rosenbrock", dict(lr=1e-2), dict(patience=1, factor=0.3, min_lr=1e-4, threshold=1e-2)),
    ("eps", "rmsprop", "rosenbrock", dict(lr=1e-3), dict(patience=1, factor=0.5, eps=2e-4, threshold=1e-2)),
    ("max_maximize", "sgd", "quadratic", dict(lr=1e-2, maximize=True),
     dict(mode="max", patience=2, threshold=0.1, factor=0.5)),
    ("max_abs_maximize", "adam", "quadratic", dict(lr=1e-2, maximize=True),
     dict(mode="max", threshold_mode="abs", threshold=0.02, patience=1, factor=0.5, min_lr=1e-3)),
]


@pytest.mark.parametrize("label,opt,objective,hyper,opts", PLATEAU, ids=[p[0] for p in PLATEAU])
def test_plateau_in_kernel_equals_plateau_reference(label, opt, objective, hyper, opts):
    """The kernel's ``sched.step(loss)``, fed the loss at the start of each step, against torch's
    step in plain Python fed the run's own recorded losses (record_every=1)."""
    steps = 120
    res = run(opt, {"name": "ReduceLROnPlateau", **opts}, n=1, steps=steps, objective=objective, x0=[1.0, -0.8]
              if objective == "quadratic" else ROSEN, **hyper)
    want = S.plateau_reference(hyper["lr"], res.loss[0, :steps].tolist(), **opts)
    assert res.lr[0].tolist() == want
    assert len(set(want)) > 1, "the case never cuts the lr"
    if label == "eps":  # cuts of old * 0.5 stop once they are not > eps: the lr stays at 1e-3 / 4
        assert min(want) == 2.5e-4
    if label in ("min_lr", "max_abs_maximize"):
        assert min(want) == opts["min_lr"]


def test_plateau_per_trajectory_options_follow_plateau_reference():
    opts = {"factor": [0.5, 0.2, 0.7], "patience": [1, 3, 0], "cooldown": [0, 2, 5], "threshold": [1e-2, 1e-3, 1e-2]}
    res = run("adam", {"name": "ReduceLROnPlateau", **opts}, n=3, steps=100, lr=[1e-2, 5e-3, 1e-2])
    for i in range(3):
        mine = {k: v[i] for k, v in opts.items()}
        assert res.lr[i].tolist() == S.plateau_reference([1e-2, 5e-3, 1e-2][i], res.loss[i, :100].tolist(), **mine)


def test_record_every_records_the_same_steps():
    for opt, spec, hyper in (PER_TRAJ[3], PER_TRAJ[6]):  # a momentum table; ReduceLROnPlateau
        every = run(opt, spec, n=3, **hyper)
        fifth = run(opt, spec, n=3, record_every=5, **hyper)
        for field in ("x", "loss", "lr"):
            assert np.array_equal(getattr(fifth, field), getattr(every, field)[:, ::5]), (spec["name"], field)


CONSTANT = [{"name": "ConstantLR", "factor": 1.0}, {"name": "StepLR", "step_size": 7, "gamma": 1.0}]


@pytest.mark.parametrize("opt", [o if o in CORE else pytest.param(o, marks=pytest.mark.slow)
                                 for o in sorted(set(optlab.optimizers.names()) - UNSCHEDULED)])
def test_constant_schedule_equals_no_schedule(opt):
    """The scheduled kernel computes what the plain one does when the schedule is constant: one
    shared schedule row, and a per-trajectory lr (rows that differ)."""
    lr0 = optlab.optimizers.get(opt).defaults["lr"]
    for lr in (lr0, [lr0, 0.5 * lr0, 2.0 * lr0]):
        n = 1 if np.ndim(lr) == 0 else 3
        plain = run(opt, None, n=n, steps=40, lr=lr)
        for spec in CONSTANT:
            res = run(opt, spec, n=n, steps=40, lr=lr)
            for field in ("x", "loss", "x_final", "loss_final", "best_loss", "best_step", "diverged_step"):
                assert np.array_equal(getattr(res, field), getattr(plain, field), equal_nan=True), (spec, field, lr)
            assert (res.lr == np.broadcast_to(np.asarray(lr, dtype=float)[..., None], res.lr.shape)).all()


@pytest.mark.parametrize("opt", [o if o in CORE else pytest.param(o, marks=pytest.mark.slow)
                                 for o in sorted(_momentum_optimizers())])
def test_constant_momentum_schedule_equals_no_schedule(opt):
    """CyclicLR with base_lr == max_lr and base_momentum == max_momentum sets a constant lr and
    momentum (beta1) every step: the momentum-table kernel equals the plain run with those values."""
    spec = optlab.optimizers.get(opt)
    lr0 = spec.defaults["lr"]
    name = spec.vector[schedule_momentum_row(spec)]
    for lr in (lr0, [lr0, 0.5 * lr0, 2.0 * lr0]):
        n = 1 if np.ndim(lr) == 0 else 3
        m = 0.85
        sched = {"name": "CyclicLR", "base_lr": lr, "max_lr": lr, "base_momentum": m, "max_momentum": m}
        res = run(opt, sched, n=n, steps=40, lr=lr)
        plain = run(opt, None, n=n, steps=40, lr=lr, **{name: m})
        for field in ("x", "loss", "x_final", "best_loss", "diverged_step"):
            assert np.array_equal(getattr(res, field), getattr(plain, field), equal_nan=True), (field, lr)


@pytest.mark.slow
def test_float32_scheduled_runs():
    spec = {"name": "StepLR", "step_size": 20, "gamma": 0.5}
    r32 = run("adam", spec, n=3, steps=60, lr=[1e-2, 5e-3, 2e-3], dtype="float32")
    r64 = run("adam", spec, n=3, steps=60, lr=[1e-2, 5e-3, 2e-3])
    # the lr is a hyperparameter: float64 in every run (torch's Python float), the same schedule
    assert r32.x.dtype == np.float32 and r32.lr.dtype == np.float64
    assert np.array_equal(r32.lr, r64.lr)
    assert np.allclose(r32.x, r64.x, rtol=0, atol=1e-4)
    # a momentum table and ReduceLROnPlateau in float32
    cyc = run("sgd", PER_TRAJ[2][1], n=3, dtype="float32", **PER_TRAJ[2][2])
    assert np.isfinite(cyc.x).all() and np.array_equal(cyc.lr, run("sgd", PER_TRAJ[2][1], n=3, **PER_TRAJ[2][2]).lr)
    opts = dict(patience=2, factor=0.5, threshold=1e-2)
    pl = run("sgd", {"name": "ReduceLROnPlateau", **opts}, n=1, steps=80, lr=1e-3, momentum=0.9, dtype="float32")
    want = S.plateau_reference(1e-3, pl.loss[0, :80].astype(float).tolist(), **opts)
    assert len(set(want)) > 1
    assert np.array_equal(pl.lr[0], want)  # float32 losses decide the cuts, the lr is float64


# the CUDA engine in Numba's CUDA simulator, against the compiled CPU engine in the same process
SIM_SCRIPT = r"""
import json, numpy as np, optlab
cases = json.loads(CASES)
out = []
for opt, spec, hyper in cases:
    kw = dict(x0=np.tile([-1.5, 2.0], (3, 1)), steps=20, scheduler=spec, progress=False, **hyper)
    a = optlab.simulate(opt, "rosenbrock", **kw)
    b = optlab.simulate(opt, "rosenbrock", device="cuda", **kw)
    out.append(dict(opt=opt, name=spec["name"], device=b.options["device"],
                    same={k: bool(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True))
                          for k in ("x", "loss", "lr", "x_final", "diverged_step", "best_step")},
                    schedules=len({tuple(r) for r in a.lr})))
print(json.dumps(out))
"""


@pytest.mark.cudasim
@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="the CUDA simulator needs numba-cuda: pip install -e '.[cuda]'")
def test_cuda_simulator_gives_the_cpu_bits():
    """A shared table, per-trajectory tables, a momentum table and ReduceLROnPlateau on the CUDA
    engine (one trajectory per block) in the simulator: the CPU's bits (see tests/test_cuda_sim.py
    for why this runs in a subprocess)."""
    cases = [PER_TRAJ[0], PER_TRAJ[2], PER_TRAJ[3], PER_TRAJ[6],
             ("adam", {"name": "ExponentialLR", "gamma": 0.9}, dict(lr=1e-2))]
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT")}
    env["NUMBA_ENABLE_CUDASIM"] = "1"
    code = f"CASES = {json.dumps(json.dumps(cases))}\n{SIM_SCRIPT}"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-4000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert len(out) == len(cases)
    for c in out:
        assert c["device"] == "cuda" and all(c["same"].values()), c
    assert [c["schedules"] for c in out] == [3, 3, 3, 3, 1]


# ----------------------------------------------------------------------------- (d) errors

def _error(opt, scheduler, **kw):
    with pytest.raises(OptlabError) as e:
        optlab.simulate(opt, "rosenbrock", x0=ROSEN, steps=5, scheduler=scheduler, progress=False, **kw)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def test_scheduler_without_a_name_says_so_in_a_run():
    """A scheduler dict without ``name`` (a typo in its key) gets the planner's message, also in an
    lr sweep (where the engine looks at the name first, for ReduceLROnPlateau's rows)."""
    for kw in ({}, dict(lr=[1e-3, 2e-3])):
        x0 = np.tile(ROSEN, (2, 1)) if kw else ROSEN
        with pytest.raises(OptlabError) as e:
            optlab.simulate("adam", "rosenbrock", x0=x0, steps=5, scheduler={"nam": "StepLR"}, progress=False, **kw)
        assert str(e.value).startswith("scheduler {'nam': 'StepLR'} has no 'name'; one of: LambdaLR"), str(e.value)


def test_scheduler_with_muon_adamw_is_one_line():
    with pytest.raises(OptlabError) as e:
        optlab.simulate("muon_adamw", "mlp", x0=np.full(9, 0.1), steps=2, scheduler={"name": "StepLR", "step_size": 2},
                        progress=False)
    assert str(e.value) == ("Optimizer 'muon_adamw' does not run with a learning-rate scheduler: it has two "
                            "learning rates (lr for Muon, adamw_lr for AdamW)")


def test_scheduler_with_lbfgs_is_one_line():
    assert _error("lbfgs", {"name": "StepLR", "step_size": 2}) == (
        "Optimizer 'lbfgs' does not run with a learning-rate scheduler (schedulers drive the elementwise optimizers)")


def test_scheduler_not_a_dict_is_one_line():
    msg = _error("adam", "StepLR")
    assert msg.startswith("Invalid scheduler: 'StepLR' (must be a dict")


# (optimizer, scheduler, torch's message); optlab checks every per-trajectory value as torch checks one
BAD = [
    ("adam", {"name": "ConstantLR", "factor": 2.0}, "Constant multiplicative factor expected to be between 0 and 1."),
    ("sgd", {"name": "LinearLR", "start_factor": [0.5, 0.0]},
     "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    ("adam", {"name": "CosineAnnealingWarmRestarts", "T_0": 0}, "Expected positive integer T_0, but got 0"),
    ("adam", {"name": "ReduceLROnPlateau", "factor": 1.5}, "Factor should be < 1.0."),
    ("adagrad", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1},
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
    ("adafactor", {"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10},
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
]


def _bad_kw(spec):
    n = max((len(v) for v in spec.values() if isinstance(v, list)), default=1)
    return dict(lr=[1e-3] * n) if n > 1 else {}


@pytest.mark.parametrize("opt,spec,message", BAD, ids=[f"{o}-{s['name']}" for o, s, _ in BAD])
def test_bad_option_gives_torchs_message(opt, spec, message):
    assert _error(opt, spec, **_bad_kw(spec)) == message


def test_cycle_momentum_off_runs_on_adagrad():
    res = run("adagrad", {"name": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5,
                          "cycle_momentum": False}, steps=10, lr=0.1)
    assert res.lr[0, 5] == 0.1 and res.lr[0, 0] == 0.01


@pytest.mark.parity
@pytest.mark.parametrize("opt,spec,message", BAD, ids=[f"{o}-{s['name']}" for o, s, _ in BAD])
def test_bad_option_messages_are_torchs(opt, spec, message):
    torch = pytest.importorskip("torch")
    import generate
    cls_name, kw = generate.torch_setup(opt, {})
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    o = getattr(torch.optim, cls_name)([p], **kw)
    bad = spec_of(spec, len(next((v for v in spec.values() if isinstance(v, list)), [0])) - 1)
    with pytest.raises(ValueError) as e:
        getattr(torch.optim.lr_scheduler, bad["name"])(o, **{k: v for k, v in bad.items() if k != "name"})
    assert str(e.value) == message


def test_per_trajectory_scheduler_options_make_the_trajectories():
    """One start and a per-trajectory option: as many trajectories as values, like a hyperparameter
    array; a mismatch with the hyperparameters' count is one line."""
    from optlab import simulate
    from optlab.errors import OptlabError
    res = simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=40, scheduler={"name": "StepLR", "step_size": [1, 2, 3]})
    assert res.n_traj == 3 and (res.x[:, 0] == [-1.5, 2.0]).all()
    for i, k in enumerate((1, 2, 3)):
        one = simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=40, scheduler={"name": "StepLR", "step_size": k})
        np.testing.assert_array_equal(res.x[i], one.x[0])
    with pytest.raises(OptlabError, match="The scheduler has 3 values per trajectory but the hyperparameters have 2"):
        simulate("adam", "rosenbrock", steps=5, lr=[0.1, 0.2], scheduler={"name": "StepLR", "step_size": [1, 2, 3]})
