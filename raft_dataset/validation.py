"""Sample validation: each rejected sample is counted by reason, and the counts go into the card."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import faiss
import numpy as np

from .raft_format import answer_problem

REQUIRED_FIELDS = ("instruction", "input", "output", "question")


@dataclass
class ValidationReport:
    """Samples kept and rejected, with rejections by reason."""

    kept: int = 0
    rejected: Counter = field(default_factory=Counter)

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1


def sample_problem(
    row: dict,
    oracle_text: str,
    *,
    min_query_similarity: float,
    max_sample_tokens: int,
) -> str | None:
    """Why a single sample is not fit to train on, or None.

    Reasons: "missing_<field>", the `raft_format.answer_problem` reasons for the output,
    "low_query_oracle_similarity", "over_token_budget".
    """
    for name in REQUIRED_FIELDS:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"missing_{name}"
    problem = answer_problem(row["output"], oracle_text)
    if problem:
        return problem
    if row["query_oracle_similarity"] < min_query_similarity:
        return "low_query_oracle_similarity"
    if row["total_tokens"] > max_sample_tokens:
        return "over_token_budget"
    return None


def sample_fingerprint(row: dict) -> str:
    """Identity of a sample's text, for exact-duplicate detection."""
    digest = hashlib.sha256()
    for name in ("instruction", "input", "output"):
        digest.update(row[name].encode("utf-8"))
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
