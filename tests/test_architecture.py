"""The package's layering: every module imports only modules below it (parsed, not executed)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "raft_dataset"

# Lowest first. A module may import modules of lower layers only; the entry points (last layer) and
# the package's own __init__ (lazy re-exports) may import anything.
LAYERS = [
    {"features", "jsonl", "tokens", "cache", "report", "typecheck", "formats", "vocabulary"},
    {"records", "raft_format", "llm.config", "metrics"},
    {"markup", "prompt", "llm.backends", "metrics.scoring", "shards"},
    {"includes", "metrics.raft_answer_match.raft_answer_match", "metrics.raft_format_compliance.raft_format_compliance",
     "metrics.raft_quotes.raft_quotes", "metrics.raft_refusal.raft_refusal"},
    {"corpus", "llm.client", "llm"},
    {"office"},
    {"chunking", "encoding"},
    {"index"},
    {"retrieval", "offline_questions"},
    {"rerank", "product"},
    {"queries", "contexts", "answers", "oracle"},
    {"validation", "quality", "stats", "llm.generation", "section_oracle"},
    {"config"},
    {"model_eval"},
    {"curate"},
    {"splits", "evaluation", "preview", "ray_executor"},
    {"pipeline"},
    {"card"},
    {"export"},
    {"builder", "plugin", "cli", "__init__"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Package-internal modules imported by a module (relative or absolute imports, any depth)."""
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    if module == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("raft_dataset"):
                target = node.module.removeprefix("raft_dataset").lstrip(".")
            else:
                continue
            names = [f"{target}.{alias.name}" if target else alias.name for alias in node.names]
            found.update(n for n in names if n in RANK) or found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("raft_dataset.") for a in node.names if a.name.startswith("raft_dataset."))
    return {name for name in found if name and name != module}


def test_every_module_has_a_layer():
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert modules - set(RANK) == set(), "add new modules to LAYERS"


def test_no_module_imports_one_above_it():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == "__init__":
            continue
        for imported in _imports(path, module):
            if imported in RANK and RANK[imported] >= RANK[module] and not imported.startswith(f"{module}."):
                upward.append(f"{module} imports {imported}")
    assert upward == []
