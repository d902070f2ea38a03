"""Environment overrides and the one rule that keeps secrets out of them.

An override is ``NAME: "value"`` or a reference by name, ``NAME: {"secret": "SECRET"}``,
which the executor resolves from its own environment. A variable whose *name* says it
holds a secret (``*_KEY``, ``*TOKEN``/``*TOKEN_*``, ``*SECRET*``, ``*PASSWORD*``,
``*PASSWD*``, ``*PASSPHRASE*``, ``*CREDENTIAL*``) takes only a reference, whatever its
value looks like: "hunter2" is no API key to a scanner, but ``DB_PASSWORD: hunter2`` is a
password all the same. ``startRun(env:)`` (commands.model.check_env) applies it; so does
anything else that carries overrides. (Values under other names are still checked
against the redaction rules by their callers.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

# Case-insensitive. TOKEN only as the end of a word: MAX_TOKENS and
# TOKENIZERS_PARALLELISM are settings, GITHUB_TOKEN and HF_TOKEN_READ are secrets.
SECRET_NAME = re.compile(
    r"(?:^|_)(?:API)?KEY$|TOKEN(?:_|$)|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL",
    re.IGNORECASE,
)


def looks_like_secret_name(name: str) -> bool:
    return SECRET_NAME.search(name) is not None


def secret_reference(value: Any) -> str | None:
    """The referenced name of ``{"secret": "NAME"}``, else None."""
    if isinstance(value, Mapping) and set(value) == {"secret"}:
        ref = value["secret"]
        if isinstance(ref, str) and ENV_NAME.fullmatch(ref):
            return ref
    return None


def env_problem(name: str, value: Any) -> str | None:
    """What is wrong with the override ``name: value`` (without the ``env.<name>: ``
    prefix), or None. The value scrubbing check is the caller's."""
    if not ENV_NAME.fullmatch(name):
        return "not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
    if isinstance(value, Mapping):
        if secret_reference(value) is None:
            return 'a secret reference is {"secret": "NAME"} with a variable name'
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "must be a string, a number or a secret reference"
    if looks_like_secret_name(name):
        return (
            f"{name} looks like a secret (its name); secrets are never stored: reference "
            f'it by name, {{"secret": "{name}"}}'
        )
    return None
