"""Checking a YAML definition: what ``validateDefinition`` costs per call, without I/O.

Builds a definition of ``--steps`` steps (each with a name, a dependency, an SLA and a
description; 1,400 steps is ~240 KB, near the 256 KiB cap), then times
``check_definition`` (compose with node marks, build values, validate with the
pipeline.defined model) with libyaml's parser — what the service uses — and, as the
baseline in the same run, with PyYAML's pure-Python parser. CPU time of this process,
median and best over ``--rounds`` passes. No server is started.

    .venv/bin/python bench/definitions.py [--steps 1400] [--rounds 5]

The last line printed is ``definitions kb=<n> check_ms=<libyaml> baseline_ms=<pure>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import yaml

from tracegraph.definitions import yaml_source
from tracegraph.definitions.check import check_definition


def definition_text(steps: int) -> str:
    lines = ["version: '1'", "owner: team:bench", "steps:", "  - key: s0"]
    for i in range(1, steps):
        lines += [
            f"  - key: s{i}",
            f"    name: Step number {i}",
            f"    depends_on: [s{i - 1}]",
            f"    sla: {{max_tokens: {i}, max_duration_ms: 1000}}",
            f"    description: some words about step {i} and what it does",
        ]
    return "\n".join(lines) + "\n"


def _ms(rounds: int, work: Callable[[], object]) -> tuple[float, float]:
    work()  # warm-up: pydantic's validators, regexes
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        timings.append((time.process_time() - started) * 1e3)
    return statistics.median(timings), min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    text = definition_text(args.steps)
    assert check_definition("bench", text).valid

    def check() -> object:
        return check_definition("bench", text)

    fast = _ms(args.rounds, check)
    chosen = yaml_source._LOADER
    yaml_source._LOADER = yaml.SafeLoader  # the baseline: PyYAML's own parser
    try:
        slow = _ms(args.rounds, check)
    finally:
        yaml_source._LOADER = chosen
    print(f"parser {chosen.__name__}: median {fast[0]:.0f} ms, best {fast[1]:.0f} ms")
    print(f"parser SafeLoader (baseline): median {slow[0]:.0f} ms, best {slow[1]:.0f} ms")
    print(f"definitions kb={len(text) // 1024} check_ms={fast[0]:.0f} baseline_ms={slow[0]:.0f}")


if __name__ == "__main__":
    main()
