"""Checks of the CUDA engine that must run in a fresh process; prints one JSON object.

The CUDA simulator has to be chosen before numba.cuda is first imported, so
``tests/test_cuda_sim.py`` runs this script in a subprocess with the
environment each mode needs:

``compare``  (NUMBA_ENABLE_CUDASIM=1; add NUMBA_DISABLE_JIT=1 for a pure-Python CPU reference)
    every registered optimizer that runs on CUDA x (rosenbrock 2-D, quadratic
    3-D, himmelblau) x settings (torch defaults; per-trajectory lr up to 10^4
    times the default, which makes runs diverge; gradient noise + clipping),
    float64, plus float32 on the quadratic and the large-lr setting on
    ``saddle`` (no known minimum: tol from the gradient norm); the CUDA engine
    against the CPU engine. Also: chunked runs with a one-block grid (grid-stride loop), the
    "does not fit" error, and that gradient noise changes the result.
``errors``   (no simulator) the device='cuda' error on this machine, and that
    ``import optlab`` and ``import optlab.engine.cuda`` import no numba.cuda.
``missing``  (no simulator) device='cuda' with numba-cuda hidden.
``ptx``      (no simulator) compile the real CUDA kernels to PTX with libNVVM
    when a CUDA toolkit is on disk (no GPU or driver needed).

Usage: python tests/cuda_sim_check.py MODE [--optimizers a,b] [--objectives a,b] [--n 5] [--steps 30]
       [--float32-optimizers a,b] [--no-special]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

OBJECTIVES = {"rosenbrock": 2, "quadratic": 3, "himmelblau": 2}


def _starts(obj_name, dim, n):
    import optlab
    from optlab.engine.core import default_starts
    obj = optlab.objectives.get(obj_name)
    pts = default_starts(obj, dim, n=n, seed=1)
    if pts.shape[0] < n:  # fewer suggested starts than asked: add random ones
        box = obj.bounds(dim)
        extra = np.random.default_rng(2).uniform(box[:, 0], box[:, 1], size=(n - pts.shape[0], dim))
        pts = np.vstack([pts, extra])
    pts = pts[:n].copy()
    if obj_name == "saddle":
        pts[0] = 0.0  # on the stationary point: the gradient-norm tol criterion fires at step 0
    return pts


def cuda_optimizers(names=None):
    import optlab
    specs = [s for s in optlab.optimizers.registry if "cuda" in s.devices and s.kernel_source is None]
    if names:
        specs = [s for s in specs if s.name in names]
    return specs


def settings(spec, n):
    """(label, hyper, engine options) for one optimizer, from its torch defaults only."""
    out = [("defaults", {}, {})]
    lr = spec.defaults.get("lr")
    if isinstance(lr, (int, float)) and lr > 0:
        out.append(("hot", {"lr": [float(lr) * 10.0 ** k for k in range(n)]}, {}))
        out.append(("noisy", {"lr": float(lr) * 10.0}, {"grad_noise": 0.5, "clip_grad_norm": 2.0, "seed": 3}))
    else:
        out.append(("noisy", {}, {"grad_noise": 0.5, "clip_grad_norm": 2.0, "seed": 3}))
    return out


def _diff(a, b):
    """max |a - b| over entries finite in both, and whether the NaN/inf patterns agree."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    same_pattern = bool(np.array_equal(np.isfinite(a), np.isfinite(b))
                        and np.array_equal(a[~np.isfinite(a)], b[~np.isfinite(b)], equal_nan=True))
    fin = np.isfinite(a) & np.isfinite(b)
    d = float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0
    scale = float(np.max(np.abs(a[fin]))) if fin.any() else 0.0
    return d, scale, same_pattern


