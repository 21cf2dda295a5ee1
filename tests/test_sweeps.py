"""Sweeps: parallel launchers, kernels from the disk cache, shards, resume, progress."""
import importlib.util
import io
import json
import os
import sys
import time

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import ROOT, run_cli
from optlab.callbacks import SweepProgress
from optlab.errors import OptlabError
from optlab.report.artifacts import find_jobs
from optlab.sharding import Shard, apply_shard

SMALL = ("engine.steps=30", "plot.contour=false")


def _jobs(folder):
    return {j.name: j for j in find_jobs(folder)[1]}


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """Compile (if needed) the kernels the sweeps below use, so they load from the disk cache."""
    folder = tmp_path_factory.mktemp("warm") / "m"
    p = run_cli("-m", "optimizer=sgd,adam", "engine.steps=2", "report.enabled=false", "plot.loss=false",
                "plot.contour=false", f"hydra.sweep.dir={folder}")
    assert p.returncode == 0, p.stderr


def test_joblib_sweep_runs_in_parallel_workers_from_the_kernel_cache(warm_cache, tmp_path):
    folder = tmp_path / "joblib"
    p = run_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "optimizer=sgd,adam",
                "optimizer.lr=0.001,-1,0.01", *SMALL, f"hydra.sweep.dir={folder}")
    # the failure happened in a worker process; the launching process still exits non-zero
    assert p.returncode == 1, p.stderr
    assert "2 job(s) failed" in p.stderr
    jobs = _jobs(folder)
    assert [jobs[n].status for n in sorted(jobs)] == ["ok", "failed", "ok", "ok", "failed", "ok"]
    infos = [jobs[n].info for n in sorted(jobs)]
    assert all(i["launcher"] == "JoblibLauncher" for i in infos)
    assert all(i["pid"] != os.getpid() for i in infos)
    # each worker loads the kernels from the disk cache: nothing is compiled again
    assert sum(i["numba_compiles"] for i in infos) == 0, infos
    md_text = (folder / "report.md").read_text()
    assert "Invalid learning rate: -1.0" in md_text and "6 jobs: 4 ok, 2 failed" in md_text
    assert "every kernel came from the disk cache" in md_text


@pytest.mark.slow
def test_shards_of_a_study_merge_into_the_unsharded_result(warm_cache, tmp_path):
    sharded, whole = tmp_path / "sharded", tmp_path / "whole"
    p = run_cli("-m", "+study.starts=30", "+engine.num_shards=3", "+engine.shard=0,1,2", *SMALL,
                f"hydra.sweep.dir={sharded}")
    assert p.returncode == 0, p.stderr
    q = run_cli("+study.starts=30", *SMALL, f"hydra.run.dir={whole}")
    assert q.returncode == 0, q.stderr
    sizes = [json.loads((sharded / str(k) / "summary.json").read_text())["runs"][0]["n_traj"] for k in range(3)]
    assert sizes == [10, 10, 10]
    # the report merges the three jobs into one row with all 30 trajectories
    md_text = (sharded / "report.md").read_text()
    row = next(line for line in md_text.splitlines() if line.startswith("| 0–2 "))
    assert "(3/3 shards)" in row and "| 30 |" in row
    # each shard's figures are labelled as that shard, not as the merged row
    assert "### job 1: study.starts=30" in md_text and "shard 1 of 3\n" in md_text
    # noise-free: the shards' trajectories are exactly the unsharded run's
    from optlab.engine.result import Result
    parts = [Result.load_npz(next((sharded / str(k)).glob("trajectories_*.npz"))) for k in range(3)]
    full = Result.load_npz(next(whole.glob("trajectories_*.npz")))
    np.testing.assert_array_equal(np.concatenate([r.loss_final for r in parts]), full.loss_final)
    summary = json.loads((whole / "summary.json").read_text())["runs"][0]
    assert f"{summary['final_loss_median']:.3e}" in row


