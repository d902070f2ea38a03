"""Redaction rules: the built-in kinds and admins' custom regexes, all compiled with RE2.

RE2 matches in time linear in the text, so no rule (an admin's least of all) can
backtrack catastrophically on a hostile prompt. A rule replaces what it matches with
``[REDACTED:<name>]``; a built-in may replace only one group (the value of
``api_key=…``) and may check a match before replacing it (credit cards: Luhn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import re2

# Rule names end up in replacement text and in the graph: plain identifiers only.
_NAME = re2.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_PATTERN_LENGTH = 1000
# RE2 refuses (with an error) a program that would need more memory than this.
_MAX_MEM = 8 << 20


class InvalidRedactionRule(ValueError):
    """A rule that cannot be used; ``str()`` names the rule and says why."""


def replacement(name: str) -> str:
    return f"[REDACTED:{name}]"


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error is raised to the caller instead
    options.max_mem = _MAX_MEM
    return options


def _compile(pattern: str) -> re2._Regexp:
    return re2.compile(pattern, _options())


@dataclass(frozen=True, slots=True)
class Pattern:
    """One regex of a rule: ``group`` is the part replaced (0: the whole match), and
    ``accept`` (if any) decides whether a match is really a secret."""

    regex: re2._Regexp
    group: int = 0
    accept: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    patterns: tuple[Pattern, ...]
    builtin: bool

    @property
    def replacement(self) -> str:
        return replacement(self.name)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (payment card numbers carry one)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_number(match: str) -> bool:
    digits = "".join(c for c in match if c.isdigit())
    # Major industry identifiers 2-6 cover every card network (Visa 4, Mastercard 2/5,
    # Amex 3, Discover/UnionPay 6); with Luhn this spares epoch millis and order ids.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _has_digit(match: str) -> bool:
    # `api_key: YOUR_KEY_HERE` or `apikey = os.environ[...]` are not secrets.
    return any(c.isdigit() for c in match)


def _token_like(match: str) -> bool:
    # "Bearer <token>", not "the bearer instrument": tokens are long or hold digits.
    return len(match) >= 20 or _has_digit(match)


_KEY_VALUE = r"[A-Za-z0-9_\-.~+/=]{8,}"

_BUILTIN_SPECS: dict[str, tuple[tuple[str, int, Callable[[str], bool] | None], ...]] = {
    "api_key": (
        # Tracegraph's own keys (tg_<12 hex id>_<43-char secret>), first: no other pattern
        # may take a piece of one and leave the rest. 16+ characters of the secret also
        # catch a key cut short in a log line.
        (r"\btg_[0-9a-f]{12}_[A-Za-z0-9_\-]{16,}", 0, None),
        # OpenAI (sk-…, sk-proj-…, sk-svcacct-…) and Anthropic (sk-ant-api03-…).
        (r"\bsk-[A-Za-z0-9_\-]{20,}", 0, _has_digit),
        # AWS access key ids (long-term and temporary).
        (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", 0, None),
        # GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
        (r"\bgh[pousr]_[A-Za-z0-9]{36,}", 0, None),
        (r"\bgithub_pat_[A-Za-z0-9_]{22,}", 0, None),
        # Slack tokens (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-).
        (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", 0, None),
        # Google API keys.
        (r"\bAIza[0-9A-Za-z_\-]{35}", 0, None),
        # Generic assignments: api_key=…, apikey: …, "x-api-key": "…", secret_key=…,
        # aws_secret_access_key = ….
        (
            r"(?i)\b(?:x-|aws_)?(?:api[_\-]?key|secret[_\-]?(?:access[_\-]?)?key"
            r"|client[_\-]?secret)[\"']?\s*[:=]\s*[\"']?(" + _KEY_VALUE + ")",
            1,
            _has_digit,
        ),
    ),
    "bearer_token": (
        (r"(?i)\bbearer\s+([A-Za-z0-9_\-.~+/]{8,}=*)", 1, _token_like),
        # Bare JWTs: header and claims are base64url JSON objects, so both start "eyJ".
        (r"\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*", 0, None),
    ),
    "email": (
        (r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b", 0, None),
    ),
    # 13-19 digits, optionally grouped by single spaces or dashes, Luhn-checked.
    "credit_card": ((r"\b\d(?:[ \-]?\d){12,18}\b", 0, _card_number),),
}

BUILTIN_NAMES: tuple[str, ...] = tuple(_BUILTIN_SPECS)


def _builtin(name: str) -> Rule:
    patterns = tuple(
        Pattern(_compile(regex), group, accept) for regex, group, accept in _BUILTIN_SPECS[name]
    )
    return Rule(name, patterns, builtin=True)


_BUILTINS: dict[str, Rule] = {name: _builtin(name) for name in BUILTIN_NAMES}


def builtin_rule(name: str) -> Rule:
    """The built-in rule ``name``; an unknown name is an error listing the known ones."""
    rule = _BUILTINS.get(name)
    if rule is None:
        raise InvalidRedactionRule(
            f"unknown built-in redaction rule {name!r}; the built-ins are "
            f"{', '.join(BUILTIN_NAMES)}"
        )
    return rule


def check_rule_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidRedactionRule(
            f"invalid redaction rule name {name!r}: use 1-40 lowercase letters, digits "
            "and '_', starting with a letter"
        )
    if name in _BUILTINS:
        raise InvalidRedactionRule(
            f"custom redaction rule {name!r} has the name of a built-in; pick another name"
        )


def custom_rule(name: str, pattern: str) -> Rule:
    """An admin's rule: ``pattern`` is RE2 syntax (no look-around, no backreferences)."""
    check_rule_name(name)
    if not pattern:
        raise InvalidRedactionRule(f"custom redaction rule {name!r}: the pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRedactionRule(
            f"custom redaction rule {name!r}: the pattern is {len(pattern)} characters; "
            f"the limit is {MAX_PATTERN_LENGTH}"
        )
    try:
        regex = _compile(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidRedactionRule(
            f"custom redaction rule {name!r}: invalid RE2 regular expression {pattern!r}: {reason}"
        ) from None
    if regex.fullmatch("") is not None:
        raise InvalidRedactionRule(
            f"custom redaction rule {name!r}: the pattern {pattern!r} matches the empty "
            "string, so it would redact between every character"
        )
    return Rule(name, (Pattern(regex),), builtin=False)


__all__ = [
    "BUILTIN_NAMES",
    "InvalidRedactionRule",
    "Pattern",
    "Rule",
    "builtin_rule",
    "check_rule_name",
    "custom_rule",
    "luhn_valid",
    "replacement",
]
