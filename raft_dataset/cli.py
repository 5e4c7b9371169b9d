"""The `raft-dataset` command: build, inspect, export, push, evaluate, curate and eval-retrieval. It parses
flags and calls the library.

Every error a user can cause ends as one line on stderr, `raft-dataset: error: ...`, exit code 2
(`--debug` shows the traceback); bugs still show theirs.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import json
import re
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from functools import cache

import yaml

from . import __version__
from .config import SETTING_NAMES, SETTING_TYPES, RaftDatasetConfig, check_models, make_config
from .encoding import ENCODER_DTYPES

EXIT_USAGE = 2  # argparse's code for bad usage, and ours for every error the input caused
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


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


@cache
def setting_help() -> dict[str, str]:
    """Setting name -> its description, parsed once from the `RaftDatasetConfig` docstring (the one
    place every field is documented: `name: text` lines, continued by deeper-indented lines)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in inspect.cleandoc(RaftDatasetConfig.__doc__ or "").splitlines():
        field = re.match(r"^ {4}(\w+): (.*)$", line)
        if field and field.group(1) in SETTING_NAMES:
            current = field.group(1)
            entries[current] = [field.group(2).strip()]
        elif current and line.startswith(" " * 8):
            entries[current].append(line.strip())
        else:
            current = None
    return {name: " ".join(parts) for name, parts in entries.items()}


