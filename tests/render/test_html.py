"""The web page of a result: one self-contained file with no network reference, the result
contract embedded verbatim, safe against token texts that look like markup; and, in a real
headless Chromium (selenium), hovering a token shows the score the JSON holds."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import headless_chromium
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.commands import generate as generate_command
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.explain.generation import generate_attribution
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.render.core.html import read_embedded, result_page

PROMPT = "12,34,56,"
NETWORK = re.compile(r"https?:|//[a-z0-9]|<link|<img|<iframe|@import|url\(|src=", re.I)


@pytest.fixture
def tiny_commands(monkeypatch, tiny_llama):
    monkeypatch.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    monkeypatch.setattr(generate_command, "load_model", lambda *a, **k: tiny_llama)


def test_the_page_is_the_data_and_reaches_nothing(tiny_llama):
    for result in (attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope="fisher")),
                   generate_attribution(tiny_llama, PROMPT, 3)):
        page = result_page(result)
        assert not NETWORK.search(page), NETWORK.search(page)
        assert "default-src 'none'" in page  # the browser is told to load nothing at all
        embedded = read_embedded(page)
        assert embedded == json.loads(result.to_json())
        assert AttributionResult.from_dict(embedded) == AttributionResult.from_dict(
            json.loads(result.to_json()))


def test_token_text_cannot_break_out_of_the_page(tiny_llama):
    r = attribute(tiny_llama, AttributionRequest(prompt=PROMPT))
    evil = "</script><script>alert(1)</script>\u2028&amp;"
    r.tokens = [evil] + r.tokens[1:]
    page = result_page(r)
    assert "<script>alert(1)" not in page and page.count("</script>") == 3
    assert read_embedded(page)["tokens"][0] == evil


def test_cli_writes_the_page_beside_the_json(tiny_commands, capsys, tmp_path):
    for command in ("attribute", "generate"):
        html = tmp_path / f"{command}.html"
        status, _, err = run_cli(capsys, command, PROMPT, "--json", str(tmp_path / "r.json"),
                                 "--html", str(html))
        assert status == 0, err
        assert read_embedded(html.read_text(encoding="utf-8")) == json.loads(
            (tmp_path / "r.json").read_text())
    assert_one_line_error(run_cli(capsys, "attribute", PROMPT, "--json", str(tmp_path / "x"),
                                  "--html", str(tmp_path / "x")), "is written twice")


_browser = headless_chromium


def test_a_real_browser_shows_the_json_scores(tiny_llama, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = _browser()
    try:
        r = attribute(tiny_llama, AttributionRequest(prompt=PROMPT, scope="temperature"))
        page = tmp_path / "r.html"
        page.write_text(result_page(r), encoding="utf-8")
        browser.get(page.as_uri())
        tokens = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
        assert len(tokens) == len(r.tokens)
        best = max(range(len(r.scores)), key=lambda i: r.scores[i])
        ActionChains(browser).move_to_element(tokens[best]).perform()
        tip = browser.find_element(By.ID, "tip").text
        assert f"token {best + 1}:" in tip  # counted from 1 for a reader and "rank 1 of" in tip
        assert float(tip.split("score ")[1].split()[0]) == pytest.approx(r.scores[best], rel=1e-3)
        tokens[best].click()
        assert "pinned: token" in browser.find_element(By.ID, "pinned").text
        Select(browser.find_element(By.ID, "scale")).select_by_value("log")
        assert "log scale" in browser.find_element(By.ID, "barlabel").text
        m = generate_attribution(tiny_llama, PROMPT, 3)
        page.write_text(result_page(m), encoding="utf-8")
        browser.get(page.as_uri())
        rows = Select(browser.find_element(By.ID, "row"))
        assert len(rows.options) == 3
        rows.select_by_value("0")
        first = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
        p0 = m.positions[0]
        assert "na" in first[p0 + 1].get_attribute("class")  # after row 0's position: not attributed
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()


def test_the_app_saves_the_shown_result_as_a_web_page(qtbot, tmp_path, tiny_llama):
    from jscope_desktop.app.window.main_window import MainWindow

    window = MainWindow(model=tiny_llama, autoload=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=60000)
    assert window.save_web_page(str(tmp_path / "none.html")) is False  # nothing to save yet
    window.prompt_panel.prompt.setPlainText(PROMPT)
    with qtbot.waitSignal(window.result_shown, timeout=60000):
        window.prompt_panel.run_button.click()
    assert window.save_web_page(str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert read_embedded(page) == json.loads(window.result.to_json())
    assert not (tmp_path / "none.html").exists()
    window.close()


def test_the_pages_sink_control_in_a_real_browser(tmp_path):
    """The page's "Exclude from scale" control: the first token (scored 30, ten times any other)
    leaves the colour scale and the ranking, the scale's top becomes the largest other score,
    the caption says so, and the embedded scores stay as they were."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from test_view_options import SINK, sink_result

    r = sink_result()
    page = tmp_path / "sink.html"
    page.write_text(result_page(r), encoding="utf-8")
    browser = _browser()
    try:
        browser.get(page.as_uri())

        def state():
            toks = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
            ranks = [t.get_attribute("data-rank") for t in toks]
            return (toks[0].get_attribute("class"), ranks.index("1"),
                    browser.find_element(By.ID, "max").text,
                    browser.find_element(By.ID, "scaleline").text)

        cls, top, vmax, line = state()
        assert "ex" not in cls.split() and top == 0 and float(vmax) == SINK
        assert "excludes" not in line
        Select(browser.find_element(By.ID, "exclude")).select_by_value("first")
        cls, top, vmax, line = state()
        assert "ex" in cls.split() and top == 4 and float(vmax) == max(r.scores[1:])
        assert "colour scale excludes: first token" in line
        assert "excludes: first token" in browser.find_element(By.ID, "barlabel").text
        first = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")[0]
        assert first.get_attribute("data-rank") == "" and first.get_attribute("data-excluded") == "1"
        Select(browser.find_element(By.ID, "unit")).select_by_value("word")
        words = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
        assert [w.text for w in words[:5]] == ["<s>", "The", "·cat", "·sat", "."]  # as the strip
        assert "ex" in words[0].get_attribute("class").split() and state()[1] == 4
        r2 = sink_result()
        r2.tokens[:2], r2.special = ["Th", "e"], [False] * 10  # "The": one word, half excluded
        page.write_text(result_page(r2, exclude="first"), encoding="utf-8")
        browser.get(page.as_uri())
        Select(browser.find_element(By.ID, "unit")).select_by_value("word")
        word = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")[0]
        assert word.text == "The" and "ex" not in word.get_attribute("class").split()
        assert float(word.get_attribute("data-score")) == pytest.approx(r2.scores[1])  # kept only
        embedded = json.loads(browser.find_element(By.ID, "jscope-result").get_attribute(
            "textContent"))
        assert embedded["scores"] == r.scores
        browser.save_screenshot(str(tmp_path / "sink.png"))
    finally:
        browser.quit()
    opened = result_page(r, exclude="special")  # a page can open with the control on
    assert read_embedded(opened)["scores"] == r.scores and "colour scale excludes" in opened
