"""PDF and DOCX readers, on real files the tests write: fpdf2 for PDFs (text placed line by line, a
running header, page-number footers, an outline), python-docx for Word files, msoffcrypto-tool for
an encrypted Word file. The readers are found through the package's `raft_dataset.readers` entry points."""

from __future__ import annotations

import zipfile

from fpdf import FPDF

from raft_dataset import office
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.corpus import ReadOptions, Skipped, detect_format, read_corpus
from raft_dataset.office import page_span, read_docx, read_pdf
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.raft_format import extract_quotes
from raft_dataset.records import Document, Heading
from raft_dataset.report import BuildReport
from tests.fake_encoder import HashingEncoder

OPTIONS = ReadOptions()

# ------------------------------------------------------------------------------------------------
# Writing test files
# ------------------------------------------------------------------------------------------------


class _Pdf(FPDF):
    running_header: str | None = None
    numbered: bool = True

    def header(self):
        if self.running_header:
            self.set_font("helvetica", size=9)
            self.cell(0, 8, self.running_header, new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

    def footer(self):
        if self.numbered:
            self.set_y(-15)
            self.set_font("helvetica", size=9)
            self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")


def write_pdf(path, pages, *, title=None, running_header=None, numbered=True, outline=True):
    """A PDF whose pages hold blocks: ("h", level, text) a heading (bookmarked when `outline`),
    ("p", [lines]) a paragraph placed line by line, ("lines", [(indent_mm, line)]) lines with no gap
    between paragraphs, ("img",) an image."""
    pdf = _Pdf()
    pdf.running_header, pdf.numbered = running_header, numbered
    pdf.core_fonts_encoding = "windows-1252"  # the core fonts' own encoding: has the bullet "•"
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    for blocks in pages:
        pdf.add_page()
        for block in blocks:
            if block[0] == "h":
                pdf.set_font("helvetica", "B", 18 - 2 * block[1])
                if outline:
                    pdf.start_section(block[2], level=block[1] - 1)
                pdf.cell(0, 10, block[2], new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif block[0] == "p":
                pdf.set_font("helvetica", size=11)
                for line in block[1]:
                    pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(5)
            elif block[0] == "lines":
                pdf.set_font("helvetica", size=11)
                for indent, line in block[1]:
                    pdf.set_x(pdf.l_margin + indent)
                    pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
            elif block[0] == "img":
                from PIL import Image, ImageDraw

                scan = Image.new("RGB", (400, 200), "white")
                ImageDraw.Draw(scan).text((20, 80), "A scanned page: pixels, no text layer", fill="black")
                pdf.image(scan, x=20, y=40, w=170)
    pdf.output(str(path))
    return path


MANUAL_PAGES = [
    [("h", 1, "Scheduling"),
     ("p", ["The scheduler keeps every node synchro-", "nised with the primary clock."]),
     ("p", ["Jobs run in the order they were submitted,", "unless a priority is given."]),
     ("p", ["• Hourly jobs run at minute zero.", "• Daily jobs run at midnight."])],
    [("h", 1, "Retries"),
     ("p", ["A failed job is retried three times."]),
     ("h", 2, "Backoff"),
     ("p", ["The wait between two attempts doubles each time, starting at",
            "ten seconds, and after the last attempt the job is mar-"])],
    [("p", ["ked as failed in the audit log."]),
     ("h", 1, "Limits"),
     ("p", ["Each queue holds at most one thousand pending runs."])],
]
MANUAL_TEXT = (
    "The scheduler keeps every node synchronised with the primary clock.\n\n"
    "Jobs run in the order they were submitted, unless a priority is given.\n\n"
    "- Hourly jobs run at minute zero.\n- Daily jobs run at midnight.\n\n"
    "A failed job is retried three times.\n\n"
    "The wait between two attempts doubles each time, starting at ten seconds, and after the last attempt "
    "the job is marked as failed in the audit log.\n\n"
    "Each queue holds at most one thousand pending runs."
)


def write_manual(path):
    return write_pdf(path, MANUAL_PAGES, title="Tidepool Operator Manual", running_header="Tidepool Operator Manual")


def read_one(reader, path) -> list[Document | Skipped]:
    return list(reader(str(path), path.name, OPTIONS))


def at(text: str, fragment: str) -> int:
    offset = text.index(fragment)
    assert text.count(fragment) == 1
    return offset


# ------------------------------------------------------------------------------------------------
# PDF
# ------------------------------------------------------------------------------------------------


def test_pdf_text_paragraphs_headings_and_pages(tmp_path):
    [doc] = read_one(read_pdf, write_manual(tmp_path / "manual.pdf"))
    # Lines joined into paragraphs, the hyphenated word closed up, bullets as list items, the running
    # header and the "Page n of 3" footers gone, the paragraph (and word) cut by a page break joined again.
    assert doc.text == MANUAL_TEXT
    assert (doc.title, doc.format, doc.doc_id) == ("Tidepool Operator Manual", "pdf", "manual.pdf")
    text = doc.text
    # The outline gives the headings; their lines are structure, not text.
    assert doc.headings == (
        Heading(0, 0, 1, "Scheduling"),
        Heading(at(text, "A failed"), at(text, "A failed"), 1, "Retries"),
        Heading(at(text, "The wait"), at(text, "The wait"), 2, "Backoff"),
        Heading(at(text, "Each queue"), at(text, "Each queue"), 1, "Limits"),
    )
    assert doc.metadata["pages"] == ((0, 1), (at(text, "A failed"), 2), (at(text, "ked as failed"), 3))
    assert doc.metadata["page_count"] == 3


def test_page_span_maps_offsets_to_pages(tmp_path):
    [doc] = read_one(read_pdf, write_manual(tmp_path / "manual.pdf"))
    text = doc.text

    def span(fragment):
        start = at(text, fragment)
        return page_span(doc.metadata, start, start + len(fragment))

    assert span("The scheduler keeps every node") == (1, 1)
    assert span("Daily jobs run at midnight.") == (1, 1)
    assert span("A failed job is retried three times.") == (2, 2)
    assert span("after the last attempt the job is marked as failed") == (2, 3)
    assert span("the job is mar") == (2, 2) and span("ked as failed") == (3, 3)
    assert span("Each queue holds") == (3, 3)
    assert page_span(doc.metadata, 0, len(text)) == (1, 3)
    # The blank line before a page's text still belongs to the page before.
    assert page_span(doc.metadata, at(text, "A failed") - 1, at(text, "A failed")) == (1, 1)
    assert page_span({}, 0, 10) is None
    assert page_span({"pages": ()}, 0, 10) is None


def test_chunks_of_a_pdf_keep_their_pages_through_the_index(tmp_path):
    from raft_dataset.chunking import chunk_document
    from raft_dataset.index import ChunkIndex

    [doc] = read_one(read_pdf, write_manual(tmp_path / "manual.pdf"))
    encoder = HashingEncoder()
    chunks = chunk_document(doc, encoder.tokenizer, chunk_size=40, chunk_overlap=0)
    assert len(chunks) > 3
    for chunk in chunks:
        assert (chunk.first_page, chunk.last_page) == page_span(doc.metadata, chunk.start, chunk.end)
    assert {c.first_page for c in chunks} == {1, 2, 3}
    index = ChunkIndex.build(chunks, encoder, cache=None, show_progress_bar=False)
    assert list(index.chunks()) == chunks  # stored and read back with the pages
    markdown = Document(doc_id="a.md", title="A", text="Plain text without pages.", format="markdown", source="a.md")
    [plain] = chunk_document(markdown, encoder.tokenizer, chunk_size=40, chunk_overlap=0)
    assert (plain.first_page, plain.last_page) == (None, None)


def test_pdf_without_outline_or_title_keeps_heading_lines_and_titles_by_the_largest_line(tmp_path):
    path = write_pdf(tmp_path / "quick-start.pdf", [[
        ("h", 1, "Tidepool Quick Start"),
        ("p", ["Install the agent on every node,", "then start it with the service manager."]),
        ("p", ["The agent reports to the scheduler every minute."]),
    ]], numbered=False, outline=False)
    [doc] = read_one(read_pdf, path)
    assert doc.title == "Tidepool Quick Start"
    assert doc.headings == ()
    assert doc.text == ("Tidepool Quick Start\n\n"
                        "Install the agent on every node, then start it with the service manager.\n\n"
                        "The agent reports to the scheduler every minute.")
    assert doc.metadata["pages"] == ((0, 1),)


def test_pdf_paragraphs_marked_by_indentation_and_lists_ended_by_the_margin(tmp_path):
    path = write_pdf(tmp_path / "book.pdf", [[("lines", [
        (0, "The first paragraph has two lines and"),
        (0, "ends here."),
        (6, "The second paragraph starts indented, as in"),
        (0, "books typeset without space between paragraphs."),
        (0, "• An item whose text runs on"),
        (4, "to a second line."),
        (0, "• A second item."),
        (0, "Text back at the margin is a paragraph again."),
    ])]], numbered=False)
    [doc] = read_one(read_pdf, path)
    assert doc.text == ("The first paragraph has two lines and ends here.\n\n"
                        "The second paragraph starts indented, as in books typeset without space between paragraphs.\n\n"
                        "- An item whose text runs on to a second line.\n- A second item.\n\n"
                        "Text back at the margin is a paragraph again.")


def test_pdf_without_title_or_large_line_is_titled_by_its_file_name(tmp_path):
    path = write_pdf(tmp_path / "release-notes.pdf", [[("p", ["Version 2 adds retries."])]], numbered=False)
    [doc] = read_one(read_pdf, path)
    assert (doc.title, doc.text) == ("Release notes", "Version 2 adds retries.")


def test_encrypted_pdf_is_skipped_but_an_owner_password_alone_is_no_obstacle(tmp_path):
    for name, user_password in (("locked.pdf", "secret"), ("open.pdf", None)):
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.cell(0, 10, "Restricted runbook text.")
        pdf.set_encryption(owner_password="owner", user_password=user_password)
        pdf.output(str(tmp_path / name))
    assert read_one(read_pdf, tmp_path / "locked.pdf") == [
        Skipped("encrypted", str(tmp_path / "locked.pdf"), "encrypted PDF (needs a password)")]
    [doc] = read_one(read_pdf, tmp_path / "open.pdf")
    assert doc.text == "Restricted runbook text."


def test_corrupt_and_truncated_pdfs_are_unreadable(tmp_path):
    (tmp_path / "garbage.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
    data = write_manual(tmp_path / "manual.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "zero.pdf").write_bytes(b"")
    for name in ("garbage.pdf", "truncated.pdf", "zero.pdf"):
        [skipped] = read_one(read_pdf, tmp_path / name)
        assert isinstance(skipped, Skipped) and skipped.reason == "unreadable", skipped
        assert skipped.where == str(tmp_path / name) and skipped.detail.startswith("not a readable PDF")


def test_scanned_pdf_is_counted_as_no_text_layer(tmp_path):
    path = write_pdf(tmp_path / "scan.pdf", [[("img",)], [("img",)]], numbered=False)
    assert read_one(read_pdf, path) == [
        Skipped("no_text_layer", str(path), "no text layer on any of its 2 pages (scanned? run OCR first)")]


def test_pdf_with_some_scanned_pages_keeps_the_text_and_counts_the_scans(tmp_path):
    path = write_pdf(tmp_path / "mixed.pdf", [[("p", ["Text on the first page."])], [("img",)],
                                              [("p", ["Text on the third page."])]], numbered=False)
    doc, skipped = read_one(read_pdf, path)
    assert doc.text == "Text on the first page.\n\nText on the third page."
    assert doc.metadata["pages"] == ((0, 1), (at(doc.text, "Text on the third"), 3))
    assert (skipped.reason, skipped.where) == ("no_text_layer", str(path))
    assert skipped.detail.startswith("page(s) 2 of 3 have no text layer")


def test_blank_pdf_is_empty(tmp_path):
    path = write_pdf(tmp_path / "blank.pdf", [[], []], numbered=False)
    assert [s.reason for s in read_one(read_pdf, path)] == ["empty"]


def test_pages_past_the_limit_are_counted_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(office, "MAX_PDF_PAGES", 2)
    path = write_pdf(tmp_path / "long.pdf", [[("p", [f"Text of page {n}."])] for n in ("one", "two", "three")],
                     numbered=False)
    doc, skipped = read_one(read_pdf, path)
    assert doc.text == "Text of page one.\n\nText of page two."
    assert doc.metadata["page_count"] == 3
    assert skipped == Skipped("page_limit", str(path), "read pages 1-2 of 3 (limits: 2 pages, "
                                                       f"{office.MAX_PDF_TEXT_CHARS} characters)")


# ------------------------------------------------------------------------------------------------
# DOCX
# ------------------------------------------------------------------------------------------------


def write_guide(path, *, core_title=""):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.core_properties.title = core_title
    styles = document.styles
    code = styles.add_style("Source Code", WD_STYLE_TYPE.PARAGRAPH)
    code.base_style = styles["Normal"]
    section = styles.add_style("Guide Section", WD_STYLE_TYPE.PARAGRAPH)
    section.base_style = styles["Heading 2"]  # a custom style based on a heading is a heading too

    document.add_heading("Tidepool Guide", 0)
    document.add_paragraph("Tidepool runs   batch jobs\ton a cluster.")
    document.add_heading("Install", 1)
    document.add_paragraph("Install the agent on every node.")
    document.add_paragraph("Download the archive.", style="List Bullet")
    document.add_paragraph("Check its checksum.", style="List Bullet 2")
    document.add_paragraph("Unpack it.", style="List Bullet")
    document.add_paragraph("Start the agent.", style="List Number")
    document.add_paragraph("Enable it at boot.", style="List Number")
    document.add_paragraph("tidepool-agent --config /etc/tidepool.yaml", style="Source Code")
    document.add_paragraph("tidepool-agent status", style="Source Code")
    document.add_paragraph("Guide Section text is never empty.", style="Guide Section")
    document.add_paragraph("The agent logs to the journal.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Setting", "Default", "Meaning"), ("max_jobs", "100", "jobs per node"),
                             ("timeout", "30 s", "")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merged = document.add_table(rows=2, cols=2)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Ports"
    merged.cell(1, 0).text, merged.cell(1, 1).text = "api", "8080"
    document.add_heading("Upgrade", 1)
    document.add_paragraph("Stop the agent before you upgrade it.")
    document.add_heading("Trailing heading", 1)
    document.save(str(path))
    return path


GUIDE_TEXT = (
    "Tidepool runs batch jobs on a cluster.\n\n"
    "Install the agent on every node.\n\n"
    "- Download the archive.\n  - Check its checksum.\n- Unpack it.\n1. Start the agent.\n2. Enable it at boot.\n\n"
    "```\ntidepool-agent --config /etc/tidepool.yaml\ntidepool-agent status\n```\n\n"
    "The agent logs to the journal.\n\n"
    "| Setting | Default | Meaning |\n| max_jobs | 100 | jobs per node |\n| timeout | 30 s |  |\n\n"
    "| Ports |\n| api | 8080 |\n\n"
    "Stop the agent before you upgrade it."
)


def test_docx_text_headings_lists_tables_and_code(tmp_path):
    [doc] = read_one(read_docx, write_guide(tmp_path / "guide.docx"))
    assert doc.text == GUIDE_TEXT
    assert (doc.title, doc.format) == ("Tidepool Guide", "docx")
    text = doc.text
    # Title is level 1, Heading n is level n + 1 below it; heading text is structure only.
    assert doc.headings == (
        Heading(0, 0, 1, "Tidepool Guide"),
        Heading(at(text, "Install the"), at(text, "Install the"), 2, "Install"),
        Heading(at(text, "The agent logs"), at(text, "The agent logs"), 3, "Guide Section text is never empty."),
        Heading(at(text, "Stop the"), at(text, "Stop the"), 2, "Upgrade"),
        Heading(len(text), len(text), 2, "Trailing heading"),
    )
    assert "Upgrade" not in text and "Tidepool Guide" not in text


def test_docx_title_from_core_properties_then_heading_then_file_name(tmp_path):
    [doc] = read_one(read_docx, write_guide(tmp_path / "guide.docx", core_title="Tidepool Operations Guide"))
    assert doc.title == "Tidepool Operations Guide"
    # A core title that is only a file name says nothing.
    [doc] = read_one(read_docx, write_guide(tmp_path / "guide.docx", core_title="Microsoft Word - draft3.doc"))
    assert doc.title == "Tidepool Guide"
    import docx

    plain = docx.Document()
    plain.add_paragraph("Only a paragraph here.")
    plain.save(str(tmp_path / "on-call_notes.docx"))
    [doc] = read_one(read_docx, tmp_path / "on-call_notes.docx")
    assert (doc.title, doc.text, doc.headings) == ("On call notes", "Only a paragraph here.", ())


def test_docx_encrypted_corrupt_empty_and_oversized(tmp_path, monkeypatch):
    from msoffcrypto.format.ooxml import OOXMLFile

    guide = write_guide(tmp_path / "guide.docx")
    with open(guide, "rb") as plain, open(tmp_path / "locked.docx", "wb") as locked:
        OOXMLFile(plain).encrypt("secret", locked)
    (tmp_path / "noise.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(tmp_path / "not-word.docx", "w") as archive:
        archive.writestr("hello.txt", "a zip, but no Word document inside")
    import docx

    docx.Document().save(str(tmp_path / "blank.docx"))
    expected = {"locked.docx": "encrypted", "noise.docx": "unreadable", "not-word.docx": "unreadable",
                "blank.docx": "empty"}
    for name, reason in expected.items():
        [skipped] = read_one(read_docx, tmp_path / name)
        assert isinstance(skipped, Skipped) and (skipped.reason, skipped.where) == (reason, str(tmp_path / name))
    monkeypatch.setattr(office, "MAX_DOCX_UNPACKED_BYTES", 10_000)  # a zip bomb is refused before unpacking
    [skipped] = read_one(read_docx, guide)
    assert skipped.reason == "too_large" and "limit 10000" in skipped.detail


# ------------------------------------------------------------------------------------------------
# Through the corpus reader and a whole build
# ------------------------------------------------------------------------------------------------


def write_mixed_corpus(folder):
    folder.mkdir()
    write_manual(folder / "manual.pdf")
    write_guide(folder / "guide.docx")
    (folder / "faq.md").write_text("# Tidepool FAQ\n\n## Where are logs kept?\n\n"
                                   "Logs are kept in the audit directory for thirty days.\n", encoding="utf-8")
    write_pdf(folder / "scan.pdf", [[("img",)]], numbered=False)
    (folder / "broken.docx").write_bytes(b"not a zip")
    return folder


def test_corpus_reads_pdf_and_docx_through_the_entry_points(tmp_path):
    assert (detect_format("Manual.PDF"), detect_format("guide.docx")) == ("pdf", "docx")
    report = BuildReport()
    docs = list(read_corpus(str(write_mixed_corpus(tmp_path / "docs")), report=report))
    assert [(d.doc_id, d.format) for d in docs] == [("faq.md", "markdown"), ("guide.docx", "docx"),
                                                     ("manual.pdf", "pdf")]
    assert docs[2].text == MANUAL_TEXT and docs[1].text == GUIDE_TEXT
    assert report.skipped == {"no_text_layer": 1, "unreadable": 1}


def test_a_build_quotes_pdf_and_docx_text(tmp_path):
    import docx

    corpus = tmp_path / "docs"
    corpus.mkdir()
    write_pdf(corpus / "runbook.pdf", [
        [("h", 1, "How do I restart a stuck job?"),
         ("p", ["Cancel the job with the stop command, wait until its worker reports idle, and then",
                "submit it again with the same job identifier."])],
        [("h", 1, "Where are audit records kept?"),
         ("p", ["Audit records are written as JSON lines to the audit directory on the primary",
                "node and are rotated after thirty days."])],
    ], title="Tidepool Runbook", running_header="Tidepool Runbook")
    guide = docx.Document()
    guide.add_heading("Tidepool Agent Guide", 0)
    guide.add_heading("Why does the agent stop after an upgrade?", 1)
    guide.add_paragraph("The agent stops after an upgrade because its configuration file changed format, "
                        "so it waits for an operator to migrate the file with the migrate command.")
    guide.add_heading("How do I change the heartbeat interval?", 1)
    guide.add_paragraph("Set heartbeat_seconds in the agent configuration file and reload the agent; the "
                        "scheduler accepts any interval between five and sixty seconds.")
    guide.save(str(corpus / "agent.docx"))
    (corpus / "faq.md").write_text(
        "# Tidepool FAQ\n\n## Who can cancel a job?\n\nAny member of the operators group can cancel a job "
        "from the dashboard or with the cancel command.\n\n## What happens when a node is drained?\n\n"
        "A drained node finishes its running jobs but accepts no new ones until an operator resumes it.\n",
        encoding="utf-8")
    write_pdf(corpus / "scan.pdf", [[("img",)]], numbered=False)

    documents = {d.doc_id: d for d in read_corpus(str(corpus))}
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", splits={"train": 1.0},
                               min_query_similarity=-1.0, num_distractors=2)
    result = build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)
    rows = result.splits["train"]
    quoted: dict[str, list[str]] = {}
    for row in rows:
        quotes = extract_quotes(row["output"])
        assert quotes, row["output"]
        for quote in quotes:  # every quote is verbatim text of its oracle document
            assert quote in documents[row["oracle_doc_id"]].text, (row["oracle_doc_id"], quote)
        quoted.setdefault(row["oracle_doc_id"], []).extend(quotes)
    assert {"runbook.pdf", "agent.docx", "faq.md"} == set(quoted)
    # The PDF's lines came back as one sentence, headers dropped, its rows quoting across the line break.
    assert any("wait until its worker reports idle, and then submit it again" in q for q in quoted["runbook.pdf"])
    assert any("migrate command" in q for q in quoted["agent.docx"])
    assert result.report.skipped == {"no_text_layer": 1}