def _flag_help(name: str) -> str:
    default = {f.name: f for f in dataclasses.fields(RaftDatasetConfig)}[name].default
    text = setting_help().get(name, "")
    if isinstance(default, (bool, int, float, str)) and len(repr(default)) <= 30:
        text += f" [default: {default}]"
    return text.replace("%", "%%")  # argparse formats help with %


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field (`--chunk-size`, `--oracle-probability`, ...), default: unset."""
    group = parser.add_argument_group("settings (override the config file; see RaftDatasetConfig)")
    for name in SETTING_NAMES:
        if name in _EXPLICIT_FLAGS:
            continue
        kind = _setting_type(SETTING_TYPES[name])
        group.add_argument(
            f"--{name.replace('_', '-')}", dest=name, default=None, type=_parse_value(kind, name),
            metavar=kind.upper(), help=_flag_help(name),
        )


class _Parser(argparse.ArgumentParser):
    """argparse with whole flag names only (no prefixes: `--num-distractor` is not `--num-distractors`),
    "did you mean" suggestions, and one-line errors (the build command's usage alone is 40 lines)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"raft-dataset: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._command_parser(parsed)
            command.error(f"unrecognized arguments: {' '.join(extras)}{command._suggestion(extras)}")
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> _Parser:
        """The parser of the command given (`build`, `push`, ...), else this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and getattr(parsed, action.dest, None):
                return action.choices[getattr(parsed, action.dest)]
        return self

    def _suggestion(self, extras: list[str]) -> str:
        """" (did you mean --x?)" for the first unknown flag close to one of this parser's flags."""
        known = [flag for action in self._actions for flag in action.option_strings]
        for extra in extras:
            if extra.startswith("--"):
                close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raft-dataset", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"raft-dataset {__version__}")
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
    build.add_argument("--verbose", "-v", action="store_true",
                       help="list every skipped file and dropped item by name at the end (else only counted)")
    build.add_argument("--limit", type=int, dest="max_queries", metavar="N",
                       help="build from the first N queries only, for a quick look (the setting max_queries)")
    build.add_argument("--dry-run", action="store_true",
                       help="build and print the summary, quality and 3 example rows; write nothing")
    _add_setting_flags(build)

    push = commands.add_parser("push", help="publish a built folder to the Hugging Face Hub")
    push.add_argument("folder", help="a folder written by `raft-dataset build`")
    push.add_argument("repo_id", help="Hub dataset repo, e.g. you/my-raft-dataset (created if missing)")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument("--revision", help="branch to commit to (created if missing); default: main")
    push.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    push.add_argument("--commit-message", help="message of the commit (or pull request)")

    export = commands.add_parser("export", help="write a split as alpaca, ShareGPT or OpenAI-chat JSON lines")
    export.add_argument("folder", help="a folder written by `raft-dataset build`")
    export.add_argument("--format", required=True, choices=("alpaca", "sharegpt", "openai"),
                        help="alpaca: instruction/input/output/system; sharegpt: conversations (from/value); "
                        "openai: messages (role/content)")
    export.add_argument("--split", default="train", help="the split to write [default: train]")
    export.add_argument("--output", "-o", required=True, help="the JSON lines file (replaced once complete)")

    inspect_rows = commands.add_parser(
        "inspect", help="show rows, quality report and token statistics of a built folder (no encoder)")
    inspect_rows.add_argument("folder", help="a folder written by `raft-dataset build`")
    inspect_rows.add_argument("--split", default="train", help="the split to show [default: train]")
    inspect_rows.add_argument("-n", "--rows", type=int, default=5, help="rows to show [default: 5]")
    inspect_rows.add_argument("--seed", type=int, default=0, help="seed of the choice of rows [default: 0]")
    inspect_rows.add_argument("--filter", action="append", default=[], metavar="COLUMN=VALUE",
                              help="show only rows where it holds (repeatable, all must hold); also !=, <, <=, "
                              ">, >=; e.g. origin=heading, oracle_present=false, oracle_confidence<=0")
    inspect_rows.add_argument("--width", type=int, default=160, help="characters per context line [default: 160]")
    inspect_rows.add_argument("--json", action="store_true", help="print one JSON object (rows in full)")

    _add_model_eval_commands(commands)

    evaluate = commands.add_parser("eval-retrieval", help="retrieval quality on BEIR-layout data")
    evaluate.add_argument("--corpus", required=True, help="corpus.jsonl (_id, title, text)")
    evaluate.add_argument("--queries", required=True, help="queries.jsonl (_id, text)")
    evaluate.add_argument("--qrels", required=True, help="qrels tsv (query-id, corpus-id, score)")
    evaluate.add_argument("--encoder", help="Hub id or local path (default: embedded all-MiniLM-L6-v2)")
    evaluate.add_argument("--encoder-dtype", choices=ENCODER_DTYPES, default="float32",
                          help="encoder precision (int8 needs the onnx extra) [default: float32]")
    evaluate.add_argument("--chunk-size", type=int, default=200, help="chunk length in encoder tokens")
    evaluate.add_argument("--chunk-overlap", type=int, default=30, help="tokens shared by consecutive chunks")
    evaluate.add_argument("--index-factory", default="Flat", help='FAISS index factory string ("Flat": exact)')
    evaluate.add_argument("--retriever", choices=("dense", "bm25", "hybrid"), default="hybrid",
                          help="ranking to evaluate: dense embeddings, bm25, or hybrid (rank fusion of both)")
    evaluate.add_argument("--bm25-language", default="english", help="BM25 stemmer/stopword language ('none': off)")
    evaluate.add_argument("--max-queries", type=int, help="evaluate a deterministic subset of the queries")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _add_model_eval_commands(commands) -> None:
    """`evaluate` (score a model on a built dataset) and `curate` (an LLM judge filters the rows)."""
    from .model_eval import SETTINGS

    model_eval = commands.add_parser("evaluate", help="score a model on a built dataset, RAFT-paper style")
    model_eval.add_argument("folder", help="a folder written by `raft-dataset build`")
    source = model_eval.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a local transformers causal LM (path or Hub id), run in-process")
    source.add_argument("--llm", metavar="CONFIG.yaml", help="an OpenAI-compatible server: an llm config file")
    source.add_argument("--predictions", metavar="FILE.jsonl", help="JSON lines of id, prediction [, setting]")
    model_eval.add_argument("--split", action="append", help="split to score (repeatable) [default: test]")
    model_eval.add_argument("--setting", action="append", choices=SETTINGS,
                            help="setting to score (repeatable) [default: all four]")
    model_eval.add_argument("--max-rows", type=int, help="score only the first N rows of each split")
    model_eval.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass (--model) [default: 8]")
    model_eval.add_argument("--max-tokens", type=int, default=512, help="tokens generated per answer (--model) [default: 512]")
    model_eval.add_argument("--document-template", help="the build's document_template, if not the default")
    model_eval.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no intervals) [default: 1000]")
    model_eval.add_argument("--output", "-o", default="eval_results.json", help="results file [default: eval_results.json]")
    model_eval.add_argument("--model-index", metavar="FILE.yaml", help="also write the Hub model card's model-index block")
    model_eval.add_argument("--quiet", action="store_true", help="no progress bars")

    curate = commands.add_parser("curate", help="an LLM judge scores every row; write a filtered copy with its card")
    curate.add_argument("folder", help="a folder written by `raft-dataset build`")
    curate.add_argument("--llm", metavar="JUDGE.yaml", required=True, help="the judge: an llm config file")
    curate.add_argument("--output", "-o", required=True, help="the curated copy's folder")
    curate.add_argument("--min-score", type=int, default=3, help="keep rows scoring at least this (1-5) on all three criteria [default: 3]")
    curate.add_argument("--judge-prompt", metavar="FILE", help="the judge's prompt template ({question}, {answer}, {oracle}, ...)")
    curate.add_argument("--document-template", help="the build's document_template, if not the default")
    curate.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_model_eval(args: argparse.Namespace) -> int:
    from .config import DEFAULT_DOCUMENT_TEMPLATE
    from .model_eval import SETTINGS, evaluate, format_table, model_index, write_results, write_text_atomic

    results = evaluate(
        args.folder, split=args.split or ["test"], model=args.model, llm=args.llm, predictions=args.predictions,
        settings=args.setting or SETTINGS, document_template=args.document_template or DEFAULT_DOCUMENT_TEMPLATE,
        max_rows=args.max_rows, batch_size=args.batch_size, max_tokens=args.max_tokens, resamples=args.bootstrap,
        progress=not args.quiet,
    )
    print(format_table(results))
    for reason, n in results["skipped"].items():
        print(f"skipped: {reason}: {n}")
    if results.get("failures"):
        print(f"failed requests: {results['failures']}")
    print(f"wrote {write_results(results, args.output)}")
    if args.model_index:
        from pathlib import Path

        block = model_index(results, model_name=str(results["model"]), dataset_name=Path(args.folder).resolve().name)
        print(f"wrote {write_text_atomic(args.model_index, block)}")
    return 0


