"""Retrieval quality of the chunk -> index -> retriever stack on a BEIR-layout benchmark.

Documents are chunked exactly as a RAFT build chunks them, every chunk is indexed, and a document is
scored by its best chunk (max-pooling over passages, the usual way to evaluate passage retrieval at
document level). Any `Retriever` can be evaluated: "dense", "bm25" or "hybrid" by name.

Metrics are computed by trec_eval (`pytrec_eval`), with the definitions BEIR reports:

* nDCG@k (`ndcg_cut.k`): sum over the top k of rel_i / log2(i + 1) (graded qrels, linear gain), divided
  by the same sum for the ideal ordering of all judged documents.
* recall@k (`recall.k`): relevant documents (qrel score > 0) in the top k / all relevant documents.
* MRR@k (`recip_rank` of the top k): 1 / rank of the first relevant document in the top k, 0 if none.

Each metric is averaged over the queries that have at least one relevant document in the qrels.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from .chunking import Chunk, chunk_document
from .corpus import Document
from .encoding import EmbeddingCache, Encoder, check_encoder_dtype
from .jsonl import iter_json_objects
from .retrieval import Retriever, make_retriever

METRIC_KEYS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10")
_DOCS_PER_QUERY = 100  # ranked documents per query: enough for recall@100
_QUERY_BATCH = 1024  # queries searched together (bounds the k x batch result matrices)
# Our metric -> the trec_eval measure computing it (MRR@10 is recip_rank of the run cut at 10).
_TREC_MEASURES = {"ndcg@10": "ndcg_cut_10", "recall@1": "recall_1", "recall@5": "recall_5",
                  "recall@10": "recall_10", "recall@100": "recall_100"}
_MRR_CUTOFF = 10


# --------------------------------------------------------------------------------------------------
# BEIR files
# --------------------------------------------------------------------------------------------------


def read_beir_corpus(path: str | Path) -> Iterator[Document]:
    """Stream `Document`s from a BEIR corpus.jsonl (`_id`, `text`, optional `title`)."""
    path = Path(path)
    for line_no, record in iter_json_objects(path, ("_id", "text")):
        text, title = record["text"], record.get("title") or ""
        if not isinstance(text, str) or not isinstance(title, str):
            raise ValueError(f"{path}:{line_no}: fields 'text' and 'title' must be strings")
        yield Document(doc_id=str(record["_id"]), title=title.strip(), text=text, format="jsonl",
                       source=str(path))


def read_beir_queries(path: str | Path) -> dict[str, str]:
    """Query id -> text from a BEIR queries.jsonl (`_id`, `text`)."""
    path = Path(path)
    queries: dict[str, str] = {}
    for line_no, record in iter_json_objects(path, ("_id", "text")):
        if not isinstance(record["text"], str):
            raise ValueError(f"{path}:{line_no}: field 'text' must be a string")
        queries[str(record["_id"])] = record["text"]
    return queries


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Query id -> {document id: relevance} from a BEIR qrels TSV (header `query-id corpus-id score`)."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror or err})") from err
    with handle:
        for line_no, fields in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not fields or not "".join(fields).strip():
                continue
            if line_no == 1 and fields[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue  # header
            if len(fields) != 3:
                raise ValueError(f"{path}:{line_no}: expected 3 tab-separated fields "
                                 f"(query-id, corpus-id, score), got {len(fields)}")
            try:
                score = int(float(fields[2]))
            except ValueError:
                raise ValueError(f"{path}:{line_no}: score {fields[2]!r} is not a number") from None
            qrels.setdefault(fields[0].strip(), {})[fields[1].strip()] = score
    return qrels


# --------------------------------------------------------------------------------------------------
# Metrics (trec_eval through pytrec_eval)
# --------------------------------------------------------------------------------------------------


def score_rankings(rankings: Mapping[str, Sequence[str]],
                   qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, float]]:
    """All reported metrics for each ranked query: query id -> {metric: value}.

    `rankings` maps a query id to its document ids, best first; every query must be in `qrels`.
    """
    import pytrec_eval

    missing = [q for q in rankings if q not in qrels]
    if missing:
        raise ValueError(f"score_rankings: query {missing[0]!r} has no qrels")
    judged = {q: {d: int(s) for d, s in qrels[q].items()} for q in rankings}
    # trec_eval orders a run by score (ties by document id): strictly decreasing scores keep our order.
    run = {}
    for q, docs in rankings.items():
        unique = list(dict.fromkeys(docs))
        run[q] = {doc: float(len(unique) - i) for i, doc in enumerate(unique)}
    cut = {q: {doc: score for doc, score in docs.items() if score > len(docs) - _MRR_CUTOFF}
           for q, docs in run.items()}
    main = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.1,5,10,100"}).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(cut)
    results = {}
    for q in rankings:  # trec_eval leaves out queries it has nothing for: they score 0
        values = {key: float(main.get(q, {}).get(measure, 0.0)) for key, measure in _TREC_MEASURES.items()}
        values["mrr@10"] = float(mrr.get(q, {}).get("recip_rank", 0.0))
        results[q] = {key: values[key] for key in METRIC_KEYS}
    return results


def query_metrics(ranked: Sequence[str], qrels: Mapping[str, int]) -> dict[str, float]:
    """All reported metrics for one query's ranking."""
    return score_rankings({"q": list(ranked)}, {"q": dict(qrels)})["q"]


