"""A throwaway Redis server for tests and the bench: redis-server on a free loopback port and a Unix
socket, with no persistence, removed on close.

``python -m devtools.redis`` starts one, prints its URL and keeps it until Ctrl-C.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import redis

from devtools.services import ServiceError, TemporaryServer, free_port, hold


def find_server() -> Path:
    """The redis-server binary on PATH (Debian's redis-server package puts it in /usr/bin)."""
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if found is None:
        raise ServiceError("no redis-server here: `make system` installs Debian's redis-server")
    return Path(found)


class TemporaryRedis(TemporaryServer):
    """A real Redis server in a temporary directory on 127.0.0.1; nothing is ever saved to disk."""

    def __init__(self) -> None:
        """Finds redis-server and makes the directory; the server starts with start()."""
        self._server = find_server()
        super().__init__(root=Path(tempfile.mkdtemp(prefix="matcher-redis-")))
        self.port = free_port()

    @property
    def url(self) -> str:
        """A redis:// URL over TCP on loopback, for ``redis.Redis.from_url``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket (``redis.Redis(unix_socket_path=...)``)."""
        return self.root / "redis.sock"

    def client(self) -> redis.Redis:
        """A new client over the Unix socket, answers decoded to str."""
        return redis.Redis(unix_socket_path=str(self.socket_path), decode_responses=True)

    def start(self) -> None:
        """Starts redis-server without persistence and waits until it answers PING."""
        # fmt: off
        self._spawn(
            [
                str(self._server),
                "--bind", "127.0.0.1", "--port", str(self.port),
                "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
                "--dir", str(self.root), "--save", "", "--appendonly", "no",
                "--daemonize", "no",
            ],
            what=f"Redis on port {self.port}",
            ready=self._answers,
        )
        # fmt: on

    def _answers(self) -> bool:
        """Whether the server answers PING over its socket yet."""
        if not self.socket_path.exists():
            return False
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False


def main() -> int:
    """Starts a throwaway server, prints how to reach it, and keeps it until Ctrl-C or SIGTERM."""
    with TemporaryRedis() as server:
        hold(
            f"Redis ready, pid {server.pid}",
            f"  url:    {server.url}",
            f"  socket: {server.socket_path}",
            f"  cli:    redis-cli -p {server.port}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
