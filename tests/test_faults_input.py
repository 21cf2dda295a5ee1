"""Faults of input: validate first, write after; no key silently ignored; messages that do not mislead.

Every bad value or key, from the command line or the API, gets one line
(``optlab: error: ...`` on the CLI), a non-zero status, and leaves nothing
behind. Most checks run in-process (``optlab.cli.main([...])``, or the runner
on a config composed once); a handful run as real subprocesses. Nothing here
compiles a kernel except the two seed tests (sgd on quadratic, shared with
the engine tests).
"""
import copy
import random
import subprocess
import sys

import numpy as np
import pytest

import optlab
from optlab import cli
from optlab.errors import OptlabError
from optlab.runner import prepare, run

from conftest import ROOT, run_cli


def _cli(capsys, tmp_path, *args):
    """``optlab ARGS hydra.run.dir=<tmp>`` in-process: (status, stderr lines, folder)."""
    out = tmp_path / "run"
    status = cli.main([*args, f"hydra.run.dir={out}", f"hydra.sweep.dir={out}"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return status, err, out


def _refused(capsys, tmp_path, *args, expect=None):
    status, err, out = _cli(capsys, tmp_path, *args)
    assert status != 0, args
    assert len(err) == 1 and err[0].startswith("optlab: error: "), (args, err)
    assert not out.exists(), (args, list(out.iterdir()))
    if expect is not None:
        assert expect in err[0], (args, err[0])
    return err[0]


# --- 1. validate first, write after ----------------------------------------------------------

@pytest.mark.parametrize("args,expect", [
    (["optimizer.lr=inf"], "Invalid lr for optimizer 'adam': inf (must be a finite number)"),
    (["optimizer.eps=-inf"], "-inf"),
    (["optimizer=sgd", "optimizer.momentum=nan"], "nan"),
    (["objective=quadratic", "objective.cond=inf"], "Invalid cond for objective 'quadratic'"),
    (["objective.x0=abc"], "Invalid objective.x0: 'abc'"),
    (["objective.x0=[a,b]"], "Invalid objective.x0: ['a', 'b']"),
    (["objective.x0=[1,inf]"], "must be finite numbers"),
    (["engine.seed=9223372036854775808"], "Invalid seed: 9223372036854775808 (must be an integer from 0 to 2**63 - 1)"),
    (["engine.seed=-1"], "Invalid seed: -1"),
    (["engine.max_memory_gb=-1"], "Invalid max_memory_gb: -1.0 (must be a number > 0"),
    (["engine.tol=nan"], "Invalid tol: nan"),
    (["plot.format=jpg"], "Invalid plot.format: 'jpg'"),
    (["plot.dpi=0"], "Invalid plot.dpi: 0"),
    (["plot.contour=maybe"], "Invalid plot.contour: 'maybe'"),
    (["report.job_figures=-1"], "Invalid report.job_figures: -1"),
    (["report.enabled=3"], "Invalid report.enabled: 3"),
    (["objective=sphere", "objective.dim=3", "plot.animate=true"], "plot.animate draws the paths on the plane"),
    # torch's "StepLR.__init__() missing 1 required positional argument" named no key to set
    (["scheduler=step_lr"], "Scheduler step_lr requires scheduler.step_size: add scheduler.step_size=..."),
    (["scheduler=sequential_lr", "scheduler.milestones=[5]"], "requires scheduler.schedulers"),
    (["scheduler=one_cycle_lr", "scheduler.max_lr=0.01"], "add scheduler.total_steps=..."),
    (["scheduler=step_ln"], "Unknown scheduler 'step_ln'; did you mean 'step_lr'?"),
    (["+experiment=quickstart", "study.optimizers.5.lr=0.002"],  # was 'Error merging override ...'
     "Invalid override 'study.optimizers.5.lr=0.002': study.optimizers has 3 entries (0 to 2)"),
    # the explorer's own lr grid, when every optimizer has its own: ran with it silently unused
    (["+experiment=explorer", "study.lr=[-1,0.1]"], "Invalid study.lr: [-1, 0.1]"),
    (["+experiment=explorer", "study.lr=[0.001,0.1,5]"], "study.lr=[0.001, 0.1, 5] is not used: every optimizer"),
    (["+experiment=optimizer_race", "study.overlay=foo"], "Invalid study.overlay: 'foo'"),
    (["+experiment=optimizer_race", "study.overlay=[adamm]"], "Unknown optimizer 'adamm'"),
    # the dimension's messages named an x0 the user never gave
    (["objective=beale", "+objective.dim=3"], "Invalid objective.dim: 3 (objective 'beale' is 2-dimensional)"),
    (["+experiment=quickstart", "objective=mlp"], "or objective.x0=null for the objective's default starts"),
    (["optimizer.beta1=0.8"], "optimizer.beta1 is not in adam's config, which sets betas (beta1, beta2): "
                              "set optimizer.betas=[...], or add the part with +optimizer.beta1=..."),
])
def test_bad_value_is_one_line_and_writes_nothing(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, *args, expect=expect)


def test_a_bad_plot_option_is_refused_before_metrics_are_written(tmp_path):
    """The API refuses a bad plot option before any engine call or file (it used to raise after
    metrics.json and the trajectories were written)."""
    out = tmp_path / "api"
    cfg = {"study": {"name": "single"}, "optimizer": {"name": "sgd", "lr": 0.1},
           "objective": {"name": "quadratic", "x0": [1.0, 1.0]}, "engine": {"steps": 5},
           "plot": {"format": "png", "dpi": "high"}}
    with pytest.raises(OptlabError, match=r"Invalid plot.dpi: 'high'"):
        run(cfg, out)
    assert not out.exists()


def test_seeds_outside_the_generator_range_are_refused_by_the_api():
    for seed in (2**63, 2**64, -1, 1.5, "7", True, np.float64(3.0)):
        with pytest.raises(OptlabError, match=r"Invalid seed") as err:
            optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, seed=seed, lr=0.1)
        assert "\n" not in str(err.value)


def test_seed_handling_does_not_depend_on_call_order():
    """A run keyed by seed 5 gives the same bits before and after runs keyed by the largest seed and
    by numpy integer types (each reaches the kernel as the same int64 argument)."""
    kw = dict(x0=[[1.0, 1.0]] * 4, steps=20, lr=0.05, grad_noise=0.3)
    first = optlab.simulate("sgd", "quadratic", seed=5, **kw)
    top = optlab.simulate("sgd", "quadratic", seed=2**63 - 1, **kw)
    as_u64 = optlab.simulate("sgd", "quadratic", seed=np.uint64(5), **kw)
    again = optlab.simulate("sgd", "quadratic", seed=5, **kw)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.x, as_u64.x)
    assert not np.array_equal(first.x, top.x)  # the key matters: the noise differs


