"""Cross-site WebSocket hijacking guard: browsers send ``Origin`` on the handshake.

Allowed: no Origin (not a browser), the service's own origin (same Host), or an origin
listed in ``TRACEGRAPH_ALLOWED_ORIGINS`` (``*`` allows any). Anything else is refused
before the handshake completes (HTTP 403).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    if not origin:
        return True
    normalized = origin.rstrip("/").lower()
    if "*" in allowed or normalized in (a.rstrip("/").lower() for a in allowed):
        return True
    return bool(host) and urlsplit(normalized).netloc == (host or "").lower()


def check_origin(conn: HTTPConnection, allowed: list[str]) -> None:
    origin = conn.headers.get("origin")
    if not origin_allowed(origin, conn.headers.get("host"), allowed):
        raise WebSocketException(
            WS_1008_POLICY_VIOLATION, f"origin {origin!r} is not allowed to open a WebSocket"
        )
