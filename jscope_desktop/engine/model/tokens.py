"""Prompts to token ids and back: chat template, display text, special tokens, words, sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import EMPTY_PROMPT, JScopeError


@dataclass
class EncodedPrompt:
    """Token ids fed to the model, with what the views need to show them.

    ``tokens[i]`` is the display text of ``token_ids[i]``; ``special[i]`` is True for special and
    template tokens; ``roles[i]`` is the chat role a token belongs to (None without a template).
    """

    token_ids: list[int]
    tokens: list[str]
    special: list[bool]
    roles: list[str | None] | None


def token_texts(tokenizer, ids: list[int]) -> list[str]:
    """Display text of each token: its exact decoded string (leading spaces kept)."""
    return [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]


def check_text(text: str, what: str) -> None:
    """Refuse text that is not valid Unicode (lone surrogates: what Python makes of bytes that
    were not UTF-8, e.g. in a command-line argument) in one sentence naming ``what``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JScopeError(f"{what} holds bytes that are not UTF-8 text (at character "
                          f"{exc.start + 1}); save or type it as UTF-8.") from None


def special_ids(tokenizer) -> set[int]:
    """The ids of the tokenizer's special tokens (BOS, EOS, chat-template markers, …)."""
    return set(getattr(tokenizer, "all_special_ids", []) or [])


# the tokens tried, in order, when a tokenizer has no token of a role (pad, eos, bos)
ROLE_FALLBACKS = {"pad": ("eos", "unk", "bos"), "eos": ("pad", "unk"), "bos": ("eos", "pad", "unk")}


def role_token(tokenizer, role: str) -> tuple[int, str]:
    """The id of the tokenizer's ``role`` token (``"pad"``, ``"eos"`` or ``"bos"``) and the role
    actually used: ``role`` itself, or the first of :data:`ROLE_FALLBACKS` the tokenizer has.

    Raises:
        JScopeError: the tokenizer has no token of the role and none to stand in.
    """
    for used in (role, *ROLE_FALLBACKS[role]):
        tid = getattr(tokenizer, f"{used}_token_id", None)
        if isinstance(tid, int) and not isinstance(tid, bool):
            return tid, used
    raise JScopeError(f"This model's tokenizer has no {role} token and none of "
                      f"{', '.join(ROLE_FALLBACKS[role])} to stand in.")


def encode_prompt(tokenizer, prompt: str, chat: bool = False) -> EncodedPrompt:
    """Tokenize ``prompt`` as raw text, or as a user turn through the chat template.

    Raw text gets the tokenizer's own special tokens (a BOS where the model expects one).
    With ``chat`` the template's generation prompt is appended, so the explained prediction is
    the first token of the assistant's answer.
    """
    if not prompt or not prompt.strip():
        raise JScopeError(EMPTY_PROMPT)
    check_text(prompt, "The prompt")
    specials = special_ids(tokenizer)
    roles = None
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise JScopeError("This model's tokenizer has no chat template; turn chat mode off.")
        ids = list(tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True,
            return_dict=False,
        ))
        if isinstance(ids[0], list):
            ids = ids[0]
        roles = _roles_from_template(tokenizer, ids, specials)
    else:
        ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    texts = token_texts(tokenizer, ids)
    return EncodedPrompt(ids, texts, [i in specials for i in ids], roles)


ROLE_NAMES = ("system", "user", "assistant", "model")


def _roles_from_template(tokenizer, ids: list[int], special_ids: set[int]) -> list[str | None]:
    """Mark each token with the role whose turn it is in (after a special token + role name).

    A role name may take several tokens (``ass`` + ``istant`` in SmolLM2); the tokens of the
    name itself, like the special tokens, get None.
    """
    roles: list[str | None] = []
    current: str | None = None
    header: list[int] | None = None  # positions read since a special token, maybe a role name
    for pos, i in enumerate(ids):
        if i in special_ids:
            header = []
            roles.append(None)
            continue
        roles.append(current)
        if header is None:
            continue
        header.append(pos)
        name = tokenizer.decode([ids[p] for p in header]).strip()
        if name in ROLE_NAMES:
            current = name
            for p in header:
                roles[p] = None
            header = None
        elif not any(r.startswith(name) for r in ROLE_NAMES):
            header = None  # not a role name: these tokens belong to the current turn
    return roles


def single_token_id(tokenizer, text: str, what: str = "target") -> int:
    """The id of ``text`` if it is exactly one token, else a one-sentence error saying how it splits.

    A leading space is part of a token's text (`` Paris`` and ``Paris`` are different tokens).
    """
    if text is None or text == "":
        raise JScopeError(f"The {what} is empty; give the text of one token.")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        parts = " | ".join(repr(t) for t in token_texts(tokenizer, ids))
        raise JScopeError(
            f"The {what} {text!r} is {len(ids)} tokens ({parts}), not one; "
            "give exactly one token (mind the leading space)."
        )
    return int(ids[0])


@dataclass
class Span:
    """A group of tokens ``[start, end)`` shown as one unit (a word or a sentence)."""

    start: int
    end: int
    text: str


def word_spans(tokens: list[str], special: list[bool]) -> list[Span]:
    """Group tokens into words: a new word starts at a token beginning with whitespace or
    punctuation boundary, and every special token is a span of its own."""
    spans: list[Span] = []
    for i, (tok, is_special) in enumerate(zip(tokens, special)):
        starts_word = (
            not spans
            or is_special
            or special[i - 1]
            or tok[:1].isspace()
            or (tok[:1].isalnum() != tokens[i - 1][-1:].isalnum())
        )
        if starts_word:
            spans.append(Span(i, i + 1, tok))
        else:
            spans[-1].end = i + 1
            spans[-1].text += tok
    return spans


_SENTENCE_END = re.compile(r"[.!?]\s*$|\n")


def sentence_spans(tokens: list[str], special: list[bool]) -> list[Span]:
    """Group tokens into sentences, ending after ``.``, ``!``, ``?``, a newline or a special token."""
    spans: list[Span] = []
    open_span = False
    for i, (tok, is_special) in enumerate(zip(tokens, special)):
        if not open_span or is_special:
            spans.append(Span(i, i + 1, tok))
        else:
            spans[-1].end = i + 1
            spans[-1].text += tok
        open_span = not (is_special or _SENTENCE_END.search(tok))
    return spans


def aggregate(scores: list[float | None], spans: list[Span]) -> list[float | None]:
    """Score of each span: the L2 norm of its members' scores (None if none is attributed)."""
    out: list[float | None] = []
    for s in spans:
        vals = [v for v in scores[s.start : s.end] if v is not None]
        out.append(sum(v * v for v in vals) ** 0.5 if vals else None)
    return out


def token_number(index: int) -> int:
    """The number a person reads for the token at ``index``: counting from 1, as "token 1" is the
    first. Files (the JSON contracts, CSV) keep the 0-based index; every sentence and picture
    says this number."""
    return index + 1
