"""The oracle of each question, how sure the build is of it, and which chunks must not be distractors.

* `choose_oracle`: the gold chunk; else the chunk that best supports the question's reference answer;
  else the gold document's best chunk; else the retrieval's top hit. The `OracleChoice` says which,
  so `oracle_retrieved` is only measured where the retrieval did not make the choice.
* `OracleScorer`: the dense and the BM25 score of any chunk for a question, each divided by that
  retriever's best score for the question (so both lie in [0, 1]), whatever retriever the build
  ranks with. From them, per question (`QuestionEvidence`): the oracle's confidence (its fused score
  margin over the best chunk of any other document), whether both retrievers rank the oracle's
  document first, and, with a `DistractorGuard`, why a candidate may not be a distractor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .index import ChunkIndex
from .raft_format import answer_coverage
from .records import Query
from .rerank import RerankedRetriever
from .retrieval import BM25Retriever, DenseRetriever, HybridRetriever, Retriever

# How the oracle was chosen (the `oracle_choice` column).
GOLD_CHUNK = "gold_chunk"  # the question names its chunk (derived from it, or the queries file says)
REFERENCE_ANSWER = "reference_answer"  # the candidate that best supports the user's answer
GOLD_DOCUMENT = "gold_document"  # the named document's chunk that the retriever scores best
TOP_HIT = "top_hit"  # the retrieval's first chunk: `oracle_retrieved` cannot be measured

ANSWER_CANDIDATES = 20  # retrieved chunks among which a reference answer's support is looked for

# Why a candidate is not used as a distractor (the `excluded_distractors` column), first match wins.
SIMILAR_TO_ORACLE = "similar_to_oracle"  # near-copy: embedding cosine >= max_distractor_similarity
SCORED_NEAR_ORACLE = "scored_near_oracle"  # dense or BM25 scores it within the margin of the oracle
HOLDS_REFERENCE_ANSWER = "holds_reference_answer"  # holds the user's answer as well as the oracle does
RANKED_ABOVE_ORACLE = "ranked_above_oracle"  # the build's retriever ranks it above a chosen oracle
DEFINES_ASKED_TERM = "defines_asked_term"  # "What is X?" and it has a line defining X (a glossary entry)

# "What is X?", "What are the Xs?", "What's an X?": the term a definition question asks about.
_WHAT_IS_X = re.compile(r"^\s*what(?:'s|\s+is|\s+are)\s+(?:an?\s+|the\s+)?(?P<term>[^?]+?)\s*\?\s*$", re.IGNORECASE)


def asked_term(question: str) -> str | None:
    """The term a "What is X?" question asks to define (at most five words), else None."""
    match = _WHAT_IS_X.match(question)
    if not match:
        return None
    term = match["term"].strip("`*_\"' ")
    return term if term and len(term.split()) <= 5 else None


def defining_line(term: str) -> re.Pattern:
    """A line that opens by defining `term`: "Jitter: ...", "**Overlap policy** - ...", "`capture` —
    ...", "A handshake is ...", "Runs are ...", or the term alone on a line over an indented
    definition (a glossary or definition list); singular or plural, any case."""
    singular = term[:-1] if term.lower().endswith("s") and len(term) > 3 else term
    forms = "|".join(re.escape(form) for form in sorted({term, singular, singular + "s"}, key=len, reverse=True))
    return re.compile(rf"^[ \t>*_`\-•]*(?:an?\s+|the\s+)?(?:{forms})[`*_\"']*"
                      rf"(?:[ \t]*(?::|—|–)|[ \t]+-[ \t]|[ \t]+(?:is|are|means|refers[ \t]+to)\b|[ \t]*\n[ \t]+\S)",
                      re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class OracleChoice:
    """The oracle's index row and how it was chosen (one of the constants above)."""

    row: int
    how: str


def choose_oracle(query: Query, ranked_rows: np.ndarray, index: ChunkIndex, retriever: Retriever) -> OracleChoice | None:
    """The question's oracle, or None when its gold document or chunk is not in the index.

    Candidates for a reference answer are the gold document's chunks when it is named, else the
    retrieval's top `ANSWER_CANDIDATES`.
    """
    if query.chunk_id is not None:
        gold_row = index.row_of(query.chunk_id)
        return OracleChoice(gold_row, GOLD_CHUNK) if gold_row is not None else None
    if query.doc_id is not None:
        rows = index.rows_of(query.doc_id.replace("\\", "/").removeprefix("./"))
        if rows is None:
            return None
        if query.answer:
            return OracleChoice(best_supporting_row(query, rows.tolist(), index), REFERENCE_ANSWER)
        return OracleChoice(int(rows[np.argmax(retriever.similarity(query.asked, rows.tolist()))]), GOLD_DOCUMENT)
    candidates = [int(r) for r in ranked_rows[:ANSWER_CANDIDATES] if r >= 0]
    if not candidates:
        return None
    if query.answer:
        return OracleChoice(best_supporting_row(query, candidates, index), REFERENCE_ANSWER)
    return OracleChoice(candidates[0], TOP_HIT)


