"""Render documentation markup (reST, Markdown/MDX, HTML) to clean text plus its structure.

Every format renders to the same convention, so the chunker, the question generator and the
validators never see markup:

- paragraphs are one line each, separated by one blank line;
- headings are not in the text: each is a `Heading` whose `start == end` is the offset where its
  section's body begins;
- lists are `- item` / `1. item` lines, nested lists indented by 2 spaces per level;
- code is always a fenced block (a line "```lang", the code, a line "```");
- inline code keeps its backticks, emphasis and link markup are removed;
- tables are `| cell | cell |` lines, header row first;
- admonitions keep their body, the first paragraph prefixed with the title ("Note: ...");
- definition-list and glossary entries are "Term: definition" paragraphs with a `Definition`;
- front matter, comments, directives that only drive the site generator (toctree, include, image,
  shortcodes, template tags, imports...) are dropped.

The parsers are maintained libraries: docutils for reST (Sphinx roles and directives are handled
here, without Sphinx), markdown-it-py with mdit-py-plugins for Markdown, lxml for HTML. All
functions are pure: no I/O (docutils never reads included files), bounded nesting, and input that a
parser chokes on falls back to a plain-text rendering instead of raising.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import dataclasses
import html
import re
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .records import Definition, Heading

__all__ = [
    "MAX_RUN_CHARS",
    "MarkupTooDeep",
    "ParsedMarkup",
    "clean_inline",
    "fenced_code_spans",
    "parse",
    "parse_html",
    "parse_markdown",
    "parse_rst",
    "strip_junk",
]


@dataclass(frozen=True)
class ParsedMarkup:
    """A document rendered to clean text, with its structure as offsets into that text.

    Attributes:
        text: The clean text (see the module docstring for the convention).
        title: Front-matter title, else the first top-level heading, else None.
        headings: Section headings in document order; `start == end` is the offset in `text` where the
            section's body begins. Levels 1..6.
        definitions: Glossary and definition-list entries; `text[start:end]` is the definition body.
    """

    text: str
    title: str | None
    headings: tuple[Heading, ...]
    definitions: tuple[Definition, ...]


# Past this depth, containers are flattened to their text (hostile input must not exhaust the stack).
_MAX_DEPTH = 50


class MarkupTooDeep(ValueError):
    """Markup nested deeper than the caller's `max_depth` (lists, blockquotes, HTML elements)."""

    def __init__(self, what: str, depth: int) -> None:
        super().__init__(f"{what} nested {depth} deep")
        self.depth = depth

# --------------------------------------------------------------------------------------------------
# Intermediate blocks, shared by all formats
# --------------------------------------------------------------------------------------------------


@dataclass
class _Para:
    text: str


@dataclass
class _Code:
    lang: str
    code: str


@dataclass
class _Lines:
    """Pre-laid-out lines (lists, tables, line blocks): (indent, text, verbatim)."""

    lines: list[tuple[int, str, bool]]


@dataclass
class _Head:
    level: int
    text: str  # inline code keeps its backticks; `Heading.text` drops them

    @property
    def plain(self) -> str:
        return self.text.replace("`", "")


@dataclass
class _Def:
    term: str
    body: list

    def __post_init__(self) -> None:
        # "``response``:" over its indented body (requests' docs): the colon is ours to add, not twice.
        self.term = self.term.rstrip().removesuffix(":").rstrip() if self.term.rstrip().endswith(":") else self.term

    @property
    def is_statement(self) -> bool:
        """A term that is a sentence (attrs' "**Performance matters.**" over its paragraph) states a point;
        it is not a name to define."""
        return self.term.rstrip().endswith((".", "!", "?"))

    @property
    def separator(self) -> str:
        return " " if self.is_statement else ": "


_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _prefixed(entries: list, prefix: str, keep_empty: bool = False) -> list:
    """`entries` with `prefix` ("Note") put before the first paragraph as "Note: ...".

    An empty body gives nothing, or with `keep_empty` the prefix alone ("Added in version 2.0.").
    """
    prefix = _norm(prefix).rstrip(":")
    entries = [e for e in entries if not (isinstance(e, _Para) and not _norm(e.text))]
    if not prefix:
        return entries
    if entries and isinstance(entries[0], _Para):
        return [_Para(f"{prefix}: {_norm(entries[0].text)}"), *entries[1:]]
    if not entries:
        return [_Para(prefix if prefix.endswith((".", "!", "?")) else prefix + ".")] if keep_empty else []
    return [_Para(prefix + ":"), *entries]


# Terminal output dressed up for a web page (FastAPI's termynal: `<font color="#4E9A06">fastapi</font> dev`):
# the colour tags are presentation, the text between them is the output.
_TERMINAL_STYLE_RE = re.compile(r"<font\b|<span\s+style=", re.IGNORECASE)
_PRESENTATION_TAG_RE = re.compile(r"</?(?:font|span|u|b|i|strong|em)\b[^>]*>", re.IGNORECASE)
_TERMINAL_LANGS = frozenset(["", "console", "shell", "bash", "sh", "text", "shell-session", "terminal"])


# Material for MkDocs code annotations: `# (1)!` marks where the numbered note after the block attaches
# (the "!" strips the comment on the page); it is page furniture, not code.
_ANNOTATION_MARKER_RE = re.compile(r"[ \t]*(?:#|//|--|;)[ \t]*\(\d{1,3}\)![ \t]*$")


def _code_lines(block: _Code) -> list[str]:
    code = block.code
    if block.lang.strip().lower() in _TERMINAL_LANGS and _TERMINAL_STYLE_RE.search(code):
        code = html.unescape(_PRESENTATION_TAG_RE.sub("", code))
    lines = [line.rstrip() for line in code.split("\n")]
    if "!" in code:
        lines = [_ANNOTATION_MARKER_RE.sub("", line) for line in lines if not _ANNOTATION_MARKER_RE.fullmatch(line)]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    # Verbatim inside (blank lines in code are the code's own: PEP 8 puts two between defs), but a margin
    # every line of a program shares is the page's indentation, not the code's (click's "```python\n
    # @click.command()" four spaces in); a single indented line is an excerpt from a body ("    return ...").
    written = [line for line in lines if line.strip()]
    margin = min((len(line) - len(line.lstrip(" ")) for line in written), default=0) if len(written) > 1 else 0
    out = [line[margin:] for line in lines] if margin else lines
    # A code line that is itself a ``` fence must not close ours: use a longer fence.
    longest = max((len(m.group(1)) for line in out if (m := re.match(r"\s*(`{3,})\s*$", line))), default=2)
    fence = "`" * max(3, longest + 1)
    lang = _norm(block.lang).split(" ")[0].replace("`", "") if block.lang else ""
    return [fence + lang, *out, fence]


def _flow(entries: list) -> list[tuple[int, str, bool]]:
    """Lay out blocks inside a list item or cell: paragraphs joined into one line, the rest below."""
    out: list[list] = []
    joinable = False
    for entry in entries:
        if isinstance(entry, (_Para, _Head)):
            text = _norm(entry.plain if isinstance(entry, _Head) else entry.text)
            if not text:
                continue
            if joinable and out:
                out[-1][1] += " " + text
            else:
                out.append([0, text, False])
            joinable = True
        elif isinstance(entry, _Code):
            out.extend([0, line, True] for line in _code_lines(entry))
            joinable = False
        elif isinstance(entry, _Lines):
            out.extend([indent, text, verbatim] for indent, text, verbatim in entry.lines)
            joinable = False
        elif isinstance(entry, _Def):
            body = _flow(entry.body)
            if body and not body[0][2]:
                body[0] = (body[0][0], f"{entry.term}{entry.separator}{body[0][1]}", False)
            else:
                body.insert(0, (0, entry.term + (":" if body else ""), False))
            out.extend(list(line) for line in body)
            joinable = False
    return [tuple(line) for line in out]


def _list_lines(items: list[tuple[str, list]]) -> _Lines:
    """A list: `items` is (marker, entries) with markers like "- " or "3. "."""
    lines: list[tuple[int, str, bool]] = []
    for marker, entries in items:
        body = _flow(entries)
        if body and not body[0][2] and body[0][0] == 0:
            lines.append((0, marker + body[0][1], False))
            body = body[1:]
        else:
            lines.append((0, marker.rstrip(), False))
        lines.extend((indent if verbatim else indent + 2, text, verbatim) for indent, text, verbatim in body)
    return _Lines(lines)


def _table_lines(rows: list[list[list]]) -> _Lines:
    """A table: rows of cells, each cell a list of entries; header row first."""
    lines = []
    for row in rows:
        cells = [_norm(" ".join(text for _, text, _ in _flow(cell))) for cell in row]
        if any(cells):
            lines.append((0, "| " + " | ".join(cells) + " |", False))
    return _Lines(lines)


def _flatten_text(entries: list) -> str:
    return _norm(" ".join(text for _, text, _ in _flow(entries)))


def _heading(offset: int, level: int, marked: str) -> Heading:
    plain = _norm(marked.replace("`", ""))
    return Heading(offset, offset, level, plain, marked if "`" in marked and plain else "")


class _Assembler:
    """Joins blocks into the clean text, resolving heading and definition offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.headings: list[Heading] = []
        self.pending: list[tuple[int, str]] = []
        self.definitions: list[Definition] = []

    def _emit(self, text: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        start = self.pos
        for level, heading in self.pending:
            self.headings.append(_heading(start, level, heading))
        self.pending.clear()
        self.parts.append(text)
        self.pos += len(text)
        return start

    def add(self, entries: Iterable) -> None:
        for entry in entries:
            if isinstance(entry, _Para):
                text = _norm(entry.text)
                if text:
                    self._emit(text)
            elif isinstance(entry, _Code):
                self._emit("\n".join(_code_lines(entry)))
            elif isinstance(entry, _Lines):
                text = "\n".join((line if verbatim else " " * indent + line).rstrip()
                                 for indent, line, verbatim in entry.lines)
                text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
                if text.strip():
                    self._emit(text)
            elif isinstance(entry, _Head):
                if _norm(entry.plain):
                    self.pending.append((min(max(entry.level, 1), 6), _norm(entry.text)))
            elif isinstance(entry, _Def):
                self._add_definition(entry)

    def _add_definition(self, entry: _Def) -> None:
        term = _norm(entry.term)
        body = [e for e in entry.body if not (isinstance(e, _Para) and not _norm(e.text))]
        if not term:
            self.add(body)
            return
        if not body:
            self._emit(term)
            return
        if entry.is_statement:  # "The class belongs to the users." over its explanation: a lead, not a term
            first = [_Para(f"{term}{entry.separator}{_norm(body[0].text)}"), *body[1:]]
            self.add(first if isinstance(body[0], _Para) else [_Para(term), *body])
            return
        if isinstance(body[0], _Para):
            start = self._emit(f"{term}: {_norm(body[0].text)}") + len(term) + 2
            rest = body[1:]
        else:
            self._emit(term + ":")
            start = self.pos + 2
            rest = body
        self.add(rest)
        if self.pos > start:
            self.definitions.append(Definition(term, start, self.pos))

    def result(self, title: str | None) -> ParsedMarkup:
        text = "".join(self.parts)
        headings = self.headings + [_heading(len(text), level, heading) for level, heading in self.pending]
        if title is None:
            title = next((h.text for h in headings if h.level == 1), None)
        return ParsedMarkup(text, title or None, tuple(headings), tuple(self.definitions))


def _assemble(entries: list, title: str | None = None) -> ParsedMarkup:
    assembler = _Assembler()
    assembler.add(entries)
    return assembler.result(_norm(title) if title else None)


# --------------------------------------------------------------------------------------------------
# Plain helpers shared with other modules
# --------------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def opens_fence(line: str) -> tuple[str, int] | None:
    match = _FENCE_OPEN.match(line)
    if not match:
        return None
    fence = match.group("fence")
    if fence[0] == "`" and "`" in match.group("info"):  # CommonMark: not a fence, inline code
        return None
    return fence[0], len(fence)


def closes_fence(line: str, fence: tuple[str, int]) -> bool:
    stripped = line.strip()
    char, length = fence
    return len(stripped) >= length and set(stripped) == {char}


def fenced_code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced code block (``` or ~~~), opening to closing fence line inclusive.

    `end` is the end of the closing fence line (before its newline); an unclosed fence runs to the end
    of the text, as in CommonMark. Fences may be indented (they often are inside list items).
    """
    spans: list[tuple[int, int]] = []
    fence: tuple[str, int] | None = None
    start = pos = 0
    for line in text.split("\n"):
        line_end = pos + len(line)
        if fence is None:
            opened = opens_fence(line)
            if opened:
                fence, start = opened, pos
        elif closes_fence(line, fence):
            spans.append((start, line_end))
            fence = None
        pos = line_end + 1
    if fence is not None:
        spans.append((start, len(text)))
    return spans


