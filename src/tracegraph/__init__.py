"""Tracegraph: knowledge-graph-centric observability for AI pipelines."""

__version__ = "0.1.0"
