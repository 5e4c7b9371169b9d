"""A hostile corpus, made here in tmp_path: every file that once stalled, crashed or leaked a build
is counted by name and reason, in bounded time and memory, and nothing outside the corpus reaches a row.

`HOSTILE_CASES` is shared with `benchmarks/hostile.py`, which times each case on its own.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from raft_dataset.chunking import MAX_CHARS_PER_TOKEN, WINDOW_CHARS, windows
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.corpus import SKIP_REASONS, read_corpus
from raft_dataset.markup import MAX_RUN_CHARS, parse, strip_junk
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.report import CORPUS, BuildReport
from tests.fake_encoder import HashingEncoder

REPO = Path(__file__).resolve().parents[1]
SECRET = "TOP-SECRET launch code 7731"

NORMAL_PAGES = {
    "alpha.md": "# Alpha jobs\n\nAlpha jobs run every hour on the primary scheduler node.\n",
    "beta.md": "# Beta jobs\n\nBeta jobs retry three times with exponential backoff before failing.\n",
    "gamma.md": "# Gamma jobs\n\nGamma logs are written as JSON lines to the audit directory.\n",
    "delta.md": "# Delta jobs\n\nDelta tokens expire after twelve hours and must be refreshed.\n",
    "epsilon.md": "# Epsilon jobs\n\nEpsilon queues hold at most one thousand pending runs.\n",
    "zeta.md": "# Zeta jobs\n\nZeta workers need four gigabytes of memory each.\n",
}
WORDS = ["scheduler", "job", "retry", "timeout", "backoff", "plugin", "hook", "config", "table", "value", "path"]


def _one_line(size: int) -> str:
    rng = random.Random(0)
    words = " ".join(rng.choice(WORDS) for _ in range(size // 6 + 1))
    return words[:size]


def _nested_json(depth: int) -> str:
    return json.dumps({"text": "placeholder"}).replace('"placeholder"', "[" * depth + '"deep"' + "]" * depth)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# Each case writes its file(s) into the corpus folder and returns the reasons it must be counted
# under (reason -> n), or {} when it must be read as a normal document.
def _case_normal(corpus: Path) -> dict[str, int]:
    for name, text in NORMAL_PAGES.items():
        _write(corpus / name, text)
    return {}


def _case_one_line_20mb(corpus: Path) -> dict[str, int]:
    _write(corpus / "one_line.md", _one_line(20 * 2**20))
    return {"too_large": 1}


def _case_huge_json_record(corpus: Path) -> dict[str, int]:
    records = [{"text": _one_line(3 * 10**6)}, {"text": "Theta jobs are paused during the nightly backup window."}]
    _write(corpus / "records.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    return {"too_large": 1}  # line 1 only: line 2 is a document


def _case_json_10000_deep(corpus: Path) -> dict[str, int]:
    _write(corpus / "deep.jsonl", _nested_json(10_000) + "\n")
    return {"too_deep": 1}


def _case_json_surrogate(corpus: Path) -> dict[str, int]:
    _write(corpus / "surrogate.jsonl", '{"text": "a lone \\ud800 surrogate"}\n')
    return {"undecodable": 1}


def _case_markdown_3000_deep(corpus: Path) -> dict[str, int]:
    _write(corpus / "quotes.md", "> " * 3000 + "deep quoted text\n")
    _write(corpus / "lists.md", "".join("  " * i + f"- item {i}\n" for i in range(3000)))
    return {"too_deep": 2}


def _case_deep_html(corpus: Path) -> dict[str, int]:
    _write(corpus / "deep.html", "<html><body>" + "<div>" * 5000 + "buried" + "</div>" * 5000 + "</body></html>")
    _write(corpus / "tables.html", "<html><body>" + "<table><tr><td>" * 100 + "cell" + "</td></tr></table>" * 100
           + "</body></html>")
    return {"too_deep": 2}


def _case_fifo(corpus: Path) -> dict[str, int]:
    os.mkfifo(corpus / "pipe.md")  # opening it for reading would block forever
    return {"not_a_regular_file": 1}


def _case_dev_zero(corpus: Path) -> dict[str, int]:
    os.symlink("/dev/zero", corpus / "zero.txt")
    return {"not_a_regular_file": 1}


def _case_outside_symlink(corpus: Path) -> dict[str, int]:
    outside = corpus.parent / "outside"
    outside.mkdir(exist_ok=True)
    _write(outside / "secret.md", f"# Secret\n\n{SECRET} is kept in the vault.\n")
    os.symlink(outside / "secret.md", corpus / "leak.md")
    os.symlink(outside, corpus / "leaked_dir")  # a folder link: os.walk does not follow it
    return {"outside_corpus": 1}


def _case_base64_image(corpus: Path) -> dict[str, int]:
    blob = base64.encodebytes(random.Random(1).randbytes(60_000)).decode()  # 80 KB, MIME-wrapped lines
    _write(corpus / "image.md", "# Eta jobs\n\nEta jobs print a diagram.\n\n![diagram](data:image/png;base64,"
           f"{blob})\n\nEta jobs never run on weekends.\n")
    return {"encoded_blob": 1}


def _case_long_word(corpus: Path) -> dict[str, int]:
    _write(corpus / "word.md", "# Iota jobs\n\nIota jobs log a key: " + "x" * 100_000 + " and then stop cleanly.\n")
    return {"unbroken_run": 1}


def _case_non_utf8_name(corpus: Path) -> dict[str, int]:
    fd = os.open(os.path.join(os.fsencode(corpus), b"caf\xe9.md"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"# Cafe\n\nThe cafe opens at nine.\n")
    os.close(fd)
    return {"undecodable": 1}


def _case_build_output(corpus: Path) -> dict[str, int]:
    new = corpus / "previous_build"
    (new / "data").mkdir(parents=True)
    _write(new / ".raft-dataset-manifest.json", "{}")
    _write(new / "README.md", "# A dataset card\n\nThis card describes a dataset that was built earlier.\n")
    old = corpus / "docs" / "older_build"
    (old / "data").mkdir(parents=True)
    _write(old / "README.md", "---\nlicense: mit\nraft_dataset:\n  version: 1\n---\n\n# Old card\n\nRows.\n")
    _write(corpus / "docs" / "kept.md", "# Kappa jobs\n\nKappa jobs are kept beside an old build.\n")
    return {"build_output": 2}


HOSTILE_CASES: dict[str, Callable[[Path], dict[str, int]]] = {
    "normal": _case_normal,
    "one_line_20mb": _case_one_line_20mb,
    "huge_json_record": _case_huge_json_record,
    "json_10000_deep": _case_json_10000_deep,
    "json_surrogate": _case_json_surrogate,
    "markdown_3000_deep": _case_markdown_3000_deep,
    "deep_html": _case_deep_html,
    "fifo": _case_fifo,
    "dev_zero": _case_dev_zero,
    "outside_symlink": _case_outside_symlink,
    "base64_image": _case_base64_image,
    "long_word": _case_long_word,
    "non_utf8_name": _case_non_utf8_name,
    "build_output": _case_build_output,
}


def make_hostile_corpus(root: Path, cases: list[str] | None = None) -> tuple[Path, dict[str, int]]:
    """The corpus folder (root/corpus) with the named cases (all by default), and the counts expected."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    expected: dict[str, int] = {}
    for name in cases or list(HOSTILE_CASES):
        for reason, n in HOSTILE_CASES[name](corpus).items():
            expected[reason] = expected.get(reason, 0) + n
    return corpus, expected


