"""The paper's case studies, one entry each, ready to run on the embedded model (Qt-free).

Each :class:`Example` names its figure, holds the prompt (or the series) with the request
settings, and a short note of what to look at. The prompts are copied from the paper
(Sec. 3.1–3.3, App. A.1, A.4, A.5) and from the authors' reference notebooks for the same figures;
nothing here reads the paper at run time. ``jscope examples`` and the app's Help ▸ Examples
both read :data:`EXAMPLES`; :func:`run_example` runs one and :func:`summary_lines` states its
key numbers (top tokens and scores, Spearman's ρ for a comparison). Importing this module loads
no torch or numpy (the app builds its menu from it before the engine is up).

The paper ran LLaMA-3.2 1B/3B; the embedded model is 135M parameters, so the patterns are
weaker and the top prediction can differ (the notes say what the paper saw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import JScopeError
from .model.tokens import token_number
from .progress import CancelCheck, ProgressFn
from .results.request import AttributionRequest
from .results.result import AttributionResult, SeriesResult
from .scopes import scope_label

# App. A.1 (the detective micro-mystery, ~50 tokens), as printed in the paper
MYSTERY = ("Since the victim, a wealthy aristocrat living in the English countryside, died from a "
           "fatal wound, the detective narrowed down the three possible murder weapons: a cleaver, "
           "a shovel, and a screwdriver. He further deduced that the killer is the")
# Sec. 3.1 / App. A.5: the implicit-bias prompt whose decisive token is "Columbia"
BIAS = "Tom loves Korean food. He grew up in the South and goes to Columbia. Tom is a"
# Fig. 3 / Fig. 13: "<source language>: [text]. <target language>: [translation]"; the last word
# of the translation is explained from everything before it (position -2)
TRANSLATIONS = {
    "french": "French: Nous l'appelons lentille jacobienne. English: We call it Jacobian Scope",
    "german": "German: Dies ist ein Aufsatz über kausale Zuschreibung. English: This is a paper on "
              "causal attribution",
    "italian": "Italian: Buon pomeriggio, i miei colleghi ricercatori. English: Good afternoon, my "
               "fellow researchers",
}
SERIES_VALUES = 80  # 80 values (~240 tokens here, one per digit): several Lorenz lobe crossings
IG_STEPS = 64  # App. A.5 used 100 α steps; 64 keeps the run short and the Riemann sum converged


@dataclass(frozen=True)
class Example:
    """One case study: ``requests`` (one, or two to compare) or a ``series`` request (the
    fields of :class:`~jscope_desktop.engine.series.explain.SeriesRequest`, as a dict).

    Attributes:
        id: the name ``jscope examples NAME`` takes.
        title: a short title for menus and listings.
        figure: where the paper shows it, e.g. ``"Fig. 3"`` or ``"App. A.4 (Fig. 13)"``.
        note: what to look at (one or two sentences).
    """

    id: str
    title: str
    figure: str
    note: str
    requests: tuple[AttributionRequest, ...] = field(default=())
    series: dict | None = None

    @property
    def kind(self) -> str:
        """``"series"``, ``"compare"`` (two scopes one after the other) or ``"single"``."""
        return "series" if self.series is not None else "compare" if len(self.requests) == 2 \
            else "single"

    @property
    def prompt(self) -> str | None:
        """The prompt text (None for a series)."""
        return self.requests[0].prompt if self.requests else None

    def scopes(self) -> list[str]:
        """The scopes the example runs, in order."""
        if self.series is not None:
            return [self.series.get("scope", "temperature")]
        return [r.scope for r in self.requests]


def _translation(lang: str, figure: str) -> Example:
    word = {"french": "Scope", "german": "attribution", "italian": "researchers"}[lang]
    source = {"french": "lentille", "german": "Zuschreibung", "italian": "ricercatori"}[lang]
    return Example(
        f"fig3-{lang}", f"Fisher Scope: translating from {lang.capitalize()}", figure,
        f"The prediction of the last English word ('{word}') is explained by the whole "
        f"distribution: look for its source word '{source}' among the top tokens (the paper finds "
        "each translated word attributed to its counterpart).",
        (AttributionRequest(prompt=TRANSLATIONS[lang], scope="fisher", position=-2),))


EXAMPLES: tuple[Example, ...] = (
    Example(
        "fig1-reasoning", "Semantic Scope: who is the killer?", "Fig. 1 (prompt of App. A.1)",
        "The logit of ' gardener' is explained: the weapon that points to a gardener "
        "(' shovel') and the words of the deduction (' weapons', ' killer') should rank high; "
        "try ' butcher' (cleaver) or ' mechanic' (screwdriver) as the target.",
        (AttributionRequest(prompt=MYSTERY, scope="semantic", target=" gardener"),)),
    Example(
        "fig2-bias", "Semantic Scope: an implicit political bias", "Fig. 2",
        "The logit of ' liberal' after a description of Tom: in the paper the decisive token is "
        "' Columbia' (the university), not his food or his home region; compare the target "
        "' conservative'.",
        (AttributionRequest(prompt=BIAS, scope="semantic", target=" liberal"),)),
    _translation("french", "Fig. 3"),
    _translation("german", "Fig. 3"),
    _translation("italian", "Fig. 3"),
    Example(
        "fig4-lorenz", "Temperature Scope: a chaotic series (Lorenz)", "Fig. 4",
        "The next value of a chaotic series: the paper sees high scores on past stretches that "
        "resemble the few values before the cutoff (the model 'parrots' the best-matching "
        "history), plus the first values (the attention sink).",
        series={"system": "lorenz", "n_values": SERIES_VALUES, "seed": 0, "scope": "temperature"}),
    Example(
        "fig5-brownian", "Temperature Scope: Brownian motion", "Fig. 5",
        "A random walk has no recurring motifs: the paper sees the scores rise towards the end "
        "of the context (the model forgets the out-of-distribution past); the 'late/early' "
        "ratio below is the mean score of the last quarter of values over the first quarter.",
        series={"system": "brownian", "n_values": SERIES_VALUES, "seed": 0,
                "scope": "temperature"}),
    Example(
        "a4-fisher-vs-temperature", "Fisher against Temperature on a translation",
        "App. A.4 (Fig. 13)",
        "Both explain the whole distribution of the next word ('researchers'); the paper finds "
        "Fisher sharper (on 'ricercatori') and Temperature more diffuse; Spearman's ρ says how "
        "far their rankings agree, and the times show what the sharper picture costs.",
        (AttributionRequest(prompt=TRANSLATIONS["italian"], scope="fisher", position=-2),
         AttributionRequest(prompt=TRANSLATIONS["italian"], scope="temperature", position=-2))),
    Example(
        "a5-semantic-vs-integrated", "Semantic against its path-integrated version",
        "App. A.5 (Fig. 14)",
        "The same ' liberal' logit, once by Semantic Scope and once integrated along α·x "
        f"({IG_STEPS} steps): the paper finds the integrated version piling its scores on the "
        "first tokens (the attention sink of the near-null inputs) and hiding ' Columbia'.",
        (AttributionRequest(prompt=BIAS, scope="semantic", target=" liberal"),
         AttributionRequest(prompt=BIAS, scope="integrated", target=" liberal",
                            ig_steps=IG_STEPS))),
)


def example_names() -> list[str]:
    """The examples' ids, in menu order."""
    return [e.id for e in EXAMPLES]


