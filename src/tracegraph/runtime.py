"""The service's moving parts, opened and closed together (used by the app lifespan).

:class:`Services` is built whole by :func:`open_services`: every field is set, and every
store the API uses is one of its fields (routes and resolvers never build their own), so
each one runs under the configured query timeout. Dependencies point inward: the API
reaches services (ingest, live, SLAs) and stores only through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from neo4j import AsyncDriver

from tracegraph.approvals import Approvals
from tracegraph.auth import SYSTEM
from tracegraph.auth.authenticator import Authenticator
from tracegraph.auth.jwt_verifier import JwtConfig, JwtVerifier
from tracegraph.commands.feed import CommandFeed
from tracegraph.commands.service import CommandService
from tracegraph.definitions.gate import CHANGE_REQUEST_ID_PREFIX, GateService
from tracegraph.definitions.service import DefinitionService
from tracegraph.heap_trim import HeapTrimmer
from tracegraph.history.service import RunHistory
from tracegraph.ingest.admin_changes import AdminChanges
from tracegraph.ingest.admission import IngestAdmission
from tracegraph.ingest.group_commit import GroupCommitter
from tracegraph.ingest.pricing import load_prices
from tracegraph.ingest.quarantine import QuarantineReview
from tracegraph.ingest.service import IngestService
from tracegraph.ingest.warmup import replan_unit, warmup_unit
from tracegraph.leases import DutyLease
from tracegraph.live.doc_source import DocumentSource
from tracegraph.live.hub import LiveHub
from tracegraph.live.sessions import Sessions
from tracegraph.redaction import (
    ActivePolicy,
    InvalidRedactionRule,
    PolicyRefresher,
    make_policy,
)
from tracegraph.retention.service import RetentionDuty, RetentionService, retention_service
from tracegraph.settings import Settings
from tracegraph.slas.evaluator import SlaEvaluator
from tracegraph.slas.webhooks import WebhookSender
from tracegraph.store.approval_store import ApprovalStore
from tracegraph.store.audit_store import AuditStore
from tracegraph.store.command_store import CommandStore
from tracegraph.store.definition_store import DefinitionStore
from tracegraph.store.document_reads import DocumentReads
from tracegraph.store.driver import open_driver
from tracegraph.store.errors import error_code, is_retryable, is_timed_out
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.gate_store import GateStore
from tracegraph.store.governance_store import GovernanceStore
from tracegraph.store.graph_reads import GraphReads
from tracegraph.store.history_reads import HistoryReads
from tracegraph.store.key_store import KeyStore
from tracegraph.store.lease_store import LeaseStore
from tracegraph.store.live_reads import LiveReader
from tracegraph.store.metrics_reads import MetricsReads
from tracegraph.store.policy_store import PolicyStore
from tracegraph.store.quarantine_store import QuarantineStore
from tracegraph.store.run_owners import RunOwners
from tracegraph.store.schema import apply_schema
from tracegraph.store.sla_store import SlaStore

log = structlog.get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    driver: AsyncDriver
    committer: GroupCommitter
    ingest: IngestService
    # Per-principal ingest budgets (events, bytes in flight), checked before the work.
    admission: IngestAdmission
    hub: LiveHub
    authenticator: Authenticator
    # Open WebSockets of this replica: caps, expiry and revocation (live/sessions.py).
    ws_sessions: Sessions
    # The stores, each under the query timeout (store.base.Store).
    reads: GraphReads
    metrics: MetricsReads
    keys: KeyStore
    quarantine: QuarantineStore
    # Review and re-submission of quarantined events (REST /v1/quarantine).
    quarantine_review: QuarantineReview
    # The audit trail (admin changes record through it; ingest records in its own tx).
    audit: AuditStore
    governance: GovernanceStore
    # setOwner / setSla / setRedactionPolicy, written as events (issue 19).
    admin_changes: AdminChanges
    slas: SlaStore
    sla_evaluator: SlaEvaluator
    webhooks: WebhookSender
    # The SLA timer (missing runs included) and its webhooks run on the replica holding
    # this lease (issue 20); its token fences their writes.
    sla_lease: DutyLease
    # Scrubbing at ingest: the policy in force, where it is stored, and its refresh timer.
    redaction: ActivePolicy
    policies: PolicyStore
    policy_refresher: PolicyRefresher
    heap_trimmer: HeapTrimmer
    # Commands to pipelines and runs (issue 18): stored, issued, delivered by tailing.
    commands: CommandStore
    command_feed: CommandFeed
    command_service: CommandService
    # Human approvals inside runs (issue 19): decisions, expiry, commands to executors.
    approvals: Approvals
    # Pipeline definitions as YAML: read, validated, submitted through ingest.
    definitions: DefinitionService
    # Point-in-time views of runs, folded from the log (history/; issue 19 item 7).
    history: RunHistory
    # The governance gate: policies, change requests, versions (definitions/gate.py).
    gate: GateService
    # Retention, archive and erasure (docs/retention.md); passes run on the replica that
    # holds the `retention` lease, when any class has a retention set.
    retention: RetentionService
    retention_lease: DutyLease
    schema_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # The SLA timer's notion of now; tests replace it to make late starts happen.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Why the schema could not be applied (a non-retryable error; /readyz shows it).
    schema_error: str | None = None

    def publish_alerts(self, breaches: list[dict]) -> None:
        """New or changed breaches: to alert subscribers and (queued) webhooks."""
        self.hub.publish_alerts(breaches)
        for breach in breaches:
            self.webhooks.enqueue({"type": "sla.breach", "breach": breach})

    def publish_change_request(self, request: dict[str, Any]) -> None:
        """A change request proposed or decided: its pipeline's owners hear of it through
        the alerts subscription and the webhooks (docs/governance.md, "The gate")."""
        self.hub.publish_alerts([change_request_alert(request)])
        keys = ("id", "kind", "state", "pipeline", "step", "author", "reviewer", "comment")
        body = {k: request.get(k) for k in keys} | {"owners": request.get("owners") or []}
        # Not the SLA lease holder's: the replica that handled the mutation sends it, once.
        self.webhooks.enqueue({"type": "change.request", "changeRequest": body}, leased=False)

    def publish_schema_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Breaking schema changes (issue 22) this replica's transaction found first: to
        the alerts subscription (every replica's, relayed by id) and, once, the webhooks
        (docs/columns.md). Called only by the replica whose transaction created the
        alert's marker, so no other replica sends it."""
        self.hub.publish_alerts([schema_change_alert(a) for a in alerts])
        for alert in alerts:
            self.webhooks.enqueue(
                {"type": "schema.change", "schemaChange": schema_change_body(alert)},
                leased=False,
            )


