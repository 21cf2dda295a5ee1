"""The lecture's studies, each in quick mode, each checked for the claim it makes.

Every study runs through ``optlab.runner.run`` (one through the CLI) into a
temporary folder; the asserts read its summary / metrics.json, so what is
checked is what a user gets.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import optlab
import optlab.studies
from optlab.errors import OptlabError
from optlab import theory
from optlab.runner import run

from conftest import run_cli

CONF = Path(__file__).resolve().parents[1] / "conf"
LECTURE = ("lr_divergence", "saddle_escape", "local_minima", "momentum", "adam_betas", "batch_vs_minibatch",
           "optimizer_race", "plateau_cliff", "convergence_rates", "heavy_ball_cycle", "edge_of_stability",
           "lr_schedules", "amsgrad_counterexample", "lr_range_test")


def quick(name, tmp_path, **study):
    """The study in quick mode (conftest.quick_study): kernels planned = run, figures written, and
    for a theory study its table in the summary and metrics.json with every claim holding."""
    from conftest import quick_study
    return quick_study(name, tmp_path, theory=bool(optlab.studies.get(name).theory), **study)


def claims(metrics, where=None, kind=None, contains=""):
    """The theory claims of a run, filtered by case, kind and a piece of the claim's text."""
    out = [theory.from_dict(d) for d in metrics["theory"]]
    return [c for c in out if (where is None or c.where == where) and (kind is None or c.kind == kind)
            and contains in c.claim]


def test_each_study_is_found_in_its_own_module():
    """``studies.get(name)`` imports only the study's module (named after it, or listed in
    ``_HOMES``); a study registered anywhere else would send every lookup through all modules."""
    import optlab.studies as S
    for name in S.names():
        assert S._STUDIES[name].__module__ == f"optlab.studies.{S._HOMES.get(name, name)}", name


# --- the claims ---------------------------------------------------------------

def test_lr_divergence_edge_is_above_the_largest_converging_lr():
    """A ragged zone (a failure, then convergence again) does not set the edge: heavy-ball on
    Rosenbrock failed at one lr 26% below its bound and converged at 34 of the next 35."""
    from optlab.studies.lr_divergence import measure_edge
    lrs = np.geomspace(1.0, 2.0, 11)
    conv = np.array([1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0], dtype=bool)
    steps = np.array([90, 50, 40, -1, 60, 70, -1, 80, -1, -1, -1])
    edge, last, nxt, first_fail = measure_edge(lrs, conv, steps)
    assert (last, nxt, first_fail) == (lrs[7], lrs[8], lrs[3])
    assert edge == pytest.approx(np.sqrt(lrs[7] * lrs[8]))
    assert measure_edge(lrs, np.zeros(11, bool), steps) is None
    assert measure_edge(lrs, np.ones(11, bool), steps) is None  # converges up to the grid's end


def test_lr_divergence_measured_edge_matches_2_over_L(tmp_path):
    summary, metrics, _ = quick("lr_divergence", tmp_path)
    rows = {r["objective"]: r for r in metrics["objectives"]}
    quad = rows["quadratic (κ=10)"]
    # L from the Hessian at the minimum (quadratic: lmax = 1; Rosenbrock: 1001.6 per the literature)
    assert quad["L"] == pytest.approx(1.0, rel=1e-12)
    assert rows["rosenbrock"]["L"] == pytest.approx(1001.6, abs=0.05)
    gd, hb = quad["runs"]
    assert gd["method"] == "gd" and hb["method"] == "momentum"
    assert gd["bound"] == pytest.approx(2.0) and hb["bound"] == pytest.approx(2 * 1.9)
    assert abs(gd["relative_error"]) < 0.02, gd
    assert abs(hb["relative_error"]) < 0.02, hb
    # near the minimum of Rosenbrock, GD's edge is the local 2/L too
    rgd = rows["rosenbrock"]["runs"][0]
    assert abs(rgd["relative_error"]) < 0.03, rgd
    # the theory table: the quadratic's edges within one grid step (abs), Rosenbrock's as the local bound (le)
    step = 10 ** (np.log10(3.0 / 1e-3) / (401 - 1)) - 1          # quick grid: 401 points over [1e-3, 3] * 2/L
    quad_claims = claims(metrics, where="quadratic (κ=10)")
    assert [c.kind for c in quad_claims] == ["abs", "abs"]
    assert [c.predicted for c in quad_claims] == pytest.approx([2.0, 3.8])
    assert [c.measured for c in quad_claims] == pytest.approx([gd["measured_edge"], hb["measured_edge"]])
    assert [c.tolerance for c in quad_claims] == pytest.approx([2.0 * step, 3.8 * step])
    assert [c.kind for c in claims(metrics, where="rosenbrock")] == ["le", "le"]
    # the printed table shows each run's own numbers, one line per run, in order
    lines = summary["table"].splitlines()[2:]
    runs = [r for row in metrics["objectives"] for r in row["runs"]]
    assert len(lines) == len(runs)
    for line, r in zip(lines, runs):
        assert f" {r['method']} " in line and f"{r['bound']:.4g}" in line, line
        assert f"{r['measured_edge']:.4g}" in line and f"{100 * r['relative_error']:+.2f}%" in line, line


