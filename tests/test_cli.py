"""The `raft-dataset` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pytest

from raft_dataset.cli import main
from tests.conftest import EXAMPLE_CORPUS, REPO


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
