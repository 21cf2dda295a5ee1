"""Kernel identity and the disk cache: what shares a kernel, what recompiles, what repairs itself.

Identity tests build small kernel modules in a temporary folder and register
them under ``optlab._kernel_test_*`` (only optlab code is followed into a
kernel's identity). Cache tests run real engine calls in subprocesses with
their own ``OPTLAB_CACHE_DIR`` and damage the cache between them.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import optlab
import optlab.studies
from optlab import objectives, optimizers
from optlab.engine import codegen, cpu

ROOT = Path(__file__).resolve().parents[1]


# --- identity ----------------------------------------------------------------

def _module(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    modname = f"optlab._kernel_test_{name}"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


_KERNELS = '''
"""{doc}"""
SCALE = {scale}


def helper(a):
    """Doubles."""  # {comment}
    return a * {factor}


def uses_helper(x, n):
    """{doc}"""
    for j in range(n):
        x[j] = helper(x[j]) * SCALE


def plain(x, n):
    for j in range(n):
        x[j] = x[j] + 1.0


def validate(v):
    if v < 0:
        raise ValueError("{message}")
'''


def _identities(tmp_path, version, **fmt):
    args = dict(doc="A kernel module.", comment="note", factor="2.0", scale="3.0", message="bad")
    args.update(fmt)
    (tmp_path / version).mkdir()
    mod = _module(tmp_path / version, "k", _KERNELS.format(**args))
    codegen.forget()
    out = {}
    for fn in ("uses_helper", "plain"):
        src = f"# optlab kernel: kind=test template=0\nfrom {mod.__name__} import {fn} as _fn\n"
        out[fn] = codegen.identity(src)
    return out


def test_docstrings_comments_and_messages_do_not_change_an_identity(tmp_path):
    base = _identities(tmp_path, "a")
    assert _identities(tmp_path, "b", doc="Reworded, at length.", comment="other words",
                       message="a different validation message") == base


def test_one_changed_line_changes_exactly_the_kernels_that_inline_it(tmp_path):
    base = _identities(tmp_path, "a")
    changed = _identities(tmp_path, "b", factor="2.5")  # a line of `helper`
    assert changed["uses_helper"] != base["uses_helper"]
    assert changed["plain"] == base["plain"]
    const = _identities(tmp_path, "c", scale="4.0")  # a global constant `uses_helper` reads
    assert const["uses_helper"] != base["uses_helper"] and const["plain"] == base["plain"]


def test_presets_and_aliases_share_one_kernel():
    rosen = objectives.get("rosenbrock")
    ident = {name: codegen.identity(cpu.source(optimizers.get(name), rosen, 2)[0])
             for name in ("sgd", "gd", "momentum", "nesterov", "adam", "adamw")}
    assert ident["sgd"] == ident["gd"] == ident["momentum"] == ident["nesterov"]
    assert ident["adam"] == ident["adamw"]
    assert ident["adam"] != ident["sgd"]
    # the generated source names no optimizer or objective
    src, tag = cpu.source(optimizers.get("adamw"), rosen, 2)
    assert "adamw" not in src and "rosenbrock" not in src and tag == "cpu_adam"
    # one kernel per optimizer: the objective is an argument (a compiled first-class function)
    assert codegen.identity(cpu.source(optimizers.get("adam"), objectives.get("beale"), 2)[0]) == ident["adam"]


def test_one_kernel_serves_every_block_width_and_each_dtype_has_its_own():
    """The block width (256 trajectories at D = 2, 64, 32, 16 above) is the workspace's, read by the
    kernel: one compile serves every dimension; float32 is a signature, and a kernel of its own."""
    rosen = objectives.get("rosenbrock")
    for name in ("sgd", "adam", "nadam", "rprop"):
        spec = optimizers.get(name)
        by_dim = {codegen.identity(cpu.source(spec, rosen, d)[0]) for d in (2, 3, 10, 33)}
        assert len(by_dim) == 1, name
        assert codegen.identity(cpu.source(spec, rosen, 2, dtype="float32")[0]) not in by_dim, name
    assert {cpu.block_size(d) for d in (2, 3, 10, 33)} == {256, 64, 32, 16}
    # heavy-ball SGD at D = 2 (blocks of 256) and D = 10 (blocks of 32, 70 trajectories: a short last
    # block) against the update written out in numpy, through one compiled signature
    rng = np.random.default_rng(3)
    for dim in (2, 10):
        x0 = rng.uniform(-1.0, 1.0, (70, dim))
        r = optlab.simulate("sgd", "rosenbrock", x0=x0, steps=7, lr=1e-3, momentum=0.5, progress=False)
        x, buf = x0.T.copy(), None
        for t in range(7):
            g = np.empty_like(x)
            g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
            g[-1] = 0.0
            g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
            buf = g.copy() if buf is None else 0.5 * buf + g
            x = x - 1e-3 * buf
        np.testing.assert_allclose(r.x_final, x.T, rtol=1e-13, atol=1e-15, err_msg=str(dim))
    src, tag = cpu.source(optimizers.get("sgd"), rosen, 2)
    module = codegen._MODULES[f"{tag}_{codegen.identity(src)}"]
    assert len(module.run.overloads) == 1


def test_one_lbfgs_kernel_serves_every_objective():
    """L-BFGS's kernel takes the objective as an argument too: a new objective compiles only its
    objective function (which the elementwise kernels share), not another L-BFGS kernel."""
    lbfgs = optimizers.get("lbfgs")
    ident = {codegen.identity(cpu.source(lbfgs, objectives.get(o), d)[0])
             for o, d in (("rosenbrock", 2), ("quadratic", 5), ("mlp", 33), ("linear_regression", 2))}
    assert len(ident) == 1
    assert codegen.identity(cpu.source(lbfgs, objectives.get("rosenbrock"), 2, dtype="float32")[0]) not in ident
    from optlab.engine import warmup
    labels = [label for _, label, _ in warmup._units(warmup.KernelKey("lbfgs", "himmelblau", 2))]
    assert labels == ["cpu_lbfgs", "objective himmelblau"]


def test_only_kernel_code_enters_an_identity():
    """No spec, validation, registry or study code is part of any CPU kernel's identity."""
    allowed = ("optlab.optimizers.", "optlab.objectives.", "optlab.engine.ops", "optlab.engine.rng",
               "optlab.engine.driver", "optlab.engine.lbfgs_ops", "optlab.engine.powexact")
    for opt in optimizers.registry:
        src, _ = cpu.source(opt, objectives.get("quadratic"), 2)
        parts: dict = {}
        for _, value in codegen.imported(src):
            target = getattr(value, "py_func", value)
            if callable(target) and hasattr(target, "__code__"):
                codegen._function_parts(target, parts)
        for module, qualname in parts:
            assert module.startswith(allowed), (opt.name, module, qualname)
            name = qualname.split(":")[0]
            assert not name.startswith(("_validate", "check_", "require")), (opt.name, module, qualname)
            assert module not in ("optlab.optimizers._base", "optlab.objectives._base"), (opt.name, module)


