"""Loading-script form of the raft-dataset builder.

For tools and older `datasets` releases that load a builder from a script path
(`load_dataset("path/to/builder_script.py", data_files=...)`). On `datasets` 4+ use
`import raft_dataset; load_dataset("raft_dataset", ...)` instead: scripts no longer run there.
"""

from raft_dataset.builder import RaftDatasetBuilder  # noqa: F401
from raft_dataset.config import RaftDatasetConfig  # noqa: F401
