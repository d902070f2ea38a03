// The first and last source time of the stored events (epoch ms).
MATCH (e:Event)
RETURN min(e.time.epochMillis) AS first, max(e.time.epochMillis) AS last
