"""Checked index files: every file of a version and of each segment has its size and checksum recorded in
the version's manifest (which carries a checksum of its own content), so damage is found and named.

Loading checks sizes (a ``stat`` per file; full checksums too while the index is small); ``python -m index
verify`` and every build check full checksums (BLAKE2b, read in 1 MiB blocks). Anything that reads index
files turns low-level errors (OSError, JSON, numpy, FAISS, EOF…) into ``IndexDamaged``: one message naming
the file and the command that repairs it. A build over a damaged index rebuilds what is damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shlex
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 1 << 20
# Below this many recorded bytes a load checks full checksums too (~30 ms), not sizes only: a small index
# then never answers from flipped bytes.
FULL_CHECK_AT_LOAD_BYTES = 32 << 20
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
SEGMENTS = "segments"

Files = dict[str, list]  # relative path -> [size, blake2b hex digest]


class IndexDamaged(RuntimeError):
    """An index file is missing, truncated, altered or unreadable; the message says how to repair it."""

    def __init__(self, path: Path | str, reason: str, index_dir: Path | None = None):
        self.path = Path(path)
        self.reason = reason
        self.index_dir = Path(index_dir) if index_dir else find_index_dir(self.path)
        super().__init__(
            f"index file {self.path} is damaged ({reason}); repair it with: {repair_command(self.index_dir)}"
        )


def find_index_dir(path: Path) -> Path:
    """The index folder a file belongs to (the nearest folder holding CURRENT or segments/)."""
    for folder in [path, *path.parents]:
        if (folder / CURRENT).is_file() or (folder / SEGMENTS).is_dir():
            return folder
    return path.parent


def recorded_corpus(index_dir: Path) -> str | None:
    """The corpus folder the newest readable manifest names (None if none can be read)."""
    manifests = sorted(Path(index_dir).glob(f"v*/{MANIFEST}"), key=lambda p: p.parent.name, reverse=True)
    for manifest in manifests:
        try:
            corpus = json.loads(manifest.read_text(encoding="utf-8")).get("corpus")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(corpus, str) and corpus:
            return corpus
    return None


def repair_command(index_dir: Path) -> str:
    corpus = recorded_corpus(index_dir)
    where = shlex.quote(corpus) if corpus else "DIR"
    return f"python -m index build --corpus {where} --index {shlex.quote(str(index_dir))}"


@contextlib.contextmanager
def reading(path: Path | str, what: str = "unreadable") -> Iterator[None]:
    """Low-level errors while reading ``path`` become IndexDamaged naming it."""
    from index.versions import IndexMismatch, IndexNotFound

    try:
        yield
    except (IndexDamaged, IndexNotFound, IndexMismatch):
        raise
    except FileNotFoundError:
        raise IndexDamaged(path, "missing") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, EOFError, RuntimeError, MemoryError,
            pickle.UnpicklingError, zipfile.BadZipFile, SyntaxError) as error:  # fmt: skip
        raise IndexDamaged(path, f"{what}: {type(error).__name__}: {str(error)[:200]}") from None


# ---- checksums -------------------------------------------------------------------------------------

_digests: dict[tuple[int, int, int, int], str] = {}  # (dev, inode, size, mtime) -> digest, this process
_digests_guard = threading.Lock()


def file_digest(path: Path, cached: bool = False) -> str:
    """BLAKE2b of a file, streamed. ``cached``: reuse a digest this process computed for the same inode,
    size and mtime (a save re-recording a hard-linked vector file); never for a verification."""
    stat = os.stat(path)
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if cached:
        with _digests_guard:
            if key in _digests:
                return _digests[key]
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    value = digest.hexdigest()
    with _digests_guard:
        _digests[key] = value
    return value


def describe_files(directory: Path, skip: tuple[str, ...] = (), cached: bool = False) -> Files:
    """Every file under ``directory`` (but ``skip``): relative path -> [size, digest]."""
    directory = Path(directory)
    out: Files = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and relative not in skip:
            out[relative] = [path.stat().st_size, file_digest(path, cached)]
    return out


def manifest_checksum(manifest: dict) -> str:
    """Checksum of a manifest's content (its own "checksum" field left out), as JSON reads it back."""
    content = json.loads(json.dumps({k: v for k, v in manifest.items() if k != "checksum"}, ensure_ascii=False))
    text = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def check_manifest(manifest: dict, path: Path) -> None:
    recorded = manifest.get("checksum")
    if recorded is not None and recorded != manifest_checksum(manifest):
        raise IndexDamaged(path, "its content does not match its checksum")


def size_problems(directory: Path, files: Files) -> list[tuple[Path, str]]:
    problems = []
    for relative, (size, _) in files.items():
        path = Path(directory) / relative
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            problems.append((path, "missing"))
            continue
        if actual != size:
            problems.append((path, f"{actual} bytes where {size} were written: truncated or altered"))
    return problems


def digest_problems(directory: Path, files: Files) -> list[tuple[Path, str]]:
    problems = size_problems(directory, files)
    bad = {path for path, _ in problems}
    for relative, (_, digest) in files.items():
        path = Path(directory) / relative
        if path not in bad and file_digest(path) != digest:
            problems.append((path, "its checksum differs from the one recorded: altered"))
    return problems


def check_files(directory: Path, files: Files | None, full: bool) -> None:
    """Raise IndexDamaged for the first file that is missing, of the wrong size, or (``full``) altered."""
    if files is None:  # an index saved before checksums were recorded
        return
    problems = digest_problems(directory, files) if full else size_problems(directory, files)
    if problems:
        raise IndexDamaged(*problems[0])


def recorded_bytes(manifest: dict) -> int:
    sizes = [size for size, _ in (manifest.get("files") or {}).values()]
    sizes += [size for entry in manifest.get("segments", []) for size, _ in (entry.get("files") or {}).values()]
    return sum(sizes)


# ---- verification ----------------------------------------------------------------------------------


@dataclass
class Verification:
    version: str = ""
    recorded: bool = True  # checksums recorded (False: an index saved before they were)
    files: int = 0  # files whose checksums were checked
    problems: list[tuple[Path, str]] = field(default_factory=list)
    version_damaged: bool = False  # the version's own files (manifest, vectors, labels, translation)
    damaged_segments: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_index(index_dir: Path) -> Verification:
    """Full checksums of the live version and its segments (raises IndexNotFound if there is no index)."""
    from index.versions import live_version

    index_dir = Path(index_dir)
    result = Verification()
    try:
        version_dir = live_version(index_dir)
    except IndexDamaged as damaged:
        result.problems.append((damaged.path, damaged.reason))
        result.version_damaged = True
        return result
    result.version = version_dir.name
    manifest_path = version_dir / MANIFEST
    try:
        with reading(manifest_path):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("segments"), list):
                raise ValueError("not an index manifest")
        check_manifest(manifest, manifest_path)
    except IndexDamaged as damaged:
        result.problems.append((damaged.path, damaged.reason))
        result.version_damaged = True
        return result
    result.recorded = "files" in manifest
    if not result.recorded:
        return result
    problems = digest_problems(version_dir, manifest["files"])
    result.version_damaged = bool(problems)
    result.files += 1 + len(manifest["files"])
    for entry in manifest["segments"]:
        segment_dir = index_dir / SEGMENTS / entry["name"]
        found = digest_problems(segment_dir, entry.get("files") or {})
        if entry.get("files") is None:
            found.append((segment_dir, "no checksums recorded for this segment"))
        if found:
            result.damaged_segments.add(entry["name"])
        problems += found
        result.files += len(entry.get("files") or {})
    result.problems = problems
    return result