def get_example(name: str) -> Example:
    """The example called ``name``, or a one-sentence error listing the names."""
    for e in EXAMPLES:
        if e.id == name:
            return e
    raise JScopeError(f"Unknown example '{name[:60]}'; choose one of {', '.join(example_names())}.")


@dataclass
class ExampleRun:
    """An example's results: one per scope, in the example's order."""

    example: Example
    results: list[AttributionResult]

    @property
    def spearman(self) -> float | None:
        """Spearman's ρ of the two results' scores over the tokens both attribute (a
        comparison only; NaN if it is undefined)."""
        if len(self.results) != 2:
            return None
        from .results.ranks import spearman_attributed

        return spearman_attributed(self.results[0].score_row(), self.results[1].score_row())


def run_example(lm, example: Example, progress: ProgressFn | None = None,
                cancel: CancelCheck | None = None) -> ExampleRun:
    """Run ``example`` on ``lm`` (a ``LoadedModel``); a comparison runs its scopes one after the
    other. Returns the :class:`ExampleRun`."""
    if example.series is not None:
        from .series.explain import SeriesRequest, explain_series

        req = SeriesRequest(**example.series)
        return ExampleRun(example, [explain_series(lm, req, progress, cancel)])
    from .explain.attribute import attribute

    results, n = [], len(example.requests)
    for k, req in enumerate(example.requests):
        sub = (lambda f, m, k=k: progress((k + f) / n, m)) if progress else None
        results.append(attribute(lm, req.but(), sub, cancel))
    return ExampleRun(example, results)


