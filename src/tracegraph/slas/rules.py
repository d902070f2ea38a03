"""Which SLA fields a run or step run breaches, as pure functions (no I/O).

Times are epoch milliseconds; ``now_ms`` comes from the service's injectable clock, so
late starts and running-too-long are decided by the same rules in tests and in production.
Breach ids are deterministic, so writing them with MERGE records each breach once however
often (and on however many replicas) the same facts are evaluated.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "skipped"})
# Skipped work neither succeeds nor fails, so it does not count towards a success rate.
RATED = frozenset({"succeeded", "failed", "cancelled"})
DAY_MS = 86_400_000

KINDS = (
    "max_duration_ms",
    "max_tokens",
    "max_cost_usd",
    "min_success_rate",
    "max_start_delay_ms",
    "missing_run",  # a cron fire time no run covered (see missing_runs.py)
)

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_MS = {"w": 7 * DAY_MS, "d": DAY_MS, "h": 3_600_000, "m": 60_000, "s": 1000}


def parse_window_ms(window: str | None, default_ms: int = DAY_MS) -> int:
    """An ISO 8601 duration (``P7D``, ``PT1H``, ``P1W``) in ms; months/years are not
    fixed lengths and are rejected (the default applies when no window is given)."""
    if not window:
        return default_ms
    match = _DURATION.match(window.strip().upper())
    if match is None or window.strip().upper() in ("P", "PT"):
        raise ValueError(f"unsupported SLA window {window!r} (use weeks, days, hours, ...)")
    total = sum(float(v) * _UNIT_MS[k] for k, v in match.groupdict().items() if v)
    if total <= 0:
        raise ValueError(f"SLA window {window!r} must be positive")
    return int(total)


def to_ms(value: Any) -> int | None:
    """Epoch ms of a driver/py datetime or an RFC 3339 string; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    raise TypeError(f"not a timestamp: {value!r}")


@dataclass(frozen=True, slots=True)
class Sla:
    id: str
    max_duration_ms: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    min_success_rate: float | None = None
    window: str | None = None
    max_start_delay_ms: int | None = None

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Sla:
        return cls(
            id=str(props["id"]),
            max_duration_ms=props.get("max_duration_ms"),
            max_tokens=props.get("max_tokens"),
            max_cost_usd=props.get("max_cost_usd"),
            min_success_rate=props.get("min_success_rate"),
            window=props.get("window"),
            max_start_delay_ms=props.get("max_start_delay_ms"),
        )


@dataclass(frozen=True, slots=True)
class Subject:
    """A run (against its pipeline's SLA) or a step run (against its step's SLA)."""

    id: str
    label: str  # "Run" or "StepRun"
    pipeline: str
    step: str | None
    status: str
    scheduled_for_ms: int | None = None
    started_at_ms: int | None = None
    ended_at_ms: int | None = None
    tokens: int | None = None
    cost_usd: float | None = None

    @classmethod
    def from_props(cls, label: str, props: dict[str, Any]) -> Subject:
        tokens = props.get("tokens")
        return cls(
            id=str(props["id"]),
            label=label,
            pipeline=str(props.get("pipeline") or ""),
            step=props.get("step"),
            status=str(props.get("status") or "scheduled"),
            scheduled_for_ms=to_ms(props.get("scheduled_for")),
            started_at_ms=to_ms(props.get("started_at")),
            ended_at_ms=to_ms(props.get("ended_at")),
            tokens=None if tokens is None else int(tokens),
            cost_usd=props.get("cost_usd"),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One breach as evaluated; ``observed`` and ``threshold`` are in the field's unit."""

    id: str
    sla_id: str
    kind: str
    observed: float
    threshold: float
    at_ms: int
    subject: str | None
    subject_label: str | None
    pipeline: str
    step: str | None
    # Found by the clock on unfinished work (running too long, not started yet): later
    # events may still disprove it, and then it is retracted (see ``disproved``).
    provisional: bool = False

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sla_id": self.sla_id,
            "kind": self.kind,
            "observed": float(self.observed),
            "threshold": float(self.threshold),
            "at_ms": self.at_ms,
            "subject": self.subject,
            "subject_label": self.subject_label,
            "pipeline": self.pipeline,
            "step": self.step,
            "provisional": self.provisional,
        }


