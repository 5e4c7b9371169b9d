"""The product a corpus documents, found in the corpus, and derived questions that name it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE_CORPUS, SHARED, needs

from raft_dataset.answers import AnswerRequest, ExtractiveAnswerGenerator
from raft_dataset.corpus import read_corpus
from raft_dataset.product import ProductNameCounter, name_product, scoped_question
from raft_dataset.queries import OfflineQuestionGenerator
from raft_dataset.records import Chunk, Query

CORPORA = SHARED / "corpora"


def product_of(corpus) -> str | None:
    counter = ProductNameCounter()
    for _ in counter.observe(read_corpus(str(corpus))):
        pass
    return counter.name()


@needs(CORPORA)
@pytest.mark.parametrize(("folder", "name"), [
    ("poetry_docs", "Poetry"),  # the folder names it; the front page is "Introduction"
    ("flask_docs", "Flask"),  # "Welcome to Flask"
    ("fastapi_docs", "FastAPI"),  # written as the pages write it, not as the folder does
])
def test_the_product_of_a_real_corpus(folder, name):
    assert product_of(CORPORA / folder) == name


def test_the_example_corpus_names_its_product_on_its_front_page():
    # examples/corpus sits in folders that name nothing ("corpus", "examples"): its index.md title does
    assert product_of(EXAMPLE_CORPUS) == "Tidepool"


def write_pages(folder, pages: dict[str, str]):
    folder.mkdir(parents=True)
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_name_too_few_pages_write_is_no_product(tmp_path):
    pages = {"index.md": "# Welcome to Quillmate\n\nThis is the manual of Quillmate.\n"}
    pages |= {f"page{i}.md": f"# Topic {i}\n\nThe settings of the editor are kept in a file.\n" for i in range(4)}
    assert product_of(write_pages(tmp_path / "docs", pages)) is None  # 1 page of 5 says it

    pages |= {f"page{i}.md": f"# Topic {i}\n\nWith Quillmate the settings are kept in a file.\n" for i in range(2)}
    assert product_of(write_pages(tmp_path / "more" / "docs", pages)) == "Quillmate"  # 3 of 5


def test_a_lower_case_word_of_a_title_is_no_product(tmp_path):
    # Black's front page: "The uncompromising code formatter"; every page writes "code", which is no name
    pages = {"index.md": "# The uncompromising code formatter\n\nIt reformats your code.\n"}
    pages |= {f"page{i}.md": f"# Topic {i}\n\nIt changes your code in place.\n" for i in range(3)}
    assert product_of(write_pages(tmp_path / "docs", pages)) is None


def test_a_folder_may_name_a_product_written_in_lower_case(tmp_path):
    pages = {f"page{i}.md": f"# Topic {i}\n\nYou can upgrade pip with a command.\n" for i in range(3)}
    assert product_of(write_pages(tmp_path / "pip" / "docs", pages)) == "pip"


@pytest.mark.parametrize(("question", "scoped"), [
    ("What are templates?", "What are templates in Flask?"),
    ("What does the `self show` command do?", "What does the `self show` command do in Flask?"),
    # a question about another name says what it asks about: "What is Gunicorn in Flask?" reads as Flask's own
    ("What is Gunicorn?", "What is Gunicorn?"),
    ("What is CORS?", "What is CORS?"),
    ("What is REST?", "What is REST?"),  # an acronym of a word
    ("What is Middleware?", "What is Middleware in Flask?"),  # a word a heading capitalises
    ("What are WebSockets?", "What are WebSockets?"),
    ("What is Waitress?", "What is Waitress in Flask?"),  # an English word may be the heading's, not a name
    ("What are Tables?", "What are Tables in Flask?"),
    ("What is the Gunicorn setup?", "What is the Gunicorn setup in Flask?"),
    ("Why is the dependency resolution process slow?", "Why is the dependency resolution process slow in Flask?"),
    # a question with a place of its own takes the product in front, where it does not stack on the place
    ("How do I use `Security` in decorator `dependencies`?",
     "In Flask, how do I use `Security` in decorator `dependencies`?"),
    ("What is the blank line before decorated classes in stub files?",
     "In Flask, what is the blank line before decorated classes in stub files?"),
    ("How do I use dependencies with `yield`?", "In Flask, how do I use dependencies with `yield`?"),
    ("Where do I get packages from?", "In Flask, where do I get packages from?"),  # and one ending on a preposition
    # a clause the name would end: "... while my laptop was asleep in Flask?"
    ("Why didn't my job run while my laptop was asleep?", "In Flask, why didn't my job run while my laptop was asleep?"),
    # nowhere to put it: after "with cron" it would stack, and "My" is no question word to put it before
    ("My jobs run twice with cron, why?", "My jobs run twice with cron, why?"),
    ("How do I use Flask extensions?", "How do I use Flask extensions?"),  # names it already
    ("How do I use the `flask` command?", "How do I use the `flask` command?"),  # in any case inside code
    ("What is `flask-sqlalchemy`?", "What is `flask-sqlalchemy`?"),  # or as a part of a package name
    ("Flasks and bottles", "Flasks and bottles"),  # not a question
    ("?", "?"),
    ("Which one is better: A or B?", "In Flask, which one is better: A or B?"),  # not "A or B in Flask?"
    ("What is `--app hello:app2`?", "What is `--app hello:app2` in Flask?"),  # a colon in code is no list
    ("What is the flask_sqlalchemy session?", "What is the flask_sqlalchemy session?"),  # a package's name has it
    ("How do I use it in Flask2?", "How do I use it in Flask2?"),
])
def test_a_question_names_the_product(question, scoped):
    assert scoped_question(question, "Flask") == scoped


def test_naming_the_product_keeps_the_rest_of_a_query():
    query = Query(question="What are signals?", doc_id="signals.rst", chunk_id="signals.rst#0", origin="heading",
                  evidence=(10, 90))
    (scoped,) = name_product([query], "Flask")
    assert scoped.question == "What are signals in Flask?"
    assert scoped.unscoped_question == "What are signals?"
    assert (scoped.doc_id, scoped.chunk_id, scoped.origin, scoped.evidence) == ("signals.rst", "signals.rst#0",
                                                                                 "heading", (10, 90))
    assert name_product([query], "") == [query]
    assert name_product([query], None) == [query]


def test_a_users_and_an_llms_questions_are_shown_as_written():
    users = Query("How do I add signals in Flask?", origin="file")
    llms = [Query("How do I add signals in Flask?", origin="llm"), Query("What are signals?", origin="llm")]
    plain = Query("What are signals?", origin="file")
    assert name_product([users, *llms, plain], "Flask") == [
        Query("How do I add signals in Flask?", origin="file", unscoped_question="How do I add signals?"), *llms, plain]


class _Spans:
    """The part of `ChunkIndex` the offline questions read: each document's chunk spans."""

    def __init__(self, documents):
        self._spans = {d.doc_id: [(0, len(d.text), f"{d.doc_id}#0")] for d in documents}

    def spans(self):
        return self._spans


