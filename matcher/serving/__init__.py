"""Serving state: the catalogue serving now, hot reloads, and the journal of real-time updates."""
