"""Readers for PDF and DOCX files: the text a reader of the page sees, with pages and headings as structure.

Both follow the clean-text convention of `markup.py`: paragraphs are one line each, separated by one
blank line; list items are `- item` lines; table rows are `| cell | cell |` lines; headings are not
in the text but `Heading`s whose `start == end` is where their section's body begins.

- **PDF** (pypdfium2, PDFium's own text extraction): lines are joined into paragraphs by their
  geometry (a larger vertical gap or a change of font size starts a new paragraph), words PDFium marks
  as hyphenated at a line end are joined, running headers and footers repeated at the top or bottom
  of pages and bare page numbers are dropped, and the outline (bookmarks), when the file has one,
  gives the headings. `Document.metadata["pages"]` is a tuple of (offset, page number), one for the
  start of each page's text (pages without text have none), `metadata["page_count"]` the file's page
  count; `page_span` maps a chunk's offsets to its first and last page.
- **DOCX** (python-docx): the body's paragraphs, lists (nested by level, numbered or "- ") and tables
  in document order, paragraphs in code styles ("Source Code", "HTML Preformatted", ...) as a fenced
  block. Title and Heading 1-9 paragraphs (or styles based on them) become headings: Title level 1
  and Heading n level n + 1 when the document has a Title paragraph, else Heading n level n. The
  title is the core properties' title (unless it is a file name), else the first Title or Heading 1,
  else the file name. Headers, footers, footnotes, comments and text boxes are not read.

Files that cannot be used are a `Skipped` with a stable reason, never an exception: "encrypted",
"unreadable", "no_text_layer" (a scanned PDF), "empty", "too_large" (a DOCX that would unpack to more
than `MAX_DOCX_UNPACKED_BYTES`) and "page_limit" (pages past `MAX_PDF_PAGES` were not read).

The built-in readers are registered through the package's own `raft_dataset.readers` entry points
(`.pdf`, `.docx`), the route any plugin takes; the libraries are imported on first use only.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import statistics
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .corpus import ReadOptions, Skipped, humanize_stem
from .records import Document, Heading

__all__ = ["MAX_DOCX_UNPACKED_BYTES", "MAX_PDF_PAGES", "MAX_PDF_TEXT_CHARS", "page_span", "read_docx", "read_pdf"]

# Generous bounds that no real manual reaches; hostile files stop there instead of exhausting memory.
MAX_PDF_PAGES = 5000
MAX_PDF_TEXT_CHARS = 32 * 2**20
MAX_PDF_BOOKMARKS = 10_000
MAX_DOCX_UNPACKED_BYTES = 512 * 2**20

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def page_span(document_metadata: Mapping[str, Any], start: int, end: int) -> tuple[int, int] | None:
    """The first and last page (1-based) of the text `[start, end)` of a paged document, or None.

    `document_metadata` is `Document.metadata`; documents without `"pages"` (anything but a PDF)
    give None. Offsets before the first page's text count as the first page.
    """
    pages = document_metadata.get("pages") if document_metadata else None
    if not pages:
        return None
    offsets = [offset for offset, _ in pages]

    def page_at(offset: int) -> int:
        return pages[max(bisect.bisect_right(offsets, offset) - 1, 0)][1]

    return page_at(start), page_at(max(start, end - 1))


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------

# PDFium marks a word it found hyphenated across a line end with one of these (the line is joined).
_SOFT_HYPHENS = str.maketrans("", "", "\x02\ufffe\u00ad")
_BULLET = re.compile(r"^[•◦▪▫■□●○‣⁃∙·*-]\s+")
# "12", "Page 3 of 10", "- 4 -", "xii" (a valid roman numeral): a page number alone on its line.
_PAGE_NUMBER = re.compile(r"(?i)^(page\s+)?(\d{1,5}|(?=[ivxlcdm])m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3}))"
                          r"(\s*(/|of)\s*\d{1,5})?$|^[-–—]\s*\d{1,5}\s*[-–—]$")
_SENTENCE_END = re.compile(r"[.!?:;)\"'”’]$")
_FILENAME_TITLE = re.compile(r"(?i)^(microsoft (word|powerpoint) - .*|.*\.(docx?|pdf|odt|tex|dvi|indd|pptx?)|untitled.*)$")
_FPDF_ERR_PASSWORD, _FPDF_ERR_SECURITY = 4, 6


@dataclass
class _Line:
    """One text line of a page, with the loose boxes of its first and last characters (PDF units, y up).

    PDFium puts a word it found hyphenated across a line end on one line with the next, so a line can
    span two rows of the page: its top is its first character's, its bottom its last character's.
    """

    text: str
    left: float = 0.0
    top: float = 0.0
    first_height: float = 0.0
    bottom: float = 0.0
    last_height: float = 0.0

    @property
    def height(self) -> float:
        return self.first_height


@dataclass
class _Page:
    number: int  # 1-based
    lines: list[_Line]
    geometry: bool  # whether the line boxes are known (else lines are joined by their text only)


def read_pdf(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
    """Read a PDF's text layer into one `Document` (see the module docstring)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (_FPDF_ERR_PASSWORD, _FPDF_ERR_SECURITY):
            yield Skipped("encrypted", path, "encrypted PDF (needs a password)")
        else:
            yield Skipped("unreadable", path, f"not a readable PDF ({_pdfium_error(exc)})")
        return
    except OSError as exc:
        yield Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")
        return
    try:
        yield from _read_open_pdf(pdf, path, doc_id)
    finally:
        pdf.close()


