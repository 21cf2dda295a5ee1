"""Faults found using optlab from Python as a notebook user would: selection, exported metadata,
saving a sweep, and input the API took silently or answered with numpy's errors."""
import json
import sys
import types

import numpy as np
import pytest

import optlab
from optlab.errors import OptlabError


def test_index_tells_small_values_apart():
    """np.isclose's default atol=1e-8 took every value below 1e-8 for any other."""
    sw = optlab.sweep("adam", "quadratic", grid={"eps": [1e-12, 1e-10, 1e-8]}, x0=[1.0, 1.0], steps=3)
    assert list(sw.index(eps=1e-12)) == [0] and list(sw.index(eps=1e-8)) == [2]
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": np.geomspace(1e-9, 1e-6, 4)}, x0=[1.0, 1.0], steps=3)
    assert list(sw.index(lr=1e-9)) == [0] and list(sw.index(lr=1e-8)) == [1]  # geomspace's roundings
    sw = optlab.sweep("adam", "quadratic", grid={"beta2": [0.9999, 0.99991]}, x0=[1.0, 1.0], steps=3)
    assert list(sw.index(beta2=0.9999)) == [0]


def test_the_labelled_views_say_what_was_run(tmp_path):
    """to_xarray kept only grid axes and scalar engine options: a saved file could not tell the
    momentum, the scheduler or the bounds."""
    xr = pytest.importorskip("xarray")
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.2]}, x0=[1.0, 1.0], steps=10, momentum=0.9,
                      nesterov=True, weight_decay=0.01, scheduler={"name": "StepLR", "step_size": 3},
                      bounds=(-2, 2))
    ds = sw.to_xarray()
    assert ds.attrs["momentum"] == 0.9 and ds.attrs["weight_decay"] == 0.01 and ds.attrs["nesterov"] == 1
    assert json.loads(ds.attrs["scheduler"]) == {"name": "StepLR", "step_size": 3, "gamma": 0.1}
    assert list(ds.attrs["bounds"]) == [-2.0, 2.0] and "lr" not in ds.attrs  # an axis is a coordinate
    ds.to_netcdf(tmp_path / "s.nc")
    back = xr.open_dataset(tmp_path / "s.nc")
    assert back.attrs["momentum"] == 0.9 and json.loads(back.attrs["scheduler"])["step_size"] == 3
    back.close()


def test_per_trajectory_scheduler_options_are_columns():
    pytest.importorskip("pandas")
    res = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [0.5, 0.5]], steps=10, lr=0.1, progress=False,
                          scheduler={"name": "StepLR", "step_size": [3, 5], "gamma": 0.5})
    df = res.to_pandas()
    assert list(df["scheduler.step_size"]) == [3, 5]
    assert json.loads(df.attrs["scheduler"])["step_size"] == [3, 5]
    seq = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [0.5, 0.5]], steps=10, lr=0.1, progress=False,
                          scheduler={"name": "SequentialLR", "milestones": [4], "schedulers": [
                              {"name": "LinearLR", "total_iters": [2, 3]}, {"name": "ExponentialLR", "gamma": 0.9}]})
    assert list(seq.to_pandas()["scheduler.schedulers.0.total_iters"]) == [2, 3]
    ds = pytest.importorskip("xarray") and optlab.sweep(
        "sgd", "quadratic", grid={"lr": [0.1, 0.2]}, x0=[1.0, 1.0], steps=5,
        scheduler={"name": "MultiStepLR", "milestones": [1, 3]}).to_xarray()
    assert "milestones" in ds.attrs["scheduler"]


def test_coded_options_are_reported_as_given():
    """L-BFGS's line_search_fn and Muon's adjust_lr_fn came back as the kernel's 0/1."""
    res = optlab.simulate("lbfgs", "rosenbrock", x0=[[-1.5, 2.0]], steps=3, line_search_fn="strong_wolfe",
                          progress=False)
    assert res.metrics()[0]["line_search_fn"] == "strong_wolfe"
    assert res.user_hyper()["line_search_fn"] == "strong_wolfe" and res.hyper["line_search_fn"] == 1
    plain = optlab.simulate("lbfgs", "rosenbrock", x0=[[-1.5, 2.0]], steps=3, progress=False)
    assert plain.metrics()[0]["line_search_fn"] is None
    again = optlab.simulate("lbfgs", "rosenbrock", x0=[[-1.5, 2.0]], steps=3, progress=False,
                            **{k: v for k, v in res.user_hyper().items() if k != "lr"}, lr=1.0)
    np.testing.assert_array_equal(again.x, res.x)
    muon = optlab.simulate("muon", "rosenbrock", x0=[[-1.5, 2.0]], steps=3, adjust_lr_fn="match_rms_adamw",
                           progress=False)
    assert muon.metrics()[0]["adjust_lr_fn"] == "match_rms_adamw"
    sw = optlab.sweep("lbfgs", "rosenbrock", grid={"line_search_fn": [None, "strong_wolfe"]}, x0=[-1.5, 2.0],
                      steps=3)
    assert [m["line_search_fn"] for m in sw.result.metrics()] == [None, "strong_wolfe"]