def top_tokens(result: AttributionResult, k: int = 5) -> list[tuple[int, str, float]]:
    """The ``k`` highest-scored tokens of ``result``'s row: (index, text, raw score)."""
    row = result.score_row()
    ranked = sorted((i for i, s in enumerate(row) if s is not None and math.isfinite(s)),
                    key=lambda i: -row[i])
    return [(i, result.tokens[i], float(row[i])) for i in ranked[:k]]


def summary_lines(run: ExampleRun, k: int = 5) -> list[str]:
    """The key numbers of ``run`` as plain-text lines: for each result the explained prediction
    and the ``k`` top tokens with their raw scores (a series: its top values, the predicted next
    value and the late/early score ratio); for a comparison, Spearman's ρ."""
    lines = []
    for r in run.results:
        lines.extend(_series_lines(r, k) if isinstance(r, SeriesResult) else _token_lines(r, k))
    rho = run.spearman
    if rho is not None:
        a, b = (scope_label(r.scope) for r in run.results)
        lines.append(f"Spearman's ρ ({a} vs {b}, over {_n_both(run.results)} tokens): "
                     + ("undefined" if math.isnan(rho) else f"{rho:.3f}"))
    return lines


def _token_lines(r: AttributionResult, k: int) -> list[str]:
    explained = f"target {r.target!r}" if r.target is not None else "the whole prediction"
    preds = ", ".join(f"{t.token!r} {t.prob:.3f}" for t in r.topk[:3])
    tops = ", ".join(f"{text!r} {score:.3g}" for _, text, score in top_tokens(r, k))
    return [f"{scope_label(r.scope)} ({explained}; after token {token_number(r.position)} "
            f"{r.tokens[r.position]!r}; {r.timing.scope_s:.2f} s): predicted {preds}",
            f"  top tokens: {tops}"]


def _series_lines(r: AttributionResult, k: int) -> list[str]:
    s = r.series
    scored = [(i, v) for i, v in enumerate(s.value_scores) if v is not None]
    ranked = sorted(scored, key=lambda p: -p[1])[:k]
    tops = ", ".join(f"#{i + 1} ({s.encoded[i]}) {v:.3g}" for i, v in ranked)
    best = max(range(len(s.next_value["probs"])), key=lambda i: s.next_value["probs"][i])
    quarter = max(1, len(scored) // 4)
    early = sum(v for _, v in scored[:quarter]) / quarter
    late = sum(v for _, v in scored[-quarter:]) / quarter
    truth = r.truth or {}
    true_next = "" if "next_value" not in truth else \
        f", true next value {round((truth['next_value'] - s.offset) / s.step)}"
    return [f"{scope_label(r.scope)} on {len(scored)} values of {s.system or 'a series'} "
            f"({r.timing.scope_s:.2f} s): most likely next value {s.next_value['encoded'][best]} "
            f"(p {s.next_value['probs'][best]:.3f}){true_next}",
            f"  top values (#index (encoded) score): {tops}",
            f"  late/early score ratio (last vs first {quarter} values): "
            + (f"{late / early:.2f}" if early > 0 else "undefined")]


def _n_both(results: list[AttributionResult]) -> int:
    a, b = (r.score_row() for r in results)
    return sum(x is not None and y is not None for x, y in zip(a, b))
