"""GraphQL columns of artifacts (issue 22, docs/columns.md): ``artifactFields`` and
``schemaChanges``. Column-level ``lineage`` and ``impact`` take ``field:`` (core.py)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.column_types import (
    ArtifactField,
    ArtifactFields,
    SchemaChange,
    version_of,
)
from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.permissions import allow
from tracegraph.auth import Permission


@strawberry.type
class ColumnsQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The fields (columns) of an artifact version — the version given, "
        "else the latest one with fields — in schema order, each with the input fields "
        "it derives from (column lineage). Null when the artifact has no version with "
        "fields.",
    )
    async def artifact_fields(
        self, info: Info[Context, None], uri: str, version: str | None = None
    ) -> ArtifactFields | None:
        rec = await info.context.services.reads.artifact_fields(uri, version)
        if rec["artifact"] is None:
            raise BadArgument(f"unknown artifact uri {uri!r}")
        av = rec["version"]
        if av is None:
            if version is not None:
                raise BadArgument(f"artifact {uri!r} has no version {version!r}")
            return None
        return ArtifactFields(
            uri=uri,
            version_id=strawberry.ID(av["id"]),
            version=av.get("version") or version_of(av["id"], uri),
            fields=[ArtifactField.of(f, uri) for f in rec["fields"]],
        )

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The schema changes of an artifact, newest first: for each version "
        "whose schema differs from the previous version's (by first seen), the fields "
        "added, removed and retyped.",
    )
    async def schema_changes(self, info: Info[Context, None], uri: str) -> list[SchemaChange]:
        rec = await info.context.services.reads.schema_changes(uri)
        if rec["artifact"] is None:
            raise BadArgument(f"unknown artifact uri {uri!r}")
        return [SchemaChange.of(c) for c in rec["changes"]]
