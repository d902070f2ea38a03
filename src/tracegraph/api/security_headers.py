"""Security headers on every HTTP answer (ASGI middleware; WebSockets pass untouched).

The dashboard keeps the caller's credential in ``sessionStorage``/``localStorage``, so a
script injected into its page, or the page framed by another site, could use it. Every
answer therefore carries:

* ``X-Content-Type-Options: nosniff`` (a JSON or text answer is never run as a script),
* ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no framing, no
  clickjacking),
* ``Referrer-Policy: no-referrer`` (deep links such as ``/runs/<id>`` stay private),
* a ``Content-Security-Policy`` chosen by what the answer is:

  - the dashboard's pages: only the service's own scripts, styles and connections
    (``web/`` has no inline script or style; vendored libraries are served from
    ``/static/vendor``; ``connect-src 'self'`` covers ``/graphql`` and its WebSocket);
  - GraphiQL (development only): strawberry's page loads React and GraphiQL from
    unpkg.com with inline glue code, so it gets exactly that and nothing more;
  - the OpenAPI viewers (development, signed in): Swagger UI and ReDoc from
    cdn.jsdelivr.net, likewise;
  - anything else (JSON, text, static files): nothing at all.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _policy(**directives: str) -> str:
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


NOTHING = _policy(default_src="'none'", frame_ancestors="'none'", base_uri="'none'")
DASHBOARD = _policy(
    default_src="'self'",
    script_src="'self'",
    style_src="'self'",
    img_src="'self' data:",
    font_src="'self'",
    connect_src="'self'",
    object_src="'none'",
    base_uri="'none'",
    form_action="'self'",
    frame_ancestors="'none'",
)
GRAPHIQL = _policy(
    default_src="'none'",
    script_src="'unsafe-inline' https://unpkg.com",
    style_src="'unsafe-inline' https://unpkg.com",
    img_src="'self' data:",
    font_src="https://unpkg.com data:",
    connect_src="'self'",
    base_uri="'none'",
    frame_ancestors="'none'",
)
API_DOCS = _policy(
    default_src="'none'",
    script_src="'unsafe-inline' https://cdn.jsdelivr.net",
    style_src="'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
    img_src="'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
    font_src="https://fonts.gstatic.com",
    connect_src="'self'",
    worker_src="blob:",
    base_uri="'none'",
    frame_ancestors="'none'",
)
COMMON: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_DOCS_PATHS = frozenset({"/docs", "/redoc"})


def policy_for(path: str, content_type: str, graphql_path: str = "/graphql") -> str:
    """The Content-Security-Policy of an answer to ``path`` of ``content_type``."""
    if not content_type.startswith("text/html"):
        return NOTHING
    if path.rstrip("/") == graphql_path:
        return GRAPHIQL
    if path in API_DOCS_PATHS:
        return API_DOCS
    return DASHBOARD


class SecurityHeaders:
    """Adds :data:`COMMON` and the policy of :func:`policy_for` to every HTTP answer
    (a route that sets its own header keeps it)."""

    def __init__(self, app: ASGIApp, graphql_path: str = "/graphql") -> None:
        self.app = app
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                content_type = headers.get("content-type", "")
                headers.setdefault(
                    "Content-Security-Policy", policy_for(path, content_type, self.graphql_path)
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
