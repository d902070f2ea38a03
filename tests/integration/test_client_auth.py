"""Clients carry credentials: the CLI (--api-key / TRACEGRAPH_API_KEY, clean exit 2 on a
refusal), the SDK's sender (401/403 stop it instead of retrying; spooled events wait for a
valid key), and the demo's own keys. All against the real service."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import RunningService
from tracegraph.cli.demo_command import DemoKeys, sign_in_link
from tracegraph.cli.main import app
from tracegraph.sdk import Tracegraph

pytestmark = pytest.mark.neo4j

runner = CliRunner()
WRONG_KEY = "tg_0123456789ab_" + "x" * 43


# A line of the service's own structured log (console format): it starts with its time.
SERVICE_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def cli(svc: RunningService, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--url", svc.base_url], env=env)
    return result.exit_code, result.output


def _log(i: int) -> dict:
    return {
        "id": f"auth-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test-client-auth",
        "data": {"level": "info", "message": f"hello {i}"},
    }


def _stored_ids(svc: RunningService) -> list[str]:
    with svc.client("reviewer") as http:
        body = http.post("/graphql", json={"query": "{ events(first: 500) { id } }"}).json()
    return [e["id"] for e in body["data"]["events"]]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_emit_sends_the_key_and_refusals_exit_2(
    service: RunningService, tmp_path: Path
) -> None:
    events = tmp_path / "events.json"
    events.write_text(json.dumps([_log(1), _log(2)]))
    no_env = {"TRACEGRAPH_API_KEY": ""}

    code, out = cli(service, "emit", str(events), env=no_env)
    assert code == 2, out
    assert "the service needs an API key (401)" in out
    assert "Traceback" not in out

    code, out = cli(service, "emit", str(events), "--api-key", WRONG_KEY, env=no_env)
    assert code == 2, out
    assert "the service refused the API key (401):" in out
    # One line, no traceback. The service runs in this process, so its own log lines (a
    # lease taken, say) written while the CLI runs land in the captured output: not ours.
    own = [ln for ln in out.splitlines() if ln.strip() and not SERVICE_LOG_LINE.match(ln)]
    assert len(own) == 1, out

    code, out = cli(service, "emit", str(events), "--api-key", service.key("viewer"), env=no_env)
    assert code == 2, out
    assert "the service refused the API key (403):" in out

    # From the environment, as the option's envvar.
    env = {"TRACEGRAPH_API_KEY": service.key("ingester")}
    code, out = cli(service, "emit", str(events), env=env)
    assert code == 0, out
    assert "accepted 2, duplicates 0, rejected 0" in out
    assert set(_stored_ids(service)) >= {"auth-1", "auth-2"}


def test_cli_graphql_commands_send_the_key(service: RunningService) -> None:
    no_env = {"TRACEGRAPH_API_KEY": ""}
    code, out = cli(service, "lineage", "s3://nowhere", "--json", env=no_env)
    assert code == 2, out
    assert "the service needs an API key (401)" in out

    # An ingester key may write, not read: refused by the role, same exit code.
    code, out = cli(
        service, "lineage", "s3://nowhere", "--api-key", service.key("ingester"), env=no_env
    )
    assert code == 2, out
    assert "the service refused the API key (403)" in out

    code, out = cli(
        service,
        "impact",
        "PIPELINE",
        "nothing",
        "--json",
        "--api-key",
        service.key("viewer"),
        env=no_env,
    )
    assert code in (0, 1), out  # authorized: the answer (or "not found"), never a refusal
    assert "refused" not in out


def test_cli_quarantine_needs_a_reviewer(service: RunningService) -> None:
    no_env = {"TRACEGRAPH_API_KEY": ""}
    code, out = cli(service, "quarantine", "list", "--api-key", service.key("viewer"), env=no_env)
    assert code == 2, out
    assert "the service refused the API key (403)" in out
    code, out = cli(
        service, "quarantine", "list", "--json", "--api-key", service.key("reviewer"), env=no_env
    )
    assert code == 0, out
    assert json.loads(out)["items"] == []


def test_cli_tail_authenticates_the_websocket(service: RunningService) -> None:
    with service.client("ingester") as http:
        assert http.post("/v1/events", json=[_log(i) for i in range(3)]).status_code == 200
    no_env = {"TRACEGRAPH_API_KEY": ""}
    # --after-seq skips the HTTP lookup: the refusal comes from the WebSocket itself.
    code, out = cli(
        service, "tail", "--after-seq", "0", "--for", "20", "--api-key", WRONG_KEY, env=no_env
    )
    assert code == 2, out
    assert "the service refused the API key (4403)" in out
    assert "reconnecting" not in out

    env = {"TRACEGRAPH_API_KEY": service.key("reviewer")}
    code, out = cli(service, "tail", "--after-seq", "1", "--count", "2", "--for", "30", env=env)
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if "hello" in ln]
    assert len(lines) == 2 and "hello 1" in lines[0] and "hello 2" in lines[1]


# -- SDK ---------------------------------------------------------------------------------------


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


def test_sdk_stops_on_a_refused_key_instead_of_retrying(
    service: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    transport = CountingTransport()
    tg = Tracegraph(
        url=service.base_url, api_key=WRONG_KEY, transport=transport, flush_interval_s=0.05
    )
    with caplog.at_level(logging.ERROR, logger="tracegraph.sdk"):
        tg.emit_raw([_log(1), _log(2)])
        assert tg.flush(10)
        tg.emit_raw([_log(3)])
        assert tg.flush(10)
        tg.close(5)
    assert transport.statuses == [401]  # tried once, never again
    assert tg.stats.auth_refused is True
    assert tg.stats.dropped == 3 and tg.stats.sent == 0
    assert "the service refused the API key (401)" in (tg.stats.last_error or "")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "TRACEGRAPH_API_KEY" in errors[0]
    assert "auth-1" not in _stored_ids(service)


def test_sdk_keeps_spooled_events_for_a_valid_key(
    service: RunningService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    refused = Tracegraph(
        url=service.base_url, api_key=service.key("viewer"), spool_dir=spool, flush_interval_s=0.05
    )
    refused.emit_raw([_log(10), _log(11)])
    assert refused.flush(10)
    refused.close(5)
    assert refused.stats.auth_refused is True
    assert refused.stats.dropped == 0
    assert refused.spooled_files >= 1  # kept on disk, not deleted as "refused"
    assert "auth-10" not in _stored_ids(service)

    # The next start-up with an ingester key (from the environment) sends the spool.
    monkeypatch.setenv("TRACEGRAPH_API_KEY", service.key("ingester"))
    fixed = Tracegraph(url=service.base_url, spool_dir=spool, flush_interval_s=0.05)
    fixed.emit_raw([_log(12)])
    assert fixed.flush(10)
    fixed.close(10)
    assert fixed.stats.auth_refused is False
    assert fixed.spooled_files == 0
    assert {"auth-10", "auth-11", "auth-12"} <= set(_stored_ids(service))


# -- demo --------------------------------------------------------------------------------------


def test_demo_mints_an_executor_a_reviewer_and_an_operator_key(service: RunningService) -> None:
    keys = DemoKeys(service.app.state.services.keys)
    service.call(keys.mint())
    assert keys.emitter.startswith("tg_") and keys.reviewer.startswith("tg_")
    with httpx.Client(base_url=service.base_url) as http:
        for key, role in ((keys.emitter, "executor"), (keys.operator, "operator")):
            body = http.post(
                "/graphql",
                json={"query": "{ me { roles } }"},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            assert body["data"]["me"]["roles"] == [role]
    link = sign_in_link(service.base_url, keys.reviewer)
    assert link == f"{service.base_url}/#key={keys.reviewer}"
    me = "{ me { actor roles } }"
    with httpx.Client(base_url=service.base_url) as http:
        auth = {"Authorization": f"Bearer {keys.emitter}"}
        assert http.post("/v1/events", json=[_log(20)], headers=auth).status_code == 200
        auth = {"Authorization": f"Bearer {keys.reviewer}"}
        body = http.post("/graphql", json={"query": me}, headers=auth).json()
        assert body["data"]["me"]["roles"] == ["reviewer"]
        assert body["data"]["me"]["actor"].startswith("key:demo-reviewer-")
        # Stopping the demo revokes its keys.
        minted = list(keys.ids)
        service.call(keys.revoke())
        assert keys.ids == []
        for key_id in minted:  # this replica's cache, as the service's own revocation does
            service.app.state.services.authenticator.forget(key_id)
        assert http.post("/graphql", json={"query": me}, headers=auth).status_code == 401
