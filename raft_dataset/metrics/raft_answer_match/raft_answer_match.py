"""RAFT answer match: exact match and token F1 of the final answer (after `<ANSWER>:`) against the
dataset's answer, with SQuAD's normalisation made Unicode aware (NFKC, every punctuation mark dropped).
A prediction without the marker scores 0 on both."""

import datasets
import evaluate

from raft_dataset.metrics.scoring import exact_match, ratio, token_f1

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions: model outputs in RAFT form (reasoning, quotes, then `<ANSWER>: ...`).
    references: the expected final answers (the text after `<ANSWER>:` in the dataset's `output`).
Returns:
    exact_match: share of predictions whose normalised final answer equals the reference (0 to 1).
    f1: mean SQuAD token F1 of the final answer against the reference (0 to 1).
Examples:
    >>> metric = evaluate.load("raft_dataset/metrics/raft_answer_match")
    >>> metric.compute(predictions=["... <ANSWER>: The cat."], references=["cat"])
    {'exact_match': 1.0, 'f1': 1.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RaftAnswerMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        return {"exact_match": ratio([exact_match(p, r) for p, r in zip(predictions, references)]),
                "f1": ratio([token_f1(p, r) for p, r in zip(predictions, references)])}
