"""Looking at a built dataset before training: rows rendered readably, filtered and sampled, with the
quality report and token statistics of their split.

It reads the parquet shards under `data/` with pyarrow, one batch at a time, so it needs no encoder,
writes nothing (no `datasets` cache) and holds only the rows it shows:

    preview = preview_split("out/", "train", n=5, seed=0, filters=[parse_filter("origin=heading")])
    print(format_preview(preview))

`format_row` and `example_row` render single rows for the end of a build and for the dataset card.
"""

from __future__ import annotations

import json
import operator
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DEFAULT_DOCUMENT_TEMPLATE
from .quality import QualityReport, quality_report
from .raft_format import BEGIN_QUOTE, END_QUOTE
from .shards import DATA_DIR, SHARD_NAME
from .stats import TOKEN_FIELDS, split_statistics, statistics_table

CARD_NAME = "README.md"
_BATCH_ROWS = 1024  # rows read at a time: memory stays flat however large the split
# Short names for the columns people filter on most.
FILTER_ALIASES = {"origin": "query_origin", "choice": "oracle_choice", "confidence": "oracle_confidence"}
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "=": operator.eq, "<": operator.lt, ">": operator.gt,
}
_FILTER_RE = re.compile(r"^\s*(?P<column>[A-Za-z_]\w*)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.*?)\s*$")
_NULLS = ("null", "none")


class PreviewError(ValueError):
    """The folder, split or filter cannot be read; the message is one line naming it."""


# -- reading ---------------------------------------------------------------------------------------


def split_names(folder: str | Path) -> list[str]:
    """The splits that have shards under `folder/data/`, train/validation/test first."""
    names = {m.group("split") for p in (Path(folder) / DATA_DIR).glob("*.parquet") if (m := SHARD_NAME.match(p.name))}
    order = {"train": 0, "validation": 1, "test": 2}
    return sorted(names, key=lambda name: (order.get(name, 3), name))


def split_shards(folder: str | Path, split: str) -> list[Path]:
    """The parquet shards of one split, in order; `PreviewError` naming what exists when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PreviewError(f"{folder}: no such folder")
    shards = sorted(p for p in (folder / DATA_DIR).glob("*.parquet")
                    if (m := SHARD_NAME.match(p.name)) and m.group("split") == split)
    if shards:
        return shards
    available = split_names(folder)
    if not available:
        raise PreviewError(f"{folder}: no {DATA_DIR}/*.parquet shards (not a folder written by `raft-dataset build`)")
    raise PreviewError(f"{folder}: no split {split!r} (splits: {', '.join(available)})")


def _schema(shard: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(shard)
    except (pa.ArrowException, OSError) as err:
        raise PreviewError(f"{shard}: unreadable parquet ({' '.join(str(err).split())})") from None


def iter_rows(shards: Sequence[Path]) -> Iterator[dict]:
    """The rows of the shards as dicts, read a batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for shard in shards:
        try:
            for batch in pq.ParquetFile(shard).iter_batches(batch_size=_BATCH_ROWS):
                yield from batch.to_pylist()
        except (pa.ArrowException, OSError) as err:
            raise PreviewError(f"{shard}: unreadable parquet ({' '.join(str(err).split())})") from None


def card_metadata(folder: str | Path) -> dict:
    """The `raft_dataset` block of the folder's card YAML ({} without a readable card)."""
    from huggingface_hub.repocard import metadata_load

    try:
        metadata = metadata_load(Path(folder) / CARD_NAME) or {}
    except (OSError, ValueError, UnicodeDecodeError):  # a missing, edited or broken card: nothing to add
        return {}
    block = metadata.get("raft_dataset") if isinstance(metadata, dict) else None
    return block if isinstance(block, dict) else {}


# -- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowFilter:
    """`column op value`, e.g. `query_origin = heading`, `oracle_confidence <= 0`."""

    column: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def parse_filter(text: str) -> RowFilter:
    """`COLUMN=VALUE` (also `!=`, `<`, `<=`, `>`, `>=`); `origin`, `choice`, `confidence` are short for
    `query_origin`, `oracle_choice`, `oracle_confidence`. The column is checked against a split by
    `compile_filters`."""
    match = _FILTER_RE.match(text)
    if not match:
        raise PreviewError(f"--filter {text!r}: expected COLUMN=VALUE (or !=, <, <=, >, >=), e.g. origin=heading")
    column = FILTER_ALIASES.get(match.group("column"), match.group("column"))
    return RowFilter(column, match.group("op"), match.group("value"))


