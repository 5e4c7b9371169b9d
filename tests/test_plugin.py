"""`load_dataset("raft_dataset", ...)` on current `datasets`, the builder used directly, and the cache key."""

from __future__ import annotations

import shutil

import datasets
import pytest

import raft_dataset
from raft_dataset.builder import RaftDatasetBuilder, config_fingerprint
from raft_dataset.config import ConfigError, RaftDatasetConfig
from raft_dataset.plugin import is_registered
from raft_dataset.queries import read_queries
from tests.conftest import EXAMPLE_CORPUS, EXAMPLE_QUERIES

pytestmark = pytest.mark.slow  # builds with the encoder


@pytest.fixture
def corpus_copy(tmp_path):
    target = tmp_path / "corpus"
    shutil.copytree(EXAMPLE_CORPUS, target)
    return target


def test_import_registers_the_plugin():
    assert raft_dataset.__version__
    assert is_registered()


def test_load_dataset_by_name_builds_splits(tmp_path, embedding_cache):
    dataset = datasets.load_dataset(
        "raft_dataset", "default", data_files=str(EXAMPLE_CORPUS / "**" / "*.md"),
        cache_dir=str(tmp_path / "hf"), embedding_cache=embedding_cache, queries=str(EXAMPLE_QUERIES),
        seed=3,
    )
    assert set(dataset) <= {"train", "validation", "test"} and "train" in dataset
    row = dataset["train"][0]
    assert row["messages"][0]["role"] == "system" and row["messages"][2]["content"] == row["output"]
    assert "<ANSWER>:" in row["output"]
    # Queries come from the file: every question is one of the user's.
    questions = {q.question for q in read_queries(EXAMPLE_QUERIES)}
    assert set(dataset["train"]["question"]) <= questions


def test_yaml_config_as_config_name(tmp_path, embedding_cache):
    config = tmp_path / "mine.yaml"
    config.write_text(f"corpus: {EXAMPLE_CORPUS}\nnum_distractors: 2\nembedding_cache: {embedding_cache}\n")
    builder = datasets.load_dataset_builder("raft_dataset", str(config), cache_dir=str(tmp_path / "hf"))
    assert builder.config.name == "mine" and builder.config.num_distractors == 2
    builder.download_and_prepare()
    train = builder.as_dataset("train")
    assert all(len(ids) == 3 for ids in train["context_chunk_ids"])


def test_builder_used_directly(tmp_path, embedding_cache):
    builder = RaftDatasetBuilder(
        cache_dir=str(tmp_path / "hf"), corpus=str(EXAMPLE_CORPUS), embedding_cache=embedding_cache, seed=5
    )
    builder.download_and_prepare()
    dataset = builder.as_dataset()
    assert sum(d.num_rows for d in dataset.values()) == builder.build_result.counts["samples"] >= 5


def test_unknown_or_bad_settings_fail_with_the_key(tmp_path):
    with pytest.raises(ConfigError, match="load_dataset: unknown key 'chunk_sizes'"):
        datasets.load_dataset_builder("raft_dataset", data_files=str(EXAMPLE_CORPUS / "*.md"), chunk_sizes=3)
    with pytest.raises(ConfigError, match="^chunk_overlap"):
        datasets.load_dataset_builder("raft_dataset", data_files=str(EXAMPLE_CORPUS / "*.md"), chunk_overlap=500)


def test_cache_key_changes_with_any_corpus_file_or_setting(corpus_copy):
    config = RaftDatasetConfig(corpus=str(corpus_copy))
    before = config_fingerprint(config)
    assert config_fingerprint(RaftDatasetConfig(corpus=str(corpus_copy))) == before
    assert config_fingerprint(RaftDatasetConfig(corpus=str(corpus_copy), oracle_probability=0.5)) != before
    page = corpus_copy / "faq.md"
    page.write_text(page.read_text() + "\nOne more line.\n")
    assert config_fingerprint(config) != before


def test_builder_script_exposes_the_same_builder():
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("builder_script", REPO / "builder_script.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.RaftDatasetBuilder is RaftDatasetBuilder
