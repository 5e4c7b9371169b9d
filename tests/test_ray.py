"""`executor: ray` builds the same dataset as the local executor, on a local 2-CPU Ray instance.

Ray is an optional extra: without it these tests skip on a developer's machine and fail in CI, which
installs the extra and must run them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from raft_dataset.config import ConfigError, RaftDatasetConfig
from raft_dataset.corpus import CorpusError
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.report import CORPUS
from tests.fake_encoder import HashingEncoder

DOCS = Path(__file__).parent / "fixtures" / "docs"
EXAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        message = 'ray is not installed (pip install "raft-dataset[ray]")'
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the Ray tests", pytrace=False)
        pytest.skip(message)
    return ray


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance with 2 CPUs for the module, as a small cluster would offer."""
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path) -> Path:
    """The fixture docs and the example corpus in one folder, plus files the build must skip and a
    JSON-lines file whose second record repeats the first one's id."""
    root = tmp_path / "corpus"
    shutil.copytree(DOCS, root / "docs")
    shutil.copytree(EXAMPLE_CORPUS, root / "example")
    (root / "empty.md").write_text("", encoding="utf-8")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (root / "records.jsonl").write_text(
        '{"_id": "a", "title": "Ports", "text": "The server listens on port 8080 by default."}\n'
        '{"_id": "a", "title": "Again", "text": "A second record under the same id is dropped."}\n',
        encoding="utf-8",
    )
    return root


def _build(corpus: Path, executor: str, **settings):
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", num_distractors=2, min_query_similarity=-1.0,
                               license="mit", seed=3, executor=executor, **settings)
    return build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)


@pytest.mark.slow
def test_ray_build_equals_local_build_row_for_row(ray_instance, corpus):
    """Same rows, counts and skipped items; with an IVF index, trained on the driver from the same
    seeded sample, so even approximate search agrees."""
    local = _build(corpus, "local", index_factory="IVF4,Flat")
    on_ray = _build(corpus, "ray", index_factory="IVF4,Flat")
    assert sum(len(rows) for rows in local.splits.values()) >= 5
    assert on_ray.splits.keys() == local.splits.keys()
    for name, rows in local.splits.items():
        assert on_ray.splits[name] == rows, f"split {name} differs"
    assert on_ray.counts == local.counts
    assert on_ray.report.dropped == local.report.dropped
    assert on_ray.report.dropped_items == local.report.dropped_items
    # The corpus holds what a build must count: skipped files and a repeated document id.
    assert local.report.dropped[CORPUS]["duplicate_id"] == 1
    assert {reason for _, reason, _ in local.report.dropped_items} >= {"empty", "binary"}


@pytest.mark.slow
def test_strict_mode_error_names_the_file(ray_instance, corpus):
    with pytest.raises(CorpusError, match=r"binary\.txt"):
        _build(corpus, "ray", strict=True)


def test_bad_glob_fails_before_ray_starts(tmp_path):
    config = RaftDatasetConfig(corpus=str(tmp_path / "nothing" / "*.md"), executor="ray", embedding_cache="")
    with pytest.raises(CorpusError, match="no file matches"):
        build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)


@pytest.mark.parametrize("settings, message", [
    ({"executor": "spark"}, "executor: must be one of local, ray"),
    ({"executor": "ray", "hf_dataset": "squad", "corpus": None}, "executor: ray reads local files"),
    ({"ray_resources": {"train": {}}}, "ray_resources: unknown stage .train."),
    ({"ray_resources": {"write": {"actors": 2}}}, "ray_resources.write: unknown key .actors."),
    ({"ray_resources": {"encode": {"actors": 0}}}, r"ray_resources.encode.actors: expected an integer >= 1"),
    ({"ray_resources": {"read": {"num_gpus": 1}}}, "ray_resources.read: unknown key 'num_gpus'"),
    ({"ray_resources": {"encode": {"num_cpus": -1}}}, r"ray_resources.encode.num_cpus: expected a number >= 0"),
])
def test_executor_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        RaftDatasetConfig(**{"corpus": "docs", **settings})


# -- LLM requests in an actor pool ----------------------------------------------------------------


@pytest.fixture
def fake_llm():
    from tests.llm_fixtures import FaultProxy, scripted_reply

    server = FaultProxy(upstream=None, responder=scripted_reply).start()
    yield server
    server.stop()


def _llm_build(corpus: Path, executor: str, server, cache: Path, **settings):
    return _build(corpus, executor, question_generator="llm", answer_generator="llm",
                  llm={"model": "fake-model", "base_url": server.base_url, "max_tokens": 16, "questions_per_chunk": 2,
                       "max_concurrency": 4, "cache_path": str(cache), "progress": False},
                  ray_resources={"llm": {"actors": 2, "num_cpus": 0.5}}, **settings)