def compare(ra, rb):
    """Numbers for one (CPU result, CUDA result) pair."""
    live = ra.diverged_step < 0  # converging or running: compared tightly
    fields = ["x", "loss", "x_final", "loss_final", "grad_norm_final", "best_loss"]
    out = dict(
        outcomes_cpu=[str(v) for v in ra.outcome], outcomes_cuda=[str(v) for v in rb.outcome],
        diverged_cpu=ra.diverged_step.tolist(), diverged_cuda=rb.diverged_step.tolist(),
        tol_cpu=ra.tol_step.tolist(), tol_cuda=rb.tol_step.tolist(),
        best_cpu=ra.best_step.tolist(), best_cuda=rb.best_step.tolist(),
        max_abs_live=0.0, scale_live=0.0, max_abs_all=0.0, patterns_equal=True,
        extra_keys_cpu=sorted(ra.extra), extra_keys_cuda=sorted(rb.extra),
        shapes_equal=all(np.shape(getattr(ra, k)) == np.shape(getattr(rb, k)) for k in fields),
        dtype_cuda=str(rb.x.dtype),
    )
    pairs = [(getattr(ra, k), getattr(rb, k)) for k in fields]
    pairs += [(ra.extra[k], rb.extra[k]) for k in ra.extra if k in rb.extra]
    for a, b in pairs:
        d, _, pat = _diff(a, b)
        out["max_abs_all"] = max(out["max_abs_all"], d)
        out["patterns_equal"] &= pat
        if live.any():
            dl, sl, _ = _diff(np.asarray(a)[live], np.asarray(b)[live])
            out["max_abs_live"] = max(out["max_abs_live"], dl)
            out["scale_live"] = max(out["scale_live"], sl)
    return out


def mode_compare(args):
    import optlab
    from optlab.engine import cuda as ecuda
    from optlab.engine import cuda_ops
    assert cuda_ops.SIMULATOR, "compare mode needs NUMBA_ENABLE_CUDASIM=1"
    cases = []
    objectives = args.objectives.split(",") if args.objectives else list(OBJECTIVES)
    if not args.objectives and "saddle" in optlab.objectives.names():
        objectives.append("saddle")
    if objectives == ["all"]:
        objectives = optlab.objectives.names()
    opts = cuda_optimizers(args.optimizers.split(",") if args.optimizers else None)
    t0 = time.perf_counter()
    for spec in opts:
        for obj in objectives:
            x0 = _starts(obj, OBJECTIVES.get(obj, optlab.objectives.get(obj).default_dim()), args.n)
            runs = [(lab, hyper, eng, "float64") for lab, hyper, eng in settings(spec, args.n)]
            if obj == "quadratic" and (not args.float32_optimizers or spec.name in args.float32_optimizers.split(",")):
                runs.append(("defaults", {}, {}, "float32"))
            if obj == "saddle":  # no known minimum: the tol step comes from the gradient norm
                runs = [r for r in runs if r[0] == "hot"]
            for label, hyper, eng, dtype in runs:
                case = dict(optimizer=spec.name, objective=obj, setting=label, dtype=dtype)
                try:
                    kw = dict(steps=args.steps, record_every=args.record_every, dtype=dtype, **eng, **hyper)
                    ra = optlab.simulate(spec.name, obj, x0, **kw)
                    rb = optlab.simulate(spec.name, obj, x0, device="cuda", **kw)
                    case.update(compare(ra, rb))
                    case["timing"] = rb.timing
                except Exception as e:  # reported, the test fails on it
                    case["error"] = f"{type(e).__name__}: {e}"
                    case["traceback"] = traceback.format_exc()[-2000:]
                cases.append(case)
    special = {}
    if not args.no_special and (not args.optimizers or "adam" in args.optimizers.split(",")):
        special = _special_checks(optlab, ecuda, args)
    return dict(mode="compare", cases=cases, special=special, seconds=time.perf_counter() - t0,
                disable_jit=os.environ.get("NUMBA_DISABLE_JIT", "0"))


