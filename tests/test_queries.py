import pytest

from raft_dataset.queries import (
    QueryFileError,
    derive_queries,
    heading_to_question,
    proper_nouns,
    question_sentences,
    read_queries,
)


def test_read_jsonl_csv_and_text(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"question": "How?", "answer": "So.", "doc_id": "a.md"}\n\n{"query": "Why?"}\n')
    (tmp_path / "q.csv").write_text("question,answer\nWhat is X?,An x\n")
    (tmp_path / "q.txt").write_text("First question?\n\nSecond question?\n")
    jsonl = read_queries(tmp_path / "q.jsonl")
    assert [(q.question, q.answer, q.doc_id) for q in jsonl] == [("How?", "So.", "a.md"), ("Why?", None, None)]
    assert [(q.question, q.answer) for q in read_queries(tmp_path / "q.csv")] == [("What is X?", "An x")]
    assert [q.question for q in read_queries(tmp_path / "q.txt")] == ["First question?", "Second question?"]


def test_bad_query_files_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?"}\n{not json}\n')
    with pytest.raises(QueryFileError, match=r"bad.jsonl:2: invalid JSON"):
        read_queries(bad)
    bad.write_text('{"question": "ok?"}\n{"answer": "no question"}\n')
    with pytest.raises(QueryFileError, match=r"bad.jsonl:2: no non-empty 'question'"):
        read_queries(bad)
    with pytest.raises(QueryFileError, match="not found"):
        read_queries(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("heading", "context", "expected"),
    [
        ("Why does my job run twice?", "", "Why does my job run twice?"),
        ("Installing Tidepool", "", "How do I install Tidepool?"),
        ("Declare a `Cookie` parameter", "", "How do I declare a Cookie parameter?"),
        ("Path Parameters", "FastAPI", "What are path parameters in FastAPI?"),
        ("Installation", "Tidepool", "How do I install Tidepool?"),
        ("The `response_model` parameter", "", "What is the response_model parameter?"),
        ("Benchmarks and speed", "", "What are benchmarks and speed?"),
        ("OpenAPI", "", "What is OpenAPI?"),
        ("Recap", "FastAPI", None),
        ("Technical Details", "", None),
        ("In production", "WebSockets", None),
        ("File Parameters with UploadFile", "", "What are file parameters with UploadFile?"),
        ("FastAPI Cloud", "Deploy FastAPI on Cloud Providers", "What is FastAPI cloud?"),
        ("Header Parameters with a Pydantic Model", "", "What are header parameters with a Pydantic model?"),
    ],
)
def test_heading_to_question(heading, context, expected):
    assert heading_to_question(heading, context, keep=frozenset({"Pydantic"})) == expected


def test_proper_nouns_are_capitalised_mid_sentence_and_never_lower_case():
    text = "You declare them with Pydantic models. Then Pydantic validates. The Model is a model."
    assert proper_nouns(text) == frozenset({"Pydantic"})


def test_question_sentences_skip_code():
    text = "Intro. But what if you need more control? Use X.\n```\n# What is this comment?\n```\nHow do I restart the daemon?"
    # "But what if ...?" is a rhetorical lead-in, not a question a user asks.
    assert question_sentences(text) == ["How do I restart the daemon?"]


def _doc(doc_id, text, title="Tidepool"):
    from raft_dataset.corpus import Document

    return Document(doc_id, title, text, "markdown", doc_id)


def test_derive_prefers_question_headings_and_dedupes():
    a = _doc("a.md", "# Tidepool\n\nA scheduler.\n\n## Retries and timeouts\n\nJobs retry.\n\n"
                     "## Why does my job run twice?\n\nTwo daemons.\n\n## Empty\n\n### Child\n\nText.\n")
    b = _doc("b.md", "# Other\n\n## Why does my job run twice?\n\nSame question.\n\n"
                     "## Configure the daemon\n\nEdit the file. Is this text a question too?\n", title="Other")
    cut = a.text.index("## Why")
    spans = {"a.md": [(0, cut, "a.md#0"), (cut, len(a.text), "a.md#1")], "b.md": [(0, len(b.text), "b.md#0")]}
    queries = derive_queries([a, b], spans, questions_per_doc=2)
    assert [(q.question, q.chunk_id, q.origin) for q in queries] == [
        ("Why does my job run twice?", "a.md#1", "heading"),
        ("What are retries and timeouts?", "a.md#0", "heading"),
        # b's copy of the same question is dropped; its own question sentence comes next.
        ("Is this text a question too?", "b.md#0", "sentence"),
        ("How do I configure the daemon?", "b.md#0", "heading"),
    ]
