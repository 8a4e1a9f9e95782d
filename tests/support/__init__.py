"""Test-only helpers (imported as ``tests.support.*``; the repository root is on pytest's path)."""