def without_fenced_code(text: str) -> str:
    """`text` with its fenced code blocks blanked out: the same length and lines, so offsets stay valid. One pass
    over the pieces, linear however many fences the text has."""
    pieces, end = [], 0
    for start, stop in fenced_code_spans(text):
        pieces += [text[end:start], re.sub(r"[^\n]", " ", text[start:stop])]
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def map_prose(text: str, func: Callable[[str], str]) -> str:
    """Apply `func` to the parts of `text` outside fenced code blocks."""
    out: list[str] = []
    pos = 0
    for start, end in fenced_code_spans(text):
        out.append(func(text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(func(text[pos:]))
    return "".join(out)


_ATTR_LIST_END = re.compile(r"\{:?[ \t]*[#.:][^{}\n]{0,300}\}[ \t]*$")  # `{ #anchor }`, `{ .class }`
_ATTR_LIST = re.compile(r"\{:?[ \t]*[#.][\w-][^{}\n]{0,300}\}")
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,1000}\]\([^()\n]{0,1000}\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]{0,1000})\]\([^()\n]{0,1000}\)")
_MD_REF_LINK = re.compile(r"\[([^\[\]\n]{1,1000})\]\[[^\[\]\n]{0,200}\]")
_HTML_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]{0,1000})?/?>")
_EMPHASIS = re.compile(r"(?<![\w\\])(\*\*|__|\*|_)(?=\S)([^\n]{1,300}?)(?<=\S)\1(?!\w)")
_ROLE_TEXT = re.compile(r":(?P<role>[A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*):`(?P<text>[^`\n]{1,1000})`")


_INLINE_CODE = re.compile(r"`+[^`]*`+")


def clean_inline(text: str) -> str:
    """A short markup string (a heading, a question) as plain text; inline code keeps its backticks.

    Links become their text, images are dropped, `**x**`/`*x*`/`_x_` become x, HTML tags and trailing
    `{ #anchor }` attribute lists are dropped, reST roles become their rendered text (`:func:`f`` ->
    `` `f()` ``). Whitespace is collapsed. Underscores inside names ("dependency_overrides") stay.
    """
    text = _ROLE_TEXT.sub(lambda m: _role_plain(m.group("role"), m.group("text")), text)
    # Inline code is set aside first, so `--config <path>` keeps its <path> and `a*b*c` its stars;
    # a link whose text is code ([`f`](url)) still becomes that code.
    code: list[str] = []

    def set_aside(match: re.Match) -> str:
        code.append(match.group())
        return f"\x00{len(code) - 1}\x00"

    text = _INLINE_CODE.sub(set_aside, text.replace("\x00", ""))
    text = _ATTR_LIST_END.sub("", text)
    text = _ATTR_LIST.sub("", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _EMPHASIS.sub(r"\2", text) if len(text) < 10_000 else text
    text = text.replace("**", "")
    return _norm(re.sub("\x00(\\d+)\x00", lambda m: code[int(m.group(1))], text))


# --------------------------------------------------------------------------------------------------
# Roles (reST / Sphinx), also used by clean_inline
# --------------------------------------------------------------------------------------------------

_CALLABLE_ROLES = {"func", "meth", "function", "method", "classmethod", "staticmethod", "cfunc", "macro"}
_PLAIN_ROLES = {
    "term", "abbr", "guilabel", "kbd", "menuselection", "dfn", "emphasis", "strong", "sub", "sup",
    "subscript", "superscript", "title-reference", "title", "t", "abbreviation", "ab", "acronym", "ac",
    "sc",
}
_DROP_ROLES = {"raw", "index"}
_CODE_ROLES_NO_PARENS = {"literal", "code", "math", "samp", "file", "eq"}
_EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*(?<!\x00)<(?P<target>[^<>]*?)>$", re.S)


def _role_name(role: str) -> str:
    role = (role or "").lower()
    return role.rsplit(":", 1)[-1] if ":" in role else role


def _humanise(name: str) -> str:
    return _norm(re.sub(r"[-_]+", " ", name))


def _role_render(role: str, text: str) -> tuple[str, str]:
    """(kind, text) for an interpreted-text role: kind is "code", "plain", "ref" (label) or "drop"."""
    name = _role_name(role)
    text = text.strip()
    if name in _DROP_ROLES:
        return "drop", ""
    match = _EXPLICIT_TITLE.match(text)
    title, target = (match.group("title"), match.group("target")) if match else (None, text)
    if name in ("ref", "numref", "keyword"):
        return ("plain", title) if title else ("ref", target)
    if name in ("doc", "download"):
        if title:
            return "plain", title
        parts = [p for p in target.rstrip("/").split("/") if p]
        last = parts[-1] if parts else target
        if name == "doc" and last == "index" and len(parts) > 1:
            last = parts[-2]
        if name == "doc":
            human = _humanise(re.sub(r"\.(rst|md|txt)$", "", last))
            return "plain", human[:1].upper() + human[1:]
        return "code", last
    if name in ("pep", "pep-reference"):
        return "plain", "PEP " + (title or target).split("#")[0]
    if name in ("rfc", "rfc-reference"):
        return "plain", "RFC " + (title or target).split("#")[0]
    if name in _PLAIN_ROLES or name in ("term",):
        shown = title or target
        if name == "guilabel":
            shown = re.sub(r"&(&?)", r"\1", shown)
        elif name == "menuselection":
            shown = shown.replace("-->", ">").replace("&", "")
        return "plain", shown
    if name == "samp":
        return "code", re.sub(r"(?<!\\)[{}]", "", title or target)
    if title:
        return "code", title
    shown = target
    if name not in _CODE_ROLES_NO_PARENS:
        shown = shown.lstrip("!").lstrip(".")  # as Sphinx: "!" suppresses the link, "." is for lookup
        if shown.startswith("~") and re.fullmatch(r"~[A-Za-z_][\w.:-]*(?:\(\))?", shown):
            shown = shown[1:].rsplit(".", 1)[-1]  # an object's short name; not a path ("~/.netrc")
        if name in _CALLABLE_ROLES and shown and not shown.endswith(")"):
            shown += "()"
    return "code", shown


def _role_plain(role: str, text: str) -> str:
    kind, shown = _role_render(role, text)
    if kind == "code":
        return f"`{shown}`"
    if kind == "ref":
        return _humanise(shown)
    return shown


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------

_ADMONITION_KINDS = {
    "note", "tip", "tips", "hint", "info", "information", "warning", "warn", "caution", "danger", "error",
    "important", "attention", "abstract", "summary", "tldr", "todo", "success", "check", "done",
    "question", "help", "faq", "failure", "fail", "missing", "bug", "example", "quote", "cite", "seealso",
    "details", "admonition", "alert", "callout", "notice", "deprecated", "experimental",
}
_KIND_LABELS = {"seealso": "See also", "tldr": "TL;DR", "faq": "FAQ", "warn": "Warning", "tips": "Tips"}


def _kind_label(kind: str) -> str:
    kind = kind.lower()
    return _KIND_LABELS.get(kind, kind.replace("-", " ").replace("_", " ").capitalize())


_MARKUP_FILE_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".mdx", ".ipynb")


def is_code_file(path: str) -> bool:
    """Whether an included file is an example (code, config) rather than more text (`.md`, `.rst`)."""
    name = path.rsplit("/", 1)[-1]
    return "." in name and not name.lower().endswith(_MARKUP_FILE_SUFFIXES)


# A line of a program or a shell session, not of prose: a statement's first word, a decorator, a
# prompt, a comment, or code punctuation and no sentence end.
_CODE_LINE_RE = re.compile(
    r"^\s*(?:(?:import|from|def|class|return|if|elif|else|for|while|with|try|except|finally|raise|async|await"
    r"|yield|assert|pass|print|lambda)\b|@\w|#|>>>|\.\.\.|\$ |[\w.\[\]'\"]+\s*[-+*/]?=[^=]|\w[\w.]*\(.*\)\s*$|[)\]}],?\s*$)"
)


# A shell's or Python's prompt before a command.
_SESSION_START_RE = re.compile(r"\s*(?:\$|>>>) \S")


def _looks_like_code(lines: list[str]) -> bool:
    """Whether a block of text (an unknown directive's content) is a program rather than prose: at least
    two thirds of its non-blank lines read as code, or it is one console session (it opens on a prompt
    and has no blank line: its output lines read as anything, pip's "```{pip-cli}"; a tab's "$ pip install
    ..." and the prose after it are not), and none opens a directive (reST within, not code)."""
    text_lines = "\n".join(lines).strip("\n").split("\n")
    session = bool(_SESSION_START_RE.match(text_lines[0])) and all(line.strip() for line in text_lines)
    lines = [line for line in lines if line.strip()]
    if not lines or any(line.lstrip().startswith(".. ") for line in lines):
        return False
    return session or 3 * sum(bool(_CODE_LINE_RE.match(line)) for line in lines) >= 2 * len(lines)


_INCLUDED_FILE_NOTE = "(Example file: `{}`)"
# The line `included_file_note` writes: not prose of the section it stands in.
INCLUDED_FILE_NOTE_RE = re.compile(
    "^" + re.escape(_INCLUDED_FILE_NOTE).replace(re.escape("{}"), "[^`\n]+") + "$", re.MULTILINE)


def included_file_note(path: str) -> str:
    """The line standing for an example included from a file the corpus does not hold:
    "../../docs_src/first_steps/tutorial001.py" -> "(Example file: `docs_src/first_steps/tutorial001.py`)"."""
    path = re.sub(r"^(?:\.{1,2}/)+", "", path.strip().split("#", 1)[0])
    return _INCLUDED_FILE_NOTE.format(path)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)?\+\+\+[ \t]*(?:\n|\Z)", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_STYLE_SCRIPT = re.compile(r"<(style|script)\b[^<>]{0,1000}>.*?(?:</\1\s*>|\Z)", re.S | re.I)
# A line that includes a code file: MkDocs/FastAPI `{* ../../docs_src/x.py hl[3] *}`, pymdownx.snippets
# `--8<-- "docs/x.py"`, mdx_include `{!../../docs_src/x.py!}` (`{!> ...!}`: with its Python version).
# The file is not read (markup does no I/O); the text says which file it was.
_MDX_INCLUDE = r"\{!>?[ \t]*(?P<mdx>[^\s!{}]+)[ \t]*!\}"
INCLUDE_LINE = re.compile(
    r"^[ \t]*(?:\{\*[ \t]*(?P<mkdocs>[^\s*{}]+)[^{}]*\*\}|;?-{1,2}8<-{1,2}[ \t]+[\"'](?P<snippet>[^\"']+)[\"']"
    f"|{_MDX_INCLUDE})[ \\t]*$"
)
# A fenced block holding nothing but an mdx_include line: it shows the file as code (an HTML template too).
FENCED_INCLUDE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n`]*\n[ \t]*" + _MDX_INCLUDE + r"[ \t]*\n[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE,
)

_DROP_LINE = re.compile(
    r"^[ \t]*\{\*.*\*\}[ \t]*$"  # MkDocs/FastAPI include with no file name
    r"|^[ \t]*\{!.*!\}[ \t]*$"  # mdx_include of a text file
    r"|^[ \t]*;?-{1,2}8<-{1,2}(?:[ \t].*)?$"  # pymdownx.snippets: a block marker or no file name
    r"|^[ \t]*\{%-?.*-?%\}[ \t]*$"  # Jinja/Liquid tag lines
    r"|^import[ \t]+(?:[\w*{}\s,]+?[ \t]+from[ \t]+)?['\"][^'\"]+['\"];?[ \t]*$"  # MDX import
    r"|^export[ \t]+(?:default|const|let|var|function|async|class|\{).*$"  # MDX export
    r"|^[ \t]*\([\w.:-]+\)=[ \t]*$"  # MyST target: (label)=
)


def included_path(match: re.Match) -> str:
    """The file an `INCLUDE_LINE` or `FENCED_INCLUDE` match names."""
    return match.group("mkdocs") or match.group("snippet") or match.group("mdx")


_SHORTCODE_LINE = re.compile(
    r"^(?P<indent>[ \t]*)\{\{(?P<delim>[<%])-?[ \t]*(?P<close>/)?[ \t]*(?P<name>[\w.-]+)(?P<args>.*?)"
    r"-?[ \t]*[>%]\}\}[ \t]*$"
)
_SHORTCODE_LINK = re.compile(r"(\]\([ \t]*)\{\{[<%][^{}\n]{0,500}[%>]\}\}")
_SHORTCODE_REFDEF = re.compile(r"^([ \t]*\[[^\]\n]+\]:)[ \t]*\{\{[<%][^{}\n]{0,500}[%>]\}\}\S*[ \t]*$")
_INLINE_TEMPLATE = re.compile(
    r"\{\{[<%][^{}]{0,500}[%>]\}\}"  # Hugo shortcode
    r"|\{%[^%]{0,500}%\}"  # Jinja/Liquid tag
    r"|\{\{[^{}]{0,500}\}\}"  # Jinja expression
    r"|\{\*[^{}]{0,500}\*\}"  # MkDocs include
)
# A JSX tag markdown-it took for text (its attributes hold `{expressions}`, not valid HTML).
_JSX_TAG = re.compile(r"<[A-Z][\w.]*\s[^<>{]{0,500}\{[^<>]{0,500}>")
_STRAY_BLOCK_MARKER = re.compile(r"^(?:(?:/{3,}|:{3,})[ \t]*)+$")
_MYST_COLON_FENCE = re.compile(r"^[ \t]*:{3,}[ \t]*\{[^{}\n]{1,200}\}")
_MYST_OPTION = re.compile(r"^[ \t]*:[\w-]+:(?:[ \t]|$)")
_GITHUB_ALERT = re.compile(r"^\[!(?P<kind>[A-Za-z]+)\][ \t]*")


def _markdown_it():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.admon import admon_plugin
    from mdit_py_plugins.container import container_plugin
    from mdit_py_plugins.deflist import deflist_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin

    md = MarkdownIt("commonmark", {"html": True, "maxNesting": _MD_MAX_NESTING})
    md.enable(["table", "strikethrough"])
    md.use(admon_plugin).use(deflist_plugin).use(footnote_plugin).use(myst_role_plugin)  # {func}`echo`
    md.core.ruler.before("inline", "raft_inline_budget", _inline_budget)
    md.normalizeLink = lambda url: url  # link targets are dropped: don't spend time encoding them
    md.validateLink = lambda url: True

    def any_params(params: str, markup: str) -> bool:
        return bool(params.strip())

    md.use(container_plugin, "slash", marker="/", validate=any_params)  # PyMdown `/// note | Title`
    md.use(container_plugin, "colon", marker=":", validate=any_params)  # Hugo (converted), MyST `:::{note}`
    return md


