"""The audit trail's domain: what a change record holds (stored as ``AuditEntry``)."""

from tracegraph.audit.record import AuditRecord

__all__ = ["AuditRecord"]