def _run_curate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .curate import curate

    prompt = Path(args.judge_prompt).read_text(encoding="utf-8") if args.judge_prompt else None
    summary = curate(args.folder, args.output, args.llm, min_score=args.min_score, judge_prompt=prompt,
                     document_template=args.document_template, progress=not args.quiet)
    kept = sum(s["kept"] for s in summary["splits"].values())
    total = sum(s["rows"] for s in summary["splits"].values())
    print(f"kept {kept} of {total} rows in {summary['output']}")
    print("dropped: " + (", ".join(f"{k} {v}" for k, v in summary["dropped"].items()) or "none"))
    print("judge usage: " + json.dumps(summary["judge_usage"]["totals"], sort_keys=True))
    if summary.get("failures"):
        print(f"failed requests: {summary['failures']}")
    return 0


def _run_build(args: argparse.Namespace) -> int:
    from .export import check_output_dir, push_to_hub, write_dataset_folder
    from .pipeline import build_raft_dataset
    from .report import CORPUS, SAMPLES
    from .stats import long_rows_line, statistics_table

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
    check_models(config)  # tokenizers and model files, before the index is built
    with ExitStack() as executor:
        if config.executor == "ray":  # one Ray session for the build and the shard writers
            from .ray_executor import plan_corpus, ray_session

            plan_corpus(config, None)  # a bad glob fails before Ray starts
            executor.enter_context(ray_session(config.ray_address, show_progress=not args.quiet))
        result = build_raft_dataset(config, show_progress=not args.quiet)
        if args.dry_run:
            print(f"dry run: built {result.counts['samples']} samples, wrote nothing ({args.output} untouched)")
        else:
            folder = write_dataset_folder(result, args.output, repo_id=args.push_to_hub)
            print(f"wrote {result.counts['samples']} samples to {folder}")
    print(statistics_table(result.statistics))
    print(long_rows_line(result.statistics, config.max_seq_length))
    print(f"skipped files: {result.report.summary(CORPUS)}")
    print(f"rejected: {result.report.summary(SAMPLES)}")
    for line in _dropped_lines(result.report.dropped_items, verbose=args.verbose):
        print(line)
    print(result.quality.to_markdown())
    print("seconds per stage: " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in result.timings.items()))
    if result.llm_usage:
        print("llm usage: " + json.dumps(result.llm_usage, sort_keys=True))
    if args.dry_run:
        print(_example_rows(result, 3))
        return 0
    if args.push_to_hub:
        print(f"pushed: {push_to_hub(folder, args.push_to_hub, private=args.private or None)}")
    return 0


