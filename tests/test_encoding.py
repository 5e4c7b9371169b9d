"""Encoder parity with sentence-transformers, pooling configs, fingerprints and the embedding cache."""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from raft_dataset import cli, encoding
from raft_dataset.config import ConfigError, make_config
from raft_dataset.encoding import EmbeddingCache, Encoder, default_encoder_path, encode_cached, load_st_config
from tests.conftest import FASTAPI_DOCS as FASTAPI
from tests.conftest import SQUAD, require

pytestmark = pytest.mark.slow  # loads the encoder

EDGE_TEXTS = [
    "",
    "a",
    "Ünïcödé — naïve café, 東京, emoji 🙂",
    "word " * 400,  # far beyond max_seq_length: truncated identically by both
    "```python\nfrom fastapi import FastAPI\napp = FastAPI()\n```",
]


def real_texts(limit: int = 40) -> list[str]:
    """Paragraphs of the real FastAPI docs (varied lengths), or skip when the shared data is absent."""
    require(FASTAPI)
    texts: list[str] = []
    for path in sorted(FASTAPI.rglob("*.md")):
        texts += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 20]
        if len(texts) >= 4 * limit:
            break
    return texts[::4][:limit]


def make_tiny_model(directory: Path, *, pooling: dict | None, normalize: bool = True,
                    max_seq_length: int | None = 64, prompts: dict | None = None, seed: int = 0) -> Path:
    """A 2-layer random BERT with the default encoder's tokenizer, plus sentence-transformers files.

    `pooling` is the Pooling module config (None: no sentence-transformers files at all).
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if pooling is None:
        return directory
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (directory / "modules.json").write_text(json.dumps(modules))
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **pooling}))
    if max_seq_length is not None:
        (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length,
                                                                         "do_lower_case": False}))
    if prompts is not None:
        (directory / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    return directory


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return Encoder()


def st_encode(path: str, texts: list[str], **kwargs) -> np.ndarray:
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(path, device="cpu")
    return model.encode(texts, batch_size=7, convert_to_numpy=True, **kwargs)


def test_minilm_matches_sentence_transformers_on_real_text(minilm: Encoder) -> None:
    texts = real_texts() + EDGE_TEXTS
    ours = minilm.encode(texts)
    theirs = st_encode(minilm.name, texts)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_default_encoder_reads_its_sentence_transformers_config(minilm: Encoder) -> None:
    assert minilm.pooling == ("mean",)
    assert minilm.normalize is True
    assert minilm.max_length == 256  # sentence_bert_config.json, not the tokenizer's 512
    assert minilm.dimension == 384


def test_batching_and_length_sorting_keep_input_order(minilm: Encoder) -> None:
    texts = real_texts(12) + EDGE_TEXTS
    together = Encoder(minilm.name, batch_size=3).encode(texts)
    one_by_one = np.stack([minilm.encode([t])[0] for t in texts])
    assert np.abs(together - one_by_one).max() < 1e-4
    assert minilm.encode([]).shape == (0, 384)


@pytest.mark.parametrize("pooling, normalize", [
    ({"pooling_mode_mean_tokens": True}, True),  # legacy boolean keys
    ({"pooling_mode": "cls"}, False),
    ({"pooling_mode": "max"}, True),
    ({"pooling_mode": "lasttoken"}, False),
    ({"pooling_mode": "mean_sqrt_len_tokens"}, False),
    ({"pooling_mode": "weightedmean"}, True),
    ({"pooling_mode": ["cls", "mean"]}, True),
])
def test_pooling_modes_match_sentence_transformers(tmp_path: Path, pooling: dict, normalize: bool) -> None:
    path = make_tiny_model(tmp_path / "m", pooling=pooling, normalize=normalize)
    texts = ["short", "a somewhat longer sentence about FastAPI path operations", "x " * 100, "two words"]
    ours = Encoder(str(path), batch_size=2)
    assert ours.normalize is normalize
    assert ours.max_length == 64
    result = ours.encode(texts)
    assert result.shape == (4, ours.dimension)
    assert np.abs(result - st_encode(str(path), texts)).max() < 1e-4


def test_prompts_and_include_prompt_match_sentence_transformers(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean", "include_prompt": False},
                           prompts={"query": "query: ", "document": "passage: "})
    encoder = Encoder(str(path))
    texts = ["how do I declare a path parameter", "dependencies with yield"]
    for name in ("query", "document"):
        ours = encoder.encode(texts, prompt_name=name)
        assert np.abs(ours - st_encode(str(path), texts, prompt_name=name)).max() < 1e-4
    assert not np.allclose(encoder.encode(texts, prompt_name="query"), encoder.encode(texts))
    with pytest.raises(ValueError, match="no prompt named 'nope'"):
        encoder.encode(texts, prompt_name="nope")


def test_model_without_sentence_transformers_config_is_mean_pooled_and_normalised(tmp_path: Path) -> None:
    import torch

    path = make_tiny_model(tmp_path / "m", pooling=None)
    encoder = Encoder(str(path))
    assert encoder.pooling == ("mean",) and encoder.normalize
    assert encoder.max_length == 128  # min(tokenizer 512, max_position_embeddings 128)
    texts = ["one text", "another, longer text with more tokens in it"]
    tokens = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder.model(**tokens).last_hidden_state
    mask = tokens["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    assert np.abs(encoder.encode(texts) - expected).max() < 1e-5


def test_left_padding_tokenizer_and_too_long_max_length(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "lasttoken"})
    encoder = Encoder(str(path), batch_size=4)
    texts = ["short", "a much longer text than the first one, with many more tokens", "mid length text"]
    right = encoder.encode(texts)
    encoder.tokenizer.padding_side = "left"  # as decoder-model tokenizers often ship
    assert np.abs(encoder.encode(texts) - right).max() < 1e-6
    with pytest.raises(ValueError, match="max_length 1000 exceeds the model's 128 positions"):
        Encoder(str(path), max_length=1000)


def test_unsupported_module_is_refused(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    modules = json.loads((path / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match=r"modules\.json.*'Dense' is not supported"):
        load_st_config(str(path))


def test_fingerprint_tracks_weights_and_settings_not_location(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "a", pooling={"pooling_mode": "mean"})
    base = Encoder(str(path)).fingerprint
    assert Encoder(str(path)).fingerprint == base
    copy = shutil.copytree(path, tmp_path / "copy")  # new mtimes, same content
    assert Encoder(str(copy)).fingerprint == base
    assert Encoder(str(path), max_length=32).fingerprint != base
    other_weights = make_tiny_model(tmp_path / "b", pooling={"pooling_mode": "mean"}, seed=1)
    assert Encoder(str(other_weights)).fingerprint != base
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "cls"}))
    assert Encoder(str(path)).fingerprint != base


def test_count_tokens_has_no_special_tokens_and_no_truncation(minilm: Encoder) -> None:
    texts = ["Hello world", "word " * 600, ""]
    counts = minilm.count_tokens(texts)
    assert counts == [2, 600, 0]
    assert minilm.count_tokens([]) == []


def test_cache_round_trip_reopen_and_fingerprint_isolation(tmp_path: Path) -> None:
    db = tmp_path / "emb.sqlite"
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    with EmbeddingCache(db, "fp-1") as cache:
        cache.put_many(["a", "b", "c"], vectors)
    with EmbeddingCache(db, "fp-1") as cache:  # reopened: data persisted
        found = cache.get_many(["c", "x", "a", "a"])
        assert sorted(found) == [0, 2, 3]
        assert np.array_equal(found[0], vectors[2]) and np.array_equal(found[3], vectors[0])
    with EmbeddingCache(db, "fp-2") as cache:
        assert cache.get_many(["a", "b"]) == {}


def test_encode_cached_encodes_only_missing_texts(tmp_path: Path, minilm: Encoder) -> None:
    texts = real_texts(10)
    sentinel = np.full(minilm.dimension, 7.0, dtype=np.float32)
    with EmbeddingCache(tmp_path / "c.sqlite", minilm.fingerprint) as cache:
        cache.put_many([texts[3]], sentinel[None])  # a cached value no encoder would produce
        result = encode_cached(minilm, texts + [texts[0]], cache)
        assert np.array_equal(result[3], sentinel)  # taken from the cache, not re-encoded
        fresh = minilm.encode(texts)
        others = [i for i in range(len(texts)) if i != 3]
        assert np.abs(result[others] - fresh[others]).max() < 1e-5
        assert np.array_equal(result[-1], result[0])
        assert len(cache) == len(texts)
    assert np.abs(encode_cached(minilm, texts, None)[others] - fresh[others]).max() < 1e-6


class _CrashAfter:
    """A progress bar that raises on its n-th update: a crash in the middle of encoding."""

    def __init__(self, n: int) -> None:
        self.calls, self.n = 0, n

    def update(self, _count: int) -> None:
        self.calls += 1
        if self.calls >= self.n:
            raise KeyboardInterrupt


def test_cache_keeps_finished_batches_after_a_crash(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    encoder = Encoder(str(path), batch_size=4)
    texts = [f"text number {i} " + "pad " * (i % 7) for i in range(20)]
    db = tmp_path / "c.sqlite"
    with EmbeddingCache(db, encoder.fingerprint) as cache, pytest.raises(KeyboardInterrupt):
        # update 1 = cache hits (0), 2 = first batch stored, 3 = crash after the second batch is stored
        encode_cached(encoder, texts, cache, progress=_CrashAfter(3))
    with EmbeddingCache(db, encoder.fingerprint) as cache:
        assert len(cache) == 8
        resumed = encode_cached(encoder, texts, cache)
        assert len(cache) == 20
    assert np.abs(resumed - encoder.encode(texts)).max() < 1e-5


def test_bad_cache_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="not.sqlite"):
        EmbeddingCache(bad, "fp")


def test_a_model_that_cannot_be_found_or_loaded_is_one_line_naming_it(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    def error(name: str, kind: type[Exception]) -> str:
        with pytest.raises(kind) as info:
            Encoder(name)
        assert "\n" not in str(info.value)
        return str(info.value)

    assert error(str(tmp_path / "missing"), FileNotFoundError) == f"encoder: no such model folder: {tmp_path / 'missing'}"
    assert error("./models/missing", FileNotFoundError) == "encoder: no such model folder: ./models/missing"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    offline = error("raft-dataset-tests/no-such-model", FileNotFoundError)
    assert offline.startswith("encoder: 'raft-dataset-tests/no-such-model' is not a local folder and could not be "
                              "fetched offline (HF_HUB_OFFLINE is set")
    assert "hf download raft-dataset-tests/no-such-model" in offline
    assert error(str(tmp_path), ValueError) == f"encoder: {tmp_path} is not a transformers model folder (no config.json)"
    (tmp_path / "weights.bin").write_bytes(b"")
    assert error(str(tmp_path / "weights.bin"), ValueError).endswith("is a file; give a model folder or a Hub id")
    # A model folder without its weights: the loader's own error, on one line.
    shutil.copy(Path(default_encoder_path()) / "config.json", tmp_path / "config.json")
    assert error(str(tmp_path), ValueError).startswith(f"encoder: cannot load {tmp_path}: ")


# --------------------------------------------------------------------------------------------------
# Precision: encoder_dtype float32 | bfloat16 | int8
# --------------------------------------------------------------------------------------------------


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def pretend_native_bf16(monkeypatch, native: bool) -> None:
    """The CPU feature probe is the hardware boundary: the autocast itself still runs for real."""
    monkeypatch.setattr(encoding, "native_bfloat16", lambda device: native)


def test_a_bad_dtype_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    for bad in ("fp16", "INT8", None):
        with pytest.raises(ValueError) as info:
            Encoder(str(path), dtype=bad)
        assert str(info.value) == f"encoder_dtype: {bad!r} is not one of float32, bfloat16, int8"
    with pytest.raises(ConfigError, match=r"^encoder_dtype: must be one of float32, bfloat16, int8, got 'fp16'$"):
        make_config(corpus=str(tmp_path), encoder_dtype="fp16")
    assert make_config(corpus=str(tmp_path), encoder_dtype="int8").encoder_dtype == "int8"
    with pytest.raises(ValueError, match=r"^encoder_dtype: int8 runs on the CPU only \(ONNX Runtime\), not cuda"):
        Encoder(str(path), dtype="int8", device="cuda")  # refused before anything is loaded or moved


def test_each_dtype_has_its_own_fingerprint_and_float32_keeps_the_old_one(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    fp32 = Encoder(str(path))
    settings = {"pooling": ["mean"], "normalize": True, "max_length": 64, "include_prompt": True, "do_lower_case": False}
    assert fp32.fingerprint == encoding.model_fingerprint(path, settings)  # what earlier versions keyed caches by
    pretend_native_bf16(monkeypatch, True)
    bf16 = Encoder(str(path), dtype="bfloat16")
    int8 = Encoder(str(path), dtype="int8", onnx_cache_dir=tmp_path / "onnx")
    assert (fp32.dtype, bf16.dtype, int8.dtype) == ("float32", "bfloat16", "int8")
    assert len({fp32.fingerprint, bf16.fingerprint, int8.fingerprint}) == 3
    assert "dtype=int8" in repr(int8)


def test_bfloat16_without_native_support_warns_and_runs_float32(tmp_path: Path, monkeypatch) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    pretend_native_bf16(monkeypatch, False)
    with pytest.warns(RuntimeWarning, match=r"^encoder_dtype: bfloat16 is not native on cpu here .*encoding in float32"):
        encoder = Encoder(str(path), dtype="bfloat16")
    fp32 = Encoder(str(path))
    assert encoder.dtype == "float32" and encoder.fingerprint == fp32.fingerprint  # same vectors, same cache entries
    texts = ["exactly the float32 vectors", "b"]
    np.testing.assert_array_equal(encoder.encode(texts), fp32.encode(texts))


def test_int8_without_onnxruntime_says_which_extra_to_install(tmp_path: Path, monkeypatch) -> None:
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an install without the extra looks like
    with pytest.raises(ValueError, match=r"^encoder_dtype: int8 needs ONNX Runtime: pip install 'raft-dataset\[onnx\]'$"):
        Encoder(str(path), dtype="int8", onnx_cache_dir=tmp_path / "onnx")


def test_the_cache_never_mixes_float32_and_int8_vectors(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    fp32 = Encoder(str(path), batch_size=4)
    int8 = Encoder(str(path), batch_size=4, dtype="int8", onnx_cache_dir=tmp_path / "onnx")
    texts = real_texts(12)
    with EmbeddingCache(tmp_path / "cache.sqlite", fp32.fingerprint) as cache:
        stored_fp32 = encode_cached(fp32, texts, cache)
    with EmbeddingCache(tmp_path / "cache.sqlite", int8.fingerprint) as cache:
        assert cache.get_many(texts) == {}  # the float32 entries are not int8's
        stored_int8 = encode_cached(int8, texts, cache)
        assert len(cache) == 2 * len(set(texts))
        np.testing.assert_array_equal(encode_cached(int8, texts, cache), stored_int8)  # hits, int8's own
    np.testing.assert_array_equal(stored_int8, int8.encode(texts))
    assert not np.array_equal(stored_int8, stored_fp32)
    with EmbeddingCache(tmp_path / "cache.sqlite", fp32.fingerprint) as cache:
        np.testing.assert_array_equal(encode_cached(fp32, texts, cache), stored_fp32)


def test_the_int8_export_is_kept_and_reused_and_pickles(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    first = Encoder(str(path), dtype="int8", onnx_cache_dir=tmp_path / "onnx")
    [exported] = (tmp_path / "onnx").iterdir()
    # The graph's version is in the name: a file an older export wrote (another graph) is never reused.
    assert exported.name == f"{Encoder(str(path)).fingerprint}-int8-v{encoding._ONNX_INT8_VERSION}.onnx"
    stamp = exported.stat().st_mtime_ns
    again = Encoder(str(path), dtype="int8", onnx_cache_dir=tmp_path / "onnx")
    assert exported.stat().st_mtime_ns == stamp and list((tmp_path / "onnx").iterdir()) == [exported]
    texts = ["a short one", "a much longer text that pads the batch " * 3, "x"]
    np.testing.assert_array_equal(again.encode(texts), first.encode(texts))
    copy = pickle.loads(pickle.dumps(first))  # how Ray ships the encoder to its actors
    np.testing.assert_array_equal(copy.encode(texts), first.encode(texts))


@pytest.mark.parametrize("graph", ["sdpa", "eager", "fused"])
def test_the_onnx_export_masks_padding_like_the_torch_model(tmp_path: Path, graph: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    import torch

    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    encoder = Encoder(str(path))
    onnx_path = tmp_path / "model.onnx"
    encoding.export_onnx(encoder.model, onnx_path, eager_attention=graph != "sdpa")
    assert encoder.model.config._attn_implementation == "sdpa"  # the torch model runs as it was loaded
    if graph == "fused":
        fused = encoding.fuse_bert_onnx(onnx_path, tmp_path / "fused.onnx", num_heads=2, hidden_size=32)
        # One MultiHeadAttention per layer (2), the embeddings and both LayerNorms of each layer fused.
        assert fused == {"MultiHeadAttention": 2, "EmbedLayerNormalization": 1, "SkipLayerNormalization": 4,
                         "BiasGelu": 2}
        onnx_path = tmp_path / "fused.onnx"
    # Lengths and batch size other than the traced example's, with padding in two rows.
    tokens = encoder.tokenizer(["one", "a somewhat longer input text here", "two words"], padding=True,
                               return_tensors="pt", return_token_type_ids=False)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    exported = session.run(None, {k: v.numpy() for k, v in tokens.items()})[0]
    with torch.inference_mode():
        expected = encoder.model(**tokens).last_hidden_state.numpy()
    real = tokens["attention_mask"].numpy().astype(bool)
    np.testing.assert_allclose(exported[real], expected[real], atol=1e-4)


def test_the_int8_graph_of_a_bert_keeps_query_and_key_float32_and_the_other_matmuls_int8(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = make_tiny_model(tmp_path / "m", pooling={"pooling_mode": "mean"})
    Encoder(str(path), dtype="int8", onnx_cache_dir=tmp_path / "onnx")
    [exported] = (tmp_path / "onnx").iterdir()
    nodes = onnx.load(exported).graph.node
    ops = [node.op_type for node in nodes]
    assert ops.count("MultiHeadAttention") == 2 and "QAttention" not in ops  # fused attention, float32 inside
    # Query and key projections float32 (int8 ones lost 0.0058 nDCG@10); value, attention output, FFN in
    # and out int8, in each of the 2 layers.
    float32 = sorted(node.name.rsplit("/", 2)[-2] for node in nodes if node.op_type == "MatMul")
    assert float32 == ["key", "key", "query", "query"]
    assert ops.count("MatMulInteger") == 4 * 2
    assert "EmbedLayerNormalization" in ops and "QEmbedLayerNormalization" not in ops  # float32 tables


def squad_texts(n_docs: int = 40, n_questions: int = 80) -> list[str]:
    require(SQUAD)
    docs = [json.loads(line) for line in (SQUAD / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:n_docs]]
    questions = [json.loads(line)["text"] for line in
                 (SQUAD / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:n_questions]]
    return [f"{d['title']}\n{d['text']}" for d in docs] + questions


def test_int8_vectors_are_close_to_float32_on_real_text(minilm: Encoder) -> None:
    pytest.importorskip("onnxruntime")
    texts = squad_texts() + real_texts(40)
    similarity = cosines(Encoder(dtype="int8").encode(texts), minilm.encode(texts))
    # Measured: mean 0.994, least 0.987 (activations are quantized per batch, weights per channel).
    assert similarity.mean() > 0.99 and similarity.min() > 0.98, (similarity.mean(), similarity.min())


def test_bfloat16_autocast_vectors_are_close_to_float32_on_real_text(minilm: Encoder, monkeypatch) -> None:
    pretend_native_bf16(monkeypatch, True)  # emulated where the CPU lacks bf16: slow, so few texts
    bf16 = Encoder(dtype="bfloat16")
    assert bf16.dtype == "bfloat16"
    texts = squad_texts(8, 8)
    similarity = cosines(bf16.encode(texts), minilm.encode(texts))
    assert similarity.min() > 0.999, similarity.min()


def test_eval_retrieval_takes_the_encoder_dtype(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    require(SQUAD)
    docs = (SQUAD / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:25]
    kept = {json.loads(line)["_id"] for line in docs}
    qrels = [line for line in (SQUAD / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
             if line.split("\t")[1] in kept]
    (tmp_path / "corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n", encoding="utf-8")
    args = ["eval-retrieval", "--corpus", str(tmp_path / "corpus.jsonl"), "--queries", str(SQUAD / "queries.jsonl"),
            "--qrels", str(tmp_path / "qrels.tsv"), "--retriever", "dense", "--max-queries", "60", "--json"]
    results = {}
    for dtype in ("float32", "int8"):
        assert cli.main([*args, "--encoder-dtype", dtype]) == 0
        results[dtype] = json.loads(capsys.readouterr().out)
    assert results["int8"]["queries"] == results["float32"]["queries"] == 60
    assert results["float32"]["ndcg@10"] > 0.8
    assert abs(results["int8"]["ndcg@10"] - results["float32"]["ndcg@10"]) < 0.03
    assert cli.main([*args, "--encoder-dtype", "fp16"]) == 2
    assert "argument --encoder-dtype: invalid choice: 'fp16'" in capsys.readouterr().err


def test_torch_threads_sleep_while_waiting_unless_the_user_chose(tmp_path: Path) -> None:
    import os
    import subprocess

    probe = ("import os, raft_dataset, torch\n"
             "print(os.environ.get('OMP_WAIT_POLICY'), torch.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    for chosen, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        run_env = env if chosen is None else {**env, "OMP_WAIT_POLICY": chosen}
        out = subprocess.run([sys.executable, "-c", probe], env=run_env, capture_output=True, text=True, check=True,
                             cwd=tmp_path)
        policy, threads = out.stdout.split()
        assert policy == expected and int(threads) >= 1
