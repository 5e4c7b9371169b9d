"""Helpers for the LLM tests: a tiny local chat model, a real `transformers serve` on loopback,
a fault-injecting HTTP proxy in front of it, and real chunks from the shared FastAPI docs.

Run as a script (`python tests/llm_fixtures.py job.json`) it performs one generation job in a
fresh process, which the resume test kills with SIGKILL.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parents[1].parent / "shared"
FASTAPI_DOCS = SHARED / "corpora" / "fastapi_docs"
SERVER_START_TIMEOUT = 120.0

# Real sentences for the tiny tokenizer to learn from (its outputs are garbage either way).
_TOKENIZER_TEXT = [
    "FastAPI is a modern, fast web framework for building APIs with Python based on type hints.",
    "Declare your path operation functions with async def when you call libraries that use await.",
    "##begin_quote## You can only use await inside of functions created with async def. ##end_quote##",
    "<ANSWER>: Use async def.", "1. What is FastAPI? 2. How do I declare a path operation?",
    '["What is a dependency?", "How are query parameters validated?"]',
]


# -- a tiny chat model ------------------------------------------------------------------------


def build_tiny_chat_model(out: Path) -> Path:
    """A random-weight 1-layer Llama with a locally trained byte-level BPE and a chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(_TOKENIZER_TEXT * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
    )
    tokenizer.save_pretrained(out)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


# -- `transformers serve` ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServeProcess:
    """A running `transformers serve` with its model preloaded."""

    process: subprocess.Popen
    base_url: str  # with /v1
    model: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the server and its children
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_transformers_serve(model_dir: Path, log_path: Path, timeout: float = SERVER_START_TIMEOUT) -> ServeProcess:
    """Start `transformers serve` on 127.0.0.1 and wait until /v1/models lists the model."""
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
         "--default-seed", "0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    server = ServeProcess(process, f"http://127.0.0.1:{port}/v1", str(model_dir), log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"transformers serve exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as resp:
                if str(model_dir) in resp.read().decode():
                    return server
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"transformers serve not ready after {timeout:.0f}s: {log_path.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="session")
def llm_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One `transformers serve` over the tiny model for the whole test session."""
    server = start_transformers_serve(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        yield server
    finally:
        server.stop()


# -- a fault-injecting proxy ------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Answer with this instead of forwarding (e.g. a 429 with Retry-After, a 500, a broken body)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Stall:
    """Hold the request this long, then drop the connection (the client should time out first)."""

    seconds: float


Action = Reply | Stall | None  # None forwards the request to the server


@dataclass
class Seen:
    """One request as the proxy saw it."""

    key: str
    attempt: int
    body: dict
    authorization: str | None
    outcome: str
    at: float  # time.monotonic() on arrival
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def messages_key(messages: list) -> str:
    """Identity of a request at the proxy (all other parameters are fixed within a test)."""
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


@dataclass
class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that logs requests, injects faults and may script completions.

    `plan(body, attempt)` picks an Action for the n-th attempt of a request (0 first);
    `responder(body)` may return a text to put in place of the server's completion (the request
    still goes to the server, so the wire path and usage stay real); `delay(body)` slows a
    forwarded request by that many seconds.

    With `upstream=None` it is itself a fake OpenAI-compatible server: a forwarded request is
    answered with `responder(body)` (or "OK") and usage counted in words, without any model. Any path
    ending in /chat/completions is served (a base URL may have extra segments, as gateways' do).
    """

    upstream: str | None  # e.g. http://127.0.0.1:8000 (no /v1); None answers locally
    plan: Callable[[dict, int], Action] | None = None
    responder: Callable[[dict], str | None] | None = None
    delay: Callable[[dict], float] | None = None
    seen: list[Seen] = field(default_factory=list)
    usage: list[dict] = field(default_factory=list)  # the server's usage of each forwarded request
    in_flight: int = 0
    max_in_flight: int = 0
    _attempts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def completed(self) -> list[Seen]:
        return [s for s in self.seen if s.outcome == "forwarded"]

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, data = proxy._forward("GET", self.path, None, {})
                self._send(status, data, headers)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                key = messages_key(body["messages"])
                with proxy._lock:
                    attempt = proxy._attempts.get(key, 0)
                    proxy._attempts[key] = attempt + 1
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                try:
                    self._post(raw, body, key, attempt)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            def _post(self, raw: bytes, body: dict, key: str, attempt: int) -> None:
                action = proxy.plan(body, attempt) if proxy.plan else None
                outcome = ("forwarded" if action is None else
                           "stall" if isinstance(action, Stall) else f"reply_{action.status}")
                with proxy._lock:
                    proxy.seen.append(Seen(key, attempt, body, self.headers.get("Authorization"), outcome,
                                           time.monotonic(), self.path, dict(self.headers.items())))
                if isinstance(action, Stall):
                    time.sleep(action.seconds)
                    self.close_connection = True
                    return
                if isinstance(action, Reply):
                    self._send(action.status, action.body, dict(action.headers))
                    return
                if proxy.delay is not None:
                    time.sleep(proxy.delay(body))
                status, headers, data = proxy._forward("POST", self.path, raw,
                                                       {"Content-Type": "application/json"})
                if status == 200:
                    reply = json.loads(data)
                    with proxy._lock:
                        proxy.usage.append(reply.get("usage", {}))
                    text = proxy.responder(body) if proxy.responder is not None else None
                    if text is not None:
                        reply["choices"][0]["message"]["content"] = text
                        data = json.dumps(reply).encode()
                self._send(status, data, headers)

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # the listen backlog (read when the socket starts listening)

        server = Server(("127.0.0.1", 0), Handler)
        self._server = server
        threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def _forward(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        if self.upstream is None:
            return 200, {}, _local_reply(method, body)
        host, port = self.upstream.split("//", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, {}, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _local_reply(method: str, body: bytes | None) -> bytes:
    """What a fake server answers: a model list, or a chat completion saying "OK" (the responder
    replaces the text), with usage counted in words."""
    if method == "GET" or body is None:
        return json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}).encode()
    request = json.loads(body)
    prompt_words = sum(len(m["content"].split()) for m in request["messages"])
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": request["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "OK"}}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": 1, "total_tokens": prompt_words + 1},
    }).encode()


