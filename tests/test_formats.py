"""Rows for trainers: prompt/completion columns, the sequence length against `max_seq_length`, the JSON
lines other trainers read (alpaca, ShareGPT, OpenAI chat) and LLaMA-Factory's dataset_info.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from raft_dataset import export
from raft_dataset.answers import Answer
from raft_dataset.cli import main
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.formats import FormatError, openai_record, write_jsonl
from raft_dataset.pipeline import attach_answers, build_raft_dataset
from raft_dataset.records import Chunk, Sample
from raft_dataset.report import BuildReport
from raft_dataset.stats import OVER_MAX_SEQ_LENGTH, TokenCounter, long_rows_line, split_statistics
from raft_dataset.tokens import get_encoding
from tests.fake_encoder import HashingEncoder

DOCS = Path(__file__).parent / "fixtures" / "docs"

SYSTEM = "Answer from the documents."
QUESTION = "Which port does the API use?"
INSTRUCTION = "Question: Which port does the API use?"
INPUT = "<DOCUMENT>Ports\nThe API listens on port 7400.</DOCUMENT>"
USER = f"{INSTRUCTION}\n\n{INPUT}"
OUTPUT = "##begin_quote##The API listens on port 7400.##end_quote##\n<ANSWER>: Port 7400."


def _config(**overrides) -> RaftDatasetConfig:
    settings = dict(corpus=str(DOCS), embedding_cache="", system_prompt=SYSTEM,
                    instruction_template="Question: {question}", document_template="<DOCUMENT>{title}\n{text}</DOCUMENT>")
    return RaftDatasetConfig(**{**settings, **overrides})


def _answered_row(config: RaftDatasetConfig | None = None) -> dict:
    """One row made by the pipeline's own `attach_answers` from a known question, document and answer."""
    chunk = Chunk(chunk_id="ports.md#0", doc_id="ports.md", title="Ports", text="The API listens on port 7400.",
                  start=0, end=29, n_tokens=8)
    sample = Sample(
        id="s1", question=QUESTION, reference_answer=None, query_origin="file", oracle_chunk_id=chunk.chunk_id,
        oracle_doc_id=chunk.doc_id, oracle_title=chunk.title, oracle_text=chunk.text, oracle_present=True, oracle_position=0, oracle_choice="gold_chunk",
        oracle_rank=0, oracle_retrieved=True, oracle_confidence=0.5, retrievers_agree=True,
        query_oracle_similarity=0.9, context_chunk_ids=[chunk.chunk_id], context_doc_ids=[chunk.doc_id],
        context_scores=[0.9], oracle=chunk, context=[chunk],
    )
    (answered,) = attach_answers(config or _config(), [sample], [Answer(OUTPUT)], BuildReport())
    return answered.to_row()


# -- the rows -----------------------------------------------------------------------------------


def test_a_row_holds_the_same_turns_as_messages_and_as_prompt_and_completion():
    row = _answered_row()
    system, user, assistant = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": USER},
                               {"role": "assistant", "content": OUTPUT})
    assert row["prompt"] == [system, user]
    assert row["completion"] == [assistant]
    assert row["messages"] == [system, user, assistant]
    assert (row["instruction"], row["input"], row["output"]) == (INSTRUCTION, INPUT, OUTPUT)


def test_sequence_tokens_count_every_turn_with_its_chat_markup():
    row = _answered_row()
    enc = get_encoding("cl100k_base")  # the bundled offline ranks
    turns = [len(enc.encode(text)) for text in (SYSTEM, USER, OUTPUT)]
    assert row["sequence_tokens"] == sum(turns) + 3 * 3  # OpenAI's 3 tokens of markup a turn
    assert row["total_tokens"] == turns[1] + turns[2]  # the user turn and the answer, as before


