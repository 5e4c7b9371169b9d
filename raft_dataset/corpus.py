"""Corpus reading: local files by glob, or a Hugging Face dataset, into `Document`s.

Local files are read one at a time (the readers are generators), in sorted path order, and every file
that cannot be used is skipped and counted in a `BuildReport` instead of stopping the build, unless
`strict=True`. Which reader reads a file is decided by its suffix, through a registry that other
packages extend with `register_reader` or the `raft_dataset.readers` entry-point group.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .raft_format import normalize_whitespace
from .records import Document, Heading
from .report import CORPUS, BuildReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """A file (or one record of a file) that could not be used, and why.

    `reason` is a stable identifier counted in the build report ("empty", "binary", ...); `where`
    names the file (and line); `detail` is the one-line explanation.
    """

    reason: str
    where: str
    detail: str


class CorpusError(ValueError):
    """A corpus problem that must stop the build (nothing matched, or strict mode)."""


@dataclass(frozen=True)
class ReadOptions:
    """Settings readers may use: the keys of a record's text, title and id (JSON lines, tables)."""

    text_field: str = "text"
    title_field: str = "title"
    id_field: str = "_id"


class Reader(Protocol):
    """Reads one file: yields its documents, and a `Skipped` for anything it cannot use.

    `doc_id` is the file's path relative to the corpus root (posix); a reader that yields several
    documents per file derives their ids from it. Readers must not raise on bad content.
    """

    def __call__(self, path: str, doc_id: str, options: ReadOptions) -> Iterable[Document | Skipped]: ...


SKIP_REASONS = ("empty", "binary", "undecodable", "unsupported_extension", "bad_json_line", "unreadable")
# Other packages add readers through this entry-point group: name = the suffix (".pdf"), value = a Reader.
ENTRY_POINT_GROUP = "raft_dataset.readers"
_READERS: dict[str, tuple[str, Reader]] = {}  # suffix -> (format name, reader)
_entry_points_loaded = False


def register_reader(suffix: str, reader: Reader, *, format: str | None = None) -> None:
    """Read files ending in `suffix` (".pdf", ".rst.txt"; case-insensitive) with `reader`.

    The longest matching suffix wins, so ".rst.txt" can differ from ".txt". A later registration of
    the same suffix replaces the earlier one. `format` names the documents' format (default: the
    suffix without its dot).
    """
    suffix = suffix.lower()
    if not suffix.startswith(".") or len(suffix) < 2:
        raise ValueError(f"reader suffix must start with a dot, got {suffix!r}")
    _READERS[suffix] = (format or suffix.rsplit(".", 1)[-1], reader)


