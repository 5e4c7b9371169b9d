"""Train/validation/test splits grouped by the oracle's document, so no document leaks across splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def assign_splits(group_keys: Sequence[str], ratios: Mapping[str, float], seed: int) -> list[str]:
    """The split name of each sample, keeping every group (oracle document) in one split.

    Groups are shuffled with the seed, then each goes to the split furthest below its target
    share of samples; splits with a positive ratio get at least one group while groups remain.
    """
    sizes: dict[str, int] = {}
    for key in group_keys:
        sizes[key] = sizes.get(key, 0) + 1
    groups = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(groups))
    names = [name for name, ratio in ratios.items() if ratio > 0]
    total = len(group_keys)
    filled = dict.fromkeys(names, 0)
    split_of_group: dict[str, str] = {}
    # Small splits first: seeding them before the big one keeps them from ending up empty.
    pending_empty = sorted(names, key=lambda n: ratios[n]) if len(groups) >= len(names) else []
    for i in order:
        group = groups[i]
        if pending_empty:
            name = pending_empty.pop(0)
        else:
            name = max(names, key=lambda n: (ratios[n] * total - filled[n], ratios[n]))
        split_of_group[group] = name
        filled[name] += sizes[group]
        if name in pending_empty:
            pending_empty.remove(name)
    return [split_of_group[key] for key in group_keys]