def _typed_value(row_filter: RowFilter, arrow_type) -> Any:
    """The filter's value as the column's Python type (None for null)."""
    import pyarrow.types as pat

    raw, where = row_filter.value, f"--filter {row_filter}"
    if raw.lower() in _NULLS:
        if row_filter.op not in ("=", "!="):
            raise PreviewError(f"{where}: null can only be compared with = or !=")
        return None
    if pat.is_boolean(arrow_type):
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise PreviewError(f"{where}: {row_filter.column} is true or false, got {raw!r}")
    if pat.is_integer(arrow_type) or pat.is_floating(arrow_type):
        try:
            return int(raw) if pat.is_integer(arrow_type) else float(raw)
        except ValueError:
            raise PreviewError(f"{where}: {row_filter.column} is a number, got {raw!r}") from None
    if pat.is_string(arrow_type) or pat.is_large_string(arrow_type):
        if row_filter.op not in ("=", "!="):
            raise PreviewError(f"{where}: {row_filter.column} is text: use = or !=")
        return raw
    raise PreviewError(f"{where}: cannot filter on {row_filter.column} (a {arrow_type} column)")


def compile_filters(filters: Sequence[RowFilter], schema) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate true for rows that pass every filter; `PreviewError` for a column the split lacks or
    a value of the wrong kind."""
    checks = []
    for row_filter in filters:
        if row_filter.column not in schema.names:
            raise PreviewError(f"--filter {row_filter}: no column {row_filter.column!r} "
                               f"(columns: {', '.join(schema.names)})")
        value = _typed_value(row_filter, schema.field(row_filter.column).type)
        checks.append((row_filter.column, _OPERATORS[row_filter.op], value))

    def passes(row: Mapping[str, Any]) -> bool:
        return all(_holds(row.get(column), compare, value) for column, compare, value in checks)

    return passes


def _holds(cell: Any, compare: Callable[[Any, Any], bool], value: Any) -> bool:
    """`cell compare value`, where null equals only null and is neither smaller nor larger than anything."""
    if value is None:
        return (cell is None) == (compare is operator.eq)
    if cell is None:
        return compare is operator.ne
    return compare(cell, value)


# -- one pass over a split -------------------------------------------------------------------------


@dataclass
class SplitPreview:
    """What `inspect` shows of one split."""

    folder: str
    split: str
    rows: int = 0
    matched: int = 0
    shown: list[tuple[int, dict]] = field(default_factory=list)  # (row index in the split, row)
    quality: QualityReport = field(default_factory=QualityReport)
    statistics: dict = field(default_factory=dict)
    other_splits: dict[str, int] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)
    rejections: dict | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, the rows shown (every column), the quality figures and token statistics."""
        return {
            "folder": self.folder, "split": self.split, "rows": self.rows, "other_splits": self.other_splits,
            "filters": self.filters, "matched": self.matched, "seed": self.seed,
            "shown": [{"row": index, **row} for index, row in self.shown],
            "quality": self.quality.to_dict(), "token_statistics": self.statistics, "rejections": self.rejections,
        }