SCHEMA_ALERT_ID_PREFIX = "schema:"


def schema_change_body(alert: dict[str, Any]) -> dict[str, Any]:
    """The webhook body of a schema alert (docs/columns.md)."""
    keys = (
        "id",
        "uri",
        "version_id",
        "version",
        "previous_version_id",
        "removed",
        "retyped",
        "fields",
        "pipelines",
        "steps",
        "owners",
        "at",
        "detected_at",
    )
    return {k: alert.get(k) for k in keys}


def schema_change_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """A breaking schema change as an alert row (``alerts`` subscription; SLABreach
    shape, kind ``schema_change``): observed is the number of removed and retyped
    fields, the subject the new version, the pipeline the first one reading them."""
    broken = len(alert.get("removed") or []) + len(alert.get("retyped") or [])
    pipelines = sorted(alert.get("pipelines") or [])
    return {
        "id": alert["id"],
        "kind": "schema_change",
        "version": 1,
        "observed": broken,
        "threshold": 0,
        "at": alert.get("at"),
        "detected_at": alert.get("detected_at"),
        "pipeline": pipelines[0] if pipelines else "",
        "step": None,
        "subject": alert.get("version_id"),
        "owners": [
            {"id": o, "kind": o.partition(":")[0], "name": o.partition(":")[2]}
            for o in sorted(alert.get("owners") or [])
        ],
    }


