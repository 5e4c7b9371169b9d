"""Token-aware, structure-aware chunking of `Document`s into `Chunk`s.

How a document is cut:

1. Documents are split into sections at the headings their reader found (`Document.headings`;
   markup readers render headings away, so the text holds only section bodies); a document without
   headings is one section.
2. Adjacent sections are packed greedily while the packed chunk text (inner headings included, see
   below) fits `chunk_size` tokens, so short sections do not become tiny chunks. A section that is
   only a heading is always packed with the next.
3. A packed span that is still too long is split by `semantic_text_splitter` (MarkdownSplitter for
   the clean text of markup formats, which keeps code blocks whole unless one block alone is over the
   limit; TextSplitter otherwise), counting tokens with the encoder's own tokenizer and overlapping neighbours by up to
   `chunk_overlap` tokens. Overlap is only ever between pieces of one packed span. A span longer
   than `WINDOW_CHARS` is first cut into windows at the last paragraph, line, sentence or word break
   of each, and the windows are split one by one: the splitter's time grows faster than linearly
   with its input (a 20 MB line took more than 10 minutes), windows keep chunking linear.
   No piece is longer than `MAX_CHARS_PER_TOKEN * chunk_size` characters either (a WordPiece
   tokenizer counts a 100,000-character word as one token): longer ones are cut the same way.
4. A piece that is only heading lines (the splitter emits one when the heading's first block does not
   fit beside it) is merged into the next piece when both fit, else dropped: its words are not lost
   to retrieval, since the heading path is every chunk's `title`. Then a piece under a quarter of
   `chunk_size` tokens is joined to its neighbour when the join still fits.

Pieces without a word character outside HTML tags (a stray `</div>`) are left out.

Each chunk's title is the document title plus the heading path shared by all sections the chunk
covers (heading-only sections aside), joined by " > ", without repeating a top heading that equals the
document title.

A chunk that packs several sections shows the headings below its title as text (`inner_headings`):
each on a line of its own, plain, before its section's text, as the page reads ("tidepool history",
then the paragraph that describes it); without them a reader cannot tell which command, key or API
each paragraph is about. A chunk of one section (or a piece of one long section) shows none: its
heading path is its title. The headings count against `chunk_size`. `start`/`end` stay offsets of the
document text the chunk covers, so `Chunk.text` is `doc.text[start:end]` with those heading lines
added (`render_chunk_text`); a reader that keeps heading lines in its text is left as it is.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tokenizers import Tokenizer

from .markup import fenced_code_spans
from .office import page_span
from .records import Chunk, Document, Heading


@dataclass(frozen=True)
class Section:
    """A heading and the text under it up to the next heading: `text[start:end]`.

    `path` is the heading texts from the outermost to this one; `heading_end` is where the heading
    markup ends (== start for the text before the first heading).
    """

    start: int
    end: int
    path: tuple[str, ...]
    heading_end: int


# --------------------------------------------------------------------------------------------------
# Tokenizers and splitters (cached: building a splitter or copying a tokenizer is not free)
# --------------------------------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<[^>]*>")
# Splitter input bound (characters); its cost per character is flat up to ~100k and grows after.
WINDOW_CHARS = 50_000
# No chunk is longer than this many characters per token of `chunk_size` (prose is 4-6, code 3-8).
MAX_CHARS_PER_TOKEN = 16
# Texts counted per tokenizer call, in characters: one call holds all its encodings in memory.
_COUNT_BATCH_CHARS = 1_000_000
# Formats whose reader renders clean markdown-like text (fenced code, "- " lists).
MARKUP_FORMATS = frozenset({"markdown", "rst", "html", "docx"})  # text with fences, lists, tables
_CACHE_SIZE = 16
# Values keep a reference to the key's tokenizer so its id() cannot be reused while cached.
_counters: OrderedDict[int, tuple[Any, Tokenizer]] = OrderedDict()
_splitters: OrderedDict[tuple[int, str, int, int], tuple[Any, Any]] = OrderedDict()


def _lru_put(cache: OrderedDict, key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


def backend_tokenizer(tokenizer: Any) -> Tokenizer:
    """The `tokenizers.Tokenizer` behind a transformers fast tokenizer (or the tokenizer itself)."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, Tokenizer):
        return backend
    raise TypeError(f"tokenizer must be a transformers fast tokenizer or a tokenizers.Tokenizer, "
                    f"got {type(tokenizer).__name__}")


