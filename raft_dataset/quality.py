"""A quality report over finished RAFT rows: the defects a fine-tuning user would throw away, how the
questions are asked, how long the rows are, and how often the context repeats a document.

It reads only the exported columns, so it runs the same on the rows of a build and on a dataset read
back from parquet:

    report = quality_report(rows)        # dicts (or Samples) with the exported columns
    print(report.to_markdown())          # terminal and card body
    card_yaml["quality"] = report.to_dict()
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .answers import LEAD_IN_LINES
from .answers import question_form as asked_form
from .raft_format import (
    answer_defects,
    content_terms,
    extract_quotes,
    final_answer,
    markup_problem,
    normalized_text,
)
from .vocabulary import SCOPE_FIRST_RE

DEFECTS = (
    "answer_restates_question",
    "answer_not_a_sentence",
    "markup_in_question",
    "markup_in_quotes",
    "markup_in_answer",
    "markup_in_contexts",
)
_DEFECT_LABELS = {
    "answer_restates_question": "answer restates the question",
    "answer_not_a_sentence": "answer is not a sentence",
    "markup_in_question": "markup in the question",
    "markup_in_quotes": "markup in the quotes",
    "markup_in_answer": "markup in the final answer",
    "markup_in_contexts": "markup in the context documents",
}
QUESTION_WORDS = (
    "what", "how", "why", "when", "where", "which", "who", "can", "should", "is", "are", "does", "do",
    "will", "could", "would", "may", "must",
)
_QUESTION_WORD_SET = frozenset(QUESTION_WORDS)
_DOCUMENT_END_RE = re.compile(r"</DOCUMENT>")  # the default document template's closing tag
_TITLE_RE = re.compile(r"^Title: (.*)$", re.MULTILINE)


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def length_summary(values: Iterable[float]) -> dict[str, float]:
    """mean, median and 95th percentile, rounded to one decimal (zeros when there are no values)."""
    values = [float(v) for v in values]
    if not values:
        return {"mean": 0.0, "median": 0.0, "p95": 0.0}
    return {
        "mean": round(statistics.fmean(values), 1),
        "median": round(statistics.median(values), 1),
        "p95": round(_percentile(values, 0.95), 1),
    }


@dataclass
class QualityReport:
    """Figures over a set of rows; counts are kept, shares are what `to_dict` and `to_markdown` show.

    Attributes:
        rows: Number of rows.
        defects: Rows with each defect (see `DEFECTS`); a row can have several.
        markup_kinds: Rows with each kind of markup (`raft_format.markup_problem` kinds), anywhere.
        question_forms: Rows by the question's first word (a `QUESTION_WORDS` word, else "other").
        query_origins: Rows by `query_origin`.
        exact_duplicate_questions: Rows whose question (lower-case words) repeats an earlier row's.
        near_duplicate_questions: Rows whose question has the same content words as an earlier one's
            (any order, stop words and endings aside) without being an exact duplicate.
        output_tokens, input_tokens: mean / median / p95 of the answer and the prompt lengths.
        same_document_context: Rows whose context shows two chunks of one document.
        oracle_present: Rows whose context holds the oracle.
        oracle_choices: Rows by how the oracle was chosen (`oracle_choice`).
        oracle_confidence: mean / median / p5 of `oracle_confidence`.
        oracle_outscored: Rows whose oracle another document's chunk scores at least as high
            (`oracle_confidence` <= 0): the oracle is doubtful.
        retrievers_agree: Rows where dense and BM25 both rank the oracle's document first.
        how_answers: Rows asking how to do something ("How do I ...?").
        how_answers_without_code: Of those, rows whose last quote the oracle follows with a short code block
            (at most `answers.LEAD_IN_LINES` lines, what a quote can take along) the quote leaves out: the code
            that carries the way out ("... just run the `install` command." without `poetry install`). A
            longer block is an example program, which no answer states whole.
        excluded_distractors: Candidates kept out of contexts, by guard, over all rows.
        hard_negatives: Distractors taken from the retrieval ranking, over all rows.
    """

    rows: int = 0
    defects: Counter = field(default_factory=Counter)
    markup_kinds: Counter = field(default_factory=Counter)
    question_forms: Counter = field(default_factory=Counter)
    query_origins: Counter = field(default_factory=Counter)
    exact_duplicate_questions: int = 0
    near_duplicate_questions: int = 0
    output_tokens: dict[str, float] = field(default_factory=dict)
    input_tokens: dict[str, float] = field(default_factory=dict)
    same_document_context: int = 0
    oracle_present: int = 0
    oracle_choices: Counter = field(default_factory=Counter)
    oracle_confidence: dict[str, float] = field(default_factory=dict)
    oracle_outscored: int = 0
    retrievers_agree: int = 0
    how_answers: int = 0
    how_answers_without_code: int = 0
    excluded_distractors: Counter = field(default_factory=Counter)
    hard_negatives: int = 0

    def share(self, count: int) -> float:
        return _share(count, self.rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON- and YAML-ready figures (shares of rows between 0 and 1)."""
        return {
            "rows": self.rows,
            "defects": {name: self.share(self.defects[name]) for name in DEFECTS},
            "markup_kinds": {k: self.share(v) for k, v in sorted(self.markup_kinds.items())},
            "question_forms": {k: self.share(v) for k, v in _by_count(self.question_forms)},
            "query_origins": {k: self.share(v) for k, v in _by_count(self.query_origins)},
            "duplicate_questions": {
                "exact": self.share(self.exact_duplicate_questions),
                "near": self.share(self.near_duplicate_questions),
            },
            "output_tokens": dict(self.output_tokens),
            "input_tokens": dict(self.input_tokens),
            "same_document_context": self.share(self.same_document_context),
            "how_answers_without_code": _share(self.how_answers_without_code, self.how_answers),
            "oracle_present": self.share(self.oracle_present),
            "oracle": {
                "choices": {k: self.share(v) for k, v in _by_count(self.oracle_choices)},
                "confidence": dict(self.oracle_confidence),
                "outscored": self.share(self.oracle_outscored),
                "retrievers_agree": self.share(self.retrievers_agree),
                "excluded_distractors_per_row": {k: self.per_row(v) for k, v in _by_count(self.excluded_distractors)},
                "hard_negatives_per_row": self.per_row(self.hard_negatives),
            },
        }

    def per_row(self, count: int) -> float:
        return round(count / self.rows, 2) if self.rows else 0.0

    def to_markdown(self) -> str:
        """Two small tables (checks, lengths) and two lines (question forms, origins)."""

        def pct(count: int) -> str:
            return f"{100 * self.share(count):.1f}%"

        lines = [f"| Check ({self.rows} rows) | Share of rows |", "|---|---:|"]
        lines += [f"| {_DEFECT_LABELS[name]} | {pct(self.defects[name])} |" for name in DEFECTS]
        lines += [
            f"| exact duplicate questions | {pct(self.exact_duplicate_questions)} |",
            f"| near duplicate questions | {pct(self.near_duplicate_questions)} |",
            f"| two chunks of one document in the context | {pct(self.same_document_context)} |",
            f"| how-answers leaving out the short code after their last quote (of {self.how_answers} how-questions) | "
            f"{100 * _share(self.how_answers_without_code, self.how_answers):.1f}% |",
            f"| oracle in the context | {pct(self.oracle_present)} |",
            f"| oracle outscored by another document (confidence <= 0) | {pct(self.oracle_outscored)} |",
            f"| dense and BM25 both rank the oracle's document first | {pct(self.retrievers_agree)} |",
            "",
            "| Tokens | mean | median | p95 |",
            "|---|---:|---:|---:|",
        ]
        for label, summary in (("answer (output)", self.output_tokens), ("prompt (input)", self.input_tokens)):
            lines.append(f"| {label} | {summary['mean']:g} | {summary['median']:g} | {summary['p95']:g} |")
        lines += [
            "",
            "Question forms: " + (", ".join(f"{k} {pct(v)}" for k, v in _by_count(self.question_forms)) or "none"),
            "Question origins: " + (", ".join(f"{k} {pct(v)}" for k, v in _by_count(self.query_origins)) or "none"),
            "Oracles: " + (", ".join(f"{k} {pct(v)}" for k, v in _by_count(self.oracle_choices)) or "none")
            + (f"; confidence median {self.oracle_confidence['median']:g}" if self.oracle_confidence else ""),
            f"Distractors per row: {self.per_row(self.hard_negatives):g} from the ranking; candidates kept out "
            "per row: " + (", ".join(f"{k} {self.per_row(v):g}" for k, v in _by_count(self.excluded_distractors))
                           or "none"),
        ]
        return "\n".join(lines)


