"""JSON responses serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=orjson.dumps(body),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
