"""Offline questions: what a user would ask about each section, glossary term and FAQ line of a corpus.

No model is involved. A section heading is turned into a question by reading its grammar with the
`lemminflect` dictionary (which words can be verbs, in which form; which nouns are plural):

- a heading that already is a question is used as written ("Why is the resolver slow?");
- a heading that opens with an interrogative becomes a question ("How to install X" -> "How do I
  install X?", "How the Context Works" -> "How does the context work?");
- a problem statement becomes "What should I do if ...?" ("My computer won't connect");
- a gerund or an imperative becomes "How do I ...?" ("Configuring logging", "Install the CLI");
- a noun phrase becomes "What is X?" / "What are X?" ("Path Parameters" -> "What are path parameters?");
- anything else -- a part of the page ("Next Steps", "Recap"), a prose title ("A Word About Names and
  Objects"), a version number, a fragment ("Before Using Apps") -- gives None: no question is better
  than one nobody would ask.

`derive_queries` walks the sections of each document (a section is a unit, not a file) and keeps the
text that answers each question as its evidence.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import lemminflect

from .chunking import trim_span
from .markup import INCLUDED_FILE_NOTE_RE, without_fenced_code
from .raft_format import STOPWORDS
from .records import Document, Heading, Query
from .vocabulary import ACTING_KINDS, EXPLETIVE_IT, PACKAGE_KINDS, VALUE_KINDS

__all__ = [
    "definition_question",
    "derive_queries",
    "heading_question",
    "proper_nouns",
    "question_sentences",
]

# --- closed word classes -------------------------------------------------------------------------
# lemminflect knows open-class words (nouns, verbs, adjectives, adverbs); the grammar words are listed.

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _phrases(text: str) -> frozenset[str]:
    return frozenset(" ".join(p.split()) for p in text.split(","))


_DETERMINERS = _words("the a an this that these those some any all each every no another both either neither such")
_POSSESSIVES = _words("my your our their his her its")
_PRONOUNS = _words("i you we they he she it me us them him")
_PREPOSITIONS = _words(
    """in with for of on about from to by at as without via under after before into onto during between behind
    over through across against within per vs vs. versus like than beyond inside outside around toward towards
    upon among alongside beside besides throughout"""
)
_CONJUNCTIONS = _words("and or but nor & / plus +")
_SUBORDINATORS = _words("when if while because although though since until unless once whether whenever wherever so")
_RELATIVES = _words("that which who whom whose where")
_INTERROGATIVES = _words("how why when what where which who whom whose")
_NEGATIONS = _words(
    """not never isn't aren't wasn't weren't don't doesn't didn't can't cannot couldn't shouldn't wouldn't won't
    hasn't haven't hadn't mustn't"""
)
_AUXILIARIES = _words("is are was were be been am do does did can could should would will shall may might must has have had") | (
    _NEGATIONS - {"not", "never"}
)
_PARTICLES = _words("in out up down off on over away back")
_CLOSED = _DETERMINERS | _POSSESSIVES | _PRONOUNS | _PREPOSITIONS | _CONJUNCTIONS | _SUBORDINATORS | _AUXILIARIES
# Words the lemminflect dictionary only knows as verbs although documentation uses them as nouns
# ("Debug Mode", "Template Inheritance", "Log Records").
_NOUN_GAPS = _words("template debug log config dependency app plugin admin")

# --- what is not a topic -------------------------------------------------------------------------

# Headings that name a part of a page, or a prose title, rather than something a user asks about.
_GENERIC_HEADINGS = _phrases(
    """introduction, intro, overview, summary, recap, notes, note, see also, index, contents, table of contents,
    toc, faq, faqs, frequently asked questions, appendix, changelog, changes, release notes, history, license,
    licence, contributing, contributors, credits, acknowledgements, acknowledgments, thanks, about,
    about this document, getting started, get started, quickstart, quick start, next steps, next, what's next,
    what next, where to go from here, where to go next, hello world, examples, example, tips, tip, warning,
    warnings, caveat, caveats, details, technical details, more details, more info, more information,
    learn more, further reading, references, reference, api reference, api, resources, links, external links,
    conclusion, conclusions, background, motivation, prerequisites, requirements, setup, installation, install,
    usage, configuration, options, arguments, features, benefits, alternatives, glossary, tutorial, guide,
    user guide, user's guide, documentation, docs, welcome, keep developing, check it, check it out, try it,
    try it out, test it, run it, create it, edit it, other, others, misc, miscellaneous, troubleshooting,
    discussion, community, help, support, sponsors, team, people, owner, creator, future, design, development,
    investigation, opinions, results, deprecations, breaking changes, fixes, refactors, translations, internal,
    upgrades, use case, use cases, purpose, goals, scope, status, authors, final thoughts, wrapping up,
    what's new, news, latest changes, unreleased, performance, version, versions, the basics, basics, general,
    summary and next steps, known issues, first steps, read the tutorial first, before you begin, how it works, what it is, in a nutshell,
    the big picture"""
)
_GENERIC_WORDS = frozenset(w for phrase in _GENERIC_HEADINGS for w in phrase.split())
# A heading whose first word is one of these introduces an aside ("Example upgrade", "Note about X").
_ASIDE_FIRST = _words(
    """example examples note notes tip tips warning caveat step part chapter lesson appendix more other further
    bonus aside exercise welcome one two three four five"""
)
# "Tutorial: X", "Step 3: X": the subtitle is the topic.
_SUBTITLE_PREFIXES = _words("tutorial example step part chapter lesson note tip how-to recipe guide")
# A heading whose last word is one of these names a part of the page ("Partial updates recap").
_ASIDE_LAST = _words(
    "recap summary notes example examples details overview introduction intro reference snippets tips caveats usage"
    " basics wrap-up sponsor sponsors conclusion"
)
# "... this document" and the like point at the page itself.
_PAGE_NOUNS = _words("document page section chapter tutorial guide docs documentation article post manual book")
# Single nouns too vague to ask about on their own ("What is performance?", "What is database?").
_VAGUE_NOUNS = _words(
    """performance security database blog factory login logout register validation concepts concept advanced
    basics tests queries data code project files file application app model models server client request
    response views view forms form"""
)
# Nouns without a plural in documentation use: no article before them ("What is JSON support?").
_MASS_NOUNS = _words(
    """support access control use behavior behaviour information data content software hardware middleware
    feedback metadata traffic research help advice progress knowledge input output syntax logic
    documentation security performance json html memory authentication authorization validation serialization
    deserialization configuration installation pagination compression encryption localization
    internationalization concurrency parallelism inheritance persistence management deployment development
    coverage usage storage escaping routing injection"""
)
_MASS_SUFFIXES = ("ing", "ity", "ness", "ism", "ics", "ware", "ship", "ization", "isation")

# --- problems --------------------------------------------------------------------------------------

# Lemmas that make a statement a problem report ("Builds fail on Windows", "Requests are timing out").
_PROBLEM_LEMMAS = _words(
    """fail failure error crash hang freeze break broken slow timeout wrong miss missing conflict bust refuse deny
    stuck lose lost leak corrupt corrupted unable problem reject stall unavailable unreachable"""
)
# Head nouns of a noun phrase that names a problem ("Connection timeouts" -> "What should I do about ...").
_PROBLEM_HEADS = _words("timeout failure crash problem conflict leak hang slowdown")
_ERROR_PREFIXES = _words("error exception warning problem issue bug traceback symptom")

# --- regular expressions -------------------------------------------------------------------------

_LETTER_RE = re.compile(r"[^\W\d_]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_ATTR_LIST_RE = re.compile(r"\s*\{\s*[#.:][^}]*\}\s*$")
_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_RST_LINK_RE = re.compile(r"`([^`<]+?)\s*<[^>]*>`_{1,2}")
_RST_ROLE_RE = re.compile(r":[\w:.-]+:`~?([^`]*?)(?:\s*<[^>]*>)?`")
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS_RE = re.compile(r"(?<![\w`])(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?![\w`])")
_DATE_RE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?\d{4}",
    re.IGNORECASE,
)
_VERSION_RE = re.compile(
    r"(?:version|release|v|rel\.?)?\s*\d+(?:\.\d+)*[a-z0-9.+-]*(?:\s*(?:-|–|—|/)?\s*)?", re.IGNORECASE
)
_NUMBERING_RE = re.compile(r"^(?:(?:step|part|chapter|lesson|section)\s+)?(?:\d+(?:\.\d+)*|[ivx]+)[.):]\s+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"`[^`]+`|[^\s,;`]+|[,;]")
_CODE_CHARS_RE = re.compile(r"[._=<>()\[\]{}:]|^-|^\$|\(\)$")
_ACRONYM_RE = re.compile(r"[A-Z][A-Z0-9]*[A-Z0-9](?:s|es)?")
_CAMEL_RE = re.compile(r"[a-z0-9][A-Z]|^[A-Z]{2,}[a-z]")
_WORD_RE = re.compile(r"[A-Za-z][\w'’-]*")
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")


# --- tokens ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str  # as written, quotes and all
    start: int
    end: int
    bare: str  # without surrounding quotes/brackets and without a genitive 's
    kind: str  # "code", "acronym", "name" (CamelCase), "num", "word", "punct"
    genitive: bool = False

    @property
    def low(self) -> str:
        return self.bare.lower()


def _token_kind(bare: str, text: str) -> str:
    if text.startswith("`"):
        return "code"
    if not bare:
        return "punct"
    if re.fullmatch(r"[\d.,:%+-]+", bare) and re.search(r"\d", bare):
        return "num"
    if not _LATIN_RE.search(bare) and not _LETTER_RE.search(bare):
        return "punct"
    if _CODE_CHARS_RE.search(bare) and _LATIN_RE.search(bare) and not re.fullmatch(r"[A-Za-z]\.(?:[A-Za-z]\.)+", bare):
        return "code"
    if len(bare) > 1 and _ACRONYM_RE.fullmatch(bare):
        return "acronym"
    if _CAMEL_RE.search(bare.split("-")[-1]) or _CAMEL_RE.search(bare):
        return "name"
    return "word"


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        raw = m.group(0)
        if raw.startswith("`"):
            tokens.append(_Token(raw, m.start(), m.end(), raw.strip("`"), "code"))
            continue
        bare = raw.strip("\"'“”‘’()[]!.:*")
        if raw.endswith("()"):
            bare = raw
        genitive = False
        if re.search(r"['’]s$", bare) and len(bare) > 2:
            bare, genitive = bare[:-2], True
        tokens.append(_Token(raw, m.start(), m.end(), bare, _token_kind(bare, raw), genitive))
    return tokens


@lru_cache(maxsize=65536)
def _lemmas(word: str) -> dict:
    lemmas = dict(lemminflect.getAllLemmas(word))
    if word in _NOUN_GAPS:
        lemmas.setdefault("NOUN", (word,))
    elif word.endswith("s") and not lemmas:
        singular = lemminflect.getLemma(word, upos="NOUN", lemmatize_oov=True)
        if singular and singular[0] in _NOUN_GAPS:
            lemmas["NOUN"] = (singular[0],)  # "dependencies", "apps"
    return lemmas


@lru_cache(maxsize=65536)
def _verb_forms(word: str) -> frozenset[str]:
    """Penn tags the word has as a verb: 'installing' -> {'VBG'}, 'works' -> {'VBZ'}."""
    forms = set()
    for lemma in _lemmas(word).get("VERB", ()):
        for tag, inflected in lemminflect.getAllInflections(lemma, upos="VERB").items():
            if word in inflected:
                forms.add(tag)
    return frozenset(forms)


def _verb_lemma(word: str) -> str | None:
    """The verb's base form; of several ('instal', 'install'; 'rout', 'route') the longest."""
    lemmas = _lemmas(word).get("VERB", ())
    if not lemmas and word.endswith("ing") and len(word) > 6:  # "subclassing": not in the dictionary
        lemmas = tuple(lemminflect.getLemma(word, upos="VERB", lemmatize_oov=True))
        lemmas = tuple(lemma for lemma in lemmas if lemma != word)
    return max(lemmas, key=lambda lemma: ("-" not in lemma, len(lemma))) if lemmas else None


def _is_gerund(token: _Token) -> bool:
    if token.kind != "word" or not token.low.endswith("ing") or token.genitive:
        return False
    return "VBG" in _verb_forms(token.low) or (not _lemmas(token.low) and _verb_lemma(token.low) is not None)


def _last_part(token: _Token) -> str:
    return token.low.rsplit("-", 1)[-1]


def _tags(token: _Token) -> frozenset[str]:
    """Part-of-speech readings of a token: closed classes by list, open classes from lemminflect.

    Unknown words, code, names and acronyms read as nouns ("X"): in documentation they usually are.
    """
    if token.kind in ("code", "acronym", "name"):
        return frozenset({"X"})
    if token.kind == "num":
        return frozenset({"NUM"})
    if token.kind == "punct":
        return frozenset({"PUNCT"})
    low = token.low.replace("’", "'")
    tags = set()
    for name, words in (
        ("DET", _DETERMINERS), ("POSS", _POSSESSIVES), ("PRON", _PRONOUNS), ("ADP", _PREPOSITIONS),
        ("CCONJ", _CONJUNCTIONS), ("SCONJ", _SUBORDINATORS), ("AUX", _AUXILIARIES), ("NEG", _NEGATIONS),
    ):
        if low in words:
            tags.add(name)
    if tags and low not in ("that", "like", "round", "since", "so", "once"):
        return frozenset(tags)
    if "-" in low:
        part = low.rsplit("-", 1)[-1]
        return frozenset({"NOUN", "ADJ"} | set(_lemmas(part)))
    tags |= set(_lemmas(low))
    if not tags:
        tags.add("ADV" if low.endswith("ly") and len(low) > 4 else "X")
    return frozenset(tags)