_MD = None
_MD_LOCK = threading.Lock()


def _md():
    global _MD
    with _MD_LOCK:
        if _MD is None:
            _MD = _markdown_it()
        return _MD


# markdown-it-py's inline parser costs 15-35 us per markup character ([, *, _, `...) on adversarial
# runs of them, ~4 us per other character where its text rule stops ({, :, -...); past this budget
# in one document, the remaining paragraphs are cleaned with linear regexes instead (real pages
# spend far less: FastAPI's 700 kB release notes, the largest, spends 31,000).
_INLINE_BUDGET = 100_000
_MARKUP_CHARS = "[]!*_`<&\\~|"
_TERMINATOR_CHARS = "#$%+-:=>@^{}\n"


def _inline_budget(state) -> None:
    budget = _INLINE_BUDGET
    for token in state.tokens:
        if token.type != "inline":
            continue
        content = token.content
        cost = (sum(content.count(char) for char in _MARKUP_CHARS)
                + sum(content.count(char) for char in _TERMINATOR_CHARS) // 5)
        if cost > budget:
            token.type = "inline_raw"  # skipped by markdown-it's inline rule, cleaned by _cheap_inline
            budget = 0
        else:
            budget -= cost


_CHEAP_LINK = re.compile(r"!?\[((?:[^\[\]\n]|\[[^\[\]\n]{0,200}\]){0,1000})\]"
                         r"\([ \t]*[^()\s]{0,1000}(?:[ \t]+\"[^\"\n]{0,500}\")?[ \t]*\)")


_CHEAP_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,300}?)(?<=\S)\*(?![\w*])"
                             r"|(?<![\w_])_(?=\S)([^_\n]{1,300}?)(?<=\S)_(?![\w_])")


_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]{1,2000})>")
_STRONG_MARKERS = re.compile(r"\*\*|__")
_CODE_SPAN = re.compile(r"(`+[^`\n]{0,1000}`+)")
_CHEAP_SPECIALS = re.compile(r"[\[<*_{`]")


_MYST_ROLE = re.compile(r"\{(?P<role>[A-Za-z][\w.:+-]{0,60})\}`(?P<text>[^`\n]{1,1000})`")  # {func}`echo`


def _cheap_inline(text: str) -> str:
    """Inline markdown cleaned with linear-time regexes (for input too large for the parser)."""
    if not _CHEAP_SPECIALS.search(text):
        return text
    text = _clean_md_text(text)
    text = _MYST_ROLE.sub(lambda m: _role_plain(m.group("role"), m.group("text")), text)
    for _ in range(2):  # twice: [![badge](img.svg)](url)
        text = _CHEAP_LINK.sub(lambda m: "" if m.group(0).startswith("!") else m.group(1), text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    parts = _CODE_SPAN.split(_STRONG_MARKERS.sub("", text))  # leave inline code alone
    for i in range(0, len(parts), 2):
        parts[i] = _CHEAP_EMPHASIS.sub(lambda m: m.group(1) or m.group(2), parts[i])
    return "".join(parts)


def _split_front_matter(text: str) -> tuple[str, str | None]:
    match = _FRONT_MATTER.match(text)
    if match:
        import yaml

        block = match.group(1) or ""
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:
            # Broken YAML that still looks like front matter (key: value lines) is front matter.
            if all(re.match(r"^(?:[\w-]+[ \t]*:|[ \t]|-[ \t]|#|$)", line) for line in block.split("\n")):
                title = re.search(r"^title[ \t]*:[ \t]*(.+?)[ \t]*$", block, re.M)
                return text[match.end():], title.group(1).strip("\"'") if title else None
            return text, None
        if data is None or isinstance(data, dict):
            title = (data or {}).get("title")
            return text[match.end():], (str(title) if title not in (None, "") else None)
        return text, None
    match = _TOML_FRONT_MATTER.match(text)
    if match:
        title = re.search(r"^title[ \t]*=[ \t]*(?:\"(.*)\"|'(.*)')[ \t]*$", match.group(1) or "", re.M)
        return text[match.end():], (title.group(1) or title.group(2)) if title else None
    return text, None


# mkdocstrings: `::: fastapi.APIRouter` renders API docs from code that is not in the corpus.
_AUTODOC_LINE = re.compile(r"^:::[ \t]+[A-Za-z_][\w.]*[ \t]*$")


def _preprocess_markdown(text: str) -> str:
    """Remove what markdown-it can't know about, outside fenced code; Hugo notes become `:::` blocks."""
    text = map_prose(text, lambda s: _STYLE_SCRIPT.sub("", _HTML_COMMENT.sub("", s)))
    if "{!" in text:
        text = FENCED_INCLUDE.sub(lambda m: f"\n{included_file_note(m.group('mdx'))}\n", text)
    out: list[str] = []
    events: list[tuple[int, str, bool, str]] = []  # (line index in out, name, is_closing, indent)
    fence: tuple[str, int] | None = None
    myst_options = False  # just after a MyST `:::{name}` line, whose `:option: value` lines go
    autodoc = False  # inside an mkdocstrings `::: package.Object` block (its indented options go too)
    for line in text.split("\n"):
        if autodoc:
            if not line.strip() or line[:1] in " \t":
                continue
            autodoc = False
        if fence is None and _AUTODOC_LINE.match(line):
            autodoc = True
            out.append("")
            continue
        if fence is not None:
            if closes_fence(line, fence):
                fence = None
            out.append(line)
            continue
        if not line or (line[0].isalnum() and line[0] not in "ie" and "{{" not in line):
            out.append(line)  # plain prose (the rules below start with markup, "import" or "export")
            myst_options = False
            continue
        if myst_options and _MYST_OPTION.match(line):
            continue
        myst_options = bool(_MYST_COLON_FENCE.match(line))
        opened = opens_fence(line)
        if opened:
            fence = opened
            out.append(line)
            continue
        short = len(line) < 2000  # the line patterns backtrack; real directive lines are short
        included = INCLUDE_LINE.match(line) if short else None
        if included and is_code_file(included_path(included)):
            # "Let's start with a simple example:" would end on nothing: say what it showed.
            out.extend(["", included_file_note(included_path(included)), ""])
            continue
        if short and _DROP_LINE.match(line):
            out.append("")  # a block-level construct: it ends the paragraph before it
            continue
        shortcode = _SHORTCODE_LINE.match(line) if short else None
        if shortcode:
            name = shortcode.group("name").lower()
            if name in _ADMONITION_KINDS:
                events.append((len(out), name, bool(shortcode.group("close")), shortcode.group("indent")))
            out.append("")  # other shortcodes (tabs, steps...) keep their content but not their tags
            continue
        if "{{" in line:
            line = _SHORTCODE_LINK.sub(r"\1#", line)
            line = _SHORTCODE_REFDEF.sub(r"\1 #", line)
        out.append(line)
    # Paired admonition shortcodes -> container blocks; an outer block gets more colons than the
    # blocks it holds, so that an inner closing line can't close it.
    stack: list[list] = []  # [index, name, indent, height of the tallest child]
    for index, name, closing, indent in events:
        if not closing:
            stack.append([index, name, indent, 0])
            continue
        j = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][1] == name), None)
        if j is None:
            continue
        open_index, _, open_indent, child_height = stack[j]
        del stack[j:]
        height = child_height + 1
        if height <= 10:  # deeper: the tags are dropped and the content kept, unprefixed
            colons = ":" * (2 + height)
            out[open_index] = f"{open_indent}{colons} {name}"
            out[index] = f"{open_indent}{colons}"
        if stack:
            stack[-1][3] = max(stack[-1][3], height)
    return "\n".join(out)


def _clean_md_text(text: str) -> str:
    if "{" in text:
        text = _INLINE_TEMPLATE.sub("", text)
        text = _ATTR_LIST.sub("", text)
    if "<" in text:
        text = _JSX_TAG.sub("", text)
    return text


class _Tok:
    """A markdown-it token with its children (the flat token stream made into a tree)."""

    __slots__ = ("token", "children")

    def __init__(self, token) -> None:
        self.token = token
        self.children: list[_Tok] = []

    @property
    def type(self) -> str:
        return self.token.type if self.token is not None else "root"


def _md_tree(tokens) -> _Tok:
    root = _Tok(None)
    stack = [root]
    for token in tokens:
        if token.nesting == 1:
            node = _Tok(token)
            stack[-1].children.append(node)
            stack.append(node)
        elif token.nesting == -1:
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1].children.append(_Tok(token))
    return root


def _md_inline(token) -> str:
    out: list[str] = []
    for child in token.children or ():
        kind = child.type
        if kind == "text":
            out.append(_clean_md_text(child.content))
        elif kind == "code_inline":
            content = child.content
            out.append(f"`` {content} ``" if "`" in content else f"`{content}`")
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        elif kind == "html_inline":
            if re.match(r"<br\b", child.content, re.I):
                out.append(" ")
        elif kind == "myst_role":  # rendered as the reST role it is: {func}`echo` -> `echo()`
            out.append(_role_plain(child.meta.get("name", ""), child.content))
        elif kind in ("image", "footnote_ref"):
            continue
        elif child.children:
            out.append(_md_inline(child))
    return "".join(out)


def _only_links(node: _Tok) -> bool:
    """Whether a paragraph outside any list or quote is nothing but links to sites and separators
    ("[GitHub](...) - [Documentation](...)"): a row of navigation, whose link texts alone would read
    "GitHub - Documentation". Links named otherwise ("[httpx-auth](...)") are content; so is a list of them."""
    if node.token is None or node.token.level != 0:
        return False
    labels: list[str] = []
    depth = 0
    for child in node.children:
        if child.type != "inline":
            return False
        for token in child.token.children or ():
            if token.type == "link_open":
                labels.append("")
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            elif depth:
                labels[-1] += token.content
            elif not (token.type in ("softbreak", "hardbreak")
                      or token.type == "text" and not re.search(r"\w", token.content)):
                return False
    return bool(labels) and all(label.strip().lower() in _SITE_LABELS for label in labels)


_SITE_LABELS = frozenset(["github", "gitlab", "documentation", "docs", "pypi", "website", "homepage", "home page",
                          "source", "source code", "repository", "changelog", "issues", "issue tracker"])


def _inline_text(node: _Tok) -> str:
    parts = []
    for child in node.children:
        if child.type == "inline":
            parts.append(_md_inline(child.token))
        elif child.type == "inline_raw":
            parts.append(_cheap_inline(child.token.content))
    return "".join(parts)


def _md_text_of(node: _Tok) -> str:
    """All the text under `node`, without structure (for nesting beyond _MAX_DEPTH)."""
    parts: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        token = current.token
        if token is not None and token.type == "inline":
            parts.append(_md_inline(token))
        elif token is not None and token.type == "inline_raw":
            parts.append(_cheap_inline(token.content))
        elif token is not None and token.type in ("fence", "code_block"):
            parts.append(token.content)
        stack.extend(reversed(current.children))
    return " ".join(parts)


