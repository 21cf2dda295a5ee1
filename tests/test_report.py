"""Reports: written at the end of runs and sweeps, rebuilt from whatever a sweep left behind."""
import shutil

import numpy as np
import pytest

from conftest import run_cli
from optlab import report as report_mod
from optlab.report import build_report
from optlab.report.artifacts import find_jobs, is_complete
from optlab.report.render import md

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 4-job sweep whose job 1 fails (lr=-1); the others finish. Made once, copied by tests."""
    folder = tmp_path_factory.mktemp("report") / "sweep"
    p = run_cli("-m", "optimizer=adam", "optimizer.lr=0.001,-1,0.01,0.003", "engine.steps=40",
                "plot.contour=false", f"hydra.sweep.dir={folder}")
    return folder, p


def _rows(md_text):
    """{job: table line} from report.md."""
    out = {}
    for line in md_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] and (cells[0].isdigit() or cells[0] == "."):
            out[cells[0]] = line
    return out


def test_failed_job_does_not_stop_the_sweep_and_is_reported(sweep):
    folder, p = sweep
    assert p.returncode == 1, p.stderr  # a failed job makes the exit status non-zero ...
    assert "1 job(s) failed" in p.stderr and "Traceback" not in p.stderr
    for job in ("0", "2", "3"):  # ... but the other jobs ran to the end
        assert is_complete(folder / job), job
    assert (folder / "1" / "error.json").is_file()
    html = (folder / "report.html").read_text()
    md_text = (folder / "report.md").read_text()
    assert "Invalid learning rate: -1.0" in html and "Invalid learning rate: -1.0" in md_text
    rows = _rows(md_text)
    assert set(rows) == {"0", "1", "2", "3"}
    assert "| failed" in rows["1"] and "| ok |" in rows["0"] and "| ok |" in rows["3"]
    assert "4 jobs: 3 ok, 1 failed" in md_text
    # self-contained: figures embedded, nothing fetched from anywhere
    assert html.count("data:image/png;base64,") >= 2 + 3  # 2 comparison figures + 3 jobs' loss.png
    assert "http://" not in html and "https://" not in html and "<script" not in html.lower()
    for name in ("report_loss.png", "report_sweep.png"):
        assert (folder / name).stat().st_size > 5_000
    assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"
    # the command that made the sweep heads the report
    assert "python -m optlab -m" in md_text and "optimizer.lr=0.001,-1,0.01,0.003" in md_text


def test_report_of_an_interrupted_sweep(sweep, tmp_path):
    """Killed mid-write (truncated npz, no metrics.json), a job never started: the report still builds."""
    src, _ = sweep
    folder = tmp_path / "broken"
    shutil.copytree(src, folder)
    for f in folder.glob("report*"):
        f.unlink()
    npz = next((folder / "2").glob("trajectories_*.npz"))
    npz.write_bytes(npz.read_bytes()[:2000])
    (folder / "2" / "metrics.json").unlink()
    (folder / "0" / "summary.json").write_text('{"study": "sin')  # cut short
    shutil.rmtree(folder / "3")

    assert report_mod.main([str(folder)]) == 0
    md_text = (folder / "report.md").read_text()
    rows = _rows(md_text)
    assert set(rows) == {"0", "1", "2", "3"}
    assert "incomplete" in rows["0"] and "summary.json truncated" in rows["0"]
    assert "failed" in rows["1"] and "Invalid learning rate" in rows["1"]
    assert "incomplete" in rows["2"] and "metrics.json missing" in rows["2"] and "npz truncated" in rows["2"]
    assert "not started" in rows["3"]
    assert "4 jobs: 1 failed, 2 incomplete, 1 not started" in md_text
    kind, jobs = find_jobs(folder)
    assert kind == "multirun" and [j.status for j in jobs] == ["incomplete", "failed", "incomplete", "not started"]


def test_report_command_line_errors(tmp_path, capsys):
    assert report_mod.main([str(tmp_path / "nope")]) == 2
    assert "No such folder" in capsys.readouterr().err
    assert report_mod.main([str(tmp_path)]) == 2
    assert "No optlab run or multirun" in capsys.readouterr().err


def test_python_m_optlab_report_rebuilds(sweep, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(sweep[0], folder)
    (folder / "report.html").unlink()
    p = run_cli("report", str(folder))
    assert p.returncode == 0, p.stderr
    assert "4 job(s): 3 ok, 1 failed" in p.stdout
    assert (folder / "report.html").stat().st_size > 10_000


def test_a_failing_build_leaves_the_old_report_intact(sweep, tmp_path, monkeypatch):
    folder = tmp_path / "atomic"
    shutil.copytree(sweep[0], folder)
    before = (folder / "report.html").read_bytes(), (folder / "report.md").read_bytes()
    from optlab.report import render

    def boom(ctx):
        raise RuntimeError("disk full")
    monkeypatch.setattr(render, "markdown_report", boom)
    with pytest.raises(RuntimeError):
        build_report(folder)
    assert ((folder / "report.html").read_bytes(), (folder / "report.md").read_bytes()) == before
    assert not list(folder.glob(".*.tmp"))


def test_hostile_config_strings_are_escaped(tmp_path):
    out = tmp_path / "run"
    p = run_cli("study.name=compare", f"+study.optimizers=[{{name:adam,lr:0.01,label:'{HOSTILE}'}},"
                "{name:sgd,lr:0.001,label:'a|b & $x$ <i>c</i>'}]", "engine.steps=30", f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower() and "<i>c</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "default-src 'none'" in html  # and a policy that would block a script anyway
    md_text = (out / "report.md").read_text()
    table = "\n".join(line for line in md_text.splitlines() if line.startswith("|"))
    assert HOSTILE not in table and "&lt;script&gt;" in table and r"a\|b &amp; $x$" in table
    assert len(_rows(md_text)) == 1  # a run: one job, two optimizer rows under it
    assert md("a|b") == r"a\|b" and md("<b>") == "&lt;b&gt;"
    assert (out / "job.json").is_file() and (out / "report.md").is_file()


def test_a_large_metrics_json_is_checked_by_its_ends(tmp_path):
    from optlab.report.artifacts import QUICK_JSON_BYTES, read_metrics
    path = tmp_path / "metrics.json"
    text = '{"runs": [' + ",".join(['{"final_loss": 1.0}'] * (QUICK_JSON_BYTES // 15)) + "]}\n"
    path.write_text(text)
    assert read_metrics(path, need_content=False) == ({}, None)
    assert read_metrics(path, need_content=True)[0]["runs"][0] == {"final_loss": 1.0}
    path.write_text(text[: len(text) // 2])
    for need in (False, True):
        value, problem = read_metrics(path, need_content=need)
        assert value is None and "truncated" in problem


# --- theory tables ------------------------------------------------------------------------------

def _theory_job(folder, claims, rows=None):
    """A finished run folder whose metrics.json (and summary.json) carry a theory table."""
    import json
    from optlab import theory
    folder.mkdir(parents=True)
    rows = theory.table(claims) if rows is None else rows
    (folder / "metrics.json").write_text(json.dumps({"study": "demo", "theory": rows}))
    (folder / "summary.json").write_text(json.dumps({"study": "demo", "title": "demo", "theory": rows,
                                                     "wall_s": 0.5}))


def _claims():
    from optlab.theory import Claim
    return [Claim(claim=f"edge of {HOSTILE}", formula="2/L | a*b", predicted=2.0, measured=2.01, tolerance=0.02,
                  kind="abs", source="Polyak (1964)", where="quad <κ=10>"),
            Claim(claim="rate", formula="√β*", predicted=0.8, measured=0.9, tolerance=0.02, kind="rel",
                  source="Polyak", where="quad"),
            Claim(claim="blows up", formula="2/L", predicted=1.0, measured=float("inf"), tolerance=0.5, kind="le",
                  where="quad")]


def test_a_run_with_a_theory_table_shows_it_near_the_top(tmp_path):
    folder = tmp_path / "run"
    _theory_job(folder, _claims())
    res = build_report(folder, figures=False)
    md_text, html = res["md_text"], res["html_text"]
    assert md_text.index("## Theory") < md_text.index("## Command") < md_text.index("## Jobs")
    assert "1 of 3 claims hold, 2 fail." in md_text
    rows = [line for line in md_text.splitlines() if line.startswith(("| PASS", "| FAIL"))]
    assert [r.split("|")[1].strip() for r in rows] == ["PASS", "FAIL", "FAIL"]
    # verdict, case, claim, formula, predicted, measured, tolerance, source -- escaped
    assert rows[0] == (r"| PASS | quad &lt;κ=10&gt; | edge of &lt;script&gt;alert(1)&lt;/script&gt; | 2/L \| a\*b | 2 "
                       r"| 2.01 | ±0.02 | Polyak (1964) |")
    assert rows[1].endswith("| 0.8 | 0.9 | ±0.02 rel | Polyak |") and "| inf | &lt;= +0.5 |" in rows[2]
    assert html.index("<h2>Theory</h2>") < html.index("<h2>Command</h2>")
    assert "<script" not in html.lower() and "edge of &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "quad &lt;κ=10&gt;" in html and "2/L | a*b" in html
    assert html.count('<td class="verdict ok">PASS</td>') == 1 and html.count('<td class="verdict failed">FAIL</td>') == 2
    assert '<span class="failed">1 of 3 claims hold, 2 fail</span>' in html


def test_a_sweep_shows_each_jobs_theory_summary(tmp_path):
    from optlab.theory import Claim
    folder = tmp_path / "sweep"
    folder.mkdir()
    good = [Claim(claim="c", formula="f", predicted=1.0, measured=1.0, tolerance=0.0, kind="abs", where="w")]
    _theory_job(folder / "0", good)
    _theory_job(folder / "1", _claims())
    _theory_job(folder / "2", good, rows=[{"formula": "no claim key"}, *[c.to_dict() for c in good]])
    (folder / "3").mkdir()
    (folder / "3" / "summary.json").write_text('{"study": "single", "wall_s": 1.0}')  # no theory: not listed
    res = build_report(folder, figures=False)
    md_text, html = res["md_text"], res["html_text"]
    assert res["kind"] == "multirun"
    head = md_text[md_text.index("## Theory"):md_text.index("## Command")]
    assert "- job 0 ((defaults)): 1 of 1 claims hold" in head
    assert "- job 1 ((defaults)): 1 of 3 claims hold, 2 fail" in head
    assert "- job 2 ((defaults)): 1 of 1 claims hold (1 malformed row(s) of the theory table left out)" in head
    assert "job 3" not in head
    assert head.count("### job ") == 3 and head.count("| PASS |") == 3 and head.count("| FAIL |") == 2
    assert html.count("<details open><summary>job ") >= 3 and "<script" not in html.lower()


def test_no_theory_section_without_a_theory_table(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "summary.json").write_text('{"study": "single", "wall_s": 1.0}')
    (folder / "metrics.json").write_text('{"study": "single"}')
    res = build_report(folder, figures=False)
    assert "## Theory" not in res["md_text"] and "<h2>Theory</h2>" not in res["html_text"]


def test_the_report_shows_the_config_keys_the_study_reads(tmp_path):
    """A lecture study run from the default config listed optimizer adam, lr 0.001, objective
    rosenbrock and engine.steps in its report, none of which it reads; config.yaml keeps them all."""
    import yaml

    from optlab import cli
    out = tmp_path / "run"
    assert cli.main(["+experiment=heavy_ball_cycle", "study.quick=true", f"hydra.run.dir={out}"]) == 0
    md_text = (out / "report.md").read_text()
    shown = yaml.safe_load(md_text.split("## Config", 1)[1].split("```yaml", 1)[1].split("```", 1)[0])
    assert "optimizer" not in shown and "objective" not in shown and "steps" not in shown.get("engine", {})
    assert shown["study"]["name"] == "heavy_ball_cycle" and "report" in shown
    assert "# not read by study 'heavy_ball_cycle', left out here (config.yaml has them): optimizer" in md_text
    full = yaml.safe_load((out / "config.yaml").read_text())
    assert full["optimizer"]["name"] == "adam" and "steps" in full["engine"]


def test_report_settings_are_not_swept_keys(tmp_path):
    """After a resume, the resumed jobs carry report.resume=true and the others not: it was taken as a
    swept key, splitting each series in two and a sharded job's shards into two rows."""
    from optlab.report.artifacts import Job
    from optlab.report.model import make_entries, swept_keys
    jobs = [Job(folder=tmp_path / str(i), name=str(i), num=i, status="ok",
                overrides=[f"optimizer.lr={lr}", "+engine.num_shards=2", f"+engine.shard={s}"]
                + (["report.resume=true"] if i >= 2 else []), shard=(s, 2))
            for i, (lr, s) in enumerate([(0.1, 0), (0.1, 1), (0.2, 0), (0.2, 1)])]
    jobs[1].overrides.append("report.progress=false")
    entries = make_entries(jobs)
    assert len(entries) == 2 and all(len(e.jobs) == 2 for e in entries)
    assert swept_keys(entries) == ["optimizer.lr"]


