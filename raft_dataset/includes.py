"""Example files a document includes, put into its text: the code a reader of the rendered page sees.

Documentation sites show example programs kept in files beside the docs:

- MkDocs (FastAPI, Typer): `{* ../../docs_src/first_steps/tutorial001.py hl[3] ln[1:11] *}`;
- pymdownx.snippets: `--8<-- "docs/examples/app.py"` (with `:10:20` lines or a `:name` section);
- mdx_include: `{!../../docs_src/app.py!}` (also alone inside a fenced block);
- Sphinx: `.. literalinclude:: ../examples/app.py` with `:lines:`, `:start-after:`, `:end-before:`,
  `:start-at:`, `:end-at:`, `:pyobject:` and `:language:`.

A row whose oracle says "Let's start with a simple example:" needs that example. `inline_includes`
puts each file the `read` callable returns into the source as a fenced block (Markdown) or a
`code-block` (reST), before the markup is parsed. An include it cannot read is left as written, and
the markup parser says which file it was ("(Example file: `docs_src/app.py`)").

Pure text: the caller's `read` does the I/O and decides what may be read (`corpus.IncludedFiles`).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable

from .markup import FENCED_INCLUDE, INCLUDE_LINE, included_path, is_code_file, map_prose

__all__ = ["FORMATS", "IncludeReader", "inline_includes"]

# Called with a path as the document writes it; returns the file's text, or None (not there, not allowed).
IncludeReader = Callable[[str], "str | None"]

_MARKDOWN_FORMATS = frozenset({"markdown", "md", "mdx", "myst"})
_RST_FORMATS = frozenset({"rst", "rest", "restructuredtext"})
FORMATS = _MARKDOWN_FORMATS | _RST_FORMATS  # the markup formats whose includes are read; others are left as they are
# Cheap test first: most documents include nothing, and then their text is returned as it was.
_INCLUDE_HINT = re.compile(r"\{\*|--8<--|\{!|literalinclude::")
_LANGUAGES = {"py": "python", "pyi": "python", "js": "javascript", "mjs": "javascript", "ts": "typescript",
              "sh": "bash", "yml": "yaml", "rb": "ruby", "rs": "rust", "kt": "kotlin", "cs": "csharp"}
# MkDocs line selection: `ln[1:11]`, `ln[3,5:7]` (1-based, inclusive).
_MKDOCS_LINES = re.compile(r"\bln\[([\d:,\s]*)\]")
# MkDocs highlighted lines: `hl[3:4,9:11,25]`; Sphinx's `:emphasize-lines: 3-4,9`.
_MKDOCS_HIGHLIGHTS = re.compile(r"\bhl\[([\d:,\s]*)\]")
# Most ranges one line selection reads: a page's `hl[...]` names a handful.
MAX_RANGES = 100
_NUMBER_RE = re.compile(r"[0-9]{1,9}")
# An example longer than this shows its highlighted lines (and the lines beside them) only: a whole program
# is most of a chunk or more, and cut across chunks it shows halves of functions.
LONG_EXAMPLE_LINES = 15
# pymdownx.snippets: `file.py:10:20` (lines), `file.py:10`, `file.py:name` (a `--8<-- [start:name]` section).
_SNIPPET_SELECTION = re.compile(r"^(?P<path>.+?\.[\w-]+)(?::(?P<start>-?[0-9]{0,9})(?::(?P<end>-?[0-9]{0,9}))?|:(?P<section>[\w-]+))?$")
_LITERALINCLUDE = re.compile(r"^(?P<indent>[ \t]*)\.\.[ \t]+literalinclude::[ \t]*(?P<path>\S(?:.*\S)?)[ \t]*$")
_RST_OPTION = re.compile(r"^[ \t]+:(?P<name>[\w-]+):(?:[ \t]+(?P<value>\S(?:.*\S)?))?[ \t]*$")


def inline_includes(source: str, fmt: str, read: IncludeReader) -> str:
    """`source` with each example file it includes, that `read` returns, in place of the include.

    Args:
        source: The document's markup.
        fmt: Its format: Markdown ("markdown", "md", "mdx", "myst") or reST ("rst"); others are returned
            unchanged.
        read: Returns an included file's text from the path the document writes, or None.
    """
    if not _INCLUDE_HINT.search(source):
        return source
    fmt = fmt.lower()
    if fmt in _MARKDOWN_FORMATS:
        return _inline_markdown(source, read)
    if fmt in _RST_FORMATS:
        return _inline_rst(source, read)
    return source


def _language(path: str) -> str:
    suffix = path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    return _LANGUAGES.get(suffix, suffix)


def _fenced(lines: list[str], info: str, indent: str, char: str = "`", length: int = 3) -> list[str]:
    """A fenced block of `lines`; the fence is longer than any run of its character in them."""
    longest = max((len(run) for line in lines for run in re.findall(re.escape(char) + "+", line)), default=0)
    fence = char * max(length, longest + 1)
    return [f"{indent}{fence}{info}", *(f"{indent}{line}" if line.strip() else "" for line in lines), f"{indent}{fence}"]


def _inline_markdown(source: str, read: IncludeReader) -> str:
    if "{!" in source:
        source = FENCED_INCLUDE.sub(lambda match: _fenced_include(match, read), source)
    return map_prose(source, lambda prose: "\n".join(_inline_line(line, read) for line in prose.split("\n")))


def _inline_line(line: str, read: IncludeReader) -> str:
    """A line of prose, or the fenced block of the file it includes."""
    # (`;--8<--` is pymdownx's escape: the line is shown as written, an example of the syntax)
    included = INCLUDE_LINE.match(line) if len(line) < 2000 and not line.lstrip().startswith(";") else None
    shown = _markdown_include(included, read) if included else None
    if shown is None:
        return line
    path, code = shown
    indent = line[:len(line) - len(line.lstrip())]
    return "\n".join(["", *_fenced(code, _language(path), indent), ""])


def _fenced_include(match: re.Match, read: IncludeReader) -> str:
    """An mdx_include line alone in a fenced block (the block says the language): the file in its place."""
    text = read(match.group("mdx"))
    if text is None:
        return match.group(0)
    first = match.group(0).split("\n", 1)[0]
    indent = first[:len(first) - len(first.lstrip())]
    fence = match.group("fence")
    return "\n".join(_fenced(_trimmed(text), first.strip()[len(fence):], indent, fence[0], len(fence)))


def _markdown_include(included: re.Match, read: IncludeReader) -> tuple[str, list[str]] | None:
    """(the file, the lines) a Markdown include line shows, or None when it includes no code file `read` returns."""
    path = included_path(included)
    snippet = _SNIPPET_SELECTION.match(path) if included.group("snippet") else None
    path = snippet.group("path") if snippet else path  # without a snippet's `:lines` or `:section`
    if not is_code_file(path):
        return None
    text = read(path)
    if text is None:
        return None
    lines = _trimmed(text)
    if included.group("mkdocs"):
        selected = _MKDOCS_LINES.search(included.group(0))
        highlighted = _MKDOCS_HIGHLIGHTS.search(included.group(0))
        if selected:
            lines = _selected(lines, _line_numbers(selected.group(1), ":", len(lines))) or lines
        elif highlighted:  # (with `ln`, which numbering `hl` follows is the site's choice: leave it)
            lines = _around_highlights(lines, _line_numbers(highlighted.group(1), ":", len(lines)))
    elif included.group("snippet"):
        lines = _snippet_lines(lines, snippet)
    return path, lines


def _trimmed(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def _line_numbers(spec: str, separator: str, last: int) -> bytearray:
    """Which of lines 1..`last` a list of 1-based inclusive ranges names, as a 0/1 byte per line (index 0
    unused): "3,5:7" (MkDocs) or "3,5-7,20-" (Sphinx; an open end runs to the last line). At most
    `MAX_RANGES` ranges are read; a part that is not a number (or has more than 9 digits) counts as none."""
    marked = bytearray(last + 1)
    for item in spec.split(",")[:MAX_RANGES]:
        first, is_range, end = (part.strip() for part in item.partition(separator))
        if not _NUMBER_RE.fullmatch(first) or (end and not _NUMBER_RE.fullmatch(end)):
            continue
        start = max(int(first), 1)
        stop = min(int(end) if end else last, last) if is_range else min(start, last)
        if start <= stop:
            marked[start:stop + 1] = b"\x01" * (stop - start + 1)
    return marked


def _selected(lines: list[str], marked: bytearray) -> list[str]:
    return [line for number, line in enumerate(lines, 1) if marked[number]]


def _around_highlights(lines: list[str], highlighted: bytearray) -> list[str]:
    """A long example's highlighted lines (`_line_numbers`), each with the line before and after it; "..."
    (indented like the line after it) stands for each run of lines left out. Short examples, and those whose
    highlights name no line of them, are shown whole."""
    marked = [number for number in range(1, len(lines) + 1) if highlighted[number]]
    if len(lines) <= LONG_EXAMPLE_LINES or not marked:
        return lines
    kept = sorted({n for number in marked for n in (number - 1, number, number + 1) if 1 <= n <= len(lines)})
    kept = [n for n in kept if lines[n - 1].strip() or highlighted[n]]
    shown: list[str] = []
    for i, number in enumerate(kept):
        if number > (kept[i - 1] if i else 0) + 1:
            line = lines[number - 1]
            shown.append(line[:len(line) - len(line.lstrip())] + "...")
        shown.append(lines[number - 1])
    if kept[-1] < len(lines):
        shown.append("...")
    return shown


def _snippet_lines(lines: list[str], selection: re.Match | None) -> list[str]:
    """A pymdownx snippet's lines: `:start:end` (1-based; negative counts from the end) or a `:name`
    section between `--8<-- [start:name]` and `--8<-- [end:name]` lines (the marker lines left out)."""
    if selection is None:
        return lines
    if selection.group("section"):
        name = re.escape(selection.group("section"))
        start = next((i for i, line in enumerate(lines) if re.search(rf"--8<--\s*\[start:{name}\]", line)), None)
        end = next((i for i, line in enumerate(lines) if re.search(rf"--8<--\s*\[end:{name}\]", line)), None)
        return lines[start + 1:end] if start is not None and end is not None and start < end else lines
    first, last = selection.group("start"), selection.group("end")
    start = int(first) if first not in (None, "", "-") else 1
    end = int(last) if last not in (None, "", "-") else len(lines)
    start, end = (len(lines) + start + 1 if start < 0 else start), (len(lines) + end + 1 if end < 0 else end)
    return lines[max(start, 1) - 1:end] or lines


def _inline_rst(source: str, read: IncludeReader) -> str:
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        directive = _LITERALINCLUDE.match(lines[i]) if len(lines[i]) < 2000 else None
        if directive is None:
            out.append(lines[i])
            i += 1
            continue
        options: dict[str, str] = {}
        j = i + 1
        overlong = False  # an option line too long to read: the directive is left as written
        while j < len(lines):
            if len(lines[j]) >= 2000:
                overlong = lines[j].lstrip().startswith(":") and lines[j][:1] in " \t"
                j += overlong
                break
            option = _RST_OPTION.match(lines[j])
            if option is None:
                break
            options[option.group("name")] = option.group("value") or ""
            j += 1
        path = directive.group("path")
        text = read(path) if is_code_file(path) and not overlong else None
        code = _literalinclude_lines(text, options) if text is not None else None
        if not code:
            out.extend(lines[i:j])
        else:
            indent = directive.group("indent")
            language = options.get("language") or _language(path)
            out.extend([f"{indent}.. code-block:: {language}".rstrip(), "",
                        *(f"{indent}   {line}" if line.strip() else "" for line in code), ""])
        i = j
    return "\n".join(out)


def _literalinclude_lines(text: str, options: dict[str, str]) -> list[str]:
    """The lines Sphinx's literalinclude shows, in its order: `:pyobject:`, then `:start-*:` and
    `:end-*:`, then `:lines:` (1-based, "1,3,5-10,20-")."""
    lines = _trimmed(text)
    if options.get("pyobject"):
        lines = _python_object(lines, options["pyobject"])
    for option, after in (("start-after", True), ("start-at", False)):
        if options.get(option):
            found = next((i for i, line in enumerate(lines) if options[option] in line), None)
            if found is not None:
                lines = lines[found + 1 if after else found:]
    for option, before in (("end-before", True), ("end-at", False)):
        if options.get(option):
            found = next((i for i, line in enumerate(lines) if options[option] in line), None)
            if found is not None:
                lines = lines[:found if before else found + 1]
    if options.get("lines"):
        lines = _selected(lines, _line_numbers(options["lines"], "-", len(lines)))
    if options.get("emphasize-lines"):
        lines = _around_highlights(lines, _line_numbers(options["emphasize-lines"], "-", len(lines)))
    return lines


@functools.lru_cache(maxsize=8)
def _parsed(source: str) -> ast.Module | None:
    """`source` parsed once for all the `:pyobject:` directives that show parts of it."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _python_object(lines: list[str], name: str) -> list[str]:
    """The lines of a Python class or function (`Class.method` too), decorators included; all the
    lines when the file does not parse or does not define it."""
    module = _parsed("\n".join(lines))
    if module is None:
        return lines
    scope: list[ast.stmt] = module.body
    node = None
    for part in name.split("."):
        node = next((n for n in scope if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.name == part), None)
        if node is None:
            return lines
        scope = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return lines[start - 1:node.end_lineno]
