"""The objective library: derivatives, minima, stationary points, finite sums.

Every registered objective's gradient and Hessian against central finite
differences at seeded random points of its domain; every global minimum
against published values (the SFU Virtual Library of Simulation
Experiments by Surjanovic & Bingham, and scipy's global-optimization
benchmark set, cross-checked with a float64 solve of grad f = 0); every
stored stationary point re-checked (gradient, Hessian signature); the solver
against functions of known structure; finite-sum problems against numpy on
the full data and, through the engine, minibatch by minibatch.
"""
import json
import math
import zlib

import numpy as np
import pytest

import optlab
from optlab import objectives as O
from optlab.analysis.stationary import TABLE, count_kinds, find_stationary_points, two_d_objectives
from optlab.errors import OptlabError
from optlab.objectives import _data, _sampling
from optlab.objectives._sampling import batch_indices_np, epoch_key_np, permutation_bits, permute_np

ALL = O.names()
FINITE = [n for n in ALL if "batch_size" in O.get(n).options]
NEW = ["rastrigin", "ackley", "booth", "goldstein_price", "six_hump_camel", "three_hump_camel", "matyas",
       "mccormick", "levy13", "styblinski_tang", "easom", "cross_in_tray", "eggholder", "holder_table",
       "bukin6", "sphere", "griewank", "saddle", "monkey_saddle", "plateau_cliff", "narrow_valley",
       "linear_regression", "logistic_regression", "mlp", "sparse_linear"]


def _full(spec):
    """Options giving the deterministic full-data gradient."""
    return {"batch_size": 0} if "batch_size" in spec.options else {}


def test_registry_holds_the_library():
    assert set(NEW) <= set(ALL)
    for name in ALL:
        spec = O.get(name)
        assert spec.formula and spec.source, name
        if spec.default_dim() == 2:
            assert len(spec.starts) >= 3, name


# --- derivatives -----------------------------------------------------------------------

def _smooth(name, X):
    """Points at least a little away from the creases of the non-smooth objectives."""
    x, y = X[:, 0], X[:, 1] if X.shape[1] > 1 else None
    if name == "bukin6":
        return (np.abs(y - 0.01 * x * x) > 1e-2) & (np.abs(x + 10.0) > 1e-2)
    if name == "eggholder":
        return (np.abs(x / 2 + y + 47.0) > 1.0) & (np.abs(x - y - 47.0) > 1.0)
    if name == "cross_in_tray":
        return np.abs(np.sin(x) * np.sin(y)) > 1e-2
    if name == "holder_table":
        return (np.abs(np.sin(x) * np.cos(y)) > 1e-2) & (np.abs(np.hypot(x, y) - np.pi) > 1e-2)
    if name == "ackley":
        return np.linalg.norm(X, axis=1) > 1e-2
    return np.ones(len(X), dtype=bool)


def _fd(fn, X, h):
    """Central differences of fn (points -> values (P,) or (P, D)) along every axis."""
    P, D = X.shape
    E = np.eye(D)[None, :, :] * h[:, :, None]  # (P, D, D)
    plus = fn((X[:, None, :] + E).reshape(-1, D))
    minus = fn((X[:, None, :] - E).reshape(-1, D))
    diff = (plus - minus).reshape((P, D) + plus.shape[1:])
    return diff / (2.0 * h.reshape((P, D) + (1,) * (plus.ndim - 1)))


@pytest.mark.parametrize("name", ALL)
def test_gradient_and_hessian_match_finite_differences(name):
    spec = O.get(name)
    opts = _full(spec)
    dim = spec.default_dim()
    box = spec.bounds(dim)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    X = rng.uniform(box[:, 0], box[:, 1], size=(60, dim))
    X = X[_smooth(name, X)][:30]
    assert len(X) >= 20
    f = spec.value(X, **opts)
    g = spec.grad(X, **opts)
    H = spec.hess(X, **opts)
    h = 1e-6 * np.maximum(1.0, np.abs(X))
    g_fd = _fd(lambda P: spec.value(P, **opts), X, h)
    H_fd = _fd(lambda P: spec.grad(P, **opts), X, h)  # H_fd[p, i, :] = d grad / d x_i
    # error scale of a central difference: rounding eps |f| / h plus the size of what is measured
    g_scale = np.abs(g) + 1e-6 * np.abs(f)[:, None] / h + 1e-8
    assert np.max(np.abs(g - g_fd) / g_scale) < 1e-5
    h_scale = np.abs(H) + 1e-6 * np.abs(g)[:, :, None] / h[:, :, None] + 1e-6
    assert np.max(np.abs(H - H_fd) / h_scale) < 1e-5
    assert np.allclose(H, np.swapaxes(H, 1, 2), rtol=1e-12, atol=1e-12 * np.abs(H).max())


# --- global minima against the reference table ----------------------------------------

PI = math.pi
REFERENCE = {  # published global minima (see the module docstring), at the precision they are printed
    "rosenbrock": [((1.0, 1.0), 0.0)],
    "rastrigin": [((0.0, 0.0), 0.0)],
    "ackley": [((0.0, 0.0), 0.0)],
    "beale": [((3.0, 0.5), 0.0)],
    "booth": [((1.0, 3.0), 0.0)],
    "himmelblau": [((3.0, 2.0), 0.0), ((-2.8051181, 3.1313125), 0.0), ((-3.7793103, -3.2831860), 0.0),
                   ((3.5844283, -1.8481265), 0.0)],
    "goldstein_price": [((0.0, -1.0), 3.0)],
    "six_hump_camel": [((0.0898420, -0.7126564), -1.0316284535), ((-0.0898420, 0.7126564), -1.0316284535)],
    "three_hump_camel": [((0.0, 0.0), 0.0)],
    "matyas": [((0.0, 0.0), 0.0)],
    "mccormick": [((-0.5471976, -1.5471976), -1.9132229550)],
    "levy13": [((1.0, 1.0), 0.0)],
    "styblinski_tang": [((-2.903534, -2.903534), -78.332331)],
    "easom": [((PI, PI), -1.0)],
    "cross_in_tray": [((a, b), -2.0626118708) for a in (1.3494066, -1.3494066) for b in (1.3494066, -1.3494066)],
    "eggholder": [((512.0, 404.2318050), -959.6406627)],
    "holder_table": [((a, b), -19.2085025679) for a in (8.0550235, -8.0550235) for b in (9.6645900, -9.6645900)],
    "bukin6": [((-10.0, 1.0), 0.0)],
    "sphere": [((0.0, 0.0), 0.0)],
    "griewank": [((0.0, 0.0), 0.0)],
}


