r"""edge_of_stability: the sharpness rises to the stability threshold of the step and hovers there.

On a quadratic, gradient descent with step :math:`\eta` is stable iff the
largest Hessian eigenvalue (the *sharpness*) :math:`S < 2/\eta`
(``lr_divergence``). Cohen, Kaur, Li, Kolter and Talwalkar ("Gradient
Descent on Neural Networks Typically Occurs at the Edge of Stability",
ICLR 2021) found that full-batch GD on a neural network with the squared
loss does not stay comfortably below that bound: the sharpness rises during
training (*progressive sharpening*) until it reaches :math:`2/\eta`, then
hovers there (the *edge of stability*), while the loss keeps falling over
long times but non-monotonically over short ones. The same holds with the
thresholds of other methods: :math:`(2 + 2\beta)/\eta` for heavy-ball
momentum (torch SGD, momentum :math:`\beta`, dampening 0; the quadratic
bound of ``lr_divergence``), and, for Adam, the largest eigenvalue of the
preconditioned Hessian :math:`P^{-1}H` at :math:`(2 + 2\beta_1)/((1 -
\beta_1)\eta)` = 38/lr at :math:`\beta_1 = 0.9` (Cohen et al., "Adaptive
Gradient Methods at the Edge of Stability", arXiv 2207.14484, 2022;
``optlab.engine.track``).

The study runs, with the exact sharpness at every record
(``track=["sharpness"]`` / ``["preconditioned_sharpness"]``; every learning
rate one trajectory of one engine call):

* GD on the minimalist example :math:`\tfrac14(x^2y^2 - 1)^2` (Zhu et al.,
  ICLR 2023; objective ``minimalist_eos``) from a start near the x-axis: the
  sharpness starts near 0, rises past 2/lr, and GD ends at a minimum of
  sharpness just below 2/lr, not at the sharper one gradient flow would reach
  (:math:`2\sqrt{(x_0^2 - y_0^2)^2 + 4}`, it conserves :math:`x^2 - y^2`);
* GD, heavy-ball and Adam on the 2-8-1 tanh network ``mlp`` with the squared
  loss (``loss: mse``) on 64 two-moons points, from PyTorch's default
  initialisation of the two ``nn.Linear`` layers with the first layer scaled
  by ``init_scale`` (a smaller first layer starts flatter, so the sharpening
  is visible before the threshold).

For each run it measures: the sharpness at the start; the first record at or
above the threshold (the *late phase* starts there); the median sharpness
over the late phase; the number of loss increases over it (between
consecutive records, larger than 1e-9 of the loss at the crossing, so
rounding at a converged floor does not count); the loss at the crossing and
at the end. The theory table (``summary["theory"]``) compares each with its
prediction; tolerances and their reasons are in experiments/edge_of_stability.md.
"""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..errors import OptlabError
from ..objectives.minimalist_eos import minimum_sharpness
from ..plots import save
from ..plots.eos import eos_figure
from ..theory import format_table, summary as theory_summary, table as theory_table
from . import register
from ._eos import (INCREASE_FLOOR, SOURCES, TOLERANCE, adam_threshold, claims_for, eos_measures, gd_threshold,
                   heavy_ball_threshold, mlp_start)
from ._lecture import (as_float_list, engine_options, finish, plot_options, positive_int, save_arrays, sgd_like,
                       study_params)

NAME = "edge_of_stability"