# Reads and chunks a corpus in a fresh process; prints seconds, extra peak RSS and the counts.
READ_AND_CHUNK = textwrap.dedent("""
    import json, resource, sys, time
    from transformers import AutoTokenizer
    from raft_dataset.chunking import chunk_document
    from raft_dataset.corpus import read_corpus
    from raft_dataset.encoding import default_encoder_path
    from raft_dataset.report import BuildReport

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    limits = json.loads(sys.argv[2])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = BuildReport()
    chunks = [c for d in read_corpus(sys.argv[1], report=report, **limits) for c in chunk_document(d, tokenizer, 200, 30)]
    print(json.dumps({
        "seconds": time.perf_counter() - start,
        "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
        "skipped": dict(report.skipped), "documents": report.documents, "chunks": len(chunks),
        "max_chunk_chars": max((len(c.text) for c in chunks), default=0),
    }))
""")


def read_and_chunk_in_subprocess(corpus: Path, timeout: float, **limits) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-c", READ_AND_CHUNK, str(corpus), json.dumps(limits)], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def test_every_hostile_file_is_counted_by_name_and_reason(hostile):
    corpus, expected = hostile
    report = BuildReport()
    docs = list(read_corpus(str(corpus), report=report))
    assert dict(report.skipped) == expected
    assert set(expected) <= set(SKIP_REASONS)
    named = {(reason, os.path.basename(where)) for _, reason, where in report.dropped_items}
    assert {("too_large", "one_line.md"), ("too_large", "records.jsonl:1"), ("too_deep", "deep.jsonl:1"),
            ("undecodable", "surrogate.jsonl:1"), ("too_deep", "quotes.md"), ("too_deep", "lists.md"),
            ("too_deep", "deep.html"), ("too_deep", "tables.html"), ("not_a_regular_file", "pipe.md"),
            ("not_a_regular_file", "zero.txt"), ("outside_corpus", "leak.md"), ("encoded_blob", "image.md"),
            ("unbroken_run", "word.md"), ("undecodable", "caf\\xe9.md"), ("build_output", "previous_build"),
            ("build_output", "older_build")} == named
    by_id = {d.doc_id: d for d in docs}
    assert set(by_id) == {*NORMAL_PAGES, "records.jsonl:2", "image.md", "word.md", "docs/kept.md"}
    # What was around the junk is kept; the junk is not.
    assert "Eta jobs never run on weekends." in by_id["image.md"].text and "base64" not in by_id["image.md"].text
    assert "and then stop cleanly." in by_id["word.md"].text and "xxxx" not in by_id["word.md"].text
    assert all(SECRET not in d.text for d in docs)


