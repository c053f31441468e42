"""IngestError, and file names made safe to print (a name that is not valid UTF-8 never crashes a message)."""

from __future__ import annotations

import os
from pathlib import Path


def display_name(path: Path | str) -> str:
    """``path`` as printable text: bytes that are not UTF-8 (kept by os.fsdecode as surrogates) become ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_valid_utf8_name(path: Path | str) -> bool:
    """False for a name holding bytes that are not UTF-8 (os.fsdecode keeps them as lone surrogates)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class IngestError(Exception):
    """A file that cannot be ingested, with a reason meant for the person who supplied it."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{display_name(path)}: {reason}")
        self.path = Path(path)
        self.reason = reason

    @property
    def name(self) -> str:
        """The file's name, safe to print."""
        return display_name(self.path)
