"""The redaction policy: which built-ins are on and the custom rules, validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracegraph.redaction.rules import (
    InvalidRedactionRule,
    Rule,
    builtin_rule,
    custom_rule,
)
from tracegraph.redaction.scrubber import Scrubber

MAX_CUSTOM_RULES = 50


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """``builtins`` by name and ``custom_rules`` as (name, RE2 pattern), in the order they
    apply (built-ins first). ``version`` grows by one with every stored change."""

    builtins: tuple[str, ...]
    custom_rules: tuple[tuple[str, str], ...]
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None

    def rules(self) -> list[Rule]:
        """The compiled rules; raises :class:`InvalidRedactionRule` naming a bad one."""
        return [builtin_rule(n) for n in self.builtins] + [
            custom_rule(name, pattern) for name, pattern in self.custom_rules
        ]

    def scrubber(self) -> Scrubber:
        return Scrubber(self.rules())

    def snapshot(self) -> dict[str, Any]:
        """What the audit trail records as before/after."""
        return {
            "builtins": list(self.builtins),
            "custom_rules": [{"name": n, "pattern": p} for n, p in self.custom_rules],
            "version": self.version,
        }

    def same_rules(self, other: RedactionPolicy) -> bool:
        return self.builtins == other.builtins and self.custom_rules == other.custom_rules


def make_policy(
    builtins: Iterable[str],
    custom_rules: Iterable[tuple[str, str]] | Mapping[str, str],
    **meta: Any,
) -> RedactionPolicy:
    """A validated policy: every rule compiles, no name twice, known built-ins only."""
    names = [str(n).strip() for n in builtins]
    pairs = list(custom_rules.items() if isinstance(custom_rules, Mapping) else custom_rules)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidRedactionRule(f"built-in redaction rule {name!r} is listed twice")
        seen.add(name)
    if len(pairs) > MAX_CUSTOM_RULES:
        raise InvalidRedactionRule(
            f"{len(pairs)} custom redaction rules; the limit is {MAX_CUSTOM_RULES}"
        )
    for name, _ in pairs:
        if name in seen:
            raise InvalidRedactionRule(f"redaction rule name {name!r} is used twice")
        seen.add(name)
    policy = RedactionPolicy(
        builtins=tuple(names),
        custom_rules=tuple((str(n), str(p)) for n, p in pairs),
        **meta,
    )
    policy.rules()  # compiles every rule: the error names the first bad one
    return policy


__all__ = ["MAX_CUSTOM_RULES", "RedactionPolicy", "make_policy"]