DEFAULTS = dict(
    minimalist_x0=[2.0, 0.01],            # start on the minimalist example: near the x-axis, nearly flat
    minimalist_lrs=[0.25, 0.3, 0.35, 0.4],  # < 1/2: a minimum of sharpness 2/lr exists
    minimalist_steps=1000,
    n_samples=64,                         # two-moons points of the mlp (squared loss)
    width=8,                              # hidden tanh units: 4 * width + 1 parameters
    init_scale=0.5,                       # first layer's PyTorch default init times this
    init_seed=0,                          # numpy seed of the initialisation
    gd_lrs=[0.3, 0.35, 0.4],
    momentum=0.5,                         # heavy-ball beta (torch SGD momentum, dampening 0)
    momentum_lrs=[0.4, 0.45, 0.5],
    adam_lrs=[0.01, 0.02, 0.03],
    adam_betas=[0.9, 0.999],
    steps=8000,                           # steps of every mlp run
    record_every=10,                      # mlp records (and sharpness) every this many steps
)
# quick mode keeps the full 8,000 steps: a catapult late in a 4,000-step run can end it while the
# heavy-ball sharpness is still climbing back (median 0.90 x threshold at lr 0.5, init_seed 0)
QUICK = dict(minimalist_lrs=[0.3, 0.4], gd_lrs=[0.35, 0.4], momentum_lrs=[0.45, 0.5], adam_lrs=[0.03, 0.04])


# --- config --------------------------------------------------------------------------

def _lrs(p, key) -> list:
    lrs = as_float_list(key, p[key])
    if not lrs or any(not (v > 0 and np.isfinite(v)) for v in lrs):
        raise OptlabError(f"Invalid study.{key}: {p[key]!r} (must be a list of positive learning rates)")
    return lrs


def _beta(name, v) -> float:
    b = as_float_list(name, v)
    if len(b) != 1 or not 0.0 <= b[0] < 1.0:
        raise OptlabError(f"Invalid study.{name}: {v!r} (must be a number in [0, 1))")
    return b[0]


