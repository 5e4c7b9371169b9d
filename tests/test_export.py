"""Hub-ready folders: atomic writes, reload, the card, publishing without leaking the token."""

from __future__ import annotations

import pytest
import yaml

from raft_dataset import export
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.pipeline import build_raft_dataset
from tests.conftest import EXAMPLE_CORPUS, EXAMPLE_QUERIES

pytestmark = pytest.mark.slow  # builds with the encoder


@pytest.fixture(scope="module")
def example_build(embedding_cache):
    config = RaftDatasetConfig(
        corpus=str(EXAMPLE_CORPUS), queries=str(EXAMPLE_QUERIES), embedding_cache=embedding_cache, license="cc0-1.0"
    )
    return build_raft_dataset(config, show_progress=False)


def test_folder_has_parquet_per_split_and_a_parseable_card(example_build, tmp_path):
    folder = export.write_dataset_folder(example_build, tmp_path / "out", repo_id="me/tidepool-raft")
    shards = sorted(p.name for p in (folder / "data").iterdir())
    assert shards == sorted(f"{name}-00000-of-00001.parquet" for name, rows in example_build.splits.items() if rows)
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["configs"][0]["data_files"][0]["path"].startswith("data/")
    assert header["raft_dataset"]["counts"]["samples"] == sum(len(r) for r in example_build.splits.values())
    assert 'load_dataset("me/tidepool-raft")' in card
    assert "from the user's queries file" in card
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_interrupted_write_leaves_no_complete_looking_folder(example_build, tmp_path, monkeypatch):
    target = tmp_path / "out"
    export.write_dataset_folder(example_build, target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the card was being written

    monkeypatch.setattr(export, "render_card", crash)
    with pytest.raises(KeyboardInterrupt):
        export.write_dataset_folder(example_build, target)
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before  # the previous complete build is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with pytest.raises(KeyboardInterrupt):
        export.write_dataset_folder(example_build, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_push_uploads_the_folder_and_never_writes_the_token(example_build, tmp_path, monkeypatch):
    import huggingface_hub

    calls = {}

    class RecordingApi:  # the Hub is the external boundary: record what would be sent
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls["create"] = (repo_id, repo_type, exist_ok)

        def upload_folder(self, repo_id, repo_type, folder_path, commit_message):
            calls["upload"] = (repo_id, repo_type, folder_path)
            return "https://huggingface.co/datasets/me/x/commit/abc"

    secret = "hf_SECRETtokenSECRETtoken"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    folder = export.write_dataset_folder(example_build, tmp_path / "out")
    url = export.push_to_hub(folder, "me/x")
    assert url.endswith("/commit/abc")
    assert calls["create"] == ("me/x", "dataset", True) and calls["upload"][:2] == ("me/x", "dataset")
    assert calls["token"] is None  # huggingface_hub reads HF_TOKEN / the login itself
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()
    with pytest.raises(FileNotFoundError, match="not a built raft-dataset folder"):
        export.push_to_hub(tmp_path, "me/x")


def test_refuses_to_replace_a_folder_that_is_not_a_previous_output(example_build, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("do not delete me")
    with pytest.raises(FileExistsError, match="not a raft-dataset output folder"):
        export.write_dataset_folder(example_build, precious)
    assert (precious / "todo.txt").read_text() == "do not delete me"
    export.write_dataset_folder(example_build, tmp_path / "out")
    export.write_dataset_folder(example_build, tmp_path / "out")  # a previous output is replaced


def test_card_shows_no_local_paths(example_build, tmp_path):
    folder = export.write_dataset_folder(example_build, tmp_path / "out")
    card = (folder / "README.md").read_text()
    assert str(EXAMPLE_CORPUS.parent.parent) not in card  # no absolute path of this machine
    assert "examples/corpus" in card


def test_same_seed_same_dataset_with_cold_caches(example_build):
    """Determinism without any cache: embeddings recomputed from scratch give the same rows."""
    import dataclasses

    cold = dataclasses.replace(example_build.config, embedding_cache="")
    first, second = build_raft_dataset(cold, show_progress=False), build_raft_dataset(cold, show_progress=False)
    assert first.splits == second.splits == example_build.splits
    other_seed = build_raft_dataset(dataclasses.replace(cold, seed=cold.seed + 1), show_progress=False)
    assert other_seed.splits != first.splits
