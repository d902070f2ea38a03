"""Retention, archive, replay from the archive and erasure (docs/retention.md)."""
