"""Synthetic AI-pipeline workload for `tracegraph demo` and the ingest benchmark."""
