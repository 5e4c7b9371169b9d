"""Retrieval behind one small protocol: rank index rows for questions, score rows for a question.

The build uses a retriever for three things: the hard-negative candidates of each sample, the
`oracle_rank`/`oracle_retrieved` check, and the oracle of a question that names only its document.
Anything with the `Retriever` methods can be passed to `build_raft_dataset(retriever=...)`; three
come with the package (`make_retriever(name)` builds them by name):

* "dense" (`DenseRetriever`): inner product of the encoder embeddings, the index's FAISS search.
* "bm25" (`BM25Retriever`): Okapi BM25 (bm25s, Lucene variant) over Snowball-stemmed words without
  stopwords, of the same `passage_text(title, text)` that is embedded. Its index is cached on disk.
* "hybrid" (`HybridRetriever`, the default): a convex combination of the two retrievers' scores,
  each divided by its best score for the question (or reciprocal-rank fusion).

Every ranking is deterministic: equal scores are ordered by index row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .cache import default_cache_dir
from .index import ChunkIndex

RETRIEVERS = ("dense", "bm25", "hybrid")
DEFAULT_RETRIEVER = "hybrid"


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


# --------------------------------------------------------------------------------------------------
# Ranking helpers
# --------------------------------------------------------------------------------------------------


def check_k(k: int) -> int:
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(k)


def top_rows(scores: np.ndarray, k: int, *, positive_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows of one score vector as (scores, rows), best first, ties by lower row; rows
    scoring <= 0 are left out when `positive_only`, and the result is padded with (-inf, -1) to k."""
    out_scores = np.full(k, -np.inf, dtype=np.float32)
    out_rows = np.full(k, -1, dtype=np.int64)
    candidates = np.flatnonzero(scores > 0) if positive_only else np.arange(len(scores))
    if len(candidates) > k:  # keep every row tied with the k-th best, then order exactly
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    out_rows[: len(order)] = order
    out_scores[: len(order)] = scores[order]
    return out_scores, out_rows


# --------------------------------------------------------------------------------------------------
# BM25
# --------------------------------------------------------------------------------------------------

# Words as bm25s' default tokenizer splits them: runs of 2+ word characters, lower-cased.
_WORD = re.compile(r"(?u)\b\w\w+\b")
# Snowball languages that bm25s has a stopword list for ("auto" stopwords); others get none.
_STOPWORD_LANGUAGES = ("english", "german", "dutch", "french", "spanish", "portuguese", "italian", "russian",
                       "swedish", "norwegian", "turkish", "danish")
# Bumped whenever what is indexed changes (the analyzer, passage_text, the saved layout).
_BM25_FORMAT = 1
_BM25_META = "raft_bm25.json"
# Distinct words whose term is remembered (stemming is the slow part of analysing a text).
_MEMO_WORDS = 1_000_000


def bm25_cache_dir() -> Path:
    """Where BM25 indexes are cached by default: `bm25/` in `raft_dataset.cache.default_cache_dir()`."""
    return default_cache_dir() / "bm25"


def bm25_languages() -> list[str]:
    """The accepted `language` values: PyStemmer's Snowball algorithms and "none"."""
    import Stemmer

    return [*Stemmer.algorithms(), "none"]


class _Analyzer:
    """Text -> index terms: lower-cased words (2+ word characters), stopwords dropped, stemmed."""

    def __init__(self, language: str, stemmer: bool, stopwords: str | Sequence[str] | None) -> None:
        language = (language or "none").lower()
        if language != "none":
            import Stemmer

            if language not in Stemmer.algorithms():
                raise ValueError(f"BM25 language {language!r}: not a Snowball stemmer; choose one of "
                                 f"{', '.join(bm25_languages())}")
        if isinstance(stopwords, str) and stopwords.lower() == "auto":
            stopwords = language if language in _STOPWORD_LANGUAGES else None
        if isinstance(stopwords, str) and stopwords.lower() == "none":
            stopwords = None
        if isinstance(stopwords, str):
            from bm25s.tokenization import _infer_stopwords  # bm25s' lists, by language name or code

            words = _infer_stopwords(stopwords)
        else:
            words = stopwords or ()
        self.language = language
        self.stopwords = frozenset(w.lower() for w in words)
        self._stem = None
        if stemmer and language != "none":
            import Stemmer

            self._stem = Stemmer.Stemmer(language).stemWord
        self._memo: dict[str, str | None] = {}

    def settings(self) -> dict:
        return {"language": self.language, "stemmer": self._stem is not None,
                "stopwords": hashlib.sha256("\n".join(sorted(self.stopwords)).encode()).hexdigest()[:16],
                "word": _WORD.pattern}

    def _term(self, word: str) -> str | None:
        if word in self.stopwords:
            return None
        return self._stem(word) if self._stem is not None else word

    def terms(self, text: str) -> list[str]:
        memo, words = self._memo, _WORD.findall(text.lower())
        try:  # the common case once the memo is warm: every word seen before, one comprehension
            terms = [memo[word] for word in words]
        except KeyError:
            for word in words:
                if word not in memo and len(memo) < _MEMO_WORDS:
                    memo[word] = self._term(word)
            terms = [memo[word] if word in memo else self._term(word) for word in words]
        return [term for term in terms if term is not None]


