"""Encoder speed and parity against sentence-transformers on real chunks.

Chunks a corpus exactly as a build does (read_corpus + chunk_document, passages embedded as
title + "\\n" + text), then encodes the same passages with `raft_dataset.encoding.Encoder` and with
`SentenceTransformer(path).encode(batch_size=...)`, warm-up first, alternating repeats so both see the
same machine load, best run counted. Prints chunks/s and tokens/s for each, the speed ratio ours/ST
and the max abs difference of the embeddings. Exits 1 if that difference is >= 1e-4.

    python benchmarks/encode.py                       # ../shared/corpora/fastapi_docs, 600 chunks
    python benchmarks/encode.py --corpus 'docs/**/*.md' --limit 0 --repeats 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from raft_dataset.chunking import chunk_document  # noqa: E402
from raft_dataset.corpus import read_corpus  # noqa: E402
from raft_dataset.encoding import Encoder, default_encoder_path  # noqa: E402
from raft_dataset.index import passage_text  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "fastapi_docs"
MAX_DIFF = 1e-4


def load_passages(corpus: str, tokenizer, chunk_size: int, chunk_overlap: int, limit: int, seed: int) -> list[str]:
    """Passage texts of the corpus chunks; a seeded sample of `limit` of them (0 = all)."""
    passages = [passage_text(c.title, c.text) for doc in read_corpus(corpus)
                for c in chunk_document(doc, tokenizer, chunk_size, chunk_overlap)]
    if limit and limit < len(passages):
        passages = random.Random(seed).sample(passages, limit)
    return passages


def timed(fn: Callable[[], np.ndarray], timings: list[float]) -> np.ndarray:
    start = time.perf_counter()
    result = fn()
    timings.append(time.perf_counter() - start)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="corpus directory or glob")
    parser.add_argument("--model", default=None, help="encoder id or path (default: embedded MiniLM)")
    parser.add_argument("--limit", type=int, default=600, help="chunks to encode, seeded sample (0 = all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each encoder")
    parser.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers batch size")
    parser.add_argument("--batch-size", type=int, default=None, help="our batch size (default: Encoder's)")
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--chunk-overlap", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    model = args.model or default_encoder_path()
    ours = Encoder(model) if args.batch_size is None else Encoder(model, batch_size=args.batch_size)
    theirs = SentenceTransformer(model, device="cpu")
    passages = load_passages(args.corpus, ours.tokenizer, args.chunk_size, args.chunk_overlap, args.limit, args.seed)
    if not passages:
        print(f"no chunks in {args.corpus}", file=sys.stderr)
        return 2
    n_tokens = sum(len(ids) for ids in ours.tokenizer(passages, truncation=True, max_length=ours.max_length,
                                                       return_attention_mask=False)["input_ids"])
    print(f"{len(passages)} chunks, {n_tokens:,} tokens (truncated at {ours.max_length}, special tokens "
          f"included), torch threads {torch.get_num_threads()}, model {model}")

    def run_ours() -> np.ndarray:
        return ours.encode(passages)

    def run_st() -> np.ndarray:
        return theirs.encode(passages, batch_size=args.st_batch_size, convert_to_numpy=True)

    warm = passages[:64]
    ours.encode(warm)
    theirs.encode(warm, batch_size=args.st_batch_size)
    ours_times: list[float] = []
    st_times: list[float] = []
    for _ in range(max(1, args.repeats)):  # alternate so both see the same background load
        ours_emb = timed(run_ours, ours_times)
        st_emb = timed(run_st, st_times)

    diff = float(np.abs(ours_emb - st_emb).max())
    rows = [("ours", min(ours_times), ours_times), (f"sentence-transformers (bs={args.st_batch_size})",
                                                     min(st_times), st_times)]
    width = max(len(name) for name, _, _ in rows)
    for name, best, times in rows:
        print(f"{name:<{width}}  {len(passages) / best:8.1f} chunks/s  {n_tokens / best:9.0f} tokens/s  "
              f"best {best:6.2f}s  runs {', '.join(f'{t:.2f}' for t in times)}")
    print(f"speed ratio ours/ST: {min(st_times) / min(ours_times):.2f}x")
    print(f"max abs diff: {diff:.2e} ({'ok' if diff < MAX_DIFF else 'FAIL'}, limit {MAX_DIFF:g})")
    return 0 if diff < MAX_DIFF else 1


if __name__ == "__main__":
    sys.exit(main())