def _is_nounish(token: _Token) -> bool:
    tags = _tags(token)
    return bool(tags & {"NOUN", "X", "PROPN"}) or "VBZ" in _verb_forms(token.low) or "VBG" in _verb_forms(token.low)


def _is_plural(token: _Token) -> bool:
    if token.kind == "code" and re.fullmatch(r"[a-z]+", token.bare) and _lemmas(token.bare).get("NOUN"):
        return _is_plural(dataclasses.replace(token, kind="word"))  # "Dependency `extras`"
    if token.kind in ("code", "name", "num"):
        return False
    if token.kind == "acronym":
        return token.bare.endswith("s") and token.bare[:-1].isupper()
    word = _last_part(token)
    nouns = _lemmas(word).get("NOUN")
    if nouns:
        return word not in nouns or (word.endswith("s") and word[:-1] in nouns)  # "contents"
    if "VBZ" in _verb_forms(word):  # "Templates" (lemminflect knows only the verb)
        return True
    if not _lemmas(word):
        lemma = lemminflect.getLemma(word, upos="NOUN", lemmatize_oov=True)
        return bool(lemma) and lemma[0].lower() != word and word.endswith("s") and not word.endswith(("ss", "us", "is"))
    return False


# --- cleaning ----------------------------------------------------------------------------------------


