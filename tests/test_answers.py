import re
import zlib

import numpy as np
import pytest

from raft_dataset.answers import (
    AnswerRequest,
    ExtractiveAnswerGenerator,
    candidate_sentences,
    gives_a_way,
    plain_answer,
    question_form,
    reasoning,
    select_quotes,
)
from raft_dataset.raft_format import answer_problem, extract_quotes, final_answer
from raft_dataset.records import Chunk

ORACLE_TEXT = """When a job fails, Tidepool retries it with exponential backoff. The first retry waits 5 seconds and each later one doubles the delay, up to a cap of 10 minutes.

The retry count is set per job in `tidepool.toml`:

```toml
retries = 3
```

Set `retries = 0` to disable retrying for a job.
"""


def _chunk(chunk_id, text, title="Guide > Retries"):
    return Chunk(chunk_id, chunk_id.split("#")[0], title, text, 0, len(text), 10)


ORACLE = _chunk("guide/retries.md#0", ORACLE_TEXT)
OTHER = _chunk("faq.md#3", "Logs are written to /var/log/tidepool by default.", "FAQ > Logs")
GENERATOR = ExtractiveAnswerGenerator()


def _answer(question, oracle, context, generator=GENERATOR, **kwargs):
    (answer,) = generator.generate([AnswerRequest(question, oracle, context, **kwargs)])
    assert answer.output is not None, answer.rejected
    # Everything the generator writes passes the validation it will meet.
    assert answer_problem(answer.output, oracle.text, question=question, title=oracle.title,
                          reference_answer=kwargs.get("reference_answer")) is None
    return answer.output


def test_sentences_are_exact_substrings_without_code_or_headings():
    sentences = [ORACLE_TEXT[a:b] for a, b in candidate_sentences(ORACLE_TEXT)]
    assert sentences[0] == "When a job fails, Tidepool retries it with exponential backoff."
    # The lead-in takes its code block along; the code is never a sentence of its own.
    assert sentences[2] == "The retry count is set per job in `tidepool.toml`:\n\n```toml\nretries = 3\n```"
    assert len(sentences) == 4 and not any(s.startswith(("retries", "```")) for s in sentences)


def test_faq_answer_quotes_the_body_not_the_question():
    faq = _chunk("faq.md#0", (
        "Can I delete the system Python?\n\n"
        "No. The operating system depends on the system Python, and removing it breaks package managers and "
        "desktop tools. Install another Python with pyenv instead.\n\n"
        "Where does Tidepool keep its state?\n\n"
        "In the state directory, `/var/lib/tidepool` by default."
    ), "FAQ")
    assert _answer("Can I delete the system Python?", faq, [OTHER, faq]) == (
        'Document 2 is the relevant one here: it is titled "FAQ" and answers "Can I delete the system Python?". '
        "The key passage is:\n"
        "##begin_quote##No. The operating system depends on the system Python, and removing it breaks package "
        "managers and desktop tools.##end_quote##\n"
        "That answers it.\n"
        "<ANSWER>: No. The operating system depends on the system Python, and removing it breaks package "
        "managers and desktop tools."
    )
    assert final_answer(_answer("Where does Tidepool keep its state?", faq, [OTHER, faq])) == (
        "In the state directory, `/var/lib/tidepool` by default."
    )


WORKERS = """Workers and schedulers are configured in `tidepool.toml`, workers under `[workers]`.

Each worker runs one job at a time and reports the result to the scheduler. It restarts itself after 1000 jobs.

Schedulers hand out jobs in order of priority."""


def test_evidence_span_is_quoted_first():
    section = _chunk("guide/architecture.md#1", WORKERS, "Guide > Architecture > Workers")
    evidence = (WORKERS.index("Each worker"), WORKERS.index("Schedulers hand"))
    assert _answer("What are workers?", section, [OTHER, section], evidence=evidence) == (
        'Looking through the documents, document 2 ("Guide > Architecture > Workers") answers the question '
        '"What are workers?":\n'
        "##begin_quote##Each worker runs one job at a time and reports the result to the scheduler. "
        "It restarts itself after 1000 jobs.##end_quote##\n"
        "This gives the answer.\n"
        "<ANSWER>: Each worker runs one job at a time and reports the result to the scheduler. "
        "It restarts itself after 1000 jobs."  # the sentence carrying it on comes along
    )
    # Without the span, the sentence that starts with the question's subject wins.
    assert final_answer(_answer("What are workers?", section, [OTHER, section])) == (
        "Workers and schedulers are configured in `tidepool.toml`, workers under `[workers]`."
    )
    # Evidence with nothing quotable in it: only a sentence on the topic will do.
    assert select_quotes("What are workers?", WORKERS, evidence=(0, 5)).best.startswith("Workers and schedulers")
    assert select_quotes("What is a scheduler queue?", "Nothing here.\n\nPlants need light to grow well.",
                         evidence=(0, 13)) is None


def test_lead_in_takes_its_list_and_the_answer_flattens_it():
    text = (
        "Tidepool needs Python 3.10 or newer.\n\nTidepool can be installed in three ways:\n\n"
        "- with `pipx install tidepool`, the recommended way\n- with the official installer script\n"
        "- with `pip`, inside a virtual environment\n\nWhichever you pick, run `tidepool --version` afterwards."
    )
    oracle = _chunk("install.md#0", text, "Introduction > Installation")
    assert _answer("How do I install Tidepool?", oracle, [oracle, OTHER]) == (
        "The question is: How do I install Tidepool?\n"
        'Document 1, "Introduction > Installation", is the one that covers this. It says:\n'
        "##begin_quote##Tidepool can be installed in three ways:\n\n"
        "- with `pipx install tidepool`, the recommended way\n- with the official installer script\n"
        "- with `pip`, inside a virtual environment##end_quote##\n"
        "This is what to do. The list after it gives the details.\n"
        "<ANSWER>: Tidepool can be installed in three ways: with `pipx install tidepool`, the recommended way; "
        "with the official installer script; with `pip`, inside a virtual environment."
    )


SERVER = """The development server reloads on code changes.

To start it, run:

```
tidepool serve --reload
```

To start it with a config file other than `tidepool.toml`, pass it like this:

```
tidepool serve \\
  --config /etc/tidepool/production.toml \\
  --workers 8
```
"""


def test_lead_in_with_code_short_inline_long_described():
    oracle = _chunk("serve.md#0", SERVER, "Guide > Development Server")
    assert _answer("How do I run the development server?", oracle, [OTHER, oracle]) == (
        'Looking through the documents, document 2 ("Guide > Development Server") answers the question '
        '"How do I run the development server?":\n'
        "##begin_quote##The development server reloads on code changes.##end_quote##\n"
        "##begin_quote##To start it, run:\n\n```\ntidepool serve --reload\n```##end_quote##\n"
        "That is how the documentation says to do it. The code shows it.\n"
        "<ANSWER>: The development server reloads on code changes. To start it, run `tidepool serve --reload`."
    )
    long_code = _answer("How do I pass a config file to the development server?", oracle, [OTHER, oracle])
    assert extract_quotes(long_code) == [
        "To start it with a config file other than `tidepool.toml`, pass it like this:\n\n```\ntidepool serve \\\n"
        "  --config /etc/tidepool/production.toml \\\n  --workers 8\n```"
    ]
    assert final_answer(long_code) == (
        "To start it with a config file other than `tidepool.toml`, pass it as shown in the code quoted above."
    )
    # A shell prompt is not part of the command; a purpose clause alone gets its main clause.
    prompt = select_quotes("How do I install Flask?", "Use this command to install Flask:\n\n```\n$ pip install Flask\n```")
    assert prompt.answer == "Use this command to install Flask: `pip install Flask`."
    # A few shell commands are the answer itself (flask_docs/installation.rst: "How do I create an
    # environment?" answered "Create a project folder and a `.venv` folder within." without them).
    purpose = "To create a project in an existing directory:\n\n```\ncd existing-project\npoetry init\n```"
    assert select_quotes("How do I create a project?", purpose).answer == (
        "To create a project in an existing directory: `cd existing-project`, then `poetry init`."
    )
    venv = ("Create a project folder and a `.venv` folder within:\n\n```text\n$ mkdir myproject\n$ cd myproject\n"
            "$ python3 -m venv .venv\n```\n")
    assert select_quotes("How do I create an environment?", venv).answer == (
        "Create a project folder and a `.venv` folder within: `mkdir myproject`, then `cd myproject`, then "
        "`python3 -m venv .venv`."
    )
    # The same with the platforms as tabs (flask_docs/installation.rst): the first tab's commands, named.
    tabs = venv.replace("within:\n\n", "within:\n\nmacOS/Linux:\n\n") + (
        "\nWindows:\n\n```text\n> mkdir myproject\n> cd myproject\n> py -3 -m venv .venv\n```\n")
    choice = select_quotes("How do I create an environment?", tabs)
    assert choice.answer == ("Create a project folder and a `.venv` folder within (macOS/Linux): `mkdir myproject`, "
                             "then `cd myproject`, then `python3 -m venv .venv`.")
    assert choice.quotes == [tabs[: tabs.index("```\n\nWindows") + 3]]
    # A lead-in ending on a bare "like:" (fastapi_docs) points at its block as "like this:" does.
    like = 'You will get an "Inactive user" error, like:\n\n```JSON\n{\n  "detail": "Inactive user"\n}\n```\n'
    assert select_quotes("What error does an inactive user get?", like).answer == (
        'You will get an "Inactive user" error as shown in the code quoted above.')
    # Code that is not a few commands is still described, not inlined.
    view = 'Define the view like this:\n\n```python\n@app.route("/")\ndef index():\n    return "hi"\n```\n'
    assert select_quotes("How do I define the view?", view).answer == "Define the view as shown in the code quoted above."


def test_table_only_chunks_have_nothing_to_quote():
    table = "| Mode | Resolution | Refresh |\n| --- | --- | --- |\n| VGA | 640 x 480 | 60 Hz |\n| Text | 720 x 400 | 70 Hz |"
    dump = "Resolution (Dots x lines) 720 x 400 70 Hz\nResolution (Dots x lines) 640 x 480 60 Hz"
    for text in (table, dump):
        oracle = _chunk("specs.md#0", text, "Specs > Display Modes")
        (answer,) = GENERATOR.generate([AnswerRequest("What display modes are supported?", oracle, [oracle])])
        assert answer.output is None and answer.rejected == "no_quotable_sentence"
    assert select_quotes("Anything?", "```\ncode only\n```\n") is None


def test_menu_paths_and_headings_are_never_quoted():
    text = (
        "File > Settings > Project > Python Interpreter\n\nTidepool uses the interpreter chosen for the project. "
        "Pick it in the settings dialog of the IDE, under the project's interpreter page."
    )
    oracle = _chunk("ide.md#0", text, "IDE > Interpreter")
    assert extract_quotes(_answer("Where do I choose the interpreter?", oracle, [oracle, OTHER])) == [
        "Tidepool uses the interpreter chosen for the project. Pick it in the settings dialog of the IDE, "
        "under the project's interpreter page."
    ]
    # Plain text (text files, PDFs): a heading line running straight into its paragraph is cut off.
    plain = _chunk("notes.txt#0", "Retries\nWhen a job fails, Tidepool retries it up to three times. "
                   "The delay doubles after each attempt.", "notes")
    assert _answer("How often does a job retry?", plain, [plain]) == (
        'Document 1 is the relevant one here: it is titled "notes" and answers "How often does a job retry?". '
        "The key passage is:\n"
        "##begin_quote##When a job fails, Tidepool retries it up to three times. The delay doubles after each "
        "attempt.##end_quote##\n"
        "That answers it.\n"
        "<ANSWER>: When a job fails, Tidepool retries it up to three times."
    )
    # A heading run into the first sentence of a record whose title names it (JSON lines, no newlines).
    record = _chunk("records.jsonl#4", "Module search path The interpreter looks for modules in the directories "
                    "listed in `sys.path`.", "Modules > Module search path")
    assert select_quotes("Where does Python look for modules?", record.text, title=record.title).quotes == [
        "The interpreter looks for modules in the directories listed in `sys.path`."
    ]


def test_markup_and_questions_are_not_quoted():
    text = (
        "Use **`retries`** to set the count, see [the guide](guide.md).\n\n"
        "How many times does a job retry?\n\n"
        "A failed job is retried three times unless `retries` says otherwise."
    )
    choice = select_quotes("How many times does a job retry?", text)
    assert choice.quotes == ["A failed job is retried three times unless `retries` says otherwise."]
    assert plain_answer("- Use **bold** and [a link](x.md) with `**kwargs`") == "Use bold and a link with `**kwargs`"
    assert plain_answer("Note: the cap is 10 minutes.") == "The cap is 10 minutes."


def test_reference_answer_wins():
    with_reference = select_quotes("How do I turn retries off?", ORACLE_TEXT, reference_answer="retries = 0")
    assert with_reference.quotes == ["Set `retries = 0` to disable retrying for a job."]
    output = _answer("What is the cap?", ORACLE, [ORACLE], reference_answer="10 minutes")
    assert final_answer(output) == "10 minutes"  # short, but the user's: kept as it is
    assert extract_quotes(output) == [
        "The first retry waits 5 seconds and each later one doubles the delay, up to a cap of 10 minutes."
    ]


def test_reasoning_phrasing_varies_across_questions_but_not_for_one():
    questions = ["How long does the first retry wait?", "What is the retry cap?", "Why does Tidepool back off?",
                 "Where is the retry count set?", "Can I disable retrying?", "What happens when a job fails?",
                 "Which file sets the retry count?", "When does a job retry?", "Does the delay double?"]
    openings = set()
    for question in questions:
        output = _answer(question, ORACLE, [OTHER, ORACLE])
        assert output == _answer(question, ORACLE, [OTHER, ORACLE])  # stable for one question
        assert "document 2" in output.lower() and '"Guide > Retries"' in output
        assert "Putting this together" not in output
        openings.add(output.split(":")[0][:20])
    assert len(openings) >= 4
    forms = ("How do I install it?", "How does the resolver work?", "How long is it?", "Why?", "Can I?", "Which?")
    assert [question_form(q) for q in forms] == ["how", "how_it_works", "how_much", "why", "yes_no", "other"]
    assert reasoning("Why?", "T", 0, ["q"]) == reasoning("Why?", "T", 0, ["q"])
    assert reasoning("Why?", "T", 0, ["q"]) != reasoning("Why not?", "T", 0, ["q"])


