"""Typed results and the JSON contract of DESIGN.md (version 1): write and read back exactly."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..errors import JScopeError, finite_or_none
from ..io import read_user_json, write_text

if TYPE_CHECKING:
    import numpy as np

CONTRACT_VERSION = 1


@dataclass
class TopToken:
    """One entry of the explained prediction: token id, display text, probability (0–1)."""

    id: int
    token: str
    prob: float


@dataclass
class Timing:
    """Seconds measured in the same run. ``forward_s``: the run's forward pass, by default the
    graph's own forward (autograd recording, up to the explained position) timed on its own, or
    with ``measure_forward`` a separate no-grad forward of the same tokens; ``scope_s``: the
    scope, its graph's forward included (forward, backward passes and the scope's algebra)."""

    forward_s: float
    scope_s: float
    backward_passes: int  # a batched pass counts once


@dataclass
class FisherInfo:
    """How a Fisher Scope was computed: method, exact directions, probes, estimated rel. L2 error."""

    method: str  # "fast" | "exact" | "lowrank"
    rank: int
    probes: int
    rel_error_estimate: float | None
    rank_intervals: list | None = None  # fast: per token [lowest, highest] likely rank (1 = top)


@dataclass
class SeriesInfo:
    """The ``series`` part of a time-series result (DESIGN.md, Time series)."""

    system: str | None
    values: list[float]
    encoded: list[int]
    digits: int
    offset: float
    step: float  # value = offset + step * encoded
    value_spans: list[list[int]]  # [first, end) into token_ids, per value
    value_scores: list[float]
    next_value: dict  # {"encoded": [int], "probs": [float], "mass": float}


@dataclass
class AttributionResult:
    """One explained prediction and its per-token scores: the result contract, and the kind of
    a single prediction (a strip). Its kinds :class:`MatrixResult` (the generation matrix) and
    :class:`SeriesResult` (a time series) add typed fields; :meth:`from_dict` and :meth:`load`
    give the kind a file holds.

    ``scores`` has one entry per token of ``token_ids`` (None where not attributed, e.g. after the
    explained position); for a matrix ``positions`` lists the explained positions and ``scores``
    is a list of such rows, one per position. Scores are raw (not normalised). ``extra`` holds
    free-form notes only: a kind's typed fields are written into the contract's ``extra`` table
    and read back from it (:data:`EXTRA_FIELDS`), so files are as before.
    """

    # typed fields this kind keeps in the contract's "extra" table (none for a single result)
    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ()

    model: dict
    device: str
    dtype: str
    token_ids: list[int]
    tokens: list[str]
    position: int
    scope: str
    target_id: int | None
    target: str | None
    foil_id: int | None
    foil: str | None
    scores: list
    topk: list[TopToken]
    timing: Timing
    fisher: FisherInfo | None = None
    positions: list[int] | None = None
    series: SeriesInfo | None = None
    version: int = CONTRACT_VERSION
    # Not part of the contract's required keys, but written and read back when present:
    special: list[bool] | None = None  # True where a token is a special/template token
    roles: list[str | None] | None = None  # chat role of each token when a chat template was used
    entropy: float | None = None  # of the explained next-token distribution, in nats
    beta: float | None = None  # ‖h‖ at the explained position
    ig_baseline: str | None = None  # Integrated only: its path baseline (request.IG_BASELINES)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict following the contract (optional keys when set)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self.EXTRA_FIELDS}
        typed = {k: getattr(self, k) for k in self.EXTRA_FIELDS if getattr(self, k) is not None}
        d["extra"] = {**d["extra"], **typed}
        d["topk"] = [asdict(t) for t in self.topk]
        d["timing"] = asdict(self.timing)
        d["fisher"] = asdict(self.fisher) if self.fisher else None
        if d["fisher"] and d["fisher"]["rank_intervals"] is None:
            del d["fisher"]["rank_intervals"]  # optional: files of 0.1.0 read back unchanged
        d["series"] = asdict(self.series) if self.series else None
        for key in ("positions", "series", "special", "roles", "entropy", "beta", "ig_baseline"):
            if d[key] is None:
                del d[key]
        if not d["extra"]:
            del d["extra"]
        return d

    def to_json(self) -> str:
        """The contract as JSON text (NaN and infinities are written as null)."""
        return json.dumps(finite_or_none(self.to_dict()), indent=1, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        """Write the JSON contract to ``path`` (UTF-8)."""
        write_text(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> AttributionResult:
        """Rebuild a result from the contract's dict (inverse of :meth:`to_dict`), as the kind
        it holds: a :class:`SeriesResult` when it has ``series``, a :class:`MatrixResult` when
        it has ``positions``, else a single result."""
        d = dict(d)
        kind = cls if cls is not AttributionResult else (
            SeriesResult if d.get("series") else MatrixResult if d.get("positions") is not None
            else AttributionResult)
        d["topk"] = [TopToken(**t) for t in d["topk"]]
        d["timing"] = Timing(**d["timing"])
        d["fisher"] = FisherInfo(**d["fisher"]) if d.get("fisher") else None
        d["series"] = SeriesInfo(**d["series"]) if d.get("series") else None
        extra = dict(d.get("extra") or {})
        for name in kind.EXTRA_FIELDS:
            if name in extra:
                d[name] = extra.pop(name)
        d["extra"] = extra
        known = {f.name for f in fields(kind)}
        result = kind(**{k: v for k, v in d.items() if k in known})
        result.check()
        return result

    def check(self) -> None:
        """Raise ``ValueError`` unless the fields have the contract's types and agree in length
        (a file from elsewhere is checked before any view reads it)."""
        T = len(self.token_ids) if isinstance(self.token_ids, list) else -1
        if T < 1 or not all(type(i) is int for i in self.token_ids):
            raise ValueError("token_ids must be a non-empty list of whole numbers")
        if not isinstance(self.tokens, list) or len(self.tokens) != T or not all(
                isinstance(s, str) for s in self.tokens):
            raise ValueError("tokens must be texts, one per token id")
        if type(self.position) is not int or not 0 <= self.position < T:
            raise ValueError("position must index the tokens")
        rows = self.scores if self.positions is not None else [self.scores]
        if self.positions is not None and (not isinstance(self.positions, list) or not all(
                type(p) is int and 0 <= p < T for p in self.positions)
                or len(self.positions) != len(rows) or self.position not in self.positions):
            raise ValueError("positions must index the tokens, one per row of scores")
        for row in rows:
            if not isinstance(row, list) or len(row) != T or not all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                    for v in row):
                raise ValueError("scores must be numbers or null, one per token")
        if not isinstance(self.scope, str) or not isinstance(self.model, dict):
            raise ValueError("scope must be a name and model a table")

    @classmethod
    def load(cls, path: str | Path) -> AttributionResult:
        """Read a result written by :meth:`save` or by ``jscope attribute --json``."""
        d = read_user_json(path, "result file", "a result written by Jacobian Scopes")
        try:
            return cls.from_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise JScopeError(f"The result file {path} is not a Jacobian Scopes result "
                              f"({type(exc).__name__}: {exc}).") from None

    def _repr_html_(self) -> str | None:
        """The result's web page inside an iframe, for Jupyter (engine/results/display.py)."""
        from .display import notebook_html

        return notebook_html(self, self.tokens)

    def to_numpy(self) -> np.ndarray:
        """The scores as a float64 array, NaN where a token is not attributed: shape (T,) for
        one prediction or a series, (N, T) for a generation matrix (row n explains
        ``positions[n]``). Raw scores in the scope's unit (``engine.scopes.scope_unit``)."""
        import numpy as np  # on first use: the quick CLI paths import no numpy

        return np.array([[np.nan if v is None else v for v in row] for row in (
            self.scores if self.positions is not None else [self.scores])], dtype=np.float64
        ).reshape((-1, len(self.token_ids)) if self.positions is not None
                  else (len(self.token_ids),))

    def score_row(self, position: int | None = None) -> list[float | None]:
        """The scores explaining ``position`` (default: the result's own position)."""
        if self.positions is None:
            return self.scores
        return self.scores[self.positions.index(self.position if position is None else position)]


