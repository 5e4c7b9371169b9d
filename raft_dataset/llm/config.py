"""`LLMConfig`: the `llm:` block of a build config, validated from a table derived from its type hints."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..typecheck import first_type_error, setting_types

BACKENDS = ("openai-compatible", "transformers")
QUESTION_PLACEHOLDERS = ("title", "text", "n", "doc_id", "chunk_id")
ANSWER_PLACEHOLDERS = ("question", "oracle", "context", "title", "reference_answer")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# -- secrets ----------------------------------------------------------------------------------

# Keys of a known shape: OpenAI/Anthropic (sk-), Hugging Face, GitHub, GitLab, Slack, AWS, Google,
# Groq, Replicate, and whatever follows "Bearer".
_KNOWN_KEY_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{16,}"
    r"|github_pat_\w{16,}|glpat-[\w-]{16,}|xox[abposr]-[\w-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{30,}"
    r"|gsk_[A-Za-z0-9]{16,}|r8_[A-Za-z0-9]{16,})|(?<=Bearer )\S+"
)
# A key of an unknown shape: one run of 20+ letters and digits that mixes digits and letters or
# cases (model names and words have separators every few characters; hex ids and keys do not).
_OPAQUE_RE = re.compile(r"[A-Za-z0-9]{20,}")
MASK = "***"
# Credential-like names in extra_body, compared lower-case without separators ("X-Api-Key" -> "xapikey").
_CREDENTIAL_NAME_PARTS = ("apikey", "authorization", "password", "passwd", "secret", "credential", "cookie",
                          "bearer", "accesskey", "privatekey", "subscriptionkey", "sessionid")
_CREDENTIAL_NAMES = frozenset({"key", "auth", "headers"})
_MAX_EXTRA_BODY_DEPTH = 32


def _opaque(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_letter = any(c.isalpha() for c in token)
    return (has_digit and has_letter) or (any(c.isupper() for c in token) and any(c.islower() for c in token))


def looks_like_secret(text: str) -> bool:
    """Whether a text holds something shaped like an API key or token (see `mask_secrets`)."""
    return bool(_KNOWN_KEY_RE.search(text)) or any(_opaque(m.group()) for m in _OPAQUE_RE.finditer(text))


def mask_secrets(text: str) -> str:
    """The text with every key-like part replaced by `***`: known key shapes (sk-..., hf_..., ghp_...,
    AKIA..., a token after "Bearer") and runs of 20+ letters and digits mixing digits and letters."""
    text = _KNOWN_KEY_RE.sub(MASK, text)
    return _OPAQUE_RE.sub(lambda m: MASK if _opaque(m.group()) else m.group(), text)


def shown(value: Any) -> str:
    """A config value as an error message shows it: its repr with key-like parts masked.

    Use it wherever a setting's value goes into a message: a user may have pasted a key anywhere.
    """
    return mask_secrets(repr(value))


def redact_url(url: str) -> str:
    """The URL with key-like path segments masked: what is stored, hashed into cache keys and shown."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host}{slash}{mask_secrets(path)}"


