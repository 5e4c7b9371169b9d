"""Chunks and their embeddings in a `datasets.Dataset`, searched through `add_faiss_index`.

Memory: chunks are streamed into an Arrow file with `Dataset.from_generator` (memory-mapped, never a
Python list of all texts), embedded window by window with `Dataset.map` (each window of
`_EMBED_WINDOW` rows sorted by token length inside the encoder, results written to another Arrow file),
and the vectors are copied once more into the FAISS index. Peak memory therefore grows with the corpus
only through the FAISS index (n x dimension x 4 bytes for "Flat").

What is embedded: `passage_text(title, text)` = title + "\n" + text. On SQuAD dev (2,067 paragraphs,
all 10,570 questions, MiniLM, 200-token chunks) the title line is neutral (nDCG@10 0.777 with it vs
0.779 without, recall@5 0.869 both; SQuAD titles are just the article name shared by ~40 paragraphs),
but for documentation corpora the title carries the heading path ("Tutorial > Body > Import
Pydantic's BaseModel"), often the only place a code-only or terse chunk names its topic.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cache import ScratchDir, remove_stale_scratch
from .encoding import EmbeddingCache, Encoder, encode_cached
from .records import Chunk

if TYPE_CHECKING:  # datasets is imported where it is used (it is slow to import)
    from datasets import Dataset

# Rows per `Dataset.map` batch while embedding: the encoder length-sorts inside each window, so a
# window of a few thousand rows leaves almost no padding while bounding the texts held in memory.
_EMBED_WINDOW = 4096
# Vectors sampled (uniformly, seeded) to train quantizing indexes such as "IVF1024,Flat" or "...,PQ16".
_TRAIN_SAMPLE = 100_000
# Default search-time knobs for approximate indexes (faiss defaults nprobe=1 / efSearch=16 lose recall).
_DEFAULT_SEARCH_PARAMS = {"nprobe": 16, "efSearch": 128}
_META_FILE = "raft_index.json"
_CHUNK_FIELDS = tuple(f.name for f in dataclasses.fields(Chunk))
_FAISS_FILE = "embeddings.faiss"
# Scratch folders of built indexes (the Arrow files): `raft_index_*` in the work dir, by default the
# system temp dir. Those of killed builds are removed by the next build.
_WORKDIR_PREFIX = "raft_index_"


def passage_text(title: str, text: str) -> str:
    """What is embedded for a chunk: its title (document + heading path) on a line above the text."""
    return f"{title}\n{text}" if title else text


def _features(dimension: int | None = None):
    from datasets import Features, Value

    from .features import list_of

    fields = {
        "chunk_id": Value("string"), "doc_id": Value("string"), "title": Value("string"),
        "text": Value("string"), "start": Value("int64"), "end": Value("int64"), "n_tokens": Value("int32"),
        "first_page": Value("int32"), "last_page": Value("int32"),
        "inserted": list_of(list_of(Value("int64"), length=2)),
    }
    if dimension is not None:
        fields["embeddings"] = list_of(Value("float32"), length=dimension)
    return Features(fields)


@contextmanager
def _datasets_progress(enabled: bool) -> Iterator[None]:
    """Show or hide the `datasets` progress bars for the duration of the block."""
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    (ds_logging.enable_progress_bar if enabled else ds_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (ds_logging.enable_progress_bar if was_enabled else ds_logging.disable_progress_bar)()


class _ChunkStream:
    """Chunks to stream once into `Dataset.from_generator`. `datasets` hashes generator arguments
    for its cache and a generator cannot be pickled: this pickles as a fresh random token instead,
    so every build gets a new fingerprint on every `datasets` release."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self.chunks = chunks
        self.token = uuid.uuid4().hex

    def __reduce__(self):
        return (str, (self.token,))

    def __iter__(self) -> Iterator[Chunk]:
        return iter(self.chunks)


