"""Rebuilds into a folder the user keeps things in: only the build's own entries are replaced.

Builds run on the hashing fake encoder over the small real-looking pages of tests/fixtures/docs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from raft_dataset import export
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.export import MANIFEST_NAME, OutputFolderError, check_output_dir, write_dataset_folder
from raft_dataset.pipeline import build_raft_dataset
from tests.fake_encoder import HashingEncoder

DOCS = Path(__file__).parent / "fixtures" / "docs"
REPO = Path(__file__).resolve().parents[1]


def _build(splits: dict):
    config = RaftDatasetConfig(corpus=str(DOCS), embedding_cache="", num_distractors=1, min_query_similarity=-1.0,
                               splits=splits, license="mit")
    return build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)


@pytest.fixture(scope="module")
def three_splits():
    result = _build({"train": 0.5, "validation": 0.25, "test": 0.25})
    assert sum(1 for rows in result.splits.values() if rows) >= 2, "the fixture must give several shards"
    return result


@pytest.fixture(scope="module")
def one_split():
    return _build({"train": 1.0})


CLONE = {  # a fresh clone of a Hub dataset repo
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/config": b"[core]\n\trepositoryformatversion = 0\n",
    ".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n",
}
CLONE_TOP = [".git", ".gitattributes"]
NOTES = {  # what the user adds after the first build
    "NOTES.md": "# My notes\n\nRebuilt after fixing the glossary. \u2713\n".encode(),
    "extra/eval_results.json": json.dumps({"exact_match": 0.61, "f1": 0.74}).encode(),
}


def _user_files(folder: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return dict(files)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _shards(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "data").iterdir())


def test_a_clone_with_notes_survives_every_rebuild_byte_for_byte(three_splits, one_split, tmp_path):
    folder = tmp_path / "my-dataset"
    folder.mkdir()
    mine = _user_files(folder, CLONE)
    check_output_dir(folder)  # only VCS files: accepted like an empty folder
    write_dataset_folder(three_splits, folder, repo_id="me/my-dataset")
    mine.update(_user_files(folder, NOTES))

    write_dataset_folder(one_split, folder, repo_id="me/my-dataset")
    write_dataset_folder(three_splits, folder, repo_id="me/my-dataset")

    after = _snapshot(folder)
    assert {rel: after.get(rel) for rel in mine} == mine  # .git/, notes and results untouched
    ours = set(after) - set(mine)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert ours == {MANIFEST_NAME, *manifest["files"]}  # nothing else written, no scratch left
    assert sorted(manifest["entries"]) == ["README.md", "data", "dataset_info.json"]
    assert 'load_dataset("me/my-dataset")' in (folder / "README.md").read_text()
    reloaded = datasets.load_dataset(str(folder))
    expected = export.to_dataset_dict(three_splits)
    assert {name: ds.to_list() for name, ds in reloaded.items()} == {n: ds.to_list() for n, ds in expected.items()}


def test_a_stale_shard_of_a_split_no_longer_built_is_removed(three_splits, one_split, tmp_path):
    folder = write_dataset_folder(three_splits, tmp_path / "out")
    assert len(_shards(folder)) >= 2
    write_dataset_folder(one_split, folder)
    assert _shards(folder) == ["train-00000-of-00001.parquet"]
    assert list(datasets.load_dataset(str(folder))) == ["train"]


def test_a_foreign_data_folder_or_card_is_refused_not_replaced(three_splits, tmp_path):
    clone = tmp_path / "clone"
    (clone / "data").mkdir(parents=True)
    (clone / ".git").mkdir()
    (clone / "data" / "train.csv").write_text("question,answer\nmine,mine\n")
    with pytest.raises(OutputFolderError, match="it holds 'data'"):
        check_output_dir(clone)
    with pytest.raises(OutputFolderError, match="it holds 'data'"):
        write_dataset_folder(three_splits, clone)
    assert (clone / "data" / "train.csv").read_text() == "question,answer\nmine,mine\n"
    assert sorted(p.name for p in clone.iterdir()) == [".git", "data"]  # no staging left behind

    own_card = tmp_path / "card"
    (own_card / ".git").mkdir(parents=True)
    (own_card / "README.md").write_text("# my hand-written card\n")
    with pytest.raises(OutputFolderError, match="not a raft-dataset output folder .it holds 'README.md'"):
        check_output_dir(own_card)


def test_a_file_put_into_data_or_an_edited_card_is_never_overwritten(three_splits, tmp_path):
    folder = write_dataset_folder(three_splits, tmp_path / "out")
    (folder / "data" / "my_labels.jsonl").write_text('{"label": 1}\n')
    with pytest.raises(OutputFolderError, match="my_labels.jsonl: not written by raft-dataset"):
        write_dataset_folder(three_splits, folder)
    (folder / "data" / "my_labels.jsonl").unlink()

    card = folder / "README.md"
    card.write_text(card.read_text() + "\n## My evaluation\n\nSee extra/.\n")
    with pytest.raises(OutputFolderError, match="README.md: edited since raft-dataset wrote it"):
        write_dataset_folder(three_splits, folder)
    assert card.read_text().endswith("## My evaluation\n\nSee extra/.\n")


def test_unrelated_folders_empty_and_file_paths_are_refused_before_the_build(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "todo.txt").write_text("keep")
    with pytest.raises(OutputFolderError, match="not a raft-dataset output folder"):
        check_output_dir(home)
    monkeypatch.chdir(home)
    with pytest.raises(ValueError, match="empty path"):
        check_output_dir("")
    with pytest.raises(ValueError, match="empty path"):
        check_output_dir("  ")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(OutputFolderError, match=f"{a_file}: is a file") as caught:
        check_output_dir(a_file / "sub" / "out")
    assert "\n" not in str(caught.value)
    with pytest.raises(OutputFolderError, match="is not a folder"):
        check_output_dir(a_file)
    assert check_output_dir(tmp_path / "new" / "out") == (tmp_path / "new" / "out").resolve()


def test_the_cli_refuses_an_empty_output_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    (tmp_path / "keep.txt").write_text("keep")
    done = subprocess.run([sys.executable, "-m", "raft_dataset.cli", "build", "--corpus", str(DOCS), "--output", ""],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("raft-dataset: error: ") and "empty path" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_an_old_output_without_manifest_is_still_ours(three_splits, tmp_path):
    """Folders written by versions before the manifest (a card with our YAML and data/) are replaced."""
    folder = write_dataset_folder(three_splits, tmp_path / "out")
    (folder / MANIFEST_NAME).unlink()
    (folder / "dataset_info.json").unlink()  # those versions wrote data/ and README.md only
    (folder / "NOTES.md").write_text("mine")
    assert export.is_dataset_folder(folder)
    write_dataset_folder(three_splits, folder)
    assert (folder / MANIFEST_NAME).is_file() and (folder / "NOTES.md").read_text() == "mine"


def test_leftovers_of_earlier_versions_are_removed_after_a_successful_write(three_splits, tmp_path):
    folder = write_dataset_folder(three_splits, tmp_path / "out")
    partial = tmp_path / ".out.partial-k2j3h4"
    (partial / "data").mkdir(parents=True)
    old = tmp_path / ".out.old-99999999"   # above any pid_max: no such process
    (old / "data").mkdir(parents=True)
    (old / "README.md").write_text("previous copy")
    unrelated = tmp_path / ".outer.old-99999999"
    unrelated.mkdir()
    write_dataset_folder(three_splits, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".outer.old-99999999", "out"]


def test_a_write_interrupted_mid_swap_is_finished_by_the_next_one(three_splits, tmp_path, monkeypatch):
    """Ctrl-C between two renames of a first build into a clone: the folder does not look finished,
    and the next write recognises the half-moved entries as its own instead of refusing them."""
    folder = tmp_path / "clone"
    _user_files(folder, CLONE)
    move, moves = export._move, []

    def interrupted_move(source, target):
        if len(moves) == 1:  # data/ is in place, the card and manifest are not
            raise KeyboardInterrupt
        moves.append(source.name)
        move(source, target)

    monkeypatch.setattr(export, "_move", interrupted_move)
    with pytest.raises(KeyboardInterrupt):
        write_dataset_folder(three_splits, folder)
    monkeypatch.setattr(export, "_move", move)
    assert (folder / "data").is_dir() and not (folder / "README.md").exists() and not (folder / MANIFEST_NAME).exists()
    assert export.is_dataset_folder(folder)  # the journal of the interrupted write says data/ is ours
    write_dataset_folder(three_splits, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*CLONE_TOP, MANIFEST_NAME, "README.md", "data",
                                                               "dataset_info.json"])
    assert {rel: (folder / rel).read_bytes() for rel in CLONE} == CLONE
