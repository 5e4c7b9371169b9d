"""`LLMClient`: chat requests through a backend, cached, concurrent, retried, counted and in order.

`LLMClient.complete(requests, stage)` returns one result per request, in request order whatever
the completion order. Every response is committed to a SQLite cache as it arrives (key: sha256 of
backend kind, base URL, model, generation parameters and messages; never the API key), so an
interrupted build pays on rerun only for what is missing, and reruns give the same outputs.
Transient errors are retried with seeded exponential backoff, or after the server's Retry-After
(both capped by `backoff_max`). Failures are counted by kind (`FAILURE_KINDS`); a refused key or an
unknown model, or a long run of failed requests, stops the stage with an `LLMError` that says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..cache import KVStore, Namespace, default_cache_dir
from .backends import (
    FAILURE_KINDS,
    Backend,
    Completion,
    Failure,
    LLMError,
    Messages,
    OpenAICompatibleBackend,
    PermanentError,
    TransformersBackend,
    TransientError,
)
from .config import LLMConfig, canonical_json

LLM_CACHE_FILENAME = "llm_cache.sqlite"
_CACHE_SCHEMA = 1
# Failures the same for every request: the first one stops the stage (no point sending the rest).
_FATAL_FAILURES = frozenset({"authentication", "not_found"})
# Requests failing in a row (each after its retries) that stop a stage: the server is down or broken.
_FAILURES_IN_A_ROW_TO_STOP = 20
# The table of the response cache (the layout every earlier version wrote, so old caches keep hitting).
RESPONSES = Namespace("responses", key_type="TEXT", value_column="response", value_type="TEXT",
                      extra_columns=(("request", "TEXT"), ("created", "REAL")))


def default_llm_cache_path() -> Path:
    """`llm_cache.sqlite` in the default cache folder (`raft_dataset.cache.default_cache_dir()`)."""
    return default_cache_dir() / LLM_CACHE_FILENAME


# -- the cache --------------------------------------------------------------------------------


def request_key(identity: Mapping[str, Any], params: Mapping[str, Any], messages: Messages) -> str:
    """sha256 of what decides a response: backend identity, generation parameters, messages."""
    payload = {"v": _CACHE_SCHEMA, **identity, "params": dict(params),
               "messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


class ResponseCache:
    """Responses by request key in SQLite, one commit per response (WAL: survives kill -9).

    A `raft_dataset.cache.KVStore` namespace ("responses"); the request behind each response and
    the time it was stored are kept beside it. `path=None` keeps them in memory only.
    """

    def __init__(self, path: str | Path | None):
        self.path = None if path is None else Path(path).expanduser()
        self._store = KVStore(self.path, RESPONSES, what="LLM response cache")

    def get(self, key: str) -> Completion | None:
        value = self._store.get(key)
        return None if value is None else Completion.from_json(json.loads(value), cached=True)

    def put(self, key: str, request: Mapping[str, Any], completion: Completion) -> None:
        self._store.put(key, canonical_json(completion.to_json()),
                        {"request": canonical_json(request), "created": time.time()})

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    # The first detail of each failure kind, for messages (it names the server: not in `to_dict`).
    failure_details: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["failure_details"]
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
        self._failures_in_a_row = 0
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
        stats = {"backend": ident["backend"], "model": ident["model"], "base_url": ident["base_url"],
                 "totals": totals, "stages": stages}
        workers = getattr(self.backend, "workers", None)  # a backend spread over processes says how
        if workers is not None:
            stats["workers"] = workers()
        return stats

    def failure_summary(self, stage: str | None = None) -> str | None:
        """What went wrong with the requests of a stage (all stages when None), for the user, or None:
        "12 requests failed (authentication: 12 — HTTP 401 from http://host/v1: check ...)"."""
        if stage is None:
            stages = list(self._stages.values())
        else:
            stages = [self._stages[stage]] if stage in self._stages else []
        failures: Counter = Counter()
        details: dict[str, str] = {}
        for st in stages:
            failures.update(st.failures)
            for kind, detail in st.failure_details.items():
                details.setdefault(kind, detail)
        if not failures:
            return None
        parts = []
        for kind, n in failures.most_common():
            what = details.get(kind) or FAILURE_KINDS.get(kind, kind)
            parts.append(f"{kind}: {n} — {what}: {self._hint(kind)}")
        total = sum(failures.values())
        return f"{total} request{'s' if total != 1 else ''} failed ({'; '.join(parts)})"

    def _hint(self, kind: str) -> str:
        cfg = self.config
        if kind == "authentication":
            if cfg.api_key_env is None:
                return "set llm.api_key_env to the name of the environment variable holding the key"
            return f"check llm.api_key_env (the key in ${cfg.api_key_env})"
        return {
            "not_found": "check llm.model and llm.base_url (it usually ends in /v1)",
            "bad_request": "check llm.model, llm.max_tokens and llm.extra_body",
            "rate_limited": "lower llm.max_concurrency or raise llm.max_retries",
            "timeout": "raise llm.timeout or lower llm.max_concurrency",
            "server_error": "see the server's log",
            "connection": "is the server running at llm.base_url?",
            "parse_error": "check that llm.base_url is an OpenAI-compatible server's /v1",
        }.get(kind, "see the server's log")

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

        stopped: list[str] = []  # why the stage stops: set by the failure that says so, then nothing is sent

        async def run(batch: list[str]) -> None:
            async with gate:
                if stopped:
                    return
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
                    self._failures_in_a_row = 0
                else:
                    st.failures[result.reason] += 1
                    st.failure_details.setdefault(result.reason, result.detail)
                    self._failures_in_a_row += 1
                done(key, result)
                why = self._hopeless(result)
                if why is not None and not stopped:
                    stopped.append(why)

        tasks = [asyncio.ensure_future(run(b)) for b in todo]
        try:
            await asyncio.gather(*tasks)  # once stopped, the requests in flight finish and the rest return
        finally:
            for task in tasks:
                task.cancel()
            bar.close()
            st.wall_time_s += time.monotonic() - started
        if stopped:  # what was received is cached: a rerun after the fix pays only for the rest
            raise LLMError(f"LLM {stage} stopped ({stopped[0]}; {len(unique) - len(results)} requests not sent): "
                           f"{self.failure_summary(stage)}")
        return [results[k] for k in keys]

    def _hopeless(self, result: Completion | Failure) -> str | None:
        """Why no more requests should be sent, or None: a refused key or an unknown model (the same for
        every request), or a long run of failed requests (the server is down or broken)."""
        if not isinstance(result, Failure):
            return None
        if result.reason in _FATAL_FAILURES:
            return FAILURE_KINDS[result.reason]
        if self._failures_in_a_row >= max(_FAILURES_IN_A_ROW_TO_STOP, 2 * self.backend.parallelism):
            return f"{self._failures_in_a_row} requests in a row failed"
        return None

    async def _attempts(self, keys: list[str], batch: list[Messages], st: StageStats) -> list[Completion | Failure]:
        """A batch through the backend, retried on transient errors with backoff or Retry-After."""
        attempt = 0
        while True:
            st.api_calls += 1
            try:
                return await self.backend.generate(batch, self.params)
            except PermanentError as err:
                return [Failure(err.reason, err.detail)] * len(batch)
            except TransientError as err:
                if attempt >= self.config.max_retries:
                    return [Failure(err.cause, err.detail)] * len(batch)
                st.retries[err.cause] += 1
                await asyncio.sleep(self._delay(keys[0], attempt, err.retry_after))
                attempt += 1

    def _delay(self, key: str, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the server gave one, else exponential backoff with seeded jitter; at most
        `backoff_max` either way (a server asking for hours must not park a build)."""
        if retry_after is not None:
            return min(retry_after, self.config.backoff_max)
        rng = random.Random(f"{self.config.seed}:{key}:{attempt}")
        return min(self.config.backoff_max, self.config.backoff_base * 2**attempt) * (0.5 + 0.5 * rng.random())


def make_backend(cfg: LLMConfig) -> Backend:
    """The backend a config names: an OpenAI-compatible server, or a local transformers model."""
    if cfg.backend == "openai-compatible":
        return OpenAICompatibleBackend(cfg)
    return TransformersBackend(cfg)


def make_llm_client(cfg: LLMConfig | Mapping[str, Any], backend: Backend | None = None) -> LLMClient:
    """The client for a config (a mapping is validated with `LLMConfig.from_dict`).

    `backend` replaces the config's own (e.g. the Ray executor's actor pool, which runs the config's
    backend in each actor): the cache, its keys and the accounting stay the same.
    """
    if not isinstance(cfg, LLMConfig):
        cfg = LLMConfig.from_dict(cfg)
    if cfg.cache_path == "":
        cache_path = None
    else:
        cache_path = Path(cfg.cache_path).expanduser() if cfg.cache_path else default_llm_cache_path()
    return LLMClient(backend or make_backend(cfg), cfg, ResponseCache(cache_path))
