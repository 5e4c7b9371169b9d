"""The built train split feeds TRL's SFTTrainer as it is: no glue code, no column mapping."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _tiny_chat_model(texts, tmp_path):
    """A tiny causal LM and a tokenizer with a chat template, built from scratch (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=specials))
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
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )
    return LlamaForCausalLM(config), fast


def test_sft_trainer_trains_on_the_train_split(tmp_path, embedding_cache):
    import datasets
    from trl import SFTConfig, SFTTrainer

    from tests.conftest import EXAMPLE_CORPUS

    train = datasets.load_dataset(
        "raft_dataset", data_files=str(EXAMPLE_CORPUS / "**" / "*"), cache_dir=str(tmp_path / "hf"),
        embedding_cache=embedding_cache,
    )["train"]
    model, tokenizer = _tiny_chat_model([m["content"] for row in train for m in row["messages"]], tmp_path)
    before = [p.detach().clone() for p in model.parameters()]
    args = SFTConfig(
        output_dir=str(tmp_path / "sft"), max_steps=3, per_device_train_batch_size=2, learning_rate=1e-3,
        max_length=1024, report_to=[], logging_steps=1, save_strategy="no", use_cpu=True,
        assistant_only_loss=True, dataloader_num_workers=0,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    output = trainer.train()
    assert output.global_step == 3
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert any(not p.equal(b) for p, b in zip(model.parameters(), before))
