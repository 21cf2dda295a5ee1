"""Faults around artifacts: sweep extras order, run manifests, label collisions, resume of damaged jobs,
stale temporary files, re-used folders, and Ctrl-C in a run and in a multirun (a real subprocess and a
real signal)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import optlab
from conftest import ROOT, run_cli
from optlab import manifest
from optlab.report.artifacts import find_jobs, is_complete
from optlab.runner import run

X0 = [[-1.2, 1.0], [0.5, 0.5]]
SMALL = ("engine.steps=30", "plot.contour=false")


def _compare(optimizers, steps=30, **plot):
    return {"study": {"name": "compare", "optimizers": optimizers}, "objective": {"name": "rosenbrock"},
            "engine": {"steps": steps}, "plot": {"contour": False, "loss": False, **plot}}


# --- optlab.sweep --------------------------------------------------------------------------------

def _extras_on_their_trajectories(name, extra, grid, **kw):
    """A sweep whose second axis is a per-call option runs as one engine call per value; the merged
    extras must land on the same trajectories as x (each grid point against its own run)."""
    (k1, v1), (k2, v2) = grid.items()
    sw = optlab.sweep(name, "rosenbrock", grid=grid, x0=X0, steps=5, progress=False, **kw)
    got = np.asarray(sw.extra[extra]).reshape(*sw.shape, *np.shape(sw.extra[extra])[1:])
    for i, a in enumerate(v1):
        for j, b in enumerate(v2):
            ref = optlab.simulate(name, "rosenbrock", x0=X0, steps=5, progress=False, **{k1: a, k2: b}, **kw)
            np.testing.assert_array_equal(got[i, j], ref.extra[extra])
            np.testing.assert_array_equal(sw.grid("x_final")[i, j], ref.x_final)
    # how many grid points have extras of their own (a misplaced extra passes unnoticed where they are equal)
    return len({got[i, j].tobytes() for i in range(len(v1)) for j in range(len(v2))})


def test_sweep_extras_follow_their_trajectories_with_a_static_axis():
    """ASGD's maximize is a per-call option: the averaged point ``ax`` of each grid point is its own."""
    assert _extras_on_their_trajectories("asgd", "ax", {"lr": [0.001, 0.01], "maximize": [False, True]}, t0=1.0) == 4


@pytest.mark.slow
def test_lbfgs_sweep_extras_follow_their_trajectories_with_a_static_axis():
    """history_size of L-BFGS (func_evals, the evaluations of each step); slow: it compiles L-BFGS's
    sweep kernels (about 25 s of the default run with every cache empty)."""
    assert _extras_on_their_trajectories("lbfgs", "func_evals", {"lr": [0.1, 1.0], "history_size": [2, 5]}) > 1


# --- manifests, labels, the report -----------------------------------------------------------------

def test_runs_whose_labels_collide_keep_their_own_files(tmp_path):
    """'a/b' and 'a_b' slug to the same name; two identical optimizers share a label: four runs, four files."""
    lrs = [0.001, 0.002, 0.003, 0.003]
    out = tmp_path / "run"
    summary = run(_compare([{"name": "sgd", "lr": lrs[0], "label": "a/b"}, {"name": "sgd", "lr": lrs[1], "label": "a_b"},
                            {"name": "adam", "lr": lrs[2]}, {"name": "adam", "lr": lrs[3]}]), out)
    labels = [r["label"] for r in summary["runs"]]
    assert len(set(labels)) == 4, labels
    doc = manifest.read(out)
    assert doc["complete"] and [r["label"] for r in doc["runs"]] == labels
    files = [r["file"] for r in doc["runs"]]
    assert len(set(files)) == 4 and sorted(p.name for p in out.glob("trajectories_*.npz")) == sorted(files)
    for r, lr, opt in zip(doc["runs"], lrs, ["sgd", "sgd", "adam", "adam"]):  # each file holds its own run
        with np.load(out / r["file"]) as z:
            assert np.all(z["hyper_lr"] == lr) and json.loads(str(z["meta"]))["optimizer"] == opt
    kind, (job,) = find_jobs(out)
    assert job.status == "ok", job.problems
    assert [r.label for r in job.runs] == labels and all(r.loss_final is not None for r in job.runs)


