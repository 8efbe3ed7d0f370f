"""What the throwaway servers share: a free port, a temporary directory, a child process we reap."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

#: Seconds a throwaway server gets to come up, or to go down once asked.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
#: How often readiness is polled: short, since start-up is a fraction of a second.
POLL_S = 0.01
#: How much of a server's log an error shows.
LOG_TAIL_LINES = 20


class ServiceError(RuntimeError):
    """A throwaway server could not be found, started or stopped; the message says what to do."""


def free_port() -> int:
    """A loopback port nothing listens on right now: the kernel's choice for port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path) -> str:
    """The last lines of a server's log, for an error message; empty when there is no log."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def wait_ready(
    *,
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    log: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    """Polls ``ready`` until it holds; raises with the log's tail if the process exits or stalls."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {process.returncode} while starting:\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} not ready after {timeout_s:.0f} s:\n{log_tail(log)}")
        time.sleep(POLL_S)


def stop_process(
    process: subprocess.Popen[bytes], *, sig: int, timeout_s: float = STOP_TIMEOUT_S
) -> None:
    """Sends ``sig`` and reaps the process; SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def children_of(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``pid``, read from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces and ')', so split after the last ')'
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie, which nobody may reap here, counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_hard(process: subprocess.Popen[bytes], *, timeout_s: float = 5.0) -> None:
    """SIGKILLs a server process as a crash would, then waits for the children it leaves behind.

    The children notice their parent's death and exit by themselves; any still there after
    ``timeout_s`` are SIGKILLed too, so a new server can take over the same files and port.
    """
    children = children_of(process.pid)
    process.kill()
    process.wait()
    deadline = time.monotonic() + timeout_s
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    for pid in children:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@dataclass
class _Resources:
    """What a server must give back, kept apart from it so that a finalizer can release it."""

    root: Path
    stop_signal: int
    process: subprocess.Popen[bytes] | None = None

    def stop(self, *, sig: int | None = None) -> None:
        """Stops the process, if any, with ``sig`` (default: the server's own stop signal)."""
        if self.process is not None:
            stop_process(self.process, sig=self.stop_signal if sig is None else sig)
            self.process = None

    def release(self) -> None:
        """Stops the process and removes the directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class TemporaryServer:
    """A server process of ours in a temporary directory: started by start(), reaped by us,
    and stopped with its directory removed by close(), on leaving a ``with``, or at exit."""

    #: The signal that asks this kind of server to shut down cleanly.
    stop_signal: int = signal.SIGTERM

    def __init__(self, *, root: Path) -> None:
        """Takes charge of ``root``: it is removed with everything in it on close()."""
        self._res = _Resources(root=root, stop_signal=self.stop_signal)
        self._finalizer = weakref.finalize(self, self._res.release)

    @property
    def root(self) -> Path:
        """The temporary directory of the server's files, socket and log."""
        return self._res.root

    @property
    def log_path(self) -> Path:
        """The server's output, appended to across restarts."""
        return self.root / "server.log"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        process = self._res.process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Starts the server and waits until it answers."""
        raise NotImplementedError

    def stop(self) -> None:
        """Shuts the server down cleanly and waits until it is gone."""
        self._res.stop()

    def kill(self) -> None:
        """SIGKILLs the server, as a crash would, and waits for the processes it leaves."""
        if self._res.process is not None:
            kill_hard(self._res.process)
            self._res.process = None

    def close(self) -> None:
        """Stops the server and removes its directory; safe to call more than once."""
        self._finalizer()

    def _spawn(
        self, args: Sequence[str], *, what: str, ready: Callable[[], bool], **popen: Any
    ) -> None:
        """Starts ``args`` as our child (output to the log) and waits until ``ready`` holds."""
        if self.pid is not None:
            raise ServiceError(f"{what} is already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                **popen,
            )
        self._res.process = process
        try:
            wait_ready(process=process, ready=ready, what=what, log=self.log_path)
        except BaseException:
            self._res.stop(sig=signal.SIGKILL)
            raise

    def __enter__(self) -> Self:
        """Starts the server; cleans up if it cannot."""
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stops the server and removes its directory, whatever happened inside."""
        self.close()


def hold(*lines: str) -> None:
    """Prints ``lines`` and waits for Ctrl-C or SIGTERM, so that the caller's ``with`` cleans up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in the background
    print(*lines, "Ctrl-C stops it and removes its directory.", sep="\n", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
