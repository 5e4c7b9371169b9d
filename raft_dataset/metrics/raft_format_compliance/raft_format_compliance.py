"""RAFT format compliance: the share of predictions with a non-empty final answer after
`<ANSWER>:` and balanced `##begin_quote##` / `##end_quote##` markers."""

import datasets
import evaluate

from raft_dataset.metrics.scoring import format_compliance, ratio

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions: model outputs.
Returns:
    format_compliance: share of predictions in RAFT form (0 to 1).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RaftFormatCompliance(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions):
        return {"format_compliance": ratio([format_compliance(p) for p in predictions])}
