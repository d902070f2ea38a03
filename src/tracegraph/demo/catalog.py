"""The pipelines of the synthetic workload: their definitions plus how their runs behave.

A `PipelineSpec` carries two things: what goes into the `pipeline.defined` event (steps, DAG,
owners, SLAs, schedule) and simulation hints the generator uses to produce runs (durations,
artifacts read and written, LLM calls, logs, failure modes). Artifact URIs are shared between
pipelines on purpose so that lineage crosses pipeline boundaries:

    embedding-backfill ──s3://kb/article-embeddings──▶ rag-nightly
    rag-nightly ──s3://support/index──▶ support-agent, eval-suite
    support-agent ──s3://support/answers──▶ eval-suite
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Versioning = Literal["seq", "date"]
LlmStyle = Literal["embed_query", "embed_batch", "plan", "tool", "answer", "judge", "generate"]

# Provider/model pairs the workload uses; the service's price table knows all of them.
GPT_4O = ("openai", "gpt-4o")
GPT_4O_MINI = ("openai", "gpt-4o-mini")
CLAUDE_SONNET = ("anthropic", "claude-3-5-sonnet")
MISTRAL_LARGE = ("mistral", "mistral-large")
LOCAL_EMBED = ("local", "bge-large-en-v1.5")


@dataclass(frozen=True)
class ArtifactSpec:
    uri: str
    kind: str
    owner: str | None = None
    # "seq": every write is a new v<n>; "date": writes append to the day's partition.
    versioning: Versioning = "seq"
    records: tuple[int, int] = (0, 0)
    bytes_per_record: int = 0
    schema: tuple[tuple[str, str], ...] = ()
    # Column lineage sent with each write (docs/columns.md): (field, transformation,
    # type, ((input uri, input field, subtype), ...)); input versions are the ones read.
    columns: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = ()


@dataclass(frozen=True)
class LlmSpec:
    style: LlmStyle
    models: tuple[tuple[str, str], ...]
    calls: tuple[int, int]
    template: tuple[str, str] | None = None
    stream: bool = False
    token_budget: int | None = None
    # Prompt as one `text` string instead of chat `messages` (completion-style templates).
    as_text: bool = False


@dataclass(frozen=True)
class FailureSpec:
    type: str
    message: str
    retryable: bool
    # Surfaces as an LLM call whose response.received carries the error.
    via_llm: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class LogSpec:
    level: str
    message: str
    probability: float
    # Integer context values drawn uniformly; also substituted into `message`.
    context: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepSpec:
    key: str
    name: str
    kind: str
    description: str
    seconds: tuple[float, float]
    depends_on: tuple[str, ...] = ()
    owner: str | None = None
    sla: dict[str, Any] | None = None
    items: tuple[int, int] | None = None
    item_noun: str = "items"
    progress: tuple[int, int] = (0, 0)
    reads: tuple[ArtifactSpec, ...] = ()
    writes: tuple[ArtifactSpec, ...] = ()
    llm: LlmSpec | None = None
    logs: tuple[LogSpec, ...] = ()
    failures: tuple[FailureSpec, ...] = ()
    # (probability, reason, whether downstream steps are skipped too)
    skip: tuple[float, str, bool] | None = None


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    version: str
    description: str
    owner: str
    schedule: str | None
    sla: dict[str, Any]
    steps: tuple[StepSpec, ...]
    # (trigger, triggered_by, weight)
    triggers: tuple[tuple[str, str, float], ...]
    hosts: tuple[str, ...]
    # Share of new runs in the mixed stream.
    weight: float
    code_path: str

    def definition_data(self) -> dict[str, Any]:
        """The `data` of this pipeline's `pipeline.defined` event."""
        steps: list[dict[str, Any]] = []
        for s in self.steps:
            step: dict[str, Any] = {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "depends_on": list(s.depends_on),
                "description": s.description,
            }
            if s.owner:
                step["owner"] = s.owner
            if s.sla:
                step["sla"] = dict(s.sla)
            steps.append(step)
        data: dict[str, Any] = {
            "version": self.version,
            "description": self.description,
            "owner": self.owner,
            "sla": dict(self.sla),
            "steps": steps,
        }
        if self.schedule:
            data["schedule"] = self.schedule
        return data

    def step(self, key: str) -> StepSpec:
        return next(s for s in self.steps if s.key == key)


