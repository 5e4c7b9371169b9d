"""A fast stand-in for `Encoder`: hashed bag-of-words vectors, the embedded model's tokenizer.

Texts that share words get similar vectors, so retrieval, oracle choice and the similarity checks
behave sensibly, and the whole pipeline runs in about a second without loading model weights.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


class HashingEncoder:
    """The parts of `raft_dataset.encoding.Encoder` the pipeline uses."""

    def __init__(self, dimension: int = 256, max_length: int = 256) -> None:
        from transformers import AutoTokenizer

        from raft_dataset.encoding import default_encoder_path

        self.name = "hashing-encoder"
        self.tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
        self.dimension = dimension
        self.max_length = max_length
        self.fingerprint = f"hashing-{dimension}"
        self.calls = 0  # texts encoded: tests check what is recomputed

    def resolve_prompt(self, prompt_name: str | None = None, prompt: str | None = None) -> str:
        return prompt or ""

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            vector[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % self.dimension] += 1
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode(self, texts: Sequence[str], *, prompt_name: str | None = None, **_) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def iter_encode(self, texts: Sequence[str], *, prompt: str = "", progress=None, **_):
        for start in range(0, len(texts), 64):
            batch = list(texts[start : start + 64])
            if progress is not None:
                progress.update(len(batch))
            yield list(range(start, start + len(batch))), self.encode(batch)
