"""RAFT contexts: the oracle chunk plus distractors, hard negatives first, shuffled, seeded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ContextSettings:
    """How a context is drawn (see `RaftDatasetConfig` for the meaning of each field)."""

    num_distractors: int = 4
    hard_negative_ratio: float = 0.75
    oracle_probability: float = 0.8
    distinct_documents: bool = True


@dataclass(frozen=True)
class Context:
    """The documents of one sample.

    Attributes:
        rows: Index rows of the context chunks, in the order shown to the model.
        oracle_row: Index row of the oracle chunk (in `rows` only when `oracle_present`).
        oracle_present: Whether the oracle is in the context.
        oracle_position: Position of the oracle in `rows`, or -1 when absent.
        hard_negatives: How many distractors came from the retrieval ranking (the rest are random).
        excluded: (row, reason) of every candidate the guard kept out, in the order examined.
        oracle_forced: The draw left the oracle out, but no other chunk could be shown: it was kept in.
    """

    rows: list[int]
    oracle_row: int
    oracle_present: bool
    oracle_position: int
    hard_negatives: int
    excluded: list[tuple[int, str]]
    oracle_forced: bool = False


def sample_rng(seed: int, sample_index: int) -> np.random.Generator:
    """One generator per sample, so a sample's draw does not depend on any other sample's."""
    return np.random.default_rng([seed, sample_index])


def assemble_context(
    oracle_row: int,
    ranked_rows: Sequence[int],
    doc_codes: np.ndarray,
    exclusion: Callable[[np.ndarray], Sequence[str | None]],
    settings: ContextSettings,
    rng: np.random.Generator,
) -> Context:
    """Draw one sample's context.

    Args:
        oracle_row: Index row of the oracle chunk.
        ranked_rows: Index rows retrieved for the question, best first (-1 entries are ignored).
        doc_codes: Document code of every index row (same code = same document).
        exclusion: Given candidate rows, the reason each one may not be a distractor (it likely
            holds the answer too), or None for those that may.
        settings: Distractor count and mix, similarity guard and oracle probability.
        rng: The sample's random generator.
    """
    oracle_present = bool(rng.random() < settings.oracle_probability)
    wanted = settings.num_distractors + (0 if oracle_present else 1)
    wanted_hard = int(round(wanted * settings.hard_negative_ratio))
    oracle_doc = doc_codes[oracle_row]
    excluded: dict[int, str] = {}

    def acceptable(rows: np.ndarray) -> np.ndarray:
        # Chunks of the oracle's own document, and those the guard names, may hold the answer.
        rows = rows[(rows >= 0) & (doc_codes[np.maximum(rows, 0)] != oracle_doc)]
        if len(rows) == 0:
            return rows
        reasons = exclusion(rows)
        for row, reason in zip(rows.tolist(), reasons):
            if reason is not None:
                excluded.setdefault(row, reason)
        return rows[np.asarray([reason is None for reason in reasons], dtype=bool)]

    hard_pool = acceptable(np.asarray(list(dict.fromkeys(ranked_rows)), dtype=np.int64)).tolist()
    picker = _Picker(doc_codes, settings.distinct_documents)
    hard = picker.take(hard_pool, wanted_hard)
    random_rows = picker.take(_random_candidates(len(doc_codes), wanted - len(hard), oracle_row, acceptable, rng),
                              wanted - len(hard))
    if len(hard) + len(random_rows) < wanted:  # small corpus: top up from the ranking
        hard += picker.take(hard_pool, wanted - len(hard) - len(random_rows))
    if len(hard) + len(random_rows) < wanted and settings.distinct_documents:
        # Fewer other documents than distractors wanted: repeat documents rather than show fewer.
        picker.distinct = False
        hard += picker.take(hard_pool, wanted - len(hard) - len(random_rows))
    forced = not hard and not random_rows and not oracle_present and settings.oracle_probability > 0
    if forced:
        # Every other chunk may hold the answer too (a vague question over a small corpus): the context
        # keeps the oracle rather than show no document at all. (With p = 0 it stays empty: the caller drops it.)
        oracle_present = True
    rows = hard + random_rows + ([oracle_row] if oracle_present else [])
    order = rng.permutation(len(rows))
    rows = [int(rows[i]) for i in order]
    return Context(
        rows=rows,
        oracle_row=int(oracle_row),
        oracle_present=oracle_present,
        oracle_position=rows.index(oracle_row) if oracle_present else -1,
        hard_negatives=len(hard),
        excluded=list(excluded.items()),
        oracle_forced=forced,
    )


class _Picker:
    """Takes rows in order, skipping rows already taken and, when `distinct`, documents already shown."""

    def __init__(self, doc_codes: np.ndarray, distinct: bool) -> None:
        self.doc_codes, self.distinct = doc_codes, distinct
        self.rows: set[int] = set()
        self.documents: set[int] = set()

    def take(self, candidates: Sequence[int], count: int) -> list[int]:
        chosen: list[int] = []
        for row in candidates:
            if len(chosen) >= count:
                break
            doc = int(self.doc_codes[row])
            if row in self.rows or (self.distinct and doc in self.documents):
                continue
            chosen.append(int(row))
            self.rows.add(int(row))
            self.documents.add(doc)
        return chosen


def _random_candidates(
    n_rows: int,
    count: int,
    oracle_row: int,
    acceptable: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> list[int]:
    """Acceptable random rows, a few times more than `count`, in random order."""
    if count <= 0:
        return []
    candidates = rng.choice(n_rows, size=min(n_rows, 8 * count + 16), replace=False)
    return [r for r in acceptable(candidates).tolist() if r != oracle_row]
