"""LLM backends behind one small client: request cache, retries, concurrency and accounting.

- `config`: `LLMConfig`, the `llm:` block of a build config, and its validation.
- `backends`: the `Backend` protocol, `OpenAICompatibleBackend` (any `/v1/chat/completions`
  server), `TransformersBackend` (a local causal LM), results (`Completion`, `Failure`) and errors.
- `client`: `LLMClient` (cached, concurrent, retried, counted, in order), `ResponseCache`,
  `StageStats`, `make_backend` and `make_llm_client`.
- `generation`: `LLMQuestionGenerator` and `LLMAnswerGenerator`, the generators built on a client.
  They depend on the higher modules (answers, queries, chunking), so they are loaded on first use:
  importing `raft_dataset.llm` (e.g. to validate a config) does not import them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .backends import (
    FAILURE_KINDS,
    Backend,
    Completion,
    Failure,
    LLMError,
    Message,
    Messages,
    OpenAICompatibleBackend,
    PermanentError,
    TransformersBackend,
    TransientError,
    count_message_tokens,
    count_tokens,
    parse_retry_after,
)
from .client import (
    LLMClient,
    ResponseCache,
    StageStats,
    default_llm_cache_path,
    make_backend,
    make_llm_client,
    request_key,
)
from .config import (
    ANSWER_PLACEHOLDERS,
    BACKENDS,
    QUESTION_PLACEHOLDERS,
    LLMConfig,
    looks_like_secret,
    mask_secrets,
    redact_url,
    shown,
)

if TYPE_CHECKING:
    from pathlib import Path

    from .generation import LLMAnswerGenerator, LLMQuestionGenerator

    DEFAULT_CACHE_PATH: Path

__all__ = [
    "ANSWER_PLACEHOLDERS", "BACKENDS", "DEFAULT_CACHE_PATH", "FAILURE_KINDS", "QUESTION_PLACEHOLDERS", "Backend",
    "Completion", "Failure", "LLMAnswerGenerator", "LLMClient", "LLMConfig", "LLMError", "LLMQuestionGenerator", "Message", "Messages",
    "OpenAICompatibleBackend", "PermanentError", "ResponseCache", "StageStats", "TransformersBackend",
    "TransientError", "count_message_tokens", "count_tokens", "default_llm_cache_path", "make_backend", "make_llm_client",
    "looks_like_secret", "mask_secrets", "parse_retry_after", "redact_url", "request_key", "shown",
]

_LAZY = {"LLMQuestionGenerator": "generation", "LLMAnswerGenerator": "generation"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name == "DEFAULT_CACHE_PATH":  # follows $RAFT_DATASET_CACHE / $XDG_CACHE_HOME at the time of use
        return default_llm_cache_path()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
