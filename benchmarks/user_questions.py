"""The oracle a user's own questions get when they name the product ("How do I add middleware in FastAPI?").

A user's queries file has no gold chunk: the build's retrieval chooses the oracle. Derived questions do know
theirs, so this script builds a corpus's offline dataset, keeps the rows whose question names the product as
its place ("... in FastAPI?", "In FastAPI, ...?"), and hands those questions back as a queries file, without
gold. It then prints how often (over all the questions handed in, a dropped one counting as a miss) the oracle
chosen is the derived row's chunk, and its document, in two builds
of the same run: with the product's words left in what is ranked (`product_name: ""`, the baseline), and
with them taken out (the default, `product.unscoped_question`).

    python benchmarks/user_questions.py [--corpus fastapi_docs poetry_docs flask_docs]

Embeddings are cached (the default cache), so a second run only pays for what changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
sys.path.insert(0, str(REPO))

from raft_dataset.config import RaftDatasetConfig  # noqa: E402
from raft_dataset.pipeline import build_raft_dataset  # noqa: E402
from raft_dataset.product import unscoped_question  # noqa: E402


def rows_of(config: RaftDatasetConfig) -> tuple[list[dict], str | None]:
    result = build_raft_dataset(config, show_progress=False)
    return [row for split in result.splits.values() for row in split], result.product_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["fastapi_docs", "poetry_docs", "flask_docs"])
    args = parser.parse_args()
    for name in args.corpus:
        corpus = str(CORPORA / name)
        derived, product = rows_of(RaftDatasetConfig(corpus=corpus))
        gold = {row["question"]: row["oracle_chunk_id"] for row in derived
                if product and unscoped_question(row["question"], product)}
        assert len(gold) == sum(bool(product and unscoped_question(r["question"], product)) for r in derived)
        with tempfile.TemporaryDirectory() as folder:
            queries = Path(folder) / "queries.jsonl"
            queries.write_text("".join(json.dumps({"question": q}) + "\n" for q in gold), encoding="utf-8")
            print(f"{name}: product {product!r}, {len(gold)} of {len(derived)} derived questions name it")
            shares = {}
            for label, product_name in (("product's words ranked (baseline)", ""), ("product's words left out", None)):
                rows, _ = rows_of(RaftDatasetConfig(corpus=corpus, queries=str(queries), product_name=product_name,
                                                    min_query_similarity=-1.0))
                # over every question handed in: a question a build drops counts as a miss
                chunk = sum(row["oracle_chunk_id"] == gold[row["question"]] for row in rows) / len(gold)
                doc = sum(row["oracle_chunk_id"].split("#")[0] == gold[row["question"]].split("#")[0]
                          for row in rows) / len(gold)
                shares[label] = (chunk, doc)
                print(f"  {label:36} rows {len(rows):4}  oracle = gold chunk {chunk:.3f}  gold document {doc:.3f}")
            (base_chunk, base_doc), (chunk, doc) = shares.values()
            print(f"  ratio left out / baseline: chunk {chunk / max(base_chunk, 1e-9):.2f}x, "
                  f"document {doc / max(base_doc, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