def _clean(heading: str) -> str:
    """Heading text without markup; inline code keeps its backticks."""
    text = heading.strip().lstrip("#").strip()
    text = re.sub(r"\s#+$", "", text)
    text = _ATTR_LIST_RE.sub("", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _RST_LINK_RE.sub(r"\1", text)
    text = _RST_ROLE_RE.sub(r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    parts = re.split(r"(`[^`]*`)", text)
    parts = [p if p.startswith("`") else _EMPHASIS_RE.sub(r"\2", _HTML_TAG_RE.sub("", p)) for p in parts]
    text = "".join(parts).replace("**", "")
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(" :-–—.·").strip()


def _is_version(text: str) -> bool:
    rest = _DATE_RE.sub(" ", text)
    rest = re.sub(r"[\[\]()]", " ", rest).strip(" -–—:/,")
    if not rest:
        return True
    return bool(_VERSION_RE.fullmatch(rest)) and bool(re.search(r"\d", rest))


def _asked(text: str, keep: frozenset[str]) -> str:
    """A heading that asks, as a user would write it; a bare topic with a question mark (an FAQ's "Encoded
    Data?") asks "What about encoded data?"."""
    tokens = _tokenize(text[:-1].rstrip()) if text.isascii() else []
    words = [t for t in tokens if t.kind != "punct"]
    if 0 < len(words) <= 6 and not re.search(r"[.!:;]\s", text) and words[0].low not in _INTERROGATIVES | _AUXILIARIES \
            and _finite_verb(tokens, start=0) is None:
        # Its first word is no longer the sentence's: "Installation failing?" -> "What about installation failing?"
        title_case = _is_title_case(tokens) or (words[0].bare not in keep and known_word(words[0].low))
        return f"What about {_render(text, tokens, 0, len(tokens), keep=keep, title_case=title_case, first_index=-1)}?"
    return _written_question(text)


def _written_question(text: str) -> str:
    text = re.sub(r"\s+([?？])$", r"\1", text)
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _normal(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.lower().replace("’", "'")))


# --- rendering -----------------------------------------------------------------------------------


def _is_title_case(tokens: Sequence[_Token]) -> bool:
    """Most dictionary words after the first are capitalised (unknown words may be lower-case names)."""
    content = [
        t for t in tokens[1:]
        if t.kind == "word" and t.low not in _CLOSED and t.bare[:1].isalpha() and known_word(t.low)
    ]
    if not content:
        return False
    return sum(t.bare[:1].isupper() for t in content) * 2 > len(content)


_PREFIXES = ("un", "re", "pre", "sub", "auto", "multi", "non", "de", "over", "under", "co", "inter", "super", "self")
_SUFFIXES = ("able", "ible", "less", "ful", "ize", "ise", "ized", "ised", "er", "ers")


@lru_cache(maxsize=65536)
def known_word(word: str) -> bool:
    """An English word: in the dictionary, an -ly adverb, or built from dictionary words ("unhandled",
    "lifecycle", "installable", "autoescaping"); names like "Gunicorn" or "Werkzeug" are not."""
    word = word.lower()
    if _lemmas(word) or word in _CLOSED or (word.endswith("ly") and len(word) > 4):
        return True
    if not word.isalpha() or len(word) < 5:
        return False
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4 and _lemmas(word[len(prefix):]):
            return True
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 4 and (_lemmas(stem) or _lemmas(stem + "e")):
            return True
    if any(_lemmas(form) for form in (word + "s", word + "es", word[:-1] + "ies")):
        return True  # "dependency": the dictionary has "dependencies"
    if word.endswith("s") and _lemmas(word[:-1]):
        return True  # "globals": a word used as a noun
    if word.endswith(("in", "up", "out", "on")) and any(_lemmas(word[:k]) for k in (len(word) - 2, len(word) - 3)):
        return True  # "plugin", "lookup", "checkout"
    return any(
        _lemmas(word[:k]).get("NOUN") and _lemmas(word[k:]).get("NOUN") for k in range(3, len(word) - 2)
    )


def _case(token: _Token, *, first: bool, title_case: bool, keep: frozenset[str]) -> str:
    """Lower-case a capitalised word unless it is a name.

    A name is a word in `keep`, an acronym, CamelCase, or code; in a sentence-case heading also any
    capitalised word after the first; and, when `keep` says nothing (empty), a word the dictionary
    does not know ("Gunicorn").
    """
    text = token.text
    if token.kind != "word" or not token.bare[:1].isupper() or token.bare == "I":
        return text
    if token.bare in keep:
        return text
    if token.low in _CLOSED and not first:
        return text.replace(token.bare, token.low, 1)  # "Log In", "Register A User"
    if "-" in token.bare:
        parts = token.bare.split("-")
        if any(len(p) < 2 or p.isupper() for p in parts):
            return text
        if not (first or title_case):
            return text
        return text.replace(
            token.bare, "-".join(p.lower() if known_word(p.lower()) or p.lower() in _PREFIXES else p for p in parts)
        )
    if not token.bare[1:].islower() and not re.fullmatch(r"[A-Z][a-z]*['’]?s?", token.bare):
        return text
    if (first or title_case) and known_word(token.low):
        return text.replace(token.bare, token.bare.lower(), 1)
    return text


def _render(
    text: str, tokens: Sequence[_Token], i: int, j: int, *, keep: frozenset[str], title_case: bool,
    first_index: int = 0, person: bool = True,
) -> str:
    """tokens[i:j] as written in `text`, ordinary Title Case words lower-cased, 'your' -> 'my'."""
    if i >= j:
        return ""
    out = []
    pos = tokens[i].start
    for k in range(i, j):
        tok = tokens[k]
        out.append(text[pos:tok.start])
        word = _case(tok, first=k == first_index, title_case=title_case, keep=keep)
        if person:
            word = _first_person(word)
        out.append(word)
        pos = tok.end
    return "".join(out).strip()


_PERSON = {"your": "my", "yours": "mine", "you": "I", "yourself": "myself", "you're": "I'm", "you've": "I've"}


def _first_person(word: str) -> str:
    low = word.lower()
    if low in _PERSON:
        new = _PERSON[low]
        return new if word[:1].islower() or new == "I" else new.capitalize()
    return word


_CAUSATIVES = _words("let lets make makes help helps allow allows")


def _in_first_person(text: str) -> str:
    """`text` with the reader's "you/your/yours/yourself" as the asker's "I/my/mine/myself"; "you" after
    a verb or a preposition is "me" ("give you immutability" -> "give me immutability")."""

    def person(m: re.Match) -> str:
        before = [w.lower() for w in re.findall(r"[\w'’]+", text[:m.start()])]
        after = [w.lower() for w in re.findall(r"[\w'’]+", text[m.end():])]
        # A subject opens a clause ("would you", "after you save") unless a verb lets it act ("let you choose").
        subject = not before or before[-1] in _CONJUNCTIONS | _SUBORDINATORS | _RELATIVES | _AUXILIARIES \
            or bool(after and (after[0] in _AUXILIARIES or _verb_forms(after[0])) and before[-1] not in _CAUSATIVES)
        if m.group(1).lower() == "you" and not subject:
            return "me"
        return _first_person(m.group(1))

    return re.sub(r"\b(you|your|yours|yourself)\b", person, text)


# --- how the document uses a word ---------------------------------------------------------------

# A word after these is a verb ("you can stream", "to import"); after these a noun ("the stream").
_VERB_CONTEXT = _words("to can could will would must should may might you we they let's don't doesn't")
_NOUN_CONTEXT = _words("the a an this that each every your our its their any some no of")
# "the return the value" is not a noun use: a noun is not followed by its own object.
_OBJECT_OPENERS = _words("the a an your it them this that")
_PROSE_WORD_RE = re.compile(r"[\w'’]+")


@lru_cache(maxsize=65536)
def _noun_stem(word: str) -> str:
    """A word's singular, lower-cased ("statuses" -> "status", "Bytes" -> "byte")."""
    low = word.lower().strip("`'\"’")
    nouns = _lemmas(low).get("NOUN")
    if nouns:
        return nouns[0]
    if low.endswith(("ches", "shes", "sses", "xes", "zes")):
        return low[:-2]
    return low[:-1] if low.endswith("s") and not low.endswith(("ss", "us", "is")) and len(low) > 3 else low


_SINGULAR_DETERMINERS = frozenset(["each", "every", "single", "one"])  # not "the": "the jitter" may be mass


@dataclass
class _Uses:
    """How a text uses one word (see `_WordUse`)."""

    as_verb: int = 0  # after "to", "you can", ...
    as_noun: int = 0  # after "the", "a", ..., not followed by an object
    objects: set[str] = field(default_factory=set)  # stems of the words a verb use acts on
    compound: Counter = field(default_factory=Counter)  # next word's stem, written mid-sentence as one noun
    verb_then: Counter = field(default_factory=Counter)  # next word's stem after a verb use
    counted: int = 0  # written after "a"/"an", or lower-case after "each"/"single"/...: a count noun


class _WordUse:
    """How a document's prose uses a word that can be a noun or a verb: "you can stream bytes" against
    "the stream", "the run's exit status". A heading's grammar alone cannot tell "Stream Bytes" (a task)
    from "Test Coverage" (a topic); the page it heads usually can.

    The prose is read once into words (inline code and emphasis read as words: "to stream `bytes`", "can
    return *enum members*"); a word's uses are summed up the first time a heading asks about it, so time
    stays linear in the text whatever the headings.

    Args:
        text: The document text (code blocks are left out).
        prose: The text already without code blocks, instead of `text`.
    """

    def __init__(self, text: str = "", *, prose: str | None = None):
        if prose is None:
            prose = without_fenced_code(text) if text else ""
        self._words = _PROSE_WORD_RE.findall(prose)
        self._positions: dict[str, list[int]] | None = None
        self._uses: dict[str, _Uses] = {}

    def _where(self, word: str) -> list[int]:
        """Positions of a lower-case word in the prose (the index is built on the first question)."""
        if self._positions is None:
            self._positions = {}
            for i, token in enumerate(self._words):
                self._positions.setdefault(token.lower(), []).append(i)
        return self._positions.get(word, [])

    def _of(self, word: str) -> _Uses:
        if word in self._uses:
            return self._uses[word]
        uses = _Uses()
        words = self._words
        for i in self._where(word):
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            after_that = words[i + 2] if i + 2 < len(words) else ""
            stem = _noun_stem(after) if after else ""
            if before.lower() in _VERB_CONTEXT:
                uses.as_verb += 1
                # the object's first word or, after a determiner or a modifier, its second
                uses.objects.update(w for w in (stem, after_that and _noun_stem(after_that)) if w)
                uses.verb_then[stem] += 1
            else:
                if before.lower() in _NOUN_CONTEXT and after.lower() not in _OBJECT_OPENERS:
                    uses.as_noun += 1
                if before[:1].islower():
                    uses.compound[stem] += 1
            # "a **Load Balancer**", "the single load balancer"; not "a gevent worker" (a noun follows)
            determiners = {before.lower(), words[i - 2].lower() if i > 1 else ""}
            if (determiners & {"a", "an"} or (determiners & _SINGULAR_DETERMINERS and words[i].islower())) \
                    and "NOUN" not in _lemmas(after.lower()):
                uses.counted += 1
        self._uses[word] = uses
        return uses

    def counts(self, word: str) -> tuple[int, int]:
        """(uses as a verb, uses as a noun) of a lower-case word."""
        uses = self._of(word)
        return uses.as_verb, uses.as_noun

    def acts_on(self, verb: str, object_word: str) -> bool:
        """The text does what the heading says, as a verb with its object: "you can stream bytes", "to
        handle the tokens" for "Stream Bytes", "Handle JWT tokens" (the object's head or first word)."""
        return _noun_stem(object_word) in self._of(verb).objects

    def as_noun(self, word: str) -> bool:
        verb, noun = self.counts(word)
        return (noun >= 2 and verb == 0) or (noun >= 3 and noun > 3 * verb)

    def written_lower(self, word: str) -> bool:
        """Whether the text writes the word in lower case at least once ("the contributor's guide")."""
        forms = (word, f"{word}'s", f"{word}\u2019s")  # the genitive is one word of the prose
        return any(self._words[i].islower() for form in forms for i in self._where(form))

    def count_noun(self, word: str) -> bool:
        """The text writes the word as a singular noun of its own ("a **Load Balancer**", "the single load
        balancer"), not as a name ("gevent") nor before another noun ("a gevent worker")."""
        return self._of(word).counted > 0

    def compound(self, first: str, second: str) -> bool:
        """The text writes the two words mid-sentence as one noun more often than as a verb and its
        object: "the run's exit status", "a use case" against "you can stream bytes"."""
        uses, stem = self._of(first), _noun_stem(second)
        return uses.compound[stem] > uses.verb_then[stem]


_NO_USE = _WordUse()


# --- the heading analysis ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    question: str | None
    kind: str  # "question", "problem", "howto", "use" (a "How do I use ...?"), "what", "none"


_NONE = _Result(None, "none")


def heading_question(
    heading: str, *, page_title: str | None = None, proper_nouns: frozenset[str] = frozenset(), document_text: str = ""
) -> str | None:
    """The question a user would ask about a section with this heading, or None if it is not a topic.

    Args:
        heading: The heading text (markdown or reST inline markup is removed; `code` keeps its ticks).
        page_title: The title of the page the heading is in. It is never appended to the question; it
            only gives a one-word gerund its object when the title is a name ("Installing" under
            "Gunicorn" -> "How do I install Gunicorn?"), and a heading that is the page title itself may
            be a one-word topic ("Caching" on the page "Caching" -> "What is caching?").
        proper_nouns: Words whose capitals stay although the heading is in Title Case (see `proper_nouns`).
        document_text: The text of the page, when known. A first word that can be a noun or a verb is read
            as the page uses it: "Stream Bytes" is a task on a page that says "you can stream", "View
            Lifetime" a topic on a page that says "the view".

    Examples:
        "My computer won't connect" -> "What should I do if my computer won't connect?"
        "Installing packages" -> "How do I install packages?"
        "The Module Search Path" -> "What is the module search path?"
        "`dependency_overrides`" -> "What is `dependency_overrides`?"
        "Next Steps", "A Word About Names and Objects", "1.2.0" -> None
    """
    usage = _WordUse(document_text) if document_text else _NO_USE
    return _analyse(heading, page_title=page_title, keep=frozenset(proper_nouns), usage=usage).question


def _analyse(heading: str, *, page_title: str | None, keep: frozenset[str], usage: _WordUse = _NO_USE) -> _Result:
    text = _clean(heading)
    if not text or not _LETTER_RE.search(text) or _is_version(text):
        return _NONE
    if text.endswith(("?", "？")):
        first_word = (_WORD_RE.findall(text) or [""])[0].lower()
        if text[:1].isascii() and (
            first_word in _PREPOSITIONS | _CONJUNCTIONS | _SUBORDINATORS or len(_WORD_RE.findall(text)) < 2
        ):
            return _NONE  # "In a hurry?", "Really?": a teaser, not a question
        return _Result(_asked(text, keep), "question")
    if not _LATIN_RE.search(text):
        return _NONE  # the templates below are English; another script is only used when it asks
    text = text.rstrip("!").strip()
    text = _NUMBERING_RE.sub("", text)
    # "Error: X", "Tutorial: X"; any other "Title: subtitle" or "Title - subtitle" is a page title.
    prefix, sep, rest = _split_subtitle(text)
    if sep:
        rest_words = [t for t in _tokenize(rest) if t.kind != "punct"]
        if len(rest_words) == 1 and rest_words[0].kind == "code" and sep in ("-", "–", "—"):
            return _Result(f"What is `{rest_words[0].bare}`?", "what")  # "Static Files - `StaticFiles`"
        if prefix.lower() in _ERROR_PREFIXES and rest:
            rest_tokens = _tokenize(rest)
            phrase = _render(rest, rest_tokens, 0, len(rest_tokens), keep=keep, title_case=False, first_index=-1)
            return _Result(f"What should I do about {phrase}?", "problem")
        if (_normal(prefix) in _GENERIC_HEADINGS or _normal(prefix).split(" ")[0] in _SUBTITLE_PREFIXES) and not (
            _split_subtitle(rest)[1]
        ):
            text = rest  # "Tutorial: Install the CLI", "Technical Details: `root_path`"
        else:
            return _NONE
    text = _strip_parenthetical(text)
    # "Dependencies with `yield` and `except`, Technical Details", "Order the parameters, tricks"
    parts = re.split(r",\s+(?![^`]*`)", text)
    explained = False
    if len(parts) == 2 and (len(parts[1].split()) == 1 or _normal(parts[1]) in _GENERIC_HEADINGS) and (
        parts[1].split()[0].lower() not in ("and", "or", "etc")
    ):
        explained = _normal(parts[1]) in _EXPLANATION_HEADINGS
        text = parts[0]
    if not text:
        return _NONE
    tokens = _tokenize(text)
    words = [t for t in tokens if t.kind != "punct"]
    if not words:
        return _NONE
    norm = _normal(text)
    if any(w.kind != "code" for w in words) and _is_aside(norm, words):
        return _NONE
    title_case = _is_title_case(tokens)
    first = words[0]

    if first.low in _INTERROGATIVES:
        return _interrogative(text, tokens, keep=keep, title_case=title_case)
    if first.low in _AUXILIARIES and first.low not in _NEGATIONS and len(words) >= 3 and words[1].low != "not":
        return _Result(_written_question(text + "?"), "question")
    problem = _problem(text, tokens, keep=keep, title_case=title_case, usage=usage)
    if problem is not None:
        return problem
    if first.low in _NEGATIONS or (first.low in ("do", "don't") and len(words) > 1):
        return _NONE  # "Don't use the chat for questions": advice, not a topic
    if any(t.low in ("my", "your", "our") for t in words):
        return _NONE  # "Whetting Your Appetite", "My First Blueprint", "Using your virtual environment"
    if len(words) > 10:
        return _NONE
    if first.low in ("about", "on") and len(words) > 1:
        return _noun_phrase(text, tokens[1:], keep=keep, title_case=title_case, page_title=page_title, usage=usage)
    if first.kind == "word" and _tags(first) & {"ADP", "CCONJ", "SCONJ"} and "DET" not in _tags(first):
        return _NONE  # "Before Using Apps", "With pip", "In Production": fragments
    if first.low in _FOCUS_ADVERBS and len(words) > 1:
        return _NONE  # "Just Modern Python", "Only one dependency": a feature list's slogan, not a topic
    if _is_gerund(first):
        result = _gerund(text, tokens, keep=keep, title_case=title_case, page_title=page_title)
        if result is not None:
            return result
    if first.kind == "word" and _is_imperative(tokens, keep=keep, title_case=title_case, usage=usage):
        return _imperative(text, tokens, keep=keep, title_case=title_case)
    result = _noun_phrase(text, tokens, keep=keep, title_case=title_case, page_title=page_title, usage=usage)
    if explained and result.kind in ("what", "use") and "VB" not in _verb_forms(tokens[0].low):
        return _how_it_works(text, tokens, keep=keep, title_case=title_case)
    return result


_FOCUS_ADVERBS = _words("just only merely simply")  # not "still" ("Still Images") nor "even"
# "Dependencies with `yield` and `except`, Technical Details": the section explains how the thing works.
_EXPLANATION_HEADINGS = _phrases("technical details, details, more details, internals, under the hood, how it works")


def _how_it_works(text: str, tokens: Sequence[_Token], *, keep: frozenset[str], title_case: bool) -> _Result:
    np = tokens[:_np_core(tokens)]
    phrase = _render(text, tokens, 0, len(tokens), keep=keep, title_case=title_case, person=False)
    article = _article(np, tokens[len(np):], keep=keep)
    verb = "do" if _is_plural(np[-1]) else "does"
    return _Result(f"How {verb} {article + ' ' if article else ''}{phrase} work?", "howto")


def _split_subtitle(text: str) -> tuple[str, str, str]:
    outside = re.sub(r"`[^`]*`", lambda m: "x" * len(m.group(0)), text)
    m = re.search(r":\s+| [-–—] ", outside)
    if not m:
        return text, "", ""
    return text[:m.start()].strip(), m.group(0).strip(), text[m.end():].strip()


def _strip_parenthetical(text: str) -> str:
    """Drop a trailing "(optional)" or "(deprecated)"; keep an acronym "(XSS)". Drop asides inside."""
    text = re.sub(r"\s*\([^()`]*\)(?=\s+\S)", "", text)  # "SQL (Relational) Databases"
    m = re.search(r"\s*\(([^()]*)\)$", text)
    inner = m.group(1).strip() if m else ""
    if m and not (_ACRONYM_RE.fullmatch(inner) or (" " not in inner and _CAMEL_RE.search(inner))):
        text = text[:m.start()].strip()
    return text


def _is_aside(norm: str, words: Sequence[_Token]) -> bool:
    if norm in _GENERIC_HEADINGS or re.sub(r"^(the|a|an) ", "", norm) in _GENERIC_HEADINGS:
        return True
    lows = [w.low for w in words]
    if lows[0] in _ASIDE_FIRST and (len(lows) > 1 or lows[0] in _GENERIC_WORDS):
        return True
    if len(lows) > 1 and lows[-1] in _ASIDE_LAST:
        return True
    return any(a in ("this", "these") and b in _PAGE_NOUNS for a, b in zip(lows, lows[1:]))


# --- interrogatives ------------------------------------------------------------------------------


def _interrogative(text: str, tokens: list[_Token], *, keep: frozenset[str], title_case: bool) -> _Result:
    """'How to install X' -> 'How do I install X?'; 'How the Context Works' -> 'How does the context work?'."""
    # "What Flask is, What Flask is Not": the first clause asks the question.
    comma = next((k for k, t in enumerate(tokens) if t.kind == "punct" and t.bare in (",", ";")), len(tokens))
    tokens = tokens[:comma]
    text = text[:tokens[-1].end]
    words = [t.low for t in tokens]
    wh = tokens[0].bare.capitalize()
    if len(tokens) == 1:
        return _NONE
    render = lambda i, j: _render(text, tokens, i, j, keep=keep, title_case=title_case, first_index=-1)  # noqa: E731
    if words[1] in ("it", "this", "that", "they") or words[-1] in ("it", "this", "that", "they"):
        return _NONE  # "How it looks", "What it does": about something the page just showed
    if wh in ("What", "Who", "Which") and tokens[1].kind == "word" and "VBZ" in _verb_forms(words[1]):
        return _Result(f"{wh} {render(1, len(tokens))}?", "question")  # "What makes a dependency"
    if words[1] in _AUXILIARIES:  # "What is a Program": already in question order
        return _Result(f"{wh} {render(1, len(tokens))}?", "question") if len(tokens) > 2 else _NONE
    # "How to X", "When to use X", "Which database to use"
    if "to" in words[1:4]:
        k = words.index("to", 1)
        if k + 1 < len(tokens) and "VB" in _verb_forms(words[k + 1]):
            between = render(1, k)
            rest = render(k + 1, len(tokens))
            if wh == "How" and not between:
                return _Result(f"How do I {rest}?", "howto")
            subject = f" {between}" if between else ""
            return _Result(f"{wh}{subject} should I {rest}?", "howto")
    # "How a Request is Handled" -> "How is a request handled?"
    aux = next((k for k in range(2, len(tokens)) if words[k] in _AUXILIARIES), None)
    if aux is not None:
        subject = render(1, aux)
        rest = render(aux + 1, len(tokens))
        if not rest and words[aux] in ("do", "does", "did"):
            rest = "do"  # "What Tidepool does" -> "What does Tidepool do?"
        return _Result(f"{wh} {words[aux]} {subject}{' ' + rest if rest else ''}?", "question")
    # "How Black wraps lines" -> "How does Black wrap lines?": a subject, its verb's -s form, then its object (the
    # last word no base-form verb, which "How Proxy Forwarded Headers Work" ends in).
    if not _verb_forms(words[-1]) & {"VB", "VBP"}:
        for k in range(2, len(tokens) - 1):
            # One word before the verb is its subject whatever else it can be ("pip resolves ...").
            if tokens[k].kind == "word" and "VBZ" in _verb_forms(words[k]) and _valid_np(tokens[k + 1:]) and (
                    _valid_np(tokens[1:k]) or k == 2 and not _tags(tokens[1]) & _CLOSED_TAGS):
                return _Result(f"{wh} does {render(1, k)} {_verb_lemma(words[k])} {render(k + 1, len(tokens))}?",
                               "question")
    # "How Proxy Forwarded Headers Work" -> "How do proxy forwarded headers work?"
    for k in range(len(tokens) - 1, 1, -1):
        forms = _verb_forms(words[k])
        if tokens[k].kind != "word" or not forms & {"VBZ", "VBP", "VBD"}:
            continue
        if k != len(tokens) - 1 and not (_tags(tokens[k + 1]) & {"DET", "POSS", "PRON", "ADP", "ADV"}):
            continue
        lemma = _verb_lemma(words[k])
        do = "does" if "VBZ" in forms else "did" if "VBD" in forms and "VBP" not in forms else "do"
        subject = render(1, k)
        rest = render(k + 1, len(tokens))
        return _Result(f"{wh} {do} {subject} {lemma}{' ' + rest if rest else ''}?", "question")
    if wh == "Why" and len(tokens) <= 4 and _valid_np(tokens[1:]):  # "Why Poetry"
        return _Result(f"Why {render(1, len(tokens))}?", "question")
    return _NONE


# --- problems ------------------------------------------------------------------------------------


def _problem_cue(tokens: Sequence[_Token]) -> bool:
    lows = [t.low.replace("’", "'") for t in tokens]
    for k, t in enumerate(tokens):
        low = lows[k]
        if low in _NEGATIONS:
            return True
        if t.kind != "word":
            continue
        lemmas = {low} | {lemma for forms in _lemmas(low).values() for lemma in forms}
        if not _lemmas(low):
            lemmas |= set(lemminflect.getLemma(low, upos="NOUN", lemmatize_oov=True))  # "timeouts"
        if lemmas & _PROBLEM_LEMMAS:
            return True
        if "time" in lemmas and k + 1 < len(lows) and lows[k + 1] == "out":
            return True
        if lows[k:k + 3] == ["out", "of", "date"]:
            return True
    return False


def _problem_word(token: _Token) -> bool:
    """An adjective or participle that names a problem: 'slow', 'broken', 'missing', 'failed'."""
    if token.kind != "word":
        return False
    lemmas = set(_lemmas(token.low).get("ADJ", ()))
    if _verb_forms(token.low) & {"VBN", "VBG", "VBD"}:
        lemmas |= set(_lemmas(token.low).get("VERB", ()))
    return bool(lemmas & _PROBLEM_LEMMAS)


def _modifies_next(tokens: Sequence[_Token], k: int) -> bool:
    """Whether word k, an adjective or participle, stands before the noun it modifies ("breaking changes")."""
    if tokens[k].low == "not" or k + 1 >= len(tokens):
        return False
    nxt = tokens[k + 1]
    return nxt.kind in ("code", "name") or (nxt.kind == "word" and "NOUN" in _tags(nxt) and nxt.low not in _PREPOSITIONS)


def _finite_verb(tokens: Sequence[_Token], start: int = 1) -> int | None:
    """Index of the finite verb of a clause 'subject verb ...', or None when the words are no clause."""
    for k in range(start, len(tokens)):
        t = tokens[k]
        if t.kind != "word":
            continue
        low = t.low.replace("’", "'")
        if low in _RELATIVES or low in _SUBORDINATORS or low in _PREPOSITIONS:
            return None  # "Tests that depend on ...": a noun phrase with a relative clause
        if low in _AUXILIARIES:
            return k
        forms = _verb_forms(low)
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        after = _tags(nxt) if nxt else frozenset()
        verb_context = nxt is None or bool(after & {"DET", "POSS", "PRON", "NEG", "ADP"}) or (
            nxt.low in _PARTICLES or ("ADV" in after and "NOUN" not in after)
        )
        if "VBZ" in forms and ("NOUN" not in _tags(t) or (nxt is not None and verb_context)):
            return k
        if "VBD" in forms and nxt is not None and verb_context and "NOUN" not in _tags(t):
            return k
        if "VBP" in forms and k > 0 and (
            tokens[k - 1].low in ("i", "we", "they", "you") or (_is_plural(tokens[k - 1]) and verb_context)
        ):
            return k  # "Tests fail on Windows", "I get an error"
    return None


def _has_clause(tokens: Sequence[_Token]) -> bool:
    """Whether the words hold a finite verb outside a relative clause ("... that depend on X" is fine)."""
    for k, t in enumerate(tokens):
        if t.kind != "word":
            continue
        if t.low in _RELATIVES:
            return False
        if t.low in _AUXILIARIES:
            return True
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if "VBZ" in _verb_forms(t.low) and nxt is not None and _tags(nxt) & {"DET", "POSS", "PRON"}:
            return True
    return False


def _valid_subject(tokens: Sequence[_Token]) -> bool:
    if not tokens:
        return False
    if len(tokens) == 1 and tokens[0].low in ("i", "we", "they", "you", "it"):
        return True
    for k, t in enumerate(tokens):
        tags = _tags(t)
        if t.kind in ("code", "acronym", "name", "num"):
            continue
        if k == 0 and tags & {"DET", "POSS"}:
            continue
        if k == 0 and len(tokens) > 1 and "VERB" in tags and "VB" in _verb_forms(t.low) and not tags & {"NOUN", "X", "ADJ"}:
            return False  # "Tell Flask it is ...": an imperative, not a subject
        if tags & {"NOUN", "ADJ", "X"} or t.genitive or _verb_forms(t.low) & {"VBN", "VB"}:
            continue  # a bare verb form is a noun lemminflect lacks ("pip", "hot reload")
        return False
    return True


def _problem(
    text: str, tokens: list[_Token], *, keep: frozenset[str], title_case: bool, usage: _WordUse = _NO_USE
) -> _Result | None:
    words = [t for t in tokens if t.kind != "punct"]
    render = lambda i, j: _render(text, tokens, i, j, keep=keep, title_case=title_case)  # noqa: E731
    # "ImportError when running tests"
    if (
        words[0].kind in ("code", "name") and re.search(r"(Error|Exception|Warning)$", words[0].bare)
        and len(tokens) > 1 and tokens[1].low in (_SUBORDINATORS | {"after", "during", "on", "in", "with"})
    ):
        return _Result(f"What should I do if I get {render(0, len(tokens))}?", "problem")
    if not _problem_cue(tokens):
        return None
    if tokens[0].low in _NEGATIONS or tokens[0].low in ("do", "never"):
        return None  # a negated imperative is advice
    verb = _finite_verb(tokens)
    if verb is not None and _valid_subject(tokens[:verb]):
        return _Result(f"What should I do if {render(0, len(tokens))}?", "problem")
    # "Hot reload not working", "Lock file out of date", "Permission denied when installing":
    # a subject and a predicate without its copula -> "What should I do if the lock file is out of date?"
    pred = next(
        (
            k for k, t in enumerate(tokens)
            if k > 0 and (t.low == "not" or _problem_word(t) or [w.low for w in tokens[k:k + 3]] == ["out", "of", "date"])
        ),
        None,
    )
    # ... but a gerund alone is a task, not a subject: "Troubleshooting slow builds" is a how-to; and a
    # problem word before a noun modifies it: "Specific Breaking Changes" names changes, states nothing.
    if pred and not (pred == 1 and _is_gerund(tokens[0])) and not _modifies_next(tokens, pred) \
            and _valid_subject(tokens[:pred]) and _np_core(tokens[:pred]) == pred:
        be = "are" if _is_plural(tokens[pred - 1]) else "is"
        article = _article(tokens[:pred], [], keep=keep) if pred > 1 else ""
        subject = f"{article} {render(0, pred)}" if article else render(0, pred)
        return _Result(f"What should I do if {subject} {be} {render(pred, len(tokens))}?", "problem")
    # "Slow dependency resolution", "Connection timeouts" (but "Migrate outdated configs" is a how-to)
    core = _np_core(tokens)
    if (
        core and _valid_np(tokens[:core]) and not _is_imperative(tokens, keep=keep, title_case=title_case, usage=usage)
        and not (_is_gerund(tokens[0]) and not _problem_word(tokens[0]))  # "Troubleshooting X" is a how-to
    ):
        head = tokens[core - 1]
        modifiers = tokens[:core - 1]
        head_lemma = (
            _lemmas(_last_part(head)).get("NOUN") or lemminflect.getLemma(_last_part(head), upos="NOUN", lemmatize_oov=True)
            or (_last_part(head),)
        )[0]
        if head_lemma in _PROBLEM_HEADS or any(_problem_word(m) for m in modifiers):
            return _Result(f"What should I do about {render(0, len(tokens))}?", "problem")
    return None


# --- how-to ----------------------------------------------------------------------------------------


def _is_name_title(page_title: str | None, heading_words: Sequence[_Token], keep: frozenset[str]) -> str | None:
    """The page title when it is a name (product, tool) that can be the object of a verb."""
    if not page_title:
        return None
    title = _clean(page_title)
    tokens = [t for t in _tokenize(title) if t.kind != "punct"]
    if not tokens or len(tokens) > 3 or _normal(title) == _normal(" ".join(t.bare for t in heading_words)):
        return None
    if _normal(title) in _GENERIC_HEADINGS:
        return None
    for t in tokens:
        if t.kind in ("code", "acronym", "name") or t.bare in keep:
            continue
        if t.kind == "word" and not known_word(t.low) and t.low not in _GENERIC_WORDS:
            continue  # "gevent", "Gunicorn"
        return None
    return title


# Nouns that name a kind of page, not a thing a task acts on ("Troubleshooting FAQ", "Getting started guide").
_DOCUMENT_NOUNS = frozenset({"faq", "faqs", "guide", "guides", "overview", "tips", "reference", "basics", "checklist",
                             "notes", "docs", "documentation", "tutorial", "cheatsheet"})


_ACTION_NOUN_SUFFIXES = ("tion", "sion", "ment", "ance", "ence")
# Gerunds that name a field of their own and so modify a noun: "Logging Configuration", "Routing Registration".
_MODIFIER_GERUNDS = _words(
    """logging caching testing routing streaming parsing loading hashing rendering processing packaging matching
    mapping building tracking profiling debugging monitoring scheduling networking signing pooling queueing
    versioning licensing pricing billing programming templating messaging"""
)


def _gerund(
    text: str, tokens: list[_Token], *, keep: frozenset[str], title_case: bool, page_title: str | None
) -> _Result | None:
    first = tokens[0]
    verb = _verb_lemma(first.low)
    if verb is None:
        return None
    rest = tokens[1:]
    words = [t for t in rest if t.kind != "punct"]
    render = lambda i, j: _render(text, tokens, i, j, keep=keep, title_case=title_case, first_index=-1)  # noqa: E731
    if not words or all("ADV" in _tags(t) and not _tags(t) & {"NOUN", "X"} for t in words):
        if words and all(t.low in _PARTICLES for t in words):
            return _Result(f"How do I {verb} {render(1, len(tokens))}?", "howto")  # "Logging In"
        name = _is_name_title(page_title, [first], keep)
        if name:  # "Installing" on the page "Gunicorn"
            adverb = f" {render(1, len(tokens))}" if words else ""
            return _Result(f"How do I {verb} {name}{adverb}?", "howto")
        if not words and page_title and _normal(_clean(page_title)) == first.low:
            return _Result(f"What is {first.low}?", "what")  # the page "Caching"
        return _NONE
    if len(words) == 1 and words[0].low in ("it", "them", "this", "that", "things", "stuff"):
        return _NONE
    if tokens[1].low == "of":  # "Handling of pre-releases": the gerund is a noun
        return _Result(f"What is the {first.low} {render(1, len(tokens))}?", "what")
    # "Caching Decorator": a bare singular count noun cannot be the object; the gerund is a modifier. But
    # a noun made from a verb ("Enabling Completion", "Using auto-detection") is the object of a task.
    if len(rest) == 1 and _valid_np(rest) and (
        (_article(rest, [], keep=keep) and not _last_part(rest[0]).endswith(_ACTION_NOUN_SUFFIXES))
        or (first.low in _MODIFIER_GERUNDS and rest[0].kind == "word" and not _is_plural(rest[0])
            and rest[0].low not in _DOCUMENT_NOUNS)  # "Building Documentation": the page's kind, asked below
    ):
        return None
    # "Accessing and Modifying the Session" -> "How do I access and modify the session?"
    if len(tokens) > 3 and tokens[1].low in ("and", "or") and _is_gerund(tokens[2]):
        second = _verb_lemma(tokens[2].low)
        return _Result(f"How do I {verb} {tokens[1].low} {second} {render(3, len(tokens))}?", "howto")
    if tokens[1].low in ("and", "or", "&"):  # "Logging and run history": two topics, not a task
        return _NONE
    if len(words) == 1 and words[0].low in _DOCUMENT_NOUNS:  # "Troubleshooting FAQ": the page's kind, not an object
        return _NONE
    return _Result(f"How do I {verb} {render(1, len(tokens))}?", "howto")


def _is_imperative(
    tokens: Sequence[_Token], *, keep: frozenset[str], title_case: bool, usage: _WordUse = _NO_USE
) -> bool:
    first = tokens[0]
    forms = _verb_forms(first.low)
    if "VB" not in forms or first.genitive:
        return False
    if len(tokens) == 1 or first.bare in keep:
        return False  # "Wing IDE" where the text writes "the Wing documentation": a name
    second = tokens[1]
    tags = _tags(first)
    second_tags = _tags(second)
    if second.kind == "punct":
        return False
    if second.low in _PARTICLES and (len(tokens) == 2 or _tags(tokens[2]) & {"DET", "POSS", "ADP", "PRON"}):
        return True  # "Log In", "Set up the project"
    if (second_tags & {"DET", "POSS", "PRON"} and second.low not in ("that",)) or second.low == "one":
        return True  # "Install the CLI", "Test it", "Read One Hero"
    if second.low in ("and", "or") and len(tokens) > 2 and "VB" in _verb_forms(tokens[2].low):
        return True  # "Build and Install", "Define and Access the Database"
    noun_too = bool(tags & {"NOUN", "ADJ"})
    if not noun_too:
        return True  # "Deploying" aside, a word that is only a verb: "Configure logging", "Disable dotenv"
    third = tokens[2] if len(tokens) > 2 else None
    if (
        "ADP" in second_tags and second.low not in ("of", "for", "per", "to") and "ADJ" not in tags and third is not None
        and (third.kind in ("code", "name", "acronym") or _tags(third) & {"DET", "POSS"})
    ):
        return True  # "Register with the Application", "Document in OpenAPI" (but "Model for Input")
    if second.kind in ("code", "name"):
        return True  # "Use SecurityScopes", "Import APIRouter"
    if second.kind == "acronym" and (len(tokens) == 2 or "ADP" in _tags(tokens[2])) and not usage.as_noun(first.low):
        return True  # "Return JSON from Views" (but "Test CLI Runner" is a noun phrase, and so is "Console API"
        # on a page about "the console")
    if first.low == "use" and _noun_stem(second.low) != "case" and "ADP" not in second_tags:
        return True  # "Use feature detection": "use" opens a noun only in "use case" (and "Use of Generics")
    if "ADJ" in tags:
        return False  # "Base Docker Image", "Parallel Burgers"
    if usage.as_noun(first.low) or usage.compound(first.low, second.low):
        return False  # "View Lifetime and self" on a page about "the view"; "Exit statuses" ("the exit status")
    core = _np_core(tokens[1:])
    if _can_be_object(tokens[1:]):
        if second.low in _MANNER_PREPOSITIONS:  # "Dispatch by Subdomain" on a page that says "to dispatch"
            verb_uses, noun_uses = usage.counts(first.low)
            if verb_uses and not noun_uses:
                return True
        # "Stream Bytes" on a page that says "you can stream bytes"; "Handle JWT tokens": "to handle the tokens"
        elif any(usage.acts_on(first.low, t.bare) for t in (second, tokens[core]) if t.kind != "punct"):
            return True
    if (
        core < len(tokens) - 1 and tokens[1 + core].low in ("to", "from", "into") and len(tokens) > core + 2
        and _valid_np(tokens[1:1 + core]) and "VB" not in _verb_forms(tokens[2 + core].low)
        and tokens[2 + core].kind != "num" and not _is_version(tokens[2 + core].bare)
    ):
        return True  # "Email Errors to Admins", "Read settings from .env": a noun does not go to or from
    if second.kind == "word" and not title_case and not known_word(second.low):
        return True  # "Call uvicorn": a lower-case name the dictionary does not know
    # "Mix Path, Query and body parameters": in a sentence-case heading a capital marks a name.
    if second.kind == "word" and second.bare[:1].isupper() and (
        not title_case or (second.bare in keep and not known_word(second.low))
    ):
        return True
    # "Change Default Swagger UI Parameters": a long object rather than a compound noun.
    return _np_core(tokens[1:]) >= 4 and _valid_np(tokens[1:1 + _np_core(tokens[1:])])


_MANNER_PREPOSITIONS = _words("by with on over via through")


def _can_be_object(tokens: Sequence[_Token]) -> bool:
    """The words after a verb can be its object, an adverb or a manner: "Bytes", "JWT tokens", "Automatically
    on Startup", "by Subdomain"; not a gerund ("Update replacing with PUT") or a bare preposition ("yield from")."""
    if not tokens or tokens[0].kind == "punct":
        return False
    first = tokens[0]
    if first.kind != "word":
        return True
    tags = _tags(first)
    if first.low in _MANNER_PREPOSITIONS and len(tokens) > 1:
        return True  # "Dispatch by Subdomain", "Run on Startup": how, not what
    if tags & (_CLOSED_TAGS - {"DET", "POSS"}) or (_is_gerund(first) and "NOUN" not in tags):
        return False
    return bool(tags & {"NOUN", "ADJ", "X", "DET", "POSS"}) or ("ADV" in tags and len(tokens) > 1)


def _imperative(text: str, tokens: list[_Token], *, keep: frozenset[str], title_case: bool) -> _Result:
    words = [t for t in tokens[1:] if t.kind != "punct"]
    if words and words[0].low in ("it", "them", "this", "that", "these", "those"):
        return _NONE  # "Test it", "Fix it with X": the object is in the previous section
    lows = [t.low for t in words]
    if lows and lows[0] in ("the",) and len(lows) >= 2 and lows[1] in _PAGE_NOUNS | {"docs", "ui"}:
        return _NONE  # "Check the docs"
    if lows and lows[0] in ("and", "or") and all(w in ("and", "or") or "VB" in _verb_forms(w) for w in lows):
        return _NONE  # "Build and Install": no object
    verb = tokens[0].low
    rest = _render(text, tokens, 1, len(tokens), keep=keep, title_case=title_case, first_index=-1)
    return _Result(f"How do I {verb} {rest}?", "howto")


# --- noun phrases -------------------------------------------------------------------------------


def _np_core(tokens: Sequence[_Token]) -> int:
    """Length of the noun phrase before its first preposition, conjunction, relative or comma."""
    for k, t in enumerate(tokens):
        if k == 0:
            continue
        low = t.low
        if t.kind == "punct" or low in _PREPOSITIONS or low in _CONJUNCTIONS or low in _RELATIVES or low in _SUBORDINATORS:
            return k
        if t.text.startswith("("):
            return k  # "Python Package Index (PyPI)"
    return len(tokens)


def _valid_np(core: Sequence[_Token]) -> bool:
    if not core:
        return False
    head = core[-1]
    if not _is_nounish(head) or (head.kind == "word" and _tags(head) & (_CLOSED_TAGS - {"DET"})):
        return False
    for k, t in enumerate(core[:-1]):
        tags = _tags(t)
        if t.kind in ("code", "acronym", "name", "num") or t.genitive:
            continue
        if k == 0 and "DET" in tags:
            continue
        if tags & {"NOUN", "ADJ", "X", "VERB"}:
            continue
        return False
    return True


_CLOSED_TAGS = frozenset({"DET", "POSS", "PRON", "ADP", "CCONJ", "SCONJ", "AUX", "NEG"})


_ORDINALS = _words("first second next last final another")  # not "third": "third party integrations"


def _noun_phrase(
    text: str, tokens: Sequence[_Token], *, keep: frozenset[str], title_case: bool, page_title: str | None,
    usage: _WordUse = _NO_USE,
) -> _Result:
    tokens = list(tokens)
    words = [t for t in tokens if t.kind != "punct"]
    if not words:
        return _NONE
    first = words[0]
    # A heading that is only a code identifier: "`dependency_overrides`", "flask.Flask", "poetry-check".
    if len(words) == 1 and (first.kind == "code" or (first.bare.islower() and "-" in first.bare)):
        if ".." in first.bare:
            return _NONE  # "repositories..url": a placeholder was lost in rendering
        return _Result(f"What is `{first.bare}`?", "what")
    if first.low in ("a", "an", "no"):
        return _NONE  # "A Minimal Application", "A Word About Names and Objects": prose titles
    if first.low == "use" and len(words) > 1 and "ADP" in _tags(words[1]) and words[1].low != "of":
        return _NONE  # "Use with Docker", "Use in Production": it, unnamed, is used (no "What is use with ...?")
    ordinal = words[1] if first.low == "the" and len(words) > 1 else first
    if ordinal.low in _ORDINALS and ordinal.kind == "word" and "-" not in ordinal.bare:
        return _NONE  # "The First Child Command", "Another module with APIRouter": a tutorial's step, not a topic
    if any(t.low in _PRONOUNS for t in words):
        return _NONE
    core = _np_core(tokens)
    if core < len(tokens) and (tokens[core].low in _CONJUNCTIONS | {"vs", "vs.", "versus"} or tokens[core].kind == "punct"):
        return _NONE  # "Errors and Exceptions", "Base64 vs Files": two topics, not one
    if _has_clause(tokens[1:]):
        return _NONE  # "The time to answer helps the attackers": a statement
    np = tokens[:core]
    if not _valid_np(np):
        return _NONE
    if len(np) == 1 and np[0].kind == "word" and _tags(np[0]) & {"ADJ", "ADV"} and "-" not in np[0].bare:
        return _NONE  # "Better with `Annotated`", "Lazily Loaded"
    if len(np) == 2 and first.low == "the" and len(tokens) == 2:
        return _NONE  # "The Blueprint", "The Forms": the page's own example
    rest = tokens[core:]
    if rest and rest[0].low in _SUBORDINATORS:
        return _NONE
    if len(rest) >= 3 and rest[0].low == "in" and (rest[1].kind == "num" or rest[1].low in _NUMBER_WORDS) and (
        re.sub(r"s$", "", rest[2].low) in ("second", "minute", "hour", "day", "week", "step", "line")
    ):
        return _NONE  # "Tidepool in five minutes": the page's promise, not a topic
    if any(t.low in _CONJUNCTIONS for t in rest) and len(rest) > 6:
        return _NONE
    if len(words) > 1 and all(t.kind == "word" and t.bare.islower() for t in words) and (
        "VB" in _verb_forms(words[-1].low)
    ):
        return _NONE  # "cache clear", "env use": a command written without markup
    if len(words) == 1:
        t = first
        if t.kind == "word" and t.bare in keep and t.bare[:1].isupper():
            return _Result(f"What is {t.bare}?", "what")  # "Flask", "Requests": a name the page uses
        if t.kind == "word" and re.fullmatch(r"[A-Z][\w.]*(?:-[A-Z][\w.]*)+", t.bare) and (
                not _lemmas(_last_part(t)) or "NOUN" in _lemmas(_last_part(t))):
            return _Result(f"What is {t.bare}?", "what")  # "Requests-Threads", "Flask-Login": a package's name
        if t.kind == "word":
            if t.bare.islower() and known_word(t.low):
                return _NONE  # "name", "version": a key or command written without markup
            if "VB" in _verb_forms(t.low) or t.low in _VAGUE_NOUNS or t.low in _GENERIC_WORDS:
                return _NONE  # "Update", "Design", "Performance"
            if "VBG" in _verb_forms(t.low) and t.low.endswith("ing"):
                return _NONE  # one-word gerunds are handled (or refused) by the gerund rule
            if "ADJ" in _tags(t) and "-" not in t.bare:
                return _NONE  # "Declarative", "Short"
            if "-" in t.bare and not (_lemmas(_last_part(t)).get("NOUN") or not _lemmas(_last_part(t))):
                return _NONE  # "Auto-loaded"
    if any("/" in t.bare for t in np if t.kind == "word"):
        return _NONE  # "Copy/Paste to Terminal", "Async/await and ASGI": two things
    head = np[-1]
    if head.kind == "word" and "VBG" in _verb_forms(head.low) and len(np) == 1:
        return _NONE
    phrase = _render(text, tokens, 0, len(tokens), keep=keep, title_case=title_case, person=False)
    if first.kind == "word" and first.low == "the":
        phrase = "the" + phrase[3:]
    article = _article(np, rest, keep=keep, usage=usage)
    if _used_with(np, rest, keep):
        return _Result(f"How do I use {article + ' ' if article else ''}{phrase}?", "use")
    be = "are" if _is_plural(head) else "is"
    return _Result(f"What {be} {article + ' ' if article else ''}{phrase}?", "what")


# Heads that name what is said about a topic rather than a thing one uses: "Design Decisions in Flask".
_NOT_USED_HEADS = _words(
    """decision change difference error issue problem note example usage consideration detail case step thing
    way reason tip improvement question answer data code information content minute hour day week support
    pattern requirement recommendation guideline practice"""
)
_NUMBER_WORDS = _words("one two three four five six seven eight nine ten twenty thirty few several")
# "in practice", "in short": an adverb, not where the thing is used.
_ADVERBIAL_OBJECTS = _words("practice short general detail depth brief particular summary theory")


def _used_with(np: Sequence[_Token], rest: Sequence[_Token], keep: frozenset[str]) -> bool:
    """A thing with, in, as or for another ("MongoDB with MongoEngine", "Settings in a dependency", "Classes
    as Dependencies", "Pydantic Models for Forms") is asked about as "How do I use X with Y?": nobody asks "What is MongoDB with
    MongoEngine?"."""
    if len(rest) < 2 or rest[0].low not in ("with", "in", "as", "for"):
        return False
    first, head = np[0], np[-1]
    if first.kind == "word" and first.low in _DETERMINERS and first.low != "the":
        return False  # "Another module with APIRouter": the page's own example
    if head.kind == "word" and (
            _noun_stem(_last_part(head)) in _NOT_USED_HEADS or _last_part(head) in _NOT_USED_HEADS or _is_gerund(head)):
        return False
    objects = [t for t in rest[1:] if t.kind != "punct" and t.low not in _DETERMINERS]
    if not objects or objects[0].kind == "num" or objects[0].low in _ADVERBIAL_OBJECTS | _NUMBER_WORDS:
        return False  # "Tidepool in five minutes", "Caching in practice"
    # A tool, a name or code on either side ("MongoDB with MongoEngine", "Dependencies with `yield`",
    # "Pydantic Models for Forms"); "Users with Admin Rights", "Backups in the Cloud" are topics.
    return rest[0].low == "as" or any(_is_name(t, keep) for t in [*np, *objects])


def _is_name(token: _Token, keep: frozenset[str]) -> bool:
    """Code, an acronym, a CamelCase name, a name the corpus keeps, or a word the dictionary does not know."""
    if token.kind in ("code", "acronym", "name"):
        return True
    return token.kind == "word" and (token.bare in keep or not known_word(token.low))


def _an(word: str) -> bool:
    w = word.lower()
    if w.startswith("u"):
        return not re.match(r"u[b-df-hj-np-tv-z][aeiouy]", w)  # "a user", "a unique", "an update"
    return w[:1] in ("a", "e", "i", "o") and not w.startswith(("eu", "one", "once"))


# Acronyms that are count nouns: a phrase ending in one names one thing ("the console API").
_COUNT_ACRONYMS = _words("api cli url uri sdk ui gui ide vm")


def _article(
    np: Sequence[_Token], rest: Sequence[_Token], *, keep: frozenset[str], definite: bool = True,
    usage: _WordUse = _NO_USE,
) -> str:
    """The article a singular count noun phrase needs in "What is ...?": "the"/"a"/"an", or "".

    For a heading (`definite`), a multi-word phrase ("the application object") or one followed by a
    phrase ("the model for input") takes "the", a single count noun "a"/"an" ("a blueprint"); a glossary
    term always takes "a"/"an" ("a lock file"). Plurals, mass nouns ("JSON support", "authentication"),
    names and unknown words take none, unless the page writes the word after "a"/"an" ("a load balancer");
    a heading's phrase ending in a count-noun acronym takes "the" ("the console API") unless it is a name.
    """
    first, head = np[0], np[-1]
    if first.genitive:  # "the contributor's guide", but "Flask's config": a name's needs none
        common = first.bare.islower() or usage.written_lower(first.low)
        return "the" if first.kind == "word" and first.bare not in keep and common and "NOUN" in _lemmas(first.low) else ""
    if first.kind == "word" and _tags(first) & {"DET", "POSS"}:
        return ""
    if head.kind == "acronym" and head.low in _COUNT_ACRONYMS and definite and len(np) > 1 and not any(
            t.bare in keep for t in np[:-1]):
        return "the"  # "the console API"; not "API" alone, nor "Wing IDE" (a product's name)
    if head.kind != "word" or head.bare in keep or _is_plural(head):
        return ""
    if rest and rest[0].low == "of":
        return "the"
    low = _last_part(head)
    if (not _lemmas(low) and not usage.count_noun(low)) or low in _MASS_NOUNS or low.endswith(_MASS_SUFFIXES) or "VBG" in _verb_forms(low):
        return ""
    if definite and (len(np) > 1 or rest):
        return "the"  # "the application object", "the model for input"
    return "an" if _an(first.low) else "a"


# --- headings that name a command, an option, a function ----------------------------------------

# What the text calls the thing a heading names ("The `self sync` command ensures ..."): things that do
# something, and things that hold a value.
_KINDS = "|".join(sorted(ACTING_KINDS + VALUE_KINDS, key=len, reverse=True))  # longest first: "environment variable"


# "To send form data, pass ...", "To update an item you can use ...": the purpose a section opens with; at
# most 10 words, ended by the comma or the "you can" of the main clause.
_PURPOSE_RE = re.compile(r"^(?:To|If you want to|In order to) ([a-z]+)((?: [^\s,.;:()]+){1,9}?)"
                         r"(?:,| (?:you|we) (?:can|could|should|may|must|need to|have to)\b)")
_PURPOSE_OBJECT_PRONOUNS = frozenset(["it", "this", "that", "these", "those", "them", "one"])
# "You can define background tasks to be run ...": what the section shows the reader doing.
_NOT_TASK_VERBS = _words("be have get see find expect notice imagine think say tell know feel")
_ABILITY_OBJECT = (  # the verb and its object, up to a preposition, a conjunction or punctuation
    r" (?P<verb>[a-z]+) (?P<object>[^,.;:()!?]+?)"
    r"(?= (?:to|with|in|into|from|by|for|using|as|the same way|instead|inside|on|at|via|and|or|if|when|so|that"
    r"|which|where|while|because|like|just|directly|there|here|too|yourself)\b|[,.;:()!?]|$)"
)
_ABILITY_RE = re.compile(
    r"^(?:(?:Now|So|Then|Here|Also|Similarly|First|Next),? )?(?:You|We) can,?(?: also| now| easily| just| still"
    r"| then| simply| of course,| even| additionally)*" + _ABILITY_OBJECT
)
# "Rich can render Markdown to the console.", "Rich supports setting up ...": what the tool the reader uses does
# for them (the subject must be a name the page keeps: not "Blueprints can provide ...").
_TOOL_ABILITY_RE = re.compile(
    r"^(?P<tool>[A-Z][\w.-]*) (?:can(?: also| now| easily| automatically| even)*"
    r"|(?:also )?(?P<supports>supports|lets you|allows you to)(?= [a-z]))" + _ABILITY_OBJECT
)


# A note before the section's text: "Added in version 2.4.", "Warning: Not supported in ...".
_NOTE_LABELS = "Note|Warning|Tip|Important|Caution|Attention|Danger|Hint|See also"  # admonitions, as markup renders them
_NOTE_RE = re.compile(r"^(?:(?:Added|Changed|Deprecated|New|Removed) (?:in|since) (?:version )?[\w.]+(?:[.:].*)?"
                      rf"|(?:{_NOTE_LABELS}|Seealso)(?::.*)?)$", re.IGNORECASE)


def _prose_paragraphs(body: str) -> Iterator[str]:
    """A section's prose paragraphs, each on one line, code and notes ("Added in version 2.4.") left out."""
    for paragraph in without_fenced_code(body).strip().split("\n\n"):
        paragraph = paragraph.strip().replace("\n", " ")
        if paragraph and not _NOTE_RE.match(paragraph):
            yield paragraph


def purpose_question(heading: str, body: str, paragraphs: int = 1, names: frozenset[str] = frozenset()) -> str | None:
    """ "How do I <purpose>?" when a section titled like a thing opens by saying what it is for:
    "Form Data" over "To send form data, pass a dict to `data`." asks "How do I send form data?",
    which its text answers, rather than "What is form data?", which it does not. None otherwise.

    The purpose must share a content word with the heading and carry an object of its own ("To define
    it, ..." does not say what). A section that opens by showing the reader doing its topic asks the
    same way: "Tags" over "You can add tags to your path operation ..." asks "How do I add tags?".
    With `paragraphs` > 1 the purpose may open any of the section's first paragraphs, past notes. So may
    what a tool among `names` (the page's names) does for the reader: "Markdown" over "Rich can render
    Markdown to the console." asks "How do I render Markdown?".
    """
    opening = itertools.islice(_prose_paragraphs(body), paragraphs)
    return next((question for paragraph in opening if (question := _opening_purpose(heading, paragraph, names))), None)


def _opening_purpose(heading: str, paragraph: str, names: frozenset[str] = frozenset()) -> str | None:
    match = _PURPOSE_RE.match(paragraph)
    if not match:
        return _ability_question(heading, paragraph, names)
    verb, rest = match.group(1), match.group(2).strip()
    if _verb_lemma(verb) != verb or rest.split()[0].lower() in _PURPOSE_OBJECT_PRONOUNS:
        return None
    if match.group(0).endswith(",") and not _addresses_the_reader(paragraph[match.end():]):
        return None  # "In order to give you immutability, attrs will attach ...": how it works, not a task
    heading_words = {w.lower() for w in _WORD_RE.findall(heading)} - STOPWORDS
    if not heading_words & {w.lower() for w in _WORD_RE.findall(f"{verb} {rest}")}:
        return None
    rest = _in_first_person(rest)
    return f"How do I {verb} {rest}?"


_READER_OPENERS = _words("you we simply just first then now use call run set add pass")


def _addresses_the_reader(main_clause: str) -> bool:
    """Whether the clause after a purpose tells the reader what to do: "you can use ...", "pass a dict ...",
    "simply ...", an imperative; not "attrs will attach ..." or "the server sends ..."."""
    # "To limit the total time spent on all attempts, including backoff delays, set `deadline`."
    main_clause = re.sub(r"^\s*[a-z]+ing\b[^,]{0,80},", "", main_clause)
    word, second = ([*_WORD_RE.findall(main_clause), "", ""])[:2]
    if word.lower() in ("you", "we"):
        return True
    second = second.lower()
    if second in _AUXILIARIES or ("VBZ" in _verb_forms(second) and not _lemmas(second).get("NOUN")):
        return False  # "attrs will attach ...", "click provides ...": the first word is a subject
    return word.lower() in _READER_OPENERS or (word[:1].islower() and _verb_lemma(word) == word
                                                and "VB" in _verb_forms(word) and word not in _CLOSED)


def _ability_question(heading: str, paragraph: str, names: frozenset[str] = frozenset()) -> str | None:
    """ "How do I define background tasks?" for "Background Tasks" over "You can define background tasks
    to be run after returning a response.": the section shows how, so the question asks how. The
    object must hold the heading's head noun ("Tags" over "You can add tags to ..."), not only share
    a word with it ("Templates" over "You can use any template engine you want" asks nothing).
    A tool among `names` doing it for the reader ("Rich can render Markdown ...") asks the same."""
    match = _ABILITY_RE.match(paragraph) or _TOOL_ABILITY_RE.match(paragraph)
    if not match:
        return None
    verb, rest = match.group("verb"), match.group("object")
    if match.re is _TOOL_ABILITY_RE:
        if match.group("tool") not in names:
            return None
        if match.group("supports") == "supports":  # "HTTPX supports setting up ...": the gerund's verb
            if not verb.endswith("ing"):
                return None
            verb = _verb_lemma(verb) or ""
    rest = rest.replace('"', "").strip()
    words = rest.split()
    if _verb_lemma(verb) != verb or verb in _NOT_TASK_VERBS or not 1 <= len(words) <= 6:
        return None  # "You can be sure headers are sent", "You can get errors if ...": not a task
    lows = [w.lower() for w in words]
    if lows[0] in _PURPOSE_OBJECT_PRONOUNS | {"any", "some", "more", "other", "all", "and", "or"} or any(
        w in _PRONOUNS or w in _POSSESSIVES for w in lows
    ):
        return None
    heading_words = [w.lower() for w in _WORD_RE.findall(heading) if w.lower() not in STOPWORDS]
    if not heading_words:
        return None
    stem = lambda w: re.sub(r"(?<=\w{3})(?:es|s)$", "", w.strip("`'\""))  # noqa: E731
    said = {stem(w) for w in lows}
    # "Form Models" over "You can use Pydantic models ..." says nothing about forms.
    if stem(heading_words[-1]) not in said or sum(stem(w) in said for w in set(heading_words)) < min(2, len(set(heading_words))):
        return None
    return f"How do I {verb} {rest}?"


def named_thing_question(heading: str, body: str) -> str | None:
    """ "What does the `X` command do?" for a heading that only names X when its text calls X a
    command, an option, a setting, a function ... ("### self sync" over "The `self sync` command
    ensures ..."; a variable or key: "What is the `X` key for?"). None otherwise.

    Reading "self sync" or "debug info" as English gives "How do I self sync?"; the text says
    what the words are.
    """
    named = _named_thing(heading, body)
    return named[0] if named else None


def _named_thing(heading: str, body: str) -> tuple[str, str] | None:
    """(question, kind) for `named_thing_question`."""
    name = _clean(heading).strip("`").strip()
    if not name or len(name.split()) > 4 or "`" in name or name.endswith("?"):
        return None
    # In code ("the `self sync` command", "the `poetry self sync` command"), or plainly when the heading is
    # written in lower case like a command ("the debug info command"; not "the Installing option").
    plain = rf"|\b[Tt]he {re.escape(name)}" if name.islower() else ""
    # A heading capitalises a name the text writes in code in lower case ("Extends" over "the `extends` tag"); not a
    # plural noun, which names the topic ("Cookies" over "... the `cookies` parameter").
    plural = any(lemma != name.lower() for lemma in _lemmas(name.lower()).get("NOUN", ()))
    written = f"(?i:{re.escape(name)})" if name[:1].isupper() and name[1:].islower() and not plural else re.escape(name)
    pattern = re.compile(rf"(?:`(?:[\w.-]+ )?(?P<code>{written})`{plain})\s+(?P<kind>(?i:{_KINDS}))s?\b")
    found = pattern.search(body[:1500])
    if found is None:
        return None
    name = found.group("code") or name
    kind = found.group("kind").lower()
    if kind in VALUE_KINDS:
        return f"What is the `{name}` {kind} for?", kind
    return f"What does the `{name}` {kind} do?", kind


# --- definitions ---------------------------------------------------------------------------------


def definition_question(term: str, doc_text: str = "", keep: frozenset[str] = frozenset()) -> str | None:
    """'What is X?' / 'What are X?' for a glossary or definition-list term (code terms kept as written).

    `doc_text`, the text the term is defined in, and `keep`, its names (see `proper_nouns`), decide the
    capitals: a glossary capitalises every term, so "Jitter" becomes "What is jitter?" when the text
    writes "jitter" in lower case elsewhere, while a name it keeps ("Flask") stays as it is.
    """
    return _definition_question(term, lower_case_words(doc_text) if doc_text else None, keep)


def _definition_question(term: str, lower_words: frozenset[str] | None, keep: frozenset[str]) -> str | None:
    """`definition_question` with the document's lower-case words already read (None: no document)."""
    text = _clean(term).rstrip(":")
    if not text or not _LETTER_RE.search(text) or text.startswith(("(", "[")):
        return None
    if lower_words is not None:
        text = common_noun_case(text, lower_words, keep, first=True)
    if text.endswith(("?", "？")):
        return _written_question(text)
    tokens = _tokenize(text)
    words = [t for t in tokens if t.kind != "punct"]
    if not words or len(words) > 8:
        return None
    if len(words) == 1 and words[0].kind == "code":
        if _is_literal(words[0].bare):
            return None  # a value written out (jinja's "`{'dict': 'of', 'key': 'and', 'value': 'pairs'}`"), no name
        return f"What is {words[0].text}?" if words[0].text.startswith("`") else f"What is `{words[0].bare}`?"
    if len(words) == 1 and words[0].kind in ("name", "acronym"):
        return f"What is {words[0].text}?"
    core = _np_core(tokens) or len(tokens)
    np, head = tokens[:core], tokens[core - 1]
    phrase = _render(text, tokens, 0, len(tokens), keep=keep, title_case=_is_title_case(tokens), person=False)
    article = _article(np, tokens[core:], keep=keep, definite=False) if _valid_np(np) else ""
    be = "are" if _is_plural(head) else "is"
    return f"What {be} {article + ' ' if article else ''}{phrase}?"


_MAX_LITERAL_CHARS = 200


def _is_literal(code: str) -> bool:
    """Whether inline code is a Python value written out ("{'dict': 'of'}", "('a', 'b')", "0x1F"), not a name
    ("[tool.poetry]", "{% extends %}", "2to3")."""
    if len(code) > _MAX_LITERAL_CHARS:
        return False  # parsing is bounded: a longer "value" is read as a name
    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


# --- question sentences --------------------------------------------------------------------------

_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?？])\s+(?=[\"'“*_`(]*[A-Z0-9])")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QA_PREFIX_RE = re.compile(r"^(?:\*\*|__)?(?:Q|Question)\s*[:.]\s*", re.IGNORECASE)


_QUOTED_WORDS_RE = re.compile(r"\s*>\s*[\"\u201c]")  # a blockquote that opens with a quotation mark


def _question_spans(text: str) -> list[tuple[str, int, int, bool]]:
    """(question, start, end, standalone) for each question the text asks outside code fences.

    `standalone` is true when the question is a paragraph (or list item) of its own: an FAQ entry.
    """
    prose = without_fenced_code(text)
    found = []
    for block in re.finditer(r"[^\n]+(?:\n(?![ \t]*(?:[-*+]|\d+[.)])\s)[^\n]+)*", prose):
        para = block.group(0)
        if para.lstrip().startswith(("|", ">", "    ")) and not para.lstrip().startswith("> "):
            continue
        if _QUOTED_WORDS_RE.match(para):
            continue  # someone's words quoted ('> "... Do a code audit? Pffff. ..."'), not a question the page asks
        offset = block.start()
        marker = _LIST_MARKER_RE.match(para)
        body_start = marker.end() if marker else 0
        sentences = []
        pos = body_start
        for piece in _SENTENCE_SPLIT_RE.split(para[body_start:]):
            start = para.index(piece, pos)
            sentences.append((piece, start))
            pos = start + len(piece)
        for piece, start in sentences:
            sentence = _QA_PREFIX_RE.sub("", re.sub(r"\s+", " ", piece).strip())
            sentence = _EMPHASIS_RE.sub(r"\2", sentence).strip("*_ ")
            if not sentence.endswith(("?", "？")):
                continue
            words = sentence.split()
            if not 4 <= len(words) <= 30:
                continue
            first = words[0].strip("\"'“*_(").lower().replace("’", "'")
            if first not in _INTERROGATIVES and first not in _AUXILIARIES:
                continue
            standalone = len(sentences) == 1
            found.append((sentence, offset + start, offset + start + len(piece), standalone))
    return found


def _reader_question(question: str) -> str | None:
    """A question the text asks its reader, in the reader's voice; None for a rhetorical one.

    "Are you unable to reproduce the issue?" and "Would you like to help?" ask the reader about
    themselves: no one asks them of the documentation. "Why would you want to build URLs?" does
    become "Why would I want to build URLs?".
    """
    words = question.split()
    if words[0].lower() in _AUXILIARIES and re.search(r"\byou", question, re.IGNORECASE):
        return None  # "Would you like to help?", "Is there anything unusual about your environment?"
    if not re.search(r"\byou", question, re.IGNORECASE):
        return question
    out = _in_first_person(question)
    return re.sub(r"\b(are|were) I\b", lambda m: "am I" if m.group(1) == "are" else "was I", out)


def question_sentences(text: str) -> list[str]:
    """Questions the text itself asks (FAQ style), outside ``` fences.

    Only real questions: the sentence opens with an interrogative or an auxiliary ("How ...?",
    "Can I ...?") and has 4 to 30 words; "Remember that ...?" and "But what if ...?" are lead-ins.
    """
    return [q for q, _, _, _ in _question_spans(text)]


# --- proper nouns --------------------------------------------------------------------------------

# A capitalised word after a lower-case word (or a comma) on the same line: not a sentence start, not a
# Title Case heading or table header.
_MIDSENTENCE_CAPITAL_RE = re.compile(
    r"(?:(?<=\s)|^)[a-z][\w'’-]*[,;:)]?[ \t]+((?:[A-Z][\w'’-]*)(?:[ \t]+[A-Z][\w'’-]*)*)", re.M
)


# A lower-case word of prose, not part of a path, a file name or a dotted name.
_LOWER_WORD_RE = re.compile(r"(?<![\w./-])[a-z]+(?![\w/-]|\.\w)")


def _prose(text: str) -> str:
    """The text without code: fences and `inline` code blanked out."""
    return _INLINE_CODE_RE.sub(" ", without_fenced_code(text))


def proper_nouns(text: str) -> frozenset[str]:
    """Capitalised words a text uses mid-sentence and (almost) never in lower case ('Pydantic', 'Flask').

    Code (fences and `inline`) is left out, so `from flask import Flask` does not count against Flask;
    a word written in lower case at most once for every four capitalised uses still counts.
    """
    return _CaseCounts(_prose(text)).names


class _CaseCounts:
    """How often prose writes each word capitalised mid-sentence and in lower case, and so which words
    are names. Counts add up, so a corpus's names are known from all of its pages read so far ("Flask"
    on a page that writes "flask" once); `names` is kept up to date word by word.

    Args:
        prose: Text without code (`_prose`).
    """

    def __init__(self, prose: str = ""):
        self.capitalised: dict[str, int] = {}
        self.lower: dict[str, int] = {}
        self._names: set[str] = set()
        if prose:
            self.add(prose)

    def add(self, prose: str) -> _CaseCounts:
        return self.merge(*_case_counts(prose))

    def merge(self, capitalised: Mapping[str, int], lower: Mapping[str, int]) -> _CaseCounts:
        """Adds another text's counts (`_CaseCounts.capitalised`, `.lower`)."""
        touched = set(capitalised)
        for word, n in capitalised.items():
            self.capitalised[word] = self.capitalised.get(word, 0) + n
        for word, n in lower.items():
            self.lower[word] = self.lower.get(word, 0) + n
            if word.capitalize() in self.capitalised:
                touched.add(word.capitalize())
        for word in touched:
            # a word written in lower case at most once for every four capitalised uses still counts
            if self.lower.get(word.lower(), 0) * 4 <= self.capitalised[word] - 1 or word.lower() not in self.lower:
                self._names.add(word)
            else:
                self._names.discard(word)
        return self

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._names)


