// Every stored event's id.
MATCH (e:Event)
RETURN e.id AS id
