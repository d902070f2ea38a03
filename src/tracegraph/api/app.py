"""The application factory: one FastAPI app whose lifespan opens and closes the driver."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tracegraph import __version__
from tracegraph.api.adapter_routes import router as adapter_router
from tracegraph.api.authentication import install_auth_error_handlers
from tracegraph.api.body_limit import BodyLimit
from tracegraph.api.command_routes import router as command_router
from tracegraph.api.docs_routes import install_api_docs
from tracegraph.api.errors import install_error_handlers
from tracegraph.api.graphql.router import graphql_router
from tracegraph.api.health_routes import router as health_router
from tracegraph.api.ingest_routes import router as ingest_router
from tracegraph.api.metrics_routes import install_metrics
from tracegraph.api.quarantine_routes import router as quarantine_router
from tracegraph.api.rate_limit import install_rate_limits
from tracegraph.api.request_deadline import RequestDeadline
from tracegraph.api.security_headers import SecurityHeaders
from tracegraph.logging_setup import configure_logging
from tracegraph.runtime import open_services
from tracegraph.settings import Settings, get_settings
from tracegraph.web import install_dashboard


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="Tracegraph",
        version=__version__,
        description="Knowledge-graph observability for AI pipelines.",
        lifespan=lifespan,
        # FastAPI's public docs are off; install_api_docs serves them behind a credential.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_auth_error_handlers(app)
    install_rate_limits(app, settings)
    app.include_router(health_router)
    app.include_router(ingest_router)
    app.include_router(adapter_router)
    app.include_router(quarantine_router)
    app.include_router(command_router)
    install_metrics(app)
    install_api_docs(app, settings)
    app.include_router(graphql_router(settings))
    app.add_middleware(BodyLimit, path="/graphql", max_bytes=settings.graphql_max_body_bytes)
    install_dashboard(app)
    # Ingest answers within ingest_deadline_s of arrival (503 + Retry-After otherwise).
    app.add_middleware(RequestDeadline, seconds=settings.ingest_deadline_s)
    # Outermost: every answer, errors and 413s included, gets the security headers.
    app.add_middleware(SecurityHeaders, graphql_path="/graphql")
    return app
