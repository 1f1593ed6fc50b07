"""Model families whose configs name their sizes their own way (GPT-2's ``n_embd``, ``n_layer``,
Bloom's ``n_head``, OPT's ``ffn_dim``, ...): each is saved as a tiny random folder, loaded by the
real loader and attributed exactly, against brute-force Jacobians of the model's own logits; and
a model whose sizes cannot be read at all runs without an estimate, said in one line.

The references never use the engine's code: ``torch.autograd.functional.jacobian`` of the whole
model's logits and of the decoder's last hidden state (checked to be what the head reads), in
float64 copies of the loaded weights.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from cli_helpers import run_cli
from tiny_models import save_word_tokenizer
from torch.autograd.functional import jacobian

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model import shape as model_shape
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.planning import cost_model
from jscope_desktop.engine.planning.calibration import estimate_loaded, estimate_note, estimate_source

PROMPT = "the cat sat on the"
WORDS = ["<unk>", "<s>", "</s>", "the", "cat", "sat", "on", "mat", "a", "dog", "."] + \
    [f"w{i}" for i in range(53)]
TINY = {"n_positions": 64}  # GPT-2-style position count
FAMILIES = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(n_embd=16, n_layer=2, n_head=2, **TINY)),
    "gptj": ("GPTJConfig", "GPTJForCausalLM",
             dict(n_embd=16, n_layer=2, n_head=2, rotary_dim=4, **TINY)),
    "bloom": ("BloomConfig", "BloomForCausalLM", dict(hidden_size=16, n_layer=2, n_head=2)),
    "falcon": ("FalconConfig", "FalconForCausalLM",
               dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    max_position_embeddings=64)),
    "opt": ("OPTConfig", "OPTForCausalLM",
            dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
                 word_embed_proj_dim=16, max_position_embeddings=64)),
    "codegen": ("CodeGenConfig", "CodeGenForCausalLM",
                dict(n_embd=16, n_layer=2, n_head=2, rotary_dim=4, n_ctx=64, **TINY)),
}
# the sizes each family's config.json gives, under its own names (d, layers, vocabulary)
SIZE_KEYS = {"gpt2": ("n_embd", "n_layer"), "gptj": ("n_embd", "n_layer"),
             "bloom": ("hidden_size", "n_layer"), "falcon": ("hidden_size", "num_hidden_layers"),
             "opt": ("hidden_size", "num_hidden_layers"), "codegen": ("n_embd", "n_layer")}


def family_folder(root, family: str):
    """A Hugging Face folder of ``family``: a word tokenizer and random weights (safetensors)."""
    import transformers

    folder = root / family
    save_word_tokenizer(WORDS, folder)
    config_cls, model_cls, sizes = FAMILIES[family]
    torch.manual_seed(0)
    config = getattr(transformers, config_cls)(vocab_size=len(WORDS), bos_token_id=1,
                                               eos_token_id=2, **sizes)
    model = getattr(transformers, model_cls)(config)
    with torch.no_grad():  # a peaked next-token distribution, so every scope is well conditioned
        model.get_output_embeddings().weight.mul_(8.0)
        for name, p in model.named_parameters():
            if "ln" in name or "norm" in name:
                p.add_(0.3 * torch.randn(p.shape))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory):
    """(name, folder, the model as the real loader loads it)."""
    folder = family_folder(tmp_path_factory.mktemp("families"), request.param)
    return request.param, folder, load_model(str(folder), "cpu", "float32")


def brute(lm):
    """float64 references at the last position: ids, h (d,), J = ∂h/∂x (d, T, d), the model's
    own logits (V,) and K = ∂logits/∂x (V, T, d)."""
    model = copy.deepcopy(lm.model).double()
    ids = lm.tokenizer(PROMPT)["input_ids"]
    x = model.get_input_embeddings()(torch.tensor([ids]))[0].detach()

    def logits_of(x_):
        return model(inputs_embeds=x_[None], use_cache=False).logits[0, -1]

    def h_of(x_):
        return model.base_model(inputs_embeds=x_[None], use_cache=False).last_hidden_state[0, -1]

    h, logits = h_of(x).detach(), logits_of(x).detach()
    head = model.get_output_embeddings()
    assert torch.allclose(head(h), logits, atol=1e-9), "h is not what the head reads"
    return ids, h, jacobian(h_of, x, vectorize=True), logits, jacobian(logits_of, x, vectorize=True)


def rel_err(a: list, b: torch.Tensor) -> float:
    a = torch.tensor(a, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max())


def test_each_family_reads_its_sizes_through_its_config_class(family):
    name, folder, lm = family
    raw = json.loads((folder / "config.json").read_text())
    d_key, l_key = SIZE_KEYS[name]
    shape = model_shape.ModelShape.from_config(raw)  # the config.json dict, as before loading
    assert (shape.d_model, shape.n_layers, shape.vocab) == (raw[d_key], raw[l_key], len(WORDS))
    assert model_shape.ModelShape.from_config(lm.model.config).d_model == raw[d_key]
    assert estimate_note(lm) is None
    est = estimate_loaded(lm, AttributionRequest(prompt=PROMPT), 6)
    assert est is not None and est.peak_bytes > 0 and est.seconds > 0
    assert estimate_source(str(folder), "cpu", "float32", AttributionRequest(prompt=PROMPT))


def test_each_family_attributes_exactly(family):
    name, _folder, lm = family
    ids, h, J, logits, K = brute(lm)
    target = int(logits.argmax())
    W = lm.model.get_output_embeddings().weight.detach().double()
    JT = J.permute(1, 2, 0)  # (T, d_x, d_h)
    S = torch.diag(torch.softmax(logits, -1)) - torch.outer(*(2 * [torch.softmax(logits, -1)]))
    Kt = K.permute(1, 0, 2)
    expected = {
        "semantic": (JT @ W[target]).norm(dim=-1),
        "temperature": (JT @ (h / h.norm())).norm(dim=-1),
        "fisher": torch.einsum("tvi,vw,twi->t", Kt, S, Kt),
    }
    for scope, ref in expected.items():
        r = attribute(lm, AttributionRequest(prompt=PROMPT, scope=scope, fisher_method="exact"))
        assert r.token_ids == ids and r.target_id in (None, target)
        err = rel_err(r.scores, ref)
        print(f"{name} {scope}: max |error| / max score = {err:.1e}")
        assert err < 1e-5, (name, scope, err)


def test_a_model_whose_sizes_are_unknown_runs_without_an_estimate(monkeypatch, capsys, tmp_path):
    folder = family_folder(tmp_path, "gpt2")
    capsys.readouterr()  # transformers' own progress bars while saving it
    monkeypatch.setattr(model_shape, "config_sizes", lambda config: None)
    fresh = load_model(str(folder), "cpu", "float32")  # its shape is not cached yet
    assert estimate_note(fresh) == cost_model.NO_ESTIMATE
    assert estimate_loaded(fresh, AttributionRequest(prompt=PROMPT), 6) is None
    assert estimate_source(str(folder), "cpu", "float32", AttributionRequest(prompt=PROMPT)) is None
    r = attribute(fresh, AttributionRequest(prompt=PROMPT, scope="temperature"))
    assert len(r.scores) == len(r.token_ids) and all(s > 0 for s in r.scores)
    out = tmp_path / "r.json"
    status, stdout, err = run_cli(capsys, "attribute", PROMPT, "--model", str(folder),
                                  "--device", "cpu", "--json", str(out))
    assert status == 0 and out.is_file(), err
    assert err == f"jscope: {cost_model.NO_ESTIMATE}\n"
    status, stdout, err = run_cli(capsys, "attribute", PROMPT, "--model", str(folder),
                                  "--device", "cpu", "--estimate")
    assert status == 0 and err == f"jscope: {cost_model.NO_ESTIMATE}\n" and stdout == ""
    items = tmp_path / "items.jsonl"
    items.write_text('{"prompt": "the cat sat"}\n{"prompt": "a dog sat on the"}\n')
    status, stdout, err = run_cli(capsys, "batch", str(items), "--out", str(tmp_path / "o.jsonl"),
                                  "--model", str(folder), "--device", "cpu")
    assert status == 0 and err.count(cost_model.NO_ESTIMATE) == 1, err  # said once, not per item
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


def test_a_hostile_config_never_stops_a_run_it_cannot_estimate():
    for config in ({}, {"model_type": "no-such-family"}, {"model_type": "gpt2", "n_embd": "x"},
                   {"hidden_size": 1e400, "num_hidden_layers": 2, "vocab_size": 8},
                   {"hidden_size": -4, "num_hidden_layers": 2, "vocab_size": 8},
                   {"text_config": [], "model_type": 3}):
        assert model_shape.config_sizes(config) is None, config
        with pytest.raises(model_shape.UnknownShape):
            model_shape.ModelShape.from_config(config)