def _digits(v):
    """Absolute tolerance of a printed value: half a unit in its last printed place, at least 1e-12."""
    s = repr(float(v))
    return max(1e-12, 0.5 * 10.0 ** -len(s.split(".")[1])) if "." in s and "e" not in s else 1e-12


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_global_minima_match_reference(name):
    spec = O.get(name)
    mins = spec.global_minima(2)
    ref = REFERENCE[name]
    assert len(mins) == len(ref)
    for x_ref, f_ref in ref:
        d = [np.max(np.abs(x - np.asarray(x_ref))) for x, _ in mins]
        k = int(np.argmin(d))
        x, f = mins[k]
        assert d[k] <= 1e-6, (x, x_ref)
        assert abs(f - f_ref) <= max(_digits(f_ref), 1e-12 * abs(f_ref)), (f, f_ref)
        # the listed value is the kernel's value there, and the point is refined
        assert abs(spec.value(x) - f) <= 1e-12 * (1.0 + abs(f))
        g = spec.grad(x)
        if name == "eggholder":  # the minimum of the box sits on its edge x = 512
            assert abs(g[1]) < 1e-9 and g[0] < 0.0
        else:
            assert np.max(np.abs(g)) < 1e-9, g
    # no stored stationary point lies below the global minimum (every objective here has a table)
    assert spec.stationary_points
    assert min(p.value for p in spec.stationary_points) >= min(f for _, f in mins) - 1e-12


@pytest.mark.parametrize("name,dim", [("rosenbrock", 5), ("rastrigin", 7), ("ackley", 3), ("sphere", 4),
                                      ("griewank", 6), ("styblinski_tang", 5), ("plateau_cliff", 3)])
def test_nd_minima(name, dim):
    spec = O.get(name)
    (x, f), = spec.global_minima(dim)
    assert x.shape == (dim,)
    assert abs(spec.value(x) - f) <= 1e-12 * (1 + abs(f))
    assert np.max(np.abs(spec.grad(x))) < 1e-9
    assert np.all(np.linalg.eigvalsh(spec.hess(x)) > 0)
    if name == "styblinski_tang":
        assert f == pytest.approx(-39.16617 * dim, abs=1e-5 * dim)


def test_finite_sum_minima_are_stationary():
    for name in ("linear_regression", "logistic_regression", "sparse_linear"):
        spec = O.get(name)
        dim = spec.default_dim()
        (x, f), = spec.global_minima(dim)
        assert abs(spec.value(x, batch_size=0) - f) <= 1e-12 * (1 + abs(f))
        assert np.max(np.abs(spec.grad(x, batch_size=0))) < 1e-9
    assert O.get("mlp").global_minima(33) == []
    # separable data without l2: no minimiser, and the spec says so
    assert O.get("logistic_regression").global_minima(2, noise=0.0) == []


# --- stationary points ------------------------------------------------------------------

with open(TABLE) as fh:
    STORED = json.load(fh)["objectives"]

PINNED = {  # counts (minima, saddles, maxima) in each objective's stationary_box, default options
    "ackley": (25, 40, 16), "beale": (1, 2, 0), "booth": (1, 0, 0), "bukin6": (1, 0, 0),
    "cross_in_tray": (36, 0, 0), "easom": (5, 4, 4), "eggholder": (15, 31, 15),
    "goldstein_price": (4, 4, 1), "griewank": (17, 24, 18), "himmelblau": (4, 4, 1),
    "holder_table": (42, 42, 0), "levy13": (41, 64, 24), "linear_regression": (1, 0, 0),
    "logistic_regression": (1, 0, 0), "matyas": (1, 0, 0), "mccormick": (2, 1, 0),
    "monkey_saddle": (0, 1, 0), "narrow_valley": (1, 0, 0), "plateau_cliff": (1, 0, 0),
    "quadratic": (1, 0, 0), "rastrigin": (25, 40, 16), "rosenbrock": (1, 0, 0), "saddle": (0, 1, 0),
    "six_hump_camel": (6, 7, 2), "sphere": (1, 0, 0), "styblinski_tang": (4, 4, 1),
    "three_hump_camel": (3, 2, 0),
}
TWO_D = sorted(s.name for s in two_d_objectives())


def test_table_covers_every_2d_objective():
    assert sorted(STORED) == TWO_D == sorted(PINNED)


def _sampled_kind(spec, x, size, opts):
    """Independent check of a degenerate point: f on two small circles around it."""
    t = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    u = np.stack([np.cos(t), np.sin(t)], 1)
    f0 = spec.value(x, **opts)
    d = spec.value(np.concatenate([x + r * size * u for r in (3e-4, 3e-3)]), **opts) - f0
    tol = 1e-13 * max(1.0, abs(f0))
    above, below = np.any(d > tol), np.any(d < -tol)
    return "saddle" if above and below else ("maximum" if below else "minimum")


@pytest.mark.parametrize("name", TWO_D)
def test_stored_stationary_points(name):
    spec = O.get(name)
    opts = _full(spec)
    pts = spec.stationary_points
    assert tuple(count_kinds(pts).values()) == PINNED[name]
    X = np.array([p.x for p in pts])
    box = spec.stationary_box
    size = float(np.max(box[:, 1] - box[:, 0]))
    assert np.all((X >= box[:, 0]) & (X <= box[:, 1]))
    assert np.max(np.abs(spec.grad(X, **opts))) < 1e-8
    assert np.allclose(spec.value(X, **opts), [p.value for p in pts], rtol=1e-12, atol=1e-12)
    if len(X) > 1:  # distinct points
        dist = np.max(np.abs(X[:, None, :] - X[None, :, :]), axis=2) + np.eye(len(X)) * size
        assert dist.min() > 1e-6 * size
    lam = np.linalg.eigvalsh(spec.hess(X, **opts))
    for p, ev in zip(pts, lam):
        if np.min(np.abs(ev)) > 1e-6 * max(1.0, np.max(np.abs(ev))):
            expect = "minimum" if np.all(ev > 0) else ("maximum" if np.all(ev < 0) else "saddle")
        else:
            expect = _sampled_kind(spec, np.asarray(p.x), size, opts)
        assert p.kind == expect, (p, ev)


@pytest.mark.parametrize("name,expected", [
    ("himmelblau", (4, 4, 1)), ("six_hump_camel", (6, 7, 2)), ("booth", (1, 0, 0)),
    ("monkey_saddle", (0, 1, 0)), ("saddle", (0, 1, 0)), ("styblinski_tang", (4, 4, 1)),
])
def test_solver_finds_known_structure(name, expected):
    pts = find_stationary_points(name, n_starts=400, include_known=False, seed=3)
    assert tuple(count_kinds(pts).values()) == expected
    stored = np.array([p.x for p in O.get(name).stationary_points])
    for p in pts:  # the same points as the table
        assert np.min(np.max(np.abs(stored - np.array(p.x)), axis=1)) < 1e-7