def test_shard_selection_and_validation():
    x0 = np.arange(20.0).reshape(10, 2)
    parts = [Shard(k, 3).select(x0) for k in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), x0)
    assert [len(p) for p in parts] == [3, 3, 4]
    cfg, shard = apply_shard({"engine": {"seed": 7, "steps": 5, "shard": 1, "num_shards": 4}})
    assert shard == Shard(1, 4, 7) and cfg["engine"] == {"seed": 7, "steps": 5}  # (the slice takes an offset)
    assert apply_shard({"engine": {"seed": 3}})[1] == Shard(0, 1, 3)
    with pytest.raises(OptlabError, match=r"Invalid engine.shard: 4 \(must be in \[0, 4\)"):
        apply_shard({"engine": {"shard": 4, "num_shards": 4}})
    with pytest.raises(OptlabError, match="Invalid engine.num_shards: 0"):
        apply_shard({"engine": {"shard": 0, "num_shards": 0}})
    with pytest.raises(OptlabError, match="only 10 trajectories"):
        Shard(0, 11).select(x0)


def test_sweep_progress_counts_finished_jobs(tmp_path):
    started = time.time()
    for k in range(3):
        (tmp_path / str(k)).mkdir()
    (tmp_path / "0" / "job.json").write_text("{}")
    (tmp_path / "1" / "job.json").write_text("{}")
    (tmp_path / "1" / "error.json").write_text("{}")
    out = io.StringIO()
    prog = SweepProgress(tmp_path, 4, started, skipped={"2"}, interval=0.05, file=out).start()
    assert prog.done == 3 and prog.failed == 1
    prog.stop()
    assert "3/4" in out.getvalue() and "1 failed" in out.getvalue()


def test_no_progress_bar_when_not_a_terminal(warm_cache, tmp_path):
    p = run_cli("-m", "optimizer.lr=0.001,0.01", *SMALL, "report.figures=false", f"hydra.sweep.dir={tmp_path / 'm'}")
    assert p.returncode == 0, p.stderr
    assert "sweep:" not in p.stderr and "%|" not in p.stderr


def test_resume_skips_complete_jobs(warm_cache, tmp_path):
    folder = tmp_path / "m"
    args = ("-m", "optimizer=adam", "optimizer.lr=0.001,0.01,0.003", *SMALL, f"hydra.sweep.dir={folder}")
    assert run_cli(*args).returncode == 0
    (folder / "1" / "metrics.json").unlink()  # job 1 killed before it finished writing
    kept = {k: (folder / k / "summary.json").stat().st_mtime_ns for k in ("0", "2")}
    p = run_cli(*args, "report.resume=true")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("skipped (report.resume=true") == 2
    assert {k: (folder / k / "summary.json").stat().st_mtime_ns for k in ("0", "2")} == kept
    assert (folder / "1" / "metrics.json").is_file()
    assert "3 jobs: 3 ok" in (folder / "report.md").read_text()
    # a changed sweep reruns its changed jobs: tests/test_faults_artifacts.py (resumed_summary, in process)


def _compose_launcher(name):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg.hydra.launcher


@pytest.mark.parametrize("name,plugin,target", [
    ("slurm", "hydra_plugins.hydra_submitit_launcher", "SlurmLauncher"),
    ("ray_local", "hydra_plugins.hydra_ray_launcher", "RayLauncher"),
    ("ray_cluster", "hydra_plugins.hydra_ray_launcher", "RayLauncher"),
])
def test_launcher_configs_compose(name, plugin, target, monkeypatch):
    """Each file composes over its plugin's schema (a misspelt or mistyped key fails here) and
    picks the plugin's launcher; where the Ray instance comes from (what the SLURM file's values
    do is checked by the sweep below)."""
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} is not installed (extra `{'submitit' if name == 'slurm' else 'ray'}`)")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    launcher = _compose_launcher(name)
    assert launcher._target_.endswith(target)
    if name == "ray_local":
        assert launcher.ray.init.address is None  # a Ray instance of its own, on this machine
    elif name == "ray_cluster":
        assert launcher.ray.init.address == "auto"
        monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
        assert _compose_launcher(name).ray.init.address == "ray://head:10001"


