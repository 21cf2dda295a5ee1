"""Every file under conf/ composes, and every composed config is accepted by the library."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import optlab
from optlab.studies._common import engine_kwargs, objective_setup, optimizer_setup

CONF = Path(__file__).resolve().parents[1] / "conf"


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _compose(overrides):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg, resolve=False)


def test_defaults_compose():
    cfg = _compose([])
    assert cfg["optimizer"]["name"] == "adam" and cfg["objective"]["name"] == "rosenbrock"
    assert cfg["engine"]["device"] == "cpu" and cfg["study"]["name"] == "single"


@pytest.mark.parametrize("name", _options("optimizer"))
def test_optimizer_configs_match_the_registry(name):
    cfg = _compose([f"optimizer={name}"])
    spec, hyper, _ = optimizer_setup(cfg["optimizer"])
    assert spec.name == name
    # every key is a torch keyword with torch's default value
    for key, value in hyper.items():
        assert key in spec.defaults, key
        default = spec.defaults[key]
        assert value == (tuple(default) if isinstance(default, (list, tuple)) else default), key


def test_optimizer_configs_are_generated_from_the_specs(tmp_path):
    """The defaults live in the specs (and torch's scheduler signatures); conf/optimizer/*.yaml and
    conf/scheduler/*.yaml are what `python -m optlab.configs` writes."""
    from optlab import configs, optimizers, schedulers
    assert configs.write(check=True) == []
    # and the generator really writes: into an empty folder, one file per optimizer and scheduler,
    # equal to the repo's
    written = configs.write(tmp_path)
    opt = [p for p in written if p.parent.name == "optimizer"]
    sch = [p for p in written if p.parent.name == "scheduler"]
    assert sorted(p.name for p in opt) == sorted(f"{n}.yaml" for n in optimizers.names())
    assert sorted(p.name for p in sch) == sorted([f"{configs.snake(n)}.yaml" for n in schedulers.NAMES] + ["none.yaml"])
    for p in written:
        assert p.read_text() == (CONF / p.parent.name / p.name).read_text()


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "scheduler").glob("*.yaml")))
def test_scheduler_configs_compose_and_name_their_scheduler(name):
    """Every scheduler file composes; its name maps to torch's class (or is 'none'), and its
    options are the signature's."""
    from optlab import schedulers
    from optlab.studies._common import scheduler_kwargs
    cfg = _compose([f"scheduler={name}"])
    sec = cfg["scheduler"]
    if name == "none":
        assert scheduler_kwargs(cfg) is None
        return
    torch_name = schedulers.canonical(sec["name"])
    assert set(sec) - {"name"} == set(schedulers.required(torch_name)) | set(schedulers.defaults(torch_name))


@pytest.mark.parametrize("name", _options("objective"))
def test_objective_configs_compose_and_validate(name):
    cfg = _compose([f"objective={name}"])
    spec, dim, options, x0 = objective_setup(cfg)
    assert spec.name == name
    assert spec.check_dim(dim) == dim
    # the file's options are the spec's, with the spec's defaults (the one place they live)
    assert options == {k: v for k, v in spec.options.items()}, name
    default_dim = spec.dim if spec.dim is not None else spec.default_dim()
    assert dim == default_dim, name


@pytest.mark.parametrize("name", _options("engine"))
def test_engine_configs(name):
    cfg = _compose([f"engine={name}"])
    kw = engine_kwargs(cfg)
    assert kw["device"] == name


@pytest.mark.parametrize("name", _options("plot"))
def test_plot_configs(name):
    from optlab.studies._lecture import plot_options
    plot = _compose([f"plot={name}"])["plot"]
    assert plot_options({"plot": plot}) == (plot["format"], plot["dpi"])  # accepted as it stands


@pytest.mark.parametrize("name", _options("experiment"))
def test_experiments_compose_to_a_known_study(name):
    cfg = _compose([f"+experiment={name}"])
    from optlab import studies
    assert studies.get(cfg["study"]["name"])
    for sec in cfg["study"].get("optimizers", []) or []:
        optimizer_setup(sec)
    objective_setup(cfg)


def test_every_registered_optimizer_and_objective_has_a_config():
    assert set(optlab.optimizers.names()) <= set(_options("optimizer"))
    assert set(optlab.objectives.names()) <= set(_options("objective"))
