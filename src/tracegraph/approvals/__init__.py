"""Human approvals inside runs (issue 19): deciding, expiring, and telling the executor.

See ``service.py`` and docs/approvals.md.
"""

from tracegraph.approvals.service import (
    ApprovalRefused,
    Approvals,
    NotAnApprover,
    approver_problem,
)

__all__ = ["ApprovalRefused", "Approvals", "NotAnApprover", "approver_problem"]
