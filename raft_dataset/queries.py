"""Queries: read from a user's file, or derived offline from the corpus's own headings and questions."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from .chunking import document_headings
from .corpus import clean_heading
from .index import ChunkIndex
from .jsonl import iter_json_objects
from .records import Document, Query


class QuestionGenerator(Protocol):
    """Writes the questions of a build.

    `documents` streams the corpus again (headings and structure come from documents); `index` holds
    the chunks, in document order through `index.spans()`. A returned `Query` should name the chunk
    it was written from (`chunk_id`), or at least its document (`doc_id`); one naming neither gets
    the top retrieved chunk as its oracle.
    """

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]: ...


class QueryFile:
    """The user's own questions, read from a file (see `read_queries`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]:
        return read_queries(self.path)


class OfflineQuestionGenerator:
    """Questions derived from the corpus itself: headings and the questions its text asks."""

    def __init__(self, questions_per_doc: int = 3) -> None:
        self.questions_per_doc = questions_per_doc

    def generate(self, documents: Iterable[Document], index: ChunkIndex) -> list[Query]:
        return derive_queries(documents, index.spans(), self.questions_per_doc)


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


# --- offline derivation -------------------------------------------------------------------------

# Headings that name a part of a page rather than a topic make poor questions.
_GENERIC_HEADINGS = {
    "recap", "summary", "overview", "introduction", "intro", "example", "examples", "info", "note",
    "notes", "tip", "tips", "warning", "details", "technical details", "more info", "next steps",
    "about", "contents", "table of contents", "see also", "references", "conclusion", "faq",
    "license", "changelog", "release notes", "glossary", "check it", "check it out", "try it",
    "what's next", "learn more", "other", "misc", "miscellaneous", "background", "requirements",
    "prerequisites", "first steps", "setup", "step 1", "step 2", "step 3", "alternatives",
}
# Imperative verbs that open how-to headings ("Install the CLI" -> "How do I install the CLI?").
_HOWTO_VERBS = {
    "add", "avoid", "build", "call", "change", "check", "choose", "configure", "connect", "create",
    "customize", "customise", "debug", "declare", "define", "deploy", "disable", "enable", "extend",
    "fix", "generate", "get", "handle", "import", "install", "limit", "load", "log", "make", "manage",
    "migrate", "monitor", "mount", "override", "pass", "read", "receive", "remove", "rename",
    "return", "run", "schedule", "secure", "send", "serve", "set", "share", "skip", "specify",
    "start", "stop", "test", "update", "upgrade", "upload", "use", "validate", "write",
}
_WORD_RE = re.compile(r"[A-Za-z][\w'-]*")
_QUESTION_SENTENCE_RE = re.compile(r"(?:^|(?<=[.!?]\s)|(?<=\n))([A-Z][^\n?!.]{12,200}\?)", re.MULTILINE)
_INTERROGATIVES = {
    "how", "why", "when", "what", "where", "which", "who", "whom", "whose", "can", "could", "should",
    "would", "will", "do", "does", "did", "is", "are", "was", "were", "may", "must", "shall",
}


def _clean_heading(heading: str) -> str:
    return clean_heading(heading).strip(" #:-")


def _base_form(gerund: str) -> str | None:
    """'Installing' -> 'install', 'Running' -> 'run', 'Configuring' -> 'configure' (None if unknown)."""
    word = gerund.lower()
    if not word.endswith("ing") or len(word) < 6:
        return None
    stem = word[:-3]
    candidates = [stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem]
    return next((c for c in candidates if c in _HOWTO_VERBS), None)


# One-word headings that name an action: "Installation" reads best as "How do I install X?".
_ACTION_NOUNS = {
    "installation": "install", "configuration": "configure", "deployment": "deploy", "usage": "use",
    "upgrading": "upgrade", "testing": "test", "debugging": "debug", "troubleshooting": "troubleshoot",
    "authentication": "set up authentication for", "logging": "set up logging for",
}


_PREPOSITIONS = {"in", "with", "for", "of", "on", "about", "from", "to", "by", "at", "as", "without", "via", "under", "after", "before"}
_MIDSENTENCE_CAPITAL_RE = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]+)\b")


def proper_nouns(text: str) -> frozenset[str]:
    """Capitalised words a text uses mid-sentence and never in lower case ('Pydantic', 'Tidepool')."""
    capitalised = set(_MIDSENTENCE_CAPITAL_RE.findall(text))
    lower = set(re.findall(r"\b[a-z]+\b", text))
    return frozenset(w for w in capitalised if w.lower() not in lower)


def _sentence_case(heading: str, keep: frozenset[str] = frozenset()) -> str:
    """'Path Parameters' -> 'path parameters'; acronyms, CamelCase, proper nouns and code stay."""
    parts = re.split(r"(`[^`]*`)", heading)
    lowered = [
        part if part.startswith("`")
        else re.sub(r"\b[A-Z][a-z]+\b", lambda m: m.group(0) if m.group(0) in keep else m.group(0).lower(), part)
        for part in parts
    ]
    return "".join(lowered)


def _is_plural(words: list[str]) -> bool:
    """Number of the head noun: the last word before a preposition ('Parameters with X' -> plural)."""
    if any(w.lower() in ("and", "vs", "versus") for w in words):
        return True
    head = words[-1]
    for word in words[1:]:
        if word.lower() in _PREPOSITIONS:
            break
        head = word
    head = head.lower()
    return head.endswith("s") and not head.endswith(("ss", "us", "is", "ics"))


