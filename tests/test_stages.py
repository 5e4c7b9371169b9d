"""Stages passed in as objects: a question generator, an answer generator and a retriever written
here, and a reader registered from outside the package. Runs on the fake encoder (no weights)."""

from __future__ import annotations

import re
import sys
import textwrap

import numpy as np
import pytest

from raft_dataset.answers import Answer
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.corpus import detect_format, read_corpus, register_reader
from raft_dataset.pipeline import BuildError, build_raft_dataset
from raft_dataset.raft_format import ANSWER_MARKER, BEGIN_QUOTE, END_QUOTE, extract_quotes, final_answer
from raft_dataset.records import Document, Query
from raft_dataset.report import BuildReport
from tests.fake_encoder import HashingEncoder

PAGES = {
    "alpha.md": "# Alpha jobs\n\nAlpha jobs run every hour on the primary scheduler node.\n",
    "beta.md": "# Beta jobs\n\nBeta jobs retry three times with exponential backoff before failing.\n",
    "gamma.md": "# Gamma jobs\n\nGamma logs are written as JSON lines to the audit directory.\n",
    "delta.md": "# Delta jobs\n\nDelta tokens expire after twelve hours and must be refreshed.\n",
    "epsilon.md": "# Epsilon jobs\n\nEpsilon queues hold at most one thousand pending runs.\n",
    "zeta.md": "# Zeta jobs\n\nZeta workers need four gigabytes of memory each.\n",
}


@pytest.fixture(scope="module")
def encoder():
    return HashingEncoder()


@pytest.fixture()
def corpus(tmp_path):
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


class FirstSentenceQuestions:
    """One question per document: 'What about <title>?', its oracle the document's first chunk."""

    def generate(self, documents, index):
        spans = index.spans()
        return [Query(f"What about {doc.title.lower()}?", doc_id=doc.doc_id, chunk_id=spans[doc.doc_id][0][2],
                      origin="test") for doc in documents]


class QuoteLastParagraph:
    """Quotes the oracle's last paragraph and answers with it."""

    def __init__(self):
        self.requests = []

    def generate(self, requests):
        self.requests.extend(requests)
        paragraphs = [r.oracle.text.strip().split("\n\n")[-1] for r in requests]
        return [Answer(f"It says: {BEGIN_QUOTE}{p}{END_QUOTE}\n{ANSWER_MARKER} {p}") for p in paragraphs]


class ReverseAlphabeticalRetriever:
    """Ranks every chunk by chunk id, descending: deterministic and unlike any real retriever."""

    def fit(self, index):
        self.ids = [c.chunk_id for c in index.chunks()]
        self.fitted = True

    def search(self, questions, k):
        order = sorted(range(len(self.ids)), key=lambda r: self.ids[r], reverse=True)[:k]
        rows = np.array([order] * len(questions), dtype=np.int64)
        return np.ones(rows.shape, dtype=np.float32), rows

    def similarity(self, question, rows):
        return np.array([0.5] * len(rows), dtype=np.float32)


def test_build_with_stages_passed_in_as_objects(corpus, encoder, tmp_path):
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", num_distractors=2, hard_negative_ratio=1.0,
                               oracle_probability=1.0, min_query_similarity=-1.0, splits={"train": 1.0})
    answers, retriever = QuoteLastParagraph(), ReverseAlphabeticalRetriever()
    result = build_raft_dataset(config, question_generator=FirstSentenceQuestions(), answer_generator=answers,
                                retriever=retriever, encoder=encoder, show_progress=False)
    rows = result.splits["train"]
    assert retriever.fitted and len(rows) == len(PAGES) == len(answers.requests)
    assert {r["query_origin"] for r in rows} == {"test"}
    for row in rows:
        title = re.match(r"What about (\w+) jobs\?", row["question"]).group(1)
        assert row["oracle_doc_id"] == f"{title}.md"
        # The distractors are the top of the test retriever's ranking: the last ids alphabetically,
        # skipping the oracle's own document.
        expected = [f"{name}#0" for name in sorted(PAGES, reverse=True) if name != row["oracle_doc_id"]][:2]
        assert sorted(c for c in row["context_chunk_ids"] if c != row["oracle_chunk_id"]) == sorted(expected)
        assert len(row["context_scores"]) == 3 and all(-1.0 <= s <= 1.0 for s in row["context_scores"])  # cosines
        assert row["output"].endswith(PAGES[row["oracle_doc_id"]].split("\n\n")[1].strip())


