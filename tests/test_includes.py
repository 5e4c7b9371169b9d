"""Example files a document includes are read into it, within its repository and bounded."""

from __future__ import annotations

import os
import re
import subprocess
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


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository laid out like FastAPI's: pages in docs/en/docs, examples in docs_src at the top."""
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    _write(root / "docs_src" / "first_steps" / "tutorial001.py", APP)
    return root


def _text(page: Path, pattern: str | None = None, track: bool = True) -> str:
    """The page's text as read, after git tracks every file of its repository (`track`)."""
    top = next((folder for folder in page.parents if (folder / ".git").is_dir()), None)
    if track and top is not None:
        _git(top, "add", "-A")
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
    source = "{* docs_src/first_steps/tutorial001.py *}\n\n" * 5
    _write(repo / "docs" / "page.md", source)
    _git(repo, "add", "-A")
    included = IncludedFiles(str(repo / "docs" / "page.md"), max_files=3)
    assert inline_includes(source, "markdown", included).count("app = FastAPI()") == 3
    assert len(included.read_files) == 1 and len(included.missing) == 2  # read once, shown three times
    assert inline_includes(source, "html", IncludedFiles(str(repo / "docs" / "page.md"))) == source


def test_the_fence_outgrows_the_backticks_in_the_file(repo: Path) -> None:
    # a fence at the start of a line inside the file would close a block opened with three backticks
    _write(repo / "docs_src" / "doc.py", 'USAGE = """Use it like this:\n\n```\nf()\n```\n"""\n')
    page = _write(repo / "docs" / "page.md", "Example:\n\n{* ../docs_src/doc.py *}\n\nAfter the example.\n")
    assert _text(page) == ('Example:\n\n````python\nUSAGE = """Use it like this:\n\n```\nf()\n```\n"""\n````\n\n'
                           'After the example.')


def test_an_edited_example_file_changes_the_build_fingerprint(repo: Path) -> None:
    _write(repo / "docs" / "page.md", "# Page\n\nRun it:\n\n{* ../docs_src/first_steps/tutorial001.py *}\n")
    _git(repo, "add", "-A")
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


def test_only_files_git_tracks_are_read_and_an_untracked_page_gets_the_corpus_folder(tmp_path: Path) -> None:
    # A home folder kept as a dotfiles repository: a page downloaded into it, which git does not track, must
    # not reach the repository's other files ("settings.py") by naming them; and inside a docs repository an
    # ignored or untracked file ("secrets/keys.py") is not read either.
    home = tmp_path / "home"
    home.mkdir()
    _git(home, "init", "-q")
    _write(home / "settings.py", "API_KEY = 'dotfiles'\n")
    _git(home, "add", "settings.py")
    _write(home / "Downloads" / "docs" / "examples" / "app.py", "print('beside the page')\n")
    page = _write(home / "Downloads" / "docs" / "page.md",
                  "{* settings.py *}\n\n{* ../../settings.py *}\n\n{* examples/app.py *}\n")
    text = _text(page, str(home / "Downloads" / "docs"), track=False)
    assert "dotfiles" not in text and "print('beside the page')" in text

    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    _write(project / "docs_src" / "app.py", "print('tracked')\n")
    page = _write(project / "docs" / "page.md", "{* ../docs_src/app.py *}\n\n{* ../secrets/keys.py *}\n")
    _git(project, "add", "-A")
    _write(project / "secrets" / "keys.py", "TOKEN = 'untracked'\n")
    text = _text(page, track=False)
    assert "print('tracked')" in text and "untracked" not in text and "(Example file: `secrets/keys.py`)" in text


def test_hostile_selections_and_paths_are_bounded(repo: Path) -> None:
    # a superscript digit is a digit to str.isdigit but not to int(); a 10-digit line number, a thousand
    # ranges, a drive path: none stops the build, and each reads at most what it may
    _write(repo / "C:" / "x.py", "DRIVE = 1\n")
    lines = "\n".join(f"line_{i} = {i}" for i in range(1, 31)) + "\n"
    _write(repo / "docs_src" / "lines.py", lines)
    many = ",".join(str(i) for i in range(1, 400, 2))  # 200 ranges: the first 100 are read
    page = _write(repo / "docs" / "page.rst", "\n".join([
        ".. literalinclude:: ../docs_src/lines.py", "   :lines: \u00b2", "",
        ".. literalinclude:: ../docs_src/lines.py", "   :lines: 9999999999", "",
        ".. literalinclude:: ../docs_src/lines.py", f"   :lines: {many}", "",
        ".. literalinclude:: ../docs_src/lines.py", "   :lines: 1" + " " * 3000 + "2", "",
        ".. literalinclude:: C:/x.py", "", "End."]) + "\n")
    text = _text(page)
    assert "DRIVE" not in text and text.endswith("End.")
    # the first two select no line (the directive is named instead), the third every other line, the fourth
    # (an option line too long to read) is named too
    assert [int(n) for n in re.findall(r"line_(\d+) =", text)] == list(range(1, 31, 2))
    assert text.count("(Example file: `docs_src/lines.py`)") == 3


def test_line_selections_of_snippets_and_sphinx(repo: Path) -> None:
    _write(repo / "docs_src" / "lines.py", "\n".join(f"line_{i} = {i}" for i in range(1, 21)) + "\n")
    _write(repo / "docs_src" / "fifteen.py", "\n".join(f"line_{i} = {i}" for i in range(1, 16)) + "\n")
    _write(repo / "docs_src" / "sixteen.py", "\n".join(f"line_{i} = {i}" for i in range(1, 17)) + "\n")
    read = IncludedFiles(str(_write(repo / "docs" / "page.md", "x\n")))
    _git(repo, "add", "-A")

    def shown(source: str, fmt: str = "markdown") -> list[int]:
        return [int(n) for n in re.findall(r"line_(\d+) =", inline_includes(source, fmt, read))]

    assert shown('--8<-- "docs_src/lines.py:18"') == [18, 19, 20]  # a start alone runs to the end
    assert shown('--8<-- "docs_src/lines.py:-2:"') == [19, 20]  # negative: from the end
    assert shown('--8<-- "docs_src/lines.py:3:4"') == [3, 4]
    assert shown(";--8<-- \"docs_src/lines.py\"") == []  # pymdownx's escape shows the syntax itself
    assert shown("{* ../docs_src/lines.py ln[2,5:6] *}") == [2, 5, 6]
    rst = ".. literalinclude:: ../docs_src/lines.py\n   {}\n"
    assert shown(rst.format(":lines: 18-"), "rst") == [18, 19, 20]  # an open range runs to the end
    assert shown(rst.format(":start-at: line_3 ") + "   :end-at: line_5 \n", "rst") == [3, 4, 5]
    assert shown(rst.format(":start-after: line_3 ") + "   :end-before: line_5 \n", "rst") == [4]
    indented = "- In a list item:\n\n  .. literalinclude:: ../docs_src/lines.py\n     :lines: 1\n"
    assert "\n  .. code-block:: python\n\n     line_1 = 1\n" in inline_includes(indented, "rst", read)
    # 15 lines are shown whole, highlights or not; 16 show the highlighted ones
    assert shown("{* ../docs_src/fifteen.py hl[8] *}") == list(range(1, 16))
    assert shown("{* ../docs_src/sixteen.py hl[8] *}") == [7, 8, 9]
    # an mdx include alone in a tilde fence keeps its fence
    assert inline_includes("~~~python\n{!../docs_src/fifteen.py!}\n~~~\n", "markdown", read).startswith(
        "~~~python\nline_1 = 1\n")
