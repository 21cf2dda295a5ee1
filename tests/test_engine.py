"""The batched engine against slow, obvious per-trajectory Python references."""
import math

import numpy as np
import pytest

import optlab
from optlab import simulate
from optlab.engine import rng
from optlab.errors import OptlabError


def rosen(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def rosen_grad(x):
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200.0 * (x[1] - x[0] ** 2)])


def naive_run(step_fn, x0, steps, record_every=1, blowup=1e10, f_target=0.0, tol=1e-6,
              noise=0.0, seed=0, traj=0, clip=0.0):
    """One trajectory, plain Python: the engine's book-keeping spelled out."""
    x = np.array(x0, dtype=float)
    state = {}
    xs, fs = [], []
    best, best_t, div, hit = math.inf, 0, -1, -1
    for t in range(steps + 1):
        f = rosen(x)
        g = rosen_grad(x)
        if div < 0:
            if not abs(f) <= blowup:
                div, hit = t, -1
            else:
                if f < best:
                    best, best_t = f, t
                if not f - f_target <= tol:  # the step from which the run stays within tol
                    hit = -1
                elif hit < 0:
                    hit = t
        if t % record_every == 0:
            dead = 0 <= div < t
            xs.append(np.full(2, np.nan) if dead else x.copy())
            fs.append(np.nan if dead else f)
        if t == steps:
            break
        if noise:
            g = g + noise * np.array([rng.normal(seed, traj, t, d) for d in range(2)])
        if clip:
            c = clip / (np.sqrt(np.sum(g * g)) + 1e-6)
            if c < 1:
                g = g * c
        x = step_fn(x, g, state, t + 1)
    return dict(x=np.array(xs), f=np.array(fs), best=best, best_t=best_t, div=div, hit=hit, x_final=x)


def sgd_step(lr, momentum=0.0):
    def step(x, g, s, t):
        if momentum:
            s["b"] = g.copy() if t == 1 else momentum * s["b"] + g
            g = s["b"]
        return x - lr * g
    return step


