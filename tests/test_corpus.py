"""Corpus reading on the real FastAPI docs and on small hand-written files of every supported format."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from raft_dataset.corpus import (
    CorpusError,
    Document,
    read_corpus,
    read_hf_dataset,
)
from raft_dataset.markup import fenced_code_spans, parse
from raft_dataset.raft_format import without_fenced_code
from raft_dataset.report import BuildReport
from tests.conftest import FASTAPI_DOCS as FASTAPI
from tests.conftest import require

INCLUDE_LINE = re.compile(r"^[ \t]*\{\*.*\*\}[ \t]*$", re.M)


def _code_body(fence: str) -> str:
    """A fenced block's code lines without the fence lines and surrounding blank lines."""
    lines = fence.split("\n")[1:-1]
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return without_fenced_code(text)


# --------------------------------------------------------------------------------------------------
# The real FastAPI docs
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fastapi_docs() -> tuple[list[Document], BuildReport]:
    require(FASTAPI)
    report = BuildReport()
    docs = list(read_corpus(str(FASTAPI / "**" / "*.md"), report=report))
    return docs, report


def test_fastapi_every_page_is_read_once_in_sorted_order(fastapi_docs):
    docs, report = fastapi_docs
    # Two pages hold no text a reader sees: an iframe sign-up form and an mkdocstrings `:::` directive.
    empty = {"newsletter.md", "reference/encoders.md"}
    expected = sorted(p.relative_to(FASTAPI).as_posix() for p in FASTAPI.rglob("*.md"))
    assert len(expected) > 150
    assert [d.doc_id for d in docs] == [e for e in expected if e not in empty]
    # The example programs in docs_src are not shipped with these pages: each include is counted and named.
    assert report.documents == len(docs) and report.skipped.keys() == {"empty", "missing_include"}
    assert report.skipped["empty"] == len(empty) and report.skipped["missing_include"] > 400
    assert {d.format for d in docs} == {"markdown"}
    assert all(Path(d.source).is_file() and d.text == d.text.strip() and d.text for d in docs)


def test_fastapi_include_directives_and_front_matter_are_removed(fastapi_docs):
    docs, _ = fastapi_docs
    raw = {d.doc_id: (FASTAPI / d.doc_id).read_text(encoding="utf-8") for d in docs}
    assert sum(len(INCLUDE_LINE.findall(t)) for t in raw.values()) > 400  # the corpus really has them
    with_front_matter = [i for i, t in raw.items() if t.startswith("---\n")]
    assert {"index.md", "release-notes.md", "fastapi-people.md"} <= set(with_front_matter)
    by_id = {d.doc_id: d for d in docs}
    for doc in docs:
        assert not INCLUDE_LINE.search(doc.text), doc.doc_id
        assert "<!--" not in _prose(doc.text), doc.doc_id
        assert not re.search(r"^/{3,}", _prose(doc.text), re.M), doc.doc_id  # admonition markers gone
    for doc_id in with_front_matter:
        text = by_id[doc_id].text
        assert not text.startswith("---") and "include_yaml:" not in text and "hide:" not in text
    # A block marker's title survives as text: `/// note | Technical Details`.
    assert "Technical Details" in by_id["tutorial/first-steps.md"].text


