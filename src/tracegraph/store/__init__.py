"""The graph store: every Neo4j access of the service goes through this package."""