class BM25Retriever:
    """Okapi BM25 over `passage_text(title, text)` of every chunk, with bm25s and PyStemmer.

    Args:
        k1, b: BM25 parameters (Lucene variant; 0.9 / 0.4 are Anserini's defaults).
        language: Snowball stemmer name ("english", "german", ... see `bm25_languages()`), or "none" for
            plain lower-cased words (no stemming, no stopwords).
        stemmer: False keeps words unstemmed even with a language.
        stopwords: "auto" (bm25s' list for `language`, if it has one), a bm25s list name ("en", "de",
            ...), a list of words, or None / "none".
        cache_dir: Folder of cached indexes (one sub-folder per corpus and setting); None is
            `bm25_cache_dir()`, "" disables caching.
        show_progress_bar: A progress bar while indexing.

    Rows without any query term score 0 and are not returned: `search` pads with (-inf, -1).
    `similarity` is the BM25 score of each given row (0 without a shared term).
    Attribute `cache_hit`: whether the last `fit` loaded the index from the cache.
    """

    def __init__(self, k1: float = 0.9, b: float = 0.4, language: str = "english", stemmer: bool = True,
                 stopwords: str | Sequence[str] | None = "auto", *, cache_dir: str | Path | None = None,
                 show_progress_bar: bool = False) -> None:
        self.k1, self.b = float(k1), float(b)
        self.analyzer = _Analyzer(language, stemmer, stopwords)
        self.cache_dir = cache_dir
        self.show_progress_bar = show_progress_bar
        self.bm25 = None
        self.vocab: dict[str, int] = {}
        self.n_rows = 0
        self.cache_hit = False

    # -- fit -------------------------------------------------------------------------------------

    def _settings(self) -> dict:
        import bm25s

        return {"format": _BM25_FORMAT, "bm25s": bm25s.__version__, "k1": self.k1, "b": self.b,
                "method": "lucene", **self.analyzer.settings()}

    def cache_key(self, chunks: Iterable) -> str:
        """sha256 of the settings and every chunk's id, title and text (not of the encoder)."""
        digest = hashlib.sha256(json.dumps(self._settings(), sort_keys=True).encode())
        for chunk in chunks:
            for field in (chunk.chunk_id, chunk.title, chunk.text):
                data = field.encode("utf-8", "surrogatepass")
                digest.update(len(data).to_bytes(8, "little"))
                digest.update(data)
        return digest.hexdigest()[:40]

    def fit(self, index: ChunkIndex) -> None:
        self.n_rows = len(index)
        self.cache_hit = False
        root = None if self.cache_dir == "" else Path(self.cache_dir or bm25_cache_dir()).expanduser()
        folder = root / self.cache_key(index.chunks()) if root is not None else None
        if folder is not None and folder.exists():
            if self._load(folder):
                self.cache_hit = True
                return
            shutil.rmtree(folder, ignore_errors=True)  # damaged or foreign: rebuilt and stored again
        self._build(index)
        if folder is not None:
            self._save(folder)

    def _build(self, index: ChunkIndex) -> None:
        import bm25s

        vocab: dict[str, int] = {"": 0}  # a column that no text produces: the matrix is never empty
        corpus_ids = []
        for text in index.passages():  # streamed from Arrow; only the term ids are kept (4 bytes each)
            # setdefault's default is evaluated first: a new term gets the next id, in order of appearance
            corpus_ids.append(array("i", [vocab.setdefault(term, len(vocab)) for term in self.analyzer.terms(text)]))
        bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene", backend="numpy")
        bm25.index((corpus_ids, vocab), create_empty_token=False, show_progress=self.show_progress_bar)
        self.bm25, self.vocab = bm25, vocab

    def _save(self, folder: Path) -> None:
        """Write bm25s' files into a temporary sibling folder, then rename it into place."""
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.tmp"
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            self.bm25.save(str(tmp), show_progress=False)
            meta = {"rows": self.n_rows, "settings": self._settings()}
            (tmp / _BM25_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            os.rename(tmp, folder)  # fails if another process stored the same index first: keep theirs
        except OSError:
            pass  # a cache that cannot be written only costs the next build a re-index
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _load(self, folder: Path) -> bool:
        import bm25s

        try:
            meta = json.loads((folder / _BM25_META).read_text(encoding="utf-8"))
            if meta.get("rows") != self.n_rows:
                return False
            bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError):
            return False
        if bm25.scores.get("num_docs") != self.n_rows:
            return False
        self.bm25, self.vocab = bm25, bm25.vocab_dict
        return True

    # -- search ----------------------------------------------------------------------------------

    def _fitted(self):
        if self.bm25 is None:
            raise RuntimeError("BM25Retriever: call fit(index) before searching")
        return self.bm25

    def scores(self, question: str) -> np.ndarray:
        """The BM25 score of every row for `question` (float32, one per row)."""
        bm25 = self._fitted()
        ids = [tid for tid in (self.vocab.get(t) for t in self.analyzer.terms(question)) if tid is not None]
        if not ids:
            return np.zeros(self.n_rows, dtype=np.float32)
        return np.asarray(bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, questions: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = check_k(k)
        self._fitted()
        scores = np.full((len(questions), k), -np.inf, dtype=np.float32)
        rows = np.full((len(questions), k), -1, dtype=np.int64)
        for i, question in enumerate(questions):
            scores[i], rows[i] = top_rows(self.scores(question), k)
        return scores, rows

    def similarity(self, question: str, rows: Sequence[int]) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.scores(question)[np.asarray(rows, dtype=np.int64)]


# --------------------------------------------------------------------------------------------------
# Fusion
# --------------------------------------------------------------------------------------------------

FUSIONS = ("convex", "rrf")


def max_normalised(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Scores of each row (one question per row) divided by that row's best score, negatives as 0:
    in [0, 1], 1 for the best. A question whose best score is <= 0 gets all 0. `valid` masks padding."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.isfinite(scores) if valid is None else valid & np.isfinite(scores)
    clipped = np.where(valid, np.maximum(scores, 0.0), 0.0)
    best = clipped.max(axis=-1, keepdims=True, initial=0.0)
    return np.divide(clipped, best, out=np.zeros_like(clipped), where=best > 0)


class HybridRetriever:
    """Fusion of a dense and a lexical ranking: a convex combination of their scores, or reciprocal ranks.

    "convex" (the default): a row's fused score is `(w_dense * s_dense / max_dense + w_lexical *
    s_lexical / max_lexical) / (w_dense + w_lexical)`, each retriever's score divided by its best score
    for the question (negative scores count as 0), so fused scores lie in [0, 1] and 1 means both
    retrievers rank the row first. Dividing by the maximum (the theoretical minimum of both scores is
    0) keeps a score independent of how deep the lists are read; Bruch et al. 2023 ("An Analysis of
    Fusion Functions for Hybrid Retrieval") find this convex combination better than RRF, and on
    SQuAD dev it is (see README: 0.90 against 0.87 for either RRF or BM25 alone).

    "rrf": `w_dense / (rrf_k + rank_dense) + w_lexical / (rrf_k + rank_lexical)`, ranks from 1
    (Cormack et al. 2009).

    Either way, rows are the union of each retriever's top `max(k, depth)` for `search`; a row outside
    a list gets nothing from it. `similarity` uses the top-`depth` lists, so for k <= depth it returns
    exactly the scores `search` ranks by (rows in neither list score 0). Ties go to the lower row.

    Args:
        dense, lexical: The two retrievers (any `Retriever`; fitted by `fit`).
        weights: (dense weight, lexical weight).
        fusion: "convex" or "rrf".
        rrf_k: The RRF constant (60 in Cormack et al. 2009).
        depth: How deep each ranking is read.
    """

    def __init__(self, dense: Retriever, lexical: Retriever, weights: Sequence[float] = (1.0, 1.0),
                 fusion: str = "convex", rrf_k: float = 60, depth: int = 100) -> None:
        weights = tuple(float(w) for w in weights)
        if len(weights) != 2 or min(weights) < 0 or max(weights) <= 0:
            raise ValueError(f"hybrid weights: expected two numbers >= 0, not both 0; got {weights}")
        if rrf_k < 0 or depth < 1:
            raise ValueError(f"HybridRetriever: need rrf_k >= 0 and depth >= 1, got {rrf_k} and {depth}")
        if fusion not in FUSIONS:
            raise ValueError(f"hybrid fusion {fusion!r}: choose one of {', '.join(FUSIONS)}")
        self.dense, self.lexical = dense, lexical
        self.weights, self.fusion, self.rrf_k, self.depth = weights, fusion, float(rrf_k), int(depth)
        self.n_rows = 0

    def fit(self, index: ChunkIndex) -> None:
        self.n_rows = len(index)
        self.dense.fit(index)
        self.lexical.fit(index)

    def _fused(self, questions: Sequence[str], depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(question, row, fused score) of every row in either top-`depth` list, sorted by question,
        then score (best first), then row. Vectorised: one pass over both rankings of all questions."""
        parts = []
        for retriever, weight in ((self.dense, self.weights[0]), (self.lexical, self.weights[1])):
            if weight == 0:
                continue
            scores, ranked = retriever.search(questions, depth)
            ranked = np.asarray(ranked, dtype=np.int64).reshape(len(questions), -1)
            question = np.broadcast_to(np.arange(len(questions))[:, None], ranked.shape)
            hit = ranked >= 0
            if self.fusion == "rrf":
                ranks = np.broadcast_to(np.arange(1, ranked.shape[1] + 1), ranked.shape)
                contribution = weight / (self.rrf_k + ranks)
            else:
                contribution = weight / sum(self.weights) * max_normalised(scores, hit)
            parts.append((question[hit], ranked[hit], contribution[hit]))
        question, row, contribution = (np.concatenate(columns) for columns in zip(*parts, strict=True))
        width = int(row.max(initial=0)) + 1
        keys, slot = np.unique(question * width + row, return_inverse=True)
        scores = np.bincount(slot, weights=contribution, minlength=len(keys))  # at most two terms per row
        question, row = keys // width, keys % width
        order = np.lexsort((row, -scores, question))
        return question[order], row[order], scores[order]

    def search(self, questions: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = check_k(k)
        scores = np.full((len(questions), k), -np.inf, dtype=np.float64)
        rows = np.full((len(questions), k), -1, dtype=np.int64)
        if not questions:
            return scores, rows
        question, row, fused = self._fused(questions, max(k, self.depth))
        starts = np.searchsorted(question, np.arange(len(questions)))
        position = np.arange(len(question)) - starts[question]  # rank within its question, from 0
        keep = position < k
        rows[question[keep], position[keep]] = row[keep]
        scores[question[keep], position[keep]] = fused[keep]
        return scores, rows

    def similarity(self, question: str, rows: Sequence[int]) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float64)
        _, fused_rows, fused = self._fused([question], self.depth)
        score_of = dict(zip(fused_rows.tolist(), fused.tolist(), strict=True))
        return np.asarray([score_of.get(int(r), 0.0) for r in rows], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# By name
# --------------------------------------------------------------------------------------------------


def make_retriever(name: str = DEFAULT_RETRIEVER, *, bm25_language: str = "english",
                   hybrid_weights: Sequence[float] = (1.0, 1.0), hybrid_fusion: str = "convex",
                   cache_dir: str | Path | None = None, show_progress_bar: bool = False) -> Retriever:
    """A retriever by name: "dense", "bm25" or "hybrid" (dense + BM25, fused).

    Args:
        name: Which retriever.
        bm25_language: Snowball language of the BM25 analyzer ("none": no stemming, no stopwords).
        hybrid_weights: (dense, bm25) weights of the fusion.
        hybrid_fusion: "convex" (max-normalised scores, weighted) or "rrf" (reciprocal ranks).
        cache_dir: Folder of cached BM25 indexes; None is `bm25_cache_dir()`, "" disables it.
        show_progress_bar: A progress bar while indexing.

    A cross-encoder on top is `rerank.RerankedRetriever(make_retriever(...), CrossEncoderReranker(...))`.
    """
    key = str(name).strip().lower()
    if key == "dense":
        return DenseRetriever()
    if key not in RETRIEVERS:
        raise ValueError(f"retriever {name!r}: choose one of {', '.join(RETRIEVERS)}")
    bm25 = BM25Retriever(language=bm25_language, cache_dir=cache_dir, show_progress_bar=show_progress_bar)
    return bm25 if key == "bm25" else HybridRetriever(DenseRetriever(), bm25, weights=hybrid_weights,
                                                      fusion=hybrid_fusion)
