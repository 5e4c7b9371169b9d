"""The `raft-dataset` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pytest

from raft_dataset.cli import main
from tests.conftest import EXAMPLE_CORPUS, REPO, require

pytestmark = pytest.mark.slow  # builds with the encoder


def test_build_command_writes_a_loadable_folder_and_prints_statistics(tmp_path, embedding_cache, capsys):
    out = tmp_path / "out"
    code = main([
        "build", str(REPO / "examples" / "raft.yaml"), "--output", str(out), "--quiet",
        "--embedding-cache", embedding_cache, "--num-distractors", "3", "--seed", "9",
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"to {out}" in printed and "| train |" in printed
    train = datasets.load_dataset(str(out), split="train")
    assert all(len(ids) == 4 for ids in train["context_chunk_ids"])
    card = (out / "README.md").read_text()
    assert "seed: 9" in card and "num_distractors: 3" in card


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
