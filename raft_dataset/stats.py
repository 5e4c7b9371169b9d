"""Token counts (tiktoken, offline) and per-split statistics for the dataset card."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .tokens import get_encoding

TOKEN_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


class TokenCounter:
    """Counts tokens with a tiktoken encoding, or a Hugging Face tokenizer (`hf_tokenizer`)."""

    def __init__(self, encoding: str = "cl100k_base", hf_tokenizer: str | None = None) -> None:
        self.name = hf_tokenizer or encoding
        if hf_tokenizer:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(hf_tokenizer)
            self._count = lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        else:
            enc = get_encoding(encoding)
            self._count = lambda texts: [len(ids) for ids in enc.encode_ordinary_batch(list(texts))]

    def count(self, texts: Sequence[str]) -> list[int]:
        return self._count(texts) if texts else []


def summarize(values: Iterable[int]) -> dict[str, float | int]:
    """total, mean, median, p95 and max of a list of token counts (zeros for an empty list)."""
    array = np.asarray(list(values), dtype=np.int64)
    if array.size == 0:
        return {"total": 0, "mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0}
    return {
        "total": int(array.sum()),
        "mean": round(float(array.mean()), 2),
        "median": round(float(np.median(array)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "max": int(array.max()),
    }


def split_statistics(splits: dict[str, Sequence[dict]]) -> dict[str, dict]:
    """Per split: sample count and a summary of each token field."""
    stats = {}
    for name, rows in splits.items():
        entry: dict = {"samples": len(rows)}
        for field in TOKEN_FIELDS:
            entry[field.removesuffix("_tokens")] = summarize(row[field] for row in rows)
        stats[name] = entry
    return stats


def statistics_table(stats: dict[str, dict]) -> str:
    """A markdown table of the statistics, one row per split and token field."""
    lines = [
        "| split | samples | tokens | total | mean | median | p95 | max |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for split, entry in stats.items():
        for field in ("input", "output", "total"):
            s = entry[field]
            lines.append(
                f"| {split} | {entry['samples']} | {field} | {s['total']} | {s['mean']} | {s['median']} | {s['p95']} | {s['max']} |"
            )
    return "\n".join(lines)
