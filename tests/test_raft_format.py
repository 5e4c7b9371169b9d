import pytest

from raft_dataset.raft_format import (
    REFUSAL_ANSWER,
    answer_problem,
    extract_quotes,
    final_answer,
    markup_problem,
    quote_in_source,
    restates_question,
    sentence_shape_problem,
)

ORACLE = "Retries back off exponentially.\nThe default   delay is 5 seconds,\nand the cap is 10 minutes."


def test_valid_answer_with_whitespace_normalised_quote():
    output = "It says ##begin_quote##The default delay is 5 seconds,##end_quote##.\n<ANSWER>: 5 seconds"
    assert extract_quotes(output) == ["The default delay is 5 seconds,"]
    assert final_answer(output) == "5 seconds"
    assert answer_problem(output, ORACLE) is None  # without the question, only the form is checked


def test_each_problem_is_named():
    assert answer_problem("", ORACLE) == "empty_output"
    assert answer_problem("##begin_quote##Retries back off##end_quote##", ORACLE) == "missing_answer_marker"
    assert answer_problem("text <ANSWER>:   ", ORACLE) == "empty_answer"
    assert answer_problem("##begin_quote##Retries <ANSWER>: x", ORACLE) == "unbalanced_quote_markers"
    invented = "##begin_quote##The default delay is 7 seconds##end_quote## <ANSWER>: 7"
    assert answer_problem(invented, ORACLE) == "quote_not_in_oracle"
    assert not quote_in_source("   ", ORACLE)


def _output(answer, quote="The default delay is 5 seconds,"):
    return f"Document 1 says:\n##begin_quote##{quote}##end_quote##\n<ANSWER>: {answer}"


def _problem(question, answer, quote="The default delay is 5 seconds,", oracle=ORACLE, **kwargs):
    return answer_problem(_output(answer, quote), oracle, question=question, **kwargs)


GOOD = [
    ("How long is the default delay?", "The default delay is 5 seconds, and the cap is 10 minutes."),
    ("Can I delete Python?", "No. The operating system depends on the system Python."),
    ("What is the module search path?", "The module search path is the list of directories searched on import."),
    ("Which versions are supported?", "Python 3.8, 3.9, 3.10 and 3.11 are supported."),
    ("How do I start the server?", "Run `tidepool serve --reload` from the project directory."),
    ("What does `**kwargs` collect?", "It collects extra keyword arguments into a `dict`, e.g. `f(**kwargs)`."),
    ("Is Tidepool thread-safe?", "Tidepool is not thread-safe."),
    ("Where do I pick the interpreter?", "Open the settings dialog and go to the interpreter page."),
]


@pytest.mark.parametrize("question, answer", GOOD)
def test_good_answers_pass(question, answer):
    assert _problem(question, answer, title="Guide > Retries") is None


@pytest.mark.parametrize("question, answer, title", [
    ("Can I delete Python?", "Can I delete Python?", None),
    ("Can I delete Python?", "can I delete python", None),
    ("Can I delete Python?", "You can delete Python.", None),
    ("What is the module search path?", "The Module Search Path", None),
    ("What is the module search path?", "The module search path.", None),
    ("How do I configure retries for failed jobs?", "Configure retries for failed jobs.", None),
    ("What should I read next?", "Advanced usage", "Tutorial > Advanced Usage"),
])
def test_answer_restates_question(question, answer, title):
    assert _problem(question, answer, title=title) == "answer_restates_question"


@pytest.mark.parametrize("answer, shape", [
    ("| VGA | 640 x 480 | 60 Hz |", "table_row"),
    ("VGA   640 x 480   60 Hz   text mode", "table_row"),
    ("Resolution (Dots x lines) 720 x 400 70 Hz", "table_row"),
    ("File > Settings > Project > Python Interpreter", "menu_path"),
    ("Tutorial > First Steps.", "menu_path"),
    ("You can install it with:", "lead_in"),
    ("The options are::", "lead_in"),
    ("5 seconds", "too_short"),
    ("Exponential backoff details", "heading"),
])
def test_answer_not_a_sentence(answer, shape):
    assert sentence_shape_problem(answer) == shape
    assert _problem("How long is the default delay?", answer) == "answer_not_a_sentence"