def test_fastapi_code_fences_survive_cleanup_verbatim(fastapi_docs):
    docs, _ = fastapi_docs
    total = terminals = annotated = included = 0
    for doc in docs:
        raw = (FASTAPI / doc.doc_id).read_text(encoding="utf-8")
        # The code lines are kept verbatim (blank lines around them aside); the info string keeps only
        # the language ("JSON hl_lines=...").
        raw_fences = [_code_body(raw[s:e]) for s, e in fenced_code_spans(raw)]
        doc_fences = [_code_body(doc.text[s:e]) for s, e in fenced_code_spans(doc.text)]
        # Except terminal output dressed in web colour tags (fastapi-cli.md's termynal): its text stays,
        # the tags go.
        styled = [bool(re.search(r"<font\b|<span style=", f)) for f in raw_fences]
        raw_fences = [html.unescape(re.sub(r"<[^>]+>", "", f)) if tagged else f for f, tagged in zip(raw_fences, styled)]
        # And Material's code-annotation markers (`# (1)!`, deployment/docker.md): page furniture, not code.
        annotated += sum("(1)!" in f for f in raw_fences)
        raw_fences = [re.sub(r"[ \t]*# \(\d+\)!\n?", "", f) for f in raw_fences]
        # And a fence holding only an mdx_include line (`{!> ../../docs_src/x.py!}`) becomes a note naming the file.
        included += sum(bool(re.fullmatch(r"\{!>?[^\n]*!\}", f.strip())) for f in raw_fences)
        raw_fences = [f for f in raw_fences if not re.fullmatch(r"\{!>?[^\n]*!\}", f.strip())]
        assert doc_fences == raw_fences, doc.doc_id
        total += len(doc_fences)
        terminals += sum(styled)
    assert total > 350 and terminals >= 5 and annotated >= 3 and included >= 5


def test_fastapi_titles(fastapi_docs):
    docs, _ = fastapi_docs
    titles = {d.doc_id: d.title for d in docs}
    assert titles["index.md"] == "FastAPI"  # front matter without a title, H1 with `{ #fastapi }`
    assert titles["tutorial/first-steps.md"] == "First Steps"
    assert titles["release-notes.md"] == "Release Notes"
    assert titles["advanced/custom-response.md"] == "Custom Response - HTML, Stream, File, others"
    assert titles["tutorial/dependencies/index.md"] == "Dependencies"
    for doc_id, title in titles.items():
        assert title and "{" not in title and "`" not in title and not title.startswith("#"), doc_id


def test_directory_pattern_reads_supported_files_and_counts_the_rest(fastapi_docs):
    docs, by_glob = fastapi_docs
    report = BuildReport()
    from_dir = list(read_corpus(str(FASTAPI), report=report))
    assert [d.doc_id for d in from_dir] == [d.doc_id for d in docs]
    # the LICENSE file, two empty pages; the same missing example files as by glob
    assert report.skipped == {"unsupported_extension": 1, "empty": 2, "missing_include": by_glob.skipped["missing_include"]}


# --------------------------------------------------------------------------------------------------
# Hand-written files
# --------------------------------------------------------------------------------------------------


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


MARKDOWN = """---
title: Front Matter Title
tags: [a, b]
---

<!-- a comment
over two lines -->
# Page Heading { #page-heading }

Intro paragraph.

{* ../../docs_src/app/tutorial001.py hl[3] *}

/// note | Technical Details

Inside the note.

///

!!! warning "Careful"
    Indented admonition body.

        indented code inside it

```python
# not a heading
{* kept inside code *}
<!-- kept inside code -->
```

{% for x in y %}
Done.
"""


def test_markdown_cleanup(tmp_path):
    _write(tmp_path / "page.md", MARKDOWN)
    (doc,) = read_corpus(str(tmp_path / "page.md"))
    assert doc.doc_id == "page.md" and doc.format == "markdown"
    assert doc.title == "Front Matter Title"
    # Front matter, the comment and the template tag are gone; the include names its file (markup reads
    # no files); the heading is structure; admonitions keep their title as a lead-in; code is kept
    # verbatim, in fences.
    assert doc.text == (
        "Intro paragraph.\n\n(Example file: `docs_src/app/tutorial001.py`)\n\nTechnical Details: Inside the note.\n\nCareful: Indented admonition body.\n\n"
        "```\nindented code inside it\n```\n\n"
        "```python\n# not a heading\n{* kept inside code *}\n<!-- kept inside code -->\n```\n\nDone."
    )
    assert [(h.start, h.level, h.text) for h in doc.headings] == [(0, 1, "Page Heading")]


