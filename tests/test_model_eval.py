"""`raft-dataset evaluate`: the four settings rebuilt from a real built folder, the dataset's own answers
as a baseline that scores 1.0, a real fake server on loopback and a tiny causal LM built from a config."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from raft_dataset.cli import main
from raft_dataset.config import DEFAULT_DOCUMENT_TEMPLATE, RaftDatasetConfig
from raft_dataset.export import write_dataset_folder
from raft_dataset.model_eval import (
    SETTINGS,
    EvalError,
    ShownDocument,
    collect_contexts,
    evaluate,
    load_split_rows,
    make_items,
    read_predictions,
    render_documents,
    split_documents,
)
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.prompt import user_turn
from raft_dataset.raft_format import ANSWER_MARKER, BEGIN_QUOTE, END_QUOTE, REFUSAL_ANSWER, extract_quotes
from tests.fake_encoder import HashingEncoder
from tests.llm_fixtures import FaultProxy

# A small manual: two sections per page, each a topic with its own facts, so that offline questions,
# extractive answers and distractors from other pages all exist.
TOPICS = {
    "scheduler": ("Scheduling jobs", "Jobs run every hour on the primary scheduler node.",
                  "Pausing the scheduler", "The pause command stops new runs but lets running jobs finish."),
    "retries": ("Retrying failed jobs", "Failed jobs are retried three times with exponential backoff.",
                "Retry limits", "The retry limit can be raised to ten attempts per job."),
    "logging": ("Writing audit logs", "Audit logs are written as JSON lines to the audit directory.",
                "Rotating logs", "Log files are rotated every night and kept for thirty days."),
    "tokens": ("Refreshing tokens", "Access tokens expire after twelve hours and must be refreshed.",
               "Revoking tokens", "A revoked token is rejected by every worker within one minute."),
    "queues": ("Sizing queues", "Each queue holds at most one thousand pending runs.",
               "Draining queues", "Draining a queue moves its pending runs to the fallback queue."),
    "workers": ("Provisioning workers", "Every worker needs four gigabytes of memory and two cores.",
                "Scaling workers", "Workers are added when the queue stays full for five minutes."),
    "secrets": ("Storing secrets", "Secrets are encrypted at rest with a key kept in the vault.",
                "Rotating secrets", "Secrets should be rotated every ninety days by the operator."),
    "alerts": ("Routing alerts", "Alerts are sent to the on-call channel of the owning team.",
               "Silencing alerts", "An alert can be silenced for at most twenty-four hours."),
}


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (h1, s1, h2, s2) in TOPICS.items():
        (folder / f"{name}.md").write_text(f"# {name.title()}\n\n## {h1}\n\n{s1}\n\n## {h2}\n\n{s2}\n", encoding="utf-8")
    return folder


def build_folder(tmp: Path, oracle_absent_answer: str) -> Path:
    """A built dataset folder (offline questions, extractive answers, the hashing encoder: no weights)."""
    config = RaftDatasetConfig(
        corpus=str(write_corpus(tmp / "corpus")), embedding_cache="", num_distractors=2, oracle_probability=0.5,
        oracle_absent_answer=oracle_absent_answer, min_query_similarity=-1.0, splits={"train": 0.5, "test": 0.5},
        seed=5, license="mit",
    )
    result = build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)
    return write_dataset_folder(result, tmp / f"out-{oracle_absent_answer}")


@pytest.fixture(scope="module")
def refuse_folder(tmp_path_factory) -> Path:
    return build_folder(tmp_path_factory.mktemp("refuse"), "refuse")


@pytest.fixture(scope="module")
def keep_folder(tmp_path_factory) -> Path:
    return build_folder(tmp_path_factory.mktemp("keep"), "keep")


def own_outputs(folder: Path, path: Path, split: str = "test") -> Path:
    rows = load_split_rows(folder, split)
    path.write_text("".join(json.dumps({"id": r["id"], "prediction": r["output"]}) + "\n" for r in rows))
    return path


def values(results: dict, split: str = "test", setting: str = "as-built") -> dict:
    return {name: m["value"] for name, m in results["splits"][split][setting]["metrics"].items()}


# -- the context documents --------------------------------------------------------------------------


def test_rendered_documents_split_back_exactly():
    documents = [ShownDocument("a#0", "A > Setup", "Use {braces} and </DOCUMENT> in code.\n\nSecond paragraph."),
                 ShownDocument("b#1", "B", "Title: not a title line\n<DOCUMENT>"),
                 ShownDocument("c#2", "", "")]
    for template in (DEFAULT_DOCUMENT_TEMPLATE, "[{index}] {title}\n{text}", "Doc {index}: {text} (from {title})"):
        rendered = render_documents(documents, template)
        parsed = split_documents(rendered, [d.chunk_id for d in documents], template)
        assert parsed == documents, template
    rendered = render_documents(documents[:2])
    assert split_documents(rendered, ["a#0"]) is None  # one id for two documents: does not render back
    assert split_documents(rendered + "tail", ["a#0", "b#1"]) is None
    assert split_documents("", []) == [] and split_documents("x", []) is None
    with pytest.raises(EvalError, match="two fields side by side"):
        split_documents(rendered, ["a#0", "b#1"], "{title}{text}")


def test_every_row_of_a_build_splits_back_and_the_settings_are_rebuilt(refuse_folder):
    rows = load_split_rows(refuse_folder, "train") + load_split_rows(refuse_folder, "test")
    contexts = collect_contexts(rows)
    assert contexts.unparsed == [] and len(contexts.per_row) == len(rows)
    items, skipped = make_items(rows, SETTINGS, contexts, seed=0)
    by_key = {(i.setting, i.row_id): i for i in items}
    assert {r["oracle_present"] for r in rows} == {True, False}
    for row in rows:
        shown = contexts.per_row[row["id"]]
        assert [d.chunk_id for d in shown] == row["context_chunk_ids"]
        built = by_key[("as-built", row["id"])]
        assert built.messages == row["messages"][:-1]  # the row's own prompt, exactly
        assert built.oracle_shown == row["oracle_present"]
        oracle = contexts.documents.get(row["oracle_chunk_id"])
        distractors = [d for d in shown if d.chunk_id != row["oracle_chunk_id"]]
        if oracle is None:
            assert ("oracle", row["id"]) not in by_key
        else:
            with_oracle = by_key[("oracle", row["id"])]
            assert with_oracle.oracle_shown and oracle.text in with_oracle.context
            assert all(d.text in with_oracle.context for d in distractors)
            assert with_oracle.messages[-1]["content"] == user_turn(row["instruction"], with_oracle.context)
            if row["oracle_present"]:
                assert with_oracle.context == row["input"]
        alone = by_key[("distractors-only", row["id"])]
        assert alone.context == render_documents(distractors) and not alone.oracle_shown
        if oracle is not None:
            assert oracle.text not in alone.context
        closed = by_key[("closed-book", row["id"])]
        assert closed.context == "" and closed.messages[-1] == {"role": "user", "content": row["instruction"]}
        assert closed.messages[0] == row["messages"][0] and closed.messages[0]["role"] == "system"
    unavailable = sum(1 for r in rows if r["oracle_chunk_id"] not in contexts.documents)
    assert skipped == ({"oracle: oracle_text_unavailable": unavailable} if unavailable else {})


# -- the dataset's own answers: 1.0 ------------------------------------------------------------------


def test_the_datasets_own_answers_score_one_on_every_metric(refuse_folder, tmp_path, capsys):
    predictions = own_outputs(refuse_folder, tmp_path / "own.jsonl")
    out, index = tmp_path / "eval_results.json", tmp_path / "model-index.yaml"
    assert main(["evaluate", str(refuse_folder), "--predictions", str(predictions), "-o", str(out),
                 "--model-index", str(index)]) == 0
    results = json.loads(out.read_text())
    assert list(results["splits"]["test"]) == ["as-built"]  # the file answers that setting only
    assert values(results) == dict.fromkeys(values(results), 1.0)
    scored = results["splits"]["test"]["as-built"]
    rows = load_split_rows(refuse_folder, "test")
    assert scored["rows"] == scored["answered"] == len(rows)
    assert scored["metrics"]["refusal_rate"]["rows"] == sum(not r["oracle_present"] for r in rows) > 0
    assert all(m["ci95"] == [1.0, 1.0] for m in scored["metrics"].values())
    printed = capsys.readouterr().out
    assert "| test | as-built |" in printed and "1.000 [1.00, 1.00]" in printed
    card = yaml.safe_load(index.read_text())
    metrics = card["model-index"][0]["results"][0]["metrics"]
    assert {m["type"] for m in metrics} == set(values(results)) and all(m["value"] == 1.0 for m in metrics)


def test_with_answers_kept_the_baseline_shows_quotes_of_an_unseen_oracle(keep_folder, tmp_path):
    """oracle_absent_answer: keep (the paper's default) quotes the oracle where it is not shown: those
    quotes are not in the shown context, and nothing is refused."""
    rows = load_split_rows(keep_folder, "test")
    results = evaluate(keep_folder, predictions=own_outputs(keep_folder, tmp_path / "own.jsonl"), progress=False)
    got = values(results)
    assert got["exact_match"] == got["f1"] == got["format_compliance"] == got["citation_accuracy"] == 1.0
    assert got["refusal_rate"] == 0.0
    shown = sum(len(extract_quotes(r["output"])) for r in rows if r["oracle_present"])
    total = sum(len(extract_quotes(r["output"])) for r in rows)
    assert 0 < shown < total and got["quote_faithfulness"] == round(shown / total, 4)


def test_bad_predictions_files_fail_with_the_line(tmp_path, refuse_folder):
    path = tmp_path / "p.jsonl"
    for text, message in [
        ('{"id": "a", "prediction": "x"}\n{"id": "a", "prediction": "y"}\n', r"p.jsonl:2: a second prediction for id 'a'"),
        ('{"id": "a", "prediction": "x", "setting": "open-book"}\n', r"p.jsonl:1: unknown setting 'open-book'"),
        ('{"id": "a"}\n', r"p.jsonl:1: missing field 'prediction'"),
        ('{"id": "a", "prediction": 3}\n', r"p.jsonl:1: 'prediction' must be a string"),
        ("not json\n", r"p.jsonl:1: invalid JSON"),
    ]:
        path.write_text(text)
        with pytest.raises(EvalError, match=message):
            read_predictions(path)
    path.write_text('{"id": "nobody", "prediction": "x", "setting": "closed-book"}\n')
    results = evaluate(refuse_folder, predictions=path, progress=False)
    assert results["skipped"] == {"predictions: id_not_in_evaluated_rows": 1}
    assert results["splits"]["test"]["closed-book"]["answered"] == 0
    with pytest.raises(EvalError, match="exactly one of"):
        evaluate(refuse_folder, predictions=path, model="x")
    with pytest.raises(EvalError, match=r"no split 'dev' \(splits: test, train\)"):
        evaluate(refuse_folder, predictions=path, split="dev")
    with pytest.raises(EvalError, match="not a built dataset folder"):
        evaluate(tmp_path, predictions=path)


# -- a server on loopback ------------------------------------------------------------------------


def scripted_reader(body: dict) -> str:
    """A model that quotes the first sentence of the first document shown, else refuses."""
    prompt = body["messages"][-1]["content"]
    start = prompt.find("<DOCUMENT>\nTitle: ")
    if start < 0:
        return f"No documents were shown.\n{ANSWER_MARKER} {REFUSAL_ANSWER}"
    text = prompt[start:].split("\n", 2)[2].split("\n</DOCUMENT>")[0]
    sentence = text.split(". ")[0].strip().rstrip(".") + "."
    return f"{BEGIN_QUOTE}{sentence}{END_QUOTE}\n{ANSWER_MARKER} {sentence}"


@pytest.fixture
def fake_server():
    server = FaultProxy(upstream=None, responder=scripted_reader).start()
    yield server
    server.stop()


def test_llm_through_a_loopback_server_every_setting_cached_rerun_free(refuse_folder, fake_server, tmp_path):
    config = tmp_path / "llm.yaml"
    config.write_text(yaml.safe_dump({"llm": {
        "model": "fake-model", "base_url": fake_server.base_url, "max_concurrency": 4,
        "cache_path": str(tmp_path / "llm.sqlite"), "progress": False}}))
    out = tmp_path / "results.json"
    assert main(["evaluate", str(refuse_folder), "--llm", str(config), "--split", "test", "--split", "train",
                 "-o", str(out), "--quiet"]) == 0
    results = json.loads(out.read_text())
    rows = {s: load_split_rows(refuse_folder, s) for s in ("test", "train")}
    sent, totals = len(fake_server.seen), results["llm_usage"]["totals"]
    asked = sum(results["splits"][s][setting]["rows"] for s in rows for setting in SETTINGS)
    # Each distinct prompt is sent once: the oracle setting of a row that shows its oracle is its as-built
    # prompt, and so is distractors-only where the oracle is absent; those come from the cache.
    contexts = collect_contexts([r for split_rows in rows.values() for r in split_rows])
    items = [i for split_rows in rows.values() for i in make_items(split_rows, SETTINGS, contexts)[0]]
    distinct = {json.dumps(i.messages) for i in items}
    assert totals["requests"] == asked == len(items) and sent == len(distinct) == asked - totals["cache_hits"] > 0
    assert "base_url" not in results["llm_usage"] and fake_server.base_url not in out.read_text()
    for split in rows:
        per_setting = results["splits"][split]
        assert list(per_setting) == list(SETTINGS)
        assert per_setting["as-built"]["rows"] == per_setting["closed-book"]["rows"] == len(rows[split])
        for scored in per_setting.values():
            assert scored["failed"] == 0
            for metric in scored["metrics"].values():
                assert metric["value"] is None or 0.0 <= metric["ci95"][0] <= metric["value"] <= metric["ci95"][1] <= 1.0
        # The scripted reader quotes the first document verbatim: always faithful, always in form.
        for setting in ("as-built", "oracle", "distractors-only"):
            got = values(results, split, setting)
            assert got["quote_faithfulness"] == got["format_compliance"] == 1.0
        # With the oracle first in the context it quotes the oracle; closed-book it always refuses.
        closed = values(results, split, "closed-book")
        assert closed.pop("f1") < 0.1  # the refusal shares a word or two with some answers
        assert closed == {"exact_match": 0.0, "format_compliance": 1.0, "quote_faithfulness": None,
                          "citation_accuracy": None, "refusal_rate": 1.0}
        assert values(results, split, "distractors-only")["refusal_rate"] == 0.0
    # A rerun is answered from the cache: no request reaches the server, the same numbers.
    again = evaluate(refuse_folder, llm=config, split=["test", "train"], progress=False)
    assert len(fake_server.seen) == sent
    assert again["llm_usage"]["totals"]["cache_hits"] == again["llm_usage"]["totals"]["requests"] == asked
    assert again["splits"] == results["splits"]


def test_failed_requests_are_counted_not_scored(refuse_folder, fake_server, tmp_path):
    from tests.llm_fixtures import Reply

    fake_server.plan = lambda body, attempt: Reply(400, b'{"error": {"message": "too long"}}') if (
        "<DOCUMENT>" not in body["messages"][-1]["content"]) else None
    llm = {"model": "fake-model", "base_url": fake_server.base_url, "cache_path": "", "progress": False}
    results = evaluate(refuse_folder, llm=llm, settings=["as-built", "closed-book"], max_rows=4, progress=False)
    closed = results["splits"]["test"]["closed-book"]
    assert closed == {**closed, "rows": 4, "answered": 0, "failed": 4}
    assert all(m["value"] is None for m in closed["metrics"].values())
    assert results["splits"]["test"]["as-built"]["answered"] == 4
    assert results["failures"].startswith("4 requests failed (bad_request: 4 — HTTP 400")


# -- a tiny causal LM, in-process ---------------------------------------------------------------------


@pytest.mark.slow  # builds and runs a model
def test_a_tiny_model_in_process_every_setting_and_a_free_rerun(refuse_folder, tmp_path):
    from tests.llm_fixtures import build_tiny_chat_model

    model = build_tiny_chat_model(tmp_path / "tiny")
    cache = str(tmp_path / "llm.sqlite")
    kwargs = {"model": str(model), "max_rows": 3, "max_tokens": 6, "batch_size": 4, "cache_path": cache,
              "progress": False, "resamples": 200}
    started = time.monotonic()
    first = evaluate(refuse_folder, **kwargs)
    first_s = time.monotonic() - started
    totals = first["llm_usage"]["totals"]
    assert first["model"] == str(model) and first["source"] == "model"
    # Every prompt asked; those that repeat one of another setting (the oracle setting of a row that
    # shows its oracle is its as-built prompt) are answered from the cache.
    assert totals["requests"] == sum(s["rows"] for s in first["splits"]["test"].values())
    assert 0 < totals["cache_hits"] < totals["requests"] and totals["completion_tokens"] > 0
    for setting in SETTINGS:
        scored = first["splits"]["test"][setting]
        assert scored["answered"] == scored["rows"] > 0 and scored["failed"] == 0
        for metric in scored["metrics"].values():
            assert metric["value"] is None or 0.0 <= metric["value"] <= 1.0
        # Six tokens of random weights are not an answer in RAFT form.
        assert scored["metrics"]["format_compliance"]["value"] == 0.0
    started = time.monotonic()
    second = evaluate(refuse_folder, **kwargs)
    assert second["llm_usage"]["totals"]["cache_hits"] == totals["requests"]
    assert second["llm_usage"]["totals"]["completion_tokens"] == 0 and second["splits"] == first["splits"]
    assert time.monotonic() - started < first_s
    # New weights in the same folder (a model trained again) are not answered from the cache.
    weights = next(model.glob("*.safetensors"))
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = evaluate(refuse_folder, **kwargs)
    assert third["llm_usage"]["totals"]["cache_hits"] == totals["cache_hits"]  # only the repeats again
