"""Geography for ingestion and matching: points, distances, coarsening, timezones, GeoIP."""