@pytest.mark.parametrize("call, expect", [
    (lambda: optlab.simulate("sgd", "rosenbrock", x0=np.zeros((0, 2)), steps=3, lr=0.1),
     "Invalid x0 of shape (0, 2): no start point"),  # was a ZeroDivisionError after the compile
    (lambda: optlab.sweep("adam", "quadratic", grid={"betas": [(0.9, 0.99), (0.5,)]}, x0=[1.0, 1.0], steps=3),
     "grid['betas']: Invalid betas: (0.5,)"),  # was numpy's "inhomogeneous shape"
    (lambda: optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.2]}, momentum=[0.1, 0.9], x0=[1.0, 1.0],
                          steps=5),
     "Invalid momentum=[0.1, 0.9]: a keyword of sweep() is one value for every cell"),  # "for 1 trajectories"
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, lr="0.1"),
     "Invalid lr for optimizer 'sgd': '0.1' (must be a number, not text)"),  # ran as 0.1; torch: TypeError
    (lambda: optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], steps=3, betas=("0.9", 0.99)),
     "(must be a number, not text)"),
    (lambda: optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=3, tol="1e-3"), "Invalid tol: '1e-3'"),
    (lambda: optlab.simulate("sgd", "rosenbrock", steps=3, lr=[0.1, 0.2, 0.3]),
     "no x0 was given, and 'rosenbrock' has 5 default starts, but hyperparameters have 3 values"),
])
def test_bad_input_from_python_is_one_line(call, expect):
    with pytest.raises(OptlabError) as err:
        call()
    assert expect in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_ragged_scheduler_axis_sweeps():
    """milestones of different lengths per cell: numpy could not make an array of them."""
    sw = optlab.sweep("sgd", "quadratic", grid={"scheduler.milestones": [[1, 2], [3]]}, x0=[1.0, 1.0], steps=5,
                      lr=0.1, scheduler={"name": "MultiStepLR"})
    for k, ms in enumerate(([1, 2], [3])):
        one = optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=5, lr=0.1, progress=False,
                              scheduler={"name": "MultiStepLR", "milestones": ms})
        np.testing.assert_array_equal(sw.grid("x")[k, 0], one.x[0])


def test_a_sweep_saves_and_loads_with_its_grid(tmp_path):
    """sw.save_npz reached Result.save_npz and kept no grid; there was no way to load a sweep."""
    sw = optlab.sweep("adam", "rosenbrock", grid={"lr": [0.01, 0.1], "betas": [(0.9, 0.99), (0.8, 0.9)],
                                                   "amsgrad": [False, True]}, x0=[[-1.5, 2.0], [1.0, 1.0]], steps=20)
    back = optlab.Sweep.load_npz(sw.save_npz(tmp_path / "sw.npz"))
    assert back.shape == sw.shape and list(back.coords) == list(sw.coords)
    assert back.coords["betas"] == [(0.9, 0.99), (0.8, 0.9)]
    np.testing.assert_array_equal(back.grid("loss"), sw.grid("loss"))
    assert list(back.index(lr=0.1, amsgrad=True)) == list(sw.index(lr=0.1, amsgrad=True))
    ragged = optlab.sweep("sgd", "quadratic", grid={"scheduler.milestones": [[3, 3], [1, 2], [3]]}, x0=[1.0, 1.0],
                          steps=5, lr=0.1, scheduler={"name": "MultiStepLR"})
    assert list(ragged.index(**{"scheduler.milestones": [3]})) == [2]  # [3, 3] is not [3]
    back = optlab.Sweep.load_npz(ragged.save_npz(tmp_path / "ragged.npz"))
    assert list(back.index(**{"scheduler.milestones": [1, 2]})) == [1]
    run = tmp_path / "run.npz"
    sw.result.save_npz(run)
    with pytest.raises(OptlabError, match="holds a run, not a sweep"):
        optlab.Sweep.load_npz(run)
    np.savez(tmp_path / "arrays.npz", a=np.zeros(2))
    with pytest.raises(OptlabError, match="is not a run written by save_npz"):
        optlab.Result.load_npz(tmp_path / "arrays.npz")


def test_progress_shows_in_a_jupyter_kernel(monkeypatch):
    """stderr is no terminal in a notebook: a long sweep there showed no bar."""
    from optlab import progress
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.interactive()
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert progress.interactive()
    terminal = type("TerminalInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: terminal))
    assert not progress.interactive()


def test_the_compile_notice_names_the_variant():
    from optlab.engine.warmup import KernelKey, variant
    assert variant(KernelKey("sgd", "quadratic")) == ""
    assert variant(KernelKey("sgd", "quadratic", schedule="plateau", sweep=True)) == " (plateau scheduler)"
    assert variant(KernelKey("adam", "rosenbrock", dtype="float32", sweep=True, bounded=True)) == \
        " (hyperparameters per trajectory, bounds, float32)"