def _word_tokenizer(folder: Path, chat_template: str | None) -> str:
    """A word-level tokenizer (one token per word) saved to `folder`, with the given chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<s>", "</s>", "hello", "world", "again"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return str(folder)


CONVERSATION = [{"role": "system", "content": "hello"}, {"role": "user", "content": "hello world"},
                {"role": "assistant", "content": "world again"}]


def test_the_target_tokenizer_counts_through_its_chat_template(tmp_path, caplog):
    # Template: "<s> content </s>" a turn: 2 tokens of markup, not the 3 assumed without a template.
    templated = TokenCounter(hf_tokenizer=_word_tokenizer(
        tmp_path / "templated", "{% for m in messages %}<s> {{ m['content'] }} </s> {% endfor %}"))
    assert templated.count_conversations([CONVERSATION]) == [(1 + 2) + (2 + 2) + (2 + 2)]
    plain = TokenCounter(hf_tokenizer=_word_tokenizer(tmp_path / "plain", None))
    assert plain.count_conversations([CONVERSATION, CONVERSATION[1:]]) == [5 + 3 * 3, 4 + 3 * 2]
    # A template that refuses the system turn (as Gemma's do) is reported, and the turns counted.
    refusing = TokenCounter(hf_tokenizer=_word_tokenizer(
        tmp_path / "refusing",
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "<s> {{ m['content'] }} </s> {% endfor %}"))
    with caplog.at_level(logging.WARNING, logger="raft_dataset.stats"):
        assert refusing.count_conversations([CONVERSATION]) == [5 + 3 * 3]
    assert "no system role" in caplog.text and "counting the turns instead" in caplog.text


def test_statistics_count_the_rows_longer_than_max_seq_length(caplog):
    def row(n: int) -> dict:
        return {"input_tokens": n - 10, "output_tokens": 5, "total_tokens": n - 5, "sequence_tokens": n}

    splits = {"train": [row(100), row(2048), row(2049), row(5000)], "test": [row(300)]}
    with caplog.at_level(logging.WARNING, logger="raft_dataset.stats"):
        stats = split_statistics(splits, max_seq_length=2048)
    assert stats["train"][OVER_MAX_SEQ_LENGTH] == 2 and stats["test"][OVER_MAX_SEQ_LENGTH] == 0
    assert stats["train"]["sequence"]["max"] == 5000 and stats["test"]["sequence"]["total"] == 300
    line = long_rows_line(stats, 2048)
    assert line.startswith("rows longer than max_seq_length 2048: 2 of 5 (train 2); a trainer truncates them")
    assert caplog.messages == [line]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="raft_dataset.stats"):
        stats = split_statistics(splits, max_seq_length=5000)
    assert long_rows_line(stats, 5000) == "rows longer than max_seq_length 5000: 0 of 5" and caplog.messages == []
    assert "sequence" not in split_statistics(splits)["train"]  # without the setting: as before


def test_max_seq_length_is_a_documented_setting():
    assert RaftDatasetConfig().max_seq_length == 2048
    assert "max_seq_length: The trainer's sequence length" in RaftDatasetConfig.__doc__


# -- JSON lines ---------------------------------------------------------------------------------

EXPECTED_RECORDS = {
    "alpaca": {"instruction": INSTRUCTION, "input": INPUT, "output": OUTPUT, "system": SYSTEM},
    "sharegpt": {"conversations": [{"from": "system", "value": SYSTEM}, {"from": "human", "value": USER},
                                   {"from": "gpt", "value": OUTPUT}]},
    "openai": {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER},
                            {"role": "assistant", "content": OUTPUT}]},
}


@pytest.mark.parametrize("style", sorted(EXPECTED_RECORDS))
def test_each_jsonl_style_writes_the_exact_record(style, tmp_path):
    path = tmp_path / f"{style}.jsonl"
    assert write_jsonl([_answered_row(), _answered_row()], path, style=style) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [EXPECTED_RECORDS[style]] * 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


def test_every_jsonl_style_reads_back_as_the_row(tmp_path):
    import datasets

    row = _answered_row()
    for style in ("alpaca", "sharegpt", "openai"):
        write_jsonl([row], tmp_path / f"{style}.jsonl", style=style)
    # ShareGPT, as LLaMA-Factory reads it with its default sharegpt tags (from/value, human/gpt/system).
    (sharegpt,) = _llama_factory_reads(tmp_path, {"file_name": "sharegpt.jsonl", "formatting": "sharegpt"},
                                       tmp_path / "hf")
    assert sharegpt == {"system": SYSTEM, "prompt": [USER], "response": OUTPUT}
    # OpenAI chat: TRL's conversational format as it is.
    (openai,) = datasets.load_dataset("json", data_files=str(tmp_path / "openai.jsonl"), split="train",
                                      cache_dir=str(tmp_path / "hf"))
    assert openai == {"messages": row["messages"]}
    (alpaca,) = datasets.load_dataset("json", data_files=str(tmp_path / "alpaca.jsonl"), split="train",
                                      cache_dir=str(tmp_path / "hf"))
    assert alpaca == {"instruction": row["instruction"], "input": row["input"], "output": row["output"],
                      "system": row["messages"][0]["content"]}


def test_a_failed_export_keeps_the_previous_file(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("previous\n", encoding="utf-8")

    def rows():
        yield _answered_row()
        raise KeyboardInterrupt  # Ctrl-C halfway through

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(rows(), path, style="openai")
    with pytest.raises(FormatError, match=r"^row 2: no 'messages' field, which the sharegpt style needs$"):
        write_jsonl([_answered_row(), {"id": "x"}], path, style="sharegpt")
    with pytest.raises(FormatError, match=r"^format: unknown style 'chatml' \(choose from alpaca, sharegpt, openai\)$"):
        write_jsonl([_answered_row()], path, style="chatml")
    assert path.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]


# -- a built folder: LLaMA-Factory and `raft-dataset export` ----------------------------------


@pytest.fixture(scope="module")
def built_folder(tmp_path_factory):
    config = RaftDatasetConfig(corpus=str(DOCS), embedding_cache="", num_distractors=1, min_query_similarity=-1.0,
                               splits={"train": 0.6, "test": 0.4})
    result = build_raft_dataset(config, encoder=HashingEncoder(), show_progress=False)
    folder = export.write_dataset_folder(result, tmp_path_factory.mktemp("built") / "out")
    export.write_llama_factory_info(folder)
    return folder, result


# LLaMA-Factory's sharegpt tags and their defaults (src/llamafactory/data/parser.py, `DatasetAttr`); an
# entry's "tags" object replaces all of them (`set_attr(tag, tags)`: a tag it leaves out becomes None).
_LLAMA_FACTORY_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                       "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
_LLAMA_FACTORY_FILE_TYPES = {"parquet": "parquet", "jsonl": "json", "json": "json"}  # FILEEXT2TYPE, in part


def _llama_factory_reads(dataset_dir: Path, entry: dict, cache_dir: Path) -> list[dict]:
    """What LLaMA-Factory's loader makes of one dataset_info.json entry, as its data/README and
    parser/converter describe it: the file under `dataset_dir` loaded by its extension, then each row's
    messages column read with the tags (a first turn with `system_tag` is the system prompt; then user
    and assistant turns alternate, an even count) into system, prompt turns and response."""
    import datasets

    assert set(entry) <= {"file_name", "formatting", "columns", "tags", "split", "ranking", "subset", "folder"}
    assert entry["formatting"] == "sharegpt" and not entry.get("ranking", False)
    columns = {"messages": "conversations", **entry.get("columns", {})}
    tags = {name: entry["tags"].get(name) for name in _LLAMA_FACTORY_TAGS} if "tags" in entry else _LLAMA_FACTORY_TAGS
    path = dataset_dir / entry["file_name"]
    assert path.is_file()
    rows = datasets.load_dataset(_LLAMA_FACTORY_FILE_TYPES[path.suffix.lstrip(".")], data_files=[str(path)],
                                 split=entry.get("split", "train"), cache_dir=str(cache_dir))
    read = []
    for row in rows:
        messages = row[columns["messages"]]
        system = ""
        if tags["system_tag"] and messages and messages[0][tags["role_tag"]] == tags["system_tag"]:
            system, messages = messages[0][tags["content_tag"]], messages[1:]
        accepted = ((tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"]))
        assert all(m[tags["role_tag"]] in accepted[i % 2] for i, m in enumerate(messages)), "invalid role tag"
        assert len(messages) % 2 == 0, "invalid message count"
        read.append({"system": system, "prompt": [m[tags["content_tag"]] for m in messages[:-1]],
                     "response": messages[-1][tags["content_tag"]]})
    return read


def test_llama_factory_dataset_info_reads_every_split(built_folder, tmp_path):
    folder, result = built_folder
    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
            "system_tag": "system"}
    built = [name for name, rows in result.splits.items() if rows]
    assert built == ["train", "test"]
    assert info == {
        f"raft_{split}": {"file_name": f"data/{split}-00000-of-00001.parquet", "formatting": "sharegpt",
                          "columns": {"messages": "messages"}, "tags": tags}
        for split in built
    }
    for split in built:
        read = _llama_factory_reads(folder, info[f"raft_{split}"], tmp_path)
        assert read == [{"system": row["prompt"][0]["content"], "prompt": [row["prompt"][1]["content"]],
                         "response": row["completion"][0]["content"]} for row in result.splits[split]]


def test_the_folder_still_loads_with_datasets(built_folder, tmp_path):
    import datasets

    folder, result = built_folder
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf"))
    assert {name: len(ds) for name, ds in loaded.items()} == {"train": len(result.splits["train"]),
                                                              "test": len(result.splits["test"])}
    assert loaded["train"][0]["completion"] == result.splits["train"][0]["completion"]


def test_export_command_writes_a_split_and_names_what_is_wrong(built_folder, tmp_path, capsys):
    folder, result = built_folder
    out = tmp_path / "test.jsonl"
    assert main(["export", str(folder), "--format", "openai", "--split", "test", "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records == [openai_record(row) for row in result.splits["test"]]
    assert capsys.readouterr().out == f"wrote {len(records)} test rows as openai JSON lines to {out}\n"

    assert main(["export", str(folder), "--format", "alpaca", "--split", "validation", "--output", str(out)]) == 2
    assert capsys.readouterr().err == (f"raft-dataset: error: {folder}: no split 'validation' (it has: test, train)\n")
    assert main(["export", str(tmp_path), "--format", "alpaca", "--output", str(out)]) == 2
    assert "not a built raft-dataset folder (no data/*.parquet shards)" in capsys.readouterr().err
    assert main(["export", str(folder), "--format", "chatml", "--output", str(out)]) == 2
    assert "invalid choice: 'chatml'" in capsys.readouterr().err
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == records  # untouched