def _container_prefix(params: str) -> tuple[str, str, bool]:
    """(name, title, is MyST) of a container's params: "note | Title", "{note} Title", "note"."""
    params = params.strip()
    if "|" in params:
        name, title = params.split("|", 1)
    else:
        name, _, title = params.partition(" ")
    name = name.strip()
    myst = name.startswith("{")
    name = name.strip("{}").lower()
    return name.rsplit(":", 1)[-1] if myst else name, title.strip().strip("\"'"), myst


# PyMdown blocks whose argument is not a title: `/// html | div.note`, `/// caption`, `/// define`.
_UNTITLED_BLOCKS = {"html", "caption", "figure-caption", "table-caption", "define", "attrs"}


def _admonition_entries(name: str, title: str, body: list) -> list:
    if title:
        return _prefixed(body, clean_inline(title))
    if name in _ADMONITION_KINDS:
        return _prefixed(body, _kind_label(name))
    return body


_MYST_CODE = {"code-block", "code", "sourcecode", "code-cell", "literalinclude-code"}
_MYST_DROP = {
    "toctree", "include", "literalinclude", "image", "raw", "contents", "index", "highlight",
    "module", "currentmodule", "automodule", "mermaid", "graphviz", "tableofcontents",
}


def _myst_directive(info: str, content: str, depth: int) -> list:
    match = re.match(r"\{([^}]*)\}\s*(.*)", info.strip())
    name = match.group(1).strip().lower() if match else ""
    args = match.group(2).strip() if match else ""
    name = name.rsplit(":", 1)[-1] if ":" in name else name
    lines = content.split("\n")
    if lines and lines[0].strip() == "---":  # YAML option block
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            lines = lines[end + 1:]
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        lines.pop(0)
    body = "\n".join(lines)
    if name in _MYST_CODE or name in _RST_CODE_DIRECTIVES:
        # The same code directives as in reST: "```{doctest}" holds a Python session, not markdown.
        return [_Code(_code_language(name, args), body)]
    if name in _MYST_DROP:
        return []
    if name in ("eval-rst", "eval_rst"):
        return _rst_entries(body, depth + 1)
    if name not in _ADMONITION_KINDS and name not in _VERSION_LABELS and _looks_like_code(lines) and not any(
        line.lstrip().startswith(("```", "~~~", ":::")) for line in lines  # a tab or card holding a fence
    ):
        return [_Code("", body)]  # an extension's directive that holds a program, as in reST (`Unknown`)
    entries = _md_entries(body, depth + 1)
    if name in _ADMONITION_KINDS or name in ("admonition", "versionadded", "versionchanged", "deprecated"):
        if name == "admonition":
            return _prefixed(entries, args)
        if name in _VERSION_LABELS:
            return _prefixed(entries, f"{_VERSION_LABELS[name]} {args}", keep_empty=True)
        return _admonition_entries(name, args, entries)
    return entries


def _md_blocks(nodes: list[_Tok], depth: int) -> list:
    entries: list = []
    for node in nodes:
        entries.extend(_md_block(node, depth))
    return entries


def _md_block(node: _Tok, depth: int) -> list:
    token = node.token
    kind = node.type
    if depth > _MAX_DEPTH:
        return [_Para(_md_text_of(node))]
    if kind == "paragraph_open":
        text = _inline_text(node)
        if _STRAY_BLOCK_MARKER.match(text.strip()) or _only_links(node):
            return []
        return [_Para(text)]
    if kind == "inline":
        return [_Para(_md_inline(token))]
    if kind == "inline_raw":
        return [_Para(_cheap_inline(token.content))]
    if kind == "heading_open":
        return [_Head(int(token.tag[1]), clean_inline(_inline_text(node)))]
    if kind == "fence":
        info = token.info.strip()
        if re.match(r"\{[\w:-]", info):  # MyST `{note}`; not an attribute list `{ .dockerfile .annotate }`
            return _myst_directive(info, token.content, depth)
        lang = re.split(r"[\s{}]", info.lstrip("{. "), maxsplit=1)[0] if info else ""
        return [_Code(lang, token.content)]
    if kind == "code_block":
        return [_Code("", token.content)]
    if kind == "html_block":
        return _html_fragment_entries(token.content, depth)
    if kind in ("bullet_list_open", "ordered_list_open"):
        items = []
        for item in node.children:
            if item.type != "list_item_open":
                continue
            if kind == "ordered_list_open":
                marker = f"{item.token.info or len(items) + 1}. "
            else:
                marker = "- "
            items.append((marker, _md_blocks(item.children, depth + 1)))
        return [_list_lines(items)]
    if kind == "blockquote_open":
        body = _md_blocks(node.children, depth + 1)
        if body and isinstance(body[0], _Para):
            alert = _GITHUB_ALERT.match(body[0].text.strip())
            if alert:
                rest = body[0].text.strip()[alert.end():]
                body = ([_Para(rest)] if rest.strip() else []) + body[1:]
                return _prefixed(body, _kind_label(alert.group("kind")))
        return body
    if kind == "table_open":
        rows = []
        for section in node.children:
            for row in section.children:
                if row.type == "tr_open":
                    rows.append([[_Para(_inline_text(cell))]
                                 for cell in row.children])
        return [_table_lines(rows)]
    if kind == "dl_open":
        return _md_definitions(node, depth)
    if kind == "admonition_open":
        title = ""
        body_nodes = []
        for child in node.children:
            if child.type == "admonition_title_open":
                title = _inline_text(child)
            else:
                body_nodes.append(child)
        body = _md_blocks(body_nodes, depth + 1)
        return _prefixed(body, clean_inline(title)) if title.strip() else body
    if kind in ("container_slash_open", "container_colon_open"):
        name, title, myst = _container_prefix(token.info)
        if myst and name in _MYST_DROP:
            return []
        body = _md_blocks(node.children, depth + 1)
        if name in _VERSION_LABELS:
            return _prefixed(body, f"{_VERSION_LABELS[name]} {title}", keep_empty=True)
        if name == "admonition":
            return _prefixed(body, clean_inline(title))
        if name in _UNTITLED_BLOCKS or (myst and name not in _ADMONITION_KINDS):
            return body  # a MyST directive's argument is not a title unless it is an admonition
        return _admonition_entries(name, title, body)
    if kind in ("hr", "front_matter", "footnote_anchor"):
        return []
    return _md_blocks(node.children, depth + 1)


def _md_definitions(node: _Tok, depth: int) -> list:
    entries: list = []
    terms: list[str] = []
    body: list = []

    def flush() -> None:
        if terms:
            entries.append(_Def(", ".join(t for t in terms if t), list(body)))
        elif body:
            entries.extend(body)
        terms.clear()
        body.clear()

    for child in node.children:
        if child.type == "dt_open":
            if body:
                flush()
            terms.append(_norm(_inline_text(child)))
        elif child.type == "dd_open":
            body.extend(_md_blocks(child.children, depth + 1))
    flush()
    return entries


def _md_entries(source: str, depth: int = 0) -> list:
    if depth > 8:
        return _cheap_entries(_preprocess_markdown(source), rst=False)
    source = _preprocess_markdown(source)
    tokens = _md().parse(source, {})
    return _md_blocks(_md_tree(tokens).children, depth)


def _normalise_newlines(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def parse_markdown(source: str, max_depth: int | None = None) -> ParsedMarkup:
    """Markdown (CommonMark + tables, admonitions, PyMdown blocks, MyST, MDX, Hugo) as clean text.

    Raises:
        MarkupTooDeep: Lists and blockquotes nest deeper than `max_depth` (None: no limit).
    """
    source = _normalise_newlines(source)
    body, title = _split_front_matter(source)
    depth = markdown_depth(body)
    if max_depth is not None and depth > max_depth:
        raise MarkupTooDeep("lists and blockquotes", depth)
    if depth > _MD_PARSER_DEPTH or _block_cost(body) > _BLOCK_BUDGET:
        # markdown-it drops what is nested past its maxNesting: the line renderer keeps it.
        return _assemble(_cheap_entries(map_prose(_preprocess_markdown(body), _strip_quote_markers), rst=False), title)
    try:
        entries = _md_entries(body)
    except RecursionError:
        entries = _cheap_entries(_preprocess_markdown(body), rst=False)
    return _assemble(entries, title)


# markdown-it drops everything nested past maxNesting (a list level counts 2, a blockquote 1, and
# `markdown_depth` counts a list level as 1 or 2 by its indentation): documents estimated deeper
# than _MD_PARSER_DEPTH are rendered line by line instead.
_MD_MAX_NESTING = 40
_MD_PARSER_DEPTH = 18
_CONTAINER_MARKERS = re.compile(r"(?:[ \t]*(?:>|(?:[-*+]|\d{1,9}[.)])(?=[ \t])))+")
_QUOTE_MARKERS = re.compile(r"^[ \t]{0,3}>(?:[ \t]{0,3}>)*[ \t]?", re.M)


def markdown_depth(source: str) -> int:
    """How deep lists and blockquotes nest, estimated line by line in linear time: the markers a line
    opens (`>`, `-`, `1.`) plus, for a line opening one, its indentation in steps of 2 columns.
    Fenced code is not looked at."""
    deepest = 0
    fence: tuple[str, int] | None = None
    for line in source.split("\n"):
        if fence is not None:
            if closes_fence(line, fence):
                fence = None
            continue
        if not line or line[0].isalnum():
            continue
        fence = opens_fence(line)
        markers = _CONTAINER_MARKERS.match(line)
        if fence is None and markers:
            indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip(" \t"))
            deepest = max(deepest, len(re.findall(r"[>*+-]|\d{1,9}[.)]", markers.group())) + indent // 2)
    return deepest


def _strip_quote_markers(text: str) -> str:
    return _QUOTE_MARKERS.sub("", text)


# Both parsers spend ~45 us per paragraph and ~140 us per list item; a document with more lines than
# this (list items counted thrice; FastAPI's release notes, the longest page, has 7,400 lines) is
# rendered line by line instead.
_BLOCK_BUDGET = 60_000
_LIST_LINE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]", re.M)


def _block_cost(source: str) -> int:
    lines = source.count("\n")
    if lines < _BLOCK_BUDGET // 3:
        return lines
    return lines + 2 * len(_LIST_LINE.findall(source))


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

_HTML_DROP = {
    "script", "style", "nav", "aside", "noscript", "template", "head", "title",
    "meta", "link", "iframe", "svg", "canvas", "img", "picture", "video", "audio", "source", "track",
    "object", "embed", "map", "input", "select", "textarea", "button", "form", "hr", "base", "dialog",
}
_HTML_INLINE = {
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "mark", "q",
    "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "del", "ins", "label", "tt",
    "big", "acronym", "strike", "wbr", "br", "img", "nobr",
}
_HTML_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_LANG_CLASS = re.compile(r"(?:^|\s)(?:language|lang|highlight|sourceCode)-(?P<lang>[\w+#.-]+)")


def _html_tag(element) -> str | None:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else None


_HTML_CHROME_ROLES = {"navigation", "search", "banner", "contentinfo", "complementary"}
_HTML_CHROME_CLASSES = {"sphinxsidebar", "related", "toctree-wrapper", "headerlink", "skip-link", "md-sidebar"}


def _html_chrome(element, tag: str) -> bool:
    """Site chrome to drop: navigation, sidebars, page headers and footers, search boxes."""
    if (element.get("role") or "").lower() in _HTML_CHROME_ROLES:
        return True
    if _HTML_CHROME_CLASSES.intersection((element.get("class") or "").split()):
        return True
    if tag == "footer":
        return True
    if tag == "header":  # a page's header is chrome; an article's header holds its title
        return not any(_html_tag(a) in ("article", "main", "section") for a in element.iterancestors())
    return False


def _is_headerlink(element) -> bool:
    return "headerlink" in (element.get("class") or "").split()


def _html_inline(element, depth: int) -> str:
    tag = _html_tag(element)
    if tag is None or tag in _HTML_DROP or _is_headerlink(element):
        return ""
    if tag == "br":
        return " "
    if tag == "code" or tag == "tt":
        text = element.text_content()
        return f"`{text}`" if text.strip() else text
    if depth > _MAX_DEPTH:
        return element.text_content()
    parts = [element.text or ""]
    for child in element:
        parts.append(_html_inline(child, depth + 1))
        parts.append(child.tail or "")
    return "".join(parts)


def _html_code_lang(element) -> str:
    node = element
    for _ in range(4):
        if node is None:
            break
        match = _LANG_CLASS.search(node.get("class") or "")
        if match:
            return "" if match.group("lang") == "default" else match.group("lang")
        node = node.getparent()
    for code in element.iter("code"):
        match = _LANG_CLASS.search(code.get("class") or "")
        if match:
            return match.group("lang")
    return ""


