"""The `raft-dataset` command as a user runs it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import datasets
import pytest
from huggingface_hub import constants

import raft_dataset
from raft_dataset.cli import _dropped_lines, build_parser, main, setting_help
from raft_dataset.config import SETTING_NAMES
from raft_dataset.report import CORPUS, BuildReport
from tests.conftest import EXAMPLE_CORPUS, REPO, require


def _one_error_line(capsys) -> str:
    """The command's stderr, asserted to be exactly one `raft-dataset: error:` line."""
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("raft-dataset: error: ")
    return lines[0]


@pytest.mark.slow  # builds with the encoder
def test_build_command_writes_a_loadable_folder_and_prints_statistics(tmp_path, embedding_cache, capsys, monkeypatch):
    out = tmp_path / "out"
    code = main([
        "build", str(REPO / "examples" / "raft.yaml"), "--output", str(out), "--quiet",
        "--embedding-cache", embedding_cache, "--num-distractors", "3", "--seed", "9",
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"to {out}" in printed and "| train |" in printed
    assert "skipped files: " in printed and "rejected: " in printed
    train = datasets.load_dataset(str(out), split="train")
    assert all(len(ids) == 4 for ids in train["context_chunk_ids"])
    card = (out / "README.md").read_text()
    assert "seed: 9" in card and "num_distractors: 3" in card
    # Publishing with the Hub switched off fails in one line, and so would any network failure.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["push", str(out), "someone/raft-test", "--revision", "b1", "--commit-message", "m"]) == 2
    assert "Hub" in _one_error_line(capsys)


# A Hub id no one will ever publish, so it is in no developer's HF cache either.
_UNCACHED_HUB_ID = "raft-dataset-tests/no-such-model"


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--encoder", "{tmp}/missing-model"], ["encoder: no such model folder", "/missing-model"]),
        (["--encoder", _UNCACHED_HUB_ID], ["encoder: ", _UNCACHED_HUB_ID, "not a local folder", "offline",
                                           f"hf download {_UNCACHED_HUB_ID}"]),
        (["--stats-tokenizer", _UNCACHED_HUB_ID], ["stats_tokenizer: ", "not a local folder", "offline"]),
        (["--stats-tokenizer", "./no-such-tokenizer"], ["stats_tokenizer: no such model folder: ./no-such-tokenizer"]),
        (["--reranker", "{tmp}/missing-reranker"], ["reranker: no such model folder", "missing-reranker"]),
        (["--token-encoding", "cl100k_bas"], ["token_encoding: unknown tiktoken encoding 'cl100k_bas'", "cl100k_base"]),
        (["--seed", "-1"], ["seed: must be >= 0, got -1"]),
        (["--hybrid-weights", "[a, 1]"], ["hybrid_weights: "]),
        (["--seed", "many"], ["--seed", "invalid int value: 'many'"]),
        (["--num-distractor", "3"], ["unrecognized arguments: --num-distractor", "did you mean --num-distractors?"]),
        (["--output", ""], ["empty path"]),
    ],
)
def test_every_bad_setting_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, flags, names):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    argv = ["build", "--corpus", str(EXAMPLE_CORPUS), "--output", str(tmp_path / "out"), "--quiet"]
    if "--output" in flags:
        argv = argv[:3] + argv[5:]
    assert main([*argv, *flags]) == 2
    line = _one_error_line(capsys)
    for name in names:
        assert name in line
    assert not (tmp_path / "out").exists()


def test_a_tokenizer_that_does_not_load_stops_the_build_before_the_index(tmp_path, capsys):
    not_a_tokenizer = tmp_path / "tokenizer"
    not_a_tokenizer.mkdir()
    (not_a_tokenizer / "notes.txt").write_text("not a tokenizer")
    cache = tmp_path / "embeddings.sqlite"
    assert main(["build", "--corpus", str(EXAMPLE_CORPUS), "--output", str(tmp_path / "out"), "--quiet",
                 "--stats-tokenizer", str(not_a_tokenizer), "--embedding-cache", str(cache)]) == 2
    assert _one_error_line(capsys).startswith(f"raft-dataset: error: stats_tokenizer: cannot load the tokenizer '{not_a_tokenizer}'")
    assert not cache.exists()  # nothing was encoded


