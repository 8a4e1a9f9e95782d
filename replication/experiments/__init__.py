"""Experiments: each turns one resolved run specification into result files."""
