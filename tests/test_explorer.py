"""The explorer (study ``explorer``, ``explorer.html``), driven in headless Chromium.

The page is checked against the engine itself: the trajectory it draws after a
slider move, a heatmap click or a click on the landscape is compared, number
for number at float32, with ``optlab.sweep``'s arrays for the same grid. The
run's self-contained report.html is loaded the same way. The browser tests
need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and selenium (the ``test`` extra); without chromium they skip.
"""
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import optlab
from optlab.errors import OptlabError
from optlab.runner import run

from conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

# tiny grids, few steps: sgd and adam on rosenbrock (kernels the other tests compile too)
STUDY = dict(name="explorer", objective="rosenbrock",
             optimizers=[{"name": "sgd", "lr": [0.001, 0.05, 3]}, {"name": "adam", "lr": [0.01, 0.3, 3]}],
             momentum=[0.0, 0.9, 3], starts=3, steps=40, record_every=2, landscape=40)


@pytest.fixture(scope="module")
def explorer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer") / "run"
    summary = run({"study": dict(STUDY)}, out)
    from optlab.report import build_report
    build_report(out)
    return out, summary


@pytest.fixture(scope="module")
def engine():
    """optlab.sweep's arrays for the same grids: per optimizer, x (lr, knob, start, record, 2)."""
    from optlab.studies.explorer import Plan
    plan = Plan({"study": dict(STUDY)})
    out = {}
    for o in plan.opts:
        sw = optlab.sweep(o["name"], "rosenbrock", grid={"lr": o["lr"], o["knob"]: o["knob_values"]},
                          x0=plan.starts, steps=STUDY["steps"], record_every=STUDY["record_every"])
        out[o["name"]] = dict(x=sw.grid("x"), loss=sw.grid("loss"), div=sw.grid("diverged_step"))
    return plan, out


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def open_page(driver, path: Path):
    """Load ``path``; returns (seconds until the page's ready flag, console errors, requested URLs)."""
    driver.get_log("browser")
    driver.get_log("performance")  # drop what earlier pages left
    t0 = time.perf_counter()
    driver.get(path.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    ready = time.perf_counter() - t0
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            urls.append(msg["params"].get("request", {}).get("url") or msg["params"].get("url"))
    return ready, errors, urls


def offline(urls, page: Path) -> list:
    """The requests that are neither the page itself nor inline data."""
    return [u for u in urls if u != page.as_uri() and not u.startswith("data:")]


def js(driver, expr):
    return driver.execute_script(f"return {expr};")


def expected_path(engine, opt, i, j, s):
    """The engine's recorded points of one trajectory, float32, up to the last finite one."""
    x = engine[opt]["x"][i, j, s].astype(np.float32)
    loss = engine[opt]["loss"][i, j, s]
    finite = np.isfinite(x).all(axis=1) & np.isfinite(loss)
    n = len(finite) if finite.all() else int(np.argmin(finite))
    return x[:n]


def drawn(driver):
    return np.asarray(js(driver, "window.explorer.drawn"), dtype=np.float64).reshape(-1, 2)


def state(driver):
    return js(driver, "Object.assign({}, window.explorer.state)")


# --- the page --------------------------------------------------------------------------------------------------

def test_page_loads_offline_without_errors_and_fast(explorer_run, browser, tmp_path):
    out, summary = explorer_run
    page = out / "explorer.html"
    assert summary["page"] == "explorer.html" and page.stat().st_size == summary["page_bytes"]
    ready, errors, urls = open_page(browser, page)
    assert errors == []
    assert urls and offline(urls, page) == []
    assert js(browser, "document.body.getAttribute('data-ready')") == "1"
    assert js(browser, "window.explorer.readyMs") < 2000 and ready < 5
    shot = tmp_path / "explorer.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_lr_slider_draws_the_engines_trajectory(explorer_run, engine, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    out, _ = explorer_run
    open_page(browser, out / "explorer.html")
    _, eng = engine
    seen = []
    for opt in ("sgd", "adam"):
        Select(browser.find_element(By.ID, "opt")).select_by_visible_text(opt)
        slider = browser.find_element(By.ID, "lr")
        slider.send_keys(Keys.HOME)
        for want in range(3):
            st = state(browser)
            assert st["lr"] == want and opt_names(browser)[st["opt"]] == opt
            exp = expected_path(eng, opt, st["lr"], st["knob"], st["start"])
            got = drawn(browser)
            assert got.shape == exp.shape and np.array_equal(got, exp.astype(np.float64)), (opt, want)
            assert js(browser, "document.getElementById('lrv').textContent") == _fmt_like_page(
                js(browser, f"window.explorer.optimizers[{st['opt']}].lr[{want}]"), browser)
            seen.append(got)
            slider.send_keys(Keys.RIGHT)
    # the slider changed what is drawn: no two lr values of one optimizer give the same path
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[3], seen[4])


