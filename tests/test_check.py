"""``optlab check``: every theory study in quick mode, one line per claim, exit 1 when a claim fails."""
import json

import pytest

import optlab.studies
from optlab import check, theory
from optlab.studies._lecture import finish

from conftest import run_cli


def test_optlab_check_runs_the_named_theory_studies(tmp_path):
    """The default suite: `optlab check` on three quick studies, every line and the summary."""
    _check_output(tmp_path, ["convergence_rates", "heavy_ball_cycle", "saddle_escape"])


@pytest.mark.slow
def test_optlab_check_runs_every_theory_study(tmp_path):
    names = check.theory_studies()
    assert {"lr_divergence", "momentum", "saddle_escape"} <= set(names)
    _check_output(tmp_path, None)


def _check_output(tmp_path, only):
    out = tmp_path / "chk"
    p = run_cli("check", *(only or []), "--out", str(out))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    names = only or check.theory_studies()
    total = 0
    for name in names:
        # each study ran in quick mode into its own folder, with its report, and printed its own claims
        metrics = json.loads((out / name / "metrics.json").read_text())
        summary = json.loads((out / name / "summary.json").read_text())
        claims = [theory.from_dict(d) for d in metrics["theory"]]
        assert claims and summary["theory"] == metrics["theory"]
        assert "quick: true" in (out / name / "config.yaml").read_text()
        mine = [line for line in lines if line.split()[1:2] == [name]]
        assert len(mine) == len(claims), (name, mine)
        for line, c in zip(mine, claims):
            assert line.startswith("PASS  ") and c.passed
            assert c.claim in line and theory.number_text(c.predicted) in line, line
            assert theory.number_text(c.measured) in line and line.endswith(theory.tolerance_text(c)), line
        report = (out / name / "report.md").read_text()
        assert f"{len(claims)} of {len(claims)} claims hold." in report and "| FAIL |" not in report
        assert f"python -m optlab study.name={name} +study.quick=true" in report
        total += len(claims)
    assert lines[-1].startswith(f"optlab check: {total} of {total} claims hold in {len(names)} studies")
    assert str(out) in lines[-1] and "failing" not in lines[-1]


@pytest.fixture
def fake_studies(monkeypatch):
    """Two throw-away theory studies: one with a claim that fails, one that stops with a user error."""
    optlab.studies.names()
    monkeypatch.setattr(optlab.studies, "_STUDIES", dict(optlab.studies._STUDIES))

    def failing(cfg, out_dir):
        claims = theory.table([
            theory.Claim(claim="holds", formula="1", predicted=1.0, measured=1.0, tolerance=0.0, kind="abs",
                         where="a"),
            theory.Claim(claim="misses", formula="2/L", predicted=2.0, measured=3.0, tolerance=0.1, kind="abs",
                         where="b")])
        return finish(out_dir, {"theory": claims}, {"study": "fake_failing", "theory": claims})

    def stopping(cfg, out_dir):
        from optlab.errors import OptlabError
        raise OptlabError("Invalid study.x: 3 (must be < 2)")

    for name, fn in (("fake_failing", failing), ("fake_stopping", stopping)):
        optlab.studies.register(name, theory=True, check=lambda cfg: None)(fn)


def test_a_failing_claim_exits_1(fake_studies, tmp_path, capsys):
    assert check.main(["fake_failing", "momentum", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    fake = [line for line in out if " fake_failing " in line]
    assert [line.split()[0] for line in fake] == ["PASS", "FAIL"]
    assert fake[1].split() == ["FAIL", "fake_failing", "b", "misses", "2", "3", "±0.1"]
    assert any(line.startswith("PASS  momentum") for line in out)        # the other study still ran
    n_momentum = sum(line.startswith("PASS  momentum") for line in out)
    assert out[-1].startswith(f"optlab check: {n_momentum + 1} of {n_momentum + 2} claims hold in 2 studies")
    assert out[-1].endswith("failing: fake_failing")
    assert "1 of 2 claims hold, 1 fail." in (tmp_path / "fake_failing" / "report.md").read_text()


def test_a_study_that_stops_exits_1(fake_studies, tmp_path, capsys):
    assert check.main(["fake_stopping", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "FAIL  fake_stopping  -  the study stopped: Invalid study.x: 3 (must be < 2)"
    assert out[-1].endswith("failing: fake_stopping (error)")


def _status(argv):
    """main's exit status, also when argparse exits (a bad flag)."""
    try:
        return check.main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize("argv, message", [
    (["momentun"], "Unknown study 'momentun'; did you mean 'momentum'?"),
    (["explorer"], "Study 'explorer' makes no theory claims (theory studies: "),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_mistakes_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert _status([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("optlab: error: ") and message in err
    assert not (tmp_path / "x").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert check.main(["momentum", "--out", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_help(capsys):
    assert _status(["--help"]) == 0
    assert "usage: optlab check [-h] [--out DIR] [STUDY ...]" in capsys.readouterr().out
