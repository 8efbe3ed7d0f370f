"""The real servers the tests and the bench stand on: PostgreSQL with PostGIS, and Redis.

Durability is checked the way the replicas' store relies on it: a committed row survives a
restart and a SIGKILL of the postmaster (crash recovery), and an uncommitted one does not.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool

from devtools.postgres import TemporaryPostgres
from devtools.redis import TemporaryRedis
from devtools.services import alive
from tests.e2e.conftest import ROOT, STOP_TIMEOUT_S

#: Paris and London (longitude, latitude), about 343.5 km apart on the sphere.
PARIS = (2.3522, 48.8566)
LONDON = (-0.1276, 51.5072)
BERLIN = (13.4050, 52.5200)


def write_row(dsn: str, *, value: str) -> None:
    """Creates the table if needed and commits one row."""
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES (%s)", (value,))


def rows(dsn: str) -> list[str]:
    """Every row of the notes table."""
    with psycopg.connect(dsn) as conn:
        return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY body")]


def test_the_server_is_durable_and_reachable_by_tcp_and_socket(postgres: TemporaryPostgres):
    with psycopg.connect(postgres.dsn) as tcp, psycopg.connect(postgres.socket_dsn) as unix:
        assert tcp.execute("SHOW fsync").fetchone() == ("on",)
        assert tcp.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert tcp.execute("SELECT current_database()").fetchone() == ("matcher",)
        assert tcp.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
        assert unix.execute("SELECT inet_server_addr()").fetchone() == (None,)


def test_a_row_survives_a_restart_on_the_same_port(private_postgres: TemporaryPostgres):
    pg = private_postgres
    write_row(pg.dsn, value="before restart")
    pid, port = pg.pid, pg.port
    pg.restart()
    assert pg.pid not in (None, pid)
    assert pg.port == port
    assert rows(pg.dsn) == ["before restart"]


def test_a_committed_row_survives_sigkill_and_an_uncommitted_one_does_not(
    private_postgres: TemporaryPostgres,
):
    pg = private_postgres
    write_row(pg.dsn, value="committed")
    postmaster = pg.pid
    assert postmaster is not None
    with psycopg.connect(pg.dsn) as open_tx:
        open_tx.execute("INSERT INTO notes (body) VALUES ('never committed')")
        pg.kill()
        assert not alive(postmaster)
        with pytest.raises(psycopg.OperationalError):
            open_tx.commit()
    pg.start()
    assert rows(pg.dsn) == ["committed"]
    assert "database system was interrupted" in pg.log_path.read_text()


def test_postgis_answers_a_spherical_distance(postgres: TemporaryPostgres):
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        row = conn.execute(
            "SELECT ST_DistanceSphere(ST_MakePoint(%s, %s), ST_MakePoint(%s, %s))",
            (*PARIS, *LONDON),
        ).fetchone()
    assert row == (pytest.approx(343_500, rel=0.01),)


def test_a_connection_pool_reaches_the_server(postgres: TemporaryPostgres):
    with (
        ConnectionPool(postgres.dsn, min_size=1, max_size=2, open=True) as pool,
        pool.connection() as conn,
    ):
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_redis_stores_values_and_answers_geosearch(redis_server: TemporaryRedis):
    with redis_server.client() as client, redis.Redis.from_url(redis_server.url) as tcp:
        client.set("greeting", "hello")
        assert tcp.get("greeting") == b"hello"
        client.geoadd("places", [*LONDON, "london", *BERLIN, "berlin"])
        found = client.geosearch(
            "places", longitude=PARIS[0], latitude=PARIS[1], radius=1000, unit="km",
            sort="ASC", withdist=True,
        )  # fmt: skip
    assert [name for name, _ in found] == ["london", "berlin"]
    assert found[0][1] == pytest.approx(343.5, rel=0.01)


@pytest.mark.parametrize("kind", [TemporaryPostgres, TemporaryRedis])
def test_a_failing_block_still_stops_the_server_and_removes_its_files(
    kind: type[TemporaryPostgres] | type[TemporaryRedis],
):
    with pytest.raises(RuntimeError, match="boom"), kind() as server:
        root, pid = server.root, server.pid
        assert pid is not None and alive(pid)
        raise RuntimeError("boom")
    assert not alive(pid)
    assert not root.exists()
    server.close()  # a second close is harmless


@pytest.mark.parametrize("module", ["devtools.postgres", "devtools.redis"])
def test_a_developer_can_start_one_by_hand_and_stop_it_with_ctrl_c(module: str):
    process = subprocess.Popen(
        [sys.executable, "-m", module], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = process.stdout.readline()
            assert line, f"{module} exited early: {lines}"
            lines.append(line.rstrip("\n"))
        address = re.search(r"(dsn|url): +(\S+)", "\n".join(lines))
        assert "ready" in lines[0] and address
        if module == "devtools.postgres":
            with psycopg.connect(address.group(2)) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        else:
            with redis.Redis.from_url(address.group(2)) as client:
                assert client.ping()
        directory = Path(re.findall(r"/\S*matcher-\w+-\w+", "\n".join(lines))[0])
        assert directory.exists()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
        assert not directory.exists()
    finally:
        process.kill()
        process.wait()
