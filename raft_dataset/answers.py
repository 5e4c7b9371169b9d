"""Answers in the RAFT chain-of-thought format, behind a small interface.

The offline default, `ExtractiveAnswerGenerator`, quotes 1-3 adjacent sentences of the oracle
verbatim (preferring the evidence span the question came from), states a final answer built from
them, and explains which document it used in one of several phrasings. An LLM-backed generator
(`raft_dataset.llm_generation`) implements the same interface.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import lemminflect
import numpy as np

from .markup import clean_inline
from .raft_format import (
    ANSWER_MARKER,
    BEGIN_QUOTE,
    END_QUOTE,
    REFUSAL_ANSWER,
    STOPWORDS,
    answer_coverage,
    content_problem,
    content_terms,
    has_final_punctuation,
    has_verb,
    markup_problem,
    normalize_whitespace,
    normalized_text,
    restates_question,
    sentence_shape_problem,
)
from .records import AsksQuestion, Chunk
from .vocabulary import ACTING_KINDS, EXPLETIVE_IT, PACKAGE_KINDS, SCOPE_FIRST_RE, VALUE_KINDS

__all__ = [
    "REFUSAL_ANSWER", "Answer", "AnswerGenerator", "AnswerRequest", "ExtractiveAnswerGenerator", "QuoteChoice",
    "as_statement", "candidate_sentences", "gives_a_way", "plain_answer", "question_form", "reasoning", "select_quotes", "stable_hash",
]


@dataclass(frozen=True)
class AnswerRequest(AsksQuestion):
    """What an answer is written from.

    Attributes:
        question: The question.
        oracle: The chunk that holds the answer (quotes must come from it).
        context: The documents shown to the model, in context order (may lack the oracle).
        reference_answer: The user's answer, to be used as the final answer when given.
        evidence: (start, end) offsets inside `oracle.text` of the text that answers the question
            (the body of the section the question came from), when known.
        unscoped_question: The question without the product's name added to it (`Query.unscoped_question`).
    """

    question: str
    oracle: Chunk
    context: Sequence[Chunk]
    reference_answer: str | None = None
    evidence: tuple[int, int] | None = None
    unscoped_question: str | None = None

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
    """Writes one `Answer` per request, in request order (`Answer.output` None when it could not)."""

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]: ...


# -- sentences -------------------------------------------------------------------------------------

# A sentence ends at . ! ? before white space and a capital (any script) or an opening mark, but not
# after "e.g." / "i.e." / "cf." / "vs." / "a.k.a." (an example or a name follows, not a new sentence), and
# right after the full-width 。！？ of Chinese and Japanese, which take no space.
_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?])(?<!(?i:e\.g\.))(?<!(?i:i\.e\.))(?<!(?i:\bcf\.))(?<!(?i:\bvs\.))(?<!(?i:a\.k\.a\.))"
    r"\s+(?=[^\W\d_a-z\u00df-\u00ff]|[0-9`\"'(\[*])|(?<=[。！？])\s*"
)
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
LEAD_IN_LINES = 12  # most list, table or code lines a sentence ending in ":" takes along
_LEAD_IN_CONSOLE_LINES = 40  # ... of a console session whose few commands print more than that
_PROMPT_RE = re.compile(r"^[$%] (?=\S)")  # a shell prompt; not ">", which quotes and Python's ">>>" use


_FUNCTION_WORDS = frozenset(["the", "a", "an", "of", "to", "with", "and", "or", "in", "for", "on", "by", "from", "as"])


def _titleish(line: str) -> bool:
    """A short line that reads like a heading: a few words, a capital, no punctuation at the end."""
    stripped = line.strip()
    words = stripped.split()
    return (
        0 < len(words) <= 6 and len(stripped) <= 50 and (stripped[0].isupper() or stripped[0].isdigit())
        and not stripped.endswith((".", "!", "?", ":", ";", ",", "-", "。", "！", "？"))
        and words[-1].lower() not in _FUNCTION_WORDS and not has_verb(stripped)
    )


def _bare_title(line: str, following: str) -> bool:
    """A line that names something rather than says it: no sentence punctuation at its end or inside,
    not a "term: definition" line, and either no verb or, if it reads as a clause, no comma and no
    code or list after it (then it is a lead-in that lost its colon). A chunk packing several
    sections shows their headings so: "Config Directory", "`source` dependencies", or a long FAQ
    heading without a question mark."""
    stripped = line.strip()
    if not 0 < len(stripped) <= 150 or stripped.endswith((".", "!", "?", ":", ";", ",", "。", "！", "？", "：", "…")):
        return False
    if _SENTENCE_END_RE.search(stripped) or ": " in stripped:
        return False
    if not has_verb(stripped) and len(stripped.split()) <= 12:
        return True
    return "," not in stripped and not (_LIST_ITEM_RE.match(following) or _FENCE_RE.match(following))


def _stands_alone(lines: list[str], n: int) -> bool:
    """Whether line n is a paragraph of its own: a blank line (or the text's edge) before it, and a
    blank line, the text's end, a list or a code fence after it."""
    before = lines[n - 1].strip() if n > 0 else ""
    after = lines[n + 1] if n + 1 < len(lines) else ""
    return not before and (not after.strip() or bool(_LIST_ITEM_RE.match(after) or _FENCE_RE.match(after)))


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
    """(kind, start, end) of paragraphs, list items and table rows; wrapped lines are joined.

    A heading-like line of plain text (PDF, text files) that runs straight into a paragraph is a
    'skip' block of its own, not the paragraph's first words.
    """
    blocks: list[tuple[str, int, int]] = []
    lines = text.splitlines(keepends=True)
    offset, in_fence = 0, False
    for n, line in enumerate(lines):
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
        following = lines[n + 1].strip() if n + 1 < len(lines) else ""
        previous = blocks[-1] if blocks else None
        after_sentence = previous is None or previous[0] != "prose" or text[previous[1] : previous[2]].rstrip()[-1:] in ".!?:"
        if kind == "prose" and after_sentence and (
            (_titleish(line) and following[:1].isupper())
            or (_stands_alone(lines, n) and _bare_title(line, next((x for x in lines[n + 1 :] if x.strip()), "")))
        ):
            blocks.append(("skip", start, offset))
            continue
        content_start = start + len(line) - len(line.lstrip())
        if kind == "item":
            content_start = start + _LIST_ITEM_RE.match(line).end()
        end = start + len(line.rstrip())
        if kind == "prose" and previous and previous[0] in ("prose", "item"):
            blocks[-1] = (previous[0], previous[1], end)  # a wrapped line continues its paragraph or item
        else:
            blocks.append((kind, content_start, end))
    return blocks


def _long_enough(sentence: str, words: int = 4) -> bool:
    """Four words (a hyphen's parts count: "A case-insensitive multi-dict."), or for scripts written without
    spaces, eight characters."""
    return len(re.split(r"(?:\s|(?<=\w)-(?=\w))+", sentence.strip())) >= words or (not sentence.isascii() and len(sentence.strip()) >= 8)


@dataclass(frozen=True)
class _Sentence:
    """A quotable unit: `text[start:end]`, where a lead-in's span runs on over the block it takes.

    `body_end` is where the sentence itself ends; `takes` is "item", "row" or "code" for a lead-in
    that took a list, table or code block along, "dangling" for a lead-in that found none.
    """

    start: int
    end: int
    body_end: int
    block: int
    kind: str
    takes: str | None = None


@functools.lru_cache(maxsize=4096)  # scoring and quoting both ask for the same oracle's sentences
def _sentences(text: str) -> tuple[_Sentence, ...]:
    blocks = _blocks(text)
    found = []
    for b, (kind, start, end) in enumerate(blocks):
        if kind not in ("prose", "item"):
            continue
        cursor, carried = start, None
        pieces = [p for p in _SENTENCE_END_RE.split(text[start:end]) if p]
        for n, piece in enumerate(pieces):
            at = text.index(piece, cursor)
            cursor = body_end = piece_end = at + len(piece)
            if n + 1 < len(pieces) and not _long_enough(piece) and not piece.rstrip().endswith((":", "：")):
                carried = at if carried is None else carried  # "No." or "Yes, it is." opens the next sentence
                continue
            at, carried = (at if carried is None else carried), None
            piece = text[at:body_end]
            takes = None
            if piece.rstrip().endswith((":", "：")):
                if piece_end == end:
                    piece_end = _through_its_block(text, blocks, b, body_end)
                takes = _taken_kind(text, blocks, b) if piece_end > body_end else "dangling"
            elif piece_end == end and (leads_into := _leads_into(text, blocks, b, piece)):
                piece_end = _through_its_block(text, blocks, b, body_end)
                takes = leads_into if piece_end > body_end else None
            quoted = text[at:piece_end]
            if _long_enough(piece, 2 if takes not in (None, "dangling") else 4) and BEGIN_QUOTE not in quoted \
                    and END_QUOTE not in quoted:
                found.append(_Sentence(at, piece_end, body_end, b, kind, takes))
    for first, last in _bare_lists(text, blocks):
        start = text.rfind("\n", 0, blocks[first][1]) + 1  # from the item's marker: quoted as written
        end = blocks[last][2]
        if BEGIN_QUOTE in text[start:end] or END_QUOTE in text[start:end]:
            continue
        found = [f for f in found if not start <= f.start < end]
        found.append(_Sentence(start, end, end, first, "list", "list"))
    return tuple(sorted(found, key=lambda f: f.start))


def _leads_into(text: str, blocks: list[tuple[str, int, int]], b: int, piece: str) -> str | None:
    """The kind of block ("code", "item", "row") that a paragraph's last sentence, not ending in a colon, leads
    into and takes along; None when it stands alone."""
    taken = _taken_kind(text, blocks, b)
    if piece.rstrip().endswith(("...", "\u2026")) and taken == "code" and not re.search(
            r"\blet(?:'s|\u2019s| us)\b", piece, re.IGNORECASE):
        # "You can disable SSL verification completely and allow insecure requests..." over its example:
        # an ellipsis leads into the code as a colon would (not a tutorial's "let's start by looking ...").
        return "code"
    if _POINTS_AT_RE.search(piece) and taken in _BLOCK_KINDS:
        # "The following are the steps directly related to the context." over its list: a lead-in with a full stop.
        return taken
    if _RUNS_INTO_LIST_RE.search(piece) and taken == "item":
        # "To triage issues means to identify what kind of issue is happening and" over "- confirm bugs": the
        # sentence goes on in its list.
        return "item"
    if _takes_its_commands(text, blocks, b, piece) or _says_what_to_use(text, blocks, b, piece):
        return "code"  # a step written with a full stop still announces the code that carries it out
    if _takes_its_steps(text, blocks, b, piece):
        return "item"
    return None


def _bare_lists(text: str, blocks: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """(first, last) block indices of each list no lead-in takes along and no item of which is a
    sentence of its own: the per-OS paths under "Data Directory", a list of short steps. Such a list
    is quoted whole: it is the answer, and no item alone could be quoted."""
    runs: list[tuple[int, int]] = []
    b = 0
    while b < len(blocks):
        if blocks[b][0] != "item":
            b += 1
            continue
        previous = next((blk for blk in reversed(blocks[:b]) if blk[0] != "blank"), None)
        last = b
        while last + 1 < len(blocks) and (
            blocks[last + 1][0] == "item"
            or (blocks[last + 1][0] == "blank" and last + 2 < len(blocks) and blocks[last + 2][0] == "item")
        ):
            last += 1
        items = [text[start:end].strip() for kind, start, end in blocks[b:last + 1] if kind == "item"]
        lead_in = previous is not None and previous[0] == "prose" and text[previous[1]:previous[2]].rstrip().endswith(
            (":", "："))
        if (
            not lead_in and 2 <= len(items) <= LEAD_IN_LINES
            and all(len(item.split()) < 6 and not has_final_punctuation(item) for item in items)
            and all("`" in item or ": " in item or len(item.split()) >= 4 for item in items)
        ):
            runs.append((b, last))
        b = last + 1
    return runs


def candidate_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) offsets of the sentences of a chunk: prose and list items, no code, headings or
    markup lines. A sentence that ends in ":" takes the list, table or code block after it along."""
    return tuple((s.start, s.end) for s in _sentences(text))


# "macOS/Linux:", "Python 3.10+:": the label of the first of tabbed alternatives, between a lead-in and its block.
_TAB_LABEL_RE = re.compile(r"^[^\s:.!?][^:.!?\n]{0,30}:$")


def _following(text: str, blocks: list[tuple[str, int, int]], b: int) -> list[tuple[str, int, int]]:
    """The blocks after block b, blank lines left out; a tab label before a code block is passed over,
    so that a lead-in takes the first tab's code ("Create a project folder ...:" / "macOS/Linux:" / code)."""
    following = [block for block in blocks[b + 1 :] if block[0] != "blank"]
    if len(following) > 1 and following[0][0] == "prose" and following[1][0] == "code":
        label = text[following[0][1] : following[0][2]]
        if len(label.split()) <= 4 and _TAB_LABEL_RE.match(label):
            return following[1:]
    return following


# "To use HTTP basic authentication ..., you can configure credentials ...": a purpose (or "Once this is done, ...")
# may come first.
_STEP_RE = re.compile(r"^\W*(?:(?:to|once|after) [^,.]{1,80}, )?(?:(?:you|we) (?:can|could|should|need to|have to|must) |then,? (?:[^,.]{1,60}, )?|now |next,? "
                      r"|first,? )?(?:configure|add|set|build|publish|deploy|upgrade|update|clone|download|use|run|type|"
                      r"enter|execute|install|create|start|activate|call|invoke)\b", re.IGNORECASE)


# "Use ...", "To enable it, use ...", "you'll want to use ...", "then pass ...": the verb of a step, not a noun
# ("Each API call is logged").
_USES_RE = re.compile(r"(?:^\W*|,\s+|\b(?:to|you|we|then|and|just|simply)\s+)(?:use|pass|call|set)\b", re.IGNORECASE)
_MAX_STEP_COMMANDS = 8  # most command lines a step written with a full stop takes along


def _takes_its_commands(text: str, blocks: list[tuple[str, int, int]], b: int, sentence: str) -> bool:
    """Whether a paragraph's last sentence, ending in a full stop, is a step whose shell commands follow
    it: an imperative or "you can run ..." sentence, then a short code block of command lines."""
    if not sentence.rstrip().endswith(".") or not _STEP_RE.match(sentence):
        return False
    following = _following(text, blocks, b)
    if not following or following[0][0] != "code":
        return False
    code = list(itertools.takewhile(lambda block: block[0] == "code", following))
    lines = [text[x[1] : x[2]].strip() for x in code if not _FENCE_RE.match(text[x[1] : x[2]])]
    # A prompt marks a command line whatever it runs (". .venv/bin/activate"); without one, it must read as one.
    return 0 < len(lines) <= _MAX_STEP_COMMANDS and all(
        re.match(r"[$%>] \S", line) or _SHELL_COMMAND_RE.match(line) for line in lines)


def _takes_its_steps(text: str, blocks: list[tuple[str, int, int]], b: int, sentence: str) -> bool:
    """Whether a paragraph's last sentence, ending in a full stop, tells a way whose steps the list after it
    gives, each item opening on its verb: "You can configure it ... using the `CORSMiddleware`." over "- Import
    `CORSMiddleware`." / "- Create a list of allowed origins." / "- Add it as a middleware ..."."""
    if not sentence.rstrip().endswith(".") or not (_YOU_CAN_RE.search(sentence) or _STEP_RE.match(sentence)):
        return False
    items = list(itertools.takewhile(lambda block: block[0] == "item", _following(text, blocks, b)))
    texts = [text[x[1] : x[2]] for x in items]
    openings = [re.match(r"[\W\d]*([A-Za-z]+)", item) for item in texts]
    # Not an item that is a lead-in itself ("- Create a `main.py` file with:", it takes a block of its own), nor a
    # statement whose first word a step could open with ("- Build artifacts are now written to `dist/`").
    return 2 <= len(items) <= _MAX_LIST_ITEMS and all(o and o.group(1).lower() in _IMPERATIVES for o in openings) and not any(
        item.rstrip().endswith((":", "：")) or re.search(r"^\W*(?:\S+\s+){1,3}(?:is|are|was|were)\b", item) for item in texts)


# "It is possible to register a blueprint on another blueprint.": what can be done. (Not "You can ...": "You can
# delete more than one environment at a time." over its code is a variant of the way told before it.)
_POSSIBLE_TO = r"(?:it is|it['\u2019]s) (?:also |now )?possible to"
_CAN_DO_RE = re.compile(rf"^\W*{_POSSIBLE_TO} (\w+)", re.IGNORECASE)


def _says_what_to_use(text: str, blocks: list[tuple[str, int, int]], b: int, sentence: str) -> bool:
    """Whether a paragraph's last sentence, ending in a full stop, says what to use or what can be done, and the
    code after it shows it: "For more complicated data structures you'll often want to use JSON encoding instead."
    over `httpx.post(url, json=data)`, "It is possible to register a blueprint on another blueprint." over
    `parent.register_blueprint(child)`; not a warning ("You should never call `eval` ...")."""
    can_do = _CAN_DO_RE.match(sentence)
    says = bool(_USES_RE.search(sentence)) or bool(can_do) and can_do.group(1).lower() in _IMPERATIVES
    return bool(sentence.rstrip().endswith(".") and says and not _NOT_THIS_RE.search(sentence)
                and _taken_kind(text, blocks, b) == "code")


def _taken_kind(text: str, blocks: list[tuple[str, int, int]], b: int) -> str | None:
    return next((block[0] for block in _following(text, blocks, b)), None)


def _through_its_block(text: str, blocks: list[tuple[str, int, int]], b: int, body_end: int) -> int:
    """Where the quote of block b's last sentence (ending at `body_end`) ends: after the block it takes
    along, trailing white space left out; `body_end` when it takes none."""
    piece_end = _lead_in_end(text, blocks, b, body_end)
    return body_end + len(text[body_end:piece_end].rstrip())


def _lead_in_end(text: str, blocks: list[tuple[str, int, int]], b: int, end: int) -> int:
    """Where a lead-in sentence's quote ends: after the list, table or code block that follows it."""
    following = _following(text, blocks, b)
    kind = following[0][0] if following else None
    if kind not in ("item", "row", "code"):
        return end
    taken = list(itertools.takewhile(lambda block: block[0] == kind, following))
    if kind != "code":
        return taken[min(len(taken), LEAD_IN_LINES) - 1][2]
    fenced = _FENCE_RE.match(text[taken[0][1] : taken[0][2]])
    complete = len(taken) < len(following) or (
        fenced and len(taken) > 1 and _FENCE_RE.match(text[taken[-1][1] : taken[-1][2]])
    )
    # A long block, or one the chunk cuts off, is left out: the sentence then stands alone. A console or Python
    # session is the exception: its few commands are the answer, however much output they print ("$ fastapi run").
    lines = [text[x[1] : x[2]].strip() for x in taken if not _FENCE_RE.match(text[x[1] : x[2]])]
    inputs = len(_commands(lines)) or sum(line.startswith(">>> ") for line in lines)  # a shell's or Python's
    limit = _LEAD_IN_CONSOLE_LINES if 0 < inputs <= _MAX_INLINE_LINES else LEAD_IN_LINES
    return taken[-1][2] if complete and len(taken) <= limit else end


# -- choosing the quotes ---------------------------------------------------------------------------

# First words that point back at the sentence before ("It", "This ...") or carry on from it.
_REFERRING = frozenset([
    "it", "its", "this", "that", "these", "those", "they", "their", "them", "such", "however", "but", "also",
    "so", "then", "otherwise", "instead", "here", "there", "thus", "therefore", "hence", "and", "or", "now",
])
_BLOCK_KINDS = ("item", "row", "code")
_QUOTE_BUDGET = 420  # most characters of prose quoted (a lead-in's block comes on top)
_STATEMENT_BUDGET = 360  # most characters of two sentences a final answer states together
# "..., here's how you can do it.": announces what follows, which a stated sentence does not bring.
_HERES_HOW_RE = re.compile(r"\bhere(?:'s|\u2019s| is) (?:how|what|an example)\b", re.IGNORECASE)


def _lexical_score(question_terms: set[str], sentence: str) -> float:
    """Shared content words, longer (rarer) words weighing more."""
    return sum(math.log(1 + len(t)) for t in question_terms & content_terms(sentence))


def _first_word(text: str) -> str:
    match = re.match(r"\W*(\w+)", text)
    return match.group(1).lower() if match else ""


# The end of a lead-in that only announces what follows ("... like this:", "Here is an example:").
_ANNOUNCES_RE = re.compile(
    r"(?:\b(?:like this|like so|like here|as follows|the following(?: \w+)?|below|here|example|examples|e\.g\.)"
    r"|\b(?:is|are|looks|look|was|were)|\.\.\."
    # "To exclude files when using pre-commit, you have two options:": a count of what comes after it
    r"|\b(?:two|three|four|five|several|a few|some|multiple|many|various|different|\d+) (?:\w+ )?(?:options|ways|approaches"
    r"|choices|methods|alternatives|possibilities|steps|cases|modes|strategies))\s*[:：]\s*$",
    re.IGNORECASE,
)
# "Here is a simple example of how you can use SQLite 3 with Flask:": what comes next, announced.
_HERE_IS_RE = re.compile(r"^\W*here(?:'s|\u2019s| is| are)\b", re.IGNORECASE)
_POINTS_AT_RE = re.compile(r"\b(?:like this|like so|as follows|the following|as shown below)\b", re.IGNORECASE)
_REASON_RE = re.compile(r"^\W*(?:because|since)\b|\b(?:because|so that|in order to|due to|this is why|the reason)\b", re.I)
_PRONOUNS = frozenset(["it", "its", "this", "these", "they", "them", "their"])


def _refers_back(text: str, s: _Sentence) -> bool:
    """Whether a sentence leans on the one before (see `_leans_on`)."""
    return _leans_on(text[s.start : s.body_end])


def _leans_on(sentence: str) -> bool:
    """Whether a sentence leans on the one before: it opens with "It", "This", "However", "For that"... or
    has a pronoun among its first four words ("To start it, run:")."""
    words = re.findall(r"\w+", sentence.lower())[:4]
    return bool(words) and (words[0] in _REFERRING or any(w in _PRONOUNS for w in words) or (
        len(words) > 1 and words[0] in ("for", "with", "by", "after", "from") and words[1] in ("that", "those", "such")))


# "These are any `OPTIONS` request with ...": a plural "these" is most often what a section's heading names
# (not checked here), so a statement keeps it.
_THESE_ARE_RE = re.compile(r"^\W*(?:these|those|they) are\b", re.IGNORECASE)


def _leans_only_by_its_connective(sentence: str) -> bool:
    """"However, if you want ..., you can override ...": a sentence that leans on the one before by its opening
    connective alone, which a statement drops (`_CONNECTIVE_RE`); not "However, this ..."."""
    rest = _CONNECTIVE_RE.sub("", sentence, count=1)
    return rest != sentence and not _leans_on(rest)


_DEMONSTRATIVES = frozenset(["this", "that", "these", "those", "such"])
# First words that need the sentence before to be understood ("This is an awful lot of repetition").
_DEICTIC_OPENERS = _DEMONSTRATIVES | {"they", "them", "here"}
_OPENERS = frozenset([
    "a", "an", "the", "this", "these", "that", "when", "if", "to", "you", "in", "for", "by", "it", "each", "every",
    "all", "some", "most", "as", "on", "with", "there", "we", "our", "your", "once", "after", "before", "while",
])


def _title_prefix_end(text: str, sentence: _Sentence, title: str) -> int:
    """Where a sentence starts once a heading run into it is cut off ("Retries When a job fails...")."""
    body = text[sentence.start : sentence.body_end]
    for part in sorted((p.strip() for p in title.split(" > ")), key=len, reverse=True):
        if part and len(part.split()) <= 8 and body.startswith(part) and not has_final_punctuation(part):
            rest = body[len(part) :]
            stripped = rest.lstrip()
            opener = _first_word(stripped)
            # "Install Celery from PyPI" is a sentence: a one-word part is cut only before a sentence opener.
            if rest[:1].isspace() and stripped[:1].isupper() and len(stripped.split()) >= 4 and (
                len(part.split()) > 1 or opener in _OPENERS
            ):
                return sentence.start + len(body) - len(stripped)
    return sentence.start


_VERSION_NOTE_RE = re.compile(r"^(?:added|new|changed|deprecated) (?:in|since) version [\w.]+\.?$", re.IGNORECASE)
# A sentence about the documentation, not its subject: "... is outside the scope of this doc", "If you are
# curious why ..., this section is for you", "This documentation goes over ...", "See Testing for ...".
_ABOUT_THE_DOCS_RE = re.compile(
    r"\b(?:outside|beyond) (?:the )?scope of\b"
    r"|\b(?:section|doc|document|documentation|docs|page|chapter|guide|article|pattern|tutorial|recipe)s? (?:also )?"
    r"(?:is for you|goes? over|covers?|describes?|documents|explains?|discuss(?:es)?|focus(?:es)? on|guides? you|walks? you"
    r"|provides? (?:detailed |more |further |additional )?(?:information|details|guidance|instructions)"  # "These pages provide ..."
    r"|shows? (?:you|how)|will (?:show|explain|cover|describe|walk|guide|go over|teach|discuss))\b"
    r"|^\W*here(?:'s| is| are) (?:the )?(?:reference|some (?:additional |more |other )?(?:ideas|tips|notes|resources|examples))\b"
    r"|\bshould give you an idea\b"
    # "This section of the documentation is currently being fleshed out.": a notice that the text is not there yet
    # (the docs its subject: not "When the page cache is incomplete, ...").
    r"|\b(?:this|the) (?:section|page|documentation|docs|chapter|guide)(?: of (?:the|this) \w+)? (?:is|are) "
    r"(?:currently |still )?(?:being (?:written|fleshed out|worked on|expanded)|(?:a )?work in progress"
    r"|under construction|incomplete)\b"
    r"|^\W*(?:see|refer to|consult|check out)\s|\bread the (?:docs|documentation) (?:for|on|about)\b"
    r"|\b(?:continue|skip|jump|go|move) (?:on |ahead )?to the next (?:section|chapter|page)\b"
    r"|\b(?:refer to|consult) (?:the|its|their|each|that)\b.{0,60}\b(?:chapter|section|page|documentation|docs)\b"
    # "You'll see what other things can be used ... in the next chapter", "Later, in the Advanced User Guide,
    # you will see how to ...", "For more on Flask extensions, see Extensions.", "Read Extensiondev to ..."
    r"|^(?=.*\b(?:(?:in )?the next (?:chapter|section|page|part)s?|later in (?:this|the) (?:guide|tutorial|docs|documentation)"
    r"|in the (?:advanced )?user guide)\b).*\b(?:you|we)(?:'ll| will) (?:see|learn|read|find out|discover)\b"
    r"|^\W*(?:later|next),? (?:(?:on|when|in|after)\b[^.]{0,120}, )?(?:you|we)(?:'ll| will) (?:see|learn|read)"
    r" (?:how|about|what|more)\b"
    r"|\bfor more (?:on|about)\b[^.]{0,80},\s*see\s+(?-i:[A-Z`])|^\W*read (?-i:[A-Z`])\S* (?:to|for)\b",
    re.IGNORECASE,
)


# "A common question is how to add a favicon ...", "One of the most common questions is ...": the question, told as a
# statement; not when the sentence goes on to answer it ("... whether sessions are secure; they are signed ...").
_COMMON_QUESTION_RE = re.compile(r"^\W*(?:(?:a|the) |one of the )(?:(?:very|most) )?(?:common|frequent|frequently asked"
                                 r"|popular|typical|recurring) questions?\b(?![^.]*(?:;|: ))", re.IGNORECASE)


def _quotable(text: str, s: _Sentence, question: str, title: str) -> bool:
    """Whether a sentence may be quoted as (part of) an answer at all."""
    body = text[s.start : s.body_end].strip()
    if body.endswith(("?", "？")):
        return False  # a question asks, it does not answer
    if _VERSION_NOTE_RE.match(body):
        return False  # "Added in version 0.7." dates the text around it and says nothing alone
    if _ABOUT_THE_DOCS_RE.search(body) or _POINTER_RE.search(body):
        return False  # it tells what the docs cover or where to read on: no answer to a question about the subject
    if _COMMON_QUESTION_RE.match(body):
        return False  # "A common question is how to add a favicon ...": the question, told as a statement
    if s.takes == "dangling" and (len(body.split()) < 8 or _ANNOUNCES_RE.search(body) or _POINTS_AT_RE.search(body)
                                  or _HERE_IS_RE.match(body)
                                  or _OPEN_ENDED_RE.search(body.rstrip().rstrip(":："))):
        return False  # "... as follows:" or "... authenticate with:" with its example missing only announces
    if s.takes == "dangling" and _only_names_the_asked_way(body, question):
        return False  # "But in case you needed it ..., you can add custom headers:": its missing example was the way
    if markup_problem(text[s.start : s.end]) or restates_question(body, question, title):
        return False
    statement = as_statement(body) if s.takes else body
    if sentence_shape_problem(statement) in ("table_row", "menu_path", "heading"):
        return False
    if s.kind == "item" and not s.takes and not (body[:1].isupper() or body[:1] in "`\"'" or body[:1].isdigit()):
        return False  # "with `pip`, inside a virtual environment": a fragment of its lead-in, not a sentence
    # A line with no full stop is a heading, a caption or a short list item unless it is long.
    short = len(body.split()) < (6 if s.kind == "item" else 8)
    return s.takes is not None or has_final_punctuation(body) or not (short or normalized_text(body) in normalized_text(title))


@dataclass(frozen=True)
class QuoteChoice:
    """The quotes for an answer, in document order, and what the final answer says.

    Attributes:
        quotes: Verbatim pieces of the oracle, one per paragraph (or list/code block) quoted.
        best: The sentence the answer rests on.
        answer: The final answer: a statement built from the quoted sentence(s), or the reference
            answer when one was given.
        takes: What the best sentence, a lead-in, brings along ("item", "row", "code"), or None.
    """

    quotes: list[str]
    best: str
    answer: str = ""
    takes: str | None = None
    anchor: int | None = None  # the best sentence's index in `candidate_sentences`; None for a reference answer
    # The best sentence is X's own ("X is ...", "The `X` command ...") or tells how to do the asked action.
    direct: bool = False


def select_quotes(
    question: str,
    oracle_text: str,
    reference_answer: str | None = None,
    max_quotes: int = 3,
    similarities: Sequence[float] | None = None,
    *,
    title: str = "",
    evidence: tuple[int, int] | None = None,
) -> QuoteChoice | None:
    """The oracle's sentences that best answer the question, verbatim; None when nothing is quotable.

    A sentence containing the reference answer wins. Otherwise sentences inside `evidence` (offsets
    into `oracle_text`) come first, earlier ones ahead; then sentences are ranked by embedding
    similarity to the question when `similarities` (aligned with `candidate_sentences`) is given,
    with shared content words breaking near-ties, else by shared content words alone. Headings,
    table rows, menu paths, markup, questions and sentences restating the question are never
    quoted. The best sentence takes up to `max_quotes` adjacent sentences along (one it refers back
    to, ones that carry on from it), and its final answer must read as a statement.
    """
    sentences = list(_sentences(oracle_text))
    if not sentences:
        return None  # code or markup only: nothing worth quoting, the sample is rejected
    sentences = [dataclasses.replace(s, start=_title_prefix_end(oracle_text, s, title)) for s in sentences]
    if reference_answer:
        needle = normalize_whitespace(reference_answer).lower()
        containing = [s for s in sentences if needle in normalize_whitespace(oracle_text[s.start : s.end]).lower()]
        containing.sort(key=lambda s: not _quotable(oracle_text, s, question, title))
        if containing:
            quote = _render_quotes(oracle_text, containing[:1], [0])[0]
            return QuoteChoice([quote], quote, reference_answer.strip(), _block_kind(containing[0]))
    ok = [i for i, s in enumerate(sentences)
          if _quotable(oracle_text, s, question, title) and not _ends_a_split_sentence(oracle_text, sentences, i)]
    if not ok:
        return None
    semantic = similarities is not None and len(similarities) == len(sentences)
    in_evidence = _in_evidence(sentences, ok, evidence)
    subject_stems = _subject_stems(_subject(question))
    for_heading = _stands_for_heading(oracle_text, sentences, in_evidence, evidence, subject_stems, title,
                                      code="`" in question)
    scores = _scores(question, oracle_text, sentences, ok, similarities if semantic else None, in_evidence,
                     for_heading)
    if reference_answer:  # not verbatim in the oracle: the sentences that cover its words answer it
        for i in ok:
            scores[i] += 2.0 * answer_coverage(reference_answer, oracle_text[sentences[i].start : sentences[i].end])
    if evidence is not None and not in_evidence:
        ok = [i for i in ok if scores[i] > 0]  # no answer in the evidence: only a sentence on the topic will do
    ranked = sorted(ok, key=lambda i: (-scores[i], i))
    # The question's own markup is the validation's to count; the answer is judged on its words.
    asked = normalized_text(question)
    quotable = set(ok)
    groups = {anchor: _extend(oracle_text, sentences, quotable, anchor, scores, in_evidence, max_quotes, semantic)
              for anchor in ranked[:8]}
    # "This is an awful lot of repetition ..." without the sentence it points back to says nothing
    # alone: such an anchor comes after every other candidate.
    dangling = {a for a, group in groups.items() if group[0] == a and a != for_heading
                and _opens_deictic(oracle_text, sentences[a])}
    form = question_form(question)
    why = form == "why"
    # What the code line a how- or what-question's answer states must name: its words but the question's own ("how",
    # "do", "I", "use"): `r.status_code` for "What are response status codes?".
    code_terms = frozenset(_stems(question)) - _NOT_CODE_TERMS if form in ("how", "other") else frozenset()
    both = _both_actions(question)
    for anchor in sorted(groups, key=lambda a: (a in dangling, ranked.index(a))):
        group = groups[anchor]
        # A step of a way is quoted with the lead-in that tells the way and takes its list ("To avoid this cache
        # busting you can split this into two steps:" over "1. Install 3rd party dependencies."), not alone.
        lead = _lead_in_of(oracle_text, sentences, anchor) if form == "how" else None
        quoted = anchor
        if lead is not None and lead in quotable:
            quoted = lead
            group = groups.get(lead) or _extend(oracle_text, sentences, quotable, lead, scores, in_evidence, max_quotes,
                                                semantic)
        opening = sentences[group[0]]
        if group[0] != for_heading and _after_code(oracle_text, opening) and _opens_deictic(oracle_text, opening):
            continue  # "This example adds the same command, ...", "That function is what ...": about code not quoted
        anchor_body = oracle_text[sentences[quoted].start : sentences[quoted].body_end]
        defines = anchor == for_heading or bool(subject_stems) and _names(subject_stems, anchor_body) == "opens"
        # a how-answer's last sentence that tells the way takes the short code after it, which carries the way out
        shown = _with_its_code(question, oracle_text, sentences, group) if form == "how" else sentences
        statement = _statement(oracle_text, shown, group, quoted, defines, why=why, how=form == "how",
                               terms=code_terms)
        other = _other_half(oracle_text, sentences, in_evidence or ok, group, both, statement)
        if other is not None:  # "How do I set and disable timeouts?": the half the statement left out
            said = _sentence_statement(oracle_text, sentences[other], code_terms)
            statement = _standalone(f"{statement} {said}" if other > anchor else f"{said} {statement}")
            group = sorted({*group, other})
        answer = _with_its_subject(question, _as_definition(question, statement))
        if _says_something_else(question, form, subject_stems, answer):
            continue
        if anchor == for_heading:
            answer = _named_for_heading(question, answer)
        quotes = _render_quotes(oracle_text, shown, group)
        if answer and content_problem(asked, quotes, answer, title=title) is None:
            best = oracle_text[sentences[quoted].start : sentences[quoted].end].strip()
            final = reference_answer.strip() if reference_answer else answer
            return QuoteChoice(quotes, best, final, _block_kind(sentences[quoted]), anchor,
                               anchor == for_heading or _direct(question, anchor_body))
    return None


_SUBJECT_RE = re.compile(r"^what (?:is|are|was|were|does|do) (?:(?:the|a|an) )?(.+?)(?: mean| do| for)?$")
# "How do I <verb>", "Can I <verb>", "how to <verb>", "is it possible to <verb>": the action asked about.
_ACTION_RE = re.compile(
    r"\b(?:(?:do|does|can|could|should|would|may|might|must|shall|will)(?: not| n t)? (?:i|you|we|one|users?)"
    r"|how to|possible to|way to)(?: (?:also|still|ever|just|then|now|really|safely|easily))? ([a-z]+)"
)
# Verbs that say nothing of what is done ("How do I use ...?": the object says it).
_VAGUE_VERBS = frozenset(["use", "do", "get", "make", "have", "be", "go", "need", "want", "know", "see", "try"])
# A sentence that opens with an aside (an admonition label, a version note) or a condition or concession: background
# to the direct statement, which answers better when the section has one.
_ASIDE_RE = re.compile(
    r"^\W*(?:(?:note|warning|caution|danger|attention|important)\b\s*(?::|that\b)|(?:tip|hint|info|technical details)\s*:|notice (?:that|how)\b"
    r"|(?:added|changed|new|deprecated) in version\b|deprecated since\b)", re.IGNORECASE,
)
# "This section guides you through ...", "In this chapter, you will ...": a signpost to the text, not
# an answer (it stays quotable when nothing better is there).
_SIGNPOST_RE = re.compile(
    r"^\W*(?:in\s+)?(?:this|the\s+following|the\s+next)\s+(?:section|page|chapter|guide|document|tutorial|article|part)s?\b",
    re.IGNORECASE,
)
# "You might want to restrict the headers", "There could be cases where ...", "It can be useful to open a
# resource in a group, ...": why one would do something, which a "How do I ...?" answer follows rather than is.
# "want to", "also need": what a reader is said to need, after "you may", "you could" ...
_NEED = r"(?:also\s+|still\s+|sometimes\s+)?(?:want|need|wish|like)\b"
_MOTIVATION_RE = re.compile(
    r"\b(?:you|we|users?|one)\s+(?:might|may|could|would|will|often)\s+" + _NEED
    + r"|\bthere (?:are|could be|might be|may be|will be) (?:some )?(?:cases|situations|times)\b"
    r"|^\W*(?:in some (?:\w+ ){0,3}cases|sometimes)\b|\b(?:you|we) (?:don't|do not) (?:really )?need\b"
    r"|^\W*it (?:can|could|may|might) (?:also |often |sometimes )?be (?:useful|handy|helpful|convenient|desirable)"
    r" to\b",
    re.IGNORECASE,
)
# "There are some situations where it's useful to be able to add custom headers ...", "It can be useful to ...": when
# or why one would, said of the asked action itself; alone and without code, no way to do it.
_WHY_NOT_HOW_RE = re.compile(
    r"^\W*(?:there (?:are|could be|might be|may be|will be) (?:some )?(?:cases|situations|times)"
    r"|it (?:can|could|may|might) (?:also |often |sometimes )?be (?:useful|handy|helpful|convenient|desirable) to)\b",
    re.IGNORECASE)
# "Imagine that you want ...", "Let's say ...": a scene set for an example.
_SCENE_RE = re.compile(r"^\W*(?:imagine|suppose|let'?s say|say you)\b", re.IGNORECASE)
# "First, let's create a Pydantic user model.": a tutorial's step, which the final answer states as one.
_LETS = r"(?:(?:so|now|then|next|first|finally|ok|okay|alright),?\s+)?let(?:'s|\u2019s|\s+us)\s+"
_LETS_RE = re.compile(f"^{_LETS}", re.IGNORECASE)
# "Ah yes, the good old problem of file uploads.", "Let's see how to ...", "At this point we have the user
# data ...": the text talking to its reader or telling where the tutorial stands, which says nothing of
# the subject alone. (A "Let's see it:" with its code is a step: see `_idle`.)
_CHATTER_RE = re.compile(
    r"^\W*(?:(?:(?:ah|oh)(?: yes| no| well)?|well|ok|okay|alright|yay|hooray|wow|voil[aà])\b\s*[,!]"
    r"|(?:at this point|right now|so far|up to now|(?:up )?until now),? (?:we|you)(?:'ve|'re|\s+(?:have|are|know))\b"  # "Right now we're returning a `list`"
    r"|(?:you|we)(?: have|'ve)? (?:just|already) (?:saw|seen|learned|learnt|read|did|done)\b"  # "You just saw the main place ..."
    r"|(?:you|we) (?:may|might|probably) (?:already )?have (?:already )?(?:seen|noticed|heard)\b"  # "You may have seen that ..."
    r"|to (?:understand|see) (?:this|it|that|how)\b[^,.]{0,40}?,?\s+let(?:'s|\u2019s|\s+us)\s+"  # "To understand this better let's ..."
    f"|{_LETS}(?:now\\s+|first\\s+|quickly\\s+)?(?:(?:start|begin) by (?:looking|seeing|checking)|see|look|walk|recap|review|dive|explore|imagine|say|suppose|assume"
    r"|pretend|think|understand|discuss|talk|focus|zoom|have a look|take a look|try (?:it|that|this))\b"
    f"|{_LETS}\\w+\\s+such\\b)",
    re.IGNORECASE,
)
# "you can X", "use Y to X", "run ...": a sentence that tells how (with the asked verb, it is the answer).
_INSTRUCTION_VERBS = r"(?<![\w-])(?:use|run|call|set|pass|add|type|enter|execute|configure)(?![\w-])"  # not "Content-Type"
# "you may want to ...", "you could also need ...": a need (`_MOTIVATION_RE`), not what to do about it.
_NOT_A_NEED = rf"(?!\s+{_NEED})"
_INSTRUCTION_RE = re.compile(
    r"\b(?:you|we)\s+(?:can|could|may|should|must|need to|have to|will need to)\b" + _NOT_A_NEED + "|" + _INSTRUCTION_VERBS,
    re.IGNORECASE,
)
# "Prefer using Gunicorn ...", "Keep in mind that ...", "Make sure ...": advice about the thing, not what it is.
_ADVICE_RE = re.compile(
    r"^\W*(?:prefer|avoid|consider|remember|always|never|don't|do not|make sure|be sure|keep in mind|try to)\b",
    re.IGNORECASE,
)
# "For example, you could use it to ...", "In our example, we are requesting `pendulum` ...": one use, not the way
# nor what the thing is.
_EXAMPLE_RE = re.compile(r"^\W*(?:for (?:example|instance)|e\.g\.|in (?:our|this|the above) example\b|in our case\b)",
                         re.IGNORECASE)
# "You can read more at ...", "See X for more details", "More details about how X works ... is available in ...",
# "Read the new docs: Query Parameter Models.", "In the next few sections we'll see ...", "In the main tutorial you
# read how to ...", "And then you also read how to ...": a pointer elsewhere, not an answer.
_POINTER_RE = re.compile(
    r"\b(?:read|learn|find out|see) more\b|\bfor (?:more|further) (?:details|information)\b"
    # not "Read the Docs builds ...": the docs in lower case, then what they are about
    r"|^\W*(?:read|see|check(?: out)?) the (?:new |updated |full )?(?-i:docs|documentation)(?::|\s+(?:for|on|about)\b)"
    # another section of the text, ahead or behind (not "In the admin page you will see ...", a page of an app)
    r"|^\W*in (?:a|an|the|this|that|one of the) (?:[\w`-]+ ){0,4}(?:section|chapter|tutorial|guide)s?\b"
    r"[^.]{0,80}?\b(?:you|we)(?:'ll| will| have|'ve)? (?:saw|seen|see|learn|learned|learnt|read)\b"
    r"|^\W*(?:(?:and|but|so)(?: then)?,?\s+)?(?:then\s+)?(?:you|we)(?: have|'ve)? (?:also |just |already )?(?:saw|seen|read"
    r"|learned|learnt) how to\b"
    r"|\bmore (?:details|information)\b[^.]{0,60}?\b(?:can be found|is available|are available)\b"
    # "This is the same information you saw on the section about Commands - Typer Callback, ..."
    r"|\b(?:you|we)(?: have|'ve)? (?:saw|seen|read|learned|learnt) (?:in|on) (?:the|a|an|this|that) (?:[\w`-]+ ){0,3}"
    r"(?:section|chapter|tutorial)s?\b",
    re.IGNORECASE,
)
# "If you want to X, ..." states a purpose, not a condition: it answers "How do I X?".
_CONDITION_RE = re.compile(
    r"^\W*(?:while|whilst|although|though|even (?:if|though|when)|whereas"
    r"|if(?! (?:for some reason,? )?you (?:want|wish|need|would like|prefer|'d like)\b))\b", re.IGNORECASE,
)


def _subject(question: str) -> str | None:
    """The X of "What is X?" / "What does X mean?", lower-case words, or None."""
    match = _SUBJECT_RE.match(normalized_text(_last_sentence(question)))
    return match.group(1) if match and len(match.group(1).split()) <= 6 else None


def _last_sentence(question: str) -> str:
    """The sentence that asks: "I don't want Poetry to manage my environments. Can I disable it?" asks
    "Can I disable it?"; the sentences before it set the scene."""
    pieces = [p for p in _SENTENCE_END_RE.split(question.strip()) if p.strip()]
    return pieces[-1] if pieces else question


@functools.cache
def _stemmer():
    import Stemmer  # PyStemmer: the Snowball stemmer BM25 retrieval uses too

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=16384)
def _stems(text: str) -> tuple[str, ...]:
    """The text's words, lower-cased and Snowball-stemmed, in order ("disabling" -> "disabl")."""
    return tuple(_stemmer().stemWords(re.findall(r"[^\W\d_]+", text.lower())))