@pytest.mark.parametrize("grid,expect", [
    ({"lr": 0.1}, "Invalid grid['lr']: 0.1 (must be a list of values"),
    ({"lr": "0.1"}, "Invalid grid['lr']: '0.1'"),
    ({"lr": ["a", "b"]}, "grid['lr']: Invalid lr for optimizer 'sgd': 'a' (must be a number, not text)"),
    ({"lr": [0.1, float("inf")]}, "grid['lr']: Invalid lr for optimizer 'sgd': inf (must be a finite number)"),
    ({"lr": [0.1], "momentum": [0.0, float("nan")]}, "nan"),
    ({"lrr": [0.1]}, "Unknown hyperparameter 'lrr'"),
    ({"lr": []}, "grid['lr'] is empty"),
    ({"lr": [None, 0.1]}, "grid['lr']: Invalid lr: None"),  # numpy reads None as NaN
    ({"momentum": [0.5, -0.9], "nesterov": [False, True]}, "grid['momentum']: Invalid momentum value: -0.9"),
    ({"momentum": [0.0, 0.9], "nesterov": [False, True]}, "Nesterov momentum requires a momentum"),
])
def test_sweep_grids_are_checked_before_any_run(grid, expect):
    with pytest.raises(OptlabError) as err:
        optlab.sweep("sgd", "quadratic", grid=grid, x0=[1.0, 1.0], steps=3)
    assert expect in str(err.value) and "\n" not in str(err.value)


# --- 2. no key silently ignored ----------------------------------------------------------------

@pytest.mark.parametrize("args,expect", [
    (["+experiment=saddle_escape", "engine.steps=7"],
     "Study 'saddle_escape' does not use 'engine.steps'; steps are set per objective in study.objectives"),
    (["+experiment=quickstart", "optimizer.lr=-5"],
     "Study 'compare' does not use 'optimizer.lr'; it runs the optimizers of study.optimizers"),
    (["+experiment=momentum", "optimizer=sgd"], "does not use the optimizer group"),
    (["+experiment=lr_divergence", "objective=beale"], "does not use the objective group"),
    (["+experiment=batch_vs_minibatch", "engine.steps=9"], "its budget is study.epochs"),
    (["+experiment=adam_betas", "engine.grad_noise=0.1"], "does not use 'engine.grad_noise'"),
    (["+experiment=local_minima", "plot.max_paths=3"], "does not use 'plot.max_paths'"),
    (["+experiment=momentum", "+study.n_lrr=3"], "Unknown key 'study.n_lrr' for study 'momentum'"),
    (["+plot.fomat=svg"], "Unknown key 'plot.fomat'; did you mean 'plot.format'?"),
    (["+engine.stepz=5"], "Unknown key 'engine.stepz'; did you mean 'engine.steps'?"),
    (["engine.stepz=5"], "Unknown key 'engine.stepz'; did you mean 'engine.steps'?"),
    (["engine.num_shards=2"], "Key 'engine.num_shards' is not in the config: add it with +engine.num_shards=..."),
    (["+report.enable=false"], "Unknown key 'report.enable'; did you mean 'report.enabled'?"),
    (["+study.strats=10"], "Unknown key 'study.strats'"),
    (["+colour=red"], "Unknown config key 'colour'"),
    (["-m", "+experiment=saddle_escape", "engine.steps=7,8"], "does not use 'engine.steps'"),  # every job's keys
    (["-m", "optimizer.lr=0.1,0.2", "+plot.fomat=svg"], "Unknown key 'plot.fomat'"),
])
def test_a_key_the_study_does_not_read_is_refused(capsys, tmp_path, args, expect):
    msg = _refused(capsys, tmp_path, *args, expect=expect)
    assert len(msg) < 300, msg


def test_the_quickstart_takes_engine_steps_and_per_optimizer_settings():
    """What the README promises: quickstart (study compare) reads engine.steps; its optimizers'
    settings are study.optimizers.N.key."""
    cfg = _composed("+experiment=quickstart")
    _, checked = prepare(_with(cfg, "engine.steps", 10000), ["engine.steps=10000"])
    assert checked["engine"]["steps"] == 10000
    bad = _with(cfg, "study", {**cfg["study"], "optimizers": [{"name": "gd", "lr": -1.0}]})
    with pytest.raises(OptlabError, match="Invalid learning rate: -1.0"):
        prepare(bad, ["study.optimizers.0.lr=-1"])


@pytest.mark.parametrize("study,key,target", [
    ("optimizer_race", "steps", 123), ("plateau_cliff", "steps", 77), ("momentum", "tol", 1e-3)])
def test_an_engine_key_the_study_has_as_its_own_knob_is_honoured(study, key, target):
    cfg = _composed(f"+experiment={study}")
    _, checked = prepare(_with(cfg, f"engine.{key}", target), [f"engine.{key}={target}"])
    assert checked["study"][key] == target
    both = _with(_with(cfg, f"engine.{key}", target), "study", {**cfg["study"], key: target * 2})
    with pytest.raises(OptlabError, match=f"Both engine.{key}="):
        prepare(both, [f"engine.{key}={target}", f"study.{key}={target * 2}"])


def test_every_experiment_file_sets_only_keys_its_study_reads():
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        prepare(_composed(f"+experiment={path.stem}"), [f"+experiment={path.stem}"])


