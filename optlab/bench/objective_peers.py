"""The peers of ``--section objectives``: finite sums against JAX+optax and torch.

Adam (torch's defaults, one lr per trajectory log-spaced from 1e-4 to 1e-1)
on the three finite sums of ``optlab.objectives``, each full batch and with
minibatches of 32, N = 2,000 trajectories, T = 20 steps, float64, recording
only the first and the last step; start points uniform in the objective's
domain (seed 0). Every peer computes the same function on the same data:

* ``linear_regression`` (D = 2: one feature and the bias), mean squared
  error on ``_data.regression_data(256, 1, noise=0.5, seed=0)``;
* ``logistic_regression`` (D = 2), mean binary cross-entropy with logits on
  ``_data.classification_data(256, 1, noise=1.0, seed=0)``, l2 = 0;
* ``mlp`` (D = 33: a 2-8-1 tanh network, theta = (W row-major, b, v, c)),
  mean binary cross-entropy of its output on ``_data.moons_data(256, 0.1, 0)``.

With minibatches every peer uses the engine's own batches (the keyed
permutations of ``optlab.objectives._sampling``, drawn in numpy before the
clock starts: the peers are timed without their sampling, the engine with
it), and the reported loss is the minibatch's (``full_loss`` off on every
side). The peers:

* JAX + optax: the parameters an (N, D) array, ``jax.vmap`` over
  trajectories of ``jax.grad`` of one trajectory's loss (the full data
  shared, or the trajectory's batch gathered from the data), ``optax.adam``
  with the (N, 1) array of learning rates, ``lax.scan`` over the steps (the
  batches' indices as its input), ``jax.jit``;
* torch batched over trajectories: the parameters one (N, D) tensor, the
  losses of all trajectories with ``einsum`` (and
  ``binary_cross_entropy_with_logits``), their sum's gradient by autograd
  (each trajectory's loss depends only on its own row), then Adam's update
  written in ``torch.optim.Adam``'s order with a per-trajectory lr
  (:func:`optlab.bench.peers.torch_adam_update`).

Checked on every row: the loss at the start points (the full-data loss of
the full-batch rows, against the engine's first record; the max relative
difference is printed) and the share of the trajectories whose final points
agree with the engine's (``rtol`` :data:`RTOL`, ``atol`` :data:`ATOL`).
Target: the engine >= 1.5x JAX+optax on each row (issue 13).
"""
from __future__ import annotations


import numpy as np

from .peers import EXTRA, best_alternating, jax_modules, torch_adam_update, torch_module
from ..errors import argument_parser

FAMILIES = ("linear_regression", "logistic_regression", "mlp")
BATCHES = (0, 32)
N_SAMPLES = 256
HIDDEN = 8
LR_RANGE = (1e-4, 1e-1)
BETAS = (0.9, 0.999)
EPS = 1e-8
RTOL, ATOL = 1e-6, 1e-9
TARGET_JAX = 1.5


def problem(name):
    """{dim, X, y, domain}: the data and parameter count the engine uses for ``name``."""
    from ..objectives import _data
    if name == "linear_regression":
        X, y, _, _ = _data.regression_data(N_SAMPLES, 1, 0.5, 0)
        return dict(dim=2, X=X, y=y, domain=[(-4.0, 4.0)] * 2)
    if name == "logistic_regression":
        X, y, _, _ = _data.classification_data(N_SAMPLES, 1, 1.0, 0)
        return dict(dim=2, X=X, y=y, domain=[(-6.0, 6.0)] * 2)
    if name == "mlp":
        X, y = _data.moons_data(N_SAMPLES, 0.1, 0)
        return dict(dim=4 * HIDDEN + 1, X=X, y=y, domain=[(-1.0, 1.0)] * (4 * HIDDEN + 1))
    raise KeyError(name)


def workload(name, n, seed=0):
    """(x0 (n, D), lr (n,)) for ``name``."""
    pb = problem(name)
    rng = np.random.default_rng(seed)
    lo = np.array([d[0] for d in pb["domain"]])
    hi = np.array([d[1] for d in pb["domain"]])
    x0 = lo + (hi - lo) * rng.uniform(size=(n, pb["dim"]))
    lr = np.geomspace(LR_RANGE[0], LR_RANGE[1], n) if n > 1 else np.full(n, LR_RANGE[0])
    return x0, lr


def batch_indices(n, steps, batch_size, seed=0):
    """(steps, n, batch_size) int32: the engine's minibatch of every step and trajectory."""
    from ..objectives._sampling import batch_indices_np
    trajs = np.arange(n)
    return np.stack([batch_indices_np(seed, trajs, t, N_SAMPLES, batch_size) for t in range(steps)]
                    ).astype(np.int32)


# --- the engine -----------------------------------------------------------------------------------

def make_engine(name, x0, lr, steps, batch_size):
    import optlab
    opts = dict(batch_size=batch_size, full_loss=batch_size == 0)

    def run():
        return optlab.simulate("adam", name, x0=x0, steps=steps, record_every=steps, lr=lr, progress=False,
                               objective_options=opts)
    run.final = lambda res: res.x_final
    run.start_loss = lambda res: res.loss[:, 0]
    return run


