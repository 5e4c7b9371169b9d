"""Type checks of settings dataclasses, driven by their type hints (the main config and `llm:`)."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

_LABELS = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
           list: "a list", type(None): "null"}


def runtime_types(annotation: Any) -> tuple[type, ...]:
    """`int | None` -> (int, NoneType); `dict[str, float]` -> (dict,)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return tuple(t for arg in typing.get_args(annotation) for t in runtime_types(arg))
    return (typing.get_origin(annotation) or annotation,)


def setting_types(cls: type, names: typing.Iterable[str] | None = None) -> dict[str, tuple[type, ...]]:
    """Field name -> the Python types it accepts, in field order, from the class's type hints."""
    hints = typing.get_type_hints(cls)
    wanted = set(names) if names is not None else set(hints)
    return {name: runtime_types(hint) for name, hint in hints.items() if name in wanted}


def type_ok(value: Any, accepted: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass: only a bool setting takes it
        return bool in accepted
    if isinstance(value, int) and float in accepted:
        return True
    return isinstance(value, accepted)


def type_label(accepted: tuple[type, ...]) -> str:
    """"an integer or null", for error messages."""
    return " or ".join(_LABELS.get(t, t.__name__) for t in accepted)


def first_type_error(obj: Any, table: dict[str, tuple[type, ...]]) -> tuple[str, str] | None:
    """(field, "expected X, got Y") for the first field of `obj` whose value has a wrong type, else None.

    The value itself is not in the message: it may be a secret pasted in the wrong place.
    """
    for name, accepted in table.items():
        value = getattr(obj, name)
        if not type_ok(value, accepted):
            return name, f"expected {type_label(accepted)}, got {type(value).__name__}"
    return None
