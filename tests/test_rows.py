"""Rows worth training on, end to end on small real-looking pages (tests/fixtures/docs): a Sphinx reST
page with roles, labels, a note and a literal block; an MDX page with front matter, an admonition, an
include and a comment; an FAQ; a troubleshooting page of problem headings; a glossary.

Runs on the hashing fake encoder (no weights), so quote choice rests on shared words: what is asserted
is the whole chain (clean text -> questions -> evidence -> quotes -> final answer), exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raft_dataset.config import SYSTEM_PROMPTS, RaftDatasetConfig
from raft_dataset.corpus import read_corpus
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.quality import quality_report
from raft_dataset.raft_format import REFUSAL_ANSWER, extract_quotes, final_answer
from tests.fake_encoder import HashingEncoder

DOCS = Path(__file__).parent / "fixtures" / "docs"

# (question, origin, oracle document, quotes, final answer) of every row, in build order.
EXPECTED_ROWS = [
    ("Can I run Tidewave without root?", "heading", "faq.md",
     ["Yes. Tidewave only needs write access to its data directory, which defaults to `~/.tidewave/data`."],
     "Yes. Tidewave only needs write access to its data directory, which defaults to `~/.tidewave/data`."),
    ("Why are my jobs running twice?", "heading", "faq.md",
     ["Two schedulers are pointed at the same database. Stop one of them, or give each its own database with `--db`."],
     "Two schedulers are pointed at the same database. Stop one of them, or give each its own database with `--db`."),
    ("Does Tidewave support Windows?", "heading", "faq.md",
     ["No. Windows is not supported; use WSL 2 instead."],
     "No. Windows is not supported; use WSL 2 instead."),
    ("What is a run?", "definition", "glossary.rst",
     ["run: One execution of a job, from start to exit, with its own log and exit status."],
     "A run is one execution of a job, from start to exit, with its own log and exit status."),
    ("What is backoff?", "definition", "glossary.rst",
     ["backoff: The wait between two attempts of a failed run; it doubles after every failure."],
     "Backoff is the wait between two attempts of a failed run; it doubles after every failure."),
    ("How do I install tidewave?", "heading", "install.mdx",
     ["Tidewave runs on Linux and macOS and needs Python 3.10 or newer.",
      "Old releases: Releases before 2.0 are no longer supported."],
     "Tidewave runs on Linux and macOS and needs Python 3.10 or newer."),
    ("How do I install with pipx?", "heading", "install.mdx",
     ["Install the command-line tool with pipx, which keeps it in its own environment:\n\n"
      "```bash\npipx install tidewave\n```"],
     "Install the command-line tool with pipx, which keeps it in its own environment: `pipx install tidewave`."),
    ("How do I upgrade an existing install?", "heading", "install.mdx",
     ["Run `pipx upgrade tidewave` to move to the latest release. Your configuration in `~/.tidewave` is kept."],
     "Run `pipx upgrade tidewave` to move to the latest release."),
    ("How do I define views?", "heading", "sphinx.rst",
     ["A view function answers one URL. Register it with the `route()` decorator; see URL Building for the "
      "reverse direction.", "Note: Views must return a response, a string or a tuple."],
     "A view function answers one URL. Register it with the `route()` decorator; see URL Building for the "
     "reverse direction."),
    ("How do I return JSON?", "heading", "sphinx.rst",
     ["A view that returns a `dict` or a `list` is serialised to JSON automatically by `flask.jsonify()`. "
      "Use this for small APIs:\n\n```\n@app.route(\"/me\")\ndef me():\n    return {\"name\": \"ada\"}\n```"],
     "A view that returns a `dict` or a `list` is serialised to JSON automatically by `flask.jsonify()`. "
     "Use this for small APIs, for example `return {\"name\": \"ada\"}`."),
    ("How do I build a URL to a view?", "heading", "sphinx.rst",
     ["To build a URL to a view, call `url_for()` with the view's name and its arguments. It escapes special "
      "characters for you."],
     "To build a URL to a view, call `url_for()` with the view's name and its arguments. It escapes special "
     "characters for you."),
    ("What should I do if the scheduler won't start?", "heading", "troubleshooting.md",
     ["Check that port 7400 is free. Another process listening on it stops the scheduler from binding its API."],
     "Check that port 7400 is free. Another process listening on it stops the scheduler from binding its API."),
    ("What should I do if jobs are timing out?", "heading", "troubleshooting.md",
     ["Raise `timeout` in the job's section, or split the job into smaller steps. The default timeout is 10 minutes."],
     "Raise `timeout` in the job's section, or split the job into smaller steps. The default timeout is 10 minutes."),
]


def _config(**overrides) -> RaftDatasetConfig:
    settings = dict(corpus=str(DOCS), embedding_cache="", num_distractors=1, oracle_probability=1.0,
                    min_query_similarity=-1.0, splits={"train": 1.0})
    return RaftDatasetConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def rows():
    result = build_raft_dataset(_config(), encoder=HashingEncoder(), show_progress=False)
    return result.splits["train"]


def test_clean_text_of_the_sphinx_and_mdx_pages():
    docs = {d.doc_id: d for d in read_corpus(str(DOCS))}
    sphinx, mdx = docs["sphinx.rst"], docs["install.mdx"]
    assert sphinx.title == "Defining Views" and mdx.title == "Installing Tidewave"
    assert sphinx.text == (
        "A view function answers one URL. Register it with the `route()` decorator; see URL Building for the "
        "reverse direction.\n\nNote: Views must return a response, a string or a tuple.\n\n"
        "A view that returns a `dict` or a `list` is serialised to JSON automatically by `flask.jsonify()`. "
        "Use this for small APIs:\n\n```\n@app.route(\"/me\")\ndef me():\n    return {\"name\": \"ada\"}\n```\n\n"
        "To build a URL to a view, call `url_for()` with the view's name and its arguments. It escapes special "
        "characters for you."
    )
    assert mdx.text == (
        "Tidewave runs on Linux and macOS and needs Python 3.10 or newer.\n\n"
        "Old releases: Releases before 2.0 are no longer supported.\n\n"
        "(Example file: `docs_src/install.py`)\n\n"
        "Install the command-line tool with pipx, which keeps it in its own environment:\n\n"
        "```bash\npipx install tidewave\n```\n\n"
        "Run `pipx upgrade tidewave` to move to the latest release. Your configuration in `~/.tidewave` is kept."
    )
    assert [(h.level, h.text) for h in sphinx.headings] == [(1, "Defining Views"), (2, "Returning JSON"),
                                                            (2, "URL Building")]
    assert [(d.term, docs["glossary.rst"].text[d.start:d.end]) for d in docs["glossary.rst"].definitions] == [
        ("run", "One execution of a job, from start to exit, with its own log and exit status."),
        ("backoff", "The wait between two attempts of a failed run; it doubles after every failure."),
    ]


def test_questions_quotes_and_answers(rows):
    got = [(r["question"], r["query_origin"], r["oracle_doc_id"], extract_quotes(r["output"]),
            final_answer(r["output"])) for r in rows]
    assert got == EXPECTED_ROWS


def test_reasoning_names_the_document_and_varies(rows):
    openings = set()
    for row in rows:
        position = row["oracle_position"] + 1
        title = next(t for t in row["input"].split("<DOCUMENT>")[position].splitlines() if t.startswith("Title: "))
        assert f"ocument {position}" in row["output"] and f'"{title.removeprefix("Title: ")}"' in row["output"]
        assert "Putting this together" not in row["output"]
        openings.add(row["output"].split("\n", 1)[0][:20])
    assert len(openings) >= 3


def test_the_quality_report_finds_no_defect(rows):
    report = quality_report(rows)
    assert report.rows == len(EXPECTED_ROWS)
    assert all(share == 0 for share in report.to_dict()["defects"].values())


@pytest.mark.parametrize("policy", ["keep", "refuse"])
def test_system_prompt_follows_the_oracle_absent_policy(policy):
    result = build_raft_dataset(_config(oracle_probability=0.0, oracle_absent_answer=policy),
                                encoder=HashingEncoder(), show_progress=False)
    rows = result.splits["train"]
    assert {r["messages"][0]["content"] for r in rows} == {SYSTEM_PROMPTS[policy]}
    refusals = [r for r in rows if final_answer(r["output"]) == REFUSAL_ANSWER]
    if policy == "keep":
        assert "says so when they do not contain the answer" not in SYSTEM_PROMPTS[policy]
        assert not refusals and all(extract_quotes(r["output"]) for r in rows)  # answered from the absent oracle
    else:
        assert "says so when they do not contain the answer" in SYSTEM_PROMPTS[policy]
        assert len(refusals) == len(rows) and not any(extract_quotes(r["output"]) for r in rows)
