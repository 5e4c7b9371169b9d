"""Offline questions: headings, glossary terms and FAQ sentences -> questions a user would ask."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from raft_dataset.offline_questions import (
    definition_question,
    derive_queries,
    heading_question,
    proper_nouns,
    question_sentences,
)
from raft_dataset.records import Definition, Document, Heading

NAMES = frozenset({"Poetry", "Flask", "Python", "Windows", "Gunicorn", "Quart", "Docker", "Tidepool"})

# (heading, page title, expected question or None)
HEADINGS = [
    # Already questions: used as written, in any script.
    ("Why is the dependency resolution process slow?", "FAQ", "Why is the dependency resolution process slow?"),
    ("Is tox supported?", "FAQ", "Is tox supported?"),
    ("Why Blueprints?", None, "Why Blueprints?"),
    ("I don't want Poetry to manage my virtual environments. Can I disable it?", "FAQ",
     "I don't want Poetry to manage my virtual environments. Can I disable it?"),
    ("什么是依赖注入？", None, "什么是依赖注入？"),
    ("In a hurry?", None, None),  # a teaser, not a question
    # An FAQ entry that is a bare topic (requests/docs/community/faq.rst) asks about it.
    ("Encoded Data?", "FAQ", "What about encoded data?"),
    ("HTTPS support?", "FAQ", "What about HTTPS support?"),
    # A tutorial's step (click's complex.md, fastapi's bigger-applications.md), not a topic.
    ("The First Child Command", None, None),
    ("Another module with APIRouter", None, None),
    ("First-time setup", None, "What is the first-time setup?"),
    ("Requests-Threads", None, "What is Requests-Threads?"),  # a package's name (was "What are requests-threads?")
    ("About third party integrations", None, "What are third party integrations?"),
    ("My job left processes running after it timed out. Why?", None,
     "My job left processes running after it timed out. Why?"),
    # Interrogatives without a question mark.
    ("How to install Poetry", None, "How do I install Poetry?"),
    ("Why Poetry", None, "Why Poetry?"),
    ("When to use Quart instead", None, "When should I use Quart instead?"),
    ("How the Context Works", None, "How does the context work?"),
    ("How a Request is Handled", None, "How is a request handled?"),
    # black's and pip's docs: a subject, its verb and its object ("How does Black wraps line?" before).
    ("How Black wraps lines", None, "How does Black wrap lines?"),
    ("Why Black uses double quotes", None, "Why does Black use double quotes?"),
    ("How pip resolves dependencies", None, "How does pip resolve dependencies?"),
    ("How Proxy Forwarded Headers Work", None, "How do proxy forwarded headers work?"),
    ("What is a Program", None, "What is a program?"),
    ("What Tidepool does", None, "What does Tidepool do?"),
    ("What Tidepool does not do", None, "What does Tidepool not do?"),
    ("What it does", None, None),
    ("Where to go from here", None, None),
    # Problem statements.
    ("My computer won't connect", None, "What should I do if my computer won't connect?"),
    ("Requests are timing out", None, "What should I do if requests are timing out?"),
    ("My requests are timing out!", "FAQ", "What should I do if my requests are timing out?"),
    ("Error: ModuleNotFoundError", None, "What should I do about ModuleNotFoundError?"),
    ("ImportError when running tests", None, "What should I do if I get ImportError when running tests?"),
    ("Tests fail on Windows", None, "What should I do if tests fail on Windows?"),
    ("The build is slow", None, "What should I do if the build is slow?"),
    ("pip doesn't find the package", None, "What should I do if pip doesn't find the package?"),
    ("Lock file out of date", None, "What should I do if the lock file is out of date?"),
    ("Slow dependency resolution", None, "What should I do about slow dependency resolution?"),
    # A problem word before its noun modifies it (was "What should I do if specific is breaking changes?").
    ("Specific Breaking Changes", None, "What should I do about specific breaking changes?"),
    ("Builds broken on Windows", None, "What should I do if builds are broken on Windows?"),
    ("Connection timeouts", None, "What should I do about connection timeouts?"),
    ("Troubleshooting installation problems", None, "How do I troubleshoot installation problems?"),
    ("Troubleshooting", None, None),
    # Gerunds and imperatives.
    ("Installing packages", None, "How do I install packages?"),
    # A noun made from a verb is the gerund's object (click, httpx); a gerund naming a field modifies its noun.
    ("Enabling Completion", None, "How do I enable completion?"),
    ("Using auto-detection", None, "How do I use auto-detection?"),
    ("Caching Decorator", None, "What is the caching decorator?"),
    ("Scheduling syntax", None, "What is scheduling syntax?"),
    ("Logging Requests", None, "How do I log requests?"),
    ("Use feature detection", None, "How do I use feature detection?"),  # click (was "What is the use feature ...?")
    ("Use Cases", None, None),
    ("Use of Generics", None, "What is the use of generics?"),
    ("Use with Docker", None, None),
    ("Install the CLI", None, "How do I install the CLI?"),
    ("Configuring logging", None, "How do I configure logging?"),
    ("Using Poetry with pre-commit", None, "How do I use Poetry with pre-commit?"),
    ("Deploying to Production", None, "How do I deploy to production?"),
    ("Executing modules as scripts", None, "How do I execute modules as scripts?"),
    ("Accessing and Modifying the Session", None, "How do I access and modify the session?"),
    ("Logging and run history", None, None),  # two topics, not "How do I log and run history?"
    ("Troubleshooting FAQ", None, None),  # the page's kind, not "How do I troubleshoot FAQ?"
    ("Troubleshooting slow builds", None, "How do I troubleshoot slow builds?"),  # not "if troubleshooting is slow"
    ("Debugging failed runs", None, "How do I debug failed runs?"),
    ("Self-hosting JavaScript and CSS for docs", None, "How do I self-host JavaScript and CSS for docs?"),
    ("Overriding dependencies during testing", None, "How do I override dependencies during testing?"),
    ("Define and Access the Database", None, "How do I define and access the database?"),
    ("Tell Flask it is Behind a Proxy", None, "How do I tell Flask it is behind a proxy?"),
    ("Log In", None, "How do I log in?"),
    ("Use `SecurityScopes`", None, "How do I use `SecurityScopes`?"),
    ("Install Flask", None, "How do I install Flask?"),
    ("Call uvicorn", None, "How do I call uvicorn?"),
    ("Installing", "Gunicorn", "How do I install Gunicorn?"),
    ("Binding Externally", "Gunicorn", "How do I bind Gunicorn externally?"),
    ("Running", None, None),
    ("Running", "Quickstart", None),
    ("Registering", "Handling Application Errors", None),
    ("Build and Install", None, None),  # no object
    ("Test it", None, None),  # the object is in the previous section
    ("Fix it with `secrets.compare_digest()`", None, None),
    ("Handling of pre-releases", None, "What is the handling of pre-releases?"),
    ("Caching Decorator", None, "What is the caching decorator?"),  # a gerund as a modifier
    ("Read One Hero", None, "How do I read one hero?"),
    # Noun phrases.
    ("Path Parameters", None, "What are path parameters?"),
    ("The Module Search Path", None, "What is the module search path?"),
    ("Dependency groups", None, "What are dependency groups?"),
    ("Caching", "Caching", "What is caching?"),
    ("Application Object", None, "What is the application object?"),
    ("Template Inheritance", None, "What is template inheritance?"),
    ("Purpose of the Context", None, "What is the purpose of the context?"),
    ("Cross-Site Scripting (XSS)", None, "What is cross-site scripting (XSS)?"),
    ("X-Frame-Options", None, "What is X-Frame-Options?"),
    ("Middleware", None, "What is middleware?"),
    ("Sessions", None, "What are sessions?"),
    ("Flask Extensions", None, "What are Flask extensions?"),
    ("The `pyproject.toml` file", None, "What is the `pyproject.toml` file?"),
    ("`dependency_overrides`", None, "What is `dependency_overrides`?"),
    ("flask.Flask", None, "What is `flask.Flask`?"),
    ("requires-python", None, "What is `requires-python`?"),
    ("Static Files - `StaticFiles`", None, "What is `StaticFiles`?"),
    ("About `root_path`", None, "What is `root_path`?"),
    ("SQL (Relational) Databases", None, "What are SQL databases?"),
    ("repositories..url", None, None),  # a placeholder lost in rendering
    ("Exceptions", "Errors and Exceptions", "What are exceptions?"),  # the page title is never appended
    # A thing with, in or as another is asked about as something one uses.
    ("MongoDB with MongoEngine", None, "How do I use MongoDB with MongoEngine?"),
    ("Dependencies with `yield`", None, "How do I use dependencies with `yield`?"),
    ("Classes as Dependencies", None, "How do I use classes as dependencies?"),
    # ... a tool, a name or code on either side; otherwise it is a topic.
    ("Settings in a dependency", None, "What are settings in a dependency?"),
    ("Users with Admin Rights", None, "What are users with admin rights?"),
    ("Backups in the Cloud", None, "What are backups in the cloud?"),
    ("Design Decisions in Flask", None, "What are design decisions in Flask?"),  # said about Flask, not used
    ("Errors in production", None, "What are errors in production?"),
    ("Tidepool in five minutes", None, None),  # the page's promise
    ("Pydantic Models for Forms", None, "How do I use Pydantic models for forms?"),
    ("Patterns for Flask", None, "What are patterns for Flask?"),
    # A noun does not go to or from somewhere: the first word is a verb.
    ("Email Errors to Admins", None, "How do I email errors to admins?"),
    ("Read settings from `.env`", None, "How do I read settings from `.env`?"),
    ("Code to get the username", None, "What is the code to get the username?"),
    ("Release Notes from 1.0", None, "What are release notes from 1.0?"),
    # A section of technical details explains how the thing works.
    ("Dependencies with `yield` and `except`, Technical Details", None,
     "How do dependencies with `yield` and `except` work?"),
    ("The Routing System, Internals", None, "How does the routing system work?"),
    # Code is a name: what one imports keeps its case.
    ("Import `Field`", None, "How do I import `Field`?"),
    ("Import the Module", None, "How do I import the module?"),
    ("Dependency `extras`", None, "What are dependency `extras`?"),  # code holding a plural noun
    # Not topics.
    ("A Word About Names and Objects", "The Python Tutorial", None),
    ("Whetting Your Appetite", "The Python Tutorial", None),
    ("Errors and Exceptions", "Errors and Exceptions", None),
    ("Before Using Apps", None, None),
    ("My First Blueprint", None, None),
    ("Using your virtual environment", None, None),
    ("Getting Started", None, None),
    ("Next Steps", None, None),
    ("What's next", None, None),
    ("Hello World", None, None),
    ("Table of contents", None, None),
    ("Index", None, None),
    ("Introduction", None, None),
    ("Overview", None, None),
    ("Notes", None, None),
    ("See also", None, None),
    ("Summary", None, None),
    ("Recap", None, None),
    ("Partial updates recap", None, None),
    ("Examples", None, None),
    ("Changelog", None, None),
    ("License", None, None),
    ("FAQ", None, None),
    ("Appendix", None, None),
    ("Contributing", None, None),
    ("Technical Details", None, None),
    ("Other event loops", None, None),
    ("Working with this Document", None, None),
    ("Redirects and Errors", None, None),
    ("A Minimal Application", None, None),
    ("In Production", None, None),
    ("Just Modern Python", None, None),  # fastapi_docs/features.md: a slogan ("What is just modern Python?" before)
    ("Only one dependency", None, None),
    ("Still Images", None, "What are still images?"),  # "still" is an adjective here, not a focus adverb
    ("Don't use the Chat for Questions", None, None),
    ("Do not Separate Schemas", None, None),
    ("Body - Multiple Parameters", None, None),
    ("The Blueprint", None, None),
    ("cache clear", None, None),  # a command written without markup
    ("name", None, None),  # a key written without markup
    ("An Informal Introduction to Python", None, None),
    ("This is a very long heading that reads like a sentence and names no single topic at all", None, None),
    # Versions, dates, no letters.
    ("1.2.0", None, None),
    ("Version 2.0 (2021-05-11)", None, None),
    ("v0.3", None, None),
    ("0.141.1 (2026-07-29)", None, None),
    ("2021-05-11", None, None),
    ("---", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("heading", "page_title", "expected"), HEADINGS)
def test_heading_question(heading, page_title, expected):
    assert heading_question(heading, page_title=page_title, proper_nouns=NAMES) == expected


def test_heading_table_covers_enough_cases():
    assert len(HEADINGS) >= 50
    assert sum(q is None for _, _, q in HEADINGS) >= 20


def test_bad_questions_of_the_old_derivation_are_gone():
    bad = {
        "A Word About Names and Objects": "What are a word about names and objects?",
        "Whetting Your Appetite": "What is whetting your Appetite?",
        "Executing modules as scripts": "What are executing modules as scripts?",
        "My computer won't connect": "What is my computer won't connect?",
        "Before Using Apps": "How do I read Before Using Apps?",
    }
    for heading, old in bad.items():
        assert heading_question(heading, page_title="Tutorial") != old
    assert heading_question("Exceptions", page_title="Errors and Exceptions") == "What are exceptions?"


def test_heading_markup_is_removed_and_code_kept():
    assert heading_question("## Use `Annotated` { #use-annotated }") == "How do I use `Annotated`?"
    assert heading_question("Using ``async`` and ``await``") == "How do I use `async` and `await`?"
    assert heading_question("[Pydantic](https://pydantic.dev) models") == "What are Pydantic models?"
    assert heading_question("**Deploying** to production") == "How do I deploy to production?"


def test_a_common_nouns_genitive_takes_the_article_a_names_does_not():
    # requests/docs/dev/contributing.rst (was "What is contributor's guide?").
    assert heading_question("Contributor's Guide", document_text="This is the contributor's guide.") == (
        "What is the contributor's guide?")
    assert heading_question("Flask's Config", document_text="Flask's config is a dict.", proper_nouns=["Flask"]) == (
        "What is Flask's config?")
    assert heading_question("Contributor's Guide") == "What is contributor's guide?"  # no page: no evidence


def test_a_word_no_dictionary_knows_takes_an_article_when_the_page_gives_it_one():
    # fastapi_docs/deployment/docker.md: "it is also commonly called a **Load Balancer**".
    balancer = "It is also commonly called a **Load Balancer**. The single **load balancer** that listens ..."
    assert heading_question("Load Balancer") == "What is load balancer?"
    assert heading_question("Load Balancer", document_text=balancer) == "What is the load balancer?"
    # A name before its noun ("a gevent worker") and "the" (which a mass noun takes too) are no evidence.
    assert heading_question("gevent", document_text="Start a gevent worker. The gevent loop runs.") == "What is gevent?"
    assert heading_question("Jitter", document_text="The jitter may add up to a second.").lower() == "what is jitter?"


def test_a_word_that_can_be_a_noun_or_a_verb_is_read_as_the_page_uses_it():
    # Taken from fastapi_docs (advanced/stream-data.md), flask_docs (views.rst), examples/corpus (cli.md).
    streams = "You can stream bytes from a generator. To stream a file, open it first."
    assert heading_question("Stream Bytes") == "What are stream bytes?"
    assert heading_question("Stream Bytes", document_text=streams) == "How do I stream bytes?"
    views = "A view function handles the request. The view returns a response. Each view is created per request."
    assert heading_question("View Lifetime and self", document_text=views) is None  # a topic, and two of them
    dispatch = "You can configure your webserver to dispatch all requests for all subdomains to your application."
    assert heading_question("Dispatch by Subdomain", document_text=dispatch) == "How do I dispatch by subdomain?"
    # The verb must act on the heading's object: one "you can search" does not make "Search Results" a task.
    search = "You can search the index. To search, type a word. The results appear below."
    assert heading_question("Search Results", document_text=search) == "What are search results?"
    zones = "Each job runs in the time zone of its host. Set the time zone to UTC on servers."
    assert heading_question("Time Zones to UTC", document_text=zones) == "What are time zones to UTC?"
    # "exit" is a verb on this page, but "exit status" is one noun.
    statuses = "If the scheduler is not running they exit with status 4. The run ends with the run's exit status."
    assert heading_question("Exit statuses", document_text=statuses) == "What are exit statuses?"
    # rich/docs/source/console.rst: "Console API" asked "How do I console API?" on a page about "the console";
    # an acronym that is a count noun takes the article its phrase needs, but a product's name does not.
    consoles = ("Rich offers a Console class. Most applications will require a single Console instance. The console "
                "object handles the mechanics of generating ANSI escape sequences. The console will auto-detect it.")
    assert heading_question("Console API", document_text=consoles) == "What is the console API?"
    assert heading_question("Return JSON", document_text="A view can return JSON.") == "How do I return JSON?"
    assert heading_question("Console API", document_text=consoles, proper_nouns=frozenset({"Console"})) == (
        "What is Console API?")  # a product's name takes no article


def test_derived_heading_questions_keep_code_and_read_the_page(tmp_path):
    from raft_dataset.corpus import read_corpus

    (tmp_path / "deps.md").write_text(
        "# Dependencies\n\n## Dependencies with `yield`\n\nFastAPI supports dependencies that do some extra steps "
        "after finishing, with `yield` instead of `return`.\n\n## Stream Bytes\n\nYou can stream bytes from a "
        "generator function and return them. To stream a large file, open it in a generator.\n",
        encoding="utf-8",
    )
    doc = next(iter(read_corpus(str(tmp_path / "*.md"))))
    assert [h.marked for h in doc.headings] == ["", "Dependencies with `yield`", ""]
    asked = _asked(doc, 1000)
    assert "How do I use dependencies with `yield`?" in asked
    assert "How do I stream bytes?" in asked


def test_title_case_words_are_lower_cased_but_names_kept():
    assert heading_question("Setting a Python Version", proper_nouns=NAMES) == "How do I set a Python version?"
    assert heading_question("Setting a Python Version") == "How do I set a python version?"
    assert heading_question("Configuring the Werkzeug Reloader") == "How do I configure the Werkzeug reloader?"


# --- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Wheel", "What is a wheel?"),
        ("Virtual environments", "What are virtual environments?"),
        ("Lock file", "What is a lock file?"),
        ("`pyproject.toml`", "What is `pyproject.toml`?"),
        ("pyproject.toml", "What is `pyproject.toml`?"),
        ("PEP 517", "What is PEP 517?"),
        ("API", "What is API?"),
        ("Middleware", "What is middleware?"),
        ("Dependency groups", "What are dependency groups?"),
        ("---", None),
        # jinja's templates.rst lists literals as terms: a value written out names nothing to ask about.
        ("`{'dict': 'of', 'key': 'and', 'value': 'pairs'}`", None),
        ("`('tuple', 'of', 'values')`", None),
        ("`0x1F`", None),
        ("`--verbose`", "What is `--verbose`?"),
        ("`[tool.poetry]`", "What is `[tool.poetry]`?"),  # a table's name, not a list
        ("`{% extends %}`", "What is `{% extends %}`?"),
    ],
)
def test_definition_question(term, expected):
    assert definition_question(term) == expected


# --- question sentences ----------------------------------------------------------------------


def test_question_sentences_keep_real_questions_outside_code():
    text = (
        "How do I pin a dependency? Use the lock file.\n\n"
        "Remember that, right? But what if it fails?\n\n"
        "```\nHow do I ignore code in fences?\n```\n\n"
        "- Can I use Poetry with tox?\n"
        "Why?\n"
        "Is the `poetry.lock` file portable across platforms?\n"
    )
    assert question_sentences(text) == [
        "How do I pin a dependency?",
        "Can I use Poetry with tox?",
        "Is the `poetry.lock` file portable across platforms?",
    ]


def test_proper_nouns_are_capitalised_mid_sentence():
    text = (
        "You declare them with Pydantic models. Then Pydantic validates them. The Model is a model.\n"
        "Run it behind FastAPI Cloud or with Gunicorn.\n"
        "```\nfrom pydantic import BaseModel\n```\n"
    )
    assert proper_nouns(text) == frozenset({"Pydantic", "Cloud", "Gunicorn"})
    # A name followed by an acronym is still a name; a run of dictionary words is another page's title.
    assert proper_nouns("Open the Swagger UI in the browser. It shows the Swagger UI. See Caching Decorator.") == (
        frozenset({"Swagger"})
    )


# --- documents ------------------------------------------------------------------------------------


def _document(doc_id: str, title: str, sections: list[tuple[int, str, str]], definitions=()) -> Document:
    """A clean-text Document: headings are not in the text, each starts where its body starts."""
    text, headings = "", []
    for level, heading, body in sections:
        headings.append(Heading(len(text), len(text), level, heading))
        text += body.strip() + "\n\n"
    defs = []
    for term, definition in definitions:
        start = text.index(definition)
        defs.append(Definition(term, start, start + len(definition)))
    return Document(doc_id, title, text, "markdown", doc_id, tuple(headings), tuple(defs))


def _spans(doc: Document, size: int = 200) -> list[tuple[int, int, str]]:
    starts = range(0, len(doc.text), size)
    return [(s, min(s + size, len(doc.text)), f"{doc.doc_id}#{k}") for k, s in enumerate(starts)]


def _asked(doc: Document, size: int = 200, **kwargs) -> list[str]:
    """The questions derived from one document cut into `size`-character chunks."""
    return [q.question for q in derive_queries([doc], {doc.doc_id: _spans(doc, size)}, **kwargs)]


def _chunk_of(spans, offset):
    return next(cid for s, e, cid in spans if s <= offset < e)


PROSE = "This section explains the idea in a few plain sentences so that a reader can follow it. "


def test_troubleshooting_page_gives_problem_questions_with_section_evidence():
    doc = _document(
        "troubleshooting.md",
        "Troubleshooting",
        [
            (1, "Troubleshooting", "When something goes wrong, look for your symptom below and follow the steps."),
            (2, "My computer won't connect", "Check the network cable and the proxy settings, then try again later."),
            (2, "Requests are timing out", "Raise the timeout with the environment variable and retry the request."),
            (2, "Error: ModuleNotFoundError", "The package is not installed in the active environment; install it."),
            (2, "Installation fails behind a proxy", "Set the proxy variables before you run the installer again."),
            (2, "Hot reload not working", "The reloader only watches files inside the project folder by default."),
        ],
    )
    spans = _spans(doc)
    queries = derive_queries([doc], {doc.doc_id: spans})
    assert [q.question for q in queries] == [
        "What should I do if my computer won't connect?",
        "What should I do if requests are timing out?",
        "What should I do about ModuleNotFoundError?",
        "What should I do if installation fails behind a proxy?",
        "What should I do if the hot reload is not working?",
    ]
    for query, heading in zip(queries, doc.headings[1:]):
        start, end = query.evidence
        assert (start, end) == (heading.end, doc.text.index("\n\n", heading.end))
        assert query.origin == "heading" and query.doc_id == doc.doc_id
        assert query.chunk_id == _chunk_of(spans, start)


def test_glossary_definitions_become_questions_with_the_definition_as_evidence():
    text = (
        "Lock file: A file that records the exact version of every dependency that was resolved.\n\n"
        "Wheel: A built distribution format that installs without running a build step.\n\n"
        "Virtual environments: Isolated Python installations, one for each project you work on.\n\n"
        "`pyproject.toml`: The file that describes the project and its build system.\n"
    )
    definitions = []
    for line in text.splitlines():
        if ": " in line:
            term, definition = line.split(": ", 1)
            start = text.index(definition)
            definitions.append(Definition(term, start, start + len(definition)))
    doc = Document("glossary.md", "Glossary", text, "markdown", "glossary.md",
                   (Heading(0, 0, 1, "Glossary"),), tuple(definitions))
    spans = _spans(doc, 120)
    queries = derive_queries([doc], {doc.doc_id: spans})
    assert [(q.question, q.origin) for q in queries] == [
        ("What is a lock file?", "definition"),
        ("What is a wheel?", "definition"),
        ("What are virtual environments?", "definition"),
        ("What is `pyproject.toml`?", "definition"),
    ]
    for query, definition in zip(queries, definitions):
        # the whole "term: definition" line, so the answer quotes it from its term on
        line_start = text.rfind("\n", 0, definition.start) + 1
        assert query.evidence == (line_start, definition.end)
        assert text[slice(*query.evidence)].startswith(definition.term + ": ")
        assert query.chunk_id == _chunk_of(spans, line_start)


def test_faq_page_keeps_every_question_heading_whatever_the_caps():
    questions = [
        "Why is the resolver slow?",
        "Is tox supported?",
        "Can I disable virtual environments?",
        "How do I migrate to the project section?",
        "What kind of versioning scheme does the tool use?",
        "Does it support private indexes?",
    ]
    doc = _document(
        "faq.md", "FAQ",
        [(1, "FAQ", "Answers to common questions.")] + [(3, q, "Yes, see the documentation.") for q in questions],
    )
    queries = derive_queries([doc], {doc.doc_id: _spans(doc)}, max_questions_per_doc=1, questions_per_section=0)
    assert [q.question for q in queries] == questions
    assert all(doc.text[slice(*q.evidence)] == "Yes, see the documentation." for q in queries)


def test_question_heading_without_text_of_its_own_takes_its_subsections_as_evidence():
    doc = _document(
        "faq.md", "FAQ",
        [(2, "Is tox supported?", ""), (3, "Use case #1", "Run tox with the plugin and it works."), (2, "Other", PROSE)],
    )
    [query] = derive_queries([doc], {doc.doc_id: _spans(doc)})
    assert query.question == "Is tox supported?"
    assert doc.text[slice(*query.evidence)] == "Run tox with the plugin and it works."
    # pip's docs: a caution alone is no text of the section's own.
    doc = _document("caching.md", "Caching", [
        (2, "Where is the cache stored", "Caution: The exact filesystem structure of pip's cache is considered to be "
                                         "an implementation detail and may change between any two versions of pip."),
        (3, "pip cache dir", "You can use `pip cache dir` to get the cache directory that pip is configured to use.")])
    [query, *_] = derive_queries([doc], {doc.doc_id: _spans(doc)})
    assert query.question == "Where is the cache stored?"
    assert doc.text[slice(*query.evidence)].endswith("the cache directory that pip is configured to use.")
    # A short definition beside a note keeps its own question (poetry_docs' `requires-python`).
    doc = _document("pyproject.md", "The pyproject.toml file", [
        (2, "`requires-python`", "The Python version requirements of the project.\n\nNote: If you are using Poetry "
                                 "for packaging, this is the Python version the package supports.")])
    assert _asked(doc) == ["What is `requires-python`?"]


def test_long_page_gives_one_question_per_section():
    doc = _document(
        "guide.md",
        "Application Guide",
        [
            (2, "Installing packages", PROSE),
            (2, "Path Parameters", "Path parameters " + PROSE),
            (3, "Configuring logging", PROSE),
            (2, "Dependency groups", "Dependency groups " + PROSE),
            (2, "Deploying to Production", PROSE),
            (3, "The Module Search Path", "The module search path " + PROSE),
        ],
    )
    spans = _spans(doc, 150)
    queries = derive_queries([doc], {doc.doc_id: spans})
    assert [q.question for q in queries] == [
        "How do I install packages?",
        "What are path parameters?",
        "How do I configure logging?",
        "What are dependency groups?",
        "How do I deploy to production?",
        "What is the module search path?",
    ]
    assert [q.chunk_id for q in queries] == [_chunk_of(spans, h.end) for h in doc.headings]
    ends = [h.start for h in doc.headings[1:]] + [len(doc.text)]
    assert all(q.evidence == (h.end, end - 2) for q, h, end in zip(queries, doc.headings, ends))
    capped = derive_queries([doc], {doc.doc_id: spans}, max_questions_per_doc=2)
    assert [q.question for q in capped] == ["How do I install packages?", "What are path parameters?"]


def test_toc_and_index_pages_give_no_questions():
    toc = _document(
        "contents.md", "User Guide",
        [(1, "User Guide", "\n".join(f"- [Chapter {i}](chapter{i}.md)" for i in range(1, 9)))],
    )
    index = _document("genindex.md", "Index", [(1, "Index", PROSE), (2, "Path Parameters", PROSE)])
    assert derive_queries([toc, index], {d.doc_id: _spans(d) for d in (toc, index)}) == []


def test_sections_of_only_code_or_tables_or_asides_give_no_questions():
    doc = _document(
        "ref.md", "Reference",
        [
            (2, "Path Parameters", "```python\n@app.get('/items/{item_id}')\ndef read(item_id: int): ...\n```"),
            (2, "Status Codes", "| code | meaning |\n| --- | --- |\n| 200 | OK |\n| 404 | Not Found |"),
            (2, "Recap", PROSE),
            (2, "Sessions", "Example:\n\n```python\nsession['user'] = 'x'\n```"),
            (2, "Blueprints", "Tiny."),
        ],
    )
    assert derive_queries([doc], {doc.doc_id: _spans(doc)}) == []


def test_faq_style_body_questions_and_inline_questions():
    body = (
        "How do I pin a dependency?\n\nAdd it with an exact version and commit the lock file.\n\n"
        "Can I use a private index?\n\nYes: declare it as a source in the project file and set credentials.\n"
    )
    doc = _document("faq.md", "Questions", [(2, "Frequently asked questions", body)])
    queries = derive_queries([doc], {doc.doc_id: _spans(doc, 80)})
    assert [(q.question, q.origin) for q in queries] == [
        ("How do I pin a dependency?", "sentence"),
        ("Can I use a private index?", "sentence"),
    ]
    assert doc.text[slice(*queries[0].evidence)] == "Add it with an exact version and commit the lock file."
    assert doc.text[slice(*queries[1].evidence)].startswith("Yes: declare it as a source")

    inline = _document(
        "guide.md", "Guide",
        [(2, "Path Parameters", "Why does the order of path operations matter for routing? Path parameters " + PROSE)],
    )
    found = derive_queries([inline], {inline.doc_id: _spans(inline)}, questions_per_section=2)
    assert [(q.question, q.origin) for q in found] == [
        ("What are path parameters?", "heading"),
        ("Why does the order of path operations matter for routing?", "sentence"),
    ]
    assert len(derive_queries([inline], {inline.doc_id: _spans(inline)}, questions_per_section=1)) == 1

    # pip's docs: a page outline lists the questions a page should answer; one item's "e.g. ..." is no answer.
    outline = _document("docs-plan.md", "Plan", [(2, "Suggested content", (
        "- What is a package?\n- What types of packages are there? e.g. file types\n- Where do I get packages from?\n"
        "- How should I control how packages are installed on my system?\n"))])
    assert [q.question for q in derive_queries([outline], {outline.doc_id: _spans(outline, 80)})
            if q.origin == "sentence"] == []
    # pip's survey results: a participant's words, quoted, ask nothing of the page.
    quoted = _document("security.md", "Security", [(2, "Reasons", (
        "Participants gave many reasons for not auditing.\n\n> \"I want to calculate the elevation of the moon. Do "
        "a code audit? Pffff. Most of the stuff I do is banal, so I just install it and move on.\"\n\n" + PROSE))])
    assert [q.question for q in derive_queries([quoted], {quoted.doc_id: _spans(quoted, 150)}, questions_per_section=3)
            if q.origin == "sentence"] == []


def test_questions_the_text_asks_its_reader_are_rephrased_or_dropped():
    body = (
        "Why would you want to build URLs with a function instead of hard-coding them into your templates? "
        + PROSE + "Would you like to help the project? Contributions are welcome in many forms and sizes."
    )
    doc = _document("urls.md", "URLs", [(2, "Intro", body)])
    found = derive_queries([doc], {doc.doc_id: _spans(doc)}, questions_per_section=3)
    assert [q.question for q in found] == [
        "Why would I want to build URLs with a function instead of hard-coding them into my templates?"
    ]


def test_questions_are_deduplicated_across_the_corpus_in_document_order():
    params = "Path parameters are parts of the path. " + PROSE
    a = _document("a.md", "A", [(2, "Path Parameters", params), (2, "Sessions", "Sessions keep data. " + PROSE)])
    b = _document("b.md", "B", [(2, "path  parameters", params), (2, "Middleware", "Middleware wraps apps. " + PROSE)])
    queries = derive_queries([a, b], {d.doc_id: _spans(d) for d in (a, b)})
    assert [(q.doc_id, q.question) for q in queries] == [
        ("a.md", "What are path parameters?"),
        ("a.md", "What are sessions?"),
        ("b.md", "What is middleware?"),
    ]


def test_a_question_repeated_by_the_page_it_titles_is_that_pages():
    """Flask's API reference has a "Signals" section before the Signals page: "What are signals?" is the Signals
    page's (its title asks it), in the place the API page's had. A repeat from another subsection changes nothing."""
    api = _document("api.md", "API", [(2, "Sessions", "Sessions keep data. " + PROSE),
                                      (2, "Signals", "Signals are listed here with their senders. " + PROSE),
                                      (2, "Middleware", "Middleware wraps apps. " + PROSE)])
    other = _document("other.md", "Other", [(2, "Signals", "Signals again, in passing. " + PROSE)])
    signals = _document("signals.md", "Signals", [(1, "Signals", "Signals notify subscribers of events. " + PROSE)])
    queries = derive_queries([api, other, signals], {d.doc_id: _spans(d) for d in (api, other, signals)})
    assert [(q.doc_id, q.question) for q in queries] == [
        ("api.md", "What are sessions?"),
        ("signals.md", "What are signals?"),
        ("api.md", "What is middleware?"),
    ]
    assert signals.text[slice(*queries[1].evidence)].startswith("Signals notify subscribers")
    # The question it takes over counts toward the page's own `max_questions_per_doc`.
    api = _document("api.md", "API", [(2, "Signals", "Signals are listed here with their senders. " + PROSE)])
    more = _document("signals.md", "Signals", [(1, "Signals", "Signals notify subscribers of events. " + PROSE),
                                               (2, "Middleware", "Middleware wraps apps. " + PROSE)])
    queries = derive_queries([api, more], {d.doc_id: _spans(d) for d in (api, more)}, max_questions_per_doc=1)
    assert [(q.doc_id, q.question) for q in queries] == [("signals.md", "What are signals?")]


def test_old_style_documents_with_heading_markup_in_the_text():
    text = "# Guide\n\nIntro text for the guide that is long enough to count.\n\n## Installing packages\n\n" + PROSE
    start = text.index("## Installing")
    headings = (Heading(0, 8, 1, "Guide"), Heading(start, start + len("## Installing packages\n"), 2, "Installing packages"))
    doc = Document("old.md", "Guide", text, "markdown", "old.md", headings)
    [query] = derive_queries([doc], {doc.doc_id: _spans(doc)})
    assert query.question == "How do I install packages?"
    assert doc.text[slice(*query.evidence)] == PROSE.strip()


# --- a real FAQ -----------------------------------------------------------------------------------

POETRY_FAQ = Path("/work/shared/corpora/poetry_docs/faq.md")


def _markdown_document(path: Path) -> Document:
    """A minimal clean-text Document: `#` heading lines (outside fences) removed, start == end."""
    lines, headings, fence, offset = [], [], None, 0
    for line in path.read_text(encoding="utf-8").split("\n"):
        marker = re.match(r"\s*(```+|~~~+)", line)
        if marker:
            fence = None if fence and line.strip().startswith(fence) else (fence or marker.group(1))
        elif fence is None and (m := re.match(r"(#{1,6})\s+(.*?)\s*$", line)):
            headings.append(Heading(offset, offset, len(m.group(1)), m.group(2)))
            continue
        lines.append(line + "\n")
        offset += len(line) + 1
    title = next((h.text for h in headings if h.level == 1), path.stem)
    return Document(path.name, title, "".join(lines), "markdown", str(path), tuple(headings))


@pytest.mark.skipif(not POETRY_FAQ.exists(), reason="the Poetry docs corpus is not on this machine")
def test_every_question_heading_of_poetry_faq_becomes_a_query():
    doc = _markdown_document(POETRY_FAQ)
    question_headings = [
        h.text for h in doc.headings if h.text.endswith("?") or h.text.startswith(("My requests", "Poetry busts"))
    ]
    assert len(question_headings) == 12
    queries = derive_queries([doc], {doc.doc_id: _spans(doc, 1000)}, max_questions_per_doc=3)
    asked = [q.question for q in queries if q.origin == "heading"]
    assert len(asked) >= len(question_headings)
    assert "What should I do if my requests are timing out?" in asked
    assert "Is tox supported?" in asked
    assert all(q.evidence and q.evidence[0] < q.evidence[1] for q in queries)


def test_max_queries_is_the_head_of_the_full_list_and_stops_reading():
    from raft_dataset.corpus import read_corpus
    from tests.conftest import EXAMPLE_CORPUS

    documents = sorted(read_corpus(str(EXAMPLE_CORPUS)), key=lambda d: d.doc_id)
    spans = {d.doc_id: _spans(d) for d in documents}
    every = derive_queries(documents, spans)
    assert len(every) >= 30 and len({q.doc_id for q in every}) >= 5
    read: list[str] = []

    def streamed():
        for doc in documents:
            read.append(doc.doc_id)
            yield doc

    for limit in (1, 7, len(every) - 1, len(every), len(every) + 5):
        read.clear()
        assert derive_queries(streamed(), spans, max_queries=limit) == every[:limit]
        last_needed = documents.index(next(d for d in documents if d.doc_id == every[min(limit, len(every)) - 1].doc_id))
        assert len(read) == (last_needed + 1 if limit <= len(every) else len(documents))
    assert derive_queries(streamed(), spans, max_queries=0) == []


def test_a_heading_naming_a_command_or_setting_asks_what_it_does():
    """poetry_docs/cli.md: "### debug info" read as English gave "How do I debug info?"; its text says
    it is a command. The same for options, functions and keys, in code or (lower-case) plainly."""
    more = " It is used by the examples below, and the reference lists every flag it takes in a table of its own."
    doc = _document("cli.md", "Commands", [
        (2, "debug info", "The `debug info` command shows debug information about Poetry." + more),
        (2, "self sync", "The `poetry self sync` command ensures all additional packages are installed." + more),
        (2, "env info", "To see the environment in use, run the env info command:" + more),
        (2, "`--no-cache`", "The `--no-cache` option disables the package cache for this run." + more),
        (2, "POETRY_HOME", "Set the `POETRY_HOME` environment variable to install elsewhere." + more),
        # A bare key name ("name", refused as English) asks what the key is for, as its text calls it.
        (2, "name", "The `name` field is required: the name of the package, as published." + more),
        # jinja's templates.rst: a heading capitalises the tag the text writes in code ("What are extends?" before).
        (2, "Extends", "The `extends` tag can be used to extend one template from another." + more),
        (2, "if", "The `if` statement in Jinja is comparable with the Python if statement." + more),
        (2, "Cookies", "Cookies are sent in a `Cookies` jar: the `cookies` parameter takes a dict." + more),
        # Not names: Title Case English, or the words are not called a command in the text.
        (2, "Installing", "The installing command of the tutorial is described later on the page." + more),
        (2, "Dependency groups", "Dependency groups organise your dependencies by purpose." + more),
    ])
    questions = _asked(doc, 150)
    assert questions == [
        "What does the `debug info` command do?",
        "What does the `self sync` command do?",
        "What does the `env info` command do?",
        "What does the `--no-cache` option do?",
        "What is `POETRY_HOME`?",  # already a question about the name: kept
        "What is the `name` field for?",
        "What does the `extends` tag do?",
        "What does the `if` statement do?",
        "What are cookies?",  # a plural noun names the topic, not the parameter
        "What are dependency groups?",
    ]


def test_a_glossary_capital_is_dropped_when_the_text_writes_the_word_in_lower_case():
    """examples/corpus/glossary.txt capitalises every term: "Jitter" gave "What is Jitter?" although
    the guide writes "random jitter". A name the text keeps capitalised stays so."""
    text = ("Tidepool adds up to 10% random jitter to each backoff delay. Jobs run under Tidepool or under "
            "Tidepool's scheduler. Setting `jitter` spreads out jobs.")
    keep = proper_nouns(text)
    assert definition_question("Jitter", text, keep) == "What is jitter?"
    assert definition_question("Jitter") == "What is Jitter?"  # no text to tell: as written
    assert definition_question("Tidepool", text, keep) == "What is Tidepool?"
    assert definition_question("Backoff delay", text, keep) == "What is a backoff delay?"
    # A heading's capital goes the same way ("### Jitter" in examples/corpus/guide/scheduling.md), and a
    # Title Case capital the page writes in lower case too (flask_docs: "Context Processors").
    doc = _document("scheduling.md", "Scheduling", [
        (2, "Jitter", "Setting `jitter` delays each run by a random amount of jitter, up to the duration given." + PROSE),
        (2, "Context Processors", "Context processors exist to inject new variables into a template." + PROSE),
        (2, "Tidepool Daemon", "The daemon runs jobs; Tidepool starts it at boot and Tidepool stops it." + PROSE),
    ])
    assert _asked(doc, 150) == [
        "What is jitter?", "What are context processors?", "What is the Tidepool daemon?"]


def test_a_section_that_opens_with_its_purpose_asks_how_to_do_it():
    """flask_docs/testing.rst: "Form Data" over "To send form data, pass a dict to `data`." gave "What is
    form data?", which its text does not answer; the purpose it opens with is the question it answers."""
    more = " The test client sets the `Content-Type` header for you, so the view reads it as it would a browser's."
    doc = _document("testing.rst", "Testing Flask Applications", [
        (2, "Form Data", "To send form data, pass a dict to `data`." + more),
        (2, "Update replacing with PUT", "To update an item you can use the HTTP `PUT` operation." + more),
        (2, "Credentials for git dependencies", "To use HTTP basic authentication with your git repositories, configure credentials." + more),
        # Not a purpose with an object of its own, or not about the heading: the heading's question stays,
        # or none when the section never says what its topic is.
        (2, "Union", "To define it you use the vertical bar (`|`) to separate both types." + more),
        (2, "Startup event", "To add a function that should run before the application starts, declare it. The "
                             "startup event runs it." + more),
        # attrs/docs/how-does-it-work.md: the library's own purpose, not the reader's task.
        (2, "Immutable instances", "In order to give you immutability, attrs will attach a `__setattr__` method. "
                                   "Immutable instances raise on assignment." + more),
        (2, "Immutable settings", "To make your settings immutable, simply pass `frozen=True`." + more),
        (2, "Package installation", "To install packages, click provides a command of its own." + more),
        # examples/corpus/guide/retries.md: a participle phrase comes between the purpose and its step.
        (2, "Total time limit", "To limit the total time spent on all attempts, including backoff delays, set "
                                "`deadline`." + more),
    ])
    questions = _asked(doc, 150)
    assert questions == [
        "How do I send form data?",
        "How do I update an item?",
        "How do I use HTTP basic authentication with my git repositories?",
        # "Union": a one-word topic the section does not open with asks nothing (see below)
        "What is the startup event?",
        "What are immutable instances?",
        "How do I make my settings immutable?",
        "How do I limit the total time spent on all attempts?",
    ]


