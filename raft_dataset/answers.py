"""Answers in the RAFT chain-of-thought format, behind a small interface.

The offline default, `ExtractiveAnswerGenerator`, quotes the oracle's most relevant sentences
verbatim; an LLM-backed generator (`raft_dataset.llm_generation`) implements the same interface.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .chunking import Chunk
from .raft_format import ANSWER_MARKER, BEGIN_QUOTE, END_QUOTE, normalize_whitespace


@dataclass(frozen=True)
class AnswerRequest:
    """What an answer is written from.

    Attributes:
        question: The question.
        oracle: The chunk that holds the answer (quotes must come from it).
        context: The documents shown to the model, in context order (may lack the oracle).
        reference_answer: The user's answer, to be used as the final answer when given.
    """

    question: str
    oracle: Chunk
    context: Sequence[Chunk]
    reference_answer: str | None = None

    @property
    def oracle_position(self) -> int:
        """Position of the oracle in the context, or -1 when absent."""
        ids = [c.chunk_id for c in self.context]
        return ids.index(self.oracle.chunk_id) if self.oracle.chunk_id in ids else -1


@dataclass(frozen=True)
class Answer:
    """A written answer (`output`), or None with the reason it was dropped (`rejected`)."""

    output: str | None
    rejected: str | None = None


class AnswerGenerator(Protocol):
    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]: ...


REFUSAL_ANSWER = "The provided documents do not contain the answer to this question."

_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "so", "that", "the", "their", "then", "there", "these", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "my", "me", "we", "our", "use", "used", "using", "about", "should", "would", "could"]
)
_TOKEN_RE = re.compile(r"[a-z0-9_]+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[*])")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_MARKDOWN_RE = re.compile(r"\*\*|__|(?<!\w)[*_](?!\s)|(?<!\s)[*_](?!\w)|^\s*(?:[-*+]|\d+\.)\s+|^#+\s*")


def _terms(text: str) -> set[str]:
    """Content words, crudely stemmed so that 'retries' meets 'retry' and 'running' meets 'run'."""
    terms = set()
    for word in _TOKEN_RE.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        for suffix in ("ies", "ing", "es", "ed", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
                break
        terms.add(word)
    return terms


_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_LEAD_IN_LINES = 8  # most list or table lines a sentence ending in ":" takes along


def _line_kind(line: str, in_fence: bool) -> str:
    """'code', 'blank', 'skip' (headings, HTML, directives, adornments), 'item', 'row' or 'prose'."""
    stripped = line.strip()
    if in_fence or _FENCE_RE.match(line):
        return "code"
    if not stripped:
        return "blank"
    if stripped.startswith(("#", "<", "///", "!!!", "{*", "..")) or set(stripped) <= set("=-~^`*+#'\"_:| "):
        return "skip"
    if stripped.startswith("|"):
        return "row"
    return "item" if _LIST_ITEM_RE.match(line) else "prose"


def _blocks(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of paragraphs, list items and table rows; wrapped lines are joined."""
    blocks: list[tuple[str, int, int]] = []
    offset, in_fence = 0, False
    for line in text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        kind = _line_kind(line, in_fence)
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        indented = line[:1] == "\t" or line[:3] == "   "
        if kind != "blank" and indented and (not blocks or blocks[-1][0] in ("blank", "code")):
            kind = "code"  # an indented block after a blank line: reST literal or markdown indented code
        if kind in ("code", "blank", "skip"):
            blocks.append((kind, start, offset))
            continue
        content_start = start + len(line) - len(line.lstrip())
        if kind == "item":
            content_start = start + _LIST_ITEM_RE.match(line).end()
        end = start + len(line.rstrip())
        previous = blocks[-1] if blocks else None
        if kind == "prose" and previous and previous[0] in ("prose", "item"):
            blocks[-1] = (previous[0], previous[1], end)  # a wrapped line continues its paragraph or item
        else:
            blocks.append((kind, content_start, end))
    return blocks


