"""Example files a document includes are read into it, within its repository and bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from raft_dataset.builder import config_fingerprint
from raft_dataset.config import RaftDatasetConfig
from raft_dataset.corpus import MAX_INCLUDED_BYTES, IncludedFiles, included_files, read_corpus
from raft_dataset.includes import LONG_EXAMPLE_LINES, inline_includes
from raft_dataset.report import BuildReport

APP = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\nasync def root():\n    return {"message": "Hello World"}\n'


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository laid out like FastAPI's: pages in docs/en/docs, examples in docs_src at the top."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    _write(root / "docs_src" / "first_steps" / "tutorial001.py", APP)
    return root


def _text(page: Path, pattern: str | None = None) -> str:
    (doc,) = read_corpus(pattern or str(page))
    return doc.text


def test_mkdocs_include_is_read_from_the_folder_the_site_resolves_it_from(repo: Path) -> None:
    # FastAPI writes `../../docs_src/...` relative to docs/en (its mkdocs.yml), in pages at any depth.
    page = _write(repo / "docs" / "en" / "docs" / "tutorial" / "first-steps.md",
                  "# First Steps\n\nThe simplest FastAPI file could look like this:\n\n"
                  "{* ../../docs_src/first_steps/tutorial001.py hl[3] *}\n\nCopy that to a file `main.py`.\n")
    assert _text(page, str(repo / "docs" / "en" / "docs" / "**" / "*.md")) == (
        "The simplest FastAPI file could look like this:\n\n```python\n" + APP + "```\n\nCopy that to a file `main.py`.")


def test_typer_style_include_from_the_repository_top_and_line_selection(repo: Path) -> None:
    page = _write(repo / "docs" / "tutorial" / "page.md",
                  "Only the app:\n\n{* docs_src/first_steps/tutorial001.py ln[1:3] hl[3] *}\n\n"
                  "1. And the route, in a list item:\n\n    {* docs_src/first_steps/tutorial001.py ln[6:8] *}\n")
    assert _text(page) == (
        "Only the app:\n\n```python\nfrom fastapi import FastAPI\n\napp = FastAPI()\n```\n\n"
        "1. And the route, in a list item:\n```python\n@app.get(\"/\")\nasync def root():\n"
        "    return {\"message\": \"Hello World\"}\n```")


def test_snippets_lines_sections_and_mdx_includes(repo: Path) -> None:
    _write(repo / "docs" / "examples" / "config.toml",
           "[tool]\n# --8<-- [start:cache]\ncache = true\n# --8<-- [end:cache]\nother = 1\n")
    page = _write(repo / "docs" / "page.md", "\n\n".join([
        "Lines:", '--8<-- "docs/examples/config.toml:2:3"',
        "Section:", '--8<-- "docs/examples/config.toml:cache"',
        "Whole, with mdx_include:", "{!docs_src/first_steps/tutorial001.py!}",
        "In a fence of its own:", "```Python hl_lines=\"3\"\n{!> ../docs_src/first_steps/tutorial001.py!}\n```",
        "Shown as syntax, not included:", "```\n{* docs_src/first_steps/tutorial001.py *}\n```"]) + "\n")
    text = _text(page)
    assert "Lines:\n\n```toml\n# --8<-- [start:cache]\ncache = true\n```" in text
    assert "Section:\n\n```toml\ncache = true\n```" in text
    assert text.count("app = FastAPI()") == 2
    assert "In a fence of its own:\n\n```Python\nfrom fastapi import FastAPI\n" in text
    assert text.endswith("Shown as syntax, not included:\n\n```\n{* docs_src/first_steps/tutorial001.py *}\n```")


def test_literalinclude_takes_sphinx_options(repo: Path) -> None:
    _write(repo / "examples" / "app.py",
           "import os\n\n\nclass Config:\n    @property\n    def debug(self):\n        return True\n\n\n"
           "# start\nfrom flask import Flask\napp = Flask(__name__)\n# end\n")
    page = _write(repo / "docs" / "quickstart.rst", "\n".join([
        "Quickstart", "==========", "", "The property:", "",
        ".. literalinclude:: ../examples/app.py", "   :pyobject: Config.debug", "   :emphasize-lines: 2", "",
        "The app:", "", ".. literalinclude:: /examples/app.py", "   :start-after: # start", "   :end-before: # end",
        "", "The first line:", "", ".. literalinclude:: ../examples/app.py", "   :lines: 1", "   :language: python3",
        "", "Done."]) + "\n")
    assert _text(page) == (
        "The property:\n\n```python\n@property\ndef debug(self):\n    return True\n```\n\n"
        "The app:\n\n```python\nfrom flask import Flask\napp = Flask(__name__)\n```\n\n"
        "The first line:\n\n```python3\nimport os\n```\n\nDone.")


def test_what_cannot_be_read_is_named_and_nothing_outside_the_repository_is_read(repo: Path, tmp_path: Path) -> None:
    _write(tmp_path / "outside.py", "SECRET = 1\n")  # beside the repository, not in it
    _write(repo / "docs_src" / ".hidden" / "app.py", "HIDDEN = 1\n")
    _write(repo / ".env.py", "TOKEN = 1\n")
    _write(repo / "docs_src" / "big.py", "x = 1\n" * (MAX_INCLUDED_BYTES // 6 + 1))
    _write(repo / "docs_src" / "binary.py", "a\x00b\n")
    os.symlink(tmp_path / "outside.py", repo / "docs_src" / "link.py")
    includes = ["../../outside.py", "../outside.py", "docs_src/.hidden/app.py", ".env.py", "/../outside.py",
                "docs_src/big.py", "docs_src/binary.py", "docs_src/link.py", "docs_src/missing.py"]
    page = _write(repo / "docs" / "page.md", "".join(f"{{* {path} *}}\n\n" for path in includes) + "End.\n")
    report = BuildReport()
    (doc,) = read_corpus(str(page), report=report, strict=True)  # counted, never fatal: the page is kept
    text = doc.text
    assert report.skipped == {"missing_include": len(includes)}
    for secret in ("SECRET", "HIDDEN", "TOKEN", "x = 1", "a\x00b"):
        assert secret not in text
    assert text.count("(Example file: `") == len(includes) and text.endswith("End.")
    assert "(Example file: `docs_src/missing.py`)" in text


def test_without_a_repository_the_corpus_folder_bounds_the_lookup(tmp_path: Path) -> None:
    _write(tmp_path / "site" / "examples" / "app.py", "print('inside')\n")
    _write(tmp_path / "app.py", "print('above the corpus')\n")
    page = _write(tmp_path / "site" / "docs" / "page.md", "{* examples/app.py *}\n\n{* ../app.py *}\n")
    text = _text(page, str(tmp_path / "site"))
    assert "print('inside')" in text and "above the corpus" not in text
    assert "(Example file: `app.py`)" in text


def test_a_document_reads_a_bounded_number_of_files(repo: Path) -> None:
    included = IncludedFiles(str(repo / "docs" / "page.md"), max_files=3)
    source = "{* docs_src/first_steps/tutorial001.py *}\n\n" * 5
    assert inline_includes(source, "markdown", included).count("app = FastAPI()") == 3
    assert len(included.read_files) == 3 and len(included.missing) == 2
    assert inline_includes(source, "html", IncludedFiles(str(repo / "docs" / "page.md"))) == source


def test_the_fence_outgrows_the_backticks_in_the_file(repo: Path) -> None:
    _write(repo / "docs_src" / "doc.py", 'def f():\n    """Use it like this:\n\n    ```\n    f()\n    ```\n    """\n')
    page = _write(repo / "docs" / "page.md", "Example:\n\n{* ../docs_src/doc.py *}\n\nAfter the example.\n")
    assert _text(page) == ('Example:\n\n````python\ndef f():\n    """Use it like this:\n\n    ```\n    f()\n    ```\n'
                           '    """\n````\n\nAfter the example.')