def _case_counts(prose: str) -> tuple[dict[str, int], dict[str, int]]:
    capitalised: dict[str, int] = {}
    for m in _MIDSENTENCE_CAPITAL_RE.finditer(prose):
        run = [re.sub(r"['’]s$", "", w).rstrip("'’.,;:") for w in m.group(1).split()]
        # "to FastAPI Cloud", "the Swagger UI": a name may run over several words; but "see Caching
        # Decorator" is the Title Case title of another page, so a run of dictionary words counts for nothing.
        if len(run) > 1 and all(known_word(w.lower()) for w in run):
            continue
        for word in run:
            if re.fullmatch(r"[A-Z][a-z]+", word):
                capitalised[word] = capitalised.get(word, 0) + 1
    lower: dict[str, int] = {}
    for word in _LOWER_WORD_RE.findall(prose):
        lower[word] = lower.get(word, 0) + 1
    return capitalised, lower


def lower_case_words(text: str) -> frozenset[str]:
    """The words a text writes in lower case in its prose (code left out)."""
    return frozenset(_LOWER_WORD_RE.findall(_prose(text)))


def common_noun_case(text: str, lower_words: frozenset[str], keep: frozenset[str], *, first: bool = False) -> str:
    """`text` with a capitalised word lower-cased when the document writes it in lower case and does
    not keep it as a name: a heading or glossary capital, not a name ("What is Jitter?" on a page
    that says "random jitter" -> "What is jitter?"). The first word stays unless `first`."""
    def lower(m: re.Match) -> str:
        word = m.group()
        if (m.start() == 0 and not first) or word in keep or word.lower() not in lower_words:
            return word
        return word.lower()

    return re.sub(r"(?<![\w`.-])[A-Z][a-z]+(?![\w`.-])", lower, text)


