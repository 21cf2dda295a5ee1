"""The theory studies ``convergence_rates`` and ``heavy_ball_cycle``: every claim holds in quick
mode, the claims are what metrics.json keeps, and what the claims rest on is checked on its own.

* the formulas against the iteration matrices built here from torch's update rules (eigenvalues
  by numpy), not against the study's functions;
* the derived cycle against the heavy-ball map written out here from the paper's f';
* the engine against torch.optim itself: offline against ``tests/theory_reference/theory_studies.npz``
  (written by ``tests/theory_reference/generate.py`` with torch 2.13 and torch autograd of the
  paper's function), and live (``-m parity``) against a fresh torch run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import optlab
import optlab.studies
from optlab.errors import OptlabError
from optlab.runner import run

from conftest import load_module

REF = Path(__file__).resolve().parent / "theory_reference"
theory_reference = load_module(REF / "generate.py", "theory_reference_generate")

REFERENCE = np.load(REF / "theory_studies.npz")
# the study registry loads itself only while it is empty: fill it before a test imports one study module
optlab.studies.names()


def quick(name, tmp_path):
    from conftest import quick_study
    summary, metrics, out = quick_study(name, tmp_path, theory=True)
    for r in metrics["theory"]:
        assert set(r) >= {"claim", "formula", "predicted", "measured", "tolerance", "kind", "source", "where"}
    assert optlab.studies.get(name).theory
    return summary, metrics, out


# --- the formulas, from the update rules -------------------------------------------------------

def _radius(matrix) -> float:
    return float(max(abs(np.linalg.eigvals(matrix))))


def _iteration_matrix(method, h, beta):
    """One step of torch's SGD on f = x^2/2 (curvature 1, lr h) as a linear map of the state
    (x, lr * buffer), built by stepping each basis state with torch's update rule (after step 1)."""
    cols = []
    for x, c in ((1.0, 0.0), (0.0, 1.0)):
        g = x                                   # gradient of x^2/2
        if method == "gd":
            cols.append((x - h * g, 0.0))
            continue
        c_new = beta * c + h * g                # lr * (beta b + g)
        step = h * g + beta * c_new if method == "nesterov" else c_new
        cols.append((x - step, c_new))
    return np.array(cols).T


@pytest.mark.parametrize("method,beta", [("gd", 0.0), ("momentum", 0.3), ("momentum", 0.9), ("nesterov", 0.1),
                                         ("nesterov", 0.5), ("nesterov", 0.95)])
def test_stability_edges_from_torchs_update(method, beta):
    from optlab.studies.convergence_rates import edge
    e = edge(method, beta)
    assert _radius(_iteration_matrix(method, 0.999 * e, beta)) < 1.0
    assert _radius(_iteration_matrix(method, 1.001 * e, beta)) > 1.0
    # and stable all the way down from the edge (no other window of instability)
    assert all(_radius(_iteration_matrix(method, h, beta)) < 1.0 for h in np.linspace(0.01, 0.999 * e, 200))


@pytest.mark.parametrize("kappa", [2.0, 10.0, 100.0, 1000.0])
def test_rates_are_the_spectral_radii(kappa):
    from optlab.studies.convergence_rates import gd_rate, heavy_ball_rate
    from optlab.studies.momentum import polyak_optimum
    L, mu = 1.0, 1.0 / kappa
    gd = max(_radius(_iteration_matrix("gd", 2.0 / (L + mu) * lam, 0.0)) for lam in (mu, L))
    assert gd == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-12) and gd_rate(kappa) == pytest.approx(gd)
    beta, lr, _ = polyak_optimum(L, mu)
    hb = max(_radius(_iteration_matrix("momentum", lr * lam, beta)) for lam in (mu, L))
    s = math.sqrt(kappa)
    assert hb == pytest.approx((s - 1) / (s + 1), rel=1e-6)   # a double root: eigvals is accurate to ~sqrt(eps)
    assert heavy_ball_rate(kappa) == pytest.approx((s - 1) / (s + 1), rel=1e-12)


def test_rate_fit_sees_through_the_defective_term():
    from optlab.studies.convergence_rates import fit_rate
    t = np.arange(400)
    r = 0.5
    dist = (1.0 + 3.0 * t) * r ** t
    assert fit_rate(t, dist, 1e-3, 1e-60, power=1)[0] == pytest.approx(r, rel=1e-3)
    assert fit_rate(t, dist, 1e-3, 1e-60, power=0)[0] > r * 1.01        # the plain fit is biased upwards
    assert math.isnan(fit_rate(t[:3], dist[:3], 1e-3, 1e-60)[0])


# --- the cycle, from the paper's f' ---------------------------------------------------------------

def _paper_grad(x):
    return 25 * x if x < 1 else (x + 24 if x < 2 else 25 * x - 24)


def _heavy_ball(x_prev, x, n, alpha=1 / 9, beta=4 / 9):
    out = []
    for _ in range(n):
        x_prev, x = x, x - alpha * _paper_grad(x) + beta * (x - x_prev)
        out.append(x)
    return out


