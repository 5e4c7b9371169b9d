import pytest

from raft_dataset.queries import (
    QueryFileError,
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
