"""Where a generation's feed comes from: a local path (a shared volume) or an http(s) URL.

A URL is downloaded into a cache directory by each replica, with a progress line in the log,
and kept under its SHA-256; a path is read where it is. Either way its bytes are checked
against the generation's recorded checksum and size before anything loads them, so every
replica serves the same feed or refuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from matcher.errors import FeedError, FeedRejected

log = logging.getLogger("matcher.sources")

CHUNK = 1 << 20
#: Seconds between two progress lines of one download.
PROGRESS_EVERY_S = 2.0
#: Downloaded feeds kept in the cache: the one serving, the one before, and one being loaded.
CACHE_KEEP = 3


@dataclass(frozen=True)
class Fetched:
    """A feed ready to load: the local file or directory, and what its bytes are."""

    path: Path
    sha256: str
    size: int


def default_cache() -> Path:
    """Where downloads are kept unless --feed-cache says: $XDG_CACHE_HOME/matcher/feeds (by
    default ~/.cache/matcher/feeds), or the temporary directory when that cannot be made (a
    container user without a home)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    wanted = Path(base) / "matcher" / "feeds"
    existing = wanted
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if os.access(existing, os.W_OK):
        return wanted
    return Path(tempfile.gettempdir()) / f"matcher-feeds-{os.getuid()}"


def is_url(source: str) -> bool:
    """Whether a source is downloaded (http or https) rather than read in place."""
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def shown(source: str) -> str:
    """A source as logs and status show it: a URL without its query (signed URLs keep their
    signature there) and without any user:password."""
    if not is_url(source):
        return source
    parts = urllib.parse.urlsplit(source)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def canonical(source: str) -> str:
    """A source as a generation records it: a URL as given, a path made absolute."""
    return source if is_url(source) else str(Path(source).absolute())


def refused(source: str, reason: str) -> FeedRejected:
    """A feed refused as a whole before a record was read: unreachable, or not the bytes
    its generation recorded."""
    name = shown(source)
    return FeedRejected(
        name,
        [FeedError(path=name, line=0, field="file", reason=reason)],
        summary=f"feed {name} refused: {reason}",
    )


def fetch(
    source: str,
    *,
    cache: Path,
    expect: tuple[str, int] | None = None,
    timeout: float = 30.0,
) -> Fetched:
    """The feed at ``source``, checked against ``expect`` (SHA-256 hex, size) when given.

    Raises FeedRejected when it cannot be read or downloaded, or is not the bytes expected.
    """
    path = Path(source)
    if is_url(source):
        got = _cached(cache, source, expect) or _download(source, cache=cache, timeout=timeout)
    elif _streamed(path):  # a named pipe can be read once: keep what it gives in the cache
        got = _copied(path, cache=cache)
    else:
        try:
            sha256, size = digest_of(path)
        except OSError as exc:
            raise refused(source, exc.strerror or str(exc)) from None
        got = Fetched(path=path, sha256=sha256, size=size)
    if expect is not None and (got.sha256, got.size) != expect:
        raise refused(
            source,
            f"its bytes changed: SHA-256 {got.sha256[:12]}… and {got.size} bytes, where the "
            f"generation recorded {expect[0][:12]}… and {expect[1]} bytes",
        )
    return got


def digest_of(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file; of a snapshot directory, the SHA-256 of its sorted lines
    ``<file name> <file's SHA-256>`` and the files' total size."""
    if not path.is_dir():
        return _file_digest(path)
    lines, total = [], 0
    for member in sorted(p for p in path.iterdir() if p.is_file()):
        sha256, size = _file_digest(member)
        lines.append(f"{member.name} {sha256}\n")
        total += size
    return hashlib.sha256("".join(lines).encode()).hexdigest(), total


def _file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of one file, read in chunks."""
    hasher, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _name(source: str) -> str:
    """The file name a URL's path ends with (its suffix tells the loader the format)."""
    return Path(urllib.parse.urlsplit(source).path).name or "feed.jsonl"


def _cached(cache: Path, source: str, expect: tuple[str, int] | None) -> Fetched | None:
    """The cached copy of an expected download, when the cache holds it whole."""
    if expect is None:
        return None
    path = cache / expect[0] / _name(source)
    try:
        if path.stat().st_size != expect[1]:
            return None
    except OSError:
        return None
    os.utime(path.parent)  # most recently used: kept longest
    log.info("feed %s: using the cached copy %s", shown(source), path)
    return Fetched(path=path, sha256=expect[0], size=expect[1])


def _streamed(path: Path) -> bool:
    """Whether a path is something other than a file or a directory (a named pipe, say)."""
    try:
        return path.exists() and not (path.is_file() or path.is_dir())
    except OSError:
        return False


def _download(source: str, *, cache: Path, timeout: float) -> Fetched:
    """Downloads a URL into the cache, hashing as it goes, with a progress line every few s."""
    try:
        with urllib.request.urlopen(source, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            return _kept(response, source=source, name=_name(source), total=total, cache=cache)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise refused(source, f"download failed: {reason}") from None


def _copied(path: Path, *, cache: Path) -> Fetched:
    """A stream read once (a named pipe) and kept in the cache under its checksum."""
    try:
        with path.open("rb") as stream:
            return _kept(stream, source=str(path), name=path.name, total=0, cache=cache)
    except OSError as exc:
        raise refused(str(path), exc.strerror or str(exc)) from None


def _kept(stream: BinaryIO, *, source: str, name: str, total: int, cache: Path) -> Fetched:
    """Copies a stream into the cache, hashing as it goes, with a progress line every few
    seconds; kept under its SHA-256. Raises OSError, or FeedRejected when it ends early."""
    shown_as = shown(source)
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="partial-", dir=cache))
    try:
        target = staging / name
        hasher, size = hashlib.sha256(), 0
        started = last = time.monotonic()
        log.info("feed %s: reading %s", shown_as, _amount(total) if total else "(size unknown)")
        with target.open("wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
                if time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    log.info("feed %s: %s", shown_as, _progress(size, total, last - started))
        if total and size != total:
            raise refused(source, f"download ended after {size} of {total} bytes")
        sha256 = hasher.hexdigest()
        took = time.monotonic() - started
        log.info("feed %s: %s", shown_as, _progress(size, total or size, took))
        final = cache / sha256
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        _evict(cache)
        return Fetched(path=final / target.name, sha256=sha256, size=size)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _evict(cache: Path, *, keep: int = CACHE_KEEP) -> None:
    """Removes all but the ``keep`` most recently used downloads."""
    entries = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("partial-")]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _amount(size: int) -> str:
    """A byte count for people."""
    return f"{size / 1e6:.1f} MB"


def _progress(size: int, total: int, seconds: float) -> str:
    """One progress line: how much of how much, how fast."""
    rate = size / seconds / 1e6 if seconds > 0 else 0.0
    share = f" ({100 * size / total:.0f}%)" if total else ""
    return f"{_amount(size)} of {_amount(total) if total else '?'}{share}, {rate:.1f} MB/s"
