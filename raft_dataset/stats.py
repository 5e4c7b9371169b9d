"""Token counts (tiktoken, offline) and per-split statistics for the dataset card."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from .tokens import get_encoding

TOKEN_FIELDS = ("input_tokens", "output_tokens", "total_tokens")
# Chat markup around each turn when no chat template says what it is: OpenAI's count for its chat
# models (`<|im_start|>`, the role, `<|im_end|>`), a fair middle for other ChatML-like templates.
TOKENS_PER_TURN = 3
# The key of each split's statistics that counts rows longer than `max_seq_length`.
OVER_MAX_SEQ_LENGTH = "over_max_seq_length"

logger = logging.getLogger(__name__)


class TokenCounter:
    """Counts tokens with a tiktoken encoding, or a Hugging Face tokenizer (`hf_tokenizer`)."""

    def __init__(self, encoding: str = "cl100k_base", hf_tokenizer: str | None = None) -> None:
        self.name = hf_tokenizer or encoding
        self._tokenizer = None
        if hf_tokenizer:
            tokenizer = self._tokenizer = load_stats_tokenizer(hf_tokenizer)
            self._count = lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        else:
            enc = get_encoding(encoding)
            self._count = lambda texts: [len(ids) for ids in enc.encode_ordinary_batch(list(texts))]

    def count(self, texts: Sequence[str]) -> list[int]:
        return self._count(texts) if texts else []

    def count_conversations(self, conversations: Sequence[Sequence[dict]]) -> list[int]:
        """Tokens of each conversation (a list of role/content turns) as a trainer tokenizes it.

        With a Hugging Face tokenizer that has a chat template: the template's rendering, special tokens
        included (what TRL's `max_length` truncates). Otherwise: each turn's text plus `TOKENS_PER_TURN`.
        """
        if not conversations:
            return []
        if self._tokenizer is not None and getattr(self._tokenizer, "chat_template", None):
            try:
                encoded = self._tokenizer.apply_chat_template(
                    [list(c) for c in conversations], tokenize=True, return_dict=True
                )
                return [len(ids) for ids in encoded["input_ids"]]
            except Exception as err:  # noqa: BLE001 - a template may refuse a role (no system turn): count turns
                logger.warning("%s: its chat template cannot render the rows (%s); counting the turns instead",
                               self.name, " ".join(str(err).split()) or type(err).__name__)
        turns = self.count([turn["content"] for c in conversations for turn in c])
        counts, start = [], 0
        for conversation in conversations:
            counts.append(sum(turns[start:start + len(conversation)]) + TOKENS_PER_TURN * len(conversation))
            start += len(conversation)
        return counts


@lru_cache(maxsize=4)
def load_stats_tokenizer(name: str):
    """The Hugging Face tokenizer `stats_tokenizer` names, loaded once per process (the build checks
    it before any expensive stage, and counts with the same object at the end).

    Raises:
        ValueError: one line naming `stats_tokenizer`, when it cannot be loaded (no such folder, a Hub
            id that is not cached while offline, a folder without tokenizer files).
    """
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:  # transformers reports missing files and repos as OSError
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"stats_tokenizer: cannot load the tokenizer {name!r}: {reason}") from None


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


def split_statistics(splits: dict[str, Sequence[dict]], max_seq_length: int | None = None) -> dict[str, dict]:
    """Per split: sample count and a summary of each token field.

    With `max_seq_length`, also the summary of the rows' `sequence_tokens` ("sequence") and how many rows
    are longer than it (`OVER_MAX_SEQ_LENGTH`), with one logged warning when any are: a trainer
    truncates them, cutting the answer off.
    """
    stats = {}
    for name, rows in splits.items():
        entry: dict = {"samples": len(rows)}
        for field in TOKEN_FIELDS:
            entry[field.removesuffix("_tokens")] = summarize(row[field] for row in rows)
        if max_seq_length is not None:
            entry["sequence"] = summarize(row["sequence_tokens"] for row in rows)
            entry[OVER_MAX_SEQ_LENGTH] = sum(row["sequence_tokens"] > max_seq_length for row in rows)
        stats[name] = entry
    if max_seq_length is not None and any(entry[OVER_MAX_SEQ_LENGTH] for entry in stats.values()):
        logger.warning(long_rows_line(stats, max_seq_length))
    return stats


def long_rows_line(stats: dict[str, dict], max_seq_length: int) -> str:
    """One line: how many rows are longer than `max_seq_length`, in all and per split."""
    if not all(OVER_MAX_SEQ_LENGTH in entry for entry in stats.values()):
        return f"rows longer than max_seq_length {max_seq_length}: not counted (no sequence lengths in the statistics)"
    over = {name: entry[OVER_MAX_SEQ_LENGTH] for name, entry in stats.items()}
    total = sum(entry["samples"] for entry in stats.values())
    line = f"rows longer than max_seq_length {max_seq_length}: {sum(over.values())} of {total}"
    if not any(over.values()):
        return line
    per_split = ", ".join(f"{name} {n}" for name, n in over.items() if n)
    return (f"{line} ({per_split}); a trainer truncates them (cutting the answer off): raise max_seq_length and "
            "the trainer's max_length, or lower num_distractors or chunk_size")


def statistics_table(stats: dict[str, dict]) -> str:
    """A markdown table of the statistics, one row per split and token field."""
    lines = [
        "| split | samples | tokens | total | mean | median | p95 | max |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for split, entry in stats.items():
        for field in ("input", "output", "total", "sequence"):
            if field not in entry:  # "sequence": counted when the build knows max_seq_length
                continue
            s = entry[field]
            lines.append(
                f"| {split} | {entry['samples']} | {field} | {s['total']} | {s['mean']} | {s['median']} | {s['p95']} | {s['max']} |"
            )
    return "\n".join(lines)
