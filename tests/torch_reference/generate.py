"""Record torch.optim trajectories for optlab's parity tests.

    python tests/torch_reference/generate.py          # rewrite tests/torch_reference/*.npz
    python tests/torch_reference/generate.py adam     # only these optimizers

Every optimizer of ``optlab.optimizers`` runs here under torch.optim 2.13
(float64 parameters, the default dtype left at float32 as in a normal
session, the CPU single-tensor path), with ``p.grad`` fed from optlab's own
objective gradient, ``optlab.objectives.get(name).grad(x, **options)``, so the
comparison isolates the optimizer. Each elementwise case records every one of
200 steps; L-BFGS cases record every ``.step(closure)`` (each up to
``max_iter`` inner iterations) and the cumulative ``func_evals``.

Cases: for every optimizer at least two non-default settings, maximize and
weight decay where torch has them, on 2-D Rosenbrock, a 5-D quadratic
(cond=50, angle=30) and 4-D Rosenbrock. Learning rates are small enough that
every case converges or stays bounded, so a tight per-step bound
(1e-12; L-BFGS 1e-10) is meaningful. Maximize runs ascend the quadratic,
which grows slowly at these rates. Muon (2-D parameters only) gets x as a (1, D)
parameter, as optlab treats it. ``muon_adamw`` runs on the MLP objective
(several widths h, D = 4h + 1) as two torch optimizers stepped one after the
other: torch.optim.Muon on W as an (h, 2) parameter and torch.optim.AdamW on
b, v and c (see :func:`muon_adamw_torch`); its recorded cases stay small (the
files share a size budget), and :data:`MUON_ADAMW_LIVE` adds wider networks
that only the live test runs.

The functions :func:`cases` and :func:`run_case` are what
``tests/test_parity.py`` uses to regenerate live.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STEPS = 200
LBFGS_STEPS = 8

OBJECTIVES = {
    "rosen2d": ("rosenbrock", {}, [-1.5, 2.0]),
    "quad5d": ("quadratic", {"cond": 50.0, "angle": 30.0}, [1.0, -0.8, 0.6, -0.4, 0.9]),
    "rosen4d": ("rosenbrock", {}, [-1.2, 1.0, -0.5, 0.8]),
    "ackley2d": ("ackley", {}, [0.261, 0.331]),
}
MLP_OPTIONS = {"n_samples": 64, "noise": 0.1, "seed": 0}


def mlp_start(hidden, seed=0):
    """A start point for the MLP with ``hidden`` units (D = 4 hidden + 1): N(0, 0.5) entries, rounded
    to 3 decimals so that the recorded cases read plainly."""
    return [round(float(v), 3) for v in np.random.default_rng(seed).normal(0.0, 0.5, 4 * hidden + 1)]


OBJECTIVES.update({f"mlp{4 * h + 1}": ("mlp", MLP_OPTIONS, mlp_start(h, seed=h)) for h in (1, 2, 3, 8, 16, 70, 80)})
ALL = ("rosen2d", "quad5d", "rosen4d")
ASCENT = ("quad5d",)  # maximize: the quadratic only (ascent on Rosenbrock blows up)

# optimizer -> list of (label, optlab keyword arguments, objectives); torch gets the same
# keywords (presets and nesterov_lookahead: see torch_setup).
SETTINGS = {
    "sgd": [
        ("plain", dict(lr=1e-3), ALL),
        ("momentum_damp_wd", dict(lr=1e-3, momentum=0.9, dampening=0.1, weight_decay=0.01), ALL),
        ("nesterov", dict(lr=1e-3, momentum=0.8, nesterov=True), ALL),
        ("nesterov_maximize", dict(lr=1e-2, momentum=0.5, nesterov=True, maximize=True), ASCENT),
    ],
    "gd": [
        ("lr", dict(lr=1.5e-3), ALL),
        ("wd", dict(lr=1e-3, weight_decay=0.05), ALL),
        ("wd_maximize", dict(lr=1e-2, weight_decay=0.05, maximize=True), ASCENT),
    ],
    "momentum": [
        ("lr", dict(lr=5e-4), ALL),
        ("damp_wd", dict(lr=5e-4, momentum=0.8, dampening=0.2, weight_decay=0.02), ALL),
        ("maximize", dict(lr=1e-3, maximize=True), ASCENT),
    ],
    "nesterov": [
        ("lr", dict(lr=5e-4), ALL),
        ("mom_wd", dict(lr=5e-4, momentum=0.7, weight_decay=0.02), ALL),
        ("maximize", dict(lr=1e-3, maximize=True), ASCENT),
    ],
    "nesterov_lookahead": [
        ("lr", dict(lr=5e-4), ALL),
        ("mom_wd", dict(lr=1e-3, momentum=0.7, weight_decay=0.02), ALL),
        ("maximize", dict(lr=5e-3, momentum=0.5, maximize=True), ASCENT),
    ],
    "adagrad": [
        ("default", dict(), ALL),
        ("decay_init_eps", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, eps=1e-8), ALL),
        ("wd", dict(lr=0.05, weight_decay=0.01), ALL),
        ("maximize", dict(lr=0.05, maximize=True), ASCENT),
    ],
    "adadelta": [
        ("default", dict(), ALL),
        ("rho_eps_lr", dict(lr=0.5, rho=0.95, eps=1e-5), ALL),
        ("wd", dict(lr=1.0, rho=0.8, weight_decay=0.01), ALL),
        ("maximize", dict(lr=1.0, maximize=True), ASCENT),
    ],
    "adam": [
        ("default", dict(), ALL),
        ("amsgrad_wd", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01), ALL),
        ("decoupled_eps", dict(lr=5e-3, eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "adamw": [
        ("default", dict(), ALL),
        ("amsgrad_wd", dict(lr=1e-2, amsgrad=True, weight_decay=0.3), ALL),
        ("maximize", dict(lr=1e-2, betas=(0.85, 0.995), maximize=True), ASCENT),
    ],
    "adamax": [
        ("default", dict(), ALL),
        ("betas_eps", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6), ALL),
        ("wd", dict(lr=5e-3, weight_decay=0.02), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "nadam": [
        ("default", dict(), ALL),
        ("betas_mdecay", dict(lr=5e-3, betas=(0.85, 0.99), momentum_decay=8e-3), ALL),
        ("wd", dict(lr=5e-3, weight_decay=0.01), ALL),
        ("decoupled_wd", dict(lr=5e-3, weight_decay=0.1, decoupled_weight_decay=True), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "radam": [
        ("default", dict(), ALL),
        ("betas_0.9", dict(lr=1e-3, betas=(0.9, 0.9), weight_decay=0.01), ALL),
        ("never_rectified", dict(lr=5e-4, betas=(0.8, 0.6)), ALL),
        ("decoupled_wd", dict(lr=1e-3, weight_decay=0.1, decoupled_weight_decay=True), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "rmsprop": [
        ("default", dict(lr=1e-3), ALL),
        ("centered_momentum", dict(lr=1e-3, alpha=0.9, momentum=0.5, centered=True), ALL),
        ("momentum_wd_eps", dict(lr=1e-3, momentum=0.3, weight_decay=0.01, eps=1e-6), ALL),
        ("maximize", dict(lr=1e-2, centered=True, maximize=True), ASCENT),
    ],
    "asgd": [
        ("default", dict(lr=1e-3), ALL),
        ("t0_lambd_alpha", dict(lr=1e-3, lambd=1e-3, alpha=0.6, t0=50.0), ALL),
        ("wd_t0_0", dict(lr=1e-3, weight_decay=0.01, t0=0.0, lambd=1e-2), ALL),
        ("maximize", dict(lr=1e-2, t0=20.0, maximize=True), ASCENT),
    ],
    "rprop": [
        ("default", dict(), ALL),
        ("etas_steps", dict(lr=1e-3, etas=(0.4, 1.1), step_sizes=(1e-5, 1.0)), ALL),
        ("lr_above_max", dict(lr=0.5, step_sizes=(1e-6, 0.1)), ALL),
        ("maximize", dict(lr=1e-3, step_sizes=(1e-6, 0.01), maximize=True), ASCENT),
    ],
    "sparse_adam": [
        ("default", dict(lr=1e-2), ALL),
        ("betas_eps", dict(lr=5e-3, betas=(0.8, 0.99), eps=1e-6), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "muon": [
        ("default", dict(), ALL),
        ("momentum_no_nesterov", dict(lr=5e-3, momentum=0.9, nesterov=False, weight_decay=0.0), ALL),
        ("match_rms_coefficients", dict(lr=2e-3, adjust_lr_fn="match_rms_adamw", ns_coefficients=(3.0, -3.2, 1.2),
                                        eps=1e-5, ns_steps=3, weight_decay=0.01), ALL),
        ("original_ns7", dict(lr=1e-2, adjust_lr_fn="original", ns_steps=7, momentum=0.5), ALL),
    ],
    # Muon on the MLP's W (h x 2), AdamW on b, v, c: h = 1 (no transpose), 2 (square), 3 and 8 (transposed)
    "muon_adamw": [
        ("default", dict(), ("mlp33",)),
        ("nesterov_off_betas", dict(lr=2e-2, momentum=0.9, nesterov=False, weight_decay=0.0, adamw_lr=1e-2,
                                    adamw_betas=(0.8, 0.99)), ("mlp5", "mlp13")),
        ("match_rms_coefficients", dict(lr=1e-2, adjust_lr_fn="match_rms_adamw", ns_coefficients=(3.0, -3.2, 1.2),
                                        ns_steps=3, eps=1e-5, weight_decay=0.01, adamw_lr=5e-3, adamw_eps=1e-6,
                                        adamw_weight_decay=0.1), ("mlp9", "mlp13")),
    ],
    "adafactor": [
        ("default", dict(), ALL),
        ("lr_decay_eps_d", dict(lr=0.05, beta2_decay=-0.5, eps1=1e-30, eps2=1e-2, d=1.5), ALL),
        ("wd_clip", dict(lr=0.02, weight_decay=0.1, d=1.0, beta2_decay=-1.0), ALL),
        ("foreach", dict(lr=0.03, foreach=True, weight_decay=0.05), ALL),
        ("rho_1_sqrt_t_eps1", dict(lr=0.3, eps1=0.05, d=2.0, beta2_decay=0.0), ALL),
        ("maximize", dict(lr=1e-2, maximize=True), ASCENT),
    ],
    "lbfgs": [
        ("default", dict(), ALL),
        ("lr_hist_iter", dict(lr=0.05, history_size=3, max_iter=7), ALL),
        ("strong_wolfe", dict(line_search_fn="strong_wolfe"), ALL),
        ("wolfe_hist_eval", dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10, max_eval=12),
         ALL),
        ("wolfe_lr_tolgrad", dict(line_search_fn="strong_wolfe", lr=0.5, tolerance_grad=1e-5), ALL),
        # torch's line search takes its own tolerance_change (1e-9), not the optimizer's: near
        # Ackley's minimum the zoom's bracket test decides (the optimizer's 1e-6 stopped a step early)
        ("wolfe_tol_change", dict(line_search_fn="strong_wolfe", tolerance_change=1e-6), ("ackley2d",)),
    ],
}

# Genuinely sparse gradients for SparseAdam (minibatches touch a few features); live test only,
# since the data set belongs to the objective (regenerated in-process, never stale).
SPARSE = ("sparse_linear", dict(n_samples=64, batch_size=4, nnz=2),
          [0.5, -0.3, 0.2, 0.1, -0.4, 0.3, 0.0, 0.2])


# wider networks for the live test only: h = 16 (the 8-lane dot product's vector tail), 70 and 80 (its
# main loop of 64 products, then the scalar or the vector tail); Newton-Schulz with 7 steps
MUON_ADAMW_LIVE = [
    ("original_ns7", dict(lr=5e-2, adjust_lr_fn="original", ns_steps=7, momentum=0.5, adamw_lr=2e-2,
                          adamw_weight_decay=0.0), ("mlp65", "mlp281")),
    ("default", dict(), ("mlp65", "mlp321")),
]


def cases(names=None):
    """All cases as dicts: optimizer, label, objective key, objective name/options, x0, kwargs, steps."""
    out = []
    for opt, settings in SETTINGS.items():
        if names and opt not in names:
            continue
        for label, kw, objs in settings:
            for key in objs:
                name, options, x0 = OBJECTIVES[key]
                out.append(dict(optimizer=opt, label=label, key=key, objective=name,
                                options=dict(options), x0=list(x0), kwargs=dict(kw),
                                steps=LBFGS_STEPS if opt == "lbfgs" else STEPS))
    return out


def muon_adamw_live_cases():
    """The live-only muon_adamw cases (:data:`MUON_ADAMW_LIVE`), as :func:`cases` builds them."""
    out = []
    for label, kw, objs in MUON_ADAMW_LIVE:
        for key in objs:
            name, options, x0 = OBJECTIVES[key]
            out.append(dict(optimizer="muon_adamw", label=label, key=key, objective=name, options=dict(options),
                            x0=list(x0), kwargs=dict(kw), steps=STEPS))
    return out


def sparse_case(x0=None):
    name, options, start = SPARSE
    return dict(optimizer="sparse_adam", label="sparse_minibatch", key="sparse8d", objective=name,
                options=dict(options), x0=list(start if x0 is None else x0), kwargs=dict(lr=1e-2),
                steps=STEPS)


def torch_setup(opt_name, kwargs):
    """(torch class name, torch keyword arguments) for an optlab optimizer and its keywords."""
    import optlab
    spec = optlab.optimizers.get(opt_name)
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    if spec.preset_of == "sgd":
        base = optlab.optimizers.get("sgd").defaults
        kw = {**{k: v for k, v in spec.defaults.items() if base[k] != v}, **kw}
        return "SGD", kw
    if opt_name == "adafactor" and ("eps1" in kw or "eps2" in kw):  # torch takes them as a pair
        d1, d2 = spec.defaults["eps1"], spec.defaults["eps2"]
        kw["eps"] = (kw.pop("eps1", d1), kw.pop("eps2", d2))
    if opt_name == "nesterov_lookahead":
        kw = {"momentum": spec.defaults["momentum"], **kw, "nesterov": True}
        return "SGD", kw
    return spec.torch_name, kw


def _gradient_fn(case):
    """x -> (f, g) as optlab computes them (a minibatch per step for stochastic objectives)."""
    import optlab
    obj = optlab.objectives.get(case["objective"])
    options = case["options"]
    if case["objective"] != "sparse_linear":
        return lambda x, step: (float(obj.value(x, **options)), np.asarray(obj.grad(x, **options)))
    dim = len(case["x0"])
    p = obj.make_params(dim, **options)
    kernel = obj.value_grad_kernel  # plain Python: the minibatch of step t, trajectory 0, seed 0

    def fg(x, step):
        g = np.zeros((dim, 1))
        f = np.zeros(1)
        kernel(np.asarray(x, dtype=np.float64).reshape(dim, 1), g, f, p, 1,
               np.array([0, step, 0], dtype=np.int64))
        return float(f[0]), g[:, 0].copy()
    return fg


def run_case(case):
    """Run one case under torch; returns {"x": (steps+1, D), ...extra arrays}.

    torch runs single-threaded here: the tensors are tiny (no op splits its work), and on a
    busy machine torch's thread pool makes sparse ``add_`` about 100x slower.
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_case(case, torch)
    finally:
        torch.set_num_threads(threads)


