"""Row quality on real documentation sets, with the default (offline) settings.

For each corpus in ../shared/corpora it builds a dataset and prints the quality report: the share of
rows whose answer restates the question or is not a sentence, markup in questions, quotes, answers
and contexts, question forms and lengths. For Poetry it also checks the FAQ: how many of faq.md's
question headings became rows, and whether each is answered from its own section. Then it prints
random rows in full, to be read.

    python benchmarks/row_quality.py [--corpus flask_docs poetry_docs fastapi_docs] [--rows 10] [--json]
                                     [--min-answer-similarity 0.3]

Embeddings are cached (the default cache), so a second run only pays for what changed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
sys.path.insert(0, str(REPO))

from raft_dataset.config import RaftDatasetConfig  # noqa: E402
from raft_dataset.corpus import read_corpus  # noqa: E402
from raft_dataset.pipeline import build_raft_dataset  # noqa: E402
from raft_dataset.quality import quality_report  # noqa: E402
from raft_dataset.raft_format import extract_quotes, normalize_whitespace  # noqa: E402

PATTERNS = {"flask_docs": "**/*.rst", "poetry_docs": "**/*.md", "fastapi_docs": "**/*.md"}


def faq_coverage(rows: list[dict], corpus: Path) -> dict:
    """FAQ question headings of poetry_docs/faq.md: how many became rows quoting their own section."""
    (faq,) = [d for d in read_corpus(str(corpus / "faq.md"))]
    sections = []
    headings = [h for h in faq.headings if h.level > 1]
    for i, heading in enumerate(faq.headings):
        if heading not in headings:
            continue
        end = next((h.start for h in faq.headings[i + 1 :] if h.level <= heading.level), len(faq.text))
        sections.append((heading.text, faq.text[heading.end : end]))
    # A question keeps the heading's inline code ("`tools.poetry`"); the heading's text has none.
    by_question = {normalize_whitespace(r["question"].replace("`", "")).rstrip("?!. ").lower(): r for r in rows
                   if r["oracle_doc_id"] == "faq.md"}
    found, own_section = [], []
    for text, body in sections:
        key = normalize_whitespace(text).rstrip("?!. ").lower()
        row = next((r for q, r in by_question.items() if key in q or q.endswith(key)), None)
        if row is None:
            continue
        found.append(text)
        quotes = extract_quotes(row["output"])
        if quotes and all(normalize_whitespace(q) in normalize_whitespace(body) for q in quotes):
            own_section.append(text)
    return {"faq_headings": len(sections), "rows": len(found), "answered_from_own_section": len(own_section),
            "missing": [t for t, _ in sections if t not in found]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=list(PATTERNS), choices=list(PATTERNS))
    parser.add_argument("--rows", type=int, default=10, help="random rows printed in full per corpus")
    parser.add_argument("--min-answer-similarity", type=float, default=0.3,
                        help="the weak-answer gate, as examples/raft.yaml sets it (a negative value turns it off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object of the figures, no rows")
    args = parser.parse_args()
    figures = {}
    for name in args.corpus:
        corpus = CORPORA / name
        if not corpus.is_dir():
            print(f"{corpus} not found", file=sys.stderr)
            return 2
        started = time.perf_counter()
        gate = None if args.min_answer_similarity < 0 else args.min_answer_similarity
        config = RaftDatasetConfig(corpus=str(corpus / PATTERNS[name]), min_answer_similarity=gate)
        result = build_raft_dataset(config, show_progress=False)
        rows = [row for split in result.splits.values() for row in split]
        report = quality_report(rows)
        figures[name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "counts": result.counts,
            "rejected": dict(result.report.rejected.most_common()),
            "quality": report.to_dict(),
        }
        if name == "poetry_docs":
            figures[name]["faq"] = faq_coverage(rows, corpus)
        if args.json:
            continue
        print(f"\n## {name}: {result.counts} in {figures[name]['seconds']} s")
        print(f"rejected: {figures[name]['rejected']}")
        print(report.to_markdown())
        if "faq" in figures[name]:
            print(f"FAQ: {json.dumps(figures[name]['faq'])}")
        for row in random.Random(args.seed).sample(rows, min(args.rows, len(rows))):
            print(f"\n### {row['id']} ({row['query_origin']}, oracle {row['oracle_doc_id']}, "
                  f"present={row['oracle_present']})\n")
            print(f"[instruction]\n{row['instruction']}\n\n[input]\n{row['input']}\n\n[output]\n{row['output']}")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