def test_reference_answers_and_refusals_are_exempt_from_the_shape_checks():
    assert _problem("How long is the default delay?", "5 seconds", reference_answer="5 seconds") is None
    assert _problem("Cap?", "Cap?", reference_answer="Cap?") == "answer_restates_question"
    assert answer_problem(f"None of them.\n<ANSWER>: {REFUSAL_ANSWER}", ORACLE, question="Why?") is None
    assert sentence_shape_problem("重试之间等待五秒钟。") is None  # no spaces, yet a sentence


@pytest.mark.parametrize("text, kind", [
    ("Use :func:`url_for` to build URLs.", "rst_role"),
    ("See `the guide <https://x.org>`_ for more.", "rst_link"),
    ("Read `Deploying`__ first.", "rst_link"),
    ("It is :py:meth:`Flask.run`, see :ref:`tutorial`.", "rst_role"),
    ("The {class}`Context` object is how commands communicate.", "myst_role"),
    (".. note::\n   Careful.", "rst_directive"),
    (":param name: The name.", "rst_field"),
    ("Title\n=====", "adornment_line"),
    ('See {{< relref "deps" >}} for more.', "template_tag"),
    ("{% block body %}", "template_tag"),
    ("{* ../docs_src/app.py hl[3] *}", "template_tag"),
    ("Click <a href='x'>here</a>.", "html"),
    ("Fine <!-- TODO --> text.", "html"),
    ("Read [the docs](https://x.org).", "markdown_link"),
    ("This is **very** important.", "emphasis"),
    ("## Installation\nRun it.", "heading_marker"),
    ("!!! note\n    Careful.", "admonition_marker"),
    ("Outside of `block`\x00s in child templates.", "control_character"),  # jinja/docs/tricks.rst via docutils
])
def test_markup_problem_names_the_markup(text, kind):
    assert markup_problem(text) == kind


@pytest.mark.parametrize("text", [
    "Pass `**kwargs` or `__init__` arguments; `{% raw %}` works in templates.",
    "Format it with `{name}` or with `{}`: `str.format` fills {placeholders} `in order`.",
    "Run:\n\n```python\n# a comment, not a heading\nhtml = '<div>**x**</div>'\n```",
    "If a < b and c > d, the value is 3 > 2.",
    "Note: the cap is 10 minutes.",
    "Term: a definition paragraph.",
    "<DOCUMENT>\nTitle: Guide\nText.\n</DOCUMENT>",
    "- item one\n  - nested item\n1. numbered",
    "| a | b |\n| --- | --- |",
    "Words are separated by underscores (`_`), and `import` names are lowercase (`-` becomes `_`).",
])
def test_clean_text_has_no_markup_problem(text):
    assert markup_problem(text) is None


def test_markup_in_output_is_caught_in_question_quote_and_answer():
    oracle = "Call **`retry()`** to retry.\nThe default delay is 5 seconds, and the cap is 10 minutes."
    good = "The default delay is 5 seconds, and the cap is 10 minutes."
    assert _problem("How long is the delay?", good, quote=good, oracle=oracle) is None
    assert _problem("What does :func:`retry` do?", good, quote=good, oracle=oracle) == "markup_in_output"
    assert _problem("How do I retry?", good, quote="Call **`retry()`** to retry.", oracle=oracle) == "markup_in_output"
    assert _problem("How long is the delay?", "See [delays](d.md) for the 5 second default.", quote=good,
                    oracle=oracle) == "markup_in_output"


def test_restates_question_compares_words_not_spelling():
    assert restates_question("THE module-search path", "What is the module search path?")
    assert restates_question("Retries", "Why?", title="Guide > Retries")
    assert not restates_question("The path lists the directories Python searches.", "What is the search path?")
    assert not restates_question("Anything at all.", "What is it?")  # a question of stop words only


def test_an_answer_must_quote_except_the_refusal():
    unquoted = "The delay is five seconds, as the retry section says.\n<ANSWER>: The default delay is 5 seconds."
    assert answer_problem(unquoted, ORACLE) == "no_quote"
    assert answer_problem(unquoted, ORACLE, question="How long is the default delay?") == "no_quote"
    empty_quote = "It says ##begin_quote##  ##end_quote##.\n<ANSWER>: The default delay is 5 seconds."
    assert answer_problem(empty_quote, ORACLE) == "no_quote"
    refusal = f"None of the documents covers this, so I should not guess.\n<ANSWER>: {REFUSAL_ANSWER}"
    assert answer_problem(refusal, ORACLE, question="How long is the default delay?") is None
