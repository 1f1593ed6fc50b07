"""The sizes of a decoder model that its cost depends on (:class:`ModelShape`), read from its
config through the family's own config class (:func:`config_sizes`: GPT-2's ``n_embd`` is its
``hidden_size``). Torch-free: the CLI reads a folder's shape before torch loads."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import JScopeError


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder model that its cost depends on."""

    n_params: int
    d_model: int
    n_layers: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    eager_attention: bool = False  # eager attention keeps an (H, T, T) matrix per layer

    @property
    def layer_params(self) -> int:
        """Weights in the decoder layers (the ones every token multiplies)."""
        d, hd = self.d_model, self.head_dim
        attn = 2 * d * self.n_heads * hd + 2 * d * self.n_kv_heads * hd
        return self.n_layers * (attn + 3 * d * self.ffn)

    @classmethod
    def from_config(cls, config, n_params: int | None = None) -> ModelShape:
        """The shape from a transformers config (object or ``config.json`` dict); ``n_params``
        the exact count when the weights are known. Sizes are read through the family's config
        class, so GPT-2's ``n_embd`` is its ``hidden_size`` (:func:`config_sizes`). Raises
        :class:`UnknownShape` (one sentence) when the config still lacks them."""
        sizes = config_sizes(config)
        if sizes is None:
            raise UnknownShape("The model's config does not give the sizes a cost estimate needs "
                               "(hidden_size, num_hidden_layers, vocab_size).")
        d, L, V, heads, kv, hd, f, eager, tied = sizes
        shape = cls(0, d, L, f, heads, kv, hd, V, eager)
        if n_params is None:
            n_params = shape.layer_params + V * d * (1 if tied else 2)
        return cls(int(n_params), d, L, f, heads, kv, hd, V, eager)


class UnknownShape(JScopeError):
    """A config whose sizes cannot be read: a run goes ahead without an estimate."""


# Feed-forward widths and key/value head counts under the names families give them (no config
# class maps these to one name; Falcon's own class does map num_key_value_heads).
FFN_NAMES = ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", "d_ff")
KV_NAMES = ("num_key_value_heads", "num_kv_heads", "n_head_kv")
CORE_NAMES = ("hidden_size", "num_hidden_layers", "vocab_size")


def _family_config(config: dict):
    """The family's config object for a ``config.json`` dict (its ``attribute_map`` turns
    ``n_embd``/``n_layer``/``n_head`` into the common names), or the dict itself when its
    ``model_type`` is unknown to transformers. Imported only when the common names are missing:
    transformers loads torch, which the estimate before loading avoids."""
    if all(k in config for k in CORE_NAMES) or not isinstance(config.get("model_type"), str):
        return config
    try:
        from transformers import AutoConfig

        fields = {k: v for k, v in config.items() if k != "model_type"}
        return AutoConfig.for_model(config["model_type"], **fields)
    except Exception:  # noqa: BLE001 - an unknown or malformed family: no estimate, not a refusal
        return config


def config_sizes(config) -> tuple | None:
    """``(d, layers, vocab, heads, kv_heads, head_dim, ffn, eager, tied)`` of a transformers
    config object or ``config.json`` dict (a multimodal config's text part), or None when the
    hidden size, layer count or vocabulary size is missing or not a positive integer."""
    if isinstance(config, dict):
        text = config.get("text_config")
        c = _family_config(text if isinstance(text, dict) else config)
    else:
        c = config.get_text_config() if hasattr(config, "get_text_config") else config

    def get(*names):
        for name in names:
            value = c.get(name) if isinstance(c, dict) else getattr(c, name, None)
            if value is not None:
                return value
        return None

    try:
        d, L, V = (int(get(k)) for k in CORE_NAMES)
        heads = int(get("num_attention_heads") or 1)
        kv = int(get(*KV_NAMES) or heads)
        hd = int(get("head_dim") or d // max(heads, 1))
        f = int(get(*FFN_NAMES) or 4 * d)
    except (TypeError, ValueError, OverflowError):
        return None
    if min(d, L, V, heads, kv, hd, f) < 1:
        return None
    eager = (get("_attn_implementation") or get("attn_implementation")) == "eager"
    tied = get("tie_word_embeddings")
    return d, L, V, heads, kv, hd, f, eager, True if tied is None else bool(tied)