_DEFINING_VERBS = _words("is are was were means mean refers refer stands stand describes describe")


# "It's the most popular Python framework", "These are flags where ...": the topic, as the subject.
_PRONOUN_DEFINITION_RE = re.compile(r"^(?:(?:It|They|These)(?: is|'s|’s| are) (?:also )?(?:a|an|the|one|just|simply)"
                                    r"|(?:They|These) are (?!always|various|sometimes|perhaps|less|just)[a-z]+s)\b")


def _opening_sentences(body: str, count: int = 8, paragraphs: int = 8) -> list[str]:
    """The first `count` sentences of a section's first `paragraphs` prose paragraphs, past notes such as
    "Added in version 2.4."."""
    sentences: list[str] = []
    for paragraph in itertools.islice(_prose_paragraphs(body), paragraphs):
        sentences.extend(_SENTENCE_SPLIT_RE.split(paragraph))
        if len(sentences) >= count:
            break
    return sentences[:count]


def _topic_head(words: Sequence[_Token]) -> _Token:
    """The noun a topic heading is about: "Removals with no prior deprecation" -> "Removals",
    "Merging of configuration" -> "Merging", "HTTP Status Codes" -> "Codes"."""
    for k, token in enumerate(words[1:], 1):
        if token.kind == "word" and token.low in _PREPOSITIONS | _CONJUNCTIONS:
            return words[k - 1]
    return words[-1]