def _fake_embed(texts):
    """Bag of words hashed into 256 dimensions, with "switch" and "off" meaning "disable"."""
    synonyms = {"switch": "disable", "off": "disable"}
    vectors = np.zeros((len(texts), 256), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            vectors[row, zlib.crc32(synonyms.get(word, word).encode()) % 256] += 1
    return vectors


def test_semantic_selection_with_an_encoder():
    question = "What setting will switch off retrying?"
    (answer,) = ExtractiveAnswerGenerator(embed=_fake_embed).generate([AnswerRequest(question, ORACLE, [ORACLE])])
    # Word overlap alone cannot tell the sentences apart; the encoder's similarity can.
    assert extract_quotes(answer.output) == ["Set `retries = 0` to disable retrying for a job."]
    assert final_answer(answer.output) == "Set `retries = 0` to disable retrying for a job."
    (lexical,) = GENERATOR.generate([AnswerRequest(question, ORACLE, [ORACLE])])
    assert extract_quotes(lexical.output) != extract_quotes(answer.output)
    # "How do I ...?" needs no encoder for it: "Set ..." tells a way, in other words than the question's.
    (how,) = GENERATOR.generate([AnswerRequest("How do I switch off retrying?", ORACLE, [ORACLE])])
    assert extract_quotes(how.output) == ["Set `retries = 0` to disable retrying for a job."]


def test_absent_oracle_keep_or_refuse():
    request = AnswerRequest("How long does the first retry wait?", ORACLE, [OTHER])
    kept = ExtractiveAnswerGenerator("keep").answer(request)
    assert kept.output == (
        "The question is: How long does the first retry wait?\n"
        'None of the documents shown covers this, but the documentation on "Guide > Retries" says:\n'
        "##begin_quote##The first retry waits 5 seconds and each later one doubles the delay, up to a cap of 10 "
        "minutes.##end_quote##\n"
        "This gives the figure the question asks for.\n"
        "<ANSWER>: The first retry waits 5 seconds and each later one doubles the delay, up to a cap of 10 minutes."
    )
    questions = ("What is the retry cap?", "Why does Tidepool back off?", "Can I disable retrying?",
                 "When does a job retry?", "Does the delay double?", "What happens when a job fails?")
    kept = [ExtractiveAnswerGenerator("keep").answer(AnswerRequest(q, ORACLE, [OTHER])).output for q in questions]
    leads = {output.split("##begin_quote##")[0].replace(q, "<q>") for output, q in zip(kept, questions)}
    assert len(leads) >= 3  # several phrasings of "not in the documents shown, but the documentation says"
    assert all('the documentation on "Guide > Retries"' in lead for lead in leads)
    refused = ExtractiveAnswerGenerator("refuse").answer(request)
    assert not extract_quotes(refused.output)
    assert final_answer(refused.output) == "The provided documents do not contain the answer to this question."


def test_quotes_in_other_languages():
    german = "Über die Wartezeit entscheidet die Datei tidepool.toml. Die erste Wiederholung wartet 5 Sekunden.\n"
    chinese = "任务失败时会自动重试三次。每次重试之间等待五秒钟。日志保存在状态目录中。\n"
    for text, question in ((german, "Wie lange wartet die erste Wiederholung?"), (chinese, "重试之间等待多久？")):
        oracle = _chunk("x.md#0", text, "Wiederholungen")
        _answer(question, oracle, [oracle])
    assert [german[a:b] for a, b in candidate_sentences(german)][0].startswith("Über die Wartezeit")
    assert len(candidate_sentences(chinese)) == 3


def test_an_example_after_e_g_stays_in_its_sentence():
    """Poetry's "separated with a comma, e.g. `>= 1.2, < 1.5`." was cut after "e.g." into a final answer
    that ended mid-sentence."""
    text = ("Multiple version requirements can also be separated with a comma, e.g. `>= 1.2, < 1.5`. "
            "Exact versions pin one release, i.e. No range is allowed then. Ranges compare as usual, cf. PEP 440. "
            "HTTPX uses a bundle of SSL certificates (a.k.a. CA bundle) to verify hosts.")  # httpx/docs/advanced/ssl.md
    assert [text[s:e] for s, e in candidate_sentences(text)] == [
        "Multiple version requirements can also be separated with a comma, e.g. `>= 1.2, < 1.5`.",
        "Exact versions pin one release, i.e. No range is allowed then.",
        "Ranges compare as usual, cf. PEP 440.",
        "HTTPX uses a bundle of SSL certificates (a.k.a. CA bundle) to verify hosts.",
    ]


# -- the sentence that answers: real sections of the example corpus and of /work/shared/corpora --------

def _section(heading: str, body: str) -> tuple[str, tuple[int, int]]:
    """A chunk text of a heading line and its section, with the section's body as the evidence span
    (what an offline question made from the heading carries)."""
    text = f"{heading}\n\n{body}"
    return text, (len(heading) + 2, len(text))


@pytest.fixture(scope="module")
def minilm_generator() -> ExtractiveAnswerGenerator:
    """The generator a build uses: quotes ranked by the default encoder's similarity to the question."""
    from raft_dataset.encoding import Encoder

    return ExtractiveAnswerGenerator(embed=Encoder().encode)


@pytest.fixture(scope="module")
def gated_generator(minilm_generator) -> ExtractiveAnswerGenerator:
    """The build's generator with the weak-answer gate of examples/raft.yaml (min_answer_similarity 0.3)."""
    return ExtractiveAnswerGenerator(embed=minilm_generator.embed, min_similarity=0.3)


@pytest.mark.slow
def test_what_is_x_quotes_the_sections_defining_lead_not_a_later_detail(minilm_generator):
    """examples/corpus/guide/scheduling.md: "The words `weekdays` ... are shortcuts." is the sentence
    most similar to "What are weekday lists?", but the section's first sentence says what they are."""
    text, evidence = _section("Weekday lists", (
        "The `on` form restricts fixed times to certain days of the week:\n\n```toml\n"
        'schedule = "on weekdays at 09:00"\nschedule = "on mon,wed,fri at 18:00"\nschedule = "on weekends at 10:30"\n'
        "```\n\nDay names are the three-letter English abbreviations `mon` to `sun`. The\nwords `weekdays` (Monday "
        "to Friday) and `weekends` (Saturday and Sunday) are\nshortcuts. Day ranges such as `mon-thu` are accepted "
        "since version 2.1.\n"
    ))
    oracle = _chunk("guide/scheduling.md#3", text, "Scheduling syntax > Weekday lists")
    output = _answer("What are weekday lists?", oracle, [OTHER, oracle], minilm_generator, evidence=evidence)
    assert extract_quotes(output)[0].startswith("The `on` form restricts fixed times to certain days of the week:")
    assert final_answer(output) == "The `on` form restricts fixed times to certain days of the week."


def test_what_is_x_passes_over_a_note_for_the_definition():
    """poetry_docs/pyproject.md, "license-files": the note repeats the field's name, the lead defines it."""
    text, evidence = _section("license-files", (
        "A list of glob patterns that match the license files of the package\nrelative to the root of the "
        'project source tree.\n\n```toml\n[project]\n# ...\nlicense-files = [\n    "*-LICENSE",\n    "CONTRIBUTORS",\n'
        '    "MY-SPECIAL-LICENSE-DIR/**/*"\n]\n```\n\nBy default, Poetry will include the following files:\n'
        "- `LICENSE*`\n- `LICENCE*`\n- `COPYING*`\n- `AUTHORS*`\n- `NOTICE*`\n- `LICENSES/**/*`\n\n"
        "Note: The default applies only if the `license-files` field is not specified.\n"
        "Specifying an empty list results in no license files being included.\n"
    ))
    choice = select_quotes("What is `license-files`?", text, title="The pyproject.toml file > license-files",
                           evidence=evidence)
    assert choice.quotes == [
        "A list of glob patterns that match the license files of the package relative to the root of the project "
        "source tree."
    ]
    # poetry_docs/dependency-specification.md: a section that opens with a note is answered by the
    # sentence after it.
    text, evidence = _section("`source` dependencies", (
        "Note: It is not possible to define source dependencies in the `project` section.\n\n"
        "To depend on a package from an alternate repository,\nyou can use the `source` property:\n\n```toml\n"
        '[[tool.poetry.source]]\nname = "foo"\nurl = "https://foo.bar/simple/"\npriority = "supplemental"\n\n'
        '[tool.poetry.dependencies]\nmy-cool-package = { version = "*", source = "foo" }\n```\n'
    ))
    choice = select_quotes("What are `source` dependencies?", text, title="Dependency specification",
                           evidence=evidence)
    assert choice.best.startswith("To depend on a package from an alternate repository")


def test_can_i_quotes_the_sentence_that_does_what_is_asked_not_the_background():
    """poetry_docs/faq.md: "Can I disable it?" is answered by "you can disable this feature by ...";
    the "While Poetry automatically creates ..." background shares more words with the question."""
    heading = "I don't want Poetry to manage my virtual environments. Can I disable it?"
    text, evidence = _section(heading, (
        "While Poetry automatically creates virtual environments to always work isolated\nfrom the global Python "
        "installation, there are rare scenarios where the use of a Poetry managed\nvirtual environment is not "
        "possible or preferred.\n\nIn this case, you can disable this feature by setting the `virtualenvs.create` "
        "setting to `false`:\n\n```bash\npoetry config virtualenvs.create false\n```\n\n"
        "Warning: The recommended best practice, including when installing an application within a container, is "
        "to make\nuse of a virtual environment. This can also be managed by another tool.\n"
    ))
    oracle = _chunk("faq.md#4", text, "FAQ")
    choice = select_quotes(heading, text, title="FAQ", evidence=evidence)
    assert choice.best.startswith("In this case, you can disable this feature")
    # "In this case" leans on the sentence before: both are quoted, and the answer carries the command.
    assert len(choice.quotes) == 2 and choice.quotes[0].startswith("While Poetry")
    assert choice.answer.endswith("setting to `false`: `poetry config virtualenvs.create false`.")
    assert "`poetry config virtualenvs.create false`" in final_answer(_answer(heading, oracle, [oracle], evidence=evidence))
    assert question_form(heading) == "yes_no"  # the question is its last sentence: "Can I ...?"


def test_inner_heading_lines_and_version_notes_are_never_quoted():
    """A chunk packing several sections shows their headings as lines of their own (chunking.py); a
    long FAQ heading without a question mark (poetry_docs/faq.md) is such a line, not an answer.
    A bare "Added in version 0.9." (flask_docs/patterns/flashing.rst) says nothing alone."""
    heading = ("Poetry busts my Docker cache because it requires me to COPY my source files in before installing "
               "3rd party dependencies")
    packed = (
        "Is tox supported?\n\nYes. Poetry is compatible with tox.\n\n"
        f"{heading}\n\n"
        'By default, running `poetry install ...` requires you to have your source files present (both the "root" '
        "package and any directory path dependencies you might have).\nThis interacts poorly with Docker's caching "
        "mechanisms because any change to a source file will make any layers (subsequent commands in your "
        "Dockerfile) re-run.\n"
    )
    choice = select_quotes("Why does Poetry bust the Docker cache when I copy my source files?", packed, title="FAQ")
    assert all(heading not in quote for quote in choice.quotes)
    assert choice.best.startswith("This interacts poorly with Docker's caching mechanisms")
    assert all(not packed[a:b].startswith("Poetry busts") for a, b in candidate_sentences(packed))
    # Short headings ("Config Directory") before a list are not sentences either; a line that reads as
    # a lead-in whose colon is missing (poetry_docs/configuration.md) still is.
    config = (
        "Config Directory\n\n- Linux: `$XDG_CONFIG_HOME/pypoetry` or `~/.config/pypoetry`\n"
        "- Windows: `%APPDATA%\\pypoetry`\n\n"
        "You can override the config directory by setting the `POETRY_CONFIG_DIR` environment variable.\n\n"
        "Displaying a single configuration setting\n\n"
        "If you want to see the value of a specific setting, you can\ngive its name to the `config` command\n\n"
        "```bash\npoetry config virtualenvs.path\n```\n"
    )
    sentences = [config[a:b] for a, b in candidate_sentences(config)]
    assert not any(s.startswith(("Config Directory", "Displaying")) for s in sentences)
    assert any(s.startswith("If you want to see the value") for s in sentences)
    section = (config.index("If you want"), len(config))
    assert select_quotes("How do I display a single configuration setting?", config, evidence=section).best.startswith(
        "If you want to see the value of a specific setting")
    flashing = (
        "Added in version 0.9.\n\nOptionally you can pass a list of categories which filters the results of\n"
        "`get_flashed_messages()`.  This is useful if you wish to\nrender each category in a separate block.\n"
    )
    choice = select_quotes("How do I filter flash messages?", flashing, evidence=(0, len(flashing)))
    assert choice.quotes == [
        "Optionally you can pass a list of categories which filters the results of `get_flashed_messages()`. "
        "This is useful if you wish to render each category in a separate block."
    ]


def test_a_signpost_to_the_section_is_not_the_answer():
    """poetry_docs/contributing.md, "Suggesting enhancements" packed with its subsections (their
    headings shown as lines): "This section guides you through ..." shares the most words with the
    question but only announces the text; the answer is where suggestions go."""
    text, evidence = _section("Suggesting enhancements", (
        "This section guides you through submitting an enhancement suggestion for Poetry, including completely "
        "new features as\nwell as improvements to existing functionality. Following these guidelines helps "
        "maintainers and the community\nunderstand your suggestion and find related suggestions.\n\n"
        "How do I submit a suggested enhancement?\n\n"
        "Suggested enhancements concerning Poetry and poetry-core should be submitted to the main issue tracker, "
        "using the\ncorrect issue template.\n"
    ))
    choice = select_quotes("How do I suggest enhancements?", text, title="Contributing to Poetry",
                           evidence=evidence)
    assert choice.best.startswith("Suggested enhancements concerning Poetry and poetry-core should be submitted")
    # A signpost that says what the section guides you through is about the docs: never quoted, even alone.
    only, span = _section("Suggesting enhancements", text.split("\n\nHow do I")[0].split("\n\n", 1)[1] + "\n")
    assert "This section guides you" in only
    fallback = select_quotes("How do I suggest enhancements?", only, title="Contributing", evidence=span)
    assert all("This section guides you" not in quote for quote in fallback.quotes)


@pytest.mark.slow
def test_how_do_i_quotes_the_way_not_the_need(minilm_generator):
    """fastapi_docs/tutorial/header-param-models.md, "Forbid Extra Headers": the opening "you might want to
    restrict the headers" is the sentence most similar to the question, but it states the need; the
    answer is the sentence that says how ("You can use ... to `forbid` ..."), and the need stays out."""
    text, evidence = _section("Forbid Extra Headers", (
        "In some special use cases (probably not very common), you might want to restrict the headers that you "
        "want to receive.\n\nYou can use Pydantic's model configuration to `forbid` any `extra` fields:\n\n"
        "If a client tries to send some extra headers, they will receive an error response.\n\n"
        "For example, if the client tries to send a `tool` header with a value of `plumbus`, they will receive an "
        "error response telling them that the header parameter `tool` is not allowed:\n"
    ))
    oracle = _chunk("tutorial/header-param-models.md#1", text, "Header Parameter Models > Forbid Extra Headers")
    question = "How do I forbid extra headers?"
    output = _answer(question, oracle, [OTHER, oracle], minilm_generator, evidence=evidence)
    assert extract_quotes(output) == ["You can use Pydantic's model configuration to `forbid` any `extra` fields:"]
    # Without the verb in an instruction, the need is only demoted, and still quoted when it is all there is.
    need = text[: text.index("\n\nYou can use")] + "\n"
    only = select_quotes(question, need, evidence=(evidence[0], len(need)))
    assert only.best.startswith("In some special use cases")
    # But a need that tells no way at all ("you may want to ...") is no answer to "How do I ...?": click's "If you
    # are a library maintainer, you may want to support multiple versions of Click." answered "How do I support
    # multiple versions?".
    text, evidence = _section("Supporting Multiple Versions", (
        "If you are a library maintainer, you may want to support multiple versions of Click. See the Pallets version "
        "policy for information about our version numbers.\n\nMost features of Click are stable across releases.\n"))
    choice = select_quotes("How do I support multiple versions?", text, evidence=evidence)
    assert "want to" not in choice.answer and not gives_a_way("How do I support multiple versions?", choice.answer)
    text, evidence = _section("Supporting Multiple Versions", (
        "If you are a library maintainer, you may want to support multiple versions of Click.\n\nPrefer feature "
        "detection: call `hasattr(click, \"Group\")` instead of comparing version numbers.\n"))
    assert select_quotes("How do I support multiple versions?", text, evidence=evidence).answer.startswith(
        "Prefer feature detection")


@pytest.mark.slow
def test_what_does_a_command_do_quotes_the_sentence_it_is_the_subject_of(minilm_generator, gated_generator):
    """poetry_docs/plugins.md, "The `self add` command": "The package specification formats supported by
    the `self add` command ..." is the most similar sentence (it says "`add` command" twice), but the one
    with the command as its subject says what it does."""
    text, evidence = _section("The `self add` command", (
        "Warning: Especially on Windows, `self add` and `self remove` may be problematic\nso that other methods should be "
        "preferred.\n\n```bash\npoetry self add poetry-plugin\n```\n\n"
        "The `self add` command will ensure that the plugin is compatible with the current version of Poetry\n"
        "and install the needed packages for the plugin to work.\n\n"
        "The package specification formats supported by the `self add` command are the same as the ones supported\n"
        "by the `add` command.\n\n"
        "If you no longer need a plugin and want to uninstall it, you can use the `self remove` command.\n"
    ))
    oracle = _chunk("plugins.md#10", text, "Plugins > Using plugins > The self add command")
    # Its cosine to the question is low (about 0.27), but it answers by its form: the weak-answer gate keeps it.
    for question in ("What is the self add command?", "What does the `self add` command do?"):
        for generator in (minilm_generator, gated_generator):
            (answer,) = generator.generate([AnswerRequest(question, oracle, [oracle, OTHER], evidence=evidence)])
            assert final_answer(answer.output).startswith("The `self add` command will ensure that the plugin is")


@pytest.mark.slow
def test_what_is_x_without_a_sentence_naming_x_quotes_the_sections_lead(minilm_generator):
    """examples/corpus/guide/scheduling.md, "Fixed times": no sentence has "fixed times" as its
    subject; "A day can contain at most 48 fixed times." mentions them and is the most similar, but
    the section's lead says what they are."""
    text, evidence = _section("Fixed times", (
        "The `at` form runs a job once a day at one or more times, written in 24-hour\n`HH:MM` notation and "
        'separated by commas:\n\n```toml\nschedule = "at 02:30"\nschedule = "at 08:00, 12:00, 17:45"\n```\n\n'
        "A day can contain at most 48 fixed times. Seconds are not supported in the\n`at` form; use a cron "
        "expression if you need them.\n"
    ))
    oracle = _chunk("guide/scheduling.md#3", text, "Scheduling syntax > Fixed times")
    output = _answer("What are fixed times?", oracle, [OTHER, oracle], minilm_generator, evidence=evidence)
    assert final_answer(output).startswith("The `at` form runs a job once a day at one or more times")


def test_a_list_without_a_lead_in_is_quoted_whole():
    """poetry_docs/configuration.md, "Cache Directory": the section is a per-OS list with no lead-in,
    and no item is a sentence of its own; the list was unquotable. It is now one candidate, quoted as
    written, and the answer lists its items. A list a lead-in takes, or one whose items are
    sentences, is unchanged."""
    text, evidence = _section("Cache Directory", (
        "- Linux: `$XDG_CACHE_HOME/pypoetry` or `~/.cache/pypoetry`\n- Windows: `%LOCALAPPDATA%\\pypoetry`\n"
        "- macOS: `~/Library/Caches/pypoetry`\n"
    ))
    listed = text[text.index("- Linux"):].rstrip()
    assert [text[a:b] for a, b in candidate_sentences(text)] == [listed]
    choice = select_quotes("What is the cache directory?", text, title="Configuration > Cache Directory",
                           evidence=evidence)
    assert choice.quotes == [listed]
    assert choice.answer == ("Linux: `$XDG_CACHE_HOME/pypoetry` or `~/.cache/pypoetry`; Windows: "
                             "`%LOCALAPPDATA%\\pypoetry`; macOS: `~/Library/Caches/pypoetry`.")
    oracle = _chunk("configuration.md#7", text, "Configuration > Cache Directory")
    assert final_answer(_answer("What is the cache directory?", oracle, [oracle], evidence=evidence)) == choice.answer
    # Items that are sentences stay separate candidates; so do items a lead-in takes along.
    sentences = "- Poetry caches every wheel it downloads.\n- The cache is shared by all projects on the machine.\n"
    assert len(candidate_sentences(sentences)) == 2
    led = "The cache lives in one of these folders:\n\n" + text[text.index("- Linux"):]
    spans = [led[a:b] for a, b in candidate_sentences(led)]
    assert spans[0].startswith("The cache lives in one of these folders:") and spans[0].endswith("Caches/pypoetry`")
    assert not any(span.startswith("- Linux") for span in spans)


@pytest.mark.slow
def test_a_question_whose_best_sentence_barely_relates_to_it_is_dropped(minilm_generator, gated_generator):
    """fastapi_docs/advanced/events.md, "Lifespan": no sentence says what a lifespan is; the best one
    ("You can define this startup and shutdown logic ... (I'll show you what that is in a second).")
    has a cosine of about 0.26 to the question. With `min_similarity` the row is dropped as
    "weak_answer"; a section that answers is kept at the same threshold."""
    text, evidence = _section("Lifespan", (
        "You can define this startup and shutdown logic using the `lifespan` parameter of the `FastAPI` app, and a "
        "\"context manager\" (I'll show you what that is in a second).\n\nLet's start with an example and then see it "
        "in detail.\n\nWe create an async function `lifespan()` with `yield` like this:\n\nHere we are simulating the "
        "expensive startup operation of loading the model by putting the (fake) model function in the dictionary with "
        "machine learning models before the `yield`. This code will be executed before the application starts taking "
        "requests, during the startup.\n"
    ))
    oracle = _chunk("advanced/events.md#3", text, "Lifespan Events > Lifespan")
    request = AnswerRequest("What is a lifespan?", oracle, [oracle], evidence=evidence)
    assert gated_generator.generate([request])[0].rejected == "weak_answer"
    assert minilm_generator.generate([request])[0].output is not None  # no threshold: kept, as before
    kept_text, kept_evidence = _section("Tilde requirements", (
        "Tilde requirements specify a minimal version with some ability to update. If you specify a major, minor, and "
        "patch version or only a major and minor version, only patch-level changes are allowed.\n"
    ))
    kept = _chunk("dependency-specification.md#9", kept_text, "Dependency specification > Tilde requirements")
    (answer,) = gated_generator.generate([AnswerRequest("What are tilde requirements?", kept, [kept], evidence=kept_evidence)])
    assert final_answer(answer.output).startswith("Tilde requirements specify a minimal version")
    # A user's reference answer is never held to it.
    with_reference = AnswerRequest("What is a lifespan?", oracle, [oracle], evidence=evidence,
                                   reference_answer="the `lifespan` parameter of the `FastAPI` app")
    assert gated_generator.generate([with_reference])[0].output is not None


def test_the_final_answer_drops_an_opening_connective_the_quote_keeps():
    """fastapi_docs: "But you might want to still keep the return type annotation ..." answered as is
    reads as a reply to something unseen; the final answer stands alone, the quote stays verbatim."""
    text, evidence = _section("Disable Response Model", (
        "But you can disable the response model generation by setting `response_model=None` in the decorator.\n"
    ))
    choice = select_quotes("How do I disable the response model?", text, evidence=evidence)
    assert choice.quotes == ["But you can disable the response model generation by setting `response_model=None` in "
                             "the decorator."]
    assert choice.answer == ("You can disable the response model generation by setting `response_model=None` in the "
                             "decorator.")
    text, evidence = _section("Special Cases", "Of course, there are special cases that run many processes in one "
                              "container.\n")
    assert select_quotes("What are special cases?", text, evidence=evidence).answer.startswith("There are special cases")
    # "Now that ..." opens a clause: without "Now" it would read "That the client and server ... have ...".
    text, evidence = _section("HTTP Request", "Now that the client and server have an encrypted TCP connection, they "
                              "can start the HTTP communication.\n")
    assert select_quotes("What is the HTTP request?", text, evidence=evidence).answer.startswith("Now that the client")
    # click/docs/extending-click.md: "In addition to common functionality ..." read "To common functionality ...".
    text, evidence = _section("Extending Click", "In addition to common functionality that is implemented in the "
                              "library itself, there are countless patterns that can be implemented by extending Click.\n")
    assert select_quotes("How do I extend Click?", text, evidence=evidence).answer.startswith("In addition to common")


def test_a_sentence_pointing_back_at_code_is_not_the_answer_when_another_is_there():
    """flask_docs/patterns/urlprocessors.rst: "This is an awful lot of repetition ..." follows a code block
    it cannot be quoted with; alone, its "This" points at nothing. Another sentence answers."""
    text = ("Consider an application like this:\n\n```\n@app.route('/<lang_code>/')\ndef index(lang_code):\n"
            "    g.lang_code = lang_code\n```\n\nThis is an awful lot of repetition as you have to handle the language "
            "code in every single view function.\n\nA URL value preprocessor pulls the language code out of the URL "
            "values once, for every view function.\n")
    choice = select_quotes("How do I handle the language code in every view function?", text, evidence=(0, len(text)))
    assert choice.quotes == ["A URL value preprocessor pulls the language code out of the URL values once, for every "
                             "view function."]
    # With nothing else to quote, it still may be.
    alone = text[text.index("This is an awful"): text.index("\n\nA URL value")] + "\n"
    fallback = select_quotes("How do I handle the language code in every view function?", alone,
                             evidence=(0, len(alone)))
    assert fallback.answer.startswith("This is an awful lot of repetition")


def test_a_sentence_about_the_docs_is_never_the_answer(minilm_generator):
    """flask_docs: "What is the domain name?" was answered "Acquiring and configuring a domain name is
    outside the scope of this doc.", "What is the context during testing?" with "See Testing for ...":
    sentences about the documentation, not its subject. The section's next sentence answers, or none."""
    text, evidence = _section("Domain Name", (
        "Acquiring and configuring a domain name is outside the scope of this doc. In general, you will buy a "
        "domain name from a registrar, pay for server space with a hosting provider, and then point your "
        "registrar at the hosting provider's name servers.\n"))
    oracle = _chunk("deploying/apache-httpd.rst#1", text, "Apache httpd > Domain Name")
    assert final_answer(_answer("What is the domain name?", oracle, [OTHER, oracle], minilm_generator,
                                evidence=evidence)).startswith("In general, you will buy a domain name")
    text, evidence = _section("Context During Testing", (
        "See Testing for detailed information about managing the context during tests.\n\nIf you only want to "
        "unit test one function, rather than a full request, use `Flask.test_request_context()` in a `with` "
        "block.\n"))
    choice = select_quotes("What is the context during testing?", text, evidence=evidence)
    assert choice.quotes == [text[text.index("If you only") :].strip()]
    for meta in ("If you are curious why Flask does certain things the way it does, this section is for you.",
                 "This documentation goes over techniques for working with different parts of the application.",
                 "Consult each extension's documentation for installation, configuration, and usage instructions.",
                 "For a gentle introduction into this topic refer to the Blueprints chapter of the documentation.",
                 "You can read more about all of them in the FastAPI docs for Custom Response and in the Starlette docs.",
                 "This section guides you through submitting a bug report for Poetry and its related projects.",
                 "These pages provide detailed information on individual topics.",  # pip's topic guides index
                 # pip's topic guides: a notice that the text is not written yet.
                 "This section of the documentation is currently being fleshed out.",
                 "Here's the reference information for the `APIRouter` class, with all its parameters and methods.",
                 # fastapi_docs: a lead-in whose example was an include the markup dropped ends on "with:".
                 "Now try with an inactive user, authenticate with:\n",
                 # black's docs: the two options are subsections the chunk does not hold.
                 "To exclude files when using pre-commit, you have two options:\n",
                 # flask_docs/patterns/sqlite3.rst: the example is in the next chunk.
                 "Here is a simple example of how you can use SQLite 3 with Flask:\n"):
        assert select_quotes("What are design decisions in Flask?", meta) is None, meta


def test_what_is_x_answers_with_the_sentence_defining_x():
    """flask_docs/lifecycle.rst: the section's first sentence is quoted with the definition after it,
    but the final answer starts at the definition; a "term: clause" line is not forced into "X is ..." (a "term: noun phrase" line still is: test_rows)."""
    text, evidence = _section("Middleware", (
        "The WSGI application above is a callable that behaves in a certain way. Middleware is a WSGI application "
        "that wraps another WSGI application. It's a similar concept to Python decorators.\n"))
    choice = select_quotes("What is middleware?", text, evidence=evidence)
    assert choice.quotes[0].startswith("The WSGI application above")
    assert choice.answer == ("Middleware is a WSGI application that wraps another WSGI application. "
                             "It's a similar concept to Python decorators.")
    line = ("- `--app hello`: The given name is imported, automatically detecting an app.\n"
            "- `--app hello.web`: The given module is imported from the package.\n")
    assert select_quotes("What is `--app hello`?", line).answer == (
        "`--app hello`: The given name is imported, automatically detecting an app.")


def test_what_is_x_answered_by_its_sections_it_names_x():
    """fastapi_docs/alternatives.md: under "Sanic", "It was one of the first ..." is Sanic's own sentence;
    "What is Sanic?" was answered "That's what made it so fast. ...". The final answer names X; the
    quote stays verbatim. An "it" that stands for nothing is left alone."""
    text = ("It was one of the first extremely fast Python frameworks based on `asyncio`. It was made to be very "
            "similar to Flask.\n\nTechnical Details: It used `uvloop` instead of the default Python `asyncio` loop. "
            "That's what made it so fast.\n\nIt clearly inspired Uvicorn and Starlette, that are currently faster "
            "than Sanic in open benchmarks.\n")
    choice = select_quotes("What is Sanic?", text, title="Alternatives > Previous tools > Sanic", evidence=(0, len(text)))
    assert choice.quotes[0].startswith("It was one of the first extremely fast Python frameworks")
    assert choice.answer == ("Sanic was one of the first extremely fast Python frameworks based on `asyncio`. "
                             "It was made to be very similar to Flask.")
    assert choice.direct
    text, evidence = _section("Domain Name", "It would probably all start by you acquiring some domain name. Then "
                              "you would configure it in a DNS server.\n")
    assert select_quotes("What is the domain name?", text, evidence=evidence).answer.startswith("It would probably")
    # "It's" is "It is": "Django is the most popular ...", not "It's the most popular ...".
    text, evidence = _section("Django", "It's the most popular Python framework and is widely trusted. It is used to "
                              "build systems like Instagram.\n")
    assert select_quotes("What is Django?", text, evidence=evidence).answer.startswith(
        "Django is the most popular Python framework and is widely trusted.")
    text, evidence = _section("HTTPS", "It's easy to assume that HTTPS is something that is just enabled or not.\n")
    assert select_quotes("What is HTTPS?", text, evidence=evidence).answer.startswith("It's easy to assume")
    # pip's docs: "It is extremely common to have a project ..." became "Local project installs is extremely
    # common to have a project ..."; "It is the responsibility of the build backend to ..." and "It is worth
    # discussing ..." likewise. An adverb or a noun phrase before "to" leaves the "it" standing for nothing too.
    for heading, sentence in [
        ("Local project installs", "It is extremely common to have a project, available in a folder on your computer, "
                                   "that you wish to install."),
        ("Build output", "It is the responsibility of the build backend to ensure that the output is in the correct "
                         "encoding."),
        ("Dependency metadata", "It is worth discussing precisely what metadata is needed to drive the resolution."),
        ("Wildcards", "It is also possible to declare the list as a wildcard to say that all are allowed."),
    ]:
        text, evidence = _section(heading, sentence + "\n")
        assert select_quotes(f"What is {heading.lower()}?", text, evidence=evidence).answer == sentence


def test_a_how_answer_takes_the_short_code_that_carries_out_its_way():
    """poetry_docs/basic-usage.md: "How do I install dependencies?" was answered with the sentence that names the
    `install` command, without `poetry install` under it. A sentence that tells the asked way and ends its paragraph
    takes a short code block after it along in a how-answer; a what-question's answer, a sentence that tells no
    way, and a long block stay as they were."""
    sentence = "To install the defined dependencies for your project, just run the `install` command."
    text = (f"## Installing dependencies\n\n{sentence}\n\n```bash\npoetry install\n```\n\n"
            "When you run this command, one of two things may happen.\n")
    choice = select_quotes("How do I install dependencies?", text)
    assert choice.quotes == [f"{sentence}\n\n```bash\npoetry install\n```"]
    assert choice.answer == ("To install the defined dependencies for your project, just run the `install` command: "
                             "`poetry install`.")
    factory = "You can create the app with the `create_app` factory in your tests.\n\n```python\napp = create_app()\n```\n"
    assert select_quotes("How do I create the app?", factory).quotes == [factory.strip()]
    assert select_quotes("What is the `create_app` factory?", factory).quotes == [  # a what-question's answer
        "You can create the app with the `create_app` factory in your tests."]
    long = text.replace("poetry install\n", "poetry install\n" * 20)
    assert select_quotes("How do I install dependencies?", long).quotes == [sentence]
    noun = "Each dependency is installed into the project's environment."
    described = f"{noun}\n\n```bash\npoetry install\n```\n"
    assert select_quotes("How do I install dependencies?", described).quotes == [noun]
    # marshmallow_docs/quickstart.rst: a sentence that ends on a comma before its code
    meta = ("You can specify `unknown` in the class Meta of your `Schema`,\n\n```python\nfrom marshmallow import "
            "Schema, INCLUDE\n\n\nclass UserSchema(Schema):\n    class Meta:\n        unknown = INCLUDE\n```\n")
    assert select_quotes("How do I handle unknown fields?", meta).answer == (
        "You can specify `unknown` in the class Meta of your `Schema`, for example `unknown = INCLUDE`.")


@pytest.mark.parametrize(("sentence", "code"), [
    # a warning, a prohibition, a requirement, a pointer to later text: the code after it is no way (review)
    ("You should never deploy the app with debug mode on.", "```python\napp.run(debug=True)\n```"),
    ("You can't deploy the app while the server runs in the foreground.", "```\n$ flask run\n```"),
    ("You must have write access to the server to deploy the app.", "```\n$ ls -l /srv\n```"),
    ("We will deploy the app in the next chapter.", "```python\nlogging.basicConfig(level=logging.INFO)\n```"),
    # what a block prints, or a diff, is not what carries the way out
    ("You can deploy the app with the deploy command.", "```text\nInstalling dependencies from lock file\n```"),
    ("You can deploy the app with the deploy command.", "```diff\n-app.run(debug=True)\n+app.run()\n```"),
    ("You can deploy the app with the deploy command.", "```\nDeployed to production in 3 seconds\n```"),
    # a sentence after it ends the paragraph: the block is not its
    ("To deploy the app, just run the deploy command. Or skip it.", "```\ntidepool deploy\n```"),
    # a list item is no paragraph's last sentence
    ("- To deploy the app, just run the deploy command.", "```\ntidepool deploy\n```"),
])
def test_a_sentence_that_tells_no_way_or_a_block_that_runs_nothing_stays_alone(sentence, code):
    choice = select_quotes("How do I deploy the app?", f"{sentence}\n\n{code}\n")
    assert choice is None or "```" not in choice.quotes[-1] and "`" not in choice.answer.replace("`deploy`", "")


def test_a_how_answer_that_states_two_halves_keeps_the_code_it_states():
    text = ("## Plugins\n\nTo install a plugin, just run the `self add` command.\n\n```bash\npoetry self add "
            "poetry-plugin-export\n```\n\nSome text here about plugins in general that is long enough.\n\n"
            "You can also remove a plugin with the `self remove` command.\n")
    choice = select_quotes("How do I install and remove plugins?", text)
    assert "poetry self add poetry-plugin-export" in choice.answer
    assert any("poetry self add poetry-plugin-export" in quote for quote in choice.quotes)


def test_a_lead_in_that_only_names_the_asked_way_needs_its_example():
    """fastapi_docs/tutorial/handling-errors.md, "Add custom headers": the way is in an included example file the
    corpus does not hold. "..., you can add custom headers:" without it only says the question back, and "There are
    some situations where it's useful to ..." says when one would: neither is an answer to how."""
    text = ("There are some situations where it's useful to be able to add custom headers to the HTTP error. For "
            "example, for some types of security.\n\nYou probably won't need to use it directly in your code.\n\n"
            "But in case you needed it for an advanced scenario, you can add custom headers:\n\n"
            "(Example file: `docs_src/handling_errors/tutorial002_py310.py`)\n")
    choice = select_quotes("How do I add custom headers?", text)
    assert choice is None or "you can add custom headers" not in choice.answer
    assert not gives_a_way("How do I add custom headers?", "There are some situations where it's useful to be able to "
                                                           "add custom headers to the HTTP error.")
    assert gives_a_way("How do I add custom headers?", "There are some situations where it's useful to add custom "
                                                       "headers. Pass them in `headers`.")
    # a lead-in whose first clause tells the way answers without its example (review)
    for lead in ("With the `headers` argument of `HTTPException`, you can add custom headers:",
                 "By passing a dict to the `headers` parameter, you can add custom headers:"):
        assert select_quotes("How do I add custom headers?", text.replace(
            "But in case you needed it for an advanced scenario, you can add custom headers:", lead)).answer == (
            lead.rstrip(":") + ".")
    for way in ("It can be useful to add custom headers with the `headers` parameter of `HTTPException`.",
                "There are cases where you need to add custom headers; pass them in the `headers` argument."):
        assert gives_a_way("How do I add custom headers?", way)
    assert not gives_a_way("How do I add custom headers?",
                           "There are situations where it's useful to add custom headers, e.g. for security.")
    # with its example, the same lead-in tells the way
    shown = text.replace("(Example file: `docs_src/handling_errors/tutorial002_py310.py`)",
                         "```python\nraise HTTPException(status_code=404, headers={\"X-Error\": \"There goes my error\"})\n```")
    assert "you can add custom headers" in select_quotes("How do I add custom headers?", shown).answer


def test_a_what_answer_states_the_code_line_its_lead_in_shows():
    """httpx and requests quickstarts: "What are response status codes?" was answered "We can inspect the HTTP status
    code of the response." with `r.status_code` left in the quote. The line that names what is asked comes along,
    as it does for a how-question; not a line of a diff, of a drawn tree, nor a call's argument."""
    session = ("We can inspect the HTTP status code of the response:\n\n```pycon\n>>> r = httpx.get('https://httpbin.org/get')"
               "\n>>> r.status_code\n200\n```\n")
    assert select_quotes("What are response status codes?", session).answer == (
        "We can inspect the HTTP status code of the response, for example `r.status_code`.")
    template = ("To disable the autoescape system in templates, you can use the `{% autoescape %}` block:\n\n"
                "```html+jinja\n{% autoescape true %}\n    <p>autoescaping is enabled here\n{% endautoescape %}\n"
                "{% autoescape false %}\n    <p>autoescaping is disabled here\n{% endautoescape %}\n```\n")
    assert select_quotes("How do I control autoescaping?", template).answer.endswith(
        "block, for example `{% autoescape true %}`.")
    comment = ("To comment-out part of a line in a template, use the comment syntax `{# ... #}`:\n\n```jinja\n"
               "{# note: commented-out template because we no longer use this\n    {% for user in users %}\n"
               "        ...\n    {% endfor %}\n#}\n```\n")
    assert "note:" not in select_quotes("What are comments in templates?", comment).answer
    tree = ("You could have a file `test_main.py` with your tests:\n\n```\n.\n├── app\n│   ├── __init__.py\n│   ├── main.py"
            "\n│   └── test_main.py\n```\n")
    assert "│" not in select_quotes("What is the testing file?", tree).answer
    # FastAPI's included example: "return cookies" names the cookies but shows nothing of the way (and the line
    # that declares them opens a block): no line is stated
    example = ("Declare the cookie parameters that you need in a Pydantic model, and then declare the parameter as "
               "`Cookie`:\n\n```python\nclass Cookies(BaseModel):\n    session_id: str\n    fatebook_tracker: str | None = None"
               "\n\n\n@app.get(\"/items/\")\nasync def read_items(cookies: Annotated[Cookies, Cookie()]):\n"
               "    return cookies\n```\n")
    assert select_quotes("How do I use cookies with a Pydantic model?", example).answer == (
        "Declare the cookie parameters that you need in a Pydantic model, and then declare the parameter as `Cookie`.")
    # Typer's examples: a line setting what the sentence sets to another value contradicts it, and an argument of
    # an `Annotated[...]` on a line of its own is no statement
    opposite = ("This feature is enabled by default, but you can disable it with the parameter `suggest_commands=False`:"
                "\n\n```python\nimport typer\n\napp = typer.Typer(suggest_commands=True)\n\n\n@app.command()\ndef create():"
                "\n    typer.echo(\"Creating...\")\n```\n")
    assert select_quotes("How do I suggest commands?", opposite).answer == (
        "This feature is enabled by default, but you can disable it with the parameter `suggest_commands=False`.")
    assert select_quotes("How do I suggest commands?", opposite.replace("=True", "=False")).answer.endswith(
        ", for example `app = typer.Typer(suggest_commands=False)`.")
    argument = ("By default, environment variables used will be shown in the help text, but you can disable them with "
                "`show_envvar=False`:\n\n```python\ndef main(\n    name: Annotated[\n        str, typer.Argument("
                "envvar=\"AWESOME_NAME\", show_envvar=False)\n    ] = \"World\",\n):\n    print(f\"Hello Mr. {name}\")\n```\n")
    assert "`str, typer" not in select_quotes("How do I hide an env var from the help text?", argument).answer
    # a tuple's assignment is a statement, not an argument; the same value in other quotes is no contradiction;
    # `yield session` hands back a name as `return` does
    plot = ("To draw the figure, you can create subplots with `plt.subplots`:\n\n```python\nimport matplotlib.pyplot as plt\n\n"
            "fig, ax = plt.subplots(figsize=(6, 4))\nax.plot(xs, ys)\nplt.show()\n```\n")
    assert select_quotes("How do I create subplots?", plot).answer.endswith(
        "for example `fig, ax = plt.subplots(figsize=(6, 4))`.")
    quoted = ("You can set the greeting with `name=\"World\"`:\n\n```python\nimport greet\n\n"
              "greeter = greet.Greeter(name='World')\ngreeter.run()\n```\n")
    assert select_quotes("How do I set the greeting?", quoted).answer.endswith(
        "for example `greeter = greet.Greeter(name='World')`.")
    session = ("You can create a session dependency with `yield`:\n\n```python\ndef get_session():\n"
               "    with Session(engine) as session:\n        yield session\n```\n")
    assert "`yield session`" not in select_quotes("How do I create a session dependency?", session).answer
    diff = ("In `.pyi` stub files, Black already enforces blank lines around class definitions in many situations. "
            "However, when a class has a decorator, Black previously failed to enforce this, instead removing the blank "
            "line between a function and the decorator:\n\n```diff\n  # Before\n\n  def foo(): ...\n-\n  @decorator\n"
            "  class Bar: ...\n\n  def baz(): ...\n  @decorator\n  class Spam: ...\n```\n")
    assert select_quotes("What is the blank line before decorated classes in stub files?", diff).answer.endswith(
        "instead removing the blank line between a function and the decorator.")
    call = ("You can create a schema from a dictionary of fields using the `from_dict` method:\n\n```python\n"
            "from marshmallow import Schema, fields\n\nUserSchema = Schema.from_dict(\n"
            '    {"name": fields.Str(), "email": fields.Email(), "created_at": fields.DateTime()}\n)\n```\n')
    assert "fields.Str()" not in select_quotes("How do I create schemas from dictionaries?", call).answer
    listed = ("You can set the routes of the app with `add_routes`:\n\n```python\napp = make_app()\nadd_routes(\n"
              "    [Route(\"/\", home), Route(\"/about\", about)]\n)\nprint(app)\n```\n")
    assert "Route(" not in select_quotes("How do I set the routes?", listed).answer  # an argument's line, opened above


def test_a_step_ending_in_a_full_stop_takes_its_commands():
    """flask_docs: "How do I install the project?" was answered "Use `pip` to install your project in
    the virtual environment." without `pip install -e .`; "How do I install mod_wsgi?" with the
    prerequisites, not the step. A step that closes its paragraph takes the command block after it."""
    text, evidence = _section("Install the Project", (
        "Use `pip` to install your project in the virtual environment.\n\n```none\n$ pip install -e .\n```\n\n"
        "This tells pip to find `pyproject.toml` in the current directory and install the project in editable mode.\n"))
    choice = select_quotes("How do I install the project?", text, evidence=evidence)
    assert choice.quotes[0] == ("Use `pip` to install your project in the virtual environment.\n\n```none\n"
                                "$ pip install -e .\n```")
    assert choice.answer == "Use `pip` to install your project in the virtual environment: `pip install -e .`."
    text, evidence = _section("Installing mod_wsgi", (
        "Installing mod_wsgi requires a compiler and the Apache server and development headers installed. You will "
        "get an error if they are not.\n\nCreate a virtualenv, install your application, then install `mod_wsgi`.\n\n"
        "```text\n$ cd hello-app\n$ python -m venv .venv\n$ . .venv/bin/activate\n$ pip install .\n"
        "$ pip install mod_wsgi\n```\n"))
    choice = select_quotes("How do I install mod_wsgi?", text, evidence=evidence)
    assert choice.quotes == [text[text.index("Create a virtualenv") :].strip()]
    # Five commands are too many to state; the one that installs what is asked comes along.
    assert choice.answer == ("Create a virtualenv, install your application, then install `mod_wsgi`, for example "
                             "`pip install mod_wsgi`.")
    # A sentence that describes rather than instructs keeps its full stop to itself; one that says what to use
    # takes the code after it, which shows it.
    described = "Debug mode is useful during development.\n\n```text\n$ flask run --debug\n```\n"
    assert select_quotes("What is debug mode?", described).quotes == ["Debug mode is useful during development."]
    python = "Use the factory in your tests.\n\n```python\napp = create_app()\n```\n"
    choice = select_quotes("How do I use the factory?", python)
    assert choice.quotes == [python.strip()]
    assert choice.answer == "Use the factory in your tests: `app = create_app()`."
    # flask_docs/quickstart.rst: "To X, use Y." is a step too.
    text = ("To enable debug mode, use the `--debug` option.\n\n```text\n$ flask --app hello run --debug\n"
            " * Serving Flask app 'hello'\n * Debug mode: on\n```\n")
    assert select_quotes("How do I enable debug mode?", text).answer == (
        "To enable debug mode, use the `--debug` option: `flask --app hello run --debug`.")
    # Not a warning against it, nor the noun: those keep their full stop to themselves (review).
    for sentence in ("You should never call `eval` on user input.", "Each API call is logged by the server.",
                     "Flask does not set a default secret key."):
        text = f"{sentence}\n\n```python\nresult = eval(request.args['expr'])\n```\n"
        assert select_quotes("How do I evaluate input?", text).quotes == [sentence], sentence


def test_steps_in_order_are_answered_together():
    """poetry_docs/repositories.md: "How do I install from private package sources?" was answered with the first
    step alone, "First, configure the package source ... to your project.", without its command (an option written
    "--priority=supplemental" did not read as one) and without the steps after it."""
    text, evidence = _section("Installing from private package sources", (
        "By default, Poetry discovers and installs packages from PyPI. But, you want to install a dependency to your "
        "project for a simple API repository? Let's do it.\n\n"
        "First, configure the package source as a supplemental package source to your project.\n\n"
        "```bash\npoetry source add --priority=supplemental foo https://pypi.example.org/simple/\n```\n\n"
        "Then, assuming the repository requires authentication, configure credentials for it.\n\n"
        "```bash\npoetry config http-basic.foo <username> <password>\n```\n\n"
        "Once this is done, you can add dependencies to your project from this source.\n\n"
        "```bash\npoetry add --source foo private-package\n```\n"))
    choice = select_quotes("How do I configure a package source and add dependencies from it?", text,
                           evidence=evidence)
    assert [quote.split("\n")[0] for quote in choice.quotes] == [
        "First, configure the package source as a supplemental package source to your project.",
        "Then, assuming the repository requires authentication, configure credentials for it.",
        "Once this is done, you can add dependencies to your project from this source."]
    assert choice.answer == (
        "First, configure the package source as a supplemental package source to your project: "
        "`poetry source add --priority=supplemental foo https://pypi.example.org/simple/`. Then, assuming the "
        "repository requires authentication, configure credentials for it: `poetry config http-basic.foo <username> "
        "<password>`. Once this is done, you can add dependencies to your project from this source: "
        "`poetry add --source foo private-package`.")
    # Without a first step, a step and its code stand alone: the next paragraph is another matter.
    alone = text.replace("First, configure", "Configure")
    choice = select_quotes("How do I configure the package source?", alone)
    assert choice.answer == ("Configure the package source as a supplemental package source to your project: "
                             "`poetry source add --priority=supplemental foo https://pypi.example.org/simple/`.")


def test_the_final_answer_drops_a_pointer_to_earlier_text():
    """poetry_docs: "As mentioned above, the `poetry.lock` file prevents ..." answered "How do I update
    dependencies ...?": the answer stands alone, without "above"; the quote keeps it."""
    text, evidence = _section("Updating dependencies to their latest versions", (
        "As mentioned above, the `poetry.lock` file prevents you from automatically getting the latest versions of "
        "your dependencies. To update to the latest versions, use the `update` command.\n"))
    choice = select_quotes("How do I update dependencies to their latest versions?", text, evidence=evidence)
    assert choice.quotes[0].startswith("As mentioned above, the `poetry.lock` file")
    assert choice.answer.startswith("The `poetry.lock` file prevents you")
    assert choice.answer.endswith("To update to the latest versions, use the `update` command.")
    text, evidence = _section("Return a Response", "As seen in Return a Response directly, you can also override the "
                              "response directly in your path operation, by returning it.\n")
    assert select_quotes("How do I return a response?", text, evidence=evidence).answer == (
        "You can also override the response directly in your path operation, by returning it.")
    # fastapi_docs/tutorial/request-files.md: two links back in a row, both dropped.
    text, evidence = _section("Multiple File Uploads with Additional Metadata", "And the same way as before, you can use "
                              "`File()` to set additional parameters, even for `UploadFile`.\n")
    assert select_quotes("How do I use multiple file uploads with additional metadata?", text,
                         evidence=evidence).answer == (
        "You can use `File()` to set additional parameters, even for `UploadFile`.")
    text, evidence = _section("JSONResponse", "Takes some data and returns an `application/json` encoded response, "
                              "as you read above.\n")
    choice = select_quotes("What does the `JSONResponse` class do?", text, evidence=evidence)
    assert choice.answer == "Takes some data and returns an `application/json` encoded response."
    # fastapi_docs/tutorial/extra-models.md opens on the example the reader of the answer does not have.
    text, evidence = _section("Extra Models", "Continuing with the previous example, it will be common to have more "
                              "than one related model.\n")
    choice = select_quotes("What are extra models?", text, evidence=evidence)
    assert choice.quotes[0].startswith("Continuing with the previous example, it will be common")
    assert choice.answer == "It will be common to have more than one related model."
    text, evidence = _section("Template File Extension", "As stated above, any file can be loaded as a template, "
                              "regardless of file extension.\n")
    assert select_quotes("What is the template file extension?", text, evidence=evidence).answer == (
        "Any file can be loaded as a template, regardless of file extension.")


def test_how_do_i_prefers_a_sentence_that_tells_a_way_in_other_words():
    """flask_docs/cli.rst: "How do I disable dotenv?" was answered with the section's first sentence
    ("The `flask` command will show a message if it detects dotenv files ..."); the way is told without
    the asked verb. An alternative ("You could also use ...") or a warning is not the way."""
    text, evidence = _section("Disable dotenv", (
        "The `flask` command will show a message if it detects dotenv files but python-dotenv is not installed.\n\n"
        "```bash\n$ flask run\n * Tip: There are .env files present.\n```\n\n"
        "You can tell Flask not to load dotenv files even when python-dotenv is installed by setting the "
        "`FLASK_SKIP_DOTENV` environment variable.\n"))
    choice = select_quotes("How do I disable dotenv?", text, evidence=evidence)
    assert choice.answer.startswith("You can tell Flask not to load dotenv files")
    text, evidence = _section("Static Files", (
        "Static files are served from the disk by a `StaticFiles` application mounted in your app.\n\n"
        "You could also use `from starlette.staticfiles import StaticFiles`.\n"))
    assert select_quotes("How do I serve static files?", text, evidence=evidence).answer.startswith(
        "Static files are served")


def test_the_final_answer_has_no_emoji_and_no_lone_hidden_item():
    """fastapi_docs: "... one command: `fastapi deploy`. 🎉" and "`UploadFile` has the following attributes:
    ...; and 1 more." The quote keeps the page as written; the final answer drops the pictograph and
    lists a last item rather than hiding one."""
    text = "Deploy your app to FastAPI Cloud with one command: `fastapi deploy`. 🎉\n"
    choice = select_quotes("How do I deploy my app to FastAPI Cloud?", text)
    assert "🎉" in choice.quotes[0]
    assert choice.answer == "Deploy your app to FastAPI Cloud with one command: `fastapi deploy`."
    # Between sentences too, without leaving the full stop the statement gave it (fastapi_docs/advanced/settings.md).
    text = "The file is read for each request, every time it comes in. ⚠️ With the cache, it is read once at startup.\n"
    answer = select_quotes("How often is the file read?", text).answer
    assert "⚠" not in answer and ".." not in answer, answer
    long = "x" * 80  # two items fill the 300-character budget; the third is left over
    text = ("`UploadFile` has the following attributes:\n\n"
            f"- `filename`: A `str` with the original file name {long}.\n"
            f"- `content_type`: A `str` with the content type {long}.\n"
            "- `file`: A `SpooledTemporaryFile` (a file-like object).\n")
    answer = select_quotes("What attributes does `UploadFile` have?", text).answer
    assert "more" not in answer and answer.endswith("`file`: A `SpooledTemporaryFile` (a file-like object).")


def test_chatter_and_scenes_open_no_final_answer():
    """flask_docs/patterns/fileuploads.rst answered "How do I upload files?" with "Ah yes, the good old
    problem of file uploads. ..."; the steps the text lists are the answer. A scene ("Let's imagine ...")
    stays when the answer leans on it ("For that ...")."""
    text, evidence = _section("Uploading Files", (
        "Ah yes, the good old problem of file uploads. The basic idea of file uploads is actually quite simple. "
        "It basically works like this:\n\n"
        "1. A `<form>` tag is marked with `enctype=multipart/form-data` and an `<input type=file>` is placed in that form.\n"
        "2. The application accesses the file from the `files` dictionary on the request object.\n"
        "3. use the `save()` method of the file to save the file permanently somewhere on the filesystem.\n"))
    choice = select_quotes("How do I upload files?", text, evidence=evidence)
    assert not choice.answer.startswith("Ah"), choice.answer
    assert "The application accesses the file from the `files` dictionary" in choice.answer
    text, evidence = _section("Details about the Request object", (
        "Let's imagine you want to get the client's IP address/host inside of your path operation function. "
        "For that you need to access the request directly.\n"))
    answer = select_quotes("How do I use the Request object directly?", text, evidence=evidence).answer
    assert answer.startswith("Let's imagine you want") and answer.endswith("access the request directly.")
    # typer's "Add help to completions" opens on where the tutorial stands.
    text, evidence = _section("Add help to completions", (
        "Right now we're returning a `list` of `str`. Some shells are capable of showing extra help text for each "
        "completion.\n"))
    answer = select_quotes("How do I add help to completions?", text, similarities=[0.5, 0.6], evidence=evidence).answer
    assert answer == "Some shells are capable of showing extra help text for each completion."


def test_a_tutorials_lets_is_stated_as_its_step():
    """fastapi_docs/tutorial/security/get-current-user.md: "First, let's create a Pydantic user model." is
    the step "How do I create a user model?" asks for; "Let's see how to ..." only announces one and is
    not stated as a step."""
    text, evidence = _section("Create a user model", (
        "First, let's create a Pydantic user model.\n\n"
        "The same way we use Pydantic to declare bodies, we can use it anywhere else.\n"))
    answer = select_quotes("How do I create a user model?", text, evidence=evidence).answer
    assert answer.startswith("Create a Pydantic user model."), answer
    text = "Let's see how to make use of a custom `Request` subclass to decompress gzip requests.\n"
    assert select_quotes("How do I decompress gzip requests?", text).answer.startswith("Let's see how")


def test_the_texts_answer_to_its_own_question_is_the_answer():
    """flask_docs/patterns/caching.rst opens with a quip ("When your application runs slow, throw some caches
    in.") and then asks itself "What does a cache do?": the sentences after that question answer "What is
    caching?"."""
    text, evidence = _section("Caching", (
        "When your application runs slow, throw some caches in. Well, at least it's the easiest way to speed up "
        "things. What does a cache do? Say you have a function that takes some time to complete but the results "
        "would still be good enough if they were 5 minutes old. So then the idea is that you actually put the "
        "result of that calculation into a cache for some time.\n\n"
        "Flask itself does not provide caching for you, but Flask-Caching, an extension for Flask does.\n"))
    choice = select_quotes("What is caching?", text, evidence=evidence)
    assert "put the result of that calculation into a cache" in choice.answer, choice.answer
    assert not any("throw some caches in" in quote for quote in choice.quotes)


def test_list_items_joined_by_or_read_as_one_phrase():
    """fastapi_docs: "... with:\\n- `@contextlib.contextmanager` or\\n- `@contextlib.asynccontextmanager`" read
    "`@contextlib.contextmanager` or; `@contextlib.asynccontextmanager`"."""
    text = ("Another way to create a context manager is with:\n\n"
            "- `@contextlib.contextmanager` or\n- `@contextlib.asynccontextmanager`\n")
    answer = select_quotes("How do I create a context manager?", text).answer
    assert answer.endswith("with: `@contextlib.contextmanager` or `@contextlib.asynccontextmanager`."), answer


def test_the_final_answer_drops_in_these_cases():
    """fastapi_docs/tutorial/stream-json-lines.md: "In these cases, ..." points at text the answer's reader lacks."""
    text = ("In these cases, it's common to send \"JSON Lines\", which is a format where you send one JSON object "
            "per line.\n")
    answer = select_quotes("What are JSON Lines?", text).answer
    assert answer.startswith("It's common to send \"JSON Lines\""), answer


def test_a_description_without_its_subject_is_stated_about_it():
    """Reference pages describe a key without naming it: "What is `package-mode`?" was answered "Whether
    Poetry operates in package mode (default) or not.", a fragment; a setting's "Enable ..." line and "A
    proxy to ..." likewise. An instruction that names the subject, or a full sentence, stays as it is."""
    cases = {
        ("What is `package-mode`?", "Whether Poetry operates in package mode (default) or not."):
            "`package-mode` sets whether Poetry operates in package mode (default) or not.",
        ("What is `keyring.enabled`?", "Enable the system keyring for storing credentials."):
            "`keyring.enabled` enables the system keyring for storing credentials.",
        ("What is incoming request data?", "A proxy to the request data for the current request, an instance of `Request`."):
            "Incoming request data is a proxy to the request data for the current request, an instance of `Request`.",
        ("What are environment variables?", "An environment variable (also known as an env var) is a value that lives "
                                            "outside of your Python code."):
            "An environment variable (also known as an env var) is a value that lives outside of your Python code.",
        ("What is `user_dict`?", "Pass the keys and values of the `user_dict` directly as key-value arguments."):
            "Pass the keys and values of the `user_dict` directly as key-value arguments.",
        # Black's options and Poetry's settings: what the option does, and the value the setting holds.
        ("What is `-x, --skip-source-first-line`?", "Skip the first line of the source code."):
            "`-x, --skip-source-first-line` skips the first line of the source code.",
        ("What is `--config`?", "Read configuration options from a configuration file."):
            "`--config` reads configuration options from a configuration file.",
        ("What is `virtualenvs.prompt`?", "Format string defining the prompt to be displayed when the virtual "
                                          "environment is activated."):
            "`virtualenvs.prompt` is the format string defining the prompt to be displayed when the virtual "
            "environment is activated.",
        ("What is `virtualenvs.path`?", "Directory where virtual environments will be created."):
            "`virtualenvs.path` is the directory where virtual environments will be created.",
        ("What is `--print-full-tree`?", "Upon a failing test, print the full concrete syntax tree."):
            "Upon a failing test, print the full concrete syntax tree.",
        ("What is `--exclude`?", "Directory names are matched as regular expressions."):
            "Directory names are matched as regular expressions.",
        # a value noun that is the verb ("Format the output ...") and words that spell the key's own name
        ("What is `--json`?", "Format the output as JSON."): "Format the output as JSON.",
        ("What is `project.display-name`?", "Display name shown in the package index."):
            "Display name shown in the package index.",
        # poetry_docs/configuration.md: a relative clause's verb does not make the phrase a sentence.
        ("What is `solver.min-release-age-exclude`?", "A comma-separated list of package names that should be "
                                                     "excluded from the `solver.min-release-age` filter."):
            "`solver.min-release-age-exclude` is a comma-separated list of package names that should be excluded "
            "from the `solver.min-release-age` filter.",
        ("What is `HTMLResponse`?", "Takes some text or bytes and returns an HTML response."):
            "`HTMLResponse` takes some text or bytes and returns an HTML response.",
        # attrs/docs/init.md: a plural noun before a modal is a subject ("A conversion attributes can have ...").
        ("What is a conversion?", "Attributes can have a `converter` function specified, which will be called with "
                                  "the passed-in value."):
            "Attributes can have a `converter` function specified, which will be called with the passed-in value.",
    }
    for (question, text), expected in cases.items():
        assert select_quotes(question, text + "\n").answer == expected
    # "Thanks to Starlette, ..." opens with a verb's form, not a description without its subject.
    text, evidence = _section("Testing", "Thanks to Starlette, testing FastAPI applications is easy and enjoyable.\n")
    assert select_quotes("What is testing?", text, evidence=evidence).answer.startswith("Thanks to Starlette")
    # A sentence whose verb comes before any relative clause is a sentence ("... would normally set ...").
    text = ("A proxy in front of your application would normally set some headers on the fly before sending the requests "
            "to your server to let the server know that the request was forwarded by the proxy.\n")
    assert select_quotes("What are proxy forwarded headers?", text).answer.startswith("A proxy in front of")


def test_a_sentence_announcing_the_following_list_takes_it():
    """flask_docs/appcontext.rst: "The following are the steps directly related to the context." ends in a full
    stop; its list is the answer to "What is the lifecycle of the context?"."""
    text, evidence = _section("Lifecycle of the Context", (
        "See Lifecycle for a list of all the steps. The following are the steps directly related to the context.\n\n"
        "- The app context is pushed, the proxies are available.\n- The `appcontext_pushed` signal is sent.\n"
        "- The request is dispatched.\n- The app context is popped, the proxies are no longer available.\n"))
    answer = select_quotes("What is the lifecycle of the context?", text, evidence=evidence).answer
    assert answer.startswith("The following are the steps directly related to the context: The app context is pushed")
    assert answer.endswith("the proxies are no longer available.")


def test_why_answers_carry_the_reason_and_pointers_ahead_are_not_answers():
    """poetry_docs/faq.md: the reason ("This is due to ...") followed the quoted first sentence but the final
    answer stopped before it. fastapi_docs: "You'll see ... in the next chapter" and flask_docs' "For more on
    Flask extensions, see Extensions." point elsewhere; "Sooner or later you will see an exception" does not."""
    text = ("While the dependency resolver is highly optimized, with certain sets of dependencies, it can take time "
            "to find a valid solution. This is due to the fact that not all libraries on PyPI have properly declared "
            "their metadata.\n")
    answer = select_quotes("Why is the dependency resolution process slow?", text).answer
    assert answer.endswith("have properly declared their metadata."), answer
    text = ("You only give `Depends` a single parameter. This parameter must be something like a function.\n\n"
            "You'll see what other things, apart from functions, can be used as dependencies in the next chapter.\n\n"
            "For more on dependencies, see Dependencies.\n")
    choice = select_quotes("How do I declare the dependency?", text)
    assert choice.answer.startswith("You only give `Depends` a single parameter"), choice.answer
    assert not any("next chapter" in quote or "see Dependencies" in quote for quote in choice.quotes)
    text = "Applications fail, servers fail. Sooner or later you will see an exception in production.\n"
    assert select_quotes("How do I handle application errors?", text).answer.endswith("exception in production.")


def test_a_how_question_whose_answer_tells_no_way_is_dropped_by_the_gate(minilm_generator, gated_generator):
    """poetry_docs/plugins.md: "How do I create a plugin?" was answered "A plugin is a regular Python package
    ...", a definition; the section's way (an entry point) is not in it. With the weak-answer gate the row is
    dropped; a section that tells the way in any form is kept, and without the gate nothing changes."""
    text, evidence = _section("Creating a plugin", (
        "A plugin is a regular Python package which ships its code as part of the package and may also depend on "
        "further packages.\n"))
    oracle = _chunk("plugins.md#1", text, "Plugins > Creating a plugin")
    request = AnswerRequest("How do I create a plugin?", oracle, [oracle], evidence=evidence)
    assert gated_generator.generate([request])[0].rejected == "weak_answer"
    assert minilm_generator.generate([request])[0].output is not None
    for heading, body, question in [
        ("Configuring from Data Files", "It is also possible to load configuration from a file in a format of your "
         "choice using `from_file()`.\n", "How do I configure from data files?"),
        ("Install from private sources", "First, configure the package source as a supplemental package source to "
         "your project.\n", "How do I install from private package sources?"),
        ("Running gevent", "To use gevent to serve your application, write a script that imports its `WSGIServer`, as "
         "well as your app or app factory.\n", "How do I run gevent?"),
        # httpx's "Proxies": the code that does it, named after "via".
        ("Proxies", "HTTPX supports setting up HTTP proxies via the `proxy` parameter to be passed on client "
         "initialization.\n", "How do I set up HTTP proxies?"),
    ]:
        text, evidence = _section(heading, body)
        kept = _chunk("doc.md#0", text, heading)
        assert gated_generator.generate([AnswerRequest(question, kept, [kept], evidence=evidence)])[0].output, question
    assert not gives_a_way("How do I manage environments?", "Poetry makes project environment isolation one of its "
                           "core features.")
    # fastapi_docs/python-types.md: the text talking about itself tells no way.
    assert not gives_a_way("How do I declare types?", "You just saw the main place to declare type hints.")
    # ... and does not pass the gate as a direct answer either ("type hints" is no instruction to type).
    text, evidence = _section("Declaring types", "You just saw the main place to declare type hints. As function "
                              "parameters.\n")
    oracle = _chunk("python-types.md#3", text, "Python Types Intro")
    request = AnswerRequest("How do I declare types?", oracle, [oracle], evidence=evidence)
    assert gated_generator.generate([request])[0].rejected == "weak_answer"
    # httpx/docs/advanced/text-encodings.md: "Content-Type" is a header's name, not the verb "type".
    assert not gives_a_way("How do I use the default encoding?", "Most servers will respond with a properly formatted "
                           "Content-Type header, including a charset encoding.")
    # An FAQ's own question keeps the author's answer, whatever its form (poetry_docs/faq.md).
    faq_question = "How do I migrate an existing Poetry project using tools.poetry section to use the new project section?"
    text, evidence = _section(faq_question, "Poetry `>=2.0.0` should seamlessly support both `tools.poetry` section only "
                              "configuration as well using the `project` section.\n")
    faq = _chunk("faq.md#5", text, f"FAQ > {faq_question}")
    assert gated_generator.generate([AnswerRequest(faq_question, faq, [faq], evidence=evidence)])[0].output


def test_the_next_sentence_that_carries_the_anchor_on_is_stated_too():
    """poetry_docs/faq.md: "Unlike `pip`, Poetry doesn't resolve for just the Python in the current environment."
    was the whole final answer; the point is the sentence after it ("Instead, ..."). A sentence about the docs
    ("This chapter documents ...") or an example's case ("In our example, ...") is not the answer."""
    text = ("Unlike `pip`, Poetry doesn't resolve for just the Python in the current environment. Instead, it makes "
            "sure that a dependency is resolvable within the given Python version range in `pyproject.toml`.\n")
    answer = select_quotes("Why is Poetry telling me that the Python range is not compatible?", text).answer
    assert answer.endswith("resolvable within the given Python version range in `pyproject.toml`."), answer
    text = ("You've already learned how to use the command-line interface to do some things. This chapter documents "
            "all the available commands.\n")
    assert select_quotes("What are commands?", text) is None  # "You've already learned how to ...": a pointer too
    text = text.replace("You've already learned how to use", "Commands are how you drive")
    assert not any("This chapter" in quote for quote in select_quotes("What are commands?", text).quotes)
    text, evidence = _section("Version constraints", (
        "In our example, we are requesting the `pendulum` package with the version constraint `>=2.1.0 <3.0.0`.\n\n"
        "Version constraints tell Poetry which releases of a dependency your project accepts.\n"))
    answer = select_quotes("What are version constraints?", text, evidence=evidence).answer
    assert answer.startswith("Version constraints tell Poetry"), answer
    # attrs/docs/how-does-it-work.md: the point comes last, after "Therefore"; "such" leans on the sentence before.
    text, evidence = _section("Cached Properties on Slotted Classes", (
        "By default, the standard library `functools.cached_property()` decorator does not work on slotted classes, "
        "because it requires a `__dict__` to store the cached value. This could be surprising when using attrs, as "
        "slotted classes are the default. Therefore, attrs converts `cached_property`-decorated methods when "
        "constructing slotted classes.\n"))
    answer = select_quotes("What are cached properties on slotted classes?", text, evidence=evidence).answer
    assert answer.endswith("Therefore, attrs converts `cached_property`-decorated methods when constructing slotted "
                           "classes."), answer
    text, evidence = _section("Hash Code Caching", (
        "Some objects have hash codes which are expensive to compute. If such objects are to be stored in hash-based "
        "collections, it can be useful to compute the hash codes only once.\n"))
    answer = select_quotes("What is hash code caching?", text, evidence=evidence).answer
    assert answer.endswith("compute the hash codes only once."), answer


def test_a_signpost_is_not_carried_on_and_next_section_pointers_are_not_quoted():
    """fastapi_docs/advanced/stream-data.md: "... you should Stream JSON Lines. But if you want to stream pure
    binary data or strings, here's how you can do it." stated the signpost too; "Check out the Pydantic
    migration guide." and "continue to the next section below" point elsewhere."""
    text = ("If you want to stream data that can be structured as JSON, you should Stream JSON Lines. But if you want "
            "to stream pure binary data or strings, here's how you can do it.\n")
    answer = select_quotes("How do I stream data that can be structured as JSON?", text).answer
    assert answer == "If you want to stream data that can be structured as JSON, you should Stream JSON Lines."
    text = ("Check out the Pydantic migration guide.\n\nFor the things that need changes in your Pydantic models, the "
            "Pydantic team built `bump-pydantic`.\n\nTip: If you know how imports work, continue to the next section below.\n")
    quotes = select_quotes("What is a migration?", text).quotes
    assert not any("Check out" in quote or "next section" in quote for quote in quotes), quotes
    # flask_docs/patterns/mongoengine.rst: the page says what it will show; the way is further on.
    text = ("Using a document database like MongoDB is a common alternative to relational SQL databases. This "
            "pattern shows how to use MongoEngine, a document mapper library, to integrate with MongoDB.\n")
    quotes = select_quotes("How do I use MongoDB with MongoEngine?", text).quotes
    assert not any("This pattern shows" in quote for quote in quotes), quotes


def test_ordinary_sentences_are_not_taken_for_chatter_pointers_or_fragments(gated_generator):
    """What the heuristics above must leave alone (a review's counter-examples): an FAQ's "Yes, ...", a
    hyphenated "Well-formed ...", a tutorial step "Let's move ...", a "Whether ..." with its own predicate, a
    sentence opening "A request arrives ...", behaviour seen "later in the log", and a command named as the way."""
    text = "Yes, the cache is shared between all workers. Each worker process keeps its own connection pool.\n"
    assert select_quotes("Can the cache be shared?", text).answer.startswith("Yes, the cache is shared")
    text = "Well-formed JSON is required by the endpoint. The server rejects anything else with a 422 status.\n"
    assert select_quotes("What is well-formed JSON?", text).answer.startswith("Well-formed JSON is required")
    text = "Let's move the database settings into a separate module named `settings.py`.\n"
    assert select_quotes("How do I move the settings?", text).answer == (
        "Move the database settings into a separate module named `settings.py`.")
    assert select_quotes("What is `package-mode`?", "Whether the cache is used depends on the `package-mode` flag.\n"
                         ).answer == "Whether the cache is used depends on the `package-mode` flag."
    text = "A request arrives at the router, which matches it against the routes.\n"
    assert select_quotes("What is a request?", text).answer == text.strip()
    text = "An interval schedule starts with `every` followed by a duration.\n"  # examples/corpus: "Intervals are an ..."
    assert select_quotes("What are intervals?", text).answer == text.strip()
    text = "If you enable debug mode, you will see the full traceback later in the log.\n"
    assert select_quotes("What does debug mode show?", text).answer == text.strip()
    text, evidence = _section("Building", "The `poetry build` command builds the source and wheel archives.\n")
    oracle = _chunk("cli.md#3", text, "Commands > build")
    assert gated_generator.generate([AnswerRequest("How do I build my package?", oracle, [oracle],
                                                   evidence=evidence)])[0].output


def test_a_how_answer_states_the_commands_its_quote_shows():
    """fastapi_docs: "Add `pwdlib` with Argon2 to your project:" over a console block ended the final answer
    without `uv add ...` (the progress bar under it made the block look like more than commands), and
    "use `fastapi run` to serve your FastAPI application:" lost its block, 25 lines of server output. poetry_docs:
    "To use HTTP basic authentication ..., you can configure credentials ..." took none of the commands after it."""
    text = 'Add `pwdlib` with Argon2 to your project:\n\n```console\n$ uv add "pwdlib[argon2]"\n---> 100%\n```\n'
    choice = select_quotes("How do I install `pwdlib`?", text)
    assert "---> 100%" in choice.quotes[0]  # quotes are verbatim
    assert choice.answer == 'Add `pwdlib` with Argon2 to your project: `uv add "pwdlib[argon2]"`.'
    output = "\n".join(f"      INFO   Server line {n}" for n in range(25))
    text = f"In short, use `fastapi run` to serve your FastAPI application:\n\n```console\n$ fastapi run main.py\n\n{output}\n```\n"
    choice = select_quotes("How do I use the `fastapi run` command?", text)
    assert choice.answer == "In short, use `fastapi run` to serve your FastAPI application: `fastapi run main.py`."
    text = ("To use HTTP basic authentication with your git repositories, you can configure credentials similar to how "
            "repository credentials are configured.\n\n```bash\npoetry config http-basic.git-org-project username token\n"
            "poetry add git+https://github.com/org/project.git\n```\n")
    answer = select_quotes("How do I use HTTP basic authentication with my git repositories?", text).answer
    assert answer.endswith(": `poetry config http-basic.git-org-project username token`, then "
                           "`poetry add git+https://github.com/org/project.git`."), answer
    # Program output without a prompt on any line is code, not a session: a long one is still left out.
    text = ("The server prints this when it starts:\n\n```text\n" + output + "\n```\n\n"
            "The server then waits for requests on port 8000 until it is stopped.\n")
    quotes = select_quotes("What does the server do when it starts?", text).quotes
    assert quotes and not any("Server line 24" in quote for quote in quotes), quotes


def test_a_page_field_is_not_the_lead_and_these_rows_are_the_tables():
    """examples/corpus/guide/plugins.rst: the page's ":Audience:" field answered "What are Tidepool plugins?"
    ("Audience: users who want Tidepool to notify ..."); the first sentence about plugins does. reference/cli.md:
    "Every `tidepool` subcommand exits with one of these statuses." pointed at nothing once the table was left
    out of the final answer."""
    text = ("Audience: users who want Tidepool to notify, report or check things\n\n"
            "Applies to: Tidepool 2.0 and later (plugin protocol version 3)\n\n"
            "Plugins let Tidepool call your own programs at fixed points in the life of a run.\n")
    answer = select_quotes("What are Tidepool plugins?", text, evidence=(0, len(text)), title="Tidepool plugins").answer
    assert answer.startswith("Plugins let Tidepool call your own programs"), answer
    # The field that is the asked term still answers it (a reference page's "`before_run`: Called before ...").
    text = "`before_run`: Called before the first attempt of a run.\n\n`after_run`: Called once the run has ended.\n"
    assert select_quotes("What is `before_run`?", text, evidence=(0, len(text))).answer.startswith("`before_run`")
    text = ("Every `tidepool` subcommand exits with one of these statuses:\n\n| Status | Meaning |\n|---|---|\n"
            "| 0 | Success. |\n| 1 | Usage error. |\n| 4 | The scheduler is not running. |\n")
    answer = select_quotes("What are exit statuses?", text, evidence=(0, len(text))).answer
    assert answer == "Every `tidepool` subcommand exits with one of the statuses in the table quoted above.", answer


def test_a_how_answer_that_only_says_what_not_to_do_takes_the_way_quoted_after_it():
    """flask_docs/tutorial/deploy.rst: "How do I run with a production server?" was answered "... you should not
    use the built-in development server (`flask run`)." although "Instead, use a production WSGI server." was
    quoted too: what to do instead comes with what not to do."""
    text = ("When running publicly rather than in development, you should not use the built-in development server "
            "(`flask run`). The development server is provided by Werkzeug for convenience, but is not designed to "
            "be particularly efficient, stable, or secure.\n\nInstead, use a production WSGI server.\n")
    answer = select_quotes("How do I run with a production server?", text, evidence=(0, len(text))).answer
    assert answer.endswith("(`flask run`). Instead, use a production WSGI server."), answer
    # A statement that tells the way itself takes no "Instead, ..." along.
    text = ("Run the production server with `waitress-serve --port 8080 myapp:app` from the project folder. The "
            "development server reloads on every change and is meant for development only.\n\n"
            "Instead, some teams use Gunicorn behind a proxy.\n")
    answer = select_quotes("How do I run with a production server?", text, evidence=(0, len(text))).answer
    assert answer.startswith("Run the production server") and "Instead" not in answer, answer


def test_a_how_answer_brings_the_line_of_a_long_example_that_does_it():
    """httpx/docs/advanced/timeouts.md: "How do I set and disable timeouts?" was answered "You can set timeouts
    for an individual request." The example is too long to inline; its line naming the timeout comes along."""
    text, evidence = _section("Setting and disabling timeouts", (
        "You can set timeouts for an individual request:\n\n```python\n# Using the top-level API:\n"
        "httpx.get('http://example.com/api/v1/example', timeout=10.0)\n\n# Using a client instance:\n"
        "with httpx.Client() as client:\n    client.get(\"http://example.com/api/v1/example\", timeout=10.0)\n```\n"))
    choice = select_quotes("How do I set and disable timeouts?", text, evidence=evidence)
    assert choice.quotes[0].endswith("timeout=10.0)\n```")
    assert choice.answer == ("You can set timeouts for an individual request, for example "
                             "`httpx.get('http://example.com/api/v1/example', timeout=10.0)`.")
    # The question asks two things; the section's next lead-in does the other ("Or disable ..."): both come.
    both = text + ("\nOr disable timeouts for an individual request:\n\n```python\n# Using the top-level API:\n"
                   "httpx.get('http://example.com/api/v1/example', timeout=None)\n\n# Using a client instance:\n"
                   "with httpx.Client() as client:\n    client.get(\"http://example.com/api/v1/example\", timeout=None)\n```\n")
    choice = select_quotes("How do I set and disable timeouts?", both, evidence=(evidence[0], len(both)))
    assert choice.answer == ("You can set timeouts for an individual request, for example "
                             "`httpx.get('http://example.com/api/v1/example', timeout=10.0)`. Or disable timeouts for an "
                             "individual request, for example `httpx.get('http://example.com/api/v1/example', timeout=None)`.")
    assert len(choice.quotes) == 2 and choice.quotes[1].startswith("Or disable timeouts")
    # No line names what is asked: the answer points at the quote as before.
    assert select_quotes("How do I set request timeouts for proxies?", text.replace("timeout=", "t="), evidence=evidence
                         ).answer == "You can set timeouts for an individual request."
    # A Python session gives its input line, without the prompt; a sentence naming the call keeps to itself.
    text, evidence = _section("Response Headers", "We can view the server's response headers using a Python "
                              "dictionary:\n\n```pycon\n>>> r.headers\n{'content-type': 'application/json', "
                              "'content-encoding': 'gzip', 'transfer-encoding': 'chunked', 'connection': 'close'}\n"
                              ">>> r.headers['Content-Type']\n'application/json'\n```\n")
    assert select_quotes("How do I view the server's response headers?", text, evidence=evidence).answer == (
        "We can view the server's response headers using a Python dictionary, for example `r.headers`.")
    text, evidence = _section("Opening and closing clients", "Alternatively, use `await client.aclose()` if you want "
                              "to close a client explicitly:\n\n```python\nclient = httpx.AsyncClient()\n...\n"
                              "await client.aclose()\n```\n")
    assert select_quotes("How do I open and close clients?", text, evidence=evidence).answer == (
        "Use `await client.aclose()` if you want to close a client explicitly.")
    # httpx/docs/advanced/ssl.md: a sentence ending in "..." leads into its example as a colon would; the
    # example's `verify=False` is what "verification" asks for, though the two stem apart.
    text, evidence = _section("Enabling and disabling verification", (
        "You can disable SSL verification completely and allow insecure requests...\n\n```pycon\n"
        ">>> httpx.get(\"https://expired.badssl.com/\", verify=False)\n<Response [200 OK]>\n```\n"))
    choice = select_quotes("How do I enable and disable verification?", text, evidence=evidence)
    assert choice.quotes[0].endswith("<Response [200 OK]>\n```")
    assert choice.answer == ("You can disable SSL verification completely and allow insecure requests, for example "
                             "`httpx.get(\"https://expired.badssl.com/\", verify=False)`.")
    # Not a tutorial's "let's start by looking at ...": it announces the example, not a way.
    text, evidence = _section("Using the default encoding", (
        "To understand this better let's start by looking at the default behaviour for text decoding...\n\n"
        "```python\nimport httpx\nclient = httpx.Client()\n```\n\nMost servers will respond with a properly formatted "
        "Content-Type header, including a charset encoding.\n"))
    choice = select_quotes("How do I use the default encoding?", text, evidence=evidence)
    assert not choice.answer.startswith("To understand this better")

    # httpx/docs/quickstart.md: "To X, use Y:" is a step too; of the lines naming headers, the call.
    text, evidence = _section("Custom Headers", (
        "To include additional headers in the outgoing request, use the `headers` keyword argument:\n\n```pycon\n"
        ">>> url = 'https://httpbin.org/headers'\n>>> headers = {'user-agent': 'my-app/0.0.1'}\n"
        ">>> r = httpx.get(url, headers=headers)\n```\n"))
    assert select_quotes("How do I include additional headers in the outgoing request?", text, evidence=evidence
                         ).answer.endswith("use the `headers` keyword argument, for example `r = httpx.get(url, headers=headers)`.")
    # attrs/docs/examples.md: a session's "... " lines are its input too; requests' quickstart: a one-line
    # session is inlined without its prompt.
    text, evidence = _section("Keyword-only Attributes", (
        "You can also add keyword-only attributes:\n\n```pycon\n>>> @define\n... class A:\n"
        "...     a: int = field(kw_only=True)\n>>> A()\nTraceback (most recent call last):\n...\n"
        "TypeError: A() missing 1 required keyword-only argument: 'a'\n```\n"))
    assert select_quotes("How do I add keyword-only attributes?", text, evidence=evidence).answer == (
        "You can also add keyword-only attributes, for example `a: int = field(kw_only=True)`.")
    text, evidence = _section("Make a Request", (
        "Making a request with Requests is very simple. Begin by importing the Requests module:\n\n```pycon\n"
        ">>> import requests\n```\n"))
    assert select_quotes("How do I make a request?", text, evidence=evidence).answer.endswith(
        "Begin by importing the Requests module: `import requests`.")
    # httpx/docs/quickstart.md: a paragraph that ends saying what to use shows it in the session after it,
    # however long the output that session prints.
    output = "\n".join(f'  "key{i}": {i},' for i in range(14))
    text, evidence = _section("Sending JSON Encoded Data", (
        "Form encoded data is okay if all you need is a simple key-value data structure. For more complicated data "
        "structures you'll often want to use JSON encoding instead.\n\n```pycon\n>>> data = {'integer': 123}\n"
        f'>>> r = httpx.post("https://httpbin.org/post", json=data)\n>>> print(r.text)\n{{\n{output}\n}}\n```\n'))
    assert select_quotes("How do I send JSON encoded data?", text, evidence=evidence).answer.endswith(
        "For more complicated data structures you'll often want to use JSON encoding instead, for example "
        '`r = httpx.post("https://httpbin.org/post", json=data)`.')
    # click/docs/commands.md: no line says it; the sentence stays as it is, pointing at nothing.
    text, evidence = _section("Renaming Commands", (
        "By default the command is the function name with underscores replaced by dashes. To change this pass the "
        "desired name into the first positional argument.\n\n```python\n@click.command('greet')\ndef say_hello():\n"
        "    pass\n```\n"))
    assert select_quotes("How do I rename commands?", text, evidence=evidence).answer.endswith(
        "To change this pass the desired name into the first positional argument.")
    # requests/docs/user/quickstart.rst: "you would use the following code:" names the line it means.
    text, evidence = _section("Passing Parameters In URLs", (
        "As an example, if you wanted to pass `key1=value1` and `key2=value2` to `httpbin.org/get`, you would use "
        "the following code:\n\n```\n>>> payload = {'key1': 'value1', 'key2': 'value2'}\n"
        ">>> r = requests.get('https://httpbin.org/get', params=payload)\n```\n"))
    assert select_quotes("How do I pass parameters in URLs?", text, evidence=evidence).answer == (
        "As an example, if you wanted to pass `key1=value1` and `key2=value2` to `httpbin.org/get`, you would use "
        "`r = requests.get('https://httpbin.org/get', params=payload)`.")


def test_an_api_references_one_line_description_answers_what_x_is():
    """httpx/docs/api.md: "What is `Headers`?" was answered with its method list ("`def __init__(self, headers,
    encoding=None)`; `def copy()` - Headers."); the description under the heading says what it is."""
    text, evidence = _section("`Headers`", (
        "A case-insensitive multi-dict.\n\n```pycon\n>>> headers = Headers({'Content-Type': 'application/json'})\n"
        "```\n\n- `def __init__(self, headers, encoding=None)`\n- `def copy()` - Headers\n"))
    choice = select_quotes("What is `Headers`?", text, evidence=evidence)
    assert choice.quotes == ["A case-insensitive multi-dict."]
    assert choice.answer == "`Headers` is a case-insensitive multi-dict."
    text, evidence = _section("`Cookies`", "A dict-like cookie store.\n")
    assert select_quotes("What is `Cookies`?", text, evidence=evidence).answer == "`Cookies` is a dict-like cookie store."
    # A sentence, though short and verbless to our tagger, is not equated with X.
    text, evidence = _section("Event loop", "A new task starts at once. Each task runs until it awaits.\n")
    assert select_quotes("What is the event loop?", text, evidence=evidence).answer.startswith("A new task starts")
    # httpx/docs/third_party_packages.md: a package's description without its subject gets it.
    text, evidence = _section("HTTPX-Auth", "Provides authentication classes to be used with HTTPX's authentication "
                              "parameter.\n")
    assert select_quotes("What is HTTPX-Auth?", text, evidence=evidence).answer == (
        "HTTPX-Auth provides authentication classes to be used with HTTPX's authentication parameter.")


def test_x_followed_by_the_kind_of_thing_it_is_opens_its_sentence():
    """click/docs/contrib.md: "What is `click-contrib`?" was answered with the page's motivation ("As the user
    number of Click grows, ..."); "The click-contrib GitHub organization exists as ..." says what it is."""
    text, evidence = _section("click-contrib", (
        "As the user number of Click grows, more and more major feature requests are made. Maintainers have to "
        "choose what is reasonable to maintain in Click core.\n\nThe click-contrib GitHub organization exists as a "
        "place to collect third-party packages that extend Click's features.\n"))
    assert select_quotes("What is `click-contrib`?", text, evidence=evidence).answer.startswith(
        "The click-contrib GitHub organization exists as a place")
    # X as a modifier of another thing does not ("The template folder ..." is about the folder).
    text, evidence = _section("Templates", "Jinja renders templates on the server.\n\nThe template folder holds the "
                              "files next to the app.\n")
    assert select_quotes("What are templates?", text, evidence=evidence).answer.startswith("Jinja renders templates")


def test_a_sentence_that_runs_into_its_list_takes_it_along():
    """pip's docs: "How do I triage issues?" was answered "To triage issues means to identify what kind of issue
    is happening and.": the sentence goes on in the list after it, without a colon."""
    text, evidence = _section("Triage Issues", (
        "To triage issues means to identify what kind of issue is happening and\n\n- confirm bugs\n"
        "- provide support\n- discuss and design around the uses of the tool\n\nSpecifically, to address an issue:\n"))
    choice = select_quotes("How do I triage issues?", text, evidence=evidence)
    assert choice.quotes == [text[text.index("To triage") : text.index("\n\nSpecifically")]]
    assert choice.answer == ("To triage issues means to identify what kind of issue is happening and confirm bugs, "
                             "provide support, discuss and design around the uses of the tool.")
    # Items with commas of their own are kept apart with semicolons; a long list still runs on from the sentence.
    text, evidence = _section("Triage Issues", (
        "To triage issues means to identify what kind of issue is happening, and\n\n- confirm bugs, if any\n"
        "- provide support\n"))
    assert select_quotes("How do I triage issues?", text, evidence=evidence).answer == (
        "To triage issues means to identify what kind of issue is happening, and confirm bugs, if any; provide support.")
    items = "".join(f"- confirm bug number {n} now\n" for n in range(12))
    text, evidence = _section("Triage Issues", f"To triage issues means to identify what is happening and\n\n{items}")
    answer = select_quotes("How do I triage issues?", text, evidence=evidence).answer
    assert answer.startswith("To triage issues means to identify what is happening and confirm bug number 0 now; ")
    assert answer.endswith("more in the list quoted above.")
    # A sentence that ends in a full stop keeps its list to itself.
    ended = text.replace("is happening and\n", "is happening.\n")
    assert select_quotes("How do I triage issues?", ended, evidence=evidence).quotes[0].endswith("is happening.")


def test_a_pointer_to_more_details_is_no_answer():
    """pip's docs: "What does the `ensurepip` module do?" was answered "More details about how `ensurepip` works
    and how it can be used, is available in the standard library documentation."."""
    text, evidence = _section("ensurepip", (
        "More details about how `ensurepip` works and how it can be used, is available in the standard library "
        "documentation.\n\nThe `ensurepip` module bootstraps pip into an existing Python installation.\n"))
    assert select_quotes("What does the `ensurepip` module do?", text, evidence=evidence).answer == (
        "The `ensurepip` module bootstraps pip into an existing Python installation.")
    pointer_only = text[: text.index("\n\nThe `ensurepip` module")] + "\n"
    assert select_quotes("What does the `ensurepip` module do?", pointer_only) is None
    # FastAPI's release notes: "What are `Query` parameter models?" was answered "Read the new docs: ...".
    assert select_quotes("What are `Query` parameter models?", "Read the new docs: Query Parameter Models.\n") is None
    # typer's and FastAPI's docs: pointers to another section, ahead or behind.
    for pointer in ("In a future section you will see how to use custom markup in the `help` for CLI arguments.",
                    "In the main tutorial you read how to add Custom Middleware to your application.",
                    "In the next few sections we'll see some ways to modify how CLI arguments work.",
                    "And then you also read how to handle CORS with the `CORSMiddleware`.",
                    "In this section we'll see how to use other middlewares.",
                    "In the First Steps section you saw how to add help for a CLI app by adding it to a docstring."):
        assert select_quotes("How do I use help with style using Rich?", pointer + "\n") is None
    # Sentences that only look like pointers stay quotable.
    for sentence in ("In the next section the scheduler retries jobs.", "Read the Docs builds and hosts documentation.",
                     "In the admin page you will see the new model listed.",
                     "Once you have learned how to declare a dependency, you can mark it optional with `--optional`."):
        assert select_quotes("What does it do?", sentence + "\n").quotes == [sentence]


def test_a_yes_or_no_question_is_settled_by_the_sentence_that_says_yes_or_no():
    """poetry_docs/faq.md: "Is tox supported?" was answered "`tox` can be configured in multiple ways.", which the
    encoder found closer to the question than the FAQ's own "Yes. Provided that you are using `tox` >= 4, ..."."""
    text, evidence = _section("Is tox supported?", (
        "Yes. Provided that you are using `tox` >= 4, you can use it in combination with the PEP 517 compliant build "
        "system provided by Poetry.\n\nSo, in your `pyproject.toml` file, add this section if it does not already "
        "exist:\n\n```toml\n[build-system]\nrequires = [\"poetry-core>=1.0.0\"]\n```\n\n`tox` can be configured in "
        "multiple ways. It depends on what should be the code under test and which dependencies should be installed.\n"))
    closer_to_the_question = [0.45, 0.4, 0.7, 0.6]  # as the encoder ranked them: the "configured" sentence first
    assert len(candidate_sentences(text)) == len(closer_to_the_question)
    choice = select_quotes("Is tox supported?", text, similarities=closer_to_the_question, evidence=evidence)
    assert choice.answer.startswith("Yes. Provided that you are using `tox` >= 4")
    # "No more than ...", "No other ..." open no answer to it.
    text = ("No more than two workers run at once. The scheduler supports tox environments as jobs.\n")
    assert select_quotes("Is tox supported?", text, similarities=[0.4, 0.6]).answer.startswith("The scheduler supports")


def test_a_lead_in_its_block_cuts_in_two_is_no_statement():
    """typer's docs: "In Python, in a function, a parameter with a default value like `lastname` in: [code] is
    considered an "optional" parameter." was answered with the first half alone ("... like `lastname` in the code
    quoted above."), and "So, if you have a function with: [code] Typer will create ..." with its condition."""
    code = "\n\n```python\ndef main(name: str, lastname: str = \"\"):\n    print(name, lastname)\n```\n\n"
    text = ("In Python, in a function, a parameter with a default value like `lastname` in:" + code
            + "is considered an \"optional\" parameter.\n\nFor a CLI program, an option is usually optional.\n")
    choice = select_quotes("What are Python default values?", text)
    assert choice.answer == "For a CLI program, an option is usually optional."  # neither half alone
    text = ("Typer creates CLI option names from the function parameters.\n\nSo, if you have a function with:" + code
            + "Typer will create a CLI option `--lastname`.\n")
    assert select_quotes("What is the CLI option name?", text).answer == (
        "Typer creates CLI option names from the function parameters.")
    # A whole sentence (it ends on no open word) stands, whatever runs on after its block.
    for after in ("which will give you something similar to this.", "will output something similar to this."):
        text = ("To list the current configuration you can use the `--list` option of the `config` command:\n\n"
                f"```bash\npoetry config --list\n```\n\n{after}\n")
        assert select_quotes("How do I list the current configuration?", text).answer == (
            "To list the current configuration you can use the `--list` option of the `config` command: "
            "`poetry config --list`.")
    # A condition with its main clause ("you ... need to", an imperative) and no comma is whole too.
    code = "\n\n```python\nfrom sqlalchemy import create_engine\nengine = create_engine('sqlite:////tmp/test.db')\n```\n\n"
    for lead, question in (("If you just want the abstraction layer you only need to start with:", "What is the SQL layer?"),
                           ("Once installed you can start the engine with:", "How do I start the engine?"),
                           ("When deploying to production run:", "How do I deploy to production?")):
        choice = select_quotes(question, lead + code + "Then you can declare tables.\n", similarities=[0.8, 0.3])
        assert choice.answer.startswith(lead[:-1]), (lead, choice.answer)
    # The half after a block that starts on a verb is not quoted alone either.
    text = ("The `copy` helper is used like:" + code.replace("create_engine", "copy") + "returns a new list with the "
            "same items.\n\nLists are copied shallowly.\n")
    assert not select_quotes("What is the `copy` helper?", text).answer.startswith("returns")


def test_a_sentence_pointing_back_at_code_it_cannot_quote_answers_nothing():
    """Flask's docs: "What are custom commands?" was answered "This example adds the same command, but as `user
    create`, a command in a group.", pointing at code the answer does not carry."""
    text = ("```python\n@app.cli.command('create')\ndef create_user(name):\n    ...\n```\n\n"
            "This example adds the same command, but as `user create`, a command in a group.\n")
    assert select_quotes("What are custom commands?", text) is None
    # ... nor when the sentence after it leans on it ("This is useful if ...") and brings it into the answer.
    text += "This is useful if you want to organize multiple related commands.\n"
    assert select_quotes("What are custom commands?", text, similarities=[0.3, 0.7]) is None
    text = ("Commands are added with the `app.cli.command()` decorator.\n\n" + text)
    assert select_quotes("What are custom commands?", text).answer == (
        "Commands are added with the `app.cli.command()` decorator.")


def test_where_to_import_x_from_is_not_what_x_is():
    """FastAPI's reference: "What are status codes?" was answered "You can import the `status` module from
    `fastapi`: `from fastapi import status`."; the import answers how to import it, not what it is."""
    text = "You can import the `status` module from `fastapi`:\n\n```python\nfrom fastapi import status\n```\n"
    assert select_quotes("What are status codes?", text) is None
    assert select_quotes("How do I import the `status` module?", text).answer == (
        "You can import the `status` module from `fastapi`: `from fastapi import status`.")
    assert select_quotes("What are import hooks?", "Import hooks import modules from custom locations such as zip "
                         "files.\n").answer.startswith("Import hooks import modules")
    text += "\n`status` holds the HTTP status codes as named constants.\n"
    assert select_quotes("What are status codes?", text).answer == "`status` holds the HTTP status codes as named constants."


def test_a_need_alone_is_no_answer_to_what_x_is():
    """FastAPI's docs: "What are global dependencies?" was answered "For some types of applications you might want
    to add dependencies to the whole application.", the need the section opens with."""
    text = ("For some types of applications you might want to add dependencies to the whole application.\n\n"
            "Similar to the way you can add `dependencies` to the path operation decorators, you can add them to the "
            "`FastAPI` application.\n")
    assert select_quotes("What are global dependencies?", text, similarities=[0.8, 0.5]).answer == (
        "Similar to the way you can add `dependencies` to the path operation decorators, you can add them to the "
        "`FastAPI` application.")
    need_only = text.split("\n\n")[0] + "\n"
    assert select_quotes("What are global dependencies?", need_only) is None
    # A definition that mentions a need, a need with what you can do, and a need with the sentence after it stay.
    for question, answer in (
            ("What is a token?", "A token is a secret string you will need to authenticate uploads to PyPI."),
            ("What is a wheel?", "A wheel is a built package, so you don't need a compiler to install it."),
            ("What are global dependencies?", "If you might want dependencies everywhere, you can add them to the app.")):
        assert select_quotes(question, answer + "\n").answer == answer
    two = "For some apps you might want shared dependencies. They run before every path operation.\n"
    assert select_quotes("What are global dependencies?", two).answer == two.strip()


def test_what_the_reader_may_have_seen_is_no_answer_when_the_way_follows():
    """typer's docs: "How do I support `python -m`?" was answered "You may have seen that you can call many Python
    modules as scripts with `python -m some-module`."; the way is the next paragraph."""
    text = ("You may have seen that you can call many Python modules as scripts with `python -m some-module`.\n\n"
            "You can support that same style of calling the package, simply by adding a file `__main__.py`.\n")
    text, evidence = _section("Support `python -m`", text)
    assert select_quotes("How do I support `python -m`?", text, similarities=[0.7, 0.5], evidence=evidence).answer == (
        "You can support that same style of calling the package, simply by adding a file `__main__.py`.")


def test_a_sentence_leaning_on_one_not_quoted_does_not_open_the_statement():
    """marshmallow's docs: "How do I override how attributes are accessed?" was answered "This will work for most
    use cases. However, if you want to specify ..., you can override the `get_attribute` method."; the "This"
    stands for the sentence before it, which is not quoted."""
    text = ("By default, marshmallow uses `utils.get_value` to pull attributes from objects for serialization. This will "
            "work for most use cases.\n\nHowever, if you want to specify how values are accessed from an object, you "
            "can override the `get_attribute` method.\n")
    choice = select_quotes("How do I override how attributes are accessed?", text, similarities=[0.3, 0.5, 0.7])
    assert choice.answer == ("If you want to specify how values are accessed from an object, you can override the "
                             "`get_attribute` method.")
    # An anchor that leans by a pronoun too ("However, it ...") keeps the sentence it leans on.
    text = text.replace("However, if you want to specify how values are accessed from an object, you can override",
                        "However, it can be replaced: override")
    choice = select_quotes("How do I override how attributes are accessed?", text, similarities=[0.3, 0.5, 0.7])
    assert choice.answer.startswith("This will work for most use cases.")
    # "These are ..." under its heading says what the heading names: it stays.
    text = ("These are any `OPTIONS` request with `Origin` headers. In this case the middleware will intercept the "
            "request and respond with CORS headers.\n")
    choice = select_quotes("What are CORS preflight requests?", text, similarities=[0.5, 0.7])
    assert choice.answer.startswith("These are any `OPTIONS` request")


def test_this_and_the_headings_noun_at_a_sections_start_stand_for_the_heading():
    """Flask's docs: "What are set-cookie options?" was answered "Flask has configuration options to set these on the
    session cookie. ...", passing over the section's own "These options can be added to a `Set-Cookie` header ..."."""
    text, evidence = _section("Set-Cookie options", (
        "These options can be added to a `Set-Cookie` header to improve their security. Flask has configuration "
        "options to set these on the session cookie.\n"))
    choice = select_quotes("What are set-cookie options?", text, similarities=[0.5, 0.7], evidence=evidence)
    assert choice.answer.startswith("Set-cookie options can be added to a `Set-Cookie` header to improve their security.")
    # Another noun after "This" leans on the sentence before, as before.
    text, evidence = _section("Set-Cookie options", "This header can be added to improve security.\n")
    choice = select_quotes("What are set-cookie options?", text, evidence=evidence)
    assert choice is None or not choice.answer.startswith("Set-cookie options")


def test_all_you_need_to_do_after_the_sentence_announcing_it_is_stated_too():
    """FastAPI's docs: "How do I access the request body in an exception handler?" was answered "We can also use this
    same approach to access the request body in an exception handler.", without the next sentence's point."""
    text, evidence = _section("Accessing the request body in an exception handler", (
        "We can also use this same approach to access the request body in an exception handler.\n\n"
        "All we need to do is handle the request inside a `try`/`except` block.\n"))
    choice = select_quotes("How do I access the request body in an exception handler?", text, similarities=[0.8, 0.4],
                           evidence=evidence)
    assert choice.answer.endswith("All we need to do is handle the request inside a `try`/`except` block.")


def test_what_should_i_do_asks_for_the_way_after_the_premise():
    """Poetry's FAQ "My requests are timing out!" became "What should I do if my requests are timing out?", answered
    with the premise alone: "Poetry's default HTTP request timeout is 15 seconds, the same as `pip`." The way is the
    sentence after it, in the passive; a how-question's statement goes on to it."""
    assert [question_form(q) for q in ("What should I do if my requests are timing out?", "What can we do about it?",
                                       "What should I install?", "What do I need?", "What can I do with Typer?")] == [
        "how", "how", "other", "other", "other"]
    text, evidence = _section("My requests are timing out!", (
        "Poetry's default HTTP request timeout is 15 seconds, the same as `pip`.\n"
        "Similar to `PIP_REQUESTS_TIMEOUT`, the experimental environment variable `POETRY_REQUESTS_TIMEOUT` can be set "
        "to alter this value.\n"))
    choice = select_quotes("What should I do if my requests are timing out?", text, similarities=[0.6, 0.5],
                           evidence=evidence)
    assert choice.answer == (
        "Poetry's default HTTP request timeout is 15 seconds, the same as `pip`. Similar to `PIP_REQUESTS_TIMEOUT`, "
        "the experimental environment variable `POETRY_REQUESTS_TIMEOUT` can be set to alter this value.")
    # A statement that tells the way already stops there; a what-question is answered by the fact alone.
    text, evidence = _section("Requirements files", (
        "To install the packages listed in a requirements file, you can run `pip install -r requirements.txt`.\n"
        "You can also pass `--no-deps` to skip their dependencies.\n"))
    choice = select_quotes("How do I install packages from a requirements file?", text, similarities=[0.7, 0.3],
                           evidence=evidence)
    assert choice.answer == "To install the packages listed in a requirements file, you can run `pip install -r requirements.txt`."
    text, evidence = _section("Timeouts", (
        "Poetry's default HTTP request timeout is 15 seconds, the same as `pip`.\n"
        "The experimental environment variable `POETRY_REQUESTS_TIMEOUT` can be set to alter this value.\n"))
    choice = select_quotes("What is the default request timeout?", text, similarities=[0.7, 0.4], evidence=evidence)
    assert choice.answer == "Poetry's default HTTP request timeout is 15 seconds, the same as `pip`."


def test_a_tip_or_technical_details_is_an_aside_to_the_step():
    """FastAPI's "Build the Docker Image" was answered with its tip ("Notice the `.` at the end, ..."), and "Create a
    websocket" with its technical details ("You could also use `from starlette.websockets import WebSocket`."): a
    tip, a hint, an info box or technical details is an aside, as a note is, which the step itself beats."""
    text, evidence = _section("Build the Docker Image", (
        "- Go to the project directory (in where your `Dockerfile` is, containing your `app` directory).\n"
        "- Build your FastAPI image:\n\n"
        "```console\n$ docker build -t myimage .\n```\n\n"
        "Tip: Notice the `.` at the end, it's equivalent to `./`, it tells Docker the directory to use to build the "
        "container image.\n"))
    choice = select_quotes("How do I build the Docker image?", text, similarities=[0.3, 0.6, 0.7], evidence=evidence)
    assert choice.answer == "Build your FastAPI image: `docker build -t myimage .`."
    # Each label makes an aside, as "Note:" does; a sentence merely opening with the word does not.
    from raft_dataset.answers import _note_or_signpost

    for label in ("Tip:", "Hint:", "Info:", "Technical Details:", "Notice that"):
        assert _note_or_signpost(f"{label} you could also use `from starlette.websockets import WebSocket`."), label
    assert not _note_or_signpost("Tipping points are rare.") and not _note_or_signpost("Information is kept.")


def test_a_way_told_with_a_full_stop_takes_the_steps_listed_after_it():
    """FastAPI's "Use CORSMiddleware": "You can configure it in your FastAPI application using the `CORSMiddleware`."
    was the whole answer; the steps are the list after it, each item opening on its verb. A list of things (not
    steps) after such a sentence stays out."""
    steps = ("- Import `CORSMiddleware`.\n- Create a list of allowed origins (as strings).\n"
             "- Add it as a \"middleware\" to your FastAPI application.\n")
    text, evidence = _section("Use CORSMiddleware", (
        "You can configure it in your FastAPI application using the `CORSMiddleware`.\n\n" + steps))
    choice = select_quotes("How do I use `CORSMiddleware`?", text, similarities=[0.8, 0.3, 0.3, 0.3], evidence=evidence)
    assert choice.quotes == [text[evidence[0]:].strip()]
    assert choice.answer == (
        "You can configure it in your FastAPI application using the `CORSMiddleware`: Import `CORSMiddleware`; Create "
        "a list of allowed origins (as strings); Add it as a \"middleware\" to your FastAPI application.")
    for things in ("- Credentials (Authorization headers, Cookies, etc).\n- Specific HTTP methods (`POST`, `PUT`).\n",
                   # statements whose first word could open a step, and a step that is a lead-in of its own
                   "- Build artifacts are now written to `dist/`.\n- Log files now go to `logs/`.\n",
                   "- Import `CORSMiddleware`.\n- Create a `main.py` file with:\n\n```\napp = FastAPI()\n```\n"):
        text, evidence = _section("Use CORSMiddleware", (
            "You can configure it in your FastAPI application using the `CORSMiddleware`.\n\n" + things))
        choice = select_quotes("How do I use `CORSMiddleware`?", text, similarities=[0.8, 0.3, 0.3], evidence=evidence)
        assert choice.answer == "You can configure it in your FastAPI application using the `CORSMiddleware`.", things


def test_what_x_will_never_do_is_not_what_x_is():
    """flask_docs/design.rst: "What is Flask?" was answered "Flask will never have a database layer.": X opens the
    sentence, but a negation says what X is not or will not do. The definition beats it."""
    text = ("Flask will never have a database layer. It will not have a form library or anything else in that "
            "direction.\n\nFlask is a lightweight WSGI web application framework.\n")
    choice = select_quotes("What is Flask?", text, similarities=[0.6, 0.4, 0.5])
    assert choice.answer == "Flask is a lightweight WSGI web application framework."


def test_the_steps_after_the_first_and_what_changes_a_default_are_stated_too():
    """FastAPI's "Using WSGIMiddleware" quoted three steps but stated two, without "And then mount that under a path.";
    typer's "Executable callback" stated the default ("By default, the callback is only executed right before ...")
    without the quoted "But we could make it run even without a subcommand with `invoke_without_command=True`"."""
    text, evidence = _section("Using WSGIMiddleware", (
        "Note: This requires adding `a2wsgi` to your project.\n\nYou need to import `WSGIMiddleware` from `a2wsgi`.\n\n"
        "Then wrap the WSGI (e.g. Flask) app with the middleware.\n\nAnd then mount that under a path.\n"))
    choice = select_quotes("How do I use `WSGIMiddleware`?", text, similarities=[0.3, 0.7, 0.5, 0.4], evidence=evidence)
    assert choice.answer == ("You need to import `WSGIMiddleware` from `a2wsgi`. Then wrap the WSGI (e.g. Flask) app "
                             "with the middleware. And then mount that under a path.")
    # A description after a step is no next step.
    text, evidence = _section("Using WSGIMiddleware", (
        "You need to import `WSGIMiddleware` from `a2wsgi` and wrap the app with it.\n\n"
        "Next, the middleware receives the request and calls the app.\n"))
    choice = select_quotes("How do I use `WSGIMiddleware`?", text, similarities=[0.7, 0.5], evidence=evidence)
    assert choice.answer == "You need to import `WSGIMiddleware` from `a2wsgi` and wrap the app with it."
    text, evidence = _section("Executable callback", (
        "By default, the callback is only executed right before executing a command.\n\n"
        "And if no command is provided, the help message is shown.\n\n"
        "But we could make it run even without a subcommand with `invoke_without_command=True`:\n\n"
        "(Example file: `docs_src/commands/context/tutorial002_py310.py`)\n"))
    choice = select_quotes("What is the executable callback?", text, similarities=[0.6, 0.4, 0.5], evidence=evidence)
    assert choice.answer.endswith("But we could make it run even without a subcommand with "
                                  "`invoke_without_command=True`."), choice.answer


def test_a_step_is_quoted_with_the_lead_in_that_takes_its_list():
    """Poetry's FAQ "Poetry busts my Docker cache ...": the first step ("Install 3rd party dependencies.") is the
    sentence closest to the question, but alone it is half a way; the lead-in that takes the steps tells it. An
    item that is no step (click's "You can use `pass_context()` ..." under "you have two options:") and a
    what-question's item (a definition list's entry) are still quoted alone."""
    text = ("To avoid this cache busting you can split this into two steps:\n\n1. Install 3rd party dependencies.\n"
            "2. Copy over your source code and install just the source code.\n\nThis might look something like this:\n")
    question = ("What should I do if Poetry busts my Docker cache because it requires me to COPY my source files in "
                "before installing 3rd party dependencies?")
    choice = select_quotes(question, text, similarities=[0.27, 0.48, 0.35, -0.06])
    assert choice.answer == ("To avoid this cache busting you can split this into two steps: Install 3rd party "
                             "dependencies; Copy over your source code and install just the source code.")
    assert choice.anchor == 1  # the gate still judges the step, the sentence that answers
    options = ("For this again, you have two options:\n\n- You can use `pass_context()` to get the context passed.\n"
               "- You can write the command as a function that takes `*args`.\n")
    choice = select_quotes("How do I forward unknown options?", options, similarities=[0.2, 0.5, 0.3])
    assert choice.answer == "You can use `pass_context()` to get the context passed."
    # FastAPI's "Using `Jinja2Templates`": a sibling item ending in a full stop is no lead-in of the items after it.
    siblings, evidence = _section("Using `Jinja2Templates`", (
        "* Import `Jinja2Templates`.\n* Create a `templates` object that you can reuse later.\n"
        "* Declare a `Request` parameter in the *path operation* that will return a template.\n"
        "* Use the `templates` you created to render and return a `TemplateResponse`.\n"))
    choice = select_quotes("How do I use `Jinja2Templates`?", siblings, similarities=[0.3, 0.3, 0.6], evidence=evidence)
    assert choice.answer == "Use the `templates` you created to render and return a `TemplateResponse`."
    glossary = "The lock file has two kinds of entries:\n\n- `package`: one locked distribution.\n- `metadata`: the hashes.\n"
    choice = select_quotes("What is `package`?", glossary, similarities=[0.2, 0.6, 0.1])
    assert choice.answer.startswith("`package`") and choice.anchor == 1


def test_a_list_of_steps_is_quoted_step_after_step():
    """FastAPI's "Create the FastAPI Code" is three steps in a list: the answer was the first alone ("Create an
    `app` directory and enter it."). The steps after it come along (the list marker between them is no break), but
    not items that are no steps."""
    text, evidence = _section("Create the FastAPI Code", (
        "- Create an `app` directory and enter it.\n- Create an empty file `__init__.py`.\n"
        "- Create a `main.py` file with:\n\n```Python\nfrom fastapi import FastAPI\n\napp = FastAPI()\n```\n"))
    choice = select_quotes("How do I create the FastAPI code?", text, evidence=evidence)
    assert choice.quotes[:2] == ["Create an `app` directory and enter it.", "Create an empty file `__init__.py`."]
    assert choice.answer == "Create an `app` directory and enter it. Create an empty file `__init__.py`."
    things, evidence = _section("Supported backends", (
        "- Install the `redis` extra for Redis support.\n- Memcached is supported through `pymemcache`.\n"))
    choice = select_quotes("How do I install the redis extra?", things, evidence=evidence)
    assert choice.quotes == ["Install the `redis` extra for Redis support."]


def test_pointers_to_text_before_drop_out():
    """typer's "This is the same information you saw on the section about Commands - Typer Callback, ..." is no
    quote of an answer; FastAPI's "Using the SNI extension discussed above, ..." is stated without "discussed above"."""
    text = ("If a callback was added when creating the `typer.Typer()` app, it's possible to override it with a new one "
            "using `@app.callback()`. This is the same information you saw on the section about Commands - Typer "
            "Callback, and it applies the same for sub-Typer apps.\n")
    choice = select_quotes("How do I override the callback on creation?", text, similarities=[0.8, 0.5])
    assert choice.answer == ("If a callback was added when creating the `typer.Typer()` app, it's possible to override "
                             "it with a new one using `@app.callback()`.")
    text = ("Using the SNI extension discussed above, the TLS Termination Proxy would check which of the TLS "
            "certificates available it should use for this connection.\n")
    choice = select_quotes("How does the proxy pick a certificate?", text, similarities=[0.7])
    assert choice.answer == ("Using the SNI extension, the TLS Termination Proxy would check which of the TLS "
                             "certificates available it should use for this connection.")
    assert choice.quotes == [text.strip()]  # the quote stays verbatim


def test_what_can_be_done_takes_the_code_after_it():
    """Flask's "Nesting Blueprints": "It is possible to register a blueprint on another blueprint." was the whole
    answer to "How do I nest blueprints?"; the code after it shows how, and its line that registers is stated. A
    sentence about something else over code ("You can see the result below.") takes nothing."""
    code = ("```python\nparent = Blueprint('parent', __name__, url_prefix='/parent')\n"
            "child = Blueprint('child', __name__, url_prefix='/child')\nparent.register_blueprint(child)\n"
            "app.register_blueprint(parent)\n```\n")
    text, evidence = _section("Nesting Blueprints", "It is possible to register a blueprint on another blueprint.\n\n" + code)
    choice = select_quotes("How do I nest blueprints?", text, evidence=evidence)
    assert choice.takes == "code" and choice.quotes == [text[evidence[0]:].strip()]
    assert choice.answer == ("It is possible to register a blueprint on another blueprint, for example "
                             "`parent.register_blueprint(child)`.")
    text, evidence = _section("Nesting Blueprints", "You can see the result below.\n\n" + code)
    assert candidate_sentences(text) == ((len("Nesting Blueprints") + 2, len("Nesting Blueprints") + 2 + len("You can see the result below.")),)


def test_this_is_a_at_a_sections_start_defines_the_heading():
    """pip's "get-pip.py": "This is a Python script that uses some bootstrapping logic to install pip." is what
    `get-pip.py` is; the answer was the step that runs it. "This is done ..." defines nothing."""
    text = ("get-pip.py\n\nThis is a Python script that uses some bootstrapping logic to install pip.\n\n"
            "- Download the script, from https://bootstrap.pypa.io/get-pip.py.\n"
            "- Open a terminal/command prompt, `cd` to the folder containing the `get-pip.py` file and run:\n"
            "```\n$ python get-pip.py\n```\n")
    evidence = (len("get-pip.py\n\n"), len(text))
    choice = select_quotes("What is `get-pip.py`?", text, similarities=[0.645, 0.546, 0.765], evidence=evidence)
    assert choice.answer == "`get-pip.py` is a Python script that uses some bootstrapping logic to install pip."
    step = "Open a terminal/command prompt, `cd` to the folder containing the `get-pip.py` file and run `python get-pip.py`."
    # "This is done by ..." and "This is a big change ..." define nothing; nor does "This is a ..." for a heading not
    # in code ("Internationalized Application URLs": "This is an awful lot of repetition ...").
    for opening in ("This is done by a Python script that uses", "This is a big change from earlier versions, with"):
        changed = text.replace("This is a Python script that uses", opening)
        assert select_quotes("What is `get-pip.py`?", changed, similarities=[0.645, 0.546, 0.765],
                             evidence=evidence).answer == step
    plain = text.replace("get-pip.py\n", "Get pip\n", 1)
    assert select_quotes("What is get pip?", plain, similarities=[0.645, 0.546, 0.765],
                         evidence=evidence).answer == step


def test_a_common_question_told_as_a_statement_is_no_answer():
    """Flask's "Adding a favicon" was answered "A common question is how to add a favicon to a Flask application.":
    the question again, in the text's words. The steps after it answer."""
    text, evidence = _section("Adding a favicon", (
        "A common question is how to add a favicon to a Flask application. First, of course, you need an icon. "
        "Put the icon in your static directory as `favicon.ico`.\n"))
    choice = select_quotes("How do I add a favicon?", text, similarities=[0.8, 0.5, 0.6], evidence=evidence)
    assert choice.answer == "First, of course, you need an icon. Put the icon in your static directory as `favicon.ico`."
    # Other wordings; and one that goes on to answer is kept.
    from raft_dataset.answers import _quotable, _sentences

    for opening in ("One of the most common questions is how to add a favicon.", "A frequent question is how to "
                    "add a favicon."):
        assert not _quotable(opening, _sentences(opening)[0], "How do I add a favicon?", "Adding a favicon"), opening
    answered = "A common question is whether sessions are secure; they are signed with `SECRET_KEY`."
    assert _quotable(answered, _sentences(answered)[0], "Are sessions secure?", "Sessions")


def test_rules_of_this_session_leave_look_alikes_alone():
    """Counter-examples a reviewer found for the rules above: words after "introduced before" are kept; a
    condition's list ("If the build fails, you may see one of these errors:") is no way whose steps follow it;
    alternatives in a list ("Remove ... 3.11." / "Remove all of them ...") are no steps in a row; an app's
    "settings page" is no page of the docs."""
    from raft_dataset.answers import _quotable, _sentences

    text = "Tokens introduced before version 2.0 are still accepted by the server.\n"
    assert select_quotes("What are old tokens?", text, similarities=[0.7]).answer == text.strip()
    text, evidence = _section("Build errors", (
        "If the build fails, you may see one of these errors:\n\n- Check that the `PATH` holds the compiler.\n"
        "- Remove the `build` directory and retry.\n"))
    choice = select_quotes("How do I fix build errors?", text, similarities=[0.3, 0.5, 0.7], evidence=evidence)
    assert not choice.answer.startswith("If the build fails")
    text, evidence = _section("Deleting the environments", (
        "- Remove the environment with `poetry env remove 3.11`.\n- Remove all of them with `poetry env remove --all`.\n"))
    choice = select_quotes("How do I delete the environments?", text, evidence=evidence)
    assert choice.answer == "Remove the environment with `poetry env remove 3.11`."
    page = "Compare the values you read on the settings page with `flask config`."
    assert _quotable(page, _sentences(page)[0], "How do I check the config?", "Config")


def test_a_reason_to_do_it_is_no_way_and_a_conclusion_is_the_point():
    # click/docs/advanced.md: "It can be useful to ..." says why one would manage resources, not how
    text = ("It can be useful to open a resource in a group, to be made available to subcommands. Many types of "
            "resources need to be closed or otherwise cleaned up after use. The standard way to do this in Python is "
            "by using a context manager with the `with` statement.\n")
    choice = select_quotes("How do I manage resources?", text, title="Advanced Patterns > Managing Resources",
                           evidence=(0, len(text)))
    assert choice.answer == ("Many types of resources need to be closed or otherwise cleaned up after use. The standard "
                             "way to do this in Python is by using a context manager with the `with` statement.")
    # pip/docs/html/reference/build-system.md: "This means ..." draws the point from the sentences before it
    text = ("When dealing with installable source distributions of a package, pip does not directly handle the build "
            "process for the package. This responsibility is delegated to \"build backends\" -- also known as \"build "
            "systems\". This means that pip needs an interface, to interact with these build backends.\n\n"
            "Modern Python packages can contain a `pyproject.toml` file.\n")
    sentences = candidate_sentences(text)
    choice = select_quotes("What is the build system interface?", text, title="Build System Interface",
                           similarities=[0.6, 0.5, 0.45, 0.2][: len(sentences)], evidence=(0, len(text)))
    assert choice.answer == ("When dealing with installable source distributions of a package, pip does not directly "
                             "handle the build process for the package. This responsibility is delegated to \"build "
                             "backends\" -- also known as \"build systems\". This means that pip needs an interface, to "
                             "interact with these build backends.")


def test_where_the_tutorial_stands_is_chatter():
    # fastapi/docs/advanced/async-tests.md opens "Up to now, you have only seen how to ..."
    text = ("Up to now, you have only seen how to write synchronous tests, without using `async` functions.\n\n"
            "Test functions declared with `async def` run on the AnyIO pytest plugin.\n")
    choice = select_quotes("What are async tests?", text, title="Async Tests", evidence=(0, len(text)))
    assert choice.answer == "Test functions declared with `async def` run on the AnyIO pytest plugin."


@pytest.mark.parametrize(("question", "answer", "way"), [
    # click/docs/shell-completion.md: "Support" is the subject of "can be added", not the imperative "support"
    ("How do I add support for a shell?", "Support can be added for shells that do not come built in.", False),
    # black/docs/contributing/release_process.md: what one needs before cutting a release is not how to cut one
    ("How do I cut a release?", "You must have `write` permissions for the Black repository to cut a release.", False),
    ("How do I cut a release?", "You must have `write` permissions. Then run `scripts/release.py` to cut it.", True),
    ("How do I install the package?", "Install the package with `pip install tidepool`.", True),
])
def test_a_subject_and_a_requirement_tell_no_way(question, answer, way):
    assert gives_a_way(question, answer) is way