def test_strict_mode_names_the_file_and_exclusions_are_not_errors(tmp_path):
    corpus, _ = make_hostile_corpus(tmp_path, ["normal", "outside_symlink", "build_output", "base64_image"])
    assert len(list(read_corpus(str(corpus), strict=True))) == len(NORMAL_PAGES) + 2
    os.mkfifo(corpus / "pipe.md")
    from raft_dataset.corpus import CorpusError

    with pytest.raises(CorpusError, match=r"pipe\.md: not a regular file"):
        list(read_corpus(str(corpus), strict=True))


def test_external_symlinks_are_read_only_when_allowed(tmp_path):
    corpus, _ = make_hostile_corpus(tmp_path, ["normal", "outside_symlink"])
    report = BuildReport()
    docs = list(read_corpus(str(corpus), report=report, follow_external_symlinks=True))
    assert report.skipped == {} and any(SECRET in d.text for d in docs)
    # A recursive glob follows the linked folder; what it finds there is outside the corpus too.
    report = BuildReport()
    docs = list(read_corpus(str(corpus / "**" / "*.md"), report=report))
    assert report.skipped == {"outside_corpus": 2} and len(docs) == len(NORMAL_PAGES)
    assert {os.path.basename(where) for _, _, where in report.dropped_items} == {"leak.md", "secret.md"}


def test_limits_are_settings(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus / "page.md", "# Page\n\n" + "word " * 400 + "\n")
    _write(corpus / "nested.md", "> " * 12 + "quoted twelve deep\n")
    _write(corpus / "records.jsonl", json.dumps({"text": "short"}) + "\n" + _nested_json(12) + "\n")
    report = BuildReport()
    docs = list(read_corpus(str(corpus), report=report, max_line_chars=1000, max_nesting_depth=10))
    assert report.skipped == {"too_large": 1, "too_deep": 2}
    assert [d.doc_id for d in docs] == ["records.jsonl:1"]
    report = BuildReport()
    docs = list(read_corpus(str(corpus), report=report, max_file_bytes=100))
    # Within the depth limit, the nested record is only a record whose text is not a string.
    assert report.skipped == {"too_large": 1, "bad_json_line": 1} and len(docs) == 2
    # Within the limit, deep markup keeps all its text (markdown-it alone drops what nests past 20).
    assert "quoted twelve deep" in {d.doc_id: d for d in docs}["nested.md"].text


