"""Corpus reading: local files by glob, or a Hugging Face dataset, into `Document`s.

Local files are read one at a time (the readers are generators), in sorted path order, and every file
that cannot be used is skipped and counted in a `BuildReport` instead of stopping the build, unless
`strict=True`. Which reader reads a file is decided by its suffix, through a registry that other
packages extend with `register_reader` or the `raft_dataset.readers` entry-point group.

Hostile input is bounded before any reader runs: only regular files inside the corpus folders are
opened (FIFOs, devices, symlinks leaving the corpus and raft-dataset output folders are counted and
left alone), files over `max_file_bytes` are never read whole, and the markup and JSON readers skip
lines, records and nesting past `max_line_chars` and `max_nesting_depth`. Encoded blobs and space-free
runs are removed from the text and counted (`markup.strip_junk`), the document kept.

Example files a Markdown or reST document includes (`{* ../../docs_src/app.py *}`, `.. literalinclude::`)
are read into it (`includes.inline_includes`) by `IncludedFiles`, within the document's repository.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import io
import json
import logging
import os
import re
import stat
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .includes import FORMATS as INCLUDING_FORMATS
from .includes import inline_includes
from .markup import MarkupTooDeep, ParsedMarkup, is_code_file, strip_junk
from .markup import parse as parse_markup
from .raft_format import without_fenced_code
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
    n: int = 1  # items this stands for (e.g. three blobs removed from one file)


class CorpusError(ValueError):
    """A corpus problem that must stop the build (nothing matched, or strict mode)."""


@dataclass(frozen=True)
class ReadOptions:
    """Settings readers may use: the keys of a record's text, title and id (JSON lines, tables), and
    the limits that keep one hostile file from stalling a build (see `RaftDatasetConfig`)."""

    text_field: str = "text"
    title_field: str = "title"
    id_field: str = "_id"
    max_file_bytes: int = 64 * 2**20
    max_line_chars: int = 2_000_000
    max_nesting_depth: int = 100
    # The folder document ids are relative to (set while reading): where included example files are
    # looked up when the document is in no repository (see `IncludedFiles`).
    corpus_root: str | None = None


class Reader(Protocol):
    """Reads one file: yields its documents, and a `Skipped` for anything it cannot use.

    `doc_id` is the file's path relative to the corpus root (posix); a reader that yields several
    documents per file derives their ids from it. Readers must not raise on bad content.
    """

    def __call__(self, path: str, doc_id: str, options: ReadOptions) -> Iterable[Document | Skipped]: ...


SKIP_REASONS = (
    "empty", "binary", "undecodable", "unsupported_extension", "bad_json_line", "unreadable",
    "not_a_regular_file",  # FIFO, device, socket (also through a symlink): never opened
    "too_large",  # file over max_file_bytes, markup line or JSON record over max_line_chars
    "too_deep",  # JSON or markup nested deeper than max_nesting_depth
    "outside_corpus",  # a symlink leaving the corpus folder (unless follow_external_symlinks)
    "build_output",  # a file of a raft-dataset output folder inside the corpus
    "encoded_blob",  # base64 / data: URI removed from a document's text (the document is kept)
    "unbroken_run",  # a run of MAX_RUN_CHARS+ characters without a space removed (document kept)
    "missing_include",  # an example file a page includes, not found in its repository (named instead)
)
# Reasons that are not a broken file: counted, but never fatal with `strict`.
EXCLUSIONS = frozenset({"unsupported_extension", "outside_corpus", "build_output", "encoded_blob", "unbroken_run",
                        "missing_include"})
# A folder holding this file is a raft-dataset output (written by `export`), not corpus.
OUTPUT_MANIFEST = ".raft-dataset-manifest.json"
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

    # This package's own plugin readers (PDF, DOCX) first, so another package's reader for the same
    # suffix replaces them; a reader registered in code before the first read is never replaced.
    entries = sorted(entry_points(group=ENTRY_POINT_GROUP),
                     key=lambda e: getattr(e.dist, "name", "").replace("_", "-") != "raft-dataset")
    for entry in entries:
        suffix = entry.name.lower()
        if suffix in _READERS and suffix not in _BUILTIN_SUFFIXES and suffix not in _plugin_suffixes:
            continue
        _plugin_suffixes.add(suffix)
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
    max_file_bytes: int = 64 * 2**20,
    max_line_chars: int = 2_000_000,
    max_nesting_depth: int = 100,
    follow_external_symlinks: bool = False,
) -> Iterator[Document]:
    """Yield the documents in the files matched by `patterns`, in sorted path order.

    Only regular files are opened, and at most `max_file_bytes + 1` bytes of each are read, so a FIFO,
    a device (`x.txt -> /dev/zero`) or a file growing while it is read cannot stall the build. A
    folder inside the corpus that is a raft-dataset output (it holds `OUTPUT_MANIFEST`, or a README
    whose front matter has `raft_dataset:` beside a `data/` folder) is left out as one "build_output".

    Args:
        patterns: One or more globs (`**` is recursive), directories (all supported files under them,
            hidden files and folders excluded) or single files.
        text_field, title_field, id_field: Keys of a JSON-lines record holding its text, title and id.
        strict: Raise `CorpusError` on the first file (or JSON line) that would otherwise be skipped.
            Exclusions (`EXCLUSIONS`: unsupported extension, outside the corpus, build output, removed
            blobs and runs) are only counted, never raised on.
        report: Filled in while iterating: documents yielded, and skipped items by reason
            (`SKIP_REASONS`), each with the file (or file:line) it names.
        max_file_bytes: Larger files are skipped as "too_large".
        max_line_chars: A markup or text file with a longer line is skipped as "too_large"; so is a
            JSON-lines record (or a JSON record's text) that long, alone.
        max_nesting_depth: JSON, Markdown lists/blockquotes and HTML elements nested deeper are
            skipped as "too_deep".
        follow_external_symlinks: Read files whose real path is outside the corpus folders; by default
            they are skipped as "outside_corpus".

    Raises:
        CorpusError: At call time when the patterns match no file at all (or, with `strict`, when any
            one pattern matches nothing); while iterating in strict mode, naming the offending file.
    """
    pattern_list = [patterns] if isinstance(patterns, (str, os.PathLike)) else list(patterns)
    if not pattern_list:
        raise CorpusError("no corpus pattern given")
    if not all(isinstance(p, (str, os.PathLike)) for p in pattern_list):
        bad = next(p for p in pattern_list if not isinstance(p, (str, os.PathLike)))
        raise CorpusError(f"corpus: each pattern must be a path or glob string, got {type(bad).__name__} {bad!r}")
    expanded = _expand_patterns([os.fspath(p) for p in pattern_list], strict=strict)
    # Validation above runs eagerly; the reading below is lazy.
    options = ReadOptions(text_field=text_field, title_field=title_field, id_field=id_field,
                          max_file_bytes=max_file_bytes, max_line_chars=max_line_chars,
                          max_nesting_depth=max_nesting_depth)
    return _read_files(expanded, options, strict=strict, follow_external_symlinks=follow_external_symlinks,
                       report=report if report is not None else BuildReport())


def printable_path(path: str) -> str:
    """A path that can always be printed and written as UTF-8 (undecodable bytes as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _has_surrogate(text: str) -> bool:
    """Whether `text` holds a lone surrogate (an undecodable file name byte, a JSON "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _is_inside(real: str, roots: Sequence[str]) -> bool:
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _check_file(path: str, roots: Sequence[str], options: ReadOptions, follow_external_symlinks: bool) -> Skipped | None:
    """Why a matched file must not be opened (odd name, outside the corpus, not a regular file, too
    large), or None. `os.stat` follows symlinks, so `x.txt -> /dev/zero` is seen as the device."""
    if _has_surrogate(path):
        return Skipped("undecodable", printable_path(path), "file name is not valid UTF-8")
    try:
        info = os.stat(path)
    except OSError as exc:  # dangling link, symlink loop, vanished since globbing
        return Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")
    if not stat.S_ISREG(info.st_mode):
        return Skipped("not_a_regular_file", path, "not a regular file (a FIFO, device or socket)")
    if not follow_external_symlinks and not _is_inside(os.path.realpath(path), roots):
        return Skipped("outside_corpus", path, f"symlink to {os.path.realpath(path)}, outside the corpus folder "
                                               "(set follow_external_symlinks: true to read it)")
    if info.st_size > options.max_file_bytes:
        return Skipped("too_large", path, f"{info.st_size} bytes, over max_file_bytes ({options.max_file_bytes})")
    return None


def _read_files(expanded: _Expanded, options: ReadOptions, *, strict: bool, follow_external_symlinks: bool,
                report: BuildReport) -> Iterator[Document]:
    def skip(item: Skipped) -> None:
        report.drop(CORPUS, item.reason, n=item.n, where=item.where)
        message = f"{item.where}: {item.detail}"
        if strict and item.reason not in EXCLUSIONS:
            raise CorpusError(message)
        logger.info("skipped (%s) %s", item.reason, message)

    for item in expanded.excluded:
        skip(item)
    roots = [os.path.realpath(base) for base in expanded.bases]
    options = dataclasses.replace(options, corpus_root=expanded.root)
    for path in expanded.files:
        found = reader_for(path)
        problem = (Skipped("unsupported_extension", printable_path(path), "unsupported file extension")
                   if found is None else _check_file(path, roots, options, follow_external_symlinks))
        if problem is not None:
            skip(problem)
            continue
        relpath = Path(os.path.relpath(path, expanded.root)).as_posix()
        for item in found[1](path, relpath, options):
            if isinstance(item, Skipped):
                skip(item)
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


_FRONT_MATTER_END = re.compile(r"^---[ \t]*$", re.M)


def is_build_output(directory: str) -> bool:
    """Whether a folder is a raft-dataset output: it holds `OUTPUT_MANIFEST`, or (an older build) a
    `data/` folder and a README.md whose YAML front matter has a top-level `raft_dataset:` key."""
    if os.path.isfile(os.path.join(directory, OUTPUT_MANIFEST)):
        return True
    readme = os.path.join(directory, "README.md")
    if not (os.path.isdir(os.path.join(directory, "data")) and os.path.isfile(readme)):
        return False
    try:
        with open(readme, "rb") as fh:
            head = fh.read(256 * 1024).decode("utf-8", "replace")
    except OSError:
        return False
    if not head.startswith("---"):
        return False
    end = _FRONT_MATTER_END.search(head, 3)
    front = head[3:end.start()] if end else head
    return re.search(r"^raft_dataset:", front, re.M) is not None


def _walk(directory: str, outputs: dict[str, bool]) -> Iterator[str]:
    """All non-hidden files under a directory, raft-dataset output folders left out (and noted)."""
    for dirpath, dirnames, filenames in os.walk(directory):
        if _in_output(dirpath, directory, outputs):
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def _in_output(path: str, base: str, outputs: dict[str, bool]) -> str | None:
    """The raft-dataset output folder between `base` (inclusive) and `path` holding it, or None.
    `outputs` caches the answer per folder."""
    base = os.path.abspath(base)
    current = os.path.abspath(path)
    chain: list[str] = []
    while True:
        if current not in outputs:
            outputs[current] = os.path.isdir(current) and is_build_output(current)
        chain.append(current)
        if current == base or os.path.dirname(current) == current or not current.startswith(base):
            break
        current = os.path.dirname(current)
    return next((folder for folder in reversed(chain) if outputs[folder]), None)


@dataclass
class _Expanded:
    files: list[str]  # absolute, deduplicated, sorted by path relative to root
    root: str  # common folder of the patterns; document ids are relative to it
    bases: list[str]  # each pattern's folder: files whose real path is outside all are outside the corpus
    excluded: list[Skipped]  # raft-dataset output folders found inside the corpus


def _expand_patterns(patterns: list[str], *, strict: bool) -> _Expanded:
    """Matched files (absolute, deduplicated, sorted), the root and base folders of the patterns."""
    found: set[str] = set()
    unmatched: list[str] = []
    bases: list[str] = []
    outputs: dict[str, bool] = {}
    for raw in patterns:
        pattern = os.path.expanduser(raw)
        base = os.path.abspath(_pattern_base(pattern))
        bases.append(base)
        # An existing path is taken literally, even with glob characters in its name ("notes[1].md").
        hits = glob.glob(pattern, recursive=True) if _has_magic(pattern) and not os.path.lexists(pattern) else (
            [pattern] if os.path.lexists(pattern) else [])
        matched: set[str] = set()
        for hit in hits:
            if os.path.isdir(hit):
                matched.update(os.path.abspath(p) for p in _walk(hit, outputs))
            else:  # files, and FIFOs, devices or dangling links, to be counted when read
                matched.add(os.path.abspath(hit))
        matched = {f for f in matched if not _in_output(os.path.dirname(f), base, outputs)}
        if not matched:
            unmatched.append(raw)
        found |= matched
    excluded = [Skipped("build_output", printable_path(folder), "a raft-dataset output folder inside the corpus")
                for folder, is_output in sorted(outputs.items()) if is_output
                and not any(outputs.get(parent) for parent in _parents(folder))]
    if not found:
        if excluded:
            raise CorpusError(f"no corpus file outside raft-dataset output folders "
                              f"({', '.join(s.where for s in excluded)}) matches {', '.join(map(repr, unmatched))}")
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
    files = sorted(found, key=lambda p: Path(os.path.relpath(p, root)).as_posix())
    return _Expanded(files, root, bases, excluded)


def _parents(path: str) -> Iterator[str]:
    parent = os.path.dirname(path)
    while parent != path:
        yield parent
        path, parent = parent, os.path.dirname(parent)


def resolve_corpus_files(patterns: str | Sequence[str], *, with_included: bool = False) -> list[Path]:
    """The files `read_corpus` would read for these patterns, sorted (for fingerprints and listings); with
    `with_included`, followed by the example files their pages include (`included_files`)."""
    expanded = _expand_patterns([patterns] if isinstance(patterns, str) else list(patterns), strict=False)
    files = [Path(f) for f in expanded.files]
    return [*files, *_included_files(expanded)] if with_included else files


def _decode(data: bytes) -> str | None:
    """UTF-8 text (BOM dropped, newlines normalised), or None when the bytes are not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def humanize_stem(path: str, text: str = "") -> str:
    """A title from a file name: 'request-files.md' -> 'Request files'; an index page takes its folder's.
    A word the document's `text` writes in capitals more often than not keeps them: 'ssl.md' -> 'SSL'."""
    name = os.path.basename(path)
    stem = name.split(".", 1)[0] if detect_format(name) else os.path.splitext(name)[0]
    if stem.lower() in {"index", "readme", "_index"} and os.path.basename(os.path.dirname(path)):
        stem = os.path.basename(os.path.dirname(path))
    prose = re.sub(r"`[^`\n]*`", "", without_fenced_code(text)) if text else ""  # code writes `ssl.create_...`
    words = [_as_written(word, prose) for word in re.sub(r"[-_\s]+", " ", stem).split()]
    title = " ".join(words)
    return title[:1].upper() + title[1:] if title else name


def _as_written(word: str, text: str) -> str:
    """`word` as `text` most often writes it, if that has capitals past its first letter ("SSL", "OAuth"; a
    capital at a sentence's start says nothing); else as it is."""
    if not text or not word.isalnum():
        return word
    forms = Counter(m.group() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE))
    form, count = forms.most_common(1)[0] if forms else (word, 0)
    return form if count and form[1:] != form[1:].lower() and count > forms.get(word.lower(), 0) else word


def read_limited(path: str, max_bytes: int) -> bytes | Skipped:
    """The bytes of a regular file, at most `max_bytes` (a "too_large" Skipped past that).

    Opened non-blocking and checked again on the open descriptor, so a file swapped for a FIFO since
    it was listed cannot block, and at most `max_bytes + 1` bytes are read from a file still growing.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:  # vanished or unreadable since globbing
        return Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return Skipped("not_a_regular_file", path, "not a regular file (a FIFO, device or socket)")
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            return Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")
    if len(data) > max_bytes:
        return Skipped("too_large", path, f"over max_file_bytes ({max_bytes})")
    return data


_LONG_LINES: dict[int, re.Pattern] = {}


def longest_line_over(text: str, limit: int) -> bool:
    """Whether a line of `text` is longer than `limit` characters (linear: tried at line starts only)."""
    if len(text) <= limit:
        return False
    if limit not in _LONG_LINES:
        _LONG_LINES[limit] = re.compile(rf"^[^\n]{{{limit + 1}}}", re.M)
    return _LONG_LINES[limit].search(text) is not None


# Bounds on what one document's includes may add: an example file is a page of code, not a data file.
MAX_INCLUDED_BYTES = 64 * 2**10
MAX_INCLUDES = 200
MAX_INCLUDED_TOTAL = 2**20
MAX_LEVELS_UP = 16  # folders above the document an include is looked up from (MkDocs: its config's folder)


def repository_root(folder: str) -> str | None:
    """The nearest folder at or above `folder` that holds a `.git` (a repository's top), or None."""
    folder = os.path.abspath(folder)
    for candidate in (folder, *_parents(folder)):
        if os.path.exists(os.path.join(candidate, ".git")):
            return candidate
    return None


class IncludedFiles:
    """Reads the example files one document includes (an `includes.IncludeReader`).

    A path is looked up the way site generators resolve it, from the document's folder and then from
    each folder above it (MkDocs resolves `../../docs_src/app.py` from its config's folder, Sphinx a
    `/examples/app.py` from its source folder), never more than `MAX_LEVELS_UP` folders up and never
    outside the bound:
    - the document's git repository, when git tracks the document: then only files git tracks are read
      (FastAPI's `docs_src/`, not an ignored `secrets/` folder nor a file the page's author put in a home
      folder that happens to be a repository);
    - else the corpus folder (`corpus_root`), else the document's own folder.
    Only code and config files are read (more markup is not an example), never a hidden file or folder
    (`.env`, `.git/`), nor a Windows drive or UNC path; at most `max_bytes` per file, `max_files` lookups and
    `MAX_INCLUDED_TOTAL` bytes per document. A file that is not UTF-8 text, or has a line over
    `max_line_chars`, is not read.

    Attributes:
        read_files: Real paths of the files read, in order (they belong in a build's fingerprint).
        missing: The paths, as the document writes them, of the code files not read (not found, not allowed
            or over a budget).
    """

    def __init__(self, document: str, corpus_root: str | None = None, *, max_bytes: int = MAX_INCLUDED_BYTES,
                 max_files: int = MAX_INCLUDES, max_line_chars: int = 2_000_000) -> None:
        self.document, self.corpus_root = document, corpus_root
        self.max_bytes, self.max_files, self.max_line_chars = max_bytes, max_files, max_line_chars
        self.read_files: list[str] = []
        self.missing: list[str] = []
        self._found: dict[str, str | None] = {}  # a path as written -> its text (a page may show one file twice)
        self._lookups = self._total = 0

    def __call__(self, written: str) -> str | None:
        relative = written.strip().split("#", 1)[0].lstrip("/")
        if not relative or not is_code_file(relative):
            return None
        text = None
        self._lookups += 1
        if self._lookups <= self.max_files:
            if relative not in self._found:
                self._found[relative] = self._find(relative)
            text = self._found[relative]
        if text is not None and self._total + len(text) > MAX_INCLUDED_TOTAL:
            text = None
        if text is None:
            self.missing.append(written.strip())
        else:
            self._total += len(text)
        return text

    def _find(self, relative: str) -> str | None:
        if "\x00" in relative or "\\" in relative or _DRIVE_RE.match(relative):
            return None
        folder = self.folder
        for _ in range(MAX_LEVELS_UP + 1):
            candidate = os.path.normpath(os.path.join(folder, relative))
            if _is_inside(candidate, [self.root]) and os.path.isfile(candidate):  # cheap, lexical, first
                found = self._file(candidate)
                if found is not None:
                    return found
            if folder == self.root:
                break
            folder = os.path.dirname(folder)
        return None

    @functools.cached_property
    def folder(self) -> str:
        return os.path.realpath(os.path.dirname(os.path.abspath(self.document)))

    @functools.cached_property
    def _bound(self) -> tuple[str, frozenset[str] | None]:
        """(the folder no included file may be outside of, the files git tracks there or None): found on the
        first lookup, as most documents include nothing."""
        repository = repository_root(self.folder)
        if repository is not None:
            repository = os.path.realpath(repository)
            tracked = tracked_files(repository)
            page = Path(os.path.relpath(os.path.realpath(self.document), repository)).as_posix()
            if tracked is not None and page in tracked:
                return repository, tracked
        root = os.path.realpath(self.corpus_root or self.folder)
        return (root if _is_inside(self.folder, [root]) else self.folder), None

    @property
    def root(self) -> str:
        return self._bound[0]

    def _file(self, candidate: str) -> str | None:
        real = os.path.realpath(candidate)
        if not _is_inside(real, [self.root]) or not os.path.isfile(real):
            return None
        relative = Path(os.path.relpath(real, self.root))
        tracked = self._bound[1]
        if any(part.startswith(".") for part in relative.parts) or (tracked is not None
                                                                    and relative.as_posix() not in tracked):
            return None
        data = read_limited(real, self.max_bytes)
        text = None if isinstance(data, Skipped) or b"\x00" in data else _decode(data)
        if text is None or longest_line_over(text, self.max_line_chars):
            return None
        self.read_files.append(real)
        return text


# A Windows drive ("C:\\x", "C:/x"): never looked up, like an absolute path.
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_TRACKED: dict[tuple[str, int], frozenset[str] | None] = {}


def tracked_files(repository: str) -> frozenset[str] | None:
    """The files (posix paths relative to `repository`) that its git index holds, or None when git cannot
    say (no git, not a repository, too slow). Read once per state of the index."""
    index = os.path.join(repository, ".git", "index")
    try:
        key = (repository, os.stat(index).st_mtime_ns)
    except OSError:
        key = (repository, -1)
    if key not in _TRACKED:
        try:
            listed = subprocess.run(["git", "-C", repository, "ls-files", "-z"], capture_output=True, timeout=60,
                                    check=True, stdin=subprocess.DEVNULL).stdout
            _TRACKED[key] = frozenset(os.fsdecode(path) for path in listed.split(b"\0") if path)
        except (OSError, subprocess.SubprocessError):
            _TRACKED[key] = None
    return _TRACKED[key]


def included_files(patterns: str | Sequence[str]) -> list[Path]:
    """The example files the Markdown and reST files matched by `patterns` include and `read_corpus`
    reads into them, sorted (for fingerprints: an edited example changes the build)."""
    return _included_files(_expand_patterns([patterns] if isinstance(patterns, str) else list(patterns), strict=False))


def _included_files(expanded: _Expanded) -> list[Path]:
    found: set[str] = set()
    for path in expanded.files:
        reader = reader_for(path)
        source = _markup_source(path, ReadOptions()) if reader is not None and reader[0] in INCLUDING_FORMATS else None
        if isinstance(source, str):
            included = IncludedFiles(path, expanded.root)
            inline_includes(source, reader[0], included)
            found.update(included.read_files)
    return [Path(f) for f in sorted(found)]


def _junk_skips(path: str, blobs: int, runs: int) -> Iterator[Skipped]:
    if blobs:
        yield Skipped("encoded_blob", path, f"removed {blobs} base64 blob(s) / data: URI(s) from the text", n=blobs)
    if runs:
        yield Skipped("unbroken_run", path, f"removed {runs} run(s) of text without spaces", n=runs)


def _markup_source(path: str, options: ReadOptions) -> str | Skipped:
    """A markup file's text, or why it cannot be read (too large, binary, not UTF-8, a line too long)."""
    data = read_limited(path, options.max_file_bytes)
    if isinstance(data, Skipped):
        return data
    if b"\x00" in data:
        return Skipped("binary", path, "binary file (contains NUL bytes)")
    raw = _decode(data)
    if raw is None:
        return Skipped("undecodable", path, "not valid UTF-8")
    if longest_line_over(raw, options.max_line_chars):
        return Skipped("too_large", path, f"a line is longer than max_line_chars ({options.max_line_chars})")
    return raw


def _markup_reader(fmt: str) -> Reader:
    """A reader for one markup format: the file's clean text, title, headings and definitions
    (`markup.parse`: markup rendered as a reader sees it, headings kept as structure)."""

    def read(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
        raw = _markup_source(path, options)
        if isinstance(raw, Skipped):
            yield raw
            return
        included = IncludedFiles(path, options.corpus_root, max_line_chars=options.max_line_chars)
        raw = inline_includes(raw, fmt, included)
        if included.missing:
            shown = ", ".join(included.missing[:3]) + (", ..." if len(included.missing) > 3 else "")
            yield Skipped("missing_include", path, f"{len(included.missing)} included example file(s) not found or "
                                                   f"not readable here, named instead: {shown}", n=len(included.missing))
        try:
            parsed = parse_markup(raw, fmt, max_depth=options.max_nesting_depth)
        except MarkupTooDeep as exc:
            yield Skipped("too_deep", path, f"{exc} (max_nesting_depth {options.max_nesting_depth})")
            return
        parsed, blobs, runs = strip_junk(parsed)
        yield from _junk_skips(path, blobs, runs)
        if not parsed.text.strip():
            yield Skipped("empty", path, "no text (empty after cleanup)")
            return
        title = parsed.title or humanize_stem(doc_id, parsed.text)
        yield Document(doc_id=doc_id, title=title, text=parsed.text, format=fmt, source=path, headings=parsed.headings, definitions=parsed.definitions)

    read.__name__ = read.__qualname__ = f"read_{fmt}"
    return read


def read_json_records(path: str, doc_id: str, options: ReadOptions) -> Iterator[Document | Skipped]:
    """One Document per JSON record: a JSON-lines file, or a `.json` file holding an array/object."""
    is_json_file = path.lower().endswith(".json")
    records: Iterable[tuple[int, Any]] = (_json_file_records(path, options) if is_json_file
                                          else _json_lines(path, options))
    try:
        yield from _records_to_documents(records, path, doc_id, options)
    except OSError as exc:
        yield Skipped("unreadable", path, f"cannot read ({exc.strerror or exc})")


def _records_to_documents(records: Iterable[tuple[int, Any]], path: str, relpath: str,
                          options: ReadOptions) -> Iterator[Document | Skipped]:
    text_field, title_field, id_field = options.text_field, options.title_field, options.id_field
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
        if len(text) > options.max_line_chars:
            yield Skipped("too_large", where, f"field {text_field!r} is longer than max_line_chars "
                                              f"({options.max_line_chars})")
            continue
        text = text.replace("\r\n", "\n").strip()
        rec_id = record.get(id_field)
        doc_id = str(rec_id) if rec_id not in (None, "") else f"{relpath}:{line_no}"
        rec_title = record.get(title_field)
        title = str(rec_title).strip() if rec_title not in (None, "") else humanize_stem(relpath)
        if _has_surrogate(text) or _has_surrogate(doc_id) or _has_surrogate(title):
            yield Skipped("undecodable", where, "a lone surrogate escape (\\ud800-\\udfff) is not text")
            continue
        parsed, blobs, runs = strip_junk(ParsedMarkup(text, None, (), ()))
        yield from _junk_skips(where, blobs, runs)
        text = parsed.text.strip()
        if not text:
            yield Skipped("empty", where, f"empty field {text_field!r}")
            continue
        yield Document(doc_id=doc_id, title=title, text=text, format="jsonl", source=path)


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_too_deep(text: str, limit: int) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, found by a linear scan of the
    brackets outside strings (before parsing: the parser would recurse and raise RecursionError)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def _parse_json(text: str, where: str, options: ReadOptions) -> Any:
    """A parsed JSON value, or a Skipped (too deep, or invalid)."""
    if json_too_deep(text, options.max_nesting_depth):
        return Skipped("too_deep", where, f"JSON nested deeper than max_nesting_depth ({options.max_nesting_depth})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return Skipped("bad_json_line", where, f"invalid JSON ({exc.msg})")
    except RecursionError:
        return Skipped("too_deep", where, "JSON nested too deep to parse")


def _json_lines(path: str, options: ReadOptions, data: bytes | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or Skipped) for each non-blank line, streaming (or of `data`)."""
    with open(path, "rb") if data is None else contextlib.nullcontext(io.BytesIO(data)) as fh:
        line_no = 0
        while True:
            # Read at most one byte past the limit of a line (4 bytes per character): a 20 MB line
            # is not held in memory just to be skipped.
            line = fh.readline(4 * options.max_line_chars + 2)
            if not line:
                return
            line_no += 1
            where = f"{path}:{line_no}"
            if not line.endswith(b"\n") and len(line) >= 4 * options.max_line_chars + 2:
                while line and not line.endswith(b"\n"):  # skip the rest of the line
                    line = fh.readline(2**20)
                yield line_no, Skipped("too_large", where, f"record longer than max_line_chars ({options.max_line_chars})")
                continue
            text = _decode(line)
            if text is None:
                yield line_no, Skipped("bad_json_line", where, "line is not valid UTF-8")
                continue
            if not text.strip():
                continue
            if len(text.rstrip("\n")) > options.max_line_chars:
                yield line_no, Skipped("too_large", where, f"record longer than max_line_chars ({options.max_line_chars})")
                continue
            yield line_no, _parse_json(text, where, options)


def _json_file_records(path: str, options: ReadOptions) -> Iterator[tuple[int, Any]]:
    """Records of a `.json` file: an array of objects, one object, or (fallback) JSON lines."""
    data = read_limited(path, options.max_file_bytes)
    if isinstance(data, Skipped):
        yield 1, data
        return
    text = _decode(data)
    if text is None or b"\x00" in data:
        yield 1, Skipped("undecodable" if text is None else "binary", path, "not a UTF-8 JSON file")
        return
    value = _parse_json(text, path, options)
    if isinstance(value, Skipped):
        if value.reason == "bad_json_line":
            yield from _json_lines(path, options, data)
        else:
            yield 1, value
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
        where = f"{source}:{split}:{row_no}"
        parsed, blobs, runs = strip_junk(ParsedMarkup((row[text_column] or "").replace("\r\n", "\n"), None, (), ()))
        for skipped in _junk_skips(where, blobs, runs):
            report.drop(CORPUS, skipped.reason, n=skipped.n, where=where)
        text = parsed.text.strip()
        if not text:
            report.drop(CORPUS, "empty", where=where)
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
_BUILTIN_SUFFIXES = frozenset(_READERS)
_plugin_suffixes: set[str] = set()  # suffixes taken by entry-point readers (a later plugin may replace one)
