"""The dataset card, following the Hub's conventions: YAML metadata (language, license, task, source,
size, data files, and the build's counts, statistics and quality) and a readable body (an example row,
how it was built, uses, limitations, citation). Nothing that changes from run to run goes in the YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import DatasetCard, DatasetCardData

from .preview import example_row
from .quality import DEFECTS
from .stats import OVER_MAX_SEQ_LENGTH, long_rows_line, statistics_table

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


# The task these rows train: open-book question answering over one domain's documents.
TASK_CATEGORIES = ["question-answering", "text-generation"]
TASK_IDS = ["closed-domain-qa", "open-book-qa"]
RAFT_BIBTEX = """@article{zhang2024raft,
  title   = {{RAFT}: Adapting Language Model to Domain Specific {RAG}},
  author  = {Zhang, Tianjun and Patil, Shishir G. and Jain, Naman and Shen, Sheng and Zaharia, Matei and
             Stoica, Ion and Gonzalez, Joseph E.},
  journal = {arXiv preprint arXiv:2403.10131},
  year    = {2024},
  url     = {https://arxiv.org/abs/2403.10131}
}"""
EXAMPLE_DOCUMENT_CHARS = 300  # each context document of the card's example row is cut to this
EXAMPLE_LIST_ITEMS = 5  # and each list column to this many items


def _languages(language: str | list | None) -> list[str] | None:
    return [language] if isinstance(language, str) else list(language) if language else None


def _source_datasets(result: BuildResult) -> list[str]:
    """The Hub dataset the corpus came from, else "original" (local files, or a dataset on disk whose
    path would mean nothing on the Hub)."""
    name = result.config.hf_dataset
    if name and is_hub_dataset_id(name):
        return [name]
    return ["original"]


def is_hub_dataset_id(name: str) -> bool:
    """`name` or `owner/name`, not a path on this machine."""
    return not Path(name).expanduser().exists() and bool(re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name))


def card_metadata(result: BuildResult, dataset_info: dict) -> DatasetCardData:
    """The card's YAML: Hub metadata, the data files, and the build's figures. Only what the data
    decides goes in (no timings, no LLM request counts), so two identical builds give identical YAML."""
    return DatasetCardData(
        language=_languages(result.config.language),
        license=result.config.license or "other",
        pretty_name=result.config.pretty_name or "RAFT dataset",
        annotations_creators=["machine-generated"],
        source_datasets=_source_datasets(result),
        task_categories=TASK_CATEGORIES,
        task_ids=TASK_IDS,
        tags=["raft", "retrieval-augmented-generation", "synthetic", "raft-dataset"],
        size_categories=[_size_category(result.counts["samples"])],
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
            "rejections": dict(sorted(result.report.rejected.items())),
            "skipped_files": dict(sorted(result.report.skipped.items())),
            "quality": result.quality.to_dict(),
            "settings": public_settings(result.config.settings()),
        },
    )


def render_card(result: BuildResult, dataset_info: dict, repo_id: str | None = None) -> DatasetCard:
    """Fill the card template with the build's settings, counts, statistics, quality and an example row.

    Args:
        result: The build.
        dataset_info: `datasets.DatasetInfo._to_yaml_dict()` of the written splits.
        repo_id: What the usage snippets load: the Hub repo id, or the local folder; None writes a
            placeholder path.
    """
    settings = result.config.settings()
    llm_usage = _public_llm_usage(result.llm_usage)
    question_source = (
        "from the user's queries file" if result.config.queries
        else "written by an LLM from each chunk" if result.config.question_generator == "llm"
        else "derived offline from the corpus's headings and question sentences"
    )
    if result.product_name:
        question_source += f", naming {result.product_name} where a question does not"

    return DatasetCard.from_template(
        card_metadata(result, dataset_info),
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
        languages=", ".join(_languages(result.config.language) or []) or None,
        statistics_table=statistics_table(result.statistics),
        totals=_totals(result.statistics),
        long_rows=_long_rows(result),
        rejections_table=_counts_table(result.report.rejected, "reason"),
        quality_table=_card_markdown(result.quality.to_markdown()),
        skipped_files=", ".join(f"{k}: {v}" for k, v in sorted(result.report.skipped.items())) or "none",
        llm_usage=json.dumps(llm_usage, indent=2, sort_keys=True) if llm_usage else None,
        example=_example_json(result),
        example_chars=EXAMPLE_DOCUMENT_CHARS,
        example_items=EXAMPLE_LIST_ITEMS,
        limitations=limitations(result),
        citation=RAFT_BIBTEX,
        columns=[feature.get("name") for feature in dataset_info.get("features", [])],
        repo_id=repo_id or "path/to/this/folder",
    )


def _example_json(result: BuildResult) -> str | None:
    """The first row (of the first split) whose context holds the oracle, documents cut short."""
    rows = [row for split_rows in result.splits.values() for row in split_rows]
    row = next((r for r in rows if r.get("oracle_present")), rows[0] if rows else None)
    if row is None:
        return None
    example = example_row(row, result.config.document_template, width=EXAMPLE_DOCUMENT_CHARS,
                          max_items=EXAMPLE_LIST_ITEMS)
    return json.dumps(example, indent=2, ensure_ascii=False, default=str)


def _long_rows(result: BuildResult) -> str | None:
    """"Rows longer than max_seq_length N: k of n ...", when the build counted them."""
    if not result.statistics or not all(OVER_MAX_SEQ_LENGTH in entry for entry in result.statistics.values()):
        return None
    line = long_rows_line(result.statistics, result.config.max_seq_length)
    return line[:1].upper() + line[1:]


def _totals(statistics: dict) -> str:
    """Whole-dataset totals over the splits (samples; input, output and total tokens)."""
    total = {key: sum(entry[key]["total"] for entry in statistics.values()) for key in ("input", "output", "total")}
    samples = sum(entry["samples"] for entry in statistics.values())
    return (f"{samples} samples; {total['input']:,} input, {total['output']:,} output and "
            f"{total['total']:,} total tokens")


def _card_markdown(report_markdown: str) -> str:
    """The quality report for the card: its plain lines (question forms, origins, oracles) become list
    items, which markdown would otherwise run together into one paragraph."""
    return "\n".join(
        f"- {line}" if line.strip() and not line.startswith(("|", "#", "-")) else line
        for line in report_markdown.splitlines()
    )


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def limitations(result: BuildResult) -> list[str]:
    """What a user of this build should know before training on it, from its settings and quality."""
    config, quality = result.config, result.quality
    items = []
    if config.answer_generator == "extractive":
        items.append(
            "Answers are extractive and offline: the reasoning restates 1-3 sentences quoted from the oracle "
            "and the final answer is taken from them. They are faithful to the documents but not fluent "
            "explanations, and they can be partial when the answer spans several sections."
        )
    else:
        items.append("Answers were written by an LLM; only their quotes were checked (verbatim in the oracle), "
                     "not the reasoning around them.")
    if config.queries:
        items.append("Questions come from the user's queries file; their coverage and phrasing are that file's.")
    elif config.question_generator == "llm":
        items.append("Questions were written by an LLM from single chunks; some can be answered by other "
                     "chunks too (see `oracle_confidence`).")
    else:
        items.append(
            "Questions are derived offline by English rules (headings, FAQ entries, glossary terms): pages "
            "in other languages contribute only headings that are already questions, and some phrasings "
            "are awkward (a heading word read as a verb instead of a noun)."
        )
    if quality.rows:
        oracle = (f"In this build {_pct(quality.share(quality.oracle_outscored))} of rows have an oracle that "
                  "a chunk of another document scores at least as high (`oracle_confidence` <= 0), and the dense "
                  f"and BM25 rankings agree on the oracle's document for {_pct(quality.share(quality.retrievers_agree))}")
        if quality.oracle_confidence:
            oracle += f" (median confidence {quality.oracle_confidence['median']:g})"
        items.append(oracle + ". Filter on `oracle_confidence` (or set `min_oracle_confidence`) to keep the surest rows.")
        absent = quality.rows - quality.oracle_present
        items.append(
            f"By design the oracle is missing from the context in {_pct(quality.share(absent))} of rows "
            f"(oracle probability {config.oracle_probability:g}); the answer then "
            + ("still quotes it (the RAFT recipe), so the model learns the domain, not only to read the context."
               if config.oracle_absent_answer == "keep" else "says the documents do not contain it.")
        )
        flagged = [f"{_DEFECT_TEXT.get(name, name)} {_pct(quality.share(quality.defects[name]))}"
                   for name in DEFECTS if quality.defects[name]]
        duplicates = quality.exact_duplicate_questions + quality.near_duplicate_questions
        if duplicates:
            flagged.append(f"duplicate questions {_pct(quality.share(duplicates))}")
        items.append("The quality checks flag " + (", ".join(flagged) if flagged else "no row")
                     + " (see Quality).")
    items.append("The documents are chunks of the corpus as it was when built: its errors, outdated statements "
                 "and license terms carry over to every row.")
    return items


_DEFECT_TEXT = {name: name.replace("_", " ") for name in DEFECTS}


def _token_counter_name(result: BuildResult) -> str:
    return result.config.stats_tokenizer or f"tiktoken {result.config.token_encoding}"


def _counts_table(counts, label: str) -> str:
    if not counts:
        return "none"
    lines = [f"| {label} | samples |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in counts.most_common()]
    return "\n".join(lines)
