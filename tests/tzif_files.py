"""Hand-made TZif files, for zones with changes no real zone has."""

from __future__ import annotations

import struct


def tzif(footer: str, *, times: tuple[int, ...] = (), types: tuple[int, ...] = (0,)) -> bytes:
    """A minimal version 2 TZif file: standard-time types, transitions to types 1, 2, ..."""

    def block(size: int) -> bytes:
        counts = struct.pack(">6l", 0, 0, 0, len(times), len(types), 4)
        body = b"".join(struct.pack(">q" if size == 8 else ">l", t) for t in times)
        body += bytes(range(1, len(times) + 1))
        body += b"".join(struct.pack(">lBB", offset, 0, 0) for offset in types)
        return b"TZif2" + bytes(15) + counts + body + b"ABC\0"

    return block(4) + block(8) + b"\n" + footer.encode() + b"\n"
