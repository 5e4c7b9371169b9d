"""Dense, BM25 and fused rankings on a six-chunk corpus where they disagree, worked out by hand;
padding, the BM25 index cache, languages, and the cross-encoder re-ranker (a tiny random BERT)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from raft_dataset.index import ChunkIndex
from raft_dataset.records import Chunk
from raft_dataset.retrieval import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    Retriever,
    make_retriever,
    top_rows,
)
from tests.fake_encoder import HashingEncoder

QUESTION = "install the package"
TEXTS = [
    "the package and the box and the bag",            # row 0
    "installing packages: install packages offline",  # row 1
    "install the package",                            # row 2
    "package tracking for the parcel",                # row 3
    "cooking pasta at home",                          # row 4
    "install install install pip",                    # row 5
]
# Dense (the hashing encoder: cosine of raw word counts, stopwords kept, no stemming), query words
# {install, the, package}, norm sqrt(3):
#   row 2: 3 / (sqrt3 sqrt3)                     = 1.000
#   row 0: (the x3 + package) 4 / (4 sqrt3)      = 0.577   (counts the 3, and 2, package, box, bag: norm 4)
#   row 5: 3 / (sqrt10 sqrt3)                    = 0.548   (install x3, pip: norm sqrt10)
#   row 3: 2 / (sqrt5 sqrt3)                     = 0.516
#   row 1: 1 / (sqrt7 sqrt3)                     = 0.218   (only "install": installing/packages differ)
#   row 4: 0
DENSE = [2, 0, 5, 3, 1, 4]
# BM25 (Lucene, k1 0.9, b 0.4, English Snowball stems, Lucene stopwords): query terms {instal, packag}.
# Terms per row 3, 5, 2, 3, 3, 4 (avgdl 20/6); idf(instal, df 3) = ln 2 = 0.693, idf(packag, df 4) = 0.442;
# tf part = tf / (tf + 0.9 (0.6 + 0.4 dl / avgdl)):
#   row 1: tf 2 + 2 in 5 terms: (0.693 + 0.442) * 2 / 3.08     = 0.737
#   row 2: tf 1 + 1 in 2 terms: (0.693 + 0.442) * 1 / 1.756    = 0.646
#   row 5: instal tf 3 in 4 terms: 0.693 * 3 / 3.972           = 0.524
#   rows 0 and 3: packag tf 1 in 3 terms: 0.442 / 1.864         = 0.237 (a tie: lower row first)
#   row 4: no term -> not retrieved
BM25 = [1, 2, 5, 0, 3]
# RRF, k = 60, weights 1/1: 1/(60 + dense rank) + 1/(60 + bm25 rank):
#   row 2: 1/61 + 1/62 = 0.032522
#   row 1: 1/65 + 1/61 = 126/3965 = 0.031778
#   row 0: 1/62 + 1/64 = 126/3968 = 0.031754
#   row 5: 1/63 + 1/63 = 126/3969 = 0.031746
#   row 3: 1/64 + 1/65 = 0.031010
#   row 4: 1/66        = 0.015152 (dense only)
HYBRID_RRF = [2, 1, 0, 5, 3, 4]
# Convex fusion (the default), weights 1/1: (dense / 1.000 + bm25 / 0.737) / 2, each score divided by the
# retriever's best for the question:
#   row 2: (1.000 + 0.877) / 2 = 0.938
#   row 5: (0.548 + 0.711) / 2 = 0.629
#   row 1: (0.218 + 1.000) / 2 = 0.609
#   row 0: (0.577 + 0.322) / 2 = 0.450
#   row 3: (0.516 + 0.322) / 2 = 0.419
#   row 4: (0     + 0    ) / 2 = 0     (dense list only)
HYBRID = [2, 5, 1, 0, 3, 4]


def make_index(texts: list[str] = TEXTS) -> ChunkIndex:
    chunks = [Chunk(chunk_id=f"c{i}", doc_id=f"d{i}", title="", text=text, start=0, end=len(text), n_tokens=5)
              for i, text in enumerate(texts)]
    return ChunkIndex.build(chunks, HashingEncoder(dimension=4096), cache=None, show_progress_bar=False)


@pytest.fixture(scope="module")
def index() -> ChunkIndex:
    words = {w for t in [*TEXTS, QUESTION] for w in re.findall(r"\w+", t.lower())}
    encoder = HashingEncoder(dimension=4096)
    buckets = {int(np.argmax(encoder._vector(w))) for w in words}
    assert len(buckets) == len(words)  # no hash collision: the dense scores above are exact
    return make_index()


def fitted(retriever, index):
    retriever.fit(index)
    return retriever


def ranking(retriever, k: int = 8, question: str = QUESTION) -> list[int]:
    return retriever.search([question], k)[1][0].tolist()


# ------------------------------------------------------------------------------------------- rankings


def test_dense_ranking(index) -> None:
    dense = fitted(DenseRetriever(), index)
    assert ranking(dense, 6) == DENSE
    np.testing.assert_allclose(dense.similarity(QUESTION, DENSE), [1, 4 / (4 * 3**0.5), 3 / 30**0.5, 2 / 15**0.5,
                                                                   1 / 21**0.5, 0], atol=1e-6)


def test_bm25_ranking_scores_and_padding(index) -> None:
    bm25 = fitted(BM25Retriever(cache_dir=""), index)
    scores, rows = bm25.search([QUESTION, "zebra", QUESTION], 8)
    assert rows.shape == scores.shape == (3, 8)
    assert rows[0].tolist() == BM25 + [-1, -1, -1]  # row 4 shares no term: padding, not a 0-score hit
    assert rows[1].tolist() == [-1] * 8 and np.isneginf(scores[1]).all()  # no known term at all
    assert np.isneginf(scores[0, 5:]).all()
    np.testing.assert_allclose(scores[0, :5], [0.737, 0.646, 0.524, 0.237, 0.237], atol=1e-3)
    assert (rows[2] == rows[0]).all()
    # similarity: the same scores for given rows, 0 without a shared term
    np.testing.assert_allclose(bm25.similarity(QUESTION, [3, 4, 1]), [scores[0, 4], 0, scores[0, 0]], rtol=1e-6)
    assert bm25.search([QUESTION], 2)[1][0].tolist() == BM25[:2]
    assert bm25.similarity(QUESTION, []).shape == (0,)
    assert isinstance(bm25, Retriever)


def test_hybrid_fuses_max_normalised_scores(index) -> None:
    dense, bm25 = fitted(DenseRetriever(), index), fitted(BM25Retriever(cache_dir=""), index)
    hybrid = HybridRetriever(dense, bm25)
    scores, rows = hybrid.search([QUESTION], 8)
    assert rows[0].tolist() == HYBRID + [-1, -1]  # k beyond the corpus: padded
    bm25_scores = bm25.similarity(QUESTION, HYBRID)
    expected = (np.maximum(dense.similarity(QUESTION, HYBRID), 0) + bm25_scores / bm25_scores.max()) / 2
    np.testing.assert_allclose(scores[0, :6], expected, rtol=1e-6)
    np.testing.assert_allclose(scores[0, :6], [0.938, 0.629, 0.609, 0.450, 0.419, 0], atol=1e-3)
    assert scores[0, 0] < 1  # 1 only for a row both retrievers rank first
    np.testing.assert_allclose(hybrid.similarity(QUESTION, [4, 2, 0]), expected[[5, 0, 3]], rtol=1e-6)
    # weights (1, 3): row 2 (1 + 3 * 0.877) / 4 = 0.908, row 1 (0.218 + 3) / 4 = 0.805 now passes
    # row 5 (0.548 + 3 * 0.711) / 4 = 0.670.
    assert ranking(HybridRetriever(dense, bm25, weights=(1, 3)), 3) == [2, 1, 5]
    with pytest.raises(ValueError, match="choose one of convex, rrf"):
        HybridRetriever(dense, bm25, fusion="linear")


def test_hybrid_fuses_ranks(index) -> None:
    hybrid = fitted(HybridRetriever(DenseRetriever(), BM25Retriever(cache_dir=""), fusion="rrf"), index)
    scores, rows = hybrid.search([QUESTION], 8)
    assert rows[0].tolist() == HYBRID_RRF + [-1, -1]  # k beyond the corpus: padded
    expected = [1 / 61 + 1 / 62, 126 / 3965, 126 / 3968, 126 / 3969, 1 / 64 + 1 / 65, 1 / 66]
    np.testing.assert_allclose(scores[0, :6], expected, rtol=1e-12)
    assert np.isneginf(scores[0, 6:]).all()
    # similarity: the scores search ranks by (k <= depth), in the order asked
    np.testing.assert_allclose(hybrid.similarity(QUESTION, [4, 2, 0]), [expected[5], expected[0], expected[2]])
    assert isinstance(hybrid, Retriever)


def test_hybrid_weights_and_depth(index) -> None:
    dense, bm25 = fitted(DenseRetriever(), index), fitted(BM25Retriever(cache_dir=""), index)
    for fusion in ("convex", "rrf"):
        assert ranking(HybridRetriever(dense, bm25, weights=(1, 0), fusion=fusion), 7) == DENSE + [-1]
        assert ranking(HybridRetriever(dense, bm25, weights=(0, 1), fusion=fusion), 7) == BM25 + [-1, -1]
        assert ranking(HybridRetriever(dense, bm25, weights=(0, 1), fusion=fusion), 3, "zebra") == [-1, -1, -1]
    # weights (1, 2): row 2 1/61 + 2/62 = .04865, row 1 1/65 + 2/61 = .04817, row 5 3/63 = .04762,
    # row 0 1/62 + 2/64 = .04738, row 3 1/64 + 2/65 = .04639, row 4 1/66 = .01515
    assert ranking(HybridRetriever(dense, bm25, weights=(1, 2), fusion="rrf"), 6) == [2, 1, 5, 0, 3, 4]
    # depth 2: dense top 2 = [2, 0], bm25 top 2 = [1, 2]; row 2 = 1/61 + 1/62, row 1 = 1/61, row 0 = 1/62,
    # every other row is beyond both lists and scores 0.
    shallow = HybridRetriever(dense, bm25, depth=2, fusion="rrf")
    assert ranking(shallow, 2) == [2, 1]
    np.testing.assert_allclose(shallow.similarity(QUESTION, range(6)), [1 / 62, 1 / 61, 1 / 61 + 1 / 62, 0, 0, 0])
    # k = 3 > depth reads both lists to 3: dense [2, 0, 5], bm25 [1, 2, 5]; row 5 = 2/63 comes second.
    assert ranking(shallow, 3) == [2, 5, 1]
    with pytest.raises(ValueError, match="weights"):
        HybridRetriever(dense, bm25, weights=(0, 0))


def test_fused_ties_go_to_the_lower_row(index) -> None:
    class Fixed:  # a retriever returning a fixed ranking
        def __init__(self, rows):
            self.rows = rows

        def fit(self, index):
            pass

        def search(self, questions, k):
            rows = np.asarray([self.rows[:k]] * len(questions))
            return np.zeros(rows.shape), rows

    # row 5 is first in one list, row 1 first in the other: equal scores, row 1 wins; same for 3 and 4.
    hybrid = fitted(HybridRetriever(Fixed([5, 3]), Fixed([1, 4]), fusion="rrf"), index)
    assert ranking(hybrid, 4) == [1, 5, 3, 4]


def test_top_rows_orders_ties_by_row() -> None:
    scores, rows = top_rows(np.array([0.5, 0.0, 2.0, 0.5, 0.5, 1.0], dtype=np.float32), 4)
    assert rows.tolist() == [2, 5, 0, 3] and scores.tolist() == [2.0, 1.0, 0.5, 0.5]
    assert top_rows(np.array([0.0, 1.0]), 3)[1].tolist() == [1, -1, -1]


def test_language_none_and_no_stemming(index) -> None:
    # "none": raw lower-cased words, stopwords kept. "installing"/"packages" no longer match, "the" does:
    # row 2 has all three words; row 0 "the" x3 + package; row 3 package + the; row 5 install x3;
    # row 1 only "install" once, in five words.
    plain = fitted(BM25Retriever(language="none", cache_dir=""), index)
    assert ranking(plain, 6) == [2, 0, 3, 5, 1, -1]
    assert plain.analyzer.terms("The Installing, of packages") == ["the", "installing", "of", "packages"]
    # English stopwords without stemming: "the" is dropped, install/package must match exactly.
    unstemmed = fitted(BM25Retriever(stemmer=False, cache_dir=""), index)
    assert ranking(unstemmed, 6) == [2, 5, 0, 3, 1, -1]
    assert BM25Retriever(language="german").analyzer.terms("Die Häuser und die Bäume") == ["haus", "baum"]
    with pytest.raises(ValueError, match="not a Snowball stemmer"):
        BM25Retriever(language="klingon")


def test_analyzer_terms_do_not_depend_on_its_word_memo(monkeypatch) -> None:
    import Stemmer

    from raft_dataset import retrieval

    text = " ".join([*TEXTS, "The Installing of packages, installed PACKAGES and the package's installer."] * 3)
    stem = Stemmer.Stemmer("english").stemWord
    stopwords = BM25Retriever().analyzer.stopwords
    expected = [stem(w) for w in re.findall(r"\b\w\w+\b", text.lower()) if w not in stopwords]
    warm = BM25Retriever().analyzer
    assert warm.terms(text) == expected and warm.terms(text) == expected  # cold, then every word memoised
    monkeypatch.setattr(retrieval, "_MEMO_WORDS", 3)  # a full memo: the other words are stemmed each time
    full = BM25Retriever().analyzer
    assert full.terms(text) == expected and full.terms(text) == expected and len(full._memo) == 3


def test_bm25_term_ids_follow_first_appearance(index) -> None:
    bm25 = fitted(BM25Retriever(cache_dir=""), index)
    analyzer = bm25.analyzer
    first_seen = list(dict.fromkeys(t for text in TEXTS for t in analyzer.terms(text)))
    assert list(bm25.vocab) == ["", *first_seen]
    assert [bm25.vocab[t] for t in ["", *first_seen]] == list(range(len(first_seen) + 1))


def test_make_retriever_by_name(tmp_path: Path) -> None:
    assert isinstance(make_retriever("dense"), DenseRetriever)
    bm25 = make_retriever("BM25", bm25_language="french", cache_dir=tmp_path)
    assert isinstance(bm25, BM25Retriever) and bm25.analyzer.language == "french" and bm25.cache_dir == tmp_path
    hybrid = make_retriever(hybrid_weights=(2, 1))
    assert isinstance(hybrid, HybridRetriever) and hybrid.weights == (2.0, 1.0)
    assert isinstance(hybrid.dense, DenseRetriever) and isinstance(hybrid.lexical, BM25Retriever)
    with pytest.raises(ValueError, match="choose one of dense, bm25, hybrid"):
        make_retriever("splade")


# ----------------------------------------------------------------------------------------- BM25 cache


@pytest.fixture
def index_calls(monkeypatch) -> list[int]:
    """Counts bm25s indexing runs."""
    import bm25s

    calls: list[int] = []
    original = bm25s.BM25.index

    def spy(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(bm25s.BM25, "index", spy)
    return calls


def test_bm25_index_is_cached(tmp_path: Path, index, index_calls) -> None:
    first = fitted(BM25Retriever(cache_dir=tmp_path), index)
    assert len(index_calls) == 1 and not first.cache_hit
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no temporary folder left behind
    second = fitted(BM25Retriever(cache_dir=tmp_path), make_index())  # a rebuilt index, same chunks
    assert len(index_calls) == 1 and second.cache_hit
    for question in (QUESTION, "packages offline", "zebra"):
        a, b = first.search([question], 6), second.search([question], 6)
        assert (a[1] == b[1]).all() and np.allclose(a[0], b[0])

    fitted(BM25Retriever(cache_dir=tmp_path, k1=1.2), index)  # other settings: another entry
    fitted(BM25Retriever(cache_dir=tmp_path), make_index([*TEXTS[:5], "install pip"]))  # other text
    assert len(index_calls) == 3 and len(list(tmp_path.iterdir())) == 3

    (entries[0] / "data.csc.index.npy").write_bytes(b"damaged")
    third = fitted(BM25Retriever(cache_dir=tmp_path), index)  # a damaged entry is rebuilt and replaced
    assert len(index_calls) == 4 and not third.cache_hit and ranking(third, 5) == BM25
    assert fitted(BM25Retriever(cache_dir=tmp_path), index).cache_hit


def test_bm25_cache_can_be_disabled(tmp_path: Path, index, index_calls, monkeypatch) -> None:
    monkeypatch.setenv("RAFT_DATASET_CACHE", str(tmp_path / "default"))
    for _ in range(2):
        assert not fitted(BM25Retriever(cache_dir=""), index).cache_hit
    assert len(index_calls) == 2 and not (tmp_path / "default").exists()
    fitted(BM25Retriever(), index)  # None: the default cache folder
    assert len(list((tmp_path / "default" / "bm25").iterdir())) == 1


# ------------------------------------------------------------------------------------------ re-ranking


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> str:
    """A one-layer BERT cross-encoder with random (seeded) weights and the embedded MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from raft_dataset.encoding import default_encoder_path

    path = tmp_path_factory.mktemp("cross_encoder")
    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, num_labels=1, initializer_range=0.5)  # 0.02: scores all alike
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def count_forward_calls(reranker) -> list[int]:
    calls: list[int] = []
    reranker.model.register_forward_hook(lambda *_: calls.append(1))
    return calls


