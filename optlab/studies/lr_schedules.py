r"""lr_schedules: constant lr, step decay, cosine, warm-up + cosine, one-cycle and reduce-on-plateau.

Two noisy finite sums, each run under the six schedules of
``torch.optim.lr_scheduler`` (torch 2.13), every schedule at its own tuned
peak lr:

* **minibatch SGD on least squares** (``linear_regression``, batch 8 of 256
  samples, the recorded loss is the full-data loss): a constant lr
  :math:`\eta` makes SGD hover in a noise ball whose size grows with
  :math:`\eta` (the minibatch gradient does not vanish at the minimum); a lr
  that decays to (near) zero shrinks the ball as it goes and ends below any
  constant lr's floor (Robbins & Monro 1951; Bottou, Curtis & Nocedal,
  SIAM Review 2018, Theorems 4.6 and 4.7).
* **Adam on a small MLP** (``mlp``, two moons, batch 64 of 128): Adam's first
  steps move every weight by about :math:`\eta` whatever its gradient
  (:math:`\hat m/\sqrt{\hat v}` is :math:`\pm 1` at step 1 and near it while the
  gradients agree); at a large peak lr this saturates the tanh units at once
  and the run stalls far above a good fit, while a linear warm-up
  (``LinearLR`` then ``CosineAnnealingLR`` in a ``SequentialLR``) reaches the
  same peak lr only after Adam's averages have settled (Liu et al., "On the
  variance of the adaptive learning rate and beyond", ICLR 2020; Ma &
  Yarats, AAAI 2021; Kalra & Barkeshli, NeurIPS 2024).

The peak lr of each schedule comes from a batched search: every candidate lr
x every start is one trajectory of one engine call per schedule (the
optimizer's lr, or OneCycleLR's ``max_lr``); the tuned lr has the best median
final loss over the starts. The theory table checks the two lessons on those
runs: the decayed schedules end below the constant lr's floor by at least
``floor_factor``, and at a peak lr found in the search Adam without warm-up
fails from most starts while with the warm-up it does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import sweep
from ..errors import OptlabError
from ..manifest import add_runs
from ..plots import save
from ..plots.schedules import schedules_figure, warmup_figure
from ..theory import Claim, format_table, summary as theory_summary, table as theory_table
from . import register
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, positive_int,
                       save_arrays, study_params)

NAME = "lr_schedules"

DEFAULTS = dict(
    sgd={"name": "linear_regression", "n_samples": 256, "noise": 0.5, "seed": 0, "batch_size": 8,
         "steps": 3200, "lrs": [0.001, 0.3, 11]},
    adam={"name": "mlp", "n_samples": 128, "noise": 0.1, "seed": 0, "batch_size": 64,
          "steps": 1000, "lrs": [0.1, 30.0, 11]},
    starts=16,                  # start points per candidate lr
    warmup=0.2,                 # LinearLR warm-up over this fraction of the run ...
    warmup_start_factor=0.01,   # ... from this fraction of the peak lr
    step_every=0.25,            # StepLR: multiply the lr by step_gamma every quarter of the run
    step_gamma=0.3,
    plateau_factor=0.5,         # ReduceLROnPlateau: factor, patience as a fraction of the run, threshold 0
    plateau_patience=0.04,
    fail_loss=0.1,              # Adam on the MLP: a start fails when its final full-data loss is above this
    floor_factor=10.0,          # claim: decayed schedules end at least this factor below the constant lr
    records=100,                # recorded points per run
)
QUICK = dict(
    sgd={"name": "linear_regression", "n_samples": 256, "noise": 0.5, "seed": 0, "batch_size": 8,
         "steps": 1600, "lrs": [0.003, 0.3, 5]},
    adam={"name": "mlp", "n_samples": 128, "noise": 0.1, "seed": 0, "batch_size": 64,
          "steps": 300, "lrs": [1.0, 30.0, 7]},
    starts=12,
    records=50,
)
EXTRA = ("steps", "lrs")
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "onecycle", "plateau")


@dataclass(frozen=True)
class Schedule:
    """One schedule of the comparison: ``spec`` is the ``scheduler=`` dict (None: a constant lr) and
    ``peak`` the grid key that sets its peak lr."""
    key: str
    label: str
    short: str
    spec: dict | None
    peak: str = "lr"


def schedules(steps: int, p: dict) -> list[Schedule]:
    """The six schedules for a run of ``steps`` steps, with the study's knobs (torch's option names)."""
    warm = max(1, int(round(p["warmup"] * steps)))
    every = max(1, int(round(p["step_every"] * steps)))
    patience = max(1, int(round(p["plateau_patience"] * steps)))
    return [
        Schedule("constant", "constant lr", "constant", None),
        Schedule("step", f"StepLR (×{p['step_gamma']:g} every {_pct(p['step_every'])} of the run)", "step",
                 {"name": "StepLR", "step_size": every, "gamma": p["step_gamma"]}),
        Schedule("cosine", "CosineAnnealingLR", "cosine", {"name": "CosineAnnealingLR", "T_max": steps}),
        Schedule("warmup_cosine", f"LinearLR warm-up ({_pct(p['warmup'])} of the run) + cosine", "warm-up + cosine",
                 {"name": "SequentialLR", "milestones": [warm], "schedulers": [
                     {"name": "LinearLR", "start_factor": p["warmup_start_factor"], "end_factor": 1.0,
                      "total_iters": warm},
                     {"name": "CosineAnnealingLR", "T_max": steps - warm}]}),
        Schedule("onecycle", "OneCycleLR (lr only)", "one-cycle",
                 {"name": "OneCycleLR", "max_lr": 1.0, "total_steps": steps, "cycle_momentum": False},
                 peak="scheduler.max_lr"),
        Schedule("plateau", f"ReduceLROnPlateau (×{p['plateau_factor']:g}, patience {_pct(p['plateau_patience'])} "
                 "of the run)", "plateau",
                 {"name": "ReduceLROnPlateau", "factor": p["plateau_factor"], "patience": patience,
                  "threshold": 0.0}),
    ]


def _pct(x) -> str:
    return f"{100 * x:g}%"


def _lr_grid(name, spec) -> np.ndarray:
    vals = as_float_list(name, spec)
    if len(vals) != 3 or not 0 < vals[0] < vals[1] or not float(vals[2]).is_integer() or vals[2] < 2:
        raise OptlabError(f"Invalid study.{name}.lrs: {spec!r} (must be [start, stop, num] with 0 < start < stop, "
                          "num >= 2: a log grid)")
    return np.geomspace(vals[0], vals[1], int(vals[2]))


def _fraction(name, v, hi=1.0, open_hi=False) -> float:
    """A knob in (0, hi] (or (0, hi) with ``open_hi``), as a float; one line otherwise."""
    x = as_float_list(name, v)[0]
    if not (0.0 < x and (x < hi if open_hi else x <= hi)):
        raise OptlabError(f"Invalid study.{name}: {v!r} (must be in (0, {hi:g}{')' if open_hi else ']'})")
    return x


def _params(cfg: dict) -> dict:
    """The study's knobs, checked; the two problems as objective entries (before any run)."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    out = dict(p)
    for role, want in (("sgd", ("linear_regression", "logistic_regression")), ("adam", ("mlp",))):
        (e,) = objective_entries([p[role]], NAME, extra=EXTRA)
        if e.name not in want:
            raise OptlabError(f"Invalid study.{role}: objective '{e.name}' (must be {' or '.join(want)}: "
                              f"{'a finite sum with a known minimum' if role == 'sgd' else 'the MLP'})")
        if "full_loss" in e.options:
            raise OptlabError(f"Invalid study.{role}: full_loss is set by the study (it records the full-data "
                              "loss); remove full_loss")
        out[role] = e
        steps = e.extra.get("steps", DEFAULTS[role]["steps"])
        out[f"{role}_steps"] = positive_int(f"{role}.steps", steps, minimum=20)
        out[f"{role}_lrs"] = _lr_grid(role, e.extra.get("lrs", DEFAULTS[role]["lrs"]))
    out["starts"] = positive_int("starts", p["starts"], minimum=2)
    out["records"] = positive_int("records", p["records"], minimum=8)
    out["warmup"] = _fraction("warmup", p["warmup"], hi=0.5)
    out["warmup_start_factor"] = _fraction("warmup_start_factor", p["warmup_start_factor"])
    out["step_every"] = _fraction("step_every", p["step_every"])
    out["step_gamma"] = _fraction("step_gamma", p["step_gamma"], hi=1.0)
    out["plateau_factor"] = _fraction("plateau_factor", p["plateau_factor"], open_hi=True)
    out["plateau_patience"] = _fraction("plateau_patience", p["plateau_patience"])
    out["fail_loss"] = as_float_list("fail_loss", p["fail_loss"], minimum=0.0)[0]
    out["floor_factor"] = as_float_list("floor_factor", p["floor_factor"], minimum=1.0)[0]
    return out


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front.

    One per (optimizer, kernel variant): the plain kernel for the constant lr, and the scheduled
    variants its schedules need (``KernelKey.schedule``: a program, a table, ReduceLROnPlateau's)."""
    from ..engine.warmup import KernelKey, full_batch, schedule_kind
    p = _params(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    keys = []
    for opt, role in (("sgd", "sgd"), ("adam", "adam")):
        kinds = dict.fromkeys(schedule_kind(opt, s.spec) for s in schedules(p[f"{role}_steps"], p))
        # the lr search sweeps, and the runs at one lr take its kernel (KernelKey.sweep)
        full = full_batch(p[opt].spec, p[opt].options)
        keys += [KernelKey(opt, p[opt].name, p[opt].dim, dtype, kind, sweep=True, full_batch=full) for kind in kinds]
    return keys


# --- pieces ---------------------------------------------------------------------------------------

def finite_sum_data(entry) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a finite-sum entry, decoded from its parameter array (layout in
    ``optlab.objectives._data``: 8 header values, then X row-major, then y)."""
    p = entry.spec.make_params(entry.dim, **{**entry.options, "batch_size": 0})
    n, d = int(p[0]), int(p[1])
    return p[8:8 + n * d].reshape(n, d), p[8 + n * d: 8 + n * d + n]


def mlp_full_loss(thetas, X, y, l2=0.0) -> np.ndarray:
    """The mlp objective's full-data loss at many parameter vectors ``thetas`` (..., D) at once
    (``optlab.objectives.mlp.mlp_loss_np`` batched; non-finite where theta is)."""
    th = np.asarray(thetas, dtype=float)
    shape = th.shape[:-1]
    th = th.reshape(-1, th.shape[-1])
    h = (th.shape[1] - 1) // 4
    W = th[:, :2 * h].reshape(-1, h, 2)
    b, v, c = th[:, 2 * h:3 * h], th[:, 3 * h:4 * h], th[:, 4 * h]
    with np.errstate(all="ignore"):
        A = np.tanh(np.einsum("nd,khd->knh", X, W) + b[:, None, :])
        o = np.einsum("knh,kh->kn", A, v) + c[:, None]
        loss = np.mean(np.logaddexp(0.0, o) - y[None, :] * o, axis=1) + 0.5 * l2 * np.sum(th * th, axis=1)
    return loss.reshape(shape)


def torch_init_starts(h: int, n: int, rng) -> np.ndarray:
    """n MLP parameter vectors as torch.nn.Linear initialises them: every weight and bias uniform in
    +-1/sqrt(fan_in) (fan_in 2 for the hidden layer, h for the output)."""
    a, b = 1.0 / np.sqrt(2.0), 1.0 / np.sqrt(h)
    return np.hstack([rng.uniform(-a, a, (n, 3 * h)), rng.uniform(-b, b, (n, h + 1))])


def tuned_index(medians) -> int | None:
    """Index of the best (smallest) finite median, the first on ties; None when none is finite."""
    m = np.asarray(medians, dtype=float)
    ok = np.isfinite(m)
    return int(np.argmin(np.where(ok, m, np.inf))) if ok.any() else None


def stall_ratio(gap) -> float:
    """How much a run still gains late: per start, mean gap over the last quarter of the records / mean
    over the third quarter; the median over the starts (about 1 when the run sits at a floor)."""
    g = np.asarray(gap, dtype=float)[:, 1:]
    q = g.shape[1] // 4
    if q < 1:
        return float("nan")
    with np.errstate(all="ignore"):
        r = g[:, -q:].mean(axis=1) / g[:, -2 * q:-q].mean(axis=1)
    return float(np.median(np.where(np.isfinite(r), r, np.inf)))


def warmup_lr(fail_without, fail_with) -> int | None:
    """The lr (index) of the search where the warm-up saves the most starts: the largest
    ``fail_without - fail_with`` (the smallest lr on ties); None when it saves none anywhere."""
    d = np.asarray(fail_without, dtype=float) - np.asarray(fail_with, dtype=float)
    return int(np.argmax(d)) if d.size and d.max() > 0 else None


def _quartiles(a, axis=0):
    with np.errstate(all="ignore"):
        return tuple(np.nanquantile(np.where(np.isfinite(a), a, np.nan), q, axis=axis) for q in (0.25, 0.5, 0.75))


# --- the runs ---------------------------------------------------------------------------------------

def _search(opt, e, sched, lrs, x0, steps, every, eng, options, hyper):
    """One engine call: every lr of the grid x every start under ``sched``."""
    fixed = dict(hyper)
    kw = {}
    if sched.spec is not None:  # without the option the grid sweeps (max_lr: a placeholder here)
        kw["scheduler"] = {k: v for k, v in sched.spec.items() if f"scheduler.{k}" != sched.peak}
    if sched.peak != "lr":
        fixed["lr"] = float(lrs[0])  # OneCycleLR sets the lr itself (max_lr / div_factor, then its cycle)
    return sweep(opt, e.name, grid={sched.peak: lrs}, x0=x0, steps=steps, record_every=every, tol=0.0,
                 objective_options=options, **fixed, **kw, **eng)


def _problem(role, p, eng, rng):
    """Every schedule's lr search on one problem: finals per (lr, start), the tuned runs' curves."""
    e = p[role]
    steps, lrs, n0 = p[f"{role}_steps"], p[f"{role}_lrs"], p["starts"]
    every = max(1, steps // p["records"])
    if role == "sgd":
        opt, hyper = "sgd", {"momentum": 0.0}
        box = e.bounds()
        x0 = rng.uniform(box[:, 0], box[:, 1], size=(n0, e.dim))
        full = True
    else:
        opt, hyper = "adam", {}
        x0 = torch_init_starts((e.dim - 1) // 4, n0, rng)
        full = False  # the study evaluates the full-data loss itself, at the records it keeps
    options = {**e.options, "full_loss": full}
    pr = dict(entry=e, role=role, optimizer=opt, steps=steps, lrs=lrs, x0=x0, every=every, full=full,
              f_min=e.f_min() if full else None, data=None if full else finite_sum_data(e),
              l2=float(e.options.get("l2", 0.0)), runs=[])
    for s in schedules(steps, p):
        sw = _search(opt, e, s, lrs, x0, steps, every, eng, options, hyper)
        res = sw.result
        dead = (sw.grid("diverged_step") >= 0) | ~np.isfinite(sw.grid("loss_final"))
        if full:
            final = sw.grid("loss_final") - pr["f_min"]
        else:
            final = mlp_full_loss(sw.grid("x_final"), *pr["data"], pr["l2"])
        final = np.where(dead | ~np.isfinite(final), np.inf, final)        # (n_lr, n_start)
        failed = dead if full else dead | (final > p["fail_loss"])
        med = np.median(final, axis=1)
        k = tuned_index(med)
        lr_tab = None if res.lr is None else res.lr.reshape(len(lrs), n0, -1)
        r = dict(schedule=s, result=res, final=final, failed=failed, median=med, tuned=k, steps=res.steps,
                 lr_table=lr_tab)
        kk = 0 if k is None else k
        r["curve"] = curve(pr, r, kk)
        # the lr at each record; ReduceLROnPlateau's depends on the start: the median over the starts
        r["lr"] = np.full(res.steps.size, lrs[kk]) if lr_tab is None else np.median(lr_tab[kk], axis=0)
        pr["runs"].append(r)
    return pr


def curve(pr, r, i) -> np.ndarray:
    """(starts, records): the loss curve of every start at the ``i``-th lr of the search, as plotted
    and checked: f - f* (recorded, the full-data loss) or the MLP's full-data loss at the records."""
    res, n = r["result"], len(pr["lrs"])
    if pr["full"]:
        return res.loss.reshape(n, -1, res.loss.shape[1])[i] - pr["f_min"]
    return mlp_full_loss(res.x.reshape((n, -1) + res.x.shape[1:])[i], *pr["data"], pr["l2"])


def _row(pr, r):
    s, k = r["schedule"], r["tuned"]
    fin = r["final"][k] if k is not None else np.full(r["final"].shape[1], np.inf)
    q25, q50, q75 = _quartiles(fin)
    return dict(schedule=s.key, label=s.label, scheduler=s.spec, peak_option=s.peak,
                tuned_lr=None if k is None else float(pr["lrs"][k]),
                median_final=float(np.median(fin)), q25_final=float(q25), q75_final=float(q75),
                final_per_start=fin.tolist(), failed_share=float(np.mean(r["failed"][k])) if k is not None else 1.0,
                median_final_per_lr=r["median"].tolist(),
                failed_share_per_lr=np.mean(r["failed"], axis=1).tolist())


def _claims(sgd, adam, p, stall_curve):
    """The theory table: the noise floor (SGD) and the warm-up (Adam), from the runs above;
    ``stall_curve``: the constant lr's gap at every start and record at cosine's tuned lr (or None)."""
    by = {r["schedule"].key: r for r in sgd["runs"]}
    e = sgd["entry"]
    where = f"SGD on {e.name}, batch {e.options.get('batch_size', 0)}"
    const = by["constant"]
    const_med = float(np.median(const["final"][const["tuned"]])) if const["tuned"] is not None else float("inf")
    F = p["floor_factor"]
    claims = []
    ci = by["cosine"]["tuned"]
    stall = stall_ratio(stall_curve) if stall_curve is not None else float("nan")
    lr_c = "—" if ci is None else f"{sgd['lrs'][ci]:.3g}"
    claims.append(Claim(
        claim=f"a constant lr stalls at a noise floor (at cosine's peak lr {lr_c}): the gap no longer falls",
        formula="median over starts of mean gap(last quarter) / mean gap(third quarter)",
        predicted=1.0, measured=stall, tolerance=0.5, kind="rel",
        source="Bottou, Curtis & Nocedal 2018, Thm 4.6 (constant step: a floor that scales with the lr)",
        where=where))
    for key, what in (("step", "step decay"), ("cosine", "cosine"), ("warmup_cosine", "warm-up + cosine"),
                      ("onecycle", "one-cycle")):
        r = by[key]
        med = float(np.median(r["final"][r["tuned"]])) if r["tuned"] is not None else float("inf")
        claims.append(Claim(
            claim=f"{what} goes below the constant lr's floor, by at least a factor {F:g} (each at its tuned lr)",
            formula=f"median final f - f* ({key}) <= median final f - f* (constant) / {F:g}",
            predicted=const_med / F, measured=med, tolerance=0.0, kind="le",
            source="Bottou, Curtis & Nocedal 2018, Thm 4.7 (diminishing steps converge)", where=where))
    by = {r["schedule"].key: r for r in adam["runs"]}
    a = adam["entry"]
    where = f"Adam on {a.name}, batch {a.options.get('batch_size', 0)}"
    fw, fc = np.mean(by["warmup_cosine"]["failed"], axis=1), np.mean(by["cosine"]["failed"], axis=1)
    i = warmup_lr(fc, fw)
    lr_s = "none" if i is None else f"{adam['lrs'][i]:.3g}"
    claims.append(Claim(
        claim=f"without warm-up (cosine from the peak) Adam fails from most starts at peak lr {lr_s}",
        formula=f"share of starts with final full-data loss > {p['fail_loss']:g}",
        predicted=0.5, measured=float("nan") if i is None else float(fc[i]), tolerance=0.0, kind="ge",
        source="Liu et al. ICLR 2020; Kalra & Barkeshli NeurIPS 2024", where=where))
    claims.append(Claim(
        claim=f"with a LinearLR warm-up Adam survives the same peak lr {lr_s} (at most 1 start in 4 fails)",
        formula=f"share of starts with final full-data loss > {p['fail_loss']:g}",
        predicted=0.0, measured=float("nan") if i is None else float(fw[i]), tolerance=0.25, kind="le",
        source="Liu et al. ICLR 2020; Ma & Yarats AAAI 2021", where=where))
    return claims, dict(lr_index=i, lr=None if i is None else float(adam["lrs"][i]),
                        failed_without=fc.tolist(), failed_with=fw.tolist(), stall_ratio=stall)


@register(NAME, kernels=kernels, theory=True)
def run(cfg: dict, out_dir) -> dict:
    """Six lr schedules, each at its tuned peak lr, on minibatch SGD (least squares) and Adam (MLP)."""
    p = _params(cfg)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    rng = np.random.default_rng(eng["seed"])
    sgd = _problem("sgd", p, eng, rng)
    adam = _problem("adam", p, eng, rng)
    # what the stall claim measures: the constant lr's gap at cosine's peak lr
    ci = next(r["tuned"] for r in sgd["runs"] if r["schedule"].key == "cosine")
    stall_curve = None if ci is None else curve(sgd, sgd["runs"][0], ci)
    claims, warm = _claims(sgd, adam, p, stall_curve)
    arrays = {} if stall_curve is None else {"sgd__constant__curve_at_cosine_lr": stall_curve}

    panels, rows = [], []
    for pr in (sgd, adam):
        e = pr["entry"]
        full = pr["role"] == "sgd"
        ylabel = "full-data loss − f*" if full else "full-data loss"
        fin_label = "final " + ("f − f*" if full else "full-data loss")
        runs, search, srows = [], [], []
        for r in pr["runs"]:
            s = r["schedule"]
            q25, q50, q75 = _quartiles(r["curve"], axis=0)
            runs.append(dict(key=s.key, label=s.label, short=s.short, steps=r["steps"], median=q50, q25=q25,
                             q75=q75, lr=r["lr"], final=r["final"][r["tuned"]] if r["tuned"] is not None
                             else np.full(p["starts"], np.inf)))
            search.append(dict(key=s.key, lrs=pr["lrs"], median=r["median"], tuned=r["tuned"]))
            srows.append(_row(pr, r))
            arrays[f"{pr['role']}__{s.key}__final"] = r["final"]
            arrays[f"{pr['role']}__{s.key}__tuned_curve"] = r["curve"]
            arrays[f"{pr['role']}__{s.key}__tuned_lr_curve"] = r["lr"]
        arrays[f"{pr['role']}__lrs"] = pr["lrs"]
        arrays[f"{pr['role']}__record_steps"] = pr["runs"][0]["steps"]
        arrays[f"{pr['role']}__x0"] = pr["x0"]
        what = (f"{e.label}: minibatch SGD, batch {e.options.get('batch_size', 0)}" if full else
                f"{e.label}: Adam (0.9, 0.999), batch {e.options.get('batch_size', 0)}")
        # the curve the stall claim measures: the constant lr at cosine's peak (the tuned constant lr is
        # smaller and still falling at the end; the page's floor is this one's)
        stall = None if not full or stall_curve is None else dict(
            steps=pr["runs"][0]["steps"], median=np.median(stall_curve, axis=0), lr=float(pr["lrs"][ci]))
        panels.append(dict(title=what, ylabel=ylabel, final_label=fin_label, n_starts=p["starts"], runs=runs,
                           search=search, threshold=None if full else p["fail_loss"], stall=stall))
        rows.append(dict(problem=pr["role"], objective=e.label, optimizer=pr["optimizer"], steps=pr["steps"],
                         record_every=pr["every"], lr_grid=pr["lrs"].tolist(), n_starts=p["starts"],
                         f_min=e.f_min() if full else None, schedules=srows))
    fig = schedules_figure(panels, "Learning-rate schedules, each at the peak lr its batched search chose "
                                   f"({theory_summary(claims)} in the theory table)")
    main_path = save(fig, out_dir / "lr_schedules", fmt, dpi)

    by = {r["schedule"].key: r for r in adam["runs"]}
    i = warm["lr_index"]
    curves = []
    if i is not None:
        for key in ("cosine", "warmup_cosine"):
            r = by[key]
            curves.append(dict(key=key, steps=r["steps"], loss=curve(adam, r, i), lr=r["lr_table"][i, 0]))
            arrays[f"adam__{key}__curve_at_warmup_lr"] = curves[-1]["loss"]
    wfig = warmup_figure(dict(lrs=adam["lrs"], fail={k: np.mean(r["failed"], axis=1) for k, r in by.items()},
                              labels={r["schedule"].key: r["schedule"].label for r in adam["runs"]},
                              lr_star=warm["lr"], threshold=p["fail_loss"], ylabel="full-data loss", curves=curves),
                         f"Adam on {adam['entry'].label}: the same peak lr with and without a LinearLR warm-up")
    warm_path = save(wfig, out_dir / "lr_schedules_warmup", fmt, dpi)
    save_arrays(out_dir / "lr_schedules.npz", **arrays)
    add_runs(out_dir, "lr_schedules.npz", "arrays",
             [(f"{pr['role']}: {r['schedule'].label}", [f"{pr['role']}__{r['schedule'].key}__{k}" for k in
                                                        ("final", "tuned_curve", "tuned_lr_curve")])
              for pr in (sgd, adam) for r in pr["runs"]])

    theory = theory_table(claims)
    figures = [main_path.name, warm_path.name]
    warmup_doc = {k: v for k, v in warm.items() if k != "lr_index"}
    metrics = dict(study=NAME, problems=rows, warmup=warmup_doc, fail_loss=p["fail_loss"],
                   floor_factor=p["floor_factor"], theory=theory, figures=figures)
    return finish(out_dir, metrics, {"study": NAME, "title": "lr_schedules: six lr schedules at tuned peak lrs",
                                     "problems": rows, "warmup": warmup_doc, "theory": theory,
                                     "theory_summary": theory_summary(claims), "figures": figures,
                                     "table": _table(rows) + "\n\n" + format_table(claims)})


def _table(rows) -> str:
    head = f"{'problem':<6} {'schedule':<15} {'tuned lr':>9} {'median final':>13} {'quartiles':>21} {'failed':>7}"
    lines = [head, "-" * len(head)]
    for row in rows:
        for r in row["schedules"]:
            lr = "—" if r["tuned_lr"] is None else f"{r['tuned_lr']:.3g}"
            q = f"{r['q25_final']:.2e} – {r['q75_final']:.2e}"
            lines.append(f"{row['problem']:<6} {r['schedule']:<15} {lr:>9} {r['median_final']:>13.3e} {q:>21} "
                         f"{100 * r['failed_share']:>6.0f}%")
    return "\n".join(lines)
