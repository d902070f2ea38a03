// Where the LiveNotes end (a tailer starts there: older notes were for older hubs).
OPTIONAL MATCH (c:Sequence {name: 'live_note'})
RETURN coalesce(c.value, 0) AS last