def adam_step(lr, b1=0.9, b2=0.999, eps=1e-8):
    def step(x, g, s, t):
        m = s.get("m", np.zeros(2))
        v = s.get("v", np.zeros(2))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        s["m"], s["v"] = m, v
        return x - lr / (1 - b1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
    return step


STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [1.2, 1.2], [-0.3, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("name,kw,ref", [
    ("sgd", dict(lr=1e-3), sgd_step(1e-3)),
    ("sgd", dict(lr=5e-4, momentum=0.9), sgd_step(5e-4, 0.9)),
    ("adam", dict(lr=1e-2), adam_step(1e-2)),
])
def test_engine_matches_naive_reference(name, kw, ref):
    res = optlab.simulate(name, "rosenbrock", x0=STARTS, steps=300, record_every=7, **kw)
    assert res.x.shape == (5, 300 // 7 + 1, 2)
    np.testing.assert_array_equal(res.x[:, 0], STARTS)
    for i, x0 in enumerate(STARTS):
        want = naive_run(ref, x0, 300, record_every=7)
        np.testing.assert_allclose(res.x[i], want["x"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.loss[i], want["f"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.x_final[i], want["x_final"], atol=1e-10)
        assert res.best_loss[i] == pytest.approx(want["best"], rel=1e-9, abs=1e-15)
        assert res.diverged_step[i] == want["div"]


def test_divergence_step_and_nan_records():
    x0 = np.array([[-1.5, 2.0], [0.5, -0.5]])
    res = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=50, lr=0.01)
    for i in range(2):
        want = naive_run(sgd_step(0.01), x0[i], 50)
        assert want["div"] > 0
        assert res.diverged_step[i] == want["div"]
        k = want["div"]
        assert np.isnan(res.loss[i, k + 1:]).all() and np.isnan(res.x[i, k + 1:]).all()
        assert np.isfinite(res.loss[i, :k]).all()
    assert list(res.outcome) == ["diverged", "diverged"]


def settled(inside) -> int:
    """The step from which ``inside`` holds to the end, -1 when its last entry is False."""
    if not inside[-1]:
        return -1
    out = np.flatnonzero(~inside)
    return int(out[-1]) + 1 if out.size else 0


def test_tol_step_best_and_outcome():
    res = optlab.simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=3000, lr=0.02, tol=1e-8)
    want = naive_run(adam_step(0.02), [-1.5, 2.0], 3000, tol=1e-8)
    assert res.tol_step[0] == want["hit"] > 0
    assert res.best_step[0] == want["best_t"]
    assert res.outcome[0] == "converged"
    short = optlab.simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=50, lr=0.02)
    assert short.outcome[0] == "running" and short.tol_step[0] == -1


def test_books_of_a_block_that_mixes_events_match_the_recorded_losses():
    # an lr sweep over two blocks: trajectories that diverge, reach the tolerance or neither, at
    # different steps side by side; the books (written in a second pass only on a step where one
    # is due) against the recorded loss of every step
    rs = np.random.default_rng(3)
    n = 300
    x0 = np.column_stack([rs.uniform(-2, 2, n), rs.uniform(-1, 3, n)])
    lr = np.geomspace(1e-3, 10.0, n)
    rs.shuffle(lr)
    res = optlab.simulate("adam", "rosenbrock", x0=x0, steps=400, lr=lr, tol=1e-4, blowup=1e4, progress=False)
    f = res.loss  # (n, steps + 1), NaN after a divergence
    kinds, left = set(), 0
    for i in range(n):
        bad = ~(np.abs(f[i]) <= 1e4)
        div = int(np.argmax(bad)) if bad.any() else -1
        hit = f[i] <= 1e-4  # Rosenbrock's minimum is 0
        if div >= 0:
            hit[div:] = False
        tol = settled(hit)
        assert res.diverged_step[i] == div and res.tol_step[i] == tol, i
        if div < 0:  # (the records stop at a divergence; the books go on)
            assert res.best_step[i] == int(np.argmin(f[i])) and res.best_loss[i] == f[i].min(), i
        kinds.add((div >= 0, tol >= 0))
        left += bool(hit.any()) and tol != int(np.argmax(hit))  # touched the tolerance, then left it
    assert kinds >= {(True, False), (False, True), (False, False)}
    assert left > 0


def test_the_gradient_norm_books_of_an_objective_without_a_minimum():
    # the saddle has no minimum: the engine takes every trajectory's gradient norm each step (a
    # vector loop over the block) and counts the tolerance by it
    n = 300
    rs = np.random.default_rng(4)
    x0 = np.column_stack([rs.uniform(-2, 2, n), np.where(np.arange(n) % 3 == 0, 0.0, rs.uniform(-1e-3, 1e-3, n))])
    res = optlab.simulate("sgd", "saddle", x0=x0, steps=300, lr=0.05, tol=1e-6, blowup=1e3, progress=False)
    hit = 0
    for i in range(n):
        x = res.x[i]  # (steps + 1, 2): the gradient at every step is (2 x, -2 y)
        gn = np.sqrt((0.0 + (2.0 * x[:, 0]) ** 2) + (-2.0 * x[:, 1]) ** 2)
        f = x[:, 0] ** 2 - x[:, 1] ** 2
        bad = ~(np.abs(f) <= 1e3)
        div = int(np.argmax(bad)) if bad.any() else -1
        ok = gn <= 1e-6
        if div >= 0:
            ok[div:] = False
        assert res.diverged_step[i] == div and res.tol_step[i] == settled(ok), i
        if div < 0:
            assert res.grad_norm_final[i] == gn[-1], i  # the same sums, bit for bit
        hit += ok.any()
    assert 0 < hit < n


def test_gradient_noise_is_keyed_and_reproducible():
    x0 = np.array([[-1.5, 2.0], [0.5, -0.5], [1.2, 1.2]])
    res = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=100, lr=1e-4, grad_noise=3.0, seed=7)
    for i in range(3):
        want = naive_run(sgd_step(1e-4), x0[i], 100, noise=3.0, seed=7, traj=i)
        np.testing.assert_allclose(res.x[i], want["x"], atol=1e-11)
    again = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=100, lr=1e-4, grad_noise=3.0, seed=7)
    np.testing.assert_array_equal(res.x, again.x)
    other = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=100, lr=1e-4, grad_noise=3.0, seed=8)
    assert not np.allclose(res.x[:, -1], other.x[:, -1])


