"""Answers in the RAFT chain-of-thought format, behind a small interface.

The offline default, `ExtractiveAnswerGenerator`, quotes the oracle's most relevant sentences
verbatim; an LLM-backed generator (`raft_dataset.llm_generation`) implements the same interface.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .chunking import Chunk
from .corpus import MARKDOWN_LINK
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
_TOKEN_RE = re.compile(r"\w+")
# A sentence ends at . ! ? before white space and a capital (any script) or an opening mark, and
# right after the full-width 。！？ of Chinese and Japanese, which take no space.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[^\W\d_a-z\u00df-\u00ff]|[0-9`\"'(\[*])|(?<=[。！？])\s*")
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
_LEAD_IN_LINES = 12  # most list, table or code lines a sentence ending in ":" takes along


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


def _long_enough(sentence: str) -> bool:
    """Four words, or for scripts written without spaces, eight characters."""
    return len(sentence.split()) >= 4 or (not sentence.isascii() and len(sentence.strip()) >= 8)


@functools.lru_cache(maxsize=4096)  # scoring and quoting both ask for the same oracle's sentences
def candidate_sentences(text: str) -> tuple[tuple[int, int], ...]:
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
                piece_end = _lead_in_end(text, blocks, b, piece_end)
            if _long_enough(piece) and BEGIN_QUOTE not in text[at:piece_end] and END_QUOTE not in text[at:piece_end]:
                spans.append((at, piece_end))
    return tuple(spans)


def _lead_in_end(text: str, blocks: list[tuple[str, int, int]], b: int, end: int) -> int:
    """Where a lead-in sentence's quote ends: after the list, table or code block that follows it."""
    following = [block for block in blocks[b + 1 :] if block[0] != "blank"]
    kind = following[0][0] if following else None
    if kind not in ("item", "row", "code"):
        return end
    taken = list(itertools.takewhile(lambda block: block[0] == kind, following))
    if kind != "code":
        return taken[min(len(taken), _LEAD_IN_LINES) - 1][2]
    fenced = _FENCE_RE.match(text[taken[0][1] : taken[0][2]])
    complete = len(taken) < len(following) or (
        fenced and len(taken) > 1 and _FENCE_RE.match(text[taken[-1][1] : taken[-1][2]])
    )
    # A long block, or one the chunk cuts off, is left out: the sentence then stands alone.
    return taken[-1][2] if complete and len(taken) <= _LEAD_IN_LINES else end


def _lexical_score(question_terms: set[str], sentence: str) -> float:
    """Shared content words, longer (rarer) words weighing more."""
    return sum(math.log(1 + len(t)) for t in question_terms & _terms(sentence))


@dataclass(frozen=True)
class QuoteChoice:
    """The quotes for an answer, in document order, and the one the final answer restates."""

    quotes: list[str]
    best: str


def select_quotes(
    question: str,
    oracle_text: str,
    reference_answer: str | None = None,
    max_quotes: int = 2,
    similarities: Sequence[float] | None = None,
) -> QuoteChoice | None:
    """The oracle's sentences that best answer the question, verbatim; None when nothing is quotable.

    A sentence containing the reference answer wins. Otherwise sentences are ranked by embedding
    similarity to the question when `similarities` (aligned with `candidate_sentences`) is given,
    with shared content words breaking near-ties, else by shared content words alone. A lead-in
    sentence whose list did not come along ("... as follows:") ranks lower: it announces, not answers.
    """
    spans = candidate_sentences(oracle_text)
    if not spans:
        return None  # code or markup only: nothing worth quoting, the sample is rejected
    sentences = [oracle_text[a:b] for a, b in spans]
    if reference_answer:
        needle = normalize_whitespace(reference_answer).lower()
        containing = [s for s in sentences if needle in normalize_whitespace(s).lower()]
        if containing:
            return QuoteChoice([containing[0]], containing[0])
    terms = _terms(question)
    lexical = [_lexical_score(terms, s) for s in sentences]
    if similarities is not None:
        scores = [float(sim) + 0.02 * lex for sim, lex in zip(similarities, lexical)]
        close_enough = 0.08  # a second quote must be nearly as similar as the best
    else:
        scores = list(lexical)
        close_enough = 0.5 * max(scores)
    scores = [score - (0.1 if s.rstrip().endswith(":") else 0.0) for score, s in zip(scores, sentences)]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    best = ranked[0]
    chosen = [best] + [
        i for i in ranked[1:max_quotes] if lexical[i] > 0 and scores[best] - scores[i] <= close_enough
    ]
    return QuoteChoice([sentences[i] for i in sorted(chosen)], sentences[best])


def plain_answer(quote: str) -> str:
    """A quote as a plain final answer: links become their text, emphasis and list markers go."""
    return normalize_whitespace(_MARKDOWN_RE.sub("", MARKDOWN_LINK.sub(r"\1", quote)))


class ExtractiveAnswerGenerator:
    """Offline answers that reason over the context and quote the oracle verbatim.

    Args:
        oracle_absent_answer: With the oracle missing from the context, "keep" the oracle-based
            answer (the RAFT paper: the model learns the domain) or "refuse".
        max_quotes: Most sentences quoted.
        embed: Optional sentence encoder (texts -> vectors); with it, quotes are chosen by semantic
            similarity to the question instead of shared words alone.
    """

    def __init__(
        self,
        oracle_absent_answer: str = "keep",
        max_quotes: int = 2,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        self.oracle_absent_answer = oracle_absent_answer
        self.max_quotes = max_quotes
        self.embed = embed

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]:
        similarities = self._similarities(requests) if self.embed else [None] * len(requests)
        return [self.answer(r, sims) for r, sims in zip(requests, similarities)]

    def _similarities(self, requests: Sequence[AnswerRequest]) -> list[np.ndarray]:
        """Question-to-sentence cosine similarities for every request, in one encoder pass."""
        texts: dict[str, int] = {}
        layout = []
        for request in requests:
            sentences = [request.oracle.text[a:b] for a, b in candidate_sentences(request.oracle.text)]
            ids = [texts.setdefault(t, len(texts)) for t in [request.question, *sentences]]
            layout.append(ids)
        if not texts:
            return [np.zeros(0)] * len(requests)
        vectors = np.asarray(self.embed(list(texts)), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return [vectors[ids[1:]] @ vectors[ids[0]] for ids in layout]

    def answer(self, request: AnswerRequest, similarities: Sequence[float] | None = None) -> Answer:
        position = request.oracle_position
        if position < 0 and self.oracle_absent_answer == "refuse":
            titles = ", ".join(f'"{c.title}"' for c in request.context) or "none"
            return Answer(
                f"The question is: {request.question}\n"
                f"The documents provided are about {titles}. None of them contains information that "
                f"answers this question, so I should not guess.\n{ANSWER_MARKER} {REFUSAL_ANSWER}"
            )
        choice = select_quotes(
            request.question, request.oracle.text, request.reference_answer, self.max_quotes, similarities
        )
        if choice is None:
            return Answer(None, rejected="no_quotable_sentence")
        if position >= 0:
            lead = f'Document {position + 1} ("{request.oracle.title}") is the one that answers it. It says:'
        else:
            lead = (
                "None of the documents shown covers this directly, but the documentation on "
                f'"{request.oracle.title}" says:'
            )
        lines = [f"The question is: {request.question}", lead]
        lines += [f"{BEGIN_QUOTE}{q.strip()}{END_QUOTE}" for q in choice.quotes]
        lines.append("Putting this together gives the answer.")
        lines.append(f"{ANSWER_MARKER} {request.reference_answer or plain_answer(choice.best)}")
        return Answer("\n".join(lines))
