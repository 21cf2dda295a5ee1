"""Labelled results (the `frames` extra): Sweep.to_xarray, Result.to_pandas, and the HTML summaries."""
import dataclasses
import sys

import numpy as np
import pytest

import optlab
from optlab.errors import OptlabError


@pytest.fixture(scope="module")
def sw():
    # 3 lr x 2 momentum x 2 starts; the largest lr diverges, so every outcome kind and "never" appear
    return optlab.sweep("sgd", "quadratic", grid={"lr": [0.05, 0.5, 3.0], "momentum": [0.0, 0.9]},
                        x0=[[1.0, 1.0], [-1.0, 0.5]], steps=120, record_every=40)


def test_to_xarray_dims_coords_and_values_match_the_grid(sw):
    pytest.importorskip("xarray")
    ds = sw.to_xarray()
    assert ds.loss.dims == ("lr", "momentum", "start", "step")
    assert ds.x.dims == ("lr", "momentum", "start", "step", "dim")
    assert ds.outcome.dims == ("lr", "momentum", "start")
    assert ds.lr.values.tolist() == [0.05, 0.5, 3.0]
    assert ds.momentum.values.tolist() == [0.0, 0.9]
    assert ds.start.values.tolist() == [0, 1]
    assert ds.step.values.tolist() == [0, 40, 80, 120]
    np.testing.assert_array_equal(ds.x0.values, [[1.0, 1.0], [-1.0, 0.5]])
    np.testing.assert_array_equal(ds.x.values, sw.result.x.reshape(3, 2, 2, 4, 2))
    np.testing.assert_array_equal(ds.loss.values, sw.grid("loss"))
    np.testing.assert_array_equal(ds.final_loss.values, sw.grid("loss_final"))
    np.testing.assert_array_equal(ds.best_loss.values, sw.grid("best_loss"))
    np.testing.assert_array_equal(ds.outcome.values, sw.grid("outcome").astype(str))
    # "never" (-1 in the engine's arrays) is NaN; the others are the same step numbers
    for name, field in (("steps_to_tol", "tol_step"), ("diverged_step", "diverged_step")):
        raw = sw.grid(field)
        got = ds[name].values
        np.testing.assert_array_equal(np.isnan(got), raw < 0)
        np.testing.assert_array_equal(got[raw >= 0], raw[raw >= 0])
    assert (sw.grid("diverged_step") >= 0).any() and (sw.grid("tol_step") >= 0).any()
    assert ds.attrs["optimizer"] == "sgd" and ds.attrs["objective"] == "quadratic" and ds.attrs["steps"] == 120


def test_to_xarray_sel_is_sweep_index(sw):
    pytest.importorskip("xarray")
    ds = sw.to_xarray()
    for where in ({"momentum": 0.9}, {"lr": 0.5}, {"lr": 3.0, "momentum": 0.0}):
        picked = ds.final_loss.sel(**where).transpose(*[d for d in ds.final_loss.dims if d not in where])
        np.testing.assert_array_equal(picked.values.ravel(), sw.loss_final[sw.index(**where)])
    # one trajectory by label is the engine's trajectory
    k = sw.index(lr=0.05, momentum=0.9)[1]
    np.testing.assert_array_equal(ds.x.sel(lr=0.05, momentum=0.9, start=1).values, sw.result.x[k])


def test_to_xarray_tuple_axis_gets_labels_and_component_coords():
    pytest.importorskip("xarray")
    s = optlab.sweep("adam", "rosenbrock", grid={"betas": [(0.9, 0.999), (0.8, 0.99)], "lr": [0.01, 0.1]},
                     x0=[-1.0, 1.0], steps=20, record_every=10)
    ds = s.to_xarray()
    assert ds.final_loss.dims == ("betas", "lr", "start")
    assert ds.betas.values.tolist() == ["0.9, 0.999", "0.8, 0.99"]
    np.testing.assert_array_equal(ds.beta1.values, s.grid("beta1"))
    np.testing.assert_array_equal(ds.beta2.sel(betas="0.8, 0.99").values, np.full((2, 1), 0.99))
    np.testing.assert_array_equal(ds.final_loss.values, s.grid("loss_final"))


def test_to_pandas_is_one_row_per_trajectory(sw):
    pytest.importorskip("pandas")
    res = sw.result
    df = res.to_pandas()
    assert len(df) == res.n_traj
    for col in ("trajectory", "lr", "momentum", "x0_0", "x0_1", "final_loss", "best_loss", "best_step",
                "outcome", "steps_to_tol", "diverged_step", "final_grad_norm", "x_final_0", "x_final_1"):
        assert col in df.columns, col
    rows = res.metrics()
    for i, r in enumerate(rows):
        assert df.lr[i] == r["lr"] and df.momentum[i] == r["momentum"]
        assert [df.x0_0[i], df.x0_1[i]] == r["x0"]
        assert df.outcome[i] == r["outcome"]
        for col in ("steps_to_tol", "diverged_step"):
            assert (None if df[col].isna()[i] else int(df[col][i])) == r[col]
        if r["final_loss"] is not None and not isinstance(r["final_loss"], str):
            assert df.final_loss[i] == r["final_loss"]
    assert df.attrs["optimizer"] == "sgd" and df.attrs["nesterov"] is False
    # a sweep's table adds the start index, in grid order
    sdf = sw.to_pandas()
    assert sdf.start.tolist() == [0, 1] * 6
    assert (sdf.drop(columns="start").equals(df))


