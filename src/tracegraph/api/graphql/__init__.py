"""The GraphQL API (contract: shared/contract/graphql.md), served at ``/graphql``."""
