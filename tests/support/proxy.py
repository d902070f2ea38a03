"""A real HTTP reverse proxy in front of a test service that can refuse chosen requests
with 503 (a replica restarting behind a load balancer), to test clients' fault paths."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from tests.conftest import free_port
from tests.support.eventually import eventually


class RefusingProxy:
    """Forwards every request to ``upstream``; while ``refuse(method, path, body)`` is
    true for a request it answers 503 with ``Retry-After: 0`` instead (``refused``
    counts those)."""

    def __init__(self, upstream: str, refuse: Callable[[str, str, bytes], bool]) -> None:
        self.upstream = upstream
        self.refuse = refuse
        self.refusing = True
        self.refused = 0
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._server.serve(),), daemon=True
        )

    async def _app(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        if self.refusing and self.refuse(request.method, request.url.path, body):
            self.refused += 1
            response = Response("restarting", status_code=503, headers={"retry-after": "0"})
            await response(scope, receive, send)
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with httpx.AsyncClient(base_url=self.upstream, timeout=60) as http:
            upstream = await http.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=body,
                headers=headers,
            )
        drop = {"content-length", "content-encoding", "transfer-encoding", "connection"}
        response = Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() not in drop},
        )
        await response(scope, receive, send)

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        eventually(lambda: self._server.started, timeout=30, what="the proxy started")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
