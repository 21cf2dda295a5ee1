"""Smoke tests of the benchmark commands (their figures are measured by hand, not here)."""
import json
import math
import os
import sys

import numpy as np
import pytest

from optlab import bench
from optlab.bench.optimizers import best_pair, optimizer_table


def test_best_pair_alternates_and_keeps_the_best():
    calls = []
    ta, tb = best_pair(lambda: calls.append("a"), lambda: calls.append("b"), repeat=3)
    assert calls == ["a", "b"] * 3
    assert 0.0 <= ta < 1.0 and 0.0 <= tb < 1.0


@pytest.mark.slow
def test_core_quick_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--section", "core", "--json", str(out)]) == 0
    # the smoke test's sizes say so before any verdict is printed
    text = capsys.readouterr().out
    assert "--quick: smoke-test sizes" in text and text.index("--quick:") < text.index("target >=")
    core = json.loads(out.read_text())["core"]
    assert math.isfinite(core["divider_floor_steps_per_s"]) and core["divider_floor_steps_per_s"] > 0
    for key in ("lr_sweep", "betas_grid", "betas_sweep", "shared", "lr_sweep_f32"):
        row = core[key]
        for fig in ("engine_steps_per_s", "numpy_steps_per_s", "ratio"):
            assert math.isfinite(row[fig]) and row[fig] > 0, (key, fig)


def _scripted_timer(monkeypatch, times, calls):
    """A stand-in for best_alternating: runs each workload once (so they must work) and reports
    set times, workload k of a call taking times[k] seconds."""
    from optlab.bench import peers

    def fake(fns, repeat, min_seconds=0.0):
        calls.append(len(fns))
        for fn in fns:
            fn()
        return [(times[k], times[k]) for k in range(len(fns))]
    monkeypatch.setattr(peers, "best_alternating", fake)


@pytest.mark.slow
def test_core_figures_are_workload_over_time(monkeypatch):
    """Each rate is its own side's work (the numpy side runs fewer steps) over its own time."""
    from optlab.bench import core
    times, calls = [0.25, 0.3, 0.5, 0.2, 0.15, 2.0, 3.0, 4.0, 1.0, 2.5], []
    _scripted_timer(monkeypatch, times, calls)
    monkeypatch.setattr(core, "divider_floor", lambda repeat, min_seconds: 3.0e6)
    out = core.bench_core(n=64, steps=30, repeat=1, numpy_steps=10, min_seconds=0.0)
    k = len(core.CORE_WORKLOADS)
    assert k == 5 and calls == [2 * k]  # the engine workloads, then their numpy references
    keys = [k for k, _ in core.CORE_WORKLOADS]
    for i, key in enumerate(keys):
        eng, ref = 64 * 30 / times[i], 64 * 10 / times[k + i]
        assert out[key]["engine_steps_per_s"] == pytest.approx(eng, rel=1e-12), key
        assert out[key]["numpy_steps_per_s"] == pytest.approx(ref, rel=1e-12), key
        assert out[key]["ratio"] == pytest.approx(eng / ref, rel=1e-12), key
    shared = 64 * 30 / times[keys.index("shared")]
    for key in ("lr_sweep", "betas_grid", "betas_sweep"):
        assert out[key]["vs_shared"] == pytest.approx(64 * 30 / times[keys.index(key)] / shared, rel=1e-12)
    assert out["floor_ratio"] == pytest.approx(3.0e6 / (64 * 10 / times[k + keys.index("shared")]), rel=1e-12)
    # float32 against float64, the same lr sweep
    assert out["lr_sweep_f32"]["vs_float64"] == pytest.approx(times[keys.index("lr_sweep")]
                                                             / times[keys.index("lr_sweep_f32")], rel=1e-12)