def _chunk_rows(chunks: Iterable[Chunk]) -> Iterator[dict]:
    for chunk in chunks:
        if isinstance(chunk, Chunk):  # field by field: `asdict` deep-copies values, a chunk's are str and int
            yield {name: getattr(chunk, name) for name in _CHUNK_FIELDS}
        else:
            yield dataclasses.asdict(chunk) if dataclasses.is_dataclass(chunk) else dict(chunk)


def _store(items: Iterable, features, work_dir: str | Path | None, name: str,
           show_progress_bar: bool) -> tuple[Dataset, ScratchDir]:
    """Chunks (or rows) streamed once into an Arrow dataset in a fresh scratch folder under `work_dir`
    (those killed builds left there are removed first); `ValueError` when there are none."""
    from datasets import Dataset

    item_iter = iter(items)
    first = next(item_iter, None)
    if first is None:
        raise ValueError("no chunks to index: the corpus produced no text")
    parent = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir())
    remove_stale_scratch(parent, _WORKDIR_PREFIX)
    workdir = ScratchDir(parent, _WORKDIR_PREFIX)
    with _datasets_progress(show_progress_bar):
        dataset = Dataset.from_generator(_chunk_rows, features=features,
                                         gen_kwargs={"chunks": _ChunkStream(itertools.chain([first], item_iter))},
                                         cache_dir=str(workdir.path / name), fingerprint=uuid.uuid4().hex)
    return dataset, workdir


