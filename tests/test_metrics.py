"""The RAFT metrics shipped as `evaluate` modules, loaded by local path, on hand-written answers with
the values worked out by hand: no marker, empty answers, quotes that are not in the context, Unicode."""

from __future__ import annotations

import evaluate
import pytest

from raft_dataset.metrics import METRIC_NAMES, METRICS_DIR, load_metric, metric_path, scoring
from raft_dataset.model_eval import bootstrap_interval
from raft_dataset.raft_format import REFUSAL_ANSWER


def test_every_metric_is_a_local_evaluate_module():
    for name in METRIC_NAMES:
        assert (METRICS_DIR / name / f"{name}.py").is_file()
        module = evaluate.load(str(metric_path(name)), keep_in_memory=True)  # a path: nothing from the Hub
        assert isinstance(module, evaluate.Metric) and module.description.strip()
    with pytest.raises(ValueError, match="unknown RAFT metric 'bleu'"):
        metric_path("bleu")


def test_answer_match_exact_values():
    predictions = [
        "It says ##begin_quote##The tower is in Paris.##end_quote##\n<ANSWER>: The Eiffel Tower.",  # EM 1, F1 1
        "Paris",  # no marker: 0 and 0, even though the words match
        "Reasoning.\n<ANSWER>:",  # empty final answer: 0 and 0
        "<ANSWER>: Café  au LAIT!",  # reference written with a combining accent: NFC/NFKC equal
        "<ANSWER>: red green",  # P 1/2, R 1/2: F1 0.5
        "<ANSWER>: 東京。",  # CJK full stop is punctuation
        "first <ANSWER>: wrong\nthen <ANSWER>: ＡＢＣ",  # the last marker counts; full-width folds to ASCII
    ]
    references = ["eiffel tower", "Paris", "Paris", "cafe\u0301 au lait", "green blue", "東京", "abc"]
    result = load_metric("raft_answer_match").compute(predictions=predictions, references=references)
    assert result == {"exact_match": pytest.approx(4 / 7), "f1": pytest.approx(4.5 / 7)}


def test_format_compliance_exact_values():
    predictions = [
        "##begin_quote##A.##end_quote##\n<ANSWER>: A.",  # compliant
        "The answer is A.",  # no marker
        "<ANSWER>:   ",  # marker, empty answer
        "##begin_quote##A.\n<ANSWER>: A.",  # unbalanced quote markers
        "",  # empty output
        "<ANSWER>: Ja, natürlich.",  # compliant, no quote needed for the format
    ]
    result = load_metric("raft_format_compliance").compute(predictions=predictions)
    assert result == {"format_compliance": pytest.approx(2 / 6)}


def test_quote_faithfulness_and_citation_accuracy_exact_values():
    predictions = [
        # Two quotes: the first in the context (whitespace aside) and the oracle, the second nowhere.
        "##begin_quote##Das Wetter ist schön.##end_quote## and ##begin_quote##not there##end_quote##\n<ANSWER>: x",
        "No quote at all.\n<ANSWER>: y",  # counts nothing
        "##begin_quote##B c##end_quote##\n<ANSWER>: z",  # in the context; oracle unknown: no citation count
        "##begin_quote##   ##end_quote##\n<ANSWER>: w",  # an empty quote is no quote
        "##begin_quote##from a distractor##end_quote##\n<ANSWER>: v",  # shown, but not the oracle
    ]
    contexts = ["Heute: Das Wetter\n  ist schön. Mehr.", "ctx", "A B c D", "ctx", "text from a distractor here"]
    oracles = [["Das Wetter ist schön."], ["o"], [], ["o"], ["the oracle"]]
    result = load_metric("raft_quotes").compute(predictions=predictions, contexts=contexts, oracles=oracles)
    assert result == {"quote_faithfulness": pytest.approx(3 / 4), "citation_accuracy": pytest.approx(1 / 3)}
    nothing = load_metric("raft_quotes").compute(predictions=["<ANSWER>: q"], contexts=[""], oracles=[[]])
    assert nothing == {"quote_faithfulness": None, "citation_accuracy": None}


def test_refusal_rate_exact_values():
    predictions = [
        f"None of them answers it.\n<ANSWER>: {REFUSAL_ANSWER}",
        "<ANSWER>: the provided documents do NOT contain the answer to this question",  # normalised: the same
        "<ANSWER>: Paris.",
        REFUSAL_ANSWER,  # no marker: not a refusal in RAFT form
    ]
    assert load_metric("raft_refusal").compute(predictions=predictions) == {"refusal_rate": pytest.approx(0.5)}


def test_scores_are_what_the_modules_sum():
    assert scoring.normalize_answer("The  Quick, brown-fox!") == "quick brown fox"
    assert scoring.token_f1("<ANSWER>: the", "a") == (1.0, 1)  # both empty after normalisation
    assert scoring.exact_match(None, "x") == (0.0, 1)
    assert scoring.quotes_found("##begin_quote##a##end_quote##", None) == (0.0, 0)
    assert scoring.ratio([(1.0, 2), (0.0, 0), (1.0, 1)]) == pytest.approx(2 / 3)
    assert scoring.ratio([(0.0, 0)]) is None


def test_bootstrap_interval():
    assert bootstrap_interval([(1.0, 1)] * 20) == (1.0, 1.0)
    assert bootstrap_interval([(0.0, 0)] * 5) is None and bootstrap_interval([(1.0, 1)], resamples=0) is None
    scores = [(float(i % 2), 1) for i in range(200)]  # 0.5 exactly
    low, high = bootstrap_interval(scores, resamples=2000, seed=1)
    assert low < 0.5 < high and 0.05 < high - low < 0.2  # about +-1.96 * sqrt(.25 / 200) = +-0.069
    assert bootstrap_interval(scores, resamples=2000, seed=1) == (low, high)  # seeded
