import pytest

from raft_dataset.chunking import Chunk
from raft_dataset.queries import QueryFileError, derive_queries, heading_to_question, question_sentences, read_queries


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
        ("Declare a `Cookie` parameter", "", "How do I declare a `Cookie` parameter?"),
        ("Path Parameters", "FastAPI", "What are path parameters in FastAPI?"),
        ("Installation", "Tidepool", "How do I install Tidepool?"),
        ("`response_model` parameter", "", "What is `response_model` parameter used for?"),
        ("OpenAPI", "", "What is OpenAPI?"),
        ("Recap", "FastAPI", None),
        ("Technical Details", "", None),
    ],
)
def test_heading_to_question(heading, context, expected):
    assert heading_to_question(heading, context) == expected


def test_question_sentences_skip_code():
    text = "Intro. But what if you need more control? Use X.\n```\n# What is this comment?\n```\nHow do I restart the daemon?"
    assert question_sentences(text) == ["But what if you need more control?", "How do I restart the daemon?"]


def _chunk(doc, i, title, text="Some text here."):
    return Chunk(f"{doc}#{i}", doc, title, text, 0, len(text), 3)


def test_derive_prefers_question_headings_and_dedupes():
    chunks = [
        _chunk("a.md", 0, "Tidepool"),
        _chunk("a.md", 1, "Tidepool > Retries and timeouts"),
        _chunk("a.md", 2, "Tidepool > Why does my job run twice?"),
        _chunk("a.md", 3, "Tidepool > Why does my job run twice?", "Still the same section."),
        _chunk("b.md", 0, "Other > Why does my job run twice?"),
        _chunk("b.md", 1, "Other > Configure the daemon"),
    ]
    queries = derive_queries(chunks, questions_per_doc=2)
    assert [(q.question, q.chunk_id) for q in queries] == [
        ("Why does my job run twice?", "a.md#2"),
        ("What are retries and timeouts?", "a.md#1"),
        ("How do I configure the daemon?", "b.md#1"),  # the repeated question is dropped
    ]
    assert all(q.origin == "heading" and q.doc_id for q in queries)