# --- the cache on disk ---------------------------------------------------------

_RUN = textwrap.dedent('''
    import json, sys
    import numpy as np
    import optlab
    r = optlab.simulate("rmsprop", "beale", x0=[[1.0, 1.5], [-2.0, 2.0], [0.5, -0.5]], steps=40,
                        record_every=10, lr=0.01)
    print(json.dumps({"x": r.x_final.tolist(), "loss": r.loss.tolist()}))
''')


def _run(cache, env_extra=None, check=True):
    # Numba keeps kernels' code beside them (kernels/__pycache__), so a copied cache stays warm
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("NUMBA_CACHE_DIR", None)
    env.update(env_extra or {})
    p = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _kernel_files(cache):
    folder = Path(cache) / "kernels"
    return sorted(folder.glob("cpu_rmsprop_*.py"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache holding the rmsprop x beale kernel, and the numbers it gives."""
    cache = tmp_path_factory.mktemp("cache")
    first = _run(cache)
    assert "compiling" in first.stderr and "cpu_rmsprop" in first.stderr, first.stderr  # first use says so
    return cache, json.loads(first.stdout)


def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def test_a_warm_cache_loads_silently(filled, tmp_path):
    cache, expect = filled
    cache = _copy(cache, tmp_path / "c")
    p = _run(cache)
    assert json.loads(p.stdout) == expect
    assert "compiling" not in p.stderr and "damaged" not in p.stderr


@pytest.mark.parametrize("which", ["nbc", "nbi"])
def test_a_truncated_compiled_file_is_rebuilt(filled, tmp_path, which):
    cache, expect = filled
    cache = _copy(cache, tmp_path / "c")
    (py,) = _kernel_files(cache)
    (art,) = [f for f in codegen.compiled_files(py) if f.suffix == f".{which}"]
    data = art.read_bytes()
    art.write_bytes(data[: len(data) // 2])
    p = _run(cache)
    assert json.loads(p.stdout) == expect
    assert p.stderr.count("\n") <= 2 and "damaged" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert _run(cache).stderr == ""  # rebuilt once, then loaded


def test_a_garbled_generated_module_is_rebuilt(filled, tmp_path):
    cache, expect = filled
    cache = _copy(cache, tmp_path / "c")
    (py,) = _kernel_files(cache)
    py.write_text(py.read_text().replace("opt_step(", "opt_stop(", 1))
    p = _run(cache)
    assert json.loads(p.stdout) == expect
    assert "damaged" in p.stderr and "Traceback" not in p.stderr


def test_an_unusable_cache_folder_compiles_in_memory_with_one_warning(filled, tmp_path):
    _, expect = filled
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    p = _run(not_a_folder, {"NUMBA_CACHE_DIR": str(tmp_path / "numba")})
    assert json.loads(p.stdout) == expect
    warnings = [line for line in p.stderr.splitlines() if "not usable" in line]
    assert len(warnings) == 1 and "OPTLAB_CACHE_DIR" in warnings[0]
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_two_processes_compiling_one_kernel_at_once_agree(filled, tmp_path):
    _, expect = filled
    cache = tmp_path / "race"
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(cache / "numba"))
    procs = [subprocess.Popen([sys.executable, "-c", _RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [json.loads(o) for o, _ in outs] == [expect, expect]
    assert len(_kernel_files(cache)) == 1
    assert not list((cache / "kernels").glob(".tmp-*"))


@pytest.mark.slow
def test_cache_command_shows_prunes_and_clears(filled, tmp_path):
    cache, _ = filled
    cache = _copy(cache, tmp_path / "c")
    kernels = cache / "kernels"
    stale = kernels / "cpu_sgd_sphere_0123456789abcdef.py"
    stale.write_text("# optlab kernel: kind=cpu template=000000000000\n")
    (kernels / ".tmp-leftover.py").write_text("")
    # NUMBA_CACHE_DIR: `clear` also removes the compiled helpers, here a private copy of them
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(cache / "numba"))

    def cmd(*args):
        p = subprocess.run([sys.executable, "-m", "optlab", "cache", *args], capture_output=True, text=True,
                           env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        return p.stdout

    shown = cmd()
    assert str(kernels) in shown and "kernels:  2 (1 compiled)" in shown
    assert "removed 1 stale kernel (1 leftover temporary file)" in cmd("prune")
    assert not stale.exists() and _kernel_files(cache)  # the current kernel stays
    assert "kernels:  1 (1 compiled)" in cmd()
    subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, timeout=600)  # fills the helpers
    assert "helpers:  " in cmd() and not cmd().count("helpers:  0 ")
    assert (cache / "layout").is_dir()  # the layout check's scans (optimizers._base.check_layout)
    assert "removed 1 kernel" in cmd("clear")
    assert not kernels.exists() and not (cache / "layout").exists()
    assert "helpers:  0 compiled" in cmd()


def test_a_study_compiles_its_missing_kernels_up_front(tmp_path):
    """The runner asks the study for its kernels and compiles the missing ones before it runs."""
    cfg = {"study": {"name": "compare", "optimizers": [{"name": "gd", "lr": 1e-3}, {"name": "momentum"},
                                                       {"name": "adagrad"}]},
           "objective": {"name": "sphere", "x0": [[1.0, 2.0]]}, "engine": {"steps": 5}}
    keys = optlab.studies.get("compare").kernels(cfg)
    assert [k.optimizer for k in keys] == ["gd", "momentum", "adagrad"]
    code = ("import json, sys; from optlab.runner import run; from optlab.engine import warmup; "
            f"cfg = json.loads({json.dumps(json.dumps(cfg))}); "
            "import optlab.studies; keys = optlab.studies.get('compare').kernels(cfg); "
            "before = [warmup.is_cached(k) for k in keys]; run(cfg, sys.argv[1]); "
            "print(json.dumps([before, [warmup.is_cached(k) for k in keys]]))")
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    before, after = json.loads(p.stdout)
    assert before == [False] * 3 and after == [True] * 3
    # one line, said before compiling: gd and momentum share a kernel, all three the objective
    assert p.stderr.count("optlab: compiling") == 1, p.stderr
    assert "3 kernels (cpu_sgd, objective sphere, cpu_adagrad)" in p.stderr, p.stderr


def test_compile_workers_are_one_per_physical_core(tmp_path, monkeypatch):
    """Two hardware threads of one core count once (they share a core's compile work), one thread
    a core counts each; without the topology files, half the logical CPUs; the variable wins."""
    from optlab.engine import warmup

    def topology(siblings):
        root = tmp_path / "-".join(siblings)
        for c, s in enumerate(siblings):
            (root / f"cpu{c}" / "topology").mkdir(parents=True)
            (root / f"cpu{c}" / "topology" / "thread_siblings_list").write_text(s + "\n")
        return str(root)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert warmup.physical_cores(topology(["0,2", "1,3", "0,2", "1,3"])) == 2
    assert warmup.physical_cores(topology(["0", "1", "2", "3"])) == 4
    assert warmup.physical_cores(str(tmp_path / "none")) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert warmup.physical_cores(topology(["0-1", "0-1"])) == 1
    monkeypatch.setenv("OPTLAB_COMPILE_WORKERS", "3")
    assert warmup.default_workers() == 3


_UNGUARDED = """\
from optlab.engine import warmup
from optlab.errors import OptlabError
print("compiled", warmup.precompile([warmup.KernelKey("sgd", "sphere", 2), warmup.KernelKey("adagrad", "sphere", 2)],
                                    workers=2))
try:  # the first key fails in its worker (a 2-D objective at 3-D), the second compiles in the other
    warmup.precompile([warmup.KernelKey("rmsprop", "himmelblau", 3), warmup.KernelKey("sgd", "himmelblau", 2)],
                      workers=2)
except OptlabError as e:
    print("error", e)
"""


def test_compile_workers_run_from_a_script_without_a_main_guard(tmp_path):
    """Kernels compile in new worker processes that do not import the caller's script again (it
    has no ``if __name__ == "__main__":``, and runs once); a worker's error reaches the caller
    as the one-line error it is."""
    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED)
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines == ["compiled ['cpu_sgd', 'objective sphere', 'cpu_adagrad']",
                     "error Objective 'himmelblau' is 2-dimensional; got x0 of dimension 3"], p.stdout
    cached = subprocess.run([sys.executable, "-c", "from optlab.engine import warmup as w; print([w.is_cached(w.KernelKey("
                             "o, 'sphere', 2)) for o in ('sgd', 'adagrad')])"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert cached.stdout.strip() == "[True, True]", cached.stderr


KERNEL_LAYER = ("optlab.engine.ops", "optlab.engine.rng", "optlab.engine.driver", "optlab.engine.lbfgs_ops",
                "optlab.engine.powexact", "optlab.optimizers._moments", "optlab.optimizers._lowp",
                "optlab.objectives._vecmath", "optlab.objectives._sampling")


@pytest.mark.parametrize("module", KERNEL_LAYER)
def test_the_kernel_layer_imports_nothing_else_from_optlab(module):
    import ast
    import importlib
    mod = importlib.import_module(module)
    tree = ast.parse(Path(mod.__file__).read_text())
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:  # relative: resolve against the package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{target}" if target else base
            if target.startswith("optlab"):
                assert target in KERNEL_LAYER, (module, target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("optlab") or alias.name in KERNEL_LAYER, (module, alias.name)


@pytest.mark.slow
def test_cached_driver_code_is_dropped_when_code_it_calls_changes(tmp_path):
    """Numba keys a cached function on its own file; the guard also follows its callees (rng, ops)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), OPTLAB_CACHE_DIR=str(tmp_path / "c"),
               PYTHONPATH=str(ROOT))
    code = "import optlab; optlab.simulate('sgd', 'sphere', x0=[[1.0, 1.0]], steps=2, grad_noise=0.1)"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=600).returncode == 0
    where = ("import pathlib, optlab.engine.driver as d, optlab.engine.codegen as c; "
             "print(c._numba_cache_dirs(pathlib.Path(d.__file__))[0])")
    folder = Path(subprocess.run([sys.executable, "-c", where], env=env, capture_output=True, text=True,
                                 timeout=300).stdout.strip())
    assert folder.is_relative_to(tmp_path)
    stamp = folder / "driver.optlab-digest"
    assert stamp.is_file() and list(folder.glob("driver.*.nbi"))
    stamp.write_text("0000")  # as if rng.py had changed since the driver was compiled
    probe = ("import optlab.engine.driver_cpu as d, pathlib, sys; "
             "print(len(list(pathlib.Path(sys.argv[1]).glob('driver.*.nb[ic]'))))")
    p = subprocess.run([sys.executable, "-c", probe, str(folder)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0"  # stale code removed before anything could load it
    assert stamp.read_text() != "0000"


def test_cached_driver_code_follows_the_compile_options(tmp_path, monkeypatch):
    """The options the driver's functions are compiled with (driver_cpu.py, e.g. books' ``_nrt``)
    are in the digest of every kernel and of the driver's cached code: other options there drop
    the cached files."""
    import numba
    from optlab.engine import driver
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))  # what NUMBA_CACHE_DIR sets
    folder = codegen._numba_cache_dirs(Path(driver.__file__))[0]
    assert folder.is_relative_to(tmp_path)
    monkeypatch.setattr(codegen, "_BASE", [])
    codegen.guard_cached_functions(driver, ("books",))
    before = codegen._base_digest()
    cached = folder / "driver.books-1.py311.nbi"
    cached.write_text("stand-in")
    codegen.guard_cached_functions(driver, ("books",))
    assert cached.exists()  # the same code and options: kept
    normalized = codegen.normalized_source

    def other_options(text):  # driver_cpu.py as if an option had changed
        return normalized(text.replace("_nrt=False", "_nrt=True") if "books = njit(" in text else text)
    monkeypatch.setattr(codegen, "normalized_source", other_options)
    monkeypatch.setattr(codegen, "_BASE", [])
    assert codegen._base_digest() != before
    codegen.guard_cached_functions(driver, ("books",))
    assert not cached.exists()


