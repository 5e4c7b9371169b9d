"""The chunk of a question's section that answers it.

A question derived from the corpus (a heading's, an FAQ entry's, a definition's) names the chunk that
holds the start of its section as its oracle. A long section spreads over several chunks, and its
point is not always in the first: Poetry's FAQ entry "Poetry busts my Docker cache ..." states the
problem in one chunk and tells the way ("To avoid this cache busting you can split this into two
steps") in the next. `SectionOracle` moves such a question's oracle to the first chunk of its section
that a judge (the offline extractive answerer, with its `min_answer_similarity` gate) answers it from.
A section none of whose chunks answers keeps its first chunk, and the answer stage drops it as before.

Only questions asking for a way or how something works move: a section opens with what it is about, so
"What is a Dockerfile?" left unanswered by its first chunk is not answered by a sentence further down
("Because the previous step copying the file could be detected by the Docker cache, ..."). And a later
chunk starts inside its section, so its answer must read without the text before it
(`opens_on_its_own`: not "It is the ...", "On the other hand, ...", "You can also ...", nor the tail of
a sentence the chunk's start cut).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from .answers import Answer, AnswerGenerator, AnswerRequest, opens_on_its_own, question_form
from .index import ChunkIndex
from .raft_format import extract_quotes
from .records import Chunk, Query

MOVING_FORMS = ("how", "how_it_works")  # `question_form`s whose answer may come after their section's start


@dataclass
class SectionOracle:
    """Moves each derived question's oracle to the first chunk of its section that answers it.

    Only questions that name their chunk and the span of text that answers them (`Query.evidence`,
    which derived questions have) are judged, only when that span runs over more than one chunk, and only
    those asking for a way or how something works (`MOVING_FORMS`).

    Args:
        judge: Answers a question from one chunk; a chunk "answers" when the judge writes an answer
            (`Answer.output` is not None). The build uses the extractive answerer with the build's
            `min_answer_similarity`; without that gate it accepts any quotable chunk, so no oracle moves.
        max_chunks: Most chunks of one section tried, the first included: bounds the judging on a long
            section.
        show_progress_bar: A progress bar over the judging rounds.
    """

    judge: AnswerGenerator
    max_chunks: int = 4
    show_progress_bar: bool = False

    def run(self, queries: Sequence[Query], index: ChunkIndex) -> tuple[list[Query], int]:
        """The queries, with the oracle of each moved where a later chunk of its section answers it
        and its first does not; and how many moved."""
        spans = index.spans()
        candidates = {i: self._section_chunks(q, spans.get(q.doc_id, [])) for i, q in enumerate(queries)}
        candidates = {i: ids for i, ids in candidates.items() if len(ids) > 1}
        chunk_of = self._chunks(candidates, index)
        chosen: dict[int, str] = {}
        pending = sorted(candidates)
        rounds = tqdm(range(self.max_chunks), desc="section oracles", disable=not self.show_progress_bar)
        for depth in rounds:  # one judging pass per depth: the encoder sees every pending sentence at once
            pending = [i for i in pending if depth < len(candidates[i])]
            if not pending:
                break
            requests = [self._request(queries[i], chunk_of[candidates[i][depth]]) for i in pending]
            answered = [self._answers(answer, later=depth > 0) for answer in self.judge.generate(requests)]
            for i, ok in zip(pending, answered):
                if ok and depth:
                    chosen[i] = candidates[i][depth]
            pending = [i for i, ok in zip(pending, answered) if not ok]
        moved = [dataclasses.replace(q, chunk_id=chosen[i]) if i in chosen else q for i, q in enumerate(queries)]
        return moved, len(chosen)

    @staticmethod
    def _answers(answer: Answer, *, later: bool) -> bool:
        """Whether the judge's answer counts; from a later chunk, its first quote must open on its own."""
        if answer.output is None:
            return False
        quotes = extract_quotes(answer.output)
        return not later or bool(quotes) and opens_on_its_own(quotes[0])

    def _section_chunks(self, query: Query, doc_spans: Sequence[tuple[int, int, str]]) -> list[str]:
        """The chunk ids over the query's evidence, in document order, from its named chunk on."""
        if query.chunk_id is None or query.evidence is None or question_form(query.question) not in MOVING_FORMS:
            return []
        start, end = query.evidence
        ids = [chunk_id for s, e, chunk_id in doc_spans if s < end and e > start]
        if query.chunk_id not in ids:
            return []
        return ids[ids.index(query.chunk_id):][: self.max_chunks]

    @staticmethod
    def _chunks(candidates: dict[int, list[str]], index: ChunkIndex) -> dict[str, Chunk]:
        rows = sorted({index.row_of(chunk_id) for ids in candidates.values() for chunk_id in ids})
        return {chunk.chunk_id: chunk for chunk in index.chunks(rows)}

    @staticmethod
    def _request(query: Query, chunk: Chunk) -> AnswerRequest:
        """The request the answer stage would make with this chunk as the oracle, shown in the context."""
        return AnswerRequest(query.question, chunk, [chunk], query.answer, evidence=chunk.text_span(query.evidence),
                             unscoped_question=query.unscoped_question)