def test_a_failed_rerun_of_a_job_shows_its_own_command_and_no_old_numbers(tmp_path):
    """A sweep resumed in its folder with a bad value: the failed job's row showed the earlier
    attempt's lr and loss beside the new error."""
    folder = tmp_path / "m"
    assert run_cli("-m", "optimizer.lr=0.001,0.01", "engine.steps=3", f"hydra.sweep.dir={folder}").returncode == 0
    p = run_cli("-m", "optimizer.lr=0.001,-0.01", "engine.steps=3", f"hydra.sweep.dir={folder}", "report.resume=true")
    assert p.returncode == 1
    row = next(line for line in (folder / "report.md").read_text().splitlines() if line.startswith("| 1 |"))
    assert "optimizer.lr=-0.01" in row and "Invalid learning rate: -0.01" in row
    assert "lr=0.01" not in row.replace("lr=-0.01", "") and "e+" not in row and "e-" not in row, row


def test_a_second_sweep_into_a_used_folder_is_refused_and_a_shorter_resumed_one_leaves_the_rest_out(tmp_path):
    """Hydra numbers a new sweep's jobs from 0: a second sweep in the same folder overwrote the first's
    jobs 0 and 1 and its report showed four jobs, two of them the earlier sweep's."""
    folder = tmp_path / "m"
    first = ("-m", "optimizer.lr=0.001,0.01,0.1", "engine.steps=3", "plot.contour=false", f"hydra.sweep.dir={folder}")
    assert run_cli(*first).returncode == 0
    written = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    second = ("-m", "optimizer=sgd", "optimizer.lr=0.5,0.6", "engine.steps=3", "plot.contour=false",
              f"hydra.sweep.dir={folder}")
    p = run_cli(*second)
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(err) == 1 and "holds an earlier sweep (3 job folder(s))" in err[0], p.stderr
    assert "report.resume=true" in err[0] and "Traceback" not in p.stdout + p.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == written  # nothing touched
    p = run_cli(*second, "report.resume=true")  # asked for: jobs 0 and 1 changed and run again
    assert p.returncode == 0, p.stderr
    assert "2 job(s): 2 ok" in p.stdout
    md = (folder / "report.md").read_text()
    assert "2 jobs: 2 ok (job folder(s) 2 belong to an earlier sweep in this folder and are left out)" in md
    assert [j.name for j in find_jobs(folder)[1]] == ["0", "1"]
    assert "adam" not in "".join(ln for ln in md.splitlines() if ln.startswith("| "))