MUON_KEYS = ("lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps", "adjust_lr_fn")


def muon_adamw_torch(kwargs):
    """(Muon keywords, AdamW keywords) for optlab's ``muon_adamw`` keywords: Muon's keep their names,
    ``adamw_<name>`` becomes AdamW's ``<name>``."""
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    muon = {k: v for k, v in kw.items() if k in MUON_KEYS}
    adamw = {k[len("adamw_"):]: v for k, v in kw.items() if k.startswith("adamw_")}
    assert len(muon) + len(adamw) == len(kw), kw
    return muon, adamw


def _run_muon_adamw(case, torch, fg):
    """torch's usual setup on the MLP: Muon([W]) and AdamW([b, v, c]), both stepped every iteration,
    p.grad fed from optlab's gradient of the full parameter vector."""
    x0 = np.asarray(case["x0"], dtype=np.float64)
    h = (x0.size - 1) // 4
    parts = [torch.tensor(x0[:2 * h].reshape(h, 2)), torch.tensor(x0[2 * h:3 * h]),
             torch.tensor(x0[3 * h:4 * h]), torch.tensor(x0[4 * h:])]
    parts = [p.clone().requires_grad_(True) for p in parts]
    muon_kw, adamw_kw = muon_adamw_torch(case["kwargs"])
    opts = [torch.optim.Muon(parts[:1], **muon_kw), torch.optim.AdamW(parts[1:], **adamw_kw)]

    def flat():
        return np.concatenate([p.detach().numpy().reshape(-1) for p in parts])

    xs = [flat()]
    for step in range(case["steps"]):
        _, g = fg(flat(), step)
        offsets = np.cumsum([0] + [p.numel() for p in parts])
        for p, a, b in zip(parts, offsets[:-1], offsets[1:]):
            p.grad = torch.from_numpy(g[a:b].copy()).reshape(p.shape)
        for opt in opts:
            opt.step()
        xs.append(flat())
    return {"x": np.vstack(xs)}