def test_results_do_not_depend_on_thread_count_or_block_position():
    import numba
    rs = np.random.default_rng(1)
    x0 = np.column_stack([rs.uniform(-2, 2, 150), rs.uniform(-1, 3, 150)])
    lr = rs.uniform(1e-4, 1e-3, 150)
    kw = dict(steps=60, lr=lr, momentum=0.9, grad_noise=0.5, seed=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = optlab.simulate("sgd", "rosenbrock", x0=x0, **kw)
    finally:
        numba.set_num_threads(before)
    many = optlab.simulate("sgd", "rosenbrock", x0=x0, **kw)
    np.testing.assert_array_equal(one.x, many.x)
    # trajectory 100 alone (block position 0 instead of 36) gives the same numbers
    alone = optlab.simulate("sgd", "rosenbrock", x0=x0[100], steps=60, lr=lr[100], momentum=0.9)
    nonoise = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=60, lr=lr, momentum=0.9)
    np.testing.assert_array_equal(alone.x[0], nonoise.x[100])


def test_clip_grad_norm_matches_torch_rule():
    res = optlab.simulate("sgd", "rosenbrock", x0=[-1.5, 2.0], steps=100, lr=1e-2, clip_grad_norm=1.0)
    want = naive_run(sgd_step(1e-2), [-1.5, 2.0], 100, clip=1.0)
    np.testing.assert_allclose(res.x[0], want["x"], atol=1e-12)
    assert res.diverged_step[0] == -1
    with np.errstate(all="ignore"):
        assert naive_run(sgd_step(1e-2), [-1.5, 2.0], 100)["div"] > 0  # the unclipped run at this lr diverges


def test_clipping_sees_the_noisy_gradient():
    res = optlab.simulate("sgd", "rosenbrock", x0=[-1.5, 2.0], steps=80, lr=1e-2, clip_grad_norm=1.0,
                          grad_noise=50.0, seed=4)
    want = naive_run(sgd_step(1e-2), [-1.5, 2.0], 80, clip=1.0, noise=50.0, seed=4)
    np.testing.assert_allclose(res.x[0], want["x"], atol=1e-12)


def test_per_trajectory_hyperparameters_equal_separate_runs():
    lrs = [1e-3, 3e-3, 1e-2]
    betas = np.array([[0.9, 0.999], [0.5, 0.99], [0.0, 0.9]])
    both = optlab.simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=80, lr=lrs, betas=betas)
    for i in range(3):
        one = optlab.simulate("adam", "rosenbrock", x0=[-1.5, 2.0], steps=80, lr=lrs[i], betas=tuple(betas[i]))
        np.testing.assert_array_equal(both.x[i], one.x[0])


def test_float32_runs_close_to_float64():
    r64 = optlab.simulate("adam", "rosenbrock", x0=STARTS, steps=200, lr=1e-2)
    r32 = optlab.simulate("adam", "rosenbrock", x0=STARTS, steps=200, lr=1e-2, dtype="float32")
    assert r32.x.dtype == np.float32
    np.testing.assert_allclose(r32.x, r64.x, atol=2e-3)


def test_n_dimensional_and_records_layout():
    res = optlab.simulate("rmsprop", "rosenbrock", x0=np.zeros((4, 6)), steps=10, record_every=3, lr=1e-3)
    assert res.x.shape == (4, 4, 6) and res.loss.shape == (4, 4)
    assert list(res.steps) == [0, 3, 6, 9]
    assert res.loss[0, 0] == pytest.approx(5.0)  # sum of (1 - 0)^2 over 5 pairs


def test_memory_estimate_refuses_with_a_stride():
    with pytest.raises(optlab.OptlabError, match=r"needs .* GiB.*record_every=\d+"):
        optlab.simulate("adam", "rosenbrock", x0=np.zeros((1000, 2)), steps=100000, max_memory_gb=0.01)


