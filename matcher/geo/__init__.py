"""Geography: points and the grid, timezones, and places from IP addresses."""