def test_a_section_that_shows_the_reader_doing_its_topic_asks_how():
    """fastapi_docs: "Tags" over "You can add tags to your path operation ..." gave "What are tags?", which
    its text does not answer; it shows how to add them. The object must hold the heading's words."""
    more = " The editor will check the types for you, so the rest of the code reads as it did before."
    doc = _document("tutorial.md", "Tutorial", [
        (2, "Tags", "You can add tags to your path operation, pass the parameter `tags`." + more),
        (2, "Background Tasks", "You can define background tasks to be run after returning a response." + more),
        (2, "Default values", "You can, of course, use default values other than `None`." + more),
        # Not the heading's topic, or not all of it: the heading's question stays if the section says what
        # the topic is, else none.
        (2, "Templates", "You can use any template engine you want with FastAPI." + more),
        (2, "Form Models", "You can use Pydantic models to declare form fields in FastAPI. Form models are "
                           "classes." + more),
        (2, "Status Codes", "You can import the `status` module from `fastapi`." + more),
    ])
    questions = _asked(doc, 150)
    assert questions == [
        "How do I add tags?",
        "How do I define background tasks?",
        "How do I use default values other than `None`?",
        # "Templates": a one-word topic the section does not open with asks nothing (see below)
        "What are form models?",
    ]


