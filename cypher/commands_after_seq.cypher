// The delivery tailer (commands/feed.py): every command after the last seq this replica
// read, in seq order (a range seek on the unique seq index).
MATCH (c:Command)
WHERE c.seq > $after
RETURN c {.*} AS command
ORDER BY c.seq
LIMIT $limit
