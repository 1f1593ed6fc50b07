"""How many backward directions one batched pass takes: the bound shared by the compute code
that batches them and the cost model that predicts them. Torch-free."""

from __future__ import annotations

# a batch of directions: the (B, T, d) gradient tensor stays under this many elements
VJP_BATCH_ELEMENTS = 2**25
VJP_MAX_BATCH = 128


def vjp_batch_cap(n_tokens: int, d_model: int) -> int:
    """The most directions one batched backward pass takes for a (T, d) prompt."""
    return max(1, VJP_BATCH_ELEMENTS // max(1, n_tokens * d_model))