def test_a_section_that_shows_its_tool_doing_the_topic_asks_how():
    """rich's "Markdown" over "Rich can render Markdown to the console." asked "What is markdown?", answered with
    what Rich does, not what Markdown is; "<Tool> supports setting up HTTP proxies ..." likewise. The tool must be a
    name the page keeps: "Blueprints can provide resources" and "CORS can block cookies" are not the reader's tasks."""
    more = (" Rich is a library for the terminal, and Rich renders it with colour. We use Requests, as Requests is a client."
            " The editor will check the types for you, so the rest of the code reads as it did before.")
    doc = _document("console.md", "Console", [
        (2, "Markdown", "Rich can render Markdown to the console." + more),
        (2, "Proxies", "Requests supports setting up HTTP proxies via the `proxies` argument." + more),
        # "CORS" is no name this page keeps: not the reader's tool ("How do I block cookies?").
        (2, "Cookies", "CORS can block cookies from other origins, which the browser enforces." + more),
        (2, "Resources", "Blueprints can provide resources as well." + more),
        (2, "Plugins", "Rich supports using and building plugins if you wish to expand its functionality." + more),
        (2, "Emoji", "Rich renders emoji codes in text by default, so `:smiley:` prints a smiley." + more),
    ])
    # "Resources", "Plugins", "Cookies": one-word topics the sections do not open with ask nothing (not "How do I use
    # and building plugins?"); "Rich renders ..." is no ability.
    assert _asked(doc, 150) == ["How do I render Markdown?", "How do I set up HTTP proxies?", "What is emoji?"]


