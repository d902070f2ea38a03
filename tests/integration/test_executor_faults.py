"""An SDK executor across a service restart (issue 18 review): a command whose
acknowledgement hits a restarting service (503, through a real proxy) is not lost — the
executor asks again until the service answers, then runs it (at least once)."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningService
from tests.support.commands import command, key, ok
from tests.support.eventually import eventually
from tests.support.live import unique
from tests.support.proxy import RefusingProxy
from tracegraph.sdk import Run, Tracegraph

START = """mutation($p: String!, $params: JSON, $k: String!) {
  startRun(pipeline: $p, params: $params, idempotencyKey: $k) { id } }"""


def _is_ack(method: str, path: str, body: bytes) -> bool:
    return method == "POST" and path == "/graphql" and b"acknowledgeCommand" in body


def test_a_command_whose_acknowledgement_hit_a_restarting_service_still_runs(
    service: RunningService,
) -> None:
    pipeline = unique("restart")
    ran: list[dict[str, Any]] = []
    with RefusingProxy(service.base_url, _is_ack) as proxy:
        tg = Tracegraph(url=proxy.base_url, api_key=service.key("executor"), flush_interval_s=0.02)
        try:
            tg.define_pipeline(pipeline, ["work"])
            assert tg.flush(10)
            ex = tg.executor([pipeline], transport="poll", poll_wait_s=1.0)

            @ex.on_start(pipeline)
            def body(run: Run, params: dict[str, Any], env: dict[str, str]) -> None:
                ran.append(params)

            ex.start()
            try:
                eventually(lambda: ex.connected_by == "poll", what="executor connected")
                cmd = ok(service, "operator", START, p=pipeline, params={"n": 1}, k=key())
                # Five refusals: as many as one request's retries (the old SDK dropped
                # the command there, its resume point already past it).
                eventually(lambda: proxy.refused >= 5, timeout=20, what="acks refused")
                proxy.refusing = False  # the service is back
                done = eventually(
                    lambda: command(service, cmd["startRun"]["id"]),
                    until=lambda c: c["state"] == "DONE",
                    timeout=20,
                    what="the command ran after the service came back",
                )
                assert done["executor"] == ex.id
                assert ran == [{"n": 1}]
            finally:
                ex.close()
        finally:
            tg.close()