def is_credential_name(name: str) -> bool:
    """Whether an extra_body key names a credential or headers: authorization, api_key, x-api-key,
    password, secret, credentials, cookie, access_token ... (a trailing "token", not "max_tokens")."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return (flat in _CREDENTIAL_NAMES or flat.endswith("token")
            or any(part in flat for part in _CREDENTIAL_NAME_PARTS))


def extra_body_secret(body: Any) -> str | None:
    """The dotted path of the first credential in `extra_body` (a credential-like key or "headers" at
    any depth, or a value shaped like a known key), or None. Paths show key names, never values."""
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > _MAX_EXTRA_BODY_DEPTH:
            return f"{path} (nested deeper than {_MAX_EXTRA_BODY_DEPTH})"
        if isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{mask_secrets(str(key))}"
                if is_credential_name(str(key)) or looks_like_known_key(str(key)):
                    return where
                stack.append((where, item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and looks_like_known_key(value):
            return path
    return None


def looks_like_known_key(text: str) -> bool:
    """Whether the text holds a key of a known shape (sk-..., hf_..., ghp_..., AKIA..., Bearer ...)."""
    return bool(_KNOWN_KEY_RE.search(text))



def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces): the form that is hashed and stored."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass
class LLMConfig:
    """Settings of the LLM used to write questions and answers (the `llm:` block of a build config).

    Attributes:
        backend: "openai-compatible" (any server speaking `/v1/chat/completions`) or
            "transformers" (a local causal LM generating in-process).
        model: Model name sent to the server, or for "transformers" a local path or Hub id.
        base_url: Server URL including the `/v1` prefix (e.g. "http://localhost:8000/v1");
            None is the OpenAI API. Ignored by "transformers".
        api_key_env: Name of the environment variable holding the API key (e.g. "OPENAI_API_KEY").
            The key itself is never stored, logged, hashed or put in messages. None sends a
            placeholder key, which local servers accept. Keys anywhere else are refused: in
            `base_url` (user:password@, a query string, a path segment shaped like a known key)
            and in `extra_body` (credential-like names or "headers" at any depth, known key shapes).
        max_concurrency: Requests in flight at once ("openai-compatible").
        timeout: Seconds one request may take before it is abandoned and retried.
        max_retries: Retries of one request after a 429, 5xx, timeout or connection error.
        backoff_base: First retry delay in seconds, doubled at each retry (jittered with `seed`).
        backoff_max: Longest retry delay in seconds; a server's Retry-After is honoured up to this.
        temperature: Sampling temperature; 0 is greedy.
        top_p: Nucleus sampling mass; None leaves the server's default.
        max_tokens: Most tokens generated per response.
        seed: Seed sent with each request, and behind the retry jitter and local sampling.
        extra_body: Extra JSON fields sent with each request (e.g. vLLM's `chat_template_kwargs`).
        questions_per_chunk: Questions asked for per chunk.
        question_prompt: Template of the question request; placeholders {text}, {title}, {n},
            {doc_id}, {chunk_id}. None is the built-in template. Literal braces are doubled.
        answer_prompt: Template of the answer request; placeholders {question}, {oracle},
            {context}, {title}, {reference_answer}. None is the built-in template.
        include_context_in_answer_prompt: Show the model the whole context (distractors and the
            oracle) instead of the oracle alone.
        answer_retries: Follow-up requests, naming the failure, for an answer that fails
            verification before it is dropped.
        cache_path: SQLite file keeping every response; None is `llm_cache.sqlite` in
            `raft_dataset.cache.default_cache_dir()` (`~/.cache/raft_dataset` unless
            `$RAFT_DATASET_CACHE` or `$XDG_CACHE_HOME` says otherwise), "" keeps responses in memory only.
        batch_size: Prompts per forward pass ("transformers").
        device: Torch device ("transformers"); None picks cuda when available, else cpu.
        dtype: Torch dtype name ("transformers"), e.g. "bfloat16"; "auto" follows the weights.
        progress: Show tqdm progress bars.
    """

    backend: str = "openai-compatible"
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 512
    seed: int | None = 0
    extra_body: dict | None = None
    questions_per_chunk: int = 3
    question_prompt: str | None = None
    answer_prompt: str | None = None
    include_context_in_answer_prompt: bool = False
    answer_retries: int = 1
    cache_path: str | None = None
    batch_size: int = 8
    device: str | None = None
    dtype: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        validate_llm_config(self, "llm")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "llm") -> LLMConfig:
        """A validated config from a mapping; raises ValueError naming `where.key` on a bad key."""
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a mapping of settings, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key == "api_key":
                raise ValueError(
                    f"{where}.api_key: keys are never put in a config; set {where}.api_key_env to the name "
                    "of an environment variable holding it"
                )
            if key not in names:
                raise ValueError(f"unknown key {where}.{mask_secrets(str(key))}")
        cfg = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(cfg, f.name, d.get(f.name, default))
        validate_llm_config(cfg, where)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (there is no secret in them to hide)."""
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A hash of the settings that change what is generated (not concurrency, cache or progress)."""
        decisive = {k: v for k, v in self.to_dict().items() if k not in OPERATIONAL_SETTINGS}
        return hashlib.sha256(canonical_json(decisive).encode()).hexdigest()[:16]


# Settings that do not change what is generated (left out of the fingerprint).
OPERATIONAL_SETTINGS = frozenset({"max_concurrency", "timeout", "max_retries", "backoff_base", "backoff_max",
                                  "cache_path", "progress", "batch_size", "device", "api_key_env"})


# -- validation -------------------------------------------------------------------------------


# Setting name -> the Python types it accepts, in field order, resolved once from the type hints.
LLM_SETTING_TYPES: dict[str, tuple[type, ...]] = setting_types(LLMConfig)

# Setting -> (test of a bad value, the rule the error states), checked in this order (after the types).
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{name: (lambda v: v < 1, "must be >= 1")
       for name in ("max_concurrency", "max_tokens", "questions_per_chunk", "batch_size")},
    **{name: (lambda v: v < 0, "must be >= 0")
       for name in ("max_retries", "answer_retries", "backoff_base", "backoff_max")},
    "timeout": (lambda v: v <= 0, "must be > 0 seconds"),
    "temperature": (lambda v: not 0.0 <= v <= 2.0, "must be between 0 and 2"),
    "top_p": (lambda v: v is not None and not 0.0 < v <= 1.0, "must be in (0, 1]"),
}
_CHOICES: dict[str, tuple[str, ...]] = {"backend": BACKENDS}

def validate_llm_config(cfg: LLMConfig, where: str = "llm") -> None:
    """Raise ValueError with a one-line message naming the first bad key (`<where>.<key>: ...`).

    Secrets are never echoed: a bad base_url, extra_body key or api_key_env is named, not shown.
    """
    wrong = first_type_error(cfg, LLM_SETTING_TYPES)
    if wrong:
        raise ValueError(f"{where}.{wrong[0]}: {wrong[1]}")
    for name, choices in _CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise ValueError(f"{where}.{name}: must be one of {', '.join(choices)}, got {shown(getattr(cfg, name))}")
    if not cfg.model.strip():
        raise ValueError(f"{where}.model: required (a model name, or a local path for 'transformers')")
    for name, (bad, rule) in _RANGES.items():
        if bad(getattr(cfg, name)):
            raise ValueError(f"{where}.{name}: {rule}, got {shown(getattr(cfg, name))}")
    _check_secrets(cfg, where)
    if cfg.extra_body is not None:
        try:
            json.dumps(cfg.extra_body)
        except (TypeError, ValueError):
            raise ValueError(f"{where}.extra_body: must be JSON-serialisable") from None
    _check_template(cfg.question_prompt, QUESTION_PLACEHOLDERS, ("text",), f"{where}.question_prompt")
    _check_template(cfg.answer_prompt, ANSWER_PLACEHOLDERS, ("question",), f"{where}.answer_prompt")
    if cfg.answer_prompt is not None and not {"oracle", "context"} & _placeholders(cfg.answer_prompt, ""):
        raise ValueError(f"{where}.answer_prompt: must contain {{oracle}} or {{context}}")


def _check_secrets(cfg: LLMConfig, where: str) -> None:
    """Keys go through api_key_env only: never into the URL, the request body or cache keys.

    Refused, not scrubbed: a credential in the URL or body would be sent and stored on every request,
    and dropping it silently would change what the server gets. A long opaque path segment of
    unknown shape (e.g. a gateway's account id) is accepted and sent, but masked wherever it is
    stored or shown (`redact_url`). Values are never echoed: they may be the key itself.
    """
    if cfg.base_url is not None:
        if not re.match(r"^https?://", cfg.base_url):
            raise ValueError(f"{where}.base_url: must start with http:// or https://, got {shown(cfg.base_url)}")
        authority, _, path = cfg.base_url.split("//", 1)[1].partition("/")
        if "@" in authority:
            raise ValueError(f"{where}.base_url: must not contain credentials (user:password@); use api_key_env")
        if "?" in cfg.base_url or "#" in cfg.base_url:
            # A query string is where some gateways take a key: it would end up in the cache.
            raise ValueError(f"{where}.base_url: must not contain a query string; use api_key_env for keys")
        if looks_like_known_key(cfg.base_url):
            raise ValueError(f"{where}.base_url: holds what looks like an API key; put the key in an environment "
                             "variable and name it in api_key_env")
    if cfg.extra_body is not None:
        found = extra_body_secret(cfg.extra_body)
        if found is not None and "(nested deeper" in found:
            raise ValueError(f"{where}.extra_body{found}")
        if found is not None:
            raise ValueError(f"{where}.extra_body{found}: must not carry credentials or headers (extra_body is sent "
                             "in the request body and stored with every cached response); use api_key_env")
    if cfg.api_key_env is not None and (not _ENV_NAME_RE.match(cfg.api_key_env) or looks_like_secret(cfg.api_key_env)):
        # Never echo the value: a user may have pasted the key itself here.
        raise ValueError(f"{where}.api_key_env: must be the NAME of an environment variable holding the key "
                         "(e.g. OPENAI_API_KEY), not the key itself")


def _placeholders(template: str, where: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise ValueError(f"{where}: bad template ({err}); double literal braces as {{{{ and }}}}") from None


def _check_template(template: str | None, allowed: tuple[str, ...], required: tuple[str, ...], where: str) -> None:
    if template is None:
        return
    names = _placeholders(template, where)
    for name in sorted(names):
        if name not in allowed:
            raise ValueError(f"{where}: unknown placeholder {{{name}}} (allowed: {', '.join(allowed)})")
    for name in required:
        if name not in names:
            raise ValueError(f"{where}: must contain {{{name}}}")
