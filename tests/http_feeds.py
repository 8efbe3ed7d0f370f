"""A local HTTP server that serves feed files the way an object store or a signed URL would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FeedServer:
    """Serves the files of one directory on loopback; counts the requests for each path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path.split("?")[0])
                super().do_GET()

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._http = ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(directory))
        )
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str, query: str = "") -> str:
        """The URL of a file in the directory, with an optional query (a signature, say)."""
        return f"http://127.0.0.1:{self.port}/{name}" + (f"?{query}" if query else "")

    def close(self) -> None:
        """Stops serving."""
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def serving_feeds(directory: Path) -> Iterator[FeedServer]:
    """A feed server for the length of a block."""
    directory.mkdir(parents=True, exist_ok=True)
    server = FeedServer(directory)
    try:
        yield server
    finally:
        server.close()
