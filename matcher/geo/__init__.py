"""Geography shared by ingestion and matching: points, distances, coarsening and timezones."""
