"""Attention-sink control: which tokens a view leaves out of its colour scale and top-k list.

The paper warns that early tokens can look important only because of the attention sink (the
first token, a BOS, chat-template markers soak up attention). :class:`ScaleExclusion` is the one
definition of that view option; :func:`scale_mask` says which tokens of a result it excludes.
Every view (the app's strip, matrix and series, the exported PNG/SVG/PDF, the web page, the
terminal) and the command line's ``--exclude-from-scale`` read it from here.

It is a *view* option only: the stored scores, the JSON and the CSV keep every score as computed.
Excluded tokens are drawn distinctly (grey, hatched) and their raw score stays in the tooltip.

Pure data (no Qt).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...engine.model.tokens import token_number
from ...engine.results.result import AttributionResult

MODES = ("first", "special", "template")  # the named sets, in the order the controls show them
MODE_LABELS = {"first": "first token", "special": "special tokens (BOS, EOS, …)",
               "template": "chat-template tokens"}
MAX_INDICES = 1000  # an explicit list longer than this is surely a mistake


@dataclass(frozen=True)
class ScaleExclusion:
    """The tokens a view leaves out of its colour scale and its top-k list.

    ``modes`` names sets (a subset of :data:`MODES`): ``first`` the first token, ``special`` the
    tokenizer's special tokens (``result.special``), ``template`` the tokens a chat template adds
    (special tokens, role names, the default system turn and the newlines around them);
    ``indices`` are explicit token indices (negative ones count from the end). The default
    excludes nothing.
    """

    modes: tuple[str, ...] = ()
    indices: tuple[int, ...] = ()

    def __post_init__(self):
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ValueError(f"Cannot exclude {bad[0]!r} from the colour scale: use "
                             f"{', '.join(MODES)} or token indices such as 0,3.")
        object.__setattr__(self, "modes", tuple(m for m in MODES if m in self.modes))
        object.__setattr__(self, "indices", tuple(dict.fromkeys(int(i) for i in self.indices)))

    @property
    def active(self) -> bool:
        """True when the option excludes something (on some result)."""
        return bool(self.modes or self.indices)

    @classmethod
    def parse(cls, text: str | None) -> ScaleExclusion:
        """Read ``first``, ``special``, ``template``, token indices ``I,J,K`` or a comma-separated
        mix of them (``first,7``); ``none`` or an empty text excludes nothing.

        Raises:
            ValueError: one sentence naming the part that is not understood.
        """
        modes: list[str] = []
        indices: list[int] = []
        for part in (text or "").replace(" ", "").split(","):
            if part in ("", "none"):
                continue
            if part in MODES:
                modes.append(part)
                continue
            try:
                indices.append(int(part))
            except ValueError:
                raise ValueError(f"Cannot exclude {part!r} from the colour scale: use "
                                 f"{', '.join(MODES)} or token indices such as 0,3.") from None
        if len(indices) > MAX_INDICES:
            raise ValueError(f"Cannot exclude {len(indices)} token indices from the colour "
                             f"scale; give at most {MAX_INDICES}.")
        return cls(tuple(modes), tuple(indices))

    def to_text(self) -> str:
        """The option as :meth:`parse` reads it back ("" when nothing is excluded)."""
        return ",".join([*self.modes, *(str(i) for i in self.indices)])

    def describe(self) -> str:
        """The option in words for captions, tokens counted from 1 as a person reads them:
        indices ``2,4`` read "tokens 3, 5"; ``-1`` reads "the last token"."""
        parts = [MODE_LABELS[m].split(" (")[0] for m in self.modes]
        ahead = [i for i in self.indices if i >= 0]
        if ahead:
            word = "token" if len(ahead) == 1 else "tokens"
            parts.append(f"{word} {', '.join(str(token_number(i)) for i in ahead)}")
        parts += [_from_end(i) for i in self.indices if i < 0]
        if not parts:
            return "nothing"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


NO_EXCLUSION = ScaleExclusion()


def _from_end(index: int) -> str:
    """A negative index in words: -1 "the last token", -2 "the 2nd-last token"."""
    n = -index
    if n == 1:
        return "the last token"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}-last token"


def numbers_to_indices(text: str) -> str:
    """Exclusion text as a person types it in the app, tokens counted from 1 (``1,4`` = the first
    and the fourth; negative counts from the end, -1 the last), as :meth:`ScaleExclusion.parse`
    text (0-based indices, as files keep them).

    Raises:
        ValueError: one sentence, for a part that is not understood or the number 0.
    """
    option = ScaleExclusion.parse(text)
    if 0 in option.indices:
        raise ValueError("Tokens are counted from 1 here: 1 is the first token, -1 the last.")
    return ScaleExclusion(option.modes, tuple(i - 1 if i > 0 else i
                                              for i in option.indices)).to_text()


def indices_to_numbers(text: str) -> str:
    """The inverse of :func:`numbers_to_indices`: stored exclusion text with tokens counted from 1."""
    option = ScaleExclusion.parse(text)
    return ",".join([*option.modes, *(str(token_number(i) if i >= 0 else i)
                                      for i in option.indices)])


def as_exclusion(option: ScaleExclusion | str | None) -> ScaleExclusion:
    """``option`` as a :class:`ScaleExclusion` (a text is parsed; None excludes nothing)."""
    if isinstance(option, ScaleExclusion):
        return option
    return ScaleExclusion.parse(option)


def scale_mask(result: AttributionResult, option: ScaleExclusion | str | None) -> list[bool]:
    """Which tokens of ``result`` ``option`` leaves out of the colour scale and the top-k list.

    Returns:
        One bool per token of ``result.tokens`` (True: excluded). The result is not changed.
    """
    option = as_exclusion(option)
    n = len(result.tokens)
    mask = [False] * n
    if not option.active or n == 0:
        return mask
    special = result.special or [False] * n
    if "first" in option.modes:
        mask[0] = True
    if "special" in option.modes:
        mask = [m or bool(s) for m, s in zip(mask, special)]
    if "template" in option.modes:
        mask = [m or t for m, t in zip(mask, template_tokens(result))]
    for i in option.indices:
        if -n <= i < n:
            mask[i] = True
    return mask


def template_tokens(result: AttributionResult) -> list[bool]:
    """The tokens a chat template added: special tokens, role names (role None while a template
    was used), the template's system turn, and a whitespace-only token right after a special
    token or role name (the newline that ends a header). Without a template: the special tokens.

    Returns:
        One bool per token (True: added by the template).
    """
    n = len(result.tokens)
    special = [bool(s) for s in (result.special or [False] * n)]
    if result.roles is None:
        return special
    out = []
    for i, (tok, role) in enumerate(zip(result.tokens, result.roles)):
        header = special[i] or role is None or role == "system"
        after_header = i > 0 and (special[i - 1] or result.roles[i - 1] is None)
        out.append(header or (after_header and tok.strip() == "" and tok != ""))
    return out


def masked(scores: list, mask: list[bool]) -> list:
    """``scores`` with the excluded entries set to None (a matrix: every row, by column).

    Returns:
        A new list of the same shape; the input is not changed.
    """
    def row(values):
        return [None if k < len(mask) and mask[k] else v for k, v in enumerate(values)]

    if scores and isinstance(scores[0], list):
        return [row(r) for r in scores]
    return row(scores)
