"""Ingestion: supplier feeds read, checked record by record, and accepted or refused whole."""

from matcher.feeds.acceptance import Feed, accepted
from matcher.feeds.reader import load_feed, read_feed

__all__ = ["Feed", "accepted", "load_feed", "read_feed"]
