"""An index folder's versions: the manifest each states, the CURRENT pointer to the live one, and pruning.

On disk an index folder holds ``segments/`` (segment folders, written once), version folders (manifest,
vector store, vector labels, translation tables) and a ``CURRENT`` file naming the live version. A save
writes the new segments and a complete new version, then swaps ``CURRENT`` with an atomic rename, so a
build killed at any point leaves the previous index usable; versions and segments the live version does
not use are removed after the swap.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from index import integrity
from index.integrity import CURRENT, SEGMENTS, IndexDamaged, reading
from index.live_view import LiveRows, LiveSentences
from index.segments import DocumentPart, Segment, fsync_tree, write_json
from index.stores import VectorStore

if TYPE_CHECKING:
    from index.passage_index import RowVectors

# 4: segments (index/segments.py) with deletions in the manifest; vector labels by live row.
FORMAT_VERSION = 4
T = TypeVar("T")


class IndexNotFound(RuntimeError):
    pass


class IndexMismatch(RuntimeError):
    """The index was built with another model than the one asked for."""


def check_model(built: dict, model) -> None:
    """IndexMismatch unless ``model`` (a ModelInfo) is the one the manifest's ``model`` entry records."""
    if (built["name"], built["dimension"]) != (model.name, model.dimension):
        raise IndexMismatch(
            f"This index was built with model '{built['name']}' (dimension {built['dimension']}), "
            f"but the model in use is '{model.name}' (dimension {model.dimension}). "
            f"Search with --model '{built['name']}', or rebuild: python -m index build --model '{model.name}'."
        )


def pointer(directory: Path) -> str:
    try:
        return (directory / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def without_segments(manifest: dict, labels: np.ndarray, drop: set[str], store: VectorStore):
    """The manifest and vector labels without these segments and their documents (removed from the store);
    each segment's live rows are its documents' chunks in the manifest, segment after segment."""
    live = {entry["name"]: 0 for entry in manifest["segments"]}
    for entry in manifest["documents"].values():
        live[entry["segment"]] += entry["chunks"]
    if sum(live.values()) != len(labels):
        raise ValueError(f"{len(labels)} vector labels for {sum(live.values())} chunks in the manifest")
    kept, gone, first = [], [], 0
    for entry in manifest["segments"]:
        rows = labels[first : first + live[entry["name"]]]
        (gone if entry["name"] in drop else kept).append(rows)
        first += live[entry["name"]]
    if gone:
        store.remove(np.concatenate(gone))
    documents = {doc_id: e for doc_id, e in manifest["documents"].items() if e["segment"] not in drop}
    segments = [entry for entry in manifest["segments"] if entry["name"] not in drop]
    out = {**manifest, "documents": documents, "segments": segments}
    return out, np.concatenate(kept) if kept else np.zeros(0, np.int64)


def document_entry(part: DocumentPart, segment: str) -> dict:
    document = part.document
    return {
        "title": document.title,
        "content_hash": document.content_hash,
        "date": document.date,
        "paragraphs": len(document.paragraphs),
        "chunks": len(part.chunks),
        "segment": segment,
    }


def stamped(manifest: dict, segments: list[Segment], deleted: list[frozenset[str]], vectors: RowVectors) -> dict:
    """The manifest with what every version states afresh: format, time, segments, counts, store."""
    live = LiveRows(segments, deleted)
    return {
        **manifest,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "vector_index": vectors.store.describe(),
        "keyword_index": "bm25s over jieba search-mode tokens, one index a segment",
        "segments": [
            {"name": segment.name, "chunks": len(segment), "deleted": sorted(gone)}
            for segment, gone in zip(segments, deleted, strict=True)
        ],
        "counts": {
            "documents": len(manifest["documents"]),
            "chunks": len(live),
            "sentences": len(LiveSentences(live)),
            "segments": len(segments),
            "deleted_chunks": live.rows - len(live),
        },
    }


def live_version(directory: Path) -> Path:
    directory = Path(directory)
    pointer = directory / CURRENT
    if not pointer.exists():
        if any(directory.glob("v*/manifest.json")):  # versions but no pointer: the pointer was lost
            raise IndexDamaged(pointer, "missing")
        raise IndexNotFound(
            f"No index at {directory}. Build one with: python -m index build --corpus DIR --index {directory}"
        )
    with reading(pointer):
        name = pointer.read_text(encoding="utf-8").strip()
    if not name.startswith("v") or "/" in name or "\\" in name:
        raise IndexDamaged(pointer, "it does not name a version")
    version_dir = directory / name
    if not version_dir.is_dir():
        raise IndexDamaged(pointer, f"it names {name}, which is missing")
    if not (version_dir / "manifest.json").exists():
        raise IndexDamaged(version_dir / "manifest.json", "missing")
    return version_dir


def prune(directory: Path, keep: str, segments: set[str]) -> None:
    """Remove older versions, segments the live version does not use, and leftovers of killed builds
    (never the live ones). A process still searching an older version keeps its open files."""
    for path in directory.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("v") or path.name.endswith(".partial")):
            shutil.rmtree(path, ignore_errors=True)
    for path in (directory / SEGMENTS).iterdir() if (directory / SEGMENTS).is_dir() else ():
        if path.is_dir() and path.name not in segments:
            shutil.rmtree(path, ignore_errors=True)


