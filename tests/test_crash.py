"""`kill -9` at every stage of a build, then a rerun: the same dataset as an uninterrupted build, only
the unfinished work redone, nothing left behind, and no folder that looks finished while it is not.

Each build runs in its own process (this file run as a script) on the hashing fake encoder. The
process is frozen at a chosen point (it prints a marker and waits, or the fake LLM server holds a
request) and killed there with SIGKILL, so no test depends on timing.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as the build script: the repo must be importable
    sys.path.insert(0, str(REPO))

from tests.fake_encoder import HashingEncoder  # noqa: E402

DOCS = REPO / "tests" / "fixtures" / "docs"  # five small real-looking pages: a quick offline build
ENCODE_BATCH = 2  # texts per encoder batch here: enough batches to stop in the middle of encoding
STALLED = "STALLED"
MARKER_TIMEOUT = 180.0

# Each test starts two build processes (about 5 s each on an idle machine, imports included).
pytestmark = pytest.mark.slow


class CountingEncoder(HashingEncoder):
    """The hashing encoder in small batches, counting the passage texts and batches it encodes."""

    def __init__(self, stall_after_batches: int | None = None) -> None:
        super().__init__()
        self.texts = self.batches = 0
        self.stall_after_batches = stall_after_batches

    def iter_encode(self, texts, *, prompt: str = "", progress=None, **_):
        for start in range(0, len(texts), ENCODE_BATCH):
            if self.batches == self.stall_after_batches:
                _stall("encoding")  # the batches before this one were stored by encode_cached
            batch = list(texts[start:start + ENCODE_BATCH])
            self.texts += len(batch)
            self.batches += 1
            if progress is not None:
                progress.update(len(batch))
            yield list(range(start, start + len(batch))), self.encode(batch)


def _stall(stage: str) -> None:
    print(f"{STALLED} {stage}", flush=True)
    threading.Event().wait()  # until killed


def make_config(job: dict):
    from raft_dataset.config import RaftDatasetConfig

    settings = dict(corpus=job["corpus"], embedding_cache=job["embedding_cache"], seed=3, license="cc0-1.0",
                    num_distractors=1, min_query_similarity=-1.0)
    if job.get("llm"):
        settings.update(question_generator="llm", answer_generator="llm", llm=job["llm"])
    return RaftDatasetConfig(**settings)


def run_build(job: dict) -> dict:
    """One build into `job["output"]`, frozen at `job["stall"]` = {"stage", "after"} when given."""
    import datasets

    from raft_dataset import export, pipeline

    stall = job.get("stall") or {}
    stage, after = stall.get("stage"), stall.get("after", 0)
    if stage == "reading":
        read = pipeline.load_documents

        def load_documents(*args, **kwargs):
            for i, document in enumerate(read(*args, **kwargs)):
                if i == after:
                    _stall("reading")
                yield document

        pipeline.load_documents = load_documents
    if stage == "writing-shards":
        to_parquet = datasets.Dataset.to_parquet

        def write_shard_then_stall(self, *args, **kwargs):
            written = to_parquet(self, *args, **kwargs)
            _stall("writing-shards")
            return written

        datasets.Dataset.to_parquet = write_shard_then_stall
    if stage == "writing-swap":
        move, moves = export._move, []

        def move_then_stall(source, target):
            if len(moves) == after:
                _stall("writing-swap")
            moves.append(source.name)
            move(source, target)

        export._move = move_then_stall
    encoder = CountingEncoder(stall_after_batches=after if stage == "encoding" else None)
    result = pipeline.build_raft_dataset(make_config(job), encoder=encoder, show_progress=False)
    export.write_dataset_folder(result, job["output"])
    return {"texts": encoder.texts, "batches": encoder.batches}


# -- the test side ----------------------------------------------------------------------------


def _env(tmp: Path) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), path])), "TMPDIR": str(tmp)}


class BuildProcess:
    """The build script in a child process, its stdout lines read by a thread."""

    def __init__(self, job: dict, tmp: Path) -> None:
        tmp.mkdir(exist_ok=True)
        job_path = tmp / f"job-{time.monotonic_ns()}.json"
        job_path.write_text(json.dumps(job))
        self.stderr = (tmp / f"{job_path.stem}.err").open("w+")
        self.process = subprocess.Popen([sys.executable, __file__, str(job_path)], stdout=subprocess.PIPE,
                                        stderr=self.stderr, text=True, env=_env(tmp), cwd=REPO)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, marker: str) -> None:
        deadline = time.monotonic() + MARKER_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(f"no {marker!r} within {MARKER_TIMEOUT:.0f} s")
            if line is None:
                self.process.wait()
                self.stderr.seek(0)
                pytest.fail(f"the build ended ({self.process.returncode}) before {marker!r}: {self.stderr.read()[-3000:]}")
            if line == marker:
                return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        assert self.process.returncode == -signal.SIGKILL

    def finish(self) -> dict:
        self.process.wait(timeout=MARKER_TIMEOUT)
        self.stderr.seek(0)
        assert self.process.returncode == 0, self.stderr.read()[-3000:]
        lines = []
        while (line := self.lines.get(timeout=10)) is not None:
            lines.append(line)
        return json.loads(lines[-1])


def rows_of(folder: Path) -> dict[str, list[dict]]:
    """Every parquet shard of a built folder, row by row."""
    import pyarrow.parquet as pq

    return {p.name: pq.read_table(p).to_pylist() for p in sorted((folder / "data").iterdir())}


def embedding_rows(path: Path) -> int:
    from raft_dataset.cache import KVStore
    from raft_dataset.encoding import EMBEDDINGS

    if not path.exists():
        return 0
    with KVStore(path, EMBEDDINGS) as store:
        return len(store)


def llm_rows(path: Path) -> int:
    from raft_dataset.cache import KVStore
    from raft_dataset.llm.client import RESPONSES

    if not path.exists():
        return 0
    with KVStore(path, RESPONSES) as store:
        return len(store)


def assert_no_leftovers(out: Path, tmp: Path) -> None:
    from raft_dataset.export import SCRATCH_PREFIX

    assert [p.name for p in tmp.glob("raft_index_*")] == []
    assert [p.name for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX)] == []
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []


def assert_not_finished(out: Path) -> None:
    from raft_dataset.export import MANIFEST_NAME

    assert not (out / MANIFEST_NAME).exists() and not (out / "README.md").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted offline build with fresh caches: its rows and how many texts it encoded."""
    tmp = tmp_path_factory.mktemp("reference")
    job = {"corpus": str(DOCS), "output": str(tmp / "out"), "embedding_cache": str(tmp / "embeddings.sqlite")}
    counts = run_build(job)
    return {"rows": rows_of(tmp / "out"), "texts": counts["texts"], "out": tmp / "out",
            "cached": embedding_rows(tmp / "embeddings.sqlite")}


