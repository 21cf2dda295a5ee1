r"""plateau_cliff: a flat plateau, a steep cliff, and what gradient clipping changes.

``plateau_cliff`` is a crater in a plateau: outside radius R = 0.5 the
gradient is ~0.02 |x| (a gentle bowl), across the rim f drops by 5 within
~0.1 (slope up to 50). Gradient descent with a moderate lr creeps over the
plateau (each step ~ lr * 0.05), and its first step on the wall is
lr * 50: it is thrown across the crater onto the far plateau and creeps
again (Goodfellow, Bengio & Courville, *Deep Learning*, 2016, sec. 8.2.4;
Pascanu, Mikolov & Bengio, ICML 2013).

Remedies compared from the same starts:

* **gradient-norm clipping** (``clip_grad_norm=c``, as
  ``torch.nn.utils.clip_grad_norm_``): g <- g * min(1, c / |g|). On the
  plateau |g| < c, so nothing changes there; on the wall the step is capped
  at lr * c, so GD walks down the cliff instead of jumping.
* **a smaller lr**: no jump, but the creep over the plateau gets 10x slower.
* **adaptive methods** (Adam, RMSprop): the step is normalised by a running
  RMS of the gradient, ~lr per coordinate on the plateau (fast) and the
  sudden large gradient on the wall is divided by its own size.

Per method the study reports, over the main start and ``n_starts`` more
(|x0| uniform in ``radii``, random directions; where GD lands after its jump
depends sensitively on |x0|), the largest single step, the share of runs
that "jump" (a step longer than ``jump``), and the median steps to
tolerance.
"""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..errors import OptlabError
from ..plots import save
from ..plots.cliffs import cliff_figure
from ..manifest import add_runs, unique_name
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, positive_int, require_2d,
                       save_arrays, sgd_like, study_params)

NAME = "plateau_cliff"

DEFAULTS = dict(
    objective={"name": "plateau_cliff"},
    x0=[2.2, 0.0],
    n_starts=32,      # more starts, |x0| uniform in `radii`, random direction: for the shares
    radii=[1.0, 3.0],
    steps=3000,
    lr=0.1,           # GD's lr (and the clipped GD's)
    small_lr=0.01,
    clip=[0.5, 5.0],  # clip_grad_norm thresholds
    adam_lr=0.05,
    rmsprop_lr=0.01,
    jump=0.5,         # a step longer than this is a "jump"
    tol=1e-6,
)
QUICK = dict(n_starts=12, steps=3000)


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["gd", "adam", "rmsprop"], extra=())


