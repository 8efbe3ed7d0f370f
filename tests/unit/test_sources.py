"""Feed sources: a path read in place, an http(s) URL downloaded with progress, verified against
its recorded checksum and size, and cached by checksum."""

from __future__ import annotations

import hashlib
import logging

import pytest

from matcher.errors import FeedRejected
from matcher.serving import sources
from matcher.serving.sources import canonical, digest_of, fetch, is_url, shown
from tests.feed_files import tagged, write_feed
from tests.http_feeds import serving_feeds


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_path_is_read_in_place_and_measured(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    got = fetch(str(path), cache=tmp_path / "cache")
    data = path.read_bytes()
    assert (got.path, got.sha256, got.size) == (path, sha(data), len(data))
    assert not (tmp_path / "cache").exists()


def test_a_snapshot_directory_is_measured_by_its_files(tmp_path):
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "b.jsonl").write_bytes(b"two\n")
    (tmp_path / "snap" / "a.jsonl").write_bytes(b"one\n")
    one, two = sha(b"one\n"), sha(b"two\n")
    lines = f"a.jsonl {one}\nb.jsonl {two}\n"
    assert digest_of(tmp_path / "snap") == (sha(lines.encode()), 8)


def test_a_path_whose_bytes_changed_is_refused(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    recorded = digest_of(path)
    write_feed(path, tagged("v2"))
    with pytest.raises(FeedRejected, match="its bytes changed"):
        fetch(str(path), cache=tmp_path / "cache", expect=recorded)


def test_a_missing_path_is_refused_as_a_whole(tmp_path):
    with pytest.raises(FeedRejected) as caught:
        fetch(str(tmp_path / "nowhere.jsonl"), cache=tmp_path / "cache")
    assert [(e.line, e.field) for e in caught.value.errors] == [(0, "file")]


def test_a_url_is_downloaded_with_progress_and_cached_by_checksum(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(sources, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(sources, "CHUNK", 1024)
    with serving_feeds(tmp_path / "www") as www:
        path = write_feed(tmp_path / "www" / "feed.jsonl", tagged("v1"))
        data = path.read_bytes()
        url = www.url("feed.jsonl", "X-Signature=secret")
        with caplog.at_level(logging.INFO, logger="matcher.sources"):
            got = fetch(url, cache=tmp_path / "cache")
        assert (got.sha256, got.size) == (sha(data), len(data))
        assert got.path == tmp_path / "cache" / sha(data) / "feed.jsonl"
        assert got.path.read_bytes() == data
        lines = [r.getMessage() for r in caplog.records]
        assert any("%)" in line and "MB/s" in line for line in lines), lines
        assert not any("secret" in line for line in lines)
        again = fetch(url, cache=tmp_path / "cache", expect=(got.sha256, got.size))
        assert again == got
        assert www.requests == ["/feed.jsonl"], "the second fetch came from the cache"


def test_a_download_that_is_not_the_recorded_feed_is_refused(tmp_path):
    with serving_feeds(tmp_path / "www") as www:
        write_feed(tmp_path / "www" / "feed.jsonl", tagged("v2"))
        with pytest.raises(FeedRejected, match="its bytes changed"):
            fetch(www.url("feed.jsonl"), cache=tmp_path / "cache", expect=("0" * 64, 10))


def test_a_failed_download_is_refused_and_leaves_no_partial_file(tmp_path):
    with serving_feeds(tmp_path / "www") as www, pytest.raises(FeedRejected, match="download"):
        fetch(www.url("missing.jsonl"), cache=tmp_path / "cache")
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())


def test_only_the_latest_downloads_are_kept(tmp_path):
    with serving_feeds(tmp_path / "www") as www:
        for k in range(sources.CACHE_KEEP + 2):
            write_feed(tmp_path / "www" / "feed.jsonl", tagged(f"v{k}"))
            fetch(www.url("feed.jsonl"), cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == sources.CACHE_KEEP


def test_downloads_go_to_the_users_cache_or_else_the_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert sources.default_cache() == tmp_path / "cache" / "matcher" / "feeds"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(locked / "cache"))
    monkeypatch.setattr(sources.os, "access", lambda path, mode: path != locked)
    assert sources.default_cache().name.startswith("matcher-feeds-")


def test_how_sources_are_named():
    assert is_url("https://example.com/f.jsonl") and not is_url("/data/f.jsonl")
    assert shown("https://u:p@example.com:8443/f.jsonl?sig=1") == "https://example.com:8443/f.jsonl"
    assert canonical("relative.jsonl").startswith("/")
    assert canonical("http://example.com/f.jsonl") == "http://example.com/f.jsonl"
