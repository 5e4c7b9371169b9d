"""raft-dataset: turn a folder of documents into a Retrieval-Augmented Fine-Tuning dataset.

Importing the package registers the `datasets` plugin, so that
`load_dataset("raft_dataset", "default", data_files="docs/**/*.md")` builds a dataset.
"""

__version__ = "0.1.0"

import warnings as _warnings

from .config import ConfigError, RaftDatasetConfig, make_config
from .plugin import PluginError as _PluginError
from .plugin import load_dataset
from .plugin import register as _register

try:
    _register()
except _PluginError as _err:  # the builder stays usable directly
    _warnings.warn(str(_err), stacklevel=2)


def __getattr__(name):
    # The builder and pipeline pull in torch and transformers: load them on first use only.
    if name == "RaftDatasetBuilder":
        from .builder import RaftDatasetBuilder

        return RaftDatasetBuilder
    if name == "evaluate":
        from .model_eval import evaluate

        return evaluate
    if name in ("build_raft_dataset", "BuildResult", "BuildError"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'raft_dataset' has no attribute {name!r}")


__all__ = ["ConfigError", "RaftDatasetConfig", "RaftDatasetBuilder", "build_raft_dataset", "evaluate", "load_dataset",
           "make_config"]
