"""The LLM client against a real OpenAI-compatible server: `transformers serve` over a tiny
random-weight model on 127.0.0.1, behind a proxy that counts requests, injects faults (429 with
Retry-After, 5xx, stalls, broken bodies) and, for parsing and verification tests, scripts the
completion text (random weights write garbage).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from llm_fixtures import (  # noqa: F401  (fixtures)
    FaultProxy,
    Reply,
    Stall,
    chunk_to_dict,
    job_command,
    job_env,
    llm_server,
    messages_key,
    sample_chunks,
    tiny_model_dir,
    upstream_of,
)

from raft_dataset.answers import AnswerRequest
from raft_dataset.llm import LLMConfig, LLMError, count_message_tokens, count_tokens, make_llm_client
from raft_dataset.llm.generation import LLMAnswerGenerator, LLMQuestionGenerator
from raft_dataset.raft_format import BEGIN_QUOTE, END_QUOTE, REFUSAL_ANSWER, extract_quotes, final_answer

pytestmark = pytest.mark.slow  # starts a server


@pytest.fixture
def proxy(llm_server):  # noqa: F811
    p = FaultProxy(upstream=upstream_of(llm_server)).start()
    yield p
    p.stop()


def settings(proxy: FaultProxy, llm_server, tmp_path: Path, **over) -> dict:  # noqa: F811
    return {"model": llm_server.model, "base_url": proxy.base_url, "max_tokens": 24, "timeout": 20,
            "cache_path": str(tmp_path / "llm.sqlite"), "progress": False, "backoff_base": 0.05, **over}


def user_text(body: dict) -> str:
    return body["messages"][1]["content"]


def test_wire_protocol_usage_and_cache(proxy, llm_server, tmp_path, monkeypatch):  # noqa: F811
    secret = "sk-test-7d1f0c2a9b"
    monkeypatch.setenv("RAFT_TEST_API_KEY", secret)
    cfg = LLMConfig.from_dict(settings(proxy, llm_server, tmp_path, api_key_env="RAFT_TEST_API_KEY"))
    chunks = sample_chunks(6)
    with make_llm_client(cfg) as client:
        gen = LLMQuestionGenerator(client, cfg)
        results = client.complete([gen.messages(c) for c in chunks], stage="questions")
        stats = client.stats()
    posts = proxy.seen
    assert len(posts) == 6 and all(s.outcome == "forwarded" for s in posts)
    for seen in posts:
        assert seen.authorization == f"Bearer {secret}"
        body = seen.body
        assert body["model"] == llm_server.model
        assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 24, 0)
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
    # The server's usage is what is counted, not a local estimate.
    q = stats["stages"]["questions"]
    assert q["prompt_tokens"] == sum(u["prompt_tokens"] for u in proxy.usage) > 0
    assert q["completion_tokens"] == sum(u["completion_tokens"] for u in proxy.usage) > 0
    assert q["usage_estimated"] == 0 and q["cache_hits"] == 0
    assert all(r.completion_tokens <= 24 for r in results)
    # The key is never stored: not in the cache (or its WAL), not in the stats.
    for path in tmp_path.glob("llm.sqlite*"):
        assert secret.encode() not in path.read_bytes()
    assert secret not in json.dumps(stats)
    # A rerun is served from the cache: no request reaches the server, same results.
    with make_llm_client(cfg) as client:
        again = client.complete([gen.messages(c) for c in chunks], stage="questions")
        q2 = client.stats()["stages"]["questions"]
    assert len(proxy.seen) == 6
    assert (q2["cache_hits"], q2["api_calls"]) == (6, 0)
    assert [r.text for r in again] == [r.text for r in results]


def test_concurrency_limit_and_request_order(proxy, llm_server, tmp_path):  # noqa: F811
    chunks = sample_chunks(8)
    index = {c.text: i for i, c in enumerate(chunks)}

    def which(body: dict) -> int:
        return next(i for text, i in index.items() if text in user_text(body))

    proxy.delay = lambda body: 0.6 if which(body) == 0 else 0.15  # the first finishes last
    proxy.responder = lambda body: f"1. What is explained in part {which(body)} of the docs?"
    cfg = LLMConfig.from_dict(settings(proxy, llm_server, tmp_path, max_concurrency=3))
    with make_llm_client(cfg) as client:
        queries = LLMQuestionGenerator(client, cfg).generate(chunks)
    assert proxy.max_in_flight == 3
    assert [q.question for q in queries] == [f"What is explained in part {i} of the docs?" for i in range(8)]
    assert [q.chunk_id for q in queries] == [c.chunk_id for c in chunks]
    assert all(q.origin == "llm" and q.doc_id == c.doc_id for q, c in zip(queries, chunks))


def _oracle_of(body: dict) -> str:
    content = user_text(body)
    start = content.index("<DOCUMENT>\nTitle: ")
    start = content.index("\n", start + len("<DOCUMENT>\n")) + 1
    return content[start:content.index("\n</DOCUMENT>", start)]


def _question_of(body: dict) -> str:
    content = user_text(body)
    start = content.index("Question: ") + len("Question: ")
    return content[start:content.index("\n", start)]


NO_NEW_QUESTIONS = "[scripted: a chunk whose only question repeats another chunk's]"


def _scripted(body: dict) -> str:
    """Question lists and answers of known shapes, chosen from what the request asks."""
    content = user_text(body)
    if content.startswith("Passage from"):
        if NO_NEW_QUESTIONS in content:
            return '```json\n["What does the first section explain?"]\n```'  # a repeat of chunk 0's
        return ("Here are questions:\n1. What does the first section explain?\n2. The section is about things.\n"
                "3. what does the FIRST section explain ?\n4. How is the feature configured?\n"
                "5. Why is the feature useful?\n6. When should the feature be used?")
    question, oracle = _question_of(body), _oracle_of(body)
    sentence = oracle.split(". ")[0]
    valid = f"The document says {BEGIN_QUOTE}{sentence}{END_QUOTE} so that is it.\n<ANSWER>: it is so"
    follow_up = len(body["messages"]) > 2
    if question.startswith("Valid"):
        return valid
    if question.startswith("Spaced"):  # same words, other whitespace
        return valid.replace(sentence, "  " + "\n ".join(sentence.split(" ")) + " ")
    if question.startswith("Fixable"):
        return valid if follow_up else f"{BEGIN_QUOTE}A sentence the document never had.{END_QUOTE}\n<ANSWER>: no"
    if question.startswith("Markerless"):
        return "I think the answer is yes."
    if question.startswith("Unbalanced"):
        return f"{BEGIN_QUOTE}{sentence}\n<ANSWER>: yes"
    raise AssertionError(question)


def test_parsing_and_verification_with_scripted_completions(proxy, llm_server, tmp_path):  # noqa: F811
    proxy.responder = _scripted
    chunks = sample_chunks(3)
    chunks[2] = type(chunks[2])(**{**chunk_to_dict(chunks[2]), "text": f"{NO_NEW_QUESTIONS} {chunks[2].text}"})
    cfg = LLMConfig.from_dict(settings(proxy, llm_server, tmp_path))
    with make_llm_client(cfg) as client:
        queries = LLMQuestionGenerator(client, cfg).generate(chunks)
        requests = [
            AnswerRequest("Valid: what does it say?", chunks[0], chunks),
            AnswerRequest("Spaced: what does it say?", chunks[1], chunks),
            AnswerRequest("Fixable: what does it say?", chunks[0], chunks),
            AnswerRequest("Markerless: what does it say?", chunks[1], chunks),
            AnswerRequest("Unbalanced: what does it say?", chunks[0], chunks),
            AnswerRequest("Valid: and with a reference?", chunks[1], chunks, reference_answer="Yes, always."),
        ]
        answers = LLMAnswerGenerator(client, cfg).generate(requests)
        stats = client.stats()["stages"]
    # Questions: at most 3 per chunk, in order; non-questions and repeats (also across chunks) dropped.
    assert [(q.chunk_id, q.question) for q in queries] == [
        (chunks[0].chunk_id, "What does the first section explain?"),
        (chunks[0].chunk_id, "How is the feature configured?"),
        (chunks[0].chunk_id, "Why is the feature useful?"),
        (chunks[1].chunk_id, "When should the feature be used?"),  # its other three repeat chunk 0's
    ]
    outcomes = stats["questions"]["outcomes"]
    assert outcomes["dropped:not_a_question"] == 4  # "Here are questions:" and a statement, twice
    assert outcomes["dropped:duplicate"] == 1 + 1 + 3 + 1  # in-response twice; chunk 1 vs 0; chunk 2 vs 0
    assert outcomes["dropped:over_limit"] == 1
    assert outcomes["chunks_without_questions"] == 1
    assert outcomes["questions"] == 4
    # Answers: verified against the oracle, one follow-up naming the failure, then dropped.
    assert [a.rejected for a in answers] == [None, None, None, "missing_answer_marker",
                                             "unbalanced_quote_markers", None]
    assert all(extract_quotes(a.output) for a in answers if a.output)
    assert final_answer(answers[5].output) == "Yes, always."
    follow_ups = [s.body["messages"] for s in proxy.seen if len(s.body["messages"]) == 4]
    assert len(follow_ups) == 3  # the fixable, markerless and unbalanced ones
    fixable = next(m for m in follow_ups if "Fixable" in m[1]["content"])
    assert fixable[2] == {"role": "assistant",
                          "content": f"{BEGIN_QUOTE}A sentence the document never had.{END_QUOTE}\n<ANSWER>: no"}
    assert '"A sentence the document never had."' in fixable[3]["content"]
    assert "not in the document word for word" in fixable[3]["content"]
    assert stats["answers"]["outcomes"] == {
        "accepted": 3, "accepted_after_retry": 1,
        "first_try_failed:missing_answer_marker": 1, "first_try_failed:quote_not_in_oracle": 1,
        "first_try_failed:unbalanced_quote_markers": 1,
        "rejected:missing_answer_marker": 1, "rejected:unbalanced_quote_markers": 1,
    }


def test_faults_are_retried_counted_and_nothing_completed_is_redone(proxy, llm_server, tmp_path):  # noqa: F811
    chunks = sample_chunks(7)
    index = {c.text: i for i, c in enumerate(chunks)}

    def plan(body: dict, attempt: int):
        i = next(i for text, i in index.items() if text in user_text(body))
        if i == 0 and attempt == 0:
            return Reply(429, b'{"error": {"message": "slow down"}}', (("Retry-After", "0.4"),))
        if i == 1 and attempt < 2:
            return Reply(500, b'{"error": {"message": "boom"}}')
        if i == 2 and attempt == 0:
            return Stall(7.0)
        if i == 3 and attempt == 0:
            return Reply(200, b"<html>not json</html>")
        if i == 4:
            return Reply(503, b"unavailable")
        if i == 5:
            return Reply(400, b'{"error": {"message": "bad request"}}')
        if i == 6 and attempt == 0:
            return Reply(200, b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}')
        return None

    proxy.plan = plan
    cfg = LLMConfig.from_dict(settings(proxy, llm_server, tmp_path, timeout=3.5, max_retries=2))
    with make_llm_client(cfg) as client:
        gen = LLMQuestionGenerator(client, cfg)
        results = client.complete([gen.messages(c) for c in chunks], stage="questions")
        stats = client.stats()["stages"]["questions"]
    assert [type(r).__name__ for r in results] == ["Completion"] * 4 + ["Failure"] * 2 + ["Completion"], results
    assert stats["retries"] == {"parse_error": 2, "rate_limited": 1, "server_error": 4, "timeout": 1}
    assert stats["failures"] == {"bad_request": 1, "server_error": 1}
    keys = [messages_key(gen.messages(c)) for c in chunks]
    forwarded = [sum(s.key == k and s.outcome == "forwarded" for s in proxy.seen) for k in keys]
    assert forwarded == [1, 1, 1, 1, 0, 0, 1]
    attempts = [sum(s.key == k for s in proxy.seen) for k in keys]
    assert attempts == [2, 3, 2, 2, 3, 1, 2]
    first, second = (s.at for s in proxy.seen if s.key == keys[0])
    assert second - first >= 0.4  # Retry-After honoured
    # A rerun asks only for what failed.
    proxy.plan = None
    n_before = len(proxy.seen)
    with make_llm_client(cfg) as client:
        client.complete([gen.messages(c) for c in chunks], stage="questions")
        rerun = client.stats()["stages"]["questions"]
    assert sorted(s.key for s in proxy.seen[n_before:]) == sorted(keys[4:6])
    assert rerun["cache_hits"] == 5


def test_usage_is_counted_locally_when_the_server_gives_none(proxy, llm_server, tmp_path):  # noqa: F811
    text = "1. What is a path operation?"
    reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
             "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}
    proxy.plan = lambda body, attempt: Reply(200, json.dumps(reply).encode())
    cfg = LLMConfig.from_dict(settings(proxy, llm_server, tmp_path))
    chunk = sample_chunks(1)[0]
    with make_llm_client(cfg) as client:
        messages = LLMQuestionGenerator(client, cfg).messages(chunk)
        [result] = client.complete([messages], stage="questions")
        stats = client.stats()["stages"]["questions"]
    assert result.usage_estimated and stats["usage_estimated"] == 1
    assert stats["prompt_tokens"] == count_message_tokens(messages) > len(chunk.text) // 8
    assert stats["completion_tokens"] == count_tokens(text) == 8  # 1 . What is a path operation ?


def _job(proxy: FaultProxy, llm_server, cache: Path) -> dict:  # noqa: F811
    chunks = sample_chunks(10)
    return {
        "llm": {"model": llm_server.model, "base_url": proxy.base_url, "max_tokens": 24, "timeout": 20,
                "max_concurrency": 2, "cache_path": str(cache), "progress": False},
        "chunks": [chunk_to_dict(c) for c in chunks],
        "answers": [{"question": f"What does part {i} of the FastAPI docs say?", "oracle": i} for i in range(5)],
    }


def _run_job(job: dict, tmp_path: Path, name: str, kill_after: int | None = None,
             sig: int = signal.SIGKILL) -> tuple[dict | None, set[str]]:
    """Run the job in a subprocess; with `kill_after`, signal it once that many responses are cached.

    Returns the job's output (None when killed) and the proxy keys cached when it stopped.
    """
    job_path, out = tmp_path / f"{name}.json", tmp_path / f"{name}.out.json"
    job_path.write_text(json.dumps(job))
    process = subprocess.Popen(job_command(job_path, out), env=job_env(), preexec_fn=_sigint_as_in_a_terminal)
    cache = Path(job["llm"]["cache_path"])
    try:
        if kill_after is not None:
            deadline = time.monotonic() + 60
            while _cached_count(cache) < kill_after:
                assert process.poll() is None, "the job finished before it could be interrupted"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            process.send_signal(sig)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if kill_after is None:
        assert process.returncode == 0
        return json.loads(out.read_text()), _cached_keys(cache)
    assert process.returncode != 0 and not out.exists()
    return None, _cached_keys(cache)


def _sigint_as_in_a_terminal() -> None:
    # A background job of a non-interactive shell (`pytest &` in a script, nohup) inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: the job would ignore our Ctrl-C
    # and finish. Reset it, as a terminal's foreground job has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cached_count(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def _cached_keys(cache: Path) -> set[str]:
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
        return {messages_key(json.loads(r[0])["messages"]) for r in db.execute("SELECT request FROM responses")}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_resume_after_the_build_is_killed(proxy, llm_server, tmp_path, sig):  # noqa: F811
    proxy.delay = lambda body: 0.1  # slow enough to stop it midway
    # The reference: one uninterrupted run.
    reference, reference_keys = _run_job(_job(proxy, llm_server, tmp_path / "ref.sqlite"), tmp_path, "ref")
    n_total = len(reference_keys)
    assert n_total == 10 + 5 + 5  # questions, answers, follow-ups (random weights never verify)
    # Interrupted after some responses, then rerun with the same cache.
    job = _job(proxy, llm_server, tmp_path / "resume.sqlite")
    start = len(proxy.seen)
    # Past the kill point the server slows right down, so a loaded machine cannot let the job finish
    # between the count reaching 6 and the signal (seen once with two test suites on two cores).
    proxy.delay = lambda body: 0.1 if len(proxy.seen) - start <= 8 else 3.0
    _, cached_at_kill = _run_job(job, tmp_path, "killed", kill_after=6, sig=sig)
    assert 6 <= len(cached_at_kill) < n_total
    proxy.delay = lambda body: 0.1
    middle = len(proxy.seen)
    resumed, resumed_keys = _run_job(job, tmp_path, "resumed")
    rerun_requests = [s.key for s in proxy.seen[middle:]]
    assert not set(rerun_requests) & cached_at_kill  # nothing stored was paid for again
    assert len(rerun_requests) == len(set(rerun_requests)) == n_total - len(cached_at_kill)
    # Only requests in flight at the kill (at most max_concurrency) were sent twice.
    assert len(proxy.seen) - start <= n_total + 2
    assert resumed_keys == reference_keys
    assert resumed["queries"] == reference["queries"]
    assert resumed["answers"] == reference["answers"]
    assert resumed["stats"]["totals"]["cache_hits"] == len(cached_at_kill)


# -- failing loudly: a fake server (no model) that fails the way real ones do ----------------


@pytest.fixture
def fake():
    p = FaultProxy(upstream=None).start()
    yield p
    p.stop()


def fake_settings(fake: FaultProxy, tmp_path: Path, **over) -> dict:
    return {"model": "fake-model", "base_url": fake.base_url, "max_tokens": 24, "timeout": 5, "max_retries": 1,
            "backoff_base": 0.01, "backoff_max": 0.05, "cache_path": str(tmp_path / "llm.sqlite"), "progress": False,
            **over}


def test_a_refused_key_stops_at_the_first_request_and_says_why(fake, tmp_path, monkeypatch):
    secret = "sk-test-3Jq8vLr2Wm5xTz0a"
    monkeypatch.setenv("RAFT_TEST_API_KEY", secret)
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {secret}"}}).encode()  # some echo it
    fake.plan = lambda body_, attempt: Reply(401, body)
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path, api_key_env="RAFT_TEST_API_KEY", max_concurrency=2))
    with make_llm_client(cfg) as client, pytest.raises(LLMError) as err:
        LLMQuestionGenerator(client, cfg).generate(sample_chunks(12))
    message = str(err.value)
    assert len(fake.seen) <= 2  # the requests in flight when the first 401 came back; not 12
    assert all(s.authorization == f"Bearer {secret}" for s in fake.seen)
    assert f"authentication: {len(fake.seen)} — HTTP 401 from {fake.base_url}" in message
    assert "Incorrect API key provided: ***" in message and "check llm.api_key_env" in message
    assert secret not in message and "\n" not in message


def test_server_errors_and_timeouts_are_counted_by_kind_not_hidden(fake, tmp_path):
    chunks = sample_chunks(6)
    index = {c.text: i for i, c in enumerate(chunks)}
    fake.plan = lambda body, attempt: (Reply(500, b'{"error": {"message": "boom"}}')
                                       if index[_chunk_text(body, index)] % 2 else Stall(3.0))
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path, timeout=0.5, max_concurrency=6))
    started = time.monotonic()
    with make_llm_client(cfg) as client, pytest.raises(LLMError) as err:
        LLMQuestionGenerator(client, cfg).generate(chunks)
    assert time.monotonic() - started < 2.5  # two attempts of 0.5 s each, in parallel
    assert str(err.value).startswith("the LLM wrote 0 usable questions: 6 requests failed (")
    assert f"server_error: 3 — HTTP 500 from {fake.base_url}: boom: see the server's log" in str(err.value)
    assert f"timeout: 3 — no response within 0.5 s from {fake.base_url}: raise llm.timeout" in str(err.value)
    assert len(fake.seen) == 12  # each tried twice (max_retries 1)


def _chunk_text(body: dict, index: dict) -> str:
    return next(text for text in index if text in user_text(body))


def test_some_failed_questions_are_named_in_the_too_few_queries_error(fake, tmp_path):
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import BuildError, _check_enough_queries

    chunks = sample_chunks(6)
    index = {c.text: i for i, c in enumerate(chunks)}
    fake.plan = lambda body, attempt: Reply(503, b"") if index[_chunk_text(body, index)] >= 3 else None
    fake.responder = lambda body: f'["What does part {index[_chunk_text(body, index)]} of the docs say?"]'
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path))
    with make_llm_client(cfg) as client:
        queries = LLMQuestionGenerator(client, cfg).generate(chunks)
        assert len(queries) == 3
        config = RaftDatasetConfig(corpus="docs", question_generator="llm", llm=fake_settings(fake, tmp_path))
        with pytest.raises(BuildError) as err:
            _check_enough_queries(config, queries, client)
    assert str(err.value) == (f"fewer than 5 queries: the LLM wrote 3 usable questions: 3 requests failed "
                              f"(server_error: 3 — HTTP 503 from {fake.base_url}: see the server's log)")


def test_a_dead_server_stops_the_stage_after_a_run_of_failures(fake, tmp_path):
    fake.plan = lambda body, attempt: Reply(502, b"")
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path, max_retries=0, max_concurrency=1))
    with make_llm_client(cfg) as client, pytest.raises(LLMError, match=r"20 requests in a row failed; 5 requests"):
        client.complete([[{"role": "user", "content": f"question {i}"}] for i in range(25)], stage="questions")
    assert len(fake.seen) == 20


def test_retry_after_is_capped_by_backoff_max(fake, tmp_path):
    fake.plan = lambda body, attempt: Reply(429, b"{}", (("Retry-After", "100000"),)) if attempt < 2 else None
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path, max_retries=2, backoff_max=0.3))
    with make_llm_client(cfg) as client:
        [result] = client.complete([[{"role": "user", "content": "What is FastAPI?"}]], stage="questions")
        stats = client.stats()["stages"]["questions"]
    assert result.text == "OK" and stats["retries"] == {"rate_limited": 2}
    gaps = [b.at - a.at for a, b in zip(fake.seen, fake.seen[1:])]
    assert len(gaps) == 2 and all(0.3 <= gap < 1.5 for gap in gaps)  # backoff_max, not 100000 s (nor 600)


def test_answers_without_a_quote_are_refused_and_the_follow_up_says_so(fake, tmp_path):
    chunks = sample_chunks(3)

    def reply(body: dict) -> str:
        oracle, question = _oracle_of(body), _question_of(body)
        sentence = oracle.split(". ")[0].rstrip(".") + "."
        quoted = f"The document says {BEGIN_QUOTE}{sentence}{END_QUOTE}\n<ANSWER>: {sentence}"
        if question.startswith("Fixable") and len(body["messages"]) > 2:
            return quoted
        if question.startswith("Refusing"):  # the oracle was shown: a refusal is not an answer here
            return f"Nothing here answers it.\n<ANSWER>: {REFUSAL_ANSWER}"
        return f"From what I know, {sentence[0].lower()}{sentence[1:]}\n<ANSWER>: {sentence}"

    fake.responder = reply
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path))
    requests = [AnswerRequest("Fixable: what does it say?", chunks[0], chunks),
                AnswerRequest("Stubborn: what does it say?", chunks[1], chunks),
                AnswerRequest("Refusing: what does it say?", chunks[2], chunks)]
    with make_llm_client(cfg) as client:
        answers = LLMAnswerGenerator(client, cfg).generate(requests)
        outcomes = client.stats()["stages"]["answers"]["outcomes"]
    assert answers[0].output is not None and extract_quotes(answers[0].output)
    assert [a.rejected for a in answers] == [None, "no_quote", "no_quote"]
    assert outcomes == {"accepted_after_retry": 1, "first_try_failed:no_quote": 3, "rejected:no_quote": 2}
    follow_ups = [s.body["messages"][-1]["content"] for s in fake.seen if len(s.body["messages"]) == 4]
    assert len(follow_ups) == 3 and all("it quotes nothing" in text for text in follow_ups)


def test_every_answer_request_failing_is_an_error_not_an_empty_dataset(fake, tmp_path):
    fake.plan = lambda body, attempt: Reply(500, b"")
    chunks = sample_chunks(2)
    cfg = LLMConfig.from_dict(fake_settings(fake, tmp_path, max_retries=0))
    with make_llm_client(cfg) as client, pytest.raises(LLMError, match=r"^the LLM wrote 0 answers: 2 requests failed"):
        LLMAnswerGenerator(client, cfg).generate([AnswerRequest("What is it?", c, chunks) for c in chunks])
