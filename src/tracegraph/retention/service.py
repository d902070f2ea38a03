"""Retention passes, replay's restore from the archive, and erasure (docs/retention.md).

A pass takes each data class whose retention is set (days > 0) and, a bounded batch at a
time: reads the expired rows, archives them (:class:`Archive.write` returns only once the
file is on disk and checked), then deletes or strips them in Neo4j, and pauses before
the next batch, so ingestion's transactions never wait behind a long one. Every batch
is a step on its own: a pass stopped midway (lease lost, process killed) leaves each
batch archived-and-deleted or untouched (at worst archived twice: replay keeps one copy
per seq), and the next pass continues.

Batches hold the archive's lock from the read to the delete, and an erasure holds it
throughout, so a batch never archives rows read before an erasure rewrote them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
from neo4j import AsyncDriver

from tracegraph.audit import AuditRecord
from tracegraph.background import BackgroundTask
from tracegraph.retention.archive import LOCK, Archive, ArchiveFile
from tracegraph.retention.erase import KEY_PROPERTIES, Eraser, subject_hash
from tracegraph.settings import Settings
from tracegraph.store.audit_store import AuditStore
from tracegraph.store.retention_store import RetentionStore

log = structlog.get_logger(__name__)

# Event types whose raw payloads the `events` class expires: run activity. Definitions and
# the service's own admin events (pipeline.defined, owners, SLAs, policies, the gate) are
# the pipelines' history and stay; log events are the `logs` class.
ACTIVITY_TYPES = [
    "run.scheduled",
    "run.started",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.paused",
    "run.resumed",
    "step.scheduled",
    "step.started",
    "step.progress",
    "step.completed",
    "step.failed",
    "step.skipped",
    "approval.requested",
    "prompt.sent",
    "response.chunk",
    "response.received",
    "artifact.read",
    "artifact.written",
]
LOG_TYPES = ["log"]
TEXT_TYPES = ["prompt.sent", "response.chunk", "response.received"]
# The text fields of those events' data: taken out of the payload by text retention.
_PAYLOAD_TEXT_FIELDS = ("text", "messages", "variables")
# Labels a run retention pass may delete outright (its LLM calls, approvals, breaches);
# step runs and runs only when lineage does not need them.
_ALWAYS_PRUNED = {"LLMCall", "Approval", "SLABreach"}

AUDIT_ACTOR = "system:retention"


@dataclass(frozen=True, slots=True)
class RetentionDays:
    events: int = 0
    text: int = 0
    logs: int = 0
    runs: int = 0

    @property
    def enabled(self) -> bool:
        return any((self.events, self.text, self.logs, self.runs))


@dataclass(slots=True)
class PassReport:
    """What one pass did (or, dry, would do), per data class."""

    as_of: datetime
    dry_run: bool
    archived: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "archived": self.archived,
            "removed": self.removed,
            "files": len(self.files),
        }


@dataclass(slots=True)
class ErasureReport:
    subject_sha256: str
    nodes: int = 0
    archive_files: int = 0
    archive_rows: int = 0
    identifiers_kept: int = 0


def _encode(value: Any) -> Any:
    """Neo4j values in archived node properties: temporal ones as tagged text."""
    if hasattr(value, "iso_format"):
        return {"$datetime": value.iso_format()}
    return str(value)


def _node_row(record: dict[str, Any]) -> dict[str, Any]:
    labels = sorted(record["labels"])
    return {
        "label": record["labels"][0],
        "labels": labels,
        "key": str(record["key"]),
        "properties": orjson.dumps(
            record["props"], default=_encode, option=orjson.OPT_SORT_KEYS
        ).decode(),
    }


def strip_payload_text(payload: str) -> str:
    """An event payload without its prompt/response text (counts and ids stay)."""
    doc = orjson.loads(payload)
    data = doc.get("data")
    if isinstance(data, dict):
        for name in _PAYLOAD_TEXT_FIELDS:
            data.pop(name, None)
        if "delta" in data:
            data["delta"] = ""
    return orjson.dumps(doc).decode()


class ArchiveLock:
    """The archive directory's lock, held across awaits (taken in a thread: flock blocks)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _take(self) -> IO[str]:
        self._root.mkdir(parents=True, exist_ok=True)
        handle = (self._root / LOCK).open("a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    @contextlib.asynccontextmanager
    async def held(self) -> Any:
        handle = await asyncio.to_thread(self._take)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


class RetentionService:
    def __init__(
        self,
        store: RetentionStore,
        audit: AuditStore,
        archive_dir: Path,
        days: RetentionDays,
        *,
        batch_size: int,
        pause_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.audit = audit
        self.archive = Archive(archive_dir)
        self.days = days
        self.batch_size = batch_size
        self.pause_s = pause_s
        self.clock = clock
        self._lock = ArchiveLock(Path(archive_dir))

    # -- passes ----------------------------------------------------------------------

    async def run_pass(
        self,
        as_of: datetime | None = None,
        dry_run: bool = False,
        should_continue: Callable[[], bool] = lambda: True,
    ) -> PassReport:
        """One pass over every class whose retention is set; ``as_of`` is "now" (a later
        date expires more). ``should_continue`` is asked before each batch (the lease)."""
        now = (as_of or self.clock()).astimezone(UTC)
        report = PassReport(as_of=now, dry_run=dry_run)
        days = self.days
        # Text first: its originals are archived before the events class archives the
        # stripped payloads.
        if days.text:
            await self._text(now - timedelta(days=days.text), report, should_continue)
        if days.runs:
            await self._runs(now - timedelta(days=days.runs), report, should_continue)
        if days.logs:
            await self._events(
                "logs", LOG_TYPES, now - timedelta(days=days.logs), report, should_continue
            )
        if days.events:
            await self._events(
                "events",
                ACTIVITY_TYPES,
                now - timedelta(days=days.events),
                report,
                should_continue,
            )
        if not dry_run:
            await self.audit.record(
                [
                    AuditRecord(
                        actor=AUDIT_ACTOR,
                        action="retention.pass",
                        target="retention:pass",
                        before=None,
                        after=report.summary(),
                    )
                ]
            )
        log.info("retention pass", **report.summary())
        return report

    async def _batches(
        self,
        report: PassReport,
        data_class: str,
        should_continue: Callable[[], bool],
        batch: Callable[[], Awaitable[tuple[int, int]]],
    ) -> None:
        """Run ``batch`` (archived, removed) until it finds nothing, pausing between."""
        report.archived.setdefault(data_class, 0)
        report.removed.setdefault(data_class, 0)
        while should_continue():
            async with self._lock.held():
                archived, removed = await batch()
            if not archived and not removed:
                return
            report.archived[data_class] += archived
            report.removed[data_class] += removed
            # Let ingestion's transactions through between two of ours.
            await asyncio.sleep(self.pause_s)

    async def _write(
        self, data_class: str, kind: str, rows: list[dict[str, Any]], cutoff: datetime
    ) -> ArchiveFile:
        return await asyncio.to_thread(self.archive.write, data_class, kind, rows, cutoff)

    async def _events(
        self,
        data_class: str,
        types: list[str],
        cutoff: datetime,
        report: PassReport,
        should_continue: Callable[[], bool],
    ) -> None:
        if report.dry_run:
            count = await self.store.count_expired_events(cutoff, types)
            report.archived[data_class] = report.removed[data_class] = count
            return

        async def batch() -> tuple[int, int]:
            rows = await self.store.expired_events(cutoff, types, self.batch_size)
            if not rows:
                return 0, 0
            entry = await self._write(data_class, "events", rows, cutoff)
            report.files.append(entry.path)
            deleted = await self.store.delete_events([r["seq"] for r in rows])
            return len(rows), deleted

        await self._batches(report, data_class, should_continue, batch)

    async def _text(
        self, cutoff: datetime, report: PassReport, should_continue: Callable[[], bool]
    ) -> None:
        if report.dry_run:
            events = await self.store.count_text_events(cutoff, TEXT_TYPES)
            calls = await self.store.count_text_calls(cutoff)
            report.archived["text"] = report.removed["text"] = events + calls
            return

        async def event_batch() -> tuple[int, int]:
            rows = await self.store.text_events(cutoff, TEXT_TYPES, self.batch_size)
            if not rows:
                return 0, 0
            entry = await self._write("text", "events", rows, cutoff)
            report.files.append(entry.path)
            stripped = [
                {"seq": r["seq"], "payload": strip_payload_text(r["payload"])} for r in rows
            ]
            return len(rows), await self.store.strip_event_text(stripped)

        async def call_batch() -> tuple[int, int]:
            rows = await self.store.text_calls(cutoff, self.batch_size)
            if not rows:
                return 0, 0
            entry = await self._write("text", "nodes", [_node_row(r) for r in rows], cutoff)
            report.files.append(entry.path)
            return len(rows), await self.store.strip_call_text([r["key"] for r in rows])

        await self._batches(report, "text", should_continue, event_batch)
        await self._batches(report, "text", should_continue, call_batch)

    async def _runs(
        self, cutoff: datetime, report: PassReport, should_continue: Callable[[], bool]
    ) -> None:
        if report.dry_run:
            count = await self.store.count_expired_runs(cutoff)
            report.archived["runs"] = report.removed["runs"] = count
            return

        async def batch() -> tuple[int, int]:
            run_ids = await self.store.expired_runs(cutoff, self.batch_size)
            if not run_ids:
                return 0, 0
            nodes = await self.store.run_nodes(run_ids)
            needed_by_lineage = {
                n["run"] for n in nodes if n["lineage"] and set(n["labels"]) & {"Run", "StepRun"}
            }
            doomed = [
                n
                for n in nodes
                if _ALWAYS_PRUNED & set(n["labels"])
                or ("StepRun" in n["labels"] and not n["lineage"])
                or ("Run" in n["labels"] and n["run"] not in needed_by_lineage)
            ]
            element_ids = [n["element_id"] for n in doomed]
            if doomed:
                rels = await self.store.run_relationships(element_ids)
                entry = await self._write("runs", "nodes", [_node_row(n) for n in doomed], cutoff)
                report.files.append(entry.path)
                rel_entry = await self._write("runs", "relationships", rels, cutoff)
                report.files.append(rel_entry.path)
            kept = sorted(needed_by_lineage)
            await self.store.prune_runs(element_ids, kept)
            # Counted in runs: the runs pruned (kept-for-lineage ones are not removed).
            return len(run_ids), len(run_ids) - len(kept)

        await self._batches(report, "runs", should_continue, batch)

    # -- replay from the archive -----------------------------------------------------

    async def restore_archived_events(
        self, page: int, on_page: Callable[[int], None] | None = None
    ) -> int:
        """Put every archived event back into the log (originals last, so a payload text
        retention stripped gets its text back); returns the rows restored."""
        entries = [e for e in await asyncio.to_thread(self.archive.files) if e.kind == "events"]
        ordered = [e for e in entries if e.data_class != "text"] + [
            e for e in entries if e.data_class == "text"
        ]
        restored = 0
        for entry in ordered:
            rows = await asyncio.to_thread(self.archive.read, entry)
            rows.sort(key=lambda r: r["seq"])
            for start in range(0, len(rows), page):
                restored += await self.store.restore_events(rows[start : start + page])
                if on_page is not None:
                    on_page(restored)
        return restored

    # -- erasure ---------------------------------------------------------------------

    async def erase(self, subject: str, actor: str) -> ErasureReport:
        """Erase the subject's text from every node and every archive file; audited
        with a hash of the subject."""
        eraser = Eraser(subject)
        report = ErasureReport(subject_sha256=subject_hash(eraser.subject))
        async with self._lock.held():
            seen: set[str] = set()
            while True:
                rows = await self.store.nodes_mentioning(
                    eraser.subject, sorted(KEY_PROPERTIES), self.batch_size
                )
                if not rows:
                    break
                updates = []
                for row in rows:
                    if row["element_id"] in seen:  # rewritten and still matching: a bug
                        raise RuntimeError(
                            f"erasure could not rewrite node {row['element_id']} "
                            f"({', '.join(row['labels'])})"
                        )
                    seen.add(row["element_id"])
                    changed, kept = eraser.erase_properties(dict(row["props"]))
                    report.identifiers_kept += len(kept)
                    updates.append({"element_id": row["element_id"], "props": changed})
                report.nodes += await self.store.rewrite_nodes(updates)
            files, archived_rows = await asyncio.to_thread(self._erase_archive, eraser)
            report.archive_files, report.archive_rows = files, archived_rows
        await self.audit.record(
            [
                AuditRecord(
                    actor=actor,
                    action="subject.erased",
                    target=f"subject:{report.subject_sha256}",
                    before=None,
                    after={
                        "subject_sha256": report.subject_sha256,
                        "nodes": report.nodes,
                        "archive_files": report.archive_files,
                        "archive_rows": report.archive_rows,
                    },
                )
            ]
        )
        return report

    def _erase_archive(self, eraser: Eraser) -> tuple[int, int]:
        """Rewrite every archive file with a row that mentions the subject (called with
        the archive's lock held); the files and rows rewritten."""
        files = rows_changed = 0
        for entry in self.archive.files():
            rows = self.archive.read(entry)
            changed = 0
            for row in rows:
                touched = False
                for column, value in row.items():
                    if column in KEY_PROPERTIES or not isinstance(value, str):
                        continue
                    erased = eraser.erase_string(value, column)
                    if erased != value:
                        row[column] = erased
                        touched = True
                changed += touched
            if changed:
                self.archive.rewrite(entry, rows)
                files += 1
                rows_changed += changed
        return files, rows_changed


class RetentionDuty:
    """Passes every ``interval_s`` while this replica holds the ``retention`` lease."""

    def __init__(
        self, service: RetentionService, interval_s: float, held: Callable[[], bool]
    ) -> None:
        self._service = service
        self._interval_s = interval_s
        self._held = held
        self._task = BackgroundTask("retention", self._loop)
        self.passes = 0

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _loop(self) -> None:
        while True:
            try:
                await self._service.run_pass(should_continue=self._held)
                self.passes += 1
            except Exception as exc:  # the next pass tries again; never kill the duty
                log.warning("retention pass failed", error=repr(exc))
            await asyncio.sleep(self._interval_s)


def retention_service(
    settings: Settings, driver: AsyncDriver, timeout_s: float
) -> RetentionService:
    """The retention service of these settings (the service's and the CLI's)."""
    database = settings.neo4j.database
    return RetentionService(
        RetentionStore(driver, database, timeout_s),
        AuditStore(driver, database, timeout_s),
        settings.retention_archive_dir,
        RetentionDays(
            events=settings.retention_events_days,
            text=settings.retention_text_days,
            logs=settings.retention_logs_days,
            runs=settings.retention_runs_days,
        ),
        batch_size=settings.retention_batch_size,
        pause_s=settings.retention_batch_pause_s,
    )
