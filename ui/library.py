"""Adding documents to a library's corpus folder and removing them, each followed by an incremental build.

An upload is checked completely before anything is written: the name is sanitised, the type and size
checked, and the file ingested from a temporary copy (``ingest.pipeline.ingest_file``), so a rejected file
changes nothing. Accepted files are written without overwriting anything, then the index is updated with
``build_index(..., incremental=True)`` using the settings the index was built with; if that build fails,
the written files are removed again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from index.build import BuildReport, BuildSettings, build_index
from index.libraries import READ_ONLY_HINT, is_protected
from ingest.documents import Document
from ingest.pipeline import ingest_file
from ingest.readers import DEFAULT_MAX_BYTES, SUPPORTED_SUFFIXES, IngestError

MAX_UPLOAD_BYTES = DEFAULT_MAX_BYTES
MB = 2**20
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
MAX_NAME_CHARS = 80
UNSAFE = re.compile(r"[^\w\u3400-\u9fff.\-]+", re.UNICODE)
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}

Progress = Callable[[int, int], None]
Log = Callable[[str], None]


class Rejected(Exception):
    """An upload or removal that was refused; ``reason`` is meant for the person who asked."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass
class Accepted:
    original: str  # the name the file was uploaded with
    name: str  # the name it is stored under in the corpus folder (its doc_id)
    data: bytes
    document: Document  # what ingesting it gave (title, paragraphs) — checked before writing


@dataclass
class LibraryChange:
    added: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    report: BuildReport | None = None


# ---------------------------------------------------------------- where, and how the index was built


def corpus_dir(manifest: dict) -> Path | None:
    """The corpus folder the index was built from, if it is recorded and still there."""
    folder = manifest.get("corpus")
    return Path(folder) if folder and Path(folder).is_dir() else None


def build_settings(manifest: dict) -> BuildSettings:
    """The settings the index was built with, so an incremental build reuses every unchanged document."""
    recorded = manifest.get("build") or {}
    names = {f.name for f in fields(BuildSettings)}
    return BuildSettings(**{key: value for key, value in recorded.items() if key in names})


def writable_reason(folder: Path | None, change: str = "added") -> str:
    """Why documents cannot be added to (or removed from) ``folder``, or "" when they can. The repository's
    own data (the bundled sample corpus) is never written: user files belong in a library."""
    if folder is None:
        return f"this index records no corpus folder, so documents cannot be {change}"
    if is_protected(folder):
        return f"the folder {folder} is the repository's read-only sample data; {READ_ONLY_HINT}"
    return ""


# ---------------------------------------------------------------- names


def sanitise_filename(name: str) -> str:
    """A safe file name for the corpus folder: no folders, no hidden files, only letters (any script),
    digits, ``.``, ``-`` and ``_``, at most MAX_NAME_CHARS, with a lower-case suffix."""
    base = unicodedata.normalize("NFKC", str(name)).replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # control and format characters
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = UNSAFE.sub("_", stem).strip("._-") or "document"
    suffix = UNSAFE.sub("", suffix).lower()
    if stem.lower() in WINDOWS_RESERVED:
        stem = f"{stem}_"
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1]
    return f"{stem}.{suffix}" if suffix else stem


def free_name(folder: Path, name: str, taken: Sequence[str] = ()) -> str:
    """``name``, or ``stem-2.suffix``, ``stem-3.suffix``… so an upload never replaces an existing file."""
    path = Path(name)
    candidate, number = name, 1
    while (folder / candidate).exists() or candidate in taken:
        number += 1
        candidate = f"{path.stem}-{number}{path.suffix}"
    return candidate


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- checks


