"""Measurements attached to every run: peak memory, timing and provenance."""
