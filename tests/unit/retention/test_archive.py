"""The archive writer and its manifest: files that say what they hold, checksums that
catch a changed byte, rewrites that keep the manifest true."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tracegraph.retention.archive import METADATA_KEY, Archive, ArchiveError

CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)


def _event(seq: int, text: str = "hello") -> dict:
    return {
        "seq": seq,
        "id": f"ev-{seq}",
        "type": "prompt.sent",
        "time": "2025-12-01T00:00:00Z",
        "received_at": "2025-12-01T00:00:01Z",
        "source": "tests",
        "pipeline": "p",
        "run": "r1",
        "step": None,
        "attempt": None,
        "payload": orjson.dumps({"type": "prompt.sent", "data": {"text": text}}).decode(),
        "fingerprint": "f",
        "principal": "key:t",
        "redactions": 0,
        "redaction_kinds": [],
        "text_removed": False,
    }


def test_a_written_file_is_listed_with_rows_seq_range_schema_and_checksum(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    entry = archive.write("events", "events", [_event(3), _event(7), _event(5)], CUTOFF)

    [listed] = archive.files()
    assert listed == entry
    assert (entry.rows, entry.seq_min, entry.seq_max) == (3, 3, 7)
    assert entry.path.startswith("events/") and entry.path.endswith(".parquet")
    assert {"name": "payload", "type": "string"} in entry.schema
    manifest = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert manifest["format"] == 1 and manifest["files"][0]["sha256"] == entry.sha256
    # Self-describing: the file alone says what it holds, compressed with zstd.
    parquet = pq.ParquetFile(tmp_path / entry.path)
    described = orjson.loads(parquet.schema_arrow.metadata[METADATA_KEY])
    assert described["data_class"] == "events" and described["kind"] == "events"
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    assert [r["seq"] for r in archive.read(entry)] == [3, 7, 5]
    assert archive.verify() == []


def test_a_changed_file_is_refused_with_its_checksums(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    entry = archive.write("text", "events", [_event(1)], CUTOFF)
    other = archive.write("text", "events", [_event(2)], CUTOFF)
    # Another file's bytes in its place: a valid Parquet file, but not the archived one.
    (tmp_path / entry.path).write_bytes((tmp_path / other.path).read_bytes())

    with pytest.raises(ArchiveError, match="does not match the manifest's"):
        archive.read(entry)
    assert archive.verify() == [f"{entry.path}: checksum differs from the manifest"]
    (tmp_path / other.path).unlink()
    assert f"{other.path}: missing" in archive.verify()


def test_a_rewrite_updates_the_manifest_entry_only(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.write("events", "events", [_event(1, "secret")], CUTOFF)
    second = archive.write("events", "events", [_event(2)], CUTOFF)

    rows = archive.read(first)
    rows[0]["payload"] = rows[0]["payload"].replace("secret", "[ERASED]")
    rewritten = archive.rewrite(first, rows)

    assert rewritten.sha256 != first.sha256 and rewritten.path == first.path
    assert archive.files() == [rewritten, second]
    assert "secret" not in archive.read(rewritten)[0]["payload"]
    assert archive.verify() == []


def test_bad_input_gets_a_specific_error(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(ArchiveError, match="unknown data class 'blobs'"):
        archive.write("blobs", "events", [_event(1)], CUTOFF)
    with pytest.raises(ArchiveError, match="unknown kind of rows 'rows'"):
        archive.write("events", "rows", [_event(1)], CUTOFF)
    (tmp_path / "manifest.json").write_text('{"format": 9, "files": []}')
    with pytest.raises(ArchiveError, match="has format 9; this version reads 1"):
        archive.files()
    assert list(tmp_path.glob("*/*.tmp")) == []
