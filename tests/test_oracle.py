"""The oracle's choice, confidence and distractor guards, on the six-chunk corpus of test_retrieval (whose
dense and BM25 scores are worked out by hand there) and on small builds with the fake encoder."""

from __future__ import annotations

import numpy as np
import pytest

from raft_dataset.config import RaftDatasetConfig
from raft_dataset.oracle import (
    GOLD_CHUNK,
    GOLD_DOCUMENT,
    HOLDS_REFERENCE_ANSWER,
    RANKED_ABOVE_ORACLE,
    REFERENCE_ANSWER,
    SCORED_NEAR_ORACLE,
    SIMILAR_TO_ORACLE,
    TOP_HIT,
    DistractorGuard,
    OracleScorer,
    choose_oracle,
)
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.records import Query
from raft_dataset.retrieval import BM25Retriever, DenseRetriever, HybridRetriever
from tests.fake_encoder import HashingEncoder
from tests.test_retrieval import QUESTION, make_index

# Scores of QUESTION per row (test_retrieval), each divided by the retriever's best:
DENSE = np.array([4 / (4 * 3**0.5), 1 / 21**0.5, 1.0, 2 / 15**0.5, 0.0, 3 / 30**0.5])  # best: row 2 (1.0)
BM25 = np.array([0.237, 0.737, 0.646, 0.237, 0.0, 0.524]) / 0.737  # best: row 1


@pytest.fixture(scope="module")
def index():
    return make_index()


@pytest.fixture(scope="module")
def evidence(index):
    scorer = OracleScorer(DenseRetriever(), BM25Retriever(cache_dir=""), depth=10)
    scorer.fit(index)
    return scorer.evidence([QUESTION])[0]


def test_scores_are_each_retrievers_share_of_its_best(evidence):
    dense, lexical = evidence.normalised(range(6))
    np.testing.assert_allclose(dense, DENSE, atol=1e-6)
    np.testing.assert_allclose(lexical, BM25, atol=2e-3)  # the hand-worked BM25 scores are rounded
    np.testing.assert_allclose(evidence.fused([2, 1]), (DENSE[[2, 1]] + BM25[[2, 1]]) / 2, atol=2e-3)


def test_confidence_is_the_fused_margin_over_the_best_other_document(index, evidence):
    fused = (DENSE + BM25) / 2  # row 2 0.938, row 5 0.629, row 1 0.609, row 0 0.450, row 3 0.419, row 4 0
    assert evidence.confidence(2, index.doc_codes) == pytest.approx(fused[2] - fused[5], abs=2e-3)  # +0.309
    assert evidence.confidence(1, index.doc_codes) == pytest.approx(fused[1] - fused[2], abs=2e-3)  # -0.329
    # Dense ranks row 2 first, BM25 row 1: they agree on neither.
    assert not evidence.retrievers_agree(2, index.doc_codes) and not evidence.retrievers_agree(1, index.doc_codes)
    # A chunk of the oracle's own document is no competitor: with rows 2 and 5 in one document, row 2's
    # margin is over row 1 (0.609), not row 5.
    same_doc = index.doc_codes.copy()
    same_doc[5] = same_doc[2]
    assert evidence.confidence(2, same_doc) == pytest.approx(fused[2] - fused[1], abs=2e-3)


def test_agreement_when_both_retrievers_put_the_oracle_document_first(index, evidence):
    same_doc = index.doc_codes.copy()
    same_doc[1] = same_doc[2]  # dense's first (row 2) and BM25's first (row 1) are one document
    assert evidence.retrievers_agree(2, same_doc) and evidence.retrievers_agree(1, same_doc)


