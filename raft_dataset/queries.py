"""Queries: read from a user's file, or derived offline from the corpus's own headings and questions."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from .index import ChunkIndex
from .jsonl import iter_json_objects
from .offline_questions import derive_queries
from .records import Document, Query


class QuestionGenerator(Protocol):
    """Writes the questions of a build.

    `documents` streams the corpus again (headings and structure come from documents); `index` holds
    the chunks, in document order through `index.spans()`. A returned `Query` should name the chunk
    it was written from (`chunk_id`), or at least its document (`doc_id`); one naming neither gets
    the top retrieved chunk as its oracle. The build then names the product by each query's `origin`
    (`product.name_product`): "file" is a user's question, asked without the product's name; "llm" is left as
    written; any other is a derived question, which is given the name.
    """

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]: ...


class QueryFile:
    """The user's own questions, read from a file (see `read_queries`).

    Args:
        path: The queries file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]:
        return read_queries(self.path)


class OfflineQuestionGenerator:
    """Questions derived from the corpus itself: question headings, FAQ questions, glossary entries and
    section headings phrased as questions (see `offline_questions.derive_queries`).

    Args:
        questions_per_section: Most questions from one section of a page.
        questions_per_doc: Most questions from one document (question headings and glossary entries
            aside); None for no cap.
        max_queries: Stop after this many (the first of the full list); None reads every document.
    """

    def __init__(self, questions_per_section: int = 1, questions_per_doc: int | None = None,
                 max_queries: int | None = None) -> None:
        self.questions_per_section = questions_per_section
        self.questions_per_doc = questions_per_doc
        self.max_queries = max_queries

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]:
        return derive_queries(documents, index.spans(), questions_per_section=self.questions_per_section,
                              max_questions_per_doc=self.questions_per_doc, max_queries=self.max_queries)


class QueryFileError(ValueError):
    """A bad queries file; the message names the file and line."""


_QUESTION_KEYS = ("question", "query", "text")


def read_queries(path: str | Path) -> list[Query]:
    """Read questions from JSON lines, CSV (a `question` column) or plain text (one question a line).

    JSON lines and CSV rows may also carry `answer` and `doc_id`. Blank lines are ignored.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise QueryFileError(f"{path}: queries file not found") from None
    except UnicodeDecodeError:
        raise QueryFileError(f"{path}: not valid UTF-8") from None
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = iter_json_objects(path, error=QueryFileError)
    elif suffix in (".csv", ".tsv"):
        rows = _csv_rows(path, text, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        rows = ((n, {"question": line.strip()}) for n, line in enumerate(text.splitlines(), 1) if line.strip())
    queries = []
    for line_no, row in rows:
        question = next((row[k] for k in _QUESTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if question is None:
            raise QueryFileError(f"{path}:{line_no}: no non-empty 'question' field")
        queries.append(
            Query(
                question=question.strip(),
                answer=_optional_str(row.get("answer")),
                doc_id=_optional_str(row.get("doc_id")),
                origin="file",
            )
        )
    return queries


def _optional_str(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # BEIR/SQuAD style: several accepted answers, keep the first
        value = value[0] if value else None
    value = str(value).strip() if value is not None else ""
    return value or None


def _csv_rows(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    if not reader.fieldnames or not any(k in reader.fieldnames for k in _QUESTION_KEYS):
        raise QueryFileError(f"{path}:1: expected a header with a 'question' column")
    for row in reader:
        yield reader.line_num, row