_DEFINING_AFTER = _DEFINING_VERBS | _words("which that who allows allow lets let provides provide")
_NAMING_BEFORE = _words("called named calls call")


def _says_what_it_is(sentence: str, head: frozenset[str], topic: frozenset[str], reach: int) -> bool:
    """Whether a sentence is about a topic, given the stems of its head noun and of its other words: it opens
    with the head ("Middleware is a function ...", "The multiple options format allows ...") or with another
    of its words acting ("`overlap` decides what happens ..." under "Overlap policy"; not "Currently,
    translations are done ..." under "Top Translation Reviewers"), names the head with a defining verb or a
    relative clause ("... the Werkzeug routing system which was designed ..."), calls something by it, or
    lists it ("Tidepool calls plugins at four hooks:")."""
    # A hyphenated word is its parts too: "The expression-statement extension adds ..." is about the statement.
    said = [part for w in _WORD_RE.findall(sentence) for part in (w.lower(), *w.lower().split("-")[1:])]
    for k, w in enumerate(said[:24]):
        stem, after = _noun_stem(w), said[k + 1] if k + 1 < len(said) else ""
        if k <= reach and stem in topic and "VBZ" in _verb_forms(after) and not _lemmas(after).get("NOUN") and not any(
                "VBG" in _verb_forms(word) for word in said[:k]):
            return True  # "decides", "ignores"; not "are", nor an object's ("Sending error mails ...")
        if stem not in head:
            continue
        if k <= reach or after in _DEFINING_AFTER or (k and said[k - 1] in _NAMING_BEFORE):
            return True
    return sentence.rstrip().endswith(":") and any(_noun_stem(w) in head for w in said)