def test_a_failed_jobs_value_keeps_the_swept_axis_logarithmic(monkeypatch):
    """lr=0.001,-1,0.01 with the -1 job failed: the axis went linear from -1 to 0 and squeezed the
    two finished jobs into its right edge."""
    from optlab.report import figures
    seen = {}
    monkeypatch.setattr(figures, "to_png", lambda fig: seen.setdefault("scale", fig.axes[0].get_xscale()))
    figures.sweep_lines("optimizer.lr", [0.001, -1.0, 0.01], True,
                        [dict(label="final loss", color_key="a", y=[200.0, None, 22.0])], "final", "t")
    assert seen["scale"] == "log"


def test_a_diverging_job_does_not_set_the_loss_figures_range(monkeypatch):
    """One job's median loss climbed to 1e27 and pressed the healthy curves into the bottom decade."""
    from optlab.report import figures
    seen = {}
    monkeypatch.setattr(figures, "to_png", lambda fig: seen.update(ylim=fig.axes[0].get_ylim(),
                                                                    title=fig.axes[0].get_title()))
    steps = np.arange(50)
    good = dict(label="a", color_key="a", steps=steps, y=np.geomspace(10.0, 1e-3, 50))
    bad = dict(label="b", color_key="b", steps=steps, y=np.geomspace(10.0, 1e27, 50))
    figures.loss_curves([good, bad], "loss", "t")
    assert seen["ylim"][1] == pytest.approx(1e3) and "diverging" in seen["title"]
    figures.loss_curves([good], "loss", "t")
    assert seen["ylim"][1] < 1e3 and "diverging" not in seen["title"]