@pytest.mark.slow
def test_ray_llm_build_equals_local_and_shares_the_response_cache(ray_instance, fake_llm, tmp_path):
    """LLM questions and answers generated by two Ray actors give the local build's rows; the actors
    share the driver's response cache, so a rerun sends nothing."""
    example = tmp_path / "example"
    shutil.copytree(EXAMPLE_CORPUS / "guide", example)
    local = _llm_build(example, "local", fake_llm, tmp_path / "local.sqlite")
    sent_locally = len(fake_llm.seen)
    on_ray = _llm_build(example, "ray", fake_llm, tmp_path / "ray.sqlite")
    assert sum(len(rows) for rows in local.splits.values()) >= 10
    assert all(row["query_origin"] == "llm" for rows in on_ray.splits.values() for row in rows)
    for name, rows in local.splits.items():
        assert on_ray.splits[name] == rows, f"split {name} differs"
    # The same requests were sent, in the same numbers, and both actors generated some of them.
    assert len(fake_llm.seen) == 2 * sent_locally
    assert on_ray.llm_usage["totals"]["api_calls"] == local.llm_usage["totals"]["api_calls"]
    workers = on_ray.llm_usage["workers"]
    assert workers["actors"] == 2 and len(workers["batches_per_actor"]) == 2
    assert sum(workers["batches_per_actor"]) == on_ray.llm_usage["totals"]["api_calls"]
    assert "workers" not in local.llm_usage

    again = _llm_build(example, "ray", fake_llm, tmp_path / "ray.sqlite")
    assert len(fake_llm.seen) == 2 * sent_locally  # every response came from the shared cache
    assert again.llm_usage["totals"]["cache_hits"] == again.llm_usage["totals"]["requests"] > 0
    assert again.splits == on_ray.splits


@pytest.mark.slow
def test_llm_actors_keep_the_backend_errors(ray_instance):
    """Errors raised in the actors reach the driver's client as the backend's own kinds: a 503 is
    retried and then answered; a refused key stops the stage at once with the usual message."""
    from raft_dataset.llm import Completion, LLMConfig, LLMError, make_llm_client
    from raft_dataset.ray_executor import LLMResources, RayLLMBackend
    from tests.llm_fixtures import FaultProxy, Reply

    def plan(body, attempt):
        content = body["messages"][-1]["content"]
        if content.startswith("refused"):
            return Reply(401, b'{"error": {"message": "bad key"}}')
        return Reply(503, b'{"error": {"message": "busy"}}') if attempt == 0 else None

    server = FaultProxy(upstream=None, plan=plan).start()
    try:
        cfg = LLMConfig.from_dict({"model": "fake-model", "base_url": server.base_url, "cache_path": "",
                                   "progress": False, "max_retries": 3, "backoff_base": 0.01, "max_concurrency": 1})
        backend = RayLLMBackend(cfg, LLMResources(num_cpus=0.5, num_gpus=0, actors=2))
        with make_llm_client(cfg, backend=backend) as client:
            results = client.complete([[{"role": "user", "content": f"question {i}"}] for i in range(3)], "answers")
            assert [type(r) for r in results] == [Completion] * 3
            assert client.stats()["stages"]["answers"]["retries"] == {"server_error": 3}
            with pytest.raises(LLMError, match="authentication"):
                client.complete([[{"role": "user", "content": f"refused {i}"}] for i in range(4)], "questions")
            assert client.stats()["stages"]["questions"]["failures"] == {"authentication": 1}
        assert os.getpid() not in backend.calls_by_worker and sum(backend.calls_by_worker.values()) == 7
        assert len([s for s in server.seen if s.body["messages"][-1]["content"].startswith("refused")]) == 1
    finally:
        server.stop()


# -- parquet shards written by Ray tasks ----------------------------------------------------------


@pytest.mark.slow
def test_ray_shard_writers_give_the_local_files(ray_instance, corpus, tmp_path):
    """Split into shards of at most 7 rows, the Ray tasks write byte-identical files to the local
    writer's, named in the Hub layout, and `datasets` reads the rows back."""
    import datasets

    from raft_dataset.export import split_shards, write_dataset_folder

    local = _build(corpus, "local", rows_per_shard=7)
    on_ray = _build(corpus, "ray", rows_per_shard=7)
    local_dir = write_dataset_folder(local, tmp_path / "local")
    ray_dir = write_dataset_folder(on_ray, tmp_path / "ray")
    shards = split_shards(local_dir)
    train_rows = len(local.splits["train"])
    assert len(shards["train"]) == -(-train_rows // 7) >= 2
    assert shards["train"][-1].endswith(f"-of-{len(shards['train']):05d}.parquet")
    assert split_shards(ray_dir) == shards
    for files in shards.values():
        for name in files:
            assert (ray_dir / name).read_bytes() == (local_dir / name).read_bytes(), name
    loaded = datasets.load_dataset("parquet", data_files={s: [str(ray_dir / f) for f in files]
                                                          for s, files in shards.items()})
    for name, rows in local.splits.items():  # values come back as the features' types (float32 scores)
        assert loaded[name]["id"] == [row["id"] for row in rows]
        assert loaded[name]["output"] == [row["output"] for row in rows]