def test_saddle_escape_manifold_stays_others_leave(tmp_path):
    _, metrics, _ = quick("saddle_escape", tmp_path)
    rows = {r["objective"]: r for r in metrics["objectives"]}
    # theory: GD's escape after log(r0/δ)/log(1 + lr|λ₋|) steps (x² − y²: λ₋ = −2, lr 0.1, r0 1, δ 1e-6)
    gd_claim, hb_claim, manifold_claim = claims(metrics, where="saddle")
    assert gd_claim.predicted == pytest.approx(np.log(1e6) / np.log(1.2)) and gd_claim.kind == "abs"
    assert gd_claim.measured == rows["saddle"]["runs"]["gd_perturbed"]["escape_step"]
    assert manifold_claim.predicted == pytest.approx(0.8 ** 200)
    # heavy-ball on x² − y², iterated here as torch.optim.SGD does it (buffer = first gradient)
    x, buf, dist = np.array([1.0, 1e-6]), None, []
    for _ in range(200):
        g = np.array([2 * x[0], -2 * x[1]])
        buf = g.copy() if buf is None else 0.9 * buf + g
        x = x - 0.1 * buf
        dist.append(np.linalg.norm(x))
    k = int(np.argmin(dist))
    escape = k + 1 + int(np.flatnonzero(np.asarray(dist[k:]) > 1.0)[0])
    assert hb_claim.measured == escape == rows["saddle"]["runs"]["momentum"]["escape_step"]
    assert abs(hb_claim.predicted - escape) <= 1
    # the monkey saddle (Hessian 0) has no such claim; Himmelblau's is local (rel)
    assert not claims(metrics, where="monkey_saddle")
    assert [c.kind for c in claims(metrics, where="himmelblau (local)")] == ["rel"]
    sad = rows["saddle"]["runs"]
    assert rows["saddle"]["manifold_exact"]
    assert sad["gd_manifold"]["escape_step"] is None
    assert sad["gd_manifold"]["final_distance"] <= 1e-8
    for key in ("gd_perturbed", "gd_noise", "momentum", "adam"):
        assert sad[key]["escape_step"] is not None, key
    # symmetry is not broken by momentum or Adam alone
    assert sad["momentum_manifold"]["escape_step"] is None and sad["adam_manifold"]["escape_step"] is None
    monkey = rows["monkey_saddle"]["runs"]
    assert monkey["gd_manifold"]["escape_step"] is None
    assert monkey["gd_manifold"]["final_distance"] < 0.01       # ~1/(3 lr t): algebraic, not exponential
    for key in ("gd_perturbed", "gd_noise", "momentum", "adam"):
        assert monkey[key]["escape_step"] is not None, key
    him = rows["himmelblau"]
    assert not him["manifold_exact"] and him["manifold_bracket"] < 1e-12
    r = him["runs"]
    assert r["gd_manifold"]["closest"] < 1e-8                     # it gets to the saddle ...
    others = [r[k]["escape_step"] for k in ("gd_perturbed", "gd_noise", "momentum", "adam")]
    assert all(s is not None for s in others)
    # ... and lingers longer than every perturbed, noisy or accelerated run
    assert r["gd_manifold"]["escape_step"] is None or r["gd_manifold"]["escape_step"] > max(others)


