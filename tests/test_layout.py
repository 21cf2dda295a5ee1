"""Named kernel layouts: each optimizer's state, scalar and hyperparameter rows, checked at registration."""
import importlib.util
import sys
import textwrap

import pytest

from optlab import optimizers
from optlab.optimizers._base import OptimizerSpec, check_layout

GOOD = '''
S_BUF, S_AVG = 0, 1
K_SCALE = 0
H_LR, H_BETA = 0, 1


def init(x, st, sc, hp, hs, n):
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_BUF, d, j] = 0.0
            st[S_AVG, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    same = uniform(hp, H_BETA, n)
    for j in range(n):
        sc[K_SCALE, j] = hp[H_LR, j]
    for d in range(x.shape[0]):
        for j in range(n):
            st[S_BUF, d, j] = hp[H_BETA, j] * st[S_BUF, d, j] + g[d, j]
            st[S_AVG, d, j] = st[S_BUF, d, j]
            x[d, j] -= sc[K_SCALE, j] * st[S_BUF, d, j]
'''


def _spec(tmp_path, source, **kw):
    path = tmp_path / "fake_kernels.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("optlab._layout_test_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    args = dict(name="fake", kernels=mod, defaults={"lr": 0.1, "beta": 0.9}, vector=("lr", "beta"),
                state=("buf", "avg"), scalars=("scale",))
    args.update(kw)
    return OptimizerSpec(**args)


def test_every_registered_optimizer_passes_its_layout_check():
    for spec in optimizers.registry:
        check_layout(spec)
        assert spec.n_state == len(spec.state) and spec.n_scalar == len(spec.scalars)


def test_a_consistent_layout_passes(tmp_path):
    spec = _spec(tmp_path, GOOD, record_state=("buf", "avg"))
    check_layout(spec)
    assert spec.record_slots == [0, 1] and spec.n_state == 2


@pytest.mark.parametrize("edit, kw, message", [
    (("S_BUF, S_AVG = 0, 1", "S_BUF, S_AVG = 1, 0"), {}, "state row 0 is 'buf', so the module must define S_BUF = 0"),
    (("K_SCALE = 0\n", ""), {}, "scalars row 0 is 'scale', so the module must define K_SCALE = 0"),
    (("st[S_AVG, d, j] = st[S_BUF, d, j]", "st[1, d, j] = st[S_BUF, d, j]"), {}, "indexes st[1, ...] by number"),
    (("same = uniform(hp, H_BETA, n)", "same = uniform(hp, 1, n)"), {}, "indexes hp[1, ...] by number"),
    (("sc[K_SCALE, j] = hp[H_LR, j]", "sc[S_BUF, j] = hp[H_LR, j]"), {}, "indexes sc with S_BUF, a row of another array"),
    ((None, None), {"state": ("buf", "avg", "extra")}, "the module must define S_EXTRA = 2"),
    (("H_LR, H_BETA = 0, 1", "H_LR, H_BETA, H_GAMMA = 0, 1, 2"), {}, "H_GAMMA names no declared vector row"),
    (("K_SCALE = 0\n", "K_SCALE, K_SPARE = 0, 1\n"), {"scalars": ("scale", "spare")},
     "declares scalars row 'spare' (K_SPARE) that its kernel never uses"),
    ((None, None), {"record_state": ("gone",)}, "record_state names 'gone', which is not a declared row"),
])
def test_an_inconsistent_layout_fails_naming_the_row(tmp_path, edit, kw, message):
    src = GOOD if edit[0] is None else GOOD.replace(*edit)
    assert src != GOOD or edit[0] is None  # the edit applies
    with pytest.raises(RuntimeError, match="optimizer 'fake'") as exc:
        check_layout(_spec(tmp_path, src, **kw))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_record_rows_must_be_consecutive(tmp_path):
    src = GOOD.replace("S_BUF, S_AVG = 0, 1", "S_BUF, S_MID, S_AVG = 0, 1, 2").replace(
        "            st[S_AVG, d, j] = st[S_BUF, d, j]\n",
        "            st[S_AVG, d, j] = st[S_BUF, d, j]\n            st[S_MID, d, j] = 0.0\n")
    spec = _spec(tmp_path, src, state=("buf", "mid", "avg"), record_state=("buf", "avg"))
    with pytest.raises(RuntimeError, match="record_state rows buf, avg must be consecutive"):
        check_layout(spec)


def test_registration_runs_the_check():
    assert optimizers.registry.check is check_layout


def test_the_source_scan_is_remembered_per_source(tmp_path, monkeypatch):
    """The scan of a module's kernels (``_rows_used``) is kept in the user cache by its source: a
    later process reads it; an edit scans again; a scan that fails, or a damaged file, is not
    trusted."""
    import json
    cache = tmp_path / "cache"
    monkeypatch.setenv("OPTLAB_CACHE_DIR", str(cache))
    check_layout(_spec(tmp_path, GOOD))
    files = sorted((cache / "layout").glob("*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == ["H_BETA", "H_LR", "K_SCALE", "S_AVG", "S_BUF"]
    files[0].write_text("{not json")  # damaged: scanned again and rewritten
    check_layout(_spec(tmp_path, GOOD))
    assert json.loads(files[0].read_text()) == ["H_BETA", "H_LR", "K_SCALE", "S_AVG", "S_BUF"]
    bad = GOOD.replace("st[S_AVG, d, j] = st[S_BUF, d, j]", "st[1, d, j] = st[S_BUF, d, j]")
    for _ in range(2):  # not remembered: it fails every time
        with pytest.raises(RuntimeError, match="by number"):
            check_layout(_spec(tmp_path, bad))
    assert sorted((cache / "layout").glob("*.json")) == files
    check_layout(_spec(tmp_path, GOOD + "\n\ndef helper(sc):\n    return sc[K_SCALE, 0]\n"))  # an edit: its own scan
    assert len(list((cache / "layout").glob("*.json"))) == 2
