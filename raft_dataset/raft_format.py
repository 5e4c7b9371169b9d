"""The RAFT answer format: quotes between markers, a final `<ANSWER>:` line.

Shared by the extractive answers, the LLM answers and the validation, so that what one writes the
others read the same way.
"""

from __future__ import annotations

import re

BEGIN_QUOTE = "##begin_quote##"
END_QUOTE = "##end_quote##"
ANSWER_MARKER = "<ANSWER>:"

_QUOTE_RE = re.compile(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE), re.DOTALL)
_WHITESPACE_RE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _WHITESPACE_RE.sub(" ", text).strip()


def extract_quotes(output: str) -> list[str]:
    """The quoted spans of an answer, stripped."""
    return [q.strip() for q in _QUOTE_RE.findall(output)]


def final_answer(output: str) -> str | None:
    """The text after the last `<ANSWER>:` marker, or None when the marker is missing."""
    head, marker, tail = output.rpartition(ANSWER_MARKER)
    return tail.strip() if marker else None


def quote_in_source(quote: str, source: str) -> bool:
    """Whether the quote appears verbatim in the source, whitespace differences aside."""
    return bool(quote.strip()) and normalize_whitespace(quote) in normalize_whitespace(source)


def answer_problem(output: str, oracle_text: str) -> str | None:
    """Why an answer is not in valid RAFT form, or None when it is.

    Reasons are stable identifiers used in rejection counts: "empty_output", "missing_answer_marker",
    "empty_answer", "unbalanced_quote_markers", "quote_not_in_oracle".
    """
    if not output or not output.strip():
        return "empty_output"
    answer = final_answer(output)
    if answer is None:
        return "missing_answer_marker"
    if not answer:
        return "empty_answer"
    if output.count(BEGIN_QUOTE) != output.count(END_QUOTE):
        return "unbalanced_quote_markers"
    if any(not quote_in_source(q, oracle_text) for q in extract_quotes(output)):
        return "quote_not_in_oracle"
    return None