def generated(corpus, generator, product_name=None, max_queries=None):
    """A build's questions from `generator` and the product they name (`pipeline.generate_queries`)."""
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import generate_queries

    config = RaftDatasetConfig(corpus=str(corpus), product_name=product_name, max_queries=max_queries)
    documents = list(read_corpus(str(corpus)))
    queries, product = generate_queries(config, None, generator, _Spans(documents))
    return [q.question for q in queries], product


def test_offline_questions_name_the_product_found_or_given(tmp_path):
    pages = {"index.md": "# Welcome to Quillmate\n\nThis is the manual of Quillmate, an editor.\n"}
    pages |= {
        "themes.md": "# Themes\n\nA theme sets the colours of Quillmate and the fonts of every pane it shows.\n",
        "plugins.md": "# Installing plugins\n\nRun the install command, and Quillmate fetches the plugin for you.\n",
    }
    corpus = write_pages(tmp_path / "docs", pages)

    questions, product = generated(corpus, OfflineQuestionGenerator())
    assert {"What are themes in Quillmate?", "How do I install plugins in Quillmate?"} <= set(questions)
    assert product == "Quillmate"

    questions, product = generated(corpus, OfflineQuestionGenerator(), product_name="")
    assert {"What are themes?", "How do I install plugins?"} <= set(questions)
    assert product is None

    questions, product = generated(corpus, OfflineQuestionGenerator(), product_name="Quillmate Pro")
    assert "What are themes in Quillmate Pro?" in questions and product == "Quillmate Pro"


