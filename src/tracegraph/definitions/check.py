"""A definition's YAML text checked against exactly the rules of ``pipeline.defined``.

The text becomes the ``data`` of a ``pipeline.defined`` event, validated by the same
model the ingest path uses (``events.envelope.PipelineDefinedEvent``: schema, duplicate
step keys, unknown dependencies, cycles, owners, SLAs); each problem keeps its path
(``steps[2].depends_on``) and gains the line and column of the YAML node it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from tracegraph.definitions.yaml_source import Loaded, Path, Position, load
from tracegraph.events.canonical import canonical_payload, json_problem
from tracegraph.events.definition import PipelineDefinedData, StepDefinition
from tracegraph.events.envelope import ENVELOPE_FIELDS, PipelineDefinedEvent
from tracegraph.events.errors import describe_error
from tracegraph.events.sla import Sla

EVENT_TYPE = "pipeline.defined"
# A definition's text at most (a hundred steps with SLAs and descriptions is ~20 KiB).
MAX_TEXT_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: what, where in the data, where in the text."""

    message: str
    path: str  # "steps[2].depends_on"; "" for the document as a whole
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """The definition's ``data`` as it would be stored (canonical JSON), or why not."""

    data: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    loaded: Loaded | None = None
    # Keys the contract does not know: valid (kept as extensions) but often a typo.
    warnings: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems

    def position(self, path: Path) -> tuple[int | None, int | None]:
        """Line and column of the node at ``path`` (or its nearest written ancestor)."""
        where = self.loaded.position_of(path) if self.loaded else None
        return (where.line, where.column) if where else (None, None)


def format_path(path: Sequence[str | int]) -> str:
    """("steps", 2, "depends_on") -> "steps[2].depends_on"; () -> ""."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(message: str, path: Path, where: Position | None) -> Problem:
    return Problem(
        message,
        format_path(path),
        where.line if where else None,
        where.column if where else None,
    )


def check_definition(pipeline: str, text: str) -> Checked:
    """``text`` as the data of a ``pipeline.defined`` event of ``pipeline``."""
    if len(text) > MAX_TEXT_CHARS:
        return Checked(None, (Problem(f"at most {MAX_TEXT_CHARS} characters", ""),))
    loaded = load(text)
    if loaded.problems:
        return Checked(
            None,
            tuple(_problem(p.message, p.path, p.position) for p in loaded.problems),
        )
    envelope = {
        "id": "definition-check",
        "type": EVENT_TYPE,
        "time": datetime.now(UTC),
        "source": "tracegraph/definitions",
        "pipeline": pipeline,
        "data": loaded.value,
    }
    try:
        event = PipelineDefinedEvent.model_validate(envelope)
    except ValidationError as exc:
        return Checked(None, _validation_problems(exc, loaded))
    unstorable = json_problem(loaded.value)
    if unstorable:
        return Checked(None, (Problem(unstorable, "", 1, 1),))
    return Checked(canonical_payload(event)["data"], (), loaded, _extension_keys(loaded))


def _known(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


def _unknown(value: Any, path: Path, known: tuple[str, ...], loaded: Loaded) -> list[Problem]:
    if not isinstance(value, dict):
        return []
    out = []
    for key in value:
        if key not in known:
            where = loaded.key_positions.get((*path, key))
            message = (
                f"unknown key {key!r}: kept as an extension, not used by Tracegraph "
                f"(known: {', '.join(known)})"
            )
            out.append(_problem(message, (*path, key), where))
    return out


def _extension_keys(loaded: Loaded) -> tuple[Problem, ...]:
    """Keys of the pipeline, its steps and SLAs that the contract does not define."""
    data = loaded.value
    found = _unknown(data, (), _known(PipelineDefinedData), loaded)
    found += _unknown(data.get("sla"), ("sla",), _known(Sla), loaded)
    for i, step in enumerate(data.get("steps") or []):
        found += _unknown(step, ("steps", i), _known(StepDefinition), loaded)
        if isinstance(step, dict):
            found += _unknown(step.get("sla"), ("steps", i, "sla"), _known(Sla), loaded)
    return tuple(found)


def _validation_problems(exc: ValidationError, loaded: Loaded) -> tuple[Problem, ...]:
    problems = []
    for error in exc.errors(include_url=False):
        loc, message = describe_error(error, EVENT_TYPE, ENVELOPE_FIELDS)
        if loc[:1] != ("data",):
            # The envelope is ours but for the pipeline name the caller chose.
            problems.append(Problem(message, format_path(loc)))
            continue
        path = loc[1:]
        if loc == ("data",) and error["type"] in ("model_type", "dict_type"):
            message = "the definition must be a mapping (version:, steps:, …)"
        at = tuple((error.get("ctx") or {}).get("at", ()))
        where = loaded.position_of(at) if at else _where(path, error["type"], loaded)
        problems.append(_problem(message, path, where))
    return tuple(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))


def _where(path: Path, kind: str, loaded: Loaded) -> Position | None:
    # A missing field has no node: its parent mapping is where it is missing.
    if kind == "missing":
        return loaded.position_of(path[:-1])
    return loaded.position_of(path)
