"""The service's own metrics (catalogue, feed, reloads, updates), for Prometheus to scrape.

Per-RPC metrics (calls started, latency and status codes) come from gRPC core through its
OpenTelemetry plugin (matcher_api/observability.py); this module holds what only the service
knows. Every function here is cheap and safe to call with no metrics endpoint configured: the
values are kept in the process's default registry and simply never scraped.

The serving layer reports events (``feed_served``, ``load_finished``, ``update_applied``,
``store_position``); the gauges derived from time (feed age) are computed when scraped.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

#: Feed loads take from milliseconds (a tiny feed) to minutes (millions of suppliers).
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500)
#: Updates reach the catalogue within milliseconds on one process, seconds across replicas.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

CATALOG_SUPPLIERS = Gauge("matcher_catalog_suppliers", "Suppliers in the catalogue serving now")
FEED_GENERATION = Gauge(
    "matcher_feed_generation",
    "Generation of the feed serving now: 1 for the feed loaded at start, +1 per reload swapped in",
)
FEED_GENERATED = Gauge(
    "matcher_feed_generated_timestamp_seconds",
    "When the feed serving now was generated (its header's generated_at), Unix time",
)
FEED_LOADED = Gauge(
    "matcher_feed_loaded_timestamp_seconds", "When the feed serving now was swapped in, Unix time"
)
FEED_AGE = Gauge(
    "matcher_feed_age_seconds", "Seconds since the feed serving now was generated (its header)"
)
LOADS = Counter(
    "matcher_feed_loads_total",
    "Feed loads (start-up and reloads) by outcome: loaded, or refused (the old feed kept serving)",
    ["outcome"],
)
LOAD_SECONDS = Histogram(
    "matcher_feed_load_duration_seconds",
    "Time to read, check and index a feed, by outcome",
    ["outcome"],
    buckets=LOAD_BUCKETS,
)
UPDATES = Counter("matcher_updates_applied_total", "Real-time availability updates now served")
UPDATE_LAG = Histogram(
    "matcher_update_lag_seconds",
    "From an update's acceptance to this process serving it",
    buckets=LAG_BUCKETS,
)
SEQUENCE_APPLIED = Gauge(
    "matcher_update_sequence_applied", "Sequence number of the last update this process applied"
)
SEQUENCE_BEHIND = Gauge(
    "matcher_update_sequence_behind",
    "Updates accepted by the shared store that this process has not applied yet",
)

GEOIP_BUILT = Gauge(
    "matcher_geoip_built_timestamp_seconds",
    "When the GeoIP database serving now was built (its metadata), Unix time; 0 without one",
)
GEOIP_AGE = Gauge(
    "matcher_geoip_age_seconds",
    "Seconds since the GeoIP database serving now was built; 0 without one",
)
GEOIP_LOADS = Counter(
    "matcher_geoip_loads_total",
    "GeoIP database opens (start-up and reloads) by outcome: loaded, or refused (the old one"
    " kept serving)",
    ["outcome"],
)
GEOIP_LOOKUPS = Counter(
    "matcher_geoip_lookups_total",
    "Public IP addresses looked up in the GeoIP database, by what it gave: city, country or none",
    ["found"],
)

for _outcome in ("loaded", "refused"):  # both series exist from the start, at zero
    LOADS.labels(outcome=_outcome)
    LOAD_SECONDS.labels(outcome=_outcome)
    GEOIP_LOADS.labels(outcome=_outcome)
#: One child per answer, bound once: a lookup is a few microseconds, a labels() call one more.
_GEOIP_FOUND = {found: GEOIP_LOOKUPS.labels(found=found) for found in ("city", "country", "none")}
_lock = threading.Lock()
_generated_at = 0.0  # Unix time of the serving feed's header, for the age computed when scraped
FEED_AGE.set_function(lambda: time.time() - _generated_at if _generated_at else 0.0)
_geoip_built = 0.0  # Unix time the serving GeoIP database was built, for its age when scraped
GEOIP_AGE.set_function(lambda: time.time() - _geoip_built if _geoip_built else 0.0)


def feed_served(*, suppliers: int, generated_at: datetime, generation: int | None = None) -> None:
    """A feed was swapped in and serves now; without ``generation``, the next one is counted."""
    global _generated_at
    with _lock:
        _generated_at = generated_at.timestamp()
        FEED_GENERATED.set(_generated_at)
        FEED_LOADED.set_to_current_time()
        CATALOG_SUPPLIERS.set(suppliers)
        if generation is None:
            FEED_GENERATION.inc()
        else:
            FEED_GENERATION.set(generation)


def load_finished(*, refused: bool, seconds: float) -> None:
    """A feed load ended: swapped in, or refused while the previous feed kept serving."""
    outcome = "refused" if refused else "loaded"
    LOADS.labels(outcome=outcome).inc()
    LOAD_SECONDS.labels(outcome=outcome).observe(seconds)


def update_applied(*, accepted_at: datetime, now: datetime) -> None:
    """An update accepted at ``accepted_at`` is served by this process from ``now`` on."""
    UPDATES.inc()
    UPDATE_LAG.observe(max(0.0, (now - accepted_at).total_seconds()))


def store_position(*, applied: int, latest: int) -> None:
    """Where this process stands in the shared store's log of updates (issue #15)."""
    SEQUENCE_APPLIED.set(applied)
    SEQUENCE_BEHIND.set(max(0, latest - applied))


def geoip_loaded(*, built: datetime | None) -> None:
    """A GeoIP database opened and serves now (``built`` its build time); None: it was refused."""
    global _geoip_built
    if built is None:
        GEOIP_LOADS.labels(outcome="refused").inc()
        return
    with _lock:
        _geoip_built = built.timestamp()
        GEOIP_BUILT.set(_geoip_built)
    GEOIP_LOADS.labels(outcome="loaded").inc()


def geoip_looked_up(*, found: str) -> None:
    """A public address was looked up: the database gave a "city", a "country" or "none"."""
    _GEOIP_FOUND[found].inc()