def _counting_tokenizer(tokenizer: Any) -> Tokenizer:
    """A copy of the backend tokenizer without truncation or padding, so counts are true lengths."""
    backend = backend_tokenizer(tokenizer)
    key = id(backend)
    if key in _counters:
        _counters.move_to_end(key)
        return _counters[key][1]
    # A saved sentence-transformers tokenizer often has truncation/padding baked into tokenizer.json.
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    _lru_put(_counters, key, (backend, copy))
    return copy


def count_tokens(texts: Sequence[str], tokenizer: Any) -> list[int]:
    """Token counts of `texts` without special tokens, truncation or padding."""
    counter = _counting_tokenizer(tokenizer) if texts else None
    counts: list[int] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= _COUNT_BATCH_CHARS:
            counts.extend(len(e.ids) for e in counter.encode_batch(batch, add_special_tokens=False))
            batch, size = [], 0
    if batch:
        counts.extend(len(e.ids) for e in counter.encode_batch(batch, add_special_tokens=False))
    return counts


def _capped_counts(texts: Sequence[str], tokenizer: Any, chunk_size: int) -> list[int]:
    """Token counts, exact up to `chunk_size * MAX_CHARS_PER_TOKEN` characters; a longer text (which
    must be split whatever its count) is counted by that prefix and as more than `chunk_size`, so a
    20 MB section is never tokenized whole just to learn that it is too long."""
    cap = chunk_size * MAX_CHARS_PER_TOKEN
    counts = count_tokens([t[:cap] for t in texts], tokenizer)
    return [n if len(t) <= cap else max(n, chunk_size + 1) for t, n in zip(texts, counts, strict=True)]


def _splitter(tokenizer: Any, kind: str, chunk_size: int, chunk_overlap: int):
    """A cached semantic_text_splitter Markdown/TextSplitter counting tokens with `tokenizer`."""
    from semantic_text_splitter import MarkdownSplitter, TextSplitter

    backend = backend_tokenizer(tokenizer)
    key = (id(backend), kind, chunk_size, chunk_overlap)
    if key in _splitters:
        _splitters.move_to_end(key)
        return _splitters[key][1]
    cls = MarkdownSplitter if kind == "markdown" else TextSplitter
    splitter = cls.from_huggingface_tokenizer(_counting_tokenizer(tokenizer), capacity=chunk_size,
                                              overlap=chunk_overlap)
    _lru_put(_splitters, key, (backend, splitter))
    return splitter


# --------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------


def split_sections(text: str, headings: Sequence[Heading]) -> list[Section]:
    """Cut `text` at each heading; each section carries its heading path."""
    sections: list[Section] = []
    if not headings or headings[0].start > 0:
        first_end = headings[0].start if headings else len(text)
        sections.append(Section(0, first_end, (), 0))
    stack: list[tuple[int, str]] = []
    for i, heading in enumerate(headings):
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.text))
        end = headings[i + 1].start if i + 1 < len(headings) else len(text)
        sections.append(Section(heading.start, end, tuple(t for _, t in stack), heading.end))
    return sections


def _is_heading_only(text: str, section: Section) -> bool:
    return not text[section.heading_end:section.end].strip()


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) to exclude surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _common_prefix(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def format_title(doc_title: str, path: Sequence[str]) -> str:
    """Document title and heading path joined by " > ", not repeating a top heading equal to the title."""
    parts = [p for p in path if p]
    if parts and parts[0].casefold() == doc_title.strip().casefold():
        parts = parts[1:]
    return " > ".join([doc_title.strip(), *parts]) if doc_title.strip() else " > ".join(parts)


# --------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------


def _validate(chunk_size: int, chunk_overlap: int) -> None:
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if not isinstance(chunk_overlap, int) or not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"chunk_overlap must be an integer with 0 <= chunk_overlap < chunk_size "
                         f"({chunk_size}), got {chunk_overlap!r}")


