"""schema/events.schema.json is generated from the event models and must not go stale."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tracegraph.events import EVENT_TYPES, event_json_schema
from tracegraph.events.schema import render_event_json_schema
from tracegraph.events.schema_export import main

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schema" / "events.schema.json"
REGENERATE = "python -m tracegraph.events.schema_export"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing: run `{REGENERATE}`"
    committed = SCHEMA_FILE.read_bytes()
    assert committed == render_event_json_schema(), f"stale schema: run `{REGENERATE}`"
    assert orjson.loads(committed) == event_json_schema()


def test_schema_covers_every_type() -> None:
    schema = event_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_TYPES)
    assert len(schema["oneOf"]) == len(EVENT_TYPES)
    run_started = schema["$defs"]["RunStartedEvent"]
    assert run_started["additionalProperties"] is False
    assert {"id", "type", "time", "source", "pipeline", "run"} <= set(run_started["required"])
    assert schema["$defs"]["RunStartedData"]["additionalProperties"] is True
    log = schema["$defs"]["LogEvent"]
    assert "pipeline" not in log["required"]


def test_export_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema" / "events.schema.json"
    assert main(["--check", "--output", str(target)]) == 1  # missing
    assert "is stale" in capsys.readouterr().err
    assert main(["--output", str(target)]) == 0
    content = target.read_bytes()
    assert content.endswith(b"}\n") and b'\n  "$defs": {' in content  # pretty, sorted
    assert main(["--check", "--output", str(target)]) == 0
    target.write_bytes(content.replace(b"Tracegraph event", b"Old event"))
    assert main(["--check", "--output", str(target)]) == 1
    assert f"run `{REGENERATE}`" in capsys.readouterr().err