def change_request_alert(request: dict[str, Any]) -> dict[str, Any]:
    """A change request as an alert row (``alerts`` subscription; SLABreach shape, kind
    ``change_request``): open while pending, resolved once decided."""
    decided = request.get("decided_at")
    return {
        "id": request["id"],
        "kind": "change_request",
        "version": 1 if decided is None else 2,
        "observed": 0,
        "threshold": 0,
        "at": request.get("created_at"),
        "detected_at": request.get("created_at"),
        "pipeline": request["pipeline"],
        "step": request.get("step"),
        "subject": request["id"],
        "resolved_by": request.get("reviewer"),
        "resolved_at": decided,
        "owners": [
            {"id": o, "kind": o.partition(":")[0], "name": o.partition(":")[2]}
            for o in request.get("owners") or []
        ],
    }


def schema_retry_delays(cap_s: float, first_s: float = 0.5) -> Iterator[float]:
    """Seconds between schema attempts while Neo4j is down: doubling from ``first_s``,
    never above ``cap_s`` (the longest a started service waits once Neo4j is back)."""
    delay = min(first_s, cap_s)
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


async def _apply_schema_until_ready(services: Services) -> None:
    # The service starts even when Neo4j is down and applies the schema once it answers.
    # Retryable failures (store.errors) and transactions ended at their timeout (a slow,
    # loaded database, not a bug) are retried; anything else is logged once, precisely,
    # and shown by /readyz, rather than retried forever as an "outage".
    delays = schema_retry_delays(services.settings.schema_retry_max_delay_s)
    while True:
        try:
            await apply_schema(services.driver, services.settings.neo4j.database)
            await _load_redaction_policy(services)
            await _plan_ahead(services)
        except Exception as exc:
            if not (is_retryable(exc) or is_timed_out(exc)):
                services.schema_error = error_code(exc)
                log.error(
                    "graph schema not applied: not retried", code=error_code(exc), exc_info=exc
                )
                return
            log.warning("schema not applied yet; neo4j unavailable", error=error_code(exc))
            await asyncio.sleep(next(delays))
            continue
        services.schema_ready.set()
        log.info("graph schema applied")
        # Events a stopped process logged first after an outage and did not derive yet
        # (crash safety): derived now, before or between the first batches.
        services.committer.catch_up_soon()
        await _bootstrap_admin_key(services)
        return


async def _plan_ahead(services: Services) -> None:
    # Planning ahead saves the first requests the planning time (seconds on a cold
    # server, over the ingest deadline); a statement error here is a
    # bug to report, not a reason to keep the service unready.
    try:
        await services.committer.plan_ahead(
            warmup_unit(services.ingest), replan_unit=replan_unit(services.ingest)
        )
        # Commands too: the first command after a start would plan its five statements.
        await services.commands.plan_ahead()
    except Exception as exc:
        if is_retryable(exc):
            raise
        log.error("write statements not planned ahead", code=error_code(exc), exc_info=exc)


async def _bootstrap_admin_key(services: Services) -> None:
    # The first start against a database mints one admin key and shows it once, on the
    # terminal only (never in the structured log); later starts print nothing.
    try:
        key = await services.keys.bootstrap_admin()
    except Exception as exc:
        log.error("could not create the first admin key", error=str(exc))
        return
    if key is None:
        return
    log.warning("first start: generated an admin API key (printed once on stderr)")
    sys.stderr.write(
        "\n  First start: an admin API key was generated. It is shown only this once;\n"
        "  keep it somewhere safe (create more with `tracegraph keys create`):\n\n"
        f"    {key}\n\n"
    )
    sys.stderr.flush()


def _authenticator(settings: Settings, keys: KeyStore) -> Authenticator:
    secret = settings.jwt_hs256_secret
    jwts = JwtVerifier(
        JwtConfig(
            hs256_secret=secret.get_secret_value() if secret else None,
            jwks_url=settings.jwt_jwks_url,
            oidc_issuer=settings.oidc_issuer,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            roles_claim=settings.jwt_roles_claim,
            subject_claims=settings.jwt_subject_claims,
            leeway_s=settings.jwt_leeway_s,
        )
    )
    return Authenticator(
        keys,
        jwts,
        cache_ttl_s=settings.api_key_cache_ttl_s,
        touch_interval_s=settings.api_key_touch_interval_s,
    )