def check_upload(
    original: str,
    data: bytes,
    folder: Path,
    manifest: dict,
    batch: Sequence[Accepted] = (),
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Accepted:
    """Everything about one upload, before anything is written; raises Rejected with a reason.
    ``batch``: files accepted earlier in the same upload (their names and contents count as taken)."""
    name = sanitise_filename(original)
    suffix = Path(name).suffix
    if suffix not in UPLOAD_SUFFIXES or suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(UPLOAD_SUFFIXES)
        raise Rejected(original, f"unsupported file type {suffix or '(no extension)'!r}; upload one of {kinds}")
    if not data:
        raise Rejected(original, "the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise Rejected(
            original, f"the file is too large ({len(data) / MB:.1f} MB; the limit is {max_bytes / MB:.0f} MB)"
        )
    digest = content_hash(data)
    for doc_id, entry in (manifest.get("documents") or {}).items():
        if entry.get("content_hash") == digest:
            raise Rejected(original, f"the same file is already in the library as {doc_id}")
    for other in batch:
        if content_hash(other.data) == digest:
            raise Rejected(original, f"the same file is already in this upload as {other.original}")
    name = free_name(folder, name, [other.name for other in batch])
    with tempfile.TemporaryDirectory(prefix="citelens-upload-") as scratch:
        copy = Path(scratch) / name
        copy.write_bytes(data)
        try:
            document = ingest_file(copy, name, max_bytes=max_bytes)
        except IngestError as error:
            raise Rejected(original, error.reason) from None
        except Exception as error:  # last resort: a reader library failing on a malformed file
            raise Rejected(original, f"could not be read ({type(error).__name__}: {error})") from None
    return Accepted(original, name, data, document)


def write_new(folder: Path, name: str, data: bytes) -> Path:
    """Write a new file atomically (hidden temporary, then a link that fails rather than overwrite)."""
    target = folder / name
    fd, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, target)  # FileExistsError instead of replacing a file that appeared meanwhile
    finally:
        os.unlink(temporary)
    return target


# ---------------------------------------------------------------- changes


def add_files(
    uploads: Sequence[tuple[str, bytes]],
    index_dir: Path,
    manifest: dict,
    encoder,
    progress: Progress | bool = False,
    log: Log = lambda message: None,
    corpus: Path | None = None,
) -> LibraryChange:
    """Check every upload, write the accepted ones into the corpus folder, and update the index.
    ``corpus``: the folder to write into (a library's; ``manifest`` is {} before its first document);
    default: the corpus folder the index records."""
    folder = corpus or corpus_dir(manifest)
    change = LibraryChange()
    reason = writable_reason(folder)
    if reason:
        change.rejected = [Rejected(name, reason) for name, _ in uploads]
        return change
    for original, data in uploads:
        try:
            change.added.append(check_upload(original, data, folder, manifest, change.added))
        except Rejected as rejected:
            change.rejected.append(rejected)
    if not change.added:
        return change
    written: list[Path] = []
    try:
        for accepted in change.added:
            written.append(write_new(folder, accepted.name, accepted.data))
        change.report = build_index(folder, index_dir, encoder, build_settings(manifest), progress=progress, log=log)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return change


def remove_document(
    doc_id: str,
    index_dir: Path,
    manifest: dict,
    encoder,
    progress: Progress | bool = False,
    log: Log = lambda message: None,
    corpus: Path | None = None,
) -> LibraryChange:
    """Delete one document's file from the corpus folder (``corpus``, default the one the index records)
    and update the index."""
    folder = corpus or corpus_dir(manifest)
    documents = manifest.get("documents") or {}
    reason = writable_reason(folder, "removed")
    if reason:
        raise Rejected(doc_id, reason)
    if doc_id not in documents:
        raise Rejected(doc_id, "no such document in the index")
    if len(documents) <= 1:
        raise Rejected(doc_id, "it is the only document; an index needs at least one")
    path = (folder / doc_id).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise Rejected(doc_id, f"its file is not in the corpus folder {folder}")
    data = path.read_bytes()
    path.unlink()
    try:
        report = build_index(folder, index_dir, encoder, build_settings(manifest), progress=progress, log=log)
    except BaseException:
        path.write_bytes(data)  # put it back: the index still lists it
        raise
    return LibraryChange(removed=[doc_id], report=report)