# --- shared artifacts -------------------------------------------------------------------------

RAW_DOCS = ArtifactSpec("s3://support/raw-docs", "dataset", "team:docs", "date")
CLEAN_DOCS = ArtifactSpec(
    "s3://support/clean-docs", "dataset", "team:search", "seq", (17_000, 19_500), 5_400
)
CHUNKS = ArtifactSpec(
    "s3://support/chunks", "dataset", "team:search", "seq", (88_000, 104_000), 1_900
)
DOC_EMBEDDINGS = ArtifactSpec(
    "s3://support/embeddings", "embedding", "team:search", "seq", (88_000, 104_000), 4_200
)
KB_EMBEDDINGS = ArtifactSpec(
    "s3://kb/article-embeddings", "embedding", "team:data-platform", "seq", (6_000, 6_400), 4_200
)
INDEX = ArtifactSpec("s3://support/index", "index", "team:search", "seq", (94_000, 110_000), 4_500)
GOLDENS = ArtifactSpec(
    "s3://support/golden-questions",
    "dataset",
    "team:ml-quality",
    "seq",
    schema=(("question", "string"), ("reference_answer", "string"), ("doc", "string")),
)
RAG_EVAL_REPORT = ArtifactSpec(
    "s3://support/eval-reports/rag-nightly.json", "file", "team:search", "seq", (1, 1), 48_000
)
CRM_ORDERS = ArtifactSpec("postgres://crm/public.orders", "table", "team:commerce", "date")
ANSWERS = ArtifactSpec(
    "s3://support/answers",
    "dataset",
    "team:support-ai",
    "date",
    (1, 1),
    2_600,
    (("ticket", "string"), ("question", "string"), ("answer", "string"), ("model", "string")),
)
CANDIDATE_ANSWERS = ArtifactSpec(
    "s3://evals/candidate-answers",
    "dataset",
    "team:ml-quality",
    "seq",
    (180, 240),
    2_400,
    (("question", "string"), ("answer", "string"), ("model", "string")),
    (
        (
            "question",
            "copied from the golden set",
            "DIRECT",
            ((GOLDENS.uri, "question", "IDENTITY"),),
        ),
    ),
)
EVAL_SCORES = ArtifactSpec(
    "postgres://analytics/public.eval_scores",
    "table",
    "team:ml-quality",
    "date",
    (180, 240),
    160,
    (("run", "string"), ("question", "string"), ("verdict", "string"), ("judge", "string")),
    (
        (
            "question",
            "the judged question",
            "DIRECT",
            ((CANDIDATE_ANSWERS.uri, "question", "IDENTITY"),),
        ),
        (
            "verdict",
            "the judge model grades the answer against the reference",
            "DIRECT",
            (
                (CANDIDATE_ANSWERS.uri, "answer", "TRANSFORMATION"),
                (GOLDENS.uri, "reference_answer", "TRANSFORMATION"),
            ),
        ),
    ),
)
EVAL_REPORT = ArtifactSpec(
    "s3://evals/reports/eval-suite.html", "file", "team:ml-quality", "seq", (1, 1), 310_000
)
KB_ARTICLES = ArtifactSpec("postgres://kb/public.articles", "table", "team:docs", "date")
KB_PENDING = ArtifactSpec(
    "s3://kb/pending-articles", "dataset", "team:data-platform", "seq", (300, 2_400), 7_800
)
KB_STAGING = ArtifactSpec(
    "s3://kb/embeddings-staging", "embedding", "team:data-platform", "seq", (300, 2_400), 4_200
)

