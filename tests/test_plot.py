"""optlab.plot: the public figures draw the engine's numbers, in the house style, and refuse bad input in one line."""
import dataclasses
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

import optlab
import optlab.plot as P
from optlab.errors import OptlabError


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def res():
    # the second start diverges (lr far above 2/L), so its path ends early
    return optlab.simulate("sgd", "rosenbrock", x0=[[-1.5, 2.0], [0.5, 0.5]], steps=60, lr=[1e-3, 0.05],
                           record_every=2)


@pytest.fixture(scope="module")
def sw():
    return optlab.sweep("sgd", "quadratic", grid={"lr": np.geomspace(0.01, 3.0, 6), "momentum": [0.0, 0.5, 0.9],
                                                  "dampening": [0.0, 0.5]},
                        x0=[[1.0, 1.0], [-1.0, 0.5]], steps=150, record_every=150)


def _one_line(err):
    msg = str(err.value)
    assert msg and "\n" not in msg
    return msg


def test_paths_draws_the_engine_trajectories(res):
    assert res.diverged_step[1] >= 0 and res.diverged_step[0] < 0
    ax = P.paths(res)
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1 and ln.get_gid() != "halo"]
    halos = [ln for ln in ax.get_lines() if ln.get_gid() == "halo"]
    assert len(lines) == len(halos) == res.n_traj
    assert max(h.get_zorder() for h in halos) < min(ln.get_zorder() for ln in lines)  # under every run's line
    for i, ln in enumerate(lines):
        ok = np.isfinite(res.x[i]).all(axis=1)
        np.testing.assert_array_equal(ln.get_xdata(), res.x[i, ok, 0])
        np.testing.assert_array_equal(ln.get_ydata(), res.x[i, ok, 1])
    ends = [ln.get_marker() for ln in ax.get_lines() if len(ln.get_xdata()) == 1 and ln.get_marker() in ("s", "X")]
    assert ends == ["s", "X"]                       # the diverged run ends in a cross
    # the minimum (1, 1) is marked, and the legend names the run by its optimizer
    marks = [c.get_offsets()[0].tolist() for c in ax.collections if len(c.get_offsets()) == 1]
    assert [1.0, 1.0] in marks
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "sgd"
    assert ax.figure.axes[-1] is not ax             # a colorbar beside it


def test_paths_on_a_given_axes_and_several_runs(res):
    fig, (a, b) = plt.subplots(1, 2)
    other = optlab.simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=40, lr=0.05)
    assert P.paths([res, other, res], ax=b) is b
    labels = [t.get_text() for t in b.get_legend().get_texts()]
    assert labels[:3] == ["sgd", "adam", "sgd [2]"]
    assert not a.has_data()


def test_paths_refuses_what_it_cannot_draw(res):
    flat = dataclasses.replace(res, x_final=np.zeros((res.n_traj, 3)))   # a 3-D result
    with pytest.raises(OptlabError) as err:
        P.paths(flat)
    assert "2-D" in _one_line(err) and "dim 3" in str(err.value)
    with pytest.raises(OptlabError) as err:
        P.paths(res, bounds=[[1, 0], [0, 1]])
    assert "bounds" in _one_line(err)
    with pytest.raises(OptlabError) as err:
        P.paths(res.x)
    assert "ndarray" in _one_line(err)
    q = optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=5)
    with pytest.raises(OptlabError) as err:
        P.paths({"a": res, "b": q})
    assert "different objectives" in _one_line(err)


def test_loss_draws_f_minus_fmin_and_marks_divergence(res):
    ax = P.loss(res)
    curves = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1]
    for i, ln in enumerate(curves):
        np.testing.assert_array_equal(ln.get_xdata(), res.steps)
        np.testing.assert_array_equal(ln.get_ydata(), res.loss[i] - 0.0)   # rosenbrock's minimum is 0
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    k = np.flatnonzero(np.isfinite(res.loss[1]))[-1]
    assert crosses[0].get_xdata()[0] == res.steps[k]
    assert ax.get_ylabel() == "f(x) - f*"
    assert ax.get_legend().get_texts()[0].get_fontsize() == 8     # the house style's legend size