def test_api_selection_helpers_reject_unknown_keyword_names():
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.2], "momentum": [0.0, 0.9]},
                      x0=[1.0, 1.0], steps=3)
    assert list(sw.index(lr=0.1)) == [0, 1]
    with pytest.raises(OptlabError, match=r"Unknown grid axis 'lrr'. Axes: lr, momentum, start"):
        sw.index(lrr=0.1)
    with pytest.raises(OptlabError, match=r"Unknown field 'lossfinal'; did you mean 'loss_final'"):
        sw.grid("lossfinal")
    with pytest.raises(OptlabError, match=r"Unknown hyperparameter 'stepz'"):
        optlab.sweep("sgd", "quadratic", grid={"lr": [0.1]}, x0=[1.0, 1.0], stepz=3)
    with pytest.raises(OptlabError, match=r"Invalid objective_options"):
        optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, objective_options=["cond"])


# --- 3. messages -----------------------------------------------------------------------------

def test_a_per_trajectory_lr_list_is_counted_against_the_starts(capsys, tmp_path):
    lrs = "optimizer.lr=[0.1,0.01,0.001,0.2,0.3]"
    msg = _refused(capsys, tmp_path, lrs, "objective.x0=[[0,0],[1,1],[2,2]]")
    assert "5 values per hyperparameter for 3 start points" in msg and "1 trajectories" not in msg
    msg = _refused(capsys, tmp_path, lrs, "optimizer.eps=[1e-8,1e-8,1e-8,1e-8,-1]")
    assert "Invalid epsilon value: -1.0" in msg
    # five values for the five default starts: accepted (checked without running)
    prepare(_with(_composed(), "optimizer.lr", [0.1, 0.01, 0.001, 0.2, 0.3]), [lrs])