# Stand-ins for SLURM's commands, enough for submitit: sbatch logs the submission file, hands out
# a job id and runs the array's tasks in the background, one after the other, once submitit has
# put each task's pickle in place; srun runs its command with the --output/--error patterns
# resolved; sacct knows no job (submitit then goes by the result files).
_SBATCH = r'''
import os, re, subprocess, sys, time
path = sys.argv[-1]
text = open(path).read()
job = "4242"
if sys.argv[1] != "--run":
    with open(os.environ["FAKE_SLURM_LOG"], "a") as fh:
        fh.write(text + "\n")
    subprocess.Popen([sys.executable, __file__, "--run", path], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"Submitted batch job {job}")
    sys.exit(0)
lo, hi = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M).groups())
folder = re.search(r"_submit (\S+)", text).group(1)
for task in range(lo, hi + 1):
    tid = f"{job}_{task}"
    pickle = os.path.join(folder.replace("%j", tid), f"{tid}_submitted.pkl")
    end = time.time() + 120
    while not os.path.exists(pickle) and time.time() < end:
        time.sleep(0.05)
    env = dict(os.environ, SLURM_JOB_ID=str(5000 + task), SLURM_ARRAY_JOB_ID=job, SLURM_ARRAY_TASK_ID=str(task),
               SLURM_NTASKS="1", SLURM_JOB_NUM_NODES="1", SLURM_NODEID="0", SLURM_JOB_NODELIST="localhost",
               SLURM_PROCID="0", SLURM_LOCALID="0")
    subprocess.run(["bash", path], env=env)
'''
_SRUN = r'''
import os, subprocess, sys
args, files = sys.argv[1:], {}
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt in ("--output", "--error"):
        files[opt] = (args.pop(0).replace("%A", os.environ["SLURM_ARRAY_JOB_ID"])
                      .replace("%a", os.environ["SLURM_ARRAY_TASK_ID"]).replace("%t", "0"))
out = open(files["--output"], "a")
err = open(files["--error"], "a") if "--error" in files else out
sys.exit(subprocess.run(args, stdout=out, stderr=err).returncode)
'''
_SACCT = 'print("JobID|State|NodeList")\n'


