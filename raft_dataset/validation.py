"""Sample validation: each rejected sample is counted by reason, and the counts go into the card."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import faiss
import numpy as np

from .raft_format import answer_problem
from .records import Sample

REQUIRED_FIELDS = ("instruction", "input", "output", "question")


def sample_problem(
    sample: Sample,
    *,
    min_query_similarity: float,
    max_sample_tokens: int,
) -> str | None:
    """Why a single sample is not fit to train on, or None.

    Reads the sample's `question`, `instruction`, `input`, `output`, `reference_answer`,
    `query_oracle_similarity`, `total_tokens` and its `oracle` chunk (text and title).

    Reasons: "missing_<field>", "missing_oracle", the `raft_format.answer_problem` reasons for the
    output (format: "empty_output", "missing_answer_marker", "empty_answer",
    "unbalanced_quote_markers", "no_quote", "quote_not_in_oracle"; content: "markup_in_output",
    "answer_restates_question", "answer_not_a_sentence"), "low_query_oracle_similarity",
    "over_token_budget".
    """
    for name in REQUIRED_FIELDS:
        value = getattr(sample, name)
        if not isinstance(value, str) or not value.strip():
            return f"missing_{name}"
    if sample.oracle is None:
        return "missing_oracle"
    problem = answer_problem(
        sample.output, sample.oracle.text,
        # what the question asks: the product's name would raise the bar for an answer that only restates it
        question=sample.asked, title=sample.oracle.title,
        reference_answer=sample.reference_answer,
    )
    if problem:
        return problem
    if sample.query_oracle_similarity < min_query_similarity:
        return "low_query_oracle_similarity"
    if sample.total_tokens > max_sample_tokens:
        return "over_token_budget"
    return None


def sample_fingerprint(sample: Sample | Mapping) -> str:
    """Identity of a sample's text, for exact-duplicate detection (a Sample or an exported row)."""
    digest = hashlib.sha256()
    for name in ("instruction", "input", "output"):
        value = sample[name] if isinstance(sample, Mapping) else getattr(sample, name)
        digest.update(value.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def near_duplicate_mask(question_embeddings: np.ndarray, threshold: float, neighbours: int = 32) -> np.ndarray:
    """Which questions repeat an earlier kept one (cosine >= threshold), greedy in order.

    One batched inner-product search finds each question's nearest `neighbours`; a question is a
    duplicate when one of them comes earlier, was kept, and is at least `threshold` similar.
    Embeddings must be L2-normalised.
    """
    n = len(question_embeddings)
    duplicate = np.zeros(n, dtype=bool)
    if n < 2:
        return duplicate
    vectors = np.ascontiguousarray(question_embeddings, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, ids = index.search(vectors, min(neighbours, n))
    for i in range(n):
        for score, j in zip(scores[i], ids[i]):
            if score < threshold:
                break  # neighbours come best first
            if 0 <= j < i and not duplicate[j]:
                duplicate[i] = True
                break
    return duplicate