def settings(cfg: dict) -> dict:
    """The study's knobs, checked (every check before any engine call)."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    x0 = as_float_list("minimalist_x0", p["minimalist_x0"])
    if len(x0) != 2 or not np.isfinite(x0).all():
        raise OptlabError(f"Invalid study.minimalist_x0: {p['minimalist_x0']!r} (must be a point [x, y])")
    betas = as_float_list("adam_betas", p["adam_betas"])
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise OptlabError(f"Invalid study.adam_betas: {p['adam_betas']!r} (must be [beta1, beta2] in [0, 1))")
    init_scale = as_float_list("init_scale", p["init_scale"])[0]
    if not (init_scale > 0 and np.isfinite(init_scale)):
        raise OptlabError(f"Invalid study.init_scale: {p['init_scale']!r} (must be a positive number)")
    s = dict(minimalist_x0=x0, minimalist_lrs=_lrs(p, "minimalist_lrs"),
             minimalist_steps=positive_int("minimalist_steps", p["minimalist_steps"]),
             n_samples=positive_int("n_samples", p["n_samples"]), width=positive_int("width", p["width"]),
             init_scale=init_scale, init_seed=positive_int("init_seed", p["init_seed"], minimum=0),
             gd_lrs=_lrs(p, "gd_lrs"), momentum=_beta("momentum", p["momentum"]),
             momentum_lrs=_lrs(p, "momentum_lrs"), adam_lrs=_lrs(p, "adam_lrs"), adam_betas=betas,
             steps=positive_int("steps", p["steps"]), record_every=positive_int("record_every", p["record_every"]),
             quick=p["quick"])
    if s["record_every"] > s["steps"]:
        raise OptlabError(f"Invalid study.record_every: {s['record_every']} (must be <= study.steps = {s['steps']})")
    return s


def _mlp_options(s) -> dict:
    return dict(loss="mse", n_samples=s["n_samples"])


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    from .. import objectives
    from ..engine.warmup import KernelKey, full_batch
    s = settings(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    dim = 4 * s["width"] + 1
    gd = sgd_like("gd")[0]
    full = full_batch(objectives.get("mlp"), _mlp_options(s))
    return [KernelKey(gd, "minimalist_eos", 2, dtype), KernelKey(gd, "mlp", dim, dtype, full_batch=full),
            KernelKey(sgd_like("momentum")[0], "mlp", dim, dtype, full_batch=full),
            # Adam records its second moment for the preconditioned sharpness: the kernel's _trk variant
            KernelKey("adam", "mlp", dim, dtype, record_state=("exp_avg_sq",), sweep=True, full_batch=full)]


# --- the study ---------------------------------------------------------------------------

@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """GD on the minimalist example; GD, heavy-ball and Adam on the mlp with the squared loss; sharpness
    against the thresholds 2/lr, (2 + 2 beta)/lr and 38/lr, and the theory table."""
    s = settings(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    from .. import objectives
    objectives.get("mlp").make_params(4 * s["width"] + 1, **_mlp_options(s))  # the mlp's own checks, before any run
    beta, (b1, b2) = s["momentum"], s["adam_betas"]
    x0 = np.asarray(s["minimalist_x0"], dtype=float)
    theta0 = mlp_start(s["width"], s["init_scale"], s["init_seed"])

    gd, gd_hyper = sgd_like("gd")
    hb, hb_hyper = sgd_like("momentum", momentum=beta, dampening=0.0)
    gf_sharpness = minimum_sharpness(x0[0], x0[1])
    cases = [
        dict(key="minimalist", method="gd", objective="minimalist_eos", optimizer=gd, hyper=gd_hyper,
             lrs=s["minimalist_lrs"], x0=x0, steps=s["minimalist_steps"], record_every=1, options={},
             threshold=gd_threshold, formula="2/lr", track="sharpness",
             title=f"GD on the minimalist example (x²y² − 1)²/4\nfrom ({x0[0]:g}, {x0[1]:g}); gradient flow "
                   f"would end at sharpness {gf_sharpness:.3g}",
             where="minimalist_eos, GD"),
        dict(key="mlp_gd", method="gd", objective="mlp", optimizer=gd, hyper=gd_hyper, lrs=s["gd_lrs"], x0=theta0,
             steps=s["steps"], record_every=s["record_every"], options=_mlp_options(s), threshold=gd_threshold,
             formula="2/lr", track="sharpness", title="GD on the tanh mlp, squared loss", where="mlp (mse), GD"),
        dict(key="mlp_momentum", method="momentum", objective="mlp", optimizer=hb, hyper=hb_hyper,
             lrs=s["momentum_lrs"], x0=theta0, steps=s["steps"], record_every=s["record_every"],
             options=_mlp_options(s), threshold=lambda lr: heavy_ball_threshold(lr, beta),
             formula=f"(2 + 2β)/lr, β={beta:g}", track="sharpness",
             title=f"heavy-ball β={beta:g} (torch SGD, dampening 0) on the mlp",
             where=f"mlp (mse), heavy-ball β={beta:g}"),
        dict(key="mlp_adam", method="adam", objective="mlp", optimizer="adam", hyper=dict(betas=(b1, b2)),
             lrs=s["adam_lrs"], x0=theta0, steps=s["steps"], record_every=s["record_every"], options=_mlp_options(s),
             threshold=lambda lr: adam_threshold(lr, b1), formula=f"(2 + 2β1)/((1 − β1) lr), β1={b1:g}",
             track="preconditioned_sharpness", title=f"Adam β=({b1:g}, {b2:g}) on the mlp: preconditioned sharpness",
             where=f"mlp (mse), Adam β1={b1:g}"),
    ]

    claims, rows, arrays, panels = [], [], {}, {}
    for c in cases:
        res = simulate(c["optimizer"], c["objective"], x0=c["x0"][None, :], steps=c["steps"],
                       record_every=c["record_every"], lr=list(c["lrs"]), track=[c["track"]],
                       objective_options=c["options"], **c["hyper"], **eng)
        sharp = res.sharpness if c["track"] == "sharpness" else res.preconditioned_sharpness
        runs, panel_runs = [], []
        for i, lr in enumerate(c["lrs"]):
            thr = float(c["threshold"](lr))
            m = eos_measures(res.steps, sharp[i], res.loss[i], thr)
            m["lr"] = lr
            runs.append(m)
            where = f"{c['where']} lr={lr:g}"
            minimalist = c["key"] == "minimalist"
            source = SOURCES["minimalist" if minimalist else c["method"]]
            claims += claims_for(m, c["method"], where, c["formula"], source, minimalist=minimalist)
            panel_runs.append(dict(label=f"{lr:g}", steps=res.steps, sharpness=sharp[i], loss=res.loss[i],
                                   threshold=thr, threshold_label=f"{thr * lr:.4g}/lr = {thr:.4g}", cross=m["cross"]))
        arrays[f"{c['key']}__steps"] = res.steps
        arrays[f"{c['key']}__lrs"] = np.asarray(c["lrs"], dtype=float)
        arrays[f"{c['key']}__sharpness"] = sharp
        arrays[f"{c['key']}__loss"] = res.loss
        arrays[f"{c['key']}__thresholds"] = np.array([r["threshold"] for r in runs])
        rows.append(dict(case=c["key"], objective=c["objective"], optimizer=c["optimizer"], method=c["method"],
                         hyper={k: list(v) if isinstance(v, tuple) else v for k, v in c["hyper"].items()},
                         threshold=c["formula"], steps=c["steps"], record_every=c["record_every"],
                         objective_options=c["options"], runs=runs))
        panels[c["key"]] = dict(title=c["title"], runs=panel_runs, xlog=c["key"] == "minimalist",
                                ylog=c["method"] == "adam",
                                ylabel=("preconditioned sharpness λmax(P⁻¹H)" if c["method"] == "adam"
                                        else "sharpness λmax(H)"))

    fig = eos_figure([panels[k] for k in ("minimalist", "mlp_gd", "mlp_momentum", "mlp_adam")],
                     "Edge of stability: the sharpness rises to the threshold of the step and hovers there while "
                     "the loss keeps falling, non-monotonically")
    figures = [save(fig, out_dir / "edge_of_stability", fmt, dpi).name]
    save_arrays(out_dir / "edge_of_stability.npz", **arrays)

    theory = theory_table(claims)
    setup = dict(minimalist_x0=s["minimalist_x0"], gradient_flow_sharpness=gf_sharpness,
                 mlp=dict(width=s["width"], dim=4 * s["width"] + 1, n_samples=s["n_samples"], loss="mse",
                          init_scale=s["init_scale"], init_seed=s["init_seed"]),
                 tolerance=TOLERANCE, increase_floor=INCREASE_FLOOR, quick=s["quick"])
    metrics = dict(study=NAME, setup=setup, cases=rows, theory=theory, figures=figures)
    text = _table(rows) + "\n\n" + format_table(claims) + "\n" + theory_summary(claims)
    return finish(out_dir, metrics, {"study": NAME, "title": "edge_of_stability: sharpness vs 2/lr, (2+2β)/lr, 38/lr",
                                     "cases": rows, "figures": figures, "theory": theory, "table": text})


def _g(v, fmt=".4g"):
    return "—" if v is None or not np.isfinite(v) else format(v, fmt)


def _table(rows) -> str:
    head = (f"{'case':<13} {'lr':>6} {'threshold':>10} {'S(start)':>9} {'crossed at':>10} {'median/thr':>10} "
            f"{'loss ups':>8} {'L(cross)':>10} {'L(end)':>10}")
    lines = [head, "-" * len(head)]
    for row in rows:
        for r in row["runs"]:
            cross = "never" if r["cross_step"] is None else str(r["cross_step"])
            lines.append(f"{row['case']:<13} {r['lr']:>6g} {r['threshold']:>10.4g} {_g(r['start_sharpness']):>9} "
                         f"{cross:>10} {_g(r['median_over_threshold'], '.4f'):>10} {r['loss_increases']:>8} "
                         f"{_g(r['loss_at_cross'], '.3e'):>10} {_g(r['loss_end'], '.3e'):>10}")
    return "\n".join(lines)