def test_markdown_title_falls_back_to_heading_then_file_name(tmp_path):
    _write(tmp_path / "a.md", "```\n# Inside a fence\n```\n\nText\n\n## Second level\n\n# Real Title\n")
    _write(tmp_path / "getting-started.mdx", "No heading at all.\n")
    _write(tmp_path / "setup" / "index.markdown", "Just text.\n")
    _write(tmp_path / "setext.md", "Setext Title\n============\n\nBody.\n")
    # httpx/docs/advanced/ssl.md has no heading: "Ssl" read wrong; the page writes "SSL" (and "Verify" only
    # at a sentence's start).
    _write(tmp_path / "ssl-verify.md", "Verify the host with SSL certificates. SSL is on; ssl.c says why.\n\n"
                                       "```python\nimport ssl\nctx = ssl.create_default_context()\nssl.foo()\n```\n")
    titles = {d.doc_id: d.title for d in read_corpus(str(tmp_path))}
    assert titles == {"a.md": "Real Title", "getting-started.mdx": "Getting started",
                      "setup/index.markdown": "Setup", "setext.md": "Setext Title", "ssl-verify.md": "SSL verify"}


def test_a_leading_rule_that_is_not_front_matter_is_only_a_rule():
    parsed = parse("---\n\nJust a horizontal rule above.\n\n---\n\nMore.", "markdown")
    assert (parsed.title, parsed.text) == (None, "Just a horizontal rule above.\n\nMore.")


RST = """\
=============
 Sphinx Guide
=============

Intro.

Installation
============

Install it.

From source
-----------

Build it::

    # not a heading
    make

Usage
=====

Use it.
"""


def test_rst_and_sphinx_sources(tmp_path):
    _write(tmp_path / "guide.rst", RST)
    _write(tmp_path / "_sources" / "api.rst.txt", "API Reference\n*************\n\nFunctions.\n")
    _write(tmp_path / "_sources" / "notes.txt", "Plain notes.\n")
    docs = {d.doc_id: d for d in read_corpus(str(tmp_path / "**" / "*"))}
    assert set(docs) == {"guide.rst", "_sources/api.rst.txt", "_sources/notes.txt"}
    assert docs["guide.rst"].format == "rst" and docs["guide.rst"].title == "Sphinx Guide"
    assert docs["_sources/api.rst.txt"].format == "rst" and docs["_sources/api.rst.txt"].title == "API Reference"
    assert docs["_sources/notes.txt"].format == "text" and docs["_sources/notes.txt"].title == "Notes"
    headings = [(h.level, h.text) for h in docs["guide.rst"].headings]
    assert headings == [(1, "Sphinx Guide"), (2, "Installation"), (3, "From source"), (2, "Usage")]


def test_markdown_headings_skip_fences_and_clean_markup():
    text = "# A `code` [link](http://x) { #a }\n\n~~~\n# no\n~~~\n\n```\n## no\n```\n\n### *Emph* here ###\n"
    assert [(h.level, h.text) for h in parse(text, "markdown").headings] == [(1, "A code link"), (3, "Emph here")]


HTML = """<!DOCTYPE html><html><head><title>The Page Title</title><style>body {color: red}</style>
<script>var hidden = 1;</script></head><body><nav>Home | Docs</nav>
<h1>Main Heading</h1><p>First paragraph with <b>bold</b> text.</p>
<h2>Sub Heading</h2><p>Second paragraph.</p></body></html>"""


def test_html(tmp_path):
    _write(tmp_path / "page.html", HTML)
    _write(tmp_path / "untitled.htm", "<html><body><h1>Only H1</h1><p>Body text.</p></body></html>")
    docs = {d.doc_id: d for d in read_corpus(str(tmp_path / "*.htm*"))}
    page = docs["page.html"]
    assert page.format == "html" and page.title == "The Page Title"
    assert page.text == "First paragraph with bold text.\n\nSecond paragraph."
    assert [(h.level, h.text) for h in page.headings] == [(1, "Main Heading"), (2, "Sub Heading")]
    assert "color" not in page.text and "hidden" not in page.text and "Home | Docs" not in page.text
    assert "The Page Title" not in page.text
    assert docs["untitled.htm"].title == "Only H1"


