"""``tracegraph keys create|list|revoke``: API keys, managed straight in the graph.

These commands talk to Neo4j (``NEO4J_*`` settings), not to the service, so an operator
with database access can always mint the first or a replacement admin key. Every change
is audited with the actor ``local:<OS user>``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tracegraph.auth.roles import Role, parse_role
from tracegraph.auth.scopes import InvalidScope, WriteScope, parse_scope
from tracegraph.settings import Settings
from tracegraph.store.driver import open_driver
from tracegraph.store.key_store import ApiKeyRecord, KeyNameTaken, KeyStore, UnknownKey
from tracegraph.store.schema import apply_schema

keys_app = typer.Typer(help="Create, list and revoke API keys (directly in Neo4j).")
T = TypeVar("T")
err = Console(stderr=True)


def _actor() -> str:
    return f"local:{getpass.getuser()}"


def _with_store(work: Callable[[KeyStore], Awaitable[T]]) -> T:
    settings = Settings()

    async def run() -> T:
        driver = open_driver(settings.neo4j)
        try:
            await apply_schema(driver, settings.neo4j.database)
            return await work(KeyStore(driver, settings.neo4j.database))
        finally:
            await driver.close()

    try:
        return asyncio.run(run())
    except (KeyNameTaken, UnknownKey, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:  # the database is down or refuses us: one clear line
        err.print(f"[red]error:[/red] cannot reach Neo4j at {settings.neo4j.uri}: {exc}")
        raise typer.Exit(1) from None


def _scope(patterns: list[str] | None) -> WriteScope | None:
    try:
        return parse_scope(patterns)
    except InvalidScope as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None


def _role(value: str) -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@keys_app.command("create")
def create(
    role: Annotated[
        Role, typer.Option("--role", parser=_role, help="viewer, reviewer, ingester or admin.")
    ],
    name: Annotated[str, typer.Option("--name", help="A unique name, e.g. the emitter or person.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the key.")] = False,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Limit the pipelines the key may write events for to this glob pattern "
            "(e.g. 'rag-*'); repeat for several. Default: any pipeline.",
        ),
    ] = None,
) -> None:
    """Create a key. It is printed once and stored only as a hash."""
    write_scope = _scope(scope)
    record, text = _with_store(lambda store: store.create(name, role, _actor(), write_scope))
    if quiet:
        typer.echo(text)
        return
    err.print(f"Created {record.role} key [bold]{record.name}[/bold] (id {record.id}).")
    if record.scopes:
        err.print(f"It may write events only for pipelines matching {', '.join(record.scopes)}.")
    err.print("It is shown only now; store it safely:")
    typer.echo(text)


@keys_app.command("list")
def list_keys(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (never their secrets)."""
    records = _with_store(lambda store: store.list(include_revoked=all_))
    table = Table("id", "name", "role", "scope", "created", "by", "last used", "revoked")
    for r in records:
        table.add_row(
            r.id,
            r.name,
            r.role,
            ", ".join(r.scopes) if r.scopes else "any pipeline",
            r.created_at,
            r.created_by,
            r.last_used_at or "-",
            r.revoked_at or "-",
        )
    out = Console()
    if not out.is_terminal:
        # Piped or captured: rich would squeeze eight columns into 80 characters and wrap
        # ids and names mid-word; a script reading the table wants whole values.
        out = Console(width=240)
    out.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")]) -> None:
    """Revoke a key; every replica refuses it within the key cache TTL (5 s)."""
    record: ApiKeyRecord = _with_store(lambda store: store.revoke(key_id, _actor()))
    err.print(f"Revoked key {record.name} (id {record.id}) at {record.revoked_at}.")