def _special_checks(optlab, ecuda, args):
    """Chunking + grid-stride, the does-not-fit error, and that noise matters (Adam on Rosenbrock)."""
    out = {}
    n = 7
    x0 = _starts("rosenbrock", 2, n)
    kw = dict(steps=args.steps, record_every=args.record_every, lr=[10.0 ** (k - 3) for k in range(n)],
              grad_noise=0.3, seed=11)
    ra = optlab.simulate("adam", "rosenbrock", x0, **kw)
    spec = optlab.optimizers.get("adam")
    n_rec = args.steps // args.record_every + 1
    per = ecuda.bytes_per_trajectory(n_rec, 2, len(spec.vector), 8, 0, 1)
    orig = ecuda.run

    def patched(free_traj, tpb, blocks):
        free = (ecuda.RESERVE_BYTES + free_traj * per) / ecuda.FREE_FRACTION

        def run(*a, **k):
            return orig(*a, **k, free_bytes=free, threads_per_block=tpb, max_blocks=blocks)
        return run

    try:
        ecuda.run = patched(2.5, 1, 1)  # chunks of 2, one thread: the grid-stride loop does all
        rb = optlab.simulate("adam", "rosenbrock", x0, device="cuda", **kw)
        out["chunked"] = dict(compare(ra, rb), chunks=ecuda.LAST_RUN.get("chunks"),
                              chunk_size=ecuda.LAST_RUN.get("chunk_size"))
        ecuda.run = patched(3, 2, 1)  # chunks of 3 (last one short), two threads
        rb = optlab.simulate("adam", "rosenbrock", x0, device="cuda", **kw)
        out["chunked_2threads"] = dict(compare(ra, rb), chunks=ecuda.LAST_RUN.get("chunks"))
        extra = [s for s in cuda_optimizers() if s.record_state]
        if extra:  # per-step extra records (e.g. ASGD's averaged iterate) copied back per chunk
            spec_e = extra[0]
            kw_e = dict(steps=args.steps, record_every=args.record_every, grad_noise=0.3, seed=11)
            re_cpu = optlab.simulate(spec_e.name, "rosenbrock", x0, **kw_e)
            per = ecuda.bytes_per_trajectory(n_rec, 2, len(spec_e.vector), 8, len(spec_e.record_state), 1)
            ecuda.run = patched(2.5, 1, 1)
            re_cuda = optlab.simulate(spec_e.name, "rosenbrock", x0, device="cuda", **kw_e)
            out["chunked_extra"] = dict(compare(re_cpu, re_cuda), optimizer=spec_e.name,
                                        chunks=ecuda.LAST_RUN.get("chunks"))
            per = ecuda.bytes_per_trajectory(n_rec, 2, len(spec.vector), 8, 0, 1)
        ecuda.run = patched(0.5, None, None)
        try:
            optlab.simulate("adam", "rosenbrock", x0, device="cuda", **kw)
            out["too_small"] = None
        except optlab.OptlabError as e:
            out["too_small"] = str(e)
    finally:
        ecuda.run = orig
    quiet = optlab.simulate("adam", "rosenbrock", x0, device="cuda", **{**kw, "grad_noise": 0.0})
    noisy = optlab.simulate("adam", "rosenbrock", x0, device="cuda", **kw)
    out["noise_changes_x"] = float(np.nanmax(np.abs(noisy.x - quiet.x)))
    # a slice with its first trajectory's index (a shard) draws the whole run's noise
    tail = optlab.simulate("adam", "rosenbrock", x0[3:], device="cuda", trajectory_offset=3,
                           **{**kw, "lr": kw["lr"][3:]})
    out["offset_slice_equal"] = bool(np.array_equal(tail.x, ra.x[3:], equal_nan=True))
    # the same keyed draws on both engines, value by value
    from optlab.engine.rng import normal
    out["normal_sample"] = [normal(11, i, 3, 1) for i in range(3)]
    return out


def mode_errors(args):
    before = set(sys.modules)
    import optlab  # noqa: F401
    import optlab.engine.cuda  # noqa: F401
    touched = sorted(m for m in set(sys.modules) - before
                     if m == "numba.cuda" or m.startswith(("numba.cuda.", "numba_cuda")))
    out = dict(mode="errors", cuda_modules_after_import=touched)
    for name, opt in (("adam", "adam"), ("lbfgs", "lbfgs")):
        if opt not in optlab.optimizers.names():
            continue
        try:
            optlab.simulate(opt, "rosenbrock", steps=3, device="cuda")
            out[name] = dict(ran=True)
        except optlab.OptlabError as e:
            out[name] = dict(ran=False, type="OptlabError", message=str(e))
        except Exception as e:
            out[name] = dict(ran=False, type=type(e).__name__, message=str(e))
    import ctypes.util
    import importlib.util
    out["libcuda_found"] = ctypes.util.find_library("cuda") is not None
    out["numba_cuda_installed"] = importlib.util.find_spec("numba_cuda") is not None
    return out


def mode_missing(args):
    sys.modules["numba_cuda"] = None  # as if numba-cuda were not installed
    import optlab
    try:
        optlab.simulate("adam", "rosenbrock", steps=3, device="cuda")
        return dict(mode="missing", ran=True)
    except optlab.OptlabError as e:
        return dict(mode="missing", ran=False, type="OptlabError", message=str(e))
    except Exception as e:
        return dict(mode="missing", ran=False, type=type(e).__name__, message=str(e))


