"""ASCII text made in bulk: many short strings at once, as rows of a uint8 matrix.

Rendering a Match makes a few hundred short strings (slot ids, local times). Made one at a time
they cost about a microsecond each in Python; made as numpy rows, from tables of the pieces
that recur (dates, times of day, UTC offsets, groups of digits), a few microseconds in all. A
``Texts`` is a matrix whose row ``k`` holds string ``k`` in its first ``lengths[k]`` bytes,
zeros after: ``view`` shows it as a numpy bytes array (which drops the trailing zeros),
``flat`` as all the strings back to back, as a wire format wants them.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]

ZERO = ord("0")
#: Decimal digits of any int64 that is not negative.
MAX_DIGITS = 19
DAY_SECONDS = 86_400
#: Days from 1970-01-01 that the date table holds: to 2129.
TABLED_DAYS = 58_440
#: Offsets (whole minutes) the offset table holds: -26:00 to +26:00.
TABLED_OFFSET_MINUTES = 26 * 60


@dataclass(frozen=True, eq=False)
class Texts:
    """Strings as matrix rows: row ``k`` is ``rows[k, :lengths[k]]``, zeros after it."""

    rows: Bytes  # n x width
    lengths: Ints

    def __len__(self) -> int:
        return len(self.lengths)

    def view(self) -> npt.NDArray[np.bytes_]:
        """The strings as a numpy bytes array (one item per row)."""
        rows = np.ascontiguousarray(self.rows)
        return rows.view(f"S{max(rows.shape[1], 1)}").reshape(len(rows))

    def strings(self) -> list[str]:
        """The strings as Python text."""
        if not self.rows.shape[1]:
            return [""] * len(self)
        return [b.decode() for b in self.view().tolist()]

    def flat(self) -> Bytes:
        """Every string, one after the other."""
        return self.rows[np.arange(self.rows.shape[1]) < self.lengths[:, None]]

    def take(self, chosen: npt.NDArray[np.intp] | npt.NDArray[np.int64] | slice) -> Texts:
        """The rows an index or slice picks."""
        return Texts(self.rows[chosen], self.lengths[chosen])

    @staticmethod
    def fixed(rows: Bytes) -> Texts:
        """Rows that are each a whole string."""
        return Texts(rows, np.full(len(rows), rows.shape[1], dtype=np.int64))

    @staticmethod
    def of(strings: list[bytes]) -> Texts:
        """Given byte strings as rows."""
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        width = int(lengths.max()) if len(strings) else 0
        packed = np.array(strings, dtype=f"S{max(width, 1)}")
        rows = packed.view(np.uint8).reshape(len(strings), max(width, 1))[:, :width]
        return Texts(rows, lengths)


def joined(parts: list[Texts | bytes], n: int) -> Texts:
    """Each of ``n`` rows' strings of ``parts`` (or a constant ``bytes``, the same on every
    row) one after the other: a row-wise concatenation.

    While every row so far has the same length, a part is copied in as a block of columns;
    only parts after one of varying length are scattered row by row.
    """
    lengths = np.zeros(n, dtype=np.int64)
    for part in parts:
        lengths += len(part) if isinstance(part, bytes) else part.lengths
    out = np.zeros((n, int(lengths.max()) if n else 0), dtype=np.uint8)
    at: int | Ints = 0  # where each row's next part goes: one column while rows keep in step
    for part in parts:
        if isinstance(part, bytes):
            rows, widths, width = np.frombuffer(part, dtype=np.uint8), None, len(part)
        else:
            rows, widths = part.rows, part.lengths
            width = int(widths.max()) if n else 0
        if not width or not n:
            continue
        if isinstance(at, int):
            out[:, at : at + width] = rows[..., :width]
            uniform = widths is None or int(widths.min()) == width
            at = at + width if uniform or widths is None else at + widths
            continue
        columns = at[:, None] + np.arange(width)
        if widths is None:
            out[np.arange(n)[:, None], columns] = rows
            at = at + width
            continue
        inside = np.arange(width) < widths[:, None]
        every = np.broadcast_to(np.arange(n)[:, None], columns.shape)
        out[every[inside], columns[inside]] = rows[:, :width][inside]
        at = at + widths
    return Texts(out, lengths)


_PAIRS = np.array([[ZERO + k // 10, ZERO + k % 10] for k in range(100)], dtype=np.uint8)
_TENS = 10 ** np.arange(1, MAX_DIGITS, dtype=np.int64)


def padded(values: Ints, width: int) -> Bytes:
    """Numbers that are not negative as ``width`` decimal digits, zero-padded (n x width):
    five digits at a time from a table, while they are below 10**10."""
    out = np.empty((len(values), width), dtype=np.uint8)
    if width == 10 and (not len(values) or int(values.max()) < 10**10):
        high = (values / 100_000).astype(np.int64)  # exact: the quotient is far from whole
        out[:, :5] = _five_digits()[high]
        out[:, 5:] = _five_digits()[values - high * 100_000]
        return out
    column = width
    while column >= 2:
        values, pair = np.divmod(values, 100)
        out[:, column - 2 : column] = _PAIRS[pair]
        column -= 2
    if column:
        out[:, 0] = _PAIRS[values % 10, 1]
    return out


@cache
def _five_digits() -> Bytes:
    """0 to 99999 as five digits each (500 kB), made once per process."""
    table = padded(np.arange(100_000, dtype=np.int64), 6)[:, 1:].copy()
    table.flags.writeable = False
    return table


def decimal(values: Ints) -> Texts:
    """Numbers that are not negative in decimal, as ``str`` writes them."""
    widths = 1 + _TENS.searchsorted(values, side="right")
    widest = int(widths.max()) if len(values) else 1
    if not len(values) or int(widths.min()) == widest:
        return Texts.fixed(padded(values, widest))
    out = np.zeros((len(values), widest), dtype=np.uint8)
    for width in np.unique(widths).tolist():
        rows = np.flatnonzero(widths == width)
        out[rows, :width] = padded(values[rows], width)
    return Texts(out, widths.astype(np.int64))


def base64url(texts: Texts) -> Texts:
    """Each row in URL-safe base64 without ``=`` padding, as ``matcher.urlsafe.encode``.

    Rows are padded with zero bytes to a whole number of 3-byte groups and encoded all at once
    by ``binascii`` (base64 encodes each group on its own): a row's first ``(4n + 2) // 3``
    characters are its encoding, and the rest (from the zero bytes) are cut.
    """
    n, width = texts.rows.shape
    groups = -(-width // 3) if n else 0
    rows = np.zeros((n, groups * 3), dtype=np.uint8)
    rows[:, :width] = texts.rows
    encoded = binascii.b2a_base64(rows.tobytes(), newline=False).translate(_URLSAFE)
    chars = np.frombuffer(encoded, dtype=np.uint8).reshape(n, groups * 4).copy()
    lengths = (texts.lengths * 4 + 2) // 3
    if n and int(lengths.min()) != groups * 4:
        chars[np.arange(groups * 4) >= lengths[:, None]] = 0
    return Texts(chars, lengths)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def iso_local(seconds: Ints, fraction: Ints, offsets: Ints) -> Texts:
    """``datetime.isoformat()`` of local times: seconds of the local wall clock since
    1970-01-01 (``fraction`` microseconds more) at UTC offsets in seconds, each as
    ``YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM[:SS]``.

    Made of three table rows each: the date, the time of day, the offset.
    """
    n = len(seconds)
    days, clock = np.divmod(seconds, DAY_SECONDS)
    minutes, seconds_over = np.divmod(offsets, 60)
    regular = not n or (
        not fraction.any()
        and not seconds_over.any()
        and int(minutes.min()) >= -TABLED_OFFSET_MINUTES
        and int(minutes.max()) <= TABLED_OFFSET_MINUTES
    )
    if not regular:
        return _iso_local_any(days, clock, fraction, offsets)
    out = np.empty((n, 25), dtype=np.uint8)
    out[:, :10] = _dates(days)
    out[:, 10:19] = _clocks()[clock]
    out[:, 19:] = _offsets()[minutes + TABLED_OFFSET_MINUTES]
    return Texts.fixed(out)


def _iso_local_any(days: Ints, clock: Ints, fraction: Ints, offsets: Ints) -> Texts:
    """``iso_local`` for any fraction of a second and any offset."""
    n = len(days)
    when = np.empty((n, 19), dtype=np.uint8)
    when[:, :10] = _dates(days)
    when[:, 10:] = _clocks()[clock]
    odd = fraction != 0
    micro = np.zeros((n, 7), dtype=np.uint8)
    micro[:, 0] = ord(".")
    micro[:, 1:] = padded(fraction, 6)
    micro[~odd] = 0
    sign = np.where(offsets < 0, ord("-"), ord("+")).astype(np.uint8)
    hours, rest = np.divmod(np.abs(offsets), 3600)
    zone = np.empty((n, 9), dtype=np.uint8)
    zone[:, 0] = sign
    zone[:, 1:3] = padded(hours, 2)
    zone[:, 4:6] = padded(rest // 60, 2)
    zone[:, 7:9] = padded(rest % 60, 2)
    zone[:, [3, 6]] = ord(":")
    whole = rest % 60 == 0
    zone[whole, 6:] = 0
    return joined(
        [Texts.fixed(when), Texts(micro, np.where(odd, 7, 0)), Texts(zone, np.where(whole, 6, 9))],
        n,
    )


@cache
def _clocks() -> Bytes:
    """``THH:MM:SS`` of every second of a day (778 kB), made once per process."""
    second = np.arange(DAY_SECONDS, dtype=np.int64)
    table = np.empty((DAY_SECONDS, 9), dtype=np.uint8)
    table[:, 0] = ord("T")
    table[:, 1:3] = padded(second // 3600, 2)
    table[:, 4:6] = padded(second // 60 % 60, 2)
    table[:, 7:9] = padded(second % 60, 2)
    table[:, [3, 6]] = ord(":")
    table.flags.writeable = False
    return table


@cache
def _offsets() -> Bytes:
    """``+HH:MM`` of every whole-minute offset from -26:00 to +26:00, made once per process."""
    minutes = np.arange(-TABLED_OFFSET_MINUTES, TABLED_OFFSET_MINUTES + 1, dtype=np.int64)
    table = np.empty((len(minutes), 6), dtype=np.uint8)
    table[:, 0] = np.where(minutes < 0, ord("-"), ord("+"))
    table[:, 1:3] = padded(np.abs(minutes) // 60, 2)
    table[:, 3] = ord(":")
    table[:, 4:6] = padded(np.abs(minutes) % 60, 2)
    table.flags.writeable = False
    return table


def _dates(days: Ints) -> Bytes:
    """Days since 1970-01-01 as ``YYYY-MM-DD`` (n x 10), from a table of the years in use."""
    table = _date_table()
    if not len(days) or (int(days.min()) >= 0 and int(days.max()) < TABLED_DAYS):
        return table[days]
    inside = (days >= 0) & (days < TABLED_DAYS)
    found = np.empty((len(days), 10), dtype=np.uint8)
    found[inside] = table[days[inside]]
    found[~inside] = _civil(days[~inside])
    return found


@cache
def _date_table() -> Bytes:
    """``YYYY-MM-DD`` of every day from 1970 to 2129 (584 kB), made once per process."""
    table = _civil(np.arange(TABLED_DAYS, dtype=np.int64))
    table.flags.writeable = False
    return table


def _civil(days: Ints) -> Bytes:
    """Days since 1970-01-01 (not before it) as ``YYYY-MM-DD``: Howard Hinnant's
    ``civil_from_days``, vectorised."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    found = np.empty((len(days), 10), dtype=np.uint8)
    found[:, 0:4] = padded(year, 4)
    found[:, 5:7] = padded(month, 2)
    found[:, 8:10] = padded(day, 2)
    found[:, [4, 7]] = ord("-")
    return found
