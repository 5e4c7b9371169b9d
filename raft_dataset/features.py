"""`datasets` feature helpers that work on datasets 3.x (scripts still run there) and 4+."""

from __future__ import annotations

import datasets


def list_of(feature, length: int = -1):
    """A list feature: `datasets.List` on datasets 4+, `datasets.Sequence` before (same Arrow type)."""
    if hasattr(datasets, "List"):
        return datasets.List(feature, length=length)
    if isinstance(feature, dict):  # datasets 3 turns Sequence(dict) into a dict of lists: use [dict]
        return [feature]
    return datasets.Sequence(feature, length=length)
