"""The chunked sequence behind the catalogue: a tuple's reads, and cheap replaced copies."""

from __future__ import annotations

import pytest

from matcher.engine.chunked import CHUNK, Chunked


def test_it_reads_like_the_tuple_it_was_made_from():
    items = tuple(range(2 * CHUNK + 5))
    chunked = Chunked(items)
    assert len(chunked) == len(items)
    assert list(chunked) == list(items)
    assert [chunked[k] for k in (0, CHUNK - 1, CHUNK, len(items) - 1, -1, -len(items))] == [
        items[k] for k in (0, CHUNK - 1, CHUNK, len(items) - 1, -1, -len(items))
    ]
    assert chunked[3:7] == list(items[3:7])
    for bad in (len(items), len(items) + CHUNK, -len(items) - 1):
        with pytest.raises(IndexError):
            chunked[bad]


def test_a_replaced_copy_changes_only_itself_and_shares_untouched_chunks():
    original = Chunked(range(3 * CHUNK))
    changed = original.replaced({1: "one", 2 * CHUNK: "two"})
    assert (changed[1], changed[2 * CHUNK], changed[CHUNK]) == ("one", "two", CHUNK)
    assert (original[1], original[2 * CHUNK]) == (1, 2 * CHUNK)
    assert changed._chunks[1] is original._chunks[1]
    assert len(Chunked(()).replaced({})) == 0
    with pytest.raises(IndexError):
        original.replaced({3 * CHUNK: "past the end"})
