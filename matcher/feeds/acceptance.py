"""A feed as read, and the policy that accepts it or refuses it whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from matcher.errors import FeedError, FeedRejected
from matcher.model import Supplier


@dataclass(frozen=True)
class Feed:
    """A loaded feed: its suppliers, when the supplier side generated it, and what it rejected."""

    suppliers: tuple[Supplier, ...]
    generated_at: datetime
    path: str
    format_version: int = 1
    records: int = 0  # every line after a header, accepted or not (a CSV row counts once)
    rejected: tuple[FeedError, ...] = ()  # problems with records left out, in line order

    @property
    def rejected_records(self) -> int:
        """How many records (lines of any shard) had at least one problem."""
        return len({(e.path, e.line) for e in self.rejected})

    @property
    def rejected_share(self) -> float:
        """The share of records left out, from 0 to 1."""
        return self.rejected_records / self.records if self.records else 0.0


def accepted(feed: Feed, *, max_rejected_share: float) -> Feed:
    """The feed itself, or FeedRejected if it left out more than the share allowed."""
    if feed.rejected_share > max_rejected_share:
        raise FeedRejected(
            feed.path,
            list(feed.rejected),
            summary=f"feed {feed.path} refused: {feed.rejected_records} of {feed.records}"
            f" records rejected ({feed.rejected_share:.2%},"
            f" more than the {max_rejected_share:.2%} allowed)",
        )
    return feed
