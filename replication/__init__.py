"""Replication suite for Neural ODEs (Chen et al. 2018) and FFJORD (Grathwohl et al. 2019)."""

__version__ = "0.1.0"