def test_hashing_encoder_build_is_deterministic_and_fast(corpus, encoder):
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", splits={"train": 1.0}, min_query_similarity=-1.0,
                               questions_per_doc=2)
    first = build_raft_dataset(config, encoder=encoder, show_progress=False)
    second = build_raft_dataset(config, encoder=encoder, show_progress=False)
    assert first.splits == second.splits and len(first.splits["train"]) >= 5


def _read_org(path, doc_id, options):
    """A tiny reader for Emacs org files: '* Heading' lines become the title."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("* ")), doc_id)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("* ")).strip()
    yield Document(doc_id=doc_id, title=title, text=body, format="org", source=path)


def test_a_reader_registered_from_outside_the_package(tmp_path):
    (tmp_path / "notes.org").write_text("* Release checklist\nTag the release and publish the wheel.\n")
    (tmp_path / "other.xyz").write_text("unknown")
    assert detect_format("notes.org") is None
    register_reader(".org", _read_org)
    report = BuildReport()
    docs = list(read_corpus(str(tmp_path), report=report))
    assert [(d.doc_id, d.title, d.text, d.format) for d in docs] == [
        ("notes.org", "Release checklist", "Tag the release and publish the wheel.", "org")
    ]
    assert report.skipped == {"unsupported_extension": 1}


def test_a_reader_found_through_an_entry_point(tmp_path, monkeypatch):
    """A package declaring `[raft_dataset.readers] .note = module:reader` is picked up."""
    site = tmp_path / "site"
    (site / "note_reader_pkg").mkdir(parents=True)
    (site / "note_reader_pkg" / "__init__.py").write_text(textwrap.dedent('''
        from raft_dataset.records import Document

        def read_note(path, doc_id, options):
            text = open(path, encoding="utf-8").read().strip()
            yield Document(doc_id=doc_id, title="Note", text=text.upper(), format="note", source=path)
    '''))
    dist = site / "note_reader_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: note-reader-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[raft_dataset.readers]\n.note = note_reader_pkg:read_note\n")
    monkeypatch.syspath_prepend(str(site))
    import raft_dataset.corpus as corpus

    monkeypatch.setattr(corpus, "_entry_points_loaded", False)
    monkeypatch.setattr(corpus, "_READERS", dict(corpus._READERS))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.note").write_text("remember the milk\n")
    docs = list(read_corpus(str(tmp_path / "docs")))
    assert [(d.title, d.text, d.format) for d in docs] == [("Note", "REMEMBER THE MILK", "note")]
    sys.modules.pop("note_reader_pkg", None)


def test_a_reader_registered_in_code_wins_over_an_entry_point_reader(tmp_path, monkeypatch):
    """The package's own PDF reader comes through an entry point; a user's `.pdf` reader registered
    before the first read is kept, not replaced when the entry points load."""
    import raft_dataset.corpus as corpus

    monkeypatch.setattr(corpus, "_entry_points_loaded", False)
    monkeypatch.setattr(corpus, "_READERS", dict(corpus._READERS))
    monkeypatch.setattr(corpus, "_plugin_suffixes", set())
    corpus._READERS.pop(".pdf", None)

    def read_mine(path, doc_id, options):
        yield Document(doc_id=doc_id, title="Mine", text="read by my reader", format="mine", source=path)

    register_reader(".pdf", read_mine, format="mine")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4 not really")
    docs = list(read_corpus(str(tmp_path)))
    assert [(d.title, d.format) for d in docs] == [("Mine", "mine")]
    assert detect_format("b.docx") == "docx"  # the entry points did load


class FixedRanking:
    """Ranks chunks in a fixed order of documents, for every question."""

    def __init__(self, order):
        self.order = order

    def fit(self, index):
        self.rows = [int(index.rows_of(doc)[0]) for doc in self.order]

    def search(self, questions, k):
        rows = np.array([self.rows[:k]] * len(questions), dtype=np.int64)
        return np.ones(rows.shape, dtype=np.float32), rows

    def similarity(self, question, rows):
        return np.array([1.0 / (1 + self.rows.index(r)) for r in rows], dtype=np.float32)


class ReferenceQuestions:
    def generate(self, documents, index):
        return [Query("How long do tokens stay valid?", answer="They expire after twelve hours.", origin="file"), *[
            Query(f"What about {name.split('.')[0]} jobs?", origin="file") for name in ("alpha.md", "beta.md",
                                                                                         "gamma.md", "zeta.md")
        ]]


def test_the_oracle_is_the_chunk_that_supports_the_reference_answer(corpus, encoder):
    """The answer lives in the second-ranked chunk (delta.md): that chunk is the oracle, its sentence is
    quoted, and the top-ranked chunk (epsilon.md) is never shown as a distractor."""
    order = ["epsilon.md", "delta.md", "alpha.md", "beta.md", "gamma.md", "zeta.md"]
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", num_distractors=3, hard_negative_ratio=1.0,
                               oracle_probability=1.0, min_query_similarity=-1.0, splits={"train": 1.0})
    result = build_raft_dataset(config, question_generator=ReferenceQuestions(), retriever=FixedRanking(order),
                                encoder=encoder, show_progress=False)
    (row,) = [r for r in result.splits["train"] if r["reference_answer"]]
    assert row["oracle_doc_id"] == "delta.md" and row["oracle_rank"] == 1
    assert extract_quotes(row["output"]) == ["Delta tokens expire after twelve hours and must be refreshed."]
    assert final_answer(row["output"]) == "They expire after twelve hours."
    assert "epsilon.md" not in row["context_doc_ids"]
    assert row["oracle_choice"] == "reference_answer" and row["oracle_retrieved"] is True  # rank 1 < check_k 5
    # Every candidate kept out is on the row with its guard: epsilon for ranking above the chosen oracle.
    excluded = {e["chunk_id"]: e["guard"] for e in row["excluded_distractors"]}
    assert excluded["epsilon.md#0"] == "ranked_above_oracle"
    assert not set(row["context_chunk_ids"]) & set(excluded)
    assert len(row["context_doc_ids"]) == 1 + min(3, 5 - len(excluded))
    # The other questions' oracle is the fixed ranking's top hit, epsilon.md: a wrong one. The retrieval
    # that chose it cannot check it (oracle_retrieved is null), and the dense + BM25 confidence says no.
    for other in result.splits["train"]:
        if other is not row:
            assert other["oracle_choice"] == "top_hit" and other["oracle_retrieved"] is None
            assert other["oracle_doc_id"] == "epsilon.md" and other["oracle_confidence"] < 0
            assert not other["retrievers_agree"]


def test_a_reference_answer_the_corpus_does_not_support_is_rejected(corpus, encoder):
    class Unsupported:
        def generate(self, documents, index):
            return [Query(f"What about {d}?", answer="Purple elephants dance on Tuesdays.", doc_id=f"{d}.md")
                    for d in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")]

    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", min_query_similarity=-1.0,
                               splits={"train": 1.0})
    with pytest.raises(BuildError, match="unsupported_reference: 6"):
        build_raft_dataset(config, question_generator=Unsupported(), encoder=encoder, show_progress=False)
