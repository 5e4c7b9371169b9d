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
    ({"ray_resources": {"write": {}}}, "ray_resources: unknown stage 'write'"),
    ({"ray_resources": {"encode": {"actors": 0}}}, r"ray_resources.encode.actors: expected an integer >= 1"),
    ({"ray_resources": {"read": {"num_gpus": 1}}}, "ray_resources.read: unknown key 'num_gpus'"),
    ({"ray_resources": {"encode": {"num_cpus": -1}}}, r"ray_resources.encode.num_cpus: expected a number >= 0"),
])
def test_executor_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        RaftDatasetConfig(**{"corpus": "docs", **settings})
