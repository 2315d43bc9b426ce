"""The playground page in a real headless browser (Chromium from the system's packages, driven by
selenium): typing draws the curve, a typo shows the CLI's caret message, the URL holds the state,
the catalog inserts calls, and a screenshot is saved."""

import shutil
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

import lrdsl
from lrdsl.serve import api
from serving import running_server

webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: pip install selenium")
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip(
        "the browser test needs Chromium and its driver: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )

RUN = {"base": "3e-4", "total": "90ep", "spe": "500"}
RUN_OPTIONS = {"base": 3e-4, "total": "90ep", "steps_per_epoch": 500.0}


@pytest.fixture(scope="module")
def server():
    with running_server(workers=2, timeout=30.0) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1500,900")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


def open_page(browser, server, **query):
    browser.get(server.url + "?" + urlencode(query, doseq=True))
    settle(browser)


def settle(browser, until="true"):
    """Wait until the page has no update pending or running and ``until`` (a JS expression) holds."""
    WebDriverWait(browser, 120).until(
        lambda driver: driver.execute_script(
            "return document.body.dataset.busy === undefined && Number(document.body.dataset.updates || 0) > 0"
            f" && ({until})"
        )
    )


def type_schedule(browser, text, index=0):
    area = browser.find_element(By.ID, f"schedule-{index}")
    area.clear()
    area.send_keys(text)


def text_of(browser, element_id):
    return browser.execute_script(f"return document.getElementById('{element_id}').textContent")


def drawn_points(browser, index=0):
    (line,) = browser.find_elements(By.CSS_SELECTOR, f"polyline.series-{index}")
    return line.get_attribute("points").split()


def test_typing_a_schedule_draws_its_curve(server, browser, tmp_path):
    open_page(browser, server, s="", vs="warmup(5%) then step(s=30ep, gamma=0.3)", **RUN)
    type_schedule(browser, "warmup(5%)  # five percent\nthen cosine(end=1e-5)")
    canonical = lrdsl.compile("warmup(5%) then cosine(end=1e-5)", total=1).expression
    settle(browser, f"window.lrdslPlayground.series[0]?.expression === {canonical!r}")
    expected = api.evaluate({"expression": canonical, **RUN_OPTIONS, "range": {"num": 1000}})
    assert len(drawn_points(browser)) == len(expected["points"]) == 1000
    shown = browser.execute_script("return window.lrdslPlayground.series[0]")
    assert shown["values"] == expected["values"] and shown["points"] == expected["points"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "line.phase-start")) == 1  # the cosine starts at 5%
    assert len(drawn_points(browser, 1)) == 1000  # the schedule compared, over the same points
    assert text_of(browser, "canonical-0").startswith(f"canonical:{canonical}")
    settle(browser, "document.getElementById('explanation').textContent !== ''")
    assert text_of(browser, "explanation") == api.explain({"expression": canonical, **RUN_OPTIONS})["text"]
    screenshot = tmp_path / "playground.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000


def test_a_typo_shows_the_caret_message_and_keeps_the_last_curve(server, browser):
    open_page(browser, server, s="warmup(5%) then cosine()", **RUN)
    before = browser.execute_script("return window.lrdslPlayground.series[0]")
    typo = "warmup(5%) thn cosine()"
    type_schedule(browser, typo)
    with pytest.raises(lrdsl.LRDSLError) as caught:
        lrdsl.compile(typo, total="90ep", steps_per_epoch=500)
    settle(browser, "!document.getElementById('error-0').hidden")
    message = text_of(browser, "error-0")
    assert message == f"error: {caught.value}"  # exactly what `lrdsl check` prints
    source, caret = message.splitlines()[1:3]
    assert source[caret.index("^") :].startswith("thn")
    assert browser.execute_script("return window.lrdslPlayground.series[0]") == before  # the last good curve stays
    assert len(drawn_points(browser)) == len(before["points"])
    assert browser.find_element(By.CSS_SELECTOR, "polyline.series-0").get_attribute("stroke-opacity") == "0.4"
    type_schedule(browser, "warmup(5%) then cosine()")
    settle(browser, "document.getElementById('error-0').hidden")


def test_the_url_holds_the_state(server, browser):
    state = {"s": "warmup($w) then cosine()", "vs": "step(s=20ep)", **RUN, "var": "w=5ep"}
    open_page(browser, server, **state)
    settle(browser, "window.lrdslPlayground.series[1] !== null")
    assert [browser.find_element(By.ID, f"schedule-{i}").get_attribute("value") for i in (0, 1)] == [
        state["s"],
        state["vs"],
    ]
    assert [browser.find_element(By.ID, i).get_attribute("value") for i in ("base", "total", "spe", "vars")] == [
        "3e-4",
        "90ep",
        "500",
        "w=5ep",
    ]
    assert len(drawn_points(browser, 1)) == len(drawn_points(browser, 0))  # compared over the same points
    type_schedule(browser, "warmup($w) then linear()")
    settle(browser, "window.lrdslPlayground.series[0]?.expression === 'warmup($w) then linear()'")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query == {
        "s": ["warmup($w) then linear()"],
        "vs": ["step(s=20ep)"],
        "base": ["3e-4"],
        "total": ["90ep"],
        "spe": ["500"],
        "var": ["w=5ep"],
    }
    browser.get(browser.current_url)  # the URL alone brings the state back
    settle(browser, "window.lrdslPlayground.series[1] !== null")
    assert browser.find_element(By.ID, "schedule-0").get_attribute("value") == "warmup($w) then linear()"


def test_hovering_reads_iteration_epoch_and_value(server, browser):
    open_page(browser, server, s="warmup(5%) then cosine()", **RUN)
    overlay = browser.find_element(By.CSS_SELECTOR, "rect.overlay")
    ActionChains(browser).move_to_element(overlay).perform()  # the middle of the plot
    readout = browser.find_element(By.ID, "readout").text
    where, values = readout.splitlines()
    iteration = float(where.split("·")[0].split()[1])
    assert f"epoch {iteration / 500:g}" in where and "phase 2" in where
    sched = lrdsl.compile("warmup(5%) then cosine()", **RUN_OPTIONS)
    assert float(values.split()[1]) == pytest.approx(sched(iteration), rel=1e-5)


def test_the_catalog_inserts_a_call(server, browser):
    open_page(browser, server, s="warmup(5%) then ", **RUN)
    area = browser.find_element(By.ID, "schedule-0")
    area.click()
    browser.execute_script("arguments[0].setSelectionRange(16, 16)", area)
    WebDriverWait(browser, 60).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".node[data-name=cosine]"))
    browser.find_element(By.CSS_SELECTOR, ".node[data-name=cosine] button.insert").click()
    assert area.get_attribute("value") == "warmup(5%) then cosine()"
    settle(browser, "window.lrdslPlayground.series[0]?.expression === 'warmup(5%) then cosine()'")
    doc = browser.find_element(By.CSS_SELECTOR, ".node[data-name=cosine] pre")
    (cosine,) = [node for node in api.nodes()["nodes"] if node["name"] == "cosine"]
    assert browser.execute_script("return arguments[0].textContent", doc) == cosine["doc"]