ALL_ARTIFACTS: tuple[ArtifactSpec, ...] = (
    RAW_DOCS,
    CLEAN_DOCS,
    CHUNKS,
    DOC_EMBEDDINGS,
    KB_EMBEDDINGS,
    INDEX,
    GOLDENS,
    RAG_EVAL_REPORT,
    CRM_ORDERS,
    ANSWERS,
    CANDIDATE_ANSWERS,
    EVAL_SCORES,
    EVAL_REPORT,
    KB_ARTICLES,
    KB_PENDING,
    KB_STAGING,
)

_RATE_LIMIT = FailureSpec(
    "RateLimitError", "429 Too Many Requests: rate limit reached for requests", True, True, 2.0
)
_OVERLOADED = FailureSpec("OverloadedError", "529 overloaded_error: Overloaded", True, True)
_SERVER_ERROR = FailureSpec(
    "APIError", "500 The server had an error while processing your request", True, True
)
_EMBED_TIMEOUT = FailureSpec(
    "ReadTimeout", "embedding server did not answer within 30s", True, True, 1.5
)
_CUDA_OOM = FailureSpec(
    "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB", True, False
)

RAG_NIGHTLY = PipelineSpec(
    name="rag-nightly",
    version="4",
    description="Nightly refresh of the support-docs RAG index",
    owner="team:search",
    schedule="0 2 * * *",
    sla={
        "max_duration_ms": 3_600_000,
        "min_success_rate": 0.95,
        "window": "P7D",
        "max_start_delay_ms": 300_000,
    },
    code_path="pipelines/rag_nightly.py",
    triggers=(("schedule", "scheduler:airflow", 0.85), ("manual", "user:ana@example.com", 0.15)),
    hosts=("sdk/python@worker-1", "sdk/python@worker-2", "sdk/python@worker-3"),
    weight=0.16,
    steps=(
        StepSpec(
            "fetch-docs",
            "Fetch docs",
            "ingest",
            "Pull the latest help-center export and drop drafts",
            (30, 90),
            owner="team:data-platform",
            items=(17_000, 19_500),
            item_noun="documents",
            progress=(2, 4),
            reads=(RAW_DOCS,),
            writes=(CLEAN_DOCS,),
            logs=(
                LogSpec(
                    "info", "fetched {documents} documents", 0.9, {"documents": (17_000, 19_500)}
                ),
                LogSpec("warning", "{missing} documents returned 404", 0.3, {"missing": (1, 40)}),
                LogSpec("debug", "export manifest has {parts} parts", 0.3, {"parts": (4, 16)}),
            ),
            failures=(
                FailureSpec(
                    "ConnectionError",
                    "HTTPSConnectionPool(host='help.internal', port=443): Read timed out",
                    True,
                ),
                FailureSpec(
                    "AccessDenied", "403 AccessDenied on s3://support/raw-docs", False, weight=0.4
                ),
            ),
        ),
        StepSpec(
            "chunk",
            "Chunk documents",
            "transform",
            "Split documents into ~800-token chunks with overlap",
            (40, 120),
            depends_on=("fetch-docs",),
            items=(17_000, 19_500),
            item_noun="documents",
            progress=(2, 5),
            reads=(CLEAN_DOCS,),
            writes=(CHUNKS,),
            logs=(
                LogSpec(
                    "warning",
                    "{count} documents exceeded 8k tokens and were split",
                    0.6,
                    {"count": (120, 480)},
                ),
            ),
            failures=(
                FailureSpec(
                    "UnicodeDecodeError",
                    "'utf-8' codec can't decode byte 0xe9 in faq/billing.md",
                    False,
                ),
            ),
        ),
        StepSpec(
            "embed",
            "Embed chunks",
            "embedding",
            "Embed every chunk with the self-hosted embedding model",
            (180, 420),
            depends_on=("chunk",),
            sla={"max_duration_ms": 900_000, "max_tokens": 40_000_000},
            items=(88_000, 104_000),
            item_noun="chunks",
            progress=(5, 10),
            reads=(CHUNKS,),
            writes=(DOC_EMBEDDINGS,),
            llm=LlmSpec("embed_batch", (LOCAL_EMBED,), (6, 12), token_budget=40_000_000),
            logs=(
                LogSpec("info", "embedding with batch size {batch}", 0.7, {"batch": (128, 512)}),
                LogSpec(
                    "warning",
                    "GPU utilisation {util}%, throughput degraded",
                    0.2,
                    {"util": (96, 100)},
                ),
            ),
            failures=(_EMBED_TIMEOUT, _CUDA_OOM),
        ),
        StepSpec(
            "index",
            "Build index",
            "index",
            "Merge doc and KB embeddings into the HNSW index and swap it in",
            (20, 60),
            depends_on=("embed",),
            owner="team:search",
            items=(94_000, 110_000),
            item_noun="vectors",
            progress=(1, 3),
            reads=(DOC_EMBEDDINGS, KB_EMBEDDINGS),
            writes=(INDEX,),
            logs=(
                LogSpec(
                    "info",
                    "HNSW build: M={m}, ef_construction={ef}",
                    0.8,
                    {"m": (16, 32), "ef": (128, 256)},
                ),
            ),
            failures=(
                FailureSpec("IndexBuildError", "embedding dimension mismatch: 1024 != 768", False),
            ),
        ),
        StepSpec(
            "eval",
            "Evaluate retrieval",
            "evaluation",
            "Answer the golden questions against the new index and grade them",
            (5, 15),
            depends_on=("index",),
            owner="user:ana@example.com",
            sla={"max_cost_usd": 2.0},
            items=(40, 40),
            item_noun="questions",
            progress=(2, 4),
            reads=(INDEX, GOLDENS),
            writes=(RAG_EVAL_REPORT,),
            llm=LlmSpec(
                "judge", (CLAUDE_SONNET,), (4, 8), ("rag-judge", "v7"), True, 200_000, as_text=True
            ),
            logs=(LogSpec("info", "grading {n} golden questions", 0.8, {"n": (40, 40)}),),
            failures=(_RATE_LIMIT, _OVERLOADED),
            skip=(0.1, "index unchanged since the last evaluation", False),
        ),
    ),
)