def _pdfium_error(exc: Exception) -> str:
    """PDFium's name for a load error ("Data format error"), else the exception's message."""
    import pypdfium2.internal as pdfium_i

    return pdfium_i.ErrorToStr.get(getattr(exc, "err_code", None)) or str(exc)


def _read_open_pdf(pdf, path: str, doc_id: str) -> Iterator[Document | Skipped]:
    total = len(pdf)
    pages: list[_Page] = []
    no_text: list[int] = []  # pages with images but no text: scanned
    failed: list[int] = []
    chars = reached = 0
    for index in range(min(total, MAX_PDF_PAGES)):
        reached = index + 1
        try:
            page = _read_page(pdf, index)
        except Exception:  # noqa: BLE001 - PDFium failed on one damaged page: keep the others
            failed.append(index + 1)
            continue
        if isinstance(page, bool):
            if page:
                no_text.append(index + 1)
            continue
        pages.append(page)
        chars += sum(len(line.text) for line in page.lines)
        if chars > MAX_PDF_TEXT_CHARS:
            break
    if not pages:
        if no_text:
            yield Skipped("no_text_layer", path, f"no text layer on any of its {total} pages (scanned? run OCR first)")
        elif failed:
            yield Skipped("unreadable", path, "PDFium could not read any page")
        else:
            yield Skipped("empty", path, f"no text on any of its {total} pages")
        return
    headings = _outline(pdf)
    text, found_headings, offsets = _assemble_pdf(pages, headings)
    if not text.strip():
        yield Skipped("empty", path, "no text left after dropping headers and page numbers")
        return
    title = _pdf_title(pdf, pages) or humanize_stem(doc_id)
    metadata = {"pages": tuple(offsets), "page_count": total}
    yield Document(doc_id=doc_id, title=title, text=text, format="pdf", source=path,
                   headings=tuple(found_headings), metadata=metadata)
    if no_text:
        yield Skipped("no_text_layer", path, f"page(s) {_page_list(no_text)} of {total} have no text layer "
                                             "(scanned? run OCR first); the other pages were read")
    if failed:
        yield Skipped("unreadable", path, f"page(s) {_page_list(failed)} could not be read; the others were")
    if reached < total:
        yield Skipped("page_limit", path, f"read pages 1-{reached} of {total} (limits: {MAX_PDF_PAGES} pages, "
                                          f"{MAX_PDF_TEXT_CHARS} characters)")


