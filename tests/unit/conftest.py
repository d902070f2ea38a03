"""The unit lane runs with no Neo4j and no browser: `make test-fast`.

The shared fixtures that reach a database (tests/conftest.py) are overridden here so a
unit test that asks for one, directly or through another fixture, fails at once with
the reason instead of starting a server: such a test belongs in tests/integration/.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def neo4j_server() -> None:
    pytest.fail(
        "a unit test asked for Neo4j (neo4j_server, via a fixture such as service or "
        "clean_graph): move it to tests/integration/",
        pytrace=False,
    )