def test_the_derived_cycle_is_a_cycle_of_the_papers_iteration():
    from optlab.studies.heavy_ball_cycle import period_cycles
    cycles = period_cycles(1 / 9, 4 / 9, 1.0, 25.0, 3)
    attracting = [c for c in cycles if c["radius"] < 1]
    assert len(cycles) == 2 and len(attracting) == 1
    y = attracting[0]["points"]
    again = _heavy_ball(y[2], y[0], 3)                               # three steps bring it back
    assert np.max(np.abs(np.array(again) - np.roll(y, -1))) < 1e-13
    assert np.max(np.abs(np.sort(y) - np.sort(np.array([792, -2208, 2592]) / 1225))) < 1e-14
    # the other one is a cycle too, but a repelling one: a 1e-9 nudge grows
    (rep,) = [c for c in cycles if c["radius"] > 1]
    z = rep["points"]
    assert np.max(np.abs(np.array(_heavy_ball(z[2], z[0], 3)) - np.roll(z, -1))) < 1e-12
    drift = _heavy_ball(z[2], z[0] + 1e-9, 60)
    assert np.min(np.abs(drift[-1] - z)) > 1e-6


def test_piecewise_quadratic_is_the_papers_function():
    spec = optlab.objectives.get("piecewise_quadratic")
    xs = np.array([-3.0, -0.2, 0.5, 0.999, 1.0, 1.5, 1.999, 2.0, 2.5, 3.3])
    paper = np.where(xs < 1, 12.5 * xs ** 2,
                     np.where(xs < 2, 0.5 * xs ** 2 + 24 * xs - 12, 12.5 * xs ** 2 - 24 * xs + 36))
    assert np.allclose(spec.value(xs[:, None]), paper, rtol=1e-15, atol=1e-13)
    assert np.allclose(spec.grad(xs[:, None])[:, 0], [_paper_grad(v) for v in xs], rtol=1e-15, atol=1e-13)
    assert spec.hess(xs[:, None])[:, 0, 0].tolist() == [25, 25, 25, 25, 1, 1, 1, 25, 25, 25]
    for k in (1.0, 2.0):                                              # f and f' continuous at the kinks
        lo, hi = np.array([[k - 1e-12]]), np.array([[k]])
        assert abs(spec.value(lo)[0] - spec.value(hi)[0]) < 1e-9 and abs(spec.grad(lo)[0] - spec.grad(hi)[0]) < 1e-9
    (x_star, f_star), = spec.global_minima()
    assert x_star.tolist() == [0.0] and f_star == 0.0 and spec.grad(x_star).tolist() == [0.0]
    for opts, msg in (({"mu": 0.0}, "Invalid mu"), ({"mu": 5.0, "L": 2.0}, "Invalid L")):
        with pytest.raises(OptlabError) as err:
            spec.value(np.array([[0.5]]), **opts)
        assert msg in str(err.value) and "\n" not in str(err.value)


# --- the engine against torch.optim ---------------------------------------------------------------

def _engine_cycle_runs():
    x0, steps = theory_reference.CYCLE_X0, theory_reference.CYCLE_STEPS
    runs = {"cycle_x": ("momentum", dict(lr=1 / 9, momentum=4 / 9)),
            "nesterov_x": ("nesterov", dict(lr=1 / 25, momentum=2 / 3)),
            "gd_x": ("gd", dict(lr=2 / 26))}
    return {k: optlab.simulate(opt, "piecewise_quadratic", x0=[[x0]], steps=steps, **kw).x[0, :, 0]
            for k, (opt, kw) in runs.items()}


def _engine_edges(ref):
    conv = []
    for method, beta, lr in zip(ref["edge_method"], ref["edge_beta"], ref["edge_lr"]):
        kw = dict(lr=float(lr)) if method == "gd" else dict(lr=float(lr), momentum=float(beta))
        steps = theory_reference.EDGE_STEPS
        res = optlab.simulate(str(method), "quadratic", x0=[1.0, 1.0], steps=steps, record_every=steps // 2,
                              objective_options={"cond": theory_reference.EDGE_KAPPA,
                                                 "angle": theory_reference.EDGE_ANGLE}, **kw)
        loss = res.loss[0]
        conv.append(bool(res.diverged_step[0] < 0 and np.all(np.isfinite(loss)) and loss[2] <= loss[1]))
    return np.array(conv)


def test_engine_matches_torch_reference():
    for key, x in _engine_cycle_runs().items():
        assert np.max(np.abs(x - REFERENCE[key])) <= 1e-12, key
    # torch's heavy ball ends on the derived cycle; its GD and Nesterov head for 0
    assert np.max(np.abs(np.sort(REFERENCE["cycle_x"][-3:]) - np.array([-2208, 792, 2592]) / 1225)) < 1e-12
    assert abs(REFERENCE["nesterov_x"][-1]) < 1e-12 and abs(REFERENCE["gd_x"][-1]) < 1e-9
    # just below each edge torch converges and just above it does not; the engine agrees run by run
    factor = REFERENCE["edge_lr"] / np.array([theory_reference.edge_formula(m, b)
                                              for m, b in zip(REFERENCE["edge_method"], REFERENCE["edge_beta"])])
    assert np.array_equal(REFERENCE["edge_converging"], factor < 1.0)
    assert np.array_equal(_engine_edges(REFERENCE), REFERENCE["edge_converging"])


