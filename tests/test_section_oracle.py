"""A derived question's oracle moves to the chunk of its section that answers it (`SectionOracle`), judged by
the real extractive answerer with the embedded encoder."""

from __future__ import annotations

import dataclasses

import pytest

from raft_dataset.answers import AnswerRequest, ExtractiveAnswerGenerator, opens_on_its_own
from raft_dataset.chunking import chunk_document
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.corpus import read_corpus
from raft_dataset.encoding import Encoder
from raft_dataset.index import ChunkIndex
from raft_dataset.offline_questions import derive_queries
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.raft_format import extract_quotes
from raft_dataset.section_oracle import SectionOracle
from tests.conftest import SHARED, needs

POETRY_FAQ = SHARED / "corpora" / "poetry_docs" / "faq.md"

# A section whose way comes after two paragraphs of background: at 80 tokens a chunk, the way is in its
# second chunk. The next section answers in its first.
DEPLOYING = """\
# Deploying Tidepool

## Binding to external addresses

Tidepool's development server listens on the loopback interface only. That keeps a half-finished app off the \
network while you work on it, and it is the default for every project that `tidepool new` creates. Requests from \
other machines on your network are refused until you change it, and the server prints the address it listens on \
when it starts.

Once the app is ready to be reached by other machines, the server has to listen on an address they can reach. \
Containers have the same need: a server inside a container that listens on loopback cannot be reached from the host.

You can bind the server to every external address with the `--host 0.0.0.0` option of `tidepool serve`.

## Reloading the configuration

Tidepool reads `tidepool.toml` when the server starts. To reload the configuration without a restart, send the \
server process the `SIGHUP` signal.
"""
WAY = "You can bind the server to every external address with the `--host 0.0.0.0` option of `tidepool serve`."


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    path = tmp_path_factory.mktemp("docs") / "deploying.md"
    path.write_text(DEPLOYING, encoding="utf-8")
    documents = list(read_corpus(str(path)))
    chunks = [c for d in documents for c in chunk_document(d, encoder.tokenizer, 80, 16)]
    index = ChunkIndex.build(iter(chunks), encoder, show_progress_bar=False)
    queries = {q.question: q for q in derive_queries(documents, index.spans())}
    return index, queries


def _judge(encoder, min_similarity=0.3) -> ExtractiveAnswerGenerator:
    return ExtractiveAnswerGenerator(embed=encoder.encode, min_similarity=min_similarity)


def _answer(encoder, index, query) -> str:
    """The extractive answer the build writes for `query` with its oracle shown."""
    oracle = next(index.chunks([index.row_of(query.chunk_id)]))
    request = AnswerRequest(query.question, oracle, [oracle], evidence=oracle.text_span(query.evidence))
    answer = _judge(encoder).generate([request])[0]
    assert answer.output is not None, answer.rejected
    return answer.output


def test_a_how_question_moves_to_the_chunk_that_tells_the_way(built, encoder):
    index, queries = built
    bind = queries["How do I bind to external addresses?"]
    reload_ = queries["How do I reload the configuration?"]
    spans = index.spans()["deploying.md"]
    assert bind.chunk_id == spans[0][2] and WAY not in next(index.chunks([index.row_of(bind.chunk_id)])).text

    moved, n = SectionOracle(_judge(encoder)).run([bind, reload_], index)

    assert n == 1
    assert moved[0].chunk_id == spans[1][2] and moved[0].evidence == bind.evidence
    assert moved[1] == reload_  # its first chunk answers: it stays
    assert extract_quotes(_answer(encoder, index, moved[0]))[0] == WAY