@pytest.mark.parametrize("study", [
    "plateau_cliff",
    # slow: its minibatch kernels take about 20 s to compile (tests/test_studies.py runs the study itself)
    pytest.param("batch_vs_minibatch", marks=pytest.mark.slow)])
def test_report_of_a_finished_lecture_study_is_ok(tmp_path, study):
    out = tmp_path / study
    run({"study": {"name": study, "quick": True}, "plot": {"dpi": 40}}, out)
    kind, (job,) = find_jobs(out)
    assert job.status == "ok", job.problems
    assert not any("trajectories_" in p for p in job.problems)
    doc = manifest.read(out)
    assert doc["runs"] and all(r["file"] == f"{study}.npz" for r in doc["runs"])
    with np.load(out / f"{study}.npz") as z:  # every run's arrays are where the manifest says
        assert all(k in z.files for r in doc["runs"] for k in r["keys"])
    assert is_complete(out)


def test_a_reused_folder_never_mixes_two_runs_files(tmp_path):
    out = tmp_path / "run"
    run(_compare([{"name": "adam", "lr": 0.01, "label": "first"}, {"name": "sgd", "lr": 0.001, "label": "second"}],
                 loss=True), out)
    assert {p.name for p in out.glob("trajectories_*.npz")} == {"trajectories_first.npz", "trajectories_second.npz"}
    # a bad value: refused before anything is written, the earlier run is untouched
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(optlab.OptlabError):
        run(_compare([{"name": "adam", "lr": -1.0, "label": "third"}]), out)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # a new run in the same folder: only its own files remain
    run(_compare([{"name": "adam", "lr": 0.02, "label": "third"}]), out)
    assert {p.name for p in out.glob("*.npz")} == {"trajectories_third.npz"}
    assert not (out / "loss.png").exists()  # a figure of the earlier run (this one draws none)
    kind, (job,) = find_jobs(out)
    assert job.status == "ok" and [r.label for r in job.runs] == ["third"] and job.figures == []


def test_stale_temporary_files_are_removed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale = [out / ".metrics.json.k1ll3d.tmp", out / ".loss.png.x9.tmp", out / ".race.gif.q2.tmp.gif"]
    for p in stale:
        p.write_bytes(b"")  # what a killed atomic write leaves
    run(_compare([{"name": "adam", "lr": 0.01}]), out)
    assert not any(p.exists() for p in stale)
    assert is_complete(out)


