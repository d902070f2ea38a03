"""Starts each HTTP request's answer budget (``tracegraph.ingest.deadline``) on arrival.

Pure ASGI: the endpoint runs in this call's context, so it sees the deadline; nothing
is buffered and WebSockets pass through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tracegraph.ingest import deadline


class RequestDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = deadline.start(self.seconds)
        try:
            await self.app(scope, receive, send)
        finally:
            deadline.reset(token)
