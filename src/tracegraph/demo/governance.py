"""What the demo sets up for a reviewer (issue 19): definition changes go through the
gate (the default gate policy), one change already waits for review, proposed by the
demo's operator, and one event sits in the quarantine, so the printed reviewer link opens
onto something to decide.

Runs in the demo's own process against the service's objects (``app.state.services``),
like the demo's keys; nothing here is part of the service.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from tracegraph.auth.roles import ROLE_PERMISSIONS, Role
from tracegraph.definitions.render import to_yaml
from tracegraph.definitions.versions import next_version

if TYPE_CHECKING:  # the service's objects (types only: no import at run time)
    from tracegraph.definitions.service import DefinitionState
    from tracegraph.runtime import Services

log = structlog.get_logger(__name__)

# The pipeline whose change waits for review, and what the change says.
PROPOSED_FOR = "rag-nightly"
PROPOSAL = "Nightly refresh of the support-docs and API-reference RAG index"


async def seed_gate(
    services: Services, operator_actor: str, actor: str, wait_s: float = 60.0
) -> bool:
    """Gate definition changes by default and propose one as the operator; False (logged)
    when the demo pipeline's definition did not arrive in ``wait_s`` or it was refused."""
    try:
        state = await _definition_of(services, PROPOSED_FOR, wait_s)
        if state is None or state.data is None:
            log.warning("demo: no definition to propose a change to", pipeline=PROPOSED_FOR)
            return False
        await services.gate.set_policy(None, ["definitions"], actor=actor)
        pending = await services.gate.requests("pending", PROPOSED_FOR, 50)
        if any(r.get("base_version") == state.version for r in pending):
            return True  # a demo started before left one waiting (and not stale)
        data = {
            **state.data,
            "version": next_version(state.versions),
            "description": PROPOSAL,
        }
        permissions = {p.value for p in ROLE_PERMISSIONS[Role.OPERATOR]}
        await services.gate.submit_definition(
            PROPOSED_FOR, to_yaml(data), operator_actor, permissions
        )
        return True
    except Exception as exc:  # the demo goes on without it
        log.warning("demo: could not set up the gate", error=repr(exc))
        return False


async def _definition_of(
    services: Services, pipeline: str, wait_s: float
) -> DefinitionState | None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = await services.definitions.current(pipeline)
        if state.version is not None and state.data:
            return state
        await asyncio.sleep(0.5)
    return None


def quarantine_example(at: datetime) -> dict[str, Any]:
    """One event a buggy emitter would send (a syslog level the contract does not have),
    so the demo's quarantine has something to review: fix ``level`` to ``info`` and
    re-submit it, or discard it with a reason."""
    return {
        "id": f"demo-bad-level-{at.strftime('%Y%m%dT%H%M%S')}",
        "type": "log",
        "time": at.isoformat().replace("+00:00", "Z"),
        "source": "sdk/python@indexer",
        "pipeline": PROPOSED_FOR,
        "data": {"level": "notice", "message": "Index refresh queued behind the backfill"},
    }
