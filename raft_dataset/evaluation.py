"""Retrieval quality of the chunk -> embed -> FAISS stack on a BEIR-layout benchmark.

Documents are chunked exactly as a RAFT build chunks them, every chunk is indexed, and a document is
scored by its best chunk (max-pooling over passages, the usual way to evaluate passage retrieval at
document level). Metrics follow the definitions used by BEIR / pytrec_eval:

* nDCG@k: sum over the top k of rel_i / log2(i + 1) (graded qrels, linear gain), divided by the same sum
  for the ideal ordering of all judged documents.
* recall@k: relevant documents (qrel score > 0) in the top k / all relevant documents of the query.
* MRR@k: 1 / rank of the first relevant document in the top k, 0 if none.

Each metric is averaged over the queries that have at least one relevant document in the qrels.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .chunking import Chunk, chunk_document
from .corpus import Document
from .encoding import EmbeddingCache, Encoder
from .jsonl import iter_json_objects

METRIC_KEYS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10")
_DOCS_PER_QUERY = 100  # ranked documents per query: enough for recall@100
_QUERY_BATCH = 1024  # queries searched together (bounds the k x batch result matrices)


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
# Metrics (pure functions over one query's ranked document ids)
# --------------------------------------------------------------------------------------------------


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gains (pytrec_eval's definition); 0.0 when no document is relevant."""
    gains = [max(qrels.get(doc, 0), 0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (score > 0) found in the top k."""
    relevant = {doc for doc, score in qrels.items() if score > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k, else 0."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def query_metrics(ranked: Sequence[str], qrels: Mapping[str, int]) -> dict[str, float]:
    """All reported metrics for one query."""
    return {
        "ndcg@10": ndcg_at_k(ranked, qrels, 10),
        "recall@1": recall_at_k(ranked, qrels, 1),
        "recall@5": recall_at_k(ranked, qrels, 5),
        "recall@10": recall_at_k(ranked, qrels, 10),
        "recall@100": recall_at_k(ranked, qrels, 100),
        "mrr@10": mrr_at_k(ranked, qrels, 10),
    }


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


def retrieve_documents(index, query_embeddings: np.ndarray, n_docs: int, start_k: int) -> list[list[str]]:
    """Top `n_docs` distinct documents per query, searching deeper (k doubling) only where needed."""
    doc_ids = index.column("doc_id")
    results: list[list[str]] = [[] for _ in range(len(query_embeddings))]
    pending = np.arange(len(query_embeddings))
    k = max(1, min(start_k, len(index)))
    while len(pending):
        _, rows = index.search(query_embeddings[pending], k)
        short = []
        for q, row in zip(pending, rows, strict=True):
            results[q] = rank_documents(row, doc_ids, n_docs)
            if len(results[q]) < n_docs and k < len(index):
                short.append(q)
        pending = np.asarray(short, dtype=np.int64)
        k = min(2 * k, len(index))
    return results


def evaluate_retrieval(corpus_path: str | Path, queries_path: str | Path, qrels_path: str | Path, *,
                       encoder: str | Encoder | None = None, chunk_size: int = 200, chunk_overlap: int = 30,
                       index_factory: str = "Flat", max_queries: int | None = None, seed: int = 0,
                       show_progress_bar: bool = True, cache: EmbeddingCache | None = None) -> dict:
    """Chunk, embed and index a BEIR corpus, run its queries and score document rankings.

    Args:
        corpus_path, queries_path, qrels_path: BEIR corpus.jsonl, queries.jsonl and qrels TSV.
        encoder: An `Encoder`, a model id / path, or None for the default encoder.
        chunk_size, chunk_overlap: Passed to `chunking.chunk_document`.
        index_factory: FAISS factory string ("Flat" = exact search).
        max_queries: Evaluate a seeded uniform sample of this many judged queries (None: all).
        seed: Seed of that sample.
        show_progress_bar: Progress bars while chunking, embedding and searching.
        cache: Optional embedding cache for the corpus chunks.

    Returns:
        {"ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10"} averaged over the
        evaluated queries, plus "queries" (evaluated), "documents" and "chunks" (indexed).
    """
    from tqdm.auto import tqdm

    from .index import ChunkIndex

    queries = read_beir_queries(queries_path)
    qrels = read_qrels(qrels_path)
    judged = [q for q, rels in qrels.items() if any(s > 0 for s in rels.values())]
    missing = [q for q in judged if q not in queries]
    if missing:
        raise ValueError(f"{qrels_path}: query id {missing[0]!r} ({len(missing)} in all) is not in {queries_path}")
    if not judged:
        raise ValueError(f"{qrels_path}: no query has a relevant document (score > 0)")
    selected = select_queries(judged, max_queries, seed)

    if not isinstance(encoder, Encoder):
        encoder = Encoder(encoder)
    counts = {"documents": 0, "chunks": 0}
    chunks = _chunks(read_beir_corpus(corpus_path), encoder.tokenizer, chunk_size, chunk_overlap, counts)
    index = ChunkIndex.build(chunks, encoder, cache=cache, index_factory=index_factory,
                             show_progress_bar=show_progress_bar)

    totals = dict.fromkeys(METRIC_KEYS, 0.0)
    batches = range(0, len(selected), _QUERY_BATCH)
    for start in tqdm(batches, desc="Retrieving", unit="batch", disable=not show_progress_bar):
        ids = selected[start:start + _QUERY_BATCH]
        embeddings = index.embed_queries([queries[q] for q in ids])
        # Most documents have one or a few chunks: start at 2 chunks per wanted document, go deeper if short.
        ranked = retrieve_documents(index, embeddings, _DOCS_PER_QUERY, start_k=2 * _DOCS_PER_QUERY)
        for qid, docs in zip(ids, ranked, strict=True):
            for key, value in query_metrics(docs, qrels[qid]).items():
                totals[key] += value
    metrics: dict = {key: totals[key] / len(selected) for key in METRIC_KEYS}
    metrics.update(queries=len(selected), documents=counts["documents"], chunks=counts["chunks"])
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
