"""ChunkIndex over real FastAPI docs chunks: storage, embeddings, FAISS search, save/load."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from raft_dataset.chunking import Chunk, chunk_document
from raft_dataset.corpus import read_corpus
from raft_dataset.encoding import EmbeddingCache, Encoder
from raft_dataset.index import ChunkIndex, passage_text
from tests.conftest import FASTAPI_DOCS as FASTAPI
from tests.conftest import require

pytestmark = pytest.mark.slow  # loads the encoder

CHUNK_FIELDS = ("chunk_id", "doc_id", "title", "text", "start", "end", "n_tokens", "first_page", "last_page",
                "inserted")


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


@pytest.fixture(scope="module")
def chunks(encoder: Encoder) -> list[Chunk]:
    require(FASTAPI)
    docs = [d for d in read_corpus(str(FASTAPI / "tutorial")) if d.doc_id.startswith("path")][:6]
    out = [c for d in docs for c in chunk_document(d, encoder.tokenizer, 200, 30)]
    assert 20 <= len(out) <= 200
    return out


@pytest.fixture(scope="module")
def flat(chunks: list[Chunk], encoder: Encoder) -> ChunkIndex:
    return ChunkIndex.build(iter(chunks), encoder, show_progress_bar=False)


def test_rows_round_trip_without_embeddings(flat: ChunkIndex, chunks: list[Chunk]) -> None:
    assert len(flat) == len(chunks)
    assert flat.dataset.column_names == [*CHUNK_FIELDS, "embeddings"]
    for i in (0, len(chunks) // 2, len(chunks) - 1):
        row = flat.row(i)  # Arrow values: `inserted` comes back as lists of [offset, characters]
        assert row == {f: getattr(chunks[i], f) for f in CHUNK_FIELDS} | {"inserted": [list(p) for p in chunks[i].inserted]}
        assert next(flat.chunks([i])) == chunks[i]
    assert flat.row(-1) == flat.row(len(chunks) - 1)
    assert flat.column("doc_id") == [c.doc_id for c in chunks]
    with pytest.raises(IndexError):
        flat.row(len(chunks))


def test_embeddings_column_is_the_encoded_passage(flat: ChunkIndex, chunks: list[Chunk], encoder: Encoder) -> None:
    stored = flat.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    assert stored.dtype == np.float32 and stored.shape == (len(chunks), encoder.dimension)
    expected = encoder.encode([passage_text(c.title, c.text) for c in chunks])
    assert np.abs(stored - expected).max() < 1e-5


def test_flat_search_is_exact_and_padded(flat: ChunkIndex) -> None:
    vectors = flat.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    scores, rows = flat.search(vectors[:5], 3)
    assert rows.shape == (5, 3) and scores.dtype == np.float32
    assert list(rows[:, 0]) == [0, 1, 2, 3, 4]  # each chunk is its own nearest neighbour
    assert np.allclose(scores[:, 0], 1.0, atol=1e-4)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    expected = vectors @ vectors[7]
    _, top = flat.search(vectors[7], 4)
    assert list(top[0]) == list(np.argsort(-expected, kind="stable")[:4])
    scores, rows = flat.search(vectors[:2], len(flat) + 3)
    assert (rows[:, -3:] == -1).all() and np.isneginf(scores[:, -3:]).all()
    assert (rows[:, :-3] >= 0).all()


def test_queries_find_the_matching_tutorial_page(flat: ChunkIndex) -> None:
    questions = ["How do I declare a path parameter with a type?",
                 "How can I add metadata and validation to path parameters?"]
    _, rows = flat.search(flat.embed_queries(questions), 3)
    docs = [[flat.row(r)["doc_id"] for r in hits] for hits in rows]
    assert "path-params.md" in docs[0][:3], docs
    assert "path-params-numeric-validations.md" in docs[1][:3], docs


@pytest.mark.parametrize("factory", ["HNSW32", "IVF4,Flat"])
def test_approximate_indexes_build_and_search(chunks: list[Chunk], encoder: Encoder, flat: ChunkIndex,
                                              factory: str) -> None:
    index = ChunkIndex.build((c for c in chunks), encoder, index_factory=factory, show_progress_bar=False)
    vectors = flat.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    _, rows = index.search(vectors[:10], 5)
    assert list(rows[:, 0]) == list(range(10))


def test_bad_factories_and_empty_input_are_reported(chunks: list[Chunk], encoder: Encoder) -> None:
    with pytest.raises(ValueError, match="not a valid FAISS factory"):
        ChunkIndex.build(chunks[:5], encoder, index_factory="Bogus99", show_progress_bar=False)
    with pytest.raises(ValueError, match="IVF1024,Flat.*training on 5 vectors failed"):
        ChunkIndex.build(chunks[:5], encoder, index_factory="IVF1024,Flat", show_progress_bar=False)
    with pytest.raises(ValueError, match="no chunks"):
        ChunkIndex.build([], encoder, show_progress_bar=False)


def test_build_fills_and_reuses_the_cache(tmp_path: Path, chunks: list[Chunk], encoder: Encoder,
                                          flat: ChunkIndex) -> None:
    subset = chunks[:12]
    with EmbeddingCache(tmp_path / "c.sqlite", encoder.fingerprint) as cache:
        first = ChunkIndex.build(subset, encoder, cache=cache, show_progress_bar=False)
        assert len(cache) == len(subset)
        second = ChunkIndex.build(subset, encoder, cache=cache, show_progress_bar=False)
        assert len(cache) == len(subset)
    a = first.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    b = second.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    reference = flat.dataset.with_format("numpy", columns=["embeddings"])[:12]["embeddings"]
    assert np.array_equal(a, b) and np.abs(a - reference).max() < 1e-5


def test_save_and_load(tmp_path: Path, flat: ChunkIndex, encoder: Encoder) -> None:
    flat.save(tmp_path / "idx")
    loaded = ChunkIndex.load(tmp_path / "idx", encoder)
    assert len(loaded) == len(flat) and loaded.row(3) == flat.row(3)
    queries = flat.embed_queries(["path parameters"])
    assert np.array_equal(loaded.search(queries, 5)[1], flat.search(queries, 5)[1])
    other = Encoder(encoder.name, max_length=64)
    with pytest.raises(ValueError, match="raft_index.json: built with encoder"):
        ChunkIndex.load(tmp_path / "idx", other)


def test_index_scratch_folders_are_removed_and_those_of_killed_builds_swept(chunks, tmp_path):
    import gc

    from raft_dataset.cache import ScratchDir
    from tests.fake_encoder import HashingEncoder

    killed = ScratchDir(tmp_path, "raft_index_")
    killed.abandon()  # what a build killed with SIGKILL leaves: its lock is gone with the process
    index = ChunkIndex.build(iter(chunks), HashingEncoder(), show_progress_bar=False, work_dir=tmp_path)
    [live] = list(tmp_path.glob("raft_index_*"))
    assert live != killed.path and not killed.path.exists()
    assert len(index.search(index.embeddings([0]), k=1)[1]) == 1  # its Arrow files are in the live folder
    del index
    gc.collect()
    assert list(tmp_path.glob("raft_index_*")) == []


@pytest.fixture(scope="module")
def pieced(chunks: list[Chunk]) -> ChunkIndex:
    """An index whose Arrow embeddings column is several record batches (`datasets` writes 1,000 rows each)."""
    from tests.fake_encoder import HashingEncoder

    copies = [dataclasses.replace(c, chunk_id=f"{c.chunk_id}/{k}") for k in range(2_500 // len(chunks) + 1)
              for c in chunks]
    index = ChunkIndex.build(iter(copies), HashingEncoder(dimension=64), show_progress_bar=False)
    assert len(index.dataset.data.column("embeddings").chunks) >= 3
    return index


def test_embeddings_by_row_match_the_stored_column(pieced: ChunkIndex, flat: ChunkIndex) -> None:
    n = len(pieced)
    stored = pieced.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    rows = [n - 1, 0, 999, 1000, 1001, 1999, 2000, 7, 7, -1, -n, *np.random.default_rng(0).integers(0, n, 50)]
    got = pieced.embeddings(rows)
    assert got.dtype == np.float32 and got.shape == (len(rows), 64)
    assert np.array_equal(got, stored[np.asarray(rows) % n])
    assert np.array_equal(pieced.embeddings(np.asarray(rows[:4])), stored[rows[:4]])  # numpy rows too
    assert pieced.embeddings([]).shape == (0, 64)
    one_piece = flat.dataset.with_format("numpy", columns=["embeddings"])[:]["embeddings"]
    assert np.array_equal(flat.embeddings([3, -1, 0]), one_piece[[3, -1, 0]])
    for bad in ([n], [0, -n - 1]):
        with pytest.raises(IndexError, match="out of range"):
            pieced.embeddings(bad)


def test_embeddings_of_a_dataset_with_an_indices_mapping(pieced: ChunkIndex) -> None:
    from datasets import Dataset

    vectors = pieced.embeddings(range(40))
    shuffled = Dataset.from_dict({"chunk_id": [str(i) for i in range(40)], "embeddings": vectors}).shuffle(seed=0)
    order = [int(i) for i in shuffled["chunk_id"]]
    assert order != list(range(40))  # rows of the shuffled dataset are not positions in its table
    assert np.array_equal(ChunkIndex(shuffled, pieced.encoder).embeddings([0, 5, -1]), vectors[[order[0], order[5], order[-1]]])


def test_passages_are_what_is_embedded(pieced: ChunkIndex) -> None:
    passages = list(pieced.passages(batch_size=700))
    assert passages == [passage_text(c.title, c.text) for c in pieced.chunks()]
    assert len(passages) == len(pieced) and any("\n" in p for p in passages)
