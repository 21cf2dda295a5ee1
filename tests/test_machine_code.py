"""The kernels' machine code for an AVX2 CPU without AVX-512 (LLVM's ``znver1``) has no masked
stores: LLVM's x86 back end makes one of ``a[j] = v if c else a[j]``, which AMD's cores
microcode (the books were a fifth of Adam's lr sweep on an AMD EPYC; docs/DESIGN.md, "Division:
the divider or four FMAs"). Compiled in a new process with empty caches (Numba shows the
machine code of what it compiled itself only), for the optimizers whose steps keep a buffer
for some trajectories and not others, and the driver every kernel calls."""
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_SCAN = textwrap.dedent('''
    import json, sys
    import numpy as np
    import optlab
    from optlab.engine import codegen
    x0 = np.random.default_rng(0).uniform(-1, 1, (64, 2))
    lr = np.geomspace(1e-4, 1e-2, 64)
    runs = [("sgd", dict(momentum=np.where(np.arange(64) % 2 == 0, 0.9, 0.0))), ("rmsprop", dict(momentum=0.5)),
            ("rmsprop", dict(centered=True)), ("adam", dict(amsgrad=True)), ("adam", {})]
    for name, kw in runs:
        optlab.simulate(name, "rosenbrock", x0=x0, steps=3, progress=False, lr=lr, **kw)
    out = {}
    for key, mod in sorted(codegen._MODULES.items()):
        asm = mod.run.inspect_asm(mod.run.signatures[0])
        lines = [ln.strip() for ln in asm.splitlines() if "maskmov" in ln]
        # AT&T syntax: a store's memory operand is the last one
        out[key] = dict(stores=[ln for ln in lines if ln.endswith(")")], has_books="books" in asm)
    print(json.dumps(out))
''')


@pytest.mark.slow
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 machine code")
def test_no_masked_stores_for_an_avx2_cpu(tmp_path):
    env = dict(os.environ, NUMBA_CPU_NAME="znver1", OPTLAB_CACHE_DIR=str(tmp_path / "o"),
               NUMBA_CACHE_DIR=str(tmp_path / "n"), PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", _SCAN], capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert any(k.startswith("cpu_sgd") for k in out) and any(k.startswith("cpu_rmsprop") for k in out)
    assert all(v["has_books"] for v in out.values())  # the driver's books are linked into each kernel
    stores = {k: v["stores"] for k, v in out.items() if v["stores"]}
    assert not stores, stores
