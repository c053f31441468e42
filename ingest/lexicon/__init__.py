"""Word lists that ingest uses, kept as data files beside this module instead of in the code.

Each ``NAME.txt`` holds one entry per line; lines starting with ``#`` are comments, and each file's header
says what it lists, where the entries come from and how to extend it. A missing file is an empty list:
the feature that uses it is off and ingest still works (``tests/test_ingest_lexicon.py``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

LEXICON_DIR = Path(__file__).parent


@cache
def words(name: str) -> tuple[str, ...]:
    """The entries of ``lexicon/NAME.txt`` in file order, duplicates dropped; () if the file is missing."""
    try:
        text = (LEXICON_DIR / f"{name}.txt").read_text(encoding="utf-8")
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
