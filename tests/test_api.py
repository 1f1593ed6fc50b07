"""The notebook API (jscope_desktop.api): lazy and torch-free to import, settings passed to the
one request dataclass, one-sentence errors, results that display themselves in an isolated
frame, and load_result reading every saved contract back."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from browser_helpers import headless_chromium

import jscope_desktop as js
from jscope_desktop import api
from jscope_desktop.engine.explain.generation import generate_attribution
from jscope_desktop.engine.results import display
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.render.core.html import read_embedded

REPO = Path(__file__).resolve().parents[1]
PROMPT = "12,34,56,"


def _srcdoc(fragment: str) -> str:
    """The page inside a notebook fragment's ``<iframe srcdoc="…">``, unescaped."""
    m = re.fullmatch(r'<iframe class="jscope-result" srcdoc="([^"]*)" style="[^"]*" '
                     r'sandbox="allow-scripts"></iframe>', fragment)
    assert m, fragment[:200]
    return html.unescape(m.group(1))


def _subprocess(code: str) -> str:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_the_package_is_fast_and_loads_no_torch():
    code = ("import sys, jscope_desktop as js\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers',"
            " 'PySide6', 'numpy')), js.__file__)")
    assert _subprocess(code) == f"[] {REPO / 'jscope_desktop' / '__init__.py'}"


def test_the_api_names_are_reached_through_the_package():
    assert js.attribute is api.attribute and js.load_result is api.load_result
    assert js.load_model is api.load_model and js.AttributionResult is AttributionResult
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        js.nope  # noqa: B018
    assert {"attribute", "load_model", "load_result"} <= set(dir(js))


def test_temperature_scores_match_a_brute_force_gradient(tiny_llama):
    r = js.attribute(tiny_llama, PROMPT)  # Temperature Scope by default
    ids = torch.tensor([r.token_ids])
    x = tiny_llama.model.get_input_embeddings()(ids).detach().requires_grad_(True)
    out = tiny_llama.model(inputs_embeds=x, output_hidden_states=True)
    h = out.hidden_states[-1][0, -1]  # final post-norm hidden state at the last position
    (g,) = torch.autograd.grad(h.norm(), x)
    torch.testing.assert_close(torch.tensor(r.scores), g[0].norm(dim=-1), rtol=1e-4, atol=1e-6)


def test_settings_pass_through_to_the_request(tiny_llama):
    r = js.attribute(tiny_llama, PROMPT, scope="fisher", fisher_method="exact", position=4,
                     top_k=3)
    assert r.scope == "fisher" and r.fisher.method == "exact" and r.position == 4
    assert len(r.topk) == 3 and r.scores[5:] == [None] * (len(r.tokens) - 5)
    ids = js.attribute(tiny_llama, r.token_ids, scope="fisher", fisher_method="exact", position=4)
    assert ids.token_ids == r.token_ids and ids.scores[5:] == r.scores[5:]
    assert ids.scores[:5] == pytest.approx(r.scores[:5], rel=1e-5)


