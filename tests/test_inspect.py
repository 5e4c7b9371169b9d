"""Looking at a built dataset before training: `raft-dataset inspect`, `build --limit` and `build --dry-run`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from raft_dataset import config as config_module
from raft_dataset import pipeline
from raft_dataset.cli import build_parser, main
from raft_dataset.config import ConfigError, RaftDatasetConfig
from raft_dataset.export import write_dataset_folder
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.preview import context_documents, example_row, parse_filter, preview_split
from raft_dataset.prompt import render_prompt
from raft_dataset.quality import quality_report
from raft_dataset.records import Chunk
from tests.fake_encoder import HashingEncoder

# One section per page, so each page is one chunk whose title is the page title.
PAGES = {
    "alpha.md": ("Alpha jobs", "Alpha jobs run every hour on the primary scheduler node. They are retried twice when the node is busy."),
    "beta.md": ("Beta queues", "Beta queues retry three times with exponential backoff before failing. Each retry doubles the delay."),
    "gamma.md": ("Gamma logs", "Gamma logs are written as JSON lines to the audit directory. Old files are compressed every night."),
    "delta.md": ("Delta tokens", "Delta tokens expire after twelve hours and must be refreshed. A refreshed token keeps its scopes."),
    "epsilon.md": ("Epsilon workers", "Epsilon workers hold at most one thousand pending runs. Extra runs wait in the overflow queue."),
    "zeta.md": ("Zeta snapshots", "Zeta snapshots are taken before every deployment. They are kept for thirty days."),
    "eta.md": ("Eta alerts", "Eta alerts are sent to the on-call channel within one minute. Muted alerts are still recorded."),
    "theta.md": ("Theta quotas", "Theta quotas limit each team to forty concurrent runs. Administrators can raise the limit."),
}
GLOSSARY = ("# Glossary\n\nRunner\n: A process that executes the jobs of one team.\n\n"
            "Lease\n: A time-limited claim that a worker holds on a run.\n")
TITLES = {**{name: title for name, (title, _) in PAGES.items()}, "glossary.md": "Glossary"}


def _write_corpus(folder):
    folder.mkdir()
    for name, (title, body) in PAGES.items():
        (folder / name).write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    (folder / "glossary.md").write_text(GLOSSARY, encoding="utf-8")
    return folder


def _config(corpus, **overrides) -> RaftDatasetConfig:
    settings = dict(corpus=str(corpus), embedding_cache="", num_distractors=2, min_query_similarity=-1.0,
                    oracle_probability=0.7, splits={"train": 0.75, "test": 0.25}, license="mit")
    return RaftDatasetConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def encoder():
    return HashingEncoder()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _write_corpus(tmp_path_factory.mktemp("inspect") / "corpus")


@pytest.fixture(scope="module")
def built(corpus, encoder, tmp_path_factory):
    """A folder written by a build, and its train rows as parquet holds them."""
    result = build_raft_dataset(_config(corpus), encoder=encoder, show_progress=False)
    folder = write_dataset_folder(result, tmp_path_factory.mktemp("out") / "out")
    train = pq.read_table(folder / "data" / "train-00000-of-00001.parquet").to_pylist()
    return folder, train


def _header(row: dict, index: int) -> list[str]:
    """The first lines `inspect` prints for a row, written out from the row and the corpus."""
    position, n = row["oracle_position"], len(row["context_chunk_ids"])
    title = TITLES[row["oracle_doc_id"]]
    oracle = f'"{title}", document {position + 1} of {n}' if row["oracle_present"] else "(not in the context)"
    excluded = row["excluded_distractors"]
    return [
        f"=== train[{index}] (id {row['id']}) ===",
        f"question: {row['question']}",
        f"origin: {row['query_origin']}",
        f"oracle: {row['oracle_chunk_id']} {oracle}",
        f"provenance: oracle_choice {row['oracle_choice']}, oracle_confidence {row['oracle_confidence']:.3f}, "
        f"retrievers_agree {str(row['retrievers_agree']).lower()}, oracle_rank {row['oracle_rank']}, "
        f"hard_negatives {row['hard_negatives']}",
        f"excluded distractors: {len(excluded)}" + (" (" if excluded else ""),
    ]


def _printed_row(out: str, index: int) -> list[str]:
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"=== train[{index}] ")))
    end = lines.index("answer:", start)
    return lines[start:end]


def test_a_row_prints_its_question_oracle_provenance_and_context(built, capsys):
    folder, train = built
    index, row = next((i, r) for i, r in enumerate(train) if r["oracle_present"] and r["oracle_position"] > 0)
    assert main(["inspect", str(folder), "--filter", f"id={row['id']}"]) == 0
    out = capsys.readouterr().out
    printed = _printed_row(out, index)
    expected = _header(row, index)
    assert printed[:5] == expected[:5]
    assert printed[5].startswith(expected[5])
    context = printed[printed.index("context (* the oracle):") + 1:]
    assert len(context) == len(row["context_chunk_ids"])
    for i, (line, chunk_id) in enumerate(zip(context, row["context_chunk_ids"])):
        mark = "*" if i == row["oracle_position"] else " "
        assert line.startswith(f"  {mark} {i + 1}. [{chunk_id}] {TITLES[chunk_id.split('#')[0]]}: ")
    answer = out.split("answer:\n", 1)[1]
    assert [line.strip() for line in row["output"].splitlines()] == [line.strip() for line in answer.splitlines()[:len(row["output"].splitlines())]]
    assert f"train has {len(train)} rows (test " in out and "1 rows match id=" in out
    assert "## Quality of train" in out and f"| Check ({len(train)} rows) | Share of rows |" in out
    assert "rejected during the build (all splits): " in out


def test_filters_choose_rows_by_column(built, capsys):
    folder, train = built
    confidences = sorted({r["oracle_confidence"] for r in train})
    middle = (confidences[len(confidences) // 2 - 1] + confidences[len(confidences) // 2]) / 2  # between two rows
    for flag, wanted in [("origin=definition", lambda r: r["query_origin"] == "definition"),
                         ("oracle_present=false", lambda r: not r["oracle_present"]),
                         (f"confidence<{middle}", lambda r: r["oracle_confidence"] < middle),
                         ("oracle_rank=0", lambda r: r["oracle_rank"] == 0),
                         (f"question!={train[0]['question']}", lambda r: r["question"] != train[0]["question"])]:
        assert main(["inspect", str(folder), "--filter", flag, "-n", "50", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        expected = [i for i, r in enumerate(train) if wanted(r)]
        assert expected, flag  # the fixture has rows of each kind
        assert shown["matched"] == len(expected) and [r["row"] for r in shown["shown"]] == expected
    # Two filters: both must hold.
    preview = preview_split(folder, n=50, filters=[parse_filter("origin=heading"), parse_filter("oracle_present=true")])
    assert [i for i, _ in preview.shown] == [i for i, r in enumerate(train) if r["query_origin"] == "heading" and r["oracle_present"]]
    # Rows without their oracle say so.
    assert main(["inspect", str(folder), "--filter", "oracle_present=false", "-n", "1"]) == 0
    assert "(not in the context)" in capsys.readouterr().out


@pytest.mark.parametrize(("flag", "message"), [
    ("nosuch=1", "--filter nosuch=1: no column 'nosuch' (columns: id, "),
    ("oracle_present=maybe", "--filter oracle_present=maybe: oracle_present is true or false, got 'maybe'"),
    ("question<abc", "--filter question<abc: question is text: use = or !="),
    ("context_doc_ids=a.md", "--filter context_doc_ids=a.md: cannot filter on context_doc_ids"),
    ("no operator", "--filter 'no operator': expected COLUMN=VALUE"),
])
def test_bad_filters_are_one_line(built, capsys, flag, message):
    assert main(["inspect", str(built[0]), "--filter", flag]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"raft-dataset: error: {message}")


def test_json_holds_every_row_count_quality_and_tokens(built, capsys):
    folder, train = built
    assert main(["inspect", str(folder), "--json", "-n", "3", "--seed", "4"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["rows"] == len(train) and shown["other_splits"] == {"test": pq.read_metadata(
        folder / "data" / "test-00000-of-00001.parquet").num_rows}
    assert len(shown["shown"]) == 3
    for item in shown["shown"]:
        assert {k: v for k, v in item.items() if k != "row"} == train[item["row"]]
    assert shown["quality"] == quality_report(train).to_dict()
    assert shown["token_statistics"]["total"]["total"] == sum(r["total_tokens"] for r in train)
    assert shown["rejections"] == {}  # from the card: this build rejected nothing
    # The same seed draws the same rows; more rows than the split holds shows them all.
    assert main(["inspect", str(folder), "--json", "-n", "3", "--seed", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["shown"] == shown["shown"]
    assert len(preview_split(folder, n=1000).shown) == len(train)


def test_missing_folder_and_split_are_one_line(built, tmp_path, capsys):
    assert main(["inspect", str(built[0]), "--split", "validation"]) == 2
    assert capsys.readouterr().err == f"raft-dataset: error: {built[0]}: no split 'validation' (splits: train, test)\n"
    assert main(["inspect", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == f"raft-dataset: error: {tmp_path / 'nothing'}: no such folder\n"
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no data/*.parquet shards" in capsys.readouterr().err


def test_documents_read_back_with_a_custom_template():
    chunks = [Chunk(f"d{i}.md#0", f"d{i}.md", f"Page {i}", f"Text {i}.\n\nMore {{text}} {i}.", 0, 9, 3) for i in range(3)]
    template = "[{index}] {title}\n{text}"
    _, input_text = render_prompt("Q: {question}", template, "q?", chunks)
    row = {"input": input_text, "context_chunk_ids": [c.chunk_id for c in chunks]}
    assert [(d.title, d.text) for d in context_documents(row, template)] == [(c.title, c.text) for c in chunks]
    assert context_documents(row) is None  # read with the default template: not the documents it was made with
    short = example_row(row, template, width=8)
    assert [d.text for d in context_documents(short, template)] == ["Text 0.…", "Text 1.…", "Text 2.…"]


def test_limit_builds_from_the_first_n_queries(corpus, encoder):
    full = build_raft_dataset(_config(corpus), encoder=encoder, show_progress=False)
    limited = [build_raft_dataset(_config(corpus, max_queries=5), encoder=encoder, show_progress=False) for _ in range(2)]
    assert full.counts["queries"] > 5
    assert limited[0].counts["queries"] == 5 and sum(len(rows) for rows in limited[0].splits.values()) <= 5
    assert limited[0].splits == limited[1].splits  # deterministic
    questions = {row["question"] for rows in limited[0].splits.values() for row in rows}
    assert questions <= {row["question"] for rows in full.splits.values() for row in rows}
    assert build_parser().parse_args(["build", "--output", "o", "--limit", "7"]).max_queries == 7
    assert config_module.MIN_QUERIES == pipeline.MIN_SAMPLES
    with pytest.raises(ConfigError, match=r"^max_queries: must be >= 5 "):
        _config(corpus, max_queries=3)


@pytest.mark.slow  # the CLI builds with the real (embedded) encoder
def test_dry_run_prints_rows_and_writes_nothing(corpus, embedding_cache, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["build", "--corpus", str(corpus), "--output", str(out), "--quiet", "--dry-run", "--limit", "6",
                 "--embedding-cache", embedding_cache, "--min-query-similarity", "-1", "--num-distractors", "2"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert not out.exists() and list(tmp_path.iterdir()) == []
    built = int(printed.split("dry run: built ", 1)[1].split()[0])
    assert 0 < built <= 6
    assert f"({out} untouched)" in printed and "| Check (" in printed and "| train |" in printed
    assert printed.count("\n=== ") == min(3, built) and "3 example rows:" in printed