SUPPORT_AGENT = PipelineSpec(
    name="support-agent",
    version="12",
    description="Customer-support agent: retrieve, plan, call tools, answer",
    owner="team:support-ai",
    schedule=None,
    sla={
        "max_duration_ms": 60_000,
        "max_cost_usd": 0.25,
        "max_tokens": 40_000,
        "min_success_rate": 0.98,
        "window": "P1D",
    },
    code_path="agents/support/agent.py",
    triggers=(
        ("api", "api-key:support-widget", 0.65),
        ("manual", "user:maria@example.com", 0.2),
        ("event", "event:zendesk/ticket.created", 0.15),
    ),
    hosts=("sdk/python@support-api-1", "sdk/python@support-api-2", "sdk/python@support-api-3"),
    weight=0.46,
    steps=(
        StepSpec(
            "retrieve",
            "Retrieve passages",
            "retrieval",
            "Embed the question and fetch the top passages from the support index",
            (0.3, 1.5),
            reads=(INDEX,),
            llm=LlmSpec("embed_query", (LOCAL_EMBED,), (1, 1)),
            logs=(
                LogSpec(
                    "info",
                    "retrieved {k} passages (top score 0.{score})",
                    0.9,
                    {"k": (4, 8), "score": (61, 93)},
                ),
                LogSpec("debug", "vector search took {ms} ms", 0.3, {"ms": (12, 180)}),
            ),
            failures=(FailureSpec("TimeoutError", "vector search exceeded 2000 ms", True),),
        ),
        StepSpec(
            "plan",
            "Plan",
            "llm",
            "Decide which tools to call",
            (0.1, 0.4),
            depends_on=("retrieve",),
            llm=LlmSpec("plan", (GPT_4O,), (1, 1), ("agent-plan", "v3"), True, 8_000),
            failures=(_SERVER_ERROR, _RATE_LIMIT),
        ),
        StepSpec(
            "tool-call",
            "Call tools",
            "tool",
            "Fill tool arguments and call internal APIs",
            (0.4, 2.5),
            depends_on=("plan",),
            reads=(CRM_ORDERS,),
            llm=LlmSpec("tool", (GPT_4O_MINI,), (1, 3), ("tool-args", "v5"), False, 6_000),
            logs=(
                LogSpec("info", "tool call returned 200 in {ms} ms", 0.8, {"ms": (40, 900)}),
                LogSpec(
                    "warning",
                    "tool call retried after HTTP 502 ({ms} ms)",
                    0.1,
                    {"ms": (500, 3000)},
                ),
            ),
            failures=(
                FailureSpec("ToolError", "lookup service returned 503 Service Unavailable", True),
                FailureSpec(
                    "ValidationError",
                    "tool arguments are not valid JSON: Expecting ',' delimiter",
                    False,
                    True,
                    0.5,
                ),
            ),
            skip=(0.2, "plan needed no tools", False),
        ),
        StepSpec(
            "answer",
            "Answer",
            "llm",
            "Write the customer-facing answer from context and tool results",
            (0.1, 0.5),
            depends_on=("retrieve", "tool-call"),
            sla={"max_duration_ms": 20_000},
            writes=(ANSWERS,),
            llm=LlmSpec(
                "answer", (CLAUDE_SONNET, GPT_4O), (1, 1), ("rag-answer", "v7"), True, 16_000
            ),
            logs=(
                LogSpec("warning", "answer truncated to {n} characters", 0.04, {"n": (1200, 1200)}),
            ),
            failures=(
                _RATE_LIMIT,
                FailureSpec(
                    "ContentFilterError", "response blocked by the content filter", False, True, 0.3
                ),
            ),
        ),
    ),
)