# ----------------------------------------------------------------------------- kernel variants


def test_a_run_with_one_setting_gives_the_same_bits_on_the_shared_and_the_full_kernel(monkeypatch):
    """Adam's ``step_shared`` (compiled for runs whose trajectories share every hyperparameter)
    is the full step's shared path: forced onto either kernel, a run gives the same bits."""
    import numpy as np
    from dataclasses import replace

    from optlab.engine import warmup
    assert cpu.has_shared_step(optimizers.get("adam")) and not cpu.has_shared_step(optimizers.get("sgd"))
    x0 = np.random.default_rng(4).uniform(-2, 2, (7, 2))
    for hyper in (dict(lr=0.02), dict(lr=0.01, amsgrad=True, weight_decay=0.1), dict(lr=0.01, maximize=True)):
        for name in ("adam", "adamw"):
            got = {}
            for kind, pick in (("shared", lambda k: k), ("full", lambda k: replace(k, sweep=True))):
                monkeypatch.setattr(warmup, "effective", pick)
                with warmup.recording() as used:
                    got[kind] = optlab.simulate(name, "rosenbrock", x0=x0, steps=60, progress=False, **hyper)
                assert used[-1].sweep == (kind == "full")
            for field in ("x", "loss", "best_loss", "tol_step"):
                assert np.array_equal(getattr(got["shared"], field), getattr(got["full"], field), equal_nan=True), \
                    (name, hyper, field)


