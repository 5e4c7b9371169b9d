"""Parquet shards in the Hub's layout: `data/{split}-{i:05d}-of-{n:05d}.parquet`.

A split of more than `rows_per_shard` rows is cut into contiguous shards, so both executors write the
same files: the local one in this process, the Ray one in a task per shard (`ray_executor`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import datasets

from .records import SAMPLE_FEATURES

DATA_DIR = "data"
# A shard's name says its split: `data/{split}-00000-of-00001.parquet`.
SHARD_NAME = re.compile(r"^(?P<split>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")


@dataclass(frozen=True)
class Shard:
    """Rows `start:end` of a split, written as shard `index` of `count`."""

    split: str
    index: int
    count: int
    start: int
    end: int

    @property
    def name(self) -> str:
        """The file name, e.g. `train-00000-of-00002.parquet`."""
        return f"{self.split}-{self.index:05d}-of-{self.count:05d}.parquet"


def plan_shards(split_sizes: dict[str, int], rows_per_shard: int) -> list[Shard]:
    """The shards of every non-empty split: as few as hold `rows_per_shard` rows each, evenly filled."""
    shards = []
    for split, n_rows in split_sizes.items():
        if n_rows <= 0:
            continue
        count = -(-n_rows // rows_per_shard)
        bounds = [n_rows * i // count for i in range(count + 1)]
        shards += [Shard(split, i, count, bounds[i], bounds[i + 1]) for i in range(count)]
    return shards


def write_shard(rows: list[dict], split: str, path: str | Path) -> int:
    """Write rows with the RAFT features (`records.SAMPLE_FEATURES`) as one parquet file; returns the
    rows' Arrow size in bytes, for the card's `num_bytes`."""
    dataset = datasets.Dataset.from_list(rows, features=SAMPLE_FEATURES, split=datasets.Split(split))
    dataset.to_parquet(str(path))
    return dataset.data.nbytes
