"""Faults around artifacts: sweep extras order, run manifests, resume of damaged jobs, stale temporary
files, and Ctrl-C in a run and in a multirun (a real subprocess and a real signal)."""
import numpy as np

import optlab

X0 = [[-1.2, 1.0], [0.5, 0.5]]


def test_sweep_extras_follow_their_trajectories_with_a_static_axis():
    """history_size is a per-call option of L-BFGS: the grid runs as one engine call per value, and the
    merged extras (func_evals) must land on the same trajectories as x and loss (a per-point reference)."""
    lrs, sizes = [0.1, 1.0], [2, 5]
    sw = optlab.sweep("lbfgs", "rosenbrock", grid={"lr": lrs, "history_size": sizes}, x0=X0, steps=5,
                      progress=False)
    evals = np.asarray(sw.extra["func_evals"]).reshape(sw.shape)
    for i, lr in enumerate(lrs):
        for j, h in enumerate(sizes):
            ref = optlab.simulate("lbfgs", "rosenbrock", x0=X0, lr=lr, history_size=h, steps=5, progress=False)
            np.testing.assert_array_equal(evals[i, j], ref.extra["func_evals"])
            np.testing.assert_array_equal(sw.grid("x_final")[i, j], ref.x_final)
    # the reference differs between grid points, so a misplaced extra cannot pass unnoticed
    assert len({tuple(evals[i, j]) for i in range(2) for j in range(2)}) > 1
