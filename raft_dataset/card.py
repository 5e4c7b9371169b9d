"""The dataset card: machine-readable YAML (configs, dataset_info, statistics) and a readable body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import DatasetCard, DatasetCardData

from .stats import statistics_table

if TYPE_CHECKING:
    from .pipeline import BuildResult

TEMPLATE_PATH = Path(__file__).parent / "templates" / "dataset_card.md"


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


_PATH_SETTINGS = ("corpus", "queries", "embedding_cache", "encoder", "hf_dataset", "stats_tokenizer")


def _public_name(value: str) -> str:
    """A local path reduced to its last parts (no user names or folder layout on the Hub); a Hub id
    (`org/name`, not on disk) stays as it is."""
    path = Path(value).expanduser()
    if not path.is_absolute() and not value.startswith((".", "~")):
        return value
    parts = [p for p in path.parts if p not in ("/", "*", "**")]
    return "/".join(parts[-2:]) if parts else value


def public_settings(settings: dict) -> dict:
    """Settings fit for a public card: local paths shortened, the LLM block left out."""
    public = {k: v for k, v in settings.items() if k not in ("llm", "system_prompt", "instruction_template", "document_template")}
    for key in _PATH_SETTINGS:
        value = public.get(key)
        if isinstance(value, str) and value:
            public[key] = _public_name(value)
        elif isinstance(value, list):
            public[key] = [_public_name(v) for v in value]
    return public


def _corpus_description(result: BuildResult) -> str:
    settings = public_settings(result.config.settings())
    if settings["hf_dataset"]:
        return f"Hugging Face dataset `{settings['hf_dataset']}` (split {settings['hf_split']})"
    corpus = settings["corpus"]
    corpus = ", ".join(corpus) if isinstance(corpus, list) else corpus
    return f"local files `{corpus or 'data_files'}`"


def _public_llm_usage(usage: dict | None) -> dict | None:
    """LLM accounting fit for a public card: the server's address stays private."""
    return {k: v for k, v in usage.items() if k != "base_url"} if usage else None


def render_card(result: BuildResult, dataset_info: dict, repo_id: str = "path/to/this/folder") -> DatasetCard:
    """Fill the card template with the build's settings, counts, statistics and rejections."""
    settings = result.config.settings()
    llm_usage = _public_llm_usage(result.llm_usage)
    rejections = result.report.rejected
    card_data = DatasetCardData(
        license=result.config.license or "other",
        pretty_name=result.config.pretty_name or "RAFT dataset",
        task_categories=["question-answering", "text-generation"],
        tags=["raft", "retrieval-augmented-generation", "synthetic", "raft-dataset"],
        size_categories=_size_category(result.counts["samples"]),
        configs=[{
            "config_name": "default",
            "data_files": [{"split": name, "path": f"data/{name}-*.parquet"} for name, rows in result.splits.items() if rows],
        }],
        dataset_info=dataset_info,
        raft_dataset={
            "version": result.version,
            "counts": result.counts,
            "token_statistics": result.statistics,
            "token_counter": _token_counter_name(result),
            "rejections": dict(sorted(rejections.items())),
            "skipped_files": dict(sorted(result.report.skipped.items())),
            "quality": result.quality.to_dict(),
            "seconds_per_stage": result.timings,
            "settings": public_settings(settings),
            **({"llm_usage": llm_usage} if llm_usage else {}),
        },
    )
    question_source = (
        "from the user's queries file" if result.config.queries
        else "written by an LLM from each chunk" if result.config.question_generator == "llm"
        else "derived offline from the corpus's headings and question sentences"
    )
    return DatasetCard.from_template(
        card_data,
        template_path=str(TEMPLATE_PATH),
        version=result.version,
        settings=settings,
        counts=result.counts,
        encoder=_public_name(result.encoder) if result.config.encoder else result.encoder,
        corpus_description=_corpus_description(result),
        question_source=question_source,
        split_ratios=", ".join(f"{k} {v:g}" for k, v in result.config.splits.items()),
        token_counter=_token_counter_name(result),
        license=result.config.license or "not set (set `license` in the config)",
        statistics_table=statistics_table(result.statistics),
        rejections_table=_counts_table(rejections, "reason"),
        quality_table=result.quality.to_markdown(),
        skipped_files=", ".join(f"{k}: {v}" for k, v in sorted(result.report.skipped.items())) or "none",
        llm_usage=json.dumps(llm_usage, indent=2, sort_keys=True) if llm_usage else None,
        repo_id=repo_id,
    )


def _token_counter_name(result: BuildResult) -> str:
    return result.config.stats_tokenizer or f"tiktoken {result.config.token_encoding}"


def _counts_table(counts, label: str) -> str:
    if not counts:
        return "none"
    lines = [f"| {label} | samples |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in counts.most_common()]
    return "\n".join(lines)
