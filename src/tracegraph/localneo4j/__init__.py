"""Run a real Neo4j 5.26 Community server locally, without Docker.

The server jars are fetched once through Maven (``fetch``), each named instance
gets its own config/data/logs (``config``, ``server``), and the process runs in
the background bound to 127.0.0.1 only.

    from tracegraph.localneo4j import LocalNeo4j
    uri = LocalNeo4j(settings.neo4j_home).start()   # bolt://127.0.0.1:7687
"""

from tracegraph.localneo4j.config import bolt_port_from_uri, render_config
from tracegraph.localneo4j.errors import LocalNeo4jError
from tracegraph.localneo4j.fetch import NEO4J_VERSION, ensure_dist
from tracegraph.localneo4j.server import LocalNeo4j, Neo4jStatus, probe_bolt

__all__ = [
    "NEO4J_VERSION",
    "LocalNeo4j",
    "LocalNeo4jError",
    "Neo4jStatus",
    "bolt_port_from_uri",
    "ensure_dist",
    "probe_bolt",
    "render_config",
]