def _pack_sections(sections: list[Section], counts: list[int], heading_only: list[bool],
                   group_tokens: Callable[[int, int], int], chunk_size: int) -> list[tuple[int, int]]:
    """Greedily pack adjacent sections into index ranges [i, j) whose chunk text fits `chunk_size`.

    `group_tokens(i, j)` counts the chunk text of sections [i, j) as it will be written: with the headings
    of inner sections rendered, and exactly (byte-level BPE may merge across a seam, so sums only bound it).
    """
    groups: list[tuple[int, int]] = []
    first, total = 0, counts[0] if counts else 0
    for j in range(1, len(sections)):
        forced = all(heading_only[first:j])
        # The sum of the sections' own counts is a lower bound (rendered headings only add): a cheap no.
        fits = not forced and total + counts[j] <= chunk_size and group_tokens(first, j + 1) <= chunk_size
        if forced or fits:
            total += counts[j]
            continue
        groups.append((first, j))
        first, total = j, counts[j]
    if sections:
        groups.append((first, len(sections)))
    return groups


def _split_span(text: str, start: int, end: int, splitter: Any) -> list[tuple[int, int]]:
    """Pieces of text[start:end] from the splitter, as absolute (start, end) character offsets."""
    span = text[start:end]
    pieces: list[tuple[int, int]] = []
    cursor = 0
    for offset, piece in splitter.chunk_indices(span):
        if span[offset:offset + len(piece)] != piece:
            # semantic-text-splitter documents character offsets (checked against 0.33); be safe if a
            # release reports byte offsets instead by locating the piece from the previous one on.
            offset = span.find(piece, cursor)
            if offset < 0:
                raise RuntimeError(f"splitter returned a chunk not found in the text: {piece[:60]!r}")
        cursor = offset
        pieces.append((start + offset, start + offset + len(piece)))
    return pieces


def _soft_cut(text: str, low: int, high: int) -> int:
    """The offset just after the last paragraph, line, sentence or word break in text[low:high], else high."""
    for separator in ("\n\n", "\n", ". ", " "):
        found = text.rfind(separator, low, high)
        if found >= 0:
            return found + len(separator)
    return high


