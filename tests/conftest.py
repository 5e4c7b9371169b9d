"""Shared fixtures: the real data beside the repo, and builds made once per test session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FASTAPI_DOCS = SHARED / "corpora" / "fastapi_docs"
SQUAD = SHARED / "eval" / "squad_v1.1_dev"
EXAMPLE_CORPUS = REPO / "examples" / "corpus"
EXAMPLE_QUERIES = REPO / "examples" / "queries.jsonl"

# Tests never reach the network: everything they load is local or built in the test. Caches go to
# a temporary folder, not the user's home.
_CACHE = tempfile.mkdtemp(prefix="raft_dataset_tests_")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")
os.environ["TIKTOKEN_CACHE_DIR"] = os.path.join(_CACHE, "tiktoken")
os.environ["RAFT_DATASET_CACHE"] = os.path.join(_CACHE, "raft_dataset")  # BM25, LLM and embedding caches
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def require(path: Path) -> None:
    """Skip when the shared data is missing on a developer's machine; fail in CI, which must check it."""
    if path.exists():
        return
    message = f"{path} is not available (the real data in ../shared beside the repo)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run this test", pytrace=False)
    pytest.skip(message)


def needs(path: Path):
    """Decorator form of `require`, for tests that read `path`."""

    def mark(test):
        import functools

        @functools.wraps(test)
        def wrapper(*args, **kwargs):
            require(path)
            return test(*args, **kwargs)

        return wrapper

    return mark


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> str:
    """One embedding cache for the session: later builds reuse earlier encodings, as users' do."""
    return str(tmp_path_factory.mktemp("cache") / "embeddings.sqlite")


@pytest.fixture(scope="session")
def fastapi_build(embedding_cache):
    """A full offline build over the real FastAPI docs, made once and shared by the integration tests."""
    require(FASTAPI_DOCS)
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.pipeline import build_raft_dataset

    config = RaftDatasetConfig(
        corpus=str(FASTAPI_DOCS / "**" / "*.md"), embedding_cache=embedding_cache, license="mit", seed=7,
    )
    return build_raft_dataset(config, show_progress=False)
