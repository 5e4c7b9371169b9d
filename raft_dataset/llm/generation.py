"""LLM-written questions and RAFT chain-of-thought answers, through an `LLMClient`.

`LLMQuestionGenerator` asks for N questions per chunk and parses whatever list shape comes back
(JSON arrays or objects, numbered lists, bullets), dropping non-questions and duplicates.
`LLMAnswerGenerator` asks for an answer quoting the oracle between `##begin_quote##` markers and
ending with `<ANSWER>:`; an answer that fails verification gets one follow-up naming the failure,
then is dropped with its reason. Both keep request order, so reruns give the same dataset.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..answers import Answer, AnswerRequest
from ..chunking import Chunk
from ..prompt import fill_template
from ..queries import Query
from ..raft_format import (
    ANSWER_MARKER,
    BEGIN_QUOTE,
    END_QUOTE,
    answer_problem,
    extract_quotes,
    final_answer,
    quote_in_source,
)
from .backends import Completion, Failure, LLMError
from .client import LLMClient
from .config import LLMConfig

QUESTION_SYSTEM_PROMPT = (
    "You write questions for a reading-comprehension dataset. Every question must be answerable from "
    "the given passage alone, be specific, and make sense without seeing the passage (never say "
    "'the passage' or 'the text')."
)
DEFAULT_QUESTION_PROMPT = (
    'Passage from "{title}":\n"""\n{text}\n"""\n\n'
    "Write {n} different questions that a reader of this documentation might ask and that the passage "
    "answers. Reply with a JSON array of {n} strings and nothing else."
)
ANSWER_SYSTEM_PROMPT = (
    "You answer questions from documents. You reason step by step and support every step with "
    "sentences copied verbatim from the documents."
)
DEFAULT_ANSWER_PROMPT = (
    "{context}\n\nQuestion: {question}\n\n"
    "Answer the question from the document(s) above. First explain your reasoning step by step. Whenever "
    f"you use a sentence of a document, copy it exactly between {BEGIN_QUOTE} and {END_QUOTE}; quote only "
    "the document that answers the question. Finish with a last line of the form\n"
    f"{ANSWER_MARKER} <your short final answer>"
)
DOCUMENT_TEMPLATE = "<DOCUMENT>\nTitle: {title}\n{text}\n</DOCUMENT>"

_FENCE_RE = re.compile(r"```[A-Za-z]*\s*\n?(.*?)```", re.DOTALL)
# "1.", "2)", "(3)", "-", "*", "•", "a)", "Q1:", "Question 2." and bold markers before a question.
_ITEM_PREFIX_RE = re.compile(
    r"^\s*(?:(?:[-*•+]|\d{1,3}[.):]|\(\d{1,3}\)|[a-zA-Z]\)|Q\d*\s*[.:)]|Question\s*\d*\s*[.:)])\s*|\*\*)+",
    re.IGNORECASE,
)
_QUESTION_SPLIT_RE = re.compile(r"[^?]*\?")
_NORMALIZE_RE = re.compile(r"[^0-9a-z]+")
_MIN_QUESTION_WORDS = 3
_MAX_QUESTION_CHARS = 400


# -- question parsing -------------------------------------------------------------------------


def _json_strings(value: Any) -> list[str]:
    """Question strings in a decoded JSON value: lists, {"questions": [...]}, {"question": ...}."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    if isinstance(value, dict):
        for key in ("questions", "question", "items", "data"):
            if key in value:
                return _json_strings(value[key])
        return [s for item in value.values() for s in _json_strings(item)]
    return []


