"""Real PostgreSQL and Redis servers for any test that asks for one (loaded by tests/conftest.py).

`make test` installs the Debian packages first (`make system`); a test that asks for a server
where none is installed errors with what to run, rather than being skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.postgres import TemporaryPostgres
from devtools.redis import TemporaryRedis


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """One PostgreSQL server for the session: tests share it, so they must not stop it."""
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture
def private_postgres() -> Iterator[TemporaryPostgres]:
    """A PostgreSQL server of the test's own, which it may stop, restart or kill."""
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[TemporaryRedis]:
    """One Redis server for the session (named so as not to hide the redis package)."""
    with TemporaryRedis() as server:
        yield server