def _describes_without_subject(sentence: str) -> bool:
    """An API reference's one-line description: "Tells the browser to ...", "A proxy to the request data ...";
    not "Attributes can have ..." (a plural noun before a modal)."""
    words = _WORD_RE.findall(sentence)
    first, second = ([*words, "", ""])[:2]
    if first in ("A", "An"):
        # A noun phrase, not a sentence: "A small number of participants explained ..." has a verb of its own
        # before any clause or phrase that says what the noun is for.
        for word in itertools.takewhile(lambda w: w.lower() not in _DESCRIPTION_TURNS, words[1:]):
            if word.lower() in _AUXILIARIES or _verb_forms(word.lower()) & {"VBD", "VBZ"} and not _lemmas(
                    word.lower()).get("NOUN"):
                return False
        return True
    return first[:1].isupper() and first.lower().endswith("s") and second.lower() not in _AUXILIARIES and (
        "VBZ" in _verb_forms(first.lower()))


# Where a description's noun phrase turns to what the thing is for or holds ("A proxy to ...", "A list that ...").
_DESCRIPTION_TURNS = _words("that which who whose where to for used with from containing")


def _unanswered_topic(heading: Heading, body: str, keep: frozenset[str]) -> bool:
    """Whether a section under a page is headed by a topic ("Templates", "Method Hints", "Session Interface")
    that its text never says anything about as such: "What are templates?" under "Blueprint Resources" over
    "If you want the blueprint to expose templates, ..." asks what the section does not answer, and so does
    "What is the session interface?" over "Added in version 0.8. ...". A section answers when one of its first
    sentences says what the topic is (see `_says_what_it_is`) or its first sentence is a description without
    a subject. A name ("Werkzeug", "Google Cloud Run") is held to less: a page about a tool may never say what it
    is and still answer, so its first sentence need only be about it (see `_about_the_name`); code (`yield`) is
    left alone."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", _clean(heading.marked or heading.text))  # "Cross-Site Scripting (XSS)"
    words = [t for t in _tokenize(text) if t.kind != "punct"]
    if not words or any(w.kind in ("code", "num") for w in words):
        return False
    if all(w.kind in ("word", "acronym", "name") and _is_name(w, keep) and w.low not in _CLOSED for w in words):
        return not _about_the_name(words, _opening_sentences(body, 2, paragraphs=2))
    # The head, and the noun of an "of" phrase: "Visibility of the Context" is about the context too.
    head = frozenset({_noun_stem(_topic_head(words).bare), _noun_stem(words[-1].bare)})
    topic = frozenset(_noun_stem(w.bare) for w in words if w.low not in _CLOSED)
    reach = len(words) + 1  # "The multiple options format ...": the topic's words, after an article
    # One word must open the section ("Homebrew" over "... available from the project's own tap:" then code, then
    # "Homebrew installs ..." is about installing with it); a longer topic may be said a few sentences in.
    sentences = _opening_sentences(body, 2, paragraphs=1) if len(words) == 1 else _opening_sentences(body)
    # Past "Import name: ...": "Tells the browser ...", "It's the most popular Python framework", "These are flags ..."
    if any(_describes_without_subject(s) or _PRONOUN_DEFINITION_RE.match(s) for s in sentences[:2]):
        return False
    return not any(_says_what_it_is(sentence, head, topic, reach) for sentence in sentences)


# What a thing named in a heading is ("Flask wraps the WSGI toolkit ..." under "Werkzeug").
_THING_KINDS = frozenset(PACKAGE_KINDS) | _words("toolkit plug-in plugin module system service platform language format "
                                                 "protocol database engine application app program interpreter "
                                                 "compiler editor browser")


# A pronoun that may stand for the name a heading gives ("It was one of the first ..."); answers'
# `_HEADING_PRONOUN_RE` is stricter, as it puts the name in the pronoun's place.
_NAME_PRONOUN_RE = re.compile(rf"\W*(?:it(?!{EXPLETIVE_IT})|they|this|these|he|she)\b", re.IGNORECASE)


def _about_the_name(words: Sequence[_Token], sentences: Sequence[str]) -> bool:
    """Whether one of a section's first sentences is about the name its heading gives ("Werkzeug", "Git"): it
    opens with the name ("Webargs is a tool ...", "`blackdoc` is ...", not "The supported schemes are `git+file`,
    ... and `git`." under "Git", which is about pip's URLs, nor "First, the browser would check with the DNS
    servers ..." under "DNS"), with a pronoun standing for it ("It was one of the first ..."), describes it without
    a subject, or (the first sentence only) says what kind of thing it talks about ("Flask wraps the WSGI toolkit
    ...", not "... into a Pylons application", a thing built with it)."""
    if not sentences:
        return True  # nothing to judge by: a name is left alone
    name = {w.low for w in words}
    for n, sentence in enumerate(sentences):
        said = [w.low for w in _tokenize(sentence) if w.kind != "punct"]
        if (name <= set(said[: len(name) + 2]) or _NAME_PRONOUN_RE.match(sentence)
                or _describes_without_subject(sentence)
                # The first sentence's kind of thing; not one the name only modifies ("integrate Jinja into a Pylons
                # application": what is built with it), nor a later sentence's ("The template engine is ...").
                or n == 0 and any(w in _THING_KINDS and not (k and said[k - 1] in name) for k, w in enumerate(said))):
            return True
    return False


# --- deriving queries -----------------------------------------------------------------------------

_ADMONITION_RE = re.compile(rf"^(?:{_NOTE_LABELS}):[^\n]*(?:\n(?!\n)[^\n]*)*", re.MULTILINE)  # a note's paragraph
_ASKED_RE = re.compile(r"[^.?!？\n]*[?？]")  # a question in running text, to tell an answer's words from it
_INDEX_TITLES = frozenset(["index", "contents", "table of contents", "toc", "site map", "sitemap"])
_MIN_PROSE_WORDS = 8


def _prose_words(text: str) -> int:
    """Words of prose: outside code fences, table rows and the notes that stand for included files."""
    prose = INCLUDED_FILE_NOTE_RE.sub("", without_fenced_code(text))
    lines = [ln for ln in prose.splitlines() if ln.strip() and not ln.lstrip().startswith("|")]
    return len(_WORD_RE.findall(" ".join(lines)))


def _is_index_page(doc: Document) -> bool:
    title = _normal(doc.title)
    if title in _INDEX_TITLES:
        return True
    prose = without_fenced_code(doc.text)
    lines = [ln.strip() for ln in prose.splitlines() if ln.strip()]
    if len(lines) < 5:
        return False
    items = [ln for ln in lines if _LIST_MARKER_RE.match(ln)]
    short_items = [ln for ln in items if len(_WORD_RE.findall(ln)) <= 8 or _MD_LINK_RE.search(ln)]
    other_words = sum(len(_WORD_RE.findall(ln)) for ln in lines if not _LIST_MARKER_RE.match(ln))
    return len(items) >= 5 and len(short_items) >= 0.8 * len(items) and len(items) >= 0.6 * len(lines) and (
        other_words < 40
    )


@dataclass(frozen=True)
class _Section:
    heading: Heading
    body_start: int
    body_end: int  # the next heading of any level
    tree_end: int  # the next heading of the same or a higher level


def _sections(doc: Document) -> list[_Section]:
    headings = sorted(doc.headings, key=lambda h: (h.start, h.end))
    n = len(doc.text)
    sections = []
    if not headings or headings[0].start > 0:
        end = headings[0].start if headings else n
        if doc.text[:end].strip():
            pseudo = Heading(0, 0, 1, doc.title)
            sections.append(_Section(pseudo, 0, end, end if headings else n))
    for i, h in enumerate(headings):
        body_end = headings[i + 1].start if i + 1 < len(headings) else n
        tree_end = next((g.start for g in headings[i + 1:] if g.level <= h.level), n)
        sections.append(_Section(h, max(h.end, h.start), max(body_end, h.end), max(tree_end, h.end)))
    return sections


_ELLIPSES = ("…", "...")


def _continued(heading: str, parent: str | None) -> str:
    """A heading that goes on from the one above it, as attrs' "Why not…" > "… namedtuples?", read whole
    ("Why not namedtuples?"); alone, "… namedtuples?" is no question. Any other heading as it is; one
    that opens with an ellipsis under a heading that does not end with one is read as empty."""
    stripped = heading.strip()
    if not stripped.startswith(_ELLIPSES):
        return heading
    if parent and parent.rstrip().endswith(_ELLIPSES):
        lead = parent.rstrip().removesuffix("…").removesuffix("...").rstrip()
        return f"{lead} {stripped.lstrip('.…').lstrip()}"
    return ""


def _chunk_at(spans: Sequence[tuple[int, int, str]], start: int, end: int) -> str | None:
    for s, e, cid in spans:
        if s <= start < e:
            return cid
    return next((cid for s, e, cid in spans if e > start and s < end), None)


class _Candidate(NamedTuple):
    """A query a document may give, with where it comes in the document (`position`, then `order` of finding)."""

    position: int
    order: int
    capped: bool  # counts toward `max_questions_per_doc`
    query: Query
    page_topic: bool  # asked by the heading that titles its page: the page the question is about


@dataclass
class _Collector:
    """Collects one document's candidate queries."""

    doc: Document
    spans: Sequence[tuple[int, int, str]]
    candidates: list[_Candidate]

    def __call__(self, question: str, origin: str, evidence: tuple[int, int], capped: bool,
                 page_topic: bool = False) -> bool:
        start, end = trim_span(self.doc.text, *evidence)
        if start >= end:
            return False
        chunk_id = _chunk_at(self.spans, start, end)
        if chunk_id is None:
            return False
        query = Query(question, doc_id=self.doc.doc_id, chunk_id=chunk_id, origin=origin, evidence=(start, end))
        self.candidates.append(_Candidate(start, len(self.candidates), capped, query, page_topic))
        return True


_DEICTIC_RE = re.compile(r"\b(?:it|this|that|these|those|they|here|above|below)\b", re.IGNORECASE)


def derive_queries(
    documents: Iterable[Document],
    chunk_spans: Mapping[str, Sequence[tuple[int, int, str]]],
    *,
    questions_per_section: int = 1,
    max_questions_per_doc: int | None = None,
    max_queries: int | None = None,
) -> list[Query]:
    """Questions from the corpus itself: one per section, definition and FAQ entry, deduplicated.

    - A heading that is a question (or a problem statement) always gives a query, never capped.
    - Any other section gives up to `questions_per_section` queries (its heading's question, then
      questions its text asks) when it has prose of its own (8 words or more outside code and tables).
    - A question that stands as a paragraph of its own (an FAQ entry in the body) gives a query whose
      evidence is the text up to the next such question or the end of the section; never capped.
    - Every `Definition` gives "What is X?" with the definition as evidence.
    - Pages that are indexes or tables of contents give none.

    A query's `evidence` is the (start, end) of the text that answers it, its `chunk_id` the chunk that
    holds the start of that text. Queries keep document order; a question already asked (ignoring case
    and spacing) earlier in the corpus is dropped, unless the page it comes from is about it (its title
    asks it: Flask's Signals page after the API reference's "Signals" section), which then takes the
    earlier one's place.

    Args:
        documents: The corpus documents (streamed).
        chunk_spans: doc_id -> (start, end, chunk_id) of its chunks, in document order.
        questions_per_section: Most questions from one section besides question headings and FAQ entries.
        max_questions_per_doc: Most capped questions per document (question headings and FAQ entries are
            not capped); None for no limit.
        max_queries: Stop after this many queries, without reading the rest of the corpus (queries depend
            only on the documents before them, so a page read later does not take a question's place).
    """
    if max_queries is not None and max_queries <= 0:
        return []
    queries: list[Query] = []
    seen: dict[str, tuple[int, bool]] = {}  # question -> (its place in `queries`, asked by its page's title)
    corpus_case = _CaseCounts()  # the pages read so far: a name stays a name on a page that says little
    for doc in documents:
        spans = chunk_spans.get(doc.doc_id)
        if not spans or _is_index_page(doc):
            continue
        unfenced = without_fenced_code(doc.text)  # fences out once: names leave inline code out too (`_prose`), usage not
        page_case = _CaseCounts(_INLINE_CODE_RE.sub(" ", unfenced))
        keep = page_case.names | corpus_case.merge(page_case.capitalised, page_case.lower).names
        lower_words = frozenset(page_case.lower)
        usage = _WordUse(prose=unfenced)
        candidates: list[_Candidate] = []

        add = _Collector(doc, spans, candidates)
        parent_titles: list[tuple[int, str]] = []  # (level, text) of the headings above this section
        for section in _sections(doc):
            heading = section.heading
            body = doc.text[section.body_start:section.body_end]
            own_prose = _prose_words(body) >= _MIN_PROSE_WORDS
            while parent_titles and parent_titles[-1][0] >= heading.level:
                parent_titles.pop()
            heading_text = _continued(heading.marked or heading.text, parent_titles[-1][1] if parent_titles else doc.title)
            parent_titles.append((heading.level, heading.text))
            result = _analyse(heading_text, page_title=doc.title, keep=keep, usage=usage)
            if result.kind not in ("question", "problem"):
                named = _named_thing(heading.text, body)
                # A key or field heading already reads as "What is `license-files`?"; a command heading
                # read as English does not ("How do I debug info?").
                if named and (named[1] in ACTING_KINDS or result.question is None):
                    result = _Result(named[0], "what")
                elif result.question and result.kind in ("what", "use"):
                    # The purpose the section opens with is what it answers; else the heading's question,
                    # whose capitals go where the page writes the word in lower case ("use": its thing's
                    # first word no longer opens the sentence).
                    purpose = purpose_question(heading.text, body, names=keep)
                    result = _Result(purpose, "howto") if purpose else _Result(
                        common_noun_case(result.question, lower_words, keep), "what" if result.kind == "what" else "howto")
            if result.kind == "what" and section.heading.level > 1 and result.question.startswith("What ") and (
                    "`" not in result.question and _unanswered_topic(heading, body, keep)):
                # "Blueprint Resources > Templates" over "If you want the blueprint to expose ...": unless a later
                # paragraph shows the reader doing it ("Cache Directory" ... "You can override the cache directory ...")
                purpose = purpose_question(heading.text, body, paragraphs=3, names=keep)
                result = _Result(purpose, "howto") if purpose else _NONE
            taken = 0
            heading_key = _normal(result.question or "")
            page_topic = _normal(heading.text) == _normal(doc.title)
            if result.question and result.kind in ("question", "problem"):
                # A caution alone ("Where is the cache stored" over "Caution: The exact filesystem structure ... may
                # change") does not answer the question: its subsections do.
                answers = _prose_words(_ADMONITION_RE.sub("", body)) >= _MIN_PROSE_WORDS
                evidence = (section.body_start, section.body_end if answers else section.tree_end)
                add(result.question, "heading", evidence, capped=False, page_topic=page_topic)
            elif result.question and own_prose and questions_per_section > 0:
                taken += add(result.question, "heading", (section.body_start, section.body_end), capped=True,
                             page_topic=page_topic)
            if not own_prose:
                continue
            faq = _question_spans(body)
            standalone = [(q, s, e) for q, s, e, alone in faq if alone]
            for k, (question, _, answer_start) in enumerate(standalone):
                answer_end = standalone[k + 1][1] if k + 1 < len(standalone) else len(body)
                question = _reader_question(question)
                if not question or _normal(question) == heading_key or _DEICTIC_RE.search(question):
                    continue
                if _prose_words(_ASKED_RE.sub(" ", body[answer_start:answer_end])) < _MIN_PROSE_WORDS:
                    # a checklist of questions to the reader ("- What is a package?" / "- What types of packages
                    # are there? e.g. file types"), not an FAQ entry and its answer
                    continue
                evidence = (section.body_start + answer_start, section.body_start + answer_end)
                add(question, "sentence", evidence, capped=False)  # an FAQ entry: its answer follows it
            for question, _, _, alone in faq:
                if alone or taken >= questions_per_section or _normal(question) == heading_key:
                    continue
                if _DEICTIC_RE.search(question):
                    continue  # "How does it work?": the question needs the text around it
                question = _reader_question(question)
                if question and _normal(question) != heading_key:
                    taken += add(question, "sentence", (section.body_start, section.body_end), capped=True)
        for definition in doc.definitions:
            question = _definition_question(definition.term, lower_words, keep)
            if question:
                # From the start of its line: a "term: definition" line is quoted whole ("`--verbose`, `-v`: Print
                # more detail."), not from its second sentence on.
                line_start = doc.text.rfind("\n", 0, definition.start) + 1
                add(question, "definition", (line_start, definition.end), capped=True)

        capped_taken = 0
        for candidate in sorted(candidates, key=lambda c: (c.position, c.order)):
            query, capped = candidate.query, candidate.capped
            key = _normal(query.question)
            if not key:
                continue
            if capped and max_questions_per_doc is not None and capped_taken >= max_questions_per_doc:
                continue
            if key in seen:
                # "What are signals?" from Flask's API page (a "Signals" subsection) gives way to the Signals page's
                # own, asked by its title: the page about it answers it, in the same place in the list.
                at, topic = seen[key]
                if candidate.page_topic and not topic:
                    queries[at], seen[key] = query, (at, True)
                    capped_taken += capped
                continue
            seen[key] = (len(queries), candidate.page_topic)
            queries.append(query)
            capped_taken += capped
            if max_queries is not None and len(queries) >= max_queries:
                return queries
    return queries