def test_guard_reasons(index, evidence):
    guard = DistractorGuard(max_similarity=0.92, score_margin=0.05)
    rows = np.array([0, 1, 3, 4, 5])
    # Oracle row 2 (dense 1.0, BM25 0.877): BM25 scores row 1 above it; nobody else is within 0.05.
    assert guard.reasons(rows, 2, index, evidence) == [None, SCORED_NEAR_ORACLE, None, None, None]
    # A wider margin (0.2) also takes row 5 (BM25 0.711 >= 0.877 - 0.2).
    wide = DistractorGuard(score_margin=0.2)
    assert wide.reasons(rows, 2, index, evidence) == [None, SCORED_NEAR_ORACLE, None, None, SCORED_NEAR_ORACLE]
    # Oracle row 4 scores 0 for both retrievers: neither has a say, so nothing is near it.
    assert guard.reasons(np.array([0, 1, 2]), 4, index, evidence) == [None, None, None]
    # Without evidence only the embedding and answer guards speak; a near-copy wins over every other reason.
    assert guard.reasons(rows, 2, index, None) == [None] * 5
    copy_guard = DistractorGuard(max_similarity=0.5)  # row 0's cosine to row 2 is 0.577
    assert copy_guard.reasons(np.array([0]), 2, index, evidence) == [SIMILAR_TO_ORACLE]
    # The reference answer's words in a candidate; and rows the build's retriever ranked above the oracle.
    answer = "Cook the pasta at home."
    assert guard.reasons(rows, 2, index, evidence, answer, frozenset({3})) == [
        None, SCORED_NEAR_ORACLE, RANKED_ABOVE_ORACLE, HOLDS_REFERENCE_ANSWER, None]


def test_choose_oracle_says_how(index):
    dense = DenseRetriever()
    dense.fit(index)
    ranked = dense.search([QUESTION], 6)[1][0]
    assert choose_oracle(Query(QUESTION, chunk_id="c3"), ranked, index, dense).row == 3
    assert choose_oracle(Query(QUESTION, chunk_id="c3"), ranked, index, dense).how == GOLD_CHUNK
    assert choose_oracle(Query(QUESTION, chunk_id="nope"), ranked, index, dense) is None
    assert (choose_oracle(Query(QUESTION, doc_id="d5"), ranked, index, dense).how) == GOLD_DOCUMENT
    assert choose_oracle(Query(QUESTION), ranked, index, dense).how == TOP_HIT
    assert choose_oracle(Query(QUESTION), ranked, index, dense).row == 2
    # The answer "install pip" is held by row 5 only: the oracle although dense ranks it third.
    choice = choose_oracle(Query(QUESTION, answer="Install pip."), ranked, index, dense)
    assert (choice.row, choice.how) == (5, REFERENCE_ANSWER)


def test_the_oracle_is_chosen_for_what_the_question_asks():
    # The product's name is in every question and on many pages: in the gold document, a chunk that says
    # "Quillmate" thrice would win over the one about themes if the name were ranked with the question.
    from raft_dataset.index import ChunkIndex
    from raft_dataset.records import Chunk

    texts = ["Quillmate Quillmate Quillmate settings.", "Pick a theme under settings."]
    chunks = [Chunk(f"c{i}", "guide.md", "", t, 0, len(t), 5) for i, t in enumerate(texts)]
    index = ChunkIndex.build(chunks, HashingEncoder(dimension=4096), cache=None, show_progress_bar=False)
    dense = DenseRetriever()
    dense.fit(index)
    question = "How do I change the theme in Quillmate?"
    for answer, how in ((None, GOLD_DOCUMENT), ("Settings.", REFERENCE_ANSWER)):  # the answer is in both chunks
        asked = Query(question, answer=answer, doc_id="guide.md", unscoped_question="How do I change the theme?")
        ranked = dense.search([asked.asked], 2)[1][0]
        assert (choose_oracle(asked, ranked, index, dense).row, choose_oracle(asked, ranked, index, dense).how) == (
            1, how)
        as_written = Query(question, answer=answer, doc_id="guide.md")
        assert choose_oracle(as_written, ranked, index, dense).row == 0


def test_scorer_shares_the_hybrid_retrievers_fitted_parts(index):
    hybrid = HybridRetriever(DenseRetriever(), BM25Retriever(cache_dir=""), weights=(2, 1))
    scorer = OracleScorer.for_retriever(hybrid)
    assert scorer.dense is hybrid.dense and scorer.lexical is hybrid.lexical and scorer.weights == (2.0, 1.0)
    assert scorer.unfitted == []  # the build fits the hybrid retriever itself
    dense_only = DenseRetriever()
    scorer = OracleScorer.for_retriever(dense_only, bm25_language="none", cache_dir="")
    assert scorer.dense is dense_only and scorer.unfitted == [scorer.lexical]
    assert scorer.lexical.analyzer.language == "none"


# ---------------------------------------------------------------------------------------- in a build

