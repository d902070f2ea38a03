"""``tracegraph retention run | erase``: a retention pass, or a subject's erasure, straight
in Neo4j and the archive directory (docs/retention.md).

A pass takes the ``retention`` lease first, as a replica's duty does, so it never runs
beside another pass; erasure needs no lease (it holds the archive's lock).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console

from tracegraph.retention.erase import check_subject
from tracegraph.retention.service import retention_service
from tracegraph.settings import Settings
from tracegraph.store.driver import open_driver
from tracegraph.store.lease_store import LeaseStore
from tracegraph.store.schema import apply_schema

err = Console(stderr=True)
retention_app = typer.Typer(help="Retention passes and erasure (docs/retention.md).")


class LeaseBusy(RuntimeError):
    pass


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time (ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z)",
            param_hint="--as-of",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@retention_app.command("run")
def run_pass(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be archived; change nothing.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Expire as if it were this date (ISO 8601; default now)."),
    ] = None,
) -> None:
    """Archive and remove what the TRACEGRAPH_RETENTION_* settings say has expired."""
    settings = Settings()
    when = _as_of(as_of)
    service_days = (
        settings.retention_events_days,
        settings.retention_text_days,
        settings.retention_logs_days,
        settings.retention_runs_days,
    )
    if not any(service_days):
        err.print(
            "[red]error:[/red] no retention is set: set TRACEGRAPH_RETENTION_EVENTS_DAYS, "
            "_TEXT_DAYS, _LOGS_DAYS or _RUNS_DAYS (days > 0)"
        )
        raise typer.Exit(2)

    async def run() -> dict[str, object]:
        driver = open_driver(settings.neo4j)
        leases = LeaseStore(driver, settings.neo4j.database, settings.query_timeout_s)
        holder = f"cli-{uuid.uuid4().hex}"
        token = None
        try:
            await apply_schema(driver, settings.neo4j.database)
            service = retention_service(settings, driver, settings.query_timeout_s)
            if not dry_run:
                token = await leases.acquire(
                    "retention", holder, None, max(settings.lease_ttl_s, 3600.0)
                )
                if token is None:
                    raise LeaseBusy(
                        "another replica holds the retention lease (a pass is running "
                        "there); try again later"
                    )
                fence = {"name": "retention", "holder": holder, "token": token}
                service.store.fence = lambda: fence
            report = await service.run_pass(as_of=when, dry_run=dry_run)
            return report.summary()
        finally:
            if token is not None:
                await leases.release("retention", holder, token)
            await driver.close()

    try:
        summary = asyncio.run(run())
    except LeaseBusy as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:
        err.print(f"[red]error:[/red] retention pass failed against {settings.neo4j.uri}: {exc}")
        raise typer.Exit(1) from None
    print(orjson.dumps(summary).decode(), flush=True)


@retention_app.command("erase")
def erase(
    subject: Annotated[str, typer.Argument(help="A user id or email to erase the text of.")],
) -> None:
    """Erase every prompt/response/log text mentioning SUBJECT, in Neo4j and the archive."""
    settings = Settings()
    try:
        check_subject(subject)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SUBJECT") from None

    async def run() -> dict[str, object]:
        driver = open_driver(settings.neo4j)
        try:
            await apply_schema(driver, settings.neo4j.database)
            service = retention_service(settings, driver, settings.query_timeout_s)
            report = await service.erase(subject, actor="cli:retention")
            return {
                "subject_sha256": report.subject_sha256,
                "nodes": report.nodes,
                "archive_files": report.archive_files,
                "archive_rows": report.archive_rows,
                "identifiers_kept": report.identifiers_kept,
            }
        finally:
            await driver.close()

    try:
        summary = asyncio.run(run())
    except Exception as exc:
        err.print(f"[red]error:[/red] erasure failed against {settings.neo4j.uri}: {exc}")
        raise typer.Exit(1) from None
    print(orjson.dumps(summary).decode(), flush=True)
