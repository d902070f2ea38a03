"""Validation cost per event: parse, scrub, fingerprint and row building, without I/O.

Times ``IngestService.prepare`` (what every ingest request runs before the writer sees
it) over demo-workload events with every built-in redaction rule on, in requests of
``--batch`` events, and separately the scrub alone. The demo workload carries no secrets,
so this is the cost of looking for them in ordinary payloads (the hot path). No server is
started. The figures are CPU time (this process's, so other load on the machine counts
less): medians over ``--rounds`` passes, and the best pass.

    .venv/bin/python bench/validation.py [--events 20000] [--rounds 7] [--batch 500]

The last line printed is ``validation prepare_us=<n> scrub_us=<n>`` (µs per event).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import canonical_payload, parse_event
from tracegraph.ingest.group_commit import GroupCommitter
from tracegraph.ingest.service import IngestService
from tracegraph.redaction import BUILTIN_NAMES, ActivePolicy, make_policy


def _us_per_event(rounds: int, events: int, work: Callable[[], Any]) -> tuple[float, float]:
    """(median, best) CPU µs per event over ``rounds`` passes."""
    work()  # warm-up: caches, lazily built validators
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        timings.append((time.process_time() - started) / events * 1e6)
    return statistics.median(timings), min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=500, help="events per request")
    args = parser.parse_args()

    events = WorkloadGenerator(seed=2026).events(args.events)
    requests = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    active = ActivePolicy(make_policy(BUILTIN_NAMES, {}))
    # prepare() never touches the committer: only ingest() submits to it.
    service = IngestService(cast(GroupCommitter, None), active)
    payloads = [canonical_payload(parse_event(e)) for e in events]
    scrubber = active.scrubber

    def prepare_all() -> None:
        for request in requests:
            unit = service.prepare(request)
            assert not unit.rejected

    def scrub_all() -> None:
        for payload in payloads:
            scrubber.scrub_event(payload)

    prepare_us, prepare_best = _us_per_event(args.rounds, len(events), prepare_all)
    scrub_us, scrub_best = _us_per_event(args.rounds, len(events), scrub_all)
    print(f"events={len(events)} batch={args.batch} rounds={args.rounds}")
    print(f"best: prepare {prepare_best:.1f} µs/event, scrub {scrub_best:.2f} µs/event")
    print(f"validation prepare_us={prepare_us:.1f} scrub_us={scrub_us:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