def test_rng_is_a_pure_function_of_its_key():
    assert rng.uniform(1, 2, 3, 4) == rng.uniform(1, 2, 3, 4)
    u = np.array([rng.uniform(0, i, 0, 0) for i in range(4000)])
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    z = np.array([rng.normal(5, i, 1, 0) for i in range(4000)])
    assert abs(z.mean()) < 0.06 and abs(z.std() - 1) < 0.05


def test_pure_python_path_gives_the_same_bits(tmp_path):
    """NUMBA_DISABLE_JIT=1 runs the same kernel source as Python (exact fma fallback)."""
    import json
    import os
    import subprocess
    import sys
    code = (
        "import json, optlab\n"
        "out = {}\n"
        "for name, kw in [('adam', dict(lr=0.01, amsgrad=True)), ('rmsprop', dict(lr=0.01, centered=True,"
        " momentum=0.5)), ('sgd', dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.1))]:\n"
        "    r = optlab.simulate(name, 'rosenbrock', x0=[[-1.5, 2.0], [0.3, 0.1]], steps=25, grad_noise=0.1, **kw)\n"
        "    out[name] = r.x.tolist()\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "OPTLAB_CACHE_DIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    py = json.loads(p.stdout)
    for name, kw in [("adam", dict(lr=0.01, amsgrad=True)),
                     ("rmsprop", dict(lr=0.01, centered=True, momentum=0.5)),
                     ("sgd", dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.1))]:
        r = optlab.simulate(name, "rosenbrock", x0=[[-1.5, 2.0], [0.3, 0.1]], steps=25, grad_noise=0.1, **kw)
        np.testing.assert_array_equal(np.array(py[name]), r.x, err_msg=name)


_PY_F32 = [  # (optimizer, objective, keywords): float32, noise, clipping, a diverging run
    ("adam", "rosenbrock", dict(lr=[0.01, 0.03, 0.1])),
    ("adadelta", "beale", dict(lr=1.0, clip_grad_norm=2.0)),
    ("nesterov_lookahead", "himmelblau", dict(lr=0.01, grad_noise=0.5)),
    ("adafactor", "rosenbrock", dict(lr=0.01)),
    ("rmsprop", "rastrigin", dict(lr=0.01, clip_grad_norm=1.0, grad_noise=0.1)),
    ("lbfgs", "rastrigin", dict(clip_grad_norm=1.0, grad_noise=0.1)),  # diverges: x reaches inf
    ("sgd", "rastrigin", dict(lr=10.0, steps=300)),  # diverges: cos(inf)
]


def test_pure_python_float32_gives_the_compiled_bits(tmp_path):
    """NUMBA_DISABLE_JIT=1 (and so the CUDA simulator, which runs the same plain Python) took a
    float32 run's roots, fma results and noise as Python floats, which numpy (NEP 50) then met in
    float32 arithmetic where compiled code computes in float64 or takes a float32 root: Adam,
    AdamW, Adadelta, Adafactor, Nesterov's look-ahead and every run with noise or clipping left the
    compiled trajectory; and a run reaching inf on Rastrigin ended with Python's "math domain
    error" (libm gives NaN). Now the same bits, NaN included."""
    import os
    import pickle
    import subprocess
    import sys
    code = (
        "import pickle, sys, numpy as np, optlab, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"_PY_F32 = {_PY_F32!r}\n"
        "out = []\n"
        "for name, obj, kw in _PY_F32:\n"
        "    kw = {'steps': 40, **kw}\n"
        "    x0 = np.random.default_rng(1).uniform(-2.0, 2.0, (3, 5 if obj == 'rastrigin' else 2))\n"
        "    r = optlab.simulate(name, obj, x0=x0, dtype='float32', seed=3, record_every=1, **kw)\n"
        "    out.append((r.x, r.loss, r.grad_norm_final))\n"
        "pickle.dump(out, open(sys.argv[1], 'wb'))\n")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "OPTLAB_CACHE_DIR": str(tmp_path / "c")}
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "py.pkl")], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    py = pickle.loads((tmp_path / "py.pkl").read_bytes())
    for (name, obj, kw), got in zip(_PY_F32, py):
        kw = {"steps": 40, **kw}
        x0 = np.random.default_rng(1).uniform(-2.0, 2.0, (3, 5 if obj == "rastrigin" else 2))
        r = optlab.simulate(name, obj, x0=x0, dtype="float32", seed=3, record_every=1, **kw)
        for what, a, b in zip(("x", "loss", "grad_norm_final"), (r.x, r.loss, r.grad_norm_final), got):
            assert a.dtype == b.dtype == (np.float64 if what == "grad_norm_final" else np.float32), (name, what)
            bits = np.int64 if a.dtype == np.float64 else np.int32
            np.testing.assert_array_equal(a.view(bits), b.view(bits), err_msg=f"{name} on {obj}: {what}")
    assert not np.isfinite(py[-1][0][:, -1]).all() and not np.isfinite(py[-2][0][:, -1]).all()  # they diverged


