"""Per-answer scores behind the RAFT metrics: what one prediction earns, as (earned, counted) pairs.

The `evaluate` modules beside this file sum these pairs over a set of predictions; the bootstrap
resamples the same pairs, so a point estimate and its interval always agree. A metric is
"earned / counted" summed over rows: a row that counts 0 (no quote, no reference) is left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from raft_dataset.raft_format import (
    BEGIN_QUOTE,
    END_QUOTE,
    REFUSAL_ANSWER,
    extract_quotes,
    final_answer,
    quote_in_source,
)

Score = tuple[float, int]  # (earned, counted)
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation (lower case, no punctuation, no articles, single spaces), made Unicode
    aware: NFKC first (composed accents, full-width forms), and every Unicode punctuation mark dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def answer_of(prediction: str | None) -> str | None:
    """The final answer of a prediction (after the last `<ANSWER>:`), None without the marker."""
    return final_answer(prediction) if prediction else None


def exact_match(prediction: str | None, reference: str) -> Score:
    """1 when the normalised final answer equals the normalised reference; a missing marker is 0."""
    answer = answer_of(prediction)
    return (float(answer is not None and normalize_answer(answer) == normalize_answer(reference)), 1)


def token_f1(prediction: str | None, reference: str) -> Score:
    """SQuAD token F1 of the final answer against the reference (both empty after normalisation: 1)."""
    answer = answer_of(prediction)
    if answer is None:
        return (0.0, 1)
    predicted, wanted = normalize_answer(answer).split(), normalize_answer(reference).split()
    if not predicted or not wanted:
        return (float(predicted == wanted), 1)
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if common == 0:
        return (0.0, 1)
    precision, recall = common / len(predicted), common / len(wanted)
    return (2 * precision * recall / (precision + recall), 1)


def format_compliance(prediction: str | None) -> Score:
    """1 when the prediction is in RAFT form: a non-empty final answer after `<ANSWER>:` and as many
    quote openings as closings."""
    answer = answer_of(prediction)
    ok = bool(answer) and prediction.count(BEGIN_QUOTE) == prediction.count(END_QUOTE)
    return (float(ok), 1)


def quotes_found(prediction: str | None, source: str | None) -> Score:
    """(quotes found verbatim in `source`, quotes): whitespace differences aside, as the build checks
    them. An unknown source (None) counts nothing."""
    if source is None or not prediction:
        return (0.0, 0)
    quotes = [q for q in extract_quotes(prediction) if q]
    return (float(sum(quote_in_source(q, source) for q in quotes)), len(quotes))


def is_refusal(prediction: str | None) -> bool:
    """Whether the final answer is the dataset's refusal sentence (SQuAD-normalised comparison)."""
    answer = answer_of(prediction)
    return answer is not None and normalize_answer(answer) == normalize_answer(REFUSAL_ANSWER)


def refusal(prediction: str | None) -> Score:
    return (float(is_refusal(prediction)), 1)


def ratio(scores: list[Score]) -> float | None:
    """Earned over counted, summed over the rows; None when nothing counted."""
    counted = sum(n for _, n in scores)
    return sum(e for e, _ in scores) / counted if counted else None
