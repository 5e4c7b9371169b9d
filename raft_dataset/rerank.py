"""Cross-encoder re-ranking of the top of a retriever's ranking.

`CrossEncoderReranker` scores (question, passage) pairs with any `transformers`
`AutoModelForSequenceClassification` (e.g. an ms-marco MiniLM cross-encoder saved locally): one
logit per pair is the score (with two labels, logit(relevant) - logit(irrelevant)). Pairs are scored
in batches of similar length under `torch.inference_mode()`, and every score is kept in a
`raft_dataset.cache.KVStore` namespace ("rerank_scores") keyed by sha256(model fingerprint,
question, passage), so a rebuild scores nothing twice.

`RerankedRetriever(base, reranker)` is a `Retriever`: the base ranking's top `reranker.top_k` rows
re-ordered by the cross-encoder, the rest after them in base order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .cache import KVStore, Namespace, default_cache_dir
from .index import ChunkIndex, passage_text
from .retrieval import Retriever, check_k

RERANK_SCORES = Namespace("rerank_scores", key_type="BLOB", value_column="score", value_type="REAL",
                          without_rowid=True)
RERANK_CACHE_FILENAME = "rerank.sqlite"


def default_rerank_cache_path() -> Path:
    """`rerank.sqlite` in the default cache folder (`raft_dataset.cache.default_cache_dir()`)."""
    return default_cache_dir() / RERANK_CACHE_FILENAME


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a sequence-classification cross-encoder.

    Args:
        model_name_or_path: Local directory or Hub id of an `AutoModelForSequenceClassification`
            with one label (a relevance logit) or two (irrelevant, relevant).
        batch_size: Pairs per forward pass.
        top_k: How many of a base ranking's rows `RerankedRetriever` re-orders.
        max_length: Token limit of a pair (question + passage, truncated longest first); at most the
            model's positions.
        cache: SQLite file of the score cache; None is `default_rerank_cache_path()`, "" disables it;
            or an open `KVStore` with the `RERANK_SCORES` namespace.
        device: torch device string.
        show_progress_bar: A progress bar over the forward batches.

    Attributes: fingerprint (changes with the weights, tokenizer files and max_length), forward_calls
    (forward passes run so far).
    """

    def __init__(self, model_name_or_path: str, batch_size: int = 32, top_k: int = 20, max_length: int = 512,
                 cache: str | Path | KVStore | None = None, *, device: str = "cpu",
                 show_progress_bar: bool = True) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .encoding import Encoder, model_fingerprint

        if batch_size < 1 or top_k < 1 or max_length < 8:
            raise ValueError(f"CrossEncoderReranker: need batch_size >= 1, top_k >= 1, max_length >= 8; got "
                             f"{batch_size}, {top_k}, {max_length}")
        self.name = str(model_name_or_path)
        self.batch_size, self.top_k = int(batch_size), int(top_k)
        self.show_progress_bar = show_progress_bar
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.name)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.name)
        self.model.to(self.device).eval()
        num_labels = int(self.model.config.num_labels)
        if num_labels not in (1, 2):
            raise ValueError(f"{self.name}: a cross-encoder has 1 or 2 labels, this model has {num_labels}")
        positions = getattr(self.model.config, "max_position_embeddings", None)
        limits = [int(max_length)] + [x for x in (positions, self.tokenizer.model_max_length)
                                      if isinstance(x, int) and 0 < x < 1_000_000]
        self.max_length = min(limits)
        self.fingerprint = model_fingerprint(Encoder._resolve_model_dir(self.name, what="reranker"),
                                             {"kind": "cross-encoder", "max_length": self.max_length})
        if isinstance(cache, KVStore):
            self.cache: KVStore | None = cache
        elif cache == "":
            self.cache = None
        else:
            path = Path(cache).expanduser() if cache is not None else default_rerank_cache_path()
            self.cache = KVStore(path, RERANK_SCORES, what="re-rank score cache")
        self.forward_calls = 0

    def key(self, question: str, passage: str) -> bytes:
        data = f"{self.fingerprint}\0{question}\0{passage}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).digest()

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One float32 score per (question, passage) pair; higher is more relevant."""
        import torch
        from tqdm.auto import tqdm

        keys = [self.key(q, p) for q, p in pairs]
        out = np.empty(len(pairs), dtype=np.float32)
        stored = self.cache.get_many(keys) if self.cache is not None else {}
        todo: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            if key in stored:
                out[i] = stored[key]
            else:
                todo.setdefault(key, []).append(i)
        if not todo:
            return out
        firsts = [positions[0] for positions in todo.values()]
        lengths = [len(pairs[i][0]) + len(pairs[i][1]) for i in firsts]
        firsts = [firsts[j] for j in np.argsort(lengths, kind="stable")]  # similar lengths share a batch
        batches = [firsts[s:s + self.batch_size] for s in range(0, len(firsts), self.batch_size)]
        with tqdm(total=len(firsts), desc="Re-ranking", unit="pair", disable=not self.show_progress_bar) as bar, \
                torch.inference_mode():
            for batch in batches:
                encoded = self.tokenizer([pairs[i][0] for i in batch], [pairs[i][1] for i in batch],
                                         padding=True, truncation="longest_first", max_length=self.max_length,
                                         return_tensors="pt").to(self.device)
                logits = self.model(**encoded).logits.float()
                self.forward_calls += 1
                values = (logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]).cpu().numpy()
                for i, value in zip(batch, values, strict=True):
                    out[todo[keys[i]]] = value
                if self.cache is not None:
                    self.cache.put_many((keys[i], float(v)) for i, v in zip(batch, values, strict=True))
                bar.update(len(batch))
        return out

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


class RerankedRetriever:
    """A `Retriever`: `base`'s ranking with its top `reranker.top_k` rows re-ordered by the reranker.

    `search(questions, k)` reads the base ranking to `max(k, top_k)`, sorts its first `top_k` rows by
    cross-encoder score (ties keep base order) and keeps the rest in base order. Scores: the
    cross-encoder's for the re-ranked rows, -inf for the rest (not scored) and the padding (row -1).
    `similarity` is the cross-encoder score of each given row, on the scale of `search`.
    """

    def __init__(self, base: Retriever, reranker: CrossEncoderReranker) -> None:
        self.base, self.reranker = base, reranker
        self.index: ChunkIndex | None = None

    def fit(self, index: ChunkIndex) -> None:
        self.index = index
        self.base.fit(index)

    def _passages(self, rows: Sequence[int]) -> list[str]:
        if self.index is None:
            raise RuntimeError("RerankedRetriever: call fit(index) before searching")
        return [passage_text(chunk.title, chunk.text) for chunk in self.index.chunks(rows)]

    def search(self, questions: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = check_k(k)
        top_k = self.reranker.top_k
        _, base_rows = self.base.search(questions, max(k, top_k))
        base_rows = np.asarray(base_rows, dtype=np.int64)
        head_rows = [[int(r) for r in row[:top_k] if r >= 0] for row in base_rows]
        flat = sorted({r for rows in head_rows for r in rows})
        passage_of = dict(zip(flat, self._passages(flat), strict=True))
        pairs = [(q, passage_of[r]) for q, rows in zip(questions, head_rows, strict=True) for r in rows]
        pair_scores = iter(self.reranker.score(pairs).tolist())
        scores = np.full((len(questions), k), -np.inf, dtype=np.float32)
        rows_out = np.full((len(questions), k), -1, dtype=np.int64)
        for i, (head, base) in enumerate(zip(head_rows, base_rows, strict=True)):
            head_scores = [next(pair_scores) for _ in head]
            order = sorted(range(len(head)), key=lambda j: -head_scores[j])  # stable: ties keep base order
            tail = [int(r) for r in base[top_k:] if r >= 0]
            ranked = [head[j] for j in order] + tail
            n = min(k, len(ranked))
            rows_out[i, :n] = ranked[:n]
            scores[i, : min(n, len(head))] = [head_scores[j] for j in order][:n]
        return scores, rows_out

    def similarity(self, question: str, rows: Sequence[int]) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        passages = self._passages([int(r) for r in rows])
        return self.reranker.score([(question, p) for p in passages])
