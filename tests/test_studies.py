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
from optlab.engine import warmup
from optlab.errors import OptlabError
from optlab import theory
from optlab.runner import run

from conftest import run_cli

CONF = Path(__file__).resolve().parents[1] / "conf"
LECTURE = ("lr_divergence", "saddle_escape", "local_minima", "momentum", "adam_betas", "batch_vs_minibatch",
           "optimizer_race", "plateau_cliff", "convergence_rates", "heavy_ball_cycle", "amsgrad_counterexample",
           "lr_range_test")


def quick(name, tmp_path, **study):
    cfg = {"study": {"name": name, "quick": True, **study}, "plot": {"dpi": 50}}
    out = tmp_path / name
    with warmup.recording() as used:
        summary = run(cfg, out)
    # the kernels the study names up front (compiled in parallel) are the ones it runs
    planned = {warmup.identity_of(k) for k in optlab.studies.get(name).kernels(cfg)}
    ran = {warmup.identity_of(k) for k in used}
    assert ran and ran <= planned, sorted(ran - planned)
    for fig in summary.get("figures", []):
        assert (out / fig).is_file() and (out / fig).stat().st_size > 5_000, fig
    assert (out / "metrics.json").is_file() and (out / "summary.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    if optlab.studies.get(name).theory:
        # a theory study returns its table in the summary and in metrics.json, and in quick mode every claim holds
        assert summary["theory"] == metrics["theory"] and metrics["theory"], name
        failed = [c for c in map(theory.from_dict, metrics["theory"]) if not c.passed]
        assert not failed, theory.format_table(failed)
    return summary, metrics, out


def claims(metrics, where=None, kind=None, contains=""):
    """The theory claims of a run, filtered by case, kind and a piece of the claim's text."""
    out = [theory.from_dict(d) for d in metrics["theory"]]
    return [c for c in out if (where is None or c.where == where) and (kind is None or c.kind == kind)
            and contains in c.claim]


# --- the claims ---------------------------------------------------------------

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
        assert cell["median_steps"] == (float(r.tol_step[0]) if r.tol_step[0] >= 0 else None), cell


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
