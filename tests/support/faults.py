"""Fault injection on the local test Neo4j: kill it (SIGKILL) or freeze it (SIGSTOP).

A frozen server stands in for a long GC pause or a network partition: its sockets stay
open and accept bytes, but nothing answers. Both helpers always undo what they did (a
killed server is started again, a frozen one continued), even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from neo4j import Driver

from tests.support.cypher import fetch
from tests.support.eventually import eventually

# Every ingest request must answer within this (503 + Retry-After when it cannot commit).
ANSWER_WITHIN_S = 5.0


def _pid(local: Any) -> int:
    pid = local.status().pid
    assert pid is not None, "the test Neo4j is not running"
    return int(pid)


@contextlib.contextmanager
def frozen(local: Any) -> Iterator[None]:
    """Neo4j stopped dead (SIGSTOP) for the body, then continued (SIGCONT)."""
    pid = _pid(local)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def killed(local: Any) -> Iterator[None]:
    """Neo4j killed (SIGKILL, no clean shutdown) for the body, then started again."""
    pid = _pid(local)
    os.kill(pid, signal.SIGKILL)
    # Gone, and its port released (the kernel closes a killed process's sockets a moment
    # after it is reaped; start() refuses a port someone holds).
    eventually(
        lambda: not (local.status().running or _port_taken(local.bolt_port)),
        timeout=30,
        what="Neo4j gone after SIGKILL",
    )
    try:
        yield
    finally:
        local.start()


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until_answering(driver: Driver, within_s: float = 120) -> None:
    """Poll until the server answers a query again (after a restart).

    Bolt answers (``LocalNeo4j.start`` returns) before the database answers queries: a
    fresh JVM plans its first query for seconds (13 s measured on a loaded two-core
    machine, with nothing but the test driver asking). The service cannot answer sooner
    than that, so its recovery is measured from here."""
    # Any failure means "not yet": the server is still starting.
    eventually(
        lambda: fetch(driver, "rows_count", rows=[1]),
        timeout=within_s,
        interval=0.1,
        retry_on=(Exception,),
        what="Neo4j answering again",
    )


def log_event(prefix: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test/faults",
        "data": {"level": "info", "message": f"line {i}"},
    }


@dataclass
class Answer:
    status: int  # 0: no answer in time (the client gave up)
    seconds: float
    retry_after: str | None
    body: str
    ids: list[str]
    started: float


@dataclass
class Load:
    """Clients posting small batches of fresh events in a loop, recording every answer."""

    base_url: str
    headers: dict[str, str]
    clients: int = 4
    batch: int = 20
    prefix: str = field(default_factory=lambda: f"load-{uuid.uuid4().hex[:8]}")
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def _ids(self) -> list[str]:
        with self._lock:
            first, self._next = self._next, self._next + self.batch
        return [f"{self.prefix}-{i}" for i in range(first, first + self.batch)]

    def _loop(self) -> None:
        # The client's timeout is above the target, so a slow answer is seen as slow
        # (its duration recorded) rather than cut off.
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as client:
            while not self._stop.is_set():
                ids = self._ids()
                events = [log_event(self.prefix, int(i.rsplit("-", 1)[1])) for i in ids]
                started = time.monotonic()
                try:
                    r = client.post("/v1/events", json=events)
                    answer = Answer(
                        r.status_code,
                        time.monotonic() - started,
                        r.headers.get("retry-after"),
                        r.text,
                        ids,
                        started,
                    )
                except httpx.HTTPError as exc:
                    answer = Answer(0, time.monotonic() - started, None, repr(exc), ids, started)
                with self._lock:
                    self.answers.append(answer)
                if answer.status != 200:
                    time.sleep(0.05)  # a client honouring Retry-After would wait longer

    def __enter__(self) -> Load:
        for n in range(self.clients):
            t = threading.Thread(target=self._loop, name=f"load-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def wait_for(self, predicate: Any, within_s: float, what: str) -> Answer:
        """Poll the answers until one satisfies ``predicate``; returns it."""
        seen = 0

        def next_match() -> Answer:
            nonlocal seen
            answers = self.snapshot()
            found = next((a for a in answers[seen:] if predicate(a)), None)
            seen = len(answers)
            last = [(a.status, round(a.seconds, 2), a.body[:80]) for a in answers[-3:]]
            assert found is not None, f"last answers: {last}"
            return found

        return eventually(next_match, timeout=within_s, what=f"an answer {what}")

    def acked_ids(self) -> set[str]:
        return {i for a in self.snapshot() if a.status == 200 for i in a.ids}


def stored_ids(driver: Driver, ids: set[str]) -> set[str]:
    return {r["id"] for r in fetch(driver, "events_by_ids", ids=sorted(ids))}