def new_version(directory: Path) -> Path:
    """The staging folder of a new version (``publish`` makes it the live one)."""
    version = f"v{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    staging = directory / f".{version}.partial"
    staging.mkdir()
    return staging


def publish(staging: Path, manifest: dict, segments: set[str]) -> Path:
    """The staged version made live: its manifest written last (with the sizes and checksums of the
    version's files, and its own), the folder renamed into place, then CURRENT swapped to it with an atomic
    rename; older versions and the segments it does not use (``segments``: those it does) are pruned."""
    directory, version = staging.parent, staging.name[1 : -len(".partial")]
    # A hard-linked vector file keeps the digest this process computed for it (the build verified it).
    manifest["files"] = integrity.describe_files(staging, cached=True)
    manifest["checksum"] = integrity.manifest_checksum(manifest)
    write_json(staging / "manifest.json", manifest)
    fsync_tree(staging)
    staging.rename(directory / version)
    pointer = directory / f".{CURRENT}.{version}"
    pointer.write_text(version + "\n", encoding="utf-8")
    os.replace(pointer, directory / CURRENT)
    prune(directory, keep=version, segments=segments)
    return directory / version


def read_live(directory: Path, read: Callable[[Path], T]) -> T:
    """``read`` of the live version folder; when a build switched versions and removed it while it was
    read, ``read`` of the new one."""
    for attempt in range(2):
        version_dir = live_version(directory)
        try:
            return read(version_dir)
        except (IndexDamaged, IndexNotFound):
            if attempt or pointer(directory) == version_dir.name:
                raise
    raise AssertionError("unreachable")


def checked_version(
    directory: Path, version_dir: Path, drop: Collection[str], full_check_bytes: int
) -> tuple[dict, list[dict]]:
    """A version's manifest, and its segment entries but those in ``drop``, once its format is the one this
    CiteLens reads and its files (and theirs) have the sizes it records (and checksums, when the index holds
    at most ``full_check_bytes``)."""
    manifest_path = version_dir / "manifest.json"
    with reading(manifest_path):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"{directory} has index format {manifest.get('format_version')}, this CiteLens reads "
            f"{FORMAT_VERSION}; rebuild it with: python -m index build --index {directory}"
        )
    integrity.check_manifest(manifest, manifest_path)
    with reading(manifest_path, "unexpected content"):
        entries = [entry for entry in manifest["segments"] if entry["name"] not in drop]
        full = integrity.recorded_bytes(manifest) <= full_check_bytes
    integrity.check_files(version_dir, manifest.get("files"), full)
    for entry in entries:
        integrity.check_files(directory / SEGMENTS / entry["name"], entry.get("files"), full)
    return manifest, entries
