"""An LLM judge scores every row of a built dataset; the rows that pass make a curated copy.

The judge (any model the LLM client reaches, with its cache, concurrency, retries and accounting)
grades each row 1-5 on three criteria, each with a short reason:

- groundedness: does the oracle support the answer (its quotes and its final answer)?
- relevance: does the question fit the document?
- quality: is the answer correct, complete and clearly reasoned?

Its reply must be JSON (`parse_judgement`); a reply that is not (a refusal, broken JSON, a score
out of range) is counted by kind and its row is not kept. The output folder holds the rows kept
(`data/`), every row with its scores (`scored/`, the "scored" config) and a card with the scores'
distribution and what was dropped and why. A rerun with the same judge is answered from the cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .llm import Completion, LLMClient, LLMConfig, make_llm_client
from .model_eval import available_splits, collect_contexts, load_llm_config
from .prompt import fill_template
from .shards import DATA_DIR

CRITERIA = ("groundedness", "relevance", "quality")
JUDGE_PLACEHOLDERS = ("question", "oracle", "answer", "context", "reference_answer")
MARKER_NAME = ".raft-dataset-curation.json"  # marks a folder `curate` wrote (and may replace)
SCORED_DIR = "scored"
CARD_NAME = "README.md"
_OWN_ENTRIES = frozenset({MARKER_NAME, SCORED_DIR, DATA_DIR, CARD_NAME})
_MAX_REASON_CHARS = 300
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

DEFAULT_JUDGE_PROMPT = """\
You are grading one training example of a retrieval-augmented question answering dataset.

Question: {question}

Oracle document (the document the answer must rest on):
\"\"\"
{oracle}
\"\"\"

