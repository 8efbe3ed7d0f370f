"""An R-tree over lng/lat boxes, bulk-loaded once and safe to query from many threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from rtree import index

from matcher.geo.geometry import Box

IntArray = npt.NDArray[np.int64]


class SpatialIndex:
    """Boxes numbered 0..n-1; queries answer those numbers.

    libspatialindex shares a memory pool between queries, so concurrent reads of one
    index crash the process (Toblerity/rtree #53): every query holds this index's lock.
    """

    def __init__(self, boxes: npt.NDArray[np.float64]) -> None:
        """Bulk-loads n x 4 ``boxes`` (min_lng, min_lat, max_lng, max_lat) from arrays."""
        self._size = len(boxes)
        self._lock = threading.Lock()
        self._tree: index.Index | None = None
        if self._size:
            ids = np.arange(self._size, dtype=np.int64)
            corners = np.ascontiguousarray(boxes, dtype=np.float64)
            self._tree = index.Index((ids, corners[:, :2].copy(), corners[:, 2:].copy()))

    def __len__(self) -> int:
        return self._size

    def intersecting(self, boxes: Sequence[Box]) -> IntArray:
        """Sorted, distinct numbers of the boxes meeting any of the query boxes."""
        if self._tree is None or not boxes:
            return np.empty(0, dtype=np.int64)
        query = np.asarray(boxes, dtype=np.float64)
        with self._lock:
            ids, _ = self._tree.intersection_v(query[:, :2], query[:, 2:])  # type: ignore[no-untyped-call]
        return np.unique(np.asarray(ids, dtype=np.int64))