def _load_entry_points() -> None:
    """Register the readers other installed packages declare (once per process)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register_reader(entry.name, entry.load())
        except Exception as err:  # noqa: BLE001 - a broken plugin must not stop every build
            logger.warning("reader plugin %s (%s) could not be loaded: %s", entry.name, entry.value, err)


def reader_for(path: str | os.PathLike[str]) -> tuple[str, Reader] | None:
    """(format, reader) for a file name by its longest registered suffix, or None."""
    _load_entry_points()
    name = os.path.basename(path).lower()
    matches = [suffix for suffix in _READERS if name.endswith(suffix)]
    return _READERS[max(matches, key=len)] if matches else None


def detect_format(path: str | os.PathLike[str]) -> str | None:
    """The document format for a file name, or None if no reader takes it."""
    found = reader_for(path)
    return found[0] if found else None


# --------------------------------------------------------------------------------------------------
# Local files
# --------------------------------------------------------------------------------------------------


def read_corpus(
    patterns: str | Sequence[str],
    *,
    text_field: str = "text",
    title_field: str = "title",
    id_field: str = "_id",
    strict: bool = False,
    report: BuildReport | None = None,
) -> Iterator[Document]:
    """Yield the documents in the files matched by `patterns`, in sorted path order.

    Args:
        patterns: One or more globs (`**` is recursive), directories (all supported files under them,
            hidden files and folders excluded) or single files.
        text_field, title_field, id_field: Keys of a JSON-lines record holding its text, title and id.
        strict: Raise `CorpusError` on the first file (or JSON line) that would otherwise be skipped.
            Files with an unsupported extension are only counted, never raised on.
        report: Filled in while iterating: documents yielded, and skipped files by reason
            ("empty", "binary", "undecodable", "unsupported_extension", "bad_json_line", "unreadable").

    Raises:
        CorpusError: At call time when the patterns match no file at all (or, with `strict`, when any
            one pattern matches nothing); while iterating in strict mode, naming the offending file.
    """
    pattern_list = [patterns] if isinstance(patterns, (str, os.PathLike)) else list(patterns)
    if not pattern_list:
        raise CorpusError("no corpus pattern given")
    files, root = _expand_patterns([os.fspath(p) for p in pattern_list], strict=strict)
    # Validation above runs eagerly; the reading below is lazy.
    options = ReadOptions(text_field=text_field, title_field=title_field, id_field=id_field)
    return _read_files(files, root, options, strict=strict, report=report if report is not None else BuildReport())


def _read_files(files: list[str], root: str, options: ReadOptions, *, strict: bool,
                report: BuildReport) -> Iterator[Document]:
    for path in files:
        relpath = Path(os.path.relpath(path, root)).as_posix()
        found = reader_for(path)
        if found is None:
            items: Iterable[Document | Skipped] = [Skipped("unsupported_extension", path, "unsupported file extension")]
        else:
            items = found[1](path, relpath, options)
        for item in items:
            if isinstance(item, Skipped):
                report.drop(CORPUS, item.reason)
                message = f"{item.where}: {item.detail}"
                if strict and item.reason != "unsupported_extension":
                    raise CorpusError(message)
                logger.info("skipped (%s) %s", item.reason, message)
                continue
            report.count("documents")
            yield item


def _has_magic(part: str) -> bool:
    return glob.has_magic(part)


def _pattern_base(pattern: str) -> str:
    """The directory a pattern is relative to: its path up to the first glob component."""
    if not _has_magic(pattern):
        return pattern if os.path.isdir(pattern) else os.path.dirname(pattern) or "."
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if _has_magic(part):
            break
        fixed.append(part)
    return os.path.join(*fixed) if fixed else "."


def _walk(directory: str) -> Iterator[str]:
    """All non-hidden files under a directory."""
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def _expand_patterns(patterns: list[str], *, strict: bool) -> tuple[list[str], str]:
    """Matched files (absolute, deduplicated, sorted) and the common root of the patterns."""
    found: set[str] = set()
    unmatched: list[str] = []
    bases: list[str] = []
    for raw in patterns:
        pattern = os.path.expanduser(raw)
        bases.append(os.path.abspath(_pattern_base(pattern)))
        # An existing path is taken literally, even with glob characters in its name ("notes[1].md").
        hits = glob.glob(pattern, recursive=True) if _has_magic(pattern) and not os.path.exists(pattern) else (
            [pattern] if os.path.exists(pattern) else [])
        matched: set[str] = set()
        for hit in hits:
            if os.path.isdir(hit):
                matched.update(os.path.abspath(p) for p in _walk(hit))
            elif os.path.isfile(hit):
                matched.add(os.path.abspath(hit))
        if not matched:
            unmatched.append(raw)
        found |= matched
    if not found:
        raise CorpusError(f"no file matches corpus pattern(s): {', '.join(map(repr, unmatched))}")
    if unmatched:
        message = f"no file matches corpus pattern(s): {', '.join(map(repr, unmatched))}"
        if strict:
            raise CorpusError(message)
        logger.warning(message)
    try:
        root = os.path.commonpath(bases)
    except ValueError:  # e.g. different drives on Windows: fall back to the files' own root
        root = os.path.commonpath(sorted(found))
    if os.path.isfile(root):
        root = os.path.dirname(root)
    return sorted(found, key=lambda p: Path(os.path.relpath(p, root)).as_posix()), root


def resolve_corpus_files(patterns: str | Sequence[str]) -> list[Path]:
    """The files `read_corpus` would read for these patterns, sorted (for fingerprints and listings)."""
    files, _ = _expand_patterns([patterns] if isinstance(patterns, str) else list(patterns), strict=False)
    return [Path(f) for f in files]


def _decode(data: bytes) -> str | None:
    """UTF-8 text (BOM dropped, newlines normalised), or None when the bytes are not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def humanize_stem(path: str) -> str:
    """A title from a file name: 'request-files.md' -> 'Request files'; an index page takes its folder's."""
    name = os.path.basename(path)
    stem = name.split(".", 1)[0] if detect_format(name) else os.path.splitext(name)[0]
    if stem.lower() in {"index", "readme", "_index"} and os.path.basename(os.path.dirname(path)):
        stem = os.path.basename(os.path.dirname(path))
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else name