def test_names_are_counted_over_the_pages_read_so_far():
    """flask_docs/patterns/sqlalchemy.rst writes "your flask application" once and "Flask" only a few times, so
    the page alone takes "Flask" for a Title Case word ("... in flask?"); the pages before it settle it."""
    prose = " It needs more words to count as a section with prose of its own."
    intro = _document("index.rst", "Welcome", [(1, "Welcome", (
        "This is about Flask and how Flask works. Using Flask with Werkzeug is the way Flask apps run, and "
        "we build on Flask every day. Extensions add to Flask what Flask leaves out, so that Flask stays small."
        + prose))])
    page = _document("sqlalchemy.rst", "SQLAlchemy in Flask", [(1, "SQLAlchemy in Flask", (
        "Many people prefer SQLAlchemy for database access. Put the models of your flask application into a "
        "module and import them in Flask." + prose))])
    alone = _asked(page)
    after = [q.question for q in derive_queries([intro, page], {d.doc_id: _spans(d) for d in (intro, page)})]
    assert alone == ["How do I use SQLAlchemy in flask?"]
    assert after[-1] == "How do I use SQLAlchemy in Flask?"


def test_a_one_word_topic_its_section_does_not_open_with_asks_nothing():
    """flask_docs/blueprints.rst: "Blueprint Resources > Templates" over "If you want the blueprint to expose
    templates, ..." asked "What are templates?", and fastapi_docs' "Deployments Concepts > Memory" "What is
    memory?": the sections are about templates and memory there, not what they are. A section that opens with
    the word, defines it in its second sentence or lists what it names keeps its question; so does a name that one
    of its first sentences is about."""
    more = " The section goes on for a while so that it has prose of its own, as real sections do."
    doc = _document("blueprints.rst", "Modular Applications", [
        (1, "Modular Applications", "Flask uses a concept of blueprints for making application components." + more),
        (2, "Templates", "If you want the blueprint to expose templates you can provide the `template_folder`." + more),
        (2, "Memory", "If you run a single process per container you will have a stable amount of memory." + more),
        (2, "Middleware", "The WSGI application above is a callable. Middleware is a WSGI application that wraps "
                          "another WSGI application." + more),
        (2, "Fixtures", "Pytest fixtures allow writing pieces of code that are reusable across tests." + more),
        (2, "Hooks", "Tidepool calls plugins at four hooks:\n\n- `before_run`, before a job starts." + more),
        (2, "Werkzeug", "Flask wraps the WSGI toolkit that does the heavy lifting for requests." + more),
        # pip's "Supported VCS > Git": the section is about pip's URLs for it, not about Git.
        (2, "Git", "The supported schemes are `git+file`, `git+https`, `git+ssh` and `git`. Here are some of the "
                   "supported forms:\n\n```none\nMyProject @ git+ssh://git@git.example.com/MyProject\n```\n\n"
                   "It is also possible to specify a git ref such as a branch name." + more),
        (2, "blackdoc", "`blackdoc` is primarily used to apply Black formatting to doctests in Python files." + more),
        (2, "Pydantic", "Another big feature required by APIs is data validation.\n\nPydantic is a library "
                        "that was made to provide that on top of several frameworks." + more),
        (2, "Uvloop", "A fast, drop-in replacement of the built-in asyncio event loop." + more),
        # jinja's "Integration > Pylons": an application built with Pylons is no word on what Pylons is.
        (2, "Pylons", "It's easy to integrate Jinja into a Pylons application.\n\nThe template engine is configured "
                      "in `config/environment.py`." + more),
    ])
    asked = _asked(doc, 150)
    assert "What are templates?" not in asked and "What is memory?" not in asked, asked
    assert "What is Pylons?" not in asked, asked
    assert not any(question.lower().startswith(("what is git", "what is a git")) for question in asked), asked
    for kept in ("What is middleware?", "What are fixtures?", "What are hooks?", "What is Werkzeug?",
                 "What is blackdoc?", "What is Pydantic?", "What is Uvloop?"):
        assert kept in asked, (kept, asked)


