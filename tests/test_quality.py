import json

from raft_dataset.quality import length_summary, quality_report, question_form


def _doc(title: str, text: str) -> str:
    return f"<DOCUMENT>\nTitle: {title}\n{text}\n</DOCUMENT>"


def _output(quote: str, answer: str) -> str:
    return f"Document 1 says:\n##begin_quote##{quote}##end_quote##\nThis answers it.\n<ANSWER>: {answer}"


STATE = "The state directory holds the job journal and the lock file."
ROWS = [
    {   # clean
        "question": "What is the state directory?", "query_origin": "heading", "oracle_present": True,
        "input": _doc("Guide > State", STATE) + "\n\n" + _doc("Guide > Logs", "Logs go to the log directory."),
        "output": _output(STATE, STATE), "input_tokens": 100, "output_tokens": 40,
        "context_doc_ids": ["state.md", "logs.md"], "oracle_doc_id": "state.md", "oracle_position": 0,
        "oracle_choice": "gold_chunk", "oracle_confidence": 0.4, "retrievers_agree": True, "hard_negatives": 1,
        "excluded_distractors": [{"chunk_id": "x.md#0", "guard": "scored_near_oracle"}],
    },
    {   # exact duplicate question, answer restates it, HTML in a context, two chunks of one document
        "question": "what is the State Directory", "query_origin": "heading", "oracle_present": True,
        "input": _doc("Guide > State", STATE) + "\n\n" + _doc("Guide > State", "<div>Layout</div> of the directory."),
        "output": _output(STATE, "The state directory."), "input_tokens": 200, "output_tokens": 20,
        "context_doc_ids": ["state.md", "state.md"], "oracle_doc_id": "state.md", "oracle_position": 0,
        "oracle_choice": "gold_chunk", "oracle_confidence": -0.1, "retrievers_agree": False, "hard_negatives": 1,
        "excluded_distractors": [{"chunk_id": "y.md#0", "guard": "similar_to_oracle"},
                                 {"chunk_id": "x.md#0", "guard": "scored_near_oracle"}],
    },
    {   # emphasis in the quote, a markdown heading in a context, oracle absent, the install command left out
        "question": "How do I install Tidepool?", "query_origin": "file", "oracle_present": False,
        "input": _doc("Guide > Setup", "## Setup\nSet it up.") + _doc("FAQ", "Answers."),
        "oracle_text": "Install it with **pipx**.\n\n```\npipx install tidepool\n```\n",
        "output": _output("Install it with **pipx**.", "Install it with pipx."), "input_tokens": 300,
        "output_tokens": 60, "context_doc_ids": ["setup.md", "faq.md", "logs.md"], "oracle_doc_id": "install.md",
        "oracle_position": -1, "oracle_choice": "top_hit", "oracle_confidence": 0.0, "retrievers_agree": False,
        "hard_negatives": 2, "excluded_distractors": [],
    },
    {   # near duplicate of the previous question, a table row as the answer, two chunks of one document
        "question": "How can I install tidepool", "query_origin": "llm", "oracle_present": True,
        "input": _doc("Install", "| pipx | 1.0 |"), "output": _output("| pipx | 1.0 |", "| pipx | 1.0 |"),
        "input_tokens": 400, "output_tokens": 80, "context_doc_ids": ["install.md", "install.md", "faq.md"],
        "oracle_doc_id": "install.md", "oracle_position": 0,
    },
    {   # a markdown link in the final answer
        "question": "Why does a job retry?", "query_origin": "sentence", "oracle_present": True,
        "input": _doc("Retries", "Jobs retry because networks fail."),
        "output": _output("Jobs retry because networks fail.", "Jobs retry because [networks](n.md) fail."),
        "input_tokens": 500, "output_tokens": 100, "context_doc_ids": ["retries.md"], "oracle_doc_id": "retries.md",
        "oracle_position": 0,
    },
    {   # a reST role in the question; the short reference answer is the user's and stays
        "question": "Can I call :func:`retry` myself?", "query_origin": "file", "oracle_present": True,
        "input": _doc("API", "You may call it."), "output": _output("You may call it.", "Yes."),
        "reference_answer": "Yes.", "input_tokens": 600, "output_tokens": 120,
        "context_doc_ids": ["api.md", "retries.md"], "oracle_doc_id": "api.md", "oracle_position": 0,
    },
]


def test_quality_report_exact_figures():
    report = quality_report(ROWS)
    assert report.to_dict() == {
        "rows": 6,
        "defects": {
            "answer_restates_question": 0.1667,
            "answer_not_a_sentence": 0.1667,
            "markup_in_question": 0.1667,
            "markup_in_quotes": 0.1667,
            "markup_in_answer": 0.1667,
            "markup_in_contexts": 0.3333,
        },
        "markup_kinds": {"emphasis": 0.1667, "heading_marker": 0.1667, "html": 0.1667, "markdown_link": 0.1667,
                         "rst_role": 0.1667},
        "question_forms": {"how": 0.3333, "what": 0.3333, "can": 0.1667, "why": 0.1667},
        "query_origins": {"file": 0.3333, "heading": 0.3333, "llm": 0.1667, "sentence": 0.1667},
        "duplicate_questions": {"exact": 0.1667, "near": 0.1667},
        "output_tokens": {"mean": 70.0, "median": 70.0, "p95": 115.0},
        "input_tokens": {"mean": 350.0, "median": 350.0, "p95": 575.0},
        "same_document_context": 0.3333,
        "how_answers_without_code": 0.5,  # of the two how-questions, the first leaves out `pipx install tidepool`
        "oracle_present": 0.8333,
        "oracle": {  # rows without the oracle columns (read from an older dataset) count as not agreeing
            "choices": {"gold_chunk": 0.3333, "top_hit": 0.1667},
            "confidence": {"mean": 0.1, "median": 0.0, "p5": -0.09},  # of 0.4, -0.1 and 0.0
            "outscored": 0.3333,  # -0.1 and 0.0
            "retrievers_agree": 0.1667,
            "excluded_distractors_per_row": {"scored_near_oracle": 0.33, "similar_to_oracle": 0.17},
            "hard_negatives_per_row": 0.67,
        },
    }
    json.dumps(report.to_dict())  # JSON- (and so YAML-) ready
    assert report.defects["markup_in_contexts"] == 2 and report.exact_duplicate_questions == 1