def _html_entries(element, depth: int) -> list:
    """The blocks inside `element`: inline runs become paragraphs."""
    if depth > _MAX_DEPTH:
        return [_Para(_clean_md_text(element.text_content()))]
    entries: list = []
    buffer: list[str] = [element.text or ""]

    def flush() -> None:
        text = _clean_md_text("".join(buffer))
        if re.search(r"\w", text):  # not just template leftovers ("@", "|")
            entries.append(_Para(text))
        buffer.clear()

    for child in element:
        tag = _html_tag(child)
        if tag is None or tag in _HTML_DROP or _html_chrome(child, tag):
            pass
        elif tag in _HTML_INLINE:
            buffer.append(_html_inline(child, depth + 1))
        else:
            flush()
            entries.extend(_html_block(child, tag, depth + 1))
        buffer.append(child.tail or "")
    flush()
    return entries


def _html_block(element, tag: str, depth: int) -> list:
    if tag in _HTML_HEADINGS:
        return [_Head(_HTML_HEADINGS[tag], _clean_md_text(_html_inline(element, depth)))]
    if tag == "pre":
        return [_Code(_html_code_lang(element), element.text_content())]
    if tag in ("ul", "ol", "menu", "dir"):
        items = []
        number = int(element.get("start") or 1) if (element.get("start") or "1").isdigit() else 1
        for child in element:
            if _html_tag(child) != "li":
                continue
            if tag == "ol":
                value = child.get("value")
                number = int(value) if value and value.isdigit() else number
                marker = f"{number}. "
                number += 1
            else:
                marker = "- "
            items.append((marker, _html_entries(child, depth + 1)))
        return [_list_lines(items)]
    if tag == "dl":
        entries: list = []
        terms: list[str] = []
        body: list = []
        for child in element:
            child_tag = _html_tag(child)
            if child_tag == "dt":
                if body:
                    entries.extend([_Def(", ".join(terms), body)] if terms else body)
                    terms, body = [], []
                terms.append(_flatten_text(_html_entries(child, depth + 1)))
            elif child_tag == "dd":
                body.extend(_html_entries(child, depth + 1))
            elif child_tag == "div":  # <dl><div><dt/><dd/></div></dl> is valid HTML
                entries.extend(_html_block(child, "dl", depth + 1))
        if terms or body:
            entries.extend([_Def(", ".join(terms), body)] if terms else body)
        return entries
    if tag == "table":
        head, rows = [], []
        for row in _own_rows(element):
            cells = [[_Para(_flatten_text(_html_entries(cell, depth + 1)))]
                     for cell in row if _html_tag(cell) in ("td", "th")]
            parent = row.getparent()
            (head if parent is not None and _html_tag(parent) == "thead" else rows).append(cells)
        caption = element.find("caption")
        title = [_Para(_html_inline(caption, depth))] if caption is not None else []
        return title + [_table_lines(head + rows)]
    classes = (element.get("class") or "").split()
    if "admonition" in classes:
        title_el = next((c for c in element if "admonition-title" in (c.get("class") or "").split()), None)
        if title_el is not None:
            title = _norm(_html_inline(title_el, depth))
            title_el.drop_tree()
            return _prefixed(_html_entries(element, depth + 1), title)
    return _html_entries(element, depth + 1)


def _own_rows(table) -> Iterable:
    """A table's rows, not those of tables nested in its cells (each is rendered by its own cell;
    iterating all descendants made nested tables exponential)."""
    for child in table:
        tag = _html_tag(child)
        if tag == "tr":
            yield child
        elif tag in ("thead", "tbody", "tfoot"):
            yield from (row for row in child if _html_tag(row) == "tr")


_TAG_SCAN = re.compile(r"<(/?)([A-Za-z][\w:-]*)(?:\s[^<>]{0,2000})?(/?)>")
_VOID_OR_IMPLIED = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "colgroup",
}
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|li|ul|ol|dl|dt|dd|h[1-6]|br|tr|table|pre|blockquote|section|article|main|body|"
    r"header|footer|nav|aside|figure|figcaption|details|summary|hr)\b[^<>]{0,2000}>", re.I)


def _html_too_deep(source: str, limit: int = 200) -> bool:
    """Whether elements nest deeper than libxml2 keeps (it drops content past depth 256)."""
    depth = 0
    for match in _TAG_SCAN.finditer(source):
        if match.group(3) or match.group(2).lower() in _VOID_OR_IMPLIED:
            continue
        depth = max(depth - 1, 0) if match.group(1) else depth + 1
        if depth > limit:
            return True
    return False


def _html_as_text(source: str) -> str:
    """HTML to text with regexes only: block tags become paragraph breaks, other tags go."""
    source = _STYLE_SCRIPT.sub("", _HTML_COMMENT.sub("", source))
    source = _BLOCK_TAG.sub("\n\n", source)
    return html.unescape(_HTML_TAG.sub("", source))


def _html_parser():
    import lxml.html

    # huge_tree: libxml2 otherwise drops everything nested past depth 256 without a word.
    return lxml.html.HTMLParser(huge_tree=True)


def _html_root(source: str):
    import lxml.html

    return lxml.html.document_fromstring(source, parser=_html_parser())


def _tree_depth(root) -> int:
    """How deep elements nest under `root` (iteratively: no recursion on hostile input)."""
    from lxml import etree

    depth = deepest = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _html_fragment_entries(source: str, depth: int) -> list:
    """An HTML block inside Markdown: its text, as blocks."""
    if not source.strip():
        return []
    if _html_too_deep(source):
        return [_Para(_clean_md_text(p)) for p in re.split(r"\n[ \t]*\n", _html_as_text(source))]
    try:
        import lxml.html

        root = lxml.html.fragment_fromstring(source, create_parent="div", parser=_html_parser())
    except Exception:  # noqa: BLE001 - unparsable HTML: keep its text
        return [_Para(_clean_md_text(_HTML_TAG.sub(" ", source)))]
    return _html_entries(root, depth + 1)


def parse_html(source: str, max_depth: int | None = None) -> ParsedMarkup:
    """HTML as clean text: <title> (else the first <h1>) is the title, h1-h6 become headings.

    Raises:
        MarkupTooDeep: Elements nest deeper than `max_depth`; with None, such a page is rendered as
            its text without structure.
    """
    source = _normalise_newlines(source)
    if not source.strip():
        return ParsedMarkup("", None, (), ())
    title_match = re.search(r"<title\b[^<>]{0,2000}>([^<]{0,2000})</title", source, re.I)
    fallback_title = _norm(html.unescape(title_match.group(1))) if title_match else None
    if max_depth is None and _html_too_deep(source):
        return _plain_fallback(_html_as_text(source), fallback_title)
    try:
        root = _html_root(source)
    except Exception:  # noqa: BLE001 - lxml refuses some input (e.g. only a comment)
        return _plain_fallback(_html_as_text(source), fallback_title)
    if max_depth is not None:
        depth = _tree_depth(root)
        if depth > max_depth:
            raise MarkupTooDeep("HTML elements", depth)
    title_el = root.find(".//title")
    title = _norm(title_el.text_content()) if title_el is not None else ""
    body = root.find("body")
    try:
        entries = _html_entries(body if body is not None else root, 0)
    except RecursionError:
        return _plain_fallback(root.text_content(), title or None)
    return _assemble(entries, title or None)


# --------------------------------------------------------------------------------------------------
# reStructuredText (docutils, with Sphinx's roles and directives handled here)
# --------------------------------------------------------------------------------------------------

_VERSION_LABELS = {
    "versionadded": "Added in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
    "deprecated-removed": "Deprecated since version",
}
_RST_DROP_DIRECTIVES = {
    "toctree", "include", "literalinclude", "image", "raw", "index", "module", "currentmodule",
    "highlight", "contents", "sectnum", "section-numbering", "target-notes", "header", "footer", "meta",
    "role", "default-role", "default-domain", "title", "sectionauthor", "moduleauthor", "codeauthor",
    "tabularcolumns", "rst-class", "cssclass", "program", "testsetup", "testcleanup", "graphviz",
    "digraph", "graph", "inheritance-diagram", "uml", "mermaid", "plot", "mdinclude", "click",
    "autoprogram", "jinja", "automodsumm", "autosummary", "js:module", "py:module", "py:currentmodule",
    "c:namespace", "cpp:namespace", "bibliography", "spelling:word-list", "tags", "raw-html",
    "qualified-typehints", "ipython-setup", "autoclasstree",
}
_RST_CODE_DIRECTIVES = {
    "code-block", "sourcecode", "code", "doctest", "testcode", "testoutput", "ipython", "code-cell",
    "jupyter-execute", "prompt", "console", "productionlist",
}


def _code_language(directive: str, argument: str) -> str:
    """The language of a code directive's block: its argument's first word, but a doctest is a Python
    session and a test's code or output has none."""
    if directive in ("doctest", "testcode", "testoutput"):
        return "pycon" if directive == "doctest" else ""
    return argument.split()[0] if argument.split() else ""


_RST_SIGNATURE_OBJECTS = {
    "function", "class", "method", "attribute", "data", "exception", "decorator", "decoratormethod",
    "classmethod", "staticmethod", "property", "type", "describe", "object", "envvar", "option",
    "cmdoption", "confval", "member", "macro", "struct", "union", "enum", "enumerator", "var",
    "interface", "setting",
}
_RST_TAB_DIRECTIVES = {"tab", "group-tab", "tab-item", "tab-set-code"}
_RST_TITLED_DIRECTIVES = {"admonition", "topic", "sidebar", "dropdown", "card", "rubric"}
_SPHINX_METADATA_FIELDS = {"orphan", "nocomments", "nosearch", "tocdepth", "hide-toc", "no-search"}
_INFO_FIELD_KINDS = {
    "param", "parameter", "arg", "argument", "key", "keyword", "kwarg", "kwparam", "type", "raises",
    "raise", "except", "exception", "var", "ivar", "cvar", "vartype", "meta",
}
_INFO_FIELD_LABELS = {"returns": "Returns", "return": "Returns", "rtype": "Return type", "yields": "Yields",
                      "yield": "Yields", "ytype": "Yield type"}
_RST_DIRECTIVE_NAME = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)]|#\.)[ \t]+)?\.\.[ \t]+(?:\|[^|\n]+\|[ \t]+)?(?P<name>[A-Za-z0-9](?:[-_.+:]?[A-Za-z0-9])*)[ \t]*::", re.M)

_RST_LOCK = threading.RLock()
_DOCUTILS: dict[str, Any] = {}


def _docutils() -> dict[str, Any]:
    """docutils pieces built once: node classes, directive classes, the Inliner and settings."""
    if _DOCUTILS:
        return _DOCUTILS
    with _RST_LOCK:
        if not _DOCUTILS:
            _DOCUTILS.update(_build_docutils())
    return _DOCUTILS


