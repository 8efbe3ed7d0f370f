"""The matching engine: spatial indexes, slot expansion and rendering, ranking, the catalogue."""
