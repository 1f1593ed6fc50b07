"""Shared fixtures: tiny random models (fast tests), the embedded model (once per session)."""

from __future__ import annotations

import os

import pytest
import torch
from tiny_models import save_word_tokenizer, tiny_model

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: tiny models gain nothing from threads, and on a loaded
    machine OpenMP's spinning threads make them 100× slower. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_llama():
    """A 2-layer random Llama (d=32, V=128): eager attention so every op is differentiable twice."""
    return tiny_model(
        "LlamaConfig", "LlamaForCausalLM", vocab_size=128, hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=256, tie_word_embeddings=False, attn_implementation="eager",
    )


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory):
    """A real Hugging Face folder the real loader reads: a 1-layer random Llama (safetensors) and
    a word tokenizer (the words below, split on whitespace). Shared: copy it before changing it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("models") / "tiny"
    words = ["<unk>", "<s>", "</s>", "the", "cat", "sat", "on", "mat", "a", "dog", "."]
    save_word_tokenizer(words, folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gemma():
    """A 2-layer random Gemma 3 text model: scaled embeddings, final soft-capping on."""
    return tiny_model(
        "Gemma3TextConfig", "Gemma3ForCausalLM", vocab_size=128, hidden_size=32,
        intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, max_position_embeddings=256, final_logit_softcapping=30.0,
        sliding_window=16, attn_implementation="eager",
    )


@pytest.fixture(scope="session")
def embedded_model():
    """The embedded SmolLM2 model, converted into a session cache and loaded once."""
    from jscope_desktop.engine.model.load import load_model

    return load_model()


# Hypothesis: a bounded profile for `make test`, a large one for `make fuzz` (HYPOTHESIS_PROFILE).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
