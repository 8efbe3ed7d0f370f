"""Synthetic feeds of any size around real cities, cached on disk, and users at real cities."""

from __future__ import annotations

import math
import random
from pathlib import Path

from timezonefinder import TimezoneFinder

from devtools.sample_feed import iter_records, write_feed
from devtools.sample_feed.places import jitter, load_cities
from matcher.model import Point

SEED = 11


def feed(size: int, *, cache: Path, seed: int = SEED) -> Path:
    """A deterministic feed of ``size`` suppliers, generated once into ``cache``."""
    path = cache / f"suppliers-{size}-seed{seed}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        write_feed(partial, iter_records(size, seed, required=()))
        partial.rename(path)
    return path


def user_points(count: int, *, seed: int = SEED) -> list[Point]:
    """Users near real cities, drawn as suppliers are (weighted by the root of population)."""
    rng = random.Random(seed + 1)
    cities = load_cities(TimezoneFinder(in_memory=True))
    weights = [math.sqrt(population) for _, population in cities]
    drawn = rng.choices([place for place, _ in cities], weights=weights, k=count)
    return [Point(*jitter(rng, place)) for place in drawn]