def _offline_toolkit():
    """Point numba-cuda at a CUDA toolkit on disk (libNVVM + libdevice); no driver or NVRTC needed.

    Test-only: numba-cuda looks these up through NVRTC and asks the current
    device for its compute capability; both are patched here.
    """
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    roots += sorted((os.path.join("/usr/local", d) for d in os.listdir("/usr/local") if d.startswith("cuda-")),
                    reverse=True)
    for root in filter(None, roots):
        nvvm = [os.path.join(root, sub, "libnvvm.so") for sub in ("nvvm/lib64", "lib64", "lib")]
        nvvm = [p for p in nvvm if os.path.exists(p)]
        libdevice = os.path.join(root, "nvvm", "libdevice", "libdevice.10.bc")
        if nvvm and os.path.exists(libdevice):
            break
    else:
        return None
    from collections import namedtuple
    import numba.cuda.cuda_paths as paths
    import numba.cuda.dispatcher as dispatcher
    entry = namedtuple("entry", "by info")
    paths.get_cuda_paths._cached_result = dict(
        nvrtc=entry("optlab-test", None), nvvm=entry("optlab-test", nvvm[0]),
        libdevice=entry("optlab-test", libdevice), cudalib_dir=entry("optlab-test", os.path.dirname(nvvm[0])),
        static_cudalib_dir=entry("optlab-test", os.path.dirname(nvvm[0])),
        include_dir=entry("optlab-test", os.path.join(root, "include")))

    class _Device:
        compute_capability = (9, 0)

    dispatcher.get_current_device = lambda: _Device()
    return root


def mode_ptx(args):
    os.environ.setdefault("NUMBA_FORCE_CUDA_CC", "9.0")
    root = _offline_toolkit()
    if root is None:
        return dict(mode="ptx", skipped="no CUDA toolkit (libNVVM + libdevice) on disk")
    import optlab
    from optlab.engine import cuda as ecuda
    out = dict(mode="ptx", toolkit=root, cases=[])
    t0 = time.perf_counter()
    objectives = args.objectives.split(",") if args.objectives else ["rosenbrock"]
    if objectives == ["all"]:
        objectives = optlab.objectives.names()
    for spec in cuda_optimizers(args.optimizers.split(",") if args.optimizers else None):
        for obj in objectives:
            for dtype in args.dtypes.split(","):
                case = dict(optimizer=spec.name, objective=obj, dtype=dtype)
                t = time.perf_counter()
                try:
                    ospec = optlab.objectives.get(obj)
                    ptx = ecuda.compile_ptx(spec, ospec, OBJECTIVES.get(obj, ospec.default_dim()), dtype)
                    lines = ptx.splitlines()
                    ins = [ln.split()[0] for ln in lines if ln.strip() and not ln.strip().startswith((".", "/", "{", "}", "$"))]
                    case.update(
                        ok=True, chars=len(ptx),
                        local_depot=any("__local_depot" in ln for ln in lines),
                        ld_local=sum(i.startswith("ld.local") for i in ins),
                        st_local=sum(i.startswith("st.local") for i in ins),
                        fma=sum(i.startswith("fma.rn") for i in ins),
                        mul_rn=sum(i.startswith("mul.rn.f") for i in ins),
                        mul_plain=sum(i in ("mul.f64", "mul.f32") for i in ins),
                        add_plain=sum(i in ("add.f64", "add.f32") for i in ins),
                    )
                except Exception as e:
                    case.update(ok=False, error=f"{type(e).__name__}: {' '.join(str(e).split())[:1500]}")
                case["seconds"] = time.perf_counter() - t
                out["cases"].append(case)
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["compare", "errors", "missing", "ptx"])
    ap.add_argument("--optimizers", default="")
    ap.add_argument("--objectives", default="")
    ap.add_argument("--dtypes", default="float64")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--record-every", type=int, default=4)
    ap.add_argument("--float32-optimizers", default="",
                    help="compare: only these optimizers also run float32 on the quadratic (default: all)")
    ap.add_argument("--no-special", action="store_true",
                    help="compare: skip the chunking / does-not-fit / noise checks (Adam on Rosenbrock)")
    args = ap.parse_args(argv)
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)  # overflow in diverging runs (simulator = numpy scalars)
    fn = {"compare": mode_compare, "errors": mode_errors, "missing": mode_missing, "ptx": mode_ptx}[args.mode]
    print(json.dumps(fn(args)))


if __name__ == "__main__":
    main()