def direct_scores(path: str, question: str, passages: list[str]) -> list[float]:
    """Each pair through the model alone (no batching, no cache)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path)
    with torch.inference_mode():
        return [float(model(**tokenizer(question, p, return_tensors="pt")).logits[0, 0]) for p in passages]


def test_reranker_reorders_the_head_batches_and_caches(tmp_path: Path, index, cross_encoder) -> None:
    from raft_dataset.rerank import CrossEncoderReranker, RerankedRetriever

    questions = [QUESTION, "the package for pip"]  # dense top 4 without ties (FAISS orders ties freely)
    cache = tmp_path / "rerank.sqlite"
    reranker = CrossEncoderReranker(cross_encoder, batch_size=3, top_k=4, cache=cache, show_progress_bar=False)
    calls = count_forward_calls(reranker)
    retriever = fitted(RerankedRetriever(DenseRetriever(), reranker), index)
    assert isinstance(retriever, Retriever)
    scores, rows = retriever.search(questions, 6)

    _, base = fitted(DenseRetriever(), index).search(questions, 6)
    for i, question in enumerate(questions):
        head = base[i, :4].tolist()
        expected = direct_scores(cross_encoder, question, [TEXTS[r] for r in head])
        order = sorted(range(4), key=lambda j: -expected[j])
        assert min(np.diff(sorted(expected))) > 1e-3  # distinct scores: the order below is unambiguous
        assert rows[i].tolist() == [head[j] for j in order] + base[i, 4:].tolist()  # the tail keeps base order
        np.testing.assert_allclose(scores[i, :4], [expected[j] for j in order], atol=1e-4)
        assert np.isneginf(scores[i, 4:]).all()
    assert len(calls) == reranker.forward_calls == 3  # 8 distinct pairs in batches of 3

    # similarity: the cross-encoder score of any row, from the cache when already scored
    np.testing.assert_allclose(retriever.similarity(QUESTION, rows[0, :2].tolist()), scores[0, :2], rtol=1e-6)
    assert len(calls) == 3
    retriever.similarity(QUESTION, [int(rows[0, 5])])  # not scored yet: one more forward pass
    assert len(calls) == 4

    # A second run (a new reranker on the same cache file) scores nothing.
    again = CrossEncoderReranker(cross_encoder, batch_size=3, top_k=4, cache=cache, show_progress_bar=False)
    calls_again = count_forward_calls(again)
    scores2, rows2 = fitted(RerankedRetriever(DenseRetriever(), again), index).search(questions, 6)
    assert calls_again == [] and again.forward_calls == 0
    assert (rows2 == rows).all() and np.allclose(scores2, scores, equal_nan=False)

    # k below top_k still re-ranks the whole head, then cuts; padding passes through.
    short_rows = fitted(RerankedRetriever(DenseRetriever(), again), index).search(questions, 2)[1]
    assert (short_rows == rows[:, :2]).all() and calls_again == []
    bm25_head = fitted(RerankedRetriever(BM25Retriever(cache_dir=""), again), index).search(["zebra"], 3)
    assert bm25_head[1].tolist() == [[-1, -1, -1]]


def test_reranker_without_cache(index, cross_encoder) -> None:
    from raft_dataset.rerank import CrossEncoderReranker

    reranker = CrossEncoderReranker(cross_encoder, batch_size=2, cache="", show_progress_bar=False)
    calls = count_forward_calls(reranker)
    pairs = [(QUESTION, t) for t in TEXTS] + [(QUESTION, TEXTS[0])]  # a duplicate pair is scored once
    first = reranker.score(pairs)
    assert len(calls) == 3 and first[0] == first[-1]
    assert np.allclose(reranker.score(pairs), first) and len(calls) == 6  # no cache: scored again


def test_two_label_cross_encoder_scores_relevant_minus_irrelevant(tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from raft_dataset.encoding import default_encoder_path
    from raft_dataset.rerank import CrossEncoderReranker

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    torch.manual_seed(1)
    model = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=37, num_labels=2,
                                                     initializer_range=0.5))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with torch.inference_mode():
        logits = model.eval()(**tokenizer(QUESTION, TEXTS[2], return_tensors="pt")).logits[0]
    reranker = CrossEncoderReranker(str(tmp_path), cache="", show_progress_bar=False)
    assert reranker.score([(QUESTION, TEXTS[2])])[0] == pytest.approx(float(logits[1] - logits[0]), abs=1e-4)
