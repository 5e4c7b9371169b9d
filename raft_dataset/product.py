"""The product a corpus documents, and derived questions that name it.

A heading gives "What are templates?" or "How do I run the application?". Beside its page that is clear;
as a training row, and to anyone who asks it later, it is not: whose templates? A question derived from a
corpus about one product names that product when it does not already: "What are templates in Flask?".

The name comes from the config (`product_name`) or is found in the corpus (`ProductNameCounter`): a word
of the corpus folder's name (`flask_docs`, `click/docs`) or of the title of its front page (`index.md`
"Welcome to Click"), kept only when the documents themselves write it in their prose, mid-sentence, on
at least `MIN_PAGE_SHARE` of their pages, and written the way they write it ("FastAPI", "pip").
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import PurePath, PurePosixPath

from .markup import without_fenced_code
from .offline_questions import known_word
from .raft_format import STOPWORDS
from .records import Document, Query

MIN_PAGE_SHARE = 0.4  # a product's own documentation names it on most pages; 0.4 leaves room for API pages
# Enough to find a name most pages write, and a bound on the counts' memory: at most 2,000 pages of 2,000 words.
MAX_COUNTED_PAGES = 2000
MAX_PAGE_WORDS = 2000  # mid-sentence words read on a page
FOLDER_LEVELS = 4  # folders above the corpus's common folder that may name it (`rich/docs/source`)

# Folder names that say what a folder holds, not whose documentation it is.
GENERIC_FOLDERS = frozenset({
    "doc", "docs", "documentation", "documents", "source", "sources", "src", "content", "contents", "corpus",
    "corpora", "data", "dataset", "datasets", "site", "website", "www", "web", "pages", "page", "html", "md",
    "markdown", "rst", "text", "txt", "files", "file", "en", "us", "manual", "manuals", "guide", "guides",
    "reference", "book", "books", "wiki", "help", "examples", "example", "sample", "samples", "input", "inputs",
    "raw", "build", "dist", "out", "output", "tmp", "temp", "home", "user", "users", "usr", "share", "shared",
    "local", "opt", "var", "mnt", "srv", "work", "workspace", "project", "projects", "repo", "repos", "repository",
    "git", "code", "main", "master", "trunk", "notes", "downloads", "desktop", "static", "public", "assets", "test",
    "tests", "fixtures", "tutorial", "tutorials", "howto", "api", "cli", "sdk", "rest", "http", "server", "client",
    "app", "apps", "quickstart", "faq", "latest", "stable",
})

# Title words that are never a product's name, however often the pages write them (besides `STOPWORDS`).
_TITLE_WORDS = frozenset({
    "welcome", "documentation", "docs", "doc", "guide", "manual", "reference", "index", "introduction", "home",
    "overview", "user", "handbook", "about", "tutorial", "tutorials", "api", "cli", "sdk", "rest", "http", "server",
    "client", "app", "quickstart", "faq",
})

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
# A word after a lower-case word (or a comma) and one space: not the first of a sentence or a heading.
_MID_SENTENCE_RE = re.compile(r"(?<=[a-z0-9,;)] )[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_INLINE_CODE_RE = re.compile(r"`[^`\n]*`")
_FRONT_PAGES = ("index", "_index", "readme")

# What a question goes on with that the product's name would stack on or end: a place of its own ("... in stub
# files", "... with `yield`"), a clause ("... while my laptop was asleep?") or a list ("...: A or B?").
_GOES_ON_RE = re.compile(
    r"\s(?:in|inside|within|with|on|while|when|if|because|after|before|since|until|unless|once)\s|:", re.IGNORECASE)
_PREPOSITIONS = frozenset({"in", "on", "at", "to", "from", "for", "with", "about", "of", "by", "into", "up", "out"})
# The words a question opens on that read as well after "In Flask, " in lower case.
_OPENERS = frozenset({
    "how", "what", "which", "why", "when", "where", "who", "is", "are", "can", "could", "do", "does", "did",
    "should", "would", "will", "may", "must", "was", "were", "has", "have",
})


class ProductNameCounter:
    """Reads documents as they stream by and says, at the end, which product they document (`name`).

    Counts how many pages write each word mid-sentence in their prose, and how (`FastAPI`, `fastapi`);
    notes the folders the documents come from and the title of the corpus's front page.

    Args:
        max_pages: Pages counted; later ones change nothing, so a build that stops reading early (`max_queries`)
            finds the same product once it has read on as far (`resolve`).
    """

    def __init__(self, max_pages: int = MAX_COUNTED_PAGES) -> None:
        self.max_pages = max_pages
        self.pages = 0  # pages counted
        self._pages_with: Counter[str] = Counter()  # lower-case word -> pages writing it mid-sentence
        self._forms: dict[str, Counter[str]] = {}  # lower-case word -> how the pages write it
        self._folder: str | None = None  # the folder all documents so far come from
        self._front_page: tuple[int, str] | None = None  # (depth, title) of the shallowest index page

    def observe(self, documents: Iterable[Document]) -> Iterator[Document]:
        """Yields `documents` unchanged, counting each on the way."""
        for doc in documents:
            self.add(doc)
            yield doc

    def add(self, doc: Document) -> None:
        """Counts `doc` if it is one of the first `max_pages`."""
        if self.pages >= self.max_pages:
            return
        self.pages += 1
        found = itertools.islice(_MID_SENTENCE_RE.finditer(_prose(doc.text)), MAX_PAGE_WORDS)
        words = Counter(match.group() for match in found)
        for word in {w.lower() for w in words}:
            self._pages_with[word] += 1
        for form, n in words.items():
            self._forms.setdefault(form.lower(), Counter())[form] += n
        # a file's folder; a Hub dataset's name ("user/docs") is no folder
        folder = os.path.dirname(doc.source) if doc.source and os.path.isabs(doc.source) else None
        if folder is not None:
            self._folder = folder if self._folder is None else _common_folder(self._folder, folder)
        doc_path = PurePosixPath(doc.doc_id)
        if doc_path.stem.lower() in _FRONT_PAGES:
            depth = len(doc_path.parts)
            if self._front_page is None or depth < self._front_page[0]:
                self._front_page = (depth, doc.title)

    def resolve(self, product_name: str | None, unread: Iterable[Document] = ()) -> str | None:
        """The product a build names: `product_name` when it is set ("" names none), else the one counted
        (`name`), after counting `unread` on up to `max_pages`: the documents a question generator did not read,
        as it stopped early or reads chunks instead. They are counted either way: how the pages write a word
        (`writes_as_a_name`) must not depend on how far a build cut short read."""
        for doc in itertools.islice(unread, max(0, self.max_pages - self.pages)):
            self.add(doc)
        if product_name is not None:
            return product_name or None
        return self.name()

    def name(self) -> str | None:
        """The product's name as the pages write it, or None when no candidate is named on enough pages."""
        if self.pages < 2:
            return None
        needed = MIN_PAGE_SHARE * self.pages
        best: tuple[int, str] | None = None
        for word, lower_ok in self._candidates():
            pages = self._pages_with.get(word, 0)
            if pages < needed:
                continue
            form = self._forms[word].most_common(1)[0][0]
            if form.islower() and not lower_ok:
                continue  # "code" in "The uncompromising code formatter" is a word, not a name
            if best is None or pages > best[0]:
                best = (pages, form)
        return best[1] if best else None

    def writes_as_a_name(self, word: str) -> bool:
        """Whether the pages counted write `word` mid-sentence with a capital more often than not: a name
        ("Flask", "Celery", "Waitress"), not a word a heading capitalises ("Middleware", "Templates")."""
        forms = self._forms.get(word.lower())
        if not forms:
            return False
        return 2 * sum(n for form, n in forms.items() if form[:1].isupper()) > sum(forms.values())

    def _candidates(self) -> Iterator[tuple[str, bool]]:
        """(lower-case word, whether the name may be written in lower case) for each word that might be
        the product's name: words of the nearest folders that are not generic, and of the front page's
        title (its words written as names, or its first word when it stands alone or before a colon:
        "attrs: Classes Without Boilerplate")."""
        if self._folder is not None:
            for part in list(reversed(PurePath(self._folder).parts))[:FOLDER_LEVELS + 1]:
                pieces = [p.lower() for p in re.split(r"[-_.\s]+", part) if _could_be_a_name(p)
                          and p.lower() not in GENERIC_FOLDERS]
                if pieces:
                    yield from ((p, True) for p in pieces)
                    if len(pieces) > 1:
                        yield "-".join(pieces), True
                    break  # the nearest folder with a name of its own names the product
        if self._front_page is not None:
            title = self._front_page[1]
            words = _WORD_RE.findall(title)
            head = title.split(":")[0].strip()
            for i, word in enumerate(words):
                if _could_be_a_name(word) and word.lower() not in _TITLE_WORDS:
                    yield word.lower(), i == 0 and (head == word or title.strip() == word)


