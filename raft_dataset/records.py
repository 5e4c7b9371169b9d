"""The records that flow through a build: Document -> Chunk -> Query -> Sample.

Every stage takes and returns these types; nothing travels between stages as a dict. The output
schema (`SAMPLE_FEATURES`) is derived from `Sample`, so adding a column means adding a field here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import datasets

from .features import list_of


@dataclass(frozen=True)
class Heading:
    """A section heading of a document.

    Attributes:
        start: Offset in the document text where the heading begins.
        end: Offset where the heading's markup ends and its section's body begins. Equal to `start`
            when the markup was rendered away (clean text keeps headings as structure only).
        level: 1 for a page title, 2 for its sections, and so on.
        text: The heading as plain text, without markup.
        marked: The heading with its inline code in backticks ("Dependencies with `yield`"), or "" when
            it has none. Questions read it: code is a name, not an English word ("Import `Field`").
    """

    start: int
    end: int
    level: int
    text: str
    marked: str = ""


@dataclass(frozen=True)
class Definition:
    """A defined term (glossary, definition list): `text[start:end]` of the document defines `term`."""

    term: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One source document, as text a reader of the page would see.

    Attributes:
        doc_id: Stable id: the path relative to the corpus root (posix), or the record id.
        title: Front-matter title, first heading, record title, or the file stem.
        text: The document text.
        format: The reader that produced it ("markdown", "rst", "text", "html", "jsonl", "hf", ...).
        source: The file path or dataset name it came from.
        headings: Section headings in document order, offsets into `text`.
        definitions: Defined terms (glossary and definition-list entries), offsets into `text`.
        metadata: Reader-specific facts about the document (e.g. page offsets of a PDF).
    """

    doc_id: str
    title: str
    text: str
    format: str
    source: str
    headings: tuple[Heading, ...] = ()
    definitions: tuple[Definition, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded, retrieved and quoted.

    Attributes:
        chunk_id: f"{doc_id}#{index}", index counting from 0 within the document.
        doc_id: The id of the document it comes from.
        title: Document title and heading path joined by " > " (e.g. "Tutorial > First Steps > Run it").
        text: The chunk text: doc.text[start:end], with the headings of the inner sections it packs
            on lines of their own before their text, or a code fence line added on a side where the
            chunk cuts a code block too long for one chunk (so code never reads as prose).
        start: Character offset of the chunk in the document text.
        end: Character offset one past the chunk's end.
        n_tokens: Length of `text` in encoder tokens (no special tokens).
        first_page, last_page: The pages (1-based) the chunk spans in a paged document (PDF); None
            for documents without pages.
        inserted: Where `text` has more than doc.text[start:end]: (document offset, characters
            inserted before it) pairs, in order; `text_offset` uses them.
    """

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    n_tokens: int
    first_page: int | None = None
    last_page: int | None = None
    inserted: tuple[tuple[int, int], ...] = ()

    def text_offset(self, doc_offset: int, *, end: bool = False) -> int:
        """The offset in `text` of document offset `doc_offset` (between `start` and `end`). Text
        inserted at that very offset (a heading line) comes before a start and after an end."""
        shift = sum(n for at, n in self.inserted if at < doc_offset or (at == doc_offset and not end))
        return doc_offset - self.start + shift

    def text_span(self, doc_span: tuple[int, int]) -> tuple[int, int] | None:
        """The part of a document span (start, end) that lies in this chunk, as offsets in `text`;
        None when the two do not meet."""
        start, end = max(doc_span[0], self.start), min(doc_span[1], self.end)
        return (self.text_offset(start), self.text_offset(end, end=True)) if start < end else None


class AsksQuestion:
    """`asked` for a record with `question` and `unscoped_question` (`Query`, `Sample`, `answers.AnswerRequest`)."""

    @property
    def asked(self) -> str:
        """What the question asks, the product it is placed in aside: `unscoped_question`, else `question`.
        Retrieval, answers and their checks read this."""
        return self.unscoped_question or self.question


@dataclass(frozen=True)
class Query(AsksQuestion):
    """A question to build one sample from.

    Attributes:
        question: The question text.
        answer: A reference answer, if the user gave one.
        doc_id: The gold document, if known.
        chunk_id: The gold chunk, if known (a question derived from a chunk has it as its oracle).
        origin: Where it came from: "file", "heading", "sentence", "definition" or "llm".
        evidence: (start, end) offsets in the gold document of the text that answers the question
            (the body of the section a heading question came from), when known.
        unscoped_question: What the question asks without the product it is placed in: a derived question
            before the product's name was added ("What are templates?" for "What are templates in Flask?",
            `product.scoped_question`), or a user's without it ("How do I add middleware?" for "How do I add
            middleware in FastAPI?", `product.unscoped_question`); None when the question has no such words.
            Answers are matched against it: a name every question shares says nothing about which
            sentence answers one, and would pull answers towards sentences that name the product.
    """

    question: str
    answer: str | None = None
    doc_id: str | None = None
    chunk_id: str | None = None
    origin: str = "file"
    evidence: tuple[int, int] | None = None
    unscoped_question: str | None = None


def _column(feature: Any = None, export: bool = True) -> dict:
    return {"feature": feature, "export": export}


_MESSAGE = {"role": datasets.Value("string"), "content": datasets.Value("string")}
_EXCLUDED = {"chunk_id": datasets.Value("string"), "guard": datasets.Value("string")}


@dataclass
class Sample(AsksQuestion):
    """One RAFT training row, and what it was built from.

    The exported columns, in order:
        id: Stable id of the sample (question and oracle chunk).
        instruction, input, output: The alpaca triple: task and question, context documents, answer.
        messages: The same sample as system / user / assistant chat turns.
        prompt, completion: The same turns split for prompt-completion training (TRL's conversational
            prompt-completion type): the system and user turns, and the assistant turn.
        question: The question.
        reference_answer: The user's reference answer, if any.
        query_origin: Where the question came from (see `Query.origin`).
        oracle_chunk_id, oracle_doc_id: The chunk that answers the question, and its document.
        oracle_title, oracle_text: The oracle chunk's title and text, also when the context leaves it
            out (to evaluate a model with the oracle put back, or to judge the row).
        oracle_present: Whether the oracle is in the context.
        oracle_position: Its position in the context, or -1.
        oracle_choice: How the oracle was chosen: "gold_chunk" (the question names it),
            "reference_answer" (the chunk that best supports the user's answer), "gold_document" (the
            named document's best chunk) or "top_hit" (the retrieval's first chunk).
        oracle_rank: Its rank in the retrieval for the question, or -1 when not retrieved.
        oracle_retrieved: Whether retrieval ranks it in the top `retrieval_check_k`; null for a
            "top_hit" oracle, where the retrieval itself made the choice and the check would say nothing.
        oracle_confidence: The oracle's fused dense + BM25 score (each divided by its best score for
            the question) minus that of the best chunk of any other document: -1 to 1, > 0 when the
            oracle's document wins.
        retrievers_agree: Whether the dense and the BM25 ranking both put the oracle's document first.
        query_oracle_similarity: Cosine similarity of the question and the oracle.
        context_chunk_ids, context_doc_ids, context_scores: The context documents, in order, and
            their similarity to the question.
        hard_negatives: How many distractors came from the retrieval ranking.
        excluded_distractors: Candidates kept out of the context because they likely answer the
            question too, each with the guard that excluded it ("similar_to_oracle",
            "holds_reference_answer", "ranked_above_oracle", "scored_near_oracle").
        input_tokens, output_tokens, total_tokens: Token counts (tiktoken) of the user turn, the answer
            and both.
        sequence_tokens: Length of the whole conversation as a trainer tokenizes it: `messages` through
            the `stats_tokenizer`'s chat template when it has one, else the turns' tokens plus 3 a turn
            for the chat markup (tiktoken, counted the way OpenAI counts chat messages).

    Ranks, scores and similarities are those of what the question asks: without the product's name a
    derived question was given (`Query.unscoped_question`).

    Not exported, used while the row is built: `oracle` and `context` (the chunks themselves),
    `evidence` (the query's evidence span, offsets in the oracle's document) and `unscoped_question`
    (`Query.unscoped_question`).
    """

    id: str
    question: str
    reference_answer: str | None
    query_origin: str
    oracle_chunk_id: str
    oracle_doc_id: str
    oracle_title: str
    oracle_text: str
    oracle_present: bool
    oracle_position: int
    oracle_choice: str
    oracle_rank: int
    oracle_retrieved: bool | None
    oracle_confidence: float = field(metadata=_column(datasets.Value("float32")))
    retrievers_agree: bool
    query_oracle_similarity: float = field(metadata=_column(datasets.Value("float32")))
    context_chunk_ids: list[str] = field(default_factory=list)
    context_doc_ids: list[str] = field(default_factory=list)
    context_scores: list[float] = field(default_factory=list, metadata=_column(list_of(datasets.Value("float32"))))
    hard_negatives: int = 0
    excluded_distractors: list[dict] = field(default_factory=list, metadata=_column(list_of(_EXCLUDED)))
    instruction: str = ""
    input: str = ""
    output: str = ""
    messages: list[dict] = field(default_factory=list, metadata=_column(list_of(_MESSAGE)))
    prompt: list[dict] = field(default_factory=list, metadata=_column(list_of(_MESSAGE)))
    completion: list[dict] = field(default_factory=list, metadata=_column(list_of(_MESSAGE)))
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    sequence_tokens: int = 0
    oracle: Chunk | None = field(default=None, repr=False, metadata=_column(export=False))
    context: list[Chunk] = field(default_factory=list, repr=False, metadata=_column(export=False))
    evidence: tuple[int, int] | None = field(default=None, repr=False, metadata=_column(export=False))
    unscoped_question: str | None = field(default=None, repr=False, metadata=_column(export=False))

    def to_row(self) -> dict[str, Any]:
        """The exported columns as a dict, in `SAMPLE_FEATURES` order."""
        return {name: getattr(self, name) for name in SAMPLE_FEATURES}


# The column order of the output files: the training columns first, then the provenance.
_COLUMN_ORDER = (
    "id", "instruction", "input", "output", "messages", "prompt", "completion", "question", "reference_answer",
    "query_origin", "oracle_chunk_id", "oracle_doc_id", "oracle_title", "oracle_text", "oracle_present", "oracle_position", "oracle_choice", "oracle_rank",
    "oracle_retrieved", "oracle_confidence", "retrievers_agree", "query_oracle_similarity", "context_chunk_ids",
    "context_doc_ids", "context_scores", "hard_negatives", "excluded_distractors", "input_tokens",
    "output_tokens", "total_tokens", "sequence_tokens",
)
_DEFAULT_FEATURES = {
    str: datasets.Value("string"),
    bool: datasets.Value("bool"),
    int: datasets.Value("int32"),
    float: datasets.Value("float32"),
    list[str]: list_of(datasets.Value("string")),
}


def _sample_features() -> datasets.Features:
    hints = typing.get_type_hints(Sample)
    columns = {}
    for f in dataclasses.fields(Sample):
        if not f.metadata.get("export", True):
            continue
        hint = hints[f.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))  # `str | None` -> str
        columns[f.name] = f.metadata.get("feature") or _DEFAULT_FEATURES[hint]
    missing = set(columns) ^ set(_COLUMN_ORDER)
    if missing:  # pragma: no cover - a field added without a place in the column order
        raise TypeError(f"Sample columns and _COLUMN_ORDER disagree on: {sorted(missing)}")
    return datasets.Features({name: columns[name] for name in _COLUMN_ORDER})


SAMPLE_FEATURES: datasets.Features = _sample_features()
