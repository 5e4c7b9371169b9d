from raft_dataset.raft_format import answer_problem, extract_quotes, final_answer, quote_in_source

ORACLE = "Retries back off exponentially.\nThe default   delay is 5 seconds,\nand the cap is 10 minutes."


def test_valid_answer_with_whitespace_normalised_quote():
    output = "It says ##begin_quote##The default delay is 5 seconds,##end_quote##.\n<ANSWER>: 5 seconds"
    assert extract_quotes(output) == ["The default delay is 5 seconds,"]
    assert final_answer(output) == "5 seconds"
    assert answer_problem(output, ORACLE) is None


def test_each_problem_is_named():
    assert answer_problem("", ORACLE) == "empty_output"
    assert answer_problem("##begin_quote##Retries back off##end_quote##", ORACLE) == "missing_answer_marker"
    assert answer_problem("text <ANSWER>:   ", ORACLE) == "empty_answer"
    assert answer_problem("##begin_quote##Retries <ANSWER>: x", ORACLE) == "unbalanced_quote_markers"
    invented = "##begin_quote##The default delay is 7 seconds##end_quote## <ANSWER>: 7"
    assert answer_problem(invented, ORACLE) == "quote_not_in_oracle"
    assert not quote_in_source("   ", ORACLE)


def test_near_duplicate_questions_are_dropped_greedily_in_order():
    import numpy as np

    from raft_dataset.validation import near_duplicate_mask

    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 16)).astype(np.float32)
    vectors = np.concatenate([base, base[[1]] + 0.01, base[[3]] * 2])  # a paraphrase of 1, a copy of 3
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert near_duplicate_mask(vectors, 0.95).tolist() == [False] * 5 + [True, True]
    assert not near_duplicate_mask(vectors, 1.01).any()
