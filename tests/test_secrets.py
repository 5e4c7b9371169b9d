"""No key reaches disk, logs or messages: a whole `raft-dataset build` with LLM questions and answers,
through a fake OpenAI-compatible server on 127.0.0.1, with keys planted wherever a user could put one.

Every file the build writes (the output folder, the embedding, LLM and datasets caches, temporary
files) and everything it prints is searched for the planted keys afterwards. The key given through
`api_key_env` must have reached the server (so the test cannot pass by sending nothing); keys put
anywhere else are refused before anything is built, without being echoed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from llm_fixtures import FaultProxy, job_env, scripted_reply

from tests.conftest import EXAMPLE_CORPUS

pytestmark = pytest.mark.slow  # a whole build in a subprocess

API_KEY = "sk-proj-planted7Hq2ZxWv9KmN4rT8yL3pB6"  # through api_key_env: sent, never stored
PATH_SEGMENT = "c0ffee9d1e7a4b2f8a6d5c4b3a291807"  # an opaque URL path segment (a gateway's account id)


@pytest.fixture
def fake_server():
    server = FaultProxy(upstream=None, responder=scripted_reply).start()
    yield server
    server.stop()


def _isolated_env(home: Path) -> dict[str, str]:
    """Every place the build may write (caches, temporary files) inside `home`; the key in its variable."""
    env = job_env()
    for name in ("RAFT_DATASET_CACHE", "HF_DATASETS_CACHE", "HF_HOME", "XDG_CACHE_HOME", "TMPDIR", "HOME"):
        env[name] = str(home / name.lower())
        Path(env[name]).mkdir(parents=True)
    env.update({"RAFT_SECRET_TEST_KEY": API_KEY, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    return env


def _build(config: dict, config_dir: Path, written: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = config_dir / "build.yaml"  # the user's own file: the only place they wrote the segment
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "raft_dataset.cli", "build", str(path), "--output", str(written / "out"), "--quiet",
         "--verbose"],
        capture_output=True, text=True, env=env, timeout=600,
    )


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        hits += [f"{path.relative_to(root)}: {needle}" for needle in needles if needle.encode() in data]
    return hits


def _config(base_url: str, **llm) -> dict:
    return {"corpus": str(EXAMPLE_CORPUS / "guide"), "question_generator": "llm", "answer_generator": "llm",
            "min_query_similarity": 0.0,
            "llm": {"model": "fake-model", "base_url": base_url, "api_key_env": "RAFT_SECRET_TEST_KEY",
                    "max_tokens": 16, "questions_per_chunk": 2, "max_concurrency": 2,
                    "extra_body": {"chat_template_kwargs": {"enable_thinking": False}}, **llm}}


def test_a_build_writes_and_prints_no_key(fake_server, tmp_path):
    written, config_dir = tmp_path / "written", tmp_path / "config"
    config_dir.mkdir()
    env = _isolated_env(written)
    host = fake_server.base_url.removesuffix("/v1")
    run = _build(_config(f"{host}/{PATH_SEGMENT}/v1"), config_dir, written, env)
    (written / "stdout.txt").write_text(run.stdout)
    (written / "stderr.txt").write_text(run.stderr)
    assert run.returncode == 0, run.stderr[-2000:]

    # The key went where it belongs, on every request; the URL was used as given.
    assert len(fake_server.seen) > 10
    assert {s.authorization for s in fake_server.seen} == {f"Bearer {API_KEY}"}
    assert {s.path for s in fake_server.seen} == {f"/{PATH_SEGMENT}/v1/chat/completions"}
    assert all(s.body["chat_template_kwargs"] == {"enable_thinking": False} for s in fake_server.seen)
    # What the build wrote: the dataset, the caches (LLM responses with their requests, embeddings),
    # temporary files, and what it printed.
    assert (written / "out" / "README.md").is_file()
    assert list((written / "raft_dataset_cache").rglob("llm_cache.sqlite"))
    assert _files_holding(written, [API_KEY, PATH_SEGMENT]) == []


@pytest.mark.parametrize("place", ["nested_extra_body", "headers", "url_path", "api_key_env", "extra_body_value"])
def test_a_key_put_anywhere_else_is_refused_unechoed_before_anything_is_written(
        place, fake_server, tmp_path, monkeypatch, capsys):
    from raft_dataset.cli import main

    written, config_dir = tmp_path / "written", tmp_path / "config"
    config_dir.mkdir()
    for name, value in _isolated_env(written).items():  # the same settings, in this process: it fails fast
        monkeypatch.setenv(name, value)
    base_url = fake_server.base_url
    llm = {
        "nested_extra_body": {"extra_body": {"chat_template_kwargs": {"credentials": {"token": API_KEY}}}},
        "headers": {"extra_body": {"headers": {"Authorization": f"Bearer {API_KEY}"}}},
        "url_path": {"base_url": f"{base_url.removesuffix('/v1')}/{API_KEY}/v1"},
        "api_key_env": {"api_key_env": "hf_planted7Hq2ZxWv9KmN4rT8yL3pB6"},  # the key where its NAME belongs
        "extra_body_value": {"extra_body": {"user": API_KEY}},
    }[place]
    secret = llm.get("api_key_env", API_KEY)
    path = config_dir / "build.yaml"
    path.write_text(yaml.safe_dump(_config(**{"base_url": base_url, **llm})))
    assert main(["build", str(path), "--output", str(written / "out"), "--quiet"]) == 2
    out, err = capsys.readouterr()
    error = err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"raft-dataset: error: {path}:")
    assert f"llm.{next(iter(llm))}" in error[0]  # names the key
    assert secret not in out + err
    assert fake_server.seen == []  # refused before any request
    assert _files_holding(written, [secret]) == [] and not (written / "out").exists()