async def _load_redaction_policy(services: Services) -> None:
    # The stored policy wins over the settings (which only seed it on first start).
    stored = await services.policies.load_or_seed(services.redaction.policy, SYSTEM.actor)
    try:
        services.redaction.apply(stored)
    except InvalidRedactionRule as exc:
        log.error("stored redaction policy is invalid; keeping the configured one", error=str(exc))


def _open_redaction(settings: Settings, driver: AsyncDriver) -> tuple[ActivePolicy, PolicyStore]:
    # An invalid configured policy stops the start with an error naming the bad rule.
    configured = make_policy(settings.redaction_builtins, settings.redaction_custom_rules)
    store = PolicyStore(driver, settings.neo4j.database, timeout_s=settings.query_timeout_s)
    return ActivePolicy(configured), store


def _admission(
    settings: Settings, heap_trimmer: HeapTrimmer, committer: GroupCommitter
) -> IngestAdmission:
    # Invalid budgets (a rate below one batch, a byte cap below one body) stop the start.
    return IngestAdmission(
        event_rate=settings.ingest_event_rate_limit,
        max_batch_events=settings.max_batch_events,
        max_pending_events=settings.max_pending_events,
        max_pending_events_per_principal=settings.max_pending_events_per_principal,
        max_inflight_bytes=settings.max_inflight_bytes,
        max_inflight_bytes_per_principal=settings.max_inflight_bytes_per_principal,
        max_body_bytes=settings.max_body_bytes,
        retry_after_s=settings.retry_after_s,
        heap_trimmer=heap_trimmer,
        on_refused=committer.metrics.overloaded.inc,
    )


def _webhooks(settings: Settings) -> WebhookSender:
    return WebhookSender(
        settings.webhook_urls,
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
        backoff_s=settings.webhook_backoff_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        queue_size=settings.webhook_queue_size,
    )