def test_a_name_the_pages_write_with_a_capital_takes_no_product(tmp_path):
    # FastAPI's pages write "Flask" and "Falcon" as names: "What is Flask in FastAPI?" read as Flask's place.
    # "middleware" mid-sentence is a word, which a heading capitalises: that question keeps the product.
    pages = {"index.md": "# Welcome to Quillmate\n\nThis is the manual of Quillmate, an editor.\n"}
    pages |= {
        "waitress.md": "# Waitress\n\nWaitress is a production server. You can serve Quillmate with Waitress on any "
                       "port, and then Waitress restarts its workers.\n",
        "middleware.md": "# Middleware\n\nMiddleware is code that runs around every request. Quillmate runs its "
                         "middleware in order, and each middleware may stop a request.\n",
    }
    corpus = write_pages(tmp_path / "docs", pages)
    for product_name in (None, "Quillmate"):  # counted whether the product is found or given
        questions, _ = generated(corpus, OfflineQuestionGenerator(), product_name=product_name)
        assert {"What is Waitress?", "What is middleware in Quillmate?"} <= set(questions), questions
    counter = ProductNameCounter()
    for _ in counter.observe(read_corpus(str(corpus))):
        pass
    assert counter.writes_as_a_name("Waitress") and counter.writes_as_a_name("quillmate")
    assert not counter.writes_as_a_name("Middleware") and not counter.writes_as_a_name("Unseen")
    assert scoped_question("What is Waitress?", "Flask", counter.writes_as_a_name) == "What is Waitress?"
    given = ProductNameCounter()  # a build cut short reads on for the counts, even with the product given
    assert given.resolve("Quillmate", read_corpus(str(corpus))) == "Quillmate" and given.writes_as_a_name("Waitress")
    # more often than not: a name the pages write in lower case as often as with a capital is a word
    mixed = ProductNameCounter()
    mixed.add(read_corpus(str(write_pages(tmp_path / "mixed", {
        "a.md": "# A\n\nIt runs on the Pipeline and then the pipeline stops, so the pipeline ends.\n"}))).__next__())
    assert not mixed.writes_as_a_name("pipeline")
    assert scoped_question("What is Waitress?", "Flask") == "What is Waitress in Flask?"  # a word, by itself


def test_answers_are_matched_against_what_the_question_asks():
    # Poetry's settings reference: the setting's line is stated about the setting the question names. The
    # product's name added to the question is no part of what it asks, and must not change the answer.
    text = "### `installer.max-workers`\n\nSet the maximum number of workers while using the parallel installer.\n"
    oracle = Chunk("configuration.md#12", "configuration.md", "Configuration > installer.max-workers", text, 0,
                   len(text), 20)
    asked = ExtractiveAnswerGenerator().answer(AnswerRequest(
        "What is `installer.max-workers` in Poetry?", oracle, [oracle],
        unscoped_question="What is `installer.max-workers`?"))
    final = asked.output.rpartition("<ANSWER>: ")[2]
    assert final == "`installer.max-workers` sets the maximum number of workers while using the parallel installer."

    # Matched against the scoped question itself, the subject is read as "`installer.max-workers` in Poetry"
    whole = ExtractiveAnswerGenerator().answer(AnswerRequest("What is `installer.max-workers` in Poetry?", oracle,
                                                             [oracle]))
    assert whole.output.rpartition("<ANSWER>: ")[2] != final


