"""The `raft-dataset` command: build, push and eval-retrieval. It parses flags and calls the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import yaml

from .config import SETTING_NAMES, SETTING_TYPES, ConfigError, make_config


def _setting_type(accepted: tuple[type, ...]) -> str:
    """The flag's value kind: the first non-null type a setting accepts."""
    return next(t.__name__ for t in accepted if t is not type(None))


def _parse_value(kind: str, name: str):
    def parse(raw: str):
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise argparse.ArgumentTypeError(f"--{name}: expected true or false, got {raw!r}")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind in ("dict", "list"):
            value = yaml.safe_load(raw)
            return value if kind != "dict" or isinstance(value, dict) else raw
        return raw

    parse.__name__ = kind  # argparse names the type in its error message
    return parse


_EXPLICIT_FLAGS = ("corpus", "queries", "seed")  # the build command declares these with their own help


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field (`--chunk-size`, `--oracle-probability`, ...), default: unset."""
    group = parser.add_argument_group("settings (override the config file; see RaftDatasetConfig)")
    for name in SETTING_NAMES:
        if name in _EXPLICIT_FLAGS:
            continue
        kind = _setting_type(SETTING_TYPES[name])
        group.add_argument(
            f"--{name.replace('_', '-')}", dest=name, default=None, type=_parse_value(kind, name), metavar=kind.upper()
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raft-dataset", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build a RAFT dataset folder from documents")
    build.add_argument("config", nargs="?", help="YAML config file (settings below override it)")
    build.add_argument("--corpus", action="append", help="glob, directory or file of documents (repeatable)")
    build.add_argument("--queries", help="queries file (JSON lines, CSV or text); default: derived from the corpus")
    build.add_argument("--output", "-o", required=True, help="output folder (replaced atomically)")
    build.add_argument("--seed", type=int, help="seed of every random choice")
    build.add_argument("--push-to-hub", metavar="REPO_ID", help="publish the folder to this Hub dataset repo")
    build.add_argument("--private", action="store_true", help="with --push-to-hub: create a private repo")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_setting_flags(build)

    push = commands.add_parser("push", help="publish a built folder to the Hugging Face Hub")
    push.add_argument("folder")
    push.add_argument("repo_id")
    push.add_argument("--private", action="store_true")

    evaluate = commands.add_parser("eval-retrieval", help="retrieval quality on BEIR-layout data")
    evaluate.add_argument("--corpus", required=True, help="corpus.jsonl (_id, title, text)")
    evaluate.add_argument("--queries", required=True, help="queries.jsonl (_id, text)")
    evaluate.add_argument("--qrels", required=True, help="qrels tsv (query-id, corpus-id, score)")
    evaluate.add_argument("--encoder", help="Hub id or local path (default: embedded all-MiniLM-L6-v2)")
    evaluate.add_argument("--chunk-size", type=int, default=200)
    evaluate.add_argument("--chunk-overlap", type=int, default=30)
    evaluate.add_argument("--index-factory", default="Flat")
    evaluate.add_argument("--retriever", choices=("dense", "bm25", "hybrid"), default="hybrid",
                          help="ranking to evaluate: dense embeddings, bm25, or hybrid (rank fusion of both)")
    evaluate.add_argument("--bm25-language", default="english", help="BM25 stemmer/stopword language ('none': off)")
    evaluate.add_argument("--max-queries", type=int, help="evaluate a deterministic subset of the queries")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _run_build(args: argparse.Namespace) -> int:
    from .export import check_output_dir, push_to_hub, write_dataset_folder
    from .pipeline import build_raft_dataset
    from .report import SAMPLES
    from .stats import statistics_table

    if args.quiet:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    overrides = {name: getattr(args, name) for name in SETTING_NAMES if getattr(args, name, None) is not None}
    if args.corpus:
        overrides["corpus"] = args.corpus if len(args.corpus) > 1 else args.corpus[0]
    config = make_config(args.config, **overrides)
    check_output_dir(args.output)
    result = build_raft_dataset(config, show_progress=not args.quiet)
    folder = write_dataset_folder(result, args.output, repo_id=args.push_to_hub)
    print(f"wrote {result.counts['samples']} samples to {folder}")
    print(statistics_table(result.statistics))
    print(f"rejected: {result.report.summary(SAMPLES)}")
    print(result.quality.to_markdown())
    print("seconds per stage: " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in result.timings.items()))
    if result.llm_usage:
        print("llm usage: " + json.dumps(result.llm_usage, sort_keys=True))
    if args.push_to_hub:
        print(f"pushed: {push_to_hub(folder, args.push_to_hub, private=args.private or None)}")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_retrieval, format_metrics

    metrics = evaluate_retrieval(
        args.corpus, args.queries, args.qrels, encoder=args.encoder, chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap, index_factory=args.index_factory, max_queries=args.max_queries,
        retriever=args.retriever, bm25_language=args.bm25_language,
        show_progress_bar=not args.json,
    )
    print(json.dumps(metrics, sort_keys=True) if args.json else format_metrics(metrics))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "build":
            return _run_build(args)
        if args.command == "push":
            from .export import push_to_hub

            print(push_to_hub(args.folder, args.repo_id, private=args.private or None))
            return 0
        return _run_eval(args)
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError, RuntimeError) as err:
        # One line for the user; the traceback helps nobody when the input is wrong (--debug shows it).
        if args.debug:
            raise
        print(f"raft-dataset: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