def _build_docutils() -> dict[str, Any]:
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Directive, Parser, directives, states
    from docutils.parsers.rst.languages import en as rst_en
    from docutils.readers import standalone

    class prefixed(nodes.General, nodes.Element):  # noqa: N801 - docutils node naming
        """A block whose first paragraph gets a prefix ("Note: ..."); children[0] may be the title."""

    class xref(nodes.Inline, nodes.TextElement):  # noqa: N801
        """A :ref: to a label: the section title if the label is in this document."""

    class signature(nodes.General, nodes.Element):  # noqa: N801
        """A Sphinx object description: its signatures, then its content."""

    class AnyOptions(dict):
        def __missing__(self, key):
            return directives.unchanged

    def any_options() -> dict:
        return AnyOptions({"class": directives.unchanged})

    class Drop(Directive):
        required_arguments = 0
        optional_arguments = 1
        final_argument_whitespace = True
        option_spec = any_options()
        has_content = True

        def run(self):
            if type(self.state).__name__ == "SubstitutionDef":
                return [nodes.inline("", "")]
            return []

    class Content(Drop):
        """Structural directive (`only`, `container`, ...): its content, parsed as reST; arguments dropped."""

        def run(self):
            container = nodes.container()
            if self.content:
                self.state.nested_parse(self.content, self.content_offset, container)
            return container.children

    class Unknown(Content):
        """A directive docutils and we do not know (a Sphinx extension's): its content, parsed as reST, unless
        it reads as a program (Click's `.. click:example::`), which stays code; parsed as reST, its indented
        lines would turn into definition lists ("def hello():: click.echo(...)")."""

        def run(self):
            lines = list(self.content)
            # Code written right under the directive line is parsed as its argument: it belongs to the code.
            head = self.arguments[0].split("\n") if self.arguments else []
            if not (head and _looks_like_code(head) and (not lines or _looks_like_code(lines))):
                head = []
            if head or (lines and _looks_like_code(lines)):
                code = "\n".join([*head, *(["", *lines] if head and lines else lines)])
                return [nodes.literal_block(code, code)]
            return super().run()

    class LiteralInclude(Drop):
        """`.. literalinclude:: ../examples/app.py`: the file is not read; the text says which one it was."""

        def run(self):
            if not self.arguments or not is_code_file(self.arguments[0]):
                return []
            return [nodes.paragraph("", "", nodes.Text(included_file_note(self.arguments[0])))]

    class Code(Drop):
        def run(self):
            lang = _code_language(self.name, self.arguments[0] if self.arguments else "")
            code = "\n".join(self.content)
            if not code and self.arguments and self.name == "productionlist":
                code = self.arguments[0]
            node = nodes.literal_block(code, code)
            node["language"] = lang
            caption = (self.options.get("caption") or "").strip()
            if caption:  # usually the file the code goes in: "flaskr/auth.py:"
                caption_nodes, _ = self.state.inline_text(caption, self.lineno)
                return [nodes.paragraph(caption, "", *caption_nodes, nodes.Text(":")), node]
            return [node]

    class CodeTab(Drop):
        def run(self):
            lang = self.arguments[0].split()[0] if self.arguments else ""
            code = "\n".join(self.content)
            node = nodes.literal_block(code, code)
            node["language"] = lang
            return [node]

    class Admonition(Directive):
        """note/warning/...: the first-line text is content, as in docutils."""

        required_arguments = 0
        optional_arguments = 0
        final_argument_whitespace = True
        option_spec = any_options()
        has_content = True

        def run(self):
            node = prefixed()
            node["prefix"] = _kind_label(self.name.rsplit(":", 1)[-1])
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class Titled(Drop):
        """admonition/topic/sidebar/dropdown/tab: the argument is the title (inline markup allowed)."""

        def run(self):
            node = prefixed()
            title = self.arguments[0] if self.arguments else ""
            if title:
                title_nodes, _ = self.state.inline_text(title, self.lineno)
                node += nodes.title(title, "", *title_nodes)
            self.state.nested_parse(self.content, self.content_offset, node)
            if self.name == "rubric":
                return [nodes.paragraph(title, "", *node.children[0].children)] if title else []
            return [node]

    class Version(Drop):
        required_arguments = 1

        def run(self):
            node = prefixed()
            parts = " ".join(self.arguments).split(None, 1)
            version = parts[0] if parts else ""
            if self.name == "deprecated-removed" and len(parts) > 1:
                version_parts = parts[1].split(None, 1)
                version += f", removed in version {version_parts[0]}"
                parts = [parts[0]] + version_parts[1:]
            node["prefix"] = f"{_VERSION_LABELS[self.name]} {version}"
            node["keep_empty"] = True
            if len(parts) > 1:
                text_nodes, _ = self.state.inline_text(parts[1], self.lineno)
                node += nodes.paragraph(parts[1], "", *text_nodes)
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class SeeAlso(Drop):
        def run(self):
            node = prefixed()
            node["prefix"] = "See also"
            if self.arguments:
                text_nodes, _ = self.state.inline_text(self.arguments[0], self.lineno)
                node += nodes.paragraph(self.arguments[0], "", *text_nodes)
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class Centered(Drop):
        def run(self):
            if not self.arguments:
                return []
            text_nodes, _ = self.state.inline_text(self.arguments[0], self.lineno)
            return [nodes.paragraph(self.arguments[0], "", *text_nodes)]

    class Signature(Drop):
        def run(self):
            node = signature()
            for line in (self.arguments[0] if self.arguments else "").split("\n"):
                line = line.strip().rstrip("\\").strip()
                if line:
                    node += nodes.paragraph(line, "", nodes.literal(line, line))
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    class Figure(Drop):
        def run(self):
            container = nodes.container()
            if self.content:
                self.state.nested_parse(self.content, self.content_offset, container)
            return container.children

    class Glossary(Drop):
        """Sphinx glossary: term lines (several may share a definition), indented definitions."""

        def run(self):
            dlist = nodes.definition_list()
            dlist["classes"].append("glossary")
            item = None
            definition_lines: list[tuple[str, Any, int]] = []

            def finish(item, definition_lines) -> None:
                if item is None:
                    return
                definition = nodes.definition()
                if definition_lines:
                    from docutils.statemachine import StringList

                    indent = min(len(line) - len(line.lstrip()) for line, _, _ in definition_lines
                                 if line.strip())
                    lines = StringList()
                    for line, source, offset in definition_lines:
                        lines.append(line[indent:], source, offset)
                    self.state.nested_parse(lines, self.content_offset, definition)
                item += definition
                dlist.append(item)

            for offset, line in enumerate(self.content):
                source, line_offset = self.content.info(offset)
                if not line.strip():
                    if item is not None and definition_lines:
                        definition_lines.append(("", source, line_offset))
                    continue
                if line[0] in " \t":
                    if item is not None:
                        definition_lines.append((line, source, line_offset))
                    continue
                if item is not None and definition_lines:
                    finish(item, definition_lines)
                    item, definition_lines = None, []
                if item is None:
                    item = nodes.definition_list_item()
                term_text = re.split(r"\s+:\s+", line.strip())[0]  # drop a `term : index-key`
                term_nodes, _ = self.state.inline_text(term_text, self.lineno)
                item += nodes.term(term_text, "", *term_nodes)
            finish(item, definition_lines)
            return [dlist]

    class Tabs(Content):
        pass

    class AutoObject(Content):
        """`.. autoclass:: Choice`: the docstring is not read (no import), only content written under it is.
        As a list item, the object's name stays too (a list of them is a list of names, not of empty items);
        elsewhere it does not (an API page of bare names would be chunks of names)."""

        def run(self):
            written = super().run()
            if not self.arguments or not isinstance(self.state.parent, nodes.list_item):
                return written
            name = self.arguments[0].split("\n", 1)[0].strip()
            return [nodes.paragraph(name, "", nodes.literal(name, name)), *written]

    table: dict[str, type] = {}
    for name in _RST_DROP_DIRECTIVES:
        table[name] = Drop
    for name in _RST_CODE_DIRECTIVES:
        table[name] = Code
    table["code-tab"] = CodeTab
    table["literalinclude"] = LiteralInclude
    for name in ("note", "warning", "tip", "hint", "important", "caution", "danger", "error", "attention",
                 "todo"):
        table[name] = Admonition
    for name in _RST_TITLED_DIRECTIVES | _RST_TAB_DIRECTIVES:
        table[name] = Titled
    for name in _VERSION_LABELS:
        table[name] = Version
    table["seealso"] = SeeAlso
    table["centered"] = Centered
    table["figure"] = Figure
    table["glossary"] = Glossary
    for name in ("tabs", "tab-set", "only", "ifconfig", "hlist", "container", "grid", "grid-item",
                 "grid-item-card", "compound"):
        table[name] = Tabs if name in ("tabs", "tab-set") else Content
    for name in _RST_SIGNATURE_OBJECTS:
        table[name] = Signature
    for name in ("autoclass", "autofunction", "automethod", "autoexception", "autodata", "autoattribute",
                 "autodecorator", "autoproperty"):
        table[name] = AutoObject

    def interpreted(self, rawsource, text, role, lineno):
        """Every interpreted-text role (Sphinx's included, unknown ones too) rendered without Sphinx."""
        from docutils.utils import unescape

        kind, shown = _role_render(role or "", unescape(text))
        if kind == "drop":
            return [], []
        if kind == "code":
            return [nodes.literal(rawsource, shown)], []
        if kind == "ref":
            node = xref(rawsource, _humanise(shown))
            node["label"] = shown
            return [node], []
        return [nodes.Text(shown)], []

    def make_inliner():
        # Not a subclass: Inliner.init_customizations reads its patterns from vars(type(self)).
        inliner = states.Inliner()
        inliner.interpreted = types.MethodType(interpreted, inliner)
        return inliner

    settings = get_default_settings(Parser, standalone.Reader)
    overrides = {
        "report_level": 5, "halt_level": 5, "warning_stream": False, "file_insertion_enabled": False,
        "raw_enabled": False, "syntax_highlight": "none", "doctitle_xform": False,
        "sectsubtitle_xform": False, "docinfo_xform": False, "_disable_config": True,
        "line_length_limit": 10**9, "smart_quotes": False, "pep_references": False,
        "rfc_references": False, "input_encoding": "unicode", "traceback": True, "tab_width": 8,
        "character_level_inline_markup": False, "exit_status_level": 5, "strip_comments": True,
    }
    for key, value in overrides.items():
        setattr(settings, key, value)

    return dict(
        nodes=nodes, directives=directives, table=table, Parser=Parser, make_inliner=make_inliner,
        settings=settings, prefixed=prefixed, xref=xref, signature=signature, Content=Content, Unknown=Unknown,
        known=set(rst_en.directives),
    )


@contextlib.contextmanager
def _directive_namespace(source: str):
    """Register our directives (and a content-keeping one for unknown names) for one parse.

    docutils keeps directives in a module-level registry; it is restored afterwards (as Sphinx does),
    under a lock, so that nothing outside this module sees them.
    """
    du = _docutils()
    directives = du["directives"]
    with _RST_LOCK:
        saved = dict(directives._directives)
        try:
            for name in {m.group("name").lower() for m in _RST_DIRECTIVE_NAME.finditer(source)}:
                bare = name.rsplit(":", 1)[-1]
                if name in du["table"]:
                    directives._directives[name] = du["table"][name]
                elif ":" in name and bare in du["table"]:
                    directives._directives[name] = du["table"][bare]
                elif (name in saved or name in du["known"]
                      or name in directives._directive_registry):
                    continue  # a docutils directive (tables, math, epigraph, ...)
                else:  # unknown (Sphinx extensions, ...): keep the content, drop the rest
                    directives._directives[name] = du["Unknown"]
            yield
        finally:
            directives._directives.clear()
            directives._directives.update(saved)


def _rst_doctree(source: str):
    from docutils.core import publish_doctree

    du = _docutils()
    parser = du["Parser"](inliner=du["make_inliner"]())
    with _directive_namespace(source):
        return publish_doctree(source, parser=parser, settings=copy.copy(du["settings"]))


def _rst_inline(node, depth: int = 0) -> str:
    nodes = _docutils()["nodes"]
    du = _DOCUTILS
    if isinstance(node, nodes.Text):
        return node.astext()  # without the \x00 that marks a backslash escape ("``block``\\ s")
    if depth > _MAX_DEPTH:
        return node.astext()
    if isinstance(node, (nodes.footnote_reference, nodes.citation_reference, nodes.substitution_reference,
                         nodes.image, nodes.raw, nodes.system_message, nodes.comment, nodes.target)):
        if isinstance(node, nodes.target) and node.children:
            return "".join(_rst_inline(c, depth + 1) for c in node.children)
        return ""
    if isinstance(node, (nodes.literal, nodes.math)):
        text = node.astext()
        return f"`{text}`" if text.strip() else text
    if isinstance(node, nodes.problematic):
        raw = node.astext().strip()
        if re.fullmatch(r"\|[^|]*\|_{0,2}", raw) or re.fullmatch(r"(?::[\w:.+-]+:)?[`*|_\[\]]+", raw):
            return ""  # an unmatched start-string ("*", "``", ":role:`") or an unknown substitution
        return _clean_rst_raw(raw)
    if isinstance(node, du["xref"]):
        label = node.get("label", "")
        document = node.document
        if document is not None:
            ref_id = document.nameids.get(label.lower()) or document.nameids.get(_norm(label.lower()))
            target = document.ids.get(ref_id) if ref_id else None
            if isinstance(target, nodes.section) and target.children and isinstance(target[0], nodes.title):
                return _rst_inline(target[0], depth + 1)
        return node.astext()
    parts: list[str] = []
    for child in node.children:
        if isinstance(child, (nodes.footnote_reference, nodes.citation_reference)):
            if parts:  # "text [#]_." -> "text."
                parts[-1] = parts[-1].rstrip()
            continue
        parts.append(_rst_inline(child, depth + 1))
    return "".join(parts)


_RST_SPECIALS = re.compile(r"[`*_\[|:]")


def _clean_rst_raw(text: str) -> str:
    """reST source text docutils could not parse as inline markup, as plain text."""
    parts = re.split(r"(``[^`\n]{1,1000}?``)", text)
    for i, part in enumerate(parts):
        if i % 2:
            parts[i] = part[1:-1]  # ``literal`` -> `literal`
            continue
        part = _ROLE_TEXT.sub(lambda m: _role_plain(m.group("role"), m.group("text")), part)
        part = re.sub(r"`([^`<\n]{0,1000}?)\s*(?:<[^<>\n]{0,1000}>)?`__?", r"\1", part)  # `Title <url>`_
        parts[i] = re.sub(r"\s*\[[#*\w-]*\]_", "", part)  # footnote references
    return "".join(parts)