def _json_candidates(text: str) -> list[str] | None:
    """Strings of the first JSON array/object in `text`, or None when there is none."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, (list, dict)):
            return _json_strings(value)
    return None


def _clean_item(item: str) -> str:
    item = _ITEM_PREFIX_RE.sub("", item.strip())
    item = item.strip().rstrip(",").strip()
    item = item.replace("**", "")
    if len(item) >= 2 and item[0] in "\"'“‘" and item[-1] in "\"'”’":
        item = item[1:-1]
    return " ".join(item.split())


def _line_candidates(text: str) -> list[str]:
    """Items of a numbered or bulleted list; a line holding several questions gives each."""
    out: list[str] = []
    for line in text.splitlines():
        item = _clean_item(line)
        if not item:
            continue
        parts = _QUESTION_SPLIT_RE.findall(item) if item.count("?") > 1 else [item]
        out.extend(_clean_item(p) for p in parts)
    return [item for item in out if item]


def split_question_candidates(text: str) -> list[str]:
    """Everything in a response that may be a question (not yet filtered)."""
    fenced = _FENCE_RE.findall(text)
    body = "\n".join(fenced) if fenced else text
    from_json = _json_candidates(body)
    if from_json:
        return [c for c in (_clean_item(s) for s in from_json) if c]
    return _line_candidates(body)


def is_question(text: str) -> bool:
    """A question: ends with '?', has a few words, and is not overlong."""
    return (
        text.endswith("?")
        and len(text.split()) >= _MIN_QUESTION_WORDS
        and len(text) <= _MAX_QUESTION_CHARS
        and any(ch.isalpha() for ch in text)
    )


def question_key(text: str) -> str:
    """What duplicates share: lowercase letters and digits."""
    return _NORMALIZE_RE.sub(" ", text.lower()).strip()


def parse_questions(text: str) -> tuple[list[str], Counter]:
    """The questions in a response, in order, without repeats; and counts of what was dropped."""
    dropped: Counter = Counter()
    seen: set[str] = set()
    kept: list[str] = []
    for candidate in split_question_candidates(text):
        if not is_question(candidate):
            dropped["not_a_question"] += 1
            continue
        key = question_key(candidate)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        kept.append(candidate)
    return kept, dropped


# -- questions --------------------------------------------------------------------------------


class LLMQuestionGenerator:
    """Writes `questions_per_chunk` questions per chunk with an LLM (a `QuestionGenerator`).

    Questions repeated across chunks are kept once (for the first chunk), since a question must
    point to one oracle.
    """

    stage = "questions"

    def __init__(self, client: LLMClient, cfg: LLMConfig | None = None):
        self.client = client
        self.cfg = cfg = cfg or client.config
        self.template = cfg.question_prompt or DEFAULT_QUESTION_PROMPT
        self.counts: Counter = Counter()

    def messages(self, chunk: Chunk) -> list[dict[str, str]]:
        prompt = self.template.format(title=chunk.title, text=chunk.text, n=self.cfg.questions_per_chunk,
                                      doc_id=chunk.doc_id, chunk_id=chunk.chunk_id)
        return [{"role": "system", "content": QUESTION_SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def generate(self, chunks: Sequence[Chunk]) -> list[Query]:
        """Questions for the chunks, in order; raises LLMError when every request failed (saying why)."""
        results = self.client.complete([self.messages(c) for c in chunks], stage=self.stage)
        _raise_if_all_failed(self.client, self.stage, results, "the LLM wrote 0 usable questions")
        queries: list[Query] = []
        seen: set[str] = set()
        counts: Counter = Counter()
        for chunk, result in zip(chunks, results):
            if isinstance(result, Failure):
                counts[f"request_failed:{result.reason}"] += 1
                continue
            questions, dropped = parse_questions(result.text)
            counts.update({f"dropped:{k}": v for k, v in dropped.items()})
            n_kept = 0
            for question in questions:
                key = question_key(question)
                if key in seen:
                    counts["dropped:duplicate"] += 1
                    continue
                if n_kept == self.cfg.questions_per_chunk:
                    counts["dropped:over_limit"] += 1
                    continue
                seen.add(key)
                n_kept += 1
                queries.append(Query(question=question, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id, origin="llm"))
            if n_kept == 0:
                counts["chunks_without_questions"] += 1
        counts["questions"] += len(queries)
        counts["chunks"] += len(chunks)
        self._record(counts)
        return queries

    def _record(self, counts: Counter) -> None:
        self.counts.update(counts)
        for name, n in counts.items():
            self.client.record(self.stage, name, n)

    def stats(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _raise_if_all_failed(client: LLMClient, stage: str, results: Sequence[Completion | Failure], what: str) -> None:
    """Nothing came back at all: say why (the 401, the timeouts) instead of an empty dataset."""
    if results and all(isinstance(r, Failure) for r in results):
        raise LLMError(f"{what}: {client.failure_summary(stage)}")


# -- answers ----------------------------------------------------------------------------------


def render_documents(chunks: Iterable[Chunk], template: str = DOCUMENT_TEMPLATE) -> str:
    """The documents as the answer prompt shows them: the build's `document_template`, in order."""
    return "\n\n".join(
        fill_template(template, index=str(i + 1), title=c.title, text=c.text) for i, c in enumerate(chunks)
    )


def explain_problem(reason: str, output: str, oracle_text: str) -> str:
    """The follow-up sentence that tells the model what was wrong with its answer."""
    if reason == "no_quote":
        return (f"it quotes nothing: copy at least one sentence of the document exactly between {BEGIN_QUOTE} "
                f"and {END_QUOTE}.")
    if reason == "quote_not_in_oracle":
        bad = [q for q in extract_quotes(output) if not quote_in_source(q, oracle_text)][:3]
        shown = "; ".join(f'"{q[:200]}"' for q in bad)
        return f"these quotes are not in the document word for word: {shown}."
    return {
        "empty_output": "it was empty.",
        "missing_answer_marker": f"it has no final line starting with {ANSWER_MARKER}.",
        "empty_answer": f"nothing follows {ANSWER_MARKER}.",
        "unbalanced_quote_markers": f"its {BEGIN_QUOTE} and {END_QUOTE} markers do not pair up.",
        "answer_restates_question": f"the text after {ANSWER_MARKER} repeats the question instead of answering it.",
        "answer_not_a_sentence": f"the text after {ANSWER_MARKER} is not a complete sentence.",
        "markup_in_output": "it contains markup (markdown links, reST roles, HTML or template tags); "
                            "write plain text and quote sentences without their markup.",
    }.get(reason, f"it failed the check {reason}.")