def test_the_engine_picks_the_kernel_a_run_needs():
    """One setting and no scheduler: the shared kernel, or the full one when that one is cached
    (warmup.effective); a sweep or a scheduler: the full one."""
    from optlab.engine import warmup
    key = warmup.KernelKey("adam", "rosenbrock", 2)
    full = warmup.KernelKey("adam", "rosenbrock", 2, sweep=True)
    assert warmup.effective(key) in (key, full)
    assert (warmup.effective(key) == full) == warmup.is_cached(full)
    assert warmup.effective(full) == full
    assert warmup.effective(warmup.KernelKey("sgd", "rosenbrock", 2)) == warmup.KernelKey("sgd", "rosenbrock", 2)
    assert "_shared" in warmup.source_of(key)[1] and "_shared" not in warmup.source_of(full)[1]


@pytest.mark.parametrize("key", [("sgd", "rosenbrock", 2, "float64", "program"),
                                 ("adam", "rosenbrock", 2, "float64", "plateau"),
                                 ("sgd", "rosenbrock", 2, "float64", "table+momentum"),
                                 ("sgd", "rosenbrock", 2, "float64", None, True),
                                 ("adam", "rosenbrock", 2, "float64", None, False, ("exp_avg_sq",))],
                         ids=["program", "plateau", "table+momentum", "bounded", "record_state"])
