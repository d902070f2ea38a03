"""Disk spool: batches the service could not take, as NDJSON files, re-sent later.

One file per batch, named so that a lexical sort is the order they were written in. A
file is deleted only after the service acknowledged it; re-sending a batch the service
already stored is harmless because event ids make ingestion idempotent.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("tracegraph.sdk")

_SUFFIX = ".ndjson"


def dumps(event: Any) -> bytes:
    # default=str: a user's odd value (a Path, a Decimal) must not lose the whole event.
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS)


class Spool:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def append(self, events: Sequence[dict[str, Any]]) -> None:
        """Write one batch to its own file (atomically: written aside, then renamed)."""
        if not events:
            return
        with self._lock:
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter):06d}{_SUFFIX}"
        final = self.directory / name
        tmp = final.with_suffix(".tmp")
        tmp.write_bytes(b"".join(dumps(ev) + b"\n" for ev in events))
        os.replace(tmp, final)

    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))
        except FileNotFoundError:
            return []

    def pending(self) -> bool:
        return bool(self.files())

    def read(self, path: Path) -> list[dict[str, Any]] | None:
        """The events of a spool file, or None when it vanished (another process sent it)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        events: list[dict[str, Any]] = []
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                # A torn last line (crash mid-write of an old-style file): keep the rest.
                log.warning("tracegraph: skipping an unreadable line in %s", path)
        return events

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
