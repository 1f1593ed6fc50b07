"""Helpers for the time-series tests: a number tokenizer and a brute-force next-value distribution."""

from __future__ import annotations

import dataclasses
import math

import torch

from jscope_desktop.engine.compute.forward import plain_forward


class NumberTokenizer:
    """A tiny tokenizer where every 2-digit number is one token (as in LLaMA-3).

    Ids: 0–2 special (1 = BOS), 3 = ',', 4–103 = "00"…"99", 104–113 = single digits "0"…"9".
    Digits are grouped in pairs from the left, so "123" is "12" + "3".
    """

    all_special_ids = [0, 1, 2]
    bos_token_id = 1
    chat_template = None
    COMMA = 3

    def __call__(self, text, add_special_tokens=True):
        ids, i = [1] if add_special_tokens else [], 0
        while i < len(text):
            if text[i] == ",":
                ids.append(self.COMMA)
                i += 1
            elif text[i : i + 2].isdigit() and len(text[i : i + 2]) == 2:
                ids.append(4 + int(text[i : i + 2]))
                i += 2
            elif text[i].isdigit():
                ids.append(104 + int(text[i]))
                i += 1
            else:
                raise ValueError(f"NumberTokenizer cannot encode {text[i]!r}")
        return {"input_ids": ids}

    def decode(self, ids, clean_up_tokenization_spaces=False, skip_special_tokens=False):
        return "".join(self._piece(i) for i in ids)

    @staticmethod
    def _piece(i: int) -> str:
        if i == 1:
            return "<s>"
        if i < 3:
            return ""
        if i == 3:
            return ","
        return f"{i - 4:02d}" if i < 104 else str(i - 104)


def with_tokenizer(lm, tokenizer):
    """The same tiny model with another tokenizer."""
    return dataclasses.replace(lm, tokenizer=tokenizer)


def brute_force_distribution(lm, context: list[int], paths: list[list[int]]) -> list[float]:
    """P(path) for every path by full no-cache forwards of context + prefix (one per prefix)."""
    memo: dict[tuple[int, ...], torch.Tensor] = {}
    out = []
    for path in paths:
        logp = 0.0
        for j, token in enumerate(path):
            prefix = tuple(path[:j])
            if prefix not in memo:
                logits, _ = plain_forward(lm, context + list(prefix))
                memo[prefix] = torch.log_softmax(logits.double(), -1)
            logp += float(memo[prefix][token])
        out.append(math.exp(logp))
    return out