def test_compiling_a_key_compiles_that_variant(key):
    """``warmup.compile_one`` runs what needs exactly the key's variant (a scheduled, bounded or
    tracking key used to compile the plain kernel, and the study then compiled its own)."""
    from optlab.engine import warmup
    key = warmup.KernelKey(*key)
    with warmup.recording() as used:
        warmup.compile_one(key)
    assert [warmup.identity_of(k) for k in used] == [warmup.identity_of(warmup.effective(key))]
    assert warmup.is_cached(key)


def test_a_full_batch_key_compiles_the_full_batch_objective(monkeypatch):
    """``KernelKey.full_batch``: a study whose finite-sum runs are all full-batch compiles the spec's
    full-batch function (linear regression: 0.3 s cold against the general one's 6 s), named as such;
    one with minibatches, or a spec without one, keeps the general function."""
    from optlab import objectives
    from optlab.engine import objective_cpu, warmup
    monkeypatch.setattr(objective_cpu, "_FULL_PICK", {})
    lin = objectives.get("linear_regression")
    assert warmup.full_batch(lin) and warmup.full_batch(lin, {"n_samples": 64})
    assert not warmup.full_batch(lin, {"batch_size": 8}) and not warmup.full_batch(objectives.get("rosenbrock"))
    key = warmup.KernelKey("sgd", "linear_regression", 2, full_batch=True)
    warmup.compile_one(key)
    assert objective_cpu._fn_cached(lin.full_batch_kernel) and warmup.is_cached(key)
    assert warmup.identity_of(key).endswith("regression.linear_full_block")
    assert warmup.identity_of(warmup.KernelKey("sgd", "linear_regression", 2)).endswith("regression.linear_regression")
    assert warmup.identity_of(warmup.KernelKey("sgd", "rosenbrock", 2, full_batch=True)) == \
        warmup.identity_of(warmup.KernelKey("sgd", "rosenbrock", 2))
    # the studies say so: the edge of stability runs the mlp on its full batch, batch_vs_minibatch does not
    from optlab.studies import batch_vs_minibatch, edge_of_stability
    eos = [k for k in edge_of_stability.kernels({"study": {"quick": True}}) if k.objective == "mlp"]
    assert eos and all(k.full_batch for k in eos)
    assert not any(k.full_batch for k in batch_vs_minibatch.kernels({"study": {}}))
    assert all(k.full_batch for k in batch_vs_minibatch.kernels({"study": {"batch_sizes": [0]}}))


