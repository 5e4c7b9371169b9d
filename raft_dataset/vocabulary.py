"""English word lists and patterns that question derivation and answer extraction share."""

from __future__ import annotations

import re

# What a reference page documents, by what it does ("the `--app` option sets ...") ...
ACTING_KINDS = ("command", "subcommand", "option", "flag", "setting", "function", "method", "decorator", "hook",
                "directive", "filter", "parameter", "argument", "class", "module", "plugin", "middleware",
                # a template or query language's own words ("the `extends` tag", "the `in` operator")
                "tag", "statement", "keyword", "operator")
# ... or by the value it holds ("the `PIP_CONFIG_FILE` environment variable").
VALUE_KINDS = ("variable", "key", "field", "property", "attribute", "environment variable")
# What a software project is said to be ("Webargs is a tool ...", "the `click-contrib` organization's packages").
PACKAGE_KINDS = ("package", "library", "project", "extension", "tool", "framework", "server", "client")

# What follows an "it" that stands for nothing: "It is easy to ...", "It is also possible to ...", "It is the
# responsibility of the build backend to ...", "It is worth discussing ..." (a pattern to follow "It").
EXPLETIVE_IT = (r"(?:\s+is|\s+was|['\u2019]s)\s+(?:(?:also|not|still|quite|very|\w+ly)\s+)*(?:\w+\s+(?:to|that)\b"
                r"|worth\b|the (?:responsibility|job|duty|role) of\b|a good idea\b|up to\b)")

# "In Flask, how do I ...?": where a question is asked, before what it asks (`product.scoped_question`).
SCOPE_FIRST_RE = re.compile(r"^\W*in [^,?]{1,60},\s+(?=\w)", re.IGNORECASE)