def _by_count(counter: Counter) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def question_form(question: str) -> str:
    """The question's first word when it is a `QUESTION_WORDS` word, else "other" ("In Flask, how ...": how)."""
    match = re.match(r"\W*(\w+)", SCOPE_FIRST_RE.sub("", question, count=1))
    word = match.group(1).lower() if match else ""
    return word if word in _QUESTION_WORD_SET else "other"


def _documents(input_text: str) -> list[str]:
    """The context documents of an `input` (split on the default template's closing tag, if used)."""
    parts = [p for p in _DOCUMENT_END_RE.split(input_text) if p.strip()]
    return parts or [input_text]


def _oracle_title(row: Mapping[str, Any]) -> str | None:
    """The oracle's title as the default document template shows it ("Title: ..."), when it can be told."""
    position = row.get("oracle_position")
    if position is None or position < 0:
        return None
    titles = _TITLE_RE.findall(row.get("input") or "")
    return titles[position] if position < len(titles) else None


# Where a code block starts right after a quote: blank lines, then a fence or an indented line.
_CODE_NEXT_RE = re.compile(r"[ \t]*\n(?:[ \t]*\n)*(?:[ \t]*(?:```|~~~)|(?: {4}|\t)\S)")


def _leaves_out_code(output: str, oracle_text: str) -> bool:
    """Whether the answer's last quote is followed in the oracle by a short code block it does not quote. A
    quote of several lines is joined on one line, so its end is looked up by its last line's words."""
    quotes = extract_quotes(output)
    if not quotes or not oracle_text:
        return False
    last = quotes[-1].rstrip()
    at = oracle_text.find(last)
    if at < 0:  # prose is quoted on one line: find its tail, which a line break rarely splits
        tail = last[-40:]
        at = oracle_text.find(tail) - len(last) + len(tail) if tail in oracle_text else -1
    block = _CODE_NEXT_RE.match(oracle_text, at + len(last)) if at >= 0 else None
    return block is not None and _code_lines(oracle_text, block.end()) <= LEAD_IN_LINES


