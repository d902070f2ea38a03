"""InvalidEvent and the translation of pydantic errors into one human line each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import ErrorDetails, PydanticCustomError

from tracegraph.events.patterns import PATTERN_HINTS

# Error type of problems raised by our own validators; ctx["subloc"] extends the location
# pydantic reports, so a model-level check can point at e.g. `steps[2].depends_on`.
CUSTOM_ERROR_TYPE = "tracegraph"

_MAX_SHOWN = 60


class InvalidEvent(ValueError):
    """An event that does not satisfy the contract.

    `str()` is one line: `<field path>: <problem>`. `problems` holds one such line for every
    problem found, the first one being `str()`.
    """

    def __init__(
        self, message: str, *, event_id: str | None = None, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.event_id = event_id
        self.problems: tuple[str, ...] = tuple(problems) or (message,)

    def __str__(self) -> str:
        return self.message


def problem(
    message: str, *subloc: str | int, at: tuple[str | int, ...] = ()
) -> PydanticCustomError:
    """A validation error for a model validator, located at `subloc` below the model.

    ``at`` (below the model too) names the one value to point at when the location is a
    whole collection (the dependency that closes a cycle): the YAML definitions show
    that value's line; messages keep `subloc`.
    """
    ctx: dict[str, Any] = {"message": message, "subloc": tuple(subloc)}
    if at:
        ctx["at"] = tuple(at)
    return PydanticCustomError(CUSTOM_ERROR_TYPE, "{message}", ctx)


def shown(value: object) -> str:
    """A short, JSON-flavoured repr of a user-supplied value for error messages."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def format_loc(loc: Sequence[str | int]) -> str:
    """('data', 'steps', 2, 'depends_on') -> 'data.steps[2].depends_on'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "event"


def render_error(error: ErrorDetails, event_type: str, known_fields: Sequence[str]) -> str:
    """One line `<path>: <problem>` for a pydantic error raised while validating an event."""
    loc, message = describe_error(error, event_type, known_fields)
    return f"{format_loc(loc)}: {message}"


def describe_error(
    error: ErrorDetails, event_type: str, known_fields: Sequence[str]
) -> tuple[tuple[str | int, ...], str]:
    """The full location of a pydantic error (a model validator's ``subloc`` included) and
    its problem in words, apart: the YAML definitions map the location to a line."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == CUSTOM_ERROR_TYPE:
        loc += tuple(ctx.get("subloc", ()))
    return loc, _describe(kind, error, ctx, loc, event_type, known_fields)


def _describe(
    kind: str,
    error: ErrorDetails,
    ctx: dict[str, Any],
    loc: tuple[str | int, ...],
    event_type: str,
    known_fields: Sequence[str],
) -> str:
    value = error.get("input")
    got = f" (got {shown(value)})"
    if kind == CUSTOM_ERROR_TYPE:
        return str(ctx["message"])
    # An explicit null for a required field is reported like a missing one (optional fields
    # never get here with null: it means "absent" for them).
    null_field = value is None and kind.endswith("_type") and isinstance(loc[-1], str)
    if kind == "missing" or null_field:
        top_level = len(loc) == 1 or (len(loc) == 2 and loc[0] == "data")
        text = f"required for {event_type} events" if top_level else "required"
        return text if kind == "missing" else f"{text} (got null)"
    if kind == "extra_forbidden":
        return f"unknown envelope field (known: {', '.join(sorted(known_fields))})"
    if kind == "none_required":
        return f"not allowed on {event_type} events"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(ctx.get("pattern")), "has an invalid format")
        return f"{shown(value)} {hint}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters (got {len(str(value))})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op, bound = {
            "greater_than_equal": (">=", "ge"),
            "greater_than": (">", "gt"),
            "less_than_equal": ("<=", "le"),
            "less_than": ("<", "lt"),
        }[kind]
        return f"must be {op} {shown(ctx.get(bound))}{got}"
    simple = {
        "string_type": "must be a string",
        "int_type": "must be an integer",
        "int_from_float": "must be an integer",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "list_type": "must be an array",
    }
    if kind in simple:
        return simple[kind] + got
    if kind.startswith(("datetime", "date_", "time_")):
        return f"must be an RFC 3339 timestamp with offset, e.g. '2026-11-20T02:00:00Z'{got}"
    msg = error["msg"]
    return msg[:1].lower() + msg[1:]