# --- JAX + optax ----------------------------------------------------------------------------------

def jax_loss(name):
    """One trajectory's loss f(theta (D,), X (m, d), y (m,)) in jax.numpy."""
    jax, jnp, optax = jax_modules()
    if name == "linear_regression":
        def f(th, X, y):
            r = X @ th[:-1] + th[-1] - y
            return jnp.mean(r * r)
    elif name == "logistic_regression":
        def f(th, X, y):
            return jnp.mean(optax.losses.sigmoid_binary_cross_entropy(X @ th[:-1] + th[-1], y))
    else:
        h = HIDDEN

        def f(th, X, y):
            W = th[:2 * h].reshape(h, 2)
            o = jnp.tanh(X @ W.T + th[2 * h:3 * h]) @ th[3 * h:4 * h] + th[4 * h]
            return jnp.mean(optax.losses.sigmoid_binary_cross_entropy(o, y))
    return f


def make_jax(name, x0, lr, steps, batch_size, idx=None):
    jax, jnp, optax = jax_modules()
    pb = problem(name)
    f = jax_loss(name)
    X = jnp.asarray(pb["X"])
    y = jnp.asarray(pb["y"])
    b1, b2 = BETAS
    full = jax.vmap(jax.grad(f), in_axes=(0, None, None))
    batched = jax.vmap(jax.grad(f))

    @jax.jit
    def sweep(params, lr, idx):
        tx = optax.adam(lr[:, None], b1=b1, b2=b2, eps=EPS)
        state = tx.init(params)

        def step(carry, idx_t):
            p, s = carry
            g = full(p, X, y) if idx_t is None else batched(p, X[idx_t], y[idx_t])
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(step, (params, state), idx, length=steps)
        return p

    start = jax.jit(jax.vmap(f, in_axes=(0, None, None)))
    p0 = jnp.asarray(x0)
    lj = jnp.asarray(lr)
    ij = None if batch_size == 0 else jnp.asarray(idx)

    def run():
        return jax.block_until_ready(sweep(p0, lj, ij))
    run.final = lambda out: np.asarray(out)
    run.start_loss = lambda out: np.asarray(start(p0, X, y))
    return run


# --- torch, batched over trajectories -------------------------------------------------------------

def torch_losses(name, torch, th, X, y):
    """Every trajectory's loss, (N,), for th (N, D) and X (n, d) shared or (N, m, d) per trajectory."""
    F = torch.nn.functional
    shared = X.dim() == 2
    if name in ("linear_regression", "logistic_regression"):
        z = (X @ th[:, :-1].T).T if shared else torch.einsum("nmd,nd->nm", X, th[:, :-1])
        z = z + th[:, -1:]
        yy = y.expand_as(z) if shared else y
        if name == "linear_regression":
            return ((z - yy) ** 2).mean(1)
        return F.binary_cross_entropy_with_logits(z, yy, reduction="none").mean(1)
    h = HIDDEN
    W = th[:, :2 * h].reshape(-1, h, 2)
    pre = torch.einsum("id,nkd->nik", X, W) if shared else torch.einsum("nid,nkd->nik", X, W)
    o = torch.einsum("nik,nk->ni", torch.tanh(pre + th[:, None, 2 * h:3 * h]), th[:, 3 * h:4 * h]) + th[:, 4 * h:]
    yy = y.expand_as(o) if shared else y
    return F.binary_cross_entropy_with_logits(o, yy, reduction="none").mean(1)


def make_torch(name, x0, lr, steps, batch_size, idx=None):
    torch = torch_module()
    pb = problem(name)
    X = torch.tensor(pb["X"])
    y = torch.tensor(pb["y"])
    xt0 = torch.tensor(x0)
    lrt = torch.tensor(lr)[:, None]
    it = None if batch_size == 0 else torch.tensor(idx, dtype=torch.int64)

    def run():
        x = xt0.clone()
        m = torch.zeros_like(x)
        v = torch.zeros_like(x)
        for t in range(1, steps + 1):
            p = x.detach().requires_grad_(True)
            if it is None:
                loss = torch_losses(name, torch, p, X, y)
            else:
                loss = torch_losses(name, torch, p, X[it[t - 1]], y[it[t - 1]])
            (g,) = torch.autograd.grad(loss.sum(), p)
            with torch.no_grad():
                torch_adam_update(x, g, m, v, t, lrt)
        return x
    run.final = lambda out: out.numpy()

    def start_loss(_):
        with torch.no_grad():
            return torch_losses(name, torch, xt0, X, y).numpy()
    run.start_loss = start_loss
    return run


# --- the table ------------------------------------------------------------------------------------