def test_bounds_clamp_after_every_step_as_torch_clamp():
    """bounds=(lo, hi): x.clamp_(lo, hi) after each step (the start is not clamped), against the
    naive loop with np.clip after its step; momentum keeps its own buffer, as in torch."""
    x0 = np.array([[-1.5, 2.0], [0.5, 0.5], [1.2, -0.3]])
    res = simulate("sgd", "rosenbrock", x0=x0, steps=120, lr=1e-3, momentum=0.9, bounds=(-1.0, 1.0))
    for i in range(3):
        step = sgd_step(1e-3, momentum=0.9)
        want = naive_run(lambda x, g, s, t: np.clip(step(x, g, s, t), -1.0, 1.0), x0[i], 120)
        np.testing.assert_allclose(res.x[i], want["x"], rtol=1e-11, atol=1e-14)  # the naive loop has no FMA
        np.testing.assert_array_equal(np.abs(res.x[i]) == 1.0, np.abs(want["x"]) == 1.0)  # on the box's faces
    assert (np.abs(res.x[:, 1:]) <= 1.0).all() and res.x[0, 0, 1] == 2.0 and (res.x[:, 1:] == 1.0).any()
    assert res.options["bounds"] == [-1.0, 1.0]
    free = simulate("sgd", "rosenbrock", x0=x0, steps=120, lr=1e-3, momentum=0.9, bounds=(-np.inf, np.inf))
    np.testing.assert_array_equal(free.x, simulate("sgd", "rosenbrock", x0=x0, steps=120, lr=1e-3, momentum=0.9).x)


@pytest.mark.parametrize("bounds, msg", [
    ((1.0, 0.0), "Invalid bounds: (1.0, 0.0) (must be (lo, hi) with lo <= hi"),
    ("ab", "Invalid bounds: 'ab'"), ((1, 2, 3), "Invalid bounds: (1, 2, 3)"), ((True, 2), "Invalid bounds: (True, 2)"),
    ((np.nan, 1.0), "Invalid bounds: (nan, 1.0)"),
])
def test_bad_bounds_one_line(bounds, msg):
    with pytest.raises(OptlabError) as e:
        simulate("sgd", "rosenbrock", steps=5, bounds=bounds)
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


def test_bounds_refused_where_they_do_not_apply():
    with pytest.raises(OptlabError, match="Optimizer 'lbfgs' does not run with bounds"):
        simulate("lbfgs", "rosenbrock", steps=5, bounds=(-1, 1))


def test_one_setting_and_trajectory_count_fast_paths():
    """The per-run shortcuts (first against last, an array's own shape) agree with the plain rules."""
    from optlab.engine.core import _n_per_traj, one_setting
    rng_ = np.random.default_rng(3)
    for _ in range(200):
        hp = rng_.choice([0.5, 1.0, np.nan], size=(3, int(rng_.integers(1, 6))))
        plain = hp.shape[1] <= 1 or bool(np.array_equal(hp, np.broadcast_to(hp[:, :1], hp.shape), equal_nan=True))
        assert one_setting(hp) == plain, hp
    assert _n_per_traj({"lr": np.geomspace(1e-3, 1.0, 7)}) == 7
    assert _n_per_traj({"lr": [0.1, 0.2], "betas": np.array([[0.9, 0.99], [0.8, 0.9]])}) == 2
    assert _n_per_traj({"lr": np.float64(0.1), "momentum": np.array(0.5)}) == 1
    with pytest.raises(OptlabError, match="has 3 values but another has 2"):
        _n_per_traj({"lr": np.ones(2), "momentum": np.ones(3)})


