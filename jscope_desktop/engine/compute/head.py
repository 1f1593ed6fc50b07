"""The output head in one place: logits from final hidden states, and their derivative.

Every quirk of how an architecture turns ``h`` into logits (final-logit soft-capping as in
Gemma 2) is handled here, so the scopes, the Fisher matrix and generation all agree on it.
"""

from __future__ import annotations

import torch

from ..model.load import LoadedModel


def output_matrix(lm: LoadedModel) -> torch.Tensor:
    """The output (unembedding) matrix W: (V, d), detached, in the model's dtype."""
    return lm.model.get_output_embeddings().weight.detach()


def logit_softcap(model: torch.nn.Module) -> float | None:
    """The final-logit soft-capping constant c (logits = c·tanh(Wh/c)), or None for plain Wh."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return getattr(config, "final_logit_softcapping", None) or None


def logits_from_hidden(lm: LoadedModel, h: torch.Tensor) -> torch.Tensor:
    """Next-token logits (…, V) from final hidden states (…, d), as the model computes them."""
    head = lm.model.get_output_embeddings()
    z = head(h.to(head.weight.device))
    cap = logit_softcap(lm.model)
    return cap * torch.tanh(z / cap) if cap else z


def logit_slopes(lm: LoadedModel, logits: torch.Tensor) -> torch.Tensor:
    """``g_v = ∂logit_v/∂(W h)_v`` (V,) float32, so that ``G = ∂logits/∂h = diag(g) W``.

    All ones unless the model soft-caps its logits, where ``g = 1 − (logits/c)²``.
    """
    cap = logit_softcap(lm.model)
    logits = logits.float()
    return 1 - (logits / cap) ** 2 if cap else torch.ones_like(logits)
