"""LLM backends behind one small client: request cache, retries, concurrency and accounting.

Two backends speak the same interface (`Backend.generate(batch) -> list[Completion]`):

- `openai-compatible`: any server speaking `/v1/chat/completions` (OpenAI, vLLM, Ollama, TGI,
  `transformers serve`, ...), through the `openai` client, with our own retries so that they are
  counted and honour `Retry-After`.
- `transformers`: a local causal LM generating in-process, batched.

`LLMClient.complete(requests, stage)` returns one result per request, in request order whatever
the completion order. Every response is committed to a SQLite cache as it arrives (key: sha256 of
backend kind, base URL, model, generation parameters and messages; never the API key), so an
interrupted build pays on rerun only for what is missing, and reruns give the same outputs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import hashlib
import json
import os
import random
import re
import sqlite3
import string
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

Message = Mapping[str, str]
Messages = Sequence[Message]

BACKENDS = ("openai-compatible", "transformers")
QUESTION_PLACEHOLDERS = ("title", "text", "n", "doc_id", "chunk_id")
ANSWER_PLACEHOLDERS = ("question", "oracle", "context", "title", "reference_answer")
DEFAULT_CACHE_PATH = Path.home() / ".cache" / "raft_dataset" / "llm_cache.sqlite"
_SECRET_KEY_RE = re.compile(r"key|token|secret|password|authorization", re.IGNORECASE)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CACHE_SCHEMA = 1
# Retry-After values beyond this are treated as this (a misbehaving server must not park a build).
_MAX_RETRY_AFTER = 600.0


@dataclass
class LLMConfig:
    """Settings of the LLM used to write questions and answers (the `llm:` block of a build config).

    Attributes:
        backend: "openai-compatible" (any server speaking `/v1/chat/completions`) or
            "transformers" (a local causal LM generating in-process).
        model: Model name sent to the server, or for "transformers" a local path or Hub id.
        base_url: Server URL including the `/v1` prefix (e.g. "http://localhost:8000/v1");
            None is the OpenAI API. Ignored by "transformers".
        api_key_env: Name of the environment variable holding the API key (e.g. "OPENAI_API_KEY").
            The key itself is never stored, logged, hashed or put in messages. None sends a
            placeholder key, which local servers accept.
        max_concurrency: Requests in flight at once ("openai-compatible").
        timeout: Seconds one request may take before it is abandoned and retried.
        max_retries: Retries of one request after a 429, 5xx, timeout or connection error.
        backoff_base: First retry delay in seconds, doubled at each retry (jittered with `seed`).
        backoff_max: Longest retry delay in seconds (a server's Retry-After is honoured as given).
        temperature: Sampling temperature; 0 is greedy.
        top_p: Nucleus sampling mass; None leaves the server's default.
        max_tokens: Most tokens generated per response.
        seed: Seed sent with each request, and behind the retry jitter and local sampling.
        extra_body: Extra JSON fields sent with each request (e.g. vLLM's `chat_template_kwargs`).
        questions_per_chunk: Questions asked for per chunk.
        question_prompt: Template of the question request; placeholders {text}, {title}, {n},
            {doc_id}, {chunk_id}. None is the built-in template. Literal braces are doubled.
        answer_prompt: Template of the answer request; placeholders {question}, {oracle},
            {context}, {title}, {reference_answer}. None is the built-in template.
        include_context_in_answer_prompt: Show the model the whole context (distractors and the
            oracle) instead of the oracle alone.
        answer_retries: Follow-up requests, naming the failure, for an answer that fails
            verification before it is dropped.
        cache_path: SQLite file keeping every response; None is
            `~/.cache/raft_dataset/llm_cache.sqlite`, "" keeps responses in memory only.
        batch_size: Prompts per forward pass ("transformers").
        device: Torch device ("transformers"); None picks cuda when available, else cpu.
        dtype: Torch dtype name ("transformers"), e.g. "bfloat16"; "auto" follows the weights.
        progress: Show tqdm progress bars.
    """

    backend: str = "openai-compatible"
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 512
    seed: int | None = 0
    extra_body: dict | None = None
    questions_per_chunk: int = 3
    question_prompt: str | None = None
    answer_prompt: str | None = None
    include_context_in_answer_prompt: bool = False
    answer_retries: int = 1
    cache_path: str | None = None
    batch_size: int = 8
    device: str | None = None
    dtype: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        _validate(self, "llm")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "llm") -> LLMConfig:
        """A validated config from a mapping; raises ValueError naming `where.key` on a bad key."""
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a mapping of settings, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key == "api_key":
                raise ValueError(
                    f"{where}.api_key: keys are never put in a config; set {where}.api_key_env to the name "
                    "of an environment variable holding it"
                )
            if key not in names:
                raise ValueError(f"unknown key {where}.{key}")
        cfg = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(cfg, f.name, d.get(f.name, default))
        _validate(cfg, where)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (there is no secret in them to hide)."""
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A hash of the settings that change what is generated (not concurrency, cache or progress)."""
        operational = {"max_concurrency", "timeout", "max_retries", "backoff_base", "backoff_max",
                       "cache_path", "progress", "batch_size", "device", "api_key_env"}
        decisive = {k: v for k, v in self.to_dict().items() if k not in operational}
        return hashlib.sha256(_canonical_json(decisive).encode()).hexdigest()[:16]


# -- validation -------------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "backend": (str,), "model": (str,), "base_url": (str, type(None)), "api_key_env": (str, type(None)),
    "max_concurrency": (int,), "timeout": (int, float), "max_retries": (int,), "backoff_base": (int, float),
    "backoff_max": (int, float), "temperature": (int, float), "top_p": (int, float, type(None)),
    "max_tokens": (int,), "seed": (int, type(None)), "extra_body": (dict, type(None)),
    "questions_per_chunk": (int,), "question_prompt": (str, type(None)), "answer_prompt": (str, type(None)),
    "include_context_in_answer_prompt": (bool,), "answer_retries": (int,), "cache_path": (str, type(None)),
    "batch_size": (int,), "device": (str, type(None)), "dtype": (str,), "progress": (bool,),
}


def _type_label(types: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "a mapping", type(None): "null"}
    if types[:2] == (int, float):
        types = (float, *types[2:])
    return " or ".join(names[t] for t in types)


def _validate(cfg: LLMConfig, where: str) -> None:
    """Raise ValueError with a one-line message naming the first bad key."""
    for name, types in _TYPES.items():
        value = getattr(cfg, name)
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            raise ValueError(f"{where}.{name}: expected {_type_label(types)}, got {type(value).__name__}")
    if cfg.backend not in BACKENDS:
        raise ValueError(f"{where}.backend: must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}")
    if not cfg.model.strip():
        raise ValueError(f"{where}.model: required (a model name, or a local path for 'transformers')")
    for name in ("max_concurrency", "max_tokens", "questions_per_chunk", "batch_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{where}.{name}: must be >= 1, got {getattr(cfg, name)}")
    for name in ("max_retries", "answer_retries", "backoff_base", "backoff_max"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{where}.{name}: must be >= 0, got {getattr(cfg, name)}")
    if cfg.timeout <= 0:
        raise ValueError(f"{where}.timeout: must be > 0 seconds, got {cfg.timeout}")
    if not 0.0 <= cfg.temperature <= 2.0:
        raise ValueError(f"{where}.temperature: must be between 0 and 2, got {cfg.temperature}")
    if cfg.top_p is not None and not 0.0 < cfg.top_p <= 1.0:
        raise ValueError(f"{where}.top_p: must be in (0, 1], got {cfg.top_p}")
    if cfg.base_url is not None and not re.match(r"^https?://", cfg.base_url):
        raise ValueError(f"{where}.base_url: must start with http:// or https://, got {cfg.base_url!r}")
    if cfg.base_url is not None and "@" in cfg.base_url.split("//", 1)[1].split("/", 1)[0]:
        # Not echoed: it holds a password. Keys go through api_key_env, never into cache keys.
        raise ValueError(f"{where}.base_url: must not contain credentials (user:password@); use api_key_env")
    if cfg.base_url is not None and ("?" in cfg.base_url or "#" in cfg.base_url):
        # A query string is where some gateways take a key: it would end up in the cache. Not echoed.
        raise ValueError(f"{where}.base_url: must not contain a query string; use api_key_env for keys")
    if cfg.extra_body is not None and any(_SECRET_KEY_RE.search(str(k)) for k in cfg.extra_body):
        raise ValueError(f"{where}.extra_body: must not carry keys or tokens; use api_key_env")
    if cfg.api_key_env is not None and not _ENV_NAME_RE.match(cfg.api_key_env):
        # Never echo the value: a user may have pasted the key itself here.
        raise ValueError(f"{where}.api_key_env: must be the NAME of an environment variable (e.g. OPENAI_API_KEY)")
    if cfg.extra_body is not None:
        try:
            json.dumps(cfg.extra_body)
        except (TypeError, ValueError):
            raise ValueError(f"{where}.extra_body: must be JSON-serialisable") from None
    _check_template(cfg.question_prompt, QUESTION_PLACEHOLDERS, ("text",), f"{where}.question_prompt")
    _check_template(cfg.answer_prompt, ANSWER_PLACEHOLDERS, ("question",), f"{where}.answer_prompt")
    if cfg.answer_prompt is not None and not {"oracle", "context"} & _placeholders(cfg.answer_prompt, ""):
        raise ValueError(f"{where}.answer_prompt: must contain {{oracle}} or {{context}}")


def _placeholders(template: str, where: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise ValueError(f"{where}: bad template ({err}); double literal braces as {{{{ and }}}}") from None


def _check_template(template: str | None, allowed: tuple[str, ...], required: tuple[str, ...], where: str) -> None:
    if template is None:
        return
    names = _placeholders(template, where)
    for name in sorted(names):
        if name not in allowed:
            raise ValueError(f"{where}: unknown placeholder {{{name}}} (allowed: {', '.join(allowed)})")
    for name in required:
        if name not in names:
            raise ValueError(f"{where}: must contain {{{name}}}")


# -- results and errors -----------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """One response: its text and token usage (`usage_estimated` when counted locally)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    usage_estimated: bool = False
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "finish_reason": self.finish_reason, "usage_estimated": self.usage_estimated}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], cached: bool = False) -> Completion:
        return cls(text=d["text"], prompt_tokens=d["prompt_tokens"], completion_tokens=d["completion_tokens"],
                   finish_reason=d.get("finish_reason"), usage_estimated=d.get("usage_estimated", False),
                   cached=cached)


