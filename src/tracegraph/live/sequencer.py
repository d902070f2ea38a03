"""Puts the events a replica learns into one gapless seq order (issue 20).

A replica learns committed events two ways: its own commits, pushed at once by the
group committer, and everything any replica committed, read by the hub's tailer from
the event log. :class:`Sequencer` merges both: it keeps the cursor (the last seq fanned
out), drops what is at or below it (so an event learnt twice is fanned out once) and
releases events only in an unbroken run from ``cursor + 1``.

Seqs are allocated under the counter's write lock, held until commit
(``claim_events.cypher``), so a lower seq is visible before a higher one on the leader.
A hole can still show: a follower that has not applied a transaction yet, or a seq that
was reserved and never stored. The cursor then waits at the hole for ``hold_s`` (the
tailer reads again meanwhile) and after that skips it, logged, so one lost seq cannot
stop the live view.

A hole is skipped only on evidence (``read_evidence``): a tailer's read that *began*
after the hole showed has answered without it. Time alone is no evidence: on a loaded
machine the tailer's reads time out for seconds, and skipping then dropped other
replicas' events that were committed and readable (measured: bench/replicas.py at load
13-25 logged "skipped seqs never seen" for seqs that were stored, and their subscribers
never got them).

A read shows a seq missing only up to where it read: a page that was full (the tailer
reads ``page_size`` rows at a time) covers the log up to its last row, no further. So each
read reports how far it covered (``read_through``: its last row when full, None when it
reached the end of the log as read), and a hole counts as shown missing only when a read
begun after it covered it. A hole followed by more than one page of events is skipped
that way; before, only a read that reached the end counted, and the tailer, reading the
same full page behind the hole again on every tick, never got there: nothing after the
hole was delivered.

A seq the tailer read but cannot deliver (a row it could not decode: ``passed``) is no
hole: the cursor moves past it at once, without fanning anything out for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import structlog

from tracegraph.events.records import SequencedEvent

log = structlog.get_logger(__name__)


class Sequencer:
    def __init__(
        self,
        hold_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        read_evidence: bool = False,
    ) -> None:
        self._hold_s = hold_s
        self._clock = clock
        # Skip a hole only once a read begun after it showed has answered (a tailing
        # hub); a hub fed only by its own commits has no reads to wait for.
        self._read_evidence = read_evidence
        # The latest read of the log: when it began, and how far it covered (None: to
        # the end of the log as read).
        self._last_read_began: float | None = None
        self._last_read_through: int | None = None
        self.cursor: int | None = None  # None until the tailer read where the log ends
        # Events waiting for the seqs before them; None: a seq read with nothing to deliver.
        self._waiting: dict[int, SequencedEvent | None] = {}
        self._hole_since: float | None = None
        self.skipped = 0  # seqs given up on after hold_s
        self.passed = 0  # seqs read that had nothing to deliver (undecodable rows)

    @property
    def waiting(self) -> bool:
        """Events are held behind a hole (the tailer should read now)."""
        return bool(self._waiting)

    def start(self, last_stored: int) -> list[SequencedEvent]:
        """The log ended at ``last_stored`` when the tailer started. Own commits learnt
        before that start the cursor below themselves (the tailer reads what precedes
        them)."""
        lowest = min(self._waiting, default=last_stored + 1)
        self.cursor = min(last_stored, lowest - 1)
        return self.release()

    def reset(self, cursor: int) -> None:
        """Follow a log that was wiped from ``cursor`` on (what waited is gone)."""
        self.cursor = cursor
        self._waiting.clear()
        self._hole_since = None
        self._last_read_began = self._last_read_through = None

    def offer(
        self,
        events: Iterable[SequencedEvent],
        *,
        read_began: float | None = None,
        read_through: int | None = None,
        passed: Iterable[int] = (),
    ) -> list[SequencedEvent]:
        """Note events (any order, maybe known already); return those now releasable.
        ``read_began``: the events are a tailer's read of the log (from the cursor) that
        began then (its clock), so a hole older than that and not past ``read_through``
        (the last seq the read covered; None: it reached the end of the log) is not in
        the log. ``passed``: seqs that read returned with nothing to deliver (the cursor
        moves past them)."""
        if read_began is not None and (
            self._last_read_began is None or read_began >= self._last_read_began
        ):
            self._last_read_began, self._last_read_through = read_began, read_through
        cursor = self.cursor
        for ev in events:
            if cursor is None or ev.seq > cursor:
                self._waiting.setdefault(ev.seq, ev)
        for seq in passed:
            if cursor is None or seq > cursor:
                self._waiting.setdefault(seq, None)
        return self.release()

    def release(self) -> list[SequencedEvent]:
        if self.cursor is None or not self._waiting:
            return []
        out: list[SequencedEvent] = []
        nxt = self.cursor + 1
        while nxt in self._waiting:
            ev = self._waiting.pop(nxt)
            if ev is None:
                self.passed += 1
            else:
                out.append(ev)
            nxt += 1
        if nxt > self.cursor + 1:
            self.cursor = nxt - 1
            self._hole_since = None
        if self._waiting:
            now = self._clock()
            if self._hole_since is None:
                self._hole_since = now
            elif now - self._hole_since >= self._hold_s and self._read_since_hole():
                lowest = min(self._waiting)
                log.warning(
                    "live fan-out skipped seqs never seen", first=self.cursor + 1, last=lowest - 1
                )
                self.skipped += lowest - 1 - self.cursor
                self.cursor = lowest - 1
                self._hole_since = None
                out.extend(self.release())
        return out

    def _read_since_hole(self) -> bool:
        """A read begun after the hole showed covered it (up to the seq before the
        lowest one waiting) and did not find it."""
        if not self._read_evidence:
            return True
        began, since = self._last_read_began, self._hole_since
        if began is None or since is None or began <= since:
            return False
        through = self._last_read_through
        return through is None or through >= min(self._waiting) - 1
