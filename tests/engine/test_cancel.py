"""Cancelling a computation: checked between batches, inside a backward pass (tiny model) and
between the steps of a model load."""

from __future__ import annotations

import pytest
import torch

from jscope_desktop.engine.compute.forward import build_graph, vjp_chunks
from jscope_desktop.engine.errors import Cancelled
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.tokens import encode_prompt

PROMPT = "12,34,56,"


class CancelAfter:
    """A cancel check that answers True from its ``n``-th call on, counting every call."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.n


def test_a_cancel_stops_a_backward_pass_in_the_middle(tiny_llama):
    ids = encode_prompt(tiny_llama.tokenizer, PROMPT).token_ids
    graph = build_graph(tiny_llama, ids, len(ids) - 1)
    assert len(graph.layers) == 1  # the hidden state between the tiny model's two layers
    cancel = CancelAfter(2)  # 1st call: before the batch; 2nd: as the pass reaches that layer
    with pytest.raises(Cancelled):
        next(vjp_chunks(graph, torch.randn(16, 32), cancel, first_batch=16))
    assert cancel.calls == 2
    # the hooks are gone: the same graph still gives plain gradients, equal to one at a time
    v = torch.randn(3, 32)
    (_, batched), = list(vjp_chunks(graph, v, first_batch=3))
    one = torch.autograd.grad(graph.h, graph.x, v[1], retain_graph=True)[0]
    torch.testing.assert_close(batched[1], one)


def test_a_cancelled_exact_fisher_raises_cancelled(tiny_llama):
    request = AttributionRequest(prompt=PROMPT, scope="fisher", fisher_method="exact")
    cancel = CancelAfter(2)  # all 32 directions fit one batch: only a check inside it can stop it
    with pytest.raises(Cancelled):
        attribute(tiny_llama, request, cancel=cancel)
    assert cancel.calls == 2



def test_a_model_load_checks_cancel_between_its_steps(model_folder):
    from jscope_desktop.engine.model.load import load_model

    never = CancelAfter(10**9)
    lm = load_model(model_folder, "cpu", progress=lambda f, m: None, cancel=never)
    assert lm.info.name == "tiny" and never.calls == 2  # before reading, after the weights
    for n in (1, 2):
        with pytest.raises(Cancelled):
            load_model(model_folder, "cpu", cancel=CancelAfter(n))


def test_a_cancelled_load_job_keeps_the_old_model(model_folder, tiny_llama, tmp_path):
    from jscope_desktop.app.background.jobs import ModelHolder, load_job

    holder = ModelHolder(tiny_llama)
    with pytest.raises(Cancelled):  # stops before it reads anything: no error for a bad folder
        load_job(holder, str(tmp_path), "cpu", "float32")(lambda f, m: None, lambda: True)
    with pytest.raises(Cancelled):  # stops after reading the weights, before keeping them
        load_job(holder, str(model_folder), "cpu", "float32")(lambda f, m: None,
                                                               CancelAfter(2))
    assert holder.lm is tiny_llama