def test_local_minima_himmelblau_reaches_all_four(tmp_path):
    summary, metrics, out = quick("local_minima", tmp_path)
    (row,) = metrics["objectives"]
    assert row["n_minima"] == 4
    gd = row["runs"][0]
    assert gd["method"] == "gd" and gd["minima_reached"] == 4
    assert gd["global"] > 0.99                                    # all four minima of himmelblau are global
    with np.load(out / "local_minima.npz") as z:
        cats = z["himmelblau__gd__category"]
        minima = z["himmelblau__minima"]
    n = row["n"]
    assert cats.shape == (n, n) and set(np.unique(cats)) == {0, 1, 2, 3}
    assert gd["global"] == pytest.approx(np.isin(cats, [0, 1, 2, 3]).mean(), abs=1e-12)
    # the basin map says where each start ends: re-run a sample of starts on their own and compare
    from optlab.studies.local_minima import DEFAULTS
    box = np.asarray(row["box"])
    starts = np.stack(np.meshgrid(np.linspace(*box[0], n), np.linspace(*box[1], n)), axis=-1).reshape(-1, 2)
    pick = np.random.default_rng(5).choice(n * n, size=16, replace=False)
    res = optlab.simulate(gd["optimizer"], "himmelblau", x0=starts[pick], steps=gd["steps"],
                          record_every=gd["steps"], lr=gd["lr"])
    dist = np.linalg.norm(res.x_final[:, None, :] - minima[None, :, :], axis=2)
    for k, i in enumerate(pick):
        if dist[k].min() <= DEFAULTS["radius"]:
            assert cats.reshape(-1)[i] == np.argmin(dist[k]), (starts[i], res.x_final[k])
        else:
            assert cats.reshape(-1)[i] >= 4, (starts[i], res.x_final[k])


def test_momentum_bound_and_polyak_optimum(tmp_path):
    _, metrics, out = quick("momentum", tmp_path)
    (row,) = metrics["objectives"]
    kappa = row["kappa"]
    assert kappa == pytest.approx(100.0)
    sb = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    assert row["polyak_beta"] == pytest.approx(sb ** 2) and row["polyak_lr"] == pytest.approx((1 + sb) ** 2)
    # the optimum converges, at least as fast as anything on the (coarse) quick grid, up to 2x
    assert row["steps_at_polyak"] is not None
    assert row["steps_at_polyak"] <= 2 * row["fastest_on_grid"]["steps"]
    with np.load(out / "momentum.npz") as z:
        lrs, betas = z["quadratic_cond_100__lrs"], z["quadratic_cond_100__momenta"]
        div = z["quadratic_cond_100__diverged"]
    bound = 2 * (1 + betas[:, None]) / row["L"]
    beyond = lrs[None, :] > bound * 1.01
    inside = lrs[None, :] < bound * 0.9
    assert div[beyond].all()                                      # above 2(1+beta)/L: diverged, every cell
    assert not div[inside].any()                                  # well below: none diverged
    # theory: the measured rate of every converging cell is its spectral radius (max root modulus over mu, L)
    with np.load(out / "momentum.npz") as z:
        rate = z["quadratic_cond_100__rate"]
    radius = np.array([[max(np.abs(np.roots([1.0, -(1 + b - lr * lam), b])).max() for lam in (row["mu"], row["L"]))
                        for lr in lrs] for b in betas])
    conv = radius < 1
    assert conv.sum() > 100
    np.testing.assert_allclose(rate[conv], radius[conv], rtol=0.01)
    c_rate, c_min, c_beta, c_lr, *edges = claims(metrics)
    assert c_rate.predicted == pytest.approx(sb) and abs(c_rate.measured / sb - 1) < 0.005
    assert c_min.measured == pytest.approx(rate[conv].min()) and c_min.kind == "ge"
    assert (c_beta.predicted, c_lr.predicted) == pytest.approx((row["polyak_beta"], row["polyak_lr"]))
    assert len(edges) == len(betas) and [c.predicted for c in edges] == pytest.approx(2 * (1 + betas))


