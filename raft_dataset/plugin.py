"""Registers the builder with `datasets` so that `load_dataset("raft_dataset", ...)` finds it.

`datasets` 4+ no longer runs loading scripts and has no public plugin registry. It resolves a name
through its table of packaged modules (`datasets.packaged_modules._PACKAGED_DATASETS_MODULES`:
name -> (importable module, code hash)); adding our builder module there is the smallest hook
that works. If a future release changes that table, `register` says so instead of failing later.

Without `import raft_dataset` first, nothing of ours runs: `datasets` takes "raft_dataset" for a
local folder (in the repo's root, the package folder itself: "No (supported) data files found in
raft_dataset") or a Hub repo ("Couldn't reach 'raft_dataset' on the Hub"), and no file of this
package can change that message. `load_dataset` here needs no separate import step.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

NAME = "raft_dataset"
BUILDER_MODULE = "raft_dataset.builder"


class PluginError(RuntimeError):
    """This `datasets` release does not offer what the plugin relies on."""


def code_hash() -> str:
    """A hash of the package's code: it names the cache folder, so a code change rebuilds."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def register() -> None:
    """Make `load_dataset("raft_dataset", ...)` resolve to `RaftDatasetBuilder`."""
    import datasets

    try:
        from datasets import packaged_modules
    except ImportError as err:  # pragma: no cover - depends on a future datasets release
        raise PluginError(f"datasets {datasets.__version__}: no packaged_modules ({err}); use RaftDatasetBuilder directly") from None
    table = getattr(packaged_modules, "_PACKAGED_DATASETS_MODULES", None)
    if not isinstance(table, dict):
        raise PluginError(
            f"datasets {datasets.__version__} has no packaged-modules table; "
            "load_dataset('raft_dataset') is unavailable, use RaftDatasetBuilder directly"
        )
    table[NAME] = (BUILDER_MODULE, code_hash())


def is_registered() -> bool:
    from datasets import packaged_modules

    return getattr(packaged_modules, "_PACKAGED_DATASETS_MODULES", {}).get(NAME, (None,))[0] == BUILDER_MODULE


def load_dataset(config: str = "default", **kwargs):
    """`datasets.load_dataset("raft_dataset", config, **kwargs)` with the builder registered first.

    `config` is "default" or the path of a YAML config file; `kwargs` are `load_dataset` arguments
    (`data_files`, `split`, `cache_dir`, ...) and `RaftDatasetConfig` settings (`corpus`, `seed`, ...).
    """
    import datasets

    register()
    return datasets.load_dataset(NAME, config, **kwargs)