def opt_names(driver):
    return [o["name"] for o in js(driver, "window.explorer.optimizers")]


def _fmt_like_page(v, driver):
    return js(driver, f"(function(v){{const a=Math.abs(v);return (a!==0&&(a<1e-3||a>=1e4))?v.toExponential(2):"
                      f"(+v.toPrecision(3)).toString();}})({v!r})")


def _click(driver, element_id, x, y):
    """A real mouse click at canvas pixel (x, y) of the canvas ``element_id``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    el = driver.find_element(By.ID, element_id)
    w, h, bl, bt = js(driver, f"(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height, "
                              f"e.clientLeft, e.clientTop])(document.getElementById('{element_id}'))")
    ActionChains(driver).move_to_element_with_offset(el, round(x + bl - w / 2), round(y + bt - h / 2)) \
        .click().perform()
    return el


def test_click_on_the_landscape_selects_the_nearest_start(explorer_run, engine, browser):
    out, _ = explorer_run
    plan, eng = engine
    open_page(browser, out / "explorer.html")
    v = js(browser, "window.explorer.view")
    starts = plan.starts
    assert np.allclose(js(browser, "window.explorer.starts"), starts.astype(np.float32))

    def to_px(p):
        return (v["left"] + (p[0] - v["x0"]) / (v["x1"] - v["x0"]) * v["width"],
                v["top"] + (1 - (p[1] - v["y0"]) / (v["y1"] - v["y0"])) * v["height"])

    rng = np.random.default_rng(0)
    pix = np.array([to_px(s) for s in starts])
    inner = ([v["left"] + 3, v["top"] + 3], [v["left"] + v["width"] - 3, v["top"] + v["height"] - 3])
    targets = [pix[k] + rng.uniform(-18, 18, 2) for k in (0, 4, 8, 2)] + [rng.uniform(*inner) for _ in range(3)]
    for X, Y in targets:
        X, Y = round(float(X)), round(float(Y))
        _click(browser, "land", X, Y)
        want = int(np.argmin(np.sum((pix - [X, Y]) ** 2, axis=1)))  # nearest on screen
        st = state(browser)
        assert st["start"] == want, (X, Y)
        exp = expected_path(eng, opt_names(browser)[st["opt"]], st["lr"], st["knob"], want)
        assert np.array_equal(drawn(browser), exp.astype(np.float64))


def test_heatmap_click_selects_a_cell_and_a_diverged_run_stops_at_its_last_finite_point(explorer_run, engine,
                                                                                           browser):
    out, _ = explorer_run
    plan, eng = engine
    open_page(browser, out / "explorer.html")
    st = state(browser)
    assert opt_names(browser)[st["opt"]] == "sgd"
    div = eng["sgd"]["div"][:, :, st["start"]]
    assert (div >= 0).any() and (div < 0).any(), "the test grid must hold both diverged and finished runs"
    hv = js(browser, "window.explorer.heatView")
    for i, j in [tuple(np.argwhere(div >= 0)[0]), tuple(np.argwhere(div < 0)[-1])]:
        cx = hv["left"] + (i + 0.5) * hv["width"] / hv["nLr"]
        cy = hv["top"] + (hv["nKnob"] - 1 - j + 0.5) * hv["height"] / hv["nKnob"]
        _click(browser, "heat", cx, cy)
        now = state(browser)
        assert (now["lr"], now["knob"]) == (i, j)
        assert js(browser, "+document.getElementById('lr').value") == i
        exp = expected_path(eng, "sgd", i, j, now["start"])
        got = drawn(browser)
        assert np.array_equal(got, exp.astype(np.float64))
        info = js(browser, "document.getElementById('info').textContent")
        if div[i, j] >= 0:
            assert len(got) < STUDY["steps"] // STUDY["record_every"] + 1
            assert f"diverged at step {div[i, j]}" in info
        else:
            assert len(got) == STUDY["steps"] // STUDY["record_every"] + 1 and "diverged" not in info


def test_play_and_pause_walk_the_steps(explorer_run, browser):
    from selenium.webdriver.common.by import By
    out, _ = explorer_run
    from selenium.webdriver.common.keys import Keys
    open_page(browser, out / "explorer.html")
    browser.find_element(By.ID, "lr").send_keys(Keys.HOME)  # the smallest lr: no run of it diverges
    n = len(drawn(browser))
    assert n == STUDY["steps"] // STUDY["record_every"] + 1
    button = browser.find_element(By.ID, "play")
    button.click()
    time.sleep(0.3)
    button.click()  # pause
    f1 = state(browser)["frame"]
    assert 0 < f1 < n - 1 and len(drawn(browser)) == f1 + 1
    time.sleep(0.3)
    assert state(browser)["frame"] == f1 and button.text == "play"


def test_report_links_the_page_and_loads_offline(explorer_run, browser):
    out, _ = explorer_run
    report = out / "report.html"
    assert 'href="explorer.html"' in report.read_text(encoding="utf-8")
    assert "(explorer.html)" in (out / "report.md").read_text(encoding="utf-8")
    _, errors, urls = open_page(browser, report)
    assert errors == [] and urls and offline(urls, report) == []


# --- no browser needed ------------------------------------------------------------------------------------------

def test_page_size_is_estimated_before_running(explorer_run):
    out, summary = explorer_run
    m = json.loads((out / "metrics.json").read_text())
    assert m["page_bytes"] <= m["estimated_bytes"] <= 1.05 * m["page_bytes"] + 4000


def test_a_grid_over_the_size_budget_is_refused_with_one_that_fits(tmp_path):
    from optlab.studies.explorer import Plan
    big = dict(STUDY, starts=20, steps=2000, record_every=1, max_mb=5)
    with pytest.raises(OptlabError) as err:
        run({"study": big}, tmp_path / "big")
    msg = str(err.value)
    assert "\n" not in msg and "over study.max_mb=5" in msg and not (tmp_path / "big").exists()
    est = float(re.search(r"about ([\d.]+) MB", msg).group(1))
    assert abs(est * 1e6 - Plan({"study": big}).size()) < 1e5
    fix = dict(re.findall(r"study\.(\w+)=(\d+)", msg))
    assert fix, msg
    fitted = Plan({"study": dict(big, **{k: int(v) for k, v in fix.items()})})
    assert fitted.size() <= 5e6
    fitted.check_size()


def test_non_2d_objective_is_one_line_on_the_cli(tmp_path):
    p = run_cli("+experiment=explorer", "study.objective={name: rastrigin, dim: 10}",
                f"hydra.run.dir={tmp_path / 'bad'}")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "explorer needs a 2-D objective" in p.stderr and "dimension 10" in p.stderr
    assert not (tmp_path / "bad" / "explorer.html").exists()


def test_experiment_file_matches_the_study_defaults():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf
    from optlab.studies.explorer import DEFAULTS
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = OmegaConf.to_container(compose(config_name="config", overrides=["+experiment=explorer"]), resolve=True)
    GlobalHydra.instance().clear()
    study = cfg["study"]
    assert study.pop("name") == "explorer" and study == DEFAULTS
    page = Path(__file__).resolve().parents[1] / "experiments" / "explorer.md"
    assert "python -m optlab +experiment=explorer" in page.read_text(encoding="utf-8")


def test_the_default_page_fits_the_budget_and_is_interactive_within_2_s(tmp_path, browser):
    """The experiment's own defaults: at most 15 MB, no console error, ready in under 2 s after navigation."""
    from optlab.studies.explorer import DEFAULTS
    out = tmp_path / "default"
    summary = run({"study": {"name": "explorer", **DEFAULTS}}, out)
    assert summary["page_bytes"] <= 15e6
    _, errors, urls = open_page(browser, out / "explorer.html")
    assert errors == [] and offline(urls, out / "explorer.html") == []
    ms = js(browser, "window.explorer.readyMs")
    print(f"default page: {summary['page_bytes'] / 1e6:.1f} MB, interactive after {ms:.0f} ms")
    assert ms < 2000