def test_adam_betas_grid(tmp_path):
    _, metrics, _ = quick("adam_betas", tmp_path)
    (row,) = metrics["objectives"]
    assert row["share_reached"] > 0.3
    # the cells the study reports (the fastest and the one nearest torch's default) hold what Adam
    # does there: each re-run alone, outside the grid
    from optlab.studies.adam_betas import QUICK
    (entry,) = QUICK["objectives"]
    for cell in (row["fastest"], row["near_default"]):
        r = optlab.simulate("adam", entry["name"], x0=row["x0"], steps=row["steps"], record_every=row["steps"],
                            lr=row["lr"], betas=(cell["beta1"], cell["beta2"]), eps=metrics["eps"],
                            tol=metrics["tol"])
        ends = r.loss_final[0] - optlab.objectives.get(entry["name"]).min_value(2) <= metrics["tol"]
        assert cell["median_steps"] == (float(r.tol_step[0]) if r.tol_step[0] >= 0 and ends else None), cell


def test_batch_gd_reaches_numpy_least_squares(tmp_path):
    summary, metrics, _ = quick("batch_vs_minibatch", tmp_path)
    spec = optlab.objectives.get("linear_regression")
    (theta_spec, _), = spec.global_minima(2, n_samples=256, noise=0.5, seed=0)
    assert np.allclose(metrics["theta_lstsq"], theta_spec, rtol=1e-10, atol=1e-12)
    runs = {r["batch_size"]: r for r in metrics["runs"]}
    assert runs[0]["distance_to_lstsq"] < 1e-6
    assert runs[0]["final_gap"] < 1e-12
    # constant-lr SGD hovers in a noise ball; minibatches shrink it
    assert runs[1]["distance_to_lstsq"] > 1e-3
    assert runs[1]["mean_gap_last_10pct"] > runs[32]["mean_gap_last_10pct"] > runs[0]["mean_gap_last_10pct"]
    assert runs[1]["grad_evals"] == runs[0]["grad_evals"] == runs[32]["grad_evals"]


def test_optimizer_race_tuned_beats_default(tmp_path):
    summary, metrics, out = quick("optimizer_race", tmp_path)
    (row,) = metrics["objectives"]
    assert [r["optimizer"] for r in row["runs"]] == ["sgd", "adam", "rmsprop"]
    better = 0
    tune_starts = np.asarray(row["tune_starts"])
    f_min = optlab.objectives.get("rosenbrock").min_value(2)
    for r in row["runs"]:
        s = r["search"]
        assert r["tuned_lr"] in s["lrs"] and r["default_lr"] in s["lrs"]
        # the reported scores are the median final gap over the tuning starts, re-run here alone
        for lr, score in ((r["tuned_lr"], r["tuned_score"]), (r["default_lr"], r["default_score"])):
            res = optlab.simulate(r["optimizer"], "rosenbrock", x0=tune_starts, steps=row["steps"],
                                  record_every=row["steps"], lr=lr, **r["hyper"])
            dead = (res.diverged_step >= 0) | ~np.isfinite(res.loss_final)
            gaps = np.where(dead, np.inf, res.loss_final - f_min)
            median = float(np.median(gaps))
            assert (score is None and median == np.inf) or score == pytest.approx(median, rel=1e-12), (r, lr)
        d = np.inf if r["default_score"] is None else r["default_score"]
        better += r["tuned_score"] < 0.5 * d
    assert better >= 2
    # held-out starts: the tuned lr still beats the default
    rng = np.random.default_rng(123)
    starts = rng.uniform([-1.6, -0.6], [1.6, 2.6], size=(8, 2))
    wins = 0
    for r in row["runs"]:
        tuned = optlab.simulate(r["optimizer"], "rosenbrock", x0=starts, steps=row["steps"], record_every=row["steps"],
                                lr=r["tuned_lr"])
        default = optlab.simulate(r["optimizer"], "rosenbrock", x0=starts, steps=row["steps"],
                                  record_every=row["steps"], lr=r["default_lr"])
        gap = lambda res: np.median(np.where(res.diverged_step >= 0, np.inf, res.loss_final))  # noqa: E731
        wins += gap(tuned) <= gap(default)
    assert wins >= 2
    from PIL import Image
    with Image.open(out / "race_rosenbrock.gif") as im:
        assert im.n_frames >= 10