@functools.lru_cache(maxsize=16384)
def _verb_lemmas(word: str) -> frozenset[str]:
    """The base forms a word has as a verb ("disables" -> {"disable"}; "installation", a noun only: none)."""
    return frozenset(lemminflect.getAllLemmas(word).get("VERB", ()))


def _asked_action(question: str) -> frozenset[str]:
    """The verb a "How do I / Can I / how to ...?" question asks about, as its base forms (empty when
    there is none, or only a vague one like "use")."""
    found = _ACTION_RE.findall(normalized_text(_last_sentence(question)))
    verb = found[-1] if found else ""
    return frozenset() if verb in _VAGUE_VERBS else _verb_lemmas(verb) - _VAGUE_VERBS


_BOTH_ACTIONS_RE = re.compile(r"^how (?:do|can|should) (?:i|you|we) ([a-z]+) and ([a-z]+) ")


def _both_actions(question: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """The two verbs of a "How do I set and disable timeouts?" question, as their base forms; else None."""
    match = _BOTH_ACTIONS_RE.match(normalized_text(_last_sentence(question)) + " ")
    if not match:
        return None
    first, second = (_verb_lemmas(verb) - _VAGUE_VERBS for verb in match.groups())
    return (first, second) if first and second else None


def _other_half(text: str, sentences: list[_Sentence], candidates: list[int], group: list[int],
                both: tuple[frozenset[str], frozenset[str]] | None, statement: str) -> int | None:
    """For a question asking two things, the first candidate sentence that does the one the statement
    does not ("Or disable timeouts for an individual request:" after "You can set timeouts ..."); None
    when the statement does both, or nothing quotable does the other."""
    if both is None:
        return None
    missing = [action for action in both if not _does(action, statement)]
    if len(missing) != 1:
        return None
    return next((k for k in candidates if k not in group
                 and _does(missing[0], text[sentences[k].start : sentences[k].body_end])), None)


_NOT_CODE_TERMS = frozenset(_stems(" ".join(STOPWORDS) + " how i use using get make"))
_PASSIVE_AUXILIARIES = frozenset(["be", "is", "are", "was", "were", "been", "being", "get", "gets"])


def _does(action: frozenset[str], sentence: str) -> bool:
    """Whether a sentence does the asked action: the verb in its present forms or a passive ("you can
    disable ...", "is disabled by ..."), not as a participle describing a noun ("the information declared")."""
    if not action:
        return False
    words = re.findall(r"[^\W\d_]+", sentence.lower())
    for k, word in enumerate(words):
        if action & _verb_lemmas(word):
            past = word.endswith("ed") and word not in action
            if not past or (k > 0 and words[k - 1] in _PASSIVE_AUXILIARIES):
                return True
    return False


def _subject_stems(subject: str | None) -> tuple[str, ...]:
    """The content-word stems of the X of "What is X?" (empty without one)."""
    return tuple(_stems(" ".join(w for w in (subject or "").split() if w not in STOPWORDS)))


def _direct(question: str, sentence: str) -> bool:
    """Whether a sentence answers the question by its form: X as its subject for "What is X?", or
    how to do the action of "How do I ...?". Not the text talking about itself ("You just saw the main place to
    declare type hints.")."""
    if _CHATTER_RE.match(sentence):
        return False
    return (_names(_subject_stems(_subject(question)), sentence) == "opens"
            or _instructs(_asked_action(question), sentence))


def _instructs(action: frozenset[str], sentence: str) -> bool:
    """Whether a sentence tells how to do the asked action: the verb as an imperative or purpose
    ("Install `uv`", "To stream SSE, use ..."), or with "you can" / "use ..." ("You can use the
    model configuration to `forbid` ...")."""
    if not _does(action, sentence) or _EXAMPLE_RE.match(sentence):
        return False
    words = re.findall(r"[^\W\d_]+", sentence.lower())
    if words and (words[0] in action or (words[0] == "to" and len(words) > 1 and words[1] in action)):
        return True
    # An imperative step that names the action further on: "Create a virtualenv, install your application,
    # then install `mod_wsgi`." tells how to install mod_wsgi.
    # ("Tip: ..." is a label, not the verb "tip".)
    opening = re.match(r"\W*([A-Za-z]+)\s", sentence)
    # "Support can be added for shells ...": a noun that is also a verb, as the subject of a modal, is no imperative
    imperative = opening and words[0] in _verb_lemmas(words[0]) and not _SUBJECT_OF_MODAL_RE.match(sentence)
    return bool(_INSTRUCTION_RE.search(sentence)) or bool(imperative)


# "Support can be added ...", "Logging is configured ...": a first word that is the subject of the verb after it.
_SUBJECT_OF_MODAL_RE = re.compile(
    r"\W*[A-Za-z]+\s+(?:can|could|may|might|must|should|will|would|is|are|was|were|has|have)\b", re.IGNORECASE)
# "You must have `write` permissions ... to cut a release.": what one needs first, not the way.
# (Not "be": "You should be able to install it with ...", "You have to be in the folder and run ..." tell the way.)
_REQUIREMENT_RE = re.compile(
    r"^\W*(?:you|we|users?)\s+(?:must|need to|have to|will need to|should)\s+(?:first\s+)?(?:have|own|hold)\b",
    re.IGNORECASE)
# Where a requirement ends and what to do may start: the sentence's end, a colon or semicolon, ", then", "and then".
_AFTER_REQUIREMENT_RE = re.compile(r"(?<=[.!?;:])\s+|,\s+(?:and\s+)?then\s+|\s+and\s+then\s+", re.IGNORECASE)


_YOU_CAN_RE = re.compile(r"\b(?:you|we)\s+(?:can|should|must|need to|have to|will need to)\b", re.IGNORECASE)
# "`POETRY_REQUESTS_TIMEOUT` can be set to alter this value": a way, in the passive, with the code that does it as
# its subject (not "Fields can be specified in any order"; `_POSSIBLE_WAY_RE` is the gate's looser reading).
_CAN_BE_DONE_RE = re.compile(
    r"`[^`]+` can (?:also )?be (?:set|configured|changed|overridden|disabled|enabled|passed|specified|adjusted|customi[sz]ed|"
    r"increased|raised|lowered|turned (?:on|off)|controlled) (?:to|with|by|in|using|via|through)\b", re.IGNORECASE)
_BY_DOING_RE = re.compile(r"\bby (?:setting|passing|adding|using|calling|running|installing|declaring)\b", re.I)
# Verbs that open a step ("Set `X` ...", "Mount a `StaticFiles()` instance ..."); a word list, because a
# dictionary also calls "up", "flask" or "this" verbs.
_IMPERATIVES = frozenset([
    "use", "run", "set", "add", "call", "pass", "create", "install", "import", "define", "declare", "configure",
    "enable", "disable", "open", "write", "put", "change", "start", "stop", "edit", "remove", "delete", "replace",
    "register", "provide", "specify", "include", "return", "mount", "send", "check", "update", "type", "enter",
    "execute", "select", "choose", "copy", "build", "deploy", "activate", "save", "load", "apply", "wrap",
    "override", "raise", "catch", "point", "list", "generate", "upgrade", "downgrade", "export", "initialize",
    "initialise", "attach", "assign", "inherit", "extend", "navigate", "visit", "restart", "login", "log",
])
_NOT_THE_WAY_RE = re.compile(r"\b(?:also|could|would|might|never|had)\b|\b(?:should|must)(?:n't| not)\b", re.IGNORECASE)


def _tells_a_way(sentence: str) -> bool:
    """A sentence that tells how to do something, whatever the verb: "you can/should ...", "use/run/set
    ...", "... by setting ...", or an imperative opening ("Set `X` to ...")."""
    if _EXAMPLE_RE.match(sentence) or _MOTIVATION_RE.search(sentence):
        return False
    if _NOT_THE_WAY_RE.search(sentence):
        return False  # "You could also use ...", "should not be run as root": an alternative or a warning
    opening = re.match(r"\W*([A-Za-z]+)\s", sentence)
    return bool(_YOU_CAN_RE.search(sentence) or _BY_DOING_RE.search(sentence) or _CAN_BE_DONE_RE.search(sentence)
                or (opening and opening.group(1).lower() in _IMPERATIVES))


# What may come before a way's verb: "First, configure ...", "In your FastAPI application, import ...", "To use
# gevent, write ...", "If you want to use Gevent and asyncio, you'll need to ...".
_WAY_OPENING_RE = re.compile(
    r"^\W*(?:(?:first|then|next|now|finally|also|so|here|instead),?\s+|(?:in|inside|on|from|for|with|at)\s[^,]{1,60},\s+"
    r"|to\s[a-z]+[^,]{0,80},\s+|if you (?:want|need|wish|would like)\s[^,]{1,80},\s+)", re.IGNORECASE,
)
# "you use `HTTPException`", "use `fallback=None`", "pass the IP addresses ...", "you can define ...": a way's verb,
# not in the passive of a description ("a package which is set up ...").
_ACTIVE_INSTRUCTION_RE = re.compile(
    r"(?<!\bis )(?<!\bare )(?<!\bbe )(?<!\bbeen )" + _INSTRUCTION_VERBS
    + r"|\b(?:you|we)\s+(?:can|may|should|must|have to|will need to)\b" + _NOT_A_NEED,
    re.IGNORECASE,
)
# "It is also possible to load configuration from a file ... using `from_file()`", "The reloader can watch
# additional files with the `--extra-files` option": a way told as a possibility.
_POSSIBLE_WAY_RE = re.compile(
    rf"\b{_POSSIBLE_TO}\b|\bcan be \w+ (?:with|using|by|via|from|through)\b"
    # "... HTTP proxies via the `proxy` parameter": the code that does it, named with its kind (not "When using the
    # `httpx` client, ...")
    r"|\b(?:with|using|via|through) (?:the |a |an )?`[^`]+` (?:option|flag|argument|parameter|setting|command|method"
    r"|function|decorator|attribute|field|class|variable)s?\b", re.IGNORECASE,
)


def _only_names_the_asked_way(lead: str, question: str) -> bool:
    """Whether a lead-in says no more than the asked way after its last comma, with nothing before it that tells
    one: "But in case you needed it for an advanced scenario, you can add custom headers:"; not "With the `headers`
    argument of `HTTPException`, you can add custom headers:"."""
    before, _, last = lead.rstrip().rstrip(":：").rpartition(",")
    return restates_question(last, question) and "`" not in before and not re.search(
        r"\b(?:with|by|using|via|through)\b", before, re.IGNORECASE)


def gives_a_way(question: str, answer: str) -> bool:
    """Whether a final answer to "How do I ...?" tells a way to do it: an instruction or a step ("Create a
    virtualenv, ...", "First, configure the package source ...", "To use gevent, write a script ..."), "you
    can ...", "by setting ...", a way told as a possibility ("It is also possible to ... using `from_file()`"),
    or a command it gives ("...: `poetry sync`"). Not a definition, an intro or a scene ("A plugin is a regular
    Python package ...", "Poetry makes project environment isolation one of its core features.")."""
    action = _asked_action(question)
    if _CHATTER_RE.match(answer):
        return False  # "You just saw the main place to declare type hints.": the text talking about itself
    if _WHY_NOT_HOW_RE.match(answer) and "`" not in answer and len(_SENTENCE_END_RE.split(answer.strip())) == 1:
        return False  # one sentence of when one would do it, naming no code that does it
    if _REQUIREMENT_RE.match(answer):  # what one needs first; a way may follow it
        rest = _AFTER_REQUIREMENT_RE.split(answer, maxsplit=1)[1:]
        return bool(rest) and gives_a_way(question, rest[0])
    if _tells_a_way(answer) or _instructs(action, answer) or _POSSIBLE_WAY_RE.search(answer) \
            or _ACTIVE_INSTRUCTION_RE.search(answer) or re.search(r":\s*`[^`]+`", answer):
        return True
    # "The `poetry build` command builds ...", "Publishing is done with `poetry publish`": the code that does it.
    if re.match(r"\W*(?:the )?`[^`]+`", answer, re.IGNORECASE) and _does(action, " ".join(answer.split()[:8])):
        return True
    if re.search(r"\b(?:is|are) done (?:with|by|using|via) `", answer):
        return True
    rest = answer
    for _ in range(2):
        rest = _WAY_OPENING_RE.sub("", rest, count=1)
    first = _first_word(rest)
    return first in _IMPERATIVES or first in action


# What a named thing is said to be right after its name: "the `click-contrib` organization", "the X command".
# The kinds a heading names plus the kinds of package a page introduces (see vocabulary).
_KIND_NOUNS = frozenset(ACTING_KINDS + VALUE_KINDS + PACKAGE_KINDS) | frozenset(
    ["organization", "organisation", "repository", "object", "type"])


def _names(subject_stems: tuple[str, ...], sentence: str) -> str | None:
    """How a sentence names the subject of "What is X?": "opens" when X is what it is about (the
    term of a "term: definition" line, or its first content words followed by a verb: "Tilde
    requirements specify ...", "The `on` form restricts ..." for "on form", not "The template folder
    ..." for "templates"), "names" when all of X's words are in it further on, or None. Word forms
    and markup aside."""
    if not subject_stems:
        return None
    words = re.findall(r"[^\W\d_]+", sentence.lower())
    stems = _stems(sentence)
    term = _DEFINITION_RE.match(sentence)  # a glossary line: "run: One execution of a job."
    if term and set(_stems(term.group("term"))) == set(subject_stems):
        return "opens"
    if words and words[0] in _DEMONSTRATIVES:
        return "names" if set(subject_stems) <= set(stems) else None  # "That status code will be used ...": leans back
    content = [k for k, word in enumerate(words) if word not in STOPWORDS and word not in _DETERMINERS]
    head = content[: len(subject_stems)]
    if head and head[0] <= 2 and {stems[k] for k in head} == set(subject_stems):
        nxt = head[-1] + 1
        # "The click-contrib GitHub organization exists as ...": X, then what kind of thing it is.
        end = next((k for k in range(nxt, min(nxt + 2, len(words))) if words[k] in _KIND_NOUNS), head[-1])
        after = words[end + 1] if end + 1 < len(words) else ""
        negated = end + 2 < len(words) and words[end + 2] in ("never", "not")  # "Flask will never have ...": not what X is
        if not after or after in ("and", "or") or ({"VERB", "AUX"} & set(lemminflect.getAllLemmas(after)) and not negated):
            return "opens"
    return "names" if set(subject_stems) <= set(stems) else None


# "It was one of the first ...", not "It is easy to ...", "It is also possible to ...", "It would probably all
# start by ..." or "It depends on ..." (an "it" standing for nothing). Stricter than offline_questions'
# `_NAME_PRONOUN_RE`: the heading's name takes the pronoun's place.
_HEADING_PRONOUN_RE = re.compile(
    rf"^(?:It(?!{EXPLETIVE_IT})(?:\s+(?!(?:would|could|might|may|should|will|can|must|seems|depends|turns|happens"
    r"|means|makes)\b)|['\u2019]s\s+)|They(?:['\u2019]re)?\s+)(?=[a-z])"
)
# "This is a Python script that ..." under "get-pip.py": a definition of the heading's thing when that thing is
# code (under "Internationalized Application URLs", "This is an awful lot of repetition ..." is no definition).
_HEADING_THIS_IS_RE = re.compile(r"^(?:This\s+(?=is (?:a|an|the) )|These\s+(?=are (?:a|an|the|some) ))")
_CONTRACTED = frozenset(["it's", "it\u2019s", "they're", "they\u2019re"])
# "These options can be added to a `Set-Cookie` header ..." under "Set-Cookie options": the heading's own noun
# after "This"/"These" stands for the heading, as "It" does.
_HEADING_DEMONSTRATIVE_RE = re.compile(r"^(?:This|These)\s+(?P<noun>(?!(?:is|are|was|were)\b)[\w-]+)\b(?=[\s,])")


def _stands_for_heading(text: str, sentences: list[_Sentence], in_evidence: list[int], evidence, subject_stems,
                        title: str, code: bool = False) -> int | None:
    """The section's first sentence when it opens with "It"/"They" for the section's heading, which is
    the X of "What is X?": under "Sanic", "It was one of the first extremely fast Python frameworks ..."
    is Sanic's own sentence, not one leaning on the sentence before. "These options ..." under "Set-Cookie
    options" (the heading's last noun after "This"/"These") is the heading's own sentence too, and so is "This is a
    ..." when the X asked about is `code`."""
    if not subject_stems or not in_evidence or evidence is None:
        return None
    first = in_evidence[0]
    # The line before the section; a section that opens the chunk has its heading at the end of the title.
    heading = text[: evidence[0]].rstrip().rpartition("\n")[2] or title.rpartition(" > ")[2]
    body = text[sentences[first].start : sentences[first].body_end]
    if set(_stems(heading)) != set(subject_stems):
        return None
    demonstrative = _HEADING_DEMONSTRATIVE_RE.match(body)
    if _HEADING_PRONOUN_RE.match(body) or demonstrative and _stems(demonstrative.group("noun")) == subject_stems[-1:]:
        return first
    if code and _defines_a_kind(body):
        return first
    return None


def _defines_a_kind(sentence: str) -> bool:
    """Whether a sentence opens "This is a ..." / "These are ..." and names a kind of thing ("This is a Python
    script that ..."), not an event or a judgement ("This is a big change from earlier versions")."""
    if not _HEADING_THIS_IS_RE.match(sentence):
        return False
    phrase = _DEFINING_PHRASE_RE.match(re.sub(r"^(?:This is|These are) (?:a|an|the|some) ", "A ", sentence))
    return bool(phrase) and phrase.group("head").lower().rstrip("s") in _THING_NOUNS


# Kinds of thing a code name can be, for "This is a ..." to define it.
_THING_NOUNS = frozenset(["script", "file", "tool", "module", "package", "library", "function", "class", "method",
                          "command", "option", "setting", "variable", "parameter", "argument", "decorator", "object",
                          "type", "field", "attribute", "plugin", "extension", "hook", "helper", "utility", "wrapper",
                          "backend", "format", "directory", "key", "flag", "value", "string", "list", "dict"])


def _in_admonition(text: str, sentences: list[_Sentence], i: int) -> bool:
    """Whether sentence i carries on a paragraph that opens with "Note:" or "Warning:"."""
    first = next(k for k in range(i + 1) if sentences[k].block == sentences[i].block)
    return first < i and bool(_ASIDE_RE.match(text[sentences[first].start : sentences[first].body_end]))


def _aside(sentence: str, question: str) -> bool:
    """A note or warning, a signpost ("In this chapter, you will ..."); or a sentence opening with a
    condition or concession that is not what the question asks about: "If one of your
    dependencies is declared multiple times, ..." answers "How do I use the same dependency multiple
    times?", "While Poetry creates environments, ..." does not answer "Can I disable it?"."""
    if _note_or_signpost(sentence):
        return True
    if not _CONDITION_RE.match(sentence):
        return False
    asked = _last_sentence(question)
    if re.search(r"\b(?:if|when|while|unless|whenever)\b", asked, re.IGNORECASE):
        return False
    condition = sentence.split(",", 1)[0]
    return len(content_terms(asked) & content_terms(condition)) < 2


def _scores(
    question: str, text: str, sentences: list[_Sentence], ok: list[int], similarities, in_evidence: list[int],
    for_heading: int | None = None,
) -> dict[int, float]:
    """How well each quotable sentence answers the question.

    Word overlap normalised to 0..1 (or cosine similarity plus a little overlap), then: a sentence
    that leans on the one before inherits most of its score; one that opens with the X of "What is
    X?" gains, and so does the section's lead sentence (with an evidence span, the question came from
    the section's heading: its first direct sentence introduces X); for "How do I / Can I <verb> ...?"
    a sentence with that verb in any form gains, and a lead-in with its code or list too; a note, a
    warning or a sentence opening with a condition ("If", "While") loses to a direct one; a sentence
    that leans on one it cannot be quoted with loses; with an evidence span its first sentences gain
    and sentences outside it drop below any inside. Without any overlap or similarity a score is 0
    or less.
    """
    terms = content_terms(question)
    bodies = [text[s.start : s.body_end] for s in sentences]
    lexical = [_lexical_score(terms, body) for body in bodies]
    if similarities is not None:
        relevance = [float(sim) + 0.02 * lex for sim, lex in zip(similarities, lexical)]
        boost = 0.3  # cosine similarities spread less than normalised word overlap
    else:
        top = max(lexical) or 1.0
        relevance = [lex / top for lex in lexical]
        boost = 1.0
    quotable = set(ok)
    for i in range(1, len(sentences)):  # "To start it, run:" is about what the sentence before names
        if _refers_back(text, sentences[i]) and _adjacent(text, sentences, i - 1, i):
            relevance[i] = max(relevance[i], 0.8 * relevance[i - 1])
    subject = _subject(question)
    subject_stems = _subject_stems(subject)
    action = _asked_action(question)
    form = question_form(question)
    asides = {i for i in ok if _aside(bodies[i], question) or _in_admonition(text, sentences, i)}
    idle = {i for i in ok if _idle(sentences[i], bodies[i])}
    # The text's answer to a question it asks itself about the subject ("What does a cache do? [...] the
    # idea is that you put the result ... into a cache"): the author's own answer, ahead of the section's lead.
    answers_own_question = _answers_own_question(text, sentences, bodies, ok, idle, question)
    # The section's lead: its first sentence that is neither an aside nor the need, scene or chatter it
    # opens with ("In some cases you don't really need ...", "Imagine that you want ...", "Ah yes, ...").
    # Nor advice ("Prefer using Gunicorn ... rather than using gevent directly."), which says what to do about X.
    # Nor a field of another term ("Audience: users who want ...", a page's metadata), which is about that term.
    lead = next((i for i in in_evidence if i not in asides and i not in idle and not _MOTIVATION_RE.search(bodies[i])
                 and not _ADVICE_RE.match(bodies[i]) and not _field_of_another_term(bodies[i], subject_stems)),
                None) if subject and answers_own_question is None else None
    named = {i: "opens" if i == for_heading else _names(subject_stems, bodies[i]) for i in ok} if subject else {}
    # With no sentence about X by name, the section's lead defines it ("The `at` form runs a job ..."
    # under "Fixed times"), more surely than a later one that mentions X ("at most 48 fixed times").
    lead_bonus = 0.5 if "opens" in named.values() else 0.8
    scores = {}
    for i in ok:
        s = sentences[i]
        score = relevance[i]
        if subject:  # "What is X?": "X is ...", a sentence naming all of X, and the section's lead
            # X as the sentence's subject ("The `self add` command will ensure ...") defines it; a
            # sentence that only mentions X ("formats supported by the `self add` command") does not.
            score += boost * ((lead_bonus if i == lead else 0.0) + {"opens": 1.0, "names": 0.15}.get(named[i] or "", 0.0))
        leans = i != for_heading and _refers_back(text, s) and not (
            i - 1 in quotable and _adjacent(text, sentences, i - 1, i) and not sentences[i - 1].takes
        )  # "That status code will be used..." after a code block: a dangling "that"
        instructs = i not in idle and _instructs(action, bodies[i])  # "Let's say that you want to return ..."
        if _does(action, bodies[i]) and not leans:
            # "Can I disable it?": "you can disable this feature by ..." tells how; a sentence merely
            # using the verb ("Templates are rendered on the server") gains less.
            # A condition ("If you have a compiler, you can install ...") tells a way, not the way.
            score += (2.0 if i not in asides and instructs else 0.5) * boost
        elif form == "how" and i not in asides and _tells_a_way(bodies[i]):
            # "You can tell Flask not to load dotenv files ... by setting `FLASK_SKIP_DOTENV`" answers "How
            # do I disable dotenv?" in other words; the section's first sentence may only set the scene.
            score += 0.35 * boost
        if i in asides or i in idle:
            score -= 0.3 * boost
        elif not s.takes and _EXAMPLE_RE.match(bodies[i]):
            score -= 0.2 * boost  # the example's case, which a sentence about the thing itself beats
        if i == answers_own_question:
            score += boost
        if form == "how" and _MOTIVATION_RE.search(bodies[i]) and not instructs:
            score -= 0.3 * boost  # "you might want to restrict the headers": the need, not the way
        if form == "why" and _REASON_RE.search(bodies[i]):
            score += 0.2 * boost  # "Why ...?": the sentence that gives a reason
        if form == "yes_no" and _YES_OR_NO_RE.match(bodies[i]):
            score += boost  # "Is tox supported?": "Yes. Provided that you are using tox >= 4, ..." settles it
        if form == "how" and (score > 0 or i in in_evidence):
            score += boost * {"code": 0.25, "item": 0.2}.get(s.takes or "", 0.0)
        if s.takes == "dangling":
            score -= 0.2 * boost  # its example is missing: it answers only if nothing else does as well
        if subject and s.takes == "list" and _SIGNATURES_RE.fullmatch(text[s.start : s.end].strip()):
            score -= 0.5 * boost  # "- `def copy()` - Headers": an API's method list, not what X is
        if leans:
            score -= 0.25 * boost
        if in_evidence:
            place = in_evidence.index(i) if i in in_evidence else None
            # The first sentences of a section usually answer its heading, but an intro sentence must
            # not beat one that is clearly closer to the question.
            score += -1.0 if place is None else boost * (0.3, 0.15, 0.05)[place] if place < 3 else 0.0
        scores[i] = score if relevance[i] > 0 or i in in_evidence else min(score, 0.0)
    return scores


# "Yes. Provided that ...", "No, ...": a yes-or-no answer (not "No more than ...", "No other ...").
_YES_OR_NO_RE = re.compile(r"^\W*(?:yes|no)\b(?!\s+(?:more|longer|one|other|matter|need)\b)", re.IGNORECASE)
# A bare list whose every item opens with a call's or a definition's signature in code.
_SIGNATURES_RE = re.compile(r"(?:[-*+][ \t]+`(?:def |async def |class )?[\w.]+\([^`\n]*\)`[^\n]*(?:\n|$))+")


def _field_of_another_term(body: str, subject_stems: tuple[str, ...]) -> bool:
    """A "Label: value" line (a field list, a page's metadata) whose label is not the X asked about."""
    field = _DEFINITION_RE.match(body)
    if not field or len(field.group("term").split()) > 3 or "`" in field.group("term"):
        return False
    return set(_stems(field.group("term"))) != set(subject_stems)


def _idle(s: _Sentence, body: str) -> bool:
    """Chatter or a scene set ("Ah yes, ...", "So let's implement ...", "Say you have a function ..."), unless it
    takes a block along: it opens no final answer and defines nothing."""
    return not s.takes and bool(_CHATTER_RE.match(body) or _SCENE_RE.match(body))


def _content_stems(text: str) -> set[str]:
    return set(_stems(" ".join(w for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in STOPWORDS)))


def _answers_own_question(text: str, sentences: list[_Sentence], bodies: list[str], ok: list[int], idle: set[int],
                          question: str) -> int | None:
    """The sentence that answers a question the text asks itself about the asked subject: after "What does a
    cache do?" (for "What is caching?"), the first sentence past the scene it sets. None without one."""
    asked = _content_stems(_last_sentence(question))
    if not asked:
        return None
    for q, body in enumerate(bodies):
        if not body.rstrip().endswith(("?", "？")) or len(asked & _content_stems(body)) < min(2, len(asked)):
            continue
        k = q + 1
        while k in idle and _adjacent(text, sentences, k, k + 1):
            k += 1  # past "Say you have a function that ..."
        if k in ok and k not in idle and _adjacent(text, sentences, k - 1, k):
            return k
    return None


def _in_evidence(sentences: list[_Sentence], ok: list[int], evidence: tuple[int, int] | None) -> list[int]:
    """The quotable sentences inside the evidence span (by their middle: a glossary line "run: One
    execution ..." whose span starts after the term counts), in order."""
    if evidence is None:
        return []
    start, end = evidence
    return [i for i in ok if start <= (sentences[i].start + sentences[i].body_end) // 2 < end]


def _adjacent(text: str, sentences: list[_Sentence], i: int, j: int) -> bool:
    """Whether sentence j follows sentence i with nothing but white space between (same or next paragraph)."""
    return j == i + 1 and i >= 0 and j < len(sentences) and not text[sentences[i].end : sentences[j].start].strip()


def _next_step_item(text: str, sentences: list[_Sentence], i: int, j: int) -> bool:
    """Whether sentence j is the item right after item i in one list, both steps that open on their verb
    ("- Create an `app` directory and enter it." / "- Create an empty file `__init__.py`."): the steps of a
    way go together, though the list marker between them keeps them from being `_adjacent`."""
    if not (j == i + 1 and i >= 0 and j < len(sentences) and sentences[i].kind == sentences[j].kind == "item"):
        return False
    if not _LIST_ITEM_RE.fullmatch(text[sentences[i].end : sentences[j].start]):
        return False
    bodies = [text[sentences[k].start : sentences[k].body_end] for k in (i, j)]
    if not all(_opens_on_an_imperative(body) for body in bodies):
        return False
    # Alternatives are no steps: "- Remove the environment with `poetry env remove 3.11`." / "- Remove all of them
    # with ..." (the same words around other code), "- Use `--json` to print JSON." / "- Use `--yaml` to print YAML.".
    if re.search(r"\b(?:all|each|both|any) of them\b", bodies[1], re.IGNORECASE):
        return False
    words = [content_terms(re.sub(r"`[^`]*`", " ", body)) for body in bodies]
    return len(words[0] & words[1]) < 0.6 * max(1, min(len(words[0]), len(words[1])))


def _opens_on_an_imperative(body: str) -> bool:
    """Whether a sentence or a list item opens on a step's verb ("1. Install 3rd party dependencies.")."""
    return _first_word(re.sub(r"^[\W\d]+", "", body)) in _IMPERATIVES


def _lead_in_of(text: str, sentences: Sequence[_Sentence], i: int) -> int | None:
    """The lead-in whose span took the list that sentence `i` is an item of, if one did and the item is a step
    (it opens on its verb: "1. Install 3rd party dependencies.", not "- You can use `pass_context()` ...", an
    option that stands alone). The lead-in is a paragraph's, not an item's: a sibling item ("* Create a
    `templates` object ...") or a nested list's lead-in in HTML markup is no lead-in of the steps."""
    item = sentences[i]
    if item.kind != "item" or not _opens_on_an_imperative(text[item.start : item.body_end]):
        return None
    lead = next((k for k in range(i - 1, -1, -1)
                 if sentences[k].takes == "item" and sentences[k].kind == "prose"
                 and sentences[k].start < item.start < sentences[k].end), None)
    # It tells the way the steps carry out ("To avoid this cache busting you can split this into two steps:"),
    # not a condition ("If the build fails, you may see one of these errors:").
    body = text[sentences[lead].start : sentences[lead].body_end] if lead is not None else ""
    return lead if _tells_a_way(body) and not _CONDITION_RE.match(body) else None


def _extend(
    text, sentences, ok: set[int], anchor: int, relevance: dict[int, float], in_evidence: list[int],
    max_quotes: int, semantic: bool,
) -> list[int]:
    """The anchor and the adjacent sentences that belong with it: the one it refers back to, then
    followers that carry on, match the question about as well, or finish a short first sentence."""
    group = [anchor]
    allowed = set(in_evidence) if in_evidence else ok

    def words(indices):
        return sum(len(text[sentences[k].start : sentences[k].body_end].split()) for k in indices)

    def chars(indices):
        return sum(sentences[k].body_end - sentences[k].start for k in indices)

    before = anchor - 1
    # The sentence before comes along when the anchor leans on it, or when it opens the evidence span
    # (a section's first sentences answer its heading together).
    leans = _refers_back(text, sentences[anchor])
    opens_evidence = in_evidence[:2] == [before, anchor] and not leans and not _background(
        text[sentences[before].start : sentences[before].body_end])
    if (
        max_quotes > 1 and (leans or opens_evidence) and before in allowed
        and _adjacent(text, sentences, before, anchor) and not sentences[before].takes
        and chars([before, anchor]) <= _QUOTE_BUDGET
    ):
        group.insert(0, before)
    while len(group) < max_quotes and (not sentences[group[-1]].takes or _next_step(text, sentences, group)):
        nxt = group[-1] + 1
        if nxt not in allowed or not (_adjacent(text, sentences, group[-1], nxt)
                                      or _next_step_item(text, sentences, group[-1], nxt)):
            break
        if chars(group + [nxt]) > _QUOTE_BUDGET:
            break
        if sentences[group[-1]].takes:  # the step after a first step and its code
            group.append(nxt)
            continue
        refers_back = _refers_back(text, sentences[nxt])
        if in_evidence:
            carry_on = words(group) < 25
        elif sentences[nxt].block != sentences[group[-1]].block:
            carry_on = False  # without evidence, a new paragraph is a new topic unless it refers back
        else:
            close = relevance[anchor] - relevance[nxt] <= 0.08 if semantic else relevance[nxt] >= 0.6 * relevance[anchor]
            carry_on = words(group) < 12 or (relevance[nxt] > 0 and close)
        if not (refers_back or carry_on):
            break
        group.append(nxt)
    return group


# "First, configure the package source ...:" / code / "Then, ... configure credentials for it." / code: steps in
# order, which an answer gives together (the first alone stops short of what was asked). These mark a step's place
# in the order; `_STEP_RE` recognises a step by its verb.
_FIRST_STEP_RE = re.compile(r"^\W*(?:first(?:ly)?\b|(?:begin|start) by\b|to (?:begin|start)\b|step 1\b)", re.IGNORECASE)
_NEXT_STEP_RE = re.compile(r"^\W*(?:then|next|after that|afterwards|second(?:ly)?|finally|once (?:this|that|it|you)\b[^,.]{0,60},)",
                           re.IGNORECASE)


def _next_step(text: str, sentences: list[_Sentence], parts: list[int]) -> bool:
    """Whether the sentence after `parts` is the next step of a sequence they open ("First, ...:" and its code),
    with its own code; the last of `parts` has its code along too."""
    last, nxt = parts[-1], parts[-1] + 1
    return (nxt < len(sentences) and sentences[last].takes == "code" and sentences[nxt].takes == "code"
            and any(_FIRST_STEP_RE.match(text[sentences[k].start : sentences[k].body_end]) for k in parts)
            and bool(_NEXT_STEP_RE.match(text[sentences[nxt].start : sentences[nxt].body_end])))


def _note_or_signpost(sentence: str) -> bool:
    """A note ("Note: ..."), a version note or a signpost ("This section guides you through ...")."""
    return bool(_ASIDE_RE.match(sentence) or _SIGNPOST_RE.match(sentence))


def _background(sentence: str) -> bool:
    """A note, a signpost, a motivation ("In some cases you might want to ...") or chatter ("Ah yes, ..."):
    context an answer can do without."""
    return _note_or_signpost(sentence) or bool(_MOTIVATION_RE.search(sentence) or _CHATTER_RE.match(sentence))


def _block_kind(s: _Sentence) -> str | None:
    return s.takes if s.takes in _BLOCK_KINDS else None


def _with_its_code(question: str, text: str, sentences: list[_Sentence], group: list[int]) -> list[_Sentence]:
    """`sentences`, with the group's last one taking along the short code block right after it when it tells a
    way to do what `question` asks (`_tells_the_way`) and ends its paragraph, with a full stop or none: the code
    carries the way out ("To install the defined dependencies for your project, just run the `install` command."
    over `poetry install`). A long block, one the chunk cuts off (`_lead_in_end`) or one that runs nothing
    (`_carries_out`) is left out."""
    last = sentences[group[-1]]
    blocks = _blocks(text)
    ends_paragraph = not text[last.body_end : blocks[last.block][2]].strip()  # "... command. Or skip it." does not
    if last.takes is not None or last.kind != "prose" or not ends_paragraph:
        return sentences
    body = text[last.start : last.body_end].rstrip()
    if _NOT_THIS_RE.search(body) or _taken_kind(text, blocks, last.block) != "code" \
            or not _tells_the_way(question, plain_answer(body)):
        return sentences
    end = _through_its_block(text, blocks, last.block, last.body_end)
    if end <= last.body_end or not _carries_out(text, last.body_end, end):
        return sentences
    shown = list(sentences)
    shown[group[-1]] = dataclasses.replace(last, end=end, takes="code")
    return shown


def _tells_the_way(question: str, sentence: str) -> bool:
    """Whether a sentence tells how to do what `question` asks, in so many words: "you can ...", a step, "use ...",
    the asked verb as an instruction; stricter than `gives_a_way`, which also takes a verb anywhere ("Each API
    call is logged"). Not a warning, a prohibition, a requirement or a pointer to later text ("You should never
    deploy with debug mode on.", "You must have write access ...", "We will configure logging in the next
    chapter.")."""
    if _REQUIREMENT_RE.match(sentence) or _NOT_A_WAY_RE.search(sentence):
        return False
    return bool(_YOU_CAN_RE.search(sentence) or _STEP_RE.match(sentence) or _USES_RE.search(sentence)
                or _POSSIBLE_WAY_RE.search(sentence) or _instructs(_asked_action(question), sentence))


# A negation or a prohibition ("can't", "never", "must not"), or the way put off to later text.
def _fence_labelled(*labels: str) -> re.Pattern:
    """A code fence's opening line with one of these info-string labels ("```diff")."""
    return re.compile(rf"^[ \t]*(?:```|~~~)[ \t]*(?:{'|'.join(map(re.escape, labels))})\b", re.MULTILINE)


_NOT_A_WAY_RE = re.compile(
    r"\b(?:can['\u2019]?t|cannot|can not|never|(?:should|must|do|does|will|would)(?:n['\u2019]t| not)|won['\u2019]t)\b"
    r"|\b(?:next|later|following|coming|future) (?:chapter|section|page|part|tutorial|step)s?\b"
    r"|\blater (?:on|in)\b", re.IGNORECASE)
# What a block prints rather than runs: a diff, or a fence labelled as output.
_OUTPUT_FENCE_RE = _fence_labelled("diff", "patch", "output", "console-output", "log")


def _carries_out(text: str, start: int, end: int) -> bool:
    """Whether the code block in `text[start:end]` runs something: a prompt's command, command lines, a call or an
    assignment ("poetry install", "app = create_app()", `key = "value"`); not a diff, nor output it prints
    ("Installing dependencies from lock file")."""
    if _OUTPUT_FENCE_RE.search(text, start, end):
        return False
    lines = [line.strip() for line in text[start:end].splitlines() if line.strip() and not _FENCE_RE.match(line)]
    return any(_PROMPT_RE.match(line) or line.startswith(">>> ") or _SHELL_COMMAND_RE.match(line)
               or re.search(r"\w\(|^[\w.\[\]\"'-]+\s*[:+]?=", line) for line in lines)


def _render_quotes(text: str, sentences: list[_Sentence], group: list[int]) -> list[str]:
    """One verbatim quote per paragraph of the group; prose on one line, lists and code as written."""
    quotes = []
    for _, members in itertools.groupby(group, key=lambda k: sentences[k].block):
        members = list(members)
        piece = text[sentences[members[0]].start : sentences[members[-1]].end].strip()
        quotes.append(piece if sentences[members[-1]].takes in (*_BLOCK_KINDS, "list") else normalize_whitespace(piece))
    return quotes


# -- the final answer ------------------------------------------------------------------------------

_ADMONITION_LABEL_RE = re.compile(
    r"^(?:Note|Tip|Hint|Info|Important|Warning|Caution|Danger|Attention|Check|See also|Technical Details)"
    r"\s*:\s+(?=\S)", re.IGNORECASE,
)
_FOLLOWING_RE = re.compile(r"\b(?:the\s+)?following(?:\s+(\w+))?\s*$", re.IGNORECASE)
# "... exits with one of these statuses:": the statuses are the block's.
_THESE_RE = re.compile(r"\b(?:these|those)\s+(\w+)\s*$", re.IGNORECASE)
_LIKE_THIS_RE = re.compile(r"\s*,?\s*\b(?:like this|like so|like|as follows|as shown below|as below|below)\s*$", re.I)
_OPEN_WORDS = "with|in|to|by|of|as|for|like|is|are|be"  # prepositions and verbs that leave a sentence open
_OPEN_ENDED_RE = re.compile(rf"\b(?:{_OPEN_WORDS}|using|via|run|use|type|execute|call|add|write|enter)\s*$", re.I)
# A sentence that stops on a word that cannot end one ("... is happening and", "... such as"): it goes on in the
# list after it.
_RUNS_INTO_LIST_RE = re.compile(rf"\s(?:{_OPEN_WORDS}|and|or|the|an?|including|such as|namely)\s*$", re.IGNORECASE)
_MAX_LIST_ITEMS = 8
_CODE_NOUNS = frozenset(["code", "command", "commands", "snippet", "line", "lines", "call", "statement"])
_MAX_INLINE_CODE = 80
_MAX_INLINE_LINES = 3
# A command line: a program name, then arguments ("python3 -m venv .venv", "cd myproject"), not code.
# "poetry source add --priority=supplemental foo <url>": words and options (an option may take "=value"), no
# Python ("x = 1", "f(x)").
_SHELL_COMMAND_RE = re.compile(r"^[a-z][\w.-]*(?: +(?:--?[\w-]+=[^\s;]+|[^\s=(){}\[\];]+))*$")


def plain_answer(quote: str) -> str:
    """A quote as plain text: links become their text, **emphasis** and list markers go, an
    admonition label ("Note: ") is dropped; inline code is left as it is."""
    text = _LIST_ITEM_RE.sub("", normalize_whitespace(quote), count=1)
    text = clean_inline(text).strip()  # plain text and JSON-lines corpora still carry inline markdown
    label = _ADMONITION_LABEL_RE.match(text)
    if label:
        rest = text[label.end() :]
        text = rest[:1].upper() + rest[1:]
    return text


def as_statement(text: str) -> str:
    """A sentence ending in final punctuation: a trailing ':' or '::' or ',' becomes a full stop."""
    text = text.rstrip()
    if text.endswith("::"):
        text = text[:-2].rstrip()
    text = text.rstrip(":;,：").rstrip()
    if not text:
        return ""
    return text if has_final_punctuation(text) else text + "."


def _lead_in_statement(lead: str, what: str) -> str:
    """A lead-in whose block is too long to inline, as a statement that points at the quote:
    'You can declare it like this:' -> 'You can declare it as shown in the code quoted above.'"""
    if re.search(r"(?<!\.)\.$", lead.rstrip()):
        return as_statement(lead)  # a sentence that ends in a full stop is a statement already
    lead = lead.rstrip().rstrip(":：").rstrip()
    following = _FOLLOWING_RE.search(lead)
    if following:
        noun = following.group(1) or what
        return as_statement(f"{lead[: following.start()].rstrip()} the {noun} quoted above")
    these = _THESE_RE.search(lead)
    if these:
        return as_statement(f"{lead[: these.start()]}the {these.group(1)} in the {what} quoted above")
    if _LIKE_THIS_RE.search(lead):
        return as_statement(f"{_LIKE_THIS_RE.sub('', lead)} as shown in the {what} quoted above")
    if _OPEN_ENDED_RE.search(lead):
        return as_statement(f"{lead} the {what} quoted above")
    if re.match(r"To\b", lead) and "," not in lead:  # a purpose clause alone: "To create a project:"
        return as_statement(f"{lead}, use the {what} quoted above")
    return as_statement(lead)


def _list_items(text: str, s: _Sentence) -> list[str]:
    """The top-level items of the list a lead-in took along, as plain text without end punctuation."""
    items = []
    lines = [line for line in text[s.body_end : s.end].splitlines() if line.strip()]
    indents = [len(line) - len(line.lstrip()) for line in lines if _LIST_ITEM_RE.match(line)]
    top = min(indents, default=0)
    for line in lines:
        match = _LIST_ITEM_RE.match(line)
        if match and len(line) - len(line.lstrip()) == top:
            items.append(plain_answer(line[match.end() :]).rstrip(".;,"))
        elif not match and items and len(line) - len(line.lstrip()) > top:
            items[-1] += " " + plain_answer(line).rstrip(".;,")  # a wrapped item continues
    return [item for item in items if item]


def _join_items(items: list[str]) -> str:
    """List items in one line, "; " between them; an item ending in "or"/"and" runs on into the next
    ("`@contextlib.contextmanager` or `@contextlib.asynccontextmanager`")."""
    parts = items[:1]
    for before, item in zip(items, items[1:]):
        parts.append((" " if re.search(r"\b(?:or|and)$", before) else "; ") + item)
    return "".join(parts)


_DIFF_FENCE_RE = _fence_labelled("diff", "patch")  # a change, not a line to state


def _code_lines(text: str, s: _Sentence) -> tuple[str, list[str]]:
    """(tab label or "", the code lines) of the block a lead-in takes."""
    lines = [line.strip() for line in text[s.body_end : s.end].splitlines() if line.strip()]
    label = lines.pop(0)[:-1] if lines and not _FENCE_RE.match(lines[0]) and _TAB_LABEL_RE.match(lines[0]) else ""
    return label, [line for line in lines if not _FENCE_RE.match(line)]


def _without_prompts(lines: list[str]) -> list[str]:
    """Code lines without a shell prompt ("$ pip install ..."): the prompt is not the command. In a console
    session (some lines have a prompt) only the commands are kept: the rest is what they print. A Python
    session of inputs alone (">>> import requests") gives its statements."""
    if lines and all(line.startswith(">>> ") for line in lines):
        return [line[4:] for line in lines]
    return _commands(lines) or [re.sub(r"^[$%>] ", "", line) for line in lines]


def _commands(lines: list[str]) -> list[str]:
    """The commands of a console session, without their prompts ("$ uv add pwdlib" over "---> 100%"); a
    line ending in a backslash goes on into the next. Empty when no line has a prompt."""
    commands: list[str] = []
    going_on = False
    for line in lines:
        prompt = _PROMPT_RE.match(line)
        if prompt or going_on:
            commands.append(line[prompt.end():] if prompt else line)
        going_on = bool(commands) and (prompt is not None or going_on) and line.endswith("\\")
    return commands


def _inline_code(lines: list[str]) -> bool:
    """Whether code lines (prompts removed) are one short line or a few shell commands ("mkdir myproject",
    "python3 -m venv .venv"), which a final answer carries instead of pointing at the quote."""
    return 0 < len(lines) <= _MAX_INLINE_LINES and all(
        len(line) <= _MAX_INLINE_CODE and "`" not in line and not line.startswith("#") for line in lines
    ) and (len(lines) == 1 or all(_SHELL_COMMAND_RE.match(line) for line in lines))


def _brings_its_block(text: str, s: _Sentence) -> bool:
    """Whether a lead-in is a clause whose statement carries its block: a list's items, or code short enough
    to inline ("You can import it directly from `fastapi`: `from fastapi import UploadFile`"; not "So, in a
    URL like:", a fragment, nor "Any function that is valid to use with:", which ends open)."""
    lead = text[s.start : s.body_end].rstrip().rstrip(":：").rstrip()
    if not has_verb(lead) or _OPEN_ENDED_RE.search(lead):
        return False
    return s.takes == "item" or (s.takes == "code" and _inline_code(_without_prompts(_code_lines(text, s)[1])))


# "return current_user", "yield session": hands back a name made above, which shows nothing of how it was made.
_HANDS_BACK_RE = re.compile(r"(?:return|yield)\s+[A-Za-z_]\w*;?$")
# "str, typer.Argument(help=...)": an argument of a call (an `Annotated[...]`) opened on the line above.
# (Not a tuple's assignment: "fig, ax = plt.subplots()" is a statement.)
_ARGUMENT_LINE_RE = re.compile(r"[\w.]+(?:\[[^\]]*\])?,\s(?![\w.\s,]*=[^=])")
# `name=value`: a keyword argument or setting, in a sentence's code or in a line.
_KEYWORD_VALUE_RE = re.compile(r"\b(\w+)\s?=\s?([\w.\"']+)")


def _unquoted(value: str) -> str:
    """A setting's value without its quotes: `name="World"` and `name='World'` set the same."""
    return value.strip("\"'")


def _key_code_line(lines: list[str], terms: frozenset[str], named: frozenset[str] = frozenset(),
                   settings: dict[str, str] | None = None) -> str | None:
    """The statement of a long code block that does what a how-question asks, or shows what a what-question asks
    about: the first line naming the most of its `terms` (question stems), e.g. "httpx.get(url, timeout=10.0)" for
    "How do I set timeouts?", `r.status_code` for "What are response status codes?";
    of equals, one naming what the sentence `named` in code ("then install `pyuwsgi`": `pip install pyuwsgi`),
    then one that calls something. A line setting one of the sentence's `settings` (`name=value` in its code)
    to another value contradicts it ("disable it with `suggest_commands=False`" over `Typer(suggest_commands=True)`).
    Comments, imports, decorators, block openers ("with ...:") and a call's argument on a line of its own
    ("str, typer.Argument(...)") say less; None when no line names a term."""
    best, hits = None, 0.0
    settings = settings or {}
    # A Python session: its input (with the "... " lines that go on with it), not its output.
    session = [line[4:] for line in lines if line.startswith((">>> ", "... "))] if any(
        line.startswith(">>> ") for line in lines) else []
    for line in session or lines:
        if len(line) > 2 * _MAX_INLINE_CODE:
            continue  # too long to state even without its comment (and the comment regex stays cheap)
        line = re.sub(r"(?<!\s)\s{2,}#.*$", "", line).strip()  # "client = httpx.Client(timeout=None)  # Disable ..."
        if (len(line) > _MAX_INLINE_CODE or "`" in line or line.endswith((":", "(", "[", "{", ",", "\\"))
                or re.match(r"(?:#|//|@|from\s|import\s|[()\[\]}\u2500-\u257f]|\{(?![%{])|[rbuf]?[\"'])", line)
                or _HANDS_BACK_RE.match(line) or _ARGUMENT_LINE_RE.match(line)
                or any(_unquoted(settings.get(name, value)) != _unquoted(value)
                       for name, value in _KEYWORD_VALUE_RE.findall(line))):
            # nor a string (docstring), a bracket's line (the argument of a call opened above: `{"name": ...}`; a
            # template's `{% tag %}` is a statement, its `{# comment #}` is not) or a drawn tree's ("│   └── x.py")
            continue
        # "verification" and `verify=False` stem apart ("verif", "verifi"): one stem opening the other counts,
        # and so does a name inside a word ("uwsgi" in `pyuwsgi`).
        words = set(_stems(" ".join(re.split(r"[\W_]+", line))))
        found = sum(any(w.startswith(t) or (len(w) >= 4 and t.startswith(w)) or (len(t) >= 4 and t in w)
                        for w in words) for t in terms)
        if not found:
            continue
        found += 0.5 * bool(named & set(re.split(r"[\W_]+", line.lower())))
        found += 0.25 * bool(re.search(r"\w\(", line))  # a call does something; a literal only sets the scene
        if found > hits:
            best, hits = line, found
    return best


def _sentence_statement(text: str, s: _Sentence, terms: frozenset[str] = frozenset()) -> str:
    """One quoted sentence as a statement; a lead-in brings its list or code into it. With a how- or what-question's
    `terms`, a lead-in whose code is too long to inline brings the line that names them ("You can set timeouts
    for an individual request, for example `httpx.get(url, timeout=10.0)`.")."""
    if s.takes == "list":  # a list without a lead-in: its items are the answer
        return as_statement(_join_items(_list_items(text, dataclasses.replace(s, body_end=s.start))[:_MAX_LIST_ITEMS]))
    lead = plain_answer(text[s.start : s.body_end])
    if s.takes == "item":
        items = _list_items(text, s)
        shown, length = [], 0
        for item in items[:_MAX_LIST_ITEMS]:
            if shown and length + len(item) > 300:
                break
            shown.append(item)
            length += len(item) + 2
        more = len(items) - len(shown)
        if more == 1 and len(items) <= _MAX_LIST_ITEMS and len(items[-1]) <= 300:
            shown, more = items, 0  # "and 1 more" would hide less than it says
        rest = f"; and {more} more in the list quoted above" if more else ""
        if not shown:
            return ""
        if _RUNS_INTO_LIST_RE.search(lead):  # "... is happening and confirm bugs, provide support, ..."
            runs_on = ", " if not more and not any(re.search(r"[,;]", item) for item in shown) else "; "
            return as_statement(f"{lead.rstrip()} {runs_on.join(shown)}{rest}")
        return as_statement(f"{lead.rstrip().rstrip(':：.').rstrip()}: {_join_items(shown)}{rest}")
    if s.takes in ("code", "row") and _split_by_its_block(text, s, lead):
        return ""  # "So, if you have a function with: [code] Typer will ...": no statement without the rest
    if s.takes == "code":
        label, lines = _code_lines(text, s)
        lines = _without_prompts(lines)
        if _inline_code(lines):
            lead = lead.rstrip().rstrip(":：.,;").rstrip() + (f" ({label})" if label else "")
            joiner = " " if _OPEN_ENDED_RE.search(lead) and len(lines) == 1 and not label else ": "
            return f"{lead}{joiner}" + ", then ".join(f"`{line}`" for line in lines) + "."
        # A step ("Create a virtualenv, ..., then install `pyuwsgi`.") or a sentence with a verb; not an example
        # already, nor one that names the call itself ("use `await client.aclose()`").
        says = has_verb(lead) or _first_word(_CONNECTIVE_RE.sub("", lead)) in _IMPERATIVES or bool(_STEP_RE.match(lead))
        named = frozenset(w for span in re.findall(r"`([^`]+)`", lead) for w in re.split(r"[\W_]+", span.lower()) if w)
        can_do = _CAN_DO_RE.match(lead)  # "It is possible to register ...": the line that registers
        named |= {can_do.group(1).lower()} if can_do else set()
        settings = dict(_KEYWORD_VALUE_RE.findall(" ".join(re.findall(r"`([^`]+)`", text[s.start : s.body_end]))))
        key = _key_code_line(lines, terms, named, settings) if terms and says and not _EXAMPLE_RE.match(lead) and not re.search(
            r"`[^`]*\(", lead) and not _DIFF_FENCE_RE.search(text, s.body_end, s.end) else None
        bare = lead.rstrip().rstrip(":：.,;").rstrip()
        following = _FOLLOWING_RE.search(bare)
        if key and following and (following.group(1) or "code").lower() in _CODE_NOUNS:
            # "..., you would use the following code:" -> "..., you would use `r = requests.get(url, params=payload)`."
            return f"{bare[: following.start()].rstrip()} `{key}`."
        if key and not (following or _THESE_RE.search(bare) or _OPEN_ENDED_RE.search(bare)):
            return f"{_LIKE_THIS_RE.sub('', bare)}, for example `{key}`."
        return _lead_in_statement(lead, "code")
    if s.takes == "row":
        return _lead_in_statement(lead, "table")
    return as_statement(lead)


# "If you have a function with:", "Without such an explicit application object the following code:", "Let's say
# your project file structure looks like:": a condition or a scene whose main clause comes after the block.
_CLAUSE_OPENER_RE = re.compile(
    r"^\W*(?:if|when|whenever|once|unless|without|because|since|after|before|until|imagine|suppose|let'?s say|say)\b",
    re.IGNORECASE,
)


def _split_by_its_block(text: str, s: _Sentence, lead: str) -> bool:
    """Whether a lead-in is only the first half of a sentence its block cuts in two. Its block completes it (it
    stops on "with", "like", "the following code") and either the text after the block goes on with a verb ("a
    parameter with a default value like `lastname` in: [code] is considered ...") or the lead-in is a condition
    or a scene with no comma and no main clause ("you can ...", an imperative)."""
    bare = lead.rstrip().rstrip(":：").rstrip()
    if not (_OPEN_ENDED_RE.search(bare) or _LIKE_THIS_RE.search(bare) or _FOLLOWING_RE.search(bare)):
        return False  # "... you can use the `env info` command: [code] will output ...": a whole sentence
    after = text[s.end :].lstrip()
    if after[:1].isalpha() and after[:1].islower() and _opens_on_a_verb(after):
        return True
    clause = _CONNECTIVE_RE.sub("", bare.strip(), count=1)
    # Not "Once installed you can start the server with:", "When deploying to production run:": a main clause.
    main_clause = _YOU_CAN_RE.search(clause) or any(w in _IMPERATIVES for w in re.findall(r"[a-z]+", clause.lower())[1:])
    return bool(_CLAUSE_OPENER_RE.match(clause)) and not re.search(r"[,;]", clause) and not main_clause


def _opens_on_a_verb(text: str) -> bool:
    """Whether the text's first word is a verb ("is considered ...", "returns ..."), not "which", "and", "instead"."""
    word = _first_word(text)
    return bool({"VERB", "AUX"} & set(lemminflect.getAllLemmas(word)))


def _opens_deictic(text: str, s: _Sentence) -> bool:
    """Whether a sentence opens with a word that needs the text before it ("This is an awful lot ...")."""
    return _first_word(text[s.start : s.body_end]) in _DEICTIC_OPENERS


def _after_code(text: str, s: _Sentence) -> bool:
    """Whether a sentence comes right after a code block (its last non-blank line before is a closing fence)."""
    end = s.start
    while end and text[end - 1].isspace():  # not a copy of the text before: this runs for every candidate anchor
        end -= 1
    return bool(_FENCE_RE.match(text[text.rfind("\n", 0, end) + 1 : end]))


def _ends_a_split_sentence(text: str, sentences: list[_Sentence], i: int) -> bool:
    """Whether sentence i is the second half of one its lead-in's block cut in two ("[...] like `lastname` in:
    [code] is considered an "optional" parameter."): it has no subject of its own."""
    before = sentences[i - 1] if i else None
    body = text[sentences[i].start : sentences[i].body_end].lstrip()
    return (before is not None and before.takes in ("code", "row") and not text[before.end : sentences[i].start].strip()
            and body[:1].islower() and (_first_word(body) in STOPWORDS or _opens_on_a_verb(body)))


def _says_something_else(question: str, form: str, subject_stems: tuple[str, ...], answer: str) -> bool:
    """Whether a final answer is about something other than what the question asks, though on its topic: a need
    without the way for "How do I ...?" ("If you are a library maintainer, you may want to support ..."); for "What is
    X?", the need alone ("... you might want to add dependencies to the whole application.", not "A token is a secret
    string you will need to ...", a definition) or where X is imported from ("You can import the `FastAPI` class
    directly from ...")."""
    if form == "how" and _MOTIVATION_RE.search(answer) and not gives_a_way(question, answer):
        return True
    if not subject_stems:
        return False
    need_alone = (_MOTIVATION_RE.search(answer) and not _YOU_CAN_RE.search(answer)
                  and not _SENTENCE_END_RE.search(answer) and _names(subject_stems, answer) != "opens")
    return bool(need_alone or _IMPORT_ONLY_RE.fullmatch(answer))


def _statement(text: str, sentences: list[_Sentence], group: list[int], anchor: int, defines: bool = False,
               why: bool = False, how: bool = False, terms: frozenset[str] = frozenset()) -> str:
    """The final answer, from the quoted `group`: the anchor sentence, with the one before it when that is
    quoted and is not chatter; else the one after it when the anchor alone is short (under 10 words), when
    that one brings the list or commands it introduces, or when it carries the anchor on ("Instead, ...",
    "This means ...") within `_STATEMENT_BUDGET` characters. An anchor that `defines` the X of "What is X?"
    ("Middleware is a WSGI application that ...") stands first unless it leans on the one before. Chatter or
    a scene ("Ah yes, ...", "Say you have ...") opens no final answer when a quoted sentence follows that does
    not lean on it. For a `why` question, a quoted sentence after them that gives the reason ("This is due to
    ...") comes too; for a `how` question whose statement says what not to do, the quoted "Instead, ..."
    after it. A `how` statement that gives only the premise goes on to the quoted sentence that tells the way
    ("... `POETRY_REQUESTS_TIMEOUT` can be set to alter this value."), then through the steps after it ("Then wrap
    ...", "And then mount ..."); one opening "By default, ..." takes the quoted "But ..." that changes the default."""

    def body(k: int) -> str:
        return text[sentences[k].start : sentences[k].body_end]

    def idle(k: int) -> bool:
        return _idle(sentences[k], body(k))

    def fits(k: int, budget: int = _STATEMENT_BUDGET) -> bool:
        """Whether the statement from its first part through sentence k stays within the budget."""
        return sentences[k].body_end - sentences[parts[0]].start <= budget

    while idle(anchor) and anchor + 1 in group and not _refers_back(text, sentences[anchor + 1]):
        anchor, defines = anchor + 1, False
    parts = [anchor]
    leans = _refers_back(text, sentences[anchor])
    # "This will work for most use cases. However, if you want ..., you can override ...": the sentence before leans on
    # one not quoted (a group holds at most one sentence before its anchor), and the anchor leans only by its
    # "However", which the statement drops.
    before_dangles = leans and anchor - 1 in group and _refers_back(
        text, sentences[anchor - 1]) and not _THESE_ARE_RE.match(body(anchor - 1)) and _leans_only_by_its_connective(
        body(anchor))
    if before_dangles:
        leans = False
    if anchor - 1 in group and not before_dangles and (leans or not idle(anchor - 1)) and not (defines and not leans):
        parts.insert(0, anchor - 1)
    elif anchor + 1 in group and not sentences[anchor].takes and (
            len(body(anchor).split()) < 10
            or _brings_its_block(text, sentences[anchor + 1])
            or (_refers_back(text, sentences[anchor + 1]) or _SUCH_RE.match(body(anchor + 1))
                or _ALL_TO_DO_RE.match(body(anchor + 1)))
            and not _HERES_HOW_RE.search(body(anchor + 1))
            and fits(anchor + 1)):
        # A short anchor; one followed by the list or commands it introduces ("The basic idea is quite simple. It
        # basically works like this: 1. ..."); or one whose next sentence carries it on, often with the point
        # ("Unlike `pip`, Poetry doesn't resolve for just the current Python. Instead, it makes sure ...").
        parts.append(anchor + 1)
    if sentences[parts[0]].takes:  # a lead-in ends the statement: its list or code is the answer
        parts = parts[:1]
    while parts[-1] + 1 in group and _next_step(text, sentences, parts):
        parts.append(parts[-1] + 1)
    conclusion = parts[-1] + 1
    if conclusion in group and not sentences[parts[-1]].takes and not sentences[conclusion].takes and (
            _CONCLUSION_RE.match(body(conclusion))) and (
            fits(conclusion)):
        # "... does not work on slotted classes. [...] Therefore, attrs converts ...": the point comes last.
        parts.append(conclusion)
    way = parts[-1] + 1
    if how and way in group and not sentences[parts[-1]].takes and not any(_tells_a_way(body(k)) for k in parts) and (
            _tells_a_way(body(way))) and fits(way):
        # "Poetry's default HTTP request timeout is 15 seconds. [...] `POETRY_REQUESTS_TIMEOUT` can be set to alter
        # this value.": the premise, then the way the question asks for.
        parts.append(way)
    while how and parts[-1] + 1 in group and not sentences[parts[-1]].takes and _is_next_step(body(parts[-1] + 1)) \
            and fits(parts[-1] + 1, 2 * _STATEMENT_BUDGET):
        # "You need to import `WSGIMiddleware` ... Then wrap the WSGI app with the middleware. And then mount that
        # under a path.": the steps that follow, to the last one quoted.
        parts.append(parts[-1] + 1)
    but = parts[-1] + 1
    if _BY_DEFAULT_RE.match(body(parts[0])) and but in group and _BUT_RE.match(body(but)) and "`" in body(but) and (
            not idle(but)) and fits(but):
        # "By default, the callback is only executed right before a command. [...] But we could make it run even
        # without a subcommand with `invoke_without_command=True`": the default is the premise; what changes it, the point.
        parts.append(but)
    reason = parts[-1] + 1
    if why and reason in group and _REASON_RE.search(body(reason)) and not any(_REASON_RE.search(body(k)) for k in parts):
        parts.append(reason)
    if how and _NOT_THIS_RE.search(" ".join(body(k) for k in parts)):
        # "... you should not use the development server. [...] Instead, use a production WSGI server.": what to
        # do instead, quoted further on, comes too.
        instead = next((k for k in group if k > parts[-1] and _INSTEAD_RE.match(body(k))), None)
        if instead is not None and fits(instead, 2 * _STATEMENT_BUDGET):
            parts.append(instead)
    return _standalone(" ".join(filter(None, (_sentence_statement(text, sentences[k], terms) for k in parts))))


# "You can import the `status` module from `fastapi`: `from fastapi import status`.": where X comes from, all it says.
_IMPORT_ONLY_RE = re.compile(
    r"(?:(?:you can (?:also )?|first,? )import [^.:;]{1,80}?|import `[^`]+`[^.:;]{0,40}?) from [^.:;]{1,80}"
    r"(?::\s*`[^`]+`)?\.", re.IGNORECASE)  # not "Import hooks import modules from zip files."
# "We can also use this same approach ... All we need to do is handle the request inside a `try`/`except` block":
# the point, after the sentence that announces it.
_ALL_TO_DO_RE = re.compile(r"^\W*all (?:we|you|one) (?:need|have) to do is\b", re.IGNORECASE)
# "By default, the callback is only executed ...": the default, which a quoted "But ..." may change.
_BY_DEFAULT_RE = re.compile(r"^\W*by default\b", re.IGNORECASE)
# "But we could make it run ... with `invoke_without_command=True`", "However, ...": what changes it.
_BUT_RE = re.compile(r"^\W*(?:but|however)\b", re.IGNORECASE)


def _is_next_step(sentence: str) -> bool:
    """"Then wrap the app ...", "And then mount that under a path.": the next step of a sequence, opening on its verb
    (not "Next, the middleware receives the request ...", a description)."""
    rest = re.sub(r"^\W*and\s+", "", sentence, flags=re.IGNORECASE)
    return bool(_NEXT_STEP_RE.match(rest)) and _first_word(_WAY_OPENING_RE.sub("", rest, count=1)) in _IMPERATIVES


# "If such objects are to be stored ...": goes on about what the sentence before named.
_SUCH_RE = re.compile(r"^\W*(?:\w+\s+){0,2}such\s+(?!as\b)\w+", re.IGNORECASE)  # not "Tools such as pip ..."
_CONCLUSION_RE = re.compile(
    r"^\W*(?:therefore|thus|hence|as a result|that is why|that's why|this is why|this means)\b", re.IGNORECASE)
# "you should not use ...", "Don't run ...": what not to do; "Instead, use ...": what to do.
_NOT_THIS_RE = re.compile(r"\b(?:you|we) (?:should|must|shall) not\b|\b(?:do not|don't|never) (?:use|run|call|install)\b",
                          re.IGNORECASE)
_INSTEAD_RE = re.compile(r"^\W*instead,? (?:you (?:can|should) )?[a-z]+\b", re.IGNORECASE)


# "But you might want ...", "Of course, there are ...": a link to the text before, which the final
# answer (a statement standing alone) does without. Quotes keep it: they are verbatim. "Now that ..." and
# "So that ..." open a clause, not a link: without the first word they would not parse.
_CONNECTIVE_RE = re.compile(
    r"^(?:but|and|or|so(?!,?\s+that\b)|also|alternatively|however|of course|now(?!,?\s+that\b)|then|additionally|moreover|furthermore|finally|well|actually"
    r"|in fact|in addition(?! to\b)|in (?:this|these|that|those|such|both|either) cases?"
    # "As mentioned above, ...", "As seen in Return a Response directly, ...", "The same way as before, ...":
    # a pointer to text the reader of the answer does not have.
    r"|as (?:mentioned|described|explained|shown|seen|noted|discussed|said|stated|outlined|we saw|we have seen)"
    r"(?: (?:above|before|earlier|previously|in [^,.]{1,60}))?(?=,)|(?:in )?the same way(?: as (?:before|above))?(?=,)"
    # "Continuing with the previous example, ...", "As in the last section, ...": the same pointer.
    r"|(?:(?:continuing|building|following) (?:on |with |from |up on )?|(?:as )?in )(?:the|our) (?:previous|last|same) "
    r"(?:example|section|step|chapter|tutorial)(?=,))"
    r"\b,?\s+(?=[\w`\"'])",
    re.IGNORECASE,
)


# Links back that a final answer keeps (they are not stripped like `_CONNECTIVE_RE`'s), and so cannot open
# a chunk's answer with nothing quoted before them: "On the other hand, a task that ...", "In other terms, ...",
# "On top of that, ...", "So, that would ...", "The second version is ...", "There is more you can do ...", or an
# "also" or "still" in the first clause ("You can also print to standard error ...": a way added to one told
# before; "FastAPI will still be able to override it.").
_POINTS_BACK_RE = re.compile(
    r"^\W*(?:on the other hand|in other (?:terms|words)|for the (?:latter|former)|on top of (?:that|this)"
    r"|after that|there(?:'s| is) more|similarly|likewise|instead(?!\s+of)|otherwise|(?:still|so)(?=,)"
    r"|the (?:second|third|other|latter|former|previous) (?:one|version|option|way|approach|example|form)s?)(?=[\s,])"
    r"|^\W*\w[^,.:;]*\b(?:also|still)\b",
    re.IGNORECASE,
)
_POINTS_BACK_IT_RE = re.compile(rf"\W*it(?!{EXPLETIVE_IT})\b", re.IGNORECASE)  # "It is the ..." (not "It is possible to ...")
_POSSESSIVES = frozenset(["its", "their", "such"])  # "Its default value is 30 seconds.": whose?
_WARNS_RE = re.compile(r"^\W*(?:do not|don't|never|avoid|beware)\b", re.IGNORECASE)  # "Do not run two schedulers ..."


def opens_on_its_own(sentence: str) -> bool:
    """Whether a quoted sentence reads without the text before it, as the first sentence of an answer
    from a chunk that starts inside its section must: it does not open on a small word in lower case
    (the tail of a sentence the chunk's start cut: "we are allowing any version ..."), on a pronoun, a
    connective or a phrase that points back ("It is the ...", "But ...", "On the other hand, ..."), on
    an aside ("Note that ...") or a warning ("Do not run two schedulers ...": what not to do, after the
    way), or as chatter."""
    first = _first_word(sentence)
    cut = bool(re.match(r"\W*[a-z]", sentence)) and not sentence.lstrip().startswith("`") and (
        first in STOPWORDS or _opens_on_a_verb(sentence))  # "we are allowing ...", "returns the response ..."
    return not (cut or first in _DEICTIC_OPENERS or first in _POSSESSIVES or _POINTS_BACK_IT_RE.match(sentence)
                or _CONNECTIVE_RE.match(sentence.lstrip(" \t-*>")) or _POINTS_BACK_RE.search(sentence)
                or _ASIDE_RE.match(sentence) or _WARNS_RE.match(sentence) or _CHATTER_RE.match(sentence))


# ", as you read above." at a sentence's end, and "the SNI extension discussed above" after a noun: the same
# pointer, which the final answer does without ("Using the SNI extension, the TLS Termination Proxy would ...").
_AS_ABOVE_RE = re.compile(r"(?:,? as (?:you (?:read|saw|have seen|learned)|(?:mentioned|described|explained|shown|seen|stated))"
                          r" (?:above|before|earlier|previously)(?=[.,!]?(?:\s|$))"
                          # after a noun, only where the adverb ends the phrase ("Tokens introduced before version 2.0
                          # ..." keeps its words)
                          r"|(?<!\bas) (?:discussed|mentioned|described|explained|introduced)"
                          r" (?:above(?=[.,;:!\s]|$)|(?:before|earlier|previously)(?=[.,;:!]|$)))", re.IGNORECASE)


# Pictographs ("... a single session per request. 🤓", "... with one command. 🎉"): the docs' tone, which a
# quote keeps and a final answer does without.
_EMOJI = "[ \t]*[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B55][\uFE0F\u200D]?"
_EMOJI_RE = re.compile(_EMOJI)
# One after a sentence's end, with the full stop a statement gave it: "... for each request. ⚠️. But ...".
_EMOJI_AFTER_SENTENCE_RE = re.compile(f"(?<=[.!?])(?:{_EMOJI})+\\.?")


def _standalone(answer: str) -> str:
    """The final answer as a statement standing alone: without an opening connective, its next word
    capitalised ("But you can ..." -> "You can ..."), a tutorial's "let's" as the step it is ("First, let's
    create a model." -> "Create a model."), without a closing ", as you read above" and without emoji."""
    answer = _EMOJI_RE.sub("", _EMOJI_AFTER_SENTENCE_RE.sub("", _AS_ABOVE_RE.sub("", answer))).strip() or answer
    for _ in range(2):  # "And the same way as before, you can use ..." -> "You can use ..."
        answer = _without_opener(answer, _CONNECTIVE_RE)
    if not (_CHATTER_RE.match(answer) or _SCENE_RE.match(answer)):  # "Let's see how to ...": no step to state
        answer = _without_opener(answer, _LETS_RE)  # "Let's create a model." -> "Create a model."
    return answer


def _without_opener(answer: str, opener: re.Pattern) -> str:
    """The answer without what `opener` matches at its start, its next word capitalised; unchanged when less
    than three words would be left."""
    rest = opener.sub("", answer, count=1)
    if rest == answer or len(rest.split()) < 3:
        return answer
    return rest[0].upper() + rest[1:] if rest[0].islower() else rest


def _named_for_heading(question: str, answer: str) -> str:
    """The answer with its opening "It"/"They" (or "This"/"These" and the heading's noun) replaced by the X of
    "What is X?" (the heading it stands for): "It was one of the first ..." -> "Sanic was one of the first ..."."""
    asked = _WHAT_IS_RE.match(question.strip())
    if not asked:
        return answer
    subject = asked.group(2).strip()
    demonstrative = _HEADING_DEMONSTRATIVE_RE.match(answer)
    if demonstrative:  # "These options can be added ..." -> "Set-cookie options can be added ..."
        return f"{subject[:1].upper()}{subject[1:]}{answer[demonstrative.end():]}"
    if not (_HEADING_PRONOUN_RE.match(answer) or "`" in subject and _defines_a_kind(answer)):
        return answer
    pronoun, rest = answer.split(" ", 1)
    # "It's a Flask plug-in" -> "flask-apispec is a Flask plug-in"; the number is the question's ("is"/"are").
    be = asked.group(1).lower() if pronoun.lower() in _CONTRACTED else None
    return f"{subject[:1].upper()}{subject[1:]} {be + ' ' if be else ''}{rest}"


_WHAT_IS_RE = re.compile(r"^what (is|are) (.+?)\?$", re.IGNORECASE)
_WHETHER_PREDICATE_RE = re.compile(r"\b(?:depends|determines|decides|matters|is up to)\b|,\s+(?:is|are|was)\b", re.I)
_DEFINING_PHRASE_RE = re.compile(
    r"^An? (?:[\w`-]+ ){0,2}(?P<head>[\w`-]+),? (?:of|to|for|that|which|with|from|used|containing|where|whose"
    r"|an instance)\b")

_DEFINITION_RE = re.compile(r"^(?P<term>[^:\n]{1,80}): (?P<body>\S.*)$", re.DOTALL)
_DETERMINERS = frozenset(["the", "a", "an", "one", "any", "each", "every", "some", "all", "two"])
_CLAUSE_RE = re.compile(r"\b(?:is|are|was|were|will|can|could|has|have|had|does|do|did|must|should|may|might)\b",
                        re.IGNORECASE)


def _as_definition(question: str, answer: str) -> str:
    """A glossary line as a sentence: 'run: One execution of a job.' answering "What is a run?"
    becomes 'A run is one execution of a job.' Other answers are returned unchanged."""
    asked, defined = _WHAT_IS_RE.match(question.strip()), _DEFINITION_RE.match(answer)
    if not asked or not defined:
        return answer
    subject, body = asked.group(2).strip(), defined.group("body").strip()
    bare = re.sub(r"^(?:the|a|an) ", "", subject, flags=re.IGNORECASE).strip("`")
    first = body.split(" ", 1)[0]
    if bare.lower() != defined.group("term").strip().strip("`").lower() or first.lower() not in _DETERMINERS:
        return answer  # lower-casing any other first word could break a name ("Python ...")
    if _CLAUSE_RE.search(re.split(r"[,;.(]", body, maxsplit=1)[0]):
        return answer  # "`--app hello`: The given name is imported, ...": a clause, not a noun phrase to equate
    return f"{subject[:1].upper()}{subject[1:]} {asked.group(1).lower()} {first.lower()}{body[len(first):]}"


def _third_person_verb(word: str) -> bool:
    """"starts", "arrives": a verb's -s form ("An interval schedule starts with ..." is a sentence, not a
    noun phrase "A list of ..."); a plural noun that is also a verb ("patterns") counts too, which only
    leaves a fragment as it was."""
    word = word.lower()
    return word.endswith("s") and any(lemma != word for lemma in _verb_lemmas(word))


def _with_its_subject(question: str, answer: str) -> str:
    """A description written without its subject (a reference page's style), as a sentence about the X of
    "What is X?": "Whether Poetry operates in package mode (default) or not." -> "`package-mode` sets whether
    Poetry operates ..."; "A proxy to the request data ..." -> "Incoming request data is a proxy to ...";
    for a setting or option X, "Enable the system keyring ..." -> "`keyring.enabled` enables the system keyring ...".
    Other answers are returned unchanged."""
    asked = _WHAT_IS_RE.match(question.strip())
    if not asked:
        return answer
    subject, be = asked.group(2).strip(), asked.group(1).lower()
    named = subject[:1].upper() + subject[1:]
    first_sentence = _SENTENCE_END_RE.split(answer, maxsplit=1)[0]
    # "Whether debug mode is enabled.", not "Whether the cache is used depends on ...": no predicate of its own.
    if be == "is" and answer.startswith("Whether ") and not _WHETHER_PREDICATE_RE.search(first_sentence):
        return f"{named} sets {answer[:1].lower()}{answer[1:]}"
    # "A proxy to the request data ...", "A list of glob patterns that ...": a noun phrase defining X, not a
    # sentence ("A request arrives at the router ...").
    phrase = _DEFINING_PHRASE_RE.match(answer)
    # A relative clause's verb is the noun's own ("... of package names that should be excluded ..."), not one
    # that makes the phrase a sentence.
    main_part = re.split(r"\b(?:that|which|who|whose|where)\b", first_sentence, maxsplit=1)[0]
    sentence = bool(_CLAUSE_RE.search(main_part) or has_verb(main_part))
    if phrase and not sentence and not _third_person_verb(phrase.group("head")):
        return f"{named} {be} {answer[:1].lower()}{answer[1:]}"
    # "A case-insensitive multi-dict.", "A dict-like cookie store.": an API reference's one-line description.
    last = re.findall(r"[A-Za-z]+", answer)[-1].lower() if re.search(r"[A-Za-z]", answer) else ""
    if re.fullmatch(r"An? [^.;:!?]{3,80}\.", answer) and len(answer.split()) <= 8 and not _CLAUSE_RE.search(answer) \
            and not has_verb(answer) and "NOUN" in (lemminflect.getAllLemmas(last) or {"NOUN": ()}):
        return f"{named} {be} {answer[:1].lower()}{answer[1:]}"
    # "Provides authentication classes ...", "Allows consuming Server-Sent Events ...": a package list's
    # description written without its subject, which is X.
    # ("Attributes can have a `converter` ...": a plural noun before a modal.)
    verb = re.match(r"([A-Z][a-z]+) (?!(?:is|are|was|were|of|and|or|to|for|with|from|in|on|at|by|as|can|could|should"
                    r"|would|will|may|might|must|do|does|did|have|has|need)\b)(\w*)", answer)
    if be == "is" and verb and _third_person_verb(verb.group(1)) and not (
            # "Options include ...": a plural noun and its verb, not a verb and its object
            lemminflect.getAllLemmas(verb.group(1).lower()).get("NOUN") and _verb_lemmas(verb.group(2).lower())
            and not lemminflect.getAllLemmas(verb.group(2).lower()).get("NOUN")):
        return f"{named} {verb.group(1).lower()}{answer[verb.end(1):]}"
    # A setting's or an option's own line ("Set the maximum number of workers ...", "Skip the first line of the
    # source code."), not an instruction that names it ("Pass the keys and values of the `user_dict` ..."); or the
    # value it holds ("Directory where virtual environments will be created." -> "`virtualenvs.path` is the
    # directory where ...").
    word = re.match(r"([A-Z][a-z]+) (?!(?:is|are|was|were|can|will|must|should|may|has|have)\b)(\w*)", answer)
    if be == "is" and word and _SETTING_RE.fullmatch(subject) and subject not in answer:
        first, second = word.group(1).lower(), word.group(2).lower()
        if re.search(rf"\b{first}[-_.]{second}\b", subject):
            return answer  # "Display name shown in ..." under `project.display-name`: the words name it, not a verb
        # A determiner after the first word makes it a verb ("Format the output as JSON."), else a noun may be one.
        verb = second in _DETERMINERS or second in ("your", "its")
        third_person = lemminflect.getInflection(first, "VBZ") if first in _DESCRIPTION_VERBS else None
        if third_person and (verb or first not in _VALUE_NOUNS):
            return f"{subject} {third_person[0]}{answer[word.end(1):]}"
        head = re.split(r"\b(?:when|before|after|if|until)\b", main_part, maxsplit=1)[0]
        if first in _VALUE_NOUNS and not verb and not _CLAUSE_RE.search(head):  # not "Directory names are matched ..."
            return f"{subject} is the {first}{answer[word.end(1):]}"
    return answer


# An option or a setting: `--config`, `-x, --skip-source-first-line`, `virtualenvs.path`, `installer.<name>.x`.
_SETTING_RE = re.compile(r"`(?:-\w, )?--[\w-]+`|`[\w<>-]+(?:[.-][\w<>-]+)+`")
# What an option's line opens with when it says what the option does ("Require a specific version of Black ...").
_DESCRIPTION_VERBS = _IMPERATIVES | frozenset(["skip", "require", "read", "give", "print", "allow", "ignore", "show",
                                                "display", "exclude"])
# What a setting's line opens with when it names the value the setting holds ("Minimum age of a package release ...").
_VALUE_NOUNS = frozenset(["minimum", "maximum", "directory", "path", "name", "number", "list", "format", "size",
                          "timeout", "location", "url", "port", "prefix", "suffix", "pattern", "level", "mode"])


# -- the reasoning ---------------------------------------------------------------------------------

_PRESENT_TEMPLATES = (
    'The question is: {question}\nDocument {n}, "{title}", is the one that covers this. It says:\n{quotes}\n{bridge}',
    'To answer "{question}" I need the document about it. That is document {n} ("{title}"), which says:\n'
    "{quotes}\n{bridge}",
    'Looking through the documents, document {n} ("{title}") answers the question "{question}":\n{quotes}\n{bridge}',
    'The question asks: {question}\nOf the documents given, document {n}, titled "{title}", addresses this '
    "directly:\n{quotes}\n{bridge}",
    'Document {n} is the relevant one here: it is titled "{title}" and answers "{question}". The key passage '
    "is:\n{quotes}\n{bridge}",
)
_ABSENT_TEMPLATES = (
    'The question is: {question}\nNone of the documents shown covers this, but the documentation on "{title}" '
    "says:\n{quotes}\n{bridge}",
    'The documents provided do not contain the answer to "{question}". From the documentation on "{title}", '
    "I know that:\n{quotes}\n{bridge}",
    'The question asks: {question}\nI cannot find this in the documents given, but the documentation on '
    '"{title}" answers it:\n{quotes}\n{bridge}',
    'No document here addresses "{question}" directly. What the documentation on "{title}" says is:\n'
    "{quotes}\n{bridge}",
)
# Each true of any answer of its form, with the oracle shown or not ("directly" would contradict "No document here
# addresses ... directly"; "the steps" a one-sentence answer).
_BRIDGES = {
    "how": ("This describes how to do it.", "That is how the documentation says to do it.", "This is what to do."),
    "how_it_works": ("This explains how it works.", "That describes how it happens."),
    "how_much": ("This gives the figure the question asks for.", "That answers it."),
    "why": ("This gives the reason.", "That explains why."),
    "yes_no": ("This settles the question.", "That answers it."),
    "when": ("This says when.", "That answers when."),
    "where": ("This says where.", "That answers where."),
    "other": ("This is what the question asks for.", "That answers it.", "This gives the answer."),
}
_BRIDGE_EXTRAS = {
    "item": " The list after it gives the details.",
    "code": " The code shows it.",
    "row": " The table gives the details.",
}
# "What should I do if ...?"; not "What can I do with Typer?", which asks what it offers.
_WHAT_TO_DO_RE = re.compile(r"^\W*what (?:should|can|could|must|do) (?:i|we|you|one) do\b(?!\s+with\b)", re.IGNORECASE)
_HOW_MUCH = frozenset(["long", "many", "much", "often", "big", "large", "small", "far", "old", "fast", "soon"])
_PEOPLE = frozenset(["i", "you", "we", "one", "users", "people"])
_YES_NO = frozenset([
    "can", "could", "should", "would", "will", "is", "are", "was", "were", "do", "does", "did", "may", "must",
    "shall", "has", "have",
])


def stable_hash(text: str, salt: str = "") -> int:
    """A hash of the text that is the same in every process (unlike the built-in `hash`)."""
    return int.from_bytes(hashlib.sha256(f"{salt}\x00{text}".encode()).digest()[:8], "big")


def question_form(question: str) -> str:
    """'how' (how do I ...), 'how_it_works' (how does X ...), 'how_much' (how long/many/often ...),
    'why', 'when', 'where', 'yes_no' (can/should/is/does ...) or 'other' (what/which/...), read from
    the question's last sentence ("I don't want X. Can I disable it?" is 'yes_no')."""
    asked = SCOPE_FIRST_RE.sub("", _last_sentence(question), count=1)
    if _WHAT_TO_DO_RE.match(asked):
        return "how"  # "What should I do if my requests are timing out?" asks for a way
    words = re.findall(r"\w+", asked.lower())[:3]
    word = words[0] if words else ""
    if word == "how" and words[1:] and words[1] in _HOW_MUCH:
        return "how_much"
    if word == "how" and words[1:] and words[1] in _YES_NO and words[2:] and words[2] not in _PEOPLE:
        return "how_it_works"  # "How does the resolver pick a version?" asks for an explanation, not steps
    if word in ("how", "why", "when", "where"):
        return word
    return "yes_no" if word in _YES_NO else "other"


def reasoning(question: str, title: str, position: int, quotes: Sequence[str], takes: str | None = None) -> str:
    """The chain of thought before the final answer: which document (position counts from 0, -1 when
    the oracle is absent) and title, the quotes, and how they answer; the phrasing is chosen by a
    stable hash of the question, so one question always reads the same."""
    h = stable_hash(question)
    templates = _PRESENT_TEMPLATES if position >= 0 else _ABSENT_TEMPLATES
    bridges = _BRIDGES[question_form(question)]
    bridge = bridges[(h // len(templates)) % len(bridges)] + _BRIDGE_EXTRAS.get(takes or "", "")
    quoted = "\n".join(f"{BEGIN_QUOTE}{q}{END_QUOTE}" for q in quotes)
    return templates[h % len(templates)].format(
        question=question, n=position + 1, title=title, quotes=quoted, bridge=bridge
    )


class ExtractiveAnswerGenerator:
    """Offline answers that reason over the context and quote the oracle verbatim.

    Args:
        oracle_absent_answer: With the oracle missing from the context, "keep" the oracle-based
            answer (the RAFT paper: the model learns the domain) or "refuse".
        max_quotes: Most adjacent sentences quoted.
        embed: Optional sentence encoder (texts -> vectors); with it, quotes are chosen by semantic
            similarity to the question instead of shared words alone.
        min_similarity: With `embed`: a question whose best sentence in the oracle is less similar
            to it than this is dropped ("weak_answer"), not answered with an intro or an aside the
            section opens with. A sentence that answers by its form is kept whatever its similarity
            ("The `self add` command will ensure ..." for "What is the self add command?"; "You can
            use ... to `forbid` ..." for "How do I forbid ...?"). With it, a "How do I ...?" whose answer
            tells no way (`gives_a_way`: "A plugin is a regular Python package ..." for "How do I create a
            plugin?") is dropped as "weak_answer" too. Not applied to a reference answer.
    """

    def __init__(
        self,
        oracle_absent_answer: str = "keep",
        max_quotes: int = 3,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        min_similarity: float | None = None,
    ) -> None:
        self.oracle_absent_answer = oracle_absent_answer
        self.max_quotes = max_quotes
        self.embed = embed
        self.min_similarity = min_similarity

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]:
        similarities = self._similarities(requests) if self.embed else [None] * len(requests)
        return [self.answer(r, sims) for r, sims in zip(requests, similarities)]

    def _similarities(self, requests: Sequence[AnswerRequest]) -> list[np.ndarray]:
        """Question-to-sentence cosine similarities for every request, in one encoder pass."""
        texts: dict[str, int] = {}
        layout = []
        for request in requests:
            sentences = [request.oracle.text[s.start : s.body_end] for s in _sentences(request.oracle.text)]
            ids = [texts.setdefault(t, len(texts)) for t in [request.asked, *sentences]]
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
        evidence = None
        if request.evidence is not None:
            start, end = (max(0, min(len(request.oracle.text), x)) for x in request.evidence)
            evidence = (start, end) if end > start else None
        choice = select_quotes(
            request.asked, request.oracle.text, request.reference_answer, self.max_quotes, similarities,
            title=request.oracle.title, evidence=evidence,
        )
        if choice is None:
            return Answer(None, rejected="no_quotable_sentence")
        if (self.min_similarity is not None and similarities is not None and choice.anchor is not None
                and len(similarities) > choice.anchor and similarities[choice.anchor] < self.min_similarity
                and not choice.direct):
            return Answer(None, rejected="weak_answer")
        # "How do I create a plugin?" answered "A plugin is a ...": no way told. A question the section's own
        # heading asks (an FAQ's) is the author's, and so is whatever answer follows it.
        if (self.min_similarity is not None and choice.anchor is not None and not choice.direct
                and question_form(request.asked) == "how" and not gives_a_way(request.asked, choice.answer)
                and normalized_text(request.oracle.title.rpartition(" > ")[2]) != normalized_text(request.asked)):
            return Answer(None, rejected="weak_answer")
        thought = reasoning(request.question, request.oracle.title, position, choice.quotes, choice.takes)
        return Answer(f"{thought}\n{ANSWER_MARKER} {choice.answer}")
