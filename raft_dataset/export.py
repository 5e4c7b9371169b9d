"""Hub-ready output: `data/{split}-*.parquet` plus README.md, written atomically, and publishing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import datasets

from .card import render_card
from .pipeline import BuildResult
from .records import SAMPLE_FEATURES

FEATURES = SAMPLE_FEATURES  # the columns of every split, derived from `records.Sample`


def to_dataset_dict(result: BuildResult) -> datasets.DatasetDict:
    """The build's splits as a `DatasetDict` with the fixed RAFT features (empty splits left out)."""
    return datasets.DatasetDict({
        name: datasets.Dataset.from_list(rows, features=FEATURES, split=datasets.Split(name))
        for name, rows in result.splits.items()
        if rows
    })


def is_dataset_folder(folder: Path) -> bool:
    """Whether a folder is a previous raft-dataset output (a card with our YAML block, and data/)."""
    card = folder / "README.md"
    return (folder / "data").is_dir() and card.is_file() and "\nraft_dataset:\n" in card.read_text(encoding="utf-8")


def check_output_dir(output_dir: str | Path) -> Path:
    """The resolved output folder, or `FileExistsError` when writing there would replace something
    that is not ours. Call it before a long build, not only after."""
    output_dir = Path(output_dir).resolve()
    if output_dir.exists() and not (output_dir.is_dir() and (not any(output_dir.iterdir()) or is_dataset_folder(output_dir))):
        raise FileExistsError(f"{output_dir}: exists and is not a raft-dataset output folder; choose a new --output")
    return output_dir


def write_dataset_folder(result: BuildResult, output_dir: str | Path, repo_id: str | None = None) -> Path:
    """Write parquet shards and the card into `output_dir`, atomically.

    Everything is written into a temporary sibling folder that replaces `output_dir` only once
    complete, so an interrupted build never leaves a folder that looks finished. An existing
    `output_dir` is replaced only if it is empty or a previous raft-dataset output: anything else
    (a home folder, the corpus) is refused rather than deleted.
    """
    output_dir = check_output_dir(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent))
    try:
        dataset_dict = to_dataset_dict(result)
        (staging / "data").mkdir()
        splits = datasets.SplitDict()
        for name, dataset in dataset_dict.items():
            dataset.to_parquet(str(staging / "data" / f"{name}-00000-of-00001.parquet"))
            splits.add(datasets.SplitInfo(name=name, num_examples=len(dataset), num_bytes=dataset.data.nbytes))
        info = datasets.DatasetInfo(
            features=FEATURES, splits=splits, dataset_size=sum(s.num_bytes for s in splits.values())
        )
        card = render_card(result, info._to_yaml_dict(), repo_id=repo_id or output_dir.name)
        card.save(staging / "README.md")
        _replace_dir(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


def _replace_dir(new: Path, target: Path) -> None:
    """Swap `new` in at `target`; an old folder is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool | None = None, token: str | None = None) -> str:
    """Publish a built folder as a dataset repo; the token comes from the environment or the HF login.

    Returns the URL of the commit. The token is passed to `huggingface_hub` only, never written.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
        raise FileNotFoundError(f"{folder}: not a built raft-dataset folder (README.md and data/ expected)")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
        commit_message="Upload RAFT dataset built with raft-dataset",
    )
    return str(getattr(commit, "commit_url", commit))