def scoped_question(question: str, product: str, is_a_name: Callable[[str], bool] | None = None) -> str:
    """`question` naming `product`; unchanged when it already names it, is not a question, or has no place for it.

    "What are templates?" -> "What are templates in Flask?"; a question that has a place of its own or ends on
    a preposition takes the product in front, where a second one would not stack on it: "How do I use
    `Security` in decorator `dependencies`?" -> "In FastAPI, how do I use `Security` in decorator
    `dependencies`?", "Where do I get packages from?" -> "In pip, where do I get packages from?".
    """
    body = question.rstrip()
    if (not body.endswith("?") or not re.search(r"\w", body) or names(body, product)
            or _asks_what_a_name_is(body, is_a_name)):
        return question
    body = body[:-1].rstrip()
    if not (_GOES_ON_RE.search(_INLINE_CODE_RE.sub("`", body)) or body.rsplit(" ", 1)[-1].lower() in _PREPOSITIONS):
        return f"{body} in {product}?"
    first, _, rest = body.partition(" ")
    return f"In {product}, {first.lower()} {rest}?" if first.lower() in _OPENERS and rest else question


# "What is Django?", "What are WebSockets?": a question about one name, which says by itself what it asks about.
_WHAT_IS_A_NAME_RE = re.compile(r"^What (?:is|are) ([A-Z][\w.+-]*)\?$")