PAGES = {
    "alpha.md": "# Alpha jobs\n\nAlpha jobs run every hour on the primary scheduler node.\n",
    "beta.md": "# Beta jobs\n\nBeta jobs retry three times with exponential backoff before failing.\n",
    "gamma.md": "# Gamma logs\n\nGamma logs are written as JSON lines to the audit directory.\n",
    "delta.md": "# Delta tokens\n\nDelta tokens expire after twelve hours and must be refreshed.\n",
    "epsilon.md": "# Epsilon queues\n\nEpsilon queues hold at most one thousand pending runs.\n",
    "zeta.md": "# Zeta workers\n\nZeta workers need four gigabytes of memory each.\n",
}


class UserQuestions:
    """Questions as a user writes them: no gold chunk or document, one vague."""

    def generate(self, documents, index):
        return [Query(q, origin="file") for q in (
            "When do delta tokens expire?", "How much memory does a zeta worker need?",
            "How many pending runs can an epsilon queue hold?", "Where are gamma logs written?",
            "How often do alpha jobs run?", "How do I make things work?")]


def _build(tmp_path, **settings):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = RaftDatasetConfig(corpus=str(tmp_path), embedding_cache="", num_distractors=2, oracle_probability=1.0,
                               min_query_similarity=-1.0, splits={"train": 1.0}, **settings)
    return build_raft_dataset(config, question_generator=UserQuestions(), encoder=HashingEncoder(),
                              show_progress=False)


def test_rows_record_choice_confidence_and_exclusions(tmp_path):
    rows = {r["question"]: r for r in _build(tmp_path).splits["train"]}
    clear = rows["When do delta tokens expire?"]
    assert clear["oracle_doc_id"] == "delta.md" and clear["oracle_choice"] == TOP_HIT
    assert clear["oracle_retrieved"] is None  # the hybrid retrieval chose it: it cannot also check it
    assert clear["retrievers_agree"] and clear["oracle_confidence"] > 0.3
    vague = rows["How do I make things work?"]
    assert vague["oracle_confidence"] < clear["oracle_confidence"]
    for row in rows.values():
        excluded = {e["chunk_id"] for e in row["excluded_distractors"]}
        assert not excluded & set(row["context_chunk_ids"])
        assert all(e["guard"] in (SIMILAR_TO_ORACLE, SCORED_NEAR_ORACLE) for e in row["excluded_distractors"])


def test_min_oracle_confidence_drops_doubtful_oracles(tmp_path):
    everything = _build(tmp_path / "all")
    confidences = sorted(r["oracle_confidence"] for r in everything.splits["train"])
    threshold = confidences[1]  # keeps all but the least confident row
    kept = _build(tmp_path / "some", min_oracle_confidence=threshold)
    assert len(kept.splits["train"]) == len(confidences) - 1
    assert kept.report.rejected["low_oracle_confidence"] == 1
    assert min(r["oracle_confidence"] for r in kept.splits["train"]) >= threshold


def test_a_distractor_that_defines_the_asked_term_is_kept_out():
    """"What is jitter?": the example glossary (a plain-text definition list packing many entries)
    answers it as well as the oracle, though it scores far below it."""
    from raft_dataset.corpus import read_corpus
    from raft_dataset.oracle import DEFINES_ASKED_TERM, asked_term, defining_line
    from tests.test_retrieval import make_index

    assert [asked_term(q) for q in ("What is Jitter?", "What's the overlap policy?", "What are `hooks`?",
                                    "How do I add jitter?", "What is the difference between a job and a run "
                                    "in the scheduler?")] == ["Jitter", "overlap policy", "hooks", None, None]
    glossary = next(read_corpus("examples/corpus/glossary.txt")).text
    assert defining_line("jitter").search(glossary)
    assert defining_line("hooks").search(glossary)  # the entry is "Hook"
    assert not defining_line("backoff jitter").search(glossary)  # named in a sentence, not defined
    for question, line in (("What is the overlap policy?", "**Overlap policy** - what happens when a run is due"),
                           ("What is `capture`?", "`capture`: where stdout and stderr go"),
                           ("What is a handshake?", "A handshake is the first line a plugin sends.")):
        assert defining_line(asked_term(question)).search(line), line
    assert not defining_line("handshake").search("Tidepool waits for the handshake before it sends a run.")

    mentions = "Retries wait a little longer each time; the wait has jitter added to it."
    index = make_index([glossary, mentions, "The scheduler reads its configuration at start."])
    reasons = DistractorGuard(max_similarity=1.1, score_margin=0.0).reasons(
        np.array([0, 1]), 2, index, None, question="What is jitter?")
    assert reasons == [DEFINES_ASKED_TERM, None]