EVAL_SUITE = PipelineSpec(
    name="eval-suite",
    version="7",
    description="Regression suite: candidate model answers graded by an LLM judge",
    owner="team:ml-quality",
    schedule="0 */6 * * *",
    sla={"max_duration_ms": 1_800_000, "max_cost_usd": 5.0, "max_start_delay_ms": 600_000},
    code_path="evals/suite.py",
    triggers=(
        ("schedule", "scheduler:airflow", 0.6),
        ("event", "artifact:s3://support/index", 0.3),
        ("manual", "user:li@example.com", 0.1),
    ),
    hosts=("sdk/python@eval-runner-1", "sdk/python@eval-runner-2"),
    weight=0.2,
    steps=(
        StepSpec(
            "load-goldens",
            "Load goldens",
            "ingest",
            "Load golden questions and a sample of yesterday's production answers",
            (5, 20),
            owner="team:ml-quality",
            items=(180, 240),
            item_noun="questions",
            progress=(1, 2),
            reads=(GOLDENS, ANSWERS),
            logs=(LogSpec("info", "sampled {n} production answers", 0.8, {"n": (40, 80)}),),
            failures=(
                FailureSpec(
                    "SchemaMismatch", "column 'reference_answer' missing in golden set", False
                ),
            ),
        ),
        StepSpec(
            "generate",
            "Generate candidates",
            "llm",
            "Answer every question with the candidate model",
            (10, 40),
            depends_on=("load-goldens",),
            items=(180, 240),
            item_noun="answers",
            progress=(3, 6),
            reads=(INDEX,),
            writes=(CANDIDATE_ANSWERS,),
            llm=LlmSpec(
                "generate", (MISTRAL_LARGE,), (4, 8), ("rag-answer", "v8-rc1"), True, 400_000
            ),
            logs=(LogSpec("info", "candidate model temperature {t}/10", 0.5, {"t": (0, 3)}),),
            failures=(
                FailureSpec("ReadTimeout", "mistral API read timed out after 60s", True, True),
            ),
        ),
        StepSpec(
            "judge",
            "Judge",
            "evaluation",
            "Grade candidate answers against the references",
            (10, 30),
            depends_on=("generate", "load-goldens"),
            sla={"max_cost_usd": 3.0},
            items=(180, 240),
            item_noun="answers",
            progress=(3, 6),
            reads=(CANDIDATE_ANSWERS,),
            writes=(EVAL_SCORES,),
            llm=LlmSpec("judge", (GPT_4O,), (4, 9), ("answer-judge", "v2"), True, 300_000),
            logs=(
                LogSpec(
                    "warning", "{n} judge replies could not be parsed, re-asked", 0.2, {"n": (1, 4)}
                ),
            ),
            failures=(_RATE_LIMIT,),
        ),
        StepSpec(
            "report",
            "Report",
            "report",
            "Render the comparison report and post it to #ml-quality",
            (3, 10),
            depends_on=("judge",),
            reads=(EVAL_SCORES,),
            writes=(EVAL_REPORT,),
            logs=(LogSpec("info", "report posted to #ml-quality", 0.9),),
            failures=(
                FailureSpec(
                    "SlowDown", "S3 PutObject: 503 SlowDown, please reduce your rate", True
                ),
            ),
        ),
    ),
)