def test_only_way_questions_move(built, encoder):
    """A section opens with what it is about: a what-question its first chunk does not answer stays there, though
    the judge would take the second chunk's "Once the app is ready to be reached ..." for an answer."""
    index, queries = built
    bind = queries["How do I bind to external addresses?"]
    what = dataclasses.replace(bind, question="What is binding to external addresses?")
    second = next(index.chunks([index.row_of(index.spans()["deploying.md"][1][2])]))
    judged = _judge(encoder).generate([AnswerRequest(what.question, second, [second],
                                                     evidence=second.text_span(what.evidence))])[0]
    assert extract_quotes(judged.output)[0].startswith("Once the app is ready")
    moved, n = SectionOracle(_judge(encoder)).run([what], index)
    assert n == 0 and moved == [what]


def test_nothing_moves_without_the_gate_or_past_max_chunks(built, encoder):
    index, queries = built
    bind = queries["How do I bind to external addresses?"]
    # Without `min_similarity` the first chunk's intro is an answer: the judge accepts it.
    assert SectionOracle(_judge(encoder, None)).run([bind], index) == ([bind], 0)
    assert SectionOracle(_judge(encoder), max_chunks=1).run([bind], index) == ([bind], 0)
    # A query without evidence (a user's, an LLM's) is never judged.
    bare = dataclasses.replace(bind, evidence=None)
    assert SectionOracle(_judge(encoder)).run([bare], index) == ([bare], 0)


WORKERS = """\
# Running workers

## Reloading the workers

Tidepool starts one worker per core when the server starts, and each worker keeps its jobs and its database \
connection until it exits. A long job can hold a worker for hours, and the scheduler waits for it before it hands the \
worker anything new, so the pool can look busy for a long time after a deploy.

You can also restart the workers one at a time with `tidepool workers restart --rolling`, which keeps the pool \
serving while the new code loads, though a long job still holds its worker until it ends.

To reload the workers after a deploy, send the `SIGUSR1` signal to the server process with `kill -USR1`.
"""


def test_a_later_chunk_must_answer_on_its_own(tmp_path, encoder):
    """At 72 tokens a chunk the section is three chunks. The judge answers from the second ("You can also restart
    the workers one at a time ..."), but that adds to a way told before: the oracle moves to the third, which tells
    the way. With only two chunks judged, it stays."""
    path = tmp_path / "workers.md"
    path.write_text(WORKERS, encoding="utf-8")
    documents = list(read_corpus(str(path)))
    chunks = [c for d in documents for c in chunk_document(d, encoder.tokenizer, 72, 16)]
    index = ChunkIndex.build(iter(chunks), encoder, show_progress_bar=False)
    [query] = derive_queries(documents, index.spans())
    assert query.question == "How do I reload the workers?" and len(chunks) == 3
    second = _answer(encoder, index, dataclasses.replace(query, chunk_id=chunks[1].chunk_id))
    assert extract_quotes(second)[0].startswith("You can also restart the workers")
    assert SectionOracle(_judge(encoder)).run([query], index) == (
        [dataclasses.replace(query, chunk_id=chunks[2].chunk_id)], 1)
    assert SectionOracle(_judge(encoder), max_chunks=2).run([query], index) == ([query], 0)


@needs(POETRY_FAQ)
def test_the_build_answers_a_faq_entry_from_the_chunk_that_tells_the_way(embedding_cache):
    """Poetry's FAQ "Poetry busts my Docker cache ...": the problem fills the entry's first chunk and the way opens
    the next. The build used to drop the row ("weak_answer": the premise tells no way); now its oracle is the
    second chunk, and the answer gives the way and its steps."""
    config = RaftDatasetConfig(corpus=str(POETRY_FAQ), min_answer_similarity=0.3, embedding_cache=embedding_cache)
    result = build_raft_dataset(config, show_progress=False)
    rows = {row["question"]: row for split in result.splits.values() for row in split}
    docker = next(row for question, row in rows.items() if "busts my Docker cache" in question)
    assert "By default, running `poetry install ...`" not in docker["oracle_text"]  # the premise's chunk is not it
    assert docker["output"].endswith(
        "<ANSWER>: To avoid this cache busting you can split this into two steps: Install 3rd party dependencies; "
        "Copy over your source code and install just the source code.")
    assert result.report.counts["oracles_moved_within_section"] >= 1
    # Without the gate nothing is judged, and the entry keeps its first chunk as before.
    ungated = build_raft_dataset(RaftDatasetConfig(corpus=str(POETRY_FAQ), embedding_cache=embedding_cache),
                                 show_progress=False)
    assert ungated.report.counts["oracles_moved_within_section"] == 0
    docker = next(row for split in ungated.splits.values() for row in split if "busts my Docker cache" in row["question"])
    assert "By default, running `poetry install ...`" in docker["oracle_text"]


