"""Regular expressions of the contract, shared by the models, the schema and error messages.

They avoid look-arounds so that pydantic's default (Rust) regex engine accepts them, and are
anchored because that engine searches rather than matches.
"""

from __future__ import annotations

_NAME_CHARS = r"[A-Za-z0-9._\-/:@]"

# A name: 1-200 characters of letters, digits and ._-/:@ (pipeline names, step keys).
NAME_PATTERN = rf"^{_NAME_CHARS}{{1,200}}$"

# An owner: team:<name> or user:<name>.
OWNER_PATTERN = rf"^(?:team|user):{_NAME_CHARS}{{1,200}}$"

# ISO 8601 duration with at least one component: P1D, PT1H, P7D, P1Y2M, P1DT12H, P2W.
_DATE = r"(?:\d+Y(?:\d+M)?(?:\d+D)?|\d+M(?:\d+D)?|\d+D)"
_TIME = r"T(?:\d+H(?:\d+M)?(?:\d+S)?|\d+M(?:\d+S)?|\d+S)"
DURATION_PATTERN = rf"^P(?:{_DATE}(?:{_TIME})?|{_TIME}|\d+W)$"

# Cron: 5 fields (or 6 with seconds) of the usual cron characters, or a macro like @daily.
_CRON_FIELD = r"[0-9A-Za-z*/,?#\-]+"
CRON_PATTERN = (
    r"^(?:@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)"
    rf"|{_CRON_FIELD}(?: +{_CRON_FIELD}){{4,5}})$"
)

# Completes "<shown value> ..." in error messages, keyed by the failing pattern.
PATTERN_HINTS: dict[str, str] = {
    NAME_PATTERN: "is not a valid name (1-200 letters, digits or ._-/:@)",
    OWNER_PATTERN: "is not a valid owner (expected team:<name> or user:<name>)",
    DURATION_PATTERN: "is not an ISO 8601 duration (e.g. P1D, PT1H, P7D)",
    CRON_PATTERN: "is not a cron expression (5 or 6 fields, or @daily, @hourly, ...)",
}