def windows(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """[start, end) cut into consecutive spans of at most `size` characters, each ending at a break in
    its second half when there is one (linear time: each cut looks at `size / 2` characters)."""
    spans: list[tuple[int, int]] = []
    while end - start > size:
        cut = _soft_cut(text, start + size // 2, start + size)
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans


def _split_long_span(text: str, start: int, end: int, splitter: Any) -> list[tuple[int, int]]:
    """`_split_span` over windows of at most WINDOW_CHARS characters (whitespace-trimmed)."""
    pieces: list[tuple[int, int]] = []
    for window_start, window_end in windows(text, start, end, WINDOW_CHARS):
        window_start, window_end = trim_span(text, window_start, window_end)
        if window_start < window_end:
            pieces.extend(_split_span(text, window_start, window_end, splitter))
    return pieces


def _cap_piece_chars(text: str, pieces: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Pieces longer than `max_chars` characters cut at breaks (a run the tokenizer counts as a few tokens)."""
    out: list[tuple[int, int]] = []
    for start, end in pieces:
        if end - start <= max_chars:
            out.append((start, end))
            continue
        for piece_start, piece_end in windows(text, start, end, max_chars):
            piece_start, piece_end = trim_span(text, piece_start, piece_end)
            if piece_start < piece_end:
                out.append((piece_start, piece_end))
    return out


def _heading_spans(sections: Sequence[Section]) -> list[tuple[int, int]]:
    return [(s.start, s.heading_end) for s in sections if s.heading_end > s.start]


def _only_headings(text: str, start: int, end: int, heading_spans: Sequence[tuple[int, int]]) -> bool:
    """True when every non-space character of text[start:end] belongs to a heading's markup."""
    pos = start
    for h_start, h_end in heading_spans:
        if h_end <= pos or h_start >= end:
            continue
        if text[pos:h_start].strip():
            return False
        pos = max(pos, h_end)
    return not text[pos:end].strip()


def _merge_heading_pieces(text: str, pieces: list[tuple[int, int]], heading_spans: list[tuple[int, int]],
                          tokenizer: Any, chunk_size: int, max_chars: int) -> list[tuple[int, int]]:
    """Merge a heading-only piece into the following piece if they fit together; drop it otherwise."""
    out: list[tuple[int, int]] = []
    pending: int | None = None  # start of a heading-only piece waiting for content
    for start, end in pieces:
        if pending is not None:
            if end - pending <= max_chars and count_tokens([text[pending:end]], tokenizer)[0] <= chunk_size:
                start = pending
            pending = None
        if _only_headings(text, start, end, heading_spans):
            pending = start
            continue
        out.append((start, end))
    return out


def _merge_small_pieces(text: str, pieces: list[tuple[int, int]], tokenizer: Any,
                        chunk_size: int, max_chars: int) -> list[tuple[int, int]]:
    """Join a small piece to its neighbour when the joined span still fits `chunk_size`.

    The splitter emits fragments such as a lone fence-opening line or a one-line list item when the
    unit beside it is large; joined, they read better and embed better. Joins only reuse existing
    boundaries, so nothing new is cut.
    """
    if len(pieces) < 2:
        return pieces
    small = max(1, chunk_size // 4)
    counts = count_tokens([text[s:e] for s, e in pieces], tokenizer)
    out: list[tuple[int, int]] = [pieces[0]]
    out_count = counts[0]
    for (start, end), n in zip(pieces[1:], counts[1:], strict=True):
        if (out_count < small or n < small) and end - out[-1][0] <= max_chars:
            joined = count_tokens([text[out[-1][0]:end]], tokenizer)[0]
            if joined <= chunk_size:
                out[-1] = (out[-1][0], end)
                out_count = joined
                continue
        out.append((start, end))
        out_count = n
    return out


def _has_content(text: str) -> bool:
    """True when the text has a word character outside HTML tags (not just `</div>` or `---`)."""
    return re.search(r"\w", _HTML_TAG.sub("", text)) is not None


def _overlapping(ends: Sequence[int], starts: Sequence[int], start: int, end: int) -> range:
    """Indexes of the sorted, non-overlapping spans (starts[i], ends[i]) that overlap [start, end),
    found by bisection so that a document with many sections or code blocks stays linear."""
    first = bisect.bisect_right(ends, start)
    return range(first, bisect.bisect_left(starts, end, lo=first))


def _title_path(sections: Sequence[Section], heading_only: Sequence[bool], covered: Sequence[int]) -> tuple[str, ...]:
    """The heading path shared by the covered sections (heading-only sections aside)."""
    with_content = [i for i in covered if not heading_only[i]] or list(covered)
    return _common_prefix([sections[i].path for i in with_content]) if with_content else ()


def _shared_length(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def inner_headings(sections: Sequence[Section], covered: Sequence[int], title_path: Sequence[str],
                   start: int) -> list[tuple[int, tuple[str, ...]]]:
    """The headings a chunk starting at `start` shows as text: (offset, headings) pairs, in order.

    Each covered section whose heading the reader rendered away (`heading_end == start`) shows the
    headings of its path below `title_path` that the section before it in the chunk did not share:
    "tidepool history" before its body, or "Plugins" then "tidepool plugins list" where a new parent
    opens. The first section shows them at the chunk's start. A chunk of one section shows none: its
    path is the title.
    """
    shown: Sequence[str] = title_path
    found: list[tuple[int, tuple[str, ...]]] = []
    for i in covered:
        section = sections[i]
        if section.heading_end == section.start:
            keep = max(len(title_path), _shared_length(shown, section.path))
            headings = tuple(" ".join(h.split()) for h in section.path[keep:] if h.strip())
            if headings:
                found.append((max(section.start, start), headings))
        shown = section.path  # a heading still in the text (heading_end > start) reads as it is
    return found


def render_chunk_text(text: str, start: int, end: int,
                      headings: Sequence[tuple[int, tuple[str, ...]]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """text[start:end] with each group of headings on lines of its own before the text at its offset,
    as paragraphs of the clean-text convention (one blank line around each); and the (offset,
    characters inserted) pairs, for `Chunk.inserted`."""
    parts: list[str] = []
    inserted: list[tuple[int, int]] = []
    pos = start
    for at, lines in headings:
        parts.append(text[pos:at])
        added = ""
        if at > start and not text.endswith("\n\n", start, at):
            added = "\n" if text.endswith("\n", start, at) else "\n\n"
        added += " > ".join(lines) + "\n\n"  # a path on one line, as in titles: "config > Usage > Options"
        parts.append(added)
        inserted.append((at, len(added)))
        pos = at
    parts.append(text[pos:end])
    return "".join(parts), tuple(inserted)


def chunk_document(doc: Document, tokenizer, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Cut a document into chunks of at most `chunk_size` tokens (no special tokens).

    Args:
        doc: The document; a chunk's text is `doc.text[start:end]`, with the headings of the inner
            sections it packs on lines of their own before their text, or with a fence line on a side
            where it cuts a code block that is too long for one chunk.
        tokenizer: A transformers fast tokenizer or a `tokenizers.Tokenizer` (the encoder's).
        chunk_size: Token budget per chunk, >= 1.
        chunk_overlap: Tokens neighbouring pieces of one long section may share, < chunk_size.

    Returns:
        Chunks in document order, ids f"{doc.doc_id}#{i}"; whitespace- or heading-only pieces are left
        out. No chunk has more than `chunk_size` tokens unless one character alone does, nor more
        than `MAX_CHARS_PER_TOKEN * chunk_size` characters (plus reopened fence lines). Time and
        memory are linear in the text's length.
    """
    _validate(chunk_size, chunk_overlap)
    text = doc.text
    max_chars = chunk_size * MAX_CHARS_PER_TOKEN
    sections = [s for s in split_sections(text, doc.headings) if text[s.start:s.end].strip()]
    if not sections:
        return []
    heading_only = [_is_heading_only(text, s) for s in sections]
    counts = _capped_counts([text[s.start:s.end] for s in sections], tokenizer, chunk_size)
    headings = _heading_spans(sections)
    splitter = _splitter(tokenizer, "markdown" if doc.format in MARKUP_FORMATS else "text", chunk_size,
                         chunk_overlap)
    section_bounds = ([s.end for s in sections], [s.start for s in sections])

    def layout(start: int, end: int) -> tuple[tuple[str, ...], list[tuple[int, tuple[str, ...]]]]:
        """The title path of the chunk text[start:end] and the inner headings it shows."""
        covered = list(_overlapping(*section_bounds, start, end))
        path = _title_path(sections, heading_only, covered)
        return path, inner_headings(sections, covered, path, start)

    def group_text(first: int, last: int) -> str:
        start, end = trim_span(text, sections[first].start, sections[last - 1].end)
        return render_chunk_text(text, start, end, layout(start, end)[1])[0]

    def group_tokens(first: int, last: int) -> int:
        rendered = group_text(first, last)
        return count_tokens([rendered], tokenizer)[0] if len(rendered) <= max_chars else chunk_size + 1

    spans: list[tuple[int, int]] = []
    for first, last in _pack_sections(sections, counts, heading_only, group_tokens, chunk_size):
        start, end = trim_span(text, sections[first].start, sections[last - 1].end)
        if start == end:
            continue
        if all(heading_only[first:last]):
            continue  # nothing but headings left at the end of the document
        if sum(counts[first:last]) <= chunk_size and group_tokens(first, last) <= chunk_size:
            spans.append((start, end))
        else:
            pieces = _cap_piece_chars(text, _split_long_span(text, start, end, splitter), max_chars)
            pieces = _merge_heading_pieces(text, pieces, headings, tokenizer, chunk_size, max_chars)
            spans.extend(_merge_small_pieces(text, pieces, tokenizer, chunk_size, max_chars))

    code_blocks = fenced_code_spans(text)
    block_bounds = ([e for _, e in code_blocks], [s for s, _ in code_blocks])

    def blocks_in(start: int, end: int) -> list[tuple[int, int]]:
        return [code_blocks[i] for i in _overlapping(*block_bounds, start, end)]

    spans = [_without_dangling_fence(text, s, e, blocks_in(s, e)) for s, e in spans]
    section_starts = [s.start for s in sections]

    def movable(lead_in: int, end: int, next_start: int) -> bool:
        """A prose lead-in (not a line of code) in the section where the next span starts."""
        same_section = bisect.bisect_right(section_starts, lead_in) == bisect.bisect_right(section_starts, next_start)
        return same_section and not blocks_in(lead_in, end)

    spans = _lead_ins_with_their_blocks(text, spans, movable, tokenizer, chunk_size, max_chars, code_blocks)
    spans = [(s, e) for s, e in spans if _has_content(text[s:e])]
    layouts = [layout(s, e) for s, e in spans]
    fenced = [_with_whole_fences(text, s, e, blocks_in(s, e)) for s, e in spans]
    # Inner headings go in where no fence line was reopened (a piece cut from one long section has
    # none to show: its path is its title, so this only leaves out the rare piece that is both).
    rendered = [bool(shown) and len(piece) == e - s for (s, e), (_, shown), (piece, _) in zip(spans, layouts, fenced,
                                                                                               strict=True)]
    pieces = [render_chunk_text(text, s, e, shown) if render else piece
              for (s, e), (_, shown), piece, render in zip(spans, layouts, fenced, rendered, strict=True)]
    texts, inserted = [piece for piece, _ in pieces], [added for _, added in pieces]
    n_tokens = count_tokens(texts, tokenizer)
    for i, (s, e) in enumerate(spans):
        if rendered[i] and (n_tokens[i] > chunk_size or len(texts[i]) > max_chars):
            # A splitter piece spanning two sections was sized without their headings: keep it as cut.
            texts[i], inserted[i] = text[s:e], ()
            n_tokens[i] = count_tokens([texts[i]], tokenizer)[0]
    pages = [page_span(doc.metadata, s, e) or (None, None) for s, e in spans]
    return [
        Chunk(chunk_id=f"{doc.doc_id}#{i}", doc_id=doc.doc_id, title=format_title(doc.title, path), text=chunk_text,
              start=s, end=e, n_tokens=n, first_page=first_page, last_page=last_page, inserted=added)
        for i, ((s, e), (path, _), chunk_text, added, n, (first_page, last_page)) in enumerate(
            zip(spans, layouts, texts, inserted, n_tokens, pages, strict=True))
    ]


def _lead_in_start(text: str, start: int, end: int) -> int | None:
    """Where the paragraph ending text[start:end] starts when it is a lead-in ("... like this:"); else None.
    A span that is only a lead-in (a section opening on one whose list fills the next span) has it at its start."""
    body = text[start:end].rstrip()
    if not body.endswith(":") or body.endswith("::"):
        return None  # "::" is reST's literal-block marker: the block it leads into is in the same source
    lead_in = start + body.rfind("\n\n") + 2 if "\n\n" in body else start
    return lead_in if text[lead_in:start + len(body)].strip() else None


def _lead_ins_with_their_blocks(text: str, spans: list[tuple[int, int]], movable: Callable[[int, int, int], bool],
                                tokenizer: Any, chunk_size: int, max_chars: int,
                                code_blocks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Move a lead-in paragraph ("For now, it looks like this:") that ends one span into the next
    when the next span goes on with what it leads into and still fits: a chunk whose last words
    announce a block it lacks answers nothing, and the block without its lead-in says nothing.
    A lead-in the next span already holds (the spans overlap) is only taken off the end of the first.
    `movable(lead_in, end, next_start)` says whether text[lead_in:end] may join the next span;
    `code_blocks` are the text's fenced code blocks, which a lead-in may take the first lines of."""
    out = list(spans)
    k = -1
    while (k := k + 1) < len(out) - 1:  # `out` may grow (a block cut in two) or shrink (a rest joined on)
        (a_start, a_end), (b_start, b_end) = out[k], out[k + 1]
        lead_in = _lead_in_start(text, a_start, a_end)
        # (`movable` with the lead-in as the next start only asks that the lead-in is prose: the next span holds it.)
        if lead_in is not None and b_start <= lead_in < a_end < b_end and movable(lead_in, a_end, lead_in):
            out[k] = trim_span(text, a_start, lead_in)  # the next span overlaps it and carries it with its block
            k -= 1  # what now ends the span may be a lead-in too ("... the first `X`, in:" before "Python 3.10+:")
            continue
        between = text[a_end:b_start].strip()  # nothing, or a block's fence line left out of both spans
        if lead_in is None or b_start <= lead_in or (between and not _FENCE_LINE_RE.fullmatch(between)) \
                or not movable(lead_in, a_end, b_start):
            continue
        if text[lead_in:a_end].strip() in text[b_start:b_end]:
            continue  # the overlap already carries it
        join = None
        if "\n\n" not in text[a_start:lead_in].strip() and movable(a_start, a_end, b_start):
            # One paragraph of the section would be left: it goes along when it still can ("First, let's create
            # a Pydantic user model." was a chunk of its own once its lead-in and the included example had moved
            # on); when it cannot, the lead-in alone moves, as before.
            join = _join_end(text, a_start, b_start, b_end, movable, code_blocks, tokenizer, chunk_size, max_chars)
            lead_in = a_start if join is not None else lead_in
        if join is None:
            join = _join_end(text, lead_in, b_start, b_end, movable, code_blocks, tokenizer, chunk_size, max_chars)
        whole, cut = join if join is not None else (False, None)
        if whole:
            out[k], out[k + 1] = trim_span(text, a_start, lead_in), (lead_in, b_end)
            continue
        if cut is not None:
            rest = trim_span(text, cut, b_end)
            if k + 2 < len(out) and out[k + 2][0] <= rest[0]:  # the next span overlaps the rest
                if out[k + 2][1] < rest[1]:
                    continue  # and leaves some of it out: cutting here would reorder the spans, so nothing moves
                rest = (rest[0], rest[0])  # and holds all of it
            elif k + 2 < len(out) and not text[b_end:out[k + 2][0]].strip() and movable(rest[0], b_end, out[k + 2][0]):
                joined = trim_span(text, rest[0], out[k + 2][1])  # the rest joins the next span when it fits
                if joined[1] - joined[0] <= max_chars and count_tokens([text[slice(*joined)]], tokenizer)[0] <= chunk_size:
                    rest = joined
                    del out[k + 2]
            out[k] = trim_span(text, a_start, lead_in)
            out[k + 1 : k + 2] = [trim_span(text, lead_in, cut), rest]
    return [(s, e) for s, e in out if s < e]


def _join_end(text: str, start: int, b_start: int, b_end: int, movable: Callable[[int, int, int], bool],
              code_blocks: Sequence[tuple[int, int]], tokenizer: Any, chunk_size: int,
              max_chars: int) -> tuple[bool, int | None] | None:
    """How text[start:b_start] can join the span text[b_start:b_end]: (True, None) whole; (False, cut) with the
    block's first items or lines up to `cut`, when it is too long to join whole (a list of long items: the rest
    follows on, rather than a chunk that only announces them; `_first_part_end`, `_code_part_end`); None not."""
    if b_end - start <= max_chars and count_tokens([text[start:b_end]], tokenizer)[0] <= chunk_size:
        return True, None
    cut = _first_part_end(text, start, b_start, b_end, movable, tokenizer, chunk_size, max_chars)
    if cut is None:
        cut = _code_part_end(text, start, b_start, b_end, code_blocks, tokenizer, chunk_size, max_chars)
    return (False, cut) if cut is not None else None


_ITEM_OR_PARAGRAPH_START = re.compile(r"\n(?=[ \t]*\n|[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t])")


def _first_part_end(text: str, lead_in: int, b_start: int, b_end: int, movable: Callable[[int, int, int], bool],
                    tokenizer: Any, chunk_size: int, max_chars: int) -> int | None:
    """The last list-item or paragraph boundary in text[b_start:b_end], outside code, up to which the
    lead-in at `lead_in` and the block's start fit one chunk; None when not even one item does."""
    cuts = [m.start() for m in _ITEM_OR_PARAGRAPH_START.finditer(text, b_start, b_end)]
    for cut in reversed(cuts):
        if cut <= b_start + 1 or not text[b_start:cut].strip() or not movable(lead_in, cut, b_start):
            continue
        if cut - lead_in <= max_chars and count_tokens([text[lead_in:cut]], tokenizer)[0] <= chunk_size:
            return cut
    return None


def _code_part_end(text: str, lead_in: int, b_start: int, b_end: int, code_blocks: Sequence[tuple[int, int]],
                   tokenizer: Any, chunk_size: int, max_chars: int) -> int | None:
    """When text[b_start:b_end] opens with a fenced code block: the end of that block, or else (for a block too
    long for any chunk, cut anyway) of its last line, up to which the lead-in at `lead_in` and the code fit
    one chunk (its closing fence line counted); None when not even one line of code does, and when the
    block fits a chunk alone but not with the lead-in or does not end in the span (such a block is never
    cut). Code cut there is fenced on both sides, like any block too long for one chunk."""
    # The block opens the next span, or its fence line alone ended the span before (`_without_dangling_fence`).
    k = bisect.bisect_right(code_blocks, (b_start, len(text)))
    if not (k and code_blocks[k - 1][1] > b_start and "\n" not in text[code_blocks[k - 1][0] : b_start].strip()):
        return None
    block = code_blocks[k - 1]
    first_line = text.find("\n", block[0], block[1]) + 1  # past the opening fence line
    if first_line <= 0:
        return None
    line_ends = [first_line + m.start() for m in re.finditer("\n", text[first_line : min(block[1], b_end)])]
    cuts = [cut for cut in line_ends if text[first_line:cut].strip()] + ([block[1]] if block[1] <= b_end else [])
    whole = text[block[0] : block[1]]
    if len(whole) <= max_chars and count_tokens([whole], tokenizer)[0] <= chunk_size:
        cuts = cuts[-1:] if block[1] <= b_end else []  # a block that fits a chunk is never cut

    closing = "\n" + _FENCE_MARK.match(text, block[0]).group(1)  # the block's own fence: ```` or ~~~ too

    def fits(cut: int) -> bool:
        piece = text[lead_in:cut] + ("" if cut == block[1] else closing)
        return len(piece) <= max_chars and count_tokens([piece], tokenizer)[0] <= chunk_size

    # Longer pieces have more tokens: the last cut that fits is found by bisection (time stays bounded
    # on a block of thousands of short lines).
    fitting = bisect.bisect_left(cuts, True, key=lambda cut: not fits(cut))
    return cuts[fitting - 1] if fitting else None


def _with_whole_fences(text: str, start: int, end: int,
                       code_blocks: Sequence[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """text[start:end], with the fence line reopened before it when it starts inside a code block that
    was cut (one too long for a chunk) and closed after it when it ends inside one: a context
    document never shows code as prose or prose as code. Also the (offset, characters) inserted."""
    piece = text[start:end]
    inserted: list[tuple[int, int]] = []
    for block_start, block_end in code_blocks:
        if block_start >= end:
            break
        if block_end <= start:
            continue
        newline = text.find("\n", block_start, block_end)
        opening = text[block_start : newline if newline >= 0 else block_end]
        if block_start < start:
            piece = f"{opening.strip()}\n{piece}"
            inserted.append((start, len(opening.strip()) + 1))
        if end < block_end:
            closing = f"\n{_FENCE_MARK.match(opening).group(1)}"
            piece += closing
            inserted.append((end, len(closing)))
    return piece, tuple(inserted)


def _without_dangling_fence(text: str, start: int, end: int, code_blocks: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(start, end) ending before a code block's opening fence line when that line is all the span
    holds of the block (the splitter cut right after it), and starting after its closing fence line
    when that is all it holds (cut right before it: reopened, it would show an empty block)."""
    for block_start, block_end in code_blocks:
        if block_start < start < block_end <= end and not text[start:block_end].strip().strip("`~"):
            start, end = trim_span(text, block_end, end)
        if start <= block_start < end < block_end and "\n" not in text[block_start:end].strip():
            return trim_span(text, start, block_start)
    return start, end


_FENCE = r"`{3,}|~{3,}"
_FENCE_MARK = re.compile(rf"\s*({_FENCE})")
_FENCE_LINE_RE = re.compile(rf"(?:{_FENCE})[^\n`]*")
