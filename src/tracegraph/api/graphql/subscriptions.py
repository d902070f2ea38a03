"""The ``Subscription`` type: live events (resumable) and run state pushes.

Both fields read from the process's :class:`~tracegraph.live.hub.LiveHub`. This is the
plain strawberry path (one GraphQL execution per subscriber per event); a WebSocket
connection served by :mod:`tracegraph.api.graphql.live_ws` runs the same subscriptions through
the hub but evaluates each distinct subscription once per event and sends the same text
to every subscriber that shares it. Either way the objects handed to GraphQL are built
once per event (``LiveItem.memo``) and shared.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import subscription_closed
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.types import Event, Run
from tracegraph.auth import Permission
from tracegraph.live.hub import (
    EventFilter,
    LiveHub,
    LiveItem,
    RunFilter,
    RunUpdate,
    SubscriberClosed,
)


def live_hub(context: Context) -> LiveHub:
    """The hub of the running service."""
    return context.services.hub


def event_of(item: LiveItem) -> Event:
    """The GraphQL ``Event`` of a live item, built once per event and shared."""
    event = item.memo.get(Event)
    if event is None:
        ev = item.event
        event = item.memo[Event] = Event.from_payload(item.seq, ev.payload, ev.principal)
    return event


def run_of(update: RunUpdate) -> Run:
    """The GraphQL ``Run`` of a run update, built once per update and shared."""
    run = update.memo.get(Run)
    if run is None:
        run = update.memo[Run] = Run.from_node(update.state)
    return run


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description=(
            "Stored events with seq > afterSeq in seq order, then live ones: no gap, no "
            "duplicate, filters applied to both parts. Without afterSeq, live only. A "
            "subscriber that falls too far behind gets an error naming the afterSeq to "
            "resume from."
        ),
    )
    async def events(
        self,
        info: Info[Context, None],
        after_seq: int | None = None,
        pipeline: str | None = None,
        run: strawberry.ID | None = None,
        types: list[str] | None = None,
    ) -> AsyncGenerator[Event, None]:
        stream = live_hub(info.context).events(EventFilter.of(pipeline, run, types), after_seq)
        try:
            async for item in stream:
                yield event_of(item)
        except SubscriberClosed as exc:
            raise subscription_closed(exc) from exc
        finally:
            await stream.aclose()

    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="The run's new state after every change to it or its step runs "
        "(the whole run each time; runChanged sends only what changed).",
        deprecation_reason="Use runChanged (versioned patches, resumable; "
        "docs/live-deltas.md). runUpdated keeps working.",
    )
    async def run_updated(
        self,
        info: Info[Context, None],
        run: strawberry.ID | None = None,
        pipeline: str | None = None,
    ) -> AsyncGenerator[Run, None]:
        stream = live_hub(info.context).run_updates(RunFilter.of(run, pipeline))
        try:
            async for update in stream:
                yield run_of(update)
        except SubscriberClosed as exc:
            raise subscription_closed(exc) from exc
        finally:
            await stream.aclose()


__all__ = ["Subscription", "event_of", "live_hub", "run_of"]
