"""Slot ids: a stable, opaque, URL-safe name for one supplier's slot, and reading one back."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from matcher import urlsafe
from matcher.engine.texts import Ints, Texts, base64url, decimal, joined
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
    raw = joined([supplier_ids, b"|", decimal(seconds), b"|", decimal(minutes)], n)
    return joined([SLOT_ID_PREFIX.encode(), base64url(raw)], n)


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
