"""Retention archives: compressed, self-describing Parquet files and their manifest.

An archive directory holds one folder per data class (``events``, ``text``, ``logs``,
``runs``) of Parquet files (zstd), and ``manifest.json``: for each file its data class,
kind of rows (``events``: rows of the event log, ``nodes`` / ``relationships``: the
derived graph), row count, seq range, schema and SHA-256. Each file also carries its
own description in the Parquet key-value metadata (``tracegraph.archive``), so a file
copied out of the directory still says what it holds.

A file is written to a temporary name, flushed to disk, read back and checked (row
count and checksum) and only then renamed into place and listed in the manifest; the
caller deletes the data from Neo4j only after :meth:`Archive.write` returned. Changes
to the manifest (and rewrites by erasure) are serialised by an exclusive lock on
``.lock`` in the directory, so a retention pass and an erasure (possibly in another
process on the same machine) never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
METADATA_KEY = b"tracegraph.archive"
DATA_CLASSES = ("events", "text", "logs", "runs")

# The event log's rows, as stored on (:Event) nodes; times are Neo4j's own text of the
# datetime (datetime(text) gives the same value back).
_EVENT_FIELDS: list[pa.Field[Any]] = [
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("time", pa.string()),
    pa.field("received_at", pa.string()),
    pa.field("source", pa.string()),
    pa.field("pipeline", pa.string()),
    pa.field("run", pa.string()),
    pa.field("step", pa.string()),
    pa.field("attempt", pa.int64()),
    pa.field("payload", pa.string(), nullable=False),
    pa.field("fingerprint", pa.string()),
    pa.field("principal", pa.string()),
    pa.field("redactions", pa.int64()),
    pa.field("redaction_kinds", pa.list_(pa.string())),
    # False: the payload as ingested; true: its text was already taken out by text
    # retention (the original is in a `text` file).
    pa.field("text_removed", pa.bool_(), nullable=False),
]
EVENT_SCHEMA = pa.schema(_EVENT_FIELDS)
# Nodes of the derived graph: labels, key and every property (JSON; datetimes tagged
# {"$datetime": text}).
NODE_SCHEMA = pa.schema(
    [
        pa.field("label", pa.string(), nullable=False),
        pa.field("labels", pa.list_(pa.string()), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("properties", pa.string(), nullable=False),
    ]
)
RELATIONSHIP_SCHEMA = pa.schema(
    [
        pa.field("type", pa.string(), nullable=False),
        pa.field("from_label", pa.string(), nullable=False),
        pa.field("from_key", pa.string(), nullable=False),
        pa.field("to_label", pa.string(), nullable=False),
        pa.field("to_key", pa.string(), nullable=False),
    ]
)
SCHEMAS = {"events": EVENT_SCHEMA, "nodes": NODE_SCHEMA, "relationships": RELATIONSHIP_SCHEMA}
DESCRIPTIONS = {
    "events": "rows of the Tracegraph event log (Event nodes); payload is the event JSON",
    "nodes": "nodes of the derived graph: labels, key, properties as JSON",
    "relationships": "relationships of the derived graph by their endpoints' keys",
}


class ArchiveError(RuntimeError):
    """The archive cannot be used as it is (a bad checksum, a missing file, a manifest
    that is not ours)."""


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One file as the manifest lists it (``path`` relative to the archive directory)."""

    path: str
    data_class: str
    kind: str
    rows: int
    seq_min: int | None
    seq_max: int | None
    sha256: str
    schema: list[dict[str, str]]
    cutoff: str
    created_at: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _schema_description(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- the manifest ----------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the archive (manifest changes, rewrites), across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def files(self) -> list[ArchiveFile]:
        """The files the manifest lists, oldest first (none without a manifest)."""
        path = self.root / MANIFEST
        if not path.exists():
            return []
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ArchiveError(f"{path} is not valid JSON: {exc}") from None
        if doc.get("format") != FORMAT_VERSION:
            raise ArchiveError(
                f"{path} has format {doc.get('format')!r}; this version reads {FORMAT_VERSION}"
            )
        return [ArchiveFile(**entry) for entry in doc["files"]]

    def _save(self, files: list[ArchiveFile]) -> None:
        doc = {"format": FORMAT_VERSION, "files": [asdict(f) for f in files]}
        tmp = self.root / f"{MANIFEST}.tmp"
        with tmp.open("wb") as f:
            f.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.root / MANIFEST)
        _fsync_dir(self.root)

    # -- writing ---------------------------------------------------------------------

    def _write_verified(
        self, target: Path, kind: str, data_class: str, rows: list[dict[str, Any]]
    ) -> str:
        """Write ``rows`` to ``target`` through a temporary file, checked; its SHA-256."""
        schema = SCHEMAS[kind]
        described = {
            "format": FORMAT_VERSION,
            "data_class": data_class,
            "kind": kind,
            "description": DESCRIPTIONS[kind],
        }
        table = pa.Table.from_pylist(rows, schema=schema).replace_schema_metadata(
            {METADATA_KEY: orjson.dumps(described)}
        )
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(table, tmp, compression="zstd")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        digest = _sha256(tmp)
        # Read back before anything relies on it: a file that does not give the rows
        # back must never be the reason data leaves the graph.
        if pq.read_metadata(tmp).num_rows != len(rows):
            tmp.unlink()
            raise ArchiveError(f"{target.name}: wrote {len(rows)} rows, read back fewer")
        tmp.replace(target)
        _fsync_dir(target.parent)
        return digest

    def write(
        self, data_class: str, kind: str, rows: list[dict[str, Any]], cutoff: datetime
    ) -> ArchiveFile:
        """Archive ``rows`` (of ``kind``'s schema) as a new file of ``data_class``, listed
        in the manifest; returns its entry. Call it holding :meth:`locked`."""
        if data_class not in DATA_CLASSES:
            raise ArchiveError(f"unknown data class {data_class!r}; one of {DATA_CLASSES}")
        if kind not in SCHEMAS:
            raise ArchiveError(f"unknown kind of rows {kind!r}; one of {sorted(SCHEMAS)}")
        seqs = [r["seq"] for r in rows if r.get("seq") is not None]
        seq_min, seq_max = (min(seqs), max(seqs)) if seqs else (None, None)
        folder = self.root / data_class
        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        span = f"-{seq_min}-{seq_max}" if seqs else ""
        name = f"{kind}-{now:%Y%m%dT%H%M%S}{span}-{uuid.uuid4().hex[:8]}.parquet"
        target = folder / name
        digest = self._write_verified(target, kind, data_class, rows)
        entry = ArchiveFile(
            path=f"{data_class}/{name}",
            data_class=data_class,
            kind=kind,
            rows=len(rows),
            seq_min=seq_min,
            seq_max=seq_max,
            sha256=digest,
            schema=_schema_description(SCHEMAS[kind]),
            cutoff=cutoff.astimezone(UTC).isoformat(),
            created_at=now.isoformat(),
        )
        self._save([*self.files(), entry])
        return entry

    # -- reading and rewriting -------------------------------------------------------

    def read(self, entry: ArchiveFile) -> list[dict[str, Any]]:
        """The rows of one listed file, after checking its checksum."""
        path = self.root / entry.path
        if not path.exists():
            raise ArchiveError(f"{entry.path} is listed in the manifest but missing")
        digest = _sha256(path)
        if digest != entry.sha256:
            raise ArchiveError(
                f"{entry.path}: SHA-256 {digest} does not match the manifest's {entry.sha256}"
            )
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows

    def rewrite(self, entry: ArchiveFile, rows: list[dict[str, Any]]) -> ArchiveFile:
        """Replace a listed file's rows (erasure) and its manifest entry; call it holding
        :meth:`locked`."""
        digest = self._write_verified(self.root / entry.path, entry.kind, entry.data_class, rows)
        updated = ArchiveFile(**{**asdict(entry), "sha256": digest, "rows": len(rows)})
        self._save([updated if f.path == entry.path else f for f in self.files()])
        return updated

    def verify(self) -> list[str]:
        """Every problem found: missing files, checksums that differ, row counts."""
        problems = []
        for entry in self.files():
            path = self.root / entry.path
            if not path.exists():
                problems.append(f"{entry.path}: missing")
                continue
            if _sha256(path) != entry.sha256:
                problems.append(f"{entry.path}: checksum differs from the manifest")
            elif pq.read_metadata(path).num_rows != entry.rows:
                problems.append(f"{entry.path}: row count differs from the manifest")
        return problems
