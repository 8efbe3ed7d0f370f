"""Match answers in protobuf's wire format, made in bulk: every slot of a response in one pass.

Building a ``Slot`` message field by field costs a few microseconds in Python, and a Match
answers a couple of hundred slots. Here every slot of a response is written at once as a row of
a byte matrix (``matcher.engine.texts``), the matches around them in a few Python operations
each, and the whole is read into the response message by protobuf's own parser (C), which the
server then serializes as it would any message.

The rows are valid wire format, if not the shortest: every varint takes a fixed width (a
varint may carry continuation bytes with nothing in them, and parsers accept it) and fields
with their default value are written too, so that rows of equal strings are of equal length.
The parser keeps only the values; what the server sends is the canonical encoding of the same
message a field-by-field build would make.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from matcher.engine.kept import Kept
from matcher.engine.rendering import Rendered, RenderedColumns
from matcher.engine.texts import Bytes, Ints, Texts, joined
from matcher.model import Match, RenderedSlot, Supplier

#: Supplier messages kept serialized, for the suppliers answered most recently.
SUPPLIERS_KEPT = 1 << 14
_DOUBLE = struct.Struct("<d")
#: Tags (field number << 3 | wire type) of the fields written here.
_SLOT_ID, _START, _END = b"\x0a", b"\x12", b"\x1a"
_USER_START, _SUPPLIER_START, _USER_END, _SUPPLIER_END = b"\x22", b"\x2a", b"\x52", b"\x5a"
_NUMBER_TAGS = np.frombuffer(b"\x08\x10\x08\x10\x30\x38\x40\x48", dtype=np.uint8)  # see _numbers
_MATCH_SUPPLIER, _MATCH_DISTANCE = b"\x0a", b"\x11"
_MATCH_MODALITIES, _MATCH_SLOTS = b"\x1a", b"\x22"
_RESPONSE_MATCHES = b"\x1a"
#: Bytes of each fixed-width varint: lengths inside a slot and of a slot, and integer values.
_LENGTH, _INT = 2, 10
_NUMBER = 1 + _INT  # a tag and its value
_STAMP = 2 * _NUMBER  # a Timestamp's body: seconds and nanos


def varints(values: Ints, width: int) -> Bytes:
    """Each value (two's complement for negatives, as int32 and int64 fields are) as a varint
    of exactly ``width`` bytes: the low seven bits first, each byte but the last flagged."""
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    out = ((values.astype(np.uint64)[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    out[:, :-1] |= 0x80
    return out


def _varint(value: int) -> bytes:
    """One value that is not negative as the shortest varint."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _numbers(rendered: Rendered) -> Bytes:
    """The slots' eight integer fields, each as its tag and a 10-byte varint (n x 8 x 11): the
    seconds and nanos of the start's Timestamp and of the end's, then offset difference, day
    shift, places and places open."""
    s = rendered.slots
    values = np.empty((len(s), 8), dtype=np.int64)
    values[:, 0], values[:, 1] = np.divmod(s.start, 1_000_000)
    values[:, 2], values[:, 3] = np.divmod(s.end, 1_000_000)
    values[:, [1, 3]] *= 1000  # microseconds to nanos
    values[:, 4] = rendered.offset_difference_minutes
    values[:, 5] = rendered.day_shift
    values[:, 6] = s.spots_total
    values[:, 7] = s.spots_open
    out = np.empty((len(s), 8, _NUMBER), dtype=np.uint8)
    out[:, :, 0] = _NUMBER_TAGS
    out[:, :, 1:] = varints(values.ravel(), _INT).reshape(len(s), 8, _INT)
    return out


def slot_rows(rendered: Rendered, *, tag: bytes) -> Texts:
    """Every slot as a ``Slot`` message under a field ``tag`` of the message holding it (its
    tag, its length, its fields), one row each.

    When each string field has one length for all slots (as it does unless some slot starts at
    an odd microsecond or a zone's offset has seconds), every row has one layout, written a
    block of columns at a time.
    """
    n = len(rendered.slots)
    numbers = _numbers(rendered).reshape(n, 8 * _NUMBER)
    strings = [
        (_SLOT_ID, rendered.slot_ids),
        (_USER_START, rendered.user_local_start),
        (_SUPPLIER_START, rendered.supplier_local_start),
        (_USER_END, rendered.user_local_end),
        (_SUPPLIER_END, rendered.supplier_local_end),
    ]
    stamps: list[Texts | bytes] = [
        _START + bytes([_STAMP]),
        Texts.fixed(numbers[:, :_STAMP]),
        _END + bytes([_STAMP]),
        Texts.fixed(numbers[:, _STAMP : 2 * _STAMP]),
        Texts.fixed(numbers[:, 2 * _STAMP :]),
    ]
    widths = [_one_width(text) for _, text in strings]
    if not n or any(w is None for w in widths):
        body = joined(
            [
                *stamps,
                *(p for field, text in strings for p in _string(field, text)),
            ],
            n,
        )
        return joined([tag, Texts.fixed(varints(body.lengths, _LENGTH)), body], n)
    size = 2 * (2 + _STAMP) + 4 * _NUMBER + sum(1 + _LENGTH + int(w or 0) for w in widths)
    out = np.empty((n, 1 + _LENGTH + size), dtype=np.uint8)
    at = _put(out, 0, tag + _length_of(size))
    for part in stamps:
        at = _put(out, at, part if isinstance(part, bytes) else part.rows)
    for (field, text), width in zip(strings, widths, strict=True):
        at = _put(out, at, field + _length_of(int(width or 0)))
        at = _put(out, at, text.rows[:, : int(width or 0)])
    return Texts.fixed(out)


def _put(out: Bytes, at: int, part: bytes | Bytes) -> int:
    """Writes a constant or a block of columns into every row from column ``at``; where next."""
    block = np.frombuffer(part, dtype=np.uint8) if isinstance(part, bytes) else part
    width = int(block.shape[-1])
    out[:, at : at + width] = block
    return at + width


@lru_cache(maxsize=1024)
def _length_of(length: int) -> bytes:
    """A length as a varint of ``_LENGTH`` bytes."""
    return varints(np.array([length], dtype=np.int64), _LENGTH).tobytes()


def _string(tag: bytes, text: Texts) -> list[Texts | bytes]:
    """A string field of varying length: its tag, its length, its bytes."""
    return [tag, Texts.fixed(varints(text.lengths, _LENGTH)), text]


def _one_width(text: Texts) -> int | None:
    """The length all the strings share, if they do."""
    if not len(text):
        return 0
    low, high = int(text.lengths.min()), int(text.lengths.max())
    return high if low == high else None


def supplier_field(serialized: Callable[[Supplier], bytes]) -> Kept[Supplier, bytes]:
    """``SupplierMatch.supplier`` (tag, length, message) of the suppliers answered most
    recently, serialized once each: a supplier changes only with a new feed, which brings new
    objects."""

    def make(s: Supplier) -> bytes:
        message = serialized(s)
        return _MATCH_SUPPLIER + _varint(len(message)) + message

    return Kept(SUPPLIERS_KEPT, make)


def matches_bytes(
    matches: Sequence[Match],
    *,
    supplier: Callable[[Supplier], bytes],
    modalities: Callable[[Match], bytes],
    slot: Callable[[RenderedSlot], bytes],
) -> bytes:
    """The ``matches`` field of a MatchResponse: each match as a ``SupplierMatch`` (its
    supplier field from ``supplier``, its packed modalities from ``modalities``; slots that
    are not rendered columns, serialized one by one by ``slot``)."""
    slots = _slots_of(matches, slot=slot)
    out: list[bytes] = []
    for m, rows in zip(matches, slots, strict=True):
        distance = round(m.distance_km, 3)
        body = b"".join(
            (
                supplier(m.supplier),
                _MATCH_DISTANCE + _DOUBLE.pack(distance) if distance else b"",
                modalities(m),
                rows,
            )
        )
        out += (_RESPONSE_MATCHES, _varint(len(body)), body)
    return b"".join(out)


def packed(tag_number: int, codes: Sequence[int]) -> bytes:
    """A packed repeated enum field, or nothing when empty."""
    if not codes:
        return b""
    values = b"".join(_varint(c) for c in codes)
    return _varint(tag_number << 3 | 2) + _varint(len(values)) + values


def _slots_of(matches: Sequence[Match], *, slot: Callable[[RenderedSlot], bytes]) -> list[bytes]:
    """The slots of each match as ``SupplierMatch.slots`` fields, back to back: the slots of
    each batch of rendered slots the matches point into are encoded together."""
    found = [b""] * len(matches)
    batches: dict[int, tuple[Rendered, list[tuple[int, slice]]]] = {}
    for k, m in enumerate(matches):
        slots = m.slots
        if not isinstance(slots, RenderedColumns):
            found[k] = b"".join(_MATCH_SLOTS + _varint(len(b)) + b for b in map(slot, slots))
        elif len(slots):
            batches.setdefault(id(slots.every), (slots.every, []))[1].append((k, slots.span))
    for every, spans in batches.values():
        first, last = min(s.start for _, s in spans), max(s.stop for _, s in spans)
        rows = slot_rows(every.take(slice(first, last)), tag=_MATCH_SLOTS)
        if int(rows.lengths.min()) == rows.rows.shape[1]:  # one width: rows are the bytes
            flat = np.ascontiguousarray(rows.rows).reshape(-1)
            width = rows.rows.shape[1]
            for k, span in spans:
                found[k] = flat[
                    (span.start - first) * width : (span.stop - first) * width
                ].tobytes()
            continue
        flat = rows.flat()
        ends = np.concatenate([[0], np.cumsum(rows.lengths)]).tolist()
        for k, span in spans:
            found[k] = flat[ends[span.start - first] : ends[span.stop - first]].tobytes()
    return found
