"""Unpickle numpy arrays without running arbitrary code.

A pickle names the functions and classes it calls; this unpickler resolves only those that
rebuild numpy arrays (``_reconstruct``, ``ndarray``, ``dtype``, ``_frombuffer`` for
protocol-5 pickles, and ``_codecs.encode``, which Python 3 uses for bytes in protocols 0-2)
and refuses every other global, so a tampered file cannot run code.
Arrays of Python objects are refused too.
"""
from __future__ import annotations

import codecs
import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np


def _numpy_attribute(names: tuple[str, ...], attribute: str) -> Any:
    for name in names:
        try:
            return getattr(importlib.import_module(name), attribute)
        except (ImportError, AttributeError):
            continue
    return None


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_attribute(("numpy._core.multiarray", "numpy.core.multiarray"),
                                   "_reconstruct")
    frombuffer = _numpy_attribute(("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer")
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for package in ("numpy.core", "numpy._core"):
        if reconstruct is not None:
            allowed[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        if frombuffer is not None:
            allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, nothing else."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: this file may only hold numpy arrays "
                "(and lists, tuples or dicts of them); it is not the expected dataset file"
            ) from None


def _check_no_objects(value: Any) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise pickle.UnpicklingError("refusing an array of Python objects")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_no_objects(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_no_objects(item)


def load_arrays(path: Path, *, encoding: str = "latin1") -> Any:
    """Unpickle the file at *path* allowing only numpy arrays (and containers of them).

    ``encoding="latin1"`` reads Python 2 pickles of numpy arrays, whose raw bytes were stored
    as ``str``.
    """
    value = ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding=encoding).load()
    _check_no_objects(value)
    return value
