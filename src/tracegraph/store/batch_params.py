"""Parameters of batched statements, wrapped so the driver does not format them.

The neo4j driver builds the text of its ``C: RUN`` debug line — the repr of every
parameter — on each statement, whether or not debug logging is on. For a batch of
thousands of rows that costs about as much as packing them, on the single writer's
critical path. A list that prints as its length packs exactly like a list.
"""

from __future__ import annotations

from typing import Any


class RowList(list[Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def batch_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every list value wrapped in a :class:`RowList`."""
    return {k: RowList(v) if isinstance(v, list) else v for k, v in params.items()}
