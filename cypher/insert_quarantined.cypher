UNWIND $rows AS row
CREATE (:Quarantined {
  id: row.id, event_id: row.event_id, raw: row.raw, reason: row.reason,
  received_at: datetime(row.received_at), principal: row.principal,
  redactions: row.redactions, redaction_kinds: row.redaction_kinds
})