def test_a_build_names_the_product_and_changes_nothing_else(tmp_path):
    """Rows with the product named are the rows without it, question and wording aside: the same
    oracles, contexts, ranks, similarities and answers (all matched against what the question asks)."""
    from raft_dataset.card import render_card
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import build_raft_dataset
    from raft_dataset.raft_format import final_answer
    from tests.fake_encoder import HashingEncoder

    docs = Path(__file__).parent / "fixtures" / "docs"

    def build(product_name):
        config = RaftDatasetConfig(corpus=str(docs), embedding_cache="", num_distractors=1, oracle_probability=1.0,
                                   min_query_similarity=-1.0, splits={"train": 1.0}, product_name=product_name)
        return build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)

    plain, named = build(""), build("Tidewave")
    assert plain.product_name is None and named.product_name == "Tidewave"
    plain_rows, named_rows = plain.splits["train"], named.splits["train"]
    assert len(named_rows) == len(plain_rows) >= 10
    same = ("oracle_chunk_id", "context_chunk_ids", "context_scores", "oracle_rank", "oracle_confidence",
            "query_oracle_similarity", "hard_negatives", "excluded_distractors", "query_origin")
    for p, n in zip(plain_rows, named_rows):
        assert n["question"] == scoped_question(p["question"], "Tidewave")
        assert final_answer(n["output"]) == final_answer(p["output"])
        assert {k: n[k] for k in same} == {k: p[k] for k in same}
        assert n["question"] in n["instruction"]
    # questions that name it already, in any case, stay as they are
    assert [p["question"] for p, n in zip(plain_rows, named_rows) if n["question"] == p["question"]] == [
        "Can I run Tidewave without root?", "Does Tidewave support Windows?", "How do I install tidewave?"]
    assert "naming Tidewave where a question does not" in str(render_card(named, {}))
    assert "naming" not in str(render_card(plain, {}))


@pytest.mark.parametrize(("question", "form"), [
    ("In Flask, how do I make a request with `fetch`?", "how"),
    ("In FastAPI, how do dependencies with `yield` work?", "how_it_works"),
    ("In Poetry, what should I do if my requests are timing out?", "how"),
    ("In Flask, is it safe to use the debugger?", "yes_no"),
])
def test_a_question_with_the_product_in_front_keeps_its_form(question, form):
    # the section oracle moves how-questions only, and the reasoning's wording follows the form
    from raft_dataset.answers import question_form
    from raft_dataset.quality import question_form as first_word

    assert question_form(question) == form
    assert first_word(question) == question.split(", ", 1)[1].split()[0]


@pytest.mark.parametrize(("question", "unscoped"), [
    ("How do I add middleware in FastAPI?", "How do I add middleware?"),
    ("In FastAPI, how do I use `Security` in decorator `dependencies`?",
     "How do I use `Security` in decorator `dependencies`?"),
    ("How do I test an app with fastapi ?", "How do I test an app?"),
    ("What is FastAPI?", None),  # the product is what it asks about
    ("Is there support for FastAPI?", None),  # and what it asks for: "Is there support?" asks nothing
    ("Which editors have plugins for FastAPI?", None),
    ("How do I deploy FastAPI with Docker?", None),
    ("Is FastAPI fast?", None),
])
def test_a_users_question_without_its_place(question, unscoped):
    from raft_dataset.product import unscoped_question

    assert unscoped_question(question, "FastAPI") == unscoped
    if unscoped is not None:  # what scoped_question adds, unscoped_question takes away
        assert unscoped_question(scoped_question(unscoped, "FastAPI"), "FastAPI") == unscoped


class _RecordingRetriever:
    """A real retriever, keeping the questions it ranks chunks for."""

    def __init__(self, retriever) -> None:
        self.retriever, self.searched = retriever, []

    def fit(self, index):
        self.retriever.fit(index)

    def search(self, questions, k):
        self.searched += list(questions)
        return self.retriever.search(questions, k)

    def similarity(self, question, rows):
        return self.retriever.similarity(question, rows)


def test_retrieval_ranks_for_what_the_question_asks():
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import build_raft_dataset
    from raft_dataset.retrieval import DenseRetriever
    from tests.fake_encoder import HashingEncoder

    docs = Path(__file__).parent / "fixtures" / "docs"
    searched = {}
    for product in ("", "Tidewave"):
        retriever = _RecordingRetriever(DenseRetriever())
        config = RaftDatasetConfig(corpus=str(docs), embedding_cache="", num_distractors=1, min_query_similarity=-1.0,
                                   splits={"train": 1.0}, product_name=product)
        build_raft_dataset(config, encoder=HashingEncoder(), retriever=retriever, show_progress=False)
        searched[product] = retriever.searched
    assert searched["Tidewave"] == searched[""] and len(searched[""]) >= 10


