"""The prompt of a RAFT sample: the instruction with the question, and the context documents."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .records import Chunk


def render_prompt(
    instruction_template: str, document_template: str, question: str, context: Sequence[Chunk]
) -> tuple[str, str]:
    """(instruction, input): the task with the question, and the context documents in order."""
    instruction = fill_template(instruction_template, question=question)
    documents = [
        fill_template(document_template, index=str(i + 1), title=c.title, text=c.text) for i, c in enumerate(context)
    ]
    return instruction, "\n\n".join(documents)


def fill_template(template: str, **values: str) -> str:
    """Replace `{name}` placeholders in one pass: braces inside the values (code, templates in the
    documentation itself) are left alone, unlike chained `str.replace` or `str.format`."""
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    return pattern.sub(lambda m: values[m.group(0)[1:-1]], template)


def user_turn(instruction: str, input_text: str) -> str:
    """The user message: the instruction and the documents together (what input tokens count)."""
    return f"{instruction}\n\n{input_text}"
