"""Environment overrides: a secret is referenced by name, never stored as a value.

One rule (tracegraph.events.env) serves ``startRun(env:)`` and a definition's ``env:``
section: a variable whose name looks like a secret (``*_KEY``, ``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, …) takes only ``{secret: NAME}``, whatever its value looks
like; other values are still refused when the redaction rules would scrub them.
"""

from __future__ import annotations

import pytest

from tracegraph.commands import InvalidCommand, check_env
from tracegraph.redaction import BUILTIN_NAMES, make_policy

SCRUBBER = make_policy(BUILTIN_NAMES, {}).scrubber()


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "HF_TOKEN_READ",
        "DB_PASSWORD",
        "SMTP_PASSWD",
        "CLIENT_SECRET",
        "GCP_CREDENTIALS",
        "SSH_PRIVATE_KEY",
        "api_key",
    ],
)
def test_a_literal_value_for_a_secret_looking_name_is_refused(name: str) -> None:
    # "hunter2" is nothing the value scrubber recognises: only the name gives it away.
    with pytest.raises(InvalidCommand) as err:
        check_env({name: "hunter2"}, SCRUBBER)
    message = str(err.value)
    assert message.startswith(f"env.{name}: ")
    assert "looks like a secret" in message
    assert f'{{"secret": "{name}"}}' in message


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DB_PASSWORD", "GITHUB_TOKEN"])
def test_a_secret_looking_name_takes_a_reference(name: str) -> None:
    assert check_env({name: {"secret": "PROD_" + name}}, SCRUBBER) == {
        name: {"secret": "PROD_" + name}
    }


@pytest.mark.parametrize(
    "name", ["LOG_LEVEL", "KEYBOARD_LAYOUT", "MONKEY", "TOKENIZERS_PARALLELISM", "PWD"]
)
def test_ordinary_names_keep_their_values(name: str) -> None:
    assert check_env({name: "debug"}, SCRUBBER) == {name: "debug"}


def test_a_value_the_scrubber_recognises_is_still_refused_under_any_name() -> None:
    with pytest.raises(InvalidCommand, match=r"env\.CONFIG: the value looks like a secret"):
        check_env({"CONFIG": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0"}, SCRUBBER)