def heading_to_question(heading: str, context: str = "", keep: frozenset[str] = frozenset()) -> str | None:
    """Turn a section heading into the question a user would ask, or None when it makes a poor one.

    A heading that already is a question is used as written. `context` (the page title) is added to
    one- or two-word noun-phrase headings so that the question stands on its own; `keep` holds the
    proper nouns whose capitals stay.
    """
    heading = _clean_heading(heading)
    words = _WORD_RE.findall(heading)
    if not words or heading.lower() in _GENERIC_HEADINGS or len(heading) < 3:
        return None
    if heading.endswith(("?", "？")):
        return heading
    if not re.search(r"[A-Za-z]", heading):
        return None  # the templates below are English: a heading in another script is kept only as a question
    first, rest = words[0].lower(), heading[len(words[0]):].strip()
    if first in _INTERROGATIVES:
        return heading.rstrip(".") + "?"
    if first in _PREPOSITIONS or first in ("and", "or", "but", "more", "other", "another", "using"):
        return None  # "In production", "With a database": fragments, not topics
    if rest.lower() in ("it", "this", "them", "that") and context:
        rest = context
    if first in _HOWTO_VERBS and rest:
        return f"How do I {first} {rest}?"
    base = _base_form(first)
    if base and rest:
        return f"How do I {base} {rest}?"
    if len(words) == 1 and first in _ACTION_NOUNS:
        return f"How do I {_ACTION_NOUNS[first]} {context}?" if context else None
    if len(words) > 8:  # a sentence-like heading reads badly as "What is ...?"
        return None
    in_context = ""
    context_words = _WORD_RE.findall(context)
    if (
        context_words and len(words) <= 2 and len(context_words) <= 3
        and context.lower() not in heading.lower() and not _base_form(context_words[0])
        and context_words[0].lower() not in _HOWTO_VERBS
    ):
        in_context = f" in {_sentence_case(context, keep)}"
    phrase = re.sub(r"^(A|An|The) ", lambda m: m.group(1).lower() + " ", _sentence_case(heading, keep))
    return f"What {'are' if _is_plural(words) else 'is'} {phrase}{in_context}?"


def question_sentences(text: str) -> list[str]:
    """Questions the text itself asks (FAQ style), outside code fences."""
    prose = re.sub(r"(?ms)^(```|~~~).*?^\1", "", text)
    found = []
    for match in _QUESTION_SENTENCE_RE.finditer(prose):
        sentence = re.sub(r"\s+", " ", match.group(1)).strip()
        # Only real questions: "Remember that ...?" or "But what if ...?" are rhetorical lead-ins.
        if 4 <= len(sentence.split()) <= 30 and sentence.split()[0].lower() in _INTERROGATIVES:
            found.append(sentence)
    return found


def _normalized(question: str) -> str:
    return " ".join(_WORD_RE.findall(question.lower()))


def derive_queries(
    documents: Iterable[Document],
    chunk_spans: Mapping[str, Sequence[tuple[int, int, str]]],
    questions_per_doc: int,
) -> list[Query]:
    """Questions from the corpus itself, at most `questions_per_doc` per document, deduplicated.

    Per document the order of preference is: headings that are questions, question sentences in
    the text, other headings rephrased as questions, then the page title. A heading's oracle is the
    chunk holding the start of its section's text; a sentence's oracle is the chunk it is in.

    Args:
        documents: The corpus documents (streamed).
        chunk_spans: doc_id -> (start, end, chunk_id) of its chunks, in document order.
        questions_per_doc: Most questions per document.
    """
    queries: list[Query] = []
    seen: set[str] = set()
    for doc in documents:
        spans = chunk_spans.get(doc.doc_id)
        if not spans:
            continue
        candidates = _heading_candidates(doc, spans) + [
            (1, Query(sentence, doc_id=doc.doc_id, chunk_id=chunk_id, origin="sentence"))
            for start, end, chunk_id in spans
            for sentence in question_sentences(doc.text[start:end])
        ]
        taken = 0
        for _, query in sorted(candidates, key=lambda c: c[0]):
            key = _normalized(query.question)
            if taken >= questions_per_doc or not key or key in seen:
                continue
            seen.add(key)
            queries.append(query)
            taken += 1
    return queries


def _heading_candidates(doc: Document, spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, Query]]:
    headings = document_headings(doc)
    keep = proper_nouns(doc.text)
    candidates = []
    for i, heading in enumerate(headings):
        body_start, body_end = heading.end, headings[i + 1].start if i + 1 < len(headings) else len(doc.text)
        if not doc.text[body_start:body_end].strip():
            continue  # a heading whose section opens straight into a sub-heading has no text of its own
        chunk_id = next((cid for start, end, cid in spans if end > body_start and start < body_end), None)
        if chunk_id is None:
            continue
        is_page_title = clean_heading(heading.text) == doc.title
        question = heading_to_question(heading.text, context="" if is_page_title else doc.title, keep=keep)
        if question:
            rank = 0 if question == _clean_heading(heading.text) else (3 if is_page_title else 2)
            candidates.append((rank, Query(question, doc_id=doc.doc_id, chunk_id=chunk_id, origin="heading")))
    if not headings:  # plain text and HTML: the page title stands for the whole page
        question = heading_to_question(doc.title, keep=keep)
        if question:
            candidates.append((3, Query(question, doc_id=doc.doc_id, chunk_id=spans[0][2], origin="heading")))
    return candidates