def _example_rows(result, n: int) -> str:
    """`n` rows of the build drawn with its seed, rendered as `inspect` shows them."""
    from .preview import format_row, sample_rows

    labelled = [(f"{name}[{i}]", row) for name, rows in result.splits.items() for i, row in enumerate(rows)]
    shown = sample_rows(labelled, n, result.config.seed)
    return "\n\n".join([f"{len(shown)} example rows:", *(
        format_row(row, label, template=result.config.document_template) for _, (label, row) in shown)])


def _run_inspect(args: argparse.Namespace) -> int:
    from .preview import format_preview, parse_filter, preview_split

    preview = preview_split(args.folder, args.split, n=args.rows, seed=args.seed,
                            filters=[parse_filter(f) for f in args.filter])
    try:
        if args.json:
            print(json.dumps(preview.to_dict(), ensure_ascii=False, default=str))
        else:
            print(format_preview(preview, width=args.width, color=_color(sys.stdout)))
        sys.stdout.flush()
    except BrokenPipeError:  # `inspect OUT | head`: the reader stopped early, which is no error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0


def _color(stream) -> bool:
    """ANSI colour for a terminal, unless NO_COLOR is set (https://no-color.org)."""
    import os

    return stream.isatty() and not os.environ.get("NO_COLOR")


def _dropped_lines(items: Sequence[tuple[str, str, str]], *, verbose: bool) -> list[str]:
    """The named drops, one line each with --verbose; else a pointer to --verbose when there are any."""
    if not items:
        return []
    if not verbose:
        return [f"(--verbose lists the {len(items)} skipped or dropped items by name)"]
    return ["skipped or dropped, by name:", *(f"  {stage} {reason}: {_printable(where)}" for stage, reason, where in items)]


def _printable(text: str) -> str:
    """A file name as it can be printed: undecodable bytes (kept as surrogates) shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _run_push(args: argparse.Namespace) -> int:
    from .export import push_to_hub

    print(push_to_hub(args.folder, args.repo_id, private=args.private or None, revision=args.revision,
                      create_pr=args.create_pr, commit_message=args.commit_message))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from .export import export_jsonl

    rows = export_jsonl(args.folder, args.output, args.format, split=args.split)
    print(f"wrote {rows} {args.split} rows as {args.format} JSON lines to {args.output}")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_retrieval, format_metrics

    metrics = evaluate_retrieval(
        args.corpus, args.queries, args.qrels, encoder=args.encoder, encoder_dtype=args.encoder_dtype,
        chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap, index_factory=args.index_factory, max_queries=args.max_queries,
        retriever=args.retriever, bm25_language=args.bm25_language,
        show_progress_bar=not args.json,
    )
    print(json.dumps(metrics, sort_keys=True) if args.json else format_metrics(metrics))
    return 0


# What the input or the machine can cause: bad settings and files (ConfigError, CorpusError and
# BuildError are ValueError/RuntimeError), missing or unreadable files, permissions, a full disk and
# network failures (OSError, which Hub errors are too). TypeError, KeyError and the like are bugs.
_USER_ERRORS = (ValueError, RuntimeError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in `argv` (default: `sys.argv[1:]`); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed in one line
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        if args.command == "build":
            return _run_build(args)
        if args.command == "evaluate":
            return _run_model_eval(args)
        if args.command == "curate":
            return _run_curate(args)
        if args.command == "push":
            return _run_push(args)
        if args.command == "export":
            return _run_export(args)
        if args.command == "inspect":
            return _run_inspect(args)
        return _run_eval(args)
    except _USER_ERRORS as err:
        # One line for the user; the traceback helps nobody when the input is wrong (--debug shows it).
        if args.debug:
            raise
        print(f"raft-dataset: error: {one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("raft-dataset: interrupted (a rerun resumes from the caches)", file=sys.stderr)
        return EXIT_INTERRUPTED


def one_line(err: BaseException) -> str:
    """The error's message on one line (libraries' messages often span several), or its type."""
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