def test_jsonl_custom_fields_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"pid": "p-1", "name": "First", "body": "Text one."}),
        "{not json",
        json.dumps({"name": "No id", "body": "Text two."}),
        json.dumps({"pid": "p-3", "body": "  "}),
        json.dumps({"pid": "p-4", "name": "No body"}),
        "",
        json.dumps(["not", "an", "object"]),
    ]
    path = _write(tmp_path / "data" / "records.jsonl", "\n".join(lines) + "\n")
    report = BuildReport()
    docs = list(read_corpus(str(path), text_field="body", title_field="name", id_field="pid", report=report))
    assert [(d.doc_id, d.title, d.text, d.format) for d in docs] == [
        ("p-1", "First", "Text one.", "jsonl"),
        ("records.jsonl:3", "No id", "Text two.", "jsonl"),
    ]
    assert report.documents == 2
    assert report.skipped == {"bad_json_line": 3, "empty": 1}
    with pytest.raises(CorpusError, match=re.escape(f"{path}:2")):
        list(read_corpus(str(path), text_field="body", title_field="name", id_field="pid", strict=True))


def test_json_array_file(tmp_path):
    path = _write(tmp_path / "docs.json", json.dumps([{"_id": "a", "title": "A", "text": "Alpha."},
                                                      {"text": "Beta."}]))
    docs = list(read_corpus(str(path)))
    assert [(d.doc_id, d.title, d.text) for d in docs] == [("a", "A", "Alpha."), ("docs.json:2", "Docs", "Beta.")]


@pytest.fixture()
def bad_files(tmp_path) -> Path:
    _write(tmp_path / "good.md", "# Good\n\nFine.\n")
    _write(tmp_path / "empty.md", "")
    _write(tmp_path / "blank.txt", "  \n\t\n")
    _write(tmp_path / "only-front-matter.md", "---\ntitle: Nothing\n---\n<!-- nothing either -->\n")
    _write(tmp_path / "binary.txt", b"abc\x00\x01\x02def")
    _write(tmp_path / "latin1.md", "# Caf\u00e9\n\nna\u00efve\n".encode("latin-1"))
    _write(tmp_path / "bom.md", "\ufeff# With BOM\r\n\r\nWindows lines.\r\n".encode())
    _write(tmp_path / "image.png", b"\x89PNG\r\n")
    return tmp_path


def test_bad_files_are_skipped_and_counted(bad_files):
    report = BuildReport()
    docs = list(read_corpus(str(bad_files), report=report))
    assert [d.doc_id for d in docs] == ["bom.md", "good.md"]
    assert docs[0].title == "With BOM" and docs[0].text == "Windows lines."
    assert report.documents == 2
    assert report.skipped == {"empty": 3, "binary": 1, "undecodable": 1, "unsupported_extension": 1}


@pytest.mark.parametrize("name", ["empty.md", "blank.txt", "only-front-matter.md", "binary.txt", "latin1.md"])
def test_strict_mode_names_the_bad_file(bad_files, name):
    with pytest.raises(CorpusError, match=re.escape(name)):
        list(read_corpus([str(bad_files / "good.md"), str(bad_files / name)], strict=True))


def test_no_match_raises_at_call_time_naming_the_patterns(tmp_path):
    with pytest.raises(CorpusError, match=r"nothing/\*\*/\*\.md.*missing\.rst"):
        read_corpus([str(tmp_path / "nothing" / "**" / "*.md"), str(tmp_path / "missing.rst")])
    _write(tmp_path / "a.md", "# A\n\ntext")
    # One pattern matching is enough, unless strict.
    assert len(list(read_corpus([str(tmp_path / "*.md"), str(tmp_path / "*.rst")]))) == 1
    with pytest.raises(CorpusError, match=r"\*\.rst"):
        read_corpus([str(tmp_path / "*.md"), str(tmp_path / "*.rst")], strict=True)