def test_following_the_memory_advice_fits():
    """The stride the memory message names does fit (it used to be able to name one that did not)."""
    import re
    from optlab.engine.core import check_memory
    rng = random.Random(3)
    for _ in range(300):
        n, dim, steps = rng.randint(1, 10**5), rng.randint(1, 50), rng.randint(1, 10**6)
        limit = rng.uniform(1e-5, 1.0)
        try:
            check_memory(n, steps + 1, dim, 8, steps, 1, limit)
            continue
        except OptlabError as exc:
            msg = str(exc)
        m = re.search(r"record_every=(\d+)", msg)
        if m is None:
            assert "fewer trajectories" in msg
            continue
        k = int(m.group(1))
        assert 1 < k <= steps
        check_memory(n, steps // k + 1, dim, 8, steps, k, limit)  # raises if the advice does not fit


def test_long_lists_are_cut_and_point_to_optlab_list(capsys, tmp_path):
    msg = _refused(capsys, tmp_path, "objective=rosenbrok",
                   expect="Unknown objective 'rosenbrok'; did you mean 'rosenbrock'?")
    assert len(msg) < 250 and "..." in msg and "optlab list objectives" in msg


def test_optlab_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    names = {ln.split()[0] for ln in out.splitlines() if ln.startswith("  ")}
    assert set(optlab.optimizers.names()) <= names and set(optlab.objectives.names()) <= names
    assert {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")} <= names
    assert [ln[:-1] for ln in out.splitlines() if ln.endswith(":")] == list(cli.LIST_KINDS)  # every kind
    assert all(len(ln) <= 130 for ln in out.splitlines())
    assert cli.main(["list", "experimnts"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'experiments'" in err[0]


# --- 4. optlab --help ------------------------------------------------------------------------

def test_help_names_the_app_shows_usage_experiments_and_where_to_read_more():
    p = subprocess.run([sys.executable, "-m", "optlab", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert text.startswith("optlab: ") and "powered by Hydra" not in text
    assert "== Usage ==" in text and "optlab -m optimizer=sgd,adam" in text and "optlab list" in text
    for name, line in cli.catalogue("experiments"):
        assert f"  {name} " in text and line in text, name  # each experiment, with its one line
    assert "Read more: README.md" in text


def test_one_line_descriptions_end_at_a_sentence_not_at_an_abbreviation():
    """The one-line descriptions of ``--help`` and ``optlab list`` end at the first sentence, not
    at a citation's abbreviations inside parentheses; every experiment's line is more than a
    citation (tried as a new user would, two read "Reddi, Kale & Kumar (ICLR 2018, Sec")."""
    assert cli._first_line("Lessard, Recht & Packard (SIAM J. Optim. 2016, Sec. 4.6). On a quadratic") == \
        "Lessard, Recht & Packard (SIAM J. Optim. 2016, Sec. 4.6)"
    assert cli._first_line("basins of attraction. A grid") == "basins of attraction"
    assert cli._first_line("one; two. three") == "one"
    assert cli._first_line("one; two. three", ends=".") == "one; two"  # a study's line: the sentence whole
    assert dict(cli.catalogue("studies"))["saddle_escape"].endswith("escape")
    for name, line in cli.catalogue("experiments"):
        assert line.count("(") == line.count(")") or line.endswith("..."), (name, line)
        assert len(line.split()) >= 3, (name, line)


# --- 5. fuzz: random bad values and keys through the override parser, the runner and the CLI ---

BAD = {
    "optimizer.lr": ["inf", "-inf", "nan", "-1", "abc", "[a]", "'x'", "-1e-3"],
    "optimizer.eps": ["-1", "nan", "inf", "abc"],
    "optimizer.weight_decay": ["-1", "nan", "inf", "abc"],
    "optimizer.betas": ["[0.9]", "[2,0.9]", "abc", "[nan,0.9]", "[0.9,inf]"],
    "engine.steps": ["0", "-5", "1.5", "abc", "true", "[1]"],
    "engine.record_every": ["0", "-1", "abc", "2.5"],
    "engine.seed": ["-1", "9223372036854775808", "1e30", "abc", "1.5", "[1]"],
    "engine.dtype": ["float16", "3", "int"],
    "engine.device": ["tpu", "0"],
    "engine.tol": ["-1", "nan", "inf", "abc"],
    "engine.blowup": ["0", "-1", "nan", "abc"],
    "engine.grad_noise": ["-1", "inf", "nan", "abc"],
    "engine.clip_grad_norm": ["-1", "inf", "nan"],
    "engine.max_memory_gb": ["-1", "0", "abc", "inf", "nan"],
    "objective.x0": ["abc", "[a,b]", "[[1,2,3]]", "[inf,0]", "[]", "[[nan,1]]"],
    "objective.dim": ["0", "-1", "abc", "1.5"],
    "plot.format": ["jpg", "3", "PNG"],
    "plot.dpi": ["0", "abc", "-1", "1.5", "100000"],
    "plot.contour": ["maybe", "3"],
    "plot.loss": ["no", "2"],
    "plot.max_paths": ["0", "abc", "-2"],
    "report.enabled": ["yes", "2"],
    "report.job_figures": ["-1", "abc"],
    "report.progress": ["sometimes"],
}
MISSPELT = ["+engine.stepz=5", "+plot.fomat=png", "+report.enable=false", "optimizer.lrr=0.1", "+optimizer.lrr=0.1",
            "+objective.conds=3", "+study.strats=3", "+colour=1", "engine.recordevery=2", "+plot.surface=true"]
UNUSED = {  # experiment -> keys its study does not read (and does not take over)
    "saddle_escape": ["engine.steps=7", "engine.record_every=2", "engine.grad_noise=0.1", "optimizer.lr=0.1",
                      "objective=beale", "plot.contour=false", "+study.steps=3"],
    "quickstart": ["optimizer.lr=-5", "optimizer=sgd", "+study.n_lr=3", "+study.quick=true"],
    "momentum": ["engine.steps=10", "engine.blowup=5.0", "optimizer.lr=0.1", "objective.x0=[1,1]"],
    "lr_divergence": ["engine.clip_grad_norm=1.0", "plot.loss=false", "+study.n_lrr=3"],
}
EXTRA_OK = ["engine.steps=5", "objective=beale", "optimizer=sgd", "engine.dtype=float32", "plot.dpi=50", ""]


def _cases(rng, n):
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            key = rng.choice(sorted(BAD))
            args = [f"{key}={rng.choice(BAD[key])}"]
            extra = rng.choice(EXTRA_OK)
            if extra and extra.split("=")[0].split(".")[0] != key.split(".")[0]:
                args.insert(0, extra)
        elif kind < 0.8:
            args = [rng.choice(MISSPELT)]
        else:
            exp = rng.choice(sorted(UNUSED))
            args = [f"+experiment={exp}", rng.choice(UNUSED[exp])]
        out.append(args)
    return out


_BASES: dict = {}


def _composed(*overrides):
    """The plain config the CLI would hand the runner (composed once per experiment)."""
    key = tuple(overrides)
    if key not in _BASES:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            _BASES[key] = OmegaConf.to_container(compose(config_name="config", overrides=list(overrides)),
                                                 resolve=True)
    return copy.deepcopy(_BASES[key])


def _with(cfg, dotted, value):
    cfg = copy.deepcopy(cfg)
    *path, last = dotted.split(".")
    node = cfg
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    return cfg


def _apply(args):
    """Hydra's override grammar on a config composed once: a group override recomposes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    exp = [a for a in args if a.startswith("+experiment=")]
    groups = [a for a in args if "=" in a and "." not in a.split("=")[0] and not a.startswith("+")]
    cfg = _composed(*exp, *groups)
    rest = [a for a in args if a not in exp and a not in groups]
    for o in OverridesParser.create().parse_overrides(rest):
        cfg = _with(cfg, o.key_or_group, o.value())
    return cfg


def test_fuzz_api_and_override_parser(tmp_path):
    """Three hundred random bad values, misspelt and unused keys: each one line from the runner,
    with nothing written (the runner would create the folder and compile kernels otherwise)."""
    rng = random.Random(14)
    seen = set()
    for i, args in enumerate(_cases(rng, 300)):
        out = tmp_path / f"api{i}"
        try:
            cfg = _apply(args)
        except Exception as exc:  # noqa: BLE001 - an override the grammar itself refuses: the CLI's case
            assert type(exc).__name__ in ("OverrideParseException", "ConfigCompositionException"), (args, exc)
            continue
        with pytest.raises(OptlabError) as err:
            run(cfg, out, overrides=args)
        msg = str(err.value)
        assert "\n" not in msg and 0 < len(msg) < 300, (args, msg)
        assert not out.exists(), args
        seen.add(msg.split(":")[0].split("'")[0])
    assert len(seen) >= 5  # the cases reach several different checks


def test_fuzz_cli_in_process(capsys, tmp_path):
    rng = random.Random(15)
    for args in _cases(rng, 30):
        _refused(capsys, tmp_path, *args)


@pytest.mark.parametrize("args", [
    ["optimizer.lr=inf"], ["+experiment=saddle_escape", "engine.steps=7"], ["engine.stepz=5"],
    ["-m", "optimizer=sgd,adam", "engine.foo=1"],
])
def test_fuzz_cli_subprocess(tmp_path, args):
    out = tmp_path / "sub"
    p = run_cli(*args, f"hydra.run.dir={out}", f"hydra.sweep.dir={out}", timeout=120)
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(err) == 1 and err[0].startswith("optlab: error: "), p.stderr
    assert "Traceback" not in p.stdout + p.stderr and not out.exists()


@pytest.mark.parametrize("call,expect", [
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, lr=True), "Invalid lr for optimizer 'sgd': True"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0]] * 2, steps=3, lr=[0.1, False]), "must be a number"),
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], steps=3, betas=(True, 0.9)), "Invalid betas"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[True, False], steps=3), "Invalid x0"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[[1.0, True]], steps=3), "Invalid x0"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, objective_options={"cond": True}),
     "Invalid cond for objective 'quadratic': True (must be a number)"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0, 1.0], steps=3, objective_options={"seed": 1.5}),
     "Invalid seed for objective 'quadratic': 1.5 (must be an integer)"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0, 1.0], steps=3, objective_options={"seed": -1}),
     "must be an integer >= 0"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, lr=[[0.1, 0.2]]), "values of shape (1, 2)"),
    (lambda: optlab.sweep("sgd", "quadratic", grid={"lr": [True, 0.1]}, x0=[1.0, 1.0], steps=3), "grid['lr']"),
])
def test_true_false_and_misshapen_values_are_not_read_as_numbers(call, expect):
    """numpy reads True as 1.0 and flattens a (1, 2) lr into two trajectories: both used to run."""
    with pytest.raises(OptlabError) as err:
        call()
    assert expect in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("args", [["optimizer.eps=true"], ["optimizer=sgd", "optimizer.momentum=true"],
                                  ["objective=quadratic", "objective.cond=true"], ["objective.x0=[[true,false]]"]])
def test_true_false_for_a_number_is_refused_on_the_cli(capsys, tmp_path, args):
    _refused(capsys, tmp_path, *args)


def test_sweep_index_with_a_value_of_another_type_is_one_line():
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.2]}, x0=[1.0, 1.0], steps=3)
    with pytest.raises(OptlabError, match=r"lr='a' is not on the grid"):
        sw.index(lr="a")


@pytest.mark.parametrize("multirun", [False, True])
def test_an_output_folder_that_is_a_file_is_one_line(capsys, tmp_path, multirun):
    """hydra.run.dir / hydra.sweep.dir naming a file (or a path under one) ended in Hydra's traceback."""
    afile = tmp_path / "afile"
    afile.write_text("keep")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    for target in (afile, afile / "sub"):
        args = (["-m", "optimizer.lr=0.1,0.2"] if multirun else []) + ["engine.steps=5", f"{key}={target}"]
        assert cli.main(args) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith(f"optlab: error: Invalid {key}:") and "file" in err[0], err
    assert afile.read_text() == "keep"


def test_an_unknown_flag_is_one_line(capsys, tmp_path):
    msg = _refused(capsys, tmp_path, "--bogus-flag", expect="unrecognized arguments: --bogus-flag")
    assert "usage:" not in msg
    _refused(capsys, tmp_path, "-m", "--cfg", "job", "optimizer.lr=0.1,0.2", expect="--multirun and --cfg given together")


@pytest.mark.parametrize("args, expect", [
    (["+experiment=local_minima", "study.n=0"], "Invalid study.n: 0"),
    (["+experiment=optimizer_race", "study.decades=[3,-3]"], "Invalid study.decades"),
    (["+experiment=plateau_cliff", "study.clip=[-1]"], "Invalid study.clip"),
    (["+experiment=saddle_escape", "study.delta=-1"], "Invalid study.delta"),
    (["+experiment=batch_vs_minibatch", "study.batch_sizes=[-1]"], "Invalid study.batch_sizes"),
])
def test_a_lecture_studys_own_values_are_checked_before_any_compile(capsys, tmp_path, monkeypatch, args, expect):
    # with an empty kernel cache: the study is run until its first engine call before anything is
    # compiled (runner._dry_run), so the one line is the error, not a compile notice and then it
    monkeypatch.setenv("OPTLAB_CACHE_DIR", str(tmp_path / "cache"))
    from optlab.engine import warmup
    monkeypatch.setattr(warmup, "ensure", lambda keys: pytest.fail("compiled before checking"))
    rc = cli.main(args + [f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and expect in err[0], err
    assert not (tmp_path / "run").exists()


def test_a_grid_valid_only_with_another_axis_runs():
    """nesterov=True needs a momentum: each value was checked with the fixed keywords alone."""
    sw = optlab.sweep("sgd", "quadratic", grid={"momentum": [0.5, 0.9], "nesterov": [False, True]},
                      x0=[1.0, 1.0], steps=3, lr=0.1)
    assert sw.shape == (2, 2, 1) and sw.grid("nesterov").ravel().tolist() == [False, True, False, True]


@pytest.mark.parametrize("call,expect", [
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], stpes=5), "did you mean 'steps'?"),
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], record_evry=2), "did you mean 'record_every'?"),
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], lrr=0.1), "did you mean 'lr'?"),
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], lr=None), "Invalid lr: None"),
    (lambda: optlab.sweep("adam", "quadratic", grid={"betas": [(0.9, 0.99)], "beta1": [0.5]}, x0=[1.0, 1.0]),
     "grid['betas'] and 'beta1' both given"),
    (lambda: optlab.sweep("adam", "quadratic", grid={"betas": [(0.9, 0.99)]}, beta2=0.5, x0=[1.0, 1.0]),
     "grid['betas'] and 'beta2' both given"),
    (lambda: optlab.sweep("sgd", "quadratic", grid={"scheduler.step_size": [2, 5]}, x0=[1.0, 1.0],
                          scheduler={"name": "StepLR", "step_size": 3}), "'scheduler.step_size' is both in grid"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], scheduler={"name": "StepLR", "step_size": 2,
                                                                           "gamma": float("nan")}),
     "StepLR: gamma=nan is not allowed (must be a finite number)"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0]] * 2, scheduler={"name": "ExponentialLR",
                                                                               "gamma": [0.5, np.inf]}),
     "ExponentialLR: gamma=inf is not allowed"),
    (lambda: optlab.objectives.get("himmelblau").value("ab"), "Invalid point 'ab' for objective 'himmelblau'"),
    (lambda: optlab.objectives.get("himmelblau").value([1.0, 2.0, 3.0]), "got points of dimension 3"),
    (lambda: __import__("optlab.plot").plot.paths([]), "Nothing to draw: an empty list"),
])
def test_api_input_gets_one_line_that_names_it(call, expect):
    """Tried as a new user would: each of these ran with a value dropped or read as NaN, or failed
    deep inside numpy (an IndexError, a ValueError), or named the wrong thing."""
    with pytest.raises(OptlabError) as err:
        call()
    assert expect in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_one_element_list_and_the_dtype_type_are_one_value():
    one = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [2.0, 0.0]], steps=3, lr=[0.1])
    assert one.hyper["lr"].tolist() == [0.1, 0.1]
    both = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [2.0, 0.0]], steps=3, lr=0.1, dtype=np.float32)
    assert both.x.dtype == np.float32 and both.options["dtype"] == "float32"
    part = optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], steps=3, betas=(0.8, 0.9), beta2=0.5)
    assert (part.hyper["beta1"].tolist(), part.hyper["beta2"].tolist()) == ([0.8], [0.5])  # the part overrides