def _asks_what_a_name_is(question: str, is_a_name: Callable[[str], bool] | None = None) -> bool:
    """Whether `question` asks what one name is: an acronym ("CORS", "JWT"), a word with a capital or a digit
    inside ("WebSockets", "OAuth2"), one that is no English word ("Django", "Pydantic"; `known_word`) or one the
    corpus writes as a name (`is_a_name`: "Flask" and "Falcon" in FastAPI's pages): the product's name would
    read as the place of another tool ("What is Flask in FastAPI?"). A word a heading capitalises ("What is
    Middleware?", "What are Tables?") still takes the product."""
    match = _WHAT_IS_A_NAME_RE.match(question)
    if not match:
        return False
    word = match.group(1)
    return (bool(re.search(r"[A-Z0-9]", word[1:])) or not known_word(word.lower())
            or (is_a_name is not None and is_a_name(word)))


def names(question: str, product: str) -> bool:
    """Whether `question` names `product`, in any case ("How do I install tidewave?"), also as part of a
    package's name (`flask-sqlalchemy`, `flask_sqlalchemy`, "Jinja2")."""
    return bool(re.search(rf"(?<![A-Za-z]){re.escape(product)}(?![A-Za-z])", question, re.IGNORECASE))


def unscoped_question(question: str, product: str) -> str | None:
    """`question` without the words that place it in `product`, or None when it has none: "How do I add
    middleware in FastAPI?" -> "How do I add middleware?", "In FastAPI, how do I ...?" -> "How do I ...?".
    What the question asks is the rest; the name every page shares only pulls retrieval towards the pages
    that name the product most."""
    name = re.escape(product)
    text = re.sub(rf"^(\W*)in {name},\s+(\w)", lambda m: m.group(1) + m.group(2).upper(), question, count=1,
                  flags=re.IGNORECASE)
    # "in X" and "with X" place it; "support for X", "plugins for X" are about X ("Is there support?" asks nothing)
    text = re.sub(rf"\s+(?:in|with) {name}\s*(?=\?\s*$)", "", text, count=1, flags=re.IGNORECASE)
    return text if text != question and len(re.findall(r"\w+", text)) >= 3 else None


def name_product(queries: Iterable[Query], product: str | None,
                 is_a_name: Callable[[str], bool] | None = None) -> list[Query]:
    """`queries` with `product` named where they ask about it: a derived question names it where it does not
    (`scoped_question`, what it asks kept as `Query.unscoped_question`); a user's question (origin "file") is
    shown as written, and asks without the product where it names it as its place (`unscoped_question`). An
    LLM's question is left as written: the answers to it are cached by their prompt. Unchanged when `product`
    is None or "". `is_a_name` says which words the corpus writes as names (`ProductNameCounter.writes_as_a_name`):
    "What is Flask?" needs no product."""
    if not product:
        return list(queries)
    return [_named(q, product, is_a_name) for q in queries]


def takes_the_product(query: Query) -> bool:
    """Whether `name_product` may change `query`: all but an LLM's question, whose answers are cached by prompt."""
    return query.origin != "llm"


def _named(query: Query, product: str, is_a_name: Callable[[str], bool] | None) -> Query:
    if not takes_the_product(query):
        return query
    if query.origin == "file":
        asked = unscoped_question(query.question, product)
        return replace(query, unscoped_question=asked) if asked else query
    return _with_question(query, scoped_question(query.question, product, is_a_name))


def _with_question(query: Query, question: str) -> Query:
    if question == query.question:
        return query
    return replace(query, question=question, unscoped_question=query.question)


def _could_be_a_name(word: str) -> bool:
    """A word of three letters or more that is not a function word ("my-project", "a-b-tests")."""
    return len(word) >= 3 and bool(_WORD_RE.fullmatch(word)) and word.lower() not in STOPWORDS


def _prose(text: str) -> str:
    """`text` without its code: fenced blocks and inline code blanked out."""
    return _INLINE_CODE_RE.sub(" ", without_fenced_code(text))


def _common_folder(a: str, b: str) -> str:
    try:
        return os.path.commonpath([a, b])
    except ValueError:  # different drives on Windows
        return a