def breach_id(sla_id: str, kind: str, scope: str) -> str:
    return f"{sla_id}|{kind}|{scope}"


def _finding(
    sla: Sla,
    subj: Subject,
    kind: str,
    observed: float,
    threshold: float,
    at_ms: int,
    provisional: bool = False,
) -> Finding:
    return Finding(
        id=breach_id(sla.id, kind, subj.id),
        sla_id=sla.id,
        kind=kind,
        observed=observed,
        threshold=threshold,
        at_ms=at_ms,
        subject=subj.id,
        subject_label=subj.label,
        pipeline=subj.pipeline,
        step=subj.step,
        provisional=provisional,
    )


def evaluate_subject(sla: Sla, subj: Subject, now_ms: int) -> list[Finding]:
    """Breaches of every per-subject field (all but ``min_success_rate``) as of ``now_ms``."""
    found: list[Finding] = []
    started, ended = subj.started_at_ms, subj.ended_at_ms
    if sla.max_duration_ms is not None and started is not None:
        limit = int(sla.max_duration_ms)
        running = subj.status not in TERMINAL
        if ended is not None and not running:
            duration = ended - started
        elif running:
            # Still running: it breaches as soon as it has run longer than allowed.
            duration = now_ms - started
        else:
            duration = None
        if duration is not None and duration > limit:
            found.append(
                _finding(
                    sla, subj, "max_duration_ms", duration, limit, started + limit + 1, running
                )
            )
    if sla.max_start_delay_ms is not None and subj.scheduled_for_ms is not None:
        limit = int(sla.max_start_delay_ms)
        scheduled = subj.scheduled_for_ms
        if started is not None:
            delay: int | None = started - scheduled
        elif subj.status not in TERMINAL:
            # Nothing announces a start that never happened; the timer's clock does. (A
            # run counts as running once any step event arrived, so status alone is not
            # enough: no start time means it has not started.)
            delay = now_ms - scheduled
        else:
            delay = None
        if delay is not None and delay > limit:
            found.append(
                _finding(
                    sla,
                    subj,
                    "max_start_delay_ms",
                    delay,
                    limit,
                    scheduled + limit + 1,
                    started is None,
                )
            )
    at = ended if ended is not None else now_ms
    if sla.max_tokens is not None and subj.tokens is not None and subj.tokens > sla.max_tokens:
        found.append(_finding(sla, subj, "max_tokens", subj.tokens, sla.max_tokens, at))
    if (
        sla.max_cost_usd is not None
        and subj.cost_usd is not None
        and subj.cost_usd > sla.max_cost_usd
    ):
        found.append(_finding(sla, subj, "max_cost_usd", subj.cost_usd, sla.max_cost_usd, at))
    return found


# The fields the clock alone can breach: a figure of unfinished work that later events
# may show was within the SLA after all.
CLOCK_KINDS = ("max_duration_ms", "max_start_delay_ms")