def test_a_topic_its_section_never_says_anything_about_asks_nothing_or_how():
    """Row audits of flask_docs, poetry_docs and fastapi_docs: "What is the session interface?" over "Added in
    version 0.8. ...", "What are security headers?" over "Browsers recognize various response headers ..."
    asked what the text never says. A topic of several words is kept when one of the first sentences says
    what it is, or the first sentence describes it without a subject (an API reference); a later paragraph
    that shows the reader doing it asks how."""
    more = " The rest of this section goes on with details a reader can follow from here."
    doc = _document("reference.md", "Reference", [
        (2, "Session Interface", "Added in version 0.8.\n\nYou have to implement it in order to replace the default "
                                 "implementation." + more),
        (2, "Security Headers", "Browsers recognize various response headers in order to control security." + more),
        (2, "HTTP Strict Transport Security (HSTS)", "Tells the browser to convert all HTTP requests to HTTPS." + more),
        (2, "Visibility of the Context", "The context will have the same lifetime as an activity." + more),
        (2, "Routing System", "Flask uses the Werkzeug routing system which orders routes by complexity." + more),
        # fastapi_docs: the topic's other words are not the topic.
        (2, "Top Translation Reviewers", "Currently, translations are done using AI tools and native speakers." + more),
        (2, "Cache Directory", "Poetry uses the following default directories for its files.\n\nYou can override "
                               "the cache directory by setting `POETRY_CACHE_DIR`." + more),
        # examples/corpus: another of the topic's words acting says what it is; a one word topic must open the
        # section's first paragraph ("Homebrew installs ..." after the install command is about installing).
        (2, "Overlap policy", "`overlap` decides what happens when a run is due while an earlier run is active." + more),
        (3, "Homebrew", "On macOS and Linux, Tidepool is available from the project's own tap:\n\n```sh\nbrew install "
                        "tidepool\n```\n\nHomebrew installs a launchd service definition as well." + more),
        # pip's survey results: a sentence opening with "A ..." is a description only without a verb of its own.
        (4, "Reliance on good software development practices", "A small number of participants explained they have "
            "good software practices in place, which help with writing secure software." + more),
        (2, "Proxy", "A proxy to the request data, read lazily." + more),
        (2, "Sessions", "A dictionary that is kept between requests for each user." + more),
        # httpx: "It is also possible to ..." is no "it" standing for the topic.
        (2, "No-proxy support", "It is also possible to define requests that shouldn't be routed through the "
                                "transport. To do so, pass `None` as the proxy URL." + more),
    ])
    assert _asked(doc, 150) == [
        "What is HTTP strict transport security (HSTS)?",
        "What is the visibility of the context?",
        "What is the routing system?",
        "How do I override the cache directory?",
        "What is the overlap policy?",
        "What is a proxy?",
        "What are sessions?",
    ]


