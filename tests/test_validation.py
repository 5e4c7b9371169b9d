import dataclasses

import numpy as np
import pytest

from raft_dataset.answers import AnswerRequest, ExtractiveAnswerGenerator
from raft_dataset.records import Chunk, Sample
from raft_dataset.validation import near_duplicate_mask, sample_fingerprint, sample_problem

TEXT = (
    "Can I delete the system Python?\n\n"
    "No. The operating system depends on the system Python, and removing it breaks package managers.\n\n"
    "| Mode | Resolution |\n| --- | --- |\n| VGA | 640 x 480 |"
)
ORACLE = Chunk("faq.md#0", "faq.md", "FAQ > System Python", TEXT, 0, len(TEXT), 40)
QUESTION = "Can I delete the system Python?"
LIMITS = {"min_query_similarity": 0.2, "max_sample_tokens": 1000}


def _sample(output: str, **changes) -> Sample:
    sample = Sample(
        id="s1", question=QUESTION, reference_answer=None, query_origin="sentence", oracle_chunk_id=ORACLE.chunk_id,
        oracle_doc_id=ORACLE.doc_id, oracle_title=ORACLE.title,
        oracle_text=ORACLE.text, oracle_present=True, oracle_position=0, oracle_choice="gold_chunk", oracle_rank=0,
        oracle_retrieved=True, oracle_confidence=0.3, retrievers_agree=True,
        query_oracle_similarity=0.8, instruction=f"Answer the question.\n\nQuestion: {QUESTION}",
        input=f"<DOCUMENT>\nTitle: {ORACLE.title}\n{TEXT}\n</DOCUMENT>", output=output, total_tokens=300,
        oracle=ORACLE, context=[ORACLE],
    )
    return dataclasses.replace(sample, **changes)


def _output(answer: str, quote: str = "No. The operating system depends on the system Python") -> str:
    return f'Document 1 ("FAQ > System Python") says:\n##begin_quote##{quote}##end_quote##\n<ANSWER>: {answer}'


def test_generated_sample_passes():
    (answer,) = ExtractiveAnswerGenerator().generate([AnswerRequest(QUESTION, ORACLE, [ORACLE])])
    assert sample_problem(_sample(answer.output), **LIMITS) is None


@pytest.mark.parametrize("changes, reason", [
    ({"output": _output("Can I delete the system Python?")}, "answer_restates_question"),
    ({"output": _output("System Python")}, "answer_restates_question"),  # the title's last part
    # judged against what is asked: the product's name added to the question is no term the answer must cover
    ({"question": "Can I delete the system Python in Tidepool?", "unscoped_question": QUESTION,
      "output": _output("Delete the system Python.")}, "answer_restates_question"),
    ({"output": _output("| VGA | 640 x 480 |", quote="| VGA | 640 x 480 |")}, "answer_not_a_sentence"),
    ({"output": _output("No.")}, "answer_not_a_sentence"),
    ({"output": _output("No, see [the FAQ](faq.md).")}, "markup_in_output"),
    ({"question": "Can I delete the **system** Python?"}, "markup_in_output"),
    ({"output": _output("No.", quote="It is deleted.")}, "quote_not_in_oracle"),
    ({"output": "No, it breaks package managers."}, "missing_answer_marker"),
    ({"output": "  "}, "missing_output"),
    ({"instruction": ""}, "missing_instruction"),
    ({"oracle": None}, "missing_oracle"),
    ({"query_oracle_similarity": 0.1}, "low_query_oracle_similarity"),
    ({"total_tokens": 1001}, "over_token_budget"),
])
def test_each_rejection_is_named(changes, reason):
    good = _sample(_output("No. The operating system depends on the system Python, and removing it breaks it."))
    assert sample_problem(good, **LIMITS) is None
    assert sample_problem(dataclasses.replace(good, **changes), **LIMITS) == reason


def test_reference_answer_is_kept_even_when_short():
    sample = _sample(_output("No."), reference_answer="No.")
    assert sample_problem(sample, **LIMITS) is None


def test_fingerprint_reads_samples_and_rows_alike():
    sample = _sample(_output("No, it is needed by the system."))
    row = {"instruction": sample.instruction, "input": sample.input, "output": sample.output}
    assert sample_fingerprint(sample) == sample_fingerprint(row)
    assert sample_fingerprint(sample) != sample_fingerprint(dataclasses.replace(sample, output="other"))


def test_near_duplicate_questions_are_dropped_greedily_in_order():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 16)).astype(np.float32)
    vectors = np.concatenate([base, base[[1]] + 0.01, base[[3]] * 2])  # a paraphrase of 1, a copy of 3
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert near_duplicate_mask(vectors, 0.95).tolist() == [False] * 5 + [True, True]
    assert not near_duplicate_mask(vectors, 1.01).any()


def test_near_duplicates_are_judged_on_what_the_questions_ask():
    # "What are themes in Quillmate Pro Editor Suite?" and "What are plugins in ..." share 7 words of 8 (cosine
    # 0.875 with bag-of-words vectors); what they ask, "What are themes?" and "What are plugins?", 2 of 3.
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.index import ChunkIndex
    from raft_dataset.pipeline import drop_near_duplicate_questions
    from raft_dataset.report import BuildReport
    from tests.fake_encoder import HashingEncoder

    index = ChunkIndex.build([ORACLE], HashingEncoder(dimension=4096), cache=None, show_progress_bar=False)
    config = RaftDatasetConfig(corpus="docs", near_duplicate_threshold=0.8)
    named = [_sample("", question=f"What are {topic} in Quillmate Pro Editor Suite?", unscoped_question=f"What are {topic}?")
             for topic in ("themes", "plugins")]
    assert drop_near_duplicate_questions(config, index, named, BuildReport()) == named
    as_written = [dataclasses.replace(s, unscoped_question=None) for s in named]
    assert drop_near_duplicate_questions(config, index, as_written, BuildReport()) == as_written[:1]