def rank_documents(chunk_rows: Sequence[int], chunk_doc_ids: Sequence[str], limit: int) -> list[str]:
    """Document ids in order of their best chunk (chunk rows best first, -1 padding ignored)."""
    seen: dict[str, None] = {}
    for row in chunk_rows:
        if row < 0:
            break
        seen.setdefault(chunk_doc_ids[row], None)
        if len(seen) >= limit:
            break
    return list(seen)


# --------------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------------


def select_queries(query_ids: Sequence[str], max_queries: int | None, seed: int) -> list[str]:
    """All ids sorted, or a seeded uniform sample of `max_queries` of them (sorted)."""
    ids = sorted(query_ids)
    if max_queries is None or max_queries >= len(ids):
        return ids
    return sorted(random.Random(seed).sample(ids, max_queries))


def _chunks(documents: Iterator[Document], tokenizer, chunk_size: int, chunk_overlap: int,
            counts: dict[str, int]) -> Iterator[Chunk]:
    for doc in documents:
        counts["documents"] += 1
        chunks = chunk_document(doc, tokenizer, chunk_size, chunk_overlap)
        counts["chunks"] += len(chunks)
        yield from chunks


def retrieve_documents(retriever: Retriever, questions: Sequence[str], doc_ids: Sequence[str], n_docs: int,
                       start_k: int) -> list[list[str]]:
    """Top `n_docs` distinct documents per question, searching deeper (k doubling) only where needed:
    where the ranking came back full (no -1 padding) but held fewer than `n_docs` documents."""
    n_rows = len(doc_ids)
    results: list[list[str]] = [[] for _ in questions]
    pending = list(range(len(questions)))
    k = max(1, min(start_k, n_rows))
    while pending:
        _, rows = retriever.search([questions[q] for q in pending], k)
        short = []
        for q, row in zip(pending, rows, strict=True):
            results[q] = rank_documents(row, doc_ids, n_docs)
            exhausted = len(row) < k or (len(row) and row[-1] < 0)
            if len(results[q]) < n_docs and k < n_rows and not exhausted:
                short.append(q)
        pending = short
        k = min(2 * k, n_rows)
    return results


def load_benchmark(queries_path: str | Path, qrels_path: str | Path, *, max_queries: int | None = None,
                   seed: int = 0) -> tuple[dict[str, str], dict[str, dict[str, int]], list[str]]:
    """(queries, qrels, selected query ids) of a BEIR benchmark; `selected` are the judged queries, or
    a seeded uniform sample of `max_queries` of them."""
    queries = read_beir_queries(queries_path)
    qrels = read_qrels(qrels_path)
    judged = [q for q, rels in qrels.items() if any(s > 0 for s in rels.values())]
    missing = [q for q in judged if q not in queries]
    if missing:
        raise ValueError(f"{qrels_path}: query id {missing[0]!r} ({len(missing)} in all) is not in {queries_path}")
    if not judged:
        raise ValueError(f"{qrels_path}: no query has a relevant document (score > 0)")
    return queries, qrels, select_queries(judged, max_queries, seed)


def build_benchmark_index(corpus_path: str | Path, encoder: Encoder, *, chunk_size: int = 200,
                          chunk_overlap: int = 30, index_factory: str = "Flat", cache: EmbeddingCache | None = None,
                          show_progress_bar: bool = True):
    """Chunk, embed and index a BEIR corpus as a build does: (`ChunkIndex`, {"documents", "chunks"})."""
    from .index import ChunkIndex

    counts = {"documents": 0, "chunks": 0}
    chunks = _chunks(read_beir_corpus(corpus_path), encoder.tokenizer, chunk_size, chunk_overlap, counts)
    index = ChunkIndex.build(chunks, encoder, cache=cache, index_factory=index_factory,
                             show_progress_bar=show_progress_bar)
    return index, counts