def test_ids_are_relative_to_the_patterns_common_root(tmp_path):
    _write(tmp_path / "docs" / "b" / "deep" / "z.md", "# Z\n\nz")
    _write(tmp_path / "docs" / "a.md", "# A\n\na")
    _write(tmp_path / "docs" / "b" / "c.md", "# C\n\nc")
    _write(tmp_path / "extra" / "notes.txt", "notes")
    ids = [d.doc_id for d in read_corpus(str(tmp_path / "docs" / "**" / "*.md"))]
    assert ids == ["a.md", "b/c.md", "b/deep/z.md"]  # `**` is recursive; sorted
    ids = [d.doc_id for d in read_corpus([str(tmp_path / "extra"), str(tmp_path / "docs" / "b" / "*.md"),
                                          str(tmp_path / "docs" / "b" / "c.md")])]
    assert ids == ["docs/b/c.md", "extra/notes.txt"]  # deduplicated, relative to tmp_path


def test_reading_is_lazy(tmp_path):
    _write(tmp_path / "1.md", "# One\n\none")
    second = _write(tmp_path / "2.md", "# Two\n\ntwo")
    report = BuildReport()
    docs = read_corpus(str(tmp_path), report=report)
    assert isinstance(docs, Iterator)
    assert next(docs).doc_id == "1.md" and report.documents == 1
    second.write_text("# Changed after the first document was read\n\nNew text.\n", encoding="utf-8")
    assert next(docs).title == "Changed after the first document was read"


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets (created locally)
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def local_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({
        "body": ["First passage.", "   ", "Third passage."],
        "heading": ["One", "Two", None],
        "pid": ["p1", "p2", "p3"],
        "score": [1, 2, 3],
    })
    ds.to_parquet(str(tmp_path / "passages.parquet"))
    datasets.DatasetDict({"train": ds, "test": ds.select([2])}).save_to_disk(str(tmp_path / "saved"))
    return tmp_path


def test_hf_dataset_from_a_parquet_file(local_dataset):
    report = BuildReport()
    docs = list(read_hf_dataset(str(local_dataset / "passages.parquet"), text_column="body",
                                title_column="heading", id_column="pid", report=report,
                                cache_dir=str(local_dataset / "cache")))
    assert [(d.doc_id, d.title, d.text, d.format) for d in docs] == [
        ("p1", "One", "First passage.", "hf"), ("p3", "passages 2", "Third passage.", "hf")]
    assert report.documents == 2 and report.skipped == {"empty": 1}


def test_hf_dataset_saved_to_disk_with_splits(local_dataset):
    docs = list(read_hf_dataset(str(local_dataset / "saved"), split="test", text_column="body"))
    assert [(d.doc_id, d.text) for d in docs] == [("saved:test:0", "Third passage.")]
    with pytest.raises(CorpusError, match="no split 'validation'.*train, test"):
        read_hf_dataset(str(local_dataset / "saved"), split="validation", text_column="body")


def test_hf_dataset_bad_columns(local_dataset):
    with pytest.raises(CorpusError, match="no text column 'text'; available columns: body, heading, pid, score"):
        read_hf_dataset(str(local_dataset / "saved"))
    # A missing id column is not an error (the config's default "_id" is often absent): row numbers.
    docs = list(read_hf_dataset(str(local_dataset / "saved"), text_column="body", id_column="uid"))
    assert docs[0].doc_id == "saved:train:0"
    with pytest.raises(CorpusError, match="'score'.*not a string column"):
        read_hf_dataset(str(local_dataset / "saved"), text_column="score")
