"""RAFT refusal rate: the share of predictions whose final answer is the dataset's refusal sentence
("The provided documents do not contain the answer to this question.", SQuAD-normalised). Pass the
predictions made with the oracle absent from the context."""

import datasets
import evaluate

from raft_dataset.metrics.scoring import ratio, refusal

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions: model outputs for questions whose oracle was not shown.
Returns:
    refusal_rate: share of predictions that refuse (0 to 1, or None without predictions).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RaftRefusal(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions):
        return {"refusal_rate": ratio([refusal(p) for p in predictions])}