def test_monkey_saddle_is_degenerate_and_a_saddle():
    (p,) = O.get("monkey_saddle").stationary_points
    assert np.max(np.abs(p.x)) < 1e-9 and p.kind == "saddle"
    assert np.max(np.abs(O.get("monkey_saddle").hess(np.array(p.x)))) < 1e-8


def test_solver_rejects_bad_input():
    with pytest.raises(OptlabError, match="Invalid bounds"):
        find_stationary_points("booth", bounds=[[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(OptlabError, match="2-dimensional"):
        find_stationary_points("booth", bounds=[[0.0, 1.0]] * 3)


# --- behaviour the special objectives are built for ------------------------------------

def test_plateau_cliff_crawls_then_overshoots():
    spec = O.get("plateau_cliff")
    rng = np.random.default_rng(0)
    ang = rng.uniform(0, 2 * np.pi, 100)
    rad = rng.uniform(1.0, 3.0, 100)
    x = np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    first_big = np.full(100, -1)
    over = np.zeros(100, dtype=bool)
    for t in range(1500):
        step = 0.1 * spec.grad(x)
        xn = x - step
        big = np.linalg.norm(step, axis=1) > 0.5
        first_big[(first_big < 0) & big] = t
        over |= big & (np.einsum("ij,ij->i", x, xn) < 0) & (np.linalg.norm(xn, axis=1) > 0.5)
        x = xn
    jumped = first_big >= 0
    assert jumped.mean() > 0.3 and np.all(first_big[jumped] > 100)  # a long crawl, then a jump
    assert over.mean() > 0.3  # ... that throws many across the crater onto the far plateau
    assert np.all(spec.grad(np.array([[2.0, 1.0]])) < 0.06)


def test_narrow_valley_curvatures():
    spec = O.get("narrow_valley")
    assert np.allclose(np.linalg.eigvalsh(spec.hess([0.0, 0.0])), [1.0, 100.0])
    far = np.array([5.0 * math.cos(math.pi / 6), 5.0 * math.sin(math.pi / 6)])  # on the floor, u = 5
    g = spec.grad(far)
    assert np.linalg.norm(g) < 1.0 and np.linalg.norm(g) > 0.9


# --- finite sums: full data against numpy ----------------------------------------------

def _points(spec, dim, n=8, seed=0):
    box = spec.bounds(dim)
    return np.random.default_rng(seed).uniform(box[:, 0], box[:, 1], size=(n, dim))


def test_linear_regression_matches_numpy():
    spec = O.get("linear_regression")
    for dim, noise in ((2, 0.5), (4, 0.1)):
        X, y, w, b = _data.regression_data(256, dim - 1, noise, 0)
        Z = np.hstack([X, np.ones((256, 1))])
        P = _points(spec, dim)
        r = P @ Z.T - y
        assert np.allclose(spec.value(P, noise=noise), (r * r).mean(1), rtol=1e-12)
        assert np.allclose(spec.grad(P, noise=noise), 2 * r @ Z / 256, rtol=1e-11, atol=1e-12)
        assert np.allclose(spec.hess(P[0], noise=noise), 2 * Z.T @ Z / 256, rtol=1e-12)


def test_logistic_regression_matches_numpy():
    from optlab.objectives.regression import logistic_loss_np
    spec = O.get("logistic_regression")
    for dim, l2 in ((2, 0.0), (3, 0.05)):
        X, y, _, _ = _data.classification_data(256, dim - 1, 1.0, 0)
        for x in _points(spec, dim):
            loss, grad, hess = logistic_loss_np(x, X, y, l2)
            assert spec.value(x, l2=l2) == pytest.approx(loss, rel=1e-12)
            assert np.allclose(spec.grad(x, l2=l2), grad, rtol=1e-11, atol=1e-13)
            assert np.allclose(spec.hess(x, l2=l2), hess, rtol=1e-11, atol=1e-13)
            # the vectorised full-loss pass (minibatch runs) gives the same full loss
            assert spec.value(x, l2=l2, batch_size=16) == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("loss_name", ["bce", "mse"])
def test_mlp_matches_numpy(loss_name):
    from optlab.objectives.mlp import mlp_loss_np
    spec = O.get("mlp")
    X, y = _data.moons_data(256, 0.1, 0)
    for dim, l2 in ((33, 0.0), (9, 1e-3)):
        opts = dict(l2=l2, loss=loss_name)
        for x in _points(spec, dim, n=4):
            loss, grad = mlp_loss_np(x, X, y, l2, loss=loss_name)
            assert spec.value(x, **opts) == pytest.approx(loss, rel=1e-12)
            assert np.allclose(spec.grad(x, **opts), grad, rtol=1e-10, atol=1e-13)
            assert spec.value(x, batch_size=32, **opts) == pytest.approx(loss, rel=1e-12)


def test_mlp_mse_is_torch_mse_loss_and_its_hessian_matches_finite_differences():
    """loss: mse is mean (o - y)^2 (torch.nn.MSELoss, written out here in numpy); the Hessian kernel's mse
    branch against central differences of the gradient kernel, with the full batch and with l2."""
    spec = O.get("mlp")
    X, y = _data.moons_data(64, 0.1, 0)
    rng = np.random.default_rng(11)
    for l2 in (0.0, 1e-2):
        opts = dict(loss="mse", n_samples=64, l2=l2)
        x = rng.uniform(-1.0, 1.0, 33)
        W, b, v, c = x[:16].reshape(8, 2), x[16:24], x[24:32], x[32]
        out = np.tanh(X @ W.T + b) @ v + c
        assert spec.value(x, **opts) == pytest.approx(np.mean((out - y) ** 2) + 0.5 * l2 * x @ x, rel=1e-13)
        H = spec.hess(x, **opts)
        eps = 1e-6
        fd = np.stack([(spec.grad(x + eps * e, **opts) - spec.grad(x - eps * e, **opts)) / (2 * eps)
                       for e in np.eye(33)], axis=1)
        np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-7 * np.abs(H).max())
        np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-14 * np.abs(H).max())
    with pytest.raises(OptlabError) as err:
        spec.value(np.zeros(33), loss="l1")
    assert str(err.value) == "Invalid loss for objective 'mlp': 'l1' (must be 'bce' or 'mse')"


def test_minimalist_eos_minima_curves_and_the_gd_imbalance_law():
    """(x^2 y^2 - 1)^2/4: on the hyperbolas xy = +-1 the gradient and f vanish and the Hessian's
    eigenvalues are 0 and 2(x^2 + y^2); the axes are stationary with f = 1/4; no stationary table
    (the points are not isolated). One GD step multiplies x^2 - y^2 by 1 - lr^2 r^2 x^2 y^2, r = x^2 y^2 - 1
    (the engine's step against that closed form)."""
    from optlab.analysis.stationary import two_d_objectives
    from optlab.objectives.minimalist_eos import minimum_sharpness
    spec = O.get("minimalist_eos")
    rng = np.random.default_rng(7)
    a = rng.uniform(0.3, 3.0, 20)
    sign = rng.choice([-1.0, 1.0], 20)
    P = np.stack([a * sign, 1.0 / a * rng.choice([-1.0, 1.0], 20)], axis=1)   # x y = +-1
    assert np.max(np.abs(spec.value(P))) <= 1e-28
    assert np.max(np.abs(spec.grad(P))) <= 1e-14
    lam = np.linalg.eigvalsh(spec.hess(P))
    assert np.max(np.abs(lam[:, 0])) <= 1e-12 * lam[:, 1].max()
    np.testing.assert_allclose(lam[:, 1], 2.0 * (P ** 2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(lam[:, 1], minimum_sharpness(P[:, 0], P[:, 1]), rtol=1e-12)
    axes = np.array([[0.0, 1.7], [-2.2, 0.0], [0.0, 0.0]])
    assert np.all(spec.value(axes) == 0.25) and np.all(spec.grad(axes) == 0.0)
    assert spec.stationary_note and spec.stationary_points == ()
    assert "minimalist_eos" not in {s.name for s in two_d_objectives()}
    assert spec.min_value(2) == 0.0 and min(minimum_sharpness(x, y) for (x, y), _ in spec.global_minima(2)) == 4.0
    X0 = rng.uniform(-2.0, 2.0, size=(12, 2))
    lr = 0.3
    res = optlab.simulate("gd", "minimalist_eos", x0=X0, steps=1, lr=lr)
    x, y = X0[:, 0], X0[:, 1]
    r = x * x * y * y - 1.0
    x1, y1 = res.x_final[:, 0], res.x_final[:, 1]
    np.testing.assert_allclose(x1 * x1 - y1 * y1, (x * x - y * y) * (1.0 - lr * lr * r * r * x * x * y * y),
                               rtol=1e-12, atol=1e-13)


def test_sparse_linear_matches_numpy():
    from optlab.objectives.sparse_linear import sparse_design
    spec = O.get("sparse_linear")
    A, y = sparse_design(64)
    assert np.all((A != 0).sum(1) == 3)
    counts = (A != 0).sum(0)
    assert counts[0] > 5 * counts[-8:].mean()  # Zipf: frequent head, rare tail
    P = _points(spec, 64)
    r = P @ A.T - y
    assert np.allclose(spec.value(P), (r * r).mean(1), rtol=1e-12)
    assert np.allclose(spec.grad(P, batch_size=0), 2 * r @ A / len(y), rtol=1e-11, atol=1e-13)
    assert np.allclose(spec.hess(P[0]), 2 * A.T @ A / len(y), rtol=1e-12, atol=1e-15)


# --- minibatches ------------------------------------------------------------------------

@pytest.mark.parametrize("n,m", [(1, 1), (7, 3), (50, 8), (256, 32), (1000, 999), (300, 1)])
def test_each_sample_once_per_epoch(n, m):
    nb = -(-n // m)
    for epoch in (0, 3):
        idx = [batch_indices_np(11, np.arange(5), epoch * nb + b, n, m) for b in range(nb)]
        assert [a.shape[1] for a in idx] == [m] * (n // m) + ([n % m] if n % m else [])
        allidx = np.concatenate(idx, axis=1)
        assert np.all(np.sort(allidx, axis=1) == np.arange(n))


def test_permutation_twins_agree():
    from numba import njit

    @njit
    def perm_all(n, bits, key, out):
        for i in range(n):
            out[i] = _sampling.permute(i, n, bits, _sampling.epoch_key(key[0], key[1], key[2]))

    for n in (1, 2, 3, 100, 257, 4096, 5000):
        bits = permutation_bits(n)
        for key in ((0, 0, 0), (7, 123, 5)):
            out = np.empty(n, dtype=np.int64)
            perm_all(n, bits, np.array(key), out)
            k = _sampling.epoch_key(*key)
            assert k == int(epoch_key_np(*key))
            assert np.array_equal(out, permute_np(np.arange(n), n, np.uint64(k)))
            assert sorted(out) == list(range(n))
            if n <= 257:
                assert [_sampling.permute(i, n, bits, k) for i in range(n)] == list(out)
    # different keys, different orders
    a = permute_np(np.arange(100), 100, epoch_key_np(0, 0, 0))
    b = permute_np(np.arange(100), 100, epoch_key_np(0, 1, 0))
    c = permute_np(np.arange(100), 100, epoch_key_np(0, 0, 1))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def _sgd_grads(obj, x0, steps, lr, seed, **options):
    res = optlab.simulate("sgd", obj, x0=x0, steps=steps, lr=lr, seed=seed, objective_options=options)
    return res, (res.x[:, :-1] - res.x[:, 1:]) / lr


def test_engine_minibatch_gradients_match_numpy():
    """Through the engine: step t of trajectory i uses batch t of its shuffled epochs."""
    n, m, steps, lr, seed = 50, 8, 15, 1e-2, 5  # 7 batches per epoch, the last one of 2 samples
    X, y, _, _ = _data.regression_data(n, 1, 0.5, 0)
    Z = np.hstack([X, np.ones((n, 1))])
    x0 = np.tile([0.5, -1.0], (6, 1))  # identical starts: any difference comes from the batches
    res, g = _sgd_grads("linear_regression", x0, steps, lr, seed, n_samples=n, batch_size=m)
    for t in range(steps):
        idx = batch_indices_np(seed, np.arange(6), t, n, m)
        xt = res.x[:, t]
        r = np.einsum("ik,ibk->ib", xt, Z[idx]) - y[idx]
        ref = 2.0 * np.einsum("ib,ibk->ik", r, Z[idx]) / idx.shape[1]
        assert np.allclose(g[:, t], ref, rtol=1e-9, atol=1e-11)
        full = ((xt @ Z.T - y) ** 2).mean(1)  # the reported loss is the full-data loss
        assert np.allclose(res.loss[:, t], full, rtol=1e-12)
    assert not np.allclose(res.x[0, 1], res.x[1, 1])  # trajectories draw different batches
    # full_loss=False reports the minibatch's own loss
    res2, _ = _sgd_grads("linear_regression", x0[:2], 3, lr, seed, n_samples=n, batch_size=m, full_loss=False)
    idx = batch_indices_np(seed, np.arange(2), 0, n, m)
    r = np.einsum("ik,ibk->ib", x0[:2], Z[idx]) - y[idx]
    assert np.allclose(res2.loss[:, 0], (r * r).mean(1), rtol=1e-12)


def _tables_draw(ctx, n, ns, bits, epoch, cnt, out):
    sk = ctx[3:3 + n]
    si = ctx[3 + n:3 + 2 * n]
    ready, tab = _sampling.perm_tables(ctx, sk, 2, epoch, ns, bits, n)
    for r in range(cnt):
        if ready:
            _sampling.batch_positions_tab(si, tab, r, ns, bits, n)
        else:
            _sampling.batch_positions(si, sk, r, ns, bits, n)
        for j in range(n):
            out[r, j] = si[j]
    return ready


def _tables_draw4(ctx, n, ns, bits, epoch, cnt, out):
    """:func:`_tables_draw` four positions a call (``batch_positions_tab4``, the line fit's pass)."""
    sk = ctx[3:3 + n]
    si4 = np.zeros((4, n), np.int64)
    ready, tab = _sampling.perm_tables(ctx, sk, 2, epoch, ns, bits, n)
    r = 0
    while ready and r + 4 <= cnt:
        _sampling.batch_positions_tab4(si4, tab, r, ns, bits, n)
        for k in range(4):
            for j in range(n):
                out[r + k, j] = si4[k, j]
        r += 4
    return ready, r


@pytest.mark.parametrize("compiled", [
    pytest.param(False, id="python"),
    # slow: the two test kernels compile the table helpers in this process (about 25 s); the default
    # run's engine tests draw through the same helpers, compiled, against numpy's permutation
    pytest.param(True, id="compiled", marks=pytest.mark.slow)])
def test_permutation_tables_draw_the_feistel_samples(compiled):
    """The round tables of an epoch (perm_tables, kept in the block's ctx and rebuilt when its tag
    names another block or epoch) give permute's samples: compiled and in plain Python, one
    position a call and four, for sizes whose permutation cycle-walks, for every table width
    (1, 2 and 4 words a round), and past PERM_MAX_BITS (no tables: the keys' path)."""
    from numba import njit
    from optlab.engine import ops
    draw = njit(_tables_draw) if compiled else _tables_draw
    draw4 = njit(_tables_draw4) if compiled else _tables_draw4
    sizes = (1, 3, 17, 64, 100, 256, 257, 1000, 1024, 1025) if compiled else (1, 3, 17, 100, 256, 257, 1025)
    for ns in sizes:
        bits = permutation_bits(ns)
        for n in ((4, 37) if compiled else (4,)):
            ctx = np.zeros(ops.ctx_length(2, n), np.int64)
            ctx[0] = 12345
            for traj0, epoch in ((77, 0), (77, 3), (77, 3), (77 + n, 3), (77, 1)):
                ctx[2] = traj0
                want = permute_np(np.arange(ns)[:, None], ns, epoch_key_np(12345, traj0 + np.arange(n), epoch)[None, :])
                out = np.zeros((ns, n), np.int64)
                ready = draw(ctx, n, ns, bits, epoch, ns, out)
                assert ready == (bits <= _sampling.PERM_MAX_BITS), (ns, n)
                assert np.array_equal(out, want), (ns, n, traj0, epoch)
                out[:] = -1
                if not compiled:
                    ctx[3:] = 0  # no tables held: the four-a-call draw builds its own
                ready4, k = draw4(ctx, n, ns, bits, epoch, ns, out)
                assert ready4 == ready and k == (ns // 4 * 4 if ready else 0), (ns, n)
                assert np.array_equal(out[:k], want[:k]), ("four a call", ns, n, traj0, epoch)
    # a ctx without room for the tables takes the keys' path
    ctx = np.zeros(ops.CTX_HEAD + 6 * 8, np.int64)
    out = np.zeros((256, 8), np.int64)
    assert not draw(ctx, 8, 256, 8, 0, 256, out)
    assert np.array_equal(out, permute_np(np.arange(256)[:, None], 256, epoch_key_np(0, np.arange(8), 0)[None, :]))


def test_engine_minibatches_across_blocks_and_epochs_match_numpy():
    """Many blocks on two threads, several epochs: every trajectory's step t uses batch t of its own
    shuffled epochs (the tables of one block are never read by the next block of its thread)."""
    n, m, lr, seed = 64, 16, 1e-2, 3  # 4 batches per epoch
    X, y, _, _ = _data.regression_data(n, 1, 0.5, 0)
    Z = np.hstack([X, np.ones((n, 1))])
    N = 1100  # blocks of 256, chunks of two blocks: a block's ctx is the previous block's
    x0 = np.tile([0.5, -1.0], (N, 1))
    pick = np.array([0, 1, 255, 256, 257, 511, 512, 767, 768, 1023, 1024, 1099])
    # 3 steps: every block ends in the epoch the next one starts in; 11: three epochs
    for steps in (3, 11):
        res, g = _sgd_grads("linear_regression", x0, steps, lr, seed, n_samples=n, batch_size=m)
        for t in range(steps):
            idx = batch_indices_np(seed, pick, t, n, m)
            xt = res.x[pick, t]
            r = np.einsum("ik,ibk->ib", xt, Z[idx]) - y[idx]
            ref = 2.0 * np.einsum("ib,ibk->ik", r, Z[idx]) / m
            assert np.allclose(g[pick, t], ref, rtol=1e-9, atol=1e-11), (steps, t)


def test_minibatches_reproducible_and_seeded():
    import numba
    x0 = np.tile([1.0, -1.0, 0.5], (40, 1))
    kw = dict(steps=20, lr=0.05, objective_options=dict(batch_size=16, n_samples=100))
    a = optlab.simulate("sgd", "linear_regression", x0=x0, seed=1, **kw)
    b = optlab.simulate("sgd", "linear_regression", x0=x0, seed=1, **kw)
    c = optlab.simulate("sgd", "linear_regression", x0=x0, seed=2, **kw)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.loss, b.loss)
    assert not np.array_equal(a.x, c.x)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        d = optlab.simulate("sgd", "linear_regression", x0=x0, seed=1, **kw)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(a.x, d.x)
    # a trajectory's batches do not depend on which other trajectories run beside it
    e = optlab.simulate("sgd", "linear_regression", x0=x0[:1], seed=1, **kw)
    assert np.array_equal(a.x[0], e.x[0])


def test_sparse_gradients_touch_only_the_batch():
    from optlab.objectives.sparse_linear import sparse_design
    A, y = sparse_design(64)
    x0 = np.random.default_rng(0).normal(size=(3, 64))
    res, g = _sgd_grads("sparse_linear", x0, 6, 1e-2, 0)
    for t in range(6):
        idx = batch_indices_np(0, np.arange(3), t, len(y), 4)
        for i in range(3):
            touched = np.flatnonzero(A[idx[i]].any(0))
            assert np.all(g[i, t][np.setdiff1d(np.arange(64), touched)] == 0.0)
            r = A[idx[i]] @ res.x[i, t] - y[idx[i]]
            assert np.allclose(g[i, t], 2 * r @ A[idx[i]] / 4, rtol=1e-9, atol=1e-11)


# --- the vectorisable exp family ---------------------------------------------------------

def test_vecmath_accuracy_and_twins():
    from numba import njit
    from scipy.special import expit

    from optlab.objectives import _vecmath as vm

    @njit
    def apply(z, y, out):
        for i in range(z.size):
            out[0, i] = vm.bce_logit_v(z[i], y[i])
            out[1, i] = vm.tanh_v(z[i])
            out[2, i] = vm.bce_logit(z[i], y[i])
            out[3, i] = vm.sigmoid(z[i])

    rng = np.random.default_rng(0)
    z = np.concatenate([-np.logspace(-300, 2.85, 4000), np.logspace(-300, 2.85, 4000),
                        rng.normal(0, 5, 4000), [0.0, 1e-20, -30.0, 36.9]])
    y = (rng.random(z.size) < 0.5).astype(float)
    out = np.empty((4, z.size))
    apply(z, y, out)
    bce = np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z))
    for row, ref in ((0, bce), (1, np.tanh(z)), (2, bce), (3, expit(z))):
        m = np.abs(ref) > 1e-300
        assert np.max(np.abs(out[row, m] - ref[m]) / np.abs(ref[m])) < 4 * 2.3e-16, row
    # plain Python gives the same bits (NUMBA_DISABLE_JIT=1 and the CUDA simulator)
    for i in range(0, z.size, 211):
        assert vm.bce_logit_v(float(z[i]), float(y[i])) == out[0, i]
        assert vm.tanh_v(float(z[i])) == out[1, i]
    nan = float("nan")
    assert all(math.isnan(v) for v in (vm.bce_logit_v(nan, 1.0), vm.tanh_v(nan), vm.sigmoid(nan)))


# --- bad input: one clear line ----------------------------------------------------------

def _one_line(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_bad_input_messages():
    with pytest.raises(OptlabError) as e:
        O.get("rastrign")
    assert "did you mean 'rastrigin'" in _one_line(e)
    with pytest.raises(OptlabError) as e:
        optlab.simulate("sgd", "himmelblau", x0=[0.0, 0.0, 0.0], steps=1)
    assert "2-dimensional" in _one_line(e)
    with pytest.raises(OptlabError) as e:
        O.get("rosenbrock").value([1.0])
    assert "dimension >= 2" in _one_line(e)
    with pytest.raises(OptlabError) as e:
        O.get("mlp").value(np.zeros(10))
    assert "4*hidden + 1" in _one_line(e)
    for cond in (0.0, -3.0):
        with pytest.raises(OptlabError) as e:
            O.get("quadratic").make_params(2, cond=cond)
        assert _one_line(e).startswith(f"Invalid condition number: {cond}")
    with pytest.raises(OptlabError) as e:
        optlab.simulate("sgd", "logistic_regression", steps=1, objective_options=dict(batch_size=300))
    assert _one_line(e).startswith("Invalid batch_size: 300 (larger than the data set, n_samples = 256")
    typed = "Invalid {} for objective 'linear_regression': {} (must be {})"  # checked against the default's type
    bad = [(dict(n_samples=0), "Invalid n_samples: 0"), (dict(noise=-1.0), "Invalid noise: -1.0"),
           (dict(batch_size=-2), "Invalid batch_size: -2"),
           (dict(batch_size=2.5), typed.format("batch_size", 2.5, "an integer")),
           (dict(full_loss=3), typed.format("full_loss", 3, "true or false")), (dict(nope=1), "Unknown option 'nope'")]
    for opts, msg in bad:
        with pytest.raises(OptlabError) as e:
            O.get("linear_regression").make_params(2, **opts)
        assert _one_line(e).startswith(msg), (opts, str(e.value))
    with pytest.raises(OptlabError) as e:
        O.get("sparse_linear").make_params(2)
    assert _one_line(e).startswith("Invalid nnz: 3")
    with pytest.raises(OptlabError) as e:
        O.get("logistic_regression").make_params(2, l2=-1)
    assert _one_line(e).startswith("Invalid l2: -1.0")


def test_spec_defaults_backward_compatible():
    assert O.get("mlp").default_dim() == 33
    assert O.get("sparse_linear").default_dim() == 64
    assert O.get("rastrigin").default_dim() == 2
    assert O.get("rosenbrock").stationary_box.shape == (2, 2)
    assert np.array_equal(O.get("rastrigin").stationary_box, [[-2.25, 2.25], [-2.25, 2.25]])
    assert O.get("mlp").stationary_points == ()


# --- finite sums: the trajectory-innermost loops (ctx scratch) against the one-at-a-time loops ----

_FS_CASES = [
    ("linear_regression", 2, dict(batch_size=32)), ("linear_regression", 4, dict(batch_size=7, n_samples=100)),
    ("linear_regression", 2, dict(batch_size=1, n_samples=37, full_loss=False)),
    # one feature takes four samples a pass: a remainder, a cycle walk, byte tables (> 256 samples)
    ("linear_regression", 2, dict(batch_size=7, n_samples=100, full_loss=False)),
    ("linear_regression", 2, dict(batch_size=6, n_samples=600)),
    ("logistic_regression", 2, {}), ("logistic_regression", 3, dict(n_samples=100, l2=0.1)),
    ("logistic_regression", 2, dict(batch_size=32, full_loss=False)),
    ("logistic_regression", 3, dict(batch_size=7, n_samples=100)),
    ("mlp", 33, {}), ("mlp", 9, dict(l2=1e-3, n_samples=100)), ("mlp", 33, dict(batch_size=32)),
    ("mlp", 13, dict(batch_size=5, n_samples=37, full_loss=False)), ("mlp", 9, dict(loss="mse")),
    ("mlp", 9, dict(loss="mse", batch_size=16, full_loss=False)),
    # the block kernel's full-data loss runs in its sample loop, before the minibatch (both losses);
    # its draws are the keyed permutation's at any size (no round tables)
    ("mlp", 9, dict(loss="mse", batch_size=16)), ("mlp", 5, dict(batch_size=8, n_samples=1100, noise=0.3)),
]


def _fs_eval(fn, spec, dim, opts, x, ctx_len, step):
    from optlab.engine import ops
    p = spec.make_params(dim, **opts)
    n = x.shape[1]
    g = np.full((dim, n), np.nan)
    f = np.full(n, np.nan)
    ctx = np.zeros(ctx_len, np.int64)
    ctx[0], ctx[1], ctx[2] = 7, step, 11
    fn(x, g, f, p, n, ctx)
    assert ctx_len == ops.CTX_HEAD or ctx_len >= ops.ctx_length(dim, n)
    return f, g


_ANY_CTX: dict = {}


def _any_ctx(spec):
    """The spec's ``value_grad_kernel`` as L-BFGS and the evaluators compile it (disk-cached, the
    engine's options): it takes any ctx (the engine's ``objective_cpu.function`` may be its block
    kernel, which needs scratch rows)."""
    fn = _ANY_CTX.get(spec.name)
    if fn is None:
        from optlab.engine import objective_cpu
        fn = _ANY_CTX[spec.name] = objective_cpu.function(spec, np.float64, fn=spec.value_grad_kernel)
    return fn


@pytest.mark.parametrize("name,dim,opts", _FS_CASES)
def test_finite_sum_loops_over_the_block_give_the_one_at_a_time_bits(name, dim, opts):
    """The CPU engine's ctx carries scratch rows (ops.CTX_SCRATCH): the finite-sum kernels then run
    each sample over the block's trajectories (vectorised); a ctx of 3 (CUDA, evaluators, L-BFGS)
    runs trajectory by trajectory. Same expressions, same order per trajectory: the same bits,
    minibatch index draws included (odd n_samples make the Feistel permutation cycle-walk). The
    engine's compiled objective (``engine_kernel`` where the spec has one) against the spec's
    any-ctx kernel on a ctx of 3."""
    from optlab.engine import objective_cpu, ops
    spec = O.get(name)
    fn = objective_cpu.function(spec, np.float64)
    anyctx = _any_ctx(spec)
    x = np.ascontiguousarray(np.random.default_rng(dim).uniform(-2, 2, (dim, 40)))
    for step in (0, 3, 50):
        f1, g1 = _fs_eval(anyctx, spec, dim, opts, x, ops.CTX_HEAD, step)
        f2, g2 = _fs_eval(fn, spec, dim, opts, x, ops.ctx_length(dim, 40), step)
        assert np.isfinite(f1).all() and np.isfinite(g1).all()
        np.testing.assert_array_equal(f2, f1)
        np.testing.assert_array_equal(g2, g1)


def test_finite_sum_loops_in_plain_python_give_the_compiled_bits():
    """NUMBA_DISABLE_JIT=1 runs the same kernel source as Python: both loop orders, minibatches
    with a cycle-walking permutation included, give the compiled kernel's bits."""
    from optlab.engine import objective_cpu, ops
    cases = [("logistic_regression", 3, dict(batch_size=7, n_samples=37)),
             ("mlp", 9, dict(batch_size=5, n_samples=37, full_loss=False)),
             ("linear_regression", 2, dict(batch_size=5, n_samples=37))]
    code = ("import numpy as np, json, sys\nfrom optlab import objectives as O\nfrom optlab.engine import ops\n"
            "out = []\n"
            f"for name, dim, opts in {cases!r}:\n"
            "    spec = O.get(name); p = spec.make_params(dim, **opts)\n"
            "    x = np.ascontiguousarray(np.random.default_rng(dim).uniform(-2, 2, (dim, 6)))\n"
            "    for L in (ops.CTX_HEAD, ops.ctx_length(dim, 6)):\n"
            "        g = np.zeros((dim, 6)); f = np.zeros(6); ctx = np.zeros(L, np.int64); ctx[:3] = (7, 9, 11)\n"
            "        spec.value_grad_kernel(x, g, f, p, 6, ctx)\n"
            "        out.append([f.tolist(), g.tolist()])\n"
            "print(json.dumps(out))\n")
    import json
    import os
    import subprocess
    import sys
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    py = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert py.returncode == 0, py.stderr[-2000:]
    got = json.loads(py.stdout)
    k = 0
    for name, dim, opts in cases:
        spec = O.get(name)
        x = np.ascontiguousarray(np.random.default_rng(dim).uniform(-2, 2, (dim, 6)))
        for L in (ops.CTX_HEAD, ops.ctx_length(dim, 6)):
            fn = objective_cpu.function(spec, np.float64) if L > ops.CTX_HEAD else _any_ctx(spec)
            f, g = _fs_eval(fn, spec, dim, opts, x, L, 9)
            assert got[k][0] == f.tolist() and got[k][1] == g.tolist(), (name, L)
            k += 1


def test_the_engine_compiles_the_mlp_block_kernel_alone_and_evaluators_chunk_with_its_keys(monkeypatch):
    """The CPU engine's objective for the MLP is its block kernel (``engine_kernel``: the
    trajectory-by-trajectory loops are not compiled for it); on a ctx without scratch rows it
    gives NaN, never reads past the ctx. Python-side evaluation feeds it the engine's ctx in
    chunks, each with its first column's index in ctx[2], so minibatch draws do not depend on
    the chunking."""
    from optlab.engine import compiled, objective_cpu, ops
    spec = O.get("mlp")
    assert spec.cpu_kernel is not spec.value_grad_kernel
    fn = objective_cpu.function(spec, np.float64)
    assert fn.py_func is spec.cpu_kernel
    f, g = _fs_eval(fn, spec, 9, {}, np.zeros((9, 4)), ops.CTX_HEAD, 0)
    assert np.isnan(f).all() and np.isnan(g).all()
    opts = dict(batch_size=5, n_samples=37, full_loss=False)
    X = np.random.default_rng(4).uniform(-1, 1, (23, 9))
    whole = spec.value(X, **opts), spec.grad(X, **opts)
    monkeypatch.setattr(compiled, "CHUNK", 6)
    assert np.array_equal(spec.value(X, **opts), whole[0]) and np.array_equal(spec.grad(X, **opts), whole[1])
    # and column j draws trajectory j's minibatch: the any-ctx kernel, one column at a time
    p = spec.make_params(9, **opts)
    anyctx = _any_ctx(spec)
    for j in (0, 7, 22):
        xj = np.ascontiguousarray(X[j][:, None])
        g1 = np.empty((9, 1))
        f1 = np.empty(1)
        ctx = np.zeros(ops.CTX_HEAD, np.int64)
        ctx[2] = j
        anyctx(xj, g1, f1, p, 1, ctx)
        assert f1[0] == whole[0][j] and np.array_equal(g1[:, 0], whole[1][j])


_FULL_CASES = [("mlp", 33, {}), ("mlp", 33, dict(l2=1e-3)), ("mlp", 9, dict(loss="mse", n_samples=100)),
               ("mlp", 33, dict(batch_size=8)),
               ("linear_regression", 2, {}), ("linear_regression", 4, dict(n_samples=100, full_loss=False)),
               ("linear_regression", 2, dict(batch_size=8)),
               ("logistic_regression", 2, {}), ("logistic_regression", 3, dict(n_samples=100, l2=0.1)),
               ("logistic_regression", 2, dict(batch_size=8))]


@pytest.mark.parametrize("name,dim,opts", _FULL_CASES)
def test_the_full_batch_kernels_give_the_block_kernels_bits(name, dim, opts, monkeypatch):
    """A full-batch run compiles ``full_batch_kernel`` (no minibatch sampling): the block kernel's
    operations in its order, so the same bits; a minibatch run takes the block kernel (the
    full-batch one answers NaN to it), and so does a full-batch run where only the block kernel
    is compiled (a study that compiled it up front)."""
    from optlab.engine import objective_cpu, ops
    monkeypatch.setattr(objective_cpu, "_FULL_PICK", {})  # no choice made by an earlier test
    spec = O.get(name)
    p = spec.make_params(dim, **opts)
    x = np.ascontiguousarray(np.random.default_rng(5).uniform(-2, 2, (dim, 40)))
    block = objective_cpu.function(spec, np.float64)
    full = objective_cpu.dispatcher(spec, spec.full_batch_kernel)
    full.compile(objective_cpu.signature(np.float64))
    L = ops.ctx_length(dim, 40)
    for step in (0, 7):
        fb, gb = _fs_eval(block, spec, dim, opts, x, L, step)
        ff, gf = _fs_eval(full, spec, dim, opts, x, L, step)
        if opts.get("batch_size"):
            assert np.isnan(ff).all() and np.isnan(gf).all() and np.isfinite(fb).all()
        else:
            assert np.isfinite(fb).all()
            np.testing.assert_array_equal(ff, fb)
            np.testing.assert_array_equal(gf, gb)
    # a ctx without the scratch rows: NaN from a kernel that needs them, never a read past the ctx;
    # linear regression's sufficient statistics need none (the any-ctx kernel's bits)
    fs, gs = _fs_eval(full, spec, dim, opts, x, ops.CTX_HEAD, 0)
    if name == "linear_regression" and not opts.get("batch_size"):
        fa, ga = _fs_eval(_any_ctx(spec), spec, dim, opts, x, ops.CTX_HEAD, 0)
        np.testing.assert_array_equal(fs, fa)
        np.testing.assert_array_equal(gs, ga)
    else:
        assert np.isnan(fs).all() and np.isnan(gs).all()
    want = spec.full_batch_kernel if not opts.get("batch_size") else spec.cpu_kernel
    assert objective_cpu.kernel_for(spec, p) is want
    monkeypatch.setattr(objective_cpu, "_fn_cached", lambda fn: fn is spec.cpu_kernel)
    monkeypatch.setattr(objective_cpu, "_FULL_PICK", {})
    assert objective_cpu.kernel_for(spec, p) is spec.cpu_kernel


def test_a_reused_workspace_gives_a_fresh_ones_bits(monkeypatch):
    """The CPU engine keeps each thread's block arrays for the next run of the same shape
    (cpu.thread_workspace): runs of every minibatch objective, one after another on the same
    arrays (other seeds, other data, other objectives in between), give the bits of runs on
    freshly zeroed arrays."""
    from optlab.engine import cpu
    runs = [("linear_regression", 2, dict(batch_size=7, n_samples=37), 1),
            ("logistic_regression", 2, dict(batch_size=7, n_samples=37), 2),
            ("linear_regression", 2, dict(batch_size=7, n_samples=37, seed=3), 1),
            ("sparse_linear", 2, dict(batch_size=5, nnz=1), 1),
            ("linear_regression", 2, dict(batch_size=7, n_samples=37), 1),
            ("online_linear", 1, {}, 4)]
    x0 = {d: np.random.default_rng(d).uniform(-1, 1, (300, d)) for d in (1, 2)}

    def all_runs():
        out = []
        for name, dim, opts, seed in runs:
            if O.get(name).dim not in (None, dim) or O.get(name).min_dim > dim:
                continue
            r = optlab.simulate("adam", name, x0=x0[dim], steps=30, record_every=10, seed=seed,
                                lr=np.geomspace(1e-3, 0.3, 300), objective_options=opts, progress=False)
            out.append((r.x.copy(), r.loss.copy(), r.best_step.copy()))
        return out
    reused = all_runs()
    monkeypatch.setattr(cpu, "thread_workspace", cpu.workspace)
    fresh = all_runs()
    assert len(reused) >= 4
    for a, b in zip(reused, fresh):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def test_a_narrower_block_between_two_runs_leaves_no_stale_tables():
    """A run of the same trajectories after a narrower one on the same thread's arrays: the
    narrower block's permutation tables lie inside the wider block's, whose tag they leave in
    place; the reused context is zeroed, so the third run draws the first one's batches
    (byte tables: 512 samples; nibble tables: 256)."""
    X = np.random.default_rng(9).uniform(-1, 1, (256, 2))
    for ns in (512, 256):
        kw = dict(steps=10, seed=0, lr=0.01, objective_options=dict(n_samples=ns, batch_size=8), progress=False)
        first = optlab.simulate("sgd", "linear_regression", x0=X, **kw).x_final
        optlab.simulate("sgd", "linear_regression", x0=X[:40], **kw)
        np.testing.assert_array_equal(optlab.simulate("sgd", "linear_regression", x0=X, **kw).x_final, first)


def test_python_evaluation_of_no_points_gives_empty_arrays():
    assert O.get("sphere").value(np.zeros((0, 2))).shape == (0,)
    assert O.get("mlp").grad(np.zeros((0, 33))).shape == (0, 33)
