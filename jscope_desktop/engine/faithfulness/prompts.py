"""Prompts for the faithfulness benchmark: what is fed, what is explained, what may be ablated."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import JScopeError
from ..model.load import LoadedModel
from ..model.tokens import encode_prompt, special_ids, token_texts


@dataclass
class PreparedPrompt:
    """Token ids fed to the model and what is explained.

    ``position`` is the explained position (the last fed token); ``attributable`` the indices
    that may be ablated; ``true_id`` (``--explain last``) the first token of the last word.
    """

    token_ids: list[int]
    position: int
    attributable: list[int]
    true_id: int | None = None
    note: str | None = None


_LAST_WORD = re.compile(r"^(.*\S)\s+(\S+)\s*$", re.S)


def check_last_word(text: str, index: int) -> None:
    """Raise unless ``text`` has text before its last word (needed by ``--explain last``)."""
    if not _LAST_WORD.match(text):
        raise JScopeError(f"Prompt {index + 1} has a single word; --explain last needs text before "
                          "its last word.")


def prepare_prompt(lm: LoadedModel, text: str, explain: str = "next", index: int = 0) -> PreparedPrompt:
    """Tokenize ``text`` for the benchmark.

    ``next`` feeds the whole text and explains the token after it. ``last`` feeds everything
    before the last word and explains the prediction of that word; if the word is several
    tokens, its first token is the target and ``note`` says so.
    """
    tok = lm.tokenizer
    if explain == "next":
        ids = encode_prompt(tok, text).token_ids
        return PreparedPrompt(ids, len(ids) - 1, _attributable(tok, ids, len(ids) - 1))
    check_last_word(text, index)
    m = _LAST_WORD.match(text)
    ctx = encode_prompt(tok, m.group(1)).token_ids
    full = encode_prompt(tok, text.rstrip()).token_ids
    if full[: len(ctx)] != ctx:  # the boundary merged into one token: tokenize the word alone
        full = ctx + list(tok(" " + m.group(2), add_special_tokens=False)["input_ids"])
    start = len(ctx)
    while start < len(full) - 1 and not token_texts(tok, [full[start]])[0].strip():
        start += 1  # a whitespace-only token before the word belongs to the context
    ids, word = full[:start], full[start:]
    note = None
    if len(word) > 1:
        note = f"last word {m.group(2)!r} is {len(word)} tokens; its first token is the target"
    return PreparedPrompt(ids, len(ids) - 1, _attributable(tok, ids, len(ids) - 1), word[0], note)


def _attributable(tok, ids: list[int], position: int) -> list[int]:
    special = special_ids(tok)
    return [i for i in range(position + 1) if ids[i] not in special]