def test_plateau_cliff_clipping_removes_the_jump(tmp_path):
    _, metrics, _ = quick("plateau_cliff", tmp_path)
    runs = {r["run"]: r for r in metrics["runs"]}
    gd = runs["GD lr=0.1"]
    clipped = runs["GD lr=0.1 + clip_grad_norm=0.5"]
    assert gd["jumped_main"] and gd["max_step_main"] > 1.0         # thrown across the crater
    assert gd["share_jumped"] > 0.5
    assert clipped["largest_step_any"] <= 0.1 * 0.5 * (1 + 1e-9)  # at most lr * c, for every start
    assert clipped["share_jumped"] == 0.0
    assert clipped["steps_to_tol_main"] is not None
    assert not runs["Adam lr=0.05"]["jumped_main"]


def test_edge_of_stability_every_claim_holds_and_is_recomputable(tmp_path):
    """Quick mode: every claim of the theory table holds; the rows are in metrics.json; each predicted
    value is its formula of the run's lr, and each measured value is recomputed here from the saved arrays."""
    summary, metrics, out = quick("edge_of_stability", tmp_path)
    from optlab.studies import edge_of_stability as eos  # after the run: every study is registered by then
    rows = summary["theory"]
    assert rows == metrics["theory"] and all(r["passed"] for r in rows), [r for r in rows if not r["passed"]]
    cases = {c["case"]: c for c in metrics["cases"]}
    assert list(cases) == ["minimalist", "mlp_gd", "mlp_momentum", "mlp_adam"]
    n_lrs = sum(len(c["runs"]) for c in cases.values())
    assert len(rows) == 4 * n_lrs + len(cases["minimalist"]["runs"])
    beta = eos.QUICK.get("momentum", eos.DEFAULTS["momentum"])
    b1 = eos.DEFAULTS["adam_betas"][0]
    formula = {"minimalist": eos.gd_threshold, "mlp_gd": eos.gd_threshold,
               "mlp_momentum": lambda lr: eos.heavy_ball_threshold(lr, beta),
               "mlp_adam": lambda lr: eos.adam_threshold(lr, b1)}
    with np.load(out / "edge_of_stability.npz") as z:
        arrays = {k: z[k] for k in z.files}
    pending = list(rows)  # in order: per case, per lr, its claims (the minimalist has one more)
    for key, case in cases.items():
        assert list(arrays[f"{key}__lrs"]) == [r["lr"] for r in case["runs"]]
        for i, run_ in enumerate(case["runs"]):
            claims, pending = pending[:5 if key == "minimalist" else 4], pending[5 if key == "minimalist" else 4:]
            assert all(c["where"].endswith(f" lr={run_['lr']:g}") for c in claims)
            thr = formula[key](run_["lr"])
            s, loss = arrays[f"{key}__sharpness"][i], arrays[f"{key}__loss"][i]
            k = int(np.flatnonzero(s >= thr)[0])
            start, median, ups, falls = claims[:4]
            assert start["predicted"] == median["predicted"] == pytest.approx(thr, rel=1e-14)
            assert start["measured"] == s[np.isfinite(s)][0]
            assert median["measured"] == pytest.approx(np.median(s[k:]), rel=1e-14)
            # rises between records an even number of steps apart (the minimalist records every step)
            two = 2 if key == "minimalist" else 1
            assert ups["measured"] == np.sum(np.diff(loss[k::two]) > 1e-9 * abs(loss[k]))
            assert falls["predicted"] == loss[k] and falls["measured"] == np.median(loss[-max(1, loss.size // 10):])
            if key == "minimalist":
                assert claims[4]["measured"] == s[-1] and claims[4]["predicted"] == pytest.approx(thr, rel=1e-14)
    assert not pending
    assert "claims hold" in summary["table"]
@pytest.fixture(scope="module")
def lr_schedules_run(tmp_path_factory):
    """One quick run of lr_schedules shared by the tests below (the study is the slowest quick one)."""
    summary, metrics, out = quick("lr_schedules", tmp_path_factory.mktemp("lr_schedules"))
    with np.load(out / "lr_schedules.npz") as z:
        arrays = dict(z)
    return summary, metrics, arrays, out


@pytest.mark.slow
def test_lr_schedules_theory_table_is_what_the_arrays_say(lr_schedules_run):
    summary, metrics, z, out = lr_schedules_run
    assert summary["figures"] == ["lr_schedules.png", "lr_schedules_warmup.png"]   # quick() checked the files
    theory = metrics["theory"]
    assert summary["theory"] == theory and len(theory) == 7
    assert all(row["passed"] for row in theory), [r for r in theory if not r["passed"]]
    sgd, adam = metrics["problems"]
    assert [r["schedule"] for r in sgd["schedules"]] == ["constant", "step", "cosine", "warmup_cosine", "onecycle",
                                                         "plateau"]
    # every measured value again, from the saved (lr x start) finals: the tuned lr has the best median
    med = {}
    for r in sgd["schedules"]:
        final = z[f"sgd__{r['schedule']}__final"]
        k = int(np.argmin(np.median(final, axis=1)))
        assert r["tuned_lr"] == pytest.approx(sgd["lr_grid"][k], rel=1e-12)
        med[r["schedule"]] = np.median(final[k])
        assert r["median_final"] == pytest.approx(med[r["schedule"]], rel=1e-12)
    floor, *decayed = theory[:5]
    g = z["sgd__constant__curve_at_cosine_lr"][:, 1:]
    q = g.shape[1] // 4
    assert floor["measured"] == pytest.approx(np.median(g[:, -q:].mean(1) / g[:, -2 * q:-q].mean(1)), rel=1e-12)
    for row, key in zip(decayed, ("step", "cosine", "warmup_cosine", "onecycle")):
        assert row["predicted"] == pytest.approx(med["constant"] / metrics["floor_factor"], rel=1e-12)
        assert row["measured"] == pytest.approx(med[key], rel=1e-12) and row["kind"] == "le"
    fail = {k: np.mean(z[f"adam__{k}__final"] > metrics["fail_loss"], axis=1) for k in ("cosine", "warmup_cosine")}
    i = int(np.argmax(fail["cosine"] - fail["warmup_cosine"]))
    assert metrics["warmup"]["lr"] == pytest.approx(adam["lr_grid"][i], rel=1e-12)
    assert theory[5]["measured"] == fail["cosine"][i] >= 0.5
    assert theory[6]["measured"] == fail["warmup_cosine"][i] <= 0.25
    assert "PASS" in summary["table"] and "FAIL" not in summary["table"]


@pytest.mark.slow
def test_lr_schedules_lessons_hold_on_fresh_minibatches(lr_schedules_run):
    """The tuned runs again, alone: other trajectory numbers, so other minibatch orders."""
    _, metrics, z, _ = lr_schedules_run
    sgd, adam = metrics["problems"]
    s = {r["schedule"]: r for r in sgd["schedules"]}
    opts = {"n_samples": 256, "noise": 0.5, "seed": 0, "batch_size": 8}
    f_min = optlab.objectives.get("linear_regression").min_value(2, **opts)

    def sgd_gap(r):
        kw = {} if r["scheduler"] is None else {"scheduler": r["scheduler"]}
        res = optlab.simulate("sgd", "linear_regression", x0=z["sgd__x0"], steps=sgd["steps"],
                              record_every=sgd["steps"], tol=0.0, lr=r["tuned_lr"], momentum=0.0,
                              objective_options=opts, **kw)
        return np.median(res.loss_final - f_min)
    assert sgd_gap(s["cosine"]) * metrics["floor_factor"] < sgd_gap(s["constant"])

    from optlab.objectives.mlp import mlp_loss_np
    a = {r["schedule"]: r for r in adam["schedules"]}
    mopts = {"n_samples": 128, "noise": 0.1, "seed": 0, "batch_size": 64, "full_loss": False}
    X, y = optlab.studies.lr_schedules.finite_sum_data(optlab.studies._lecture.ObjectiveEntry(
        {"name": "mlp", **mopts}, "test"))
    failed = {}
    for key in ("cosine", "warmup_cosine"):
        res = optlab.simulate("adam", "mlp", x0=z["adam__x0"], steps=adam["steps"], record_every=adam["steps"],
                              tol=0.0, lr=metrics["warmup"]["lr"], objective_options=mopts,
                              scheduler=a[key]["scheduler"])
        failed[key] = np.mean([not mlp_loss_np(x, X, y)[0] <= metrics["fail_loss"] for x in res.x_final])
    assert failed["cosine"] >= 0.5 and failed["cosine"] - failed["warmup_cosine"] >= 0.4, failed


@pytest.mark.slow
def test_lr_schedules_lr_curves_have_their_shapes(lr_schedules_run):
    """The recorded lr of each tuned schedule against the closed forms of torch's documentation."""
    _, metrics, z, _ = lr_schedules_run
    for pr in metrics["problems"]:
        T, t = pr["steps"], z[f"{pr['problem']}__record_steps"]
        for r in pr["schedules"]:
            lr, peak = z[f"{pr['problem']}__{r['schedule']}__tuned_lr_curve"], r["tuned_lr"]
            if r["schedule"] == "constant":
                assert np.all(lr == peak)
            elif r["schedule"] == "step":
                every = r["scheduler"]["step_size"]
                assert np.allclose(lr, peak * r["scheduler"]["gamma"] ** (t // every), rtol=1e-12)
            elif r["schedule"] == "cosine":
                assert np.allclose(lr, peak * (1 + np.cos(np.pi * t / T)) / 2, rtol=1e-9, atol=1e-15 * peak)
            elif r["schedule"] == "warmup_cosine":
                w = r["scheduler"]["milestones"][0]
                sf = r["scheduler"]["schedulers"][0]["start_factor"]
                ramp, rest = t < w, t >= w
                assert np.allclose(lr[ramp], peak * (sf + (1 - sf) * t[ramp] / w), rtol=1e-9)
                assert np.allclose(lr[rest], peak * (1 + np.cos(np.pi * (t[rest] - w) / (T - w))) / 2, rtol=1e-9,
                                   atol=1e-15 * peak)
            elif r["schedule"] == "onecycle":
                assert lr[0] == pytest.approx(peak / 25) and lr.max() <= peak
                assert t[np.argmax(lr)] == pytest.approx(0.3 * T, abs=T / len(t) + 1)
            else:  # ReduceLROnPlateau: starts at the peak, only ever multiplied by its factor
                assert lr[0] == peak and np.all(np.diff(lr) <= 0)


@pytest.mark.parity
@pytest.mark.slow
def test_lr_schedules_lr_curves_are_torchs(lr_schedules_run):
    """Each recorded lr curve equals, bit for bit, what torch's scheduler puts in param_groups[0]["lr"]
    after t scheduler steps (t the recorded step)."""
    pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent / "torch_reference"))
    from schedulers import torch_tables
    _, metrics, z, _ = lr_schedules_run
    for pr in metrics["problems"]:
        t = z[f"{pr['problem']}__record_steps"]
        for r in pr["schedules"]:
            if r["scheduler"] is None or r["schedule"] == "plateau":
                continue
            spec = dict(r["scheduler"])
            if r["peak_option"] == "scheduler.max_lr":
                spec["max_lr"] = r["tuned_lr"]
            torch_lr, _ = torch_tables(spec, [r["tuned_lr"]], pr["steps"])
            got = z[f"{pr['problem']}__{r['schedule']}__tuned_lr_curve"]
            assert np.array_equal(got, torch_lr[t, 0]), (pr["problem"], r["schedule"])


def test_mlp_full_loss_is_the_objectives(tmp_path):
    """The study's batched full-data loss against the objective's numpy reference and the engine's own."""
    from optlab.objectives.mlp import mlp_loss_np
    from optlab.studies._lecture import ObjectiveEntry
    from optlab.studies.lr_schedules import finite_sum_data, mlp_full_loss, torch_init_starts
    e = ObjectiveEntry({"name": "mlp", "n_samples": 64, "noise": 0.1, "seed": 3, "l2": 0.01}, "test")
    X, y = finite_sum_data(e)
    thetas = torch_init_starts(8, 5, np.random.default_rng(1)) * np.array([[1.0], [3.0], [0.3], [10.0], [1.0]])
    ours = mlp_full_loss(thetas, X, y, 0.01)
    assert np.allclose(ours, [mlp_loss_np(th, X, y, 0.01)[0] for th in thetas], rtol=1e-12)
    res = optlab.simulate("sgd", "mlp", x0=thetas, steps=1, lr=0.0, objective_options=e.options)
    assert np.allclose(ours, res.loss[:, 0], rtol=1e-12)
    assert mlp_full_loss(thetas.reshape(5, 1, -1), X, y, 0.01).shape == (5, 1)


# --- bad input: one line, naming what would work -----------------------------------

@pytest.mark.parametrize("study,extra,message", [
    ("local_minima", {"objectives": [{"name": "rastrigin", "dim": 50}]}, "has dimension 50, not 2"),
    ("local_minima", {"objectives": [{"name": "rastrigin", "dim": 1}]}, "has dimension 1, not 2"),
    ("saddle_escape", {"objectives": [{"name": "rastrigin", "dim": 3}]}, "Use a 2-D objective"),
    ("plateau_cliff", {"objective": {"name": "plateau_cliff", "dim": 3}}, "contour"),
    ("optimizer_race", {"objectives": [{"name": "sphere", "dim": 5}]}, "Use a 2-D objective"),
    ("batch_vs_minibatch", {"objective": {"name": "rosenbrock"}}, "linear_regression"),
    ("batch_vs_minibatch", {"objective": {"name": "linear_regression", "dim": 3}}, "Use dim 2"),
    ("lr_divergence", {"objectives": ["saddle"]}, "no known minimum"),
    ("lr_divergence", {"n_lrr": 10}, "Unknown key 'study.n_lrr'"),
    ("optimizer_race", {"include": ["adamm"]}, "did you mean 'adam'"),
    ("edge_of_stability", {"momentum": 1.0}, "Invalid study.momentum: 1.0 (must be a number in [0, 1))"),
    ("edge_of_stability", {"gd_lrs": [0.3, -1.0]}, "Invalid study.gd_lrs"),
    ("lr_schedules", {"adam": {"name": "rosenbrock"}}, "must be mlp"),
    ("lr_schedules", {"sgd": {"name": "linear_regression", "full_loss": False}}, "remove full_loss"),
    ("lr_schedules", {"warmup": 0.9}, "Invalid study.warmup"),
])
def test_bad_input_is_one_clear_line(tmp_path, study, extra, message):
    with pytest.raises(OptlabError) as err:
        run({"study": {"name": study, "quick": True, **extra}}, tmp_path / "bad")
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert not any((tmp_path / "bad").glob("*.png"))


# --- the experiment files -------------------------------------------------------------

def _compose(overrides):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("name", LECTURE)
def test_experiment_file_matches_the_study_defaults(name):
    """conf/experiment/<name>.yaml lists every knob with the study's default (no drift), and the
    page experiments/<name>.md exists and shows the command."""
    import importlib
    mod = importlib.import_module(f"optlab.studies.{name}")
    cfg = _compose([f"+experiment={name}"])
    study = cfg["study"]
    assert study["name"] == name and study["quick"] is False
    assert set(study) - {"name", "quick"} == set(mod.DEFAULTS)
    for key, value in mod.DEFAULTS.items():
        assert study[key] == value, key
    page = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.md"
    assert f"python -m optlab +experiment={name}" in page.read_text(encoding="utf-8")


def test_a_study_through_the_cli(tmp_path):
    out = tmp_path / "cli"
    p = run_cli("+experiment=lr_divergence", "study.quick=true", "plot.dpi=50", f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr
    assert (out / "lr_divergence.png").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    edges = [r["measured_edge"] for row in metrics["objectives"] for r in row["runs"]]
    assert edges and all(f"{e:.4g}" in p.stdout for e in edges), p.stdout  # the table of this run is printed
    bad = run_cli("+experiment=local_minima", "study.quick=true", "study.objectives=[{name: rastrigin, dim: 50}]",
                  f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not 2" in bad.stderr


def test_every_lecture_study_is_registered_and_in_the_gallery():
    from optlab import studies
    from optlab.bench import gallery
    assert set(LECTURE) <= set(studies.names())
    assert set(gallery.FIGURES) == set(LECTURE)


def test_svg_figures(tmp_path):
    out = tmp_path / "svg"
    run({"study": {"name": "momentum", "quick": True}, "plot": {"format": "svg"}}, out)
    assert (out / "momentum.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
