"""The several-scopes web page in a real headless browser: one strip per scope with the scores
the embedded JSON holds, the scale switch, and the agreement heatmap."""

from __future__ import annotations

import pytest
from browser_helpers import headless_chromium

from jscope_desktop.engine.explain.multi import attribute_many
from jscope_desktop.engine.results.request import AttributionRequest
from jscope_desktop.render.core.html import read_embedded
from jscope_desktop.render.core.html_multi import multi_page

PROMPT = "12,34,56,"


_browser = headless_chromium


def test_the_page_embeds_the_contract_and_escapes_tokens(tiny_llama, one_thread):
    multi = attribute_many(tiny_llama, AttributionRequest(prompt="</script><b>x"),
                           ["temperature", "semantic"])
    page = multi_page(multi)
    assert read_embedded(page) == multi.to_dict()
    assert "</script><b>" not in page.split('id="jscope-result">')[1].split("</script>")[0]


def test_a_real_browser_shows_every_strip(tiny_llama, one_thread, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    multi = attribute_many(tiny_llama, AttributionRequest(prompt=PROMPT),
                           ["fisher", "temperature", "grad_input"])
    browser = _browser()
    try:
        page = tmp_path / "m.html"
        page.write_text(multi_page(multi), encoding="utf-8")
        browser.get(page.as_uri())
        strips = browser.find_elements(By.CSS_SELECTOR, "#strips .strip")
        assert len(strips) == 3
        r = multi.results[2]
        tokens = strips[2].find_elements(By.CSS_SELECTOR, ".tok")
        assert len(tokens) == len(r.tokens)
        best = max(range(len(r.scores)), key=lambda i: r.scores[i])
        ActionChains(browser).move_to_element(tokens[best]).perform()
        tip = browser.find_element(By.ID, "tip").text
        assert tip.startswith("Grad × input") and "rank 1 of" in tip
        assert float(tip.split("score ")[1].split()[0]) == pytest.approx(r.scores[best], rel=1e-3)
        before = tokens[0].get_attribute("style")
        Select(browser.find_element(By.ID, "scale")).select_by_value("log")
        after = browser.find_elements(By.CSS_SELECTOR, "#strips .strip")[2].find_elements(
            By.CSS_SELECTOR, ".tok")[0].get_attribute("style")
        assert before != after  # every row redrawn on the log scale
        cells = browser.find_elements(By.CSS_SELECTOR, "#agreement td")
        assert len(cells) == 9
        rho = multi.agreement.spearman[0][1]
        assert cells[1].text == f"{rho:.2f}"
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()