@pytest.mark.parametrize("stage, after", [("reading", 3), ("encoding", 2), ("writing-shards", 0), ("writing-swap", 3)])
def test_killed_offline_build_reruns_to_the_same_dataset(stage, after, reference, tmp_path):
    out, cache, tmp = tmp_path / "work" / "out", tmp_path / "embeddings.sqlite", tmp_path / "tmp"
    out.parent.mkdir()
    if stage == "writing-swap":  # a rebuild over a previous output holding the user's notes
        shutil.copytree(reference["out"], out)
        (out / "NOTES.md").write_text("mine")
    job = {"corpus": str(DOCS), "output": str(out), "embedding_cache": str(cache)}

    crashed = BuildProcess({**job, "stall": {"stage": stage, "after": after}}, tmp)
    crashed.wait_for(f"{STALLED} {stage}")
    crashed.kill()
    assert_not_finished(out)
    cached_at_kill = embedding_rows(cache)
    if stage == "reading":
        assert cached_at_kill == 0
    elif stage == "encoding":
        assert cached_at_kill == after * ENCODE_BATCH  # each finished batch was committed as it finished
    else:
        assert cached_at_kill == reference["cached"]
    if not stage.startswith("writing"):  # by then the index is gone
        assert list(tmp.glob("raft_index_*")), "the killed build should have left its index folder"

    counts = BuildProcess(job, tmp).finish()
    assert counts["texts"] == reference["texts"] - cached_at_kill  # only unfinished batches redone
    assert rows_of(out) == reference["rows"]
    assert_no_leftovers(out, tmp)
    if stage == "writing-swap":
        assert (out / "NOTES.md").read_text() == "mine"


# -- the LLM build ------------------------------------------------------------------------------


def _completion(text: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }).encode()


