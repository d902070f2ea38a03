"""GraphQL types of artifact columns (issue 22, docs/columns.md): fields, their column
lineage, and schema changes. Built from the property maps the column reads return."""

from __future__ import annotations

from typing import Any

import strawberry

from tracegraph.api.graphql.scalars import DateTime, to_datetime


def version_of(version_id: str | None, uri: str | None) -> str | None:
    """The version part of a version id (``uri@version``)."""
    if not version_id:
        return None
    if uri and version_id.startswith(uri + "@"):
        return version_id[len(uri) + 1 :]
    return version_id.rsplit("@", 1)[-1]


def field_label(f: dict[str, Any]) -> str:
    """``uri @ version · field`` for the lineage view."""
    version = version_of(f.get("version_id"), f.get("uri"))
    return f"{f.get('uri')} @ {version} · {f.get('name')}"


@strawberry.type(description="A field an artifact field derives from (column lineage).")
class FieldSource:
    id: strawberry.ID = strawberry.field(description="The input field: version id + '#' + name")
    uri: str
    version_id: strawberry.ID
    version: str | None
    name: str
    type: str | None = strawberry.field(description="The input field's schema type, if known")
    transformation: str | None = strawberry.field(
        description="The transformation's type (DIRECT, INDIRECT…), as the emitter said"
    )
    subtype: str | None = strawberry.field(description="IDENTITY, TRANSFORMATION, AGGREGATION…")
    description: str | None
    step_run: strawberry.ID | None = strawberry.field(description="The step run that derived it")

    @classmethod
    def of(cls, s: dict[str, Any]) -> FieldSource:
        return cls(
            id=strawberry.ID(s["id"]),
            uri=s.get("uri") or "",
            version_id=strawberry.ID(s.get("version_id") or ""),
            version=version_of(s.get("version_id"), s.get("uri")),
            name=s["name"],
            type=s.get("type"),
            transformation=s.get("edge_type"),
            subtype=s.get("subtype"),
            description=s.get("description"),
            step_run=None if s.get("step_run") is None else strawberry.ID(s["step_run"]),
        )


@strawberry.type(description="A field (column) of an artifact version.")
class ArtifactField:
    id: strawberry.ID = strawberry.field(description="Version id + '#' + name")
    uri: str
    version_id: strawberry.ID
    version: str | None
    name: str = strawberry.field(description="Nested fields are dotted: address.city")
    type: str | None
    in_schema: bool = strawberry.field(
        description="Listed by the version's schema (false: known from column lineage only)"
    )
    description: str | None = strawberry.field(
        description="The transformation that wrote it, in words (column lineage)"
    )
    transformation: str | None
    derived_from: list[FieldSource]

    @classmethod
    def of(cls, f: dict[str, Any], uri: str | None = None) -> ArtifactField:
        field_uri = f.get("uri") or uri or ""
        return cls(
            id=strawberry.ID(f["id"]),
            uri=field_uri,
            version_id=strawberry.ID(f.get("version_id") or ""),
            version=version_of(f.get("version_id"), field_uri),
            name=f["name"],
            type=f.get("type"),
            in_schema=bool(f.get("in_schema")),
            description=f.get("description"),
            transformation=f.get("transformation_type"),
            derived_from=[FieldSource.of(s) for s in f.get("inputs") or []],
        )


@strawberry.type(description="A field whose type changed between two versions.")
class FieldRetype:
    name: str
    from_type: str | None = strawberry.field(name="from")
    to_type: str | None = strawberry.field(name="to")


@strawberry.type(
    description="How a version's schema differs from the previous version (by first seen) "
    "of the same artifact that had a schema."
)
class SchemaChange:
    uri: str
    version_id: strawberry.ID
    version: str | None
    previous_version_id: strawberry.ID
    previous_version: str | None
    at: DateTime | None = strawberry.field(description="When the new version was first seen")
    added: list[str]
    removed: list[str]
    retyped: list[FieldRetype]
    breaking: bool = strawberry.field(description="Fields were removed or retyped")
    alerted: bool = strawberry.field(
        description="A SCHEMA_CHANGE alert went to the owners of what reads the broken fields"
    )

    @classmethod
    def of(cls, c: dict[str, Any]) -> SchemaChange:
        retyped = c.get("retyped") or []
        froms = c.get("retyped_from") or []
        tos = c.get("retyped_to") or []
        return cls(
            uri=c["uri"],
            version_id=strawberry.ID(c["version_id"]),
            version=c.get("version"),
            previous_version_id=strawberry.ID(c["previous_version_id"]),
            previous_version=c.get("previous_version"),
            at=to_datetime(c.get("at")),
            added=list(c.get("added") or []),
            removed=list(c.get("removed") or []),
            retyped=[
                FieldRetype(name=n, from_type=f or None, to_type=t or None)
                for n, f, t in zip(retyped, froms, tos, strict=False)
            ],
            breaking=bool(c.get("breaking")),
            alerted=bool(c.get("alerted")),
        )


@strawberry.type(description="The fields of one artifact version.")
class ArtifactFields:
    uri: str
    version_id: strawberry.ID
    version: str | None
    fields: list[ArtifactField]
