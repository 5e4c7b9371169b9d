from collections import Counter

from raft_dataset.splits import assign_splits

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_groups_never_cross_splits_and_ratios_hold():
    keys = [f"doc{i % 97}" for i in range(1000)]  # 97 documents, uneven group sizes
    splits = assign_splits(keys, RATIOS, seed=1)
    split_of = {}
    for key, split in zip(keys, splits):
        assert split_of.setdefault(key, split) == split
    counts = Counter(splits)
    for name, ratio in RATIOS.items():
        assert abs(counts[name] / len(keys) - ratio) < 0.05, counts


def test_deterministic_for_a_seed_and_different_across_seeds():
    keys = [f"doc{i % 40}" for i in range(400)]
    assert assign_splits(keys, RATIOS, 5) == assign_splits(keys, RATIOS, 5)
    assert assign_splits(keys, RATIOS, 5) != assign_splits(keys, RATIOS, 6)


def test_every_split_gets_a_group_when_there_are_enough():
    keys = ["a"] * 10 + ["b"] + ["c"]
    assert set(assign_splits(keys, RATIOS, 0)) == set(RATIOS)
    assert set(assign_splits(["a", "a"], RATIOS, 0)) == {"train"}  # too few documents: train first


def test_ratios_hold_when_one_document_carries_most_samples():
    keys = ["big"] * 100 + ["a"] * 3 + ["b"] * 2 + ["c"] * 2
    for seed in range(6):
        splits = assign_splits(keys, RATIOS, seed)
        assert Counter(splits)["train"] >= 100 and set(splits) == set(RATIOS)
