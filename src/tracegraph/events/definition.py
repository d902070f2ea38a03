"""`pipeline.defined` data: the pipeline's metadata and its step DAG."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Self

from pydantic import Field, model_validator

from tracegraph.events.base import Payload
from tracegraph.events.errors import problem
from tracegraph.events.fields import Cron, Name, Owner, Version
from tracegraph.events.sla import Sla


class StepDefinition(Payload):
    key: Name = Field(description="Step key, unique within the pipeline")
    name: str | None = Field(None, description="Display name")
    kind: str | None = None
    # An empty list, not None, so that `depends_on: []` and no depends_on are the same event.
    depends_on: list[Name] = Field(default_factory=list)
    owner: Owner | None = None
    sla: Sla | None = None
    description: str | None = None


class PipelineDefinedData(Payload):
    version: Version | None = None
    description: str | None = None
    owner: Owner | None = None
    schedule: Cron | None = None
    sla: Sla | None = None
    steps: list[StepDefinition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_step_graph(self) -> Self:
        first_index: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.key in first_index:
                raise problem(
                    f"duplicate step key {step.key!r} (also steps[{first_index[step.key]}])",
                    "steps",
                    i,
                    "key",
                )
            first_index[step.key] = i

        for i, step in enumerate(self.steps):
            for j, dep in enumerate(step.depends_on):
                if dep not in first_index:
                    known = ", ".join(sorted(k for k in first_index if k != step.key))
                    raise problem(
                        f"unknown step {dep!r} (known: {known or 'none'})",
                        "steps",
                        i,
                        "depends_on",
                        at=("steps", i, "depends_on", j),
                    )

        cycle = _dependency_cycle({step.key: step.depends_on for step in self.steps})
        if cycle:
            # Named from the step defined first, so the same definition gives the same message.
            start = min(range(len(cycle)), key=lambda k: first_index[cycle[k]])
            ordered = [*cycle[start:], *cycle[:start]]
            path = " -> ".join([*ordered, ordered[0]])
            # The dependency that closes it: the first-defined step's on the last one.
            first = first_index[ordered[0]]
            closing = self.steps[first].depends_on.index(ordered[-1])
            raise problem(
                f"steps form a dependency cycle: {path}",
                "steps",
                at=("steps", first, "depends_on", closing),
            )
        return self


def _dependency_cycle(depends_on: dict[str, list[str]]) -> list[str]:
    """One cycle's steps, each a dependency of the next (the way data flows); [] if none."""
    try:
        TopologicalSorter(depends_on).prepare()
    except CycleError as exc:
        # graphlib reports the cycle closed (first node repeated last).
        closed: list[str] = exc.args[1]
        return closed[:-1]
    return []