def with_reference(output: str, reference: str | None) -> str:
    """The output with the user's reference answer as its final answer, when one was given."""
    if reference is None or final_answer(output) is None:
        return output
    head, _, _ = output.rpartition(ANSWER_MARKER)
    return f"{head}{ANSWER_MARKER} {reference.strip()}"


class LLMAnswerGenerator:
    """Writes RAFT chain-of-thought answers with an LLM and verifies them (an `AnswerGenerator`).

    Verification (`raft_format.answer_problem`): at least one quote, every quote in the oracle
    (whitespace aside), the `<ANSWER>:` marker there and the answer not empty. The model always sees
    the oracle, so a refusal without a quote is rejected too ("no_quote"). A failing answer gets
    `answer_retries` follow-ups naming the failure, then `Answer(None, rejected=reason)`. When every
    first request fails, LLMError says why.
    """

    stage = "answers"

    def __init__(self, client: LLMClient, cfg: LLMConfig | None = None, document_template: str = DOCUMENT_TEMPLATE):
        self.client = client
        self.cfg = cfg = cfg or client.config
        self.document_template = document_template
        self.custom_template = cfg.answer_prompt is not None
        self.template = cfg.answer_prompt or DEFAULT_ANSWER_PROMPT
        self.counts: Counter = Counter()

    def shown_documents(self, request: AnswerRequest) -> list[Chunk]:
        """The oracle alone, or the whole context with the oracle added when it is absent."""
        if not self.cfg.include_context_in_answer_prompt:
            return [request.oracle]
        docs = list(request.context)
        if request.oracle.chunk_id not in {c.chunk_id for c in docs}:
            docs.append(request.oracle)
        return docs

    def messages(self, request: AnswerRequest) -> list[dict[str, str]]:
        prompt = self.template.format(
            question=request.question, oracle=request.oracle.text, title=request.oracle.title,
            context=render_documents(self.shown_documents(request), self.document_template),
            reference_answer=request.reference_answer or "",
        )
        if request.reference_answer and not self.custom_template:
            prompt += (f"\n\nThe final answer is known: {request.reference_answer.strip()}\n"
                       "Explain from the documents why it is right.")
        return [{"role": "system", "content": ANSWER_SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def _check(self, request: AnswerRequest, result: Completion | Failure) -> tuple[str | None, str | None]:
        """(output, None) when the answer passes, else (raw output or None, reason)."""
        if isinstance(result, Failure):
            return None, f"request_failed:{result.reason}"
        output = with_reference(result.text.strip(), request.reference_answer)
        problem = answer_problem(output, request.oracle.text, question=request.asked, title=request.oracle.title,
                                 reference_answer=request.reference_answer)
        if problem is None and not extract_quotes(output):
            problem = "no_quote"  # a refusal: the format allows it, but the model was shown the oracle
        return (output, None) if problem is None else (result.text, problem)

    def generate(self, requests: Sequence[AnswerRequest]) -> list[Answer]:
        conversations = [self.messages(r) for r in requests]
        outputs: list[str | None] = [None] * len(requests)
        reasons: list[str | None] = [None] * len(requests)
        counts: Counter = Counter()
        pending = list(range(len(requests)))
        for attempt in range(self.cfg.answer_retries + 1):
            results = self.client.complete([conversations[i] for i in pending], stage=self.stage)
            if attempt == 0:
                _raise_if_all_failed(self.client, self.stage, results, "the LLM wrote 0 answers")
            retry: list[int] = []
            for i, result in zip(pending, results):
                output, reason = self._check(requests[i], result)
                if reason is None:
                    outputs[i], reasons[i] = output, None
                    counts["accepted" if attempt == 0 else "accepted_after_retry"] += 1
                    continue
                reasons[i] = reason
                if attempt == 0:
                    counts[f"first_try_failed:{reason}"] += 1
                if output is None:  # the request itself failed: the client already retried it
                    continue
                follow_up = (f"Your answer cannot be used: {explain_problem(reason, output, requests[i].oracle.text)}"
                             f"\nWrite the whole answer again: reason step by step, copy quotes exactly from the "
                             f"document between {BEGIN_QUOTE} and {END_QUOTE}, and end with a line "
                             f"'{ANSWER_MARKER} ' followed by the final answer.")
                conversations[i] = [*conversations[i], {"role": "assistant", "content": output},
                                    {"role": "user", "content": follow_up}]
                retry.append(i)
            pending = retry
            if not pending:
                break
        answers = []
        for output, reason in zip(outputs, reasons):
            if reason is None:
                answers.append(Answer(output=output))
            else:
                counts[f"rejected:{reason}"] += 1
                answers.append(Answer(output=None, rejected=reason))
        self.counts.update(counts)
        for name, n in counts.items():
            self.client.record(self.stage, name, n)
        return answers

    def stats(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