def test_quality_report_markdown():
    assert quality_report(ROWS).to_markdown() == "\n".join([
        "| Check (6 rows) | Share of rows |",
        "|---|---:|",
        "| answer restates the question | 16.7% |",
        "| answer is not a sentence | 16.7% |",
        "| markup in the question | 16.7% |",
        "| markup in the quotes | 16.7% |",
        "| markup in the final answer | 16.7% |",
        "| markup in the context documents | 33.3% |",
        "| exact duplicate questions | 16.7% |",
        "| near duplicate questions | 16.7% |",
        "| two chunks of one document in the context | 33.3% |",
        "| how-answers leaving out the short code after their last quote (of 2 how-questions) | 50.0% |",
        "| oracle in the context | 83.3% |",
        "| oracle outscored by another document (confidence <= 0) | 33.3% |",
        "| dense and BM25 both rank the oracle's document first | 16.7% |",
        "",
        "| Tokens | mean | median | p95 |",
        "|---|---:|---:|---:|",
        "| answer (output) | 70 | 70 | 115 |",
        "| prompt (input) | 350 | 350 | 575 |",
        "",
        "Question forms: how 33.3%, what 33.3%, can 16.7%, why 16.7%",
        "Question origins: file 33.3%, heading 33.3%, llm 16.7%, sentence 16.7%",
        "Oracles: gold_chunk 33.3%, top_hit 16.7%; confidence median 0",
        "Distractors per row: 0.67 from the ranking; candidates kept out per row: scored_near_oracle 0.33, "
        "similar_to_oracle 0.17",
    ])


def test_clean_rows_have_no_defects_and_empty_input_is_fine():
    report = quality_report(ROWS[:1] + ROWS[4:5])
    assert report.defects["markup_in_answer"] == 1 and sum(report.defects.values()) == 1
    empty = quality_report([])
    assert empty.rows == 0 and empty.to_dict()["defects"]["answer_not_a_sentence"] == 0.0
    assert "0 rows" in empty.to_markdown()


def test_helpers():
    assert length_summary([1, 2, 3, 4, 5]) == {"mean": 3.0, "median": 3.0, "p95": 4.8}
    assert question_form("  What's new?") == "what" and question_form("Tell me more.") == "other"


def test_rows_read_back_from_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    columns = ["question", "input", "output", "query_origin", "oracle_present", "input_tokens", "output_tokens",
               "context_doc_ids", "oracle_doc_id", "oracle_position"]
    pq.write_table(pa.Table.from_pylist([{c: r[c] for c in columns} for r in ROWS]), path)
    back = quality_report(pq.read_table(path).to_pylist())
    expected = quality_report([{c: r[c] for c in columns} for r in ROWS])
    assert back.to_dict() == expected.to_dict()


def test_how_answers_leaving_out_their_code():
    from raft_dataset.quality import _leaves_out_code

    # a quote as written, then a fence: left out; quoted with it: not
    oracle = "Install it with **pipx**.\n\n```\npipx install tidepool\n```\n"
    assert _leaves_out_code(_output("Install it with **pipx**.", "x"), oracle)
    assert not _leaves_out_code(_output(oracle.strip(), "x"), oracle)
    # prose quoted on one line that the oracle breaks: found by its tail
    wrapped = "To install the tool\nyou run the install command from the project folder.\n\n    tidepool install\n"
    assert _leaves_out_code(_output("To install the tool you run the install command from the project folder.", "x"),
                            wrapped)
    # an indented fence counts, and so does an indented (reST or markdown) code block; prose after it does not
    assert _leaves_out_code(_output("Run it.", "x"), "Run it.\n\n   ```\n   tidepool run\n   ```\n")
    assert not _leaves_out_code(_output("Run it.", "x"), "Run it.\n\nThen read the log.\n")
    assert not _leaves_out_code(_output("Not in the oracle.", "x"), oracle)
    # a block as long as a quote takes along counts; an example program longer than that does not, fenced or
    # indented (no answer states a 13-line program whole)
    program = "\n".join(f"step_{i}()" for i in range(13))
    for lines, counted in ((12, True), (13, False)):
        code = "\n".join(program.split("\n")[:lines])
        assert _leaves_out_code(_output("Run it:", "x"), f"Run it:\n\n```python\n{code}\n```\n\nDone.") is counted
        tilde = f"Run it:\n\n~~~python\n{code}\n~~~\n\nDone."
        assert _leaves_out_code(_output("Run it:", "x"), tilde) is counted
        # a four-backtick fence is not closed by the three-backtick fence of an example inside it
        nested = f"Run it:\n\n````markdown\n```\n{code}\n```\n````\n\nDone."
        assert _leaves_out_code(_output("Run it:", "x"), nested) is (lines + 2 <= 12)
        indented = "\n".join(f"    {line}" for line in code.split("\n"))
        assert _leaves_out_code(_output("Run it::", "x"), f"Run it::\n\n{indented}\n\nDone.") is counted
