"""Train/validation/test splits grouped by the oracle's document, so no document leaks across splits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


def assign_splits(group_keys: Sequence[str], ratios: Mapping[str, float], seed: int) -> list[str]:
    """The split name of each sample, keeping every group (oracle document) in one split.

    Groups are placed largest first (the seed orders groups of equal size), each into the split
    furthest below its target number of samples, so the ratios hold even when a few documents
    carry most samples. Then every split with a positive ratio that is still empty takes the
    smallest group of the split with the most groups, when there are groups to spare.
    """
    sizes = Counter(group_keys)
    groups = sorted(sizes)
    tiebreak = dict(zip(groups, np.random.default_rng(seed).permutation(len(groups)).tolist()))
    names = [name for name, ratio in ratios.items() if ratio > 0]
    total = len(group_keys)
    filled = dict.fromkeys(names, 0)
    members: dict[str, list[str]] = {name: [] for name in names}
    for group in sorted(groups, key=lambda g: (-sizes[g], tiebreak[g])):
        name = max(names, key=lambda n: (ratios[n] * total - filled[n], ratios[n]))
        members[name].append(group)
        filled[name] += sizes[group]
    for name in names:
        donor = max(names, key=lambda n: len(members[n]))
        if not members[name] and len(members[donor]) > 1:
            members[name].append(members[donor].pop())  # groups went in largest first: this is the smallest
    split_of_group = {group: name for name, gs in members.items() for group in gs}
    return [split_of_group[key] for key in group_keys]
