"""Commands reaching the demo's simulated runs (issue 18, item 6).

The demo's runs are simulations rendered on a timeline (``workload._Timeline``), not
threads, so they cannot block in ``run.checkpoint()``. This control plays the same part:
the SDK executor hands it the commands it acknowledged (from its own thread); the
timeline applies them between two events of the run — ``run.paused`` and a hold while
paused (the run's remaining events shift by the pause), ``run.resumed``, ``run.cancelled``
and nothing more of the run — and the command is settled when that event is emitted.
A retry or a start adds a new simulated run of the pipeline (a retry's parameters name
the run and step it retries). An ``approval`` command (issue 19) is the decision on an
approval a simulated step waits for (``workload._Timeline`` holds the run until it
arrives), kept by approval id.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# settle(command, outcome, reason, run id or None)
Settle = Callable[[dict[str, Any], str, str, str | None], None]


@dataclass
class RunState:
    """What commands did to one simulated run so far."""

    pause: dict[str, Any] | None = None
    announced: bool = False  # run.paused emitted
    resume: dict[str, Any] | None = None
    cancel: dict[str, Any] | None = None


@dataclass
class NewRun:
    pipeline: str
    params: dict[str, Any]
    run_id: str
    triggered_by: str | None
    command: dict[str, Any] | None = None


@dataclass
class DemoControl:
    settle: Settle
    # Called from the timeline for every run it creates (the executor follows it) and
    # ends (unfollows it).
    on_created: Callable[[str, str, dict[str, Any]], None] = lambda run, pipeline, params: None
    on_finished: Callable[[str], None] = lambda run: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _inbox: deque[dict[str, Any]] = field(default_factory=deque)
    _starts: deque[NewRun] = field(default_factory=deque)
    runs: dict[str, RunState] = field(default_factory=dict)
    # Decisions (approval commands) by approval id, taken by the timeline.
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- from the executor's thread -------------------------------------------------------

    def request(self, command: dict[str, Any]) -> None:
        with self._lock:
            self._inbox.append(command)

    def start(self, run: NewRun) -> None:
        with self._lock:
            self._starts.append(run)

    # -- on the timeline ------------------------------------------------------------------

    def drain(self) -> list[NewRun]:
        """Apply the commands received since the last call; the runs to add."""
        with self._lock:
            inbox, self._inbox = list(self._inbox), deque()
            starts, self._starts = list(self._starts), deque()
        for command in inbox:
            if command["kind"] == "APPROVAL":
                approval = (command.get("params") or {}).get("approval") or ""
                self.approvals[approval] = command
                continue
            run_id = command.get("run") or ""
            state = self.runs.setdefault(run_id, RunState())
            kind = command["kind"]
            if kind == "PAUSE":
                if state.pause is not None:
                    self.settle(command, "DONE", "already paused", None)
                else:
                    state.pause, state.announced = command, False
            elif kind == "RESUME":
                if state.pause is None:
                    self.settle(command, "REJECTED", "the run is not paused", None)
                else:
                    state.resume = command
            elif kind == "CANCEL":
                state.cancel = command
            elif kind == "RETRY":
                params = {"retry_of": run_id, "resume_from": command.get("step")}
                starts.append(
                    NewRun(
                        command["pipeline"],
                        {k: v for k, v in params.items() if v is not None},
                        _new_id(),
                        command.get("issuedBy"),
                        command,
                    )
                )
        return starts


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())
