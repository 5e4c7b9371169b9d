import numpy as np

from raft_dataset.contexts import ContextSettings, assemble_context, sample_rng


def _corpus(n_docs=30, chunks_per_doc=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_docs * chunks_per_doc, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    doc_codes = np.repeat(np.arange(n_docs), chunks_per_doc)
    return vectors, doc_codes


def _draw(vectors, doc_codes, oracle, settings, seed):
    query = vectors[oracle]
    ranked = np.argsort(-(vectors @ query))[:50]
    def exclusion(rows):
        return ["near_copy" if s >= 0.92 else None for s in vectors[rows] @ vectors[oracle]]

    return assemble_context(oracle, ranked.tolist(), doc_codes, exclusion, settings, sample_rng(seed, oracle))


def test_distractors_exclude_oracle_document_and_near_copies():
    vectors, doc_codes = _corpus()
    # Chunk 40 (document 10) is a near copy of the oracle (chunk 0): it must never be a distractor.
    vectors[40] = vectors[0] + 0.01
    vectors[40] /= np.linalg.norm(vectors[40])
    settings = ContextSettings(num_distractors=4, oracle_probability=1.0)
    for seed in range(50):
        context = _draw(vectors, doc_codes, 0, settings, seed)
        distractors = [r for r in context.rows if r != 0]
        assert len(distractors) == 4 and 0 in context.rows
        assert all(doc_codes[r] != doc_codes[0] for r in distractors)
        assert 40 not in distractors
        assert (40, "near_copy") in context.excluded  # and the row says why it was kept out
        assert context.rows[context.oracle_position] == 0


def test_hard_negatives_come_from_the_ranking_and_random_ones_fill_the_rest():
    vectors, doc_codes = _corpus()
    settings = ContextSettings(num_distractors=4, hard_negative_ratio=0.5, oracle_probability=1.0)
    context = _draw(vectors, doc_codes, 0, settings, 1)
    ranked = [int(r) for r in np.argsort(-(vectors @ vectors[0])) if doc_codes[r] != 0]
    assert context.hard_negatives == 2
    assert set(ranked[:2]) <= set(context.rows)


def test_oracle_kept_with_probability_p_and_replaced_when_absent():
    vectors, doc_codes = _corpus()
    settings = ContextSettings(num_distractors=3, oracle_probability=0.8)
    draws = [_draw(vectors, doc_codes, o, settings, s) for o in range(0, 120, 4) for s in range(20)]
    present = np.mean([c.oracle_present for c in draws])
    assert 0.75 < present < 0.85
    for c in draws:
        assert len(c.rows) == 4  # the oracle's place goes to one more distractor when it is absent
        assert (c.oracle_position >= 0) == c.oracle_present == (c.oracle_row in c.rows)


def test_same_seed_same_context_and_order_is_shuffled():
    vectors, doc_codes = _corpus()
    settings = ContextSettings(oracle_probability=1.0)
    assert _draw(vectors, doc_codes, 8, settings, 3) == _draw(vectors, doc_codes, 8, settings, 3)
    positions = {_draw(vectors, doc_codes, 8, settings, s).oracle_position for s in range(40)}
    assert len(positions) == 5  # the oracle lands in every slot


def test_tiny_corpus_gives_fewer_distractors_without_failing():
    vectors, doc_codes = _corpus(n_docs=2, chunks_per_doc=2)
    context = _draw(vectors, doc_codes, 0, ContextSettings(num_distractors=4, oracle_probability=1.0), 0)
    assert sorted(context.rows) == [0, 2, 3]


def test_the_oracle_stays_when_no_distractor_is_acceptable():
    """fastapi_docs: "What is the directory structure?" drew the oracle out and every other chunk was kept out
    as likely holding the answer: the row had no document at all. It keeps its oracle instead."""
    vectors, doc_codes = _corpus()
    ranked = np.argsort(-(vectors @ vectors[0]))[:50].tolist()
    all_near = lambda rows: ["scored_near_oracle"] * len(rows)  # noqa: E731
    drawn_out = ContextSettings(num_distractors=4, oracle_probability=0.5)
    seed = next(s for s in range(50) if not assemble_context(
        0, ranked, doc_codes, lambda rows: [None] * len(rows), drawn_out, sample_rng(s, 0)).oracle_present)
    context = assemble_context(0, ranked, doc_codes, all_near, drawn_out, sample_rng(seed, 0))
    assert context.rows == [0] and context.oracle_present and context.oracle_position == 0 and context.oracle_forced
    assert {reason for _, reason in context.excluded} == {"scored_near_oracle"}
    assert {row for row, _ in context.excluded} >= {r for r in ranked if doc_codes[r] != doc_codes[0]}
    # With p = 0 the oracle is never shown: the context stays empty, for the caller to drop.
    never = ContextSettings(num_distractors=4, oracle_probability=0.0)
    empty = assemble_context(0, ranked, doc_codes, all_near, never, sample_rng(seed, 0))
    assert empty.rows == [] and not empty.oracle_present and not empty.oracle_forced
    # With one acceptable distractor the oracle is drawn out as p says.
    only_one = assemble_context(0, ranked, doc_codes, lambda rows: [None if r == 9 else "x" for r in rows], never,
                                sample_rng(1, 0))
    assert only_one.rows == [9] and not only_one.oracle_present and not only_one.oracle_forced