def test_the_run_memos_follow_a_new_dispatcher_and_a_new_spec(monkeypatch):
    """The objective's compiled argument is asked again when its dispatcher is replaced, and the
    generated source is made again for another spec object of the same name."""
    from optlab.engine import cpu, objective_cpu
    from optlab.engine.core import _objectives, _optimizers
    obj = _objectives.get("quadratic")
    first = objective_cpu.argument(obj, np.float64)
    assert objective_cpu.argument(obj, np.float64) is first
    monkeypatch.setattr(objective_cpu, "_DISPATCHERS", {})
    again = objective_cpu.argument(obj, np.float64)
    assert again is not first and again.disp is objective_cpu._DISPATCHERS[obj.cpu_kernel]
    opt = _optimizers.get("sgd")
    src, tag = cpu.source(opt, obj, 2)
    assert cpu.source(opt, obj, 2) == (src, tag)
    import dataclasses
    ada = _optimizers.get("adagrad")
    other = dataclasses.replace(opt, kernels=ada.kernels)  # same name and arguments, another spec
    assert cpu.source(other, obj, 2)[0] == cpu.source(ada, obj, 2)[0] != src


def test_betas_with_an_array_inside_is_one_line():
    """``betas=(an array of beta1, beta2)`` raised numpy's "inhomogeneous shape" error: one line that
    points to the parts (``beta1=[...]``, as the engine takes a part per trajectory)."""
    x0 = [[1.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    with pytest.raises(OptlabError, match=r"Invalid betas: .* to give a part per trajectory: beta1=\.\.\., beta2="):
        simulate("adam", "rosenbrock", x0=x0, steps=2, betas=(np.array([0.8, 0.85, 0.9]), 0.999))
    parts = simulate("adam", "rosenbrock", x0=x0, steps=5, beta1=[0.8, 0.85, 0.9], beta2=0.999)
    pairs = simulate("adam", "rosenbrock", x0=x0, steps=5, betas=[(0.8, 0.999), (0.85, 0.999), (0.9, 0.999)])
    np.testing.assert_array_equal(parts.x, pairs.x)


def test_a_slice_with_its_trajectory_offset_draws_the_whole_runs_noise():
    """Draws are keyed by (seed, trajectory, step): trajectories k .. n of a run, run alone with
    trajectory_offset=k, are that run's (noise, minibatches), over several blocks and a chunked
    run; what engine.num_shards relies on."""
    from optlab.errors import OptlabError
    x0 = np.random.default_rng(5).uniform(-2, 2, (700, 2))
    for objective, kw in (("rosenbrock", dict(grad_noise=0.5)),
                          ("linear_regression", dict(objective_options=dict(batch_size=4)))):
        whole = optlab.simulate("sgd", objective, x0=x0, steps=20, lr=1e-3, progress=False, **kw)
        for k in (1, 250, 300):
            part = optlab.simulate("sgd", objective, x0=x0[k:], steps=20, lr=1e-3, progress=False,
                                   trajectory_offset=k, **kw)
            np.testing.assert_array_equal(part.x, whole.x[k:])
            assert part.options["trajectory_offset"] == k
        moved = optlab.simulate("sgd", objective, x0=x0[250:], steps=20, lr=1e-3, progress=False, **kw)
        assert not np.array_equal(moved.x, whole.x[250:], equal_nan=True)  # without it: other draws
    for bad in (-1, 1.5, True):
        with pytest.raises(OptlabError, match="Invalid trajectory_offset"):
            optlab.simulate("sgd", "sphere", x0=[1.0, 1.0], steps=2, trajectory_offset=bad)