def test_the_card_names_no_product_for_a_users_questions(tmp_path):
    # the user's questions are shown as written: the card must not say the build named the product in them
    from raft_dataset.card import render_card
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import build_raft_dataset
    from tests.fake_encoder import HashingEncoder

    docs = Path(__file__).parent / "fixtures" / "docs"
    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(["How do I install tidewave?", "What is the state directory in Tidewave?",
                                  "How do I restart a job?", "What does the lock file do?",
                                  "How do I change the log level?", "Where are logs written?"]), encoding="utf-8")
    config = RaftDatasetConfig(corpus=str(docs), queries=str(queries), embedding_cache="", num_distractors=1,
                               min_query_similarity=-1.0, splits={"train": 1.0}, product_name="Tidewave")
    result = build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)
    assert result.product_name is None and "naming" not in str(render_card(result, {}))
    assert "What is the state directory in Tidewave?" in {row["question"] for row in result.splits["train"]}


def test_a_queries_file_is_ranked_without_the_product(tmp_path):
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import generate_queries
    from raft_dataset.queries import QueryFile

    corpus = write_pages(tmp_path / "docs", {
        "index.md": "# Welcome to Quillmate\n\nThis is the manual of Quillmate, an editor.\n",
        "themes.md": "# Themes\n\nA theme sets the colours of Quillmate and the fonts of every pane.\n",
    })
    queries_file = tmp_path / "queries.jsonl"
    queries_file.write_text('{"question": "How do I change the theme in Quillmate?"}\n{"question": "What is Quillmate?"}\n',
                            encoding="utf-8")
    documents = list(read_corpus(str(corpus)))

    def asked(product_name):
        config = RaftDatasetConfig(corpus=str(corpus), queries=str(queries_file), product_name=product_name)
        queries, _ = generate_queries(config, None, QueryFile(queries_file), _Spans(documents))
        return [(q.question, q.unscoped_question) for q in queries]

    assert asked(None) == [("How do I change the theme in Quillmate?", "How do I change the theme?"),
                           ("What is Quillmate?", None)]
    assert asked("") == [("How do I change the theme in Quillmate?", None), ("What is Quillmate?", None)]


def test_only_the_first_pages_are_counted(tmp_path):
    # the counts are bounded however large the corpus: "later*.md" sort first and never say the name
    pages = {f"later{i}.md": f"# Later {i}\n\nThe editor keeps its files apart.\n" for i in range(5)}
    pages |= {f"page{i}.md": f"# Topic {i}\n\nWith Quillmate the settings are kept in a file.\n" for i in range(4)}
    corpus = write_pages(tmp_path / "quillmate" / "docs", pages)

    def name(max_pages):
        counter = ProductNameCounter(max_pages=max_pages)
        for _ in counter.observe(read_corpus(str(corpus))):
            pass
        return counter.pages, counter.name()

    assert name(3) == (3, None)
    assert name(100) == (9, "Quillmate")  # 4 pages of 9 write it


def test_a_build_cut_short_finds_the_same_product():
    # `max_queries` stops the questions early; the product still comes from the pages a full build counts
    questions = {}
    for max_queries in (None, 5):
        generator = OfflineQuestionGenerator(max_queries=max_queries)
        questions[max_queries], product = generated(EXAMPLE_CORPUS, generator, max_queries=max_queries)
        assert product == "Tidepool"
    assert questions[5] == questions[None][:5]  # the same N every time


def test_code_is_no_prose_however_many_fences():
    from raft_dataset.product import _prose

    text = "With Quillmate you edit.\n\n" + "```\nQuillmate = 1\n```\n\n" * 3 + "Quillmate saves it.\n"
    assert _prose(text).split() == ["With", "Quillmate", "you", "edit.", "Quillmate", "saves", "it."]
    assert "x" not in _prose("Use `x` here.")


@pytest.mark.parametrize("name", ["  Flask", "Flask?", "Flask\nPro", "x" * 61])
def test_a_bad_product_name_is_a_config_error(name):
    from raft_dataset.config import ConfigError, RaftDatasetConfig, validate_config

    with pytest.raises(ConfigError, match="product_name"):
        validate_config(RaftDatasetConfig(corpus="docs", product_name=name))