def test_an_edited_example_file_changes_the_build_fingerprint(repo: Path) -> None:
    _write(repo / "docs" / "page.md", "# Page\n\nRun it:\n\n{* ../docs_src/first_steps/tutorial001.py *}\n")
    config = RaftDatasetConfig(corpus=str(repo / "docs" / "**" / "*.md"))
    assert included_files(config.corpus) == [(repo / "docs_src" / "first_steps" / "tutorial001.py").resolve()]
    before = config_fingerprint(config)
    assert config_fingerprint(config) == before
    _write(repo / "docs_src" / "first_steps" / "tutorial001.py", APP.replace("Hello World", "Hello"))
    assert config_fingerprint(config) != before


HANDLERS = "\n".join([
    "from fastapi import FastAPI, HTTPException", "from fastapi.responses import PlainTextResponse", "",
    "app = FastAPI()", "", "",
    "@app.exception_handler(HTTPException)", "async def http_exception_handler(request, exc):",
    "    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)", "", "",
    "@app.get(\"/items/{item_id}\")", "async def read_item(item_id: int):", "    if item_id == 3:",
    "        raise HTTPException(status_code=418, detail=\"Nope! I don't like 3.\")",
    "    return {\"item_id\": item_id}", "", "", "@app.get(\"/health\")", "async def health():",
    "    return {\"ok\": True}"]) + "\n"


def test_a_long_example_shows_its_highlighted_lines(repo: Path) -> None:
    # FastAPI's handling-errors page highlights what its text is about in a 26-line program; cut across
    # chunks, the whole program showed halves of functions. A short example is shown whole, highlights or not.
    assert len(HANDLERS.splitlines()) > LONG_EXAMPLE_LINES
    _write(repo / "docs_src" / "handlers.py", HANDLERS)
    page = _write(repo / "docs" / "page.md", "For example, return plain text for these errors:\n\n"
                                             "{* ../docs_src/handlers.py hl[2,7:9,15] *}\n\n"
                                             "And a short one:\n\n{* ../docs_src/first_steps/tutorial001.py hl[3] *}\n")
    assert _text(page) == (
        "For example, return plain text for these errors:\n\n```python\n"
        "from fastapi import FastAPI, HTTPException\nfrom fastapi.responses import PlainTextResponse\n...\n"
        "@app.exception_handler(HTTPException)\nasync def http_exception_handler(request, exc):\n"
        "    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)\n"
        "    ...\n    if item_id == 3:\n        raise HTTPException(status_code=418, detail=\"Nope! I don't like 3.\")\n"
        "    return {\"item_id\": item_id}\n...\n```\n\n"
        "And a short one:\n\n```python\n" + APP + "```")
    rst = _write(repo / "docs" / "page.rst", ".. literalinclude:: ../docs_src/handlers.py\n   :emphasize-lines: 20-21\n")
    assert _text(rst) == "```python\n...\n@app.get(\"/health\")\nasync def health():\n    return {\"ok\": True}\n```"
