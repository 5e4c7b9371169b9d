"""Hub-ready folders: atomic writes, reload, the card, publishing without leaking the token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from raft_dataset import export
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.pipeline import build_raft_dataset
from tests.conftest import EXAMPLE_CORPUS, EXAMPLE_QUERIES


@pytest.fixture(scope="module")
def example_build(embedding_cache):  # builds with the real encoder: its tests are slow
    config = RaftDatasetConfig(
        corpus=str(EXAMPLE_CORPUS), queries=str(EXAMPLE_QUERIES), embedding_cache=embedding_cache, license="cc0-1.0"
    )
    return build_raft_dataset(config, show_progress=False)


@pytest.mark.slow
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
    assert sorted(p.name for p in folder.iterdir()) == [export.MANIFEST_NAME, "README.md", "data", "dataset_info.json"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_refuses_to_replace_a_folder_that_is_not_a_previous_output(example_build, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("do not delete me")
    with pytest.raises(export.OutputFolderError, match="not a raft-dataset output folder"):
        export.write_dataset_folder(example_build, precious)
    assert (precious / "todo.txt").read_text() == "do not delete me"
    export.write_dataset_folder(example_build, tmp_path / "out")
    export.write_dataset_folder(example_build, tmp_path / "out")  # a previous output is replaced


@pytest.mark.slow
def test_card_shows_no_local_paths(example_build, tmp_path):
    folder = export.write_dataset_folder(example_build, tmp_path / "out")
    card = (folder / "README.md").read_text()
    assert str(EXAMPLE_CORPUS.parent.parent) not in card  # no absolute path of this machine
    assert "examples/corpus" in card


@pytest.mark.slow
def test_same_seed_same_dataset_with_cold_caches(example_build):
    """Determinism without any cache: embeddings recomputed from scratch give the same rows."""
    import dataclasses

    cold = dataclasses.replace(example_build.config, embedding_cache="")
    first, second = build_raft_dataset(cold, show_progress=False), build_raft_dataset(cold, show_progress=False)
    assert first.splits == second.splits == example_build.splits
    other_seed = build_raft_dataset(dataclasses.replace(cold, seed=cold.seed + 1), show_progress=False)
    assert other_seed.splits != first.splits


# -- publishing: the Hub is the boundary ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_build():
    """A fast build (hashing encoder, small fixture pages) with three splits."""
    from tests.fake_encoder import HashingEncoder

    config = RaftDatasetConfig(corpus=str(Path(__file__).parent / "fixtures" / "docs"), embedding_cache="",
                               num_distractors=1, min_query_similarity=-1.0, license="mit",
                               splits={"train": 0.5, "validation": 0.25, "test": 0.25})
    return build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)


class RecordingHub:
    """`HfApi`'s network calls, recorded; the remote repo holds a stale shard and the owner's files."""

    remote = [".gitattributes", "README.md", "data/train-00000-of-00001.parquet",
              "data/unused-00000-of-00001.parquet", "notes/owner.md"]

    def __init__(self, monkeypatch):
        from huggingface_hub import CommitInfo, HfApi

        self.calls: dict = {}

        def create_repo(api, repo_id, **kwargs):
            self.calls["token"] = api.token
            self.calls["create_repo"] = (repo_id, kwargs)

        def create_branch(api, repo_id, *, branch, **kwargs):
            self.calls["create_branch"] = (repo_id, branch, kwargs)

        def list_repo_files(api, repo_id, **kwargs):
            self.calls["list"] = (repo_id, kwargs)
            return list(self.remote)

        def create_commit(api, repo_id, operations, **kwargs):
            operations = list(operations)
            self.calls["commit"] = (repo_id, kwargs)
            self.calls["deleted"] = sorted(op.path_in_repo for op in operations if not hasattr(op, "path_or_fileobj"))
            self.calls["added"] = {op.path_in_repo: Path(op.path_or_fileobj).read_bytes()
                                   for op in operations if hasattr(op, "path_or_fileobj")}
            pr = "https://huggingface.co/datasets/me/x/discussions/1" if kwargs.get("create_pr") else None
            return CommitInfo(commit_url="https://huggingface.co/datasets/me/x/commit/abc", commit_message="",
                              commit_description="", oid="abc", pr_url=pr)

        for name, fn in [("create_repo", create_repo), ("create_branch", create_branch),
                         ("list_repo_files", list_repo_files), ("create_commit", create_commit)]:
            monkeypatch.setattr(HfApi, name, fn)


def test_push_uploads_only_the_builds_files_in_one_commit_and_deletes_stale_shards(small_build, tmp_path, monkeypatch):
    hub = RecordingHub(monkeypatch)
    secret = "hf_SECRETtokenSECRETtoken"
    monkeypatch.setenv("HF_TOKEN", secret)
    folder = tmp_path / "local-folder-name"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    export.write_dataset_folder(small_build, folder)
    (folder / "NOTES.md").write_text("private notes")
    assert 'load_dataset("local-folder-name")' in (folder / "README.md").read_text()

    url = export.push_to_hub(folder, "me/x", revision="v2", commit_message="Rebuild with the new glossary")
    assert url.endswith("/commit/abc")
    manifest = json.loads((folder / export.MANIFEST_NAME).read_text())
    assert set(hub.calls["added"]) == {*manifest["files"], export.MANIFEST_NAME}  # not .git/, not NOTES.md
    assert all(name.startswith("data/") for name in set(hub.calls["added"]) - {"README.md", "dataset_info.json", export.MANIFEST_NAME})
    assert hub.calls["deleted"] == ["data/unused-00000-of-00001.parquet"]  # the owner's notes stay on the Hub
    card = hub.calls["added"]["README.md"].decode()
    assert 'load_dataset("me/x")' in card and "local-folder-name" not in card
    assert (folder / "README.md").read_text() == card  # the local card names the repo too, and still counts as ours
    assert hub.calls["create_branch"][:2] == ("me/x", "v2")
    assert hub.calls["commit"][1]["revision"] == "v2" and not hub.calls["commit"][1]["create_pr"]
    assert hub.calls["commit"][1]["commit_message"] == "Rebuild with the new glossary"
    assert hub.calls["token"] is None  # huggingface_hub reads HF_TOKEN / the login itself
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()
    export.write_dataset_folder(small_build, folder)  # the re-rendered card is still the build's own

    pr = export.push_to_hub(folder, "me/x", create_pr=True)
    assert pr.endswith("/discussions/1") and hub.calls["commit"][1]["create_pr"] is True


def test_push_refuses_a_folder_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(export.PushError, match="not a built raft-dataset folder"):
        export.push_to_hub(tmp_path, "me/x")


@pytest.fixture
def refusing_hub(monkeypatch):
    """A local HTTP server answering every Hub call with one status; the Hub endpoint points at it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from huggingface_hub import constants

    status = {"code": 401}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _refuse(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": "Invalid credentials in Authorization header"}).encode()
            self.send_response(status["code"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _refuse

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield status
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("code, message", [(401, "refused the token"), (403, "permission denied")])
def test_push_failures_are_one_line(code, message, refusing_hub, small_build, tmp_path):
    refusing_hub["code"] = code
    folder = export.write_dataset_folder(small_build, tmp_path / "out")
    with pytest.raises(export.PushError, match=message) as caught:
        export.push_to_hub(folder, "me/x", token="hf_NOTAREALTOKENxxxxxxxxxxxx")
    assert "\n" not in str(caught.value) and "hf_NOTAREAL" not in str(caught.value)


def test_push_without_a_network_is_one_line(small_build, tmp_path, monkeypatch):
    import socket

    from huggingface_hub import constants

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    folder = export.write_dataset_folder(small_build, tmp_path / "out")
    with pytest.raises(export.PushError, match="me/x: ") as caught:
        export.push_to_hub(folder, "me/x", token="hf_NOTAREALTOKENxxxxxxxxxxxx")
    assert "\n" not in str(caught.value)
