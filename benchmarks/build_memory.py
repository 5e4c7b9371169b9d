"""Peak memory of indexing grows with the corpus only through the index, not through its texts.

Indexes N synthetic chunks (about 800 characters each) for two corpus sizes, each in a fresh
process, and reports the growth of peak anonymous resident memory (heap and arrays; memory-mapped
Arrow files left out, the kernel can drop those pages) over the state just before. Two ways are
measured in the same run:

- streamed: chunks flow from a generator into `ChunkIndex.build` (what a build does);
- baseline: the same chunks first collected in a Python list (what a list-based pipeline does).

A tiny random-weight encoder (built here, 64 dimensions) keeps encoding time short; the memory
behaviour of the storage does not depend on the encoder. Prints, per size, the text volume, the
FAISS index size and each way's RSS growth, then the ratio of streamed to baseline growth between
the two sizes. Exits 1 if the streamed growth between sizes exceeds half the added text volume.

    python benchmarks/build_memory.py                  # 10k and 40k chunks
    python benchmarks/build_memory.py --sizes 5000 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIMENSION = 64
WORDS = [
    "scheduler",
    "job",
    "retry",
    "timeout",
    "backoff",
    "plugin",
    "hook",
    "config",
    "table",
    "value",
    "default",
    "path",
    "file",
    "log",
    "level",
    "rotate",
    "history",
    "exit",
    "status",
    "signal",
    "daemon",
    "socket",
    "worker",
    "queue",
    "lock",
    "catch-up",
    "window",
    "cron",
    "interval",
]


def synthetic_chunks(n: int):
    """Deterministic chunks of about 800 characters, built one at a time."""
    from raft_dataset.chunking import Chunk

    for i in range(n):
        words = [WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(110)]
        text = f"Section {i}. " + " ".join(words) + "."
        yield Chunk(
            f"doc{i // 10}.md#{i % 10}",
            f"doc{i // 10}.md",
            f"Doc {i // 10} > Part {i % 10}",
            text,
            0,
            len(text),
            0,
        )


def build_tiny_encoder(directory: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from raft_dataset.encoding import default_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=DIMENSION,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def anonymous_rss_mb() -> float:
    """Resident anonymous memory (heap, arrays), leaving out memory-mapped Arrow files."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


class PeakSampler:
    """Samples anonymous RSS every few milliseconds in a thread and keeps the maximum."""

    def __init__(self) -> None:
        self.peak = anonymous_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, anonymous_rss_mb())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, anonymous_rss_mb())


def measure(n: int, way: str, model: str) -> dict:
    """Run in a child process: peak anonymous-memory growth of indexing n chunks."""
    from raft_dataset.encoding import Encoder
    from raft_dataset.index import ChunkIndex

    encoder = Encoder(model, batch_size=256)
    encoder.encode(["warm up the encoder and the tokenizer"])
    before = anonymous_rss_mb()
    with PeakSampler() as sampler:
        chunks = list(synthetic_chunks(n)) if way == "baseline" else synthetic_chunks(n)
        index = ChunkIndex.build(chunks, encoder, show_progress_bar=False)
    return {"n": n, "way": way, "growth_mb": sampler.peak - before, "rows": len(index)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 40_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n, way, model = args.child
        print(json.dumps(measure(int(n), way, model)))
        return 0

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_tiny_encoder(Path(tmp) / "tiny-encoder"))
        for way in ("streamed", "baseline"):
            for n in args.sizes:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(n), way, model],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=REPO,
                )
                results[(way, n)] = json.loads(out.stdout.strip().splitlines()[-1])
    small, large = args.sizes
    text_mb = {n: sum(len(c.text) + len(c.title) for c in synthetic_chunks(n)) / 2**20 for n in args.sizes}
    index_mb = {n: n * DIMENSION * 4 / 2**20 for n in args.sizes}
    print(f"{'chunks':>8} {'text MB':>8} {'index MB':>9} {'streamed MB':>12} {'baseline MB':>12}")
    for n in args.sizes:
        print(
            f"{n:>8} {text_mb[n]:>8.1f} {index_mb[n]:>9.1f} "
            f"{results[('streamed', n)]['growth_mb']:>12.1f} {results[('baseline', n)]['growth_mb']:>12.1f}"
        )
    added_text = text_mb[large] - text_mb[small]
    streamed = results[("streamed", large)]["growth_mb"] - results[("streamed", small)]["growth_mb"]
    baseline = results[("baseline", large)]["growth_mb"] - results[("baseline", small)]["growth_mb"]
    print(
        f"growth from {small} to {large} chunks: text +{added_text:.1f} MB, index +{index_mb[large] - index_mb[small]:.1f} MB, "
        f"streamed +{streamed:.1f} MB, baseline +{baseline:.1f} MB"
    )
    print(
        f"ratio streamed/baseline growth: {streamed / baseline:.2f}"
        if baseline > 0
        else "baseline did not grow"
    )
    return 0 if streamed <= 0.5 * added_text else 1


if __name__ == "__main__":
    sys.exit(main())
