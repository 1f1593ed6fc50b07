"""The documentation site builds strict and offline (``mkdocs build --strict``: a broken link, a
missing reference or a failing notebook cell fails it), and a real browser finds what a reader
looks for: the notebook API page lists ``attribute`` and the CLI page every subcommand of the
parser. ``make test`` builds the site first and passes it here (JSCOPE_DOCS_SITE); run alone,
the test builds it into a temporary folder (about a minute: the notebook is executed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.embedded  # the quickstart notebook runs on the embedded model


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site: the one ``make test`` built, else a fresh strict build."""
    given = os.environ.get("JSCOPE_DOCS_SITE")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NO_MKDOCS_2_WARNING="1",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def browser():
    b = headless_chromium()
    yield b
    b.quit()


def subcommands() -> list[str]:
    """The subcommands as the parser has them (not a list written here)."""
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        from generated_sections import subcommand_parsers
    finally:
        sys.path.pop(0)
    from jscope_desktop.cli import build_parser

    return list(subcommand_parsers(build_parser()))


def test_the_api_page_lists_attribute(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / "reference" / "notebook-api.html").as_uri())
    heading = browser.find_element(By.ID, "jscope_desktop.api.attribute")
    assert heading.is_displayed() and "attribute" in heading.text
    # its arguments and what it raises come from the docstring
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "JScopeError" in body and "prompt" in body


def test_the_cli_page_lists_every_subcommand_and_option(site, browser):
    from selenium.webdriver.common.by import By

    from jscope_desktop.cli import build_parser

    names = subcommands()
    assert len(names) >= 6
    browser.get((site / "reference" / "cli.html").as_uri())
    article = browser.find_element(By.TAG_NAME, "article").text
    parsers = {name: p for name, p in
               next(a for a in build_parser()._actions if hasattr(a, "choices") and
                    isinstance(a.choices, dict)).choices.items()}
    for name in names:
        heading = browser.find_element(By.ID, f"jscope-{name}")
        assert heading.text.startswith(f"jscope {name}"), heading.text
        for action in parsers[name]._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in article, (name, option)


def test_every_page_is_rendered_and_offline(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 30
    external = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\{\{\s*r\.|\{%", text), page  # no template left unrendered
        assert not external.search(text), page  # no font, script or style from the network


def test_the_notebook_and_results_pages_hold_their_outputs(site):
    notebook = (site / "tutorials" / "quickstart.html").read_text(encoding="utf-8")
    assert notebook.count('class="jscope-result"') >= 3  # the three results it displays
    results = (site / "results" / "faithfulness.html").read_text(encoding="utf-8")
    assert "benchmarks/results/faithfulness.json" in results and 'src="img/faithfulness.png"' in results
    assert (site / "results" / "img" / "faithfulness.png").is_file()
