"""Every file reader and the command line are total: any bytes or arguments in give a result or
one sentence (a ``JScopeError`` / one stderr line, exit 1 or 2), never a traceback, and never
change an input file. Hypothesis examples are bounded by the "ci" profile in `make test`;
`make fuzz` runs the large profile."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from cli_helpers import run_cli
from hypothesis import given
from hypothesis import strategies as st

from jscope_desktop.commands import attribute as attribute_command
from jscope_desktop.commands import generate as generate_command
from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.faithfulness.run import load_prompts, read_partial
from jscope_desktop.engine.results.request import AttributionRequest, check_request
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.engine.series.explain import SeriesRequest, prepare_series
from jscope_desktop.engine.series.values import parse_values, read_values

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10),
                                                                       children, max_size=5),
    max_leaves=25,
)
CONTENT = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=8)), max_size=30).map(
        lambda v: "\n".join(map(str, v)).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
)


def _total(read, data: bytes, *args):
    """Call ``read(path, *args)`` on a file holding ``data``: a value or a JScopeError, and the
    file is unchanged."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_bytes(data)
        try:
            read(path, *args)
        except JScopeError as exc:
            assert str(exc) and "\n" not in str(exc), str(exc)
        assert path.read_bytes() == data


@given(CONTENT)
def test_prompts_reader_is_total(data):
    _total(load_prompts, data)


@given(CONTENT, st.one_of(st.none(), st.text(max_size=5)))
def test_values_reader_is_total(data, column):
    _total(read_values, data, column)


@given(CONTENT)
def test_result_reader_is_total(data):
    _total(AttributionResult.load, data)


@given(CONTENT, JSON)
def test_faithfulness_sidecar_reader_is_total(data, header):
    _total(read_partial, data, header)


SANITY_LINE = st.fixed_dictionaries(
    {"index": st.one_of(st.integers(-3, 5), JSON), "text_sha": JSON, "seconds": JSON,
     "spearman": st.one_of(JSON, st.dictionaries(
         st.sampled_from(["temperature", "fisher"]),
         st.lists(st.one_of(JSON, st.just(10**400)), max_size=4), max_size=2))},
    optional={"n_attributable": JSON, "top1": JSON, "correct": JSON})


@given(st.lists(st.one_of(SANITY_LINE, JSON), max_size=6))
def test_sanity_sidecar_reader_is_total_under_its_own_header(lines):
    """A sanity sidecar with this run's header and hostile lines: read, each line a passage of
    this run or skipped; never a traceback."""
    from jscope_desktop.engine.faithfulness.resume import read_sidecar
    from jscope_desktop.engine.faithfulness.sanity import SanityConfig, sanity_parser

    cfg = SanityConfig(scopes=["temperature"])
    header = {"kind": "header", "check": "sanity", "config": cfg.to_dict()}
    data = "\n".join(json.dumps(x) for x in [header, *lines]).encode()

    def read(path):
        for r in read_sidecar(path, header, sanity_parser(cfg)).values():
            assert isinstance(r.index, int) and list(r.spearman) == ["temperature"]
            assert all(isinstance(v, float) for v in r.spearman["temperature"])

    _total(read, data)


@given(CONTENT)
def test_session_reader_is_total(data):
    from jscope_desktop.app.actions.session import load_session

    _total(load_session, data)


@given(st.dictionaries(st.sampled_from(["kind", "version", "request", "view", "model", "result",
                                        "compare", "matrix"]), JSON, max_size=8),
       st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_session_reader_is_total_on_session_shaped_files(d, request):
    from jscope_desktop.app.actions.session import load_session

    d = {**d, "kind": "jscope-session", "request": request}
    _total(load_session, json.dumps(d).encode())


@given(st.dictionaries(st.sampled_from([
    "prompt", "token_ids", "scope", "target", "target_id", "foil", "foil_id", "position", "chat",
    "fisher_method", "fisher_rank", "fisher_probes", "fisher_rel_error", "ig_steps", "seed",
    "top_k"]), JSON, max_size=8))
def test_a_saved_request_is_valid_or_one_sentence(d):
    try:
        check_request(AttributionRequest.from_dict(d), refuse_unused=True)
    except JScopeError as exc:
        assert "\n" not in str(exc)


@given(st.text(max_size=200))
def test_pasted_values_are_total(text):
    try:
        values = parse_values(text)
        prepare_series(SeriesRequest(values=values))
    except JScopeError:
        pass


@given(st.integers(-2**70, 2**70), st.integers(-10, 10**6), st.integers(-5, 5),
       st.one_of(st.none(), st.integers(-5, 10**5)),
       st.sampled_from(["logistic", "lorenz", "brownian", "gbm", "nope"]))
def test_series_numbers_are_checked_before_work(seed, n_values, digits, cutoff, system):
    try:
        prepare_series(SeriesRequest(system=system, n_values=n_values, seed=seed, digits=digits,
                                     cutoff=cutoff))
    except JScopeError:
        pass


OPTION = st.one_of(
    st.tuples(st.sampled_from(["--scope"]), st.sampled_from(
        ["semantic", "contrast", "temperature", "fisher", "grad_input", "integrated", "nope"])),
    st.tuples(st.sampled_from(["--target", "--foil"]), st.text(max_size=4)),
    st.tuples(st.sampled_from(["--position", "--seed", "--steps", "--top-k", "--fisher-rank",
                               "--fisher-probes"]),
              st.one_of(st.integers(-10**20, 10**20).map(str), st.text(max_size=4))),
    st.tuples(st.sampled_from(["--fisher-error"]),
              st.one_of(st.floats().map(str), st.text(max_size=4))),
    st.tuples(st.sampled_from(["--fisher"]), st.sampled_from(["fast", "exact", "lowrank", "x"])),
    st.just(("--chat",)),
)


@pytest.fixture(scope="module")
def patched_loader(tiny_llama):
    mp = pytest.MonkeyPatch()
    mp.setattr(attribute_command, "load_model", lambda *a, **k: tiny_llama)
    mp.setattr(generate_command, "load_model", lambda *a, **k: tiny_llama)
    yield
    mp.undo()


@given(st.text(max_size=30), st.lists(OPTION, max_size=4))
def test_the_attribute_command_line_is_total(patched_loader, capsys, prompt, options):
    argv = ["attribute", prompt, *[part for opt in options for part in opt], "--json", "-"]
    if any(o[0] == "--fisher" and len(o) > 1 and o[1] == "exact" for o in options):
        argv += ["--fisher", "fast"]  # exact Fisher is slow; its validation is the same
    if any(o[0] == "--scope" and o[1] == "integrated" for o in options):
        argv += ["--steps", "2"]
    code, out, err = run_cli(capsys, *argv)
    assert code in (0, 1, 2), (code, err)
    if code == 0:
        assert json.loads(out)["scores"]
    else:
        assert err.startswith("jscope: ") and err.count("\n") == 1 and "Traceback" not in err, err


# small valid counts (each runs a generation) and the bound's edges
@given(st.text(max_size=20), (st.integers(-3, 12) | st.sampled_from([512, 513, 10**12])).map(str)
       | st.text(max_size=3),
       st.sampled_from(["temperature", "semantic", "contrast", "grad_input", "fisher"]))
def test_the_generate_command_line_is_total(patched_loader, capsys, prompt, n, scope):
    code, out, err = run_cli(capsys, "generate", prompt, "--n-tokens", n, "--scope", scope,
                             "--json", "-")
    assert code in (0, 1, 2), (code, err)
    if code:
        assert err.startswith("jscope: ") and err.count("\n") == 1 and "Traceback" not in err, err