def test_compiling_a_sweep_key_runs_a_sweep():
    from optlab.engine import warmup
    key = warmup.KernelKey("adam", "rosenbrock", 2, sweep=True)
    with warmup.recording() as used:
        warmup.compile_one(key)
    assert used == [key]


_WARM_MLP = textwrap.dedent('''
    import numpy as np
    import optlab
    from optlab.engine import warmup
    key = warmup.KernelKey("sgd", "mlp", dim=5)
    warmup.precompile([key])
    print("cached", warmup.is_cached(key))
    for m in (0, 4):
        optlab.simulate("sgd", "mlp", x0=np.full((2, 5), 0.1), steps=2, objective_options=dict(batch_size=m))
''')


@pytest.mark.slow
def test_precompiling_a_finite_sum_compiles_what_its_runs_then_load(tmp_path):
    """A study compiles up front the objective function its runs take, full batch or minibatches
    (the general block kernel: ``objective_cpu.kernel_for`` takes it where the full-batch one is
    not compiled), and the runs compile nothing more."""
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(tmp_path / "c"), NUMBA_CACHE_DIR=str(tmp_path / "n"),
               PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", _WARM_MLP], capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stderr
    assert "cached True" in p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("optlab: compiling")]
    assert len(lines) == 1, p.stderr  # the precompile's own line only
