"""Why an ingest request as a whole could not be taken (per-event problems are rejections)."""

from __future__ import annotations


class IngestError(Exception):
    """Base class; ``status`` is the HTTP status the API answers with."""

    status = 500
    retry_after_s: int | None = None


class BadRequestBody(IngestError):
    status = 400


class TooLarge(IngestError):
    status = 413


class Overloaded(IngestError):
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DatabaseUnavailable(IngestError):
    status = 503

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreFailed(IngestError):
    """The database refused the write and the quarantine write too; nothing was stored."""

    status = 500