def best_supporting_row(query: Query, rows: Sequence[int], index: ChunkIndex) -> int:
    """The row that best supports the question's reference answer: the share of the answer's words it
    holds, plus the embedding similarity of question-and-answer to it (ties: the first row)."""
    chunks = list(index.chunks(rows))
    asked = index.embed_queries([f"{query.asked} {query.answer}"])[0]
    similarity = index.embeddings(rows) @ asked
    support = [answer_coverage(query.answer, f"{c.title}\n{c.text}") + 0.5 * float(s) for c, s in zip(chunks, similarity)]
    return int(rows[int(np.argmax(support))])


class OracleScorer:
    """Dense and BM25 evidence about oracles, independent of the retriever the build ranks with.

    The configured retriever's own dense and BM25 parts are reused when it has them (a
    `HybridRetriever`, possibly under a `RerankedRetriever`); what is missing is built and fitted
    here (BM25 costs a fraction of the encoding).

    Args:
        dense, lexical: Fitted or unfitted dense and lexical retrievers.
        weights: (dense, lexical) weights of the fused score.
        depth: How deep each ranking is read for the competitors of an oracle.
    """

    def __init__(self, dense: Retriever, lexical: Retriever, weights: Sequence[float] = (1.0, 1.0),
                 depth: int = 50, *, unfitted: Sequence[Retriever] | None = None) -> None:
        self.dense, self.lexical = dense, lexical
        self.weights = (float(weights[0]), float(weights[1]))
        self.depth = int(depth)
        self.unfitted = list((dense, lexical) if unfitted is None else unfitted)  # what `fit` fits

    @classmethod
    def for_retriever(cls, retriever: Retriever, *, weights: Sequence[float] = (1.0, 1.0), depth: int = 50,
                      bm25_language: str = "english", cache_dir=None) -> OracleScorer:
        """A scorer sharing the (fitted) parts of `retriever`; any part it lacks is made here and
        fitted by `fit`."""
        base = retriever.base if isinstance(retriever, RerankedRetriever) else retriever
        if isinstance(base, HybridRetriever):
            return cls(base.dense, base.lexical, base.weights, depth, unfitted=())
        dense = base if isinstance(base, DenseRetriever) else DenseRetriever()
        lexical = base if isinstance(base, BM25Retriever) else BM25Retriever(language=bm25_language, cache_dir=cache_dir)
        return cls(dense, lexical, weights, depth, unfitted=[p for p in (dense, lexical) if p is not base])

    def fit(self, index: ChunkIndex) -> None:
        """Fit the parts not shared with the build's retriever (which the build fits itself)."""
        for part in self.unfitted:
            part.fit(index)
        self.unfitted = []

    def evidence(self, questions: Sequence[str]) -> list[QuestionEvidence]:
        """One `QuestionEvidence` per question (the full BM25 score vector is computed lazily)."""
        if not questions:
            return []
        dense_scores, dense_rows = self.dense.search(questions, self.depth)
        lexical_scores, lexical_rows = self.lexical.search(questions, self.depth)
        return [
            QuestionEvidence(self, question, np.asarray(dense_rows[i]), float(np.max(dense_scores[i], initial=0.0)),
                             np.asarray(lexical_rows[i]), float(np.max(lexical_scores[i], initial=0.0)))
            for i, question in enumerate(questions)
        ]


