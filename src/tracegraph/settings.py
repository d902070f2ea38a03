"""Typed settings read from the environment (``TRACEGRAPH_*`` and ``NEO4J_*``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Neo4jSettings(BaseSettings):
    """Where the graph lives. Auth is off on the local loopback-only server."""

    model_config = SettingsConfigDict(env_prefix="NEO4J_", extra="ignore")

    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    max_connection_pool_size: int = 50
    connection_timeout_s: float = 5.0
    # Fail a request fast when the database is down instead of hanging the client.
    connection_acquisition_timeout_s: float = 5.0
    transaction_timeout_s: float = 30.0
    # First wait before a transient failure (a deadlock) is retried; it doubles on each
    # retry. The driver's own default (1 s) stalls the single ingest writer for a second.
    transaction_retry_delay_s: float = 0.05
    # How long the driver keeps retrying a transaction that failed transiently (or could
    # not reach the server) before giving up; short, so an outage surfaces as a quick 503.
    max_transaction_retry_time_s: float = 2.0

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.password else None


class Settings(BaseSettings):
    """Service settings; every field can be set as ``TRACEGRAPH_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TRACEGRAPH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"

    # Ingestion limits (contract: 5,000 events or 10 MiB per request).
    max_batch_events: int = 5_000
    max_body_bytes: int = 10 * 1024 * 1024
    # Group commit: how many events one write transaction may carry, and how many
    # may wait for a writer before new requests get 429.
    commit_max_events: int = 5_000
    max_pending_events: int = 50_000
    retry_after_s: int = 1
    # Fair ingestion (tracegraph.ingest.admission): per principal and replica, an event
    # rate ("limits" notation, weighted by events), events in flight (admitted, not yet
    # answered) and request bytes in flight; the bytes of all principals are capped too.
    # Over any of them: 429 + Retry-After before the body is read or validated.
    ingest_event_rate_limit: str = "120000/minute"
    max_pending_events_per_principal: int = 10_000
    max_inflight_bytes: int = 32 * 1024 * 1024
    max_inflight_bytes_per_principal: int = 12 * 1024 * 1024
    # Return a burst's freed memory to the OS (glibc malloc_trim) once ingestion has
    # been idle this long after at least memory_trim_min_bytes of bodies; 0: never.
    memory_trim_delay_s: float = 1.0
    memory_trim_min_bytes: int = 1024 * 1024
    # Events a request validates between two yields to the event loop (measured: see
    # ingest/service.py PREPARE_SLICE); smaller yields more often, larger holds the loop.
    ingest_prepare_slice_events: int = Field(default=10, ge=1)
    # Outages (docs/governance.md, "Outages"): an ingest request is answered within
    # ingest_deadline_s of its arrival (503 + Retry-After when not committed by then).
    # The batch in flight goes on (a slow database must make progress), but a write
    # transaction not done in write_timeout_s is ended by the server (freeing its locks)
    # and abandoned by the writer 2 s later if the server cannot say so (frozen). Short
    # reads on a request's path (API key lookups, subscription replay pages, OTLP trace
    # lookups, /readyz) give up after database_answer_timeout_s. A writer task that
    # died is restarted after writer_restart_delay_s.
    ingest_deadline_s: float = 4.5
    write_timeout_s: float = 20.0
    database_answer_timeout_s: float = 3.0
    writer_restart_delay_s: float = 1.0
    # A service that starts while Neo4j is down retries the schema (and the planning
    # ahead) with a back-off doubling from 0.5 s up to this: the wait after Neo4j
    # answers again is at most this long (it was 10 s, most of the 10 s recovery budget).
    schema_retry_max_delay_s: float = Field(default=2.0, gt=0)
    # After an outage the writer plans the write statements again as soon as Neo4j
    # answers, trying this often while it does not (a refused connection costs
    # milliseconds): at most this long is lost between Neo4j's return and the planning.
    recovery_probe_s: float = Field(default=0.25, gt=0)
    # The catch-up after an outage derives the events logged first meanwhile this many
    # at a time, one page per turn of the writer between batches: a page of thousands
    # (a commit's worth) held the batches behind it past their deadline under load.
    catch_up_page_events: int = Field(default=250, gt=0)

    # Commands (issue 18): a command no executor acknowledged within command_ttl_s becomes
    # `expired` (long enough for an executor to reconnect, short enough that a stale pause
    # does not hit a run minutes later). Each replica's tailer reads new commands every
    # command_poll_interval_s (and at once for its own), and expires every
    # command_expiry_interval_s; a long poll waits at most command_long_poll_max_wait_s
    # (below shutdown_grace_s, so a stopping replica never has to cut one).
    command_ttl_s: float = Field(default=120.0, gt=0)
    command_poll_interval_s: float = Field(default=0.05, gt=0)
    command_expiry_interval_s: float = Field(default=1.0, gt=0)
    command_long_poll_max_wait_s: float = Field(default=8.0, gt=0)
    command_queue_size: int = Field(default=1000, ge=1)
    # An acknowledged command whose executor reported no outcome within this becomes
    # `expired` (the executor went silent: died, lost its network), so nothing waits on
    # it forever. Long enough for a start that runs a whole pipeline before settling.
    command_ack_lease_s: float = Field(default=3600.0, gt=0)
    # Every replica expires the pending approvals past their timeout this often (issue
    # 19, docs/approvals.md): an approval expires at most this late.
    approval_sweep_interval_s: float = Field(default=1.0, gt=0)
    # Commands one catch-up read (a resume, a long poll) takes from the database at once.
    command_catchup_page: int = Field(default=1000, ge=1)
    # Issuing transactions a replica keeps in flight: while one runs (or waits to commit),
    # the next takes the requests that arrived meanwhile, instead of them waiting for the
    # whole of it. Their commits still go one at a time, in seq order (the counter lock).
    command_issue_transactions: int = Field(default=2, ge=1)

    # Live subscriptions: events a subscriber may lag behind before it is closed
    # (with the afterSeq to resume from), so a slow client never holds memory or ingest.
    subscriber_queue_size: int = 1000
    # Delta subscriptions (docs/live-deltas.md): the last document sent per entity and
    # redaction variant, kept to diff the next one against. Only a cache: a miss costs a
    # whole document instead of a patch. A run document with its calls' text is tens of
    # KB, so 2,000 bound it to tens of MB.
    live_document_cache_size: int = Field(default=2000, gt=0)
    # Several replicas (docs/deployment.md): each tails the event log every
    # live_tail_interval_s (one indexed range read, for all its subscribers) so events
    # committed by any replica reach its subscribers; own commits go out at once. A seq
    # that has not shown up is waited for live_gap_hold_s, then skipped (logged).
    live_tail_interval_s: float = Field(default=0.05, gt=0)
    live_gap_hold_s: float = Field(default=1.0, gt=0)
    # Background duties (the SLA timer with missing-run detection, and its webhooks) run
    # on the one replica holding their lease in Neo4j; when it dies another takes over
    # within lease_ttl_s. Shorter fails over sooner but renews more often (every third).
    lease_ttl_s: float = Field(default=15.0, ge=1)

    # Retention (docs/retention.md): how many days each class of data stays in Neo4j
    # before it is archived to Parquet files under retention_archive_dir and removed;
    # 0 keeps it forever (the default: nothing is removed unless asked). Events: the raw
    # payloads of run activity (log events have their own class); text: prompt/response
    # text of LLM calls (the calls' figures stay); runs: the derived graph of finished
    # runs (what lineage needs stays).
    retention_events_days: int = Field(default=0, ge=0)
    retention_text_days: int = Field(default=0, ge=0)
    retention_logs_days: int = Field(default=0, ge=0)
    retention_runs_days: int = Field(default=0, ge=0)
    retention_archive_dir: Path = Path("archive")
    # Rows archived and deleted per transaction, and the pause between two batches: small
    # transactions with gaps never hold the locks ingestion needs for long.
    retention_batch_size: int = Field(default=1000, gt=0, le=50_000)
    retention_batch_pause_s: float = Field(default=0.05, ge=0)
    # How often the replica holding the `retention` lease runs a pass.
    retention_interval_s: float = Field(default=3600.0, gt=0)

    # GraphQL read limits: page sizes, lineage/impact depth and answer size.
    max_page_size: int = 200
    lineage_max_depth: int = 20
    lineage_max_nodes: int = 5000
    query_timeout_s: float = 10.0

    # Cost estimation: provider/model -> USD per 1k input/output tokens.
    price_table_path: Path | None = None

    # SLA evaluation (after commit, never in the ingest transaction): how often the timer
    # looks for late starts and runs over their duration while still running, and how
    # many touched runs/step runs may wait for evaluation before new ones are dropped.
    sla_check_interval_s: float = 5.0
    # Touched runs are evaluated at most this often (they accumulate in between).
    sla_evaluation_min_gap_s: float = 1.0
    sla_queue_size: int = 100_000
    # Missing scheduled runs (cron `schedule` + `max_start_delay_ms`): how far back the
    # timer looks for cron fire times that no run covered.
    sla_missing_run_lookback_s: float = 86_400.0
    # ... and at most this many of the latest fire times per pipeline per sweep.
    sla_missing_run_max_fires: int = Field(default=1440, ge=1)
    # Alert webhooks: JSON POST of every new breach to each URL, retried with backoff.
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = 5
    webhook_backoff_s: float = 0.5
    webhook_backoff_max_s: float = 30.0
    webhook_queue_size: int = 1000

    # --- Security ------------------------------------------------------------------
    # production: introspection, GraphiQL, "Did you mean …" suggestions and the OpenAPI
    # docs off; development: all on (the OpenAPI docs for authenticated callers only).
    mode: Literal["development", "production"] = "development"
    # Bearer JWTs for people: HS256 with a shared secret, and/or RS256 keys from a JWKS
    # URL (or an OIDC issuer, whose discovery document names the JWKS URL).
    jwt_hs256_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    oidc_issuer: str | None = None
    jwt_issuer: str | None = None  # required `iss` (defaults to oidc_issuer when set)
    jwt_audience: str | None = None  # required `aud` when set
    jwt_roles_claim: str = "roles"  # a role name or a list of them
    jwt_subject_claims: list[str] = Field(default_factory=lambda: ["email", "sub"])
    # Clock skew tolerated on exp/nbf/iat; a WebSocket signed in with a JWT is closed
    # (4401) when exp plus this leeway passes, the moment HTTP starts refusing it too.
    jwt_leeway_s: float = 30.0
    # Verified API keys are cached this long, so a revocation made on another replica
    # takes effect within it (at once on the replica that revoked).
    api_key_cache_ttl_s: float = 5.0
    # last_used_at is written at most this often per key (never on the request path).
    api_key_touch_interval_s: float = 60.0
    # Browser origins allowed to open WebSockets; empty means same origin as the Host.
    allowed_origins: list[str] = Field(default_factory=list)
    # Per-principal request rate limits ("limits" notation), answered with 429 + Retry-After.
    rate_limit: str = "1200/minute"
    ingest_rate_limit: str = "6000/minute"
    # GraphQL hardening: document and cost limits, body size.
    graphql_max_depth: int = 12
    # Parsing costs per token (~10-25 µs): 1000 tokens bound the work any document can
    # cause before it is refused; the dashboard's largest document has ~130, GraphiQL's
    # introspection query ~190, and 200 fields (the field limit) fit with room to spare.
    graphql_max_tokens: int = 1000
    graphql_max_aliases: int = 30
    # Fields written in a document (operations and fragments), checked right after
    # parsing: validation compares fields pairwise, so 900 fields cost ~1 s of CPU before
    # any other limit could refuse them. The dashboard's largest document has ~70.
    graphql_max_fields: int = 200
    # Estimated fields answered (tracegraph.api.graphql.hardening); the dashboard's
    # largest query (100 pipelines with their latest 10 runs) estimates at ~175k.
    graphql_max_cost: int = 500_000
    graphql_max_body_bytes: int = 1024 * 1024
    # Open WebSockets per replica, in total and per principal (key or JWT subject); over
    # either cap a socket is closed with 1013 (try again later). Each socket holds a file
    # descriptor and buffers, so one key cannot exhaust a replica.
    ws_max_connections: int = 2000
    ws_max_connections_per_principal: int = 100
    # Slow WebSocket clients: each socket's kernel and asyncio send buffers are capped at
    # this, so little is in flight to a client that stops reading; a socket that has not
    # drained for ws_stall_timeout_s (below the keepalive's ping interval + timeout) gets
    # its subscribers' resume points and a 4008 close at once; a client that never reads
    # them is dropped after ws_final_grace_s.
    ws_send_buffer_bytes: int = 128 * 1024
    ws_stall_timeout_s: float = 10.0
    ws_final_grace_s: float = 60.0
    # uvicorn's WebSocket keepalive (protocol pings): a peer silent this long is dropped.
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    # Largest WebSocket message a client may send (uvicorn closes the socket with 1009).
    ws_max_message_bytes: int = 1024 * 1024
    # On shutdown, how long open requests and sockets may finish before they are cut: a
    # replica being replaced must stop, not wait for its longest-lived WebSocket.
    shutdown_grace_s: float = 10.0
    # Scrubbing at ingest: built-in rules by name plus custom rules (name -> RE2 regex)
    # applied to every string of every event's data before anything is stored.
    redaction_builtins: list[str] = Field(
        default_factory=lambda: ["api_key", "bearer_token", "email", "credit_card"]
    )
    redaction_custom_rules: dict[str, str] = Field(default_factory=dict)
    # The settings above seed the stored policy on first start; afterwards admins change it
    # (GraphQL setRedactionPolicy) and every replica reloads it within this interval.
    redaction_policy_refresh_s: float = 5.0

    # Where the local Neo4j launcher keeps the server, its config and data.
    neo4j_home: Path = Field(default=REPO_ROOT / ".neo4j")

    neo4j: Neo4jSettings = Field(default_factory=Neo4jSettings)


@lru_cache
def get_settings() -> Settings:
    return Settings()
