"""Live fan-out of committed events and run states to subscribers (pure asyncio)."""

from tracegraph.live.hub import (
    EventFilter,
    LiveHub,
    LiveItem,
    RunFilter,
    RunUpdate,
    SubscriberClosed,
)

__all__ = ["EventFilter", "LiveHub", "LiveItem", "RunFilter", "RunUpdate", "SubscriberClosed"]
