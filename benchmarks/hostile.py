"""Time and peak memory of reading and chunking each hostile corpus case, each in a fresh process.

The cases are the ones `tests/test_hostile.py` builds (a 20 MB markdown line, a huge JSON record,
JSON nested 10,000 deep, markdown nested 3,000 deep, deep HTML, a FIFO, a /dev/zero link, a link
out of the corpus, an 80 KB base64 image, a 100,000-character word, a surrogate escape, a non-UTF-8
file name, output folders of earlier builds). Each is written to a temporary folder beside the normal
pages, read with `read_corpus` and chunked (200 tokens, the embedded encoder's tokenizer); the normal
pages alone are the baseline. Prints seconds, extra peak RSS over the state after imports, both as
ratios to the baseline, and what was counted.

`--raise-line-limit` reads the long-line cases instead of skipping them (`max_line_chars` 30 MB), to
measure the chunker itself on a 20 MB line.

    python benchmarks/hostile.py
    python benchmarks/hostile.py --raise-line-limit --cases one_line_20mb huge_json_record
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.test_hostile import HOSTILE_CASES, make_hostile_corpus, read_and_chunk_in_subprocess  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=[c for c in HOSTILE_CASES if c != "normal"],
                        choices=list(HOSTILE_CASES))
    parser.add_argument("--raise-line-limit", action="store_true", help="max_line_chars 30 MB instead of 2M")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per case")
    args = parser.parse_args()
    limits = {"max_line_chars": 30 * 2**20} if args.raise_line_limit else {}

    rows = []
    for case in ["normal", *args.cases]:
        with tempfile.TemporaryDirectory(prefix=f"hostile_{case}_") as tmp:
            corpus, _ = make_hostile_corpus(Path(tmp), ["normal"] if case == "normal" else ["normal", case])
            result = read_and_chunk_in_subprocess(corpus, timeout=args.timeout, **limits)
        rows.append((case, result))
        print(f"  {case}: {result['seconds']:.2f} s", file=sys.stderr, flush=True)

    base = rows[0][1]
    print(f"{'case':<20} {'seconds':>8} {'x base':>7} {'extra MB':>9} {'x base':>7} {'docs':>5} {'chunks':>7} "
          f"{'max chars':>9}  counted")
    for case, r in rows:
        time_ratio = r["seconds"] / max(base["seconds"], 1e-3)
        memory_ratio = max(r["extra_mb"], 1.0) / max(base["extra_mb"], 1.0)
        counted = ", ".join(f"{k}: {v}" for k, v in sorted(r["skipped"].items())) or "-"
        print(f"{case:<20} {r['seconds']:>8.2f} {time_ratio:>7.1f} {r['extra_mb']:>9.1f} {memory_ratio:>7.1f} "
              f"{r['documents']:>5} {r['chunks']:>7} {r['max_chunk_chars']:>9}  {counted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
