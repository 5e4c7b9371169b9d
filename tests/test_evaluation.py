"""Retrieval metrics on hand-computed cases, BEIR file reading, and end-to-end retrieval quality."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from raft_dataset.encoding import Encoder
from raft_dataset.evaluation import (
    METRIC_KEYS,
    build_benchmark_index,
    evaluate_retrieval,
    evaluate_retriever,
    format_metrics,
    load_benchmark,
    query_metrics,
    rank_documents,
    read_beir_corpus,
    read_beir_queries,
    read_qrels,
    score_rankings,
    select_queries,
)
from raft_dataset.retrieval import make_retriever
from tests.conftest import SQUAD, require

# ---------------------------------------------------------------------------------------------- metrics


def reference_ndcg(ranked, qrels, k: int) -> float:
    """The hand-written nDCG@k these metrics replaced (graded qrels, linear gain), kept as a reference."""
    gains = [max(qrels.get(doc, 0), 0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def test_ndcg_hand_computed() -> None:
    qrels = {"b": 1, "c": 2, "d": 1}
    # DCG = 0 + 1/log2(3) + 2/log2(4); ideal gains (2, 1, 1) -> 2 + 1/log2(3) + 1/2
    expected = (1 / math.log2(3) + 1.0) / (2 + 1 / math.log2(3) + 0.5)
    assert query_metrics(["a", "b", "c"], qrels)["ndcg@10"] == pytest.approx(expected, abs=1e-12)
    assert reference_ndcg(["a", "b", "c"], qrels, 10) == pytest.approx(expected, abs=1e-12)
    assert query_metrics(["c", "b", "d"], qrels)["ndcg@10"] == pytest.approx(1.0)
    # the ideal counts every judged document, whatever the ranking's length
    assert query_metrics(["c"], qrels)["ndcg@10"] == pytest.approx(2 / (2 + 1 / math.log2(3) + 0.5))
    # only the top 10 count
    assert query_metrics([f"x{i}" for i in range(10)] + ["c"], qrels)["ndcg@10"] == 0.0
    assert query_metrics(["a"], {"a": 0})["ndcg@10"] == 0.0
    assert query_metrics([], qrels) == dict.fromkeys(METRIC_KEYS, 0.0)


def test_ndcg_equals_the_replaced_function() -> None:
    rng = random.Random(0)
    docs = [f"d{i}" for i in range(30)]
    rankings, qrels = {}, {}
    for q in range(300):  # graded, zero and negative judgements; rankings of 0 to 25 documents
        qrels[f"q{q}"] = {d: rng.choice([-1, 0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 6))}
        rankings[f"q{q}"] = rng.sample(docs, rng.randint(0, 25))
    scored = score_rankings(rankings, qrels)
    for q, ranked in rankings.items():
        assert scored[q]["ndcg@10"] == pytest.approx(reference_ndcg(ranked, qrels[q], 10), abs=1e-12)


def test_recall_and_mrr_hand_computed() -> None:
    qrels = {"b": 1, "c": 2, "d": 1, "z": 0}  # "z" is judged non-relevant
    metrics = query_metrics(["a", "b", "z", "x", "y", "c"], qrels)
    assert metrics["recall@1"] == 0.0
    assert metrics["recall@5"] == pytest.approx(1 / 3)  # b (c is 6th)
    assert metrics["recall@10"] == pytest.approx(2 / 3) and metrics["recall@100"] == pytest.approx(2 / 3)
    assert metrics["mrr@10"] == 0.5
    assert query_metrics(["b", "a"], qrels)["mrr@10"] == 1.0 and query_metrics(["b"], qrels)["recall@1"] == 1 / 3
    assert query_metrics(["z", "a"], qrels)["mrr@10"] == 0.0
    late = query_metrics([f"x{i}" for i in range(10)] + ["b"], qrels)  # first relevant at rank 11
    assert late["mrr@10"] == 0.0 and late["recall@100"] == pytest.approx(1 / 3)
    assert set(metrics) == set(METRIC_KEYS)
    with pytest.raises(ValueError, match="no qrels"):
        score_rankings({"q9": ["a"]}, {"q1": {"a": 1}})


def test_documents_ranked_by_best_chunk() -> None:
    doc_of_row = ["d1", "d1", "d2", "d3", "d2"]
    assert rank_documents([1, 0, 4, 3, 2], doc_of_row, 10) == ["d1", "d2", "d3"]
    assert rank_documents([3, 1, -1, -1], doc_of_row, 10) == ["d3", "d1"]
    assert rank_documents([1, 0, 4, 3], doc_of_row, 2) == ["d1", "d2"]


def test_query_subset_is_deterministic() -> None:
    ids = [f"q{i:03d}" for i in range(200)]
    subset = select_queries(ids[::-1], 20, seed=0)
    assert subset == select_queries(ids, 20, seed=0) and len(set(subset)) == 20
    assert subset != select_queries(ids, 20, seed=1)
    assert select_queries(ids, None, 0) == ids and select_queries(ids, 500, 0) == ids


def test_format_metrics_aligns_a_table() -> None:
    table = format_metrics({"ndcg@10": 0.5, "recall@1": 0.25, "queries": 1200, "documents": 3, "chunks": 10})
    lines = table.splitlines()
    assert lines[0].split() == ["ndcg@10", "0.5000"] and lines[2].split() == ["queries", "1,200"]
    assert len({len(line) for line in lines}) == 1


# ------------------------------------------------------------------------------------------- BEIR files


def write_beir(root: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (root / "qrels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_readers_parse_beir_files(tmp_path: Path) -> None:
    root = write_beir(tmp_path, [{"_id": 7, "title": "T", "text": "body"}, {"_id": "x", "text": "no title"}],
                      [{"_id": "q1", "text": "question?", "metadata": {}}], [("q1", "7", 2), ("q1", "x", 0)])
    docs = list(read_beir_corpus(root / "corpus.jsonl"))
    assert [(d.doc_id, d.title, d.text, d.format) for d in docs] == [("7", "T", "body", "jsonl"),
                                                                    ("x", "", "no title", "jsonl")]
    assert read_beir_queries(root / "queries.jsonl") == {"q1": "question?"}
    assert read_qrels(root / "qrels.tsv") == {"q1": {"7": 2, "x": 0}}


@pytest.mark.parametrize("name, content, message", [
    ("corpus.jsonl", '{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n', r"corpus\.jsonl:2: invalid JSON"),
    ("corpus.jsonl", '{"_id": "a"}\n', r"corpus\.jsonl:1: missing field 'text'"),
    ("corpus.jsonl", '["a", "b"]\n', r"corpus\.jsonl:1: expected a JSON object"),
    ("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n", r"qrels\.tsv:2: expected 3 tab-separated fields"),
    ("qrels.tsv", "q1\td1\thigh\n", r"qrels\.tsv:1: score 'high' is not a number"),
])
def test_bad_files_name_file_and_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    reader = {"corpus.jsonl": lambda p: list(read_beir_corpus(p)), "qrels.tsv": read_qrels}[name]
    with pytest.raises(ValueError, match=message):
        reader(path)


# ----------------------------------------------------------------------------------------- end to end

TOPICS = {
    "volcano": "Volcanoes erupt when magma from the mantle rises through the crust and escapes as lava and ash.",
    "violin": "The violin is a string instrument played with a bow; it has four strings tuned in perfect fifths.",
    "bread": "Sourdough bread is leavened by wild yeast and lactic acid bacteria kept alive in a starter.",
    "comet": "A comet is an icy body that grows a glowing coma and a tail when its orbit brings it near the Sun.",
    "chess": "In chess, castling moves the king two squares towards a rook and puts the rook beside the king.",
}


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_end_to_end_on_a_small_benchmark(tmp_path: Path, encoder: Encoder, retriever: str, monkeypatch) -> None:
    monkeypatch.setenv("RAFT_DATASET_CACHE", str(tmp_path / "cache"))
    corpus = [{"_id": k, "title": k.title(), "text": v} for k, v in TOPICS.items()]
    # A long document split into several chunks must still count once in the ranking.
    corpus.append({"_id": "long", "title": "Gardening", "text": " ".join(
        f"Paragraph {i}: tomatoes need sun, water and well-drained soil to grow." for i in range(40))})
    questions = {"q1": "What comes out of a volcano?", "q2": "How many strings does a violin have?",
                 "q3": "What makes sourdough rise?", "q4": "Why does a comet have a tail?",
                 "q5": "What happens to the rook when you castle?", "q6": "What do tomato plants need?"}
    qrels = [(q, d, 1) for q, d in zip(questions, [*TOPICS, "long"], strict=True)] + [("q9", "chess", 1)]
    queries = [{"_id": q, "text": t} for q, t in questions.items()] + [{"_id": "q9", "text": "king move"}]
    root = write_beir(tmp_path, corpus, queries, qrels)
    metrics = evaluate_retrieval(root / "corpus.jsonl", root / "queries.jsonl", root / "qrels.tsv",
                                 encoder=encoder, chunk_size=60, chunk_overlap=10, show_progress_bar=False,
                                 retriever=retriever)
    assert metrics["documents"] == 6 and metrics["queries"] == 7 and metrics["retriever"] == retriever
    assert metrics["chunks"] > 6  # the long document became several chunks
    assert metrics["recall@1"] >= 6 / 7 and metrics["mrr@10"] >= 6 / 7
    assert 0.0 < metrics["ndcg@10"] <= 1.0
    # Every question shares a (stemmed) word with its document, and dense ranks all 6 documents.
    assert metrics["recall@100"] == 1.0
    assert not (tmp_path / "cache").exists()  # evaluation caches no BM25 index unless asked


def test_unknown_retriever_fails_before_the_encoder_loads(tmp_path: Path) -> None:
    root = write_beir(tmp_path, [{"_id": "a", "text": "x"}], [{"_id": "q1", "text": "x?"}], [("q1", "a", 1)])
    with pytest.raises(ValueError, match="retriever 'splade'"):
        evaluate_retrieval(root / "corpus.jsonl", root / "queries.jsonl", root / "qrels.tsv",
                           encoder="/nonexistent", retriever="splade")


def test_unknown_query_in_qrels_is_reported(tmp_path: Path, encoder: Encoder) -> None:
    root = write_beir(tmp_path, [{"_id": "a", "text": "x"}], [{"_id": "q1", "text": "x?"}], [("q2", "a", 1)])
    with pytest.raises(ValueError, match=r"qrels\.tsv: query id 'q2'.*not in .*queries\.jsonl"):
        evaluate_retrieval(root / "corpus.jsonl", root / "queries.jsonl", root / "qrels.tsv", encoder=encoder,
                           show_progress_bar=False)


@pytest.fixture(scope="module")
def squad_index(encoder: Encoder):
    require(SQUAD)
    return build_benchmark_index(SQUAD / "corpus.jsonl", encoder, show_progress_bar=False)


@pytest.mark.slow
def test_squad_dev_retrieval_quality(squad_index) -> None:
    """All 2,067 SQuAD dev paragraphs indexed once, a seeded sample of 500 questions ranked by each
    retriever (about a minute on 2 cores, nearly all of it embedding the paragraphs)."""
    index, counts = squad_index
    queries, qrels, selected = load_benchmark(SQUAD / "queries.jsonl", SQUAD / "qrels" / "test.tsv",
                                              max_queries=500, seed=0)
    assert counts["documents"] == 2067 and len(selected) == 500
    results = {name: evaluate_retriever(index, make_retriever(name, cache_dir=""), queries, qrels, selected,
                                        show_progress_bar=False) for name in ("dense", "bm25", "hybrid")}
    # Measured with all-MiniLM-L6-v2, chunk_size 200 / overlap 30, Flat index: recall@5 0.872,
    # nDCG@10 0.777, recall@100 0.992 (all 10,570 questions: recall@5 0.869, nDCG@10 0.777).
    dense = results["dense"]
    assert dense["recall@5"] >= 0.85 and dense["ndcg@10"] >= 0.75 and dense["recall@100"] >= 0.98
    # BM25 (k1 0.9, b 0.4, English stems): nDCG@10 0.870 on all questions (SQuAD questions reuse the
    # paragraph's words, which favours lexical matching).
    assert results["bm25"]["ndcg@10"] >= 0.84
    # The fusion is at least as good as the better of the two, within noise.
    best = max(dense["ndcg@10"], results["bm25"]["ndcg@10"])
    assert results["hybrid"]["ndcg@10"] >= best - 0.01
    assert results["hybrid"]["recall@100"] >= max(dense["recall@100"], results["bm25"]["recall@100"]) - 0.01
