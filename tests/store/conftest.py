"""The store tests' fixtures: a throwaway PostgreSQL (tests/helpers/postgres.py)."""

from tests.helpers.postgres import (  # noqa: F401
    postgres_server,
    postgres_store_factory,
    postgres_url,
)
