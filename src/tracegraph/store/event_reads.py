"""Which statement reads a page of the event log: run-anchored when a run is given.

The global log is walked in seq order (the seq constraint's index); one run's events
are read from the Run node's ABOUT edges instead, so opening a run, exporting its trace
and resuming a run-filtered subscription cost that run's events, whatever the size of
the whole log (bench/query.py measures both).
"""

from __future__ import annotations

from typing import Literal

Purpose = Literal["page", "after"]  # GraphQL `events` pages / live replay and gap fill

_STATEMENTS: dict[Purpose, tuple[str, str]] = {
    "page": ("gql_events_page", "gql_events_page_of_run"),
    "after": ("events_after_seq", "events_after_seq_of_run"),
}


def events_statement(purpose: Purpose, run: str | None) -> str:
    whole_log, of_run = _STATEMENTS[purpose]
    return whole_log if run is None else of_run
