"""Markup -> clean text + structure (raft_dataset.markup): exact renderings of realistic pages."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from raft_dataset import markup
from raft_dataset.markup import (
    ParsedMarkup,
    clean_inline,
    fenced_code_spans,
    parse,
    parse_html,
    parse_markdown,
    parse_rst,
)
from raft_dataset.records import Definition, Heading

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA = SHARED / "corpora"


def _body_at(parsed: ParsedMarkup, heading: Heading, length: int = 30) -> str:
    assert heading.start == heading.end
    return parsed.text[heading.start:heading.start + length]


def _outside_code(text: str) -> str:
    spans = fenced_code_spans(text)
    kept, pos = [], 0
    for start, end in spans:
        kept.append(text[pos:start] + "<code>")
        pos = end
    return "".join([*kept, text[pos:]])


def _assert_clean_convention(parsed: ParsedMarkup) -> None:
    text = parsed.text
    assert text == text.strip()
    assert "\n\n\n" not in _outside_code(text)  # code keeps its own blank lines
    assert all(line == line.rstrip() for line in text.split("\n"))
    for heading in parsed.headings:
        assert heading.start == heading.end and 0 <= heading.start <= len(text)
        assert 1 <= heading.level <= 6 and heading.text
    assert [h.start for h in parsed.headings] == sorted(h.start for h in parsed.headings)
    for definition in parsed.definitions:
        assert text[definition.start - len(definition.term) - 2:definition.start] == definition.term + ": "


# --------------------------------------------------------------------------------------------------
# A Sphinx reST page
# --------------------------------------------------------------------------------------------------

RST_PAGE = """\
.. _tut-views:

==============
Defining Views
==============

.. currentmodule:: flask

A view is registered with :meth:`~flask.Flask.route` and runs inside
:func:`range`-like loops; the app is a :class:`flask.Flask` and
:py:func:`len` works too. Read :ref:`Application Factories <app-factories>`,
:ref:`tut-views`, :ref:`url-building` and :doc:`/tutorial/index`.

.. This comment is not rendered.

Roles
-----

