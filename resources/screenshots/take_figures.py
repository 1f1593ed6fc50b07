"""Retake the README's figure images on the embedded model (run it on a quiet machine: the
captions carry the measured timings).

Writes, into the folder given (default: this one):
  exported_annotated.png      Temperature Scope strip of the Eiffel/Colosseum prompt (File ▸ Save image)
  figure_sink.png             Semantic Scope with the chat template, every token on the scale
  figure_sink_excluded.png    the same result, chat-template tokens excluded from the colour scale
  web_page.png                the web page of a Fisher run, the top token hovered (headless Chromium)

Usage: ``PYTHONPATH=. QT_QPA_PLATFORM=offscreen .venv/bin/python
resources/screenshots/take_figures.py resources/screenshots``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.render.core.html import save_html
from jscope_desktop.render.figures.export import save_image

EIFFEL = "The Eiffel Tower is in the city of Paris. The Colosseum is in the city of"
FRANCE = "The capital of France is"


def main(out: Path) -> int:
    lm = load_model()
    attribute(lm, AttributionRequest(prompt=FRANCE))  # warm-up: the first pass is slower
    strip = attribute(lm, AttributionRequest(prompt=EIFFEL, scope="temperature"))
    save_image(strip, out / "exported_annotated.png")
    chat = attribute(lm, AttributionRequest(prompt=FRANCE, scope="semantic", chat=True))
    save_image(chat, out / "figure_sink.png", width=1000)
    save_image(chat, out / "figure_sink_excluded.png", width=1000, exclude="template")
    fisher = attribute(lm, AttributionRequest(prompt=FRANCE, scope="fisher"))
    page_shot(fisher, out / "web_page.png")
    for name in ("exported_annotated", "figure_sink", "figure_sink_excluded", "web_page"):
        print("wrote", out / f"{name}.png")
    return 0


def page_shot(result, path: Path) -> None:
    """Open the result's web page in headless Chromium, hover its top token, save a PNG."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,400"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "page.html"
            save_html(result, page)
            browser.get(page.as_uri())
            tokens = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
            best = max(range(len(result.scores)), key=lambda i: result.scores[i] or -1.0)
            ActionChains(browser).move_to_element(tokens[best]).perform()
            browser.save_screenshot(str(path))
    finally:
        browser.quit()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)))
