"""Cron fire times, computed once per schedule and reused across SLA sweeps.

Walking a cron expression with croniter is slow (about 30 µs a step, so ~47 ms for a
day of per-minute fire times), and the timer asks every few seconds for nearly the same
range. The cache keeps, per schedule, the fire times of an interval it knows completely
and only walks croniter for what the interval does not cover yet: a sweep then costs one
``get_next`` when a new fire time comes due and nothing in between. Thread-safe: the
evaluator calls it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from croniter import croniter


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


@dataclass(slots=True)
class _Known:
    """Every fire time in ``[lo, hi]`` (epoch ms), ascending."""

    lo: int
    hi: int
    fires: list[int] = field(default_factory=list)


class FireTimeCache:
    def __init__(self, max_schedules: int = 1024) -> None:
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._max = max_schedules
        self._lock = threading.Lock()
        self.croniter_steps = 0  # for tests and benchmarks: how much walking was done

    def recent(self, schedule: str, floor_ms: int, cutoff_ms: int, max_fires: int) -> list[int]:
        """The latest ``max_fires`` fire times ``f`` with ``floor <= f < cutoff``,
        ascending. Raises ``croniter.CroniterError`` (a ValueError) for a bad expression."""
        if cutoff_ms <= floor_ms or max_fires <= 0:
            return []
        with self._lock:
            known = self._known.get(schedule)
            if (
                known is None
                or cutoff_ms - 1 < known.lo
                or not self._extend(schedule, known, cutoff_ms, max_fires)
            ):
                known = self._build(schedule, floor_ms, cutoff_ms, max_fires)
            start = bisect.bisect_left(known.fires, max(floor_ms, known.lo))
            end = bisect.bisect_left(known.fires, cutoff_ms)
            if known.lo > floor_ms and end - start < max_fires:
                # Not known far enough back (the floor moved down): walk it afresh.
                known = self._build(schedule, floor_ms, cutoff_ms, max_fires)
                start = bisect.bisect_left(known.fires, floor_ms)
                end = bisect.bisect_left(known.fires, cutoff_ms)
            start = max(start, end - max_fires)
            found = known.fires[start:end]
            if start > max_fires:  # forget what no later call can ask for again
                del known.fires[:start]
                known.lo = known.fires[0] if known.fires else known.hi
            self._known[schedule] = known
            self._known.move_to_end(schedule)
            while len(self._known) > self._max:
                self._known.popitem(last=False)
            return found

    def following(self, schedule: str, fire_ms: int) -> int:
        """The first fire time after ``fire_ms`` (from the cache when it is known)."""
        with self._lock:
            known = self._known.get(schedule)
            if known is not None and known.lo <= fire_ms:
                i = bisect.bisect_right(known.fires, fire_ms)
                if i < len(known.fires):
                    return known.fires[i]
            self.croniter_steps += 1
            return _ms(croniter(schedule, _dt(fire_ms)).get_next(datetime))

    def _build(self, schedule: str, floor_ms: int, cutoff_ms: int, max_fires: int) -> _Known:
        it = croniter(schedule, _dt(cutoff_ms))
        fires: list[int] = []
        lo = floor_ms
        while True:
            fire = _ms(it.get_prev(datetime))
            self.croniter_steps += 1
            if fire < floor_ms:
                break
            fires.append(fire)
            if len(fires) >= max_fires:
                lo = fire
                break
        fires.reverse()
        known = _Known(lo=lo, hi=cutoff_ms - 1, fires=fires)
        self._extend(schedule, known, cutoff_ms, max_fires)
        return known

    def _extend(self, schedule: str, known: _Known, cutoff_ms: int, max_fires: int) -> bool:
        """Walk forward until the first fire time at or after ``cutoff`` is known (so the
        next calls up to it need no croniter). False when that would take more steps than
        rebuilding (the clock jumped far ahead)."""
        if known.fires and known.fires[-1] >= cutoff_ms:
            return True
        it = croniter(schedule, _dt(known.hi))
        for _ in range(max_fires + 1):
            fire = _ms(it.get_next(datetime))
            self.croniter_steps += 1
            if fire <= known.hi:
                continue
            known.fires.append(fire)
            known.hi = fire
            if fire >= cutoff_ms:
                return True
        return False


# One per process: fire times depend only on the schedule.
FIRE_TIMES = FireTimeCache()
