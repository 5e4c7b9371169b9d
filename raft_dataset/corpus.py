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

from .markup import parse as parse_markup
from .records import Document
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
    """A reader for one markup format: the file's clean text, title, headings and definitions
    (`markup.parse`: markup rendered as a reader sees it, headings kept as structure)."""

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
        parsed = parse_markup(raw, fmt)
        if not parsed.text.strip():
            yield Skipped("empty", path, "no text (empty after cleanup)")
            return
        yield Document(doc_id=doc_id, title=parsed.title or humanize_stem(doc_id), text=parsed.text, format=fmt,
                       source=path, headings=parsed.headings, definitions=parsed.definitions)

    read.__name__ = read.__qualname__ = f"read_{fmt}"
    return read


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


# Compound suffixes are distinct: Sphinx publishes its sources as `_sources/page.rst.txt` (or `.md.txt`).
for _suffix, _fmt in ((".md", "markdown"), (".markdown", "markdown"), (".mdx", "markdown"), (".md.txt", "markdown"),
                      (".rst", "rst"), (".rst.txt", "rst"), (".txt", "text"), (".html", "html"), (".htm", "html")):
    register_reader(_suffix, _markup_reader(_fmt), format=_fmt)
register_reader(".jsonl", read_json_records, format="jsonl")
register_reader(".json", read_json_records, format="jsonl")
