"""Loading-script form of the raft-dataset builder.

For tools and older `datasets` releases (3.x) that load a builder from a script path
(`load_dataset("path/to/builder_script.py", data_files=..., trust_remote_code=True)`). `datasets` 4+
no longer runs loading scripts: `load_dataset` refuses this file before reading it ("Dataset scripts
are no longer supported"), so the one line below is what a tool that imports it, or
`python builder_script.py`, shows instead.
"""

import sys
import warnings

import datasets

from raft_dataset.builder import RaftDatasetBuilder  # noqa: F401
from raft_dataset.config import RaftDatasetConfig  # noqa: F401

SCRIPTS_UNSUPPORTED = (
    f"builder_script.py: datasets {datasets.__version__} does not run loading scripts; use "
    "`import raft_dataset` then `load_dataset(\"raft_dataset\", data_files=...)`, "
    "`RaftDatasetBuilder(corpus=...)`, or `raft-dataset build`"
)

RUNS_SCRIPTS = int(datasets.__version__.split(".")[0]) < 4

if __name__ == "__main__":  # a loading script is not a program
    print(SCRIPTS_UNSUPPORTED if not RUNS_SCRIPTS else "builder_script.py is a loading script: "
          "load_dataset(\"builder_script.py\", data_files=..., trust_remote_code=True)", file=sys.stderr)
    sys.exit(2)
elif not RUNS_SCRIPTS:
    warnings.warn(SCRIPTS_UNSUPPORTED, stacklevel=2)
