"""An SDK executor running a test pipeline against a real service (issue 18)."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import RunningService
from tests.support.live import unique
from tracegraph.sdk import Executor, Run, Tracegraph


class Pipeline:
    """A test pipeline run by an executor: ``steps`` steps of ``step_s`` each, a
    checkpoint before each; with ``flaky``, its step fails once and waits for a retry."""

    def __init__(self, service: RunningService, transport: str) -> None:
        self.name = unique("exec")
        self.tg = Tracegraph(
            url=service.base_url, api_key=service.key("executor"), flush_interval_s=0.02
        )
        self.tg.define_pipeline(self.name, ["work", "flaky"])
        assert self.tg.flush(10)  # the pipeline exists before anything is started
        self.executor: Executor = self.tg.executor([self.name], transport=transport)
        self.seen: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.executor.on_start(self.name)(self.body)
        self.executor.start()

    def body(self, run: Run, params: dict[str, Any], env: dict[str, str]) -> None:
        self.seen.append((params, env))
        if params.get("flaky"):
            try:
                with run.step("flaky", retryable=True):
                    raise RuntimeError("first attempt fails")
            except RuntimeError:
                pass
            while not run.retry_requested("flaky"):
                run.checkpoint()
                time.sleep(0.02)
            with run.step("flaky"):
                pass
            return
        for i in range(int(params.get("steps", 1))):
            run.checkpoint()
            with run.step("work", params={"i": i}):
                time.sleep(float(params.get("step_s", 0.01)))

    def close(self) -> None:
        self.executor.close()
        self.tg.close()
