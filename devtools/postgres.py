"""A throwaway PostgreSQL server for tests and the bench: initdb into a temporary directory, then
postgres on a free loopback port and a Unix socket, durable (fsync on), removed on close.

``python -m devtools.postgres`` starts one, prints its DSN and keeps it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from devtools.services import ServiceError, TemporaryServer, free_port, hold, log_tail

#: The superuser initdb creates; trust authentication, as nothing but this machine can connect.
SUPERUSER = "postgres"
#: The OS user Debian's postgresql package creates, which the server runs as when we are root.
OS_USER = "postgres"
#: Longest directory a Unix socket path fits under (sun_path is 108 bytes, the name adds ~16).
MAX_SOCKET_DIR = 90
#: Tries at a free port: another process may take the one chosen before postgres binds it.
PORT_TRIES = 3
#: Signals of the three shutdown modes (PostgreSQL manual, "Shutting Down the Server").
SHUTDOWN_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
#: Settings every throwaway server gets: loopback only, and durable as a production server is.
BASE_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}

Shutdown = Literal["smart", "fast", "immediate"]


def find_bindir() -> Path:
    """Where initdb and postgres are: ``pg_config --bindir``, else the newest Debian server."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(done.stdout.strip()))
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise ServiceError(
        "no PostgreSQL server here (initdb and postgres): `make system` installs Debian's "
        "postgresql and PostGIS; elsewhere put pg_config of a server install on PATH"
    )


def server_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as: ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise ServiceError(
            f"running as root, PostgreSQL needs the {OS_USER!r} OS user, which Debian's "
            "postgresql package creates: run `make system`"
        ) from None


def as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """Popen arguments that run a child as ``user`` with its groups (none: as ourselves)."""
    if user is None:
        return {}
    groups = os.getgrouplist(user.pw_name, user.pw_gid)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": groups}


def temporary_root(user: pwd.struct_passwd | None) -> Path:
    """A new private directory for the data, socket and log, owned by the server's user."""
    base = tempfile.gettempdir()
    reachable = user is None or os.stat(base).st_mode & 0o001
    if len(base) > MAX_SOCKET_DIR - 20 or not reachable:
        base = "/tmp"
    root = Path(tempfile.mkdtemp(prefix="matcher-pg-", dir=base))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    return root


class TemporaryPostgres(TemporaryServer):
    """A real PostgreSQL server in a temporary directory, on 127.0.0.1 and a Unix socket.

    Use it as a context manager, or call start() and close(). The data survive stop(), restart()
    and kill() (SIGKILL, then crash recovery on the next start), on the same port, until close().
    """

    stop_signal = SHUTDOWN_SIGNALS["fast"]

    def __init__(
        self,
        *,
        dbname: str = "matcher",
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Finds the binaries and makes the directory; the server starts with start()."""
        self._bindir = find_bindir()
        self._user = server_user()
        super().__init__(root=temporary_root(self._user))
        self.dbname = dbname
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self._settings = {**BASE_SETTINGS, **(settings or {})}
        self._created = False

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def dsn(self) -> str:
        """A libpq/psycopg URI to the database over TCP on loopback."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def socket_dsn(self) -> str:
        """A libpq/psycopg conninfo to the database over the Unix socket (the fastest path)."""
        return self._conninfo(self.dbname)

    @property
    def version(self) -> str:
        """The server's major version, as initdb wrote it."""
        return (self.data_dir / "PG_VERSION").read_text().strip()

    def start(self) -> None:
        """Runs initdb the first time, starts the server and waits until it accepts connections."""
        if not self.data_dir.exists():
            self._initdb()
        for attempt in range(1, PORT_TRIES + 1):
            try:
                self._launch()
                break
            except ServiceError:
                taken = "Address already in use" in log_tail(self.log_path)
                if self._fixed_port or not taken or attempt == PORT_TRIES:
                    raise
                self.port = free_port()
        if not self._created:
            self._create_database()

    def stop(self, *, mode: Shutdown = "fast") -> None:
        """Shuts the server down (fast: rolls back open transactions) and waits until it is gone."""
        self._res.stop(sig=SHUTDOWN_SIGNALS[mode])

    def restart(self, *, mode: Shutdown = "fast") -> None:
        """Stops and starts again: same data, same port, new pid."""
        self.stop(mode=mode)
        self.start()

    def _conninfo(self, dbname: str) -> str:
        """A conninfo string over the Unix socket to ``dbname``."""
        return psycopg.conninfo.make_conninfo(
            host=str(self.root), port=self.port, dbname=dbname, user=SUPERUSER
        )

    def _run(self, *args: str) -> None:
        """Runs one of the server's programs as the server's user; raises with its output."""
        done = subprocess.run(
            [str(self._bindir / args[0]), *args[1:]],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            **as_user(self._user),
        )
        if done.returncode != 0:
            raise ServiceError(f"{args[0]} failed ({done.returncode}):\n{done.stderr}")

    def _initdb(self) -> None:
        """Creates the cluster: C locale, UTF-8, trust auth for its superuser.

        --no-sync skips only initdb's final flush: the files are durable against a server
        crash once written, and no test survives the machine's own crash anyway.
        """
        # fmt: off
        self._run(
            "initdb", "--pgdata", str(self.data_dir), "--username", SUPERUSER,
            "--auth", "trust", "--encoding", "UTF8", "--locale", "C",
            "--no-sync", "--no-instructions",
        )
        # fmt: on

    def _launch(self) -> None:
        """Starts the postmaster as our child, so that we reap it, and waits until it is ready."""
        settings = {
            **self._settings,
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
        }
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        self._spawn(
            [str(self._bindir / "postgres"), "-D", str(self.data_dir), *options],
            what=f"PostgreSQL on port {self.port}",
            ready=lambda: self._pidfile_status() == "ready",
            **as_user(self._user),
        )

    def _pidfile_status(self) -> str | None:
        """Line 8 of postmaster.pid ("starting", "ready", ...) once our postmaster wrote it."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 8 or lines[0].strip() != str(self.pid):
            return None
        return lines[7].strip()

    def _create_database(self) -> None:
        """Creates the database the DSN names (once, at the first start)."""
        if self.dbname != SUPERUSER:
            with psycopg.connect(self._conninfo(SUPERUSER), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
        self._created = True


def main(argv: list[str] | None = None) -> int:
    """Starts a throwaway server, prints how to reach it, and keeps it until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m devtools.postgres", description=__doc__)
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--dbname", default="matcher", help="the database to create")
    args = parser.parse_args(argv)
    with TemporaryPostgres(dbname=args.dbname, port=args.port) as pg:
        hold(
            f"PostgreSQL {pg.version} ready, pid {pg.pid}",
            f"  dsn:    {pg.dsn}",
            f"  socket: {pg.socket_dsn}",
            f"  psql:   psql '{pg.dsn}'",
            f"  data:   {pg.data_dir} (log {pg.log_path})",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
