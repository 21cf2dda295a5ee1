"""track=("sharpness", "preconditioned_sharpness"): curvature along the trajectories."""
import math

import numpy as np
import pytest

import optlab
from optlab import objectives, simulate
from optlab.errors import OptlabError


def _random_points(spec, dim, n, seed):
    box = spec.bounds(dim)
    return np.random.default_rng(seed).uniform(box[:, 0], box[:, 1], size=(n, dim))


#: the default run's objectives (2-D closed form, N-D eigvalsh, finite sums); every other one: -m slow
SHARPNESS_CORE = ("rosenbrock", "quadratic", "himmelblau", "saddle", "logistic_regression", "mlp")


@pytest.mark.parametrize("name", [n if n in SHARPNESS_CORE else pytest.param(n, marks=pytest.mark.slow)
                                  for n in objectives.names()])
def test_sharpness_is_the_extreme_eigenvalues_of_the_hessian(name):
    """For every objective, at random points: the closed form (2-D) or eigvalsh (above) of the
    symmetrised analytic Hessian, against numpy's eigvalsh one point at a time."""
    from optlab.engine.track import sharpness
    spec = objectives.get(name)
    dim = spec.default_dim()
    x = _random_points(spec, dim, 12, seed=3).reshape(3, 4, dim)
    top, low = sharpness(spec, x, {})
    for i in range(3):
        for r in range(4):
            h = np.asarray(spec.hess(x[i, r]), dtype=float)
            lam = np.linalg.eigvalsh(0.5 * (h + h.T))
            assert top[i, r] == pytest.approx(lam[-1], rel=1e-10, abs=1e-10)
            assert low[i, r] == pytest.approx(lam[0], rel=1e-10, abs=1e-10)


def test_hessian_kernels_match_finite_differences_of_the_gradient():
    """The Hessians the eigenvalues come from, against central differences of the gradient kernel
    (independent of the Hessian kernels), for a few objectives of each kind."""
    for name in ("rosenbrock", "beale", "quadratic", "logistic_regression", "mlp", "rastrigin"):
        spec = objectives.get(name)
        dim = spec.default_dim()
        x = _random_points(spec, dim, 1, seed=5)[0] * 0.5
        h = np.asarray(spec.hess(x), dtype=float)
        eps = 1e-6
        fd = np.empty((dim, dim))
        for k in range(dim):
            e = np.zeros(dim)
            e[k] = eps
            fd[:, k] = (spec.grad(x + e) - spec.grad(x - e)) / (2 * eps)
        np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(h).max()))


def test_known_values_quadratic_spectrum_and_rosenbrock_minimum():
    res = simulate("sgd", "quadratic", x0=[[1.0, -1.0], [0.3, 0.2]], steps=10, lr=0.1, track=["sharpness"],
                   objective_options={"cond": 50.0, "lmax": 4.0, "angle": 30.0})
    np.testing.assert_allclose(res.sharpness, 4.0, rtol=1e-12)
    np.testing.assert_allclose(res.hess_min, 4.0 / 50.0, rtol=1e-12)
    at_min = simulate("sgd", "rosenbrock", x0=[[1.0, 1.0]], steps=3, lr=1e-3, track=["sharpness"])
    # Rosenbrock's Hessian at (1, 1) is [[802, -400], [-400, 200]]: 501 +- sqrt(301^2 + 400^2)
    assert at_min.sharpness[0, 0] == pytest.approx(501 + math.hypot(301, 400), rel=1e-14)
    assert at_min.sharpness[0, 0] == pytest.approx(1001.6, abs=0.01)


def test_sharpness_shape_nan_after_divergence_and_npz_round_trip(tmp_path):
    res = simulate("sgd", "rosenbrock", x0=[[-1.5, 2.0], [0.5, 0.5]], steps=60, record_every=5, lr=[0.01, 1e-4],
                   track="sharpness")
    assert res.sharpness.shape == res.loss.shape == res.hess_min.shape
    div = res.diverged_step[0]
    assert div > 0 and np.isnan(res.sharpness[0, div // 5 + 1:]).all() and np.isfinite(res.sharpness[1]).all()
    back = optlab.Result.load_npz(res.save_npz(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.sharpness, res.sharpness)
    assert back.options["track"] == ["sharpness"]


def test_preconditioned_sharpness_against_an_adam_replay():
    """P = (1 - b1^t) diag(sqrt(v / (1 - b2^t)) + eps) from a plain numpy Adam run (its own v),
    then the largest eigenvalue of P^-1 H, against the engine's."""
    from tests.naive_optimizers import adam as naive_adam
    spec = objectives.get("rosenbrock")
    x0 = np.array([-1.2, 1.0])
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-8
    res = simulate("adam", "rosenbrock", x0=x0[None], steps=40, record_every=4, lr=lr, betas=(b1, b2), eps=eps,
                   track=["preconditioned_sharpness"])
    assert "exp_avg_sq" not in res.extra and np.isnan(res.preconditioned_sharpness[0, 0])
    xs = naive_adam(spec.grad, x0, 40, lr=lr, betas=(b1, b2), eps=eps)["x"]
    v = np.zeros(2)
    for t in range(1, 41):
        g = spec.grad(xs[t - 1])
        v = b2 * v + (1 - b2) * g * g
        if t % 4 == 0:
            p = (1 - b1 ** t) * (np.sqrt(v / (1 - b2 ** t)) + eps)
            want = np.linalg.eigvals(np.diag(1 / p) @ spec.hess(xs[t])).real.max()
            assert res.preconditioned_sharpness[0, t // 4] == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("track, optimizer, msg", [
    (["curvature"], "sgd", "Invalid track entry 'curvature' (allowed: sharpness, preconditioned_sharpness)"),
    (3, "sgd", "Invalid track: 3"),
    (["preconditioned_sharpness"], "sgd", "track 'preconditioned_sharpness' is defined for Adam's preconditioner"),
])
def test_bad_track_one_line(track, optimizer, msg):
    with pytest.raises(OptlabError) as e:
        simulate(optimizer, "rosenbrock", steps=3, track=track)
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)
