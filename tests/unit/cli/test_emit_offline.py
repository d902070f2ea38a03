"""`tracegraph emit` with no service to reach: a clean error, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tracegraph.cli.main import app

runner = CliRunner()


def _log(i: int, **extra: object) -> dict:
    return {
        "id": f"cli-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test-cli",
        "data": {"level": "info", "message": f"hello {i}"},
        **extra,
    }


def test_emit_unreachable_service_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(_log(1)))
    result = runner.invoke(app, ["emit", str(path), "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach" in result.output
