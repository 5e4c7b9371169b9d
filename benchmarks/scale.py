"""Time and peak memory per chunk of a whole build, local vs Ray executor, as the corpus grows.

Writes a synthetic Markdown corpus of about N chunks (files of 50 sections, one ~150-token chunk per
section, deterministic words) for each size, then builds it once with `executor: local` and once
with `executor: ray` (a local Ray instance with `--cpus` CPUs, started before the clock), each in a
fresh process. Questions are capped (`max_queries`), so what grows with N is the corpus work: reading,
chunking, encoding, the Arrow store, FAISS and BM25. The encoder is the real `Encoder` class over
either a tiny random-weight BERT built here (`--encoder tiny`, the default: pipeline cost, not model
cost) or the embedded all-MiniLM-L6-v2 (`--encoder minilm`: real encoding throughput).

Per build it prints wall time, the index stage's time (read + chunk + encode + index + BM25), both per
chunk, the seconds of every stage (a line below), and peak memory: of the driver process, and of the driver plus every process it started
(the Ray raylet, object store and workers; shared pages are counted once per process that touches
them, so that figure is an upper bound). Then, per executor, how time and memory per chunk change
from the smallest to the largest size (1.0 = linear).

    python benchmarks/scale.py --sizes 10000 40000            # this shared 2-core machine
    python benchmarks/scale.py                                # 10k, 40k and 160k chunks
    python benchmarks/scale.py --sizes 2000 --encoder minilm  # real encoder throughput
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTIONS_PER_FILE = 50
WORDS_PER_SECTION = 110
_VOCABULARY_TEXT = """
scheduler job retry timeout backoff plugin hook config table value default path file log level rotate history
exit status signal daemon socket worker queue lock window cron interval token cache index shard replica leader
follower snapshot compaction manifest schema column partition bucket stream batch offset cursor commit rollback
migration adapter router handler request response header cookie session tenant
"""
VOCABULARY = _VOCABULARY_TEXT.split()


def write_corpus(directory: Path, chunks: int) -> int:
    """Markdown files with `SECTIONS_PER_FILE` sections each, about one chunk per section; returns
    the number of files."""
    import numpy as np

    rng = np.random.default_rng(0)
    files = max(1, round(chunks / SECTIONS_PER_FILE))
    directory.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        parts = [f"# Service {f}\n"]
        for s in range(SECTIONS_PER_FILE):
            words = rng.choice(VOCABULARY, size=(WORDS_PER_SECTION + 2))
            body = " ".join(words[2:])
            parts.append(f"## How do I configure the {words[0]} {words[1]} {f}-{s}?\n\n{body.capitalize()}.\n")
        (directory / f"service_{f:05d}.md").write_text("\n".join(parts), encoding="utf-8")
    return files


def build_tiny_encoder(directory: Path) -> Path:
    """A 1-layer, 64-dimension BERT with the embedded model's tokenizer (random weights)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from raft_dataset.encoding import default_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


class TreePeak:
    """Peak RSS (MB) of this process and of it plus all its descendants, sampled every 50 ms."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self.own = self.tree = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        own = self._me.memory_info().rss
        tree = own
        for child in self._me.children(recursive=True):
            try:
                tree += child.memory_info().rss
            except psutil.Error:
                continue  # exited between listing and reading
        self.own, self.tree = max(self.own, own / 2**20), max(self.tree, tree / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> TreePeak:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def measure(corpus: str, executor: str, encoder_path: str | None, cpus: int) -> dict:
    """In a child process: one whole build; wall time, stage times and peak memory."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from raft_dataset.config import RaftDatasetConfig
    from raft_dataset.encoding import Encoder
    from raft_dataset.pipeline import build_raft_dataset

    ray_start = 0.0
    if executor == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        ray_start = time.perf_counter() - started
    config = RaftDatasetConfig(corpus=corpus, encoder=encoder_path, embedding_cache="", executor=executor,
                               max_queries=100, num_distractors=2, min_query_similarity=-1.0, seed=1)
    encoder = Encoder(encoder_path, batch_size=config.encode_batch_size)
    with TreePeak() as peak:
        started = time.perf_counter()
        result = build_raft_dataset(config, encoder=encoder, show_progress=False)
        wall = time.perf_counter() - started
    if executor == "ray":
        ray.shutdown()
    return {"executor": executor, "chunks": result.counts["chunks"], "samples": result.counts["samples"],
            "wall_s": wall, "index_s": result.timings["index"], "stages_s": result.timings, "ray_start_s": ray_start,
            "driver_peak_mb": peak.own, "tree_peak_mb": peak.tree,
            "driver_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000, 160_000])
    parser.add_argument("--executors", nargs="+", choices=("local", "ray"), default=["local", "ray"])
    parser.add_argument("--encoder", choices=("tiny", "minilm"), default="tiny")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        corpus, executor, encoder_path, cpus = args.child
        print(json.dumps(measure(corpus, executor, encoder_path or None, int(cpus))))
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="raft_scale_") as tmp:
        encoder_path = str(build_tiny_encoder(Path(tmp) / "tiny-encoder")) if args.encoder == "tiny" else ""
        print(f"{'executor':>8} {'chunks':>7} {'wall s':>7} {'index s':>8} {'ms/chunk':>9} {'index ms/chunk':>15} "
              f"{'driver MB':>10} {'tree MB':>8} {'KB/chunk':>9}", flush=True)
        for n in args.sizes:
            corpus = Path(tmp) / f"corpus_{n}"
            write_corpus(corpus, n)
            for executor in args.executors:
                out = subprocess.run([sys.executable, __file__, "--child", str(corpus), executor, encoder_path,
                                      str(args.cpus)], capture_output=True, text=True, cwd=REPO)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
                row = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(row)
                c = row["chunks"]
                print(f"{executor:>8} {c:>7} {row['wall_s']:>7.1f} {row['index_s']:>8.1f} {1000 * row['wall_s'] / c:>9.2f} "
                      f"{1000 * row['index_s'] / c:>15.2f} {row['driver_peak_mb']:>10.0f} {row['tree_peak_mb']:>8.0f} "
                      f"{1024 * row['tree_peak_mb'] / c:>9.1f}", flush=True)
                stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in row["stages_s"].items())
                print(f"{'':>8} seconds per stage: {stages}", flush=True)
    if len(args.sizes) > 1:
        for executor in args.executors:
            rows = [r for r in results if r["executor"] == executor]
            small, large = rows[0], rows[-1]
            grow = large["chunks"] / small["chunks"]
            time_ratio = (large["index_s"] / small["index_s"]) / grow
            memory_ratio = (large["tree_peak_mb"] / small["tree_peak_mb"]) / grow
            print(f"{executor}: {small['chunks']} -> {large['chunks']} chunks (x{grow:.1f}): index time per chunk "
                  f"x{time_ratio:.2f}, peak memory per chunk x{memory_ratio:.2f} (1.00 = linear; memory has a "
                  f"fixed base, so below 1 until the per-chunk part dominates)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
