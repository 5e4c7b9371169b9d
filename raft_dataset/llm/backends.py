"""The LLM backends behind `LLMClient`: one interface, `Backend.generate(batch, params) -> list[Completion]`.

- `OpenAICompatibleBackend`: any server speaking `/v1/chat/completions` (OpenAI, vLLM, Ollama, TGI,
  `transformers serve`, ...), through the `openai` client with its retries off: the client retries,
  so that retries are counted and honour `Retry-After` (`parse_retry_after`).
- `TransformersBackend`: a local causal LM generating in-process, batched.

A backend raises `TransientError` (retried by the client) or `PermanentError` (a `Failure`), each
with a failure kind (`FAILURE_KINDS`) and a detail for the user that never holds a key.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .config import LLMConfig, mask_secrets, redact_url, shown

Message = Mapping[str, str]
Messages = Sequence[Message]


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


# Why a request got no response. "authentication" and "not_found" are the same for every request,
# so the client stops at the first; the others are retried (all but bad_request) and counted.
FAILURE_KINDS = {
    "authentication": "the server refused the API key (HTTP 401/403)",
    "not_found": "the server has no such endpoint or model (HTTP 404)",
    "bad_request": "the server rejected the request (HTTP 4xx)",
    "rate_limited": "the server kept asking to slow down (HTTP 429)",
    "timeout": "no response in time",
    "server_error": "the server failed (HTTP 5xx)",
    "connection": "the server could not be reached",
    "parse_error": "the reply was not a chat completion",
}


@dataclass(frozen=True)
class Failure:
    """A request that got no response: `reason` is one of `FAILURE_KINDS`; `detail` says what
    happened for the user ("HTTP 401 from http://host/v1"), with any key-like text masked."""

    reason: str
    detail: str = ""


class TransientError(Exception):
    """A failure worth retrying: `cause` is its kind ("rate_limited", "server_error", "timeout", ...)."""

    def __init__(self, cause: str, retry_after: float | None = None, detail: str = ""):
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after
        self.detail = detail


class PermanentError(Exception):
    """A failure that a retry will not fix (bad request, authentication, unknown model)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class LLMError(RuntimeError):
    """The LLM stage cannot go on (a refused key, an unknown model, a server that fails every request);
    the message says why, with counts, and what to check."""


# -- token counting ---------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """Tokens in `text` with tiktoken's cl100k_base, from the bundled offline copy."""
    from ..tokens import get_encoding

    return len(get_encoding("cl100k_base").encode(text, disallowed_special=()))


def count_message_tokens(messages: Messages) -> int:
    """An estimate of a chat prompt's tokens (contents plus a few per message for the roles)."""
    return sum(count_tokens(m["content"]) + 4 for m in messages)


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
            ms = float(lower["retry-after-ms"])
            return max(0.0, ms / 1000) if not math.isnan(ms) else None
        value = lower.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        return max(0.0, seconds) if not math.isnan(seconds) else None
    except (TypeError, ValueError, OverflowError):
        return None


_TRANSIENT_STATUS = {408: "timeout", 409: "server_error", 425: "server_error", 429: "rate_limited"}
_PERMANENT_STATUS = {401: "authentication", 403: "authentication", 404: "not_found"}


def _server_message(err: Exception) -> str:
    """The server's own error message, short and with key-like parts masked (some servers echo the key)."""
    body = getattr(err, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    return ": " + mask_secrets(" ".join(message.split()))[:160]


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
        self.shown_url = redact_url(self.base_url)  # what is hashed, stored and shown
        api_key = "not-needed"  # local servers ignore it; the client requires something
        if cfg.api_key_env is not None:
            api_key = os.environ.get(cfg.api_key_env, "")
            if not api_key:
                raise ValueError(f"llm.api_key_env: environment variable {shown(cfg.api_key_env)[1:-1]} is not set "
                                 "or empty")
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0,
                                          timeout=cfg.timeout)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "base_url": self.shown_url, "model": self.cfg.model}

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
            raise TransientError("timeout", detail=f"no response within {self.cfg.timeout:g} s from "
                                                   f"{self.shown_url}") from None
        except openai.APIConnectionError:
            raise TransientError("connection", detail=f"cannot connect to {self.shown_url}") from None
        except openai.APIStatusError as err:
            status = err.status_code
            retry_after = parse_retry_after(getattr(err.response, "headers", None))
            detail = f"HTTP {status} from {self.shown_url}{_server_message(err)}"
            if status in _TRANSIENT_STATUS:
                raise TransientError(_TRANSIENT_STATUS[status], retry_after, detail) from None
            if status >= 500:
                raise TransientError("server_error", retry_after, detail) from None
            raise PermanentError(_PERMANENT_STATUS.get(status, "bad_request"), detail) from None
        except (openai.APIError, ValueError):  # a 200 whose body is not a chat completion
            raise TransientError("parse_error", detail=f"the reply from {self.shown_url} is not a chat "
                                                       "completion") from None
        if not getattr(response, "choices", None):
            raise TransientError("parse_error", detail=f"the reply from {self.shown_url} has no choices")
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