def candidate_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the quotable sentences of a chunk: prose and list items, no code,
    headings or markup lines. A sentence that ends in ":" takes the list or table after it along."""
    blocks = _blocks(text)
    spans = []
    for b, (kind, start, end) in enumerate(blocks):
        if kind not in ("prose", "item"):
            continue
        cursor = start
        for piece in _SENTENCE_END_RE.split(text[start:end]):
            at = text.index(piece, cursor)
            cursor = piece_end = at + len(piece)
            if piece.rstrip().endswith(":") and piece_end == end:
                piece_end = _lead_in_end(blocks, b, piece_end)
            if len(piece.split()) >= 4 and BEGIN_QUOTE not in text[at:piece_end] and END_QUOTE not in text[at:piece_end]:
                spans.append((at, piece_end))
    return spans


def _lead_in_end(blocks: list[tuple[str, int, int]], b: int, end: int) -> int:
    """Where a lead-in sentence's quote ends: after the list items or table rows that follow it."""
    taken = 0
    for kind, _, block_end in blocks[b + 1 :]:
        if kind == "blank" and taken == 0:
            continue
        if kind not in ("item", "row") or taken >= _LEAD_IN_LINES:
            break
        end, taken = block_end, taken + 1
    return end


def select_quotes(question: str, oracle_text: str, reference_answer: str | None = None, max_quotes: int = 2) -> list[str]:
    """The oracle's sentences that best answer the question, verbatim, in document order.

    A sentence containing the reference answer wins; otherwise sentences are ranked by the
    question's content words they share (weighted toward rarer, longer words), earlier first on ties.
    """
    spans = candidate_sentences(oracle_text)
    if not spans:
        return []  # code or markup only: nothing worth quoting, the sample is rejected
    sentences = [oracle_text[a:b] for a, b in spans]
    if reference_answer:
        needle = normalize_whitespace(reference_answer).lower()
        containing = [i for i, s in enumerate(sentences) if needle in normalize_whitespace(s).lower()]
        if containing:
            return [sentences[containing[0]]]
    question_terms = _terms(question)

    def score(i: int) -> float:
        shared = question_terms & _terms(sentences[i])
        return sum(math.log(1 + len(t)) for t in shared)

    scored = sorted(range(len(sentences)), key=lambda i: (-score(i), i))
    best = scored[0]
    chosen = [best]
    if max_quotes > 1 and score(best) > 0:
        for i in scored[1:max_quotes]:
            if score(i) >= 0.5 * score(best):
                chosen.append(i)
    return [sentences[i] for i in sorted(chosen)]


def best_quote(question: str, quotes: Sequence[str]) -> str:
    """The quote sharing the most with the question (the first on ties)."""
    terms = _terms(question)
    return max(quotes, key=lambda q: (len(terms & _terms(q)), -quotes.index(q)))


def plain_answer(quote: str) -> str:
    """A quote as a plain final answer: markdown emphasis and list markers removed."""
    return normalize_whitespace(_MARKDOWN_RE.sub("", quote))


class ExtractiveAnswerGenerator:
    """Offline answers that reason over the context and quote the oracle verbatim.

    Args:
        oracle_absent_answer: With the oracle missing from the context, "keep" the oracle-based
            answer (the RAFT paper: the model learns the domain) or "refuse".
        max_quotes: Most sentences quoted.
    """

    def __init__(self, oracle_absent_answer: str = "keep", max_quotes: int = 2) -> None:
        self.oracle_absent_answer = oracle_absent_answer
        self.max_quotes = max_quotes

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]:
        return [self.answer(r) for r in requests]

    def answer(self, request: AnswerRequest) -> Answer:
        position = request.oracle_position
        if position < 0 and self.oracle_absent_answer == "refuse":
            titles = ", ".join(f'"{c.title}"' for c in request.context) or "none"
            return Answer(
                f"The question is: {request.question}\n"
                f"The documents provided are about {titles}. None of them contains information that "
                f"answers this question, so I should not guess.\n{ANSWER_MARKER} {REFUSAL_ANSWER}"
            )
        quotes = select_quotes(request.question, request.oracle.text, request.reference_answer, self.max_quotes)
        if not quotes:
            return Answer(None, rejected="no_quotable_sentence")
        if position >= 0:
            lead = f'Document {position + 1} ("{request.oracle.title}") is the one that answers it. It says:'
        else:
            lead = (
                "None of the documents shown covers this directly, but the documentation on "
                f'"{request.oracle.title}" says:'
            )
        lines = [f"The question is: {request.question}", lead]
        lines += [f"{BEGIN_QUOTE}{q.strip()}{END_QUOTE}" for q in quotes]
        final = request.reference_answer or plain_answer(best_quote(request.question, quotes))
        lines.append("Putting this together gives the answer.")
        lines.append(f"{ANSWER_MARKER} {final}")
        return Answer("\n".join(lines))
