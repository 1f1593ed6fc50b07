"""What replaces an ablated token: the filler (``--filler zero|pad|eos|bos|TOKEN``).

The ablated tokens' input embeddings are replaced by the filler token's input embedding (as the
decoder receives it, Gemma's √d scaling included); positions and attention are kept, so the
sequence keeps its length (the reference's "length-preserving filler"). ``zero`` replaces them
by the zero vector (the original deletion test). The same names give Integrated's baselines
(``--ig-baseline``; ``mean`` there is the mean input embedding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import JScopeError

NAMED_FILLERS = ("zero", "pad", "eos", "bos")


@dataclass(frozen=True)
class Filler:
    """A resolved filler: ``name`` as asked (``"zero"``, ``"pad"``, … or the token's text),
    ``token_id`` (None for ``zero``), ``token`` its text, and ``fallback``: a sentence when the
    model has no token of the asked role and another one stands in (else None)."""

    name: str
    token_id: int | None
    token: str | None = None
    fallback: str | None = None

    def to_dict(self) -> dict:
        """The report's ``filler`` object: ``{"name", "token_id", "token", "fallback"}``."""
        return {"name": self.name, "token_id": self.token_id, "token": self.token,
                "fallback": self.fallback}


def parse_fillers(text: str) -> list[str]:
    """The filler names of ``--filler`` (comma-separated; a TOKEN may not contain a comma).

    Raises:
        JScopeError: nothing given, or the same filler twice (one sentence).
    """
    names = [t.strip() for t in str(text).split(",")]
    names = [n for n in names if n]
    if not names:
        raise JScopeError("No filler given; use zero, pad, eos, bos or one token's text.")
    if len(set(names)) != len(names):
        raise JScopeError("The same filler is given twice; list each filler once.")
    return names


def resolve_filler(tokenizer, name: str) -> Filler:
    """The :class:`Filler` ``name`` means for ``tokenizer``.

    ``pad``/``eos``/``bos`` are the tokenizer's tokens of that role; when there is none, the
    first of ``model.tokens.ROLE_FALLBACKS`` that exists stands in and ``fallback`` says which. Any other
    name must be the text of exactly one token (leading space included, e.g. ``" the"``).

    Raises:
        JScopeError: no token can stand in, or the text is not exactly one token.
    """
    if name == "zero":
        return Filler("zero", None)
    from ..model.tokens import role_token, token_texts

    if name in NAMED_FILLERS:
        try:
            tid, used = role_token(tokenizer, name)
        except JScopeError as exc:
            raise JScopeError(f"{str(exc)[:-1]}; choose the zero filler or a token's text.") \
                from None
        text = token_texts(tokenizer, [tid])[0]
        note = None if used == name else (f"the model has no {name} token; its {used} token "
                                          f"{text!r} (id {tid}) is used instead")
        return Filler(name, tid, text, note)
    ids = list(tokenizer(name, add_special_tokens=False)["input_ids"])
    if len(ids) != 1:
        raise JScopeError(f"The filler {name!r:.40} is {len(ids)} tokens for this model; give the "
                          "text of exactly one token (leading space included) or zero, pad, "
                          "eos, bos.")
    return Filler(name, int(ids[0]), token_texts(tokenizer, ids)[0])


def filler_vector(lm, filler: Filler) -> torch.Tensor:
    """The replacement embedding (d,) of ``filler`` as the decoder receives it (zeros for
    ``zero``), on the model's device and in its dtype."""
    emb = lm.model.get_input_embeddings()
    if filler.token_id is None:
        return torch.zeros(emb.weight.shape[1], device=lm.device, dtype=emb.weight.dtype)
    with torch.no_grad():
        return emb(torch.tensor([[filler.token_id]], device=lm.device))[0, 0].detach()
