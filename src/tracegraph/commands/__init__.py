"""The control plane's domain (issue 18): commands to pipelines and runs, their states,
and the checks a request passes before anything is stored. Pure code: no FastAPI, no
Neo4j (the store is ``store/command_store.py``, delivery ``commands/feed.py``)."""

from tracegraph.commands.model import (
    OPEN_STATES,
    TERMINAL_STATES,
    CommandKind,
    CommandRequest,
    CommandState,
    InvalidCommand,
    Outcome,
    check_env,
    check_params,
)

__all__ = [
    "OPEN_STATES",
    "TERMINAL_STATES",
    "CommandKind",
    "CommandRequest",
    "CommandState",
    "InvalidCommand",
    "Outcome",
    "check_env",
    "check_params",
]
