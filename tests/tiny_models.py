"""Tiny randomly initialised models for fast tests, built in the test from a transformers
config (``tiny_model("LlamaConfig", "LlamaForCausalLM", hidden_size=32, ...)``), with a
one-character-per-token stand-in tokenizer."""

from __future__ import annotations

import torch


def tiny_model(config_cls_name: str, model_cls_name: str, **overrides):
    """A :class:`LoadedModel` of a random model (eval mode, frozen, float32 on the CPU, seed 0):
    the transformers config and model class names, and the config's sizes."""
    import transformers

    from jscope_desktop.engine.model.load import LoadedModel, ModelInfo

    torch.manual_seed(0)
    config = getattr(transformers, config_cls_name)(**overrides)
    model = getattr(transformers, model_cls_name)(config).eval().requires_grad_(False)
    info = ModelInfo(
        name=config_cls_name, source="(random)", n_params=sum(p.numel() for p in model.parameters()),
        d_model=config.hidden_size, vocab_size=config.vocab_size,
        n_layers=config.num_hidden_layers, context_length=config.max_position_embeddings,
        architecture=model_cls_name,
    )
    return LoadedModel(model, DigitTokenizer(config.vocab_size), info, torch.device("cpu"), torch.float32)


class DigitTokenizer:
    """A tiny stand-in tokenizer: one token per character (id = byte value + 3); 0–2 special."""

    all_special_ids = [0, 1, 2]
    bos_token_id = 1
    chat_template = None
    model_max_length = 256

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def __call__(self, text, add_special_tokens=True):
        ids = [3 + (ord(c) % (self.vocab_size - 3)) for c in text]
        return {"input_ids": ([1] if add_special_tokens else []) + ids}

    def decode(self, ids, clean_up_tokenization_spaces=False, skip_special_tokens=False):
        return "".join("<s>" if i == 1 else "" if i < 3 else chr(i - 3) for i in ids)


def save_word_tokenizer(words: list[str], folder) -> None:
    """A real tokenizer in ``folder`` (tokenizer.json and friends): one token per word of
    ``words`` (split on whitespace and punctuation), ``<unk>``, ``<s>`` and ``</s>`` among them."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(folder)