def test_an_up_front_compile_is_counted(sweep, tmp_path):
    """A study compiles its kernels up front in worker processes, which the job's own compile clock
    does not see: the report said 'every kernel came from the disk cache (no compilation)' after
    11 s of compiling. The runner records it (summary 'precompiled') and the report counts it."""
    import json
    folder = tmp_path / "pre"
    shutil.copytree(sweep[0], folder)
    path = folder / "0" / "summary.json"
    doc = json.loads(path.read_text())
    doc["precompiled"] = {"kernels": 2, "seconds": 7.5}
    path.write_text(json.dumps(doc))
    build_report(folder)
    text = (folder / "report.md").read_text()
    assert "kernel(s) compiled" in text and "no compilation" not in text
    assert "compiled)" in _rows(text)["0"]  # the job's kernel column: "7.5xx (2 compiled)"


def test_a_studys_own_table_is_in_its_report(tmp_path):
    """A study without per-trajectory rows (momentum) had a jobs row of dashes; the table the run
    printed (beta*, lr*, the fastest cell) appeared nowhere in its report."""
    out = tmp_path / "mom"
    p = run_cli("+experiment=momentum", "study.quick=true", "plot.dpi=40", f"hydra.run.dir={out}")
    assert p.returncode == 0, p.stderr[-2000:]
    text = (out / "report.md").read_text()
    assert "## The study's table" in text and "rate-predicted" in text
    assert "study.quick=true: the study ran its quick mode" in text


def test_the_engine_seconds_are_the_kernels_own(sweep):
    """The column showed the engine call's wall time, its kernel load included (0.440 for a kernel
    that ran 0.0005 s), which the kernel load column counts already."""
    import json
    folder = sweep[0]
    run = json.loads((folder / "0" / "summary.json").read_text())["runs"][0]
    cells = [c.strip() for c in _rows((folder / "report.md").read_text())["0"].strip().strip("|").split("|")]
    assert cells[-2] == f"{run['run_s']:.3f}"
