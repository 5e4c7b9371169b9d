"""Retrieval behind one small protocol: rank index rows for questions, score rows for a question.

The build uses a retriever for three things: the hard-negative candidates of each sample, the
`oracle_rank`/`oracle_retrieved` check, and the oracle of a question that names only its document.
`DenseRetriever` (the FAISS index of `ChunkIndex`) is the default; anything with these methods can
be passed to `build_raft_dataset(retriever=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .index import ChunkIndex


@runtime_checkable
class Retriever(Protocol):
    """Ranks the rows of a `ChunkIndex` for questions.

    `fit` is called once with the built index, before any search. `search` returns (scores, rows),
    each of shape (len(questions), k), best first, with row -1 (score -inf) padding when fewer than
    k rows qualify. `similarity` scores given rows for one question on the same scale as `search`.
    """

    def fit(self, index: ChunkIndex) -> None: ...

    def search(self, questions: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def similarity(self, question: str, rows: Sequence[int]) -> np.ndarray: ...


class DenseRetriever:
    """Inner product of normalised encoder embeddings, searched with the index's FAISS index."""

    def __init__(self) -> None:
        self.index: ChunkIndex | None = None

    def fit(self, index: ChunkIndex) -> None:
        self.index = index

    def _fitted(self) -> ChunkIndex:
        if self.index is None:
            raise RuntimeError("DenseRetriever: call fit(index) before searching")
        return self.index

    def search(self, questions: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._fitted()
        return index.search(index.embed_queries(questions), min(k, len(index)))

    def similarity(self, question: str, rows: Sequence[int]) -> np.ndarray:
        index = self._fitted()
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return index.embeddings(rows) @ index.embed_queries([question])[0]