@pytest.mark.parametrize("call", ["to_xarray", "to_pandas"])
def test_without_the_extra_one_line_names_it(sw, monkeypatch, call):
    monkeypatch.setitem(sys.modules, "xarray", None)   # import fails as when not installed
    monkeypatch.setitem(sys.modules, "pandas", None)
    target = sw if call == "to_xarray" else sw.result
    with pytest.raises(OptlabError) as err:
        getattr(target, call)()
    msg = str(err.value)
    assert "\n" not in msg and "frames" in msg and 'pip install -e ".[frames]"' in msg


def test_repr_html_is_a_small_escaped_table(sw):
    res = sw.result
    page = res._repr_html_()
    counts = res.outcome_counts()
    assert page.startswith("<table>") and page.endswith("</table>")
    for text in ("sgd", "quadratic", f"{res.n_traj}", "120",
                 f"converged {counts['converged']}, diverged {counts['diverged']}, running {counts['running']}"):
        assert text in page
    page = sw._repr_html_()
    assert "axis lr" in page and "3: 0.05, 0.5, 3" in page and "axis momentum" in page and "axis start" in page
    evil = dataclasses.replace(res, objective="<script>alert('x')</script>&")
    page = evil._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp;" in page


def test_recorded_extras_become_variables_and_columns(sw):
    pytest.importorskip("xarray")
    res = sw.result
    # an optimizer's recorded state is (n, n_records, dim) and a final scalar (n,), as in core.simulate
    extra = {"ax": res.x * 2.0, "evals": np.arange(res.n_traj) + 10}
    s2 = dataclasses.replace(sw, result=dataclasses.replace(res, extra=extra))
    ds = s2.to_xarray()
    assert ds.ax.dims == ds.x.dims and ds.evals.dims == ds.final_loss.dims
    np.testing.assert_array_equal(ds.ax.values, ds.x.values * 2.0)
    np.testing.assert_array_equal(ds.evals.values.ravel(), extra["evals"])
    df = s2.result.to_pandas()
    assert df.evals.tolist() == extra["evals"].tolist() and "ax" not in df.columns


def test_to_xarray_carries_the_schedule_and_the_curvature():
    """A sweep over a scheduler option with track=sharpness: the option is an axis, the lr of each
    step is 'lr_schedule' and the sharpness a per-record variable, equal to the result's arrays."""
    pytest.importorskip("xarray")
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.5], "scheduler.step_size": [2, 5]},
                      x0=[1.0, 1.0], steps=10, scheduler={"name": "StepLR", "gamma": 0.5}, track=["sharpness"])
    ds = sw.to_xarray()
    assert ds.lr_schedule.dims == ("lr", "scheduler.step_size", "start", "step")
    assert ds.lr_schedule.sel(lr=0.5, start=0).values[:, :4].tolist() == [[0.5, 0.5, 0.25, 0.25], [0.5] * 4]
    np.testing.assert_array_equal(ds.sharpness.values.reshape(4, -1), sw.result.sharpness)
    np.testing.assert_array_equal(ds.lr_schedule.values.reshape(4, -1), sw.result.lr)


def test_to_pandas_and_grid_name_every_axis_as_given():
    """A swept scheduler option is a column and a grid() field; a None on a grid axis stays None
    (it was a column of 0/1 codes); grid() takes the frames' names (final_loss, steps_to_tol)."""
    pytest.importorskip("pandas")
    sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.5], "scheduler.step_size": [2, 5]},
                      x0=[1.0, 1.0], steps=10, scheduler={"name": "StepLR", "gamma": 0.5})
    df = sw.to_pandas()
    assert df["scheduler.step_size"].tolist() == [2, 5, 2, 5] and df["lr"].tolist() == [0.1, 0.1, 0.5, 0.5]
    assert sw.grid("scheduler.step_size").ravel().tolist() == [2, 5, 2, 5]
    np.testing.assert_array_equal(sw.grid("final_loss"), sw.grid("loss_final"))
    np.testing.assert_array_equal(sw.grid("steps_to_tol"), sw.grid("tol_step"))
    with pytest.raises(OptlabError, match="did you mean 'final_loss'"):
        sw.grid("final_los")
    lb = optlab.sweep("lbfgs", "rosenbrock", grid={"line_search_fn": [None, "strong_wolfe"]},
                      x0=[-1.2, 1.0], steps=2)
    assert lb.axis_values("line_search_fn").tolist() == [None, "strong_wolfe"]
    assert pytest.importorskip("pandas").isna(lb.to_pandas()["line_search_fn"][0])
    assert lb.to_pandas()["line_search_fn"][1] == "strong_wolfe"
    flags = optlab.sweep("adam", "quadratic", grid={"amsgrad": [False, True]}, x0=[1.0, 1.0], steps=2).to_pandas()
    assert flags["amsgrad"].dtype == bool and flags["amsgrad"].tolist() == [False, True]  # a flag stays a flag


def test_a_loaded_result_gives_the_same_metrics(tmp_path):
    """A per-call flag comes back from .npz as a 0-d array: metrics() failed on it."""
    r = optlab.simulate("sgd", "quadratic", x0=[[1.0, 1.0], [0.5, 2.0]], steps=5, lr=0.1, nesterov=True,
                        momentum=0.9)
    r.save_npz(tmp_path / "r.npz")
    back = optlab.Result.load_npz(tmp_path / "r.npz")
    assert back.metrics() == r.metrics() and back.hyper["nesterov"] is True


def test_the_summary_counts_the_steps_run_not_the_last_record():
    r = optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=10, record_every=3, lr=0.1)
    assert "1 trajectory x 10 steps" in repr(r) and "<td style=\"text-align:left\">10</td>" in r._repr_html_()
