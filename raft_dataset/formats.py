"""The rows in the files other trainers read: alpaca, ShareGPT and OpenAI-chat JSON lines, and the
`dataset_info.json` entries LLaMA-Factory needs to read the parquet shards as they are.

Every style is derived from a row's `messages` (and the alpaca triple), so each file holds the same
conversation: the system turn, the user turn (task, question and documents) and the answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

STYLES = ("alpaca", "sharegpt", "openai")
DATASET_INFO_NAME = "dataset_info.json"  # what LLaMA-Factory reads from its `dataset_dir`
# ShareGPT's speaker names (`from`) for the chat roles: what LLaMA-Factory's and Axolotl's ShareGPT readers expect.
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
# LLaMA-Factory's keys for reading `messages` as it is (its "OpenAI format": a sharegpt entry with
# these tags; the first turn with `system_tag` becomes the system prompt).
LLAMA_FACTORY_TAGS = {
    "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system",
}


class FormatError(ValueError):
    """A row cannot be written in the asked style; the message names the row and the field."""


def alpaca_record(row: Mapping[str, Any]) -> dict[str, str]:
    """`instruction`, `input`, `output` and the `system` turn (the alpaca keys LLaMA-Factory documents;
    Axolotl's `alpaca` type reads the first three)."""
    return {"instruction": row["instruction"], "input": row["input"], "output": row["output"],
            "system": _system_turn(row["messages"])}


def sharegpt_record(row: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """`conversations`: the turns as `from` (system / human / gpt) and `value`."""
    return {"conversations": [{"from": SHAREGPT_ROLES[turn["role"]], "value": turn["content"]} for turn in row["messages"]]}


def openai_record(row: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """`messages` as OpenAI's chat fine-tuning files hold them: role and content only."""
    return {"messages": [{"role": turn["role"], "content": turn["content"]} for turn in row["messages"]]}


RECORD_MAKERS = {"alpaca": alpaca_record, "sharegpt": sharegpt_record, "openai": openai_record}


def _system_turn(messages: Sequence[Mapping[str, str]]) -> str:
    return next((turn["content"] for turn in messages if turn["role"] == "system"), "")


def write_jsonl(rows_or_dataset: Iterable[Mapping[str, Any]], path: str | Path, style: str = "alpaca") -> int:
    """Write rows (dicts, or a `datasets.Dataset`) as JSON lines in `style`; returns the rows written.

    The file appears complete or not at all: it is written beside `path` and renamed over it at the end,
    so an interrupted export never leaves half a file (nor destroys the previous one).

    Raises:
        FormatError: one line, for an unknown style or a row without the fields the style needs.
    """
    if style not in RECORD_MAKERS:
        raise FormatError(f"format: unknown style {style!r} (choose from {', '.join(STYLES)})")
    make = RECORD_MAKERS[style]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    written = 0
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            for written, row in enumerate(rows_or_dataset, start=1):
                try:
                    record = make(row)
                except KeyError as err:
                    raise FormatError(f"row {written}: no {err.args[0]!r} field, which the {style} style needs") from None
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def llama_factory_dataset_info(shards: Mapping[str, Sequence[str]], prefix: str = "raft") -> dict[str, dict]:
    """LLaMA-Factory `dataset_info.json` entries for parquet shards, one per split (`{prefix}_{split}`).

    Args:
        shards: Split name -> its parquet files, relative to the folder `dataset_info.json` is in (the
            `dataset_dir` LLaMA-Factory is given). A split of several shards gets one entry per shard
            (`{prefix}_{split}_{i}`): a `file_name` names one file, or a folder of one split only.
        prefix: The start of every entry name.

    Each entry reads the `messages` column in the sharegpt formatting with the role/content tags, so
    the system turn is the system prompt and the user and assistant turns are the conversation.
    """
    info = {}
    for split, files in shards.items():
        names = [f"{prefix}_{split}"] if len(files) == 1 else [f"{prefix}_{split}_{i}" for i in range(len(files))]
        for name, file_name in zip(names, files):
            info[name] = {
                "file_name": Path(file_name).as_posix(),
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": dict(LLAMA_FACTORY_TAGS),
            }
    return info