def _sla_evaluator(
    settings: Settings,
    slas: SlaStore,
    clock: Callable[[], datetime],
    on_breaches: Callable[[list[dict]], None],
) -> SlaEvaluator:
    # Evaluated after commit from a bounded set of touched ids plus a timer, so SLA work
    # never runs inside (or holds up) an ingest transaction.
    return SlaEvaluator(
        slas,
        clock,
        interval_s=settings.sla_check_interval_s,
        queue_size=settings.sla_queue_size,
        on_breaches=on_breaches,
        missing_run_lookback_s=settings.sla_missing_run_lookback_s,
        missing_run_max_fires=settings.sla_missing_run_max_fires,
        min_gap_s=settings.sla_evaluation_min_gap_s,
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    driver = open_driver(settings.neo4j)
    database = settings.neo4j.database
    timeout_s = settings.query_timeout_s
    prices = load_prices(settings.price_table_path)
    writer = EventWriter(
        driver,
        database,
        prices,
        transaction_timeout_s=settings.write_timeout_s,
    )
    committer = GroupCommitter(
        writer,
        max_batch_events=settings.commit_max_events,
        max_pending_events=settings.max_pending_events,
        retry_after_s=settings.retry_after_s,
        deadline_s=settings.ingest_deadline_s,
        write_timeout_s=settings.write_timeout_s,
        restart_delay_s=settings.writer_restart_delay_s,
        recovery_probe_s=settings.recovery_probe_s,
        catch_up_page_events=settings.catch_up_page_events,
    )
    hub = LiveHub(
        LiveReader(
            driver,
            database,
            settings.neo4j.transaction_timeout_s,
            answer_timeout_s=settings.database_answer_timeout_s,
        ),
        queue_size=settings.subscriber_queue_size,
        retry_after_s=settings.retry_after_s,
        # Entity documents for the delta subscriptions (docs/live-deltas.md).
        documents=DocumentSource(DocumentReads(driver, database, timeout_s)),
        document_cache_size=settings.live_document_cache_size,
        # Events every replica committed, tailed from the log (docs/deployment.md).
        tail_interval_s=settings.live_tail_interval_s,
        gap_hold_s=settings.live_gap_hold_s,
        # Nobody waits on the tailer's reads (the first is planned on a cold, busy
        # server): the transaction's own limit, not a request's answer timeout.
        tail_timeout_s=settings.neo4j.transaction_timeout_s,
    )
    # Fan-out happens after commit, in seq order; publish never blocks the writer.
    committer.add_listener(hub.publish)
    keys = KeyStore(
        driver, database, timeout_s=timeout_s, lookup_timeout_s=settings.database_answer_timeout_s
    )
    # Every ingest request looks its key up first: planned along, with the same budget.
    committer.replan_also(lambda: keys.plan_lookup(committer.replan_timeout_s))
    authenticator = _authenticator(settings, keys)
    redaction, policies = _open_redaction(settings, driver)
    heap_trimmer = HeapTrimmer(
        delay_s=settings.memory_trim_delay_s, min_bytes=settings.memory_trim_min_bytes
    )
    admission = _admission(settings, heap_trimmer, committer)
    # Breaches link the runs ingestion writes: SLA writes go through the ingest writer.
    slas = SlaStore(driver, database, timeout_s=timeout_s, write_gate=committer.run_exclusive)
    slas.on_changed = hub.note_breaches  # breachChanged deltas
    # Alerts another replica raised reach this replica's alert subscribers by id: breaches,
    # and change requests (ids "cr-…", the gate's alerts; `services` is bound below).

    async def alert_rows(ids: list[str]) -> list[dict[str, Any]]:
        requests = [i for i in ids if i.startswith(CHANGE_REQUEST_ID_PREFIX)]
        schemas = [i for i in ids if i.startswith(SCHEMA_ALERT_ID_PREFIX)]
        breaches = [i for i in ids if i not in requests and i not in schemas]
        rows = await slas.breaches(ids=breaches, limit=len(breaches)) if breaches else []
        if requests:
            notified = await services.gate.notified_requests(requests)
            rows += [change_request_alert(r) for r in notified]
        if schemas:
            rows += [schema_change_alert(a) for a in await services.reads.schema_alerts(schemas)]
        return rows

    hub.alert_rows = alert_rows
    webhooks = _webhooks(settings)
    # The evaluator reads the clock and publishes through `services`, bound below (tests
    # replace services.clock); neither is called before the services start.
    services: Services
    sla_evaluator = _sla_evaluator(
        settings,
        slas,
        clock=lambda: services.clock(),
        on_breaches=lambda breaches: services.publish_alerts(breaches),
    )
    # Every replica's commits (the hub tails them), for the lease holder's evaluator.
    hub.add_listener(sla_evaluator.on_commit)
    sla_lease = DutyLease(
        LeaseStore(driver, database, timeout_s),
        "sla",
        ttl_s=settings.lease_ttl_s,
        on_gain=sla_evaluator.start,
        on_loss=sla_evaluator.stop,
    )
    slas.fence = sla_lease.fence
    webhooks.may_send = lambda: sla_lease.held
    ingest = IngestService(
        committer,
        redaction,
        admission,
        prepare_slice=settings.ingest_prepare_slice_events,
        # Scoped keys may not write to runs of other pipelines (docs/governance.md).
        run_owners=RunOwners(
            driver, database, timeout_s, answer_timeout_s=settings.database_answer_timeout_s
        ),
    )
    quarantine = QuarantineStore(driver, database, timeout_s)
    governance = GovernanceStore(driver, database, timeout_s)
    schema_ready = asyncio.Event()
    commands = CommandStore(driver, database, timeout_s)
    command_feed = CommandFeed(
        commands,
        clock=lambda: services.clock(),
        ttl_s=settings.command_ttl_s,
        poll_s=settings.command_poll_interval_s,
        expire_every_s=settings.command_expiry_interval_s,
        queue_size=settings.command_queue_size,
        ack_lease_s=settings.command_ack_lease_s,
        page=settings.command_catchup_page,
    )
    command_service = CommandService(
        commands,
        command_feed,
        lambda: services.clock(),
        settings.command_ttl_s,
        transactions=settings.command_issue_transactions,
    )
    admin_changes = AdminChanges(committer, governance, policies)
    definitions = DefinitionService(
        DefinitionStore(driver, database, timeout_s), ingest, lambda: services.clock()
    )
    retention = retention_service(settings, driver, timeout_s)
    # Built whole always; started only when some data class has a retention period
    # (a replica with none never takes the lease, so it never runs a pass).
    retention_duty = RetentionDuty(
        retention, settings.retention_interval_s, held=lambda: retention_lease.held
    )
    retention_lease = DutyLease(
        LeaseStore(driver, database, timeout_s),
        "retention",
        ttl_s=settings.lease_ttl_s,
        on_gain=retention_duty.start,
        on_loss=retention_duty.stop,
    )
    retention.store.fence = retention_lease.fence

    services = Services(
        settings=settings,
        driver=driver,
        committer=committer,
        ingest=ingest,
        admission=admission,
        hub=hub,
        authenticator=authenticator,
        ws_sessions=Sessions(
            keys,
            authenticator.forget,
            max_total=settings.ws_max_connections,
            max_per_principal=settings.ws_max_connections_per_principal,
            recheck_s=settings.api_key_cache_ttl_s,
        ),
        reads=GraphReads(driver, database, timeout_s),
        metrics=MetricsReads(driver, database, timeout_s),
        keys=keys,
        quarantine=quarantine,
        quarantine_review=QuarantineReview(
            quarantine, ingest, schema_ready, settings.retry_after_s
        ),
        audit=AuditStore(driver, database, timeout_s),
        history=RunHistory(HistoryReads(driver, database, timeout_s), prices),
        governance=governance,
        admin_changes=admin_changes,
        slas=slas,
        sla_evaluator=sla_evaluator,
        webhooks=webhooks,
        sla_lease=sla_lease,
        redaction=redaction,
        policies=policies,
        policy_refresher=PolicyRefresher(policies, redaction, settings.redaction_policy_refresh_s),
        heap_trimmer=heap_trimmer,
        commands=commands,
        command_feed=command_feed,
        command_service=command_service,
        approvals=Approvals(
            committer,
            ApprovalStore(driver, database, timeout_s),
            command_service,
            AuditStore(driver, database, timeout_s),
            clock=lambda: services.clock(),
            sweep_every_s=settings.approval_sweep_interval_s,
        ),
        definitions=definitions,
        gate=GateService(
            GateStore(driver, database, timeout_s),
            definitions,
            admin_changes,
            lambda: services.clock(),
        ),
        schema_ready=schema_ready,
        retention=retention,
        retention_lease=retention_lease,
    )
    schema_task = asyncio.create_task(_apply_schema_until_ready(services))
    try:
        await asyncio.wait_for(asyncio.shield(schema_task), timeout=15)
    except TimeoutError:
        log.warning("starting before the graph schema is applied")
    # Schema alerts a committed batch created go out from this replica (issue 22).
    writer.on_schema_alerts = services.publish_schema_alerts
    committer.start()
    hub.start()
    services.webhooks.start()
    sla_lease.start()
    if retention.days.enabled:
        retention_lease.start()
    services.policy_refresher.start()
    heap_trimmer.start()
    services.ws_sessions.start()
    command_feed.start()
    services.command_service.start()
    services.approvals.start()
    try:
        yield services
    finally:
        schema_task.cancel()
        await services.approvals.stop()
        await services.command_service.stop()
        await command_feed.stop()
        await heap_trimmer.stop()
        await services.policy_refresher.stop()
        await services.ws_sessions.stop()
        await sla_lease.stop()
        await retention_lease.stop()
        await services.sla_evaluator.stop()
        await services.webhooks.stop()
        # Subscribers end first (with a "shutting down" reason), then ingestion.
        await hub.close()
        await committer.stop()
        await driver.close()