def _scripted(body: dict) -> tuple[str, str]:
    """(stage, reply) of what a capable model would write: questions per passage, quoting answers."""
    from raft_dataset.raft_format import BEGIN_QUOTE, END_QUOTE

    prompt = body["messages"][-1]["content"]
    passage = re.search(r'Passage from "(.*?)":\n"""\n(.*?)\n"""', prompt, re.S)
    if passage:
        title, text = passage.groups()
        words = re.findall(r"[A-Za-z]{5,}", text)[:2] or ["it"]
        return "questions", json.dumps([f"What does {title} say about {w.lower()}?" for w in words])
    first_turn = next(m["content"] for m in body["messages"] if m["role"] == "user")
    document = re.search(r"<DOCUMENT>\nTitle: [^\n]*\n(.*?)\n</DOCUMENT>", first_turn, re.S).group(1)
    prose = re.sub(r"```.*?```", "", document, flags=re.S)
    sentence = next((line.strip() for line in prose.splitlines()
                     if len(line.split()) >= 5 and line.rstrip().endswith(".")), None)
    sentence = sentence or next((line.strip() for line in document.splitlines() if line.strip()), "Nothing.")
    return "answers", f"The document says {BEGIN_QUOTE}{sentence}{END_QUOTE}\n<ANSWER>: {sentence}"


class FakeLLM:
    """Scripted completions through the fault proxy of llm_fixtures (no upstream model needed); holds
    the request after `after` completed ones of `stage` until the client is killed."""

    def __init__(self) -> None:
        from llm_fixtures import FaultProxy, Reply, Stall

        self.reply, self.stall = Reply, Stall
        self.hold: tuple[str, int] | None = None
        self.held = threading.Event()
        self.sent: dict[str, int] = {"questions": 0, "answers": 0}
        self._lock = threading.Lock()
        self.proxy = FaultProxy(upstream="http://127.0.0.1:9", plan=self._plan).start()

    def _plan(self, body: dict, attempt: int):
        stage, text = _scripted(body)
        with self._lock:
            if self.hold and self.hold[0] == stage and self.sent[stage] >= self.hold[1] and not self.held.is_set():
                self.held.set()
                return self.stall(300.0)
            self.sent[stage] += 1
        return self.reply(200, _completion(text), (("Content-Type", "application/json"),))

    def settings(self, cache: Path) -> dict:
        return {"model": "fake-model", "base_url": self.proxy.base_url, "max_tokens": 64, "questions_per_chunk": 2,
                "max_concurrency": 2, "cache_path": str(cache), "progress": False}

    def stop(self) -> None:
        self.proxy.stop()


@pytest.fixture(scope="module")
def fake_llm():
    sys.path.insert(0, str(Path(__file__).parent))  # llm_fixtures is imported by its module name
    llm = FakeLLM()
    yield llm
    llm.stop()


@pytest.fixture(scope="module")
def llm_reference(fake_llm, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("llm-reference")
    job = {"corpus": str(DOCS), "output": str(tmp / "out"),
           "embedding_cache": str(tmp / "embeddings.sqlite"), "llm": fake_llm.settings(tmp / "llm.sqlite")}
    before = dict(fake_llm.sent)
    run_build(job)
    sent = {stage: fake_llm.sent[stage] - before[stage] for stage in before}
    assert sent["questions"] > 2 and sent["answers"] > 2
    return {"rows": rows_of(tmp / "out"), "requests": llm_rows(tmp / "llm.sqlite"), "sent": sent}


@pytest.mark.parametrize("stage", ["questions", "answers"])
def test_killed_llm_build_resends_only_the_missing_requests(stage, fake_llm, llm_reference, tmp_path):
    out, tmp, llm_cache = tmp_path / "out", tmp_path / "tmp", tmp_path / "llm.sqlite"
    job = {"corpus": str(DOCS), "output": str(out),
           "embedding_cache": str(tmp_path / "embeddings.sqlite"), "llm": fake_llm.settings(llm_cache)}
    fake_llm.held.clear()
    fake_llm.hold = (stage, fake_llm.sent[stage] + llm_reference["sent"][stage] // 2)  # half of the stage's requests
    crashed = BuildProcess(job, tmp)
    try:
        assert fake_llm.held.wait(MARKER_TIMEOUT), "the build never reached the held request"
    finally:
        crashed.kill()
        fake_llm.hold = None
    assert_not_finished(out)
    cached_at_kill = llm_rows(llm_cache)
    done_before = llm_reference["sent"]["questions"] if stage == "answers" else 0
    # Finished requests were kept (with 2 in flight, the last reply may not have been stored yet).
    assert cached_at_kill >= done_before + llm_reference["sent"][stage] // 2 - 1

    before = sum(fake_llm.sent.values())
    BuildProcess(job, tmp).finish()
    assert sum(fake_llm.sent.values()) - before == llm_reference["requests"] - cached_at_kill
    assert rows_of(out) == llm_reference["rows"]
    assert_no_leftovers(out, tmp)


if __name__ == "__main__":
    print(json.dumps(run_build(json.loads(Path(sys.argv[1]).read_text()))), flush=True)