@register(NAME, kernels=kernels)
def run(cfg: dict, out_dir) -> dict:
    """GD crawls then overshoots at the cliff; clipping, a small lr, Adam and RMSprop compared."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    (e,) = objective_entries([p["objective"]], NAME)
    require_2d(e, NAME, "draws the plateau and its cliff as a contour",
               "plateau_cliff (dim 2, the default); for other dimensions use the 'single' study")
    if e.f_min() is None:
        raise OptlabError(f"Study '{NAME}' measures the gap to the minimum; '{e.name}' has no known minimum")
    steps = positive_int("steps", p["steps"])
    x0 = np.asarray(as_float_list("x0", p["x0"]), dtype=float).reshape(1, 2)
    n_more = positive_int("n_starts", p["n_starts"], minimum=0)
    radii = as_float_list("radii", p["radii"], minimum=0.0)
    if len(radii) != 2 or not radii[0] <= radii[1]:
        raise OptlabError(f"Invalid study.radii: {p['radii']!r} (must be [r_min, r_max])")
    eng = engine_options(cfg)
    rng = np.random.default_rng(eng["seed"])
    rad = rng.uniform(radii[0], radii[1], n_more)
    ang = rng.uniform(0.0, 2 * np.pi, n_more)
    starts = np.vstack([x0, rad[:, None] * np.stack([np.cos(ang), np.sin(ang)], axis=1)])
    lr = as_float_list("lr", p["lr"], minimum=0.0)[0]
    small = as_float_list("small_lr", p["small_lr"], minimum=0.0)[0]
    clips = as_float_list("clip", p["clip"], minimum=0.0)
    adam_lr = as_float_list("adam_lr", p["adam_lr"], minimum=0.0)[0]
    rms_lr = as_float_list("rmsprop_lr", p["rmsprop_lr"], minimum=0.0)[0]
    jump = as_float_list("jump", p["jump"], minimum=0.0)[0]
    tol = float(p["tol"])
    fmt, dpi = plot_options(cfg)

    gd, gd_h = sgd_like("gd", momentum=0.0)
    plan = [(f"GD lr={lr:g}", "gd", "solid", gd, dict(gd_h, lr=lr), 0.0)]
    styles = ["dashed", "dashdot", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1))]
    # the second field keys the colour: each GD variant its own (they were four blues told apart by dashes)
    for i, c in enumerate(clips):
        plan.append((f"GD lr={lr:g} + clip_grad_norm={c:g}", f"clip_{c:g}", styles[i % len(styles)], gd,
                     dict(gd_h, lr=lr), c))
    plan += [(f"GD lr={small:g} (smaller)", "gd-small", "dotted", gd, dict(gd_h, lr=small), 0.0),
             (f"Adam lr={adam_lr:g}", "adam", "solid", "adam", dict(lr=adam_lr), 0.0),
             (f"RMSprop lr={rms_lr:g}", "rmsprop", "solid", "rmsprop", dict(lr=rms_lr), 0.0)]

    f_min = e.f_min()
    runs, rows, arrays, keys = [], [], {}, []
    for label, method, style, opt, hyper, clip in plan:
        res = simulate(opt, e.name, x0=starts, steps=steps, record_every=1, tol=tol, clip_grad_norm=clip,
                       objective_options=e.options, **hyper, **eng)
        step_len = np.linalg.norm(np.diff(res.x, axis=1), axis=2)          # (n, steps)
        with np.errstate(invalid="ignore"):
            max_step = np.nanmax(np.where(np.isfinite(step_len), step_len, np.nan), axis=1)
        jumped = max_step > jump
        tts = res.tol_step  # reached, and stayed
        runs.append(dict(label=label, method=method, style=style, steps=res.steps, x=res.x[0],
                         loss=res.loss[0] - f_min, step_len=step_len[0], radius=np.linalg.norm(res.x[0], axis=1),
                         tol_step=int(tts[0])))
        rows.append(dict(run=label, optimizer=opt, hyper={k: v for k, v in hyper.items()}, clip_grad_norm=clip,
                         max_step_main=float(max_step[0]), jumped_main=bool(jumped[0]),
                         steps_to_tol_main=int(tts[0]) if tts[0] >= 0 else None,
                         final_gap_main=float(res.loss_final[0] - f_min),
                         share_jumped=float(jumped.mean()), n_starts=int(len(starts)),
                         median_steps_to_tol=float(np.median(np.where(tts >= 0, tts, np.inf))),
                         share_reached_tol=float((tts >= 0).mean()),
                         largest_step_any=float(np.nanmax(max_step))))
        key = unique_name(_slug(label), {k.rsplit("__", 1)[0] for k in arrays})  # a repeated clip value too
        arrays[f"{key}__x"] = res.x[0]
        arrays[f"{key}__max_step"] = max_step
        keys.append((label, [f"{key}__x", f"{key}__max_step"]))
    fig = cliff_figure(e.spec, e.options, runs, jump,
                       f"{e.label}: plateau, cliff at |x| ≈ 0.5; GD, clipping, a smaller lr, Adam, RMSprop "
                       f"from ({x0[0, 0]:g}, {x0[0, 1]:g}), {steps} steps")
    figure_path = save(fig, out_dir / "plateau_cliff", fmt, dpi)
    save_arrays(out_dir / "plateau_cliff.npz", starts=starts, **arrays)
    add_runs(out_dir, "plateau_cliff.npz", "arrays", keys)
    metrics = dict(study=NAME, objective=e.label, x0=x0[0].tolist(), n_starts=int(len(starts)), radii=radii, jump=jump, tol=tol,
                   runs=rows, figures=[figure_path.name])
    return finish(out_dir, metrics, {"study": NAME, "title": "plateau_cliff: crawl, overshoot, and gradient clipping",
                                     "runs": rows, "figures": [figure_path.name], "table": _table(rows)})


def _slug(label):
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def _table(rows) -> str:
    head = (f"{'run':<34} {'max step':>8} {'steps→tol':>9} {'jumped (all starts)':>19} {'median steps→tol':>16}")
    lines = [head, "-" * len(head)]
    for r in rows:
        st = "—" if r["steps_to_tol_main"] is None else str(r["steps_to_tol_main"])
        med = "—" if not np.isfinite(r["median_steps_to_tol"]) else f"{r['median_steps_to_tol']:.0f}"
        lines.append(f"{r['run'][:34]:<34} {r['max_step_main']:>8.3g} {st:>9} "
                     f"{100 * r['share_jumped']:>14.0f}% of {r['n_starts']:<2} {med:>16}")
    return "\n".join(lines)
