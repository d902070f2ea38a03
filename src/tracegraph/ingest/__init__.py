"""Ingestion: validation, deduplication, sequencing and group commit of events."""