@pytest.mark.slow
def test_slurm_sweep_through_submitit(warm_cache, tmp_path):
    """hydra/launcher=slurm end to end: the SLURM launcher and submitit as on a cluster, the
    scheduler's three commands stood in for. The file's resources reach sbatch, every job runs in
    its own task, a failed job is reported and the others finish."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the `submitit` extra")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("sbatch", _SBATCH), ("srun", _SRUN), ("sacct", _SACCT)):
        (bin_dir / name).write_text(f"#!{sys.executable}\n{body}")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "sbatch.log"
    folder = tmp_path / "slurm"
    p = run_cli("-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug", "optimizer=sgd",
                "optimizer.lr=0.001,-1", *SMALL, f"hydra.sweep.dir={folder}",
                env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_LOG": str(log)})
    assert p.returncode == 1, p.stderr[-3000:]
    assert "1 job(s) failed" in p.stderr and "Traceback" not in p.stderr
    script = log.read_text()
    assert script.count("#!/bin/bash") == 1  # one job array
    for flag in ("--array=0-1%2", "--cpus-per-task=4", "--mem=8GB", "--time=60", "--partition=debug"):
        assert f"#SBATCH {flag}\n" in script, flag
    jobs = _jobs(folder)
    assert [jobs[n].status for n in sorted(jobs)] == ["ok", "failed"]
    infos = [jobs[n].info for n in sorted(jobs)]
    assert all(i["launcher"] == "SlurmLauncher" for i in infos)
    assert len({i["pid"] for i in infos} | {os.getpid()}) == 3
    assert "2 jobs: 1 ok, 1 failed" in (folder / "report.md").read_text()


@pytest.mark.ray
@pytest.mark.slow
def test_ray_sweep_on_a_local_instance(warm_cache, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    folder = tmp_path / "ray"
    p = run_cli("-m", "hydra/launcher=ray_local", "hydra.launcher.ray.init.num_cpus=2", "optimizer=sgd,adam",
                "optimizer.lr=0.001,-1", *SMALL, f"hydra.sweep.dir={folder}", env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert p.returncode == 1, p.stderr[-3000:]
    jobs = _jobs(folder)
    assert [jobs[n].status for n in sorted(jobs)] == ["ok", "failed", "ok", "failed"]
    assert all(jobs[n].info["launcher"] == "RayLauncher" for n in jobs)
    assert "4 jobs: 2 ok, 2 failed" in (folder / "report.md").read_text()


def test_a_launcher_that_fails_before_any_job_is_one_line(tmp_path):
    """joblib's n_jobs=0 (as srun missing for SLURM, no Ray cluster) printed a 31-line traceback,
    exited 1 and left a folder holding only multirun.yaml."""
    folder = tmp_path / "m"
    p = run_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "optimizer.lr=0.1,0.2",
                "engine.steps=3", f"hydra.sweep.dir={folder}")
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and err == ["optlab: error: the sweep's launcher failed before any job started: "
                                         "ValueError: n_jobs == 0 in Parallel has no meaning"], p.stderr[-2000:]
    assert not folder.exists()


@pytest.mark.parametrize("x0", ["[[-1,1],[0,0],[0.5,0.5],[1.2,1.2],[-0.5,1],[0.3,-0.3]]", "[[-1,1]]"])
def test_shards_split_per_trajectory_hyperparameters_too(tmp_path, x0):
    """Six lrs, one per start (or six lrs from one start): the shards sliced the starts but not the
    lrs ("6 values per hyperparameter for 3 start points"), or counted one trajectory for one start."""
    import glob
    lrs = "optimizer.lr=[0.0001,0.0002,0.0003,0.0004,0.0005,0.0006]"
    whole, sharded = tmp_path / "w", tmp_path / "s"
    args = ("optimizer=sgd", lrs, f"objective.x0={x0}", "engine.steps=20", "plot.contour=false")
    assert run_cli(*args, f"hydra.run.dir={whole}").returncode == 0
    p = run_cli("-m", *args, "+engine.num_shards=4", "+engine.shard=0,1,2,3", f"hydra.sweep.dir={sharded}")
    assert p.returncode == 0, p.stderr[-2000:]
    load = lambda d: np.load(glob.glob(str(d / "trajectories_*.npz"))[0])  # noqa: E731
    parts = [load(sharded / str(k)) for k in range(4)]
    assert [len(q["x"]) for q in parts] == [1, 2, 1, 2]  # [k N // K, (k+1) N // K)
    for key in ("x", "loss", "hyper_lr"):
        np.testing.assert_array_equal(np.concatenate([q[key] for q in parts]), load(whole)[key])


def test_shards_of_a_stochastic_run_are_the_unsharded_run(tmp_path):
    """Gradient noise and minibatches are keyed by (seed, trajectory, step): each shard runs its slice
    with its first trajectory's index in the whole run. (Shards drew from derived seeds before:
    independent draws, not the unsharded run's.)"""
    import glob
    args = ("optimizer=sgd", "optimizer.lr=0.05", "objective=linear_regression", "objective.batch_size=4",
            "engine.grad_noise=0.1", "+study.starts=9", "engine.steps=25", "plot.contour=false",
            "report.enabled=false")
    whole, sharded = tmp_path / "w", tmp_path / "s"
    assert run_cli(*args, f"hydra.run.dir={whole}").returncode == 0
    p = run_cli("-m", *args, "+engine.num_shards=3", "+engine.shard=0,1,2", f"hydra.sweep.dir={sharded}")
    assert p.returncode == 0, p.stderr[-2000:]
    load = lambda d: np.load(glob.glob(str(d / "trajectories_*.npz"))[0])  # noqa: E731
    parts = [load(sharded / str(k)) for k in range(3)]
    for key in ("x", "loss", "x_final"):
        np.testing.assert_array_equal(np.concatenate([q[key] for q in parts]), load(whole)[key])
