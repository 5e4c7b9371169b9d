"""The built train split feeds TRL's SFTTrainer as it is (no glue code, no column mapping), and the
`prompt`/`completion` columns make it learn the answer alone: no loss on the documents."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _tiny_chat_model(texts):
    """A tiny causal LM and a tokenizer with a chat template, built from scratch (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    fast.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}</s>{% endgeneration %}"
        "{% else %}{{ m['content'] }}</s>{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )
    return LlamaForCausalLM(config), fast


@pytest.fixture(scope="module")
def train(tmp_path_factory, embedding_cache):
    import datasets

    import raft_dataset  # noqa: F401 - registers the "raft_dataset" builder with datasets
    from tests.conftest import EXAMPLE_CORPUS

    return datasets.load_dataset(
        "raft_dataset", data_files=str(EXAMPLE_CORPUS / "**" / "*"),
        cache_dir=str(tmp_path_factory.mktemp("hf")), embedding_cache=embedding_cache,
    )["train"]


def _sft_args(tmp_path, **overrides):
    from trl import SFTConfig

    settings = dict(
        output_dir=str(tmp_path / "sft"), max_steps=3, per_device_train_batch_size=2, learning_rate=1e-3,
        max_length=None, report_to=[], logging_steps=1, save_strategy="no", use_cpu=True,
        dataloader_num_workers=0, shuffle_dataset=False,
    )
    return SFTConfig(**{**settings, **overrides})


def _answer_spans(rows, tokenizer) -> list[tuple[int, int]]:
    """(where the answer starts, where the sequence ends) of each row, from the chat template alone:
    the prompt rendered with the generation prompt, and the whole conversation."""
    spans = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"]
        whole = tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=True)["input_ids"]
        assert whole[: len(prompt)] == prompt
        spans.append((len(prompt), len(whole)))
    return spans


def test_completion_only_loss_trains_on_the_answer_alone(train, tmp_path):
    from trl import SFTTrainer

    model, tokenizer = _tiny_chat_model([m["content"] for row in train for m in row["messages"]])
    before = [p.detach().clone() for p in model.parameters()]
    trainer = SFTTrainer(model=model, args=_sft_args(tmp_path, completion_only_loss=True), train_dataset=train,
                         processing_class=tokenizer)

    rows = [train[0], train[1]]
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    for i, (row, (start, end)) in enumerate(zip(rows, _answer_spans(rows, tokenizer))):
        labels, input_ids = batch["labels"][i].tolist(), batch["input_ids"][i].tolist()
        assert labels[:start] == [-100] * start  # system turn, question and documents: no loss
        assert labels[start:end] == input_ids[start:end]  # the answer and its end token: all of it
        assert set(labels[end:]) <= {-100}  # padding
        assert tokenizer.decode(labels[start:end]) == row["completion"][0]["content"] + "</s>"
        # The documents are most of the sequence: the loss is on a small share of it.
        assert (end - start) / end < 0.5

    output = trainer.train()
    assert output.global_step == 3
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert any(not p.equal(b) for p, b in zip(model.parameters(), before))


def test_assistant_only_loss_on_messages_masks_the_same_tokens(train, tmp_path):
    from trl import SFTTrainer

    model, tokenizer = _tiny_chat_model([m["content"] for row in train for m in row["messages"]])
    messages_only = train.select_columns(["messages"]).select(range(4))
    trainer = SFTTrainer(model=model, args=_sft_args(tmp_path, assistant_only_loss=True),
                         train_dataset=messages_only, processing_class=tokenizer)
    rows = [train[i] for i in range(4)]
    for prepared, (start, end) in zip(trainer.train_dataset, _answer_spans(rows, tokenizer)):
        labels = prepared["labels"]
        assert len(labels) == end and labels[:start] == [-100] * start
        assert labels[start:end] == prepared["input_ids"][start:end]