def _field_name(name: str) -> str:
    words = name.split()
    if not words:
        return name
    kind = words[0].lower()
    if kind in _INFO_FIELD_KINDS and len(words) > 1:
        return words[-1]
    return _INFO_FIELD_LABELS.get(kind, name) if len(words) == 1 else name


def _rst_children(node, depth: int, section_level: int) -> list:
    entries: list = []
    for child in node.children:
        entries.extend(_rst_block(child, depth + 1, section_level))
    return entries


def _rst_block(node, depth: int, section_level: int) -> list:  # noqa: C901 - one branch per node type
    du = _docutils()
    nodes = du["nodes"]
    if depth > _MAX_DEPTH:
        return [_Para(node.astext())]
    if isinstance(node, nodes.Text):
        return [_Para(node.astext())] if node.astext().strip() else []
    if isinstance(node, (nodes.comment, nodes.target, nodes.substitution_definition, nodes.system_message,
                         nodes.raw, nodes.image, nodes.pending, nodes.transition, nodes.meta,
                         nodes.decoration, nodes.label)):
        return []
    if isinstance(node, nodes.section):
        title = next((c for c in node.children if isinstance(c, nodes.title)), None)
        head = [_Head(section_level + 1, _rst_inline(title))] if title is not None else []
        body = [c for c in node.children if c is not title]
        entries = head
        for child in body:
            entries.extend(_rst_block(child, depth + 1, section_level + 1))
        return entries
    if isinstance(node, (nodes.paragraph, nodes.rubric, nodes.caption, nodes.title, nodes.subtitle,
                         nodes.attribution, nodes.term)):
        text = _rst_inline(node)
        if isinstance(node, nodes.attribution):
            text = "— " + text
        return [_Para(text)]
    if isinstance(node, (nodes.literal_block, nodes.doctest_block, nodes.math_block)):
        lang = node.get("language") or ""
        if not lang:
            classes = [c for c in node.get("classes", []) if c not in ("code", "literal-block")]
            lang = classes[0] if classes else ""
        if isinstance(node, nodes.doctest_block):
            lang = "pycon"
        elif isinstance(node, nodes.math_block):
            lang = "math"
        return [_Code(lang, node.astext())]
    if isinstance(node, nodes.line_block):
        return [_Lines(_rst_line_block(node, 0))]
    if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
        items = []
        number = node.get("start", 1)
        for item in node.children:
            if not isinstance(item, nodes.list_item):
                continue
            if isinstance(node, nodes.enumerated_list):
                marker = _enumerator(number, node.get("enumtype", "arabic")) + ". "
                number += 1
            else:
                marker = "- "
            items.append((marker, _rst_children(item, depth, section_level)))
        return [_list_lines(items)]
    if isinstance(node, nodes.definition_list):
        entries = []
        for item in node.children:
            terms = [_norm(_rst_inline(c)) for c in item.children if isinstance(c, nodes.term)]
            definition = [c for c in item.children if isinstance(c, nodes.definition)]
            body = _rst_children(definition[0], depth, section_level) if definition else []
            entries.append(_Def(", ".join(t for t in terms if t), body))
        return entries
    if isinstance(node, (nodes.field_list, nodes.docinfo)):
        entries = []
        for field in node.children:
            if not isinstance(field, nodes.field) and isinstance(node, nodes.docinfo):
                entries.append(_Para(f"{field.tagname.capitalize()}: {_rst_inline(field)}"))
                continue
            if not isinstance(field, nodes.field) or len(field.children) < 2:
                continue
            name = _norm(_rst_inline(field[0]))
            if name.lower() in _SPHINX_METADATA_FIELDS:
                continue
            body = _rst_children(field[1], depth, section_level)
            entries.extend(_prefixed(body, _field_name(name)) if body else [_Para(name)])
        return entries
    if isinstance(node, nodes.option_list):
        entries = []
        for item in node.children:
            group = item.children[0] if item.children else None
            options = ", ".join(_norm(o.astext()) for o in group.children) if group is not None else ""
            description = item.children[1] if len(item.children) > 1 else None
            body = _rst_children(description, depth, section_level) if description is not None else []
            entries.extend(_prefixed(body, f"`{options}`") if body else [_Para(f"`{options}`")])
        return entries
    if isinstance(node, nodes.table):
        return _rst_table(node, depth, section_level)
    if isinstance(node, du["prefixed"]):
        children = list(node.children)
        prefix = node.get("prefix", "")
        if children and isinstance(children[0], nodes.title):
            prefix = _rst_inline(children[0]) or prefix
            children = children[1:]
        body: list = []
        for child in children:
            body.extend(_rst_block(child, depth + 1, section_level))
        return _prefixed(body, prefix, keep_empty=node.get("keep_empty", False))
    if isinstance(node, nodes.Admonition):
        children = list(node.children)
        if isinstance(node, nodes.admonition) and children and isinstance(children[0], nodes.title):
            prefix = _rst_inline(children[0])
            children = children[1:]
        else:
            prefix = _kind_label(node.tagname)
        body = []
        for child in children:
            body.extend(_rst_block(child, depth + 1, section_level))
        return _prefixed(body, prefix)
    if isinstance(node, (nodes.topic, nodes.sidebar)):
        children = list(node.children)
        prefix = ""
        if children and isinstance(children[0], nodes.title):
            prefix = _rst_inline(children[0])
            children = children[1:]
        body = []
        for child in children:
            if isinstance(child, nodes.subtitle):
                continue
            body.extend(_rst_block(child, depth + 1, section_level))
        return _prefixed(body, prefix)
    if isinstance(node, (nodes.footnote, nodes.citation)):
        return _rst_children(node, depth, section_level)
    if isinstance(node, nodes.TextElement):
        return [_Para(_rst_inline(node))]
    return _rst_children(node, depth, section_level)


def _rst_line_block(node, indent: int) -> list[tuple[int, str, bool]]:
    nodes = _docutils()["nodes"]
    lines: list[tuple[int, str, bool]] = []
    for child in node.children:
        if isinstance(child, nodes.line_block):
            if indent < _MAX_DEPTH:
                lines.extend(_rst_line_block(child, indent + 2))
        else:
            text = _norm(_rst_inline(child))
            if text:
                lines.append((indent, text, False))
    return lines


def _enumerator(number: int, enumtype: str) -> str:
    if enumtype in ("loweralpha", "upperalpha") and 1 <= number <= 26:
        letter = chr(ord("a") + number - 1)
        return letter if enumtype == "loweralpha" else letter.upper()
    if enumtype in ("lowerroman", "upperroman") and 1 <= number < 4000:
        numerals = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"),
                    (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
        out, rest = "", number
        for value, numeral in numerals:
            while rest >= value:
                out, rest = out + numeral, rest - value
        return out if enumtype == "lowerroman" else out.upper()
    return str(number)


def _rst_table(node, depth: int, section_level: int) -> list:
    nodes = _docutils()["nodes"]
    entries: list = []
    for child in node.children:
        if isinstance(child, nodes.title):
            entries.append(_Para(_rst_inline(child)))
    head: list = []
    body: list = []
    for group in node.findall(nodes.tgroup):
        for section in group.children:
            if not isinstance(section, (nodes.thead, nodes.tbody)):
                continue
            for row in section.children:
                cells = [_rst_children(entry, depth, section_level) for entry in row.children]
                (head if isinstance(section, nodes.thead) else body).append(cells)
    entries.append(_table_lines(head + body))
    return entries


def _rst_entries(source: str, depth: int = 0) -> list:
    doctree = _rst_doctree(source)
    du = _docutils()
    entries: list = []
    for child in doctree.children:
        if isinstance(child, du["nodes"].title):  # a document title (doctitle_xform is off: not expected)
            entries.append(_Head(1, _rst_inline(child)))
            continue
        entries.extend(_rst_block(child, depth + 1, 0))
    return entries


# docutils spends ~20 us per inline markup character; a page with more than this many (Flask's
# largest has 900) is not documentation, and gets the linear plain-text rendering.
_RST_MARKUP_BUDGET = 100_000
_RST_MARKUP_CHARS = "`*|_["
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
_RST_EXPLICIT = re.compile(r"^\.\.(?:[ \t]|$)")


def _clean_rst_inline_raw(text: str) -> str:
    if not _RST_SPECIALS.search(text):
        return text
    text = _clean_rst_raw(text)
    parts = re.split(r"(`+[^`\n]{0,1000}`+)", text)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\*\*|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])", "", parts[i])
    return "".join(parts)


_CHEAP_LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+\u2022]|\d{1,9}[.)]|#\.)[ \t]+(?P<text>\S.*)$")
_CHEAP_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_CHEAP_EXPLICIT = re.compile(r"^(?P<indent>[ \t]*)\.\.(?:[ \t]+(?P<name>[\w:.+-]+)::(?P<arg>.*)|[ \t].*|)$")
_CHEAP_ADMONITION = re.compile(r'^[ \t]*(?:!!!|\?\?\?\+?)[ \t]+(?P<name>[\w-]+)(?:[ \t]+"(?P<title>[^"\n]*)")?[ \t]*$')
_CHEAP_BLOCK = re.compile(r"^[ \t]*(?:/{3,}|:{3,})(?P<params>[^/:].*)?$")
_CHEAP_HR = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_CHEAP_TABLE_SEP = re.compile(r"^\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?$")
_SETEXT_RULE = re.compile(r"=+|-+")
_CHEAP_FIELD = re.compile(r"^:(?P<name>[^:\n]{1,200}):(?:[ \t]+(?P<text>.*))?$")
_RST_CONTENT_DIRECTIVES = {"only", "tabs", "tab", "group-tab", "container", "ifconfig", "hlist", "glossary",
                           "topic", "sidebar", "rubric", "compound", "list-table", "csv-table", "table"}


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def _dedent(lines: list[str]) -> str:
    indents = [_indent_of(line) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)


