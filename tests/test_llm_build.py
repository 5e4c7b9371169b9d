"""A whole build with LLM-written questions and answers, through a real OpenAI-compatible server.

`transformers serve` runs a tiny random-weight model on 127.0.0.1 (the wire path and usage are
real); the proxy in front of it scripts the completion texts, since random weights write garbage.
The kill-and-resume and failure builds, about the build rather than the server, go through the
proxy alone as a fake server (no model: the same HTTP wire path, much faster).
"""

from __future__ import annotations

import re

import pytest
from llm_fixtures import (  # noqa: F401  (fixtures)
    FaultProxy,
    Reply,
    llm_server,
    scripted_reply,
    tiny_model_dir,
    upstream_of,
)

from raft_dataset.config import RaftDatasetConfig
from raft_dataset.export import write_dataset_folder
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.raft_format import answer_problem
from tests.conftest import EXAMPLE_CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture
def scripted_proxy(llm_server):  # noqa: F811
    proxy = FaultProxy(upstream=upstream_of(llm_server), responder=scripted_reply).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def scripted_fake():
    server = FaultProxy(upstream=None, responder=scripted_reply).start()
    yield server
    server.stop()


def test_llm_build_is_verified_accounted_and_resumable(scripted_proxy, llm_server, tmp_path, embedding_cache):  # noqa: F811
    config = RaftDatasetConfig(
        corpus=str(EXAMPLE_CORPUS / "guide"), embedding_cache=embedding_cache, question_generator="llm",
        answer_generator="llm", min_query_similarity=0.0,
        llm={"model": llm_server.model, "base_url": scripted_proxy.base_url, "max_tokens": 16,
             "questions_per_chunk": 2, "cache_path": str(tmp_path / "llm.sqlite"), "progress": False},
    )
    result = build_raft_dataset(config, show_progress=False)
    rows = [row for split in result.splits.values() for row in split]
    assert len(rows) >= 10 and all(row["query_origin"] == "llm" for row in rows)
    for row in rows:
        # A question written from a chunk has that chunk as its oracle; its answer quotes the oracle.
        assert row["question"].startswith("What does ")
        oracle = next((d for cid, d in zip(row["context_chunk_ids"], _documents(row)) if cid == row["oracle_chunk_id"]), None)
        if oracle is not None:
            assert answer_problem(row["output"], oracle) is None
    usage = result.llm_usage["stages"]
    assert usage["questions"]["requests"] > 0 and usage["answers"]["requests"] > 0
    assert usage["answers"]["prompt_tokens"] > 0
    requests_sent = len(scripted_proxy.seen)

    card = (write_dataset_folder(result, tmp_path / "out") / "README.md").read_text()
    assert "## LLM usage" in card and llm_server.model in card
    assert scripted_proxy.base_url.split("//")[1] not in card  # the server's address stays private

    again = build_raft_dataset(config, show_progress=False)  # everything is in the cache now
    assert len(scripted_proxy.seen) == requests_sent, (result.llm_usage, again.llm_usage)
    assert again.splits == result.splits


def _documents(row):
    return re.findall(r"<DOCUMENT>\nTitle: [^\n]*\n(.*?)\n</DOCUMENT>", row["input"], flags=re.DOTALL)


def test_killed_build_resumes_without_repeating_requests(scripted_fake, tmp_path, embedding_cache):
    """`kill -9` of `raft-dataset build` mid-run: no folder that looks complete, and the rerun pays only
    for what was missing and writes the same dataset as an uninterrupted build."""
    import subprocess
    import sys
    import time
    from collections import Counter

    import datasets
    import yaml

    scripted_proxy = scripted_fake
    scripted_proxy.delay = lambda body: 0.05  # slow enough to be killed in the middle

    def config_file(name: str, cache: str):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "corpus": str(EXAMPLE_CORPUS / "guide"), "embedding_cache": embedding_cache,
            "question_generator": "llm", "answer_generator": "llm", "min_query_similarity": 0.0,
            "llm": {"model": "fake-model", "base_url": scripted_proxy.base_url, "max_tokens": 16,
                    "questions_per_chunk": 2, "max_concurrency": 2, "cache_path": str(tmp_path / cache)},
        }))
        return path

    def build(config, output):
        return [sys.executable, "-m", "raft_dataset.cli", "build", str(config), "--output", str(output), "--quiet"]

    killed_config, out = config_file("resumed", "resumed.sqlite"), tmp_path / "resumed"
    process = subprocess.Popen(build(killed_config, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(scripted_proxy.completed()) < 40 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the build finished before it could be killed"
    process.kill()
    process.wait()
    assert not out.exists()  # nothing that looks like a finished dataset
    paid_before_kill = len(scripted_proxy.completed())

    subprocess.run(build(killed_config, out), check=True, capture_output=True)
    sent = Counter(s.key for s in scripted_proxy.completed())
    repeated = sum(count - 1 for count in sent.values())
    assert repeated <= 2  # at most the requests in flight at the kill (max_concurrency 2)
    assert len(scripted_proxy.completed()) > paid_before_kill

    reference = tmp_path / "uninterrupted"
    subprocess.run(build(config_file("reference", "reference.sqlite"), reference), check=True, capture_output=True)
    resumed = datasets.load_dataset(str(out))
    uninterrupted = datasets.load_dataset(str(reference))
    assert set(resumed) == set(uninterrupted)
    for split in resumed:
        assert resumed[split].to_list() == uninterrupted[split].to_list()


def test_a_refused_key_fails_the_build_with_the_reason(scripted_fake, tmp_path, embedding_cache, monkeypatch, capsys):
    """A 401 is what the user reads, at the first request, not "the LLM wrote 0 usable questions"."""
    import yaml

    from raft_dataset.cli import main

    scripted_fake.plan = lambda body, attempt: Reply(401, b'{"error": {"message": "Invalid API key"}}')
    monkeypatch.setenv("RAFT_TEST_BAD_KEY", "sk-test-refused-4Fq9Lm2Xw7")
    config = tmp_path / "build.yaml"
    config.write_text(yaml.safe_dump({
        "corpus": str(EXAMPLE_CORPUS / "guide"), "embedding_cache": embedding_cache, "question_generator": "llm",
        "answer_generator": "llm",
        "llm": {"model": "fake-model", "base_url": scripted_fake.base_url, "api_key_env": "RAFT_TEST_BAD_KEY",
                "max_concurrency": 1, "cache_path": str(tmp_path / "llm.sqlite")},
    }))
    assert main(["build", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(scripted_fake.seen) == 1 and "\n" not in error
    assert error.startswith("raft-dataset: error: LLM questions stopped (the server refused the API key")
    assert (f"1 request failed (authentication: 1 — HTTP 401 from {scripted_fake.base_url}: Invalid API key: "
            "check llm.api_key_env (the key in $RAFT_TEST_BAD_KEY))") in error
    assert "sk-test-refused" not in error and not (tmp_path / "out").exists()
