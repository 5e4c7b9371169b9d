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
    max_distractor_similarity: float = 0.92
    oracle_probability: float = 0.8


@dataclass(frozen=True)
class Context:
    """The documents of one sample.

    Attributes:
        rows: Index rows of the context chunks, in the order shown to the model.
        oracle_row: Index row of the oracle chunk (in `rows` only when `oracle_present`).
        oracle_present: Whether the oracle is in the context.
        oracle_position: Position of the oracle in `rows`, or -1 when absent.
        hard_negatives: How many distractors came from the retrieval ranking (the rest are random).
    """

    rows: list[int]
    oracle_row: int
    oracle_present: bool
    oracle_position: int
    hard_negatives: int


def sample_rng(seed: int, sample_index: int) -> np.random.Generator:
    """One generator per sample, so a sample's draw does not depend on any other sample's."""
    return np.random.default_rng([seed, sample_index])


def assemble_context(
    oracle_row: int,
    ranked_rows: Sequence[int],
    doc_codes: np.ndarray,
    near_oracle: Callable[[np.ndarray], np.ndarray],
    settings: ContextSettings,
    rng: np.random.Generator,
) -> Context:
    """Draw one sample's context.

    Args:
        oracle_row: Index row of the oracle chunk.
        ranked_rows: Index rows retrieved for the question, best first (-1 entries are ignored).
        doc_codes: Document code of every index row (same code = same document).
        near_oracle: Given candidate rows, a boolean mask of those too close to the oracle to be
            distractors (they likely hold the answer too).
        settings: Distractor count and mix, similarity guard and oracle probability.
        rng: The sample's random generator.
    """
    oracle_present = bool(rng.random() < settings.oracle_probability)
    wanted = settings.num_distractors + (0 if oracle_present else 1)
    wanted_hard = int(round(wanted * settings.hard_negative_ratio))
    oracle_doc = doc_codes[oracle_row]

    def acceptable(rows: np.ndarray) -> np.ndarray:
        # Chunks of the oracle's own document and near-copies of the oracle may hold the answer.
        rows = rows[(rows >= 0) & (doc_codes[np.maximum(rows, 0)] != oracle_doc)]
        if len(rows) == 0:
            return rows
        return rows[~near_oracle(rows)]

    hard_pool = acceptable(np.asarray(list(dict.fromkeys(ranked_rows)), dtype=np.int64))
    hard = hard_pool[:wanted_hard].tolist()
    random_rows = _random_rows(len(doc_codes), wanted - len(hard), set(hard) | {oracle_row}, acceptable, rng)
    if len(hard) + len(random_rows) < wanted:  # small corpus: top up from whichever pool has more
        used = set(hard) | set(random_rows)
        extra = [r for r in hard_pool.tolist() if r not in used]
        hard += extra[: wanted - len(hard) - len(random_rows)]
    rows = hard + random_rows + ([oracle_row] if oracle_present else [])
    order = rng.permutation(len(rows))
    rows = [int(rows[i]) for i in order]
    return Context(
        rows=rows,
        oracle_row=int(oracle_row),
        oracle_present=oracle_present,
        oracle_position=rows.index(oracle_row) if oracle_present else -1,
        hard_negatives=len(hard),
    )


def _random_rows(
    n_rows: int,
    count: int,
    taken: set[int],
    acceptable: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> list[int]:
    """`count` random acceptable rows not in `taken`, drawn in a few rounds of candidates."""
    chosen: list[int] = []
    for _ in range(8):
        if len(chosen) >= count:
            break
        candidates = rng.choice(n_rows, size=min(n_rows, 4 * count + 8), replace=False)
        for row in acceptable(candidates).tolist():
            if row not in taken and row not in chosen:
                chosen.append(row)
                if len(chosen) == count:
                    break
    return chosen