def _cheap_entries(text: str, rst: bool, depth: int = 0) -> list:  # noqa: C901 - one rule per construct
    """Markup rendered line by line with linear-time rules, for input too big or too broken to parse.

    Keeps paragraphs (joined), code blocks, headings, list items, table rows, definition and field
    lists, and admonition titles; drops reST explicit markup except code, admonition and content-only
    directives, and Markdown block markers.
    """
    clean = _clean_rst_inline_raw if rst else _cheap_inline
    entries: list = []
    para: list[str] = []
    items: list[list] = []  # [indent, marker, text]
    rows: list[tuple[int, str, bool]] = []
    styles: list[str] = []
    pending: list[str] = []  # an admonition title waiting for its first paragraph
    admonition_body = False  # inside a `!!!` body, whose lines are indented but are not code
    lines = text.split("\n")

    def flush() -> None:
        if para:
            body = clean(" ".join(para))
            if pending:
                body = f"{pending.pop()}: {body}"
            entries.append(_Para(body))
            para.clear()
        if items:
            base = min(indent for indent, _, _ in items)
            entries.append(_Lines([((indent - base) // 2 * 2, f"{marker} {clean(item)}", False)
                                   for indent, marker, item in items]))
            items.clear()
        if rows:
            entries.append(_Lines(list(rows)))
            rows.clear()

    def heading(title: str, style: str) -> None:
        flush()
        if style not in styles:
            styles.append(style)
        entries.append(_Head(min(styles.index(style) + 1, 6), clean(title)))

    def admonition(name: str, title: str | None, myst: bool = False) -> None:
        flush()
        pending.clear()
        name = name.lower()
        if name in _VERSION_LABELS:
            pending.append(f"{_VERSION_LABELS[name]} {title or ''}".strip())
        elif title:
            if not (name in _UNTITLED_BLOCKS or (myst and name not in _ADMONITION_KINDS)):
                pending.append(clean_inline(title))
        elif title is None and name in _ADMONITION_KINDS:
            pending.append(_kind_label(name))

    i = 0
    previous_blank = True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        blank_before, previous_blank = previous_blank, not stripped
        if not stripped:
            flush()
            i += 1
            continue
        if line[:1].isalpha() and (not rst or (
                not stripped.endswith("::")
                and (i + 1 == len(lines) or not lines[i + 1].strip() or lines[i + 1][:1].isalpha()))) \
                or len(line) > 5000:
            if rows or items:  # plain prose: every Markdown rule below starts with markup or indentation
                flush()
            para.append(stripped)
            i += 1
            continue
        fence = None if rst else opens_fence(line)
        if fence:
            flush()
            info = _FENCE_OPEN.match(line).group("info").strip()
            code: list[str] = []
            i += 1
            while i < len(lines) and not closes_fence(lines[i], fence):
                code.append(lines[i])
                i += 1
            entries.append(_Code(info.split(" ")[0].strip("{}.") if info else "", _dedent(code)))
            i += 1
            previous_blank = True
            continue
        if rst:
            explicit = _CHEAP_EXPLICIT.match(line) if stripped.startswith("..") else None
            if explicit or (stripped.endswith("::") and not stripped.startswith("..")):
                indent = _indent_of(line)
                j = i + 1
                while j < len(lines) and (not lines[j].strip() or _indent_of(lines[j]) > indent):
                    j += 1
                block = lines[i + 1:j]
                name = ((explicit.group("name") or "") if explicit else "").lower()
                bare = name.rsplit(":", 1)[-1]
                arg = (explicit.group("arg") or "").strip() if explicit else ""
                if explicit is None:
                    para.append(stripped[:-2].rstrip() + (":" if stripped != "::" and stripped[-3] != " " else ""))
                    flush()
                    entries.append(_Code("", _dedent(block)))
                elif bare in _RST_CODE_DIRECTIVES:
                    flush()
                    body = [b for b in block if not re.match(r"^[ \t]*:[\w-]+:", b)]
                    entries.append(_Code(arg.split(" ")[0] if arg else "", _dedent(body)))
                elif depth < 10 and (bare in _ADMONITION_KINDS or bare in _VERSION_LABELS
                                     or bare in _RST_CONTENT_DIRECTIVES or bare in _RST_SIGNATURE_OBJECTS):
                    flush()
                    body = [b for b in block if not re.match(r"^[ \t]*:[\w-]+:", b)]
                    inner = _cheap_entries(_dedent(body), rst, depth + 1)
                    if bare in _VERSION_LABELS:
                        version, _, explanation = arg.partition(" ")
                        inner = _prefixed(([_Para(clean(explanation))] if explanation else []) + inner,
                                          f"{_VERSION_LABELS[bare]} {version}", keep_empty=True)
                    elif bare in _RST_SIGNATURE_OBJECTS and arg:
                        inner = [_Para(f"`{arg}`"), *inner]
                    elif bare in _ADMONITION_KINDS:
                        inner = _prefixed(inner, arg if bare == "admonition" else _kind_label(bare))
                    entries.extend(inner)
                i = j
                previous_blank = True
                continue
            if (_RST_ADORNMENT.match(stripped) and i + 2 < len(lines) and lines[i + 2].strip() == stripped
                    and lines[i + 1].strip()):
                heading(lines[i + 1].strip(), "over" + stripped[0])
                i += 3
                continue
            if (stripped and not para and not items and line[:1] not in " \t" and i + 1 < len(lines)
                    and _RST_ADORNMENT.match(lines[i + 1].strip())
                    and len(lines[i + 1].strip()) >= min(len(stripped), 4)):
                heading(stripped, "under" + lines[i + 1].strip()[0])
                i += 2
                continue
            if _RST_ADORNMENT.match(stripped):  # a transition
                flush()
                i += 1
                continue
            if stripped.startswith(">>>") and not para:
                flush()
                j = i
                while j < len(lines) and lines[j].strip():
                    j += 1
                entries.append(_Code("pycon", _dedent(lines[i:j])))
                i = j
                continue
            field = _CHEAP_FIELD.match(line) if line.startswith(":") else None
            if field:
                flush()
                para.append(f"{_field_name(_norm(field.group('name')))}: {field.group('text') or ''}")
                i += 1
                continue
            if (stripped and not para and not items and line[:1] not in " \t" and i + 1 < len(lines)
                    and lines[i + 1].strip() and _indent_of(lines[i + 1]) > 0
                    and not _CHEAP_LIST_ITEM.match(line)):
                flush()
                para.append(stripped + ":")  # a definition-list term; its definition follows
                i += 1
                continue
        else:
            admonition_line = _CHEAP_ADMONITION.match(line)
            if admonition_line:
                admonition(admonition_line.group("name"), admonition_line.group("title"))
                admonition_body = True
                i += 1
                continue
            block_line = _CHEAP_BLOCK.match(line)
            if block_line:
                params = (block_line.group("params") or "").strip()
                if params:
                    name, title, myst = _container_prefix(params)
                    admonition(name, title or None, myst)
                else:
                    flush()
                i += 1
                continue
            atx = _CHEAP_ATX.match(line)
            if atx:
                flush()
                entries.append(_Head(len(atx.group(1)), clean_inline(atx.group(2))))
                i += 1
                continue
            if len(para) == 1 and not items and _SETEXT_RULE.fullmatch(stripped):
                title = para.pop()
                entries.append(_Head(1 if stripped[0] == "=" else 2, clean_inline(title)))
                i += 1
                continue
            if _CHEAP_HR.match(line):
                flush()
                i += 1
                continue
            if admonition_body and stripped and line[:1] not in " \t":
                admonition_body = False
            if (stripped and blank_before and not para and not items and not admonition_body
                    and (line.startswith("    ") or line.startswith("\t"))):
                flush()
                j = i
                while j < len(lines) and (not lines[j].strip() or lines[j].startswith(("    ", "\t"))):
                    j += 1
                entries.append(_Code("", _dedent(lines[i:j])))
                i = j
                previous_blank = True
                continue
            line = re.sub(r"^[ \t]*(?:>[ \t]?)+", "", line)
            stripped = line.strip()
            alert = _GITHUB_ALERT.match(stripped) if not para else None
            if alert:
                admonition(alert.group("kind"), None)
                pending[:] = [_kind_label(alert.group("kind"))]
                stripped = stripped[alert.end():].strip()
                line = stripped
                if not stripped:
                    i += 1
                    continue
            if stripped.startswith("|"):
                if para or items:
                    flush()
                if not _CHEAP_TABLE_SEP.match(stripped):
                    cells = [clean(cell).strip() for cell in stripped.strip("|").split("|")]
                    rows.append((0, "| " + " | ".join(cells) + " |", False))
                i += 1
                continue
            definition = re.match(r"^:[ \t]+(\S.*)$", line)
            if definition and para:
                para[-1] += ":"
                para.append(definition.group(1))
                i += 1
                continue
        if not stripped:
            flush()
            i += 1
            continue
        if rows:
            flush()
        item = _CHEAP_LIST_ITEM.match(line)
        if item:
            if para:
                flush()
            marker = item.group("marker")
            marker = "-" if not marker[0].isdigit() and marker != "#." else marker.rstrip(".)") + "."
            items.append([len(item.group("indent")), marker, item.group("text")])
        elif items and line[:1] in " \t":
            items[-1][2] += " " + stripped
        else:
            if items:
                flush()
            para.append(stripped)
        i += 1
    flush()
    return entries


def parse_rst(source: str) -> ParsedMarkup:
    """reStructuredText (Sphinx sources, `_sources/*.rst.txt`) as clean text, with its sections."""
    source = _normalise_newlines(source).expandtabs(8)
    if (sum(source.count(char) for char in _RST_MARKUP_CHARS) > _RST_MARKUP_BUDGET
            or _block_cost(source) > _BLOCK_BUDGET
            or re.search(r"^[ \t]{300}", source, re.M)):  # nesting docutils would recurse into
        return _assemble(_cheap_entries(source, rst=True))
    try:
        entries = _rst_entries(source)
    except Exception:  # noqa: BLE001 - RecursionError, and docutils raises many kinds on broken input
        entries = _cheap_entries(source, rst=True)
    return _assemble(entries)


# --------------------------------------------------------------------------------------------------
# Plain text and the dispatcher
# --------------------------------------------------------------------------------------------------


def _plain_fallback(text: str, title: str | None) -> ParsedMarkup:
    """Text as paragraphs (blank-line separated, lines joined), when a parser could not be used."""
    paragraphs = [_norm(p) for p in re.split(r"\n[ \t]*\n", _normalise_newlines(text))]
    return ParsedMarkup("\n\n".join(p for p in paragraphs if p), _norm(title) if title else None, (), ())


def _parse_text(source: str) -> ParsedMarkup:
    lines = [line.rstrip() for line in _normalise_newlines(source).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return ParsedMarkup(text, None, (), ())


_FORMATS: dict[str, Callable[[str], ParsedMarkup]] = {
    "markdown": parse_markdown, "md": parse_markdown, "mdx": parse_markdown, "myst": parse_markdown,
    "rst": parse_rst, "rest": parse_rst, "restructuredtext": parse_rst,
    "html": parse_html, "htm": parse_html,
    "text": _parse_text, "txt": _parse_text, "plain": _parse_text,
}


def parse(source: str, fmt: str, *, max_depth: int | None = None) -> ParsedMarkup:
    """Render `source` in format `fmt` ("markdown", "rst", "html" or "text") to clean text.

    Raises:
        MarkupTooDeep: Markdown lists/blockquotes or HTML elements nest deeper than `max_depth`
            (None: no limit; deep input is then flattened to its text).
    """
    try:
        parser = _FORMATS[fmt.lower()]
    except KeyError:
        raise ValueError(f"unknown markup format {fmt!r}; expected one of markdown, rst, html, text") from None
    if max_depth is not None and parser in (parse_markdown, parse_html):
        return parser(source, max_depth=max_depth)
    return parser(source)


# --------------------------------------------------------------------------------------------------
# Junk that looks like text
# --------------------------------------------------------------------------------------------------

# Longer runs without a space are never prose (a WordPiece tokenizer even counts one as one token).
MAX_RUN_CHARS = 1000
_LONG_RUN = re.compile(rf"(?<!\S)\S{{{MAX_RUN_CHARS + 1},}}")
# Base64: an optional `data:` URI head, then runs of 40+ base64 characters (MIME wraps at 64 or 76),
# separated by whitespace only. Starting only where a run starts keeps the search linear.
_BASE64_BLOB = re.compile(
    r"(?:data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,|(?<![A-Za-z0-9+/]))"
    r"[A-Za-z0-9+/]{40,}={0,2}(?:\s+[A-Za-z0-9+/]{40,}={0,2})*")
_DATA_URI_HEAD = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,")
_MIN_BLOB_CHARS = 200


def _mixed(run: str) -> bool:
    return re.search(r"\d", run) is not None and re.search(r"[A-Z]", run) is not None and re.search(r"[a-z]", run) is not None


def _blob_spans(text: str) -> list[tuple[int, int]]:
    """Spans of base64 blobs: a `data:` URI, or 200+ characters of consecutive runs that each mix
    digits, upper and lower case (what random bytes encode to; hex digests and identifiers do not)."""
    spans: list[tuple[int, int]] = []
    for match in _BASE64_BLOB.finditer(text):
        head = _DATA_URI_HEAD.match(match.group())
        groups: list[list[int]] = []  # [start, end, is a data: URI] of consecutive mixed runs
        for run in re.finditer(r"\S+", match.group()):
            is_uri = head is not None and run.start() == 0
            if not (is_uri or _mixed(run.group())):
                groups.append([])  # a run that is not base64-like ends the group
                continue
            start, end = match.start() + run.start(), match.start() + run.end()
            if groups and groups[-1]:
                groups[-1][1] = end
            else:
                groups.append([start, end, is_uri])
        spans.extend((g[0], g[1]) for g in groups if g and (g[2] or g[1] - g[0] >= _MIN_BLOB_CHARS))
    return spans


def strip_junk(parsed: ParsedMarkup) -> tuple[ParsedMarkup, int, int]:
    """`parsed` without encoded blobs (base64 runs, `data:` URIs) and runs of more than MAX_RUN_CHARS
    characters without a space, with headings and definitions moved to the shortened text; and how
    many blobs and runs were removed.

    Done on the clean text, after parsing: a parser drops `![](data:...)` images itself, and only
    what would reach a row is judged (removing from raw HTML could cut through a tag)."""
    text = parsed.text
    blob_spans = _blob_spans(text)
    run_spans = [(m.start(), m.end()) for m in _LONG_RUN.finditer(text)] if len(text) > MAX_RUN_CHARS else []
    blob_starts = [s for s, _ in blob_spans]
    # A run that is (part of) a blob is counted as the blob.
    runs = sum(1 for s, e in run_spans if not _covered(s, e, blob_spans, blob_starts))
    removed = _union(sorted(blob_spans + run_spans))
    blobs = len(blob_spans)
    if not removed:
        return parsed, 0, 0
    starts = [s for s, _ in removed]
    shift = [0]
    for s, e in removed:
        shift.append(shift[-1] + e - s)

    def moved(offset: int) -> int:
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return offset
        s, e = removed[i]
        return offset - shift[i] - (min(offset, e) - s)

    headings = tuple(dataclasses.replace(h, start=moved(h.start), end=moved(h.end)) for h in parsed.headings)
    definitions = tuple(dataclasses.replace(d, start=moved(d.start), end=moved(d.end)) for d in parsed.definitions)
    return ParsedMarkup(_cut(text, removed), parsed.title, headings, definitions), blobs, runs


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the sorted, disjoint spans."""
    parts, position = [], 0
    for start, end in spans:
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _covered(start: int, end: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    """Whether [start, end) lies inside one of the sorted, disjoint spans."""
    i = bisect.bisect_right(starts, start) - 1
    return i >= 0 and spans[i][1] >= end


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans merged where they overlap."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
