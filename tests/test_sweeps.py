"""Sweeps: parallel launchers, kernels from the disk cache, shards, resume, progress."""
import importlib.util
import inspect
import io
import json
import time

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import ROOT, run_cli
from optlab.callbacks import SweepProgress
from optlab.errors import OptlabError
from optlab.report.artifacts import find_jobs
from optlab.sharding import Shard, apply_shard, shard_seed

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
    import os
    assert all(i["pid"] != os.getpid() for i in infos)
    # each worker loads the kernels from the disk cache: nothing is compiled again
    assert sum(i["numba_compiles"] for i in infos) == 0, infos
    md_text = (folder / "report.md").read_text()
    assert "Invalid learning rate: -1.0" in md_text and "6 jobs: 4 ok, 2 failed" in md_text
    assert "every kernel came from the disk cache" in md_text


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
    assert shard == Shard(1, 4, 7) and cfg["engine"] == {"seed": shard_seed(7, shard), "steps": 5}
    assert len({shard_seed(7, Shard(k, 4)) for k in range(4)}) == 4  # independent noise per shard
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


def _resume_hook_present():
    from optlab import cli
    return "resumed_summary" in inspect.getsource(cli.task)


@pytest.mark.skipif(not _resume_hook_present(), reason="optlab.cli.task lacks the report.resume hook "
                    "(optlab.callbacks.resumed_summary); see docs/SWEEPS.md")
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
    # a changed sweep is not mistaken for a complete one: lr differs, so job 0 reruns
    q = run_cli("-m", "optimizer=adam", "optimizer.lr=0.002,0.01,0.003", *SMALL, f"hydra.sweep.dir={folder}",
                "report.resume=true")
    assert q.returncode == 0 and q.stdout.count("skipped (report.resume=true") == 2


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
def test_launcher_configs_compose(name, plugin, target):
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} is not installed")
    launcher = _compose_launcher(name)
    assert launcher._target_.endswith(target)
    if name == "slurm":
        assert launcher.cpus_per_task >= 1 and launcher.timeout_min > 0
    else:
        assert launcher.ray.remote.num_cpus >= 1


@pytest.mark.ray
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
