"""The `datasets` builder: wires the pipeline into `GeneratorBasedBuilder` and nothing more."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import datasets

from . import __version__
from .config import (
    ConfigError,
    RaftDatasetConfig,
    check_keys,
    check_models,
    load_config_file,
    validate_config,
)
from .corpus import included_files, resolve_corpus_files
from .export import FEATURES
from .pipeline import BuildResult, build_raft_dataset

_CONFIG_FILE_SUFFIXES = (".yaml", ".yml")
_TAKES_CONFIG_ID = "config_id" in inspect.signature(datasets.DatasetBuilder._create_builder_config).parameters


class RaftDatasetBuilder(datasets.GeneratorBasedBuilder):
    """RAFT samples (question + oracle and distractor documents -> quoted chain-of-thought answer).

    `load_dataset("raft_dataset", NAME, data_files=CORPUS_GLOB, **settings)`: NAME is "default" or the
    path of a YAML config file; settings are `RaftDatasetConfig` fields and override the file.
    """

    BUILDER_CONFIG_CLASS = RaftDatasetConfig
    BUILDER_CONFIGS = [RaftDatasetConfig(name="default", version=datasets.Version(__version__))]
    DEFAULT_CONFIG_NAME = "default"
    VERSION = datasets.Version(__version__)

    build_result: BuildResult | None = None

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None, **config_kwargs):
        check_keys(config_kwargs, "load_dataset")
        if config_name and str(config_name).endswith(_CONFIG_FILE_SUFFIXES):
            config_kwargs = {**load_config_file(config_name), **config_kwargs, "name": Path(config_name).stem}
            config_name = None
        # datasets 4+ takes a config_id to skip computing its own; 3.x (scripts) has no such argument.
        skip_own_id = {"config_id": "unused"} if _TAKES_CONFIG_ID else {}
        config, _ = super()._create_builder_config(
            config_name=config_name, custom_features=custom_features, **skip_own_id, **config_kwargs
        )
        validate_config(config)  # settings applied as overrides skip the dataclass's own check
        _refuse_inferred_data_files(config)  # before the fingerprint reads every file it lists
        return config, config_id or f"{config.name}-{config_fingerprint(config)}"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="Retrieval-Augmented Fine-Tuning samples built by raft-dataset.",
            features=FEATURES,
        )

    def _split_generators(self, dl_manager):
        check_models(self.config)  # tokenizers and model files load before the index is built
        self.build_result = build_raft_dataset(self.config, corpus_files=_data_files(self.config) or None)
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"split": name})
            for name, rows in self.build_result.splits.items()
            if rows
        ]

    def _generate_examples(self, split):
        yield from enumerate(self.build_result.splits[split])


def _refuse_inferred_data_files(config: RaftDatasetConfig) -> None:
    """Refuse a build whose only documents are the files `datasets` found by scanning the working folder.

    Given no `data_files` and no `data_dir`, `load_dataset` lists every data-like file under the
    working folder (old outputs, test files, notes) as for its `json`/`text` builders; that is never
    a corpus the user meant. Inferred lists are keyed by `datasets.Split` objects, while the user's
    `data_files` (a string, list or dict) are keyed by plain strings after `sanitize_patterns`.
    """
    if config.corpus or config.hf_dataset or config.data_dir is not None or not config.data_files:
        return
    if all(isinstance(split, datasets.NamedSplit) for split in config.data_files):
        raise ConfigError(
            "corpus: no documents given; pass data_files=..., corpus=... or hf_dataset=... (without them "
            "datasets would read every data file in the working folder as the corpus)"
        )


def _data_files(config: RaftDatasetConfig) -> list[str]:
    """The corpus files `datasets` resolved; an explicit `corpus` or `hf_dataset` takes precedence
    (with neither, `datasets` infers data files from the working directory, which
    `_refuse_inferred_data_files` refuses)."""
    if not config.data_files or config.corpus or config.hf_dataset:
        return []
    return sorted({str(f) for files in config.data_files.values() for f in files})


def config_fingerprint(config: RaftDatasetConfig) -> str:
    """Changes whenever a setting, a corpus file, an example file it includes or the queries file
    changes (the cache key)."""
    digest = hashlib.sha256(repr(sorted(config.settings().items())).encode())
    data_files = _data_files(config)
    if data_files:
        files = [*data_files, *map(str, included_files(data_files))]
    else:
        files = [str(p) for p in resolve_corpus_files(config.corpus, with_included=True)] if config.corpus else []
    if config.queries:
        files.append(config.queries)
    for name in files:
        digest.update(name.encode())
        digest.update(hashlib.sha256(Path(name).read_bytes()).digest())
    return digest.hexdigest()[:16]
