from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.scopes import scope_names


def test_every_scope_runs_on_tiny_models(tiny_llama, tiny_gemma):
    for lm in (tiny_llama, tiny_gemma):
        for name in scope_names():
            r = attribute(lm, AttributionRequest(prompt="12,34,56,", scope=name))
            assert len(r.scores) == len(r.token_ids)
            assert all(s is not None and s >= 0 for s in r.scores)
