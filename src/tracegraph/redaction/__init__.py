"""Scrubbing secrets and personal data out of events at ingest, and hiding prompt text.

Pure domain code (no FastAPI, no Neo4j): rules compiled with RE2, the scrubber that
applies them to every string of an event but its identifiers (``kept``), the one-search
pre-check that keeps that cheap (``precheck``), the policy model and the per-replica
active policy.
"""

from tracegraph.redaction.active import ActivePolicy, PolicyRefresher, PolicySource
from tracegraph.redaction.kept import KEPT, KEPT_BY_DEFAULT, kept_in
from tracegraph.redaction.policy import MAX_CUSTOM_RULES, RedactionPolicy, make_policy
from tracegraph.redaction.rules import BUILTIN_NAMES, InvalidRedactionRule, luhn_valid
from tracegraph.redaction.scrubber import (
    NO_REDACTION,
    RedactionCount,
    Redactions,
    Scrubber,
)
from tracegraph.redaction.visibility import (
    HIDDEN_FIELDS,
    POLICY_EVENT_TYPES,
    without_policy,
    without_prompt_text,
)

__all__ = [
    "BUILTIN_NAMES",
    "HIDDEN_FIELDS",
    "KEPT",
    "KEPT_BY_DEFAULT",
    "MAX_CUSTOM_RULES",
    "NO_REDACTION",
    "POLICY_EVENT_TYPES",
    "ActivePolicy",
    "InvalidRedactionRule",
    "PolicyRefresher",
    "PolicySource",
    "RedactionCount",
    "RedactionPolicy",
    "Redactions",
    "Scrubber",
    "kept_in",
    "luhn_valid",
    "make_policy",
    "without_policy",
    "without_prompt_text",
]
