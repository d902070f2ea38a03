"""Decoding a GraphQL-over-HTTP request body, with a precise 4xx for every bad one.

strawberry decodes bodies with ``json.loads`` and catches only ``JSONDecodeError``: bytes
that are not UTF-8 (a gzip-compressed body, Latin-1 text), JSON nested deeper than the
decoder's recursion limit, integers over Python's digit limit, and a body that is valid
JSON but not an object (a string, a number, a list) all ended as a 500 with a traceback.
Here each is a 400 naming the problem, and a compressed body or a content type other
than JSON is a 415 (nothing decompresses request bodies in this service). Each is a
:class:`BadBody`, which the router counts against the caller's rate limit like any other
request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from strawberry.http.parse_content_type import parse_content_type

JSON_TYPE = "application/json"


class BadBody(HTTPException):
    """A refused request body (400 or 415); strawberry's view answers it as plain text."""


def check_post_headers(headers: Mapping[str, str], content_type: str | None) -> None:
    """415 for a compressed body or a content type other than JSON."""
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if encoding not in ("", "identity"):
        raise BadBody(
            415, f"Content-Encoding {encoding!r} is not supported; send the body uncompressed"
        )
    media_type, _ = parse_content_type(content_type or "")
    if media_type != JSON_TYPE:
        shown = media_type or "(none)"
        raise BadBody(415, f"Content-Type {shown!r} is not supported; send {JSON_TYPE}")


def decode_json_body(data: str | bytes) -> Any:
    """The JSON value of ``data`` or a 400 saying what is wrong with it.

    ``bytes`` are a request body, which must be a JSON object; ``str`` values come from
    query parameters (``variables``, ``extensions`` of a GET), whose type strawberry
    checks itself.
    """
    text = data
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadBody(
                400,
                f"the request body is not valid UTF-8 (byte {exc.start}); send JSON text "
                "encoded as UTF-8, uncompressed",
            ) from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadBody(400, "the request body is nested too deeply to be decoded as JSON") from None
    except ValueError as exc:  # JSONDecodeError, or e.g. an integer over the digit limit
        raise BadBody(400, f"Unable to parse request body as JSON: {exc}") from None
    if isinstance(data, bytes) and not isinstance(value, dict):
        raise BadBody(
            400,
            "the request body must be a JSON object such as "
            f'{{"query": "...", "variables": {{}}}}, not a JSON {_json_kind(value)}',
        )
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "literal"
    return "number"