def _page_list(numbers: Sequence[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _read_page(pdf, index: int) -> _Page | bool:
    """The page's text lines, or whether a page without text has images (True: scanned)."""
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            n_chars = textpage.count_chars()
            text = textpage.get_text_range() if n_chars > 0 else ""
            if not text.strip():
                images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4)
                return next(images, None) is not None
            # The text holds PDFium's generated "\r\n" line breaks as characters, so offsets in it are
            # character indices, whose boxes give the line geometry. Should they not line up (characters
            # outside the BMP), the lines are still read, only without geometry.
            geometry = len(text) == n_chars
            lines: list[_Line] = []
            # PDFium ends its lines with "\r\n", and puts a word it found hyphenated across two lines on
            # one line, marking the hyphen: cut there again, so the lines are the page's own (the next
            # "line" may well be a footer) and `_join_lines` decides.
            for match in re.finditer(r"[^\r\n\x02\ufffe]*[\x02\ufffe]?", text):
                raw = match.group()
                stripped = raw.strip()
                if not stripped:
                    continue
                line = _Line(stripped)
                if geometry:
                    first = match.start() + (len(raw) - len(raw.lstrip()))
                    last = match.start() + len(raw.rstrip()) - 1
                    line.left, bottom, _, line.top = textpage.get_charbox(first, loose=True)
                    line.first_height = line.top - bottom
                    _, line.bottom, _, top = textpage.get_charbox(last, loose=True)
                    line.last_height = top - line.bottom
                lines.append(line)
            return _Page(index + 1, lines, geometry)
        finally:
            textpage.close()
    finally:
        page.close()


def _outline(pdf) -> dict[int, list[tuple[int, str]]]:
    """Bookmarks by 1-based page number: [(level, title)], level 1 at the top."""
    found: dict[int, list[tuple[int, str]]] = {}
    try:
        for n, bookmark in enumerate(pdf.get_toc(max_depth=9)):
            if n >= MAX_PDF_BOOKMARKS:
                break
            dest = bookmark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = _norm(bookmark.get_title() or "")
            if index is not None and title:
                found.setdefault(index + 1, []).append((bookmark.level + 1, title))
    except Exception:  # noqa: BLE001 - a damaged outline only loses the headings
        return found
    return found


def _heading_key(text: str) -> str:
    return _norm(re.sub(r"[^\w]+", " ", text)).casefold()


def _is_heading_line(line: str, title: str) -> bool:
    """Whether a line shows a bookmark's title, possibly after a section number ("2.1 Naming")."""
    line_key, title_key = _heading_key(line), _heading_key(title)
    if not title_key or not line_key.endswith(title_key):
        return False
    prefix = line_key[: len(line_key) - len(title_key)].strip()
    return not prefix or bool(re.fullmatch(r"((chapter|appendix|section|part) )?[\da-z]{1,3}( \d{1,3}){0,4}", prefix))


def _running_lines(pages: Sequence[_Page]) -> set[str]:
    """Keys of lines repeated at the top or bottom of several pages: running headers and footers."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        edge = page.lines[:3] + page.lines[-3:] if len(page.lines) > 6 else page.lines
        counts.update({_running_key(line) for line in edge})
    # Seen on most pages of a short document, or on at least 3 pages of a long one.
    needed = max(2, min(3, (len(pages) + 1) // 2))
    return {key for key, n in counts.items() if n >= needed}


def _running_key(line: _Line) -> str:
    """The line's text with its numbers blanked out (page numbers change), and its height on the page."""
    return f"{round(line.top / 4)}:{re.sub(r'[0-9]+', '#', _norm(line.text)).casefold()}"


def _strip_page_edges(page: _Page, running: set[str], keep: set[int]) -> list[_Line]:
    """The page's lines without running headers, footers and page numbers (at most 3 from each end)."""
    lines = page.lines
    start, end = 0, len(lines)

    def droppable(i: int) -> bool:
        text = lines[i].text
        return i not in keep and (_running_key(lines[i]) in running or bool(_PAGE_NUMBER.match(text)))

    while start < min(end, 3) and droppable(start):
        start += 1
    while end > max(start, len(lines) - 3) and droppable(end - 1):
        end -= 1
    return lines[start:end]


def _usual_gap(lines: Sequence[_Line]) -> float:
    """The page's gap between two lines of one paragraph: its lower quartile (paragraph gaps are larger,
    and short paragraphs make them common)."""
    gaps = sorted(g for a, b in zip(lines, lines[1:]) if (g := a.bottom - b.top) >= -1.0)
    return gaps[len(gaps) // 4] if gaps else 0.0


def _paragraph_breaks(lines: Sequence[_Line], usual_gap: float) -> list[bool]:
    """For each line after the first: does it start a new paragraph (or list item)?

    A line starts a paragraph when the gap above it is clearly larger than the page's usual line gap
    (or as tall as a line, after a sentence's end), when its font size differs from the line before,
    when it is a list item, when it is indented after a line that ended a sentence at the margin
    (TeX-style paragraphs), or when it goes back up the page (a new column or block).
    """
    margin = Counter(round(line.left) for line in lines).most_common(1)[0][0]
    breaks = []
    for above, line in zip(lines, lines[1:]):
        gap = above.bottom - line.top
        height = max(min(above.last_height, line.first_height), 1e-3)
        ends_sentence = bool(_SENTENCE_END.search(above.text))
        breaks.append(
            gap < -height  # back up the page
            or gap > usual_gap + 0.35 * height
            or (gap > 0.8 * height and ends_sentence)
            or abs(above.last_height - line.first_height) > 0.15 * height
            or bool(_BULLET.match(line.text))
            or (abs(above.left - margin) < 1.0 and line.left > margin + 0.8 * height
                and not _BULLET.match(above.text) and ends_sentence)
        )
    return breaks


@dataclass
class _Block:
    """A paragraph (or list) being built from lines: `lines` joined by "\n" (list items) or spaces."""

    lines: list[str]
    is_list: bool


def _page_blocks(lines: Sequence[_Line], geometry: bool, usual_gap: float) -> list[_Block]:
    """Lines joined into paragraphs; list items are "- item" lines of one block."""
    if not lines:
        return []
    breaks = _paragraph_breaks(lines, usual_gap) if geometry else [bool(_BULLET.match(line.text)) for line in lines[1:]]
    blocks: list[_Block] = []
    item_left = 0.0  # where the current list item's bullet stands
    for line, new in zip(lines, [True, *breaks]):
        bullet = _BULLET.match(line.text)
        text = f"- {line.text[bullet.end():]}" if bullet else line.text
        if geometry and not new and not bullet and blocks and blocks[-1].is_list and line.left <= item_left + 1.0:
            new = True  # back at the bullet's margin: the list is over, a paragraph follows
        if new and bullet and blocks and blocks[-1].is_list:
            blocks[-1].lines.append(text)  # next item of the same list
        elif new:
            blocks.append(_Block([text], bool(bullet)))
        else:
            blocks[-1].lines[-1] = _join_lines(blocks[-1].lines[-1], text)
        if bullet:
            item_left = line.left
    return blocks


def _join_lines(before: str, after: str) -> str:
    """Join two lines of one paragraph: a word PDFium marked as hyphenated is closed up."""
    if before.endswith(("\x02", "\ufffe", "\u00ad")):
        return before[:-1] + after
    return f"{before} {after}"


def _visible_hyphens(line: str) -> str:
    """A hyphen PDFium marked at the end of a paragraph's last line is shown (the word may go on at
    the next page); soft hyphens inside the text are dropped."""
    if line.endswith(("\x02", "\ufffe", "\u00ad")):
        line = line[:-1] + "-"
    return line.translate(_SOFT_HYPHENS)


def _continues(previous: str, following: str) -> bool:
    """Whether a paragraph at a page's end goes on at the next page's start (mid-sentence)."""
    return bool(previous) and not _SENTENCE_END.search(previous) and following[:1].islower()


def _assemble_pdf(pages: Sequence[_Page], outline: Mapping[int, list[tuple[int, str]]]
                  ) -> tuple[str, list[Heading], list[tuple[int, int]]]:
    """The document text, its headings and its page offsets."""
    running = _running_lines(pages)
    parts: list[str] = []
    pos = 0
    headings: list[Heading] = []
    offsets: list[tuple[int, int]] = []
    last_block_open = False  # the last paragraph may go on on the next page
    for page in pages:
        # A bookmark's line on its page becomes the heading (a running header that repeats the chapter's
        # title is its last choice); bookmarks whose line is not found mark the page's start.
        page_headings = list(outline.get(page.number, ()))
        heading_at: dict[int, tuple[int, str]] = {}
        order = sorted(range(len(page.lines)), key=lambda i: _running_key(page.lines[i]) in running)
        for i in order:
            match = next((h for h in page_headings if _is_heading_line(page.lines[i].text, h[1])), None)
            if match is not None:
                heading_at[i] = match
                page_headings.remove(match)
        kept = _strip_page_edges(page, running, set(heading_at))
        kept_ids = {id(line) for line in kept}
        # Split the page's lines at heading lines; each run becomes paragraphs.
        runs: list[tuple[list[tuple[int, str]], list[_Line]]] = [(page_headings, [])]
        for i, line in enumerate(page.lines):
            if id(line) not in kept_ids:
                continue
            if i in heading_at:
                runs.append(([heading_at[i]], []))
            else:
                runs[-1][1].append(line)
        usual_gap = _usual_gap(kept)
        page_start: int | None = None
        for run_headings, run_lines in runs:
            had_headings = bool(run_headings)
            blocks = [_Block([_visible_hyphens(ln) for ln in b.lines], b.is_list)
                      for b in _page_blocks(run_lines, page.geometry, usual_gap)]
            texts = ["\n".join(b.lines) for b in blocks]
            if (not run_headings and texts and last_block_open and parts
                    and not blocks[0].is_list and _continues(parts[-1], texts[0])):
                # The paragraph goes on from the previous page: join, not a new paragraph (closing up
                # a word hyphenated across the page break, as PDFium does across a line break).
                hyphenated = re.search(r"[^\W\d_]-$", parts[-1]) is not None
                if hyphenated:
                    parts[-1], pos = parts[-1][:-1], pos - 1
                else:
                    parts[-1], pos = parts[-1] + " ", pos + 1
                if page_start is None:
                    page_start = pos
                parts[-1] += texts[0]
                pos += len(texts[0])
                texts = texts[1:]
            for n, text in enumerate(texts):
                if parts:
                    parts.append("\n\n")
                    pos += 2
                if page_start is None:
                    page_start = pos
                if n == 0:
                    headings.extend(Heading(pos, pos, level, title) for level, title in run_headings)
                    run_headings = []
                parts.append(text)
                pos += len(text)
            # Headings with no text after them on this page: their section begins with what follows.
            headings.extend(Heading(pos + 2 if parts else 0, pos + 2 if parts else 0, level, title)
                            for level, title in run_headings)
            if blocks:
                last_block_open = not blocks[-1].is_list
            elif had_headings:
                last_block_open = False
        if page_start is not None:
            offsets.append((page_start, page.number))
    text = "".join(parts)
    # A heading placed after the last paragraph points at the end of the text.
    headings = [dataclasses.replace(h, start=min(h.start, len(text)), end=min(h.end, len(text))) for h in headings]
    return text, headings, offsets


def _pdf_title(pdf, pages: Sequence[_Page]) -> str | None:
    """The document's Title metadata, unless it is a file name, else the first page's largest line."""
    try:
        title = _norm(pdf.get_metadata_value("Title") or "")
    except Exception:  # noqa: BLE001 - a damaged info dictionary only loses the title
        title = ""
    if title and not _FILENAME_TITLE.match(title):
        return title
    first = pages[0]
    if not first.geometry or len(first.lines) < 2:
        return None
    usual = statistics.median(line.height for line in first.lines)
    largest = max(first.lines, key=lambda line: line.height)
    if largest.height > 1.3 * usual and len(largest.text) <= 120:
        return _norm(largest.text.translate(_SOFT_HYPHENS))
    return None


# --------------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"(?i)^heading ([1-9])$")
_CODE_STYLE = re.compile(r"(?i)(code|source|preformatted|macro text|verbatim|listing)")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and legacy .doc are OLE files
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
    """Read a Word document's body into one `Document` (see the module docstring)."""
    problem = _check_docx_container(path)
    if problem is not None:
        yield problem
        return
    import docx

    try:
        document = docx.Document(path)
        parsed = _DocxText(document)
        parsed.read()
        core_title = _norm(document.core_properties.title or "")
    except Exception as exc:  # noqa: BLE001 - any parser failure is one damaged file, never a traceback
        yield Skipped("unreadable", path, f"not a readable DOCX file ({type(exc).__name__}: {_first_line(exc)})")
        return
    text = "".join(parsed.parts)
    if not text.strip():
        yield Skipped("empty", path, "no text in the document body")
        return
    if core_title and _FILENAME_TITLE.match(core_title):
        core_title = ""
    title = core_title or parsed.first_title or humanize_stem(doc_id)
    headings = parsed.headings + [Heading(len(text), len(text), level, t) for level, t in parsed.pending]
    yield Document(doc_id=doc_id, title=title, text=text, format="docx", source=path, headings=tuple(headings))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no detail"


def _check_docx_container(path: str) -> Skipped | None:
    """A Skipped for files that are not a DOCX zip we can afford to unpack, else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_OLE_MAGIC))
        if head == _OLE_MAGIC:
            with open(path, "rb") as handle:
                data = handle.read(8 * 2**20)
            if "EncryptionInfo".encode("utf-16-le") in data:
                return Skipped("encrypted", path, "encrypted Word document (needs a password)")
            return Skipped("unreadable", path, "a legacy Word (.doc) file named .docx; save it as .docx")
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except OSError as exc:
        return Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")
    except zipfile.BadZipFile as exc:
        return Skipped("unreadable", path, f"not a readable DOCX file ({exc})")
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        return Skipped("too_large", path, f"unpacks to {unpacked} bytes (limit {MAX_DOCX_UNPACKED_BYTES})")
    return None


class _DocxText:
    """Walks a document body in order, building the clean text and its headings."""

    def __init__(self, document) -> None:
        self.document = document
        self.parts: list[str] = []
        self.pos = 0
        self.headings: list[Heading] = []
        self.pending: list[tuple[int, str]] = []
        self.first_title: str | None = None
        self._numbering = _numbering_formats(document)
        self._list: list[str] = []  # lines of the list being read
        self._counters: dict[tuple[str, int], int] = {}
        self._code: list[str] = []
        self._has_title = any(self._heading_level(p) == 0 for p in document.paragraphs)

    def read(self) -> None:
        for block in self.document.iter_inner_content():
            if hasattr(block, "rows"):
                self._flush()
                self._table(block)
            else:
                self._paragraph(block)
        self._flush()

    # -- output ------------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        self.headings.extend(Heading(self.pos, self.pos, level, t) for level, t in self.pending)
        self.pending.clear()
        self.parts.append(text)
        self.pos += len(text)

    def _flush(self) -> None:
        """Close the list or code block being read."""
        if self._list:
            self._emit("\n".join(self._list))
            self._list = []
            self._counters.clear()
        if self._code:
            lines = "\n".join(self._code).strip("\n")
            if lines.strip():
                self._emit(f"```\n{lines}\n```")
            self._code = []

    # -- blocks ------------------------------------------------------------------------------------

    def _paragraph(self, paragraph) -> None:
        level = self._heading_level(paragraph)
        style_names = _style_names(paragraph.style)
        if level is not None:
            text = _norm(paragraph.text)
            if text:
                self._flush()
                self.pending.append((level + (1 if self._has_title else 0) if level else 1, text))
                if self.first_title is None and level <= 1:
                    self.first_title = text
            return
        if any(_CODE_STYLE.search(name) for name in style_names):
            if self._list:
                self._flush()
            self._code.append(paragraph.text.replace("\t", "    ").rstrip())
            return
        if self._code:
            self._flush()
        text = _norm(paragraph.text)
        marker = self._list_marker(paragraph, style_names)
        if marker is not None:
            indent, bullet = marker
            if text:
                self._list.append(f"{'  ' * indent}{bullet}{text}")
            return
        self._flush()
        if text:
            self._emit(text)

    def _table(self, table) -> None:
        lines = []
        for row in table.rows:
            cells, seen = [], set()
            for cell in row.cells:
                if id(cell._tc) in seen:  # a merged cell repeats for every column it spans
                    continue
                seen.add(id(cell._tc))
                cells.append(_norm(cell.text).replace("|", "\\|"))
            if any(cells):
                lines.append("| " + " | ".join(cells) + " |")
        if lines:
            self._emit("\n".join(lines))

    # -- styles ------------------------------------------------------------------------------------

    @staticmethod
    def _heading_level(paragraph) -> int | None:
        """0 for a Title paragraph, 1-9 for Heading 1-9 (or a style based on one), else None."""
        for name in _style_names(paragraph.style):
            if name.casefold() == "title":
                return 0
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1))
        return None

    def _list_marker(self, paragraph, style_names: Sequence[str]) -> tuple[int, str] | None:
        """(nesting level, "- " or "3. ") for a list item, else None."""
        num_id, level = _numbering_of(paragraph)
        # "List Bullet 2" nests by its own numbering definition, not by a level: its name says how deep.
        name = next((n for n in style_names if n.casefold().startswith("list ")), None)
        depth = re.search(r" ([2-9])$", name) if name else None
        if num_id is None:
            if name is None:
                return None
            numbered = "number" in name.casefold()
            num_id = name
        else:
            numbered = self._numbering.get((num_id, level), "bullet") not in ("bullet", "none")
        if depth:
            level = max(level, int(depth.group(1)) - 1)
        if not numbered:
            return level, "- "
        key = (num_id, level)
        self._counters[key] = self._counters.get(key, 0) + 1
        # A deeper level restarts when a shallower item comes.
        for other in [k for k in self._counters if k[0] == num_id and k[1] > level]:
            del self._counters[other]
        return level, f"{self._counters[key]}. "


def _style_names(style) -> list[str]:
    """The paragraph style's name and those of the styles it is based on (custom heading styles)."""
    names = []
    while style is not None and len(names) < 10:
        if style.name:
            names.append(style.name)
        style = style.base_style
    return names


def _numbering_of(paragraph) -> tuple[str | None, int]:
    """The (numbering id, level) of a list paragraph, from its own or its style's properties."""
    for element in (paragraph._p, getattr(paragraph.style, "element", None)):
        if element is None:
            continue
        ids = element.xpath("./w:pPr/w:numPr/w:numId/@w:val")
        if ids and ids[0] != "0":  # numId 0 switches numbering off
            levels = element.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
            return ids[0], int(levels[0]) if levels and levels[0].isdigit() else 0
    return None, 0


def _numbering_formats(document) -> dict[tuple[str, int], str]:
    """(numbering id, level) -> number format ("bullet", "decimal", ...) from the numbering part."""
    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return {}
    abstract = {}
    for node in numbering.findall(f"{_W}abstractNum"):
        levels = {}
        for lvl in node.findall(f"{_W}lvl"):
            fmt = lvl.find(f"{_W}numFmt")
            levels[int(lvl.get(f"{_W}ilvl", "0"))] = fmt.get(f"{_W}val") if fmt is not None else "decimal"
        abstract[node.get(f"{_W}abstractNumId")] = levels
    formats = {}
    for num in numbering.findall(f"{_W}num"):
        ref = num.find(f"{_W}abstractNumId")
        for level, fmt in abstract.get(ref.get(f"{_W}val") if ref is not None else None, {}).items():
            formats[(num.get(f"{_W}numId"), level)] = fmt
    return formats
