"""The RAFT metrics as `evaluate` modules shipped inside the package, loaded by local path.

Each folder holds one module (`<name>/<name>.py`, the layout `evaluate.load(path)` reads), so nothing
is fetched from the Hub: `evaluate.load(str(metric_path("raft_quotes")))`. The per-answer scores
they sum live in `scoring`, which the bootstrap in `raft_dataset.model_eval` resamples.

- `raft_answer_match`: exact_match, f1 (final answer vs the dataset's answer, SQuAD normalisation)
- `raft_format_compliance`: format_compliance (the `<ANSWER>:` marker and balanced quote markers)
- `raft_quotes`: quote_faithfulness (quotes in the shown context), citation_accuracy (quotes in the oracle)
- `raft_refusal`: refusal_rate (with the oracle absent)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("raft_answer_match", "raft_format_compliance", "raft_quotes", "raft_refusal")


def metric_path(name: str) -> Path:
    """The folder of a shipped metric module (what `evaluate.load` takes)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown RAFT metric {name!r} (known: {', '.join(METRIC_NAMES)})")
    return METRICS_DIR / name


def load_metric(name: str) -> Any:
    """`evaluate.load` of a shipped metric, by local path, kept in memory (no cache files written)."""
    import evaluate

    return evaluate.load(str(metric_path(name)), keep_in_memory=True)