def test_yaml_errors_name_the_file_line_and_key(tmp_path, capsys):
    config = tmp_path / "raft.yaml"
    config.write_text("seed: 3\ncorpus: [1, 2]\n")
    assert main(["build", str(config), "--output", str(tmp_path / "out")]) == 2
    assert _one_error_line(capsys) == (
        f"raft-dataset: error: {config}:2: corpus[0]: expected a string (a glob, folder or file), got int"
    )
    config.write_text(f"corpus: {EXAMPLE_CORPUS}\nencoder: models/minilm\n")
    assert main(["build", str(config), "--output", str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys)  # a relative model path that is not there is taken for a Hub id
    assert line.startswith(f"raft-dataset: error: {config}:2: encoder: 'models/minilm' is not a local folder")
    # A value given as a flag is named as the key alone: it did not come from the file.
    assert main(["build", str(config), "--output", str(tmp_path / "out"), "--encoder", str(tmp_path / "nope")]) == 2
    assert _one_error_line(capsys) == f"raft-dataset: error: encoder: no such model folder: {tmp_path / 'nope'}"


@pytest.mark.slow  # reads the corpus, which needs the encoder loaded first
def test_strict_failure_names_the_file(tmp_path, capsys, embedding_cache):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Retries\n\nJobs are retried three times.\n")
    (corpus / "broken.md").write_bytes(b"# Title\n\x00\x01binary")
    argv = ["build", "--corpus", str(corpus), "--output", str(tmp_path / "out"), "--quiet", "--strict", "true",
            "--embedding-cache", embedding_cache]
    assert main(argv) == 2
    assert _one_error_line(capsys).startswith(f"raft-dataset: error: {corpus / 'broken.md'}: ")
    with pytest.raises(ValueError, match="broken.md"):  # --debug keeps the traceback
        main(["--debug", *argv])


def test_push_errors_are_one_line_and_its_options_exist(tmp_path, capsys):
    assert main(["push", str(tmp_path), "someone/raft-test"]) == 2
    assert str(tmp_path) in _one_error_line(capsys)
    args = build_parser().parse_args(["push", "out", "me/ds", "--revision", "v2", "--create-pr", "--commit-message", "m"])
    assert (args.revision, args.create_pr, args.commit_message) == ("v2", True, "m")


def test_version_and_whole_flag_names_only(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"raft-dataset {raft_dataset.__version__}"
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert parser.allow_abbrev is False
    assert {name: p.allow_abbrev for name, p in subparsers.choices.items()} == dict.fromkeys(subparsers.choices, False)
    assert main(["push", "out", "me/ds", "--revis", "b"]) == 2  # a prefix of --revision is not --revision
    assert "did you mean --revision?" in _one_error_line(capsys)


def test_every_setting_flag_has_help_from_the_config_docstring():
    docs = setting_help()
    assert set(docs) == set(SETTING_NAMES)  # the docstring documents every field, and the parser finds it
    build = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["build"]
    flags = {a.dest: a for a in build._actions if a.dest in SETTING_NAMES}
    assert set(flags) == set(SETTING_NAMES)
    missing = [name for name, action in flags.items() if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []
    assert flags["oracle_probability"].help.startswith("Probability p that the oracle stays in the context.")
    # Continuation lines are joined into one sentence.
    assert "the rest are drawn at random from the corpus" in flags["hard_negative_ratio"].help
    build.format_help()  # every help string survives argparse's %-formatting


def test_dropped_items_are_listed_by_name_only_with_verbose():
    report = BuildReport()
    report.drop(CORPUS, "binary", where="docs/logo.md")
    report.drop(CORPUS, "undecodable_name", where="docs/caf\udce9.md")  # a name that is not UTF-8
    report.drop(CORPUS, "empty")  # counted without a name
    assert _dropped_lines(report.dropped_items, verbose=False) == ["(--verbose lists the 2 skipped or dropped items by name)"]
    assert _dropped_lines(report.dropped_items, verbose=True) == [
        "skipped or dropped, by name:", "  corpus binary: docs/logo.md", "  corpus undecodable_name: docs/caf\\xe9.md",
    ]
    assert _dropped_lines([], verbose=False) == []


def test_bad_input_is_one_line_naming_the_key_or_file(tmp_path, capsys):
    assert main(["build", "--corpus", str(EXAMPLE_CORPUS), "--output", str(tmp_path / "o"), "--chunk-overlap", "999"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("raft-dataset: error: chunk_overlap") and "\n" not in error
    assert main(["build", "--corpus", str(tmp_path / "nothing-*.md"), "--output", str(tmp_path / "o"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "nothing-*.md" in error and "\n" not in error
    assert not (tmp_path / "o").exists()


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "raft_dataset.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "eval-retrieval" in result.stdout


@pytest.mark.parametrize("flag", ["--oracle-probability", "--hard-negative-ratio"])
def test_every_setting_is_a_flag(flag):
    from raft_dataset.cli import build_parser

    args = build_parser().parse_args(["build", "--output", "x", flag, "0.5"])
    assert json.dumps(vars(args)).count("0.5") == 1


def _small_beir(tmp_path, n_docs=40):
    """A slice of SQuAD dev in BEIR layout: the first documents and the queries about them."""
    from tests.conftest import SQUAD

    lines = (SQUAD / "corpus.jsonl").read_text().splitlines()[:n_docs]
    doc_ids = {json.loads(line)["_id"] for line in lines}
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    qrels = [row.split("\t") for row in (SQUAD / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    kept = [q for q in qrels if q[1] in doc_ids][:60]
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join("\t".join(q) for q in kept) + "\n")
    query_ids = {q[0] for q in kept}
    queries = [line for line in (SQUAD / "queries.jsonl").read_text().splitlines() if json.loads(line)["_id"] in query_ids]
    (tmp_path / "queries.jsonl").write_text("\n".join(queries) + "\n")
    return len(kept)


@pytest.mark.slow  # encodes a SQuAD slice
def test_eval_retrieval_prints_one_json_object(tmp_path, capsys):
    from tests.conftest import SQUAD

    require(SQUAD)
    n_queries = _small_beir(tmp_path)
    code = main([
        "eval-retrieval", "--corpus", str(tmp_path / "corpus.jsonl"), "--queries", str(tmp_path / "queries.jsonl"),
        "--qrels", str(tmp_path / "qrels.tsv"), "--json",
    ])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10"} <= set(metrics)
    assert metrics["queries"] == n_queries and metrics["documents"] == 40
    assert metrics["recall@100"] == 1.0  # 40 documents: every one is ranked
    assert 0.6 < metrics["recall@5"] <= metrics["recall@10"] <= 1.0
    assert metrics["mrr@10"] <= metrics["recall@10"]


@pytest.mark.slow  # builds with the encoder
def test_too_few_samples_stops_with_the_reason(tmp_path, embedding_cache, capsys):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "one.md").write_text("# Retries\n\nJobs are retried three times with a five second pause between attempts.\n")
    (corpus / "two.md").write_text("# Logging\n\nLogs are kept for seven days in the state directory of the user.\n")
    code = main(["build", "--corpus", str(corpus), "--output", str(tmp_path / "out"), "--quiet",
                 "--embedding-cache", embedding_cache])
    error = capsys.readouterr().err
    assert code == 2 and "fewer than 5 queries: the corpus gave 2" in error and "queries file" in error
    assert not (tmp_path / "out").exists()
