"""`raft-dataset curate`: an LLM judge on a real fake server (loopback) that answers with scores,
broken JSON and refusals; the parsing, the threshold, the counts, the costs, the cache and the card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from raft_dataset.cli import main
from raft_dataset.curate import (
    DEFAULT_JUDGE_PROMPT,
    CurateError,
    Judgement,
    check_judge_prompt,
    curate,
    parse_judgement,
)
from raft_dataset.model_eval import load_split_rows
from tests.llm_fixtures import FaultProxy, Reply
from tests.test_model_eval import build_folder


def test_judge_replies_are_parsed_or_rejected_by_kind():
    nested = '{"groundedness": {"score": 5, "reason": "Quoted  verbatim."}, "relevance": {"score": 4, "reason": "ok"}, ' \
             '"quality": {"score": 2, "reason": "Terse."}}'
    assert parse_judgement(nested) == Judgement({"groundedness": 5, "relevance": 4, "quality": 2},
                                                {"groundedness": "Quoted verbatim.", "relevance": "ok", "quality": "Terse."})
    fenced = 'Here you go:\n```json\n{"groundedness": 3, "relevance": "4", "quality": 5.0}\n```\nThanks.'
    assert parse_judgement(fenced) == Judgement({"groundedness": 3, "relevance": 4, "quality": 5},
                                                {"groundedness": "", "relevance": "", "quality": ""})
    # Prose around the object, and a brace in the prose before it.
    assert isinstance(parse_judgement('Scores {see below}: {"groundedness": 1, "relevance": 1, "quality": 1}'), Judgement)
    assert parse_judgement("I'm sorry, but I can't help with grading this.") == "no_json"
    assert parse_judgement('{"groundedness": 4, "relevance": 5, "quality": 3') == "malformed_json"
    assert parse_judgement('{"groundedness": 6, "relevance": 5, "quality": 3}') == "bad_score"
    assert parse_judgement('{"groundedness": 4, "relevance": 5}') == "bad_score"
    assert parse_judgement('{"groundedness": true, "relevance": 5, "quality": 3}') == "bad_score"
    assert parse_judgement('{"groundedness": 2.5, "relevance": 5, "quality": 3}') == "bad_score"


def test_judge_prompts_are_checked():
    check_judge_prompt(DEFAULT_JUDGE_PROMPT)
    check_judge_prompt('Q: {question}\nA: {answer}\nDocs: {context}\nReply {"groundedness": 1, ...}')
    for template, message in [
        ("{question} {answer} {oracle} {score}", r"unknown placeholder \{score\}"),
        ("{question} {oracle}", r"must contain \{answer\}"),
        ("{question} {answer}", r"must contain \{oracle\} or \{context\}"),
    ]:
        with pytest.raises(CurateError, match=message):
            check_judge_prompt(template)


# -- against a fake judge on loopback ----------------------------------------------------------------

# What the judge says, by the row's place in the sorted questions: scores, broken JSON, a refusal.
SCRIPT = [
    '{"groundedness": {"score": 5, "reason": "supported"}, "relevance": {"score": 5, "reason": "fits"}, '
    '"quality": {"score": 4, "reason": "clear"}}',
    '```json\n{"groundedness": 2, "relevance": 4, "quality": 4}\n```',  # low groundedness
    '{"groundedness": 4, "relevance": 4, "quality": ',  # cut off
    "I cannot evaluate this content.",  # a refusal
    '{"groundedness": 9, "relevance": 4, "quality": 4}',  # out of range
]


def judged_question(body: dict) -> str:
    return re.search(r"^Question: (.*)$", body["messages"][-1]["content"], re.M).group(1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return build_folder(tmp_path_factory.mktemp("curate"), "keep")


@pytest.fixture
def judge(folder):
    questions = sorted(r["question"] for split in ("train", "test") for r in load_split_rows(folder, split))
    server = FaultProxy(upstream=None, responder=lambda body: SCRIPT[questions.index(judged_question(body)) % len(SCRIPT)])
    server.start()
    yield server
    server.stop()


def expected_verdict(index: int) -> str | None:
    """The drop reason of the n-th question under min_score 3, or None when kept."""
    return [None, "below_min_score:groundedness", "judge_output:malformed_json", "judge_output:no_json",
            "judge_output:bad_score"][index % len(SCRIPT)]


def test_curate_scores_filters_counts_and_a_cached_rerun_is_free(folder, judge, tmp_path, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"model": "judge-model", "base_url": judge.base_url, "max_concurrency": 4,
                                      "cache_path": str(tmp_path / "judge.sqlite"), "progress": False}))
    out = tmp_path / "curated"
    assert main(["curate", str(folder), "--llm", str(config), "--output", str(out), "--quiet"]) == 0
    rows = {s: load_split_rows(folder, s) for s in ("train", "test")}
    questions = sorted(r["question"] for split_rows in rows.values() for r in split_rows)
    total = len(questions)
    assert len(judge.seen) == total  # one request per row
    expected = {q: expected_verdict(i) for i, q in enumerate(questions)}
    for split, split_rows in rows.items():
        scored = pq.read_table(out / "scored" / f"{split}-00000-of-00001.parquet").to_pylist()
        kept = pq.read_table(out / "data" / f"{split}-00000-of-00001.parquet").to_pylist()
        assert [r["id"] for r in scored] == [r["id"] for r in split_rows]  # every row, in order, columns kept
        assert all(s["output"] == r["output"] and s["messages"] == r["messages"] for s, r in zip(scored, split_rows))
        for row in scored:
            assert row["judge_drop_reason"] == expected[row["question"]]
            if expected[row["question"]] in (None, "below_min_score:groundedness"):
                assert row["judge_groundedness"] in (5, 2) and row["judge_relevance"] in (5, 4)
            else:
                assert row["judge_groundedness"] is row["judge_reasons"] is None
        assert [r["id"] for r in kept] == [r["id"] for r in scored if r["judge_drop_reason"] is None]
        assert all(r["judge_reasons"]["groundedness"] == "supported" for r in kept)
    dropped = {reason: sum(1 for v in expected.values() if v == reason) for reason in set(expected.values()) - {None}}
    summary = yaml.safe_load((out / "README.md").read_text().split("---")[1])["raft_dataset_curation"]
    assert summary["dropped"] == dropped
    assert sum(s["kept"] for s in summary["splits"].values()) == sum(v is None for v in expected.values()) > 0
    n_scored = sum(v is None or v.startswith("below") for v in expected.values())
    assert sum(summary["scores"]["groundedness"].values()) == n_scored
    assert summary["scores"]["groundedness"]["2"] == dropped["below_min_score:groundedness"]
    usage = summary["judge_usage"]["totals"]
    assert usage["requests"] == total and usage["cache_hits"] == 0 and usage["prompt_tokens"] > 0
    assert summary["judge_usage"]["stages"]["judge"]["outcomes"]["unusable:no_json"] == dropped["judge_output:no_json"]
    assert "base_url" not in summary["judge_usage"] and judge.base_url not in (out / "README.md").read_text()
    card = (out / "README.md").read_text()
    assert f"**{summary['splits']['train']['kept'] + summary['splits']['test']['kept']} of {total}**" in card
    assert "| judge_output:no_json |" in card and "config_name: scored" in card
    printed = capsys.readouterr().out
    assert f"of {total} rows in {out}" in printed
    # Rerun into the same folder: every verdict from the cache, nothing sent, the same copy.
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}
    again = curate(folder, out, config, progress=False)
    assert len(judge.seen) == total
    assert again["judge_usage"]["totals"]["cache_hits"] == total and again["judge_usage"]["totals"]["prompt_tokens"] == 0
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.parquet"))} == before
    assert again["dropped"] == summary["dropped"]


def test_a_stricter_threshold_and_an_own_prompt(folder, judge, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Grade it.\nQuestion: {question}\nAnswer: {answer}\nDocuments:\n{context}\n"
                      'JSON: {"groundedness": n, "relevance": n, "quality": n}')
    llm = {"model": "judge-model", "base_url": judge.base_url, "cache_path": "", "progress": False}
    out = tmp_path / "strict"
    assert main(["curate", str(folder), "--llm", _write(tmp_path / "j.yaml", llm), "--output", str(out),
                 "--min-score", "5", "--judge-prompt", str(prompt), "--quiet"]) == 0
    sent = judge.seen[-1].body["messages"][-1]["content"]
    assert sent.startswith("Grade it.\nQuestion: ") and "<DOCUMENT>" in sent and '{"groundedness": n' in sent
    summary = json.loads((out / ".raft-dataset-curation.json").read_text())
    # Only the first script line scores 5/5/4: quality 4 < 5, so nothing is kept.
    assert sum(s["kept"] for s in summary["splits"].values()) == 0
    assert summary["below_min_score"]["quality"] >= 1 and summary["min_score"] == 5


def test_refusals_of_the_output_folder_and_failed_requests(folder, judge, tmp_path):
    llm = {"model": "judge-model", "base_url": judge.base_url, "cache_path": "", "progress": False,
           "max_retries": 0}
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(CurateError, match="not written by `raft-dataset curate`"):
        curate(folder, foreign, llm)
    with pytest.raises(CurateError, match="outside the dataset folder"):
        curate(folder, folder / "curated", llm)
    with pytest.raises(CurateError, match="--min-score: must be from 1 to 5"):
        curate(folder, tmp_path / "x", llm, min_score=0)
    assert (foreign / "notes.txt").read_text() == "keep me"
    # Half the requests fail for good: counted as such, those rows not kept, the rest judged.
    judge.plan = lambda body, attempt: Reply(400, b'{"error": {"message": "no"}}') if len(judged_question(body)) % 2 else None
    out = tmp_path / "partial"
    summary = curate(folder, out, llm, progress=False)
    failed = summary["dropped"].get("request_failed:bad_request", 0)
    assert failed == sum(summary["judge_usage"]["totals"]["failures"].values()) > 0
    assert summary["failures"].startswith(f"{failed} request")
    assert not list(tmp_path.glob(".partial.curate-*"))  # no staging folder left behind


def _write(path: Path, settings: dict) -> str:
    path.write_text(yaml.safe_dump(settings))
    return str(path)
