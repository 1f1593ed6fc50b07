"""Prompts to tokens and back: word/sentence spans, L2 aggregation, one-token targets, chat roles."""

from __future__ import annotations

import math

import pytest

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.model.tokens import (
    _roles_from_template,
    aggregate,
    encode_prompt,
    sentence_spans,
    single_token_id,
    token_texts,
    word_spans,
)

TOKENS = ["<s>", "The", " cap", "ital", " of", " France", " is", " Paris", ".", " It", "'s",
          " big", "!", "\n", "Yes", "?"]
SPECIAL = [True] + [False] * (len(TOKENS) - 1)


def spans_as_tuples(spans):
    return [(s.start, s.end, s.text) for s in spans]


def test_word_spans():
    assert spans_as_tuples(word_spans(TOKENS, SPECIAL)) == [
        (0, 1, "<s>"), (1, 2, "The"), (2, 4, " capital"), (4, 5, " of"), (5, 6, " France"),
        (6, 7, " is"), (7, 8, " Paris"), (8, 9, "."), (9, 10, " It"), (10, 11, "'s"),
        (11, 12, " big"), (12, 13, "!"), (13, 14, "\n"), (14, 15, "Yes"), (15, 16, "?"),
    ]


def test_word_spans_cover_every_token_once():
    tokens = ["1", "2", ",", "3", "4", ",", ",", "<|im_start|>", "user", "\n", "hi"]
    special = [t.startswith("<|") for t in tokens]
    spans = word_spans(tokens, special)
    assert [i for s in spans for i in range(s.start, s.end)] == list(range(len(tokens)))
    assert [s.text for s in spans] == ["12", ",", "34", ",,", "<|im_start|>", "user", "\n", "hi"]
    assert "".join(s.text for s in spans) == "".join(tokens)


def test_sentence_spans():
    assert spans_as_tuples(sentence_spans(TOKENS, SPECIAL)) == [
        (0, 1, "<s>"), (1, 9, "The capital of France is Paris."), (9, 13, " It's big!"),
        (13, 14, "\n"), (14, 16, "Yes?"),
    ]


def test_aggregate_is_the_l2_norm_of_members():
    spans = word_spans(TOKENS, SPECIAL)
    scores = [float(i) for i in range(len(TOKENS))]
    scores[15] = None  # e.g. after the explained position
    agg = aggregate(scores, spans)
    assert agg[2] == pytest.approx(math.hypot(2.0, 3.0))  # " cap" + "ital"
    assert agg[0] == 0.0 and agg[1] == 1.0
    assert agg[-1] is None  # only unattributed members
    sentences = sentence_spans(TOKENS, SPECIAL)
    total = aggregate(scores, sentences)
    assert total[1] == pytest.approx(math.sqrt(sum(i * i for i in range(1, 9))))
    assert total[4] == 14.0  # "Yes" scored, "?" not


def test_single_token_target(tiny_llama):
    tok = tiny_llama.tokenizer
    assert single_token_id(tok, "7") == tok("7", add_special_tokens=False)["input_ids"][0]
    with pytest.raises(JScopeError, match=r"The foil '78' is 2 tokens \('7' \| '8'\)"):
        single_token_id(tok, "78", "foil")
    with pytest.raises(JScopeError, match="target is empty"):
        single_token_id(tok, "")


def test_encode_prompt(tiny_llama):
    enc = encode_prompt(tiny_llama.tokenizer, "1 2")
    assert enc.token_ids[0] == 1 and enc.tokens == ["<s>", "1", " ", "2"]
    assert enc.special == [True, False, False, False] and enc.roles is None
    assert token_texts(tiny_llama.tokenizer, enc.token_ids) == enc.tokens
    for bad in ("", " \n\t"):
        with pytest.raises(JScopeError, match="prompt is empty"):
            encode_prompt(tiny_llama.tokenizer, bad)
    with pytest.raises(JScopeError, match="no chat template"):
        encode_prompt(tiny_llama.tokenizer, "1", chat=True)


class PieceTokenizer:
    """Decodes ids to fixed pieces (a role name may take several tokens)."""

    PIECES = ["<|im_start|>", "<|im_end|>", "system", "user", "ass", "istant", "\n", "Hi",
              " there", "us", "ually", "model"]

    def decode(self, ids, **kwargs):
        return "".join(self.PIECES[i] for i in ids)


def test_chat_roles_with_split_role_names():
    tok = PieceTokenizer()
    P = {p: i for i, p in enumerate(tok.PIECES)}
    seq = ["<|im_start|>", "user", "\n", "Hi", "<|im_end|>", "\n", "<|im_start|>", "ass",
           "istant", "\n", "us", "ually", "<|im_end|>", "<|im_start|>", "us", "ually"]
    roles = _roles_from_template(tok, [P[p] for p in seq], {0, 1})
    assert roles == [None, None, "user", "user", None, "user", None, None, None, "assistant",
                     "assistant", "assistant", None, None, "assistant", "assistant"]


@pytest.mark.embedded
def test_embedded_tokens(embedded_model):
    tok = embedded_model.tokenizer
    assert single_token_id(tok, " Paris") != single_token_id(tok, "Paris")
    with pytest.raises(JScopeError, match=r"is \d tokens \(.*\|.*\), not one"):
        single_token_id(tok, " Parisianism")
    enc = encode_prompt(tok, "Hello world. Bye!", chat=True)
    spans = word_spans(enc.tokens, enc.special)
    assert "".join(s.text for s in spans) == "".join(enc.tokens)
    words = [s.text for s in spans]
    assert " world" in words and "Hello" in words
    assert [s.text for s in sentence_spans(enc.tokens, enc.special)].count("Hello world.") == 1
