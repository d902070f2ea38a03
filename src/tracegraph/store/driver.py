"""Opening the Neo4j driver from settings."""

from __future__ import annotations

from neo4j import AsyncDriver, AsyncGraphDatabase

from tracegraph.settings import Neo4jSettings


def open_driver(settings: Neo4jSettings) -> AsyncDriver:
    return AsyncGraphDatabase.driver(
        settings.uri,
        auth=settings.auth,
        max_connection_pool_size=settings.max_connection_pool_size,
        connection_timeout=settings.connection_timeout_s,
        connection_acquisition_timeout=settings.connection_acquisition_timeout_s,
        # Transient errors (deadlocks, leader switches) are retried by execute_write;
        # keep the total short so a dead database turns into a quick 503.
        max_transaction_retry_time=settings.max_transaction_retry_time_s,
        initial_retry_delay=settings.transaction_retry_delay_s,
        liveness_check_timeout=30.0,
        # Schema notifications (e.g. a property not created yet) are noise in our logs.
        notifications_min_severity="OFF",
    )