def disproved(sla: Sla, subj: Subject, found: list[Finding]) -> list[str]:
    """Ids of the clock-breachable breaches of ``subj`` that this evaluation (of the
    subject's current facts) does not find: a breach recorded earlier under one of them
    was provisional and is disproved by the events since, so it is retracted. Tokens and
    cost only grow, so what they breached stays breached."""
    kept = {f.kind for f in found}
    return [
        breach_id(sla.id, kind, subj.id)
        for kind in CLOCK_KINDS
        if getattr(sla, kind) is not None and kind not in kept
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A rated run or step run: when it ended (event time, epoch ms) and how."""

    ended_ms: int
    status: str
    id: str


@dataclass(frozen=True, slots=True)
class RateWindow:
    """The buckets of an SLA whose success-rate verdicts to (re)judge: those holding a
    window end in [since_ms, until_ms] (event time). A verdict is a function of the
    outcomes alone, so judging any range gives the same answer for its buckets."""

    sla: Sla
    pipeline: str
    step: str | None
    since_ms: int
    until_ms: int

    @property
    def buckets(self) -> range:
        """Start times of the buckets judged (one breach id per SLA and bucket)."""
        size = rate_bucket_ms(self.sla)
        first = self.since_ms - self.since_ms % size
        return range(first, self.until_ms - self.until_ms % size + 1, size)

    @property
    def reads(self) -> tuple[int, int]:
        """The ``ended_at`` range (inclusive) whose outcomes the verdicts need: every
        window that ends in a judged bucket."""
        buckets = self.buckets
        return buckets[0] - parse_window_ms(self.sla.window), buckets[-1] + buckets.step - 1


def rate_window(sla: Sla, pipeline: str, step: str | None, ended_ms: int) -> RateWindow | None:
    """What an outcome that ended at ``ended_ms`` can change: the windows ending from
    then until one window length later (late or not, it is inside all of them)."""
    if sla.min_success_rate is None:
        return None
    return RateWindow(sla, pipeline, step, ended_ms, ended_ms + parse_window_ms(sla.window))


def rate_bucket_ms(sla: Sla) -> int:
    """One success-rate breach per SLA per bucket: the window, at most a day long."""
    return min(parse_window_ms(sla.window), DAY_MS)


def rate_breach_id(sla: Sla, bucket_ms: int) -> str:
    scope = datetime.fromtimestamp(bucket_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return breach_id(sla.id, "min_success_rate", scope)


def success_rate_verdicts(
    window: RateWindow, outcomes: list[Outcome], label: str
) -> tuple[list[Finding], list[str]]:
    """Success-rate breaches judged on event time, and the ids of the judged buckets
    that have none (to retract: later events, e.g. a late success, disproved them).

    Each outcome's end closes a window (``[end - window, end]``, event time) over the
    outcomes that ended in it; a bucket is breached when any window closing in it has
    a share of succeeded runs below the minimum. The breach carries the lowest such
    window (the earliest on a tie): its rate, its end as ``at`` and its last failure as
    the subject. Nothing here reads a clock, so the same events give the same breaches
    in any order and at any arrival time. ``outcomes`` must cover ``window.reads``,
    sorted by (ended_ms, id); skipped work is not rated."""
    sla = window.sla
    if sla.min_success_rate is None:
        return [], []
    minimum = float(sla.min_success_rate)
    length = parse_window_ms(sla.window)
    size = rate_bucket_ms(sla)
    judged = window.buckets
    rated = [o for o in outcomes if o.status in RATED]
    worst: dict[int, tuple[float, int, str | None]] = {}  # bucket -> (rate, end, subject)
    lo = hi = succeeded = 0
    failures: deque[str] = deque()  # ids of the failures inside the window, in order
    ends = sorted({o.ended_ms for o in rated})
    for end in ends:
        bucket = end - end % size
        while hi < len(rated) and rated[hi].ended_ms <= end:
            o = rated[hi]
            if o.status == "succeeded":
                succeeded += 1
            else:
                failures.append(o.id)
            hi += 1
        while rated[lo].ended_ms < end - length:
            if rated[lo].status == "succeeded":
                succeeded -= 1
            else:
                failures.popleft()  # the window's earliest failure
            lo += 1
        if bucket not in judged:
            continue
        rate = succeeded / (hi - lo)
        if rate < minimum and (bucket not in worst or rate < worst[bucket][0]):
            worst[bucket] = (rate, end, failures[-1] if failures else None)
    found = [
        Finding(
            id=rate_breach_id(sla, bucket),
            sla_id=sla.id,
            kind="min_success_rate",
            observed=rate,
            threshold=minimum,
            at_ms=end,
            subject=subject,
            subject_label=label if subject else None,
            pipeline=window.pipeline,
            step=window.step,
        )
        for bucket, (rate, end, subject) in sorted(worst.items())
    ]
    clean = [rate_breach_id(sla, b) for b in judged if b not in worst]
    return found, clean