def test_heatmap_cells_are_the_sweep(sw):
    ax = P.heatmap(sw, x="lr", y="momentum", where={"dampening": 0.5}, start=1)
    meshes = ax.collections
    tts = sw.grid("tol_step")[:, :, 1, 1].T.astype(float)        # rows momentum, columns lr
    div = sw.grid("diverged_step")[:, :, 1, 1].T >= 0
    good = np.asarray(meshes[-1].get_array()).reshape(tts.shape)
    mask = np.ma.getmaskarray(meshes[-1].get_array()).reshape(tts.shape)
    np.testing.assert_array_equal(mask, div | (tts < 0))
    np.testing.assert_array_equal(good[~mask], np.maximum(tts[~mask], 1))
    status = np.ma.filled(meshes[0].get_array(), 0).reshape(tts.shape)
    np.testing.assert_array_equal(status == 2, div)
    assert div.any() and (~mask).any()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "lr" and ax.get_ylabel() == "momentum"
    # the other way round, and another value
    ax = P.heatmap(sw, x="momentum", y="lr", value="final_loss", where={"dampening": 0.0})
    fl = sw.grid("loss_final")[:, :, 0, 0]
    got = np.asarray(ax.collections[-1].get_array()).reshape(fl.shape)
    ok = ~np.ma.getmaskarray(ax.collections[-1].get_array()).reshape(fl.shape)
    np.testing.assert_array_equal(got[ok], fl[ok])
    assert ax.get_yscale() == "log"


def test_heatmap_refuses_bad_input_in_one_line(sw, res):
    cases = [(dict(value="steps"), "Unknown heatmap value 'steps'"),
             (dict(x="beta"), "'beta' is not a grid axis"),
             (dict(x="lr", y="lr", where={"dampening": 0.0}), "two different axes"),
             (dict(), "pick one with where={'dampening': ...}"),
             (dict(where={"dampening": 0.3}), "dampening=0.3 is not on the grid"),
             (dict(where={"dampening": 0.0}, start=2), "Invalid start=2"),
             (dict(where={"momentum": 0.0}), "not a grid axis other than x and y")]
    for kw, text in cases:
        with pytest.raises(OptlabError) as err:
            P.heatmap(sw, **kw)
        assert text in _one_line(err), (kw, str(err.value))
    with pytest.raises(OptlabError) as err:
        P.heatmap(res)
    assert "needs a Sweep" in _one_line(err)


def test_basins_colors_each_start_by_where_it_ends():
    g = np.linspace(-1.0, 1.0, 5)
    starts = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    lr = np.where(starts[:, 1] > 0, 5.0, 0.1)          # the upper half diverges, the lower converges to 0
    perm = np.random.default_rng(0).permutation(len(starts))  # any order of the starts
    r = optlab.simulate("sgd", "quadratic", x0=starts[perm], steps=300, lr=lr[perm], record_every=300)
    assert (r.diverged_step[starts[perm][:, 1] > 0] >= 0).all()
    ax = P.basins(r)
    img = np.asarray(ax.get_images()[0].get_array())
    k = 1                                               # the quadratic lists one minimum
    want = np.where(g[:, None] > 0, k + 2, 0) * np.ones((1, 5), dtype=int)
    np.testing.assert_array_equal(img, want)
    assert ax.get_images()[0].get_extent() == [-1.25, 1.25, -1.25, 1.25]
    assert "60.0% of starts reach a global minimum" in ax.get_title()
    with pytest.raises(OptlabError) as err:
        P.basins(optlab.simulate("sgd", "quadratic", x0=starts[:7], steps=5))
    assert "evenly spaced 2-D grid" in _one_line(err)


def test_repr_html_summaries_exist_for_both():
    s = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1]}, x0=[1.0, 1.0], steps=5)
    assert "<table>" in s._repr_html_() and "<table>" in s.result._repr_html_()


@pytest.mark.parametrize("env, want", [({}, "agg"), ({"MPLBACKEND": "svg"}, "svg")])
def test_a_notebook_keeps_its_backend(env, want):
    base = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", "import matplotlib, optlab.plot, optlab.plots.style; "
                          "print(matplotlib.get_backend().lower())"],
                         env={**base, **env}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == want


def test_loss_draws_a_gap_of_zero_at_the_floor_of_a_log_scale():
    """Runs that reach the minimum exactly (a gap of 0) were drawn on a symlog scale whose linear part
    put everything below 1e-6 at 0 (the race's Beale plot): a log scale with a floor instead."""
    from optlab.plots.curves import GAP_FLOOR
    r = optlab.simulate("gd", "quadratic", x0=[[1.0, 1.0], [0.5, -0.2]], steps=5, lr=1.0,
                        objective_options={"cond": 1.0})                # A = I, lr = 1: x = 0 at step 1
    gap = r.loss - 0.0
    assert (gap[:, -1] == 0.0).all() and (gap[:, 0] > 1e-3).all()
    ax = P.loss(r)
    assert ax.get_yscale() == "log" and f"below {GAP_FLOOR:g} drawn at {GAP_FLOOR:g}" in ax.get_ylabel()
    for i, ln in enumerate(ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1):
        np.testing.assert_array_equal(ln.get_ydata(), np.maximum(gap[i], GAP_FLOOR))
