"""The command line, run as a user would, in a subprocess into temporary folders."""
import json

import numpy as np
import pytest

from conftest import run_cli


def test_single_run_writes_all_artifacts(tmp_path):
    out = tmp_path / "run"
    p = run_cli("optimizer=adam", "objective=beale", "optimizer.lr=0.01", "engine.steps=200",
                f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr
    for name in ("config.yaml", "metrics.json", "summary.json", "contour.png", "loss.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    run = metrics["runs"][0]
    assert metrics["objective"] == "beale" and run["optimizer"] == "adam"
    # the printed table is this run's: its label and median final loss, then where it is
    row = next(line for line in p.stdout.splitlines() if line.startswith(run["label"]))
    assert f"{run['final_loss_median']:.3e}" in row, p.stdout
    # the header says which statistic each loss is, and names the still-running count (not "run" twice)
    head = next(line for line in p.stdout.splitlines() if line.startswith("run "))
    assert head.split()[1:] == ["final,", "med", "best,", "min", "conv", "div", "running", "steps→tol"], head
    assert row.split()[-4:-1] == [str(run["outcomes"][k]) for k in ("converged", "diverged", "running")], row
    assert f"results: {out}" in p.stdout
    assert len(run["trajectories"]) == 5  # default: a handful of starts across the domain
    npz = list(out.glob("trajectories_*.npz"))
    assert len(npz) == 1
    with np.load(npz[0]) as z:
        assert z["x"].shape == (5, 201, 2)
        # each trajectory's row in metrics.json says what its trajectory in the npz did
        for i, row in enumerate(run["trajectories"]):
            assert row["final_loss"] == z["loss_final"][i] and row["best_loss"] == z["best_loss"][i]
            assert row["x_final"] == z["x_final"][i].tolist() and row["final_grad_norm"] == z["grad_norm_final"][i]
            assert row["outcome"] == str(z["outcome"][i])
            tol, div = int(z["tol_step"][i]), int(z["diverged_step"][i])
            assert row["steps_to_tol"] == (tol if tol >= 0 else None)
            assert row["outcome"] == ("diverged" if div >= 0 else "converged" if tol >= 0 else "running")


def test_quickstart_experiment(tmp_path):
    out = tmp_path / "q"
    p = run_cli("+experiment=quickstart", f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    labels = [r["label"] for r in metrics["runs"]]
    assert [lab.split()[0] for lab in labels] == ["gd", "momentum", "adam"]
    final = {r["label"].split()[0]: r["final_loss_median"] for r in metrics["runs"]}
    # the lecture's story: Adam reaches the minimum, momentum beats plain GD
    assert final["adam"] < 1e-6 < final["momentum"] < final["gd"]
    assert (out / "contour.png").stat().st_size > 10_000 and (out / "loss.png").is_file()


def test_multirun_sweep(tmp_path):
    sweep = tmp_path / "m"
    p = run_cli("-m", "optimizer=sgd,adam", "optimizer.lr=0.001,0.01", "engine.steps=50",
                "plot.contour=false", f"hydra.sweep.dir={sweep}")
    assert p.returncode == 0, p.stderr
    jobs = sorted(d for d in sweep.iterdir() if d.is_dir() and d.name.isdigit())
    assert len(jobs) == 4
    for d in jobs:
        assert (d / "metrics.json").is_file() and (d / "loss.png").is_file()


def test_adafactor_eps1_null_from_the_command_line(tmp_path):
    # torch's eps=(None, 1e-3): eps1 is null in the config and on the command line
    out = tmp_path / "af"
    p = run_cli("optimizer=adafactor", "optimizer.eps1=null", "optimizer.lr=0.05", "engine.steps=5",
                "plot.contour=false", f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr
    run = json.loads((out / "metrics.json").read_text())["runs"][0]
    assert run["optimizer"] == "adafactor" and run["label"] == "adafactor (lr=0.05)"


@pytest.mark.parametrize("args,message", [
    (["optimizer.lr=-1"], "Invalid learning rate: -1.0"),
    (["optimizer=adamm"], "Unknown optimizer 'adamm'; did you mean 'adam'?"),
    (["objective=rosenbrok"], "Unknown objective 'rosenbrok'; did you mean 'rosenbrock'?"),
    (["optimizer.lrr=0.1"], "Unknown hyperparameter 'lrr' for optimizer 'adam'"),
    (["optimizer.lr=abc"], "Invalid lr for optimizer 'adam': 'abc' (must be a number, not text)"),
    (["optimizer.betas=[0.9,1.0]"], "Invalid beta parameter at index 1: 1.0"),
    (["optimizer.eps=-1e-8"], "Invalid epsilon value: -1e-08"),
    (["engine.steps=0"], "Invalid steps: 0"),
    (["objective.x0=[[1,2,3]]"], "dimension 3"),
    (["objective=quadratic", "objective.cond=0"], "Invalid condition number: 0.0"),
    (["optimizer=adafactor", "optimizer.d=0.5"], "Clipping threshold d should be >= 1 but is: 0.5"),
    (["optimizer=adafactor", "optimizer.eps1=nan"], "epsilon1 should be >= 0 but is: nan"),
])
def test_bad_input_is_one_clean_line(tmp_path, args, message):
    out = tmp_path / "bad"
    p = run_cli(*args, f"hydra.run.dir={out}")
    assert p.returncode != 0
    assert message in p.stderr
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1, p.stderr
    assert not out.exists()  # nothing written half-way


def test_two_runs_in_the_same_second_get_two_folders(tmp_path, monkeypatch, capsys):
    """Hydra's ${now:...} gave two runs started in one second the same folder: the second overwrote
    the first's config and metrics. The CLI now creates the folder itself (os.mkdir is atomic) and
    hands it to Hydra. (Hydra is not run here: an in-process Hydra run after JAX was imported in the
    same pytest process closed pytest's captured stderr.)"""
    import yaml

    from optlab import cli
    monkeypatch.chdir(tmp_path)
    hydra = yaml.safe_load((cli._conf_dir() / "config.yaml").read_text())["hydra"]
    for key, base in cli.RUN_DIRS.items():  # the folders the config names
        assert hydra[key.split(".")[1]]["dir"] == f"{base}/${{now:{cli.STAMP}}}"
    stamp = "2026-12-05_10-00-00"
    monkeypatch.setattr(cli.time, "strftime", lambda fmt, *a: stamp)
    got = []

    def hydra_main(args):  # a run that writes its config into the folder it was given
        got.append(args)
        (tmp_path / args[-1].split("=", 1)[1] / "config.yaml").write_text(args[0])
    monkeypatch.setattr(cli, "_hydra_main", hydra_main)
    for opt in ("sgd", "adam"):
        assert cli.main([f"optimizer={opt}", "engine.steps=3"]) == 0
    runs = tmp_path / "outputs" / "runs"
    assert got == [["optimizer=sgd", "engine.steps=3", f"hydra.run.dir=outputs/runs/{stamp}"],
                   ["optimizer=adam", "engine.steps=3", f"hydra.run.dir=outputs/runs/{stamp}_2"]]
    assert [(runs / n / "config.yaml").read_text() for n in (stamp, stamp + "_2")] == ["optimizer=sgd", "optimizer=adam"]
    monkeypatch.setattr(cli, "_hydra_main", lambda args: got.append(args))
    assert cli.main(["optimizer=sgd"]) == 0 and not (runs / f"{stamp}_3").exists()  # wrote nothing: removed
    assert cli._claim_output_dir(["hydra.run.dir=elsewhere"]) is None and cli._claim_output_dir(["--help"]) is None
    keep = [cli._claim_output_dir(["optimizer=sgd"]) for _ in range(3)]
    assert [f for _, f in keep] == [f"outputs/runs/{stamp}_{k}" for k in (3, 4, 5)]
    assert all((tmp_path / f).is_dir() for _, f in keep)
    key, folder = cli._claim_output_dir(["-m", "optimizer.lr=0.1,0.2"])
    assert key == "hydra.sweep.dir" and folder == f"outputs/multiruns/{stamp}"
    assert cli.main(["optimizer.lr=-1"]) == 2 and len(got) == 3  # refused before a folder is claimed
    # report.resume=true with no folder to resume: said, not silently a new sweep
    assert cli.main(["-m", "optimizer.lr=0.1,0.2", "report.resume=true"]) == 0
    assert "report.resume=true without hydra.sweep.dir" in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == [stamp] + [f"{stamp}_{k}" for k in (2, 3, 4, 5)]


def test_matplotlibs_notes_on_extreme_data_stay_off_the_terminal(tmp_path):
    """An lr growing to 1e300 gave a loss near 1e308, and matplotlib's log scale printed
    'RuntimeWarning: overflow encountered in exp' and its source line under the table."""
    p = run_cli("engine.steps=5", "optimizer=sgd", "scheduler=exponential_lr", "scheduler.gamma=1e300",
                f"hydra.run.dir={tmp_path / 'r'}")
    assert p.returncode == 0, p.stderr
    assert "Warning" not in p.stderr and "Warning" not in p.stdout, p.stderr
    assert (tmp_path / "r" / "loss.png").is_file()


def test_the_explorer_page_takes_a_loss_beyond_float32_as_inf_quietly():
    import base64
    import warnings

    from optlab.plots.explorer import b64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = b64(np.array([1.0, 1e300, -1e300, np.nan]), "float32")
    back = np.frombuffer(base64.b64decode(text), dtype="<f4")
    assert back[0] == 1.0 and back[1] == np.inf and back[2] == -np.inf and np.isnan(back[3])
