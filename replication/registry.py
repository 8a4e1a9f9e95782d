"""A name → factory registry whose entries are imported lazily.

Entries are ``"module:attribute"`` strings, so importing a registry does not
import (or make the code fingerprint of a job depend on) every entry behind it:
a training job depends on the one model module it builds, not on all of them.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any


class Registry(Mapping[str, Any]):
    """Immutable mapping from a name to a lazily imported object."""

    def __init__(self, kind: str, entries: Mapping[str, str]) -> None:
        self._kind = kind
        self._entries = dict(entries)

    def _target(self, name: str) -> tuple[str, str]:
        try:
            target = self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self._kind} {name!r}; known {self._kind}s: {known}") from None
        module_name, _, attribute = target.partition(":")
        return module_name, attribute

    def __getitem__(self, name: str) -> Any:
        module_name, attribute = self._target(name)
        return getattr(importlib.import_module(module_name), attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def module_of(self, name: str) -> str:
        """The dotted module that defines entry *name* (without importing it)."""
        return self._target(name)[0]