Answer to grade (reasoning with quotes between ##begin_quote## and ##end_quote##, then the final answer):
\"\"\"
{answer}
\"\"\"

Score each criterion from 1 (bad) to 5 (excellent):
- groundedness: does the oracle document support the answer, its quotes and its final answer?
- relevance: does the question fit the document: is it answerable from it and worth asking?
- quality: is the answer correct, complete and clearly reasoned?

Reply with JSON only, in this shape, each reason one short sentence:
{"groundedness": {"score": 4, "reason": "..."}, "relevance": {"score": 5, "reason": "..."}, \
"quality": {"score": 3, "reason": "..."}}"""


class CurateError(ValueError):
    """Bad input to `curate`: the message is one line naming the file, folder or option."""


# -- the judge's reply --------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """The judge's scores (1-5) and reasons for one row."""

    scores: dict[str, int]
    reasons: dict[str, str]


def parse_judgement(text: str) -> Judgement | str:
    """The scores in a judge's reply, or why there are none: "no_json" (no JSON object: a refusal or
    prose), "malformed_json" (an object that does not parse) or "bad_score" (a criterion missing, or
    its score not a whole number from 1 to 5).

    The first JSON object of the reply is read, inside a ``` fence or not; each criterion is a score
    or {"score": n, "reason": "..."}.
    """
    fenced = _FENCE_RE.search(text)
    body = fenced.group(1) if fenced else text
    starts = [m.start() for m in re.finditer(r"\{", body)]
    if not starts:
        return "no_json"
    decoder = json.JSONDecoder()
    for start in starts:
        try:
            value, _ = decoder.raw_decode(body, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            break
    else:
        return "malformed_json"
    scores, reasons = {}, {}
    for name in CRITERIA:
        entry = value.get(name)
        score, reason = (entry.get("score"), entry.get("reason")) if isinstance(entry, dict) else (entry, None)
        if isinstance(score, str) and score.strip().isdigit():
            score = int(score.strip())
        if isinstance(score, float) and score.is_integer():
            score = int(score)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            return "bad_score"
        scores[name] = score
        reasons[name] = " ".join(str(reason).split())[:_MAX_REASON_CHARS] if reason is not None else ""
    return Judgement(scores, reasons)


def check_judge_prompt(template: str, where: str = "judge prompt") -> None:
    """A judge prompt must hold {question} and {answer}, and {oracle} or {context}; other `{name}`
    placeholders are refused (literal braces, as in a JSON example, are fine)."""
    names = set(re.findall(r"\{(\w+)\}", template))
    unknown = sorted(names - set(JUDGE_PLACEHOLDERS))
    if unknown:
        raise CurateError(f"{where}: unknown placeholder {{{unknown[0]}}} (allowed: {', '.join(JUDGE_PLACEHOLDERS)})")
    for name in ("question", "answer"):
        if name not in names:
            raise CurateError(f"{where}: must contain {{{name}}}")
    if not names & {"oracle", "context"}:
        raise CurateError(f"{where}: must contain {{oracle}} or {{context}}")


# -- the output folder --------------------------------------------------------------------------


def check_curate_output(output: str | Path, source: str | Path) -> Path:
    """The resolved output folder, or a one-line error: it must not be the dataset itself, and an
    existing one must be empty or a previous `curate` output holding nothing of the user's."""
    output, source = Path(output).expanduser().resolve(), Path(source).expanduser().resolve()
    if output == source or source in output.parents:
        raise CurateError(f"{output}: the curated copy must go outside the dataset folder {source}")
    if not output.exists():
        return output
    if not output.is_dir():
        raise CurateError(f"{output}: exists and is not a folder; choose a new --output")
    entries = {p.name for p in output.iterdir()}
    if entries and MARKER_NAME not in entries:
        raise CurateError(f"{output}: exists and was not written by `raft-dataset curate`; choose a new --output")
    foreign = sorted(entries - _OWN_ENTRIES)
    if foreign:
        raise CurateError(f"{output}: holds {foreign[0]!r}, which a new curated copy would lose; move it away first")
    return output


def _swap_in(staged: Path, output: Path) -> None:
    """Replace `output` by `staged` (two renames; the old copy is deleted only once the new one is in)."""
    old = output.with_name(f".{output.name}.curate-old-{os.getpid()}")
    if output.exists():
        output.rename(old)
    staged.rename(output)
    shutil.rmtree(old, ignore_errors=True)


# -- curating -----------------------------------------------------------------------------------


def _judge_request(template: str, row: Mapping[str, Any], oracle: str) -> list[dict]:
    prompt = fill_template(template, question=row["question"], oracle=oracle, answer=row["output"],
                           context=row["input"], reference_answer=row.get("reference_answer") or "")
    return [{"role": "user", "content": prompt}]


def judge_rows(client: LLMClient, rows: Sequence[Mapping[str, Any]], oracles: Mapping[str, str],
               template: str = DEFAULT_JUDGE_PROMPT) -> list[Judgement | str]:
    """The judge's verdict on each row: a `Judgement`, or why there is none ("no_json",
    "malformed_json", "bad_score", "request_failed:<kind>", "oracle_text_unavailable")."""
    verdicts: list[Judgement | str] = ["oracle_text_unavailable"] * len(rows)
    asked = [i for i, row in enumerate(rows) if row["oracle_chunk_id"] in oracles]
    results = client.complete([_judge_request(template, rows[i], oracles[rows[i]["oracle_chunk_id"]]) for i in asked],
                              stage="judge")
    for i, result in zip(asked, results):
        if isinstance(result, Completion):
            verdicts[i] = parse_judgement(result.text)
            client.record("judge", "parsed" if isinstance(verdicts[i], Judgement) else f"unusable:{verdicts[i]}")
        else:
            verdicts[i] = f"request_failed:{result.reason}"
    return verdicts


def _score_columns(table: Any, verdicts: Sequence[Judgement | str], min_score: int) -> tuple[Any, list[bool]]:
    """The table with the judge's columns added, and which rows are kept."""
    import pyarrow as pa

    kept = [isinstance(v, Judgement) and min(v.scores.values()) >= min_score for v in verdicts]
    for name in CRITERIA:
        scores = [v.scores[name] if isinstance(v, Judgement) else None for v in verdicts]
        table = table.append_column(f"judge_{name}", pa.array(scores, type=pa.int32()))
    reasons = [v.reasons if isinstance(v, Judgement) else None for v in verdicts]
    reason_type = pa.struct([(name, pa.string()) for name in CRITERIA])
    table = table.append_column("judge_reasons", pa.array(reasons, type=reason_type))
    why = [None if keep else _drop_reason(v, min_score) for v, keep in zip(verdicts, kept)]
    table = table.append_column("judge_drop_reason", pa.array(why, type=pa.string()))
    return table, kept


def _drop_reason(verdict: Judgement | str, min_score: int) -> str:
    if isinstance(verdict, str):
        return verdict if verdict.startswith(("request_failed", "oracle_text")) else f"judge_output:{verdict}"
    low = [name for name in CRITERIA if verdict.scores[name] < min_score]
    return "below_min_score:" + "+".join(low)


def curate(
    dataset_dir: str | Path,
    output: str | Path,
    llm: str | Path | LLMConfig | Mapping[str, Any],
    *,
    min_score: int = 3,
    judge_prompt: str | None = None,
    document_template: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Judge every row of every split of a built dataset and write the curated copy to `output`.

    Args:
        dataset_dir: A folder written by `raft-dataset build`.
        output: The curated copy's folder (new, empty, or an earlier curated copy).
        llm: The judge: an `LLMConfig`, its mapping, or a YAML file of it (or of a build config).
        min_score: A row is kept when all three scores are at least this (1-5).
        judge_prompt: The judge's prompt template (placeholders `JUDGE_PLACEHOLDERS`); None is
            `DEFAULT_JUDGE_PROMPT`.
        document_template: The build's document template, to find each row's oracle in its `input`.

    Returns:
        The curation summary written to the card: counts, drops by reason, score distributions and
        the judge's usage (requests, cache hits, tokens; without the server's address).
    """
    import pyarrow.parquet as pq

    from .config import DEFAULT_DOCUMENT_TEMPLATE

    if not 1 <= min_score <= 5:
        raise CurateError(f"--min-score: must be from 1 to 5, got {min_score}")
    template = judge_prompt if judge_prompt is not None else DEFAULT_JUDGE_PROMPT
    check_judge_prompt(template)
    source = Path(dataset_dir)
    splits = available_splits(source)
    output = check_curate_output(output, source)
    cfg = llm if isinstance(llm, LLMConfig) else (
        LLMConfig.from_dict(llm) if isinstance(llm, Mapping) else load_llm_config(llm))
    if not progress:
        cfg = LLMConfig.from_dict({**cfg.to_dict(), "progress": False})
    tables = {name: pq.read_table(sorted((source / "data").glob(f"{name}-*.parquet"))) for name in splits}
    rows = {name: table.to_pylist() for name, table in tables.items()}
    contexts = collect_contexts([r for split_rows in rows.values() for r in split_rows],
                                document_template or DEFAULT_DOCUMENT_TEMPLATE)
    oracles = {chunk_id: doc.text for chunk_id, doc in contexts.documents.items()}
    staged = output.with_name(f".{output.name}.curate-tmp-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    (staged / DATA_DIR).mkdir(parents=True)
    (staged / SCORED_DIR).mkdir()
    summary: dict[str, Any] = {"judge_model": cfg.model, "min_score": min_score, "splits": {},
                               "dropped": Counter(), "below_min_score": Counter(),
                               "scores": {name: Counter() for name in CRITERIA}}
    try:
        with make_llm_client(cfg) as client:
            for name in splits:
                verdicts = judge_rows(client, rows[name], oracles, template)
                scored, kept = _score_columns(tables[name], verdicts, min_score)
                pq.write_table(scored, staged / SCORED_DIR / f"{name}-00000-of-00001.parquet")
                pq.write_table(scored.filter(kept), staged / DATA_DIR / f"{name}-00000-of-00001.parquet")
                summary["splits"][name] = {"rows": len(kept), "kept": sum(kept)}
                for verdict, keep in zip(verdicts, kept):
                    if isinstance(verdict, Judgement):
                        for criterion, score in verdict.scores.items():
                            summary["scores"][criterion][score] += 1
                            if score < min_score:
                                summary["below_min_score"][criterion] += 1
                    if not keep:
                        summary["dropped"][_drop_reason(verdict, min_score)] += 1
            usage = client.stats()
            usage.pop("base_url", None)  # the server's address stays private
            summary["judge_usage"] = usage
            summary["failures"] = client.failure_summary()
        summary = _plain(summary)
        (staged / CARD_NAME).write_text(curation_card(summary, source.name), encoding="utf-8")
        (staged / MARKER_NAME).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _swap_in(staged, output)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    summary["output"] = str(output)
    return summary


def _plain(summary: dict[str, Any]) -> dict[str, Any]:
    """Counters as sorted dicts with string keys (JSON and YAML alike)."""
    plain = dict(summary)
    plain["dropped"] = dict(sorted(summary["dropped"].items()))
    plain["below_min_score"] = dict(sorted(summary["below_min_score"].items()))
    plain["scores"] = {name: {str(s): counts[s] for s in range(1, 6)} for name, counts in summary["scores"].items()}
    return plain


# -- the card -----------------------------------------------------------------------------------


def curation_card(summary: Mapping[str, Any], source_name: str) -> str:
    """The curated copy's card: YAML (configs "default" and "scored", the curation summary) and tables."""
    from huggingface_hub import DatasetCardData

    splits = list(summary["splits"])
    data = DatasetCardData(
        tags=["raft", "raft-dataset", "llm-judged"],
        configs=[
            {"config_name": "default", "data_files": [{"split": s, "path": f"{DATA_DIR}/{s}-*.parquet"} for s in splits]},
            {"config_name": "scored", "data_files": [{"split": s, "path": f"{SCORED_DIR}/{s}-*.parquet"} for s in splits]},
        ],
        raft_dataset_curation={k: v for k, v in summary.items() if k != "failures"},
    )
    total = sum(s["rows"] for s in summary["splits"].values())
    kept = sum(s["kept"] for s in summary["splits"].values())
    lines = [
        f"# Curated copy of {source_name}", "",
        f"An LLM judge (`{summary['judge_model']}`) scored every row of `{source_name}` from 1 to 5 for groundedness "
        "(does the oracle support the answer), relevance (does the question fit the document) and answer quality, "
        f"with a short reason each. Rows scoring at least {summary['min_score']} on all three are kept: "
        f"**{kept} of {total}**. The `scored` config holds every row with its scores (`judge_*` columns).", "",
        "| split | rows | kept |", "|---|---:|---:|",
        *(f"| {name} | {s['rows']} | {s['kept']} |" for name, s in summary["splits"].items()), "",
        "## Scores", "", "| criterion | " + " | ".join(str(s) for s in range(1, 6)) + " |", "|---|" + "---:|" * 5,
        *(f"| {name} | " + " | ".join(str(counts[str(s)]) for s in range(1, 6)) + " |"
          for name, counts in summary["scores"].items()), "",
        "## Dropped, by reason", "",
    ]
    dropped = summary["dropped"]
    lines += ["| reason | rows |", "|---|---:|", *(f"| {k} | {v} |" for k, v in dropped.items())] if dropped else ["none"]
    totals = summary["judge_usage"]["totals"]
    lines += ["", "## Judge usage", "",
              f"{totals.get('requests', 0)} requests, {totals.get('cache_hits', 0)} from the cache, "
              f"{totals.get('prompt_tokens', 0)} prompt and {totals.get('completion_tokens', 0)} completion tokens sent "
              f"now; {sum(totals.get('failures', {}).values())} failed."]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"
