"""Chunks and their embeddings in a `datasets.Dataset`, searched through `add_faiss_index`.

STUB: interface fixed, implementation pending.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .chunking import Chunk
from .encoding import EmbeddingCache, Encoder


class ChunkIndex:
    """A searchable chunk store.

    Attributes:
        dataset: `datasets.Dataset` with columns chunk_id, doc_id, title, text, start, end, n_tokens,
            embeddings (float32), and a FAISS index named "embeddings" (inner product).
        encoder: The `Encoder` the embeddings came from (used to embed queries).
    """

    def __init__(self, dataset, encoder: Encoder) -> None:
        self.dataset = dataset
        self.encoder = encoder

    @classmethod
    def build(cls, chunks: Iterable[Chunk], encoder: Encoder, *, cache: EmbeddingCache | None = None,
              index_factory: str = "Flat", show_progress_bar: bool = True) -> ChunkIndex:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.dataset)

    def search(self, query_embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row indices) per query, best first; row index -1 pads when k > len."""
        raise NotImplementedError

    def embed_queries(self, questions: list[str]) -> np.ndarray:
        raise NotImplementedError

    def row(self, i: int) -> dict:
        """The chunk at row i as a dict (without the embedding)."""
        raise NotImplementedError
