"""Unpadded URL-safe base64: how slot ids and page tokens carry bytes in a URL or a JSON string."""

from __future__ import annotations

import base64


def encode(data: bytes) -> str:
    """Bytes as URL-safe base64 without the trailing ``=`` padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode(text: str) -> bytes:
    """What ``encode`` wrote; raises binascii.Error or ValueError for anything else."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