def _run_case(case, torch):
    fg = _gradient_fn(case)
    if case["optimizer"] == "muon_adamw":
        return _run_muon_adamw(case, torch, fg)
    cls_name, kw = torch_setup(case["optimizer"], case["kwargs"])
    p = torch.tensor(np.asarray(case["x0"], dtype=np.float64), dtype=torch.float64, requires_grad=True)
    if cls_name == "Muon":  # 2-D parameters only: optlab's x is one 1 x D matrix
        p = p.detach().reshape(1, -1).requires_grad_(True)
    opt = getattr(torch.optim, cls_name)([p], **kw)
    xs = [p.detach().numpy().reshape(-1).copy()]
    out = {}
    if cls_name == "LBFGS":
        evals = []

        def closure():
            x = p.detach().numpy().copy()
            f, g = fg(x, step)
            p.grad = torch.from_numpy(g.copy())
            return torch.tensor(f, dtype=torch.float64)

        for step in range(case["steps"]):
            opt.step(closure)
            xs.append(p.detach().numpy().copy())
            evals.append(opt.state[p]["func_evals"])
        out["func_evals"] = np.asarray(evals, dtype=np.int64)
    else:
        sparse = cls_name == "SparseAdam"
        lookahead = case["optimizer"] == "nesterov_lookahead"
        ax = []
        for step in range(case["steps"]):
            _, g = fg(p.detach().numpy().reshape(-1).copy(), step)
            grad = torch.from_numpy(g.copy()).reshape(p.shape)
            p.grad = grad.to_sparse() if sparse else grad
            opt.step()
            x = p.detach().numpy().reshape(-1).copy()
            if lookahead:  # w = theta + momentum * lr * b (see optlab.optimizers.nesterov_lookahead)
                b = opt.state[p]["momentum_buffer"].numpy()
                x = x + kw["momentum"] * kw["lr"] * b
            xs.append(x)
            if cls_name == "ASGD":
                ax.append(opt.state[p]["ax"].numpy().copy())
        if cls_name == "ASGD":
            out["ax"] = np.vstack([np.zeros(len(case["x0"]))] + ax)
    out["x"] = np.vstack(xs)
    return out


def _case_key(case):
    return f"{case['label']}__{case['key']}"


def write(names=None):
    import torch
    done = {}
    for case in cases(names):
        res = run_case(case)
        if not np.isfinite(res["x"]).all() or np.abs(res["x"]).max() > 1e3:
            raise SystemExit(f"case {case['optimizer']}/{_case_key(case)} does not stay bounded; "
                             "pick a smaller lr")
        done.setdefault(case["optimizer"], []).append((case, res))
    for opt, items in done.items():
        arrays = {}
        meta = []
        for case, res in items:
            key = _case_key(case)
            meta.append({**case, "name": key})
            for k, v in res.items():
                arrays[f"{key}__{k}"] = v
        arrays["meta"] = np.array(json.dumps({"torch": torch.__version__, "cases": meta}))
        np.savez_compressed(HERE / f"{opt}.npz", **arrays)
        print(f"{opt}: {len(items)} cases")


def load(path):
    """(meta dict, arrays) of one recorded file."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


if __name__ == "__main__":
    write(sys.argv[1:] or None)
