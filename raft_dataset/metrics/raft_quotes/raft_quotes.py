"""RAFT quotes: quote faithfulness (the share of quoted spans found verbatim in the context the model
was shown) and citation accuracy (the share of quoted spans found verbatim in the oracle). Spans are
those between `##begin_quote##` and `##end_quote##`, compared whitespace differences aside, summed
over all predictions (a prediction without quotes adds nothing; a row without a known oracle leaves
its quotes out of citation accuracy). None when no quote was counted."""

import datasets
import evaluate

from raft_dataset.metrics.scoring import quotes_found, ratio

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions: model outputs.
    contexts: the documents shown with each question, as one text ("" for none).
    oracles: for each question, a list holding its oracle document's text, or an empty list when unknown.
Returns:
    quote_faithfulness: quotes found in the shown context / all quotes (0 to 1, or None).
    citation_accuracy: quotes found in the oracle / all quotes of rows with a known oracle (0 to 1, or None).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RaftQuotes(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "contexts": datasets.Value("string"),
                                        "oracles": datasets.Sequence(datasets.Value("string"))}),
        )

    def _compute(self, predictions, contexts, oracles):
        return {"quote_faithfulness": ratio([quotes_found(p, c) for p, c in zip(predictions, contexts)]),
                "citation_accuracy": ratio([quotes_found(p, o[0] if o else None) for p, o in zip(predictions, oracles)])}
