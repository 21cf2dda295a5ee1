"""Stationary points (grad f = 0) of an objective, found and classified numerically.

``find_stationary_points(spec, bounds)`` runs a damped Newton iteration on the
system grad f(x) = 0 from many start points at once (vectorised over the
starts: one call of the objective's compiled gradient and Hessian per
iteration), refines every converged start to about 1e-10, merges duplicates
and classifies each point by the eigenvalues of its Hessian.

The iteration is Levenberg-Marquardt on phi(x) = |grad f(x)|^2 / 2, whose
Jacobian is the Hessian H: with H = V diag(l) V^T,

    dx = -V diag(l / (l^2 + nu max(l^2))) V^T grad f,

so nu = 0 is Newton's step for grad f = 0 (it heads for minima, saddles and
maxima alike) and a large nu a short gradient step on phi. Per start, nu
shrinks fourfold after a step that lowers phi and grows fourfold otherwise;
steps are capped at a tenth of the box diagonal. A start counts as converged
when its step falls below ``tol * (1 + |x|)`` and |grad f| <= ``gtol``; starts
that wander far from the box or stall are dropped. Non-degenerate roots
converge quadratically; degenerate ones (the monkey saddle's origin, where
H = 0) linearly, so the loop runs until the step is ~1e-14 or ``max_iter``.

Classification: eigenvalues l of H at the point, against the typical
curvature scale of the box (the median of max|l| over the start points).
All l > 0: "minimum"; all < 0: "maximum"; mixed signs: "saddle". If some
|l| <= 1e-6 of that scale the point is degenerate and the Hessian cannot
decide: f is then sampled on 64 (2-D) or 256 directions at radii 1e-4 and
1e-3 of the box size; f above f(x*) in every direction is a "minimum",
below in every direction a "maximum", both a "saddle". (For x^3 - 3xy^2
at 0, f = r^3 cos 3 theta takes both signs: a saddle.)

Non-smooth objectives: Newton only converges where the kernel's gradient is
0 on a neighbourhood's smooth piece; a kink whose subgradient convention
returns exactly 0 (bukin6's (-10, 1), ackley's origin) is found only by a
start placed exactly there, which ``include_known=True`` does for the known
global minima.

``python -m optlab.analysis.stationary --write`` recomputes the table
``optlab/objectives/stationary_points.json`` read by
``ObjectiveSpec.stationary_points``: every registered objective with a 2-D
form, in its ``stationary_box``, with default options. That box is the
plotting domain, except where the domain holds too many points: rastrigin
and ackley ([-2.25, 2.25]^2; some 441 points in the plotting box), levy13
([0, 2]^2; thousands in [-10, 10]^2) and eggholder ([-100, 100]^2; hundreds
in [-512, 512]^2). griewank is listed in its plotting domain [-10, 10]^2,
itself a zoom of the usual [-600, 600]^2 (tens of thousands of points). The
table is computed twice, from two independent sets of starts; a mismatch of
the counts is reported and kept in the entry's "check" field.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .. import objectives
from ..errors import OptlabError
from ..objectives._base import StationaryPoint
from ..errors import argument_parser

KINDS = ("minimum", "saddle", "maximum")


def _as_spec(spec):
    return objectives.get(spec) if isinstance(spec, str) else spec


def _fd_options(spec, options):
    opts = dict(options or {})
    if "batch_size" in spec.options:
        opts.setdefault("batch_size", 0)  # the full-data gradient, not a minibatch
    return opts


def _starts(box, n, seed):
    from scipy.stats import qmc
    d = box.shape[0]
    u = qmc.Halton(d=d, scramble=True, seed=seed).random(n)
    return box[:, 0] + u * (box[:, 1] - box[:, 0])


def _newton_solve(spec, X, opts, box, tol, gtol, max_iter):
    """Vectorised LM/Newton on grad f = 0; returns (x, |g|, converged) per start."""
    S, D = X.shape
    width = box[:, 1] - box[:, 0]
    cap = 0.1 * float(np.sqrt(width @ width))
    lo = box[:, 0] - width
    hi = box[:, 1] + width
    x = X.copy()
    g = spec.grad(x, **opts)
    H = spec.hess(x, **opts)
    phi = 0.5 * np.einsum("si,si->s", g, g)
    nu = np.full(S, 1e-3)
    last = np.full(S, np.inf)  # norm of the last accepted step
    active = np.isfinite(phi) & np.isfinite(H).all(axis=(1, 2))
    done = phi == 0.0
    for _ in range(max_iter):
        idx = np.flatnonzero(active & ~done)
        if idx.size == 0:
            break
        xa, ga, nua = x[idx], g[idx], nu[idx]
        lam, V = np.linalg.eigh(H[idx])
        gv = np.einsum("sji,sj->si", V, ga)
        scale = np.max(lam * lam, axis=1, keepdims=True) + 1e-300
        dx = -np.einsum("sij,sj->si", V, lam / (lam * lam + nua[:, None] * scale) * gv)
        dn = np.sqrt(np.einsum("si,si->s", dx, dx))
        big = dn > cap
        dx[big] *= (cap / dn[big])[:, None]
        dn = np.minimum(dn, cap)
        xn = xa + dx
        gn = spec.grad(xn, **opts)
        Hn = spec.hess(xn, **opts)
        phin = 0.5 * np.einsum("si,si->s", gn, gn)
        ok = np.isfinite(phin) & np.isfinite(Hn).all(axis=(1, 2)) & (phin <= phi[idx])
        acc = idx[ok]
        x[acc], g[acc], H[acc], phi[acc], last[acc] = xn[ok], gn[ok], Hn[ok], phin[ok], dn[ok]
        nu_new = np.where(ok, nua / 4.0, np.maximum(nua * 4.0, 1e-15))
        nu[idx] = np.where(nu_new < 1e-15, 0.0, nu_new)
        xs = np.sqrt(np.einsum("si,si->s", x[idx], x[idx]))
        conv_now = (np.sqrt(2.0 * phi[idx]) <= gtol) & (last[idx] <= tol * (1.0 + xs))
        finished = (ok & (dn <= 1e-14 * (1.0 + xs))) | (phi[idx] == 0.0)
        stuck = nu[idx] > 1e12  # no step lowers phi: converged to rounding, or a false root of phi
        done[idx[finished | (stuck & conv_now)]] = True
        out = np.any((x[idx] < lo) | (x[idx] > hi), axis=1)
        active[idx[out | (stuck & ~conv_now)]] = False
    gnorm = np.sqrt(2.0 * phi)
    xs = np.sqrt(np.einsum("si,si->s", x, x))
    conv = active & (gnorm <= gtol) & ((last <= tol * (1.0 + xs)) | (gnorm == 0.0))
    return x, gnorm, conv


def _dedupe(x, gnorm, scale):
    """Cluster points closer than ``scale``; keep the one with the smallest |g|."""
    order = np.argsort(gnorm, kind="stable")
    keep = []
    for i in order:
        if all(np.max(np.abs(x[i] - x[k])) > scale for k in keep):
            keep.append(i)
    return np.array(keep, dtype=int)


def classify(spec, x, hscale, box, options=None):
    """"minimum", "saddle" or "maximum" for a stationary point x (see module doc)."""
    spec = _as_spec(spec)
    opts = _fd_options(spec, options)
    lam = np.linalg.eigvalsh(spec.hess(np.asarray(x, dtype=float), **opts))
    degenerate = np.min(np.abs(lam)) <= 1e-6 * max(hscale, np.max(np.abs(lam)))
    if not degenerate:
        if np.all(lam > 0):
            return "minimum"
        if np.all(lam < 0):
            return "maximum"
        return "saddle"
    return _classify_by_sampling(spec, np.asarray(x, dtype=float), box, opts)


def _classify_by_sampling(spec, x, box, opts):
    d = x.size
    if d == 2:
        t = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
        u = np.stack([np.cos(t), np.sin(t)], 1)
    else:
        u = np.random.default_rng(0).standard_normal((256, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
    size = float(np.max(box[:, 1] - box[:, 0]))
    f0 = spec.value(x, **opts)
    pts = np.concatenate([x + r * size * u for r in (1e-4, 1e-3)])
    diff = spec.value(pts, **opts) - f0
    noise = 1e-13 * max(1.0, abs(f0))
    above = np.any(diff > noise)
    below = np.any(diff < -noise)
    if above and below:
        return "saddle"
    if below:
        return "maximum"
    return "minimum"


def find_stationary_points(spec, bounds=None, n_starts=2000, tol=1e-10, *, dim=None, seed=0,
                           max_iter=300, gtol=1e-8, options=None, include_known=True, starts=None,
                           merge_tol=None):
    """Every stationary point the multi-start Newton finds inside ``bounds``.

    Parameters
    ----------
    spec : str or ObjectiveSpec
    bounds : array (dim, 2), optional
        The box; default ``spec.stationary_box`` for 2-D, else ``spec.bounds(dim)``.
    n_starts : int
        Scrambled Halton start points in the box (plus ``starts`` and, with
        ``include_known``, the known global minima).
    tol : float
        A start converged when its Newton step is <= tol (1 + |x|).
    gtol : float
        ... and |grad f| <= gtol.
    options : dict
        Objective options; finite-sum problems default to batch_size = 0 (the
        full-data gradient).
    merge_tol : float
        Points closer than this (max-norm) are one point; default 1e-6 of the
        box size.

    Returns
    -------
    list of StationaryPoint(x, value, kind), sorted by value then x.
    """
    spec = _as_spec(spec)
    opts = _fd_options(spec, options)
    if dim is None:
        dim = 2 if spec.dim is None and bounds is None and spec.default_dim() == 2 else None
    if bounds is None:
        d = dim if dim is not None else spec.default_dim()
        box = spec.stationary_box if d == 2 else spec.bounds(d)
    else:
        box = np.asarray(bounds, dtype=float)
        if box.ndim != 2 or box.shape[1] != 2 or not np.all(box[:, 1] > box[:, 0]):
            raise OptlabError(f"Invalid bounds of shape {box.shape} (must be (dim, 2) with lo < hi)")
    d = box.shape[0]
    spec.check_dim(d)
    if int(n_starts) < 1:
        raise OptlabError(f"Invalid n_starts: {n_starts} (must be >= 1)")
    X = [_starts(box, int(n_starts), seed)]
    if starts is not None:
        X.append(np.atleast_2d(np.asarray(starts, dtype=float)))
    if include_known:
        known = [np.asarray(x, dtype=float) for x, _ in spec.global_minima(d, **{k: v for k, v in opts.items()
                                                                                 if k in spec.options})]
        if known:
            X.append(np.stack(known))
    X = np.concatenate(X)
    H0 = spec.hess(X[: int(n_starts)], **opts)
    with np.errstate(invalid="ignore"):
        hscale = float(np.nanmedian(np.max(np.abs(np.linalg.eigvalsh(H0)), axis=1)))
    x, gnorm, conv = _newton_solve(spec, X, opts, box, tol, gtol, max_iter)
    inside = np.all((x >= box[:, 0]) & (x <= box[:, 1]), axis=1)
    sel = np.flatnonzero(conv & inside)
    if sel.size == 0:
        return []
    scale = merge_tol if merge_tol is not None else 1e-6 * float(np.max(box[:, 1] - box[:, 0]))
    keep = sel[_dedupe(x[sel], gnorm[sel], scale)]
    values = np.atleast_1d(spec.value(x[keep], **opts))
    pts = []
    for i, v in zip(keep, values):
        kind = classify(spec, x[i], hscale, box, opts)
        pts.append(StationaryPoint(tuple(float(c) for c in x[i]), float(v), kind))
    pts.sort(key=lambda p: (p.value, p.x))
    return pts


def count_kinds(points) -> dict:
    out = {k: 0 for k in KINDS}
    for p in points:
        out[p.kind] += 1
    return out


# --- the stored table ------------------------------------------------------------------

TABLE = Path(__file__).resolve().parent.parent / "objectives" / "stationary_points.json"

# start counts for the table: dense enough that two seeds find the same set
N_STARTS = {"rastrigin": 20000, "ackley": 20000, "levy13": 20000, "griewank": 20000, "eggholder": 20000,
            "cross_in_tray": 20000, "holder_table": 20000, "goldstein_price": 8000, "easom": 8000,
            "mccormick": 8000, "linear_regression": 200, "logistic_regression": 200}


def two_d_objectives():
    """Registered objectives with a 2-D form (dim 2, or N-D with default dimension 2) and isolated
    stationary points: one whose ``stationary_note`` says they fill curves has no table to compute."""
    out = []
    for name in objectives.names():
        spec = objectives.get(name)
        if spec.stationary_note:
            continue
        if spec.dim == 2 or (spec.dim is None and spec.min_dim <= 2 and spec.default_dim() == 2):
            out.append(spec)
    return out


def compute_table(names=None, verbose=True, check=True):
    table = {}
    for spec in two_d_objectives():
        if names and spec.name not in names:
            continue
        t0 = time.perf_counter()
        n = N_STARTS.get(spec.name, 4000)
        box = spec.stationary_box
        pts = find_stationary_points(spec, box, n_starts=n, seed=0)
        note = ""
        if check:  # a second, independent set of starts must find the same points
            again = find_stationary_points(spec, box, n_starts=n, seed=1)
            if count_kinds(again) != count_kinds(pts):
                note = f"second run found {count_kinds(again)}"
                print(f"  WARNING {spec.name}: {note}", file=sys.stderr)
        entry = {
            "box": box.tolist(),
            "options": {k: v for k, v in spec.options.items()},
            "n_starts": n,
            "counts": count_kinds(pts),
            "points": [{"x": list(p.x), "value": p.value, "kind": p.kind} for p in pts],
        }
        if spec.stationary_bounds is not None:
            entry["note"] = "listed in a sub-box of the plotting domain (the full box holds too many)"
        if note:
            entry["check"] = note
        table[spec.name] = entry
        if verbose:
            print(f"{spec.name:20s} {count_kinds(pts)}  {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return table


def write_table(path=TABLE, names=None, check=True):
    table = compute_table(names, check=check)
    if names and Path(path).exists():
        old = json.loads(Path(path).read_text())["objectives"]
        old.update(table)
        table = old
    data = {
        "generated_by": "python -m optlab.analysis.stationary --write",
        "method": "multi-start Levenberg-Marquardt/Newton on grad f = 0 (optlab.analysis.stationary), "
                  "tol 1e-10, |grad f| <= 1e-8, default objective options",
        "objectives": dict(sorted(table.items())),
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n")
    return data


def main(argv=None):
    ap = argument_parser(prog="python -m optlab.analysis.stationary", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="objectives (default: every 2-D one)")
    ap.add_argument("--write", action="store_true", help=f"write {TABLE.name}")
    ap.add_argument("--no-check", action="store_true", help="skip the second-seed completeness check")
    args = ap.parse_args(argv)
    if args.write:
        write_table(names=args.names or None, check=not args.no_check)
        return 0
    for spec in two_d_objectives():
        if args.names and spec.name not in args.names:
            continue
        pts = find_stationary_points(spec, n_starts=N_STARTS.get(spec.name, 4000))
        print(f"{spec.name}: {count_kinds(pts)}")
        for p in pts:
            print(f"  {p.kind:8s} f = {p.value:.12g} at ({', '.join(f'{c:.10f}' for c in p.x)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
