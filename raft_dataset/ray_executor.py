"""`executor: ray`: the corpus and index stages of a build on a Ray cluster, with the same result.

What runs where:

- **Reading and chunking** run as Ray Data `map_batches` tasks over file shards: the driver expands
  the corpus patterns into the sorted file list (`corpus.read_corpus` order), cuts it into shards of
  `_FILES_PER_SHARD` files, and each task reads its files with the local readers and chunks every
  document with the encoder's tokenizer.
- **Encoding** runs in an actor pool (`ActorPoolStrategy`): one copy of the encoder per actor, on a
  GPU when the stage asks for one (`ray_resources.encode.num_gpus`, by default 1 when the cluster has
  GPUs), sharing the embedding cache file of its node.
- **The index** is built on the driver: the embedded chunks stream back in file order (Ray Data's
  `preserve_order`), are written to the same Arrow-backed `ChunkIndex` the local executor builds, and
  the FAISS index is trained on the same seeded sample and filled from them, so the rest of the build
  (queries, contexts, answers, validation, splits) sees identical rows and runs unchanged on the driver.
- **LLM requests** (questions and answers) run in an actor pool (`RayLLMBackend`): each actor holds
  the configured backend (a local model, on its GPU when it has one, or an HTTP client). The driver's
  `LLMClient` keeps the one response cache, its keys, the batches, retries and accounting, so every
  actor shares the cache and a Ray build sends exactly the requests a local build would.
- **The parquet shards** are written by a Ray task each (`write_shards_on_ray`), in the same
  `data/{split}-*-of-*.parquet` layout, into the output folder's staging area.

Corpus reports travel with the rows: every skipped file and every document read is a row of its own
("skip", "document"), so the driver counts them, and drops repeated document ids, in the local order.

Requires the `ray` extra (`pip install "raft-dataset[ray]"`); on a cluster, raft-dataset must be
installed on every node and the corpus files must be readable at the same paths (a shared file
system), as the tasks open them by path.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import chunk_document
from .config import RaftDatasetConfig
from .corpus import CorpusError, ReadOptions, Skipped, _expand_patterns, _Expanded, _read_files
from .encoding import EmbeddingCache, Encoder, default_embedding_cache_path, encode_cached
from .index import ChunkIndex, passage_text
from .llm import Completion, LLMConfig, LLMError, Messages, PermanentError, TransientError, make_backend
from .report import CORPUS, BuildReport
from .shards import Shard, write_shard

# Files per read-and-chunk task: enough work per task to amortise scheduling, small enough to spread
# a folder of a few hundred files over every core.
_FILES_PER_SHARD = 8
# Rows per call of an encoding actor (the encoder sorts by length inside the call).
_ENCODE_BATCH = 1024
STAGES = ("read", "encode", "llm", "write")
RESOURCE_KEYS = ("num_cpus", "num_gpus", "actors")

# Row kinds of the read stage: a skipped item, a document (before its chunks), a chunk.
_SKIP, _DOCUMENT, _CHUNK = "skip", "document", "chunk"
_CHUNK_COLUMNS = ("chunk_id", "doc_id", "title", "text", "start", "end", "n_tokens", "first_page", "last_page",
                  "inserted")


class RayUnavailable(RuntimeError):
    """`executor: ray` was asked for but Ray Data is not installed."""


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayUnavailable('executor: ray needs Ray Data: pip install "raft-dataset[ray]"') from None
    return ray


# --------------------------------------------------------------------------------------------------
# Plan: the sorted file list, resolved on the driver
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusPlan:
    """The files a build reads, in `read_corpus` order, and what was excluded while finding them."""

    files: list[str]
    root: str
    bases: list[str]
    excluded: list[Skipped] = field(default_factory=list)


def plan_corpus(config: RaftDatasetConfig, corpus_files: Sequence[str] | None) -> CorpusPlan:
    """Expand the corpus patterns now, so bad globs fail before any model or cluster is touched."""
    if config.hf_dataset:
        raise CorpusError("executor: ray reads local files (corpus / data_files); build hf_dataset with executor: local")
    patterns = list(corpus_files) if corpus_files else config.corpus
    if not patterns:
        raise CorpusError("corpus: no documents given (set `corpus`, `data_files` or `hf_dataset`)")
    patterns = [patterns] if isinstance(patterns, (str, os.PathLike)) else list(patterns)
    expanded = _expand_patterns([os.fspath(p) for p in patterns], strict=config.strict)
    return CorpusPlan(expanded.files, expanded.root, expanded.bases, expanded.excluded)


# --------------------------------------------------------------------------------------------------
# Stage 1: read and chunk a shard of files (a Ray Data task)
# --------------------------------------------------------------------------------------------------


@dataclass
class _DropLog(BuildReport):
    """A report that records drops as events (in order) instead of counting them."""

    events: list[dict] = field(default_factory=list)

    def drop(self, stage: str, reason: str, n: int = 1, where: str | None = None) -> None:
        self.events.append({"stage": stage, "reason": reason, "n": n, "where": where})

    def count(self, name: str, n: int = 1) -> None:
        pass  # documents are rows of their own


def _row_schema():
    import pyarrow as pa

    return pa.schema([
        ("kind", pa.string()), ("note", pa.string()),
        ("chunk_id", pa.string()), ("doc_id", pa.string()), ("title", pa.string()), ("text", pa.string()),
        ("start", pa.int64()), ("end", pa.int64()), ("n_tokens", pa.int32()),
        ("first_page", pa.int32()), ("last_page", pa.int32()), ("inserted", pa.list_(pa.list_(pa.int64(), 2))),
    ])


def read_and_chunk(batch, *, root: str, bases: list[str], options: ReadOptions, strict: bool,
                   follow_external_symlinks: bool, tokenizer: Any, chunk_size: int, chunk_overlap: int):
    """Rows of one shard of files, in file order: skip events, then each document and its chunks."""
    import pyarrow as pa

    rows: dict[str, list] = {name: [] for name in _row_schema().names}

    def add(kind: str, note: str | None = None, chunk=None, doc_id: str | None = None) -> None:
        rows["kind"].append(kind)
        rows["note"].append(note)
        for name in _CHUNK_COLUMNS:
            rows[name].append(getattr(chunk, name) if chunk is not None else None)
        if chunk is None:
            rows["doc_id"][-1] = doc_id

    log = _DropLog()

    def flush() -> None:
        for event in log.events:
            add(_SKIP, json.dumps(event))
        log.events.clear()

    files = [str(path) for path in batch["path"].to_pylist()]
    for doc in _read_files(_Expanded(files, root, bases, []), options, strict=strict,
                           follow_external_symlinks=follow_external_symlinks, report=log):
        flush()  # drops reported before this document come first, as in the local build
        add(_DOCUMENT, doc_id=doc.doc_id)
        for chunk in chunk_document(doc, tokenizer, chunk_size, chunk_overlap):
            add(_CHUNK, chunk=chunk)
    flush()
    return pa.Table.from_pydict(rows, schema=_row_schema())


# --------------------------------------------------------------------------------------------------
# Stage 2: encode in an actor pool
# --------------------------------------------------------------------------------------------------


class EncodeChunks:
    """A Ray Data actor: one encoder per actor, moved to the GPU when the actor has one."""

    def __init__(self, encoder_ref, cache_path: str | None, fingerprint: str, num_threads: int | None) -> None:
        import ray

        self.encoder = ray.get(encoder_ref[0])  # wrapped in a list so Ray does not resolve it early
        if num_threads:
            import torch

            torch.set_num_threads(num_threads)
        if ray.get_gpu_ids() and hasattr(self.encoder, "model"):
            import torch

            self.encoder.device = torch.device("cuda")
            self.encoder.model.to(self.encoder.device)
        self.cache = EmbeddingCache(cache_path, fingerprint) if cache_path else None

    def __call__(self, batch):
        import pyarrow as pa

        kinds = batch.column("kind").to_pylist()
        chunk_rows = [i for i, kind in enumerate(kinds) if kind == _CHUNK]
        titles, texts = batch.column("title").to_pylist(), batch.column("text").to_pylist()
        vectors = np.zeros((len(kinds), self.encoder.dimension), dtype=np.float32)
        if chunk_rows:
            passages = [passage_text(titles[i], texts[i]) for i in chunk_rows]
            vectors[chunk_rows] = encode_cached(self.encoder, passages, self.cache, prompt_name="document")
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        return batch.append_column("embeddings", pa.FixedSizeListArray.from_arrays(flat, self.encoder.dimension))


# --------------------------------------------------------------------------------------------------
# Stage 3: LLM requests in an actor pool
# --------------------------------------------------------------------------------------------------


class LLMActor:
    """A Ray actor holding one LLM backend: a local model (on the actor's GPU when it has one: the
    transformers backend picks CUDA when it sees one) or an HTTP client."""

    def __init__(self, cfg: LLMConfig, num_threads: int | None) -> None:
        if num_threads:
            import torch

            torch.set_num_threads(num_threads)
        self.backend = make_backend(cfg)

    async def generate(self, batch: list[Messages], params: dict) -> tuple[int, list[Completion] | tuple]:
        """(this worker's pid, the completions), or the backend's error as a plain tuple: errors travel
        as values, so the driver's retry logic sees their kind and Retry-After, not Ray's wrapper."""
        try:
            return os.getpid(), await self.backend.generate(batch, params)
        except TransientError as err:
            return os.getpid(), ("transient", err.cause, err.retry_after, err.detail)
        except PermanentError as err:
            return os.getpid(), ("permanent", err.reason, err.detail)

    async def aclose(self) -> None:
        await self.backend.aclose()


class RayLLMBackend:
    """The config's LLM backend run in a pool of Ray actors, behind the same `Backend` protocol.

    Give it to `make_llm_client(cfg, backend=...)`: the driver's client keeps the response cache (one
    file on the driver, so every actor shares it on any cluster), its keys (this backend has the
    config backend's identity), the fixed batches, retries, accounting and stopping. Each batch goes
    to the actor with the fewest in flight. A local model's parallelism is one batch per actor; an
    HTTP server's stays `llm.max_concurrency` in all, as it is a limit the server sets.
    """

    def __init__(self, cfg: LLMConfig, resources: LLMResources) -> None:
        ray = _require_ray()
        config_backend = make_backend(cfg)  # identity and batching (a local model loads only when used)
        self.kind = config_backend.kind
        self.batch_size = config_backend.batch_size
        per_actor = config_backend.parallelism
        self.parallelism = per_actor * resources.actors if self.kind == "transformers" else per_actor
        self._identity = config_backend.identity()
        actor_class = ray.remote(LLMActor).options(
            num_cpus=resources.num_cpus, num_gpus=resources.num_gpus,
            max_concurrency=max(1, -(-self.parallelism // resources.actors)),
        )
        threads = max(1, int(resources.num_cpus)) if not resources.num_gpus else None
        self._actors = [actor_class.remote(cfg, threads) for _ in range(resources.actors)]
        self._in_flight = [0] * resources.actors
        self.calls_by_worker: Counter[int] = Counter()  # process id -> batches it generated

    @classmethod
    def on_cluster(cls, cfg: LLMConfig, ray_resources: dict | None) -> RayLLMBackend:
        """The pool sized by `ray_resources.llm` and the running cluster's resources (`llm_resources`)."""
        ray = _require_ray()
        return cls(cfg, llm_resources(ray_resources, ray.cluster_resources(), cfg.backend))

    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    async def generate(self, batch: Sequence[Messages], params: Mapping[str, Any]) -> list[Completion]:
        from ray.exceptions import RayError

        i = min(range(len(self._actors)), key=self._in_flight.__getitem__)
        self._in_flight[i] += 1
        try:
            pid, outcome = await self._actors[i].generate.remote(list(batch), dict(params))
        except RayError as err:  # the actor died (e.g. out of memory loading the model)
            raise LLMError(f"LLM actor failed: {_root_cause(err)}") from None
        finally:
            self._in_flight[i] -= 1
        self.calls_by_worker[pid] += 1
        if isinstance(outcome, tuple):
            kind, *details = outcome
            raise TransientError(*details) if kind == "transient" else PermanentError(*details)
        return outcome

    def workers(self) -> dict[str, Any]:
        """The pool for the usage report: actors started and how many batches each generated."""
        return {"executor": "ray", "actors": len(self._in_flight),
                "batches_per_actor": sorted(self.calls_by_worker.values(), reverse=True)}

    async def aclose(self) -> None:
        ray = _require_ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors.clear()


def _innermost(err: BaseException) -> BaseException:
    """The error a Ray error chain wraps (a task's or an actor's own exception)."""
    from ray.exceptions import RayError

    cause = err
    while isinstance(cause, RayError) and getattr(cause, "cause", None) is not None:
        cause = cause.cause
    return cause


def _root_cause(err: BaseException) -> str:
    """The innermost error of a Ray error chain, in one line."""
    cause = _innermost(err)
    return (str(cause).strip().splitlines() or [type(cause).__name__])[-1]


# --------------------------------------------------------------------------------------------------
# Stage 4: parquet shards, a task each
# --------------------------------------------------------------------------------------------------


def write_shards_on_ray(splits: Mapping[str, list[dict]], shards: Sequence[Shard], folder: Path,
                        config: RaftDatasetConfig) -> list[int]:
    """Write each planned shard in a Ray task (into `folder`, which the workers must see: local, or a
    shared file system on a cluster); returns each shard's Arrow size in bytes, in `shards` order."""
    with ray_session(config.ray_address, show_progress=False) as ray:
        num_cpus = float(((config.ray_resources or {}).get("write") or {}).get("num_cpus", 1))
        task = ray.remote(write_shard).options(num_cpus=num_cpus)
        refs = [task.remote(splits[s.split][s.start:s.end], s.split, str(folder / s.name)) for s in shards]
        return ray.get(refs)


# --------------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageResources:
    """What each task or actor of a stage reserves, and how many encoding actors run."""

    read_cpus: float
    encode_cpus: float
    encode_gpus: float
    actors: int


def stage_resources(settings: dict | None, cluster: dict[str, float]) -> StageResources:
    """`ray_resources` merged with defaults sized to the cluster: one CPU per read task; one GPU per
    encoding actor when the cluster has GPUs, else one CPU, with as many actors as leave one CPU
    free for reading."""
    settings = settings or {}
    read, encode = settings.get("read") or {}, settings.get("encode") or {}
    read_cpus = float(read.get("num_cpus", 1))
    gpus = float(cluster.get("GPU", 0))
    encode_gpus = float(encode.get("num_gpus", 1 if gpus >= 1 else 0))
    encode_cpus = float(encode.get("num_cpus", 1))
    # Ray fuses the read tasks into the encoding actors when both reserve the same (CPU-only)
    # resources: then the actors read too and may take every CPU; else leave the readers theirs.
    fused = encode_gpus == 0 and read_cpus == encode_cpus
    if "actors" in encode:
        actors = int(encode["actors"])
    elif encode_gpus > 0:
        actors = max(1, int(gpus // encode_gpus))
    else:
        free = float(cluster.get("CPU", 1)) - (0 if fused else read_cpus)
        actors = max(1, int(free // max(encode_cpus, 1e-9)))
    return StageResources(read_cpus, encode_cpus, encode_gpus, actors)


@dataclass(frozen=True)
class LLMResources:
    """What each LLM actor reserves, and how many run."""

    num_cpus: float
    num_gpus: float
    actors: int


def llm_resources(settings: dict | None, cluster: dict[str, float], backend: str) -> LLMResources:
    """`ray_resources.llm` merged with defaults sized to the cluster: a local model gets one GPU per
    actor on a GPU cluster, else one CPU, with as many actors as fit; an HTTP backend gets one actor
    per CPU (the requests, not the actors, are limited by `llm.max_concurrency`)."""
    wanted = (settings or {}).get("llm") or {}
    gpus = float(cluster.get("GPU", 0))
    num_gpus = float(wanted.get("num_gpus", 1 if gpus >= 1 and backend == "transformers" else 0))
    num_cpus = float(wanted.get("num_cpus", 1))
    if "actors" in wanted:
        actors = int(wanted["actors"])
    elif num_gpus > 0:
        actors = max(1, int(gpus // num_gpus))
    else:
        actors = max(1, int(float(cluster.get("CPU", 1)) // max(num_cpus, 1e-9)))
    return LLMResources(num_cpus, num_gpus, actors)


@contextmanager
def ray_session(address: str | None, show_progress: bool) -> Iterator[Any]:
    """The running Ray instance, else one connected to (or started for) `address`, shut down after."""
    ray = _require_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=show_progress,
                 logging_level="WARNING")
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------------------------------
# The stage: plan -> chunks -> embeddings -> ChunkIndex on the driver
# --------------------------------------------------------------------------------------------------


def build_index_on_ray(config: RaftDatasetConfig, plan: CorpusPlan, encoder: Encoder, report: BuildReport,
                       show_progress: bool) -> ChunkIndex:
    """Read, chunk and embed the planned files on Ray; the same `ChunkIndex` as the local executor.

    `report` is filled as in a local build: documents and chunks counted, skipped files and repeated
    document ids dropped (with the file they name), in file order.

    Raises:
        ValueError: chunk_size over the encoder's limit, or no text at all to index.
        CorpusError: in strict mode, the first unusable file (as the local build).
        RayUnavailable: Ray Data is not installed.
    """
    limit = encoder.max_length - encoder.tokenizer.num_special_tokens_to_add()
    if config.chunk_size > limit:
        raise ValueError(f"chunk_size: {config.chunk_size} tokens does not fit the encoder ({encoder.max_length} "
                         f"tokens including special tokens): use at most {limit}")
    cache_path = default_embedding_cache_path() if config.embedding_cache is None else config.embedding_cache
    with ray_session(config.ray_address, show_progress) as ray:
        from ray.data import ActorPoolStrategy, DataContext

        context = DataContext.get_current()
        context.execution_options.preserve_order = True  # rows come back in file order
        context.enable_progress_bars = show_progress
        context.raise_original_map_exception = True  # a CorpusError stays one (see _unwrap_errors)
        resources = stage_resources(config.ray_resources, ray.cluster_resources())
        options = ReadOptions(text_field=config.text_field, title_field=config.title_field,
                              id_field=config.id_field, max_file_bytes=config.max_file_bytes,
                              max_line_chars=config.max_line_chars, max_nesting_depth=config.max_nesting_depth)
        shards = max(1, math.ceil(len(plan.files) / _FILES_PER_SHARD))
        files = ray.data.from_items([{"path": path} for path in plan.files], override_num_blocks=shards)
        chunked = files.map_batches(
            read_and_chunk, batch_size=None, batch_format="pyarrow", num_cpus=resources.read_cpus,
            fn_kwargs={"root": plan.root, "bases": plan.bases, "options": options, "strict": config.strict,
                       "follow_external_symlinks": config.follow_external_symlinks, "tokenizer": encoder.tokenizer,
                       "chunk_size": config.chunk_size, "chunk_overlap": config.chunk_overlap},
        )
        embedded = chunked.map_batches(
            EncodeChunks, batch_size=_ENCODE_BATCH, batch_format="pyarrow",
            compute=ActorPoolStrategy(size=resources.actors),
            num_cpus=resources.encode_cpus, num_gpus=resources.encode_gpus,
            fn_constructor_kwargs={"encoder_ref": [ray.put(encoder)], "cache_path": str(cache_path) if cache_path else None,
                                   "fingerprint": encoder.fingerprint,
                                   "num_threads": max(1, int(resources.encode_cpus)) if not resources.encode_gpus else None},
        )
        for item in plan.excluded:
            report.drop(CORPUS, item.reason, n=item.n, where=item.where)
        batches = embedded.iter_batches(batch_size=None, batch_format="pyarrow")
        try:
            index = ChunkIndex.from_embedded(_chunk_rows(_unwrap_errors(batches), report), encoder,
                                    index_factory=config.index_factory, seed=config.seed,
                                    show_progress_bar=show_progress)
        except ValueError as err:
            if "no chunks" not in str(err):
                raise
            raise ValueError(f"corpus: no text to index ({report.documents} documents read; skipped files: "
                             f"{report.summary(CORPUS)})") from None
    report.count("chunks", len(index))
    return index


def _unwrap_errors(batches: Iterator) -> Iterator:
    """The batches; a corpus error raised in a task surfaces as itself (one line), not as Ray's wrapper."""
    from ray.exceptions import RayError

    try:
        yield from batches
    except RayError as err:
        cause = _innermost(err)
        if isinstance(cause, CorpusError):
            raise CorpusError(*cause.args) from None
        raise


def _chunk_rows(batches: Iterator, report: BuildReport) -> Iterator[dict]:
    """Chunk rows with their embedding, in file order; skips and documents counted in `report`, and the
    chunks of a document whose id repeats an earlier one left out ("duplicate_id"), as locally."""
    seen: set[str] = set()
    duplicate = False
    for batch in batches:
        columns = batch.to_pydict() if batch.num_rows else {}
        if not columns:
            continue
        vectors = batch.column("embeddings").combine_chunks().flatten().to_numpy().reshape(batch.num_rows, -1)
        for i, kind in enumerate(columns["kind"]):
            if kind == _SKIP:
                event = json.loads(columns["note"][i])
                report.drop(event["stage"], event["reason"], n=event["n"], where=event["where"])
            elif kind == _DOCUMENT:
                doc_id = columns["doc_id"][i]
                report.count("documents")
                duplicate = doc_id in seen
                if duplicate:
                    report.count("documents", -1)
                    report.drop(CORPUS, "duplicate_id")
                seen.add(doc_id)
            elif not duplicate:
                row = {name: columns[name][i] for name in _CHUNK_COLUMNS}
                row["embeddings"] = vectors[i]
                yield row