class _Reservoir:
    """`n` items drawn uniformly from a stream with one seed (reservoir sampling: `n` items held)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.rng, self.seen, self.items = n, random.Random(seed), 0, []

    def offer(self, item: tuple[int, dict]) -> None:
        if len(self.items) < self.n:
            self.items.append(item)
        elif (slot := self.rng.randrange(self.seen + 1)) < self.n:
            self.items[slot] = item
        self.seen += 1

    def in_order(self) -> list[tuple[int, dict]]:
        return sorted(self.items, key=lambda item: item[0])


def sample_rows(rows: Iterable[dict], n: int, seed: int = 0) -> list[tuple[int, dict]]:
    """`n` of `rows` drawn uniformly with `seed` (all of them when there are fewer), as (index, row)
    in their original order."""
    reservoir = _Reservoir(n, seed)
    for item in enumerate(rows):
        reservoir.offer(item)
    return reservoir.in_order()


def preview_split(folder: str | Path, split: str = "train", *, n: int = 5, seed: int = 0,
                  filters: Sequence[RowFilter] = ()) -> SplitPreview:
    """Read one split of a built folder once: its quality report and token statistics over every row,
    and `n` rows (drawn with `seed`) among those that pass every filter.

    Raises:
        PreviewError: one line, for a missing folder or split, an unreadable shard, or a bad filter.
    """
    if n < 0:
        raise PreviewError(f"-n: must be >= 0, got {n}")
    shards = split_shards(folder, split)
    passes = compile_filters(filters, _schema(shards[0]))
    preview = SplitPreview(folder=str(folder), split=split, filters=[str(f) for f in filters], seed=seed)
    reservoir = _Reservoir(n, seed)
    tokens: list[dict] = []

    def every_row() -> Iterator[dict]:  # one pass: the quality report reads the rows, we sample on the way
        for index, row in enumerate(iter_rows(shards)):
            preview.rows += 1
            tokens.append({name: row.get(name) or 0 for name in TOKEN_FIELDS})
            if passes(row):
                preview.matched += 1
                reservoir.offer((index, row))
            yield row

    preview.quality = quality_report(every_row())
    preview.shown = reservoir.in_order()
    preview.statistics = split_statistics({split: tokens})[split]
    preview.other_splits = {name: _count_rows(folder, name) for name in split_names(folder) if name != split}
    preview.rejections = card_metadata(folder).get("rejections")
    return preview


def _count_rows(folder: str | Path, split: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(shard).metadata.num_rows for shard in split_shards(folder, split))


# -- rendering -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextDocument:
    """One document of a row's `input`, as the document template rendered it."""

    title: str | None
    text: str


def _template_regex(template: str) -> re.Pattern | None:
    """A regex that reads documents rendered with `template` back: placeholders become groups."""
    if "{text}" not in template:
        return None
    parts = re.split(r"(\{(?:title|text|index)\})", template)
    groups = {"{title}": r"(?P<title>[^\n]*?)", "{text}": r"(?P<text>.*?)", "{index}": r"\d+"}
    pattern, seen = "", set()
    for part in parts:
        if part in groups and part not in seen:
            pattern += groups[part]
            seen.add(part)
        elif part in groups:  # a placeholder used twice: match it, do not capture it again
            pattern += r".*?"
        else:
            pattern += re.escape(part)
    # A document ends where the next one begins (documents are joined by a blank line) or at the end.
    head = re.escape(parts[0]) if parts and parts[0] else ""
    return re.compile(pattern + (rf"(?=\n\n{head}|\Z)" if head else r"(?=\n\n|\Z)"), re.DOTALL)


def context_documents(row: Mapping[str, Any], template: str = DEFAULT_DOCUMENT_TEMPLATE) -> list[ContextDocument] | None:
    """The row's context documents (title and text), or None when `input` does not read back as
    `len(context_chunk_ids)` documents of `template` (a custom template the caller did not pass)."""
    regex = _template_regex(template)
    input_text = row.get("input") or ""
    expected = len(row.get("context_chunk_ids") or [])
    if regex is None:
        return None
    found = [ContextDocument(m.groupdict().get("title"), m.group("text")) for m in regex.finditer(input_text)]
    return found if len(found) == expected else None


def trim(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)].rstrip() + "…"


