"""LLM config, response parsing, verification helpers, cache keys and the in-process backend.

The server-facing behaviour (wire protocol, faults, resume) is in test_llm_server.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from llm_fixtures import sample_chunks, tiny_model_dir  # noqa: F401  (a fixture)

from raft_dataset.answers import AnswerRequest
from raft_dataset.llm import (
    LLMConfig,
    OpenAICompatibleBackend,
    TransformersBackend,
    make_llm_client,
    parse_retry_after,
    request_key,
)
from raft_dataset.llm.generation import (
    LLMAnswerGenerator,
    LLMQuestionGenerator,
    explain_problem,
    parse_questions,
    with_reference,
)
from raft_dataset.raft_format import answer_problem

# -- config -----------------------------------------------------------------------------------


def test_config_defaults_and_round_trip():
    cfg = LLMConfig.from_dict({"model": "qwen2.5:7b", "base_url": "http://localhost:11434/v1"})
    assert (cfg.backend, cfg.max_concurrency, cfg.questions_per_chunk, cfg.temperature) == (
        "openai-compatible", 8, 3, 0.0)
    assert LLMConfig.from_dict(cfg.to_dict()) == cfg
    # Operational settings do not change what is generated, so not the fingerprint either.
    assert LLMConfig.from_dict({**cfg.to_dict(), "max_concurrency": 32}).fingerprint() == cfg.fingerprint()
    assert LLMConfig.from_dict({**cfg.to_dict(), "temperature": 0.7}).fingerprint() != cfg.fingerprint()


@pytest.mark.parametrize(("settings", "message"), [
    ({"model": "m", "foo": 1}, "unknown key llm.foo"),
    ({"model": "m", "max_concurrency": 0}, "llm.max_concurrency: must be >= 1, got 0"),
    ({"model": "m", "timeout": "fast"}, "llm.timeout: expected a number, got str"),
    ({"model": "m", "max_retries": True}, "llm.max_retries: expected an integer, got bool"),
    ({"model": "m", "backend": "vllm"}, "llm.backend: must be one of openai-compatible, transformers, got 'vllm'"),
    ({"model": ""}, "llm.model: required"),
    ({"model": "m", "temperature": 3}, "llm.temperature: must be between 0 and 2, got 3"),
    ({"model": "m", "base_url": "localhost:8000"}, "llm.base_url: must start with http:// or https://"),
    ({"model": "m", "base_url": "https://me:pw@host/v1"}, "llm.base_url: must not contain credentials"),
    ({"model": "m", "base_url": "https://host/v1?key=abc"}, "llm.base_url: must not contain a query string"),
    ({"model": "m", "extra_body": {"api_token": "abc"}}, "llm.extra_body.api_token: must not carry credentials"),
    ({"model": "m", "extra_body": {"headers": {"X-Title": "docs"}}}, "llm.extra_body.headers: must not carry"),
    ({"model": "m", "extra_body": {"metadata": [{"Credentials": "abc"}]}},
     "llm.extra_body.metadata[0].Credentials: must not carry"),
    ({"model": "m", "question_prompt": "Ask about {passage}"}, "llm.question_prompt: unknown placeholder {passage}"),
    ({"model": "m", "question_prompt": "Ask {n} questions"}, "llm.question_prompt: must contain {text}"),
    ({"model": "m", "answer_prompt": "{question}"}, "llm.answer_prompt: must contain {oracle} or {context}"),
    ({"model": "m", "answer_prompt": "{question} {oracle"}, "llm.answer_prompt: bad template"),
])
def test_config_errors_name_the_key(settings, message):
    with pytest.raises(ValueError) as err:
        LLMConfig.from_dict(settings)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_config_error_uses_the_given_location():
    with pytest.raises(ValueError, match=r"^build.yaml:llm.batch_size: must be >= 1"):
        LLMConfig.from_dict({"model": "m", "batch_size": 0}, where="build.yaml:llm")


def test_a_key_in_the_config_is_refused_without_being_echoed():
    secret = "sk-proj-abc123def456"
    for settings in ({"model": "m", "api_key": secret}, {"model": "m", "api_key_env": secret}):
        with pytest.raises(ValueError) as err:
            LLMConfig.from_dict(settings)
        assert secret not in str(err.value)
        assert "api_key_env" in str(err.value)


# (secret, of a known key shape): known shapes are refused wherever they are; an opaque one is
# refused where a key has no business, but accepted (and masked) as a URL path segment.
SECRETS = [("sk-proj-Q7f3Xk9LmN2pR8sT", True), ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123", True),
           ("ghp_1a2B3c4D5e6F7g8H9i0JkLmN", True), ("AKIAIOSFODNN7EXAMPLE", True),
           ("9f86d081884c7d659a2feaa0c55ad015", False)]


@pytest.mark.parametrize(("secret", "known_shape"), SECRETS)
def test_a_key_anywhere_in_the_config_is_refused_or_masked_never_echoed(secret, known_shape):
    """Every place a key may be pasted: refused, or (an opaque URL segment) sent but never shown."""
    places = [
        {"api_key_env": secret},
        {"extra_body": {"headers": {"Authorization": f"Bearer {secret}"}}},
        {"extra_body": {"chat_template_kwargs": {"credentials": secret}}},
        {"extra_body": {"x": [{"X-Api-Key": secret}]}},
        {"extra_body": {"Cookie": secret}},
        {"backend": secret},
        {"temperature": secret},
        {"base_url": secret},
        {secret: 1},
    ]
    if known_shape:  # refused wherever it is, as a value too
        places += [{"base_url": f"https://gateway.example.com/{secret}/v1"}, {"extra_body": {"user": secret}}]
    for place in places:
        with pytest.raises(ValueError) as err:
            LLMConfig.from_dict({"model": "m", **place})
        assert secret not in str(err.value), place
    if not known_shape:  # an opaque path segment (e.g. a gateway's account id): accepted, masked when stored
        cfg = LLMConfig.from_dict({"model": "m", "base_url": f"https://gateway.example.com/{secret}/v1"})
        assert secret not in json.dumps(OpenAICompatibleBackend(cfg).identity())


def test_masking_keeps_ordinary_values():
    from raft_dataset.llm import looks_like_secret, mask_secrets, redact_url, shown

    for ordinary in ("OPENAI_API_KEY", "meta-llama-3-8b-instruct-awq", "Qwen2.5-7B-Instruct", "max_tokens",
                     "http://localhost:8000/v1", "gpt-4o-mini-2024-07-18", "hybrid"):
        assert not looks_like_secret(ordinary) and mask_secrets(ordinary) == ordinary
    assert shown("hf_AbCdEfGhIjKlMnOpQrSt and more") == "'*** and more'"
    assert redact_url("https://gw.example.com/v1/0123abcd4567ef890123abcd4567ef89/docs/openai") == (
        "https://gw.example.com/v1/***/docs/openai")
    # Ordinary extra_body fields of vLLM and OpenAI are not mistaken for credentials.
    body = {"chat_template_kwargs": {"enable_thinking": False}, "max_completion_tokens": 9, "min_tokens": 1,
            "stop_token_ids": [2], "skip_special_tokens": True, "prompt_cache_key": "docs", "top_k": 5}
    assert LLMConfig.from_dict({"model": "m", "extra_body": body}).extra_body == body


def test_missing_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("RAFT_TEST_NO_SUCH_KEY", raising=False)
    cfg = LLMConfig.from_dict({"model": "m", "api_key_env": "RAFT_TEST_NO_SUCH_KEY", "cache_path": ""})
    with pytest.raises(ValueError, match="llm.api_key_env: environment variable RAFT_TEST_NO_SUCH_KEY is not set"):
        make_llm_client(cfg)


# -- cache keys -------------------------------------------------------------------------------


def test_cache_key_covers_the_request_but_not_the_api_key(monkeypatch):
    messages = [{"role": "user", "content": "What is FastAPI?"}]
    cfg = LLMConfig.from_dict({"model": "gpt-4o-mini", "api_key_env": "RAFT_TEST_KEY"})
    keys = []
    for secret in ("sk-first-secret", "sk-second-secret"):
        monkeypatch.setenv("RAFT_TEST_KEY", secret)
        backend = OpenAICompatibleBackend(cfg)
        assert secret not in json.dumps(backend.identity())
        keys.append(request_key(backend.identity(), {"temperature": 0.0}, messages))
    assert keys[0] == keys[1]
    ident = OpenAICompatibleBackend(cfg).identity()
    assert request_key(ident, {"temperature": 0.0}, messages) != request_key(ident, {"temperature": 0.5}, messages)
    assert request_key(ident, {"temperature": 0.0}, messages) != request_key(
        {**ident, "model": "gpt-4o"}, {"temperature": 0.0}, messages)
    assert request_key(ident, {"temperature": 0.0}, messages) != request_key(
        ident, {"temperature": 0.0}, [{"role": "user", "content": "What is Starlette?"}])


def test_retry_after_forms():
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after({"Retry-After": "100000"}) == 100000.0  # the client caps it at backoff_max
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert 0 <= parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 0.001  # in the past
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


# -- question parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    '["What is a path operation?", "How do I declare a query parameter?"]',
    '```json\n{"questions": ["What is a path operation?", "How do I declare a query parameter?"]}\n```',
    'Sure! Here they are:\n[{"question": "What is a path operation?"}, {"question": "How do I declare a query parameter?"}]',
    "Here are two questions:\n1. What is a path operation?\n2) How do I declare a query parameter?",
    "- **What is a path operation?**\n* How do I declare a query parameter?",
    "Q1: What is a path operation?\nQuestion 2: \"How do I declare a query parameter?\"",
    "What is a path operation? How do I declare a query parameter?",
])
def test_questions_are_parsed_from_any_list_shape(text):
    questions, _ = parse_questions(text)
    assert questions == ["What is a path operation?", "How do I declare a query parameter?"]


def test_non_questions_and_duplicates_are_dropped_and_counted():
    text = ("1. What is a path operation?\n2. Path operations are functions.\n3. what is a PATH operation ?\n"
            "4. Why?\n5. How are responses validated?")
    questions, dropped = parse_questions(text)
    assert questions == ["What is a path operation?", "How are responses validated?"]
    assert dropped == {"not_a_question": 2, "duplicate": 1}


# -- answer verification helpers --------------------------------------------------------------


def test_follow_up_names_the_failure():
    oracle = "You can only use await inside of functions created with async def."
    output = "##begin_quote## You can use await anywhere. ##end_quote##\n<ANSWER>: anywhere"
    reason = answer_problem(output, oracle)
    assert reason == "quote_not_in_oracle"
    assert '"You can use await anywhere."' in explain_problem(reason, output, oracle)
    assert "<ANSWER>:" in explain_problem("missing_answer_marker", "no marker", oracle)


def test_reference_answer_becomes_the_final_answer():
    assert with_reference("Because ...\n<ANSWER>: maybe", "async def") == "Because ...\n<ANSWER>: async def"
    assert with_reference("no marker", "async def") == "no marker"
    assert with_reference("x\n<ANSWER>: y", None) == "x\n<ANSWER>: y"


# -- the in-process transformers backend ------------------------------------------------------


def _local_cfg(model_dir: Path, tmp_path: Path, **over) -> LLMConfig:
    return LLMConfig.from_dict({"backend": "transformers", "model": str(model_dir), "max_tokens": 12,
                                "batch_size": 4, "cache_path": str(tmp_path / "cache.sqlite"),
                                "progress": False, **over})


def test_transformers_backend_batches_with_the_chat_template_and_caches(tiny_model_dir, tmp_path):  # noqa: F811
    from transformers import AutoTokenizer

    chunks = sample_chunks(6)
    cfg = _local_cfg(tiny_model_dir, tmp_path)
    with make_llm_client(cfg) as client:
        gen = LLMQuestionGenerator(client, cfg)
        requests = [gen.messages(c) for c in chunks]
        first = client.complete(requests, stage="questions")
        stats = client.stats()["stages"]["questions"]
        backend = client.backend
        assert isinstance(backend, TransformersBackend)
        rendered = backend.render(requests[0])
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert rendered == tok.apply_chat_template(requests[0], tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<s>assistant\n")
    # Prompt usage is the templated prompt's length, not the padded batch width.
    assert [r.prompt_tokens for r in first] == [
        len(tok(backend.render(m), add_special_tokens=False)["input_ids"]) for m in requests]
    assert all(0 < r.completion_tokens <= 12 for r in first)
    assert stats["api_calls"] == 2 and stats["requests"] == 6  # 6 prompts in batches of 4
    with make_llm_client(cfg) as client:
        again = client.complete(requests, stage="questions")
        assert client.stats()["stages"]["questions"]["cache_hits"] == 6
        assert client.stats()["stages"]["questions"]["api_calls"] == 0
    assert [r.text for r in again] == [r.text for r in first]


def test_transformers_resume_regenerates_only_incomplete_batches(tiny_model_dir, tmp_path):  # noqa: F811
    chunks = sample_chunks(6)
    cfg = _local_cfg(tiny_model_dir, tmp_path, batch_size=2)
    with make_llm_client(cfg) as client:
        requests = [LLMQuestionGenerator(client, cfg).messages(c) for c in chunks]
        full = [r.text for r in client.complete(requests, stage="questions")]
    # Lose the last response, as a crash before its commit would.
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        last = db.execute("SELECT key FROM responses ORDER BY created DESC LIMIT 1").fetchone()[0]
        db.execute("DELETE FROM responses WHERE key = ?", (last,))
    with make_llm_client(cfg) as client:
        resumed = [r.text for r in client.complete(requests, stage="questions")]
        stats = client.stats()["stages"]["questions"]
    assert resumed == full
    assert (stats["cache_hits"], stats["api_calls"]) == (5, 1)


def test_transformers_backend_without_chat_template(tiny_model_dir, tmp_path):  # noqa: F811
    from transformers import AutoTokenizer

    plain = tmp_path / "plain"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = None
    tok.save_pretrained(plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tiny_model_dir).save_pretrained(plain)
    chunk = sample_chunks(1)[0]
    cfg = _local_cfg(plain, tmp_path, answer_retries=0)
    with make_llm_client(cfg) as client:
        answers = LLMAnswerGenerator(client, cfg).generate([AnswerRequest("What is it?", chunk, [chunk])])
        assert client.backend.render([{"role": "user", "content": "hi"}]) == "user: hi\n\nassistant:"
        outcomes = client.stats()["stages"]["answers"]["outcomes"]
    # Random weights write no RAFT answer: it is rejected with a reason, not crashed on.
    assert answers[0].output is None and answers[0].rejected
    assert outcomes[f"rejected:{answers[0].rejected}"] == 1


# -- prompts ----------------------------------------------------------------------------------


def test_prompts_follow_the_config():
    chunks = sample_chunks(3)
    oracle, others = chunks[0], chunks[1:]
    request = AnswerRequest("What is it?", oracle, others)  # the oracle left out of the context
    alone = LLMAnswerGenerator(None, LLMConfig.from_dict({"model": "m"})).messages(request)[1]["content"]
    assert alone.count("<DOCUMENT>") == 1 and oracle.text in alone and others[0].text not in alone
    cfg = LLMConfig.from_dict({"model": "m", "include_context_in_answer_prompt": True})
    full = LLMAnswerGenerator(None, cfg).messages(request)[1]["content"]
    assert full.count("<DOCUMENT>") == 3 and all(c.text in full for c in chunks)
    cfg = LLMConfig.from_dict({"model": "m", "questions_per_chunk": 5,
                               "question_prompt": "{n} questions on {title} ({chunk_id}), as JSON {{}}:\n{text}",
                               "answer_prompt": "Q: {question}\nRef: {reference_answer}\n{oracle}"})
    asked = LLMQuestionGenerator(None, cfg).messages(oracle)[1]["content"]
    assert asked == f"5 questions on {oracle.title} ({oracle.chunk_id}), as JSON {{}}:\n{oracle.text}"
    custom = LLMAnswerGenerator(None, cfg).messages(AnswerRequest("Why?", oracle, [], "Because."))[1]["content"]
    assert custom == f"Q: Why?\nRef: Because.\n{oracle.text}"
