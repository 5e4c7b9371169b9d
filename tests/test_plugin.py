"""`load_dataset("raft_dataset", ...)` on current `datasets`, the builder used directly, and the cache key."""

from __future__ import annotations

import shutil
import subprocess
import sys

import datasets
import pytest

import raft_dataset
import raft_dataset.plugin
from raft_dataset.builder import RaftDatasetBuilder, config_fingerprint
from raft_dataset.config import ConfigError, RaftDatasetConfig
from raft_dataset.corpus import CorpusError
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


def test_builder_script_exposes_the_same_builder_and_says_scripts_do_not_run():
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("builder_script", REPO / "builder_script.py")
    module = importlib.util.module_from_spec(spec)
    if int(datasets.__version__.split(".")[0]) >= 4:
        with pytest.warns(UserWarning, match=r"^builder_script.py: datasets \S+ does not run loading scripts; use"):
            spec.loader.exec_module(module)
    else:  # pragma: no cover - datasets 3.x runs it as a loading script
        spec.loader.exec_module(module)
    assert module.RaftDatasetBuilder is RaftDatasetBuilder
    # Run as a program, it says in one line what to use instead.
    result = subprocess.run([sys.executable, str(REPO / "builder_script.py")], capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "load_dataset" in result.stderr and result.stdout == ""


def test_no_corpus_is_refused_instead_of_reading_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("A note that is not documentation.\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "rows.jsonl").write_text('{"text": "a row of an old output"}\n')
    monkeypatch.chdir(tmp_path)
    refusal = r"^corpus: no documents given; pass data_files=\.\.\., corpus=\.\.\. or hf_dataset=\.\.\."
    with pytest.raises(ConfigError, match=refusal):
        datasets.load_dataset_builder("raft_dataset")
    with pytest.raises(ConfigError, match=refusal):  # the package's own entry point: no import step needed
        raft_dataset.plugin.load_dataset("default", cache_dir=str(tmp_path / "hf"))
    # Files the user names, or a folder given as data_dir, are a corpus.
    named = datasets.load_dataset_builder("raft_dataset", data_files="notes.txt")
    assert [str(f) for f in named.config.data_files["train"]] == [str(tmp_path / "notes.txt")]
    in_folder = datasets.load_dataset_builder("raft_dataset", data_dir="old")
    assert [str(f) for f in in_folder.config.data_files["train"]] == [str(tmp_path / "old" / "rows.jsonl")]


def test_strict_failure_through_load_dataset_names_the_file_first(tmp_path, embedding_cache):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Retries\n\nJobs are retried three times.\n")
    (corpus / "broken.md").write_bytes(b"# Title\n\x00\x01binary")
    with pytest.raises(Exception) as info:
        datasets.load_dataset("raft_dataset", data_files=str(corpus / "*.md"), strict=True,
                              embedding_cache=embedding_cache, cache_dir=str(tmp_path / "hf"))
    # datasets may wrap it (DatasetGenerationError); the first message of ours names the file first.
    error = info.value
    while not isinstance(error, CorpusError) and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, CorpusError)
    assert str(error).startswith(f"{corpus / 'broken.md'}: ")
