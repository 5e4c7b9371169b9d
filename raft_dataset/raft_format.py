"""The RAFT answer format: quotes between markers, a final `<ANSWER>:` line, and what makes one usable.

Shared by the extractive answers, the LLM answers, the validation and the quality report, so that
what one writes the others read and judge the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BEGIN_QUOTE = "##begin_quote##"
END_QUOTE = "##end_quote##"
ANSWER_MARKER = "<ANSWER>:"
REFUSAL_ANSWER = "The provided documents do not contain the answer to this question."

_QUOTE_RE = re.compile(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE), re.DOTALL)
_WHITESPACE_RE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _WHITESPACE_RE.sub(" ", text).strip()


def extract_quotes(output: str) -> list[str]:
    """The quoted spans of an answer, stripped."""
    return [q.strip() for q in _QUOTE_RE.findall(output)]


def final_answer(output: str) -> str | None:
    """The text after the last `<ANSWER>:` marker, or None when the marker is missing."""
    head, marker, tail = output.rpartition(ANSWER_MARKER)
    return tail.strip() if marker else None


def quote_in_source(quote: str, source: str) -> bool:
    """Whether the quote appears verbatim in the source, whitespace differences aside."""
    return bool(quote.strip()) and normalize_whitespace(quote) in normalize_whitespace(source)


# -- words -----------------------------------------------------------------------------------------

STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "if",
     "in", "into", "is", "it", "its", "of", "on", "or", "so", "that", "the", "their", "then", "there", "these",
     "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "my",
     "me", "we", "our", "use", "used", "using", "about", "should", "would", "could"]
)
_TOKEN_RE = re.compile(r"\w+")


def content_terms(text: str) -> set[str]:
    """Content words, crudely stemmed so that 'retries' meets 'retry' and 'installation' meets 'install'."""
    terms = set()
    for word in _TOKEN_RE.findall(text.lower()):
        if word in STOPWORDS or len(word) < 2:
            continue
        for suffix in ("ations", "ation", "ies", "ing", "es", "ed", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
                break
        if len(word) > 4 and word.endswith("e"):
            word = word[:-1]  # 'configure' meets 'configuring', 'install' meets 'installation'
        terms.add(word)
    return terms


def answer_coverage(answer: str, text: str) -> float:
    """The share of the answer's content words (`content_terms`) that the text contains; 1.0 for an
    answer without content words."""
    wanted = content_terms(answer)
    return len(wanted & content_terms(text)) / len(wanted) if wanted else 1.0


def normalized_text(text: str) -> str:
    """Lower-case words only: what two spellings of the same question have in common."""
    return " ".join(_TOKEN_RE.findall(text.lower()))


# -- markup ----------------------------------------------------------------------------------------

_FENCE_LINE_RE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE_RE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)")
_HTML_TAGS = (
    "a|abbr|article|aside|b|blockquote|body|br|button|caption|center|cite|code|col|colgroup|dd|del|details|"
    "div|dl|dt|em|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|"
    "label|li|link|main|mark|meta|nav|ol|p|pre|q|s|samp|script|section|small|source|span|strong|style|sub|"
    "summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video"
)
# reST roles and links are inline code spans with a ":role:" before or a "_" after them.
_ROLE_BEFORE_RE = re.compile(r"(?<![\w`]):[a-zA-Z][\w.+-]*(?::[\w.+-]+)*:$")
_LINK_AFTER_RE = re.compile(r"__?(?![\w`])")
_MYST_ROLE_BEFORE_RE = re.compile(r"(?<![\w`])\{[a-zA-Z][\w.:+-]*\}$")  # MyST's {func}`x`
# Checked on the text without any code, fenced or inline.
_MARKUP_PATTERNS = (
    ("rst_directive", re.compile(r"(?m)^[ \t]*\.\.[ \t]+(?:[\w:.+-]+::|_[^:\n]*:|\|[^|\n]+\|)")),
    ("rst_field", re.compile(r"(?m)^[ \t]*:[a-zA-Z][\w ]*:(?:[ \t]|$)")),
    ("adornment_line", re.compile(r"(?m)^[ \t]*([=\-~^*+#\"'`:._])\1{2,}[ \t]*$")),
    ("template_tag", re.compile(r"\{\{[<%]|\{%|\{\*|%\}\}|>\}\}|%\}")),
    ("html", re.compile(r"<!--|</?(?:" + _HTML_TAGS + r")(?:\s[^<>]*)?/?>", re.IGNORECASE)),
    ("markdown_link", re.compile(r"\]\(|!\[")),
    ("emphasis", re.compile(r"\*\*[^*\s](?:[^*\n]*[^*\s])?\*\*")),
    ("heading_marker", re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+\S")),
    ("admonition_marker", re.compile(r"(?m)^[ \t]*(?:!!!|\?\?\?\+?|/{3,})[ \t]*[\w-]")),
)


def without_fenced_code(text: str) -> str:
    """The text with the lines of ``` / ~~~ fenced blocks (fences included) left out."""
    kept, in_fence = [], False
    for line in text.splitlines():
        if _FENCE_LINE_RE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            kept.append(line)
    return "\n".join(kept)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def markup_problem(text: str) -> str | None:
    """The kind of source markup left in a text, or None when it reads as clean text.

    Fenced and inline code are exempt: `**kwargs` or a `# comment` inside them is content. Kinds:
    "rst_role" (:func:`x`), "myst_role" ({func}`x`), "rst_link" (`text`_), "rst_directive" (.. note::), "rst_field" (:param x:),
    "adornment_line" (=====), "template_tag" ({{< >}}, {% %}, {* *}), "html" (tags, comments),
    "markdown_link" ([text](url), ![alt]), "emphasis" (**bold**), "heading_marker" (# at a line
    start), "admonition_marker" (!!!, ???, ///), and "control_character" (a NUL or another C0 control
    anywhere, code included: a parser's escape marker that leaked).
    """
    if _CONTROL_RE.search(text):
        return "control_character"
    prose = without_fenced_code(text)
    for span in _INLINE_CODE_RE.finditer(prose):
        if _ROLE_BEFORE_RE.search(prose[max(0, span.start() - 60) : span.start()]):
            return "rst_role"
        if _MYST_ROLE_BEFORE_RE.search(prose[max(0, span.start() - 60) : span.start()]):
            return "myst_role"
        if _LINK_AFTER_RE.match(prose, span.end()):
            return "rst_link"
    prose = _INLINE_CODE_RE.sub("`code`", prose)
    for name, pattern in _MARKUP_PATTERNS:
        if pattern.search(prose):
            return name
    return None


# -- the shape of a final answer -------------------------------------------------------------------

_FINAL_PUNCT_RE = re.compile(r"[.!?。！？…](?:[\"'”’)\]`*_]*)$")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_MENU_SEPARATOR_RE = re.compile(r"\s+(?:>|->|→|»|›)\s+")
_NUMBER_RE = re.compile(r"^[(\[]?[-+]?\d[\d.,:/x×%]*[)\],;]?$")
_SPACE_RUN_RE = re.compile(r"\S(?: {2,}|\t+)(?=\S)")
# Words that make a clause of a phrase: auxiliaries, modals, subject pronouns and the third-person
# verbs documentation is written in.
_VERBISH = frozenset(
    ["is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did", "can", "could", "will", "would", "shall", "should", "may", "might", "must", "need", "needs", "you", "it", "they", "we", "he", "she", "there", "returns", "uses", "creates", "runs", "allows", "lets", "makes", "takes", "gives", "provides", "supports", "contains", "means", "works", "sets", "adds", "calls", "gets", "becomes", "requires", "includes", "stores", "reads", "writes", "sends", "handles", "defines", "declares", "accepts", "expects", "raises", "starts", "stops", "shows", "helps", "keeps", "tells", "checks", "loads", "installs", "builds", "generates", "depends", "applies", "refers", "comes", "goes", "happens", "exists", "belongs", "describes", "explains", "lists", "follows", "lives", "looks", "stays", "remains"]
)


def has_final_punctuation(text: str) -> bool:
    return bool(_FINAL_PUNCT_RE.search(text.rstrip()))


def has_verb(text: str) -> bool:
    """Whether a word of the text marks a clause (crude: auxiliaries, pronouns, common verbs)."""
    return any(word in _VERBISH for word in _TOKEN_RE.findall(text.lower()))


def _too_short(text: str) -> bool:
    words = text.split()
    if len(words) >= 3:
        return False
    return not (_CJK_RE.search(text) and len(text.strip()) >= 6)  # scripts written without spaces


def _table_like(text: str) -> bool:
    """A table row or a flattened table dump: cells between pipes, columns of spaces, mostly numbers."""
    prose = _INLINE_CODE_RE.sub("`code`", text)
    if prose.lstrip().startswith("|") or prose.count(" | ") >= 2 or len(_SPACE_RUN_RE.findall(prose)) >= 3:
        return True
    tokens = prose.split()
    numbers = sum(1 for token in tokens if _NUMBER_RE.match(token))
    if not tokens:
        return False
    ratio = numbers / len(tokens)
    return (numbers >= 3 and ratio >= 0.3 and not has_final_punctuation(prose)) or (len(tokens) >= 3 and ratio >= 0.6)


def _menu_path(text: str) -> bool:
    """'File > Settings > Project' (or a breadcrumb): short parts joined by arrows, no clause."""
    parts = _MENU_SEPARATOR_RE.split(text.strip().rstrip("."))
    return len(parts) >= 2 and all(0 < len(p.split()) <= 4 and not has_verb(p) for p in parts)


def sentence_shape_problem(text: str) -> str | None:
    """Why a text is not a statement, or None: "lead_in" (ends in ':'), "table_row", "menu_path",
    "too_short" (under three words) or "heading" (a short phrase with no verb or final punctuation)."""
    stripped = text.strip()
    if stripped.endswith((":", "：")):
        return "lead_in"
    if _table_like(stripped):
        return "table_row"
    if _menu_path(stripped):
        return "menu_path"
    if _too_short(stripped):
        return "too_short"
    if not has_final_punctuation(stripped) and len(stripped.split()) < 6 and not has_verb(stripped):
        return "heading"
    return None


def restates_question(answer: str, question: str, title: str | None = None) -> bool:
    """Whether an answer says nothing the question (or the title) does not already say.

    True when it is the question or one of the title's " > " parts (lower-case words compared), or
    when its content words are all the question's and cover at least 80% of them.
    """
    said = normalized_text(answer)
    if not said:
        return False
    if said == normalized_text(question):
        return True
    if title and any(said == normalized_text(part) for part in title.split(" > ")):
        return True
    asked, answered = content_terms(question), content_terms(answer)
    return bool(asked and answered) and not answered - asked and len(answered & asked) >= 0.8 * len(asked)


def answer_defects(
    question: str, answer: str, *, title: str | None = None, reference_answer: str | None = None
) -> list[str]:
    """What is wrong with a final answer as an answer: "answer_restates_question" (it is the
    question, a heading or the title, or adds nothing to the question's words) and/or
    "answer_not_a_sentence" (a table row, a menu path, a bare heading, a lead-in ending in ':', or
    under three words). The user's reference answer is only held to not being the question itself;
    the refusal is not held to either."""
    if answer == REFUSAL_ANSWER:
        return []
    if reference_answer and normalize_whitespace(answer) == normalize_whitespace(reference_answer):
        return ["answer_restates_question"] if normalized_text(answer) == normalized_text(question) else []
    defects = []
    if restates_question(answer, question, title):
        defects.append("answer_restates_question")
    if sentence_shape_problem(answer):
        defects.append("answer_not_a_sentence")
    return defects


def content_problem(
    question: str,
    quotes: Sequence[str],
    answer: str,
    *,
    title: str | None = None,
    reference_answer: str | None = None,
) -> str | None:
    """Why a well-formed answer still teaches nothing, or None: "markup_in_output" (markup in the
    question, a quote or the final answer), else the first of `answer_defects`."""
    if any(markup_problem(text) for text in (question, *quotes, answer)):
        return "markup_in_output"
    defects = answer_defects(question, answer, title=title, reference_answer=reference_answer)
    return defects[0] if defects else None


def answer_problem(
    output: str,
    oracle_text: str,
    *,
    question: str | None = None,
    title: str | None = None,
    reference_answer: str | None = None,
) -> str | None:
    """Why an answer is not in valid RAFT form, or None when it is.

    Reasons are stable identifiers used in rejection counts: "empty_output", "missing_answer_marker",
    "empty_answer", "unbalanced_quote_markers", "no_quote" (nothing quoted: the answer is not grounded;
    the `REFUSAL_ANSWER` alone needs no quote), "quote_not_in_oracle"; with the `question` given,
    also the `content_problem` reasons ("markup_in_output", "answer_restates_question",
    "answer_not_a_sentence"), `title` being the oracle's title and `reference_answer` the user's.
    """
    if not output or not output.strip():
        return "empty_output"
    answer = final_answer(output)
    if answer is None:
        return "missing_answer_marker"
    if not answer:
        return "empty_answer"
    if output.count(BEGIN_QUOTE) != output.count(END_QUOTE):
        return "unbalanced_quote_markers"
    quotes = extract_quotes(output)
    if not any(quotes) and answer != REFUSAL_ANSWER:
        return "no_quote"
    if any(not quote_in_source(q, oracle_text) for q in quotes):
        return "quote_not_in_oracle"
    if question is None:
        return None
    return content_problem(question, quotes, answer, title=title, reference_answer=reference_answer)