@pytest.mark.parametrize(("kwargs", "needles"), [
    ({"scope": "fisher", "fisher_probs": 3}, ("Unknown setting 'fisher_probs'", "fisher_probes")),
    ({"scope": "fisher", "fisher_probes": 0}, ("The setting fisher_probes", "1 to")),
    ({"scope": "temperature", "target": " 5"}, ("A target is not used by the Temperature",)),
    ({"scope": "nonsense"}, ("nonsense",)),
    ({"position": 99}, ("Position 99 is out of range",)),
])
def test_a_bad_setting_is_one_sentence(tiny_llama, kwargs, needles):
    with pytest.raises(js.JScopeError) as info:
        js.attribute(tiny_llama, PROMPT, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.rstrip().endswith((".", ")")), message
    for needle in needles:
        assert needle in message, message


def test_a_result_displays_itself_in_an_isolated_frame(tiny_llama):
    r = js.attribute(tiny_llama, PROMPT, scope="semantic")
    fragment = r._repr_html_()
    # the notebook sees no script, style or id of the page: all of it lives in the frame
    assert "<script" not in fragment and "<style" not in fragment and 'id="' not in fragment
    page = _srcdoc(fragment)
    assert read_embedded(page) == json.loads(r.to_json())
    other = js.attribute(tiny_llama, "98,76,", scope="temperature")._repr_html_()
    assert read_embedded(_srcdoc(other))["tokens"] != read_embedded(page)["tokens"]


def test_a_result_loaded_without_the_api_still_displays_itself(tiny_llama, tmp_path):
    path = tmp_path / "r.json"
    js.attribute(tiny_llama, PROMPT).save(path)
    code = ("import jscope_desktop, html, re\n"
            "from jscope_desktop.engine.results.result import AttributionResult\n"
            f"frag = AttributionResult.load({str(path)!r})._repr_html_()\n"
            "import sys\n"
            "print('jscope-result' in html.unescape(frag), 'jscope_desktop.api' in sys.modules)")
    assert _subprocess(code) == "True True"


def test_without_a_page_maker_jupyter_gets_the_plain_repr(tiny_llama):
    r = js.attribute(tiny_llama, PROMPT)
    previous = display.register_page_maker(None)
    try:
        assert r._repr_html_() is None
    finally:
        display.register_page_maker(previous)


def test_load_result_reads_single_matrix_and_series_back(tiny_llama, tmp_path):
    from jscope_desktop.engine.series.explain import SeriesRequest, explain_series

    single = js.attribute(tiny_llama, PROMPT, scope="fisher")
    matrix = generate_attribution(tiny_llama, PROMPT, 3)
    values = [float(v) for v in (12, 40, 33, 70, 21, 55)]
    series = explain_series(tiny_llama, SeriesRequest(values=values))
    for name, result in (("single", single), ("matrix", matrix), ("series", series)):
        path = tmp_path / f"{name}.json"
        result.save(path)
        back = js.load_result(path)
        assert back.to_dict() == json.loads(path.read_text())
    assert js.load_result(tmp_path / "matrix.json").positions == matrix.positions
    assert js.load_result(tmp_path / "series.json").series.values == values


def test_load_result_errors_are_one_sentence(tmp_path, monkeypatch, tiny_llama):
    cases = {"list.json": "[1, 2]", "bad.json": '{"version": 1, "tokens": []}', "junk.json": "{"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(js.JScopeError) as info:
            js.load_result(tmp_path / name)
        assert "\n" not in str(info.value), str(info.value)
    with pytest.raises(js.JScopeError, match="does not exist|No such|not found|missing"):
        js.load_result(tmp_path / "absent.json")
    with pytest.raises(js.JScopeError, match="it holds list, not a table"):
        js.load_result(tmp_path / "list.json")


def test_two_results_in_one_notebook_page_work_in_a_real_browser(tiny_llama, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    results = [js.attribute(tiny_llama, PROMPT, scope="fisher"),
               js.attribute(tiny_llama, "98,76,", scope="temperature")]
    notebook = tmp_path / "notebook.html"  # as Jupyter puts outputs: fragments in one document
    notebook.write_text("<!DOCTYPE html><html><body>" + "".join(
        f"<div class=output>{r._repr_html_()}</div>" for r in results) + "</body></html>",
        encoding="utf-8")
    browser = headless_chromium()
    try:
        browser.set_window_size(1200, 1400)  # both frames in view: hovering needs no scrolling
        browser.get(notebook.as_uri())
        frames = browser.find_elements(By.CSS_SELECTOR, "iframe.jscope-result")
        assert len(frames) == 2
        for frame, r in zip(frames, results):
            browser.switch_to.frame(frame)  # each page runs its own script on its own ids
            tokens = browser.find_elements(By.CSS_SELECTOR, "#strip .tok")
            assert len(tokens) == len(r.tokens)
            best = max(range(len(r.scores)), key=lambda i: r.scores[i])
            ActionChains(browser).move_to_element(tokens[best]).perform()
            tip = browser.find_element(By.ID, "tip").text
            assert f"token {best + 1}:" in tip and "rank 1 of" in tip, tip
            assert float(tip.split("score ")[1].split()[0]) == pytest.approx(r.scores[best],
                                                                            rel=1e-3)
            browser.switch_to.default_content()
    finally:
        browser.quit()


def test_several_scopes_run_in_one_pass_display_and_read_back(tiny_llama, tmp_path):
    many = js.attribute(tiny_llama, PROMPT, scope=["temperature", "semantic"])
    assert [r.scope for r in many.results] == ["temperature", "semantic"]
    single = js.attribute(tiny_llama, PROMPT, scope="temperature")
    torch.testing.assert_close(torch.tensor(many.results[0].scores), torch.tensor(single.scores),
                               rtol=1e-5, atol=1e-7)
    assert js.attribute(tiny_llama, PROMPT, scope="temperature,semantic").scopes == many.scopes
    page = _srcdoc(many._repr_html_())
    assert read_embedded(page) == json.loads(many.to_json())
    path = tmp_path / "many.json"
    many.save(path)
    assert js.load_result(path).to_dict() == json.loads(path.read_text())


@pytest.mark.parametrize("scope", [["temperature", "temperature"], "temperature,nope", ","])
def test_a_bad_scope_list_is_one_sentence(tiny_llama, scope):
    with pytest.raises(js.JScopeError) as err:
        js.attribute(tiny_llama, PROMPT, scope=scope)
    text = str(err.value)
    assert text.count(".") >= 1 and "\n" not in text and "{" not in text, text


def test_the_typed_api_lists_every_setting_once_with_the_requests_defaults():
    """attribute's keyword-only settings are the request's fields, with the same defaults and
    types, so the signature (what help() shows) cannot drift from the one request dataclass."""
    import dataclasses
    import inspect
    import pydoc
    import typing

    sig = inspect.signature(js.attribute)
    keyword = {n: p for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}
    request = {f.name: f for f in dataclasses.fields(js.AttributionRequest)
               if f.name not in ("prompt", "token_ids", "scope")}
    assert list(keyword) == list(request)
    hints = typing.get_type_hints(js.attribute)
    request_hints = typing.get_type_hints(js.AttributionRequest)
    for name, field in request.items():
        assert keyword[name].default == field.default, name
        assert hints[name] == request_hints[name], name
    assert sig.parameters["scope"].default == js.AttributionRequest().scope
    text = pydoc.render_doc(js.attribute, renderer=pydoc.plaintext)
    for name in request:
        assert f"{name}:" in text.split("Returns:")[0], name  # each setting has its line


def test_compare_scopes_and_to_numpy(tiny_llama):
    import numpy as np

    names = [s.name for s in js.scopes()]
    assert sorted(names[:6]) == sorted(["semantic", "contrast", "temperature", "fisher",
                                        "integrated", "grad_input"])  # built-ins first
    assert all(s.label and s.unit for s in js.scopes())
    many = js.compare(tiny_llama, PROMPT, ["semantic", "temperature"], target="7")
    assert isinstance(many, js.MultiScopeResult) and many.scopes == ["semantic", "temperature"]
    single = js.attribute(tiny_llama, PROMPT, scope="semantic", target="7")
    array = many.to_numpy()
    assert array.shape == (2, len(single.tokens)) and array.dtype == np.float64
    np.testing.assert_allclose(array[0], single.to_numpy(), rtol=1e-5, atol=1e-7)
    assert js.compare(tiny_llama, PROMPT, "all").scopes == names
    with pytest.raises(js.JScopeError, match="Unknown setting 'scope'"):
        js.compare(tiny_llama, PROMPT, ["semantic"], scope="fisher")
    with pytest.raises(js.JScopeError, match="names 'semantic' twice"):
        js.compare(tiny_llama, PROMPT, ["semantic", "semantic"])
    # a row after the explained position is NaN, not a number
    early = js.attribute(tiny_llama, PROMPT, position=2).to_numpy()
    assert early.shape == (len(single.tokens),)
    assert np.isnan(early[3:]).all() and np.isfinite(early[:3]).all()
    matrix = js.generate(tiny_llama, PROMPT, 3).to_numpy()
    assert matrix.shape == (3, len(js.generate(tiny_llama, PROMPT, 3).tokens))


def test_faithfulness_returns_typed_reports_per_filler(tiny_llama):
    import jscope_desktop as js

    prompts = ["the cat sat on the mat", "12, 34, 56, 78,"]
    one = js.faithfulness(tiny_llama, prompts, scopes=["temperature", "random"],
                          fractions=(0.1, 0.3), loo=False)
    assert isinstance(one, js.FaithfulnessReport) and one.filler["name"] == "zero"
    assert set(one.aopc) == {"temperature", "random"} and one.n_prompts == 2
    assert one.paired[0]["a"] == "temperature" and "<svg" in one._repr_html_()
    both = js.faithfulness(tiny_llama, prompts, scopes=["temperature", "random"],
                           fractions=(0.1, 0.3), loo=False, filler=["zero", "bos"])
    assert list(both) == ["zero", "bos"] and both["zero"].aopc == one.aopc
    assert both["bos"].filler["token_id"] == 1
    with pytest.raises(js.JScopeError, match="non-empty list"):
        js.faithfulness(tiny_llama, [], loo=False)