def test_an_interrupt_between_runs_keeps_the_finished_ones(tmp_path, monkeypatch):
    from optlab.studies import basic
    calls = []

    def simulate(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return optlab.simulate(*a, **kw)
    monkeypatch.setattr(basic, "simulate", simulate)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(_compare([{"name": "adam", "lr": 0.01, "label": "done"}, {"name": "sgd", "lr": 0.001, "label": "cut"}]), out)
    doc = manifest.read(out)
    assert not doc["complete"] and [r["label"] for r in doc["runs"]] == ["done"]
    assert not is_complete(out) and not (out / "summary.json").exists()
    kind, (job,) = find_jobs(out)
    assert job.status == "incomplete" and any("did not finish" in p for p in job.problems)
    (r,) = job.runs
    assert r.label == "done" and r.n_traj == 5 and r.final_loss_median is not None


# --- resume -------------------------------------------------------------------------------------------

def test_resume_decides_by_the_files_not_the_json(tmp_path):
    """resumed_summary (what a multirun job asks first with report.resume=true): a complete job is skipped;
    the same job with its npz cut in half (JSON files intact) is run again."""
    import yaml
    from optlab.callbacks import resumed_summary
    cfg = {**_compare([{"name": "adam", "lr": 0.01}]), "report": {"resume": True}}
    out = tmp_path / "0"
    run(cfg, out, config_yaml=yaml.safe_dump(cfg))
    (out / ".summary.json.dead.tmp").write_bytes(b"")  # a killed write in a complete job
    assert resumed_summary(cfg, out)["resumed"] is True
    assert not (out / ".summary.json.dead.tmp").exists()
    # a changed sweep is not mistaken for a complete one: the same folder with another lr runs again
    assert resumed_summary({**_compare([{"name": "adam", "lr": 0.02}]), "report": {"resume": True}}, out) is None
    npz = next(out.glob("trajectories_*.npz"))
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    assert resumed_summary(cfg, out) is None and not is_complete(out)
    assert any("truncated" in p for p in find_jobs(out)[1][0].problems)


def test_resume_checks_array_shapes_against_the_manifest(tmp_path):
    out = tmp_path / "run"
    run(_compare([{"name": "adam", "lr": 0.01}]), out)
    assert is_complete(out)
    doc = json.loads((out / "manifest.json").read_text())
    entry = next(f for f in doc["files"] if f["kind"] == "trajectories")
    entry["arrays"]["x"][0][0] += 1  # the file no longer holds what the manifest says was written
    (out / "manifest.json").write_text(json.dumps(doc))
    assert not is_complete(out)
    assert any("array 'x'" in p for p in manifest.check(out))


# --- Ctrl-C ----------------------------------------------------------------------------------------------

def _interrupt(args, ready, tmp_path, after=0.0):
    """Start ``python -m optlab ARGS``, wait until ``ready`` exists, send SIGINT; (rc, stdout, stderr)."""
    env = {**os.environ}
    env.pop("HYDRA_FULL_ERROR", None)
    p = subprocess.Popen([sys.executable, "-m", "optlab", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.poll() is None, "finished before the signal: make the run longer"
    time.sleep(after)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


LONG = ("engine.steps=1000000", "engine.record_every=10000", "plot.contour=false")


def _one_line(out, err):
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]  # (a cold kernel cache adds "compiling ..." lines)
    assert sum("interrupted" in ln for ln in lines) == 1 and "interrupted (Ctrl-C)" in lines[-1], err
    return lines[-1]


def test_sigint_to_a_run(tmp_path):
    out = tmp_path / "run"
    opts = ",".join(f"{{name:adam,lr:{lr}}}" for lr in (0.001, 0.002, 0.003, 0.004, 0.005, 0.006))
    rc, so, se = _interrupt(["study.name=compare", f"+study.optimizers=[{opts}]", *LONG, f"hydra.run.dir={out}"],
                            out / ".hydra", tmp_path, after=1.0)
    assert rc == 130, (so + se)[-3000:]  # what the process said, should it ever not be 130
    line = _one_line(so, se)
    assert str(out) in line and "run the same command again" in line
    assert (out / "report.md").is_file()
    kind, (job,) = find_jobs(out)
    assert job.status == "incomplete"
    for r in job.runs:  # whatever finished before the signal is there, whole
        assert r.loss_final is not None and r.n_traj == 5


@pytest.mark.slow
def test_sigint_to_a_multirun_then_resume(tmp_path):
    """Ctrl-C after two jobs; then one finished job's npz is cut in half: the resumed sweep re-runs that
    job and those never finished, and skips only the intact ones."""
    folder = tmp_path / "m"
    args = ["-m", "optimizer.lr=0.001,0.002,0.003,0.004,0.005", "engine.steps=300000", *LONG[1:],
            f"hydra.sweep.dir={folder}"]
    rc, so, se = _interrupt(args, folder / "1" / "job.json", tmp_path)  # two jobs done, with their bookkeeping
    assert rc == 130, (so + se)[-3000:]  # what the process said, should it ever not be 130
    line = _one_line(so, se)
    assert str(folder) in line and "report.resume=true" in line
    statuses = [j.status for j in find_jobs(folder)[1]]
    ok = statuses.count("ok")
    assert statuses[:2] == ["ok", "ok"] and 2 <= ok < 5 and len(statuses) == 5, statuses
    md = (folder / "report.md").read_text()
    assert f"5 jobs: {ok} ok" in md and "not started" in md
    npz = next((folder / "1").glob("trajectories_*.npz"))
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    kept = (folder / "0" / "summary.json").stat().st_mtime_ns
    p = run_cli(*args, "report.resume=true")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("skipped (report.resume=true") == ok - 1 and f"results complete): {folder / '1'}\n" not in p.stdout
    assert (folder / "0" / "summary.json").stat().st_mtime_ns == kept
    assert all(is_complete(folder / str(k)) for k in range(5))
    assert "5 jobs: 5 ok" in (folder / "report.md").read_text()


# --- damaged compiled code of the functions a kernel calls (the driver, the objective) -----------

_HELPER_RUN = ("import json, optlab; r = optlab.simulate('sgd', 'quadratic', x0=[[1.0, 1.0], [2.0, -1.0]], "
               "steps=20, lr=0.1, momentum=0.5); print(json.dumps(r.x_final.tolist()))")


def _helper_run(cache):
    env = dict(os.environ, OPTLAB_CACHE_DIR=str(cache / "c"), NUMBA_CACHE_DIR=str(cache / "numba"),
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", _HELPER_RUN], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def helper_cache(tmp_path_factory):
    """A private cache (kernels and Numba's code of the driver and objectives), a pristine copy of it,
    and the numbers it gives. Numba keys its cache on the source's path: tests restore the copy in place."""
    import shutil
    cache = tmp_path_factory.mktemp("helpers") / "cache"
    cache.mkdir()
    p = _helper_run(cache)
    assert p.returncode == 0, p.stderr
    pristine = cache.parent / "pristine"
    shutil.copytree(cache, pristine)
    return cache, pristine, json.loads(p.stdout)


def _zero(f):
    f.write_bytes(b"")


def _garble(f):
    f.write_bytes(b"\x00garbage" * 8)


def _wrong_pickle(f):  # a complete pickle stream that is not Numba's: only loading it can tell
    import pickle
    f.write_bytes(pickle.dumps(("not", "numba")) * (2 if f.suffix == ".nbi" else 1))


@pytest.mark.parametrize("where,suffix,damage,kernel_too", [  # each spawns two processes: three of five are slow
    ("objectives_", ".nbc", _zero, False),
    pytest.param("objectives_", ".nbi", _garble, False, marks=pytest.mark.slow),
    pytest.param("engine_", ".nbi", _garble, False, marks=pytest.mark.slow),
    ("engine_", ".nbc", _wrong_pickle, True),
    pytest.param("objectives_", ".nbc", _wrong_pickle, False, marks=pytest.mark.slow)])
def test_damaged_helper_code_is_rebuilt_with_one_line(helper_cache, where, suffix, damage, kernel_too):
    """A truncated or garbled cache file of the driver or of an objective made every later run of the
    pair fail with a pickle error until the folder was deleted by hand; now: rebuilt, one line."""
    import shutil
    cache, pristine, expect = helper_cache
    shutil.rmtree(cache)
    shutil.copytree(pristine, cache)
    files = sorted(f for f in (cache / "numba").rglob(f"*{suffix}") if f.parent.name.startswith(where))
    assert files, sorted(p.name for p in (cache / "numba").iterdir())
    for f in files:
        damage(f)
    if kernel_too:  # the kernel compiles again, so the driver's object code is loaded (else it is not needed)
        for f in (cache / "numba").rglob("cpu_sgd_*.nb[ic]"):
            f.unlink()
    p = _helper_run(cache)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert json.loads(p.stdout) == expect
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not (kernel_too and "compiling cpu_sgd" in ln)]
    assert len(lines) == 1 and "rebuilding" in lines[0], lines
    again = _helper_run(cache)
    assert again.returncode == 0 and again.stderr == "" and json.loads(again.stdout) == expect


def test_labels_that_are_not_text_are_refused_or_kept_as_text(tmp_path):
    """A list as a label raised TypeError (unhashable) from the label de-duplication; a number is text."""
    from optlab.errors import OptlabError
    with pytest.raises(OptlabError, match=r"Invalid label of optimizer 'sgd': \[1\] \(must be text\)"):
        run(_compare([{"name": "adam", "lr": 0.01}, {"name": "sgd", "lr": 0.01, "label": [1]}]), tmp_path / "a")
    assert not (tmp_path / "a").exists()
    summary = run(_compare([{"name": "adam", "lr": 0.01, "label": 5}, {"name": "sgd", "lr": 0.01, "label": "5"}], steps=5),
                  tmp_path / "b")
    runs = manifest.read(tmp_path / "b")["runs"]
    assert sorted(r["label"] for r in runs) == ["5", "5 [2]"], runs
    assert len({r["file"] for r in runs}) == 2 and summary


@pytest.mark.parametrize("args", [["report"], ["report", "--bogus", "x"], ["cache", "bogus"], ["cache", "--bogus"],
                                  ["bench", "--bogus"], ["bench", "--section", "nope"]])
def test_subcommand_usage_errors_are_one_line(capsys, args):
    """argparse printed its usage block before the error (two to six lines)."""
    from optlab import cli
    with pytest.raises(SystemExit) as ex:
        cli.main(args)
    assert ex.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"optlab: error: optlab {args[0]}: "), err


def test_a_report_that_cannot_be_written_is_one_line(tmp_path, capsys):
    from optlab.report import main as report_main
    out = tmp_path / "run"
    run(_compare([{"name": "adam", "lr": 0.01}], steps=5), out)
    (out / "report.html").unlink(missing_ok=True)
    (out / "report.html").mkdir()  # the report's own name taken by a folder
    assert report_main([str(out)]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"optlab: error: cannot write the report of {out}"), err
    assert (out / "metrics.json").exists() and manifest.read(out) is not None


def test_ctrl_c_before_a_rerun_writes_keeps_the_earlier_run_and_its_command(tmp_path, monkeypatch, capsys):
    """A finished run's folder, run into again and interrupted before the new run wrote a file: the
    old results stayed, but Hydra's .hydra/ and the rebuilt report named the new command."""
    from optlab import cli, runner
    from optlab.report import build_report
    out = tmp_path / "q"
    assert cli.main(["optimizer=sgd", "engine.steps=3", f"hydra.run.dir={out}"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def interrupt(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "run", interrupt)
    capsys.readouterr()
    assert cli.main(["optimizer=sgd", "engine.steps=7", f"hydra.run.dir={out}"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "before it wrote anything; the earlier run's results and report" in err[0], err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert "engine.steps=7" in (out / ".hydra" / "overrides.yaml").read_text()  # Hydra's, as it is
    build_report(out)
    md = (out / "report.md").read_text()
    assert "engine.steps=3" in md and "engine.steps=7" not in md


def test_ctrl_c_that_hydra_wraps_in_another_exception_is_still_ctrl_c(tmp_path, monkeypatch, capsys):
    """Ctrl-C while Hydra composed the next job's config reached the CLI as a ConfigCompositionException
    (a slow CI run): it ended with a traceback and status 1, not the one line and 130."""
    import signal

    from hydra.errors import ConfigCompositionException

    from optlab import cli

    def hydra_main(args):
        cli._CURRENT.update(multirun=True, sweep_dir=tmp_path / "m", run_dir=tmp_path / "m" / "0", job=0,
                            report={"enabled": False})
        try:
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # what Ctrl-C calls
        except KeyboardInterrupt as exc:
            raise ConfigCompositionException("Error merging override") from Exception(str(exc))
    monkeypatch.setattr(cli, "_hydra_main", hydra_main)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (xdist ignores it)
    try:
        assert cli.main(["-m", "optimizer.lr=0.1,0.2", f"hydra.sweep.dir={tmp_path / 'm'}"]) == 130
        assert signal.getsignal(signal.SIGINT) is not cli._note_sigint  # not left behind
    finally:
        signal.signal(signal.SIGINT, before)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "sweep interrupted (Ctrl-C)" in err[0], err