def trim_block(text: str, width: int) -> str:
    """`text` with its line breaks, cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "…"


def example_row(row: Mapping[str, Any], template: str = DEFAULT_DOCUMENT_TEMPLATE, width: int = 300,
                max_items: int | None = None,
                leave_out: Iterable[str] = ("messages", "prompt", "completion")) -> dict[str, Any]:
    """One row for the dataset card: each context document cut to `width` characters, list columns to
    `max_items` items, and the chat forms of the same sample (`messages`, `prompt`, `completion`) left out."""
    example = {k: v[:max_items] if isinstance(v, list) else v for k, v in row.items() if k not in set(leave_out)}
    documents = context_documents(row, template)
    if documents is not None:
        from .prompt import fill_template

        example["input"] = "\n\n".join(
            fill_template(template, index=str(i + 1), title=doc.title or "", text=trim_block(doc.text, width))
            for i, doc in enumerate(documents)
        )
    else:
        example["input"] = trim_block(row.get("input") or "", width * max(len(row.get("context_chunk_ids") or []), 1))
    return example


def _highlight_quotes(text: str, color: bool) -> str:
    if not color:
        return text
    return re.sub(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE),
                  lambda m: f"{BEGIN_QUOTE}\033[1;33m{m.group(1)}\033[0m{END_QUOTE}", text, flags=re.DOTALL)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_row(row: Mapping[str, Any], label: str, *, template: str = DEFAULT_DOCUMENT_TEMPLATE,
               width: int = 160, color: bool = False) -> str:
    """A row as a person reads it: the question, the oracle and how it was chosen, the context (each
    document on one trimmed line, the oracle marked `*`), and the answer in full."""
    position = row.get("oracle_position", -1)
    chunk_ids = list(row.get("context_chunk_ids") or [])
    documents = context_documents(row, template)
    if row.get("oracle_present") and 0 <= position < len(chunk_ids):
        title = documents[position].title if documents and documents[position].title else None
        where = f"document {position + 1} of {len(chunk_ids)}"
        oracle = f"{row.get('oracle_chunk_id')} " + (f'"{title}", {where}' if title else f"({where})")
    else:
        oracle = f"{row.get('oracle_chunk_id')} (not in the context)"
    excluded = list(row.get("excluded_distractors") or [])
    lines = [
        f"=== {label} (id {row.get('id')}) ===",
        f"question: {row.get('question')}",
        f"origin: {row.get('query_origin')}",
        f"oracle: {oracle}",
        "provenance: " + ", ".join(f"{name} {_number(row.get(name))}" for name in (
            "oracle_choice", "oracle_confidence", "retrievers_agree", "oracle_rank", "hard_negatives")),
        f"excluded distractors: {_excluded_summary(excluded)}",
    ]
    if row.get("reference_answer"):
        lines.append(f"reference answer: {row['reference_answer']}")
    lines.append("context (* the oracle):")
    for i, chunk_id in enumerate(chunk_ids):
        mark = "*" if i == position and row.get("oracle_present") else " "
        text = ""
        if documents is not None:
            text = (f"{documents[i].title}: " if documents[i].title else "") + documents[i].text
        lines.append(f"  {mark} " + trim(f"{i + 1}. [{chunk_id}] {text}", width))
    lines.append("answer:")
    lines += [f"  {line}" for line in _highlight_quotes(row.get("output") or "", color).splitlines()]
    return "\n".join(lines)


def _excluded_summary(excluded: Sequence[Mapping[str, str]], shown: int = 3) -> str:
    """"5 (near_copy 3, scored_near_oracle 2): a.md#1, b.md#4, c.md#0, …"."""
    if not excluded:
        return "0"
    guards = Counter(e["guard"] for e in excluded)
    ids = ", ".join(e["chunk_id"] for e in excluded[:shown]) + (", …" if len(excluded) > shown else "")
    return f"{len(excluded)} (" + ", ".join(f"{g} {n}" for g, n in guards.most_common()) + f"): {ids}"


def format_preview(preview: SplitPreview, *, width: int = 160, color: bool = False) -> str:
    """The text `raft-dataset inspect` prints: the split's size, the rows shown, then its quality
    report, token statistics and the build's rejections."""
    others = ", ".join(f"{name} {rows}" for name, rows in preview.other_splits.items())
    lines = [f"{preview.folder}: {preview.split} has {preview.rows} rows" + (f" ({others})" if others else "")]
    if preview.filters:
        lines.append(f"{preview.matched} rows match {' and '.join(preview.filters)}")
    lines.append(f"showing {len(preview.shown)} (seed {preview.seed})" if preview.shown else "no rows to show")
    for index, row in preview.shown:
        lines += ["", format_row(row, f"{preview.split}[{index}]", width=width, color=color)]
    lines += ["", f"## Quality of {preview.split}", "", preview.quality.to_markdown(), "",
              f"## Tokens of {preview.split}", "", statistics_table({preview.split: preview.statistics})]
    if preview.rejections is not None:
        rejected = ", ".join(f"{k}: {v}" for k, v in sorted(preview.rejections.items(), key=lambda kv: -kv[1]))
        lines += ["", f"rejected during the build (all splits): {rejected or 'none'}"]
    return "\n".join(lines)
