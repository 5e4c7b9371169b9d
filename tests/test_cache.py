"""The SQLite key-value store behind the embedding and LLM response caches."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from raft_dataset.cache import KVStore, Namespace, default_cache_dir
from raft_dataset.encoding import EmbeddingCache
from raft_dataset.llm import Completion, ResponseCache

REPO = Path(__file__).resolve().parents[1]

# Writes `n` entries one put at a time, reporting each after its put returned, then either waits to
# be killed or (n=None) writes until killed. Nothing is closed: the process dies with the file open.
_WRITER = textwrap.dedent("""
    import sys, time
    from raft_dataset.cache import KVStore

    path, n = sys.argv[1], sys.argv[2]
    store = KVStore(path, "items")
    i = 0
    while n == "forever" or i < int(n):
        store.put(f"key-{i}", f"value-{i}".encode())
        print(i, flush=True)
        i += 1
    print("done", flush=True)
    time.sleep(600)
""")


def _writer(path: Path, n: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), n], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_committed_puts_survive_kill_9(tmp_path):
    path = tmp_path / "store.sqlite"
    proc = _writer(path, "7")
    try:
        lines = [proc.stdout.readline().strip() for _ in range(8)]
        assert lines == [*map(str, range(7)), "done"]
        assert Path(f"{path}-wal").exists()  # the writes sit in the WAL, not yet checkpointed
    finally:
        _kill(proc)
    with KVStore(path, "items") as store:
        assert len(store) == 7
        assert store.get_many(f"key-{i}" for i in range(10)) == {f"key-{i}": f"value-{i}".encode() for i in range(7)}


def test_a_kill_in_the_middle_of_writing_loses_nothing_reported(tmp_path):
    path = tmp_path / "store.sqlite"
    proc = _writer(path, "forever")
    try:
        reported = [int(proc.stdout.readline()) for _ in range(40)]
    finally:
        _kill(proc)
    with KVStore(path, "items") as store:
        stored = len(store)
        # Every reported put is there; at most the one in flight was stored without being reported.
        assert stored >= len(reported) == 40
        assert set(store.get_many(f"key-{i}" for i in range(stored + 5))) == {f"key-{i}" for i in range(stored)}


def test_namespaces_of_one_file_do_not_collide(tmp_path):
    path = tmp_path / "shared.sqlite"
    with KVStore(path, "alpha") as a, KVStore(path, "beta") as b:
        a.put("k", b"from alpha")
        b.put_many([("k", b"from beta"), ("only-beta", b"x")])
        assert (a.get("k"), b.get("k")) == (b"from alpha", b"from beta")
        assert a.get("only-beta") is None
        assert (len(a), len(b)) == (1, 2)
    # The two real caches can share a file too.
    with EmbeddingCache(path, "fp") as emb, ResponseCache(path) as responses:
        emb.put_many(["k"], np.ones((1, 3), dtype=np.float32))
        responses.put("k", {"messages": []}, Completion("answer", 3, 1))
        assert responses.get("k").text == "answer" and len(responses) == 1
        assert np.array_equal(emb.get_many(["k"])[0], np.ones(3, dtype=np.float32)) and len(emb) == 1
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"alpha", "beta", "embeddings", "responses"}


def test_get_many_on_missing_keys(tmp_path):
    with KVStore(tmp_path / "s.sqlite", "items") as store:
        assert store.get_many([]) == {}
        assert store.get_many(["nope", "nada"]) == {}
        assert store.get("nope") is None
        store.put_many([(f"k{i}", i.to_bytes(2, "big")) for i in range(1200)])
        keys = [f"k{i}" for i in range(0, 2400, 2)] + ["k0"]  # half missing, one repeated, > one IN batch
        found = store.get_many(keys)
        assert found == {f"k{i}": i.to_bytes(2, "big") for i in range(0, 1200, 2)}


def test_put_replaces_and_values_keep_their_type(tmp_path):
    with KVStore(None, "items") as store:  # in memory
        store.put(b"\x00bin", "text")
        store.put(b"\x00bin", "newer")
        store.put("s", b"\x00\xffbytes")
        assert (store.get(b"\x00bin"), store.get("s"), len(store)) == ("newer", b"\x00\xffbytes", 2)


def test_extra_columns_are_written_beside_the_value(tmp_path):
    ns = Namespace("log", key_type="TEXT", value_type="TEXT", extra_columns=(("note", "TEXT"),))
    with KVStore(tmp_path / "s.sqlite", ns) as store:
        store.put("k", "v", {"note": "why"})
        with pytest.raises(ValueError, match="extra columns note"):
            store.put("k2", "v")
        assert store.get("k") == "v" and len(store) == 1
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("SELECT key, value, note FROM log").fetchall() == [("k", "v", "why")]
    with pytest.raises(ValueError, match="not a valid table"):
        Namespace("drop table; --")


def test_threads_share_a_store(tmp_path):
    with KVStore(tmp_path / "s.sqlite", "items") as store:
        def write(t: int) -> None:
            for i in range(50):
                store.put(f"{t}-{i}", b"x")
                store.get(f"{t}-{i}")

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store) == 200


def _open_and_write(path: str, barrier, results) -> None:
    barrier.wait()  # all open the new file at the same moment
    try:
        with KVStore(path, "embeddings") as store:
            store.put_many([(f"{os.getpid()}-{i}", b"v") for i in range(50)])
        results.put("ok")
    except Exception as err:  # noqa: BLE001 - reported to the test
        results.put(repr(err))


def test_builds_opening_one_new_cache_at_once_all_succeed(tmp_path):
    # Two builds starting together on the default cache: SQLite refused one of them at once ("database is
    # locked", while switching the new file to WAL) in 6 of 30 such races of 4 processes before the retry.
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(20):
        path = str(tmp_path / f"cache{trial}.sqlite")
        barrier, results = context.Barrier(4), context.Queue()
        workers = [context.Process(target=_open_and_write, args=(path, barrier, results)) for _ in range(4)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        assert outcomes == ["ok"] * 4, (trial, outcomes)
        with KVStore(path, "embeddings") as store:
            assert len(store) == 200


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match=r"not\.sqlite: not a usable LLM response cache"):
        ResponseCache(bad)


def test_response_cache_reads_a_file_of_the_earlier_layout(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the table as earlier versions created it
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, request TEXT NOT NULL, "
                   "response TEXT NOT NULL, created REAL NOT NULL)")
        db.execute("INSERT INTO responses VALUES ('k', '{}', ?, 1.0)",
                   ('{"completion_tokens":2,"finish_reason":"stop","prompt_tokens":5,"text":"hi",'
                    '"usage_estimated":false}',))
    with ResponseCache(path) as cache:
        assert cache.get("k") == Completion("hi", 5, 2, "stop", cached=True)
        cache.put("k2", {"messages": []}, Completion("there", 1, 1))
        assert len(cache) == 2


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("RAFT_DATASET_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "raft_dataset"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the XDG spec: ignored
    assert default_cache_dir() == Path.home() / ".cache" / "raft_dataset"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "raft_dataset"
    monkeypatch.setenv("RAFT_DATASET_CACHE", str(tmp_path / "own"))
    assert default_cache_dir() == tmp_path / "own"
    from raft_dataset.encoding import default_embedding_cache_path
    from raft_dataset.llm import default_llm_cache_path

    assert default_embedding_cache_path() == tmp_path / "own" / "embeddings.sqlite"
    assert default_llm_cache_path() == tmp_path / "own" / "llm_cache.sqlite"


# -- scratch folders ----------------------------------------------------------------------------

_SCRATCH_OWNER = textwrap.dedent("""
    import sys, time
    from raft_dataset.cache import ScratchDir

    scratch = ScratchDir(sys.argv[1], "raft_index_")
    (scratch.path / "embedded.arrow").write_bytes(b"x" * 1000)
    print(scratch.path, flush=True)
    time.sleep(600)
""")


def test_scratch_folders_of_killed_processes_are_swept_and_live_ones_kept(tmp_path):
    from raft_dataset.cache import ScratchDir, remove_stale_scratch, stale_scratch

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    owner = subprocess.Popen([sys.executable, "-c", _SCRATCH_OWNER, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=REPO)
    try:
        theirs = Path(owner.stdout.readline().strip())
        mine = ScratchDir(tmp_path, "raft_index_")
        unrelated = tmp_path / "raft_index_without_owner"  # e.g. one being created right now
        unrelated.mkdir()
        assert stale_scratch(tmp_path, "raft_index_") == []  # both owners are alive
    finally:
        _kill(owner)
    assert remove_stale_scratch(tmp_path, "raft_index_") == [theirs]
    assert not theirs.exists() and mine.path.is_dir() and unrelated.is_dir()
    mine.cleanup()
    assert not mine.path.exists()

    kept = ScratchDir(tmp_path, "raft_index_")
    kept.abandon()  # released, not deleted: the next sweep takes it
    assert kept.path.is_dir() and stale_scratch(tmp_path, "raft_index_") == [kept.path]