:data:`flask.g`, :attr:`Flask.config`, :mod:`flask.json`, :exc:`KeyError`,
:envvar:`FLASK_APP`, :option:`--debug`, :file:`app.py`, :program:`flask`,
:samp:`flask --app {name}`, :gh:`5000`, :term:`view function`,
:abbr:`WSGI (Web Server Gateway Interface)`, :guilabel:`&Save`,
:kbd:`Ctrl+C`, :menuselection:`File --> Open` and :dfn:`endpoint`.
A *view* returns **text**; see the `docs <https://flask.palletsprojects.com>`_ [#]_.

.. [#] The footnote body.

Example::

    @app.route("/")
    def index():
        return "Hello"

::

    $ flask run

.. code-block:: python
    :caption: app.py

    app = Flask(__name__)

>>> 1 + 1
2

.. note::
   Don't run the development server in production.

.. versionchanged:: 2.0
   The ``methods`` argument accepts a set.

.. toctree::
   :maxdepth: 2

   quickstart
   tutorial/index

.. image:: _static/flask.png
   :alt: Flask

Reference
~~~~~~~~~

.. glossary::

   view function
      A function that returns a response.

   endpoint
   endpoint name
      The name of a URL rule.

Flask
    A micro framework.

    It is small.

:param name: the import name.
:returns: the application.

.. list-table:: Methods
   :header-rows: 1

   * - Method
     - Use
   * - ``GET``
     - read
   * - ``POST``
     - write

.. function:: url_for(endpoint, **values)

   Build a URL.

.. autoclass:: flask.Flask
   :members:

.. custom-directive:: some argument
   :option: value

   Prose inside an unknown directive.
"""

RST_TEXT = """\
A view is registered with `route()` and runs inside `range()`-like loops; the app is a `flask.Flask` \
and `len()` works too. Read Application Factories, Defining Views, url building and Tutorial.

`flask.g`, `Flask.config`, `flask.json`, `KeyError`, `FLASK_APP`, `--debug`, `app.py`, `flask`, \
`flask --app name`, `5000`, view function, WSGI (Web Server Gateway Interface), Save, Ctrl+C, \
File > Open and endpoint. A view returns text; see the docs.

The footnote body.

Example:

```
@app.route("/")
def index():
    return "Hello"
```

```
$ flask run
```

app.py:

```python
app = Flask(__name__)
```

```pycon
>>> 1 + 1
2
```

Note: Don't run the development server in production.

Changed in version 2.0: The `methods` argument accepts a set.

view function: A function that returns a response.

endpoint, endpoint name: The name of a URL rule.

Flask: A micro framework.

It is small.

name: the import name.

Returns: the application.

Methods

| Method | Use |
| `GET` | read |
| `POST` | write |

`url_for(endpoint, **values)`

Build a URL.

Prose inside an unknown directive."""


def test_rst_page_renders_to_exact_clean_text():
    parsed = parse_rst(RST_PAGE)
    assert parsed.text == RST_TEXT
    assert parsed.title == "Defining Views"
    _assert_clean_convention(parsed)


def test_rst_page_headings_are_relative_levels_at_section_bodies():
    parsed = parse_rst(RST_PAGE)
    assert [(h.level, h.text) for h in parsed.headings] == [
        (1, "Defining Views"), (2, "Roles"), (3, "Reference"),
    ]
    assert [_body_at(parsed, h, 12) for h in parsed.headings] == [
        "A view is re", "`flask.g`, `", "view functio",
    ]


def test_rst_page_definitions_span_the_definition_text():
    parsed = parse_rst(RST_PAGE)
    text = parsed.text
    assert [(d.term, text[d.start:d.end]) for d in parsed.definitions] == [
        ("view function", "A function that returns a response."),
        ("endpoint, endpoint name", "The name of a URL rule."),
        ("Flask", "A micro framework.\n\nIt is small."),
    ]
    assert all(isinstance(d, Definition) for d in parsed.definitions)


@pytest.mark.parametrize(("role", "expected"), [
    (":func:`range`", "`range()`"),
    (":func:`zip()`", "`zip()`"),
    (":meth:`~flask.Flask.run`", "`run()`"),
    (":meth:`Flask.run <flask.Flask.run>`", "`Flask.run`"),
    (":class:`flask.Flask`", "`flask.Flask`"),
    (":class:`~flask.Flask`", "`Flask`"),
    (":class:`.Request`", "`Request`"),
    (":py:class:`!NotLinked`", "`NotLinked`"),
    (":ref:`Some Title <label>`", "Some Title"),
    (":ref:`tut-defining_views`", "tut defining views"),
    (":doc:`deploying/index`", "Deploying"),
    (":doc:`the tutorial <tutorial/index>`", "the tutorial"),
    (":doc:`/patterns/app-factories`", "App factories"),
    (":term:`WSGI`", "WSGI"),
    (":term:`apps <application>`", "apps"),
    (":abbr:`LIFO (last-in, first-out)`", "LIFO (last-in, first-out)"),
    (":guilabel:`&Cancel`", "Cancel"),
    (":kbd:`Control-x`", "Control-x"),
    (":menuselection:`Start --> Programs`", "Start > Programs"),
    (":dfn:`endpoint`", "endpoint"),
    (":data:`flask.g`", "`flask.g`"),
    (":attr:`Flask.debug`", "`Flask.debug`"),
    (":mod:`flask.json`", "`flask.json`"),
    (":exc:`KeyError`", "`KeyError`"),
    (":obj:`None`", "`None`"),
    (":envvar:`FLASK_APP`", "`FLASK_APP`"),
    (":option:`--debug`", "`--debug`"),
    (":file:`app.py`", "`app.py`"),
    (":program:`flask`", "`flask`"),
    (":command:`pip`", "`pip`"),
    (":samp:`print({x})`", "`print(x)`"),
    (":pep:`8`", "PEP 8"),
    (":rfc:`2616`", "RFC 2616"),
    (":made-up-role:`thing`", "`thing`"),
    ("``literal``", "`literal`"),
    ("`default role`", "`default role`"),
    ("`~/.netrc`", "`~/.netrc`"),  # requests: a path, not an object's "~" short name (was "`netrc`")
    (":class:`~requests.Session`", "`Session`"),
    (":func:`~jinja-filters.tojson`", "`tojson()`"),
])
def test_rst_roles(role, expected):
    assert parse_rst(f"See {role} here.").text == f"See {expected} here."


def test_rst_ref_to_a_label_in_the_same_page_shows_the_section_title():
    source = "Intro\n=====\n\nSee :ref:`setup`.\n\n.. _setup:\n\nSetting Up\n----------\n\nText.\n"
    assert parse_rst(source).text == "See Setting Up.\n\nText."


def test_rst_admonitions_version_notes_and_tabs():
    source = """\
.. admonition:: Custom *Title*

   Body of the admonition.

.. seealso:: :func:`other`

.. deprecated:: 2.3
   Use :meth:`new` instead.

.. versionadded:: 0.9

.. warning::

   First paragraph.

   Second paragraph.

.. tabs::

   .. group-tab:: Linux

      .. code-block:: text

         $ ls

   .. group-tab:: Windows

      Use ``dir``.

.. only:: html

   Only in HTML.
"""
    assert parse_rst(source).text == """\
Custom Title: Body of the admonition.

See also: `other()`

Deprecated since version 2.3: Use `new()` instead.

Added in version 0.9.

Warning: First paragraph.

Second paragraph.

Linux:

```text
$ ls
```

Windows: Use `dir`.

Only in HTML."""


def test_rst_tables_lists_and_other_blocks():
    source = """\
+------+------+
| A    | B    |
+======+======+
| 1    | 2    |
+------+------+

=====  =====
Col1   Col2
=====  =====
x      y
=====  =====

.. csv-table:: Prices
   :header: "Item", "Price"

   "Apple", 1

- outer

  - inner
  - inner two

    continued para

3. three
4. four

| Line one
| Line two

.. figure:: img.png

   The caption.

The |project| is great. |logo|

.. |project| replace:: Flask project
.. |logo| image:: logo.png

.. py:method:: Flask.run(host=None, port=None)
   :async:

   Runs the app.

.. automodule:: flask.json
   :members:

   Module docs paragraph.
"""
    assert parse_rst(source).text == """\
| A | B |
| 1 | 2 |

| Col1 | Col2 |
| x | y |

Prices

| Item | Price |
| Apple | 1 |

- outer
  - inner
  - inner two continued para

3. three
4. four

Line one
Line two

The caption.

The Flask project is great.

`Flask.run(host=None, port=None)`

Runs the app.

Module docs paragraph."""


def test_rst_never_reads_included_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    source = f"""\
Intro text.

.. include:: {secret}
.. literalinclude:: {secret}
.. raw:: html
   :file: {secret}
.. csv-table:: Data
   :file: {secret}
.. mdinclude:: {secret}

After.
"""
    parsed = parse_rst(source)
    assert parsed.text == "Intro text.\n\nAfter."


def test_rst_unknown_markup_never_produces_docutils_messages():
    source = """\
Title
=====

:nosuchrole:`x` and :also:unknown:`y`.

.. nosuchdirective:: arg
   :weird-option: 1

   Kept prose.

.. sphinx-ext-thing::

*Unclosed emphasis and ``unclosed literal and `broken ref`_ and |undefined|.

Title level
###########

Inconsistent
============
"""
    parsed = parse_rst(source)
    assert "Kept prose." in parsed.text
    assert "`x` and `y`." in parsed.text
    for residue in ("System Message", "system_message", "Unknown", "ERROR", "WARNING", "(level"):
        assert residue not in parsed.text
    _assert_clean_convention(parsed)


def test_rst_falls_back_to_text_when_docutils_fails(monkeypatch):
    def broken(source):
        raise ValueError("docutils choked")

    monkeypatch.setattr(markup, "_rst_doctree", broken)
    parsed = parse_rst(RST_PAGE)
    assert parsed.title == "Defining Views"
    assert parsed.text.startswith("A view is registered with `route()` and runs inside `range()`-like loops")
    assert "```python\napp = Flask(__name__)\n```" in parsed.text
    assert "Note: Don't run the development server in production." in parsed.text
    assert not re.search(r"^\.\. |:\w+:`", parsed.text, re.M)
    _assert_clean_convention(parsed)


# --------------------------------------------------------------------------------------------------
# A Markdown / MDX / Hugo / MkDocs page
# --------------------------------------------------------------------------------------------------

MD_PAGE = """\
---
title: "Dependency Injection"
weight: 3
---

import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

<!-- This comment is hidden. -->

# Dependencies { #dependencies }

FastAPI has a **very powerful** but *intuitive* [Dependency Injection](https://example.com/di)
system. See the [configuration]({{< relref "docs/configuration.md" >}}) page.<br>
Visit <https://fastapi.tiangolo.com> or ![logo](img/logo.png) nothing.

!!! note "Technical Details"
    Dependencies are cached per request.

    Per request only.

/// tip

Use `Depends()` with a callable.

///

{* ../../docs_src/dependencies/tutorial001.py hl[3] *}

<Tabs>
<TabItem value="pip" label="pip">

Install it with pip.

</TabItem>
</Tabs>

{{% note %}}
Shortcode notes keep their text.
{{% /note %}}

> [!WARNING]
> Do not share the cache.

## Parameters

1. First step
2. Second step
   with a continuation.

   Another paragraph.

   - nested item

* bullet

| Name | Type |
|------|------|
| `q` | `str` |
| `limit` | `int` |

```jinja
{{ x }}
# not a heading
```

    indented code

Depends
:   Declares a dependency.

Query
:   A query parameter.

---

Last words{% raw %}.
"""

MD_TEXT = """\
FastAPI has a very powerful but intuitive Dependency Injection system. See the configuration page. \
Visit https://fastapi.tiangolo.com or nothing.

Technical Details: Dependencies are cached per request.

Per request only.

Tip: Use `Depends()` with a callable.

(Example file: `docs_src/dependencies/tutorial001.py`)

Install it with pip.

Note: Shortcode notes keep their text.

Warning: Do not share the cache.

1. First step
2. Second step with a continuation. Another paragraph.
  - nested item

- bullet

| Name | Type |
| `q` | `str` |
| `limit` | `int` |

```jinja
{{ x }}
# not a heading
```

```
indented code
```

Depends: Declares a dependency.

Query: A query parameter.

Last words."""


def test_markdown_page_renders_to_exact_clean_text():
    parsed = parse_markdown(MD_PAGE)
    assert parsed.text == MD_TEXT
    assert parsed.title == "Dependency Injection"  # front matter wins over the first heading
    _assert_clean_convention(parsed)


def test_markdown_page_structure():
    parsed = parse_markdown(MD_PAGE)
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "Dependencies"), (2, "Parameters")]
    assert [_body_at(parsed, h, 13) for h in parsed.headings] == ["FastAPI has a", "1. First step"]
    assert [(d.term, parsed.text[d.start:d.end]) for d in parsed.definitions] == [
        ("Depends", "Declares a dependency."), ("Query", "A query parameter."),
    ]
    code = [parsed.text[s:e] for s, e in fenced_code_spans(parsed.text)]
    assert code == ["```jinja\n{{ x }}\n# not a heading\n```", "```\nindented code\n```"]


def test_markdown_myst_github_pymdown_and_toml_variants():
    source = """\
+++
title = "TOML Title"
+++

(my-label)=
# MyST page

```{note}
A MyST note with **bold**.
```

```{code-block} python
:linenos:
print("hi")
```

:::{warning}
Colon fence warning.
:::

```{toctree}
intro
```

??? tip "Collapsible"
    Hidden tip text.

> [!NOTE]
>
> Alert after a blank line.

/// details | Summary here
Details body.
///

//// tab | Python 3.10+
Tab content.
////

## The `app` object

1. Step one:

   ```bash
   pip install x
   ```

2. Step two.

<details>
<summary>Click to expand</summary>

Hidden **markdown** content.

</details>

<div class="user"><a href="{{ user.url }}"><img src="{{ user.avatar }}"/></a>@{{ user.login }}</div>

Text with footnote[^1] and ~~strike~~ and <abbr title="Hyper">HTML</abbr> and <kbd>Ctrl</kbd>.

[^1]: The footnote text.

--8<-- "snippets/extra.md"

export const meta = {title: 'x'};

<Callout type="info">JSX inner text</Callout>

Trailing {#anchor} attr and [ref link][ref].

[ref]: https://example.com
"""
    parsed = parse_markdown(source)
    assert parsed.title == "TOML Title"
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "MyST page"), (2, "The app object")]
    assert parsed.text == """\
Note: A MyST note with bold.

```python
print("hi")
```

Warning: Colon fence warning.

Collapsible: Hidden tip text.

Note: Alert after a blank line.

Summary here: Details body.

Python 3.10+: Tab content.

1. Step one:
```bash
pip install x
```
2. Step two.

Click to expand

Hidden markdown content.

Text with footnote and strike and HTML and Ctrl.

JSX inner text

Trailing attr and ref link.

The footnote text."""


def test_markdown_hugo_shortcodes_nest_and_pair():
    source = """\
{{< tabs tabTotal="2" tabID1="a" tabName1="A" >}}
{{< tab tabID="a" >}}
Tab prose.
{{< /tab >}}
{{< /tabs >}}

{{% warning %}}
Outer warning.

{{% note %}}
Inner note.
{{% /note %}}
{{% /warning %}}

A [ref]({{< ref "cli#add" >}} "Title") and {{< inline-code >}} inline.
"""
    assert parse_markdown(source).text == (
        "Tab prose.\n\nWarning: Outer warning.\n\nNote: Inner note.\n\nA ref and inline."
    )


def test_markdown_myst_colon_fences_and_pymdown_untitled_blocks():
    source = """\
:::{figure} img.png
:alt: A figure

The caption.
:::

:::{admonition} My Title
Admonition body.
:::

:::{note} Custom title
Note body.
:::

/// html | div.box
Inside a div.
///

```{versionchanged} 2.0
Now faster.
```
"""
    assert parse_markdown(source).text == (
        "The caption.\n\nMy Title: Admonition body.\n\nCustom title: Note body.\n\nInside a div.\n\n"
        "Changed in version 2.0: Now faster."
    )


def test_markdown_broken_yaml_front_matter_is_still_dropped():
    parsed = parse_markdown("---\ntitle: Colons: everywhere\ntags: [a\n---\n\nBody.")
    assert parsed == ParsedMarkup("Body.", "Colons: everywhere", (), ())


def test_markdown_title_falls_back_to_first_h1():
    assert parse_markdown("Intro.\n\n## Sub\n\n# Main\n\nBody.").title == "Main"
    assert parse_markdown("## Only a sub\n\nBody.").title is None


# --------------------------------------------------------------------------------------------------
# An HTML page
# --------------------------------------------------------------------------------------------------

HTML_PAGE = """\
<!DOCTYPE html>
<html>
<head>
  <title>Quickstart — Flask Documentation</title>
  <style>body { color: red; }</style>
  <script>var x = 1;</script>
</head>
<body>
<nav><a href="/">Home</a> | <a href="/docs">Docs</a></nav>
<header>Site header</header>
<main>
<h1>Quickstart<a class="headerlink" href="#quickstart">¶</a></h1>
<p>Eager to get <em>started</em>? This page gives a good
   introduction to <a href="/flask">Flask</a>.<br>Read on.</p>
<!-- a comment -->
<h2>A Minimal Application</h2>
<div class="highlight-python"><div class="highlight"><pre>from flask import Flask
app = Flask(__name__)
</pre></div></div>
<p>Call <code>app.run()</code> to start.</p>
<div class="admonition note"><p class="admonition-title">Note</p><p>Do not use it in production.</p></div>
<ul>
  <li>First <strong>item</strong></li>
  <li>Second item
    <ol start="3"><li>Nested three</li><li>Nested four</li></ol>
  </li>
</ul>
<dl>
  <dt>WSGI</dt><dd>The Web Server Gateway Interface.</dd>
  <dt>ASGI</dt><dd><p>Its async successor.</p></dd>
</dl>
<table>
  <thead><tr><th>Method</th><th>Use</th></tr></thead>
  <tbody><tr><td><code>GET</code></td><td>read</td></tr><tr><td>POST</td><td>write</td></tr></tbody>
</table>
<blockquote><p>Quoted wisdom.</p></blockquote>
<img src="logo.png" alt="Logo">
<hr>
</main>
<aside>Related pages</aside>
<footer>© 2010 Pallets</footer>
</body>
</html>
"""

HTML_TEXT = """\
Eager to get started? This page gives a good introduction to Flask. Read on.

```python
from flask import Flask
app = Flask(__name__)
```

Call `app.run()` to start.

Note: Do not use it in production.

- First item
- Second item
  3. Nested three
  4. Nested four

WSGI: The Web Server Gateway Interface.

ASGI: Its async successor.

| Method | Use |
| `GET` | read |
| POST | write |

Quoted wisdom."""


def test_html_page_renders_to_exact_clean_text():
    parsed = parse_html(HTML_PAGE)
    assert parsed.text == HTML_TEXT
    assert parsed.title == "Quickstart — Flask Documentation"
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "Quickstart"), (2, "A Minimal Application")]
    assert [_body_at(parsed, h, 12) for h in parsed.headings] == ["Eager to get", "```python\nfr"]
    assert [(d.term, parsed.text[d.start:d.end]) for d in parsed.definitions] == [
        ("WSGI", "The Web Server Gateway Interface."), ("ASGI", "Its async successor."),
    ]
    _assert_clean_convention(parsed)


def test_html_drops_site_chrome_but_keeps_an_articles_header():
    page = """<body><header>Site name</header><div role="navigation">Menu</div>
<div class="sphinxsidebar">Sidebar</div><article><header><h1>Post</h1></header><p>Body.</p>
<footer>Share</footer></article><div class="toctree-wrapper"><ul><li>Next page</li></ul></div></body>"""
    assert parse_html(page) == ParsedMarkup("Body.", "Post", (Heading(0, 0, 1, "Post"),), ())


def test_html_title_falls_back_to_first_h1():
    assert parse_html("<html><body><h1>Hello <b>World</b></h1><p>x</p></body></html>").title == "Hello World"


# --------------------------------------------------------------------------------------------------
# Dispatcher and helpers
# --------------------------------------------------------------------------------------------------


def test_parse_dispatches_and_text_only_normalises():
    assert parse("# T\n\nx", "markdown") == parse_markdown("# T\n\nx")
    assert parse("T\n=\n\nx", "rst").headings == (Heading(0, 0, 1, "T"),)
    # Inline code in a heading: plain in `text`, in backticks in `marked` (questions read code as a name).
    assert parse("## Import `Field`\n\nx", "markdown").headings == (Heading(0, 0, 2, "Import Field", "Import `Field`"),)
    assert parse("Using ``async``\n===============\n\nx", "rst").headings == (
        Heading(0, 0, 1, "Using async", "Using `async`"),
    )
    assert parse("<p>x</p>", "html").text == "x"
    assert parse("  a  \r\n\r\n\r\n\r\nb\r\n", "text") == ParsedMarkup("a\n\nb", None, (), ())
    with pytest.raises(ValueError, match="unknown markup format"):
        parse("x", "docx")


def test_empty_inputs():
    for fmt in ("markdown", "rst", "html", "text"):
        assert parse("", fmt) == ParsedMarkup("", None, (), ())
        assert parse("  \n\n ", fmt).text == ""


def test_fenced_code_spans():
    text = "a\n```py\nx\n```\nb\n  ~~~~\n~~~\n  ~~~~\n````\n```\nopen"
    spans = fenced_code_spans(text)
    assert [text[s:e] for s, e in spans] == ["```py\nx\n```", "  ~~~~\n~~~\n  ~~~~", "````\n```\nopen"]
    assert fenced_code_spans("``` inline `code` ```") == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("Run the **server** with [uvicorn](https://uvicorn.dev) { #run }", "Run the server with uvicorn"),
    ("The `app_ctx` and *emphasis* and _under_ and dependency_overrides", "The `app_ctx` and emphasis and under and dependency_overrides"),
    ("<abbr title='x'>CLI</abbr> usage ![img](a.png)", "CLI usage"),
    ("Use :func:`url_for` here", "Use `url_for()` here"),
    ("  spaced\n  out  ", "spaced out"),
])
def test_clean_inline(raw, expected):
    assert clean_inline(raw) == expected


def test_code_with_fence_lines_gets_a_longer_fence():
    parsed = parse_markdown("````markdown\n```python\nx\n```\n````")
    assert parsed.text == "````markdown\n```python\nx\n```\n````"
    assert fenced_code_spans(parsed.text) == [(0, len(parsed.text))]


# --------------------------------------------------------------------------------------------------
# Hostile input stays bounded
# --------------------------------------------------------------------------------------------------


def test_deep_nesting_does_not_crash():
    started = time.monotonic()
    md = parse_markdown("> " * 3000 + "- item\n  - nested\n")
    assert isinstance(md, ParsedMarkup)
    html = parse_html("<div>" * 10_000 + "deep text" + "</div>" * 10_000)
    assert html.text == "deep text"
    fragment = parse_markdown("<div>" * 10_000 + "deep md" + "</div>" * 10_000)
    assert fragment.text == "deep md"
    rst = parse_rst("\n".join(" " * i + f"level{i}\n" for i in range(3000)))
    assert "level0" in rst.text and "level2999" in rst.text
    assert parse_rst("\n".join("   " * i + ".. note::\n" for i in range(3000))).text == ""
    assert time.monotonic() - started < 20


def test_two_megabyte_one_line_markdown_is_fast():
    words = ["the", "quick", "brown", "fox", "`code`", "**bold**", "*em*", "[link](http://x.y)", "<b>tag</b>",
             "{{ x }}", "_u_", "a_b"]
    line = " ".join(words[i % len(words)] for i in range(2_000_000 // 5))
    for source in (line, "[" * 2_000_000, "![" * 1_000_000, "{{" * 1_000_000):
        started = time.monotonic()
        parsed = parse_markdown(source)
        assert time.monotonic() - started < 8
        assert len(parsed.text) > 1_000_000


def test_line_by_line_rendering_of_oversized_documents_keeps_structure(monkeypatch):
    monkeypatch.setattr(markup, "_BLOCK_BUDGET", 10)  # force the linear path used for huge documents
    rst = parse_rst(RST_PAGE)
    assert [(h.level, h.text) for h in rst.headings] == [
        (1, "Defining Views"), (2, "Roles"), (3, "Reference"),
    ]
    assert "```python\napp = Flask(__name__)\n```" in rst.text
    assert "Changed in version 2.0: The `methods` argument accepts a set." in rst.text
    md = parse_markdown(MD_PAGE)
    assert md.title == "Dependency Injection"
    assert [(h.level, h.text) for h in md.headings] == [(1, "Dependencies"), (2, "Parameters")]
    assert "```jinja\n{{ x }}\n# not a heading\n```" in md.text
    for parsed in (rst, md):
        assert not any(regex.search(_prose(parsed.text)) for regex in RESIDUE.values())
        _assert_clean_convention(parsed)


def test_many_lines_are_fast():
    for source, fn in (("- a\n" * 150_000, parse_markdown), ("a\n\n" * 200_000, parse_markdown),
                       ("- a\n" * 150_000, parse_rst), ("x :func:`f` " * 60_000, parse_rst)):
        started = time.monotonic()
        parsed = fn(source)
        assert time.monotonic() - started < 8
        assert parsed.text


# --------------------------------------------------------------------------------------------------
# The real corpora: no markup residue
# --------------------------------------------------------------------------------------------------

RESIDUE = {
    "role": re.compile(r":\w+:`"),
    "directive": re.compile(r"^\.\. ", re.M),
    "adornment": re.compile(r"^([=\-~^*#\"])\1+$", re.M),
    "hugo <": re.compile(r"\{\{<"),
    "hugo %": re.compile(r"\{\{%"),
    "template tag": re.compile(r"\{%"),
    "html comment": re.compile(r"<!--"),
    "link": re.compile(r"\]\("),
    "include": re.compile(r"\{\*"),
    "block marker": re.compile(r"///"),
    "admonition": re.compile(r"!!! "),
}


def _prose(text: str) -> str:
    """The text outside fenced code blocks, inline code replaced (code is content, not markup)."""
    return re.sub(r"`+[^`\n]*`+", " CODE ", _outside_code(text))


@pytest.mark.parametrize(("corpus", "pattern", "parser", "at_least"), [
    ("flask_docs", "*.rst", parse_rst, 70),
    ("poetry_docs", "*.md", parse_markdown, 15),
    ("fastapi_docs", "*.md", parse_markdown, 150),
])
def test_real_corpora_render_without_markup_residue(corpus, pattern, parser, at_least, capsys):
    root = CORPORA / corpus
    if not root.is_dir():
        pytest.skip(f"{root} is not available (the real data in ../shared beside the repo)")
    files = sorted(root.rglob(pattern))
    assert len(files) >= at_least
    residue: dict[str, list[str]] = {}
    for path in files:
        parsed = parser(path.read_text(encoding="utf-8"))
        _assert_clean_convention(parsed)
        prose = _prose(parsed.text)
        hits = [name for name, regex in RESIDUE.items() if regex.search(prose)]
        if hits:
            residue[path.relative_to(root).as_posix()] = hits
    with capsys.disabled():
        print(f"\n{corpus}: {len(residue)}/{len(files)} files with markup residue "
              f"({len(residue) / len(files):.1%}) {residue or ''}")
    assert residue == {}


def test_terminal_output_loses_its_colour_tags_but_html_examples_keep_theirs():
    """fastapi_docs/fastapi-cli.md renders a terminal with `<font color=...>` and `<span style=...>` inside a
    console block; the chunks showed the tags. An HTML example in an html block is code: kept."""
    console = ('To run your app, use the `fastapi dev` command:\n\n```console\n$ <font color="#4E9A06">fastapi</font> dev\n\n'
               '  <span style="background-color:#009485"><font color="#D3D7CF"> FastAPI </font></span>  Starting '
               'server at <u style="text-decoration-style:solid">http://127.0.0.1:8000</u> &amp; docs\n```\n')
    text = parse_markdown(console).text
    assert "```console\n$ fastapi dev\n\n   FastAPI   Starting server at http://127.0.0.1:8000 & docs\n```" in text
    example = '```html\n<span style="color: red"><font color="red">Warning</font></span>\n```\n'
    assert '<span style="color: red"><font color="red">Warning</font></span>' in parse_markdown(example).text


def test_an_included_code_file_is_named_not_silently_dropped():
    """fastapi_docs: 293 of 440 `{* ... *}` includes follow a lead-in ("Let's start with a simple example:")
    that ended on nothing once the include was dropped. Markup reads no files, so the text names the file;
    an included text file (more markdown or reST) is still dropped."""
    md = ('Start with an example:\n\n{* ../../docs_src/python_types/tutorial001_py39.py hl[1] *}\n\n'
          '--8<-- "docs/examples/config.toml"\n\n--8<-- "docs/includes/abbreviations.md"\n\nThe end.\n')
    assert parse_markdown(md).text == (
        "Start with an example:\n\n(Example file: `docs_src/python_types/tutorial001_py39.py`)\n\n"
        "(Example file: `docs/examples/config.toml`)\n\nThe end.")
    rst = ("Title\n=====\n\nUse it like this:\n\n.. literalinclude:: ../examples/app.py\n   :language: python\n"
           "   :lines: 1-10\n\n.. literalinclude:: ../README.rst\n\nDone here.\n")
    assert parse_rst(rst).text == "Use it like this:\n\n(Example file: `examples/app.py`)\n\nDone here."


def test_material_code_annotation_markers_are_not_code():
    """fastapi_docs/deployment/docker.md: `# (1)!` lines in a `{ .annotate }` Dockerfile are where the
    numbered notes after the block attach on the page; a plain `# (4)` comment is the code's own."""
    md = ("Some text here.\n\n```{ .dockerfile .annotate }\n# (1)!\nFROM python:3.14\n\n# (2)!\nWORKDIR /code\n"
          "RUN pip install x  # (3)!\n# (4) kept: a plain comment\n```\n\n1. Start from the official Python image.\n")
    assert parse_markdown(md).text == (
        "Some text here.\n\n```dockerfile\nFROM python:3.14\n\nWORKDIR /code\nRUN pip install x\n"
        "# (4) kept: a plain comment\n```\n\n1. Start from the official Python image.")


def test_an_mdx_include_is_named_in_a_fence_or_alone():
    """fastapi_docs/python-types.md and advanced/templates.md: mdx_include's `{!> ../../docs_src/x.py!}`, alone
    in a fence, showed as the code of the block. The fence holds nothing else, so the note replaces it; a
    fence with more than the include is code as written, and an included markdown file is dropped."""
    md = ('This means a union:\n\n```Python hl_lines="1"\n{!> ../../docs_src/python_types/tutorial008b_py310.py!}\n```\n\n'
          'Write a template:\n\n```jinja\n{!../../docs_src/templates/templates/item.html!}\n```\n\n'
          '{!../../docs/en/docs/release-notes.md!}\n\n'
          '```Python\n# the syntax\n{!../x.py!}\n```\n')
    assert parse_markdown(md).text == (
        "This means a union:\n\n(Example file: `docs_src/python_types/tutorial008b_py310.py`)\n\n"
        "Write a template:\n\n(Example file: `docs_src/templates/templates/item.html`)\n\n"
        "```Python\n# the syntax\n{!../x.py!}\n```")


def test_myst_roles_render_like_the_rst_roles_they_are():
    """click/docs (MyST): "{class}`CliRunner` captures output ..." reached answers with its role markup."""
    source = ("## The {class}`Context` object\n\nUse {func}`echo`, {meth}`~click.ParamType.shell_complete` or "
              "{class}`click.Group`; see {ref}`Positional arguments <arguments>`. It raises {exc}`UnicodeError`.\n")
    parsed = parse_markdown(source)
    assert parsed.text == ("Use `echo()`, `shell_complete()` or `click.Group`; see Positional arguments. It raises "
                           "`UnicodeError`.")
    assert parsed.headings[0].marked == "The `Context` object"
    long_page = parse_markdown(source * 1000)  # past the inline budget, the cheap cleaner agrees
    assert "{" not in long_page.text and long_page.text.endswith("It raises `UnicodeError`.")


def test_an_unknown_directive_holding_a_program_keeps_it_as_code():
    """click/docs: `.. click:example::` (a Sphinx extension) holds a program; its content parsed as reST
    became definition lists, and "def hello():" a question ("What is def hello()?")."""
    source = ("Decorate a function:\n\n```{eval-rst}\n.. click:example::\n    import click\n\n    @click.command()\n"
              "    def hello():\n        click.echo('Hello World!')\n\nWhat it looks like:\n\n.. click:run::\n"
              "    invoke(hello, args=['--help'])\n\n.. tidepool:hooks::\n\n    Plugins load in order.\n    Each one "
              "sees the config.\n```\n")
    parsed = parse_markdown(source)
    assert parsed.text == (
        "Decorate a function:\n\n```\nimport click\n\n@click.command()\ndef hello():\n    click.echo('Hello World!')"
        "\n```\n\nWhat it looks like:\n\n```\ninvoke(hello, args=['--help'])\n```\n\nPlugins load in order. Each one "
        "sees the config.")
    assert parsed.definitions == ()


def test_an_unknown_directive_holding_a_console_session_keeps_it_as_code():
    """pip/docs/html/getting-started.md: "```{pip-cli}" holds a shell session whose output lines read as
    prose; it became one line of text ("$ pip install git+https://... [...] Successfully installed ...")."""
    source = ("### Install a package from GitHub\n\n```{pip-cli}\n$ pip install git+https://github.com/pypa/sample.git@main"
              "\n[...]\nSuccessfully installed sample\n```\n\n```{tidepool-note}\nRuns cost $ 5 a month.\nPlugins load "
              "in order.\n```\n")
    assert parse_markdown(source).text == (
        "```\n$ pip install git+https://github.com/pypa/sample.git@main\n[...]\nSuccessfully installed sample\n```"
        "\n\nRuns cost $ 5 a month. Plugins load in order.")
    # A command and the prose after it (a tab of install steps) is not one session: the prose stays prose.
    tab = "```{tab-item} Unix\n$ python -m pip install tidepool\n\nThen restart your shell and run it.\n```\n"
    assert parse_markdown(tab).text == "$ python -m pip install tidepool\n\nThen restart your shell and run it."


def test_a_definition_term_written_with_its_colon_gets_one_colon():
    """requests/docs/user/advanced.rst: "``response``:" over its body read "`response`:: The response ..."."""
    parsed = parse_rst("Available hooks:\n\n``response``:\n    The response generated from a Request.\n")
    assert parsed.text == "Available hooks:\n\n`response`: The response generated from a Request."
    assert [d.term for d in parsed.definitions] == ["`response`"]


def test_a_margin_every_code_line_shares_is_the_pages_not_the_codes():
    """click/docs/option-decorators.md writes a fenced example four spaces in; the code starts at its margin."""
    parsed = parse_markdown("Use it:\n\n```python\n    @click.command()\n    def encrypt(password):\n"
                            "        click.echo(password)\n```\n")
    assert parsed.text == "Use it:\n\n```python\n@click.command()\ndef encrypt(password):\n    click.echo(password)\n```"


def test_an_autodoc_directive_keeps_the_name_of_what_it_documents():
    """click/docs/parameter-types.md lists its types as bullets of `.. autoclass::` (in `{eval-rst}` blocks):
    the docstrings cannot be read, but the list was six empty bullets."""
    source = "Types:\n\n*   .. autoclass:: Choice\n       :noindex:\n\n*   .. autofunction:: click.echo\n\nAfter.\n"
    assert parse_rst(source).text == "Types:\n\n- `Choice`\n- `click.echo`\n\nAfter."
    # Elsewhere only its written content stays: a page of `.. autofunction::` lines is no page of names.
    assert parse_rst(".. autoclass:: requests.Session\n   :members:\n\n   A session.\n").text == "A session."


def test_a_paragraph_of_links_only_is_navigation_and_goes():
    """httpx/docs/third_party_packages.md: "[GitHub](...) - [Documentation](...)" under each package read
    "GitHub - Documentation" in the contexts. A table of contents keeps its one-link items."""
    source = ("## Hishel\n\n[GitHub](https://github.com/x/hishel) - [Documentation](https://hishel.com/)\n\n"
              "An elegant HTTP cache. See [the docs](https://hishel.com/).\n\n[GitHub](https://github.com/y)\n\n"
              "Contents:\n\n- [Install](install.md)\n- [Usage](usage.md)\n")
    assert parse_markdown(source).text == "An elegant HTTP cache. See the docs.\n\nContents:\n\n- Install\n- Usage"
    # Links named otherwise are content, and a list item is never navigation to drop.
    assert parse_markdown("[httpx-auth](a) [httpx-cache](b)\n\n- [GitHub](c) | [PyPI](d)\n").text == (
        "httpx-auth httpx-cache\n\n- GitHub | PyPI")


def test_myst_code_directives_stay_code():
    """attrs/docs (MyST): "```{doctest}" sessions were parsed as markdown, flattened to one line, and
    `__init__` lost its underscores to emphasis ("def init(self, x)")."""
    source = ("You can also add keyword-only attributes:\n\n```{doctest}\n>>> @define\n... class A:\n"
              "...     a: int = field(kw_only=True)\n>>> A.__init__\n```\n\n```{testcode}\nprint(__name__)\n```\n\n"
              "```{tidepool-example}\nschedule = every(5).minutes\nrun(schedule)\n```\n\n"
              "```{tab} Shell\nRun `tidepool init` once.\n```\n")
    parsed = parse_markdown(source)
    assert parsed.text == (
        "You can also add keyword-only attributes:\n\n```pycon\n>>> @define\n... class A:\n"
        "...     a: int = field(kw_only=True)\n>>> A.__init__\n```\n\n```\nprint(__name__)\n```\n\n"
        "```\nschedule = every(5).minutes\nrun(schedule)\n```\n\nRun `tidepool init` once.")


def test_a_definition_term_that_is_a_sentence_leads_its_paragraph():
    """attrs/docs/overview.md: "**The class belongs to the users.**" over ": You define a class ..." read
    "The class belongs to the users.: You define ..." and asked "What are the class belongs to the users?"."""
    parsed = parse_markdown("**The class belongs to the users.**\n\n: You define a class and attrs adds methods.\n\n"
                            "**Slots**\n\n: Classes without a `__dict__`.\n")
    assert parsed.text == ("The class belongs to the users. You define a class and attrs adds methods.\n\n"
                           "Slots: Classes without a `__dict__`.")
    assert [d.term for d in parsed.definitions] == ["Slots"]
    rst = parse_rst("Performance matters.\n    The work is done when the class is defined.\n")
    assert rst.text == "Performance matters. The work is done when the class is defined."
    assert rst.definitions == ()


def test_a_backslash_escape_in_rest_leaves_no_control_character():
    """jinja/docs/tricks.rst: "``block``\\ s" reached a quote as "`block`\\x00s": docutils marks escapes with NUL."""
    parsed = parse_rst("Outside of ``block``\\ s in child templates, \\*stars\\* stay.\n\n\\* An escaped list marker.\n")
    assert parsed.text == "Outside of `block`s in child templates, *stars* stay.\n\n* An escaped list marker."