def _code_lines(text: str, inside: int) -> int:
    """Lines of the code block that `text[inside:]` is in: up to its closing fence, or its last indented line."""
    line_start = text.rfind("\n", 0, inside) + 1
    opening = text[line_start:inside + 3].strip()
    rest = text[text.find("\n", inside) + 1:] if "\n" in text[inside:] else ""
    lines = rest.split("\n")
    fence = re.match(r"`{3,}|~{3,}", opening)
    if fence:  # closed by a line of at least as many of its characters
        closing = re.compile(rf"[ \t]*{re.escape(fence.group()[0])}{{{len(fence.group())},}}[ \t]*$")
        return next((i for i, line in enumerate(lines) if closing.match(line)), len(lines))
    indented = itertools.takewhile(lambda line: not line.strip() or line[:1] in " \t", lines)
    return 1 + len([line for line in indented if line.strip()])


def _as_row(row: Any) -> Mapping[str, Any]:
    return row if isinstance(row, Mapping) else row.to_row()


def quality_report(samples: Iterable[Mapping[str, Any]]) -> QualityReport:
    """Quality figures over rows with the exported columns `question`, `input`, `output`,
    `query_origin`, `oracle_present`, `input_tokens`, `output_tokens`, `context_doc_ids` and
    `oracle_doc_id` (and, when present, `reference_answer` and `oracle_position`). Dicts, parquet
    rows read back, or `Sample`s (through `to_row`)."""
    report = QualityReport()
    seen_exact: set[str] = set()
    seen_near: set[frozenset[str]] = set()
    output_tokens, input_tokens, confidences = [], [], []
    for raw in samples:
        row = _as_row(raw)
        report.rows += 1
        question, output = row.get("question") or "", row.get("output") or ""
        answer = final_answer(output) or ""
        marks = {
            "markup_in_question": [markup_problem(question)],
            "markup_in_quotes": [markup_problem(q) for q in extract_quotes(output)],
            "markup_in_answer": [markup_problem(answer)],
            "markup_in_contexts": [markup_problem(doc) for doc in _documents(row.get("input") or "")],
        }
        kinds = set()
        for name, found in marks.items():
            found = [kind for kind in found if kind]
            if found:
                report.defects[name] += 1
                kinds.update(found)
        report.markup_kinds.update(kinds)
        report.defects.update(
            answer_defects(question, answer, title=_oracle_title(row), reference_answer=row.get("reference_answer"))
        )
        report.question_forms[question_form(question)] += 1
        report.query_origins[row.get("query_origin") or "unknown"] += 1
        exact, near = normalized_text(question), frozenset(content_terms(question))
        if exact in seen_exact:
            report.exact_duplicate_questions += 1
        elif near and near in seen_near:
            report.near_duplicate_questions += 1
        seen_exact.add(exact)
        if near:
            seen_near.add(near)
        doc_ids = list(row.get("context_doc_ids") or [])
        report.same_document_context += len(set(doc_ids)) < len(doc_ids)
        report.oracle_present += bool(row.get("oracle_present"))
        if row.get("oracle_choice"):
            report.oracle_choices[row["oracle_choice"]] += 1
        if row.get("oracle_confidence") is not None:
            confidences.append(row["oracle_confidence"])
            report.oracle_outscored += row["oracle_confidence"] <= 0
        report.retrievers_agree += bool(row.get("retrievers_agree"))
        if asked_form(question) == "how":
            report.how_answers += 1
            report.how_answers_without_code += _leaves_out_code(output, row.get("oracle_text") or "")
        report.excluded_distractors.update(e["guard"] for e in row.get("excluded_distractors") or ())
        report.hard_negatives += row.get("hard_negatives") or 0
        output_tokens.append(row.get("output_tokens") or 0)
        input_tokens.append(row.get("input_tokens") or 0)
    report.output_tokens = length_summary(output_tokens)
    report.input_tokens = length_summary(input_tokens)
    if confidences:
        report.oracle_confidence = {"mean": round(statistics.fmean(confidences), 3),
                                    "median": round(statistics.median(confidences), 3),
                                    "p5": round(_percentile(confidences, 0.05), 3)}
    return report
