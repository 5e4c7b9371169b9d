"""Did the dataset help? Score a model on a built RAFT dataset, RAFT-paper style.

Each test row is asked in up to four settings (`SETTINGS`), as the RAFT paper (Zhang et al. 2024)
reports its models:

- "as-built": the row's own prompt, the oracle present or not as the build drew it;
- "oracle": the oracle plus the row's distractors (an absent oracle is put back at a seeded place);
- "distractors-only": the row's distractors alone (the oracle taken out);
- "closed-book": the question alone, no documents.

The context documents of a row are recovered from its `input` column: the rendered documents are
split back along the document template (`split_documents`), one per `context_chunk_ids` entry, and
a split that does not render back to the same text is not used. An oracle absent from its row is
taken from any row of any split that shows it; when none does, the row's "oracle" setting and its
citation accuracy are skipped and counted.

The answers come from a local `transformers` model, any OpenAI-compatible server (both through the
LLM client, with its cache, retries and accounting) or a predictions file. They are scored by the
`evaluate` modules shipped in `raft_dataset.metrics`, with percentile bootstrap intervals.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import DEFAULT_DOCUMENT_TEMPLATE
from .jsonl import iter_json_objects
from .llm import Completion, LLMClient, LLMConfig, make_llm_client
from .metrics import load_metric, scoring
from .prompt import fill_template, user_turn
from .raft_format import REFUSAL_ANSWER, final_answer

SETTINGS = ("as-built", "oracle", "distractors-only", "closed-book")
# Metric -> (evaluate module, label in tables and the model index).
METRICS = {
    "exact_match": ("raft_answer_match", "Exact match"),
    "f1": ("raft_answer_match", "Token F1"),
    "format_compliance": ("raft_format_compliance", "Format compliance"),
    "quote_faithfulness": ("raft_quotes", "Quote faithfulness"),
    "citation_accuracy": ("raft_quotes", "Citation accuracy"),
    "refusal_rate": ("raft_refusal", "Refusal rate (oracle absent)"),
}
RESULTS_NAME = "eval_results.json"
_PLACEHOLDER_NAMES = ("index", "title", "text")
_BOOTSTRAP_BLOCK = 200  # resamples drawn at once (bounds the index matrix to 200 x rows)


class EvalError(ValueError):
    """Bad input to an evaluation: the message is one line naming the file, line or option."""


# -- the dataset --------------------------------------------------------------------------------


def load_split_rows(dataset_dir: str | Path, split: str) -> list[dict]:
    """The rows of one split of a built dataset folder (`data/{split}-*.parquet`)."""
    import pyarrow.parquet as pq

    folder = check_dataset_folder(dataset_dir)
    files = sorted((folder / "data").glob(f"{split}-*.parquet"))
    if not files:
        raise EvalError(f"{folder}: no split {split!r} (splits: {', '.join(available_splits(folder)) or 'none'})")
    rows: list[dict] = []
    for path in files:
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def check_dataset_folder(dataset_dir: str | Path) -> Path:
    """The folder, or a one-line error when it holds no built dataset (no data/*.parquet)."""
    folder = Path(dataset_dir)
    if not any((folder / "data").glob("*-*.parquet")):
        raise EvalError(f"{folder}: not a built dataset folder (no data/*.parquet inside); give the folder "
                        "`raft-dataset build` wrote")
    return folder


def available_splits(dataset_dir: str | Path) -> list[str]:
    """The split names of a built dataset folder, from its shard names."""
    folder = check_dataset_folder(dataset_dir)
    return sorted({p.name.split("-", 1)[0] for p in (folder / "data").glob("*-*.parquet")})


# -- the context documents, recovered -------------------------------------------------------------


@dataclass(frozen=True)
class ShownDocument:
    """One context document of a row, as the document template rendered it."""

    chunk_id: str
    title: str
    text: str


def _template_parts(template: str) -> list[tuple[str, str]]:
    """The template as ("literal", text) and ("field", name) parts, in order."""
    parts: list[tuple[str, str]] = []
    rest = template
    while rest:
        found = [(rest.find("{" + name + "}"), name) for name in _PLACEHOLDER_NAMES if "{" + name + "}" in rest]
        if not found:
            parts.append(("literal", rest))
            break
        at, name = min(found)
        if at:
            parts.append(("literal", rest[:at]))
        parts.append(("field", name))
        rest = rest[at + len(name) + 2:]
    return parts


def split_documents(rendered: str, chunk_ids: Sequence[str], template: str = DEFAULT_DOCUMENT_TEMPLATE,
                    ) -> list[ShownDocument] | None:
    """The documents of a rendered `input`, one per chunk id, or None when it does not parse.

    Linear: each field ends at the first occurrence of the literal text that follows it (within the
    document, or the separator and the next document's opening). The result is rendered again and
    must give back `rendered` exactly. `{index}` is read as the document's number.
    """
    if not chunk_ids:
        return [] if rendered == "" else None
    literal_docs = [[("literal", str(i + 1)) if p == ("field", "index") else p for p in _template_parts(template)]
                    for i in range(len(chunk_ids))]
    sequence: list[tuple[str, str]] = []
    for i, parts in enumerate(literal_docs):
        if i:
            sequence.append(("literal", "\n\n"))
        sequence.extend(parts)
    merged: list[tuple[str, str]] = []  # adjacent literals joined, so that each field has one terminator
    for kind, value in sequence:
        if merged and kind == "literal" and merged[-1][0] == "literal":
            merged[-1] = ("literal", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    values: list[str] = []
    at = 0
    for k, (kind, value) in enumerate(merged):
        if kind == "literal":
            if not rendered.startswith(value, at):
                return None
            at += len(value)
            continue
        if k + 1 < len(merged) and merged[k + 1][0] == "field":
            raise EvalError(f"document template {template!r}: two fields side by side cannot be split apart")
        end = rendered.find(merged[k + 1][1], at) if k + 1 < len(merged) else len(rendered)
        if end < 0:
            return None
        values.append(rendered[at:end])
        at = end
    if at != len(rendered):
        return None
    fields_per_doc = sum(1 for kind, _ in literal_docs[0] if kind == "field")
    names = [value for kind, value in literal_docs[0] if kind == "field"]
    documents = []
    for i, chunk_id in enumerate(chunk_ids):
        own = dict(zip(names, values[i * fields_per_doc:(i + 1) * fields_per_doc]))
        documents.append(ShownDocument(chunk_id, own.get("title", ""), own.get("text", "")))
    return documents if render_documents(documents, template) == rendered else None


def render_documents(documents: Sequence[ShownDocument], template: str = DEFAULT_DOCUMENT_TEMPLATE) -> str:
    """The `input` text of a context: each document through the template, as `prompt.render_prompt` does."""
    return "\n\n".join(fill_template(template, index=str(i + 1), title=d.title, text=d.text)
                       for i, d in enumerate(documents))


# -- what is asked --------------------------------------------------------------------------------


@dataclass
class EvalItem:
    """One question in one setting: the prompt, what it shows, and what the answer is scored against.

    Attributes:
        row_id: The dataset row's `id`.
        setting: One of `SETTINGS`.
        messages: The chat prompt (system and user turns).
        context: The documents shown, as one text ("" closed-book).
        oracle: The oracle's text, or None when no row shows it.
        oracle_shown: Whether the oracle is among the documents shown.
        reference: The expected final answer, or None when the dataset's answer is the refusal and
            the row has no `reference_answer` (the question's answer is then unknown).
    """

    row_id: str
    setting: str
    messages: list[dict]
    context: str
    oracle: str | None
    oracle_shown: bool
    reference: str | None


@dataclass
class Contexts:
    """Every chunk shown in any row of the dataset, by chunk id, and the rows that did not parse."""

    documents: dict[str, ShownDocument] = field(default_factory=dict)
    per_row: dict[str, list[ShownDocument]] = field(default_factory=dict)
    unparsed: list[str] = field(default_factory=list)


def collect_contexts(rows: Sequence[Mapping[str, Any]], template: str = DEFAULT_DOCUMENT_TEMPLATE) -> Contexts:
    """The documents of every row (split from `input`), and a pool of chunks by id."""
    found = Contexts()
    for row in rows:
        documents = split_documents(row["input"], row["context_chunk_ids"], template)
        if documents is None:
            found.unparsed.append(row["id"])
            continue
        found.per_row[row["id"]] = documents
        for document in documents:
            found.documents.setdefault(document.chunk_id, document)
    for row in rows:  # the oracle of a row that leaves it out (datasets since the oracle columns)
        if row.get("oracle_text") is not None and row["oracle_chunk_id"] not in found.documents:
            found.documents[row["oracle_chunk_id"]] = ShownDocument(
                row["oracle_chunk_id"], row.get("oracle_title") or "", row["oracle_text"])
    return found


def expected_answer(row: Mapping[str, Any]) -> str | None:
    """The answer a row teaches: the final answer of its `output`; for a refusal, the user's
    `reference_answer` (the question still has an answer) or None."""
    answer = final_answer(row["output"] or "")
    if answer is None or scoring.normalize_answer(answer) == scoring.normalize_answer(REFUSAL_ANSWER):
        return row.get("reference_answer") or None
    return answer


def _prompt(row: Mapping[str, Any], input_text: str | None) -> list[dict]:
    """The row's system turn and a user turn with these documents (None: the question alone)."""
    system = [dict(m) for m in row["messages"] if m["role"] == "system"][:1]
    user = row["instruction"] if input_text is None else user_turn(row["instruction"], input_text)
    return [*system, {"role": "user", "content": user}]


def make_items(rows: Sequence[Mapping[str, Any]], settings: Sequence[str], contexts: Contexts,
               template: str = DEFAULT_DOCUMENT_TEMPLATE, seed: int = 0) -> tuple[list[EvalItem], Counter]:
    """The questions to ask, setting by setting, and what was skipped by reason."""
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise EvalError(f"--setting: unknown {unknown[0]!r} (choose from {', '.join(SETTINGS)})")
    items: list[EvalItem] = []
    skipped: Counter = Counter()
    for setting in settings:
        for row in rows:
            documents = contexts.per_row.get(row["id"])
            if documents is None and setting != "as-built":
                skipped[f"{setting}: context_unparsed"] += 1
                continue
            oracle_doc = contexts.documents.get(row["oracle_chunk_id"])
            oracle = oracle_doc.text if oracle_doc is not None else None
            reference = expected_answer(row)
            if setting == "as-built":
                # The row's own prompt, exactly as it is trained on.
                messages = [dict(m) for m in row["messages"] if m["role"] != "assistant"]
                items.append(EvalItem(row["id"], setting, messages, row["input"], oracle, bool(row["oracle_present"]),
                                      reference))
                continue
            distractors = [d for d in documents if d.chunk_id != row["oracle_chunk_id"]]
            if setting == "oracle":
                if oracle_doc is None:
                    skipped["oracle: oracle_text_unavailable"] += 1
                    continue
                shown = list(documents)
                if not row["oracle_present"]:  # put it back at a place drawn per row
                    place = random.Random(f"{seed}:{row['id']}").randrange(len(distractors) + 1)
                    shown = [*distractors[:place], oracle_doc, *distractors[place:]]
                text = render_documents(shown, template)
                items.append(EvalItem(row["id"], setting, _prompt(row, text), text, oracle, True, reference))
            elif setting == "distractors-only":
                text = render_documents(distractors, template)
                items.append(EvalItem(row["id"], setting, _prompt(row, text), text, oracle, False, reference))
            else:
                items.append(EvalItem(row["id"], setting, _prompt(row, None), "", oracle, False, reference))
    return items, skipped


# -- the answers --------------------------------------------------------------------------------


def read_predictions(path: str | Path) -> dict[tuple[str, str], str]:
    """(setting, row id) -> prediction from a JSON lines file of `id`, `prediction` and optionally
    `setting` (default "as-built")."""
    predictions: dict[tuple[str, str], str] = {}
    for line_no, record in iter_json_objects(path, ("id", "prediction"), error=EvalError):
        setting = record.get("setting", "as-built")
        if setting not in SETTINGS:
            raise EvalError(f"{path}:{line_no}: unknown setting {setting!r} (choose from {', '.join(SETTINGS)})")
        if not isinstance(record["prediction"], str):
            raise EvalError(f"{path}:{line_no}: 'prediction' must be a string")
        key = (setting, str(record["id"]))
        if key in predictions:
            raise EvalError(f"{path}:{line_no}: a second prediction for id {key[1]!r} in setting {setting!r}")
        predictions[key] = record["prediction"]
    return predictions


def weights_fingerprint(model: str) -> str | None:
    """Names, sizes and modification times of a local model folder's files, hashed: a model retrained
    into the same folder must not be answered from the cache. None for a Hub id."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class _FingerprintedBackend:
    """A backend whose identity (and so every cache key) includes the weights' fingerprint."""

    def __init__(self, backend: Any, fingerprint: str):
        self._backend = backend
        self._fingerprint = fingerprint
        self.kind, self.batch_size, self.parallelism = backend.kind, backend.batch_size, backend.parallelism

    def identity(self) -> dict[str, Any]:
        return {**self._backend.identity(), "weights": self._fingerprint}

    async def generate(self, batch, params):
        return await self._backend.generate(batch, params)

    async def aclose(self) -> None:
        await self._backend.aclose()


def model_client(model: str, *, batch_size: int = 8, max_tokens: int = 512, cache_path: str | None = None,
                 progress: bool = True) -> LLMClient:
    """The LLM client over a local `transformers` causal LM (greedy, batched, its chat template)."""
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().is_dir():
        raise EvalError(f"--model {model}: no such model folder")
    cfg = LLMConfig(backend="transformers", model=model, batch_size=batch_size, max_tokens=max_tokens,
                    temperature=0.0, cache_path=cache_path, progress=progress)
    client = make_llm_client(cfg)
    fingerprint = weights_fingerprint(model)
    if fingerprint is not None:
        client.backend = _FingerprintedBackend(client.backend, fingerprint)
    return client


def load_llm_config(path: str | Path) -> LLMConfig:
    """An `LLMConfig` from a YAML file: the settings themselves, or a build config's `llm:` block."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise EvalError(f"{path}: cannot read ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise EvalError(f"{path}{f':{mark.line + 1}' if mark else ''}: invalid YAML") from None
    if isinstance(data, Mapping) and "llm" in data:
        data = data["llm"]
    try:
        return LLMConfig.from_dict(data, where=f"{path}: llm")
    except ValueError as err:
        raise EvalError(str(err)) from None


def ask(client: LLMClient, items: Sequence[EvalItem]) -> list[str | None]:
    """The model's answer to every item (None for a request that failed), one client stage per setting."""
    answers: list[str | None] = [None] * len(items)
    for setting in SETTINGS:
        indices = [i for i, item in enumerate(items) if item.setting == setting]
        results = client.complete([items[i].messages for i in indices], stage=f"eval {setting}")
        for i, result in zip(indices, results):
            answers[i] = result.text if isinstance(result, Completion) else None
    return answers


# -- the scores -----------------------------------------------------------------------------------


def row_scores(items: Sequence[EvalItem], predictions: Sequence[str]) -> dict[str, list[scoring.Score]]:
    """(earned, counted) of every metric for every item (counted 0 where a metric does not apply)."""
    scores: dict[str, list[scoring.Score]] = {name: [] for name in METRICS}
    for item, prediction in zip(items, predictions):
        answered = item.reference is not None
        scores["exact_match"].append(scoring.exact_match(prediction, item.reference) if answered else (0.0, 0))
        scores["f1"].append(scoring.token_f1(prediction, item.reference) if answered else (0.0, 0))
        scores["format_compliance"].append(scoring.format_compliance(prediction))
        scores["quote_faithfulness"].append(scoring.quotes_found(prediction, item.context))
        scores["citation_accuracy"].append(scoring.quotes_found(prediction, item.oracle))
        scores["refusal_rate"].append(scoring.refusal(prediction) if not item.oracle_shown else (0.0, 0))
    return scores


def metric_values(items: Sequence[EvalItem], predictions: Sequence[str]) -> dict[str, float | None]:
    """Every metric over the items, computed by the shipped `evaluate` modules."""
    values: dict[str, float | None] = dict.fromkeys(METRICS)
    answered = [(p, i.reference) for i, p in zip(items, predictions) if i.reference is not None]
    if answered:
        values.update(load_metric("raft_answer_match").compute(
            predictions=[p for p, _ in answered], references=[r for _, r in answered]))
    if items:
        values.update(load_metric("raft_format_compliance").compute(predictions=list(predictions)))
        values.update(load_metric("raft_quotes").compute(
            predictions=list(predictions), contexts=[i.context for i in items],
            oracles=[[i.oracle] if i.oracle is not None else [] for i in items]))
    absent = [p for i, p in zip(items, predictions) if not i.oracle_shown]
    if absent:
        values.update(load_metric("raft_refusal").compute(predictions=absent))
    return values


def bootstrap_interval(scores: Sequence[scoring.Score], resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of sum(earned) / sum(counted), rows resampled with replacement;
    None when nothing counted or `resamples` is 0."""
    rows = [(e, n) for e, n in scores if n]
    if not rows or resamples <= 0:
        return None
    earned = np.array([e for e, _ in rows], dtype=np.float64)
    counted = np.array([n for _, n in rows], dtype=np.float64)
    rng = np.random.default_rng(seed)
    estimates = []
    for start in range(0, resamples, _BOOTSTRAP_BLOCK):
        draw = rng.integers(0, len(rows), size=(min(_BOOTSTRAP_BLOCK, resamples - start), len(rows)))
        estimates.append(earned[draw].sum(axis=1) / counted[draw].sum(axis=1))
    low, high = np.quantile(np.concatenate(estimates), [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def score_setting(items: Sequence[EvalItem], predictions: Sequence[str | None], *, resamples: int = 1000,
                  seed: int = 0) -> dict[str, Any]:
    """The metrics of one setting: value, 95% interval and rows counted; failed requests left out."""
    kept = [(i, p) for i, p in zip(items, predictions) if p is not None]
    scored_items, scored = [i for i, _ in kept], [p for _, p in kept]
    values = metric_values(scored_items, scored)
    per_row = row_scores(scored_items, scored)
    metrics = {}
    for name in METRICS:
        interval = bootstrap_interval(per_row[name], resamples, seed=seed)
        metrics[name] = {"value": _rounded(values[name]), "ci95": [_rounded(x) for x in interval] if interval else None,
                         "rows": sum(1 for _, n in per_row[name] if n)}
    return {"rows": len(items), "answered": len(kept), "failed": len(items) - len(kept), "metrics": metrics}


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


# -- one call -------------------------------------------------------------------------------------


def evaluate(
    dataset_dir: str | Path,
    *,
    split: str | Sequence[str] = "test",
    model: str | None = None,
    llm: str | Path | LLMConfig | Mapping[str, Any] | None = None,
    predictions: str | Path | None = None,
    settings: Sequence[str] = SETTINGS,
    document_template: str = DEFAULT_DOCUMENT_TEMPLATE,
    max_rows: int | None = None,
    batch_size: int = 8,
    max_tokens: int = 512,
    cache_path: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Score a model on the split(s) of a built dataset folder, per setting; returns the results.

    Exactly one of `model` (a local `transformers` causal LM: path or Hub id), `llm` (an
    `LLMConfig`, its mapping, or a YAML file of it, for an OpenAI-compatible server) or
    `predictions` (JSON lines of `id`, `prediction` and optional `setting`; only the settings it
    holds are scored). `max_rows` takes the first rows of each split. `cache_path` is the LLM
    response cache ("" in memory; None the default cache, or the config's own for `llm`).
    """
    sources = [name for name, value in (("model", model), ("llm", llm), ("predictions", predictions)) if value]
    if len(sources) != 1:
        raise EvalError("give exactly one of --model, --llm or --predictions")
    splits = [split] if isinstance(split, str) else list(split)
    if max_rows is not None and max_rows < 1:
        raise EvalError(f"--max-rows: must be >= 1, got {max_rows}")
    all_rows = {name: load_split_rows(dataset_dir, name) for name in available_splits(dataset_dir)}
    for name in splits:
        if name not in all_rows:
            raise EvalError(f"{dataset_dir}: no split {name!r} (splits: {', '.join(all_rows) or 'none'})")
    contexts = collect_contexts([row for rows in all_rows.values() for row in rows], document_template)
    wanted = {name: all_rows[name][:max_rows] for name in splits}
    given = read_predictions(predictions) if predictions else None
    if given is not None:  # only the settings the file answers
        settings = [s for s in settings if any(key[0] == s for key in given)]
        if not settings:
            raise EvalError(f"{predictions}: no prediction for the settings asked")
    items = {name: make_items(rows, settings, contexts, document_template, seed) for name, rows in wanted.items()}
    results: dict[str, Any] = {
        "dataset": str(dataset_dir), "source": sources[0], "model": None, "settings": list(settings),
        "bootstrap": {"resamples": resamples, "confidence": 0.95, "seed": seed},
        "document_template": document_template, "splits": {}, "skipped": {}, "llm_usage": None,
    }
    if given is not None:
        results["model"] = Path(predictions).name
        answers = {name: [given.get((i.setting, i.row_id)) for i in split_items] for name, (split_items, _) in items.items()}
        asked = {(i.setting, i.row_id) for split_items, _ in items.values() for i in split_items}
        unmatched = sum(1 for key in given if key not in asked)
        if unmatched:
            results["skipped"]["predictions: id_not_in_evaluated_rows"] = unmatched
    else:
        client = model_client(model, batch_size=batch_size, max_tokens=max_tokens, cache_path=cache_path,
                              progress=progress) if model else _llm_client(llm, cache_path, progress)
        with client:
            results["model"] = client.config.model
            answers = {name: ask(client, split_items) for name, (split_items, _) in items.items()}
            usage = client.stats()
            usage.pop("base_url", None)  # the server's address stays private
            results["llm_usage"] = usage
            results["failures"] = client.failure_summary()
    for name, (split_items, skipped) in items.items():
        for reason, n in skipped.items():
            results["skipped"][f"{name} {reason}"] = n
        per_setting = {}
        for setting in settings:
            chosen = [(i, a) for i, a in zip(split_items, answers[name]) if i.setting == setting]
            per_setting[setting] = score_setting([i for i, _ in chosen], [a for _, a in chosen],
                                                 resamples=resamples, seed=seed)
        results["splits"][name] = per_setting
    return results


def _llm_client(llm: str | Path | LLMConfig | Mapping[str, Any], cache_path: str | None, progress: bool) -> LLMClient:
    cfg = llm if isinstance(llm, LLMConfig) else (
        LLMConfig.from_dict(llm) if isinstance(llm, Mapping) else load_llm_config(llm))
    overrides = {"progress": progress and cfg.progress}
    if cache_path is not None:
        overrides["cache_path"] = cache_path
    return make_llm_client(LLMConfig.from_dict({**cfg.to_dict(), **overrides}))


# -- output ---------------------------------------------------------------------------------------


def format_table(results: Mapping[str, Any]) -> str:
    """The results as a markdown table: one line per split and setting, value [95% interval]."""
    header = ["split", "setting", "rows", *(label for _, label in METRICS.values())]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * len(METRICS)]
    for split, per_setting in results["splits"].items():
        for setting, scored in per_setting.items():
            cells = [split, setting, f"{scored['answered']}/{scored['rows']}"]
            for name in METRICS:
                metric = scored["metrics"][name]
                if metric["value"] is None:
                    cells.append("-")
                    continue
                interval = f" [{metric['ci95'][0]:.2f}, {metric['ci95'][1]:.2f}]" if metric["ci95"] else ""
                cells.append(f"{metric['value']:.3f}{interval}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_index(results: Mapping[str, Any], model_name: str, dataset_name: str, dataset_id: str | None = None) -> str:
    """The results as the `model-index` block of a Hub model card (YAML)."""
    from huggingface_hub import EvalResult, ModelCardData

    entries = []
    for split, per_setting in results["splits"].items():
        for setting, scored in per_setting.items():
            for name, (_, label) in METRICS.items():
                value = scored["metrics"][name]["value"]
                if value is None:
                    continue
                entries.append(EvalResult(
                    task_type="question-answering", task_name="Retrieval-augmented question answering (RAFT)",
                    dataset_type=dataset_id or dataset_name, dataset_name=dataset_name, dataset_split=split,
                    metric_type=name, metric_value=value, metric_config=setting, metric_name=f"{label} ({setting})",
                ))
    if not entries:
        raise EvalError("no metric has a value: nothing to put in a model index")
    return ModelCardData(model_name=model_name, eval_results=entries).to_yaml() + "\n"


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a file whole or not at all (a temporary file beside it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_results(results: Mapping[str, Any], path: str | Path = RESULTS_NAME) -> Path:
    """`eval_results.json`, written atomically."""
    return write_text_atomic(path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
