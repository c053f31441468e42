"""Word lists that ingest uses, kept as data files beside this module instead of in the code.

Each ``NAME.txt`` holds one entry per line; lines starting with ``#`` are comments, and each file's header
says what it lists, where the entries come from and how to extend it. A missing file is an empty list:
the feature that uses it is off and ingest still works (``tests/test_ingest_lexicon.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LEXICON_DIR = Path(__file__).parent
_folder = [LEXICON_DIR]  # where the lists are read from: this package, unless ``read_from`` says otherwise


@cache
def words(name: str) -> tuple[str, ...]:
    """The entries of ``lexicon/NAME.txt`` in file order, duplicates dropped; () if the file is missing."""
    try:
        text = (_folder[-1] / f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    entries = (line.strip() for line in text.splitlines())
    return tuple(dict.fromkeys(entry for entry in entries if entry and not entry.startswith("#")))


@cache
def word_set(name: str) -> frozenset[str]:
    return frozenset(words(name))


def clear_cache() -> None:
    """Forget loaded lists (after a file is edited in a running process, or in tests)."""
    words.cache_clear()
    word_set.cache_clear()


@contextmanager
def read_from(folder: Path) -> Iterator[None]:
    """Read the lists from ``folder`` while inside (a folder lacking some lists turns their features off)."""
    _folder.append(Path(folder))
    clear_cache()
    try:
        yield
    finally:
        _folder.pop()
        clear_cache()
