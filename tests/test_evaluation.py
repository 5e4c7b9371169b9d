"""Retrieval metrics on hand-computed cases, BEIR file reading, and end-to-end retrieval quality."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from raft_dataset.encoding import Encoder
from raft_dataset.evaluation import (
    METRIC_KEYS,
    evaluate_retrieval,
    format_metrics,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    rank_documents,
    read_beir_corpus,
    read_beir_queries,
    read_qrels,
    recall_at_k,
    select_queries,
)
from tests.conftest import SQUAD, require

# ---------------------------------------------------------------------------------------------- metrics


def test_ndcg_hand_computed() -> None:
    qrels = {"b": 1, "c": 2, "d": 1}
    # DCG = 0 + 1/log2(3) + 2/log2(4); ideal gains (2, 1, 1) -> 2 + 1/log2(3) + 1/2
    expected = (1 / math.log2(3) + 1.0) / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(["a", "b", "c"], qrels, 3) == pytest.approx(expected)
    assert ndcg_at_k(["c", "b", "d"], qrels, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "b", "c"], qrels, 1) == 0.0
    # k larger than the ranking: the ideal still counts every judged document (up to k)
    assert ndcg_at_k(["c"], qrels, 10) == pytest.approx(2 / (2 + 1 / math.log2(3) + 0.5))
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0


def test_recall_and_mrr_hand_computed() -> None:
    qrels = {"b": 1, "c": 2, "d": 1, "z": 0}  # "z" is judged non-relevant
    ranked = ["a", "b", "z", "c"]
    assert recall_at_k(ranked, qrels, 1) == 0.0
    assert recall_at_k(ranked, qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, qrels, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, qrels, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, qrels, 10) == 0.5
    assert mrr_at_k(ranked, qrels, 1) == 0.0
    assert mrr_at_k(["z", "a"], qrels, 10) == 0.0
    assert set(query_metrics(ranked, qrels)) == set(METRIC_KEYS)


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


def test_end_to_end_on_a_small_benchmark(tmp_path: Path, encoder: Encoder) -> None:
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
                                 encoder=encoder, chunk_size=60, chunk_overlap=10, show_progress_bar=False)
    assert metrics["documents"] == 6 and metrics["queries"] == 7
    assert metrics["chunks"] > 6  # the long document became several chunks
    assert metrics["recall@100"] == 1.0  # every document is ranked once, 6 < 100
    assert metrics["recall@1"] >= 6 / 7 and metrics["mrr@10"] >= 6 / 7
    assert 0.0 < metrics["ndcg@10"] <= 1.0


def test_unknown_query_in_qrels_is_reported(tmp_path: Path, encoder: Encoder) -> None:
    root = write_beir(tmp_path, [{"_id": "a", "text": "x"}], [{"_id": "q1", "text": "x?"}], [("q2", "a", 1)])
    with pytest.raises(ValueError, match=r"qrels\.tsv: query id 'q2'.*not in .*queries\.jsonl"):
        evaluate_retrieval(root / "corpus.jsonl", root / "queries.jsonl", root / "qrels.tsv", encoder=encoder,
                           show_progress_bar=False)


@pytest.mark.slow
def test_squad_dev_retrieval_quality(encoder: Encoder) -> None:
    """All 2,067 SQuAD dev paragraphs, a seeded sample of 500 questions (about a minute on 2 cores)."""
    require(SQUAD)
    metrics = evaluate_retrieval(SQUAD / "corpus.jsonl", SQUAD / "queries.jsonl", SQUAD / "qrels" / "test.tsv",
                                 encoder=encoder, max_queries=500, seed=0, show_progress_bar=False)
    assert metrics["documents"] == 2067 and metrics["queries"] == 500
    # Measured with all-MiniLM-L6-v2, chunk_size 200 / overlap 30, Flat index: recall@5 0.872,
    # nDCG@10 0.777, recall@100 0.992 (all 10,570 questions: recall@5 0.869, nDCG@10 0.777).
    assert metrics["recall@5"] >= 0.85
    assert metrics["ndcg@10"] >= 0.75
    assert metrics["recall@100"] >= 0.98
