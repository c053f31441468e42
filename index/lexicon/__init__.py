"""Word lists the searcher reads from data files beside this module, so that no knowledge of a particular
collection sits in code. Each file's header says what it is, where it comes from and how to extend it.

A missing or empty file turns its feature off (an empty list or table); the searcher works without any.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
_folder = [FOLDER]  # where the lists are read from: this package, unless ``read_from`` says otherwise


def path(name: str) -> Path:
    """The file of a list, in the folder lists are read from now."""
    return _folder[-1] / name


def _lines(name: str) -> list[str]:
    path = _folder[-1] / name
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        lines.append(line.rstrip("\n"))
    return lines


@functools.cache
def words(name: str) -> frozenset[str]:
    """Every whitespace-separated word of the file, lower-cased."""
    return frozenset(word.lower() for line in _lines(name) for word in line.split())


@functools.cache
def table(name: str) -> tuple[tuple[str, ...], ...]:
    """Tab-separated rows, in file order (order can matter: longer entries first)."""
    return tuple(tuple(cell.strip() for cell in line.split("\t")) for line in _lines(name))


@contextmanager
def read_from(folder: Path) -> Iterator[None]:
    """Read the lists from ``folder`` while inside. Modules keep what they read at import (the stop words, the
    capitals): a folder lacking lists turns their features off for what is imported inside."""
    _folder.append(Path(folder))
    words.cache_clear()
    table.cache_clear()
    try:
        yield
    finally:
        _folder.pop()
        words.cache_clear()
        table.cache_clear()
