"""JSON lines read one object a line, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path


def iter_json_objects(
    path: str | Path, required: Sequence[str] = (), error: type[ValueError] = ValueError
) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line; a malformed line, a non-object or a missing
    required field raises `error` with a one-line message "file:line: what is wrong"."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror or err})") from None
    with handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise error(f"{path}:{line_no}: invalid JSON ({err.msg})") from None
                if not isinstance(record, dict):
                    raise error(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
                for key in required:
                    if record.get(key) is None:
                        raise error(f"{path}:{line_no}: missing field {key!r}")
                yield line_no, record
        except UnicodeDecodeError:
            raise error(f"{path}: not valid UTF-8") from None