EMBEDDING_BACKFILL = PipelineSpec(
    name="embedding-backfill",
    version="2",
    description="Batch job: embed knowledge-base articles changed since the last run",
    owner="team:data-platform",
    schedule="*/30 * * * *",
    sla={
        "max_duration_ms": 1_200_000,
        "min_success_rate": 0.9,
        "window": "P1D",
        "max_start_delay_ms": 120_000,
    },
    code_path="jobs/embedding_backfill.py",
    triggers=(("schedule", "scheduler:cron", 0.9), ("manual", "user:omar@example.com", 0.1)),
    hosts=("sdk/python@batch-1", "sdk/python@batch-2"),
    weight=0.18,
    steps=(
        StepSpec(
            "list-pending",
            "List pending articles",
            "query",
            "Find articles updated since the last successful backfill",
            (5, 25),
            reads=(KB_ARTICLES,),
            writes=(KB_PENDING,),
            logs=(
                LogSpec("info", "{n} articles changed since the last run", 0.9, {"n": (300, 2400)}),
            ),
            failures=(
                FailureSpec(
                    "OperationalError", "could not connect to server: Connection refused", True
                ),
            ),
        ),
        StepSpec(
            "embed-batch",
            "Embed batch",
            "embedding",
            "Embed pending articles in batches of 64",
            (90, 300),
            depends_on=("list-pending",),
            sla={"max_duration_ms": 900_000},
            items=(300, 2_400),
            item_noun="articles",
            progress=(4, 10),
            reads=(KB_PENDING,),
            writes=(KB_STAGING,),
            llm=LlmSpec("embed_batch", (LOCAL_EMBED,), (6, 14), token_budget=5_000_000),
            logs=(
                LogSpec("debug", "batch queue depth {n}", 0.3, {"n": (0, 12)}),
                LogSpec(
                    "warning", "{n} articles over 8192 tokens were truncated", 0.3, {"n": (1, 9)}
                ),
            ),
            failures=(_EMBED_TIMEOUT, _CUDA_OOM),
            skip=(0.08, "no articles changed since the last backfill", True),
        ),
        StepSpec(
            "upsert",
            "Upsert vectors",
            "load",
            "Upsert the new vectors into the KB embedding set",
            (15, 60),
            depends_on=("embed-batch",),
            items=(300, 2_400),
            item_noun="vectors",
            progress=(1, 3),
            reads=(KB_STAGING,),
            writes=(KB_EMBEDDINGS,),
            failures=(
                FailureSpec(
                    "UniqueViolation",
                    'duplicate key value violates unique constraint "article_embeddings_pkey"',
                    False,
                ),
            ),
        ),
        StepSpec(
            "verify",
            "Verify",
            "check",
            "Check every changed article has exactly one vector",
            (3, 12),
            depends_on=("upsert",),
            reads=(KB_EMBEDDINGS,),
            logs=(LogSpec("info", "verified {n} vectors", 0.9, {"n": (300, 2400)}),),
            failures=(
                FailureSpec("AssertionError", "articles without embeddings after upsert", False),
            ),
        ),
    ),
)

PIPELINES: tuple[PipelineSpec, ...] = (RAG_NIGHTLY, SUPPORT_AGENT, EVAL_SUITE, EMBEDDING_BACKFILL)
