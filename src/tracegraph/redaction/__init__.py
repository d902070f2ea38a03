"""Scrubbing secrets and personal data out of events at ingest, and hiding prompt text.

Pure domain code (no FastAPI, no Neo4j): rules compiled with RE2, the scrubber that
applies them to events, the policy model and the per-replica active policy.
"""

from tracegraph.redaction.active import ActivePolicy, PolicyRefresher, PolicySource
from tracegraph.redaction.policy import MAX_CUSTOM_RULES, RedactionPolicy, make_policy
from tracegraph.redaction.rules import BUILTIN_NAMES, InvalidRedactionRule, luhn_valid
from tracegraph.redaction.scrubber import (
    NO_REDACTION,
    TEXT_FIELDS,
    RedactionCount,
    Redactions,
    Scrubber,
)
from tracegraph.redaction.visibility import HIDDEN_FIELDS, without_prompt_text

__all__ = [
    "BUILTIN_NAMES",
    "HIDDEN_FIELDS",
    "MAX_CUSTOM_RULES",
    "NO_REDACTION",
    "TEXT_FIELDS",
    "ActivePolicy",
    "InvalidRedactionRule",
    "PolicyRefresher",
    "PolicySource",
    "RedactionCount",
    "RedactionPolicy",
    "Redactions",
    "Scrubber",
    "luhn_valid",
    "make_policy",
    "without_prompt_text",
]
