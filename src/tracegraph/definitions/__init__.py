"""Pipeline definitions as YAML (issue 18, item 4; docs/definitions.md): the text checked
against exactly the rules of ``pipeline.defined`` with each problem at its line, the
stable YAML of a stored definition, the diff between versions, and the service that
submits a new version through the ingest path. Pure but for ``service.py``, which reaches
the store and ingest through protocols."""