@pytest.mark.parametrize("depth", [15, 30, 90])
def test_nesting_within_the_limit_keeps_its_text(depth):
    quotes = parse("> " * depth + "quoted text\n", "markdown", max_depth=100).text
    lists = parse("".join("  " * i + f"- item {i}\n" for i in range(depth)), "markdown", max_depth=100).text
    divs = parse("<html><body>" + "<div>" * depth + "<p>buried text</p>" + "</div>" * depth + "</body></html>",
                 "html", max_depth=100).text
    assert quotes == "quoted text" and f"- item {depth - 1}" in lists and lists.count("- item") == depth
    assert divs == "buried text"


def test_nested_tables_render_in_linear_time():
    # Each table used to render every row below it again: 20 nested tables took 2**20 row renders.
    tables = parse("<html><body>" + "<table><tr><td>" * 20 + "innermost cell" + "</td></tr></table>" * 20
                   + "</body></html>", "html", max_depth=100).text
    assert "innermost cell" in tables and tables.count("innermost cell") == 1


def test_strip_junk_moves_headings_and_keeps_text_between():
    blob = base64.b64encode(random.Random(2).randbytes(3000)).decode()
    parsed = parse(f"# One\n\nBefore {blob} after.\n\n## Two\n\nA {'y' * 5000} b.\n\n## Three\n\nEnd.\n", "markdown")
    cleaned, blobs, runs = strip_junk(parsed)
    assert (blobs, runs) == (1, 1)
    assert cleaned.text == "Before  after.\n\nA  b.\n\nEnd."
    assert [cleaned.text[h.start:].split("\n")[0] for h in cleaned.headings] == ["Before  after.", "A  b.", "End."]
    # Hex digests, long identifiers and runs up to MAX_RUN_CHARS are text.
    text = "sha512 " + "ab12" * 32 + " " + "Name" * 30 + " " + "z" * MAX_RUN_CHARS
    assert strip_junk(parse(text, "text"))[1:] == (0, 0)


def test_windows_are_bounded_and_cut_at_breaks():
    text = "First sentence here. " * 50_000
    spans = windows(text, 0, len(text), WINDOW_CHARS)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(WINDOW_CHARS // 2 <= e - s <= WINDOW_CHARS for s, e in spans[:-1])
    assert all(text[e - 2:e] == ". " for _, e in spans[:-1])
    assert windows("x" * 250, 0, 250, 100) == [(0, 100), (100, 200), (200, 250)]  # no break: hard cuts


def test_hostile_corpus_reads_and_chunks_in_bounded_time_and_memory(hostile):
    corpus, expected = hostile
    result = read_and_chunk_in_subprocess(corpus, timeout=300)
    assert result["skipped"] == expected
    assert result["seconds"] < 60, result
    assert result["extra_mb"] < 1536, result
    assert result["max_chunk_chars"] <= 200 * MAX_CHARS_PER_TOKEN


@pytest.mark.slow
def test_one_line_megabytes_chunk_in_linear_time(tmp_path):
    """With the line limit raised, a 1.5 MB markdown line is chunked, not skipped: windows keep the
    splitter linear (before, 800 kB took 18 s and 20 MB more than ten minutes and 3.5 GB)."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus / "one_line.md", _one_line(1_500_000))
    _write(corpus / "records.jsonl", json.dumps({"text": _one_line(1_500_000)}) + "\n")
    result = read_and_chunk_in_subprocess(corpus, timeout=600, max_line_chars=30 * 2**20)
    assert result["skipped"] == {} and result["documents"] == 2
    assert result["chunks"] > 2 * 1_500_000 // (200 * 8)  # every part of both texts is chunked
    assert result["seconds"] < 240 and result["extra_mb"] < 1024, result


def test_build_over_the_hostile_corpus_leaks_nothing(tmp_path):
    corpus, expected = make_hostile_corpus(tmp_path, [c for c in HOSTILE_CASES if c != "one_line_20mb"])
    config = RaftDatasetConfig(corpus=str(corpus), embedding_cache="", splits={"train": 1.0},
                               min_query_similarity=-1.0, num_distractors=2)
    result = build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)
    rows = result.splits["train"]
    assert len(rows) >= 5
    assert dict(result.report.dropped_in(CORPUS)) == expected
    dumped = json.dumps(rows, ensure_ascii=False)
    assert SECRET not in dumped and "TOP-SECRET" not in dumped
    assert "x" * 100 not in dumped and "base64," not in dumped