def test_a_heading_that_goes_on_from_the_one_above_is_read_whole(tmp_path):
    """attrs/docs/why.md: "# Why not…" over "## … namedtuples?" asked "… namedtuples?"."""
    from raft_dataset.corpus import read_corpus

    why = ("The alternatives differ in what they cost you later, and in what they check for you.")
    (tmp_path / "why.md").write_text(
        f"# Why not…\n\n## … namedtuples?\n\n{why}\n\n## … dicts?\n\n{why} Dicts are not classes.\n\n"
        f"# Other tools\n\n## … plain tuples\n\n{why} Tuples have no names.\n", encoding="utf-8")
    doc = next(iter(read_corpus(str(tmp_path / "*.md"))))
    asked = _asked(doc, 1000)
    assert "Why not namedtuples?" in asked and "Why not dicts?" in asked
    assert not any(q.startswith(("…", "What")) for q in asked), asked  # no "What are plain tuples?" out of context


def test_the_readers_you_becomes_the_askers_i_or_me():
    """A question the text asks its reader is asked by the user: "you" is "I" as a subject, "me" as an object
    (attrs: "In order to give you immutability" asked "How do I give I immutability?"); review: "after you
    save" stays a subject."""
    from raft_dataset.offline_questions import _in_first_person

    cases = {
        "give you immutability": "give me immutability",
        "let you choose your own engine": "let me choose my own engine",
        "why does the server restart after you save a file": "why does the server restart after I save a file",
        "which version you have installed": "which version I have installed",
        "would you like to help": "would I like to help",
        "give it to you": "give it to me",
    }
    assert {text: _in_first_person(text) for text in cases} == cases


def test_a_first_word_the_text_writes_as_a_name_is_no_step():
    """black's docs: "Wing IDE" asked "How do I wing IDE?"; the page writes "the Wing documentation"."""
    assert heading_question("Wing IDE", proper_nouns=frozenset({"Wing"})) == "What is Wing IDE?"
    assert heading_question("Configure SSL") == "How do I configure SSL?"
