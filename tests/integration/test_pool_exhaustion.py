"""A full connection pool is a passing condition, not a bug: it must read as retryable.

The neo4j driver (5.x) raises a plain ``ClientError`` without a status code when no
connection frees up within ``connection_acquisition_timeout``; 200 subscribers opening
at once drained the pool that way, and the error surfaced as an internal error.
"""

from __future__ import annotations

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError

from tests.support import cypher
from tracegraph.settings import Neo4jSettings
from tracegraph.store.errors import is_retryable


def test_a_pool_acquisition_timeout_is_retryable(neo4j_settings: Neo4jSettings) -> None:
    driver = GraphDatabase.driver(
        neo4j_settings.uri,
        auth=neo4j_settings.auth,
        max_connection_pool_size=1,
        connection_acquisition_timeout=0.5,
    )
    try:
        with driver.session() as holder, holder.begin_transaction() as tx:
            tx.run(cypher.test_cypher("return_one")).consume()  # holds the pool's only connection
            with pytest.raises(ClientError) as caught, driver.session() as other:
                other.run(cypher.test_cypher("return_one")).consume()
        assert "pool" in str(caught.value)
        assert is_retryable(caught.value)
    finally:
        driver.close()


def test_a_cypher_mistake_stays_not_retryable(neo4j_settings: Neo4jSettings) -> None:
    driver = GraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
    try:
        with pytest.raises(ClientError) as caught, driver.session() as session:
            session.run(cypher.test_cypher("fail_arithmetic")).consume()
        assert not is_retryable(caught.value)
    finally:
        driver.close()
