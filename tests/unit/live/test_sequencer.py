"""The merge of own commits and tailed events into one gapless seq order (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime

from tracegraph.events.records import SequencedEvent
from tracegraph.live.sequencer import Sequencer


def ev(seq: int) -> SequencedEvent:
    return SequencedEvent(
        seq=seq, payload={"type": "log"}, fingerprint="f", received_at=datetime.now(UTC)
    )


def seqs(events: list[SequencedEvent]) -> list[int]:
    return [e.seq for e in events]


def test_own_commits_wait_behind_a_hole_until_the_tailer_fills_it() -> None:
    s = Sequencer(hold_s=1.0, clock=lambda: 0.0)
    assert s.start(10) == []
    assert seqs(s.offer([ev(11), ev(12)])) == [11, 12]  # own commit, contiguous: at once
    assert s.offer([ev(15), ev(16)]) == [] and s.waiting  # 13-14 from another replica
    # The tailer reads 13-16: each seq is released once.
    assert seqs(s.offer([ev(13), ev(14), ev(15), ev(16)])) == [13, 14, 15, 16]
    assert s.offer([ev(12), ev(16)]) == [] and not s.waiting  # known already: dropped


def test_own_commits_before_the_start_start_the_cursor_below_them() -> None:
    s = Sequencer(hold_s=1.0)
    assert s.offer([ev(9), ev(10)]) == []  # no cursor yet: held
    # The log ended at 12 (11-12 from another replica): released from 9, then read on.
    assert seqs(s.start(12)) == [9, 10] and s.cursor == 10


def test_a_hole_is_skipped_after_the_hold() -> None:
    now = [0.0]
    s = Sequencer(hold_s=1.0, clock=lambda: now[0])
    s.start(0)
    assert s.offer([ev(2)]) == []
    now[0] = 0.5
    assert s.release() == []
    now[0] = 1.0
    assert seqs(s.release()) == [2] and s.skipped == 1


def test_a_tailing_sequencer_skips_a_hole_only_after_a_read_begun_since_answered() -> None:
    # The tailer's reads time out on a loaded machine: time alone must not skip the hole
    # (the seq may be stored and readable: skipping it lost events for the subscribers).
    now = [0.0]
    s = Sequencer(hold_s=1.0, clock=lambda: now[0], read_evidence=True)
    s.start(0)
    assert s.offer([ev(1)], read_began=0.0) != []
    assert s.offer([ev(3)]) == []  # own commit; 2 from another replica, not read yet
    now[0] = 5.0
    assert s.release() == [] and s.skipped == 0  # held on, however long
    # A read that began before the hole showed proves nothing.
    assert s.offer([], read_began=-1.0) == [] and s.skipped == 0
    # A read begun after it fills it when 2 is there...
    assert seqs(s.offer([ev(2)], read_began=5.0)) == [2, 3] and s.skipped == 0
    # ...and a read begun after it that answers without it lets the hold skip it.
    now[0] = 6.0
    assert s.offer([ev(5)]) == []
    now[0] = 6.5
    assert s.offer([], read_began=6.5) == []  # read, but the hold has not passed
    now[0] = 7.0
    assert seqs(s.release()) == [5] and s.skipped == 1


def test_seqs_read_with_nothing_to_deliver_are_passed_at_once() -> None:
    # Rows the tailer read but could not decode: no hole to wait at, and nothing fanned out.
    s = Sequencer(hold_s=60.0, clock=lambda: 0.0, read_evidence=True)
    s.start(0)
    assert seqs(s.offer([ev(1), ev(3)], passed=[2])) == [1, 3]
    assert s.cursor == 3 and s.passed == 1 and s.skipped == 0
    assert s.offer([ev(5)]) == [] and s.waiting  # 4: not read yet, a hole
    assert seqs(s.offer([], passed=[4])) == [5] and not s.waiting
    assert s.offer([], passed=[5, 6]) == [] and s.cursor == 6  # a passed seq at the end
    assert s.passed == 3


def test_a_full_page_that_read_past_a_hole_is_evidence_up_to_its_last_row() -> None:
    now = [0.0]
    s = Sequencer(hold_s=1.0, clock=lambda: now[0], read_evidence=True)
    s.start(0)
    page = [ev(3), ev(4), ev(5)]  # a full page after the cursor: 1 and 2 not in it
    assert s.offer(page, read_began=0.0, read_through=5) == []
    now[0] = 2.0
    # Read again since, through 5: 1-2 are not in the log up to there; skipped.
    assert seqs(s.offer(page, read_began=1.5, read_through=5)) == [3, 4, 5]
    assert s.skipped == 2 and s.cursor == 5


def test_a_read_that_stopped_short_of_the_hole_is_no_evidence() -> None:
    now = [0.0]
    s = Sequencer(hold_s=1.0, clock=lambda: now[0], read_evidence=True)
    s.start(0)
    assert seqs(s.offer([ev(1)], read_began=0.0)) == [1]
    assert s.offer([ev(9)]) == []  # own commit: 2-8 from another replica, not read yet
    now[0] = 5.0
    # A full page that ended at 4 says nothing about 5-8.
    assert seqs(s.offer([ev(2), ev(3), ev(4)], read_began=4.0, read_through=4)) == [2, 3, 4]
    now[0] = 10.0
    assert seqs(s.offer([ev(5)], read_began=9.0, read_through=5)) == [5]
    now[0] = 20.0
    # Begun after the hole showed and long after the hold, but it ended at 6: 7-8 may be
    # in the log (the page was full before them).
    assert s.offer([], read_began=19.0, read_through=6) == []
    assert s.skipped == 0 and s.cursor == 5
    # One that read through 8 is evidence.
    now[0] = 30.0
    assert seqs(s.offer([], read_began=29.0, read_through=8)) == [9]
    assert s.skipped == 3