def test_a_part_of_a_pair_is_in_the_run_label():
    """+optimizer.beta1=0.8 ran with beta1 = 0.8 under the label 'adam (lr=0.001)'."""
    from optlab.studies._common import optimizer_setup
    assert optimizer_setup({"name": "adam", "beta1": 0.8})[2] == "adam (lr=0.001, betas=(0.8, 0.999))"
    assert optimizer_setup({"name": "adam", "beta1": 0.8, "betas": [0.5, 0.9]})[2] == "adam (lr=0.001, betas=(0.8, 0.9))"
    assert optimizer_setup({"name": "adam", "maximize": True})[2] == "adam (lr=0.001, maximize=True)"
    assert optimizer_setup({"name": "sgd", "lr": [0.1, 0.01, 0.001, 0.1, 0.1]})[2] == "sgd (lr=0.001..0.1 (5))"


@pytest.mark.parametrize("args,expect", [(["check", "heavy_ball_cycle"], "optlab: check interrupted (Ctrl-C)"),
                                         (["engine.steps=3"], "before a run started; nothing was written")])
def test_ctrl_c_outside_a_run_is_one_line(capsys, monkeypatch, tmp_path, args, expect):
    """Ctrl-C in optlab check, or while the command line is checked, printed a 40-90 line traceback."""
    from optlab import check

    def interrupt(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(check, "main", interrupt)
    monkeypatch.setattr(cli, "_compose_check", interrupt)
    assert cli.main(args) == 130
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [err[0]] and expect in err[0], err
    assert not (tmp_path / "outputs").exists()


def test_ctrl_c_in_optlab_check_names_the_study_and_leaves_no_empty_folder(capsys, monkeypatch, tmp_path):
    from optlab import check

    def interrupt(name, folder):
        folder.mkdir(parents=True)
        raise KeyboardInterrupt
    monkeypatch.setattr(check, "run_study", interrupt)
    assert check.main(["heavy_ball_cycle", "--out", str(tmp_path / "chk")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted (Ctrl-C) in heavy_ball_cycle" in err[0]
    assert not (tmp_path / "chk" / "heavy_ball_cycle").exists()


def test_a_scheduler_value_torch_would_take_but_no_run_can_use_is_one_line(capsys, tmp_path):
    """gamma=nan: torch takes it and the lr is NaN from step 2. Refused when the run plans its
    schedule (the folder Hydra made is removed again)."""
    with pytest.raises(SystemExit) as exc:
        _cli(capsys, tmp_path, "scheduler=exponential_lr", "scheduler.gamma=nan")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert exc.value.code == 2 and err == ["optlab: error: ExponentialLR: gamma=nan is not allowed (must be a finite number)"]
    assert not (tmp_path / "run").exists()


def test_version_is_optlabs(capsys):
    assert cli.main(["--version"]) == 0 and capsys.readouterr().out == f"optlab {optlab.__version__}\n"


def test_a_reader_that_stops_early_gets_no_broken_pipe_warning(tmp_path):
    """``optlab ... | head -1`` printed Hydra's 'Callback ReportCallback.on_run_end raised BrokenPipeError'."""
    p = subprocess.run(f"{sys.executable} -m optlab optimizer=sgd engine.steps=3 hydra.run.dir={tmp_path / 'r'} | head -1",
                       shell=True, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.stdout.count("\n") == 1 and "BrokenPipe" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert (tmp_path / "r" / "report.html").is_file()


def test_report_refuses_a_negative_job_figures_count(capsys, tmp_path):
    """report.job_figures=-1 on a run is refused; optlab report --job-figures -1 ran."""
    with pytest.raises(SystemExit) as exc:  # argparse's usage errors exit (status 2), in one line
        cli.main(["report", str(tmp_path), "--job-figures", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Invalid --job-figures: -1 (must be an integer >= 0)" in err[0]


@pytest.mark.parametrize("args, expect", [
    # a study knob's kind comes from its default: these went on to a traceback (or quick='false' ran quick)
    (["+experiment=adam_betas", "study.quick=true", "study.tol=abc"], "Invalid study.tol: 'abc' (must be a number)"),
    (["+experiment=momentum", "study.quick='false'"], "Invalid study.quick: 'false' (must be true or false)"),
    (["+experiment=momentum", "study.quick=2"], "Invalid study.quick: 2"),
    (["+experiment=batch_vs_minibatch", "study.quick=true", "study.batch_sizes=[]"], "Invalid study.batch_sizes: []"),
    (["+experiment=batch_vs_minibatch", "study.quick=true", "study.x0=[]"], "Invalid study.x0: []"),
    (["+experiment=convergence_rates", "study.quick=true", "study.angle=nan"], "Invalid study.angle: nan"),
    (["+experiment=local_minima", "study.quick=true", "study.methods=[]"], "Invalid study.methods: []"),
    (["+experiment=momentum", "study.quick=true", "study.tol=0"], "Invalid study.tol: 0 (must be > 0)"),
    (["+experiment=optimizer_race", "study.quick=true", "study.include=5"], "Invalid study.include: 5"),
    (["+experiment=optimizer_race", "study.quick=true", "study.floor=abc"], "Invalid study.floor: 'abc'"),
    # was checked only when L-BFGS raced (the quick race has none): 0 passed unremarked
    (["+experiment=optimizer_race", "study.quick=true", "study.lbfgs_max_iter=0"],
     "Invalid study.lbfgs_max_iter: 0 (must be an integer >= 1)"),
    # a misspelt exclude was dropped silently (a misspelt include got a did-you-mean)
    (["+experiment=optimizer_race", "study.quick=true", "study.exclude=[nesterov_lookahed]"],
     "did you mean 'nesterov_lookahead'"),
    (["engine.steps=10", "engine.record_every=20"], "Invalid engine.record_every: 20 (must be at most engine.steps=10"),
    (["-m", "optimizer.lr=0.01,0.02", "hydra.sweep.subdir=same"], "Invalid hydra.sweep.subdir: 'same'"),
])
def test_study_knobs_of_the_wrong_kind_and_values_that_would_run_wrong_are_one_line(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, *args, expect=expect)


def test_a_run_into_a_sweeps_folder_and_a_sweep_into_a_runs_are_refused(capsys, tmp_path):
    """A run into a sweep's folder wrote its files beside the jobs, and the report went on showing the
    sweep alone; a sweep into a run's folder replaced the run's report. Both exited 0."""
    sweep, run = tmp_path / "S", tmp_path / "R"
    assert cli.main(["-m", "engine.steps=3", "optimizer.lr=0.01,0.02", "plot.contour=false",
                     f"hydra.sweep.dir={sweep}"]) == 0
    assert cli.main(["engine.steps=3", "plot.contour=false", f"hydra.run.dir={run}"]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for d in (sweep, run) for p in d.rglob("*") if p.is_file()}
    for args, expect in ((["engine.steps=3", f"hydra.run.dir={sweep}"], "holds a sweep (2 job folder(s))"),
                         (["-m", "engine.steps=3", "optimizer.lr=0.1,0.2", f"hydra.sweep.dir={run}"], "holds a run")):
        assert cli.main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expect in err[0], err
    assert {p: p.read_bytes() for d in (sweep, run) for p in d.rglob("*") if p.is_file()} == before
    assert cli.main(["engine.steps=3", "plot.contour=false", f"hydra.run.dir={run}"]) == 0  # a run redone in its own folder


@pytest.mark.parametrize("milestones", [[float("nan")], [2, float("inf")]])
def test_a_milestone_never_reached_is_refused(milestones):
    """NaN and inf milestones ran (no step equals them) where every other scheduler number refuses them."""
    with pytest.raises(OptlabError, match="milestones must be step numbers"):
        optlab.simulate("sgd", "sphere", x0=[[1.0, 1.0]], steps=3, scheduler={"name": "multi_step_lr",
                                                                                 "milestones": milestones})


@pytest.mark.parametrize("args, expect", [
    (["optimizer=lbfgs", "optimizer.line_search_fn=true"], "Invalid line_search_fn: True (must be null or 'strong_wolfe')"),
    (["optimizer=adafactor", "optimizer.eps1=true"], "Invalid eps1 for optimizer 'adafactor': True"),  # ran as eps1=1
    (["hydra.run.dir="], "Invalid hydra.run.dir: '' (must name a folder"),  # wrote the run into the current folder
    (["-cn", "nonexistent"], "optlab: error: Hydra stopped before the run started: MissingConfigException"),
])
def test_values_that_ran_as_something_else_are_one_line(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, *args, expect=expect)


def test_a_bad_compile_workers_variable_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_COMPILE_WORKERS", "abc")  # was ignored silently
    _refused(capsys, tmp_path, "engine.steps=3", expect="OPTLAB_COMPILE_WORKERS='abc' is not a whole number >= 1")


@pytest.mark.parametrize("args, expect", [
    (["optimizer.name=sgd"], "optimizer.name=sgd renames the default optimizer but keeps its settings; choose the "
                             "optimizer with optimizer=sgd"),  # was "Unknown hyperparameter 'betas' for 'sgd'"
    (["+experiment.foo=1"], "Unknown config key 'experiment'"),  # was ignored
    (["+experiment=optimizer_race", "study.quick=true", "study.animate=[rosenbrok]"],
     "Invalid study.animate: 'rosenbrok' is not one of the race's objectives"),  # no GIF, no word
    (["objective=sphere", "objective.dim=3", "plot.contour=true"],
     "plot.contour draws the objective's plane; objective 'sphere' has dimension 3"),  # no contour, no word
])
def test_keys_that_did_nothing_or_named_the_wrong_thing_are_one_line(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, *args, expect=expect)


def test_resume_on_a_single_run_says_it_runs_in_full(capsys, tmp_path):
    assert cli.main(["engine.steps=3", "plot.contour=false", "report.resume=true", f"hydra.run.dir={tmp_path / 'r'}"]) == 0
    assert "note: report.resume=true resumes a sweep (-m); a single run runs in full" in capsys.readouterr().err


@pytest.mark.parametrize("args, expect", [
    (["plot.dpi=5"], "Invalid plot.dpi: 5 (must be an integer from 10 to 1200) (in every job of the sweep; nothing was run)"),
    (["+optimizer.foo=1"], "Unknown hyperparameter 'foo' for optimizer 'adam'"),
])
def test_a_sweep_in_which_no_job_can_run_is_one_line_and_writes_nothing(capsys, tmp_path, args, expect):
    """A bad value that is not swept wrote a folder of failed jobs, one error line each."""
    _refused(capsys, tmp_path, "-m", "engine.steps=3", "optimizer.lr=0.01,0.02", *args, expect=expect)


def test_a_large_sweep_is_judged_by_its_first_job(capsys, tmp_path):
    """More than CHECK_JOBS jobs are not composed one by one: the first job's error is every
    job's when it names nothing that is swept (plot.dpi=5 wrote 19 failed job folders)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    lrs = ",".join(f"0.{k:03d}" for k in range(1, cli.CHECK_JOBS + 3))
    _refused(capsys, tmp_path, "-m", "engine.steps=3", f"optimizer.lr={lrs}", "plot.dpi=5",
             expect="Invalid plot.dpi: 5 (must be an integer from 10 to 1200) (in every job of the sweep; nothing was run)")
    # an error that names a swept key or value may be that job's alone: the sweep runs
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    def check(swept, job):
        with initialize_config_dir(config_dir=str(cli._conf_dir()), version_base="1.3", job_name="t"):
            plain = OmegaConf.to_container(compose(config_name="config", overrides=job), resolve=True)
        cli._check_first_job(job, plain, OverridesParser.create().parse_overrides([swept]))

    check("optimizer.lr=-1,0.1", ["optimizer.lr=-1"])
    # a list value: torch's error names one element ("at index 1: 1.0"); 9 of these 18 jobs run
    check("optimizer.betas=[0.9,1.0],[0.9,0.999]", ["optimizer.betas=[0.9,1.0]"])
    check("optimizer.momentum=-1,0.9", ["optimizer=momentum", "optimizer.momentum=-1"])
    with pytest.raises(OptlabError, match=r"Invalid plot.dpi: 5 .*\(in every job of the sweep; nothing was run\)"):
        check("optimizer.lr=0.1,0.2", ["optimizer.lr=0.1", "plot.dpi=5"])


def test_a_sweep_in_which_some_job_runs_reports_the_others(capsys, tmp_path):
    status, err, out = _cli(capsys, tmp_path, "-m", "engine.steps=3", "plot.contour=false", "optimizer.lr=-0.01,0.02")
    assert status == 1 and (out / "1" / "metrics.json").is_file() and (out / "0" / "error.json").is_file()


def test_the_folder_checks_read_values_as_hydra_does(capsys, tmp_path):
    """Review of the folder checks: a quoted folder skipped them (the second sweep overwrote the
    first, exit 0); a project folder with conf/config.yaml counted as a sweep; an interpolated
    subdir and a one-job constant subdir were refused; optimizer.name=adam (the default) too."""
    sweep = tmp_path / "sw"
    assert cli.main(["-m", "engine.steps=3", "optimizer.lr=0.01,0.02", "plot.contour=false",
                     f"hydra.sweep.dir={sweep}"]) == 0
    capsys.readouterr()
    assert cli.main(["-m", "engine.steps=3", "optimizer.lr=0.5,0.6", f"hydra.sweep.dir='{sweep}'"]) == 2
    assert "holds an earlier sweep (2 job folder(s))" in capsys.readouterr().err
    assert cli.main(["engine.steps=3", "hydra.run.dir=''"]) == 2
    assert "Invalid hydra.run.dir: ''" in capsys.readouterr().err
    project = tmp_path / "proj"
    (project / "conf").mkdir(parents=True)
    (project / "conf" / "config.yaml").write_text("a: 1\n")
    assert cli.main(["engine.steps=3", "plot.contour=false", f"hydra.run.dir={project}"]) == 0
    sub = tmp_path / "sub"
    assert cli.main(["-m", "engine.steps=3", "optimizer.lr=0.01,0.02", "plot.contour=false",
                     "hydra.sweep.subdir=j${hydra:job.num}", f"hydra.sweep.dir={sub}"]) == 0
    assert (sub / "j0" / "metrics.json").is_file() and (sub / "j1" / "metrics.json").is_file()
    assert cli.main(["-m", "engine.steps=3", "optimizer.lr=0.01", "plot.contour=false", "hydra.sweep.subdir=one",
                     f"hydra.sweep.dir={tmp_path / 'one'}"]) == 0
    assert cli.main(["engine.steps=3", "plot.contour=false", "optimizer.name=adam",
                     f"hydra.run.dir={tmp_path / 'a'}"]) == 0


@pytest.mark.parametrize("args, expect", [
    # one start: sgd's four lrs are split, adam's one trajectory cannot be (it ran in every shard)
    (["study.name=compare", "+study.optimizers=[{name:sgd,lr:[0.0001,0.0002,0.0003,0.0004]},{name:adam,lr:0.01}]",
      "objective.x0=[[-1,1]]"], "Invalid engine.num_shards: 2 (the study has only 1 trajectories"),
    (["optimizer=sgd", "scheduler=step_lr", "scheduler.step_size=2", "scheduler.gamma=[0.1,0.2,0.3,0.4]",
      "objective.x0=[[-1,1],[0,0],[0.5,0.5],[1.2,1.2]]"], "not a scheduler's per-trajectory options"),
])
def test_shards_refuse_what_they_cannot_split(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, "-m", "engine.steps=3", *args, "+engine.num_shards=2", "+engine.shard=0,1",
             expect=expect)


def test_an_empty_list_that_means_something_stays_allowed():
    from optlab.studies import optimizer_race
    from optlab.studies._lecture import study_params
    p = study_params({"study": {"animate": [], "overlay": [], "exclude": []}}, "optimizer_race",
                     optimizer_race.DEFAULTS, optimizer_race.QUICK)
    assert p["animate"] == [] and p["overlay"] == [] and p["exclude"] == []


@pytest.mark.parametrize("args, expect", [
    (["--info", "foo"], "optlab: error: argument --info/-i: invalid choice: 'foo'"),  # was Hydra's usage block
    (["--version", "extra"], "optlab: error: --version takes no other arguments, got 'extra'"),  # was Hydra's version
])
def test_bad_flag_arguments_are_one_line(capsys, args, expect):
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expect), err
    assert "Hydra" not in out


@pytest.mark.parametrize("args, expect", [
    # each ran bit for bit as without it
    (["objective=online_linear", "objective.stochastic=false", "objective.probability=0.5"],
     "objective.probability=0.5 has no effect on 'online_linear' here (it applies with stochastic=true)"),
    (["objective=online_linear", "objective.stochastic=true", "objective.period=50"],
     "objective.period=50 has no effect on 'online_linear' here (it applies with stochastic=false)"),
    (["objective=quadratic", "objective.dim=1", "objective.cond=1000"], "objective.cond=1000 has no effect"),
    (["objective=quadratic", "objective.seed=3"], "objective.seed=3 has no effect on 'quadratic' here (the seed"),
])
def test_an_objective_option_that_changes_nothing_is_refused(capsys, tmp_path, args, expect):
    _refused(capsys, tmp_path, "engine.steps=3", *args, expect=expect)