@dataclass(frozen=True)
class Failure:
    """A request that got no response: `reason` is a stable identifier ("timeout", "http_401", ...)."""

    reason: str


class TransientError(Exception):
    """A failure worth retrying: `cause` names it ("rate_limited", "server_error", "timeout", ...)."""

    def __init__(self, cause: str, retry_after: float | None = None):
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that a retry will not fix (bad request, auth, unknown model)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- token counting ---------------------------------------------------------------------------



def count_tokens(text: str) -> int:
    """Tokens in `text` with tiktoken's cl100k_base, from the bundled offline copy."""
    from .stats import get_encoding

    return len(get_encoding("cl100k_base").encode(text, disallowed_special=()))


def count_message_tokens(messages: Messages) -> int:
    """An estimate of a chat prompt's tokens (contents plus a few per message for the roles)."""
    return sum(count_tokens(m["content"]) + 4 for m in messages)


# -- the cache --------------------------------------------------------------------------------


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_key(identity: Mapping[str, Any], params: Mapping[str, Any], messages: Messages) -> str:
    """sha256 of what decides a response: backend identity, generation parameters, messages."""
    payload = {"v": _CACHE_SCHEMA, **identity, "params": dict(params),
               "messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    return hashlib.sha256(_canonical_json(payload).encode()).hexdigest()


class ResponseCache:
    """Responses by request key in SQLite, one commit per response (WAL: survives kill -9).

    `path=None` keeps them in memory only.
    """

    def __init__(self, path: str | Path | None):
        self.path = None if path is None else Path(path).expanduser()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Used from the client's event-loop thread and from the caller's thread (stats, close).
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path), check_same_thread=False)
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process crashes
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, request TEXT NOT NULL, "
            "response TEXT NOT NULL, created REAL NOT NULL)"
        )
        self._db.commit()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else Completion.from_json(json.loads(row[0]), cached=True)

    def put(self, key: str, request: Mapping[str, Any], completion: Completion) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                (key, _canonical_json(request), _canonical_json(completion.to_json()), time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# -- backends ---------------------------------------------------------------------------------


class Backend(Protocol):
    """A way to turn chat messages into completions.

    `batch_size` prompts go into one `generate` call, and `parallelism` calls may run at once.
    `generate` raises TransientError (retried) or PermanentError (counted as a failure).
    """

    kind: str
    batch_size: int
    parallelism: int

    def identity(self) -> dict[str, Any]: ...

    async def generate(self, batch: Sequence[Messages], params: Mapping[str, Any]) -> list[Completion]: ...

    async def aclose(self) -> None: ...


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` / `Retry-After` (seconds or an HTTP date), if any."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        value = lower.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


_TRANSIENT_STATUS = {408: "timeout", 409: "server_error", 425: "server_error", 429: "rate_limited"}


class OpenAICompatibleBackend:
    """Any `/v1/chat/completions` server, through `openai.AsyncOpenAI` (its own retries off)."""

    kind = "openai-compatible"
    batch_size = 1

    def __init__(self, cfg: LLMConfig):
        import openai

        self._openai = openai
        self.cfg = cfg
        self.parallelism = cfg.max_concurrency
        self.base_url = (cfg.base_url or "https://api.openai.com/v1").rstrip("/")
        api_key = "not-needed"  # local servers ignore it; the client requires something
        if cfg.api_key_env is not None:
            api_key = os.environ.get(cfg.api_key_env, "")
            if not api_key:
                raise ValueError(f"llm.api_key_env: environment variable {cfg.api_key_env} is not set or empty")
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0,
                                          timeout=cfg.timeout)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "base_url": self.base_url, "model": self.cfg.model}

    async def generate(self, batch: Sequence[Messages], params: Mapping[str, Any]) -> list[Completion]:
        return [await self._one(messages, params) for messages in batch]

    async def _one(self, messages: Messages, params: Mapping[str, Any]) -> Completion:
        openai = self._openai
        kwargs: dict[str, Any] = {"model": self.cfg.model, "messages": [dict(m) for m in messages],
                                  "temperature": params["temperature"], "max_tokens": params["max_tokens"]}
        for name in ("top_p", "seed"):
            if params.get(name) is not None:
                kwargs[name] = params[name]
        if params.get("extra_body"):
            kwargs["extra_body"] = params["extra_body"]
        try:
            # The client's own timeout covers each read; this bounds the whole request.
            response = await asyncio.wait_for(self._client.chat.completions.create(**kwargs), self.cfg.timeout)
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise TransientError("timeout") from None
        except openai.APIConnectionError:
            raise TransientError("connection") from None
        except openai.APIStatusError as err:
            status = err.status_code
            retry_after = parse_retry_after(getattr(err.response, "headers", None))
            if status in _TRANSIENT_STATUS:
                raise TransientError(_TRANSIENT_STATUS[status], retry_after) from None
            if status >= 500:
                raise TransientError("server_error", retry_after) from None
            raise PermanentError(f"http_{status}") from None
        except (openai.APIError, ValueError):  # a 200 whose body is not a chat completion
            raise TransientError("bad_response") from None
        if not getattr(response, "choices", None):
            raise TransientError("bad_response")
        choice = response.choices[0]
        text = (choice.message.content if choice.message is not None else None) or ""
        usage = response.usage
        if usage is not None and usage.prompt_tokens is not None and usage.completion_tokens is not None:
            return Completion(text, usage.prompt_tokens, usage.completion_tokens, choice.finish_reason)
        return Completion(text, count_message_tokens(messages), count_tokens(text), choice.finish_reason,
                          usage_estimated=True)

    async def aclose(self) -> None:
        await self._client.close()


class TransformersBackend:
    """A local causal LM (path or Hub id) generating in-process, `batch_size` prompts at a time."""

    kind = "transformers"
    parallelism = 1

    def __init__(self, cfg: LLMConfig):
        self.cfg = cfg
        self.batch_size = cfg.batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "base_url": None, "model": self.cfg.model}

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.cfg.model)
        tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        device = self.cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(self.cfg.model, dtype=self.cfg.dtype).to(device)
        model.eval()
        self._model, self._tokenizer = model, tokenizer

    def render(self, messages: Messages) -> str:
        """The prompt text: the tokenizer's chat template, else plain "role: content" turns."""
        tok = self._tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template([dict(m) for m in messages], tokenize=False, add_generation_prompt=True)
        turns = "".join(f"{m['role']}: {m['content']}\n\n" for m in messages)
        return turns + "assistant:"

    async def generate(self, batch: Sequence[Messages], params: Mapping[str, Any]) -> list[Completion]:
        return await asyncio.to_thread(self._generate_sync, batch, params)

    def _generate_sync(self, batch: Sequence[Messages], params: Mapping[str, Any]) -> list[Completion]:
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            tok, model = self._tokenizer, self._model
            prompts = [self.render(m) for m in batch]
            templated = bool(getattr(tok, "chat_template", None))
            # A chat template writes its own special tokens.
            inputs = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=not templated)
            inputs = inputs.to(model.device)
            sample = params["temperature"] > 0
            gen_kwargs: dict[str, Any] = {"max_new_tokens": params["max_tokens"], "do_sample": sample,
                                          "pad_token_id": tok.pad_token_id}
            if sample:
                gen_kwargs["temperature"] = params["temperature"]
                if params.get("top_p") is not None:
                    gen_kwargs["top_p"] = params["top_p"]
            if params.get("seed") is not None:
                torch.manual_seed(params["seed"])
            with torch.no_grad():
                out = model.generate(**inputs, **gen_kwargs)
            width = inputs["input_ids"].shape[1]
            results = []
            eos = {tok.eos_token_id, tok.pad_token_id} - {None}
            for row, mask in zip(out, inputs["attention_mask"]):
                new = row[width:].tolist()
                n_new = next((i + 1 for i, t in enumerate(new) if t in eos), len(new))
                text = tok.decode(new[:n_new], skip_special_tokens=True)
                reason = "stop" if n_new < len(new) or (new and new[-1] in eos) else "length"
                results.append(Completion(text, int(mask.sum()), n_new, reason))
            return results

    async def aclose(self) -> None:
        self._model = None


# -- accounting -------------------------------------------------------------------------------


@dataclass
class StageStats:
    """Counters of one stage ("questions", "answers")."""

    requests: int = 0
    cache_hits: int = 0
    api_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    usage_estimated: int = 0
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    wall_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for name in ("retries", "failures", "outcomes"):
            d[name] = dict(sorted(getattr(self, name).items()))
        d["wall_time_s"] = round(self.wall_time_s, 3)
        return d


# -- the client -------------------------------------------------------------------------------


class LLMClient:
    """Runs chat requests through a backend: cached, concurrent, retried, counted, in order.

    The generators are synchronous, so the client runs its own event loop in a daemon thread and
    `complete()` blocks until every request has an answer or has failed.
    """

    def __init__(self, backend: Backend, cfg: LLMConfig, cache: ResponseCache):
        self.backend = backend
        self.config = cfg  # the generators take their settings from here too
        self.cache = cache
        self.params: dict[str, Any] = {"temperature": cfg.temperature, "top_p": cfg.top_p,
                                       "max_tokens": cfg.max_tokens, "seed": cfg.seed,
                                       "extra_body": cfg.extra_body or None}
        self._stages: dict[str, StageStats] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # The public, synchronous API.

    def complete(self, requests: Sequence[Messages], stage: str) -> list[Completion | Failure]:
        """One Completion (or Failure) per request, in request order; identical requests are sent once."""
        if not requests:
            return []
        future = asyncio.run_coroutine_threadsafe(self._complete(requests, stage), self._ensure_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C: stop sending; what was committed stays in the cache
            raise

    def record(self, stage: str, outcome: str, n: int = 1) -> None:
        """Count a generator-level outcome of a stage (e.g. "accepted", "rejected:quote_not_in_oracle")."""
        self._stage(stage).outcomes[outcome] += n

    def stats(self) -> dict[str, Any]:
        """JSON-able accounting: totals and per-stage requests, cache hits, tokens, retries, failures."""
        stages = {name: s.to_dict() for name, s in self._stages.items()}
        totals: dict[str, Any] = {}
        for s in stages.values():
            for k, v in s.items():
                if k == "outcomes":
                    continue
                if isinstance(v, dict):
                    bucket = totals.setdefault(k, {})
                    for kk, vv in v.items():
                        bucket[kk] = bucket.get(kk, 0) + vv
                else:
                    totals[k] = round(totals.get(k, 0) + v, 3)
        ident = self.backend.identity()
        return {"backend": ident["backend"], "model": ident["model"], "base_url": ident["base_url"],
                "totals": totals, "stages": stages}

    def close(self) -> None:
        """Close the backend, the event loop and the cache."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.backend.aclose(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join()
            self._loop.close()
            self._loop = None
        self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Internals.

    def _stage(self, stage: str) -> StageStats:
        return self._stages.setdefault(stage, StageStats())

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="raft-llm-loop", daemon=True)
            self._thread.start()
        return self._loop

    async def _complete(self, requests: Sequence[Messages], stage: str) -> list[Completion | Failure]:
        started = time.monotonic()
        st = self._stage(stage)
        ident = self.backend.identity()
        keys = [request_key(ident, self.params, m) for m in requests]
        unique: dict[str, Messages] = {}
        for key, messages in zip(keys, requests):
            unique.setdefault(key, messages)
        st.requests += len(unique)
        results: dict[str, Completion | Failure] = {}
        for key in unique:
            hit = self.cache.get(key)
            if hit is not None:
                results[key] = hit
                st.cache_hits += 1
                st.cached_prompt_tokens += hit.prompt_tokens
                st.cached_completion_tokens += hit.completion_tokens
        bar = tqdm(total=len(unique), initial=len(results), desc=f"LLM {stage}", unit="req",
                   disable=not self.config.progress, dynamic_ncols=True)
        fresh_tokens = 0

        def done(key: str, result: Completion | Failure) -> None:
            nonlocal fresh_tokens
            results[key] = result
            if isinstance(result, Completion):
                fresh_tokens += result.completion_tokens
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.update(1)
            bar.set_postfix(tok_s=f"{fresh_tokens / elapsed:.0f}", hits=st.cache_hits,
                            retries=sum(st.retries.values()), failed=sum(st.failures.values()), refresh=False)

        # Fixed batches over the ordered unique requests: a batch's composition (and so a local
        # model's padded outputs) does not depend on what an interrupted run left in the cache.
        order = list(unique)
        size = self.backend.batch_size
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        todo = [b for b in batches if any(k not in results for k in b)]
        gate = asyncio.Semaphore(self.backend.parallelism)

        async def run(batch: list[str]) -> None:
            async with gate:
                out = await self._attempts(batch, [unique[k] for k in batch], st)
            for key, result in zip(batch, out):
                if key in results:  # already cached: keep the stored response
                    continue
                if isinstance(result, Completion):
                    self.cache.put(key, {**ident, "params": self.params, "messages": list(map(dict, unique[key]))},
                                   result)
                    st.prompt_tokens += result.prompt_tokens
                    st.completion_tokens += result.completion_tokens
                    st.usage_estimated += int(result.usage_estimated)
                else:
                    st.failures[result.reason] += 1
                done(key, result)

        tasks = [asyncio.ensure_future(run(b)) for b in todo]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            bar.close()
            st.wall_time_s += time.monotonic() - started
        return [results[k] for k in keys]

    async def _attempts(self, keys: list[str], batch: list[Messages], st: StageStats) -> list[Completion | Failure]:
        """A batch through the backend, retried on transient errors with backoff or Retry-After."""
        attempt = 0
        while True:
            st.api_calls += 1
            try:
                return await self.backend.generate(batch, self.params)
            except PermanentError as err:
                return [Failure(err.reason)] * len(batch)
            except TransientError as err:
                if attempt >= self.config.max_retries:
                    return [Failure(err.cause)] * len(batch)
                st.retries[err.cause] += 1
                await asyncio.sleep(self._delay(keys[0], attempt, err.retry_after))
                attempt += 1

    def _delay(self, key: str, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the server gave one, else exponential backoff with seeded jitter."""
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        rng = random.Random(f"{self.config.seed}:{key}:{attempt}")
        return min(self.config.backoff_max, self.config.backoff_base * 2**attempt) * (0.5 + 0.5 * rng.random())


def make_llm_client(cfg: LLMConfig | Mapping[str, Any]) -> LLMClient:
    """The client for a config (a mapping is validated with `LLMConfig.from_dict`)."""
    if not isinstance(cfg, LLMConfig):
        cfg = LLMConfig.from_dict(cfg)
    backend: Backend
    if cfg.backend == "openai-compatible":
        backend = OpenAICompatibleBackend(cfg)
    else:
        backend = TransformersBackend(cfg)
    if cfg.cache_path == "":
        cache_path = None
    else:
        cache_path = Path(cfg.cache_path).expanduser() if cfg.cache_path else DEFAULT_CACHE_PATH
    return LLMClient(backend, cfg, ResponseCache(cache_path))