@pytest.mark.parametrize(("sentence", "alone"), [
    (WAY, True),
    ("To avoid this cache busting you can split this into two steps:", True),
    ("`sqlite3.connect()` establishes a connection to the file pointed at by the `DATABASE` key.", True),
    ("It is possible to set the timeout per request.", True),  # an expletive "it" points nowhere
    ("attrs offers the following options:", True),  # a name in lower case, not a cut sentence
    ("we are allowing any version of Python 3 that is greater or equal than `3.9.0`.", False),  # cut by the chunk
    ("It is the \"path operation decorator\".", False),
    ("On the other hand, a task that didn't need a result wouldn't set this.", False),
    ("In other terms, `poetry update foo` will be a no-op.", False),
    ("You can also easily print to standard error by passing `err=True`.", False),
    ("Note that you must not access the hash code of the object.", False),
    ("Do not run two schedulers for the same jobs: every job runs twice.", False),
    ("But now you know how it works, so you can use relative imports.", False),
    ("There is more you can do, and we will cover some better setups.", False),
    ("So, that would throw an error in our example.", False),
    ("On top of that you can register blueprints multiple times.", False),
    ("FastAPI will still be able to override it.", False),
    ("The second version is an \"absolute import\": `from app.routers import items, users`.", False),
    ("So that it runs on every request, register it with `before_request`.", True),  # a clause, not a link
    ("returns the response object unchanged.", False),  # a cut sentence's tail, opening on its verb
    ("Its default value is 30 seconds.", False),
    ("After that, run `poetry install --no-root`.", False),
    ("Instead of pip, Poetry uses its own resolver to install packages.", True),
    ("Still images are served from the `static` folder.", True),
    ("The second argument of `connect()` is the timeout in seconds.", True),
])
def test_what_opens_on_its_own(sentence, alone):
    assert opens_on_its_own(sentence) is alone


def test_a_document_span_in_a_chunk():
    """`Chunk.text_span`: the part of a document span inside the chunk, in `text` offsets past an inserted heading
    line; None when they do not meet."""
    from raft_dataset.records import Chunk

    # doc.text[100:140] with the 6-character line "Intro\n" inserted before offset 100
    chunk = Chunk("d.md#1", "d.md", "D > Intro", "Intro\n" + "x" * 40, 100, 140, 10, inserted=((100, 6),))
    assert chunk.text_span((90, 120)) == (6, 26)  # starts before the chunk: from the chunk's start, after the line
    assert chunk.text_span((110, 200)) == (16, 46)  # ends after it: to its end
    assert chunk.text_span((0, 100)) is None and chunk.text_span((140, 150)) is None


class _RecordingJudge:
    """The real judge, keeping what each request asks."""

    def __init__(self, judge) -> None:
        self.judge = judge
        self.asked: list[str] = []

    def generate(self, requests):
        self.asked += [r.asked for r in requests]
        return self.judge.generate(requests)


def test_the_judge_is_asked_without_the_products_name(built, encoder):
    index, queries = built
    bind = queries["How do I bind to external addresses?"]
    named = dataclasses.replace(bind, question="In Tidepool, how do I bind to external addresses?",
                                unscoped_question=bind.question)
    judge = _RecordingJudge(_judge(encoder))
    moved, n = SectionOracle(judge).run([named], index)
    assert judge.asked == [bind.question, bind.question]  # the first chunk, then the second that answers
    assert n == 1 and moved[0].chunk_id == index.spans()["deploying.md"][1][2]