def _read_bytes(path: str) -> bytes | Skipped:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:  # vanished or unreadable since globbing
        return Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")


def _markup_reader(fmt: str) -> Reader:
    """A reader for one markup format: the file's clean text, title and headings."""

    def read(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
        data = _read_bytes(path)
        if isinstance(data, Skipped):
            yield data
            return
        if b"\x00" in data:
            yield Skipped("binary", path, "binary file (contains NUL bytes)")
            return
        raw = _decode(data)
        if raw is None:
            yield Skipped("undecodable", path, "not valid UTF-8")
            return
        text, title, headings = _parse(raw, fmt)
        if not text.strip():
            yield Skipped("empty", path, "no text (empty after cleanup)")
            return
        yield Document(doc_id=doc_id, title=title or humanize_stem(doc_id), text=text, format=fmt,
                       source=path, headings=tuple(headings))

    read.__name__ = read.__qualname__ = f"read_{fmt}"
    return read


def _parse(raw: str, fmt: str) -> tuple[str, str | None, list[Heading]]:
    """(text, title, headings) of one file's content."""
    if fmt == "markdown":
        text, front_matter = clean_markdown(raw)
        headings = markdown_headings(text)
        fm_title = front_matter.get("title")
        title = fm_title.strip() if isinstance(fm_title, str) and fm_title.strip() else _first_heading(headings)
        return text, title, headings
    if fmt == "rst":
        text = raw.strip()
        headings = rst_headings(text)
        return text, _first_heading(headings), headings
    if fmt == "html":
        text, title = html_to_text(raw)
        return text, title, []
    return raw.strip(), None, []


def _first_heading(headings: Sequence[Heading]) -> str | None:
    """The first top-level heading's text, else the first heading's, else None."""
    if not headings:
        return None
    top = min(h.level for h in headings)
    return next(h.text for h in headings if h.level == top) or None


def read_json_records(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
    """One Document per JSON record: a JSON-lines file, or a `.json` file holding an array/object."""
    is_json_file = path.lower().endswith(".json")
    records: Iterable[tuple[int, Any]] = _json_file_records(path) if is_json_file else _json_lines(path)
    try:
        yield from _records_to_documents(records, path, doc_id, text_field=options.text_field,
                                         title_field=options.title_field, id_field=options.id_field)
    except OSError as exc:
        yield Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")


def _records_to_documents(records: Iterable[tuple[int, Any]], path: str, relpath: str, *, text_field: str,
                          title_field: str, id_field: str) -> Iterator[Document | Skipped]:
    for line_no, record in records:
        where = f"{path}:{line_no}"
        if isinstance(record, Skipped):
            yield record
            continue
        if not isinstance(record, dict):
            yield Skipped("bad_json_line", where, f"expected a JSON object, got {type(record).__name__}")
            continue
        text = record.get(text_field)
        if not isinstance(text, str):
            detail = (f"missing field {text_field!r}" if text is None
                      else f"field {text_field!r} is {type(text).__name__}, not a string")
            yield Skipped("bad_json_line", where, detail)
            continue
        text = text.replace("\r\n", "\n").strip()
        if not text:
            yield Skipped("empty", where, f"empty field {text_field!r}")
            continue
        rec_id = record.get(id_field)
        doc_id = str(rec_id) if rec_id not in (None, "") else f"{relpath}:{line_no}"
        rec_title = record.get(title_field)
        title = str(rec_title).strip() if rec_title not in (None, "") else humanize_stem(relpath)
        yield Document(doc_id=doc_id, title=title, text=text, format="jsonl", source=path)


def _json_lines(path: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or Skipped) for each non-blank line, streaming."""
    with open(path, "rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            where = f"{path}:{line_no}"
            text = _decode(line)
            if text is None:
                yield line_no, Skipped("bad_json_line", where, "line is not valid UTF-8")
                continue
            if not text.strip():
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, Skipped("bad_json_line", where, f"invalid JSON ({exc.msg})")


def _json_file_records(path: str) -> Iterator[tuple[int, Any]]:
    """Records of a `.json` file: an array of objects, one object, or (fallback) JSON lines."""
    with open(path, "rb") as fh:
        data = fh.read()
    text = _decode(data)
    if text is None or b"\x00" in data:
        yield 1, Skipped("undecodable" if text is None else "binary", path, "not a UTF-8 JSON file")
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        yield from _json_lines(path)
        return
    if isinstance(value, list):
        # Records of an array are numbered from 1 like lines, so ids fall back to "file:index".
        yield from enumerate(value, start=1)
    else:
        yield 1, value


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets
# --------------------------------------------------------------------------------------------------

_LOCAL_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv",
                   ".tsv": "csv", ".txt": "text", ".arrow": "arrow"}


def read_hf_dataset(
    name: str,
    *,
    split: str = "train",
    text_column: str = "text",
    title_column: str | None = "title",
    id_column: str | None = None,
    report: BuildReport | None = None,
    cache_dir: str | None = None,
) -> Iterator[Document]:
    """Yield one Document per row of a Hugging Face dataset.

    Args:
        name: A Hub dataset id, a local data file (.parquet/.jsonl/.json/.csv/.txt/.arrow), a local data
            folder, or a folder written by `Dataset.save_to_disk`.
        split: Which split to read.
        text_column: Column with the document text (must be a string column).
        title_column: Column with the title; ignored if the dataset has no such column.
        id_column: Column with the document id; when None or absent, f"{dataset}:{split}:{row}".
        report: Counts documents and rows skipped as "empty".
        cache_dir: Where `datasets` may cache converted files.

    Raises:
        CorpusError: The dataset cannot be loaded, or a named column is missing (the message lists the
            available columns). Raised at call time, before any row is read.
    """
    ds = _load_hf(name, split=split, cache_dir=cache_dir)
    columns = list(ds.column_names)
    if text_column not in columns:
        raise CorpusError(f"dataset {name!r} has no text column {text_column!r}; "
                          f"available columns: {', '.join(columns)}")
    if id_column is not None and id_column not in columns:
        # Like the title, the id is optional: rows without one are named by their position.
        logger.info("dataset %r has no id column %r; using row numbers", name, id_column)
        id_column = None
    feature = ds.features[text_column]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise CorpusError(f"dataset {name!r}: text column {text_column!r} is {feature}, not a string column")
    title_col = title_column if title_column in columns else None
    keep = [c for c in dict.fromkeys([text_column, title_col, id_column]) if c is not None]
    label = Path(name).stem if os.path.isfile(name) else (
        os.path.basename(os.path.normpath(name)) if os.path.exists(name) else name)
    return _iter_hf_rows(ds.select_columns(keep), label=label, split=split, source=name,
                         text_column=text_column, title_column=title_col, id_column=id_column,
                         report=report if report is not None else BuildReport())


def _load_hf(name: str, *, split: str, cache_dir: str | None):
    """Load one split as a `datasets.Dataset` (memory-mapped Arrow, so rows are not all in RAM)."""
    import datasets

    try:
        if os.path.isdir(name) and any(os.path.exists(os.path.join(name, f))
                                       for f in ("state.json", "dataset_dict.json")):
            loaded = datasets.load_from_disk(name)
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise CorpusError(f"dataset {name!r} has no split {split!r}; "
                                      f"available splits: {', '.join(loaded)}")
                loaded = loaded[split]
            return loaded
        if os.path.isfile(name):
            ext = os.path.splitext(name)[1].lower()
            if ext not in _LOCAL_BUILDERS:
                raise CorpusError(f"dataset file {name!r}: unsupported extension {ext!r}; "
                                  f"use one of {', '.join(sorted(_LOCAL_BUILDERS))}")
            # A single local file has one split, "train"; accept that or the requested name.
            return datasets.load_dataset(_LOCAL_BUILDERS[ext], data_files={split: name}, split=split,
                                         cache_dir=cache_dir)
        return datasets.load_dataset(name, split=split, cache_dir=cache_dir)
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one readable line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorpusError(f"cannot load dataset {name!r} (split {split!r}): {first_line}") from exc


def _iter_hf_rows(ds, *, label: str, split: str, source: str, text_column: str, title_column: str | None,
                  id_column: str | None, report: BuildReport) -> Iterator[Document]:
    for row_no, row in enumerate(ds):
        text = (row[text_column] or "").replace("\r\n", "\n").strip()
        if not text:
            report.drop(CORPUS, "empty")
            continue
        raw_id = row[id_column] if id_column else None
        doc_id = str(raw_id) if raw_id not in (None, "") else f"{label}:{split}:{row_no}"
        raw_title = row[title_column] if title_column else None
        title = str(raw_title).strip() if raw_title not in (None, "") else f"{label} {row_no}"
        report.count("documents")
        yield Document(doc_id=doc_id, title=title, text=text, format="hf", source=source)


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML page (headings and blocks on their own lines) and its title.

    The title is the <title> element, else the first <h1>. Navigation (<nav>) and the <title> itself are
    left out of the text; scripts and styles are dropped by `html_text`'s cleaner.
    """
    import html_text

    if not html.strip():
        return "", None
    tree = html_text.parse_html(html)
    title = normalize_whitespace(tree.findtext(".//title") or "")
    if not title:
        h1 = tree.find(".//h1")
        title = normalize_whitespace(h1.text_content()) if h1 is not None else ""
    for element in tree.xpath("//title | //nav"):
        element.drop_tree()
    text = html_text.extract_text(tree, guess_layout=True)
    return text.strip(), title or None


# --------------------------------------------------------------------------------------------------
# Markdown cleanup
# --------------------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_INCLUDE = re.compile(r"^[ \t]*\{\*.*\*\}[ \t]*$")  # MkDocs/FastAPI `{* ../../docs_src/x.py hl[3] *}`
_TEMPLATE_TAG = re.compile(r"^[ \t]*\{%-?.*-?%\}[ \t]*$")  # Jinja/Liquid `{% for ... %}` lines (MkDocs macros)
# PyMdown blocks: `/// note | Title`, `///`, `//// tab | Python 3.10+`.
_BLOCK_MARKER = re.compile(r"^[ \t]*/{3,}(?:[ \t]+[\w-]+(?:[ \t]*\|[ \t]*(?P<title>.*?))?)?[ \t]*$")
# Python-Markdown admonitions: `!!! note "Title"`, collapsible `??? tip` / `???+ tip`; body indented 4.
_ADMONITION = re.compile(r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+[\w-]+(?:[ \t]+(?P<q>["\'])(?P<title>.*)(?P=q))?[ \t]*$')
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_STYLE_SCRIPT = re.compile(r"<(style|script)\b[^>]*>.*?</\1\s*>", re.S | re.I)


def clean_markdown(text: str) -> tuple[str, dict[str, Any]]:
    """Markdown as a reader sees it, and its YAML front matter.

    Removes: YAML front matter, `{* ... *}` include directives (their targets are not in the corpus),
    lines holding only a template tag (`{% ... %}`), HTML comments, <style>/<script> blocks, and admonition marker lines (a marker's title, if any, is
    kept as a line of its own; `!!!` bodies are de-indented so they are not mistaken for code). Code
    fences are kept verbatim. Runs of blank lines outside code are collapsed to one blank line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front_matter: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            parsed = _yaml_load(match.group(1) or "")
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) or parsed is None:
            front_matter = parsed or {}
            text = text[match.end():]
    text = _map_prose(text, lambda s: _STYLE_SCRIPT.sub("", _HTML_COMMENT.sub("", s)))
    text = _clean_markdown_lines(text)
    text = _map_prose(text, lambda s: re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", s))
    return text.strip(), front_matter


def _yaml_load(source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


def _map_prose(text: str, func) -> str:
    """Apply `func` to the parts of `text` outside fenced code blocks."""
    out: list[str] = []
    pos = 0
    for start, end in fenced_code_spans(text):
        out.append(func(text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(func(text[pos:]))
    return "".join(out)


def _clean_markdown_lines(text: str) -> str:
    """Line pass: drop include directives and block markers outside code; de-indent `!!!` bodies."""
    out: list[str] = []
    fence: tuple[str, int] | None = None
    admonition_indent: int | None = None
    for line in text.split("\n"):
        if admonition_indent is not None:
            body_indent = admonition_indent + 4
            if not line.strip():
                line = ""
            elif len(line) - len(line.lstrip(" ")) >= body_indent:
                line = line[:admonition_indent] + line[body_indent:]
            elif fence is None:
                admonition_indent = None
        if fence is not None:
            if _closes_fence(line, fence):
                fence = None
            out.append(line)
            continue
        opened = _opens_fence(line)
        if opened:
            fence = opened
            out.append(line)
            continue
        if _INCLUDE.match(line) or _TEMPLATE_TAG.match(line):
            continue
        marker = _BLOCK_MARKER.match(line) or _ADMONITION.match(line)
        if marker:
            if marker.re is _ADMONITION:
                admonition_indent = len(marker.group("indent").expandtabs(4))
            title = (marker.group("title") or "").strip()
            if title:
                out.append(title)
            continue
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Markup structure: code fences and headings (shared with chunking)
# --------------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def _opens_fence(line: str) -> tuple[str, int] | None:
    match = _FENCE_OPEN.match(line)
    if not match:
        return None
    fence = match.group("fence")
    if fence[0] == "`" and "`" in match.group("info"):  # CommonMark: not a fence, inline code
        return None
    return fence[0], len(fence)


def _closes_fence(line: str, fence: tuple[str, int]) -> bool:
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
            opened = _opens_fence(line)
            if opened:
                fence, start = opened, pos
        elif _closes_fence(line, fence):
            spans.append((start, line_end))
            fence = None
        pos = line_end + 1
    if fence is not None:
        spans.append((start, len(text)))
    return spans


_ATX = re.compile(r"^ {0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?P<rule>=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^(?: {4}|\t| {0,3}(?:[-*+][ \t]|[>|<#]|\d+[.)][ \t]))")
_ATTR_LIST = re.compile(r"[ \t]*\{[ \t]*[#.:][^{}]*\}[ \t]*$")  # `{ #anchor }`, `{ .class }`
MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) and ![alt](src)


def clean_heading(text: str) -> str:
    """Heading text without markup: attribute lists, links, code ticks, emphasis, HTML tags."""
    text = _ATTR_LIST.sub("", text)
    text = MARKDOWN_LINK.sub(r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    # **strong**, __strong__, *emphasis*, _emphasis_; underscores inside names ("dependency_overrides") stay.
    text = re.sub(r"(?<!\w)(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", text)
    text = text.replace("**", "")
    return normalize_whitespace(text)


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def markdown_headings(text: str) -> list[Heading]:
    """ATX (`# Title`) and setext (`Title` over `===`/`---`) headings outside fenced code blocks.

    Setext headings are recognised for single-line paragraphs only (the line above the title is blank).
    """
    lines = _lines_with_offsets(text)
    in_code = _line_in_code_mask(text, lines)
    headings: list[Heading] = []
    for i, (pos, line) in enumerate(lines):
        if in_code[i]:
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append(Heading(pos, pos + len(line), len(atx.group("hashes")),
                                    clean_heading(atx.group("text") or "")))
            continue
        if (i + 1 < len(lines) and not in_code[i + 1] and line.strip()
                and not _NOT_PARAGRAPH.match(line) and (i == 0 or not lines[i - 1][1].strip())):
            setext = _SETEXT.match(lines[i + 1][1])
            if setext:
                under_pos, under = lines[i + 1]
                level = 1 if setext.group("rule")[0] == "=" else 2
                headings.append(Heading(pos, under_pos + len(under), level, clean_heading(line)))
    # A setext underline line can't also start a heading; ATX lines are never setext titles.
    return _drop_overlaps(headings)


def _line_in_code_mask(text: str, lines: list[tuple[int, str]]) -> list[bool]:
    spans = fenced_code_spans(text)
    mask: list[bool] = []
    k = 0
    for pos, _line in lines:
        while k < len(spans) and spans[k][1] < pos:
            k += 1
        mask.append(k < len(spans) and spans[k][0] <= pos <= spans[k][1])
    return mask


def _drop_overlaps(headings: list[Heading]) -> list[Heading]:
    kept: list[Heading] = []
    for heading in sorted(headings, key=lambda h: h.start):
        if kept and heading.start < kept[-1].end:
            continue
        kept.append(heading)
    return kept


_RST_ADORNMENT_CHARS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _rst_adornment(line: str) -> str | None:
    """The adornment character if `line` is a reST section adornment (one punctuation char repeated)."""
    stripped = line.rstrip()
    if len(stripped) >= 2 and stripped[0] in _RST_ADORNMENT_CHARS and set(stripped) == {stripped[0]}:
        return stripped[0]
    return None


def rst_headings(text: str) -> list[Heading]:
    """reST section titles: a title line underlined (optionally also overlined) by a punctuation line.

    Levels follow docutils: each new adornment style (character, with or without overline) met in the
    document gets the next level. An underline must be at least as long as the title, or at least 4
    characters (docutils accepts shorter ones with a warning); titles are not indented, except inside
    an overline.
    """
    lines = _lines_with_offsets(text)
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    i = 0
    while i < len(lines) - 1:
        pos, line = lines[i]
        over = _rst_adornment(line)
        # Overline + title + underline of the same char and length.
        if over and i + 2 < len(lines):
            title_line, under_line = lines[i + 1][1], lines[i + 2][1]
            if (title_line.strip() and _rst_adornment(under_line) == over
                    and len(under_line.rstrip()) == len(line.rstrip())
                    and len(line.rstrip()) >= len(title_line.rstrip())):
                headings.append(_rst_heading(styles, (over, True), pos, lines[i + 2], title_line))
                i += 3
                continue
        under = _rst_adornment(lines[i + 1][1])
        if (under and line.strip() and not line[0].isspace() and _rst_adornment(line) is None
                and (i == 0 or not lines[i - 1][1].strip())):
            width = len(lines[i + 1][1].rstrip())
            if width >= len(line.rstrip()) or width >= 4:
                headings.append(_rst_heading(styles, (under, False), pos, lines[i + 1], line))
                i += 2
                continue
        i += 1
    return headings


def _rst_heading(styles: list[tuple[str, bool]], style: tuple[str, bool], start: int,
                 last_line: tuple[int, str], title_line: str) -> Heading:
    if style not in styles:
        styles.append(style)
    return Heading(start, last_line[0] + len(last_line[1]), styles.index(style) + 1,
                   normalize_whitespace(title_line.replace("`", "").replace("**", "")))


# Compound suffixes are distinct: Sphinx publishes its sources as `_sources/page.rst.txt` (or `.md.txt`).
for _suffix, _fmt in ((".md", "markdown"), (".markdown", "markdown"), (".mdx", "markdown"), (".md.txt", "markdown"),
                      (".rst", "rst"), (".rst.txt", "rst"), (".txt", "text"), (".html", "html"), (".htm", "html")):
    register_reader(_suffix, _markup_reader(_fmt), format=_fmt)
register_reader(".jsonl", read_json_records, format="jsonl")
register_reader(".json", read_json_records, format="jsonl")