@pytest.mark.parametrize("key", ["lr_sweep", "betas_grid", "betas_sweep", "shared"])
def test_core_numpy_reference_is_the_engines_work(key):
    """The core figures compare like with like: numpy's Adam gives the engine's trajectories,
    with the workload's per-trajectory lr (and betas)."""
    import optlab
    from optlab.bench.core import core_hyper, numpy_adam_rosenbrock
    rng = np.random.default_rng(3)
    x0 = np.column_stack([rng.uniform(-2, 2, 40), rng.uniform(-1, 3, 40)])
    h = core_hyper(40)[key]
    ref, recs = numpy_adam_rosenbrock(x0, h["lr"], 40, b1=h.get("beta1", 0.9), b2=h.get("beta2", 0.999),
                                      record_every=10)
    res = optlab.simulate("adam", "rosenbrock", x0=x0, steps=40, record_every=10, progress=False, **h)
    live = res.diverged_step < 0
    assert live.sum() >= 20
    # rounding apart (numpy does not fuse multiply-adds as the engine does): 40 steps keep it small
    scale = max(1.0, np.abs(ref[live]).max())
    assert np.abs(res.x_final[live] - ref[live]).max() <= 1e-9 * scale
    assert np.abs(np.stack(recs, axis=1)[live] - res.x[live]).max() <= 1e-9 * scale


def test_core_sweep_hyperparameters():
    from optlab.bench.core import core_hyper
    h = core_hyper(1000)
    lr = h["lr_sweep"]["lr"]
    assert lr[0] == pytest.approx(1e-4) and lr[-1] == pytest.approx(1.0)
    assert np.all(np.diff(np.log(lr)) > 0) and np.allclose(np.diff(np.log(lr)), np.log(1e4) / 999)
    b = h["betas_sweep"]
    assert np.array_equal(b["lr"], lr)
    assert np.all((b["beta1"] >= 0.5) & (b["beta1"] <= 0.99)) and np.all((b["beta2"] >= 0.5) & (b["beta2"] <= 0.9999))
    assert len(np.unique(b["beta1"])) == 1000 and len(np.unique(b["beta2"])) == 1000  # every trajectory its own
    assert np.all(h["shared"]["lr"] == 1e-3)
    g = h["betas_grid"]  # 25 x 10 x 10 triples in optlab.sweep's order, each with 1000 / 2500 -> 1 start
    triples = list(zip(g["lr"], g["beta1"], g["beta2"]))
    assert len(triples) == 1000 and len(set(triples)) == 1000
    assert len(np.unique(g["beta1"])) == 10 and len(np.unique(g["beta2"])) == 10
    assert g["beta2"][0] != g["beta2"][1] and g["beta1"][0] == g["beta1"][1]  # beta2 innermost
    g = core_hyper(10_000)["betas_grid"]  # 4 starts per triple, next to each other
    assert np.array_equal(g["beta2"][:8], np.repeat(g["beta2"][[0, 4]], 4)) and g["beta2"][0] != g["beta2"][4]