def make_faiss_index(dimension: int, index_factory: str, search_params: dict | None = None):
    """An untrained inner-product FAISS index from a factory string, with search knobs applied."""
    import faiss

    try:
        index = faiss.index_factory(dimension, index_factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        raise ValueError(f"index_factory {index_factory!r}: not a valid FAISS factory string") from err
    params = {**_DEFAULT_SEARCH_PARAMS, **(search_params or {})}
    space = faiss.ParameterSpace()
    for name, value in params.items():
        try:
            space.set_index_parameter(index, name, value)
        except RuntimeError:
            continue  # the knob does not apply to this index type (e.g. nprobe on HNSW)
    return index


class ChunkIndex:
    """A searchable chunk store.

    Attributes:
        dataset: `datasets.Dataset` with columns chunk_id, doc_id, title, text, start, end, n_tokens,
            embeddings (float32), and a FAISS index named "embeddings" (inner product).
        encoder: The `Encoder` the embeddings came from (used to embed queries).
    """

    def __init__(self, dataset, encoder: Encoder) -> None:
        self.dataset = dataset
        self.encoder = encoder
        self._workdir: ScratchDir | None = None  # holds the Arrow files of built indexes
        self._rows = None
        self._documents = None  # (doc codes per row, code of each doc id, rows sorted by doc, bounds)
        self._row_of_chunk: dict[str, int] | None = None
        self._vectors: tuple[np.ndarray, list[np.ndarray]] | None = None  # see `_embedding_views`
        self._query_vectors: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, chunks: Iterable[Chunk], encoder: Encoder, *, cache: EmbeddingCache | None = None,
              index_factory: str = "Flat", show_progress_bar: bool = True, work_dir: str | Path | None = None,
              search_params: dict | None = None, seed: int = 0) -> ChunkIndex:
        """Store, embed and index `chunks` (any iterable, consumed once).

        Args:
            chunks: The chunks; may be a generator over a corpus larger than memory.
            encoder: Embeds `passage_text(chunk.title, chunk.text)`.
            cache: Optional embedding cache, filled window by window.
            index_factory: FAISS factory string: "Flat" (exact), "HNSW32", "IVF1024,Flat", ...
            show_progress_bar: Progress bars for writing, embedding and indexing.
            work_dir: Parent directory for the temporary Arrow files (default: the system temp dir);
                they are deleted when the index is garbage-collected, and those a killed build left
                there are deleted by the next build.
            search_params: FAISS search knobs, e.g. {"nprobe": 32} or {"efSearch": 256}.
            seed: Seed of the training sample for indexes that need training.
        """
        from tqdm.auto import tqdm

        index = make_faiss_index(encoder.dimension, index_factory, search_params)  # bad factory: fail early
        dataset, workdir = _store(chunks, _features(), work_dir, "chunks", show_progress_bar)
        root = workdir.path

        # One bar advanced per forward batch (the map's own bar would only move once per window).
        bar = tqdm(total=len(dataset), desc="Embedding chunks", unit="chunk", disable=not show_progress_bar)

        def embed(batch: dict) -> dict:
            texts = [passage_text(t, x) for t, x in zip(batch["title"], batch["text"], strict=True)]
            return {"embeddings": encode_cached(encoder, texts, cache, prompt_name="document", progress=bar)}

        with bar, _datasets_progress(False):
            dataset = dataset.map(embed, batched=True, batch_size=_EMBED_WINDOW,
                                  features=_features(encoder.dimension), cache_file_name=str(root / "embedded.arrow"),
                                  new_fingerprint=uuid.uuid4().hex)
        return cls._indexed(dataset, encoder, index, index_factory, seed, show_progress_bar, workdir)

    @classmethod
    def from_embedded(cls, rows: Iterable[dict], encoder: Encoder, *, index_factory: str = "Flat",
                      show_progress_bar: bool = True, work_dir: str | Path | None = None, seed: int = 0) -> ChunkIndex:
        """An index from chunk rows that already carry their `embeddings` (embedded elsewhere, e.g. by the
        Ray executor's actors): the same store, training sample and FAISS index as `build`."""
        index = make_faiss_index(encoder.dimension, index_factory)
        dataset, workdir = _store(rows, _features(encoder.dimension), work_dir, "embedded", show_progress_bar)
        return cls._indexed(dataset, encoder, index, index_factory, seed, show_progress_bar, workdir)

    @classmethod
    def _indexed(cls, dataset, encoder: Encoder, index, index_factory: str, seed: int, show_progress_bar: bool,
                 workdir: ScratchDir) -> ChunkIndex:
        """Train (when the factory needs it, on a seeded sample) and fill the FAISS index of embedded rows."""
        if not index.is_trained:
            _train(index, dataset, index_factory, seed)
        with _datasets_progress(show_progress_bar):
            dataset.add_faiss_index(column="embeddings", custom_index=index, batch_size=_EMBED_WINDOW)
        built = cls(dataset, encoder)
        built._workdir = workdir
        return built

    def __len__(self) -> int:
        return len(self.dataset)

    def search(self, query_embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row indices) per query, best first; row index -1 pads when k > len."""
        queries = np.ascontiguousarray(query_embeddings, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if len(queries) == 0:
            return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
        scores, indices = self.dataset.search_batch("embeddings", queries, k=k)
        scores = np.asarray(scores, dtype=np.float32)
        indices = np.asarray(indices, dtype=np.int64)
        scores[indices < 0] = -np.inf  # faiss leaves -FLT_MAX / garbage in unfilled slots
        return scores, indices

    def embed_queries(self, questions: Sequence[str]) -> np.ndarray:
        """Query embeddings (with the model's "query" prompt if it defines one).

        Remembered per question text, so the retriever, the similarity checks and the near-duplicate
        filter of one build share a single encoder pass (and see identical vectors).
        """
        missing = list(dict.fromkeys(q for q in questions if q not in self._query_vectors))
        if missing:
            self._query_vectors.update(zip(missing, self.encoder.encode(missing, prompt_name="query")))
        if not questions:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        return np.stack([self._query_vectors[q] for q in questions]).astype(np.float32, copy=False)

    # -- row access: chunks, embeddings and documents by index row ---------------------------------

    def chunks(self, rows: Sequence[int] | None = None, batch_size: int = 512) -> Iterator[Chunk]:
        """The chunks at the given rows, in that order (all rows when None), streamed from Arrow."""
        view = self._row_view()
        if rows is None:
            batches = view.iter(batch_size=batch_size)
        else:  # row access, not `select`: `datasets` forbids `select` on an indexed dataset
            rows = [int(r) for r in rows]
            batches = (view[rows[i : i + batch_size]] for i in range(0, len(rows), batch_size))
        for batch in batches:
            for values in zip(*(batch[name] for name in _CHUNK_FIELDS)):
                *fields, inserted = values  # `inserted` is last (records.Chunk): lists back to tuples
                yield Chunk(*fields, inserted=tuple(map(tuple, inserted or ())))

    def passages(self, batch_size: int = 4096) -> Iterator[str]:
        """`passage_text(title, text)` of every row in order (what is embedded and BM25-indexed),
        streamed from Arrow reading only those two columns."""
        columns = self.dataset.select_columns(["title", "text"])
        for batch in columns.iter(batch_size=batch_size):
            yield from map(passage_text, batch["title"], batch["text"])

    def embeddings(self, rows: Sequence[int]) -> np.ndarray:
        """The (normalised) embeddings of the given rows, one per row, float32 (negative rows count
        from the end; `IndexError` outside the index)."""
        rows = np.asarray([int(r) for r in rows], dtype=np.int64)
        n = len(self)
        if len(rows) and (rows.min() < -n or rows.max() >= n):
            bad = int(rows[(rows < -n) | (rows >= n)][0])
            raise IndexError(f"row {bad} out of range for an index of {n} chunks")
        rows %= max(n, 1)
        views = self._embedding_views()
        if views is None:  # a dataset behind an indices mapping: `datasets` resolves the rows
            vectors = self.dataset.with_format("numpy", columns=["embeddings"])
            return np.asarray(vectors[rows.tolist()]["embeddings"], dtype=np.float32).reshape(len(rows), -1)
        starts, arrays = views
        if len(arrays) == 1:
            return arrays[0][rows]
        if not arrays or not len(rows):
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        out = np.empty((len(rows), arrays[0].shape[1]), dtype=np.float32)
        piece = np.searchsorted(starts, rows, side="right") - 1
        for p in np.unique(piece).tolist():
            at = piece == p
            out[at] = arrays[p][rows[at] - starts[p]]
        return out

    def _embedding_views(self) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """(first row of each piece, (rows, dimension) float32 array of each piece): zero-copy views of
        the Arrow embeddings column (memory-mapped for a built index), made once. `with_format` per
        lookup deep-copies the `Dataset`, attached FAISS index included (serialised and read back:
        time growing with the corpus on every call of the sample loop). None when the dataset has an
        indices mapping (rows are not positions in the table)."""
        if self._vectors is None:
            if self.dataset._indices is not None:
                return None
            arrays = []
            for piece in self.dataset.data.column("embeddings").chunks:
                if piece.null_count:
                    raise ValueError("the embeddings column has missing vectors")
                arrays.append(piece.flatten().to_numpy(zero_copy_only=False).reshape(len(piece), -1))
            arrays = [a.astype(np.float32, copy=False) for a in arrays if len(a)]
            starts = np.cumsum([0] + [len(a) for a in arrays[:-1]], dtype=np.int64)
            self._vectors = (starts, arrays)
        return self._vectors

    def row_of(self, chunk_id: str) -> int | None:
        """The row of a chunk id, or None when the index has no such chunk."""
        if self._row_of_chunk is None:
            self._row_of_chunk = {chunk_id: row for row, chunk_id in enumerate(self.dataset["chunk_id"])}
        return self._row_of_chunk.get(chunk_id)

    @property
    def doc_codes(self) -> np.ndarray:
        """An integer code per row; rows of one document share a code."""
        return self._document_table()[0]

    def rows_of(self, doc_id: str) -> np.ndarray | None:
        """The rows of one document in index order, or None when the index has no such document."""
        codes, code_of_doc, by_document, bounds = self._document_table()
        code = code_of_doc.get(doc_id)
        return None if code is None else by_document[bounds[code] : bounds[code + 1]]

    def spans(self) -> dict[str, list[tuple[int, int, str]]]:
        """doc_id -> (start, end, chunk_id) of its chunks in document order (offsets and ids only)."""
        spans: dict[str, list[tuple[int, int, str]]] = {}
        columns = self.dataset.select_columns(["doc_id", "start", "end", "chunk_id"])
        for batch in columns.iter(batch_size=4096):
            for doc_id, start, end, chunk_id in zip(batch["doc_id"], batch["start"], batch["end"], batch["chunk_id"]):
                spans.setdefault(doc_id, []).append((start, end, chunk_id))
        for doc_spans in spans.values():
            doc_spans.sort()
        return spans

    def _document_table(self):
        """Rows grouped by document, computed once with one sort (not a scan per lookup)."""
        if self._documents is None:
            import pyarrow.compute as pc

            encoded = pc.dictionary_encode(self.dataset.data.column("doc_id")).combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            code_of_doc = {doc: code for code, doc in enumerate(encoded.dictionary.to_pylist())}
            by_document = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[by_document], np.arange(len(code_of_doc) + 1))
            self._documents = (codes, code_of_doc, by_document, bounds)
        return self._documents

    def _row_view(self):
        if self._rows is None:  # a view without the embeddings column (no copy)
            self._rows = self.dataset.select_columns(list(_CHUNK_FIELDS))
        return self._rows

    def row(self, i: int) -> dict:
        """The chunk at row i as a dict (without the embedding)."""
        n = len(self)
        if not -n <= int(i) < n:
            raise IndexError(f"row {i} out of range for an index of {n} chunks")
        return self._row_view()[int(i) % n]

    def column(self, name: str) -> list:
        """One column (e.g. "doc_id") for all rows, in row order."""
        return list(self._row_view()[name])

    def save(self, directory: str | Path) -> None:
        """Write the dataset (Arrow), the FAISS index and the encoder fingerprint to `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss_file = str(directory / _FAISS_FILE)
        self.dataset.save_faiss_index("embeddings", faiss_file)
        # save_to_disk refuses datasets with an index attached: detach, save, re-attach from the file.
        self.dataset.drop_index("embeddings")
        try:
            self.dataset.save_to_disk(str(directory / "dataset"))
        finally:
            self.dataset.load_faiss_index("embeddings", faiss_file)
        self._rows = None
        meta = {"encoder": self.encoder.name, "encoder_fingerprint": self.encoder.fingerprint, "rows": len(self)}
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder) -> ChunkIndex:
        """Open an index written by `save`; the encoder must be the one that built it."""
        from datasets import load_from_disk

        directory = Path(directory)
        meta_path = directory / _META_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{meta_path}: not a saved chunk index ({err})") from err
        if meta.get("encoder_fingerprint") != encoder.fingerprint:
            raise ValueError(f"{meta_path}: built with encoder {meta.get('encoder')!r} "
                             f"(fingerprint {meta.get('encoder_fingerprint')}), not {encoder.name!r} "
                             f"({encoder.fingerprint})")
        dataset = load_from_disk(str(directory / "dataset"))
        dataset.load_faiss_index("embeddings", str(directory / _FAISS_FILE))
        return cls(dataset, encoder)


def _train(index, dataset, index_factory: str, seed: int) -> None:
    """Train a quantizing index on a seeded uniform sample (not the first rows: corpus order is biased)."""
    n = len(dataset)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, _TRAIN_SAMPLE), replace=False))
    vectors = dataset.with_format("numpy", columns=["embeddings"])[rows]["embeddings"]
    try:
        index.train(np.ascontiguousarray(vectors, dtype=np.float32))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ValueError(f"index_factory {index_factory!r}: training on {len(rows)} vectors failed: {first}") \
            from err
