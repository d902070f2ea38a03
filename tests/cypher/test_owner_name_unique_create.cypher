CREATE CONSTRAINT test_owner_name_unique IF NOT EXISTS FOR (o:Owner) REQUIRE o.name IS UNIQUE