def test_the_page_holds_the_gap_in_float64_before_float32():
    """Six-hump camel's f* = -1.0316...: float32(f) - f* was float32's rounding (3.6e-8 or 0) where the
    gap was 1e-9; the page now stores float32(f - f*), computed in float64."""
    import base64
    from optlab.plots.explorer import page
    f_star = -1.0316284534898774
    loss = np.array([f_star + 1e-9, f_star + 2.5e-7, f_star + 0.3]).reshape(1, 1, 1, 3)
    text = page("t", dict(box=[[0, 1], [0, 1]], values=np.zeros((2, 2))), np.zeros((1, 2)), np.arange(3),
                [dict(name="sgd", knob="momentum", lr=[0.1], knob_values=[0.0], x=np.zeros((1, 1, 1, 3, 2)),
                      loss=loss, loss_final=loss[..., -1], diverged_step=np.full((1, 1, 1), -1),
                      tol_step=np.full((1, 1, 1), -1))], f_ref=f_star, f_ref_label="f − f*", tol=1e-6)
    blob = re.search(r'<script id="explorer-data" type="application/json">(.*?)</script>', text, re.S).group(1)
    data = json.loads(blob.replace("<\\/", "</"))
    got = np.frombuffer(base64.b64decode(data["optimizers"][0]["loss"]), dtype="<f4")
    np.testing.assert_array_equal(got, (loss.ravel() - f_star).astype(np.float32))
    assert got[0] > 0 and data["tol"] == 1e-6