def evaluate_retriever(index, retriever: Retriever, queries: Mapping[str, str],
                       qrels: Mapping[str, Mapping[str, int]], selected: Sequence[str], *,
                       show_progress_bar: bool = True) -> dict[str, float]:
    """Fit `retriever` on `index`, rank documents for the `selected` queries and average the metrics."""
    from tqdm.auto import tqdm

    retriever.fit(index)
    doc_ids = index.column("doc_id")
    rankings: dict[str, list[str]] = {}
    batches = range(0, len(selected), _QUERY_BATCH)
    for start in tqdm(batches, desc="Retrieving", unit="batch", disable=not show_progress_bar):
        ids = selected[start:start + _QUERY_BATCH]
        # Most documents have one or a few chunks: start at 2 chunks per wanted document, go deeper if short.
        ranked = retrieve_documents(retriever, [queries[q] for q in ids], doc_ids, _DOCS_PER_QUERY,
                                    start_k=2 * _DOCS_PER_QUERY)
        rankings.update(zip(ids, ranked, strict=True))
    per_query = score_rankings(rankings, qrels)
    return {key: sum(m[key] for m in per_query.values()) / len(selected) for key in METRIC_KEYS}


def evaluate_retrieval(corpus_path: str | Path, queries_path: str | Path, qrels_path: str | Path, *,
                       encoder: str | Encoder | None = None, encoder_dtype: str = "float32",
                       chunk_size: int = 200, chunk_overlap: int = 30,
                       index_factory: str = "Flat", max_queries: int | None = None, seed: int = 0,
                       show_progress_bar: bool = True, cache: EmbeddingCache | None = None,
                       retriever: str | Retriever = "hybrid", bm25_language: str = "english",
                       hybrid_weights: Sequence[float] = (1.0, 1.0), hybrid_fusion: str = "convex",
                       bm25_cache_dir: str | Path | None = "") -> dict:
    """Chunk, embed and index a BEIR corpus, run its queries and score document rankings.

    Args:
        corpus_path, queries_path, qrels_path: BEIR corpus.jsonl, queries.jsonl and qrels TSV.
        encoder: An `Encoder`, a model id / path, or None for the default encoder.
        encoder_dtype: Precision of an encoder given by name or None ("float32", "bfloat16", "int8");
            an `Encoder` object keeps its own.
        chunk_size, chunk_overlap: Passed to `chunking.chunk_document`.
        index_factory: FAISS factory string ("Flat" = exact search).
        max_queries: Evaluate a seeded uniform sample of this many judged queries (None: all).
        seed: Seed of that sample.
        show_progress_bar: Progress bars while chunking, embedding and searching.
        cache: Optional embedding cache for the corpus chunks.
        retriever: "dense", "bm25", "hybrid" (`retrieval.make_retriever`) or any `Retriever`.
        bm25_language, hybrid_weights, hybrid_fusion: Passed to `make_retriever` for a retriever given
            by name.
        bm25_cache_dir: Folder of cached BM25 indexes; "" (the default, like `cache`) caches nothing,
            None is the default cache folder.

    Returns:
        {"ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10"} averaged over the
        evaluated queries, plus "queries" (evaluated), "documents" and "chunks" (indexed) and
        "retriever" (its name, or its class name).
    """
    check_encoder_dtype(encoder_dtype)
    queries, qrels, selected = load_benchmark(queries_path, qrels_path, max_queries=max_queries, seed=seed)
    if isinstance(retriever, str):
        name = retriever
        retriever = make_retriever(retriever, bm25_language=bm25_language, hybrid_weights=hybrid_weights,
                                   hybrid_fusion=hybrid_fusion,
                                   cache_dir=bm25_cache_dir)  # bad names fail here, before the encoder loads
    else:
        name = type(retriever).__name__
    if not isinstance(encoder, Encoder):
        encoder = Encoder(encoder, dtype=encoder_dtype)
    index, counts = build_benchmark_index(corpus_path, encoder, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                          index_factory=index_factory, cache=cache,
                                          show_progress_bar=show_progress_bar)
    metrics: dict = evaluate_retriever(index, retriever, queries, qrels, selected,
                                       show_progress_bar=show_progress_bar)
    metrics.update(queries=len(selected), documents=counts["documents"], chunks=counts["chunks"], retriever=name)
    return metrics


def format_metrics(metrics: Mapping[str, float | int]) -> str:
    """A small aligned two-column table: metric names left, values right (4 decimals for scores)."""
    rows = []
    for key in (*METRIC_KEYS, "queries", "documents", "chunks"):
        if key in metrics:
            value = metrics[key]
            rows.append((key, f"{value:.4f}" if isinstance(value, float) else f"{value:,}"))
    rows += [(k, str(v)) for k, v in metrics.items() if k not in dict(rows)]
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    return "\n".join(f"{k:<{width}}  {v:>{value_width}}" for k, v in rows)
