import pytest

from raft_dataset.config import ConfigError, RaftDatasetConfig, load_config_file, make_config


def test_defaults_are_valid_and_documented():
    config = RaftDatasetConfig()
    assert config.oracle_probability == 0.8 and config.num_distractors == 4
    assert config.splits == {"train": 0.8, "validation": 0.1, "test": 0.1}
    # Every setting is documented in the class docstring.
    for name in config.settings():
        assert f"{name}:" in RaftDatasetConfig.__doc__, name


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"chunk_overlap": 200}, "chunk_overlap"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"retrieval_depth": 0}, "retrieval_depth"),
        ({"num_distractors": -1}, "num_distractors"),
        ({"oracle_probability": 1.5}, "oracle_probability"),
        ({"chunk_size": "big"}, "chunk_size"),
        ({"strict": "yes"}, "strict"),
        ({"splits": {"train": 0.5, "test": 0.2}}, "splits"),
        ({"oracle_absent_answer": "maybe"}, "oracle_absent_answer"),
        ({"queries": "/nonexistent/queries.jsonl"}, "queries"),
        ({"instruction_template": "no placeholder"}, "instruction_template"),
        ({"answer_generator": "llm"}, "llm"),
        ({"llm": {"model": "m", "modle": "typo"}}, "unknown key llm.modle"),
    ],
)
def test_bad_values_name_the_key_in_one_line(overrides, key):
    with pytest.raises(ConfigError) as info:
        RaftDatasetConfig(**overrides)
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message


def test_yaml_file_with_overrides(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "raft.yaml"
    path.write_text("corpus: docs/**/*.md\nchunk_size: 128\nseed: 3\nsplits: {train: 0.5, test: 0.5}\n")
    config = make_config(path, seed=11)
    assert config.chunk_size == 128 and config.seed == 11
    assert config.corpus == str(tmp_path / "docs/**/*.md")  # relative to the config file
    assert config.splits == {"train": 0.5, "test": 0.5}


def test_yaml_unknown_key_and_syntax_errors_name_file_and_key(tmp_path):
    path = tmp_path / "raft.yaml"
    path.write_text("chunk_sise: 128\n")
    with pytest.raises(ConfigError, match=r"raft.yaml: unknown key 'chunk_sise' \(did you mean chunk_size\?\)"):
        load_config_file(path)
    path.write_text("chunk_size: [1,\n")
    with pytest.raises(ConfigError, match=r"raft.yaml:\d+: invalid YAML"):
        load_config_file(path)
    with pytest.raises(ConfigError, match="override: unknown key 'colour'"):
        make_config(None, colour="blue")