class QuestionEvidence:
    """The dense and BM25 view of one question: normalised scores, oracle confidence, agreement."""

    def __init__(self, scorer: OracleScorer, question: str, dense_rows: np.ndarray, dense_best: float,
                 lexical_rows: np.ndarray, lexical_best: float) -> None:
        self.scorer, self.question = scorer, question
        self.dense_rows, self.lexical_rows = dense_rows[dense_rows >= 0], lexical_rows[lexical_rows >= 0]
        self.dense_best, self.lexical_best = max(dense_best, 0.0), max(lexical_best, 0.0)
        self._lexical_scores: np.ndarray | None = None

    def normalised(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(dense, lexical) scores of `rows`, each divided by that retriever's best score (0 to 1)."""
        rows = list(rows)
        dense = np.asarray(self.scorer.dense.similarity(self.question, rows), dtype=np.float64)
        if isinstance(self.scorer.lexical, BM25Retriever):  # every row's score at once: computed once
            if self._lexical_scores is None:
                self._lexical_scores = self.scorer.lexical.scores(self.question)
            lexical = self._lexical_scores[np.asarray(rows, dtype=np.int64)].astype(np.float64)
        else:
            lexical = np.asarray(self.scorer.lexical.similarity(self.question, rows), dtype=np.float64)
        return _share(dense, self.dense_best), _share(lexical, self.lexical_best)

    def fused(self, rows: Sequence[int]) -> np.ndarray:
        """The weighted mean of the normalised scores, as the "convex" hybrid fusion ranks."""
        dense, lexical = self.normalised(rows)
        w_dense, w_lexical = self.scorer.weights
        return (w_dense * dense + w_lexical * lexical) / (w_dense + w_lexical)

    def confidence(self, oracle_row: int, doc_codes: np.ndarray) -> float:
        """The oracle's fused score minus the best fused score of any other document's chunk among
        either retriever's top rows: -1 to 1, > 0 when the oracle's document wins."""
        competitors = np.unique(np.concatenate([self.dense_rows, self.lexical_rows]))
        competitors = competitors[doc_codes[competitors] != doc_codes[oracle_row]]
        scores = self.fused([oracle_row, *competitors.tolist()])
        return round(float(scores[0] - (scores[1:].max() if len(scores) > 1 else 0.0)), 4)

    def retrievers_agree(self, oracle_row: int, doc_codes: np.ndarray) -> bool:
        """Whether the dense and the BM25 ranking both put the oracle's document first."""
        doc = doc_codes[oracle_row]
        return bool(len(self.dense_rows) and len(self.lexical_rows)
                    and doc_codes[self.dense_rows[0]] == doc and doc_codes[self.lexical_rows[0]] == doc)


def _share(scores: np.ndarray, best: float) -> np.ndarray:
    if best <= 0:
        return np.zeros_like(scores)
    return np.clip(scores, 0.0, None) / best


@dataclass(frozen=True)
class DistractorGuard:
    """Why a candidate may not be a distractor: it likely answers the question too (a false negative).

    Args:
        max_similarity: Embedding cosine to the oracle from which a chunk is a near-copy of it.
        score_margin: A chunk that either retriever scores within this share of its best score below
            the oracle, or above it, is excluded (only by a retriever that scores the oracle at all).
        min_reference_coverage: A chunk holding this share of the reference answer's words is excluded.
    """

    max_similarity: float = 0.92
    score_margin: float = 0.05
    min_reference_coverage: float = 0.5

    def reasons(self, rows: np.ndarray, oracle_row: int, index: ChunkIndex, evidence: QuestionEvidence | None,
                reference_answer: str | None = None, ranked_above: frozenset[int] = frozenset(),
                question: str | None = None) -> list[str | None]:
        """For each candidate row, the guard that excludes it, or None when it may be a distractor.

        `ranked_above`: rows the build's own retriever ranks above the oracle (when the oracle is not
        its top hit, they may answer as well; this also covers retrievers other than dense and BM25).
        `question`: for "What is X?", a candidate with a line defining X answers it too (a glossary
        that packs many entries scores too far below the oracle for the score guards to see it).
        """
        rows = np.asarray(rows, dtype=np.int64)
        oracle_vector = index.embeddings([oracle_row])[0]
        similar = index.embeddings(rows) @ oracle_vector >= self.max_similarity
        near = np.zeros(len(rows), dtype=bool)
        if evidence is not None:
            candidate_scores = evidence.normalised(rows.tolist())
            oracle_scores = evidence.normalised([oracle_row])
            for scores, (oracle_score,) in zip(candidate_scores, oracle_scores):
                if oracle_score > 0:  # a retriever that does not find the oracle at all has no say
                    near |= scores >= oracle_score - self.score_margin
        term = asked_term(question) if question else None
        pattern = defining_line(term) if term is not None else None
        holds, defines = np.zeros(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)
        if reference_answer or pattern is not None:  # the candidates' texts, read once for both guards
            for i, chunk in enumerate(index.chunks(rows.tolist())):
                holds[i] = bool(reference_answer) and (
                    answer_coverage(reference_answer, chunk.text) >= self.min_reference_coverage)
                defines[i] = pattern is not None and pattern.search(chunk.text) is not None
        return [SIMILAR_TO_ORACLE if similar[i] else HOLDS_REFERENCE_ANSWER if holds[i]
                else DEFINES_ASKED_TERM if defines[i]
                else RANKED_ABOVE_ORACLE if row in ranked_above else SCORED_NEAR_ORACLE if near[i] else None
                for i, row in enumerate(rows.tolist())]
