import pytest
from huggingface_hub import constants

from raft_dataset.config import ConfigError, RaftDatasetConfig, check_models, load_config_file, make_config

_UNCACHED_HUB_ID = "raft-dataset-tests/no-such-model"  # in no one's HF cache


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
        ({"seed": -1}, "seed: must be >= 0"),
        ({"token_encoding": "cl100k"}, "token_encoding: unknown tiktoken encoding 'cl100k'"),
        ({"corpus": ["docs/*.md", 2]}, "corpus[1]: expected a string"),
        ({"corpus": []}, "corpus: empty list"),
        ({"encoder": "./models/missing"}, "encoder: no such model folder: ./models/missing"),
        ({"encoder": "/abs/models/missing"}, "encoder: no such model folder"),
        ({"reranker": "~/rerankers/missing"}, "reranker: no such model folder"),
        ({"reranker": __file__}, "reranker: "),
        ({"encoder": _UNCACHED_HUB_ID}, f"encoder: '{_UNCACHED_HUB_ID}' is not a local folder and could not be fetched offline"),
        ({"stats_tokenizer": _UNCACHED_HUB_ID}, "stats_tokenizer: "),
    ],
)
def test_bad_values_name_the_key_in_one_line(overrides, key, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
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


def test_yaml_value_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "raft.yaml"
    path.write_text("# corpus of the test\nseed: 4\ncorpus:\n  - docs\n  - 7\n")
    with pytest.raises(ConfigError) as info:
        make_config(path)
    assert str(info.value) == f"{path}:3: corpus[1]: expected a string (a glob, folder or file), got int"
    with pytest.raises(ConfigError, match=r"^seed: must be >= 0"):  # an override is not the file's fault
        make_config(path, corpus="docs", seed=-2)


def test_hub_ids_are_checked_against_the_cache_only_when_offline(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert RaftDatasetConfig(encoder=_UNCACHED_HUB_ID).encoder == _UNCACHED_HUB_ID  # fetched (or not) at build time


def test_check_models_loads_what_the_settings_name(tmp_path):
    from raft_dataset.encoding import default_encoder_path

    model = default_encoder_path()  # a real local model folder with its tokenizer
    check_models(RaftDatasetConfig(encoder=model, stats_tokenizer=model, reranker=model))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=f"^encoder: {empty} is not a transformers model folder"):
        check_models(RaftDatasetConfig(encoder=str(empty)))
    with pytest.raises(ConfigError, match=f"^stats_tokenizer: cannot load the tokenizer '{empty}'") as info:
        check_models(RaftDatasetConfig(stats_tokenizer=str(empty)))
    assert "\n" not in str(info.value)
