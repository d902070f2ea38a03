"""GraphQL for erasure (docs/retention.md): ``eraseSubject``, admins only."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.permissions import allow
from tracegraph.auth import Permission
from tracegraph.retention.erase import check_subject


@strawberry.type(description="What an erasure rewrote.")
class Erasure:
    subject_sha256: str = strawberry.field(
        description="SHA-256 of the subject (lower-cased): what the audit trail keeps."
    )
    nodes: int = strawberry.field(description="Graph nodes whose text was erased.")
    archive_files: int = strawberry.field(description="Archive files rewritten.")
    archive_rows: int = strawberry.field(description="Archive rows whose text was erased.")
    identifiers_kept: int = strawberry.field(
        description="Key properties (ids, names) mentioning the subject: kept, not text."
    )


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.ERASE)],
        description="Erase every prompt, response, log and other text that mentions the "
        "subject (a user id or email, case-insensitive) in the graph, the event log, the "
        "quarantine and the retention archive; the text becomes [ERASED], the calls' "
        "figures stay. Audited as subject.erased with a hash of the subject.",
    )
    async def erase_subject(self, info: Info[Context, None], subject: str) -> Erasure:
        try:
            check_subject(subject)
        except ValueError as exc:
            raise BadArgument(str(exc)) from None
        report = await info.context.services.retention.erase(subject, info.context.actor)
        return Erasure(
            subject_sha256=report.subject_sha256,
            nodes=report.nodes,
            archive_files=report.archive_files,
            archive_rows=report.archive_rows,
            identifiers_kept=report.identifiers_kept,
        )


__all__ = ["Erasure", "RetentionMutation"]