def upstream_of(server: ServeProcess) -> str:
    return server.base_url.removesuffix("/v1")


# -- what a capable model would write ---------------------------------------------------------


def scripted_reply(body: dict) -> str:
    """What a capable model would write: two questions per passage, answers quoting the oracle."""
    prompt = body["messages"][-1]["content"]
    passage = re.search(r'Passage from "(.*?)":\n"""\n(.*?)\n"""', prompt, re.S)
    if passage:
        title, text = passage.groups()
        words = re.findall(r"[A-Za-z]{5,}", text)[:2] or ["it"]
        return json.dumps([f"What does {title} say about {word.lower()}?" for word in words] + ["Not a question."])
    # A follow-up ("Your answer cannot be used: ...") is answered from the first turn's documents.
    first_turn = next(m["content"] for m in body["messages"] if m["role"] == "user")
    document = re.search(r"<DOCUMENT>\nTitle: [^\n]*\n(.*?)\n</DOCUMENT>", first_turn, re.S).group(1)
    prose = re.sub(r"```.*?```", "", document, flags=re.S)  # a capable model quotes prose, not code
    sentence = next((line.strip() for line in prose.splitlines()
                     if len(line.split()) >= 5 and line.rstrip().endswith(".")), None)
    sentence = sentence or next((line.strip() for line in document.splitlines() if line.strip()), "Nothing.")
    return f"The document says ##begin_quote##{sentence}##end_quote##\n<ANSWER>: {sentence}"


# -- real chunks ------------------------------------------------------------------------------


_FALLBACK_PARAGRAPHS = [
    ("async", "Concurrency", "If you are using third party libraries that tell you to call them with await, "
     "declare your path operation functions with async def. You can only use await inside of functions "
     "created with async def."),
    ("tutorial/query-params", "Query Parameters", "When you declare other function parameters that are not "
     "part of the path parameters, they are automatically interpreted as query parameters."),
    ("tutorial/body", "Request Body", "To declare a request body, you use Pydantic models with all their "
     "power and benefits. Your API almost always has to send a response body."),
]


def sample_chunks(n: int, max_chars: int = 600) -> list:
    """`n` prose paragraphs of the shared FastAPI docs as Chunks (a few built-in ones without it)."""
    from raft_dataset.markup import parse as parse_markup
    from raft_dataset.records import Chunk

    paragraphs: list[tuple[str, str, str, int]] = []
    if FASTAPI_DOCS.is_dir():
        for path in sorted(FASTAPI_DOCS.rglob("*.md")):
            parsed = parse_markup(path.read_text(encoding="utf-8", errors="replace"), "markdown")
            text, title = parsed.text, parsed.title or path.stem  # clean text, as the corpus reader gives it
            start = 0
            for para in text.split("\n\n"):
                pos = text.find(para, start)
                start = pos + len(para)
                plain = para.strip()
                if 120 <= len(plain) <= max_chars and plain[0].isalpha() and "```" not in plain:
                    paragraphs.append((str(path.relative_to(FASTAPI_DOCS).with_suffix("")), title, para, pos))
                    break
            if len(paragraphs) == n:
                break
    while len(paragraphs) < n:
        doc, title, text = _FALLBACK_PARAGRAPHS[len(paragraphs) % len(_FALLBACK_PARAGRAPHS)]
        paragraphs.append((f"{doc}-{len(paragraphs)}", title, text, 0))
    return [Chunk(chunk_id=f"{doc}#0", doc_id=doc, title=title, text=text, start=pos, end=pos + len(text),
                  n_tokens=len(text.split())) for doc, title, text, pos in paragraphs]


def chunk_to_dict(chunk: Any) -> dict:
    return {"chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "title": chunk.title, "text": chunk.text,
            "start": chunk.start, "end": chunk.end, "n_tokens": chunk.n_tokens}


# -- a generation job in its own process ------------------------------------------------------


def run_job(job: dict) -> dict:
    """Questions for `job["chunks"]`, then answers for `job["answers"]`; the results as JSON."""
    from raft_dataset.answers import AnswerRequest
    from raft_dataset.chunking import Chunk
    from raft_dataset.llm import LLMConfig, make_llm_client
    from raft_dataset.llm.generation import LLMAnswerGenerator, LLMQuestionGenerator

    cfg = LLMConfig.from_dict(job["llm"])
    chunks = [Chunk(**c) for c in job["chunks"]]
    requests = [AnswerRequest(question=a["question"], oracle=chunks[a["oracle"]], context=chunks)
                for a in job["answers"]]
    with make_llm_client(cfg) as client:
        queries = LLMQuestionGenerator(client, cfg).generate(chunks)
        answers = LLMAnswerGenerator(client, cfg).generate(requests)
        stats = client.stats()
    return {"queries": [q.__dict__ for q in queries],
            "answers": [{"output": a.output, "rejected": a.rejected} for a in answers],
            "stats": stats}


def job_command(job_path: Path, out_path: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), str(job_path), str(out_path)]


def job_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


if __name__ == "__main__":
    job_file, out_file = Path(sys.argv[1]), Path(sys.argv[2])
    result = run_job(json.loads(job_file.read_text()))
    out_file.write_text(json.dumps(result, indent=1, sort_keys=True))