@pytest.mark.parity
@pytest.mark.slow
def test_torch_reference_is_current():
    pytest.importorskip("torch")
    live = {**theory_reference.cycle_runs(), **theory_reference.edge_runs()}
    for key in ("cycle_x", "nesterov_x", "gd_x"):
        assert np.max(np.abs(live[key] - REFERENCE[key])) <= 1e-13, key
    for key in ("edge_method", "edge_beta", "edge_lr", "edge_converging"):
        assert np.array_equal(live[key], REFERENCE[key]), key


# --- the studies, quick ---------------------------------------------------------------------------

def test_convergence_rates_quick(tmp_path):
    from optlab.studies.convergence_rates import QUICK
    summary, metrics, out = quick("convergence_rates", tmp_path)
    spec = optlab.objectives.get("quadratic")
    rows = {(round(r["kappa"]), r["method"]): r for r in metrics["rates"]}
    assert len(rows) == 2 * len(QUICK["kappas"])
    for kappa in QUICK["kappas"]:
        lam = np.linalg.eigvalsh(spec.hess(np.zeros(2), cond=kappa, angle=30.0))
        k = lam[-1] / lam[0]
        gd, hb = rows[(round(kappa), "gd")], rows[(round(kappa), "momentum")]
        assert gd["lr"] == pytest.approx(2 / (lam[0] + lam[-1]))
        assert gd["measured"] == pytest.approx((k - 1) / (k + 1), rel=0.01)
        assert hb["measured"] == pytest.approx((math.sqrt(k) - 1) / (math.sqrt(k) + 1), rel=0.01)
    # a claim per rate, an edge claim per (method, beta, kappa) and a sharpness claim per (method, kappa)
    n_edge = len(QUICK["edge_kappas"]) * (1 + 2 * len(QUICK["momenta"]) + 3)
    assert len(metrics["theory"]) == 2 * len(QUICK["kappas"]) + n_edge
    for r in metrics["edges"]:
        step = r["grid_step"]
        formula = {"gd": 2.0, "momentum": 2 * (1 + r["momentum"]),
                   "nesterov": (2 + 2 * r["momentum"]) / (1 + 2 * r["momentum"])}[r["method"]]
        assert r["last_converging"] < formula + step and r["first_failing"] > formula - step, r
    with np.load(out / "convergence_rates.npz") as z:
        assert "edges__lr_times_L" in z and any(k.endswith("__dist") for k in z)
    assert "claims hold" in summary["table"]


def test_heavy_ball_cycle_quick(tmp_path):
    _, metrics, out = quick("heavy_ball_cycle", tmp_path)
    assert metrics["measured_period"] == 3
    with np.load(out / "heavy_ball_cycle.npz") as z:
        x = z["run0__momentum__x"]
    # the run's last points are a 3-cycle of the paper's iteration, written out here
    again = _heavy_ball(x[0, -2], x[0, -1], 3)
    assert np.max(np.abs(np.array(again) - x[0, -3:])) < 1e-12
    assert sorted(metrics["measured_points"]) == sorted(x[0, -3:].tolist())
    assert metrics["share_on_cycle"] == 1.0
    by_label = {r["label"]: r for r in metrics["runs"]}
    assert sum("heavy ball" in k for k in by_label) == 1 and sum(k.startswith("GD") for k in by_label) == 2
    for label, r in by_label.items():
        if not label.startswith("heavy ball"):
            assert r["max_final_gap"] <= metrics["tol"], label
    assert abs(x[1, -1]) < 1e-6                                        # from local_x0 heavy ball converges
    assert np.isclose(np.max(np.abs(x[0, -3:])), 2592 / 1225, atol=1e-9)


@pytest.mark.parametrize("study,extra,message", [
    ("convergence_rates", {"kappas": [1.0, 10.0]}, "condition numbers > 1"),
    ("convergence_rates", {"lr_span": [1.5, 4.5]}, "must contain every edge"),
    ("convergence_rates", {"momenta": [0.5, 1.0]}, "every beta must be in (0, 1)"),
    ("convergence_rates", {"kappas": [1e7]}, "study.max_steps"),
    ("heavy_ball_cycle", {"x0": [3.3, 1.0]}, "one-dimensional"),
    ("heavy_ball_cycle", {"scan": [4.0, 2.5, 10]}, "Invalid study.scan"),
    ("heavy_ball_cycle", {"steps": 10}, "Invalid study.steps"),
])
def test_bad_input_is_one_clear_line(tmp_path, study, extra, message):
    with pytest.raises(OptlabError) as err:
        run({"study": {"name": study, "quick": True, **extra}}, tmp_path / "bad")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "bad").exists()
