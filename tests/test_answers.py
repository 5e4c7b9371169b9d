from raft_dataset.answers import AnswerRequest, ExtractiveAnswerGenerator, candidate_sentences, select_quotes
from raft_dataset.chunking import Chunk
from raft_dataset.raft_format import answer_problem, extract_quotes, final_answer

ORACLE_TEXT = """## Retries

When a job fails, Tidepool retries it with exponential backoff. The first retry waits 5 seconds and
each later one doubles the delay, up to a cap of **10 minutes**.

```toml
# retries are per job
retries = 3
```

Set `retries = 0` to disable retrying for a job.
"""


def _chunk(chunk_id, text, title="Guide > Retries"):
    return Chunk(chunk_id, chunk_id.split("#")[0], title, text, 0, len(text), 10)


ORACLE = _chunk("guide/retries.md#0", ORACLE_TEXT)
OTHER = _chunk("faq.md#3", "Logs are written to /var/log/tidepool by default.", "FAQ > Logs")


def test_sentences_are_exact_substrings_without_code_or_headings():
    spans = candidate_sentences(ORACLE_TEXT)
    sentences = [ORACLE_TEXT[a:b] for a, b in spans]
    assert "retries = 3" not in " ".join(sentences) and not any(s.startswith("#") for s in sentences)
    assert any(s.startswith("The first retry waits 5 seconds") for s in sentences)


def test_quotes_pick_the_relevant_sentence_and_reference_answer():
    choice = select_quotes("How long does the first retry wait?", ORACLE_TEXT)
    assert choice.best.startswith("The first retry waits 5 seconds") and choice.best in choice.quotes
    with_reference = select_quotes("How do I turn retries off?", ORACLE_TEXT, reference_answer="retries = 0")
    assert with_reference.quotes == ["Set `retries = 0` to disable retrying for a job."]
    assert select_quotes("Anything?", "```\ncode only\n```\n") is None


def test_semantic_selection_with_a_real_encoder():
    from raft_dataset.encoding import Encoder

    encoder = Encoder()
    generator = ExtractiveAnswerGenerator(embed=encoder.encode)
    request = AnswerRequest("How do I switch off retrying?", ORACLE, [ORACLE])
    (answer,) = generator.generate([request])
    # No word of the question but "retry" is shared; the encoder still finds the right sentence.
    assert "Set `retries = 0` to disable retrying for a job." in extract_quotes(answer.output)
    assert answer_problem(answer.output, ORACLE_TEXT) is None


def test_extractive_answer_is_valid_raft_format():
    generator = ExtractiveAnswerGenerator()
    request = AnswerRequest("How long does the first retry wait?", ORACLE, [OTHER, ORACLE])
    (answer,) = generator.generate([request])
    assert answer_problem(answer.output, ORACLE_TEXT) is None
    assert "Document 2" in answer.output
    assert all(q in ORACLE_TEXT.replace("\n", " ") or q in ORACLE_TEXT for q in extract_quotes(answer.output))
    with_reference = generator.answer(AnswerRequest("Cap?", ORACLE, [ORACLE], reference_answer="10 minutes"))
    assert final_answer(with_reference.output) == "10 minutes"


def test_absent_oracle_keep_or_refuse():
    request = AnswerRequest("How long does the first retry wait?", ORACLE, [OTHER])
    kept = ExtractiveAnswerGenerator("keep").answer(request)
    assert extract_quotes(kept.output) and answer_problem(kept.output, ORACLE_TEXT) is None
    refused = ExtractiveAnswerGenerator("refuse").answer(request)
    assert not extract_quotes(refused.output)
    assert final_answer(refused.output) == "The provided documents do not contain the answer to this question."


def test_quotes_in_other_languages():
    german = "## Wiederholungen\n\nÜber die Wartezeit entscheidet die Datei tidepool.toml. Die erste Wiederholung wartet 5 Sekunden.\n"
    chinese = "## 重试\n\n任务失败时会自动重试三次。每次重试之间等待五秒钟。日志保存在状态目录中。\n"
    for text, question in ((german, "Wie lange wartet die erste Wiederholung?"), (chinese, "重试之间等待多久？")):
        oracle = _chunk("x.md#0", text)
        (answer,) = ExtractiveAnswerGenerator().generate([AnswerRequest(question, oracle, [oracle])])
        assert answer.output is not None and answer_problem(answer.output, text) is None
    assert [german[a:b] for a, b in candidate_sentences(german)][0].startswith("Über die Wartezeit")
    assert len(candidate_sentences(chinese)) == 3
