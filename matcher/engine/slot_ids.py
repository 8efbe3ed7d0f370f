"""Slot ids: a stable, opaque, URL-safe name for one supplier's slot, and reading one back."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from matcher import urlsafe
from matcher.engine.texts import Ints, Texts, base64url, decimal, joined, padded
from matcher.instants import supported, to_micros
from matcher.model import Slot

SLOT_ID_PREFIX = "s1_"


@dataclass(frozen=True)
class SlotRef:
    """What a slot id names: a supplier's slot starting at an instant, of a length."""

    supplier_id: str
    start: datetime
    minutes: int


def slot_id(*, supplier_id: str, slot: Slot) -> str:
    """A stable, opaque, URL-safe id for one supplier's slot."""
    return encode_slot_id(supplier_id, to_micros(slot.start) // 1_000_000, slot.minutes)


def encode_slot_id(supplier_id: str, epoch: int, minutes: int) -> str:
    """The id of a supplier's slot starting at an epoch second and lasting some minutes."""
    return SLOT_ID_PREFIX + urlsafe.encode(f"{supplier_id}|{epoch}|{minutes}".encode())


def slot_ids(supplier_ids: Texts, *, seconds: Ints, minutes: Ints) -> Texts:
    """``encode_slot_id`` of many slots at once: each row's supplier id (UTF-8), start (epoch
    seconds) and length in minutes."""
    n = len(supplier_ids)
    width = int(supplier_ids.lengths.max()) if n else 0
    common = (
        n
        and int(supplier_ids.lengths.min()) == width
        and int(seconds.min()) >= 10**9
        and int(seconds.max()) < 10**10
        and int(minutes.min()) >= 0
        and int(minutes.max()) < 1000
    )
    if common:  # one layout: id, "|", ten digits, "|", then one to three digits
        rows = np.zeros((n, width + 15), dtype=np.uint8)
        rows[:, :width] = supplier_ids.rows[:, :width]
        rows[:, [width, width + 11]] = ord("|")
        rows[:, width + 1 : width + 11] = padded(seconds, 10)
        rows[:, width + 12 :] = _MINUTE_DIGITS[minutes]
        raw = Texts(rows, width + 12 + _MINUTE_WIDTHS[minutes])
    else:
        raw = joined([supplier_ids, b"|", decimal(seconds), b"|", decimal(minutes)], n)
    encoded = base64url(raw)
    out = np.empty((n, len(SLOT_ID_PREFIX) + encoded.rows.shape[1]), dtype=np.uint8)
    out[:, : len(SLOT_ID_PREFIX)] = np.frombuffer(SLOT_ID_PREFIX.encode(), dtype=np.uint8)
    out[:, len(SLOT_ID_PREFIX) :] = encoded.rows
    return Texts(out, encoded.lengths + len(SLOT_ID_PREFIX))


#: 0 to 999 in decimal, left-aligned in three bytes (zeros after), and how many digits each.
_MINUTE_WIDTHS = decimal(np.arange(1000, dtype=np.int64)).lengths
_MINUTE_DIGITS = decimal(np.arange(1000, dtype=np.int64)).rows


def parse_slot_id(text: str) -> SlotRef | None:
    """The slot an id names, or None when it is not an id this service issued."""
    if not text.startswith(SLOT_ID_PREFIX):
        return None
    try:
        raw = urlsafe.decode(text[len(SLOT_ID_PREFIX) :]).decode()
        supplier_id, epoch, minutes = raw.rsplit("|", 2)
        seconds = int(epoch)
        start = datetime.fromtimestamp(seconds, tz=UTC)
        length = int(minutes)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        return None
    if not supplier_id or length <= 0 or not supported(start):
        return None
    if encode_slot_id(supplier_id, seconds, length) != text:
        return None  # another spelling (" 30", "1_800", stray characters) of a slot: not issued
    return SlotRef(supplier_id=supplier_id, start=start, minutes=length)
