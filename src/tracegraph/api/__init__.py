"""HTTP and GraphQL API on FastAPI."""