def test_bench_rejects_bad_sizes_in_one_line(capsys):
    assert bench.main(["--section", "core", "--n", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "optlab bench: error: --n must be a positive integer, got 0"
    assert bench.main(["--peers", "--min-seconds", "-1"]) == 2
    assert "--min-seconds must be a finite number >= 0, got -1.0" in capsys.readouterr().err


@pytest.mark.slow
def test_optimizer_table_rows(monkeypatch, capsys):
    """Shared, sweep and numpy figures are each run's work over its own time (numpy runs fewer
    steps); an optimizer without a numpy reference gets no numpy figure and says why."""
    from optlab.bench.optimizers import print_optimizer_table
    times, calls = [0.5, 0.625, 4.0], []
    _scripted_timer(monkeypatch, times, calls)
    rows = optimizer_table(N=256, T=20, repeat=1, names=["sgd", "adam", "lbfgs"], numpy_steps=8, min_seconds=0.0)
    assert [r["name"] for r in rows] == ["sgd", "adam", "lbfgs"]
    assert calls[:2] == [3, 3] and calls[2] in (1, 2)  # lbfgs: no numpy reference
    for r in rows[:2]:
        assert r["engine_steps_per_s"] == pytest.approx(256 * 20 / 0.5, rel=1e-12)
        assert r["sweep_steps_per_s"] == pytest.approx(256 * 20 / 0.625, rel=1e-12)
        assert r["sweep_ratio"] == pytest.approx(0.5 / 0.625, rel=1e-12)
        assert r["numpy_steps_per_s"] == pytest.approx(256 * 8 / 4.0, rel=1e-12)
        assert r["ratio"] == pytest.approx((256 * 20 / 0.5) / (256 * 8 / 4.0), rel=1e-12)
    lbfgs = rows[2]
    assert lbfgs["numpy_steps_per_s"] is None and lbfgs["ratio"] is None and "no vectorised numpy" in lbfgs["note"]
    rows = rows[:2]
    rows[0]["sweep_ratio"], rows[1]["sweep_ratio"] = 0.5, 0.9  # the flag follows the figure
    print_optimizer_table(rows, "t")
    out = capsys.readouterr().out
    assert "sweep/shared BELOW TARGET: sgd;" in out


def test_sweep_lrs_give_every_trajectory_its_own_lr():
    """The sweep figure's lrs: every trajectory its own value (so the engine takes its
    per-trajectory path, not the shared one it takes for equal values), over [0.8, 1.25] lr; for
    L-BFGS within 1e-6 of its lr, whose iterations a step depends on the lr."""
    from optlab.bench.optimizers import sweep_lrs
    from optlab.engine.core import one_setting
    for name, lo, hi in (("adam", 0.8e-3, 1.25e-3), ("lbfgs", 1 - 1e-6, 1 + 1e-6)):
        lr0 = 1e-3 if name == "adam" else 1.0
        lrs = sweep_lrs(name, lr0, 2000)
        assert np.unique(lrs).shape == (2000,)
        assert not one_setting(lrs.reshape(1, -1))
        assert lrs.min() == pytest.approx(lo, rel=1e-12) and lrs.max() == pytest.approx(hi, rel=1e-12)


# --- --peers ------------------------------------------------------------------------------------

def test_hand_written_kernel_is_the_engine_bit_for_bit():
    """The hand-written peer follows torch's operations and roundings (the FMAs of lerp and
    addcmul, lr / bc1, sqrt(v) / sqrt(bc2) + eps), as the engine does (the torch parity suite
    holds it to torch's bits): so the two agree bit for bit, not merely to a tolerance -- on a
    whole and a partial block, with lr log-spaced over the sweep's range, at every record; and
    with one lr for all (the engine's shared kernel). The peer divides with the divider; the
    engine's quotients by a bias correction shared by the loop go through ops.div_rn."""
    import optlab
    from optlab.bench.peers import BLOCK, adam_sweep_blocked, sweep_workload
    n, steps = BLOCK + 45, 250
    x0, lr = sweep_workload(n)
    for lrs, lr_arg in ((lr, lr), (np.full(n, 3e-2), 3e-2)):
        res = optlab.simulate("adam", "rosenbrock", x0=x0, steps=steps, record_every=100, lr=lr_arg,
                              progress=False)
        x = np.ascontiguousarray(x0.T)
        rec = np.full((3, 2, n), np.nan)
        adam_sweep_blocked(x, lrs, steps, 0.9, 0.999, 1e-8, 100, rec)
        assert np.array_equal(x.T, res.x_final)
        assert np.array_equal(rec.transpose(2, 0, 1), res.x[:, :3])
        assert np.abs(x.T - x0).min() > 0  # every trajectory moved, the partial block's last one too


def test_agreement_shares():
    from optlab.bench.peers import agreement
    eng = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    peer = eng.copy()
    peer[1, 0] += 1e-10  # within atol + rtol |x|
    peer[2, 1] += 1e-3   # not
    peer[3, 0] = np.nan  # not converging: left out
    share, same = agreement(peer, eng, np.array([True, True, True, False]))
    assert share == pytest.approx(2 / 3) and same == pytest.approx(1 / 3)
    assert all(math.isnan(v) for v in agreement(peer, eng, np.zeros(4, bool)))


def test_peers_skip_missing_ones_in_one_line(monkeypatch, capsys, tmp_path):
    """Without the bench extra, --peers still measures the engine, the hand-written kernel and
    numpy, and names the extra once per missing peer. Timings are scripted: each rate is its
    peer's work over its time, and the verdict follows the engine/peer ratio."""
    from optlab.bench import peers
    monkeypatch.setattr(peers, "AVAILABLE", {"jax": lambda: False, "torch": lambda: False})
    _scripted_timer(monkeypatch, [0.5, 0.25, 2.0], [])  # engine, numba (twice as fast), numpy
    out = tmp_path / "bench.json"
    assert bench.main(["--peers", "--n", "600", "--steps", "20", "--repeat", "1", "--min-seconds", "0",
                       "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert 'JAX + optax (vmap, scan, jit): not installed, skipped (pip install -e ".[bench]")' in text
    assert 'torch, batched over trajectories: not installed, skipped (pip install -e ".[bench]")' in text
    res = json.loads(out.read_text())
    assert set(res) == {"peers"}  # --peers alone runs only the peers
    rows = res["peers"]["rows"]
    assert set(rows) == {"engine", "numba", "numpy"}
    assert rows["engine"]["steps_per_s"] == pytest.approx(600 * 20 / 0.5, rel=1e-12)
    assert rows["numba"]["steps_per_s"] == pytest.approx(600 * 20 / 0.25, rel=1e-12)
    assert rows["numpy"]["steps_per_s"] == pytest.approx(600 * rows["numpy"]["steps_timed"] / 2.0, rel=1e-12)
    assert rows["numba"]["engine_ratio"] == pytest.approx(0.5, rel=1e-12)
    assert rows["numpy"]["engine_ratio"] == pytest.approx(4.0 * 20 / rows["numpy"]["steps_timed"], rel=1e-12)
    numba_line = next(ln for ln in text.splitlines() if "hand-written Numba kernel" in ln)
    assert "BELOW TARGET" in numba_line  # 0.5x against a target above it


@pytest.mark.slow
def test_peers_smoke_with_jax_and_torch(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    assert bench.main(["--peers", "--n", "2000", "--steps", "200", "--repeat", "1", "--min-seconds", "0",
                       "--json", str(out)]) == 0
    res = json.loads(out.read_text())["peers"]
    assert set(res["rows"]) == {"engine", "numba", "jax", "torch", "numpy"}
    assert res["rows"]["jax"]["target_ratio"] == 1.5 and res["cpu_model"]
    assert res["converging"] > 0
    for name in ("numba", "jax", "torch", "numpy"):
        r = res["rows"][name]
        assert r["steps_per_s"] > 0
        assert r["agree_share"] >= 0.9, name  # the same algorithm: the converging trajectories end together
    assert res["rows"]["numba"]["same_bits_share"] == 1.0


# --- the finite-sum peers -----------------------------------------------------------------------

def _theta(name, k=5, seed=3):
    from optlab.bench.objective_peers import workload
    return workload(name, k, seed=seed)[0]


@pytest.mark.parametrize("name", ["linear_regression", "logistic_regression", "mlp"])
@pytest.mark.parametrize("peer", ["jax", "torch"])
def test_objective_peers_compute_the_objective(name, peer):
    """Each peer's loss and gradient are optlab's objective on the same data (the numpy
    references of the objective modules; no engine kernel is compiled)."""
    from optlab.bench import objective_peers as op
    from optlab.objectives.mlp import mlp_loss_np
    from optlab.objectives.regression import logistic_loss_np
    if peer == "jax":
        pytest.importorskip("optax")
        jax, jnp, _ = op.jax_modules()
    else:
        torch = pytest.importorskip("torch")
    pb = op.problem(name)
    X, y = pb["X"], pb["y"]
    for th in _theta(name):
        if name == "mlp":
            f_ref, g_ref = mlp_loss_np(th, X, y)
        elif name == "logistic_regression":
            f_ref, g_ref = logistic_loss_np(th, X, y)[:2]
        else:
            Z = np.hstack([X, np.ones((len(y), 1))])
            r = Z @ th - y
            f_ref, g_ref = r @ r / len(y), 2.0 * Z.T @ r / len(y)
        if peer == "jax":
            f = op.jax_loss(name)
            val, grad = float(f(jnp.asarray(th), X, y)), np.asarray(jax.grad(f)(jnp.asarray(th), X, y))
        else:
            p = torch.tensor(th[None, :], requires_grad=True)
            loss = op.torch_losses(name, torch, p, torch.tensor(X), torch.tensor(y))
            (g,) = torch.autograd.grad(loss.sum(), p)
            val, grad = float(loss[0].detach()), g[0].numpy()
        assert val == pytest.approx(f_ref, rel=1e-12)
        assert np.allclose(grad, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_objective_peer_table_on_linear_regression(capsys):
    """Full batch and minibatches of 32 (the engine's own batches): the peers start from the
    engine's loss and end on its points."""
    from optlab.bench.objective_peers import peer_table, print_peer_table
    pytest.importorskip("optax")
    pytest.importorskip("torch")
    rows, missing = peer_table(n=64, steps=12, repeat=1, families=("linear_regression",))
    assert missing == [] and [r["batch_size"] for r in rows] == [0, 32]
    for r in rows:
        for k in ("engine", "jax", "torch"):
            assert r[f"{k}_steps_per_s"] > 0
        assert r["jax_agree_share"] == 1.0 and r["torch_agree_share"] == 1.0
    assert rows[0]["jax_start_loss_rel_diff"] < 1e-12 and rows[0]["torch_start_loss_rel_diff"] < 1e-12
    print_peer_table(rows, ["torch: not installed, skipped (x)"], 64, 12)
    lines = capsys.readouterr().out.splitlines()
    full = next(ln for ln in lines if "linear_regression D=2, full batch" in ln)
    assert ("PASS" if rows[0]["engine_per_jax"] >= 1.5 else "BELOW TARGET") in full
    assert "  torch: not installed, skipped (x)" in lines


# --- --section compile -------------------------------------------------------------------------

def test_compile_child_output_is_parsed_strictly():
    from optlab.bench.compile import MARK, parse_child
    noise = "progress 3/3\n" + MARK + '{"first_call_s": 9.0}\n'
    out = parse_child(noise + MARK + '{"first_call_s": 1.5, "load_s": 1.25, "x": [[0.0, 1.0]]}\ntrailing\n')
    assert out == {"first_call_s": 1.5, "load_s": 1.25, "x": [[0.0, 1.0]]}  # the last marked line
    for bad in ("", "first_call_s 1.5\n", MARK + "[1.5]\n", MARK + '{"load_s": 1.0}\n',
                MARK + '{"first_call_s": -1.0}\n', MARK + '{"first_call_s": NaN}\n', MARK + "{not json\n"):
        with pytest.raises(ValueError):
            parse_child(bad)


def test_compile_children_get_their_own_empty_caches_and_this_optlab(tmp_path):
    from pathlib import Path

    from optlab.bench.compile import child_command, child_env
    base = {"PATH": "/bin", "PYTHONPATH": "/elsewhere", "OPTLAB_CACHE_DIR": "/shared", "NUMBA_CACHE_DIR": "/shared2"}
    env = child_env(tmp_path / "a", base)
    assert base["OPTLAB_CACHE_DIR"] == "/shared"  # the base is not changed
    assert env["OPTLAB_CACHE_DIR"] == str(tmp_path / "a" / "optlab")
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "a" / "numba")
    assert env["PATH"] == "/bin"
    repo = Path(bench.__file__).resolve().parents[2]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(repo), "/elsewhere"]
    other = child_env(tmp_path / "b", base)
    assert other["OPTLAB_CACHE_DIR"] != env["OPTLAB_CACHE_DIR"] and other["NUMBA_CACHE_DIR"] != env["NUMBA_CACHE_DIR"]
    engine, reference = child_command("engine"), child_command("reference")
    assert engine[0] == sys.executable and engine[1] == "-c"
    assert 'optlab.simulate("adam", "rosenbrock", x0=np.zeros((4, 2)), steps=3)' in engine[2]
    assert "adam_rosenbrock_blocked(x, lr, 3," in reference[2]
    with pytest.raises(KeyError):
        child_command("torch")


def test_compile_cpu_model_from_cpuinfo():
    from optlab.bench.compile import best_median, cpu_model
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n"
    assert cpu_model(text) == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    assert cpu_model("processor\t: 0\n") and cpu_model("") == cpu_model("model name\t: \n")  # the fallback
    assert best_median([3.0, 1.0, 2.0, 10.0]) == {"best": 1.0, "median": 2.5}


def test_compile_reference_kernel_is_adam():
    """The hand-written reference does the engine's work: torch's Adam, per-trajectory lr, on
    whole and partial blocks of 256 (against the bench's numpy reference)."""
    import numpy as np

    from optlab.bench.compile import BLOCK, adam_rosenbrock_blocked
    from optlab.bench.references import REFERENCES, rosen_grad
    rng = np.random.default_rng(1)
    n = BLOCK + 45
    x0 = np.vstack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])
    lr = 10.0 ** rng.uniform(-4, -2, n)
    x = x0.copy()
    adam_rosenbrock_blocked(x, lr, 25, 0.9, 0.999, 1e-8)
    ref = REFERENCES["adam"](x0.copy(), 25, rosen_grad, lr=lr)
    assert np.abs(x - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())
    assert np.abs(x - x0).min() > 0  # every trajectory moved, the partial block's last one too


def test_compile_figures_from_scripted_children(monkeypatch):
    """Best and median per kind over the repeats, the ratios of the cold first calls, the largest |dx|."""
    from optlab.bench import compile as comp
    times = {("engine", 0): [9.0, 0.5], ("engine", 1): [7.0, 0.4], ("engine", 2): [8.0, 0.6],
             ("reference", 0): [4.0, 0.2], ("reference", 1): [5.0, 0.3], ("reference", 2): [2.0, 0.1]}
    calls = []

    def child(kind, cache_root):
        rep = int(cache_root.parent.name)
        first = times[(kind, rep)][sum(c == (kind, rep) for c in calls)]
        calls.append((kind, rep))
        x = [[1.0, 2.0]] if kind == "engine" else [[1.0, 2.0 + 1e-13 * (rep + 1)]]
        return {"first_call_s": first, "load_s": first / 10, "x": x}
    monkeypatch.setattr(comp, "run_child", child)
    row = comp.bench_compile(repeat=3)
    assert len(calls) == 12
    assert row["engine_cold"] == {"best": 7.0, "median": 8.0} and row["engine_warm"] == {"best": 0.4, "median": 0.5}
    assert row["reference_cold"] == {"best": 2.0, "median": 4.0}
    assert row["engine_load"] == {"best": pytest.approx(0.7), "median": pytest.approx(0.8)}
    assert row["ratio_best"] == pytest.approx(7.0 / 2.0) and row["ratio_median"] == pytest.approx(8.0 / 4.0)
    assert row["max_abs_diff_x"] == pytest.approx(3e-13, rel=1e-3)


@pytest.mark.slow
def test_compile_section_smoke(tmp_path):
    """One cold and one warm run of each side of the three workloads (about 50-60 s on 2 cores)."""
    out = tmp_path / "bench.json"
    assert bench.main(["--section", "compile", "--repeat", "1", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["compile"]
    assert row["repeat"] == 1 and row["cpu_cores"] == os.cpu_count() and row["cpu_model"]
    cold, ref = row["engine_cold"]["best"], row["reference_cold"]["best"]
    assert 0 < row["engine_load"]["best"] <= cold  # load_s is part of the first simulate call
    assert row["engine_warm"]["best"] < cold and row["reference_warm"]["best"] < ref
    assert row["max_abs_diff_x"] <= 1e-12
    mlp = json.loads(out.read_text())["compile_mlp"]
    assert mlp["name"] == "mlp" and mlp["engine_warm"]["best"] < mlp["engine_cold"]["best"]
    assert mlp["max_abs_diff_x"] <= 1e-10  # the engine's vectorised tanh against libm's
    mb = json.loads(out.read_text())["compile_mlp_minibatch"]
    assert mb["name"] == "mlp_minibatch" and mb["reference_function"] == "adam_mlp_minibatch_blocked"
    assert mb["max_abs_diff_x"] <= 1e-10  # the same minibatches: the hand-written permutation draws the engine's


def test_best_alternating_rotates_the_order_and_keeps_each_best():
    """Each round starts one workload later, so none always runs right after the same other; with
    settle, each timed run follows an untimed one of its own."""
    from optlab.bench import peers
    calls = []
    fns = [lambda k=k: calls.append(k) for k in range(3)]
    best = peers.best_alternating(fns, repeat=3)
    assert calls == [0, 1, 2, 1, 2, 0, 2, 0, 1]
    assert len(best) == 3 and all(w >= 0.0 and c >= 0.0 for w, c in best)
    calls.clear()
    peers.best_alternating(fns[:2], repeat=2, settle=True)
    assert calls == [0, 0, 1, 1, 1, 1, 0, 0]
