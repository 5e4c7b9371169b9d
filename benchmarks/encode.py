"""Encoder speed and retrieval quality per precision, against sentence-transformers, in one run.

Encodes the same SQuAD v1.1 dev passages (a seeded sample of paragraphs, embedded as title + "\\n" +
text like a build's chunks) with `SentenceTransformer(path).encode` (float32) and with
`raft_dataset.encoding.Encoder` in float32, bfloat16 and int8; warm-up first, repeats alternating so
all see the same machine load, best run counted. Then ranks the sampled paragraphs for SQuAD questions
whose paragraph is in the sample (exact inner product, each encoder's own query vectors) and scores
nDCG@10 with trec_eval. Prints tokens/s, the speed ratio to sentence-transformers, nDCG@10, its loss
against ours float32 and the least cosine to float32 vectors, and the load average (the machine is
shared). Exits 1 if ours float32 differs from sentence-transformers by >= 1e-4.

    python benchmarks/encode.py                           # 1000 paragraphs, 2000 questions, 3 repeats
    python benchmarks/encode.py --docs 0 --queries 0      # all 2,067 paragraphs and 10,570 questions
    python benchmarks/encode.py --force-bf16              # bf16 autocast even where it is emulated

Targets (issue 13): int8 or bf16 >= 1.8x sentence-transformers at <= 0.005 nDCG@10 loss; ours float32
no slower than sentence-transformers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from raft_dataset import encoding  # noqa: E402
from raft_dataset.encoding import Encoder, default_encoder_path  # noqa: E402
from raft_dataset.evaluation import read_beir_corpus, read_beir_queries, read_qrels, score_rankings  # noqa: E402
from raft_dataset.index import passage_text  # noqa: E402

DEFAULT_SQUAD = REPO.parent / "shared" / "eval" / "squad_v1.1_dev"
MAX_DIFF = 1e-4
TARGET_SPEEDUP, MAX_NDCG_LOSS = 1.8, 0.005


def load_squad(folder: Path, n_docs: int, n_queries: int, seed: int):
    """(doc ids, passages, query ids, questions, qrels): a seeded sample of `n_docs` paragraphs (0 = all)
    and of `n_queries` questions (0 = all) whose relevant paragraph is in that sample."""
    docs = list(read_beir_corpus(folder / "corpus.jsonl"))
    rng = random.Random(seed)
    if n_docs and n_docs < len(docs):
        docs = rng.sample(docs, n_docs)
    kept = {d.doc_id for d in docs}
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    questions = read_beir_queries(folder / "queries.jsonl")
    judged = sorted(q for q, rels in qrels.items() if any(s > 0 and d in kept for d, s in rels.items()))
    if n_queries and n_queries < len(judged):
        judged = sorted(rng.sample(judged, n_queries))
    return ([d.doc_id for d in docs], [passage_text(d.title, d.text) for d in docs], judged,
            [questions[q] for q in judged], {q: qrels[q] for q in judged})


def ndcg_at_10(doc_vectors: np.ndarray, query_vectors: np.ndarray, doc_ids: list[str], query_ids: list[str],
               qrels: dict) -> float:
    """Mean nDCG@10 of exact inner-product rankings (documents are single paragraphs)."""
    scores = query_vectors @ doc_vectors.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    rankings = {q: [doc_ids[i] for i in row] for q, row in zip(query_ids, top, strict=True)}
    per_query = score_rankings(rankings, qrels)
    return float(np.mean([m["ndcg@10"] for m in per_query.values()]))


def timed(fn: Callable[[], np.ndarray], timings: list[float]) -> np.ndarray:
    start = time.perf_counter()
    result = fn()
    timings.append(time.perf_counter() - start)
    return result


def make_encoders(model: str, args) -> tuple[dict[str, tuple[Callable, Callable]], Encoder]:
    """(name -> (encode passages, encode queries) for each contender that can run here, ours float32)."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu")
    contenders: dict[str, tuple[Callable, Callable]] = {
        "sentence-transformers float32": (
            lambda texts: st.encode(texts, batch_size=args.st_batch_size, convert_to_numpy=True),
            lambda texts: st.encode(texts, batch_size=args.st_batch_size, convert_to_numpy=True)),
    }
    for dtype in encoding.ENCODER_DTYPES:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                if dtype == "bfloat16" and args.force_bf16:  # pretend the CPU is native: measures emulation
                    native, encoding.native_bfloat16 = encoding.native_bfloat16, lambda device: True
                    try:
                        ours = Encoder(model, dtype=dtype)
                    finally:
                        encoding.native_bfloat16 = native
                else:
                    ours = Encoder(model, dtype=dtype)
        except ValueError as err:  # int8 without the onnx extra
            print(f"ours {dtype}: skipped ({err})")
            continue
        name = f"ours {dtype}" + (" (ran float32: no native bf16 here)" if ours.dtype != dtype else "")
        if caught and ours.dtype != dtype:
            print(f"note: {caught[0].message}")
        contenders[name] = (lambda texts, e=ours: e.encode(texts, prompt_name="document"),
                            lambda texts, e=ours: e.encode(texts, prompt_name="query"))
        if dtype == "float32":
            reference = ours
    return contenders, reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", default=str(DEFAULT_SQUAD), help="BEIR folder of SQuAD v1.1 dev")
    parser.add_argument("--model", default=None, help="encoder id or path (default: embedded MiniLM)")
    parser.add_argument("--docs", type=int, default=1000, help="paragraphs, seeded sample (0 = all)")
    parser.add_argument("--queries", type=int, default=2000, help="questions, seeded sample (0 = all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each encoder")
    parser.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers batch size")
    parser.add_argument("--force-bf16", action="store_true", help="bf16 autocast even without native bf16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    model = args.model or default_encoder_path()
    doc_ids, passages, query_ids, questions, qrels = load_squad(Path(args.squad), args.docs, args.queries, args.seed)
    load_before = os.getloadavg()
    contenders, reference = make_encoders(model, args)
    n_tokens = sum(len(ids) for ids in reference.tokenizer(passages, truncation=True, max_length=reference.max_length,
                                                            return_attention_mask=False)["input_ids"])
    print(f"{len(passages)} passages, {n_tokens:,} tokens, {len(questions)} questions; torch threads "
          f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}; model {model}")

    for encode_passages, _ in contenders.values():  # warm-up (and the int8 session's first allocation)
        encode_passages(passages[:64])
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.repeats)):  # alternate so all see the same background load
        for name, (encode_passages, _) in contenders.items():
            vectors[name] = timed(lambda f=encode_passages: f(passages), timings[name])
    load_after = os.getloadavg()

    st_name, fp32_name = "sentence-transformers float32", "ours float32"
    st_best = min(timings[st_name])
    quality = {name: ndcg_at_10(vectors[name], encode_queries(questions), doc_ids, query_ids, qrels)
               for name, (_, encode_queries) in contenders.items()}
    width = max(map(len, contenders))
    print(f"{'encoder':<{width}}  {'tokens/s':>9}  {'vs ST':>6}  {'nDCG@10':>7}  {'loss':>7}  {'min cos':>7}  runs (s)")
    for name in contenders:
        best = min(timings[name])
        cosine = float(np.min(np.sum(vectors[name] * vectors[fp32_name], axis=1))) if fp32_name in vectors else 1.0
        print(f"{name:<{width}}  {n_tokens / best:9.0f}  {st_best / best:5.2f}x  {quality[name]:7.4f}  "
              f"{quality[fp32_name] - quality[name]:+7.4f}  {cosine:7.4f}  {', '.join(f'{t:.1f}' for t in timings[name])}")
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on "
          f"{os.cpu_count()} cores (shared machine)")

    diff = float(np.abs(vectors[fp32_name] - vectors[st_name]).max())
    print(f"ours float32 vs sentence-transformers: max abs diff {diff:.2e} ({'ok' if diff < MAX_DIFF else 'FAIL'}); "
          f"speed {st_best / min(timings[fp32_name]):.2f}x ({'ok' if min(timings[fp32_name]) <= st_best else 'slower'})")
    for name in contenders:
        if name.startswith(("ours bfloat16", "ours int8")) and "ran float32" not in name:
            speedup, loss = st_best / min(timings[name]), quality[fp32_name] - quality[name]
            met = speedup >= TARGET_SPEEDUP and loss <= MAX_NDCG_LOSS
            print(f"target {name}: {speedup:.2f}x ST (>= {TARGET_SPEEDUP}), nDCG@10 loss {loss:+.4f} "
                  f"(<= {MAX_NDCG_LOSS}): {'met' if met else 'not met'}")
    return 0 if diff < MAX_DIFF else 1


if __name__ == "__main__":
    sys.exit(main())
