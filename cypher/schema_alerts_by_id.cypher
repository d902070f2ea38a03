// Schema-change alerts by id ("schema:<version id>"), for the alerts another replica
// raised (live/hub.py relays their ids): the marker node holds the whole alert.
UNWIND $ids AS id
MATCH (m:SchemaAlert {id: id})
RETURN m {.*, token: null} AS alert