@dataclass
class MatrixResult(AttributionResult):
    """The generation matrix: ``positions`` (N,) explained positions and ``scores`` (N, T), row
    n explaining the token at ``positions[n] + 1``; ``targets`` (N,) those tokens' ids and
    ``prompt_tokens`` how many tokens were the prompt (the rest were generated)."""

    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ("targets", "prompt_tokens")
    targets: list[int] | None = None
    prompt_tokens: int | None = None

    def check(self) -> None:
        """The contract's checks, a matrix's rows, and its typed fields' types."""
        super().check()
        if self.positions is None:
            raise ValueError("a matrix needs positions")
        if self.targets is not None and (not isinstance(self.targets, list) or not all(
                type(t) is int for t in self.targets)):
            raise ValueError("targets must be token ids")
        if self.prompt_tokens is not None and (type(self.prompt_tokens) is not int or not
                                               0 <= self.prompt_tokens <= len(self.token_ids)):
            raise ValueError("prompt_tokens must count tokens")


@dataclass
class SeriesResult(AttributionResult):
    """A time series explained (``series``: values, spans, per-value scores, the model's exact
    next-value distribution), with ``cutoff`` the values shown to the model, ``tokenization``
    how its tokenizer splits numbers, ``cost`` the distribution's seconds against a forward, and
    ``truth`` the generator's true next-value law (None for values given by the user)."""

    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ("cutoff", "tokenization", "cost", "truth")
    cutoff: int | None = None
    tokenization: str | None = None
    cost: dict | None = None
    truth: dict | None = None

    def check(self) -> None:
        """The contract's checks, the series, and its typed fields' types."""
        super().check()
        if self.series is None:
            raise ValueError("a series result needs its series")
        if self.cutoff is not None and (type(self.cutoff) is not int
                                        or not 1 <= self.cutoff <= len(self.series.values)):
            raise ValueError("cutoff must count the series' values")
        if self.tokenization is not None and not isinstance(self.tokenization, str):
            raise ValueError("tokenization must be a word")
        if any(v is not None and not isinstance(v, dict) for v in (self.cost, self.truth)):
            raise ValueError("cost and truth must be tables")
