"""Canned text for the synthetic workload: support questions, answers, documents, judgements.

Kept small and static so that generated prompts read like a real support-RAG product without
shipping a data set; the generator only samples from these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupportCase:
    """One customer question, the docs that answer it, and the tool the agent would call."""

    question: str
    answer: str
    doc: str
    tool: str
    tool_args: dict[str, str]
    plan: str


CASES: tuple[SupportCase, ...] = (
    SupportCase(
        "How do I rotate an API key without downtime?",
        "Create a second key under Settings → API keys, deploy it to your services, then revoke "
        "the old key. Both keys stay valid until you revoke one, so there is no downtime.",
        "docs/security/api-keys.md",
        "lookup_account",
        {"account_id": "acct_8841"},
        "1. Check the plan allows two active keys.\n2. Explain the rotate-then-revoke flow.",
    ),
    SupportCase(
        "Where is my order A-10421? It was due yesterday.",
        "Order A-10421 left our warehouse on Monday and is with the carrier; the tracking page "
        "now shows delivery tomorrow before 18:00. I have added a note to waive the shipping fee.",
        "docs/orders/shipping-times.md",
        "lookup_order",
        {"order_id": "A-10421"},
        "1. Look up the order status.\n2. Give the carrier ETA.\n3. Offer a shipping credit.",
    ),
    SupportCase(
        "Can I export audit logs as CSV?",
        "Yes. Open Admin → Audit log, filter the period you need and choose Export → CSV. Exports "
        "of more than 100k rows are emailed to you as a download link.",
        "docs/admin/audit-log.md",
        "lookup_account",
        {"account_id": "acct_1290"},
        "1. Confirm the plan includes audit logs.\n2. Describe the export steps and limits.",
    ),
    SupportCase(
        "Why was I charged twice this month?",
        "The second charge is a pre-authorisation from the plan upgrade on the 14th; it is "
        "released automatically within 5 business days. Your invoice only lists one payment.",
        "docs/billing/charges.md",
        "lookup_invoice",
        {"invoice_id": "in_2026_11_0457"},
        "1. Look up the invoices of this month.\n2. Explain the pre-authorisation.",
    ),
    SupportCase(
        "How do I add SSO with Okta?",
        "Go to Admin → Security → Single sign-on, pick Okta, and paste the metadata URL from your "
        "Okta app. Test with one user before enforcing SSO for the whole workspace.",
        "docs/security/sso-okta.md",
        "lookup_account",
        {"account_id": "acct_3302"},
        "1. Check SSO is on the customer's plan.\n2. Walk through the Okta setup.",
    ),
    SupportCase(
        "The mobile app crashes when I open a shared board.",
        "This is a known issue in app version 5.12.0 with boards that contain embedded videos. "
        "Version 5.12.1, released today, fixes it; please update from the app store.",
        "docs/releases/mobile-5-12.md",
        "search_incidents",
        {"component": "mobile", "query": "shared board crash"},
        "1. Search open incidents for the crash.\n2. Point to the fixed release.",
    ),
    SupportCase(
        "How can I change the owner of a workspace?",
        "The current owner can transfer ownership under Settings → Members: open the member's "
        "menu and choose Make owner. If the owner has left, ask an admin to contact us.",
        "docs/admin/workspace-owner.md",
        "lookup_account",
        {"account_id": "acct_7710"},
        "1. Check who owns the workspace.\n2. Explain the transfer.",
    ),
    SupportCase(
        "Is there a rate limit on the REST API?",
        "Yes: 600 requests per minute per key on the Team plan and 3,000 on Enterprise. Responses "
        "carry X-RateLimit-Remaining, and a 429 includes Retry-After.",
        "docs/api/rate-limits.md",
        "lookup_account",
        {"account_id": "acct_5521"},
        "1. Look up the customer's plan.\n2. Quote the matching limit.",
    ),
    SupportCase(
        "I want a refund for the annual plan I bought by mistake.",
        "Annual plans can be refunded in full within 14 days. I have opened refund request "
        "R-2291; the money is back on your card in 5 to 10 business days.",
        "docs/billing/refunds.md",
        "create_refund",
        {"invoice_id": "in_2026_11_0812", "reason": "purchased_by_mistake"},
        "1. Check the purchase date.\n2. Create the refund.\n3. Confirm the timeline.",
    ),
    SupportCase(
        "Webhooks stopped arriving since this morning.",
        "Your endpoint started returning 410 at 07:42 UTC, so we paused the webhook after 50 "
        "failures. Fix the endpoint and press Resume under Developers → Webhooks.",
        "docs/api/webhooks.md",
        "search_incidents",
        {"component": "webhooks", "query": "delivery paused"},
        "1. Check delivery attempts for the endpoint.\n2. Explain the pause and how to resume.",
    ),
    SupportCase(
        "How do I delete my account and all data?",
        "An owner can delete the workspace under Settings → Danger zone. Data is removed within "
        "30 days, backups within 90. We can send a deletion certificate on request.",
        "docs/privacy/deletion.md",
        "lookup_account",
        {"account_id": "acct_9904"},
        "1. Verify the requester is the owner.\n2. Explain deletion and retention.",
    ),
    SupportCase(
        "Can guests comment without a paid seat?",
        "Yes. Guests can view and comment on boards shared with them for free; editing needs a "
        "paid seat. Up to 50 guests per workspace on the Team plan.",
        "docs/admin/guests.md",
        "lookup_account",
        {"account_id": "acct_4418"},
        "1. Check the plan's guest allowance.\n2. Explain guest permissions.",
    ),
)

# Passages as the embedding jobs would see them (one chunk of a document each).
DOC_CHUNKS: tuple[str, ...] = (
    "To rotate a key, create a new one first; both keys remain valid until one is revoked.",
    "Standard shipping takes 2 to 4 business days; express orders ship the same day before 14:00.",
    "Audit log exports are limited to 100,000 rows per file; larger exports are emailed.",
    "A pre-authorisation is a temporary hold and is released by the bank within 5 days.",
    "SSO can be enforced per workspace once at least one admin has signed in through the IdP.",
    "Mobile 5.12.1 fixes a crash when opening boards that embed video content.",
    "Ownership transfer requires the new owner to be a full member of the workspace.",
    "Rate limits apply per API key; requests over the limit receive HTTP 429 with Retry-After.",
    "Refunds of annual plans are available in full within 14 days of purchase.",
    "Webhook deliveries are retried with exponential backoff for up to 24 hours.",
    "Deleted workspaces are purged from primary storage within 30 days.",
    "Guests may view and comment on shared boards; editing requires a paid seat.",
)

KB_ARTICLES: tuple[str, ...] = (
    "Troubleshooting SAML assertion errors after an IdP certificate change",
    "Setting up usage alerts for your billing account",
    "Migrating boards between workspaces",
    "Understanding seat-based and usage-based pricing",
    "Configuring data residency for EU customers",
    "Recovering a board from the trash",
    "Keyboard shortcuts for power users",
    "Connecting the Slack integration to private channels",
)

JUDGE_PASS_REASONS: tuple[str, ...] = (
    "The answer is grounded in the cited document and resolves the question.",
    "Correct steps, consistent with the reference; tone is appropriate.",
    "Matches the reference answer; no unsupported claims.",
)

JUDGE_FAIL_REASONS: tuple[str, ...] = (
    "The answer omits the 14-day limit stated in the reference.",
    "It cites a menu path that does not exist in the current product.",
    "The answer is correct but does not address the customer's second question.",
)

PLAN_SYSTEM = (
    "You are the planning module of a customer-support agent. Given the customer message and "
    "retrieved passages, write a short numbered plan. Only use the tools listed."
)
ANSWER_SYSTEM = (
    "You are a friendly support agent. Answer using only the provided context. If the context "
    "is insufficient, say so and offer to escalate."
)
JUDGE_SYSTEM = (
    "You grade a support answer against the reference answer. Reply PASS or FAIL, then one "
    "sentence of justification."
)