def peer_table(n=2000, steps=20, repeat=3, min_seconds=0.0, families=FAMILIES, batches=BATCHES, log=None):
    """Rows {name, batch_size, engine_steps_per_s, jax_steps_per_s, torch_steps_per_s, ratios,
    start-loss differences, agreement shares}, and the lines naming the peers that are missing."""
    peers = {"jax": make_jax, "torch": make_torch}
    missing = []
    if jax_modules() is None:
        peers.pop("jax")
        missing.append(f"JAX + optax: not installed, skipped ({EXTRA})")
    if torch_module() is None:
        peers.pop("torch")
        missing.append(f"torch: not installed, skipped ({EXTRA})")
    rows = []
    for name in families:
        x0, lr = workload(name, n)
        for m in batches:
            idx = batch_indices(n, steps, m) if m else None
            runs = {"engine": make_engine(name, x0, lr, steps, m)}
            for p, make in peers.items():
                runs[p] = make(name, x0, lr, steps, m, idx)
            outs = {}
            with np.errstate(all="ignore"):
                for k, run in runs.items():  # warm-up: compile, trace, load
                    outs[k] = run()
            # runs of a few ms: each timed run follows one of its own (another peer's threads settle)
            best = best_alternating(list(runs.values()), repeat, min_seconds, settle=True)
            x_eng = runs["engine"].final(outs["engine"])
            row = {"name": name, "batch_size": m, "dim": x0.shape[1], "n": n, "steps": steps}
            for (k, run), (t, _) in zip(runs.items(), best):
                row[f"{k}_steps_per_s"] = n * steps / t
                if k == "engine":
                    continue
                row[f"engine_per_{k}"] = row["engine_steps_per_s"] / row[f"{k}_steps_per_s"]
                xp = np.asarray(run.final(outs[k]), dtype=np.float64)
                ok = np.isfinite(x_eng).all(1)
                close = (np.abs(xp - x_eng) <= ATOL + RTOL * np.abs(x_eng)).all(1) & ok
                row[f"{k}_agree_share"] = float(close.mean())
                if m == 0:
                    f_eng = runs["engine"].start_loss(outs["engine"])
                    f_peer = np.asarray(run.start_loss(outs[k]), dtype=np.float64)
                    row[f"{k}_start_loss_rel_diff"] = float(np.max(np.abs(f_peer - f_eng) / np.abs(f_eng)))
            if "engine_per_jax" in row:
                row["target_jax"] = TARGET_JAX
            rows.append(row)
            if log:
                log(_row_line(row))
    return rows, missing


def _row_line(r):
    label = f"{r['name']} D={r['dim']}, " + ("full batch" if r["batch_size"] == 0 else f"batch {r['batch_size']}")
    line = f"  {label:<38} {r['engine_steps_per_s']:>10.3e}"
    for k in ("jax", "torch"):
        if f"{k}_steps_per_s" not in r:
            line += f" {'-':>10} {'-':>8}"
            continue
        line += f" {r[f'{k}_steps_per_s']:>10.3e} {r[f'engine_per_{k}']:>7.2f}x"
    if "engine_per_jax" in r:
        line += "  " + ("PASS" if r["engine_per_jax"] >= r["target_jax"] else "BELOW TARGET")
    checks = []
    for k in ("jax", "torch"):
        if f"{k}_agree_share" in r:
            s = f"{k} {r[f'{k}_agree_share']:.0%} agree"
            if f"{k}_start_loss_rel_diff" in r:
                s += f", f(x0) rel diff {r[f'{k}_start_loss_rel_diff']:.0e}"
            checks.append(s)
    if checks:
        line += "  (" + "; ".join(checks) + ")"
    return line


def print_peer_table(rows, missing, n, steps):
    print(f"\nfinite sums against their peers: Adam, lr log-spaced {LR_RANGE[0]:g}..{LR_RANGE[1]:g} per "
          f"trajectory, N={n}, T={steps}, {N_SAMPLES} samples, float64 (trajectory-steps/s; target engine >= "
          f"{TARGET_JAX:g}x JAX+optax)")
    print(f"  {'':<38} {'engine':>10} {'JAX+optax':>10} {'eng/jax':>8} {'torch':>10} {'eng/torch':>8}")
    for r in rows:
        print(_row_line(r))
    for line in missing:
        print(f"  {line}")
    print(f"  agree: |x_peer - x_engine| <= {ATOL:g} + {RTOL:g} |x_engine| per coordinate after T steps, over "
          "the trajectories the engine left finite; f(x0): the full-data loss at the start points against the "
          "engine's first record (full-batch rows)")


def main(argv=None):  # pragma: no cover - a command, timed by hand
    ap = argument_parser(prog="python -m optlab.bench.objective_peers")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("families", nargs="*", help=f"some of {', '.join(FAMILIES)} (default: all)")
    args = ap.parse_args(argv)
    bad = [f for f in args.families if f not in FAMILIES]
    if bad:
        import sys
        print(f"objective_peers: error: unknown family {bad[0]!r} (allowed: {', '.join(FAMILIES)})", file=sys.stderr)
        return 2
    rows, missing = peer_table(args.n, args.steps, args.repeat, families=args.families or FAMILIES)
    print_peer_table(rows, missing, args.n, args.steps)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
