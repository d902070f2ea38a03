"""The Tracegraph Python SDK: instrument a pipeline, events go to the service.

    from tracegraph.sdk import Tracegraph

    tg = Tracegraph(url="http://127.0.0.1:8000", spool_dir="/var/spool/tracegraph")
    with tg.run("rag-nightly", params={"corpus": "help-center"}) as run:
        with run.step("embed", provider="openai", model="text-embedding-3-small") as step:
            step.read("s3://kb/chunks", version="v12", kind="dataset")
            step.llm_call("openai", "gpt-4o", prompt="...", response="...", output_tokens=42)
            step.wrote("pgvector://kb/index", version="v13", kind="index")

Depends on httpx and orjson only (no FastAPI, no neo4j driver), so it is safe to import
inside any pipeline process. Nothing here ever raises into, or blocks on, the caller's
code because the service is slow or down.
"""

from tracegraph.sdk._sender import SenderStats
from tracegraph.sdk.client import DEFAULT_URL, Tracegraph
from tracegraph.sdk.executor import Executor, RetryRequest, StartRequest
from tracegraph.sdk.tracing import (
    ApprovalNotGranted,
    ApprovalResult,
    Cancelled,
    LLMCall,
    Run,
    Step,
    current_run,
    current_step,
)

__all__ = [
    "DEFAULT_URL",
    "ApprovalNotGranted",
    "ApprovalResult",
    "Cancelled",
    "Executor",
    "LLMCall",
    "RetryRequest",
    "Run",
    "SenderStats",
    "StartRequest",
    "Step",
    "Tracegraph",
    "current_run",
    "current_step",
]
