"""Named libraries (knowledge bases): each a folder of the user's documents and the index built from them.

A user library lives in the user data folder (``settings.data_dir``, passed in explicitly)::

    <data>/libraries/<name>/library.json   name, created, description, source
    <data>/libraries/<name>/corpus/        the user's files (uploads, or a copy of a folder)
    <data>/libraries/<name>/index/         the index built from them

The built-in library ``sample`` is the repository's bundled corpus (``data/corpus``) with its index in
``data/index`` (a gitignored build product, the default ``--index`` of every command). It is read-only:
nothing is ever added to or removed from the bundled corpus; create a library for your own files.

Nothing here reads flags or the environment; the CLI and the app decide where the data folder is.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index import settings

SAMPLE = "sample"
LIBRARIES = "libraries"
INFO = "library.json"
STATE = "state.json"  # what the app remembers: the last library chosen
MAX_NAME_CHARS = 64
# Letters of any script (Chinese names are welcome), digits, and - _ . and spaces inside; a safe folder name
# on every platform (no / \ : * ? " < > |, no leading dot, no trailing dot or space).
NAME = re.compile(r"^[^\W_][\w\-. ]*$")
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
READ_ONLY_HINT = "create a library to add your own files (Library page, or: python -m index library create NAME)"


class LibraryError(ValueError):
    """A library operation that cannot be done; the message is meant for the person who asked."""


class UnknownLibrary(LibraryError):
    pass


class ReadOnlyLibrary(LibraryError):
    pass


@dataclass(frozen=True)
class Library:
    name: str
    corpus: Path  # the documents
    index: Path  # the index built from them
    read_only: bool = False
    created: str = ""
    description: str = ""
    source: str = ""  # the folder it was first filled from, if any
    root: Path | None = None  # <data>/libraries/<name>; None for the sample

    @property
    def built(self) -> bool:
        """Whether its index exists (an empty library has none yet)."""
        return (self.index / "CURRENT").exists()

    def manifest(self) -> dict:
        """The index's manifest, or {} while there is no index."""
        if not self.built:
            return {}
        from index.passage_index import read_manifest

        return read_manifest(self.index)

    def files(self) -> list[str]:
        """The document files in its corpus folder (relative paths, as documents are named in the index)."""
        from ingest.readers import iter_corpus_files

        if not self.corpus.is_dir():
            return []
        return [path.relative_to(self.corpus).as_posix() for path in iter_corpus_files(self.corpus)]

    def require_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyLibrary(f"The {self.name} library is read-only: {READ_ONLY_HINT}.")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "read_only": self.read_only,
            "created": self.created,
            "description": self.description,
            "source": self.source,
            "corpus": str(self.corpus),
            "index": str(self.index),
            "built": self.built,
        }


# ---------------------------------------------------------------- names and places


def validate_name(name: str) -> str:
    """The library name as stored (NFKC, surrounding spaces removed), or LibraryError saying what is wrong."""
    clean = unicodedata.normalize("NFKC", str(name)).strip()
    if not clean:
        raise LibraryError("A library needs a name.")
    if len(clean) > MAX_NAME_CHARS:
        raise LibraryError(f"The name {clean[:20]!r}… is too long: at most {MAX_NAME_CHARS} characters.")
    if not NAME.match(clean) or clean.endswith((".", " ")):
        raise LibraryError(
            f"The name {clean!r} cannot be used: use letters (any language), digits, spaces and - _ . "
            "(starting with a letter or digit)."
        )
    if clean.split(".")[0].strip().lower() in WINDOWS_RESERVED:
        raise LibraryError(f"The name {clean!r} is reserved on Windows; choose another.")
    return clean


def quoted(name: str) -> str:
    """The name as typed in a shell command (quoted when it has spaces)."""
    return shlex.quote(name)


def libraries_dir(data: Path) -> Path:
    return Path(data) / LIBRARIES


def sample_library() -> Library:
    """The bundled corpus, read-only; its index is the build product data/index (``settings.sample_index``)."""
    return Library(
        SAMPLE,
        settings.BUNDLED_CORPUS,
        settings.sample_index(),
        read_only=True,
        description="The bundled sample documents (read-only)",
        source=str(settings.BUNDLED_CORPUS),
    )


def is_protected(folder: Path) -> bool:
    """A folder of the repository's own data (the bundled corpus, the evaluation corpora): never written."""
    try:
        return Path(folder).resolve().is_relative_to((settings.PROJECT_ROOT / "data").resolve())
    except OSError:
        return False


def _read_info(root: Path) -> Library | None:
    try:
        info = json.loads((root / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    return Library(
        root.name,
        root / "corpus",
        root / "index",
        created=str(info.get("created") or ""),
        description=str(info.get("description") or ""),
        source=str(info.get("source") or ""),
        root=root,
    )


def _write_json(path: Path, value: dict) -> None:
    """Whole or not at all: a temporary file beside it, then a rename."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out, ensure_ascii=False, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- listing and finding


def list_libraries(data: Path) -> list[Library]:
    """The sample first, then the user's libraries by name."""
    found = []
    folder = libraries_dir(data)
    if folder.is_dir():
        for root in sorted(folder.iterdir(), key=lambda path: path.name.casefold()):
            if root.is_dir() and not root.name.startswith("."):
                library = _read_info(root)
                if library is not None:
                    found.append(library)
    return [sample_library(), *found]


def library(data: Path, name: str) -> Library:
    """The library called ``name``, or UnknownLibrary naming the ones there are."""
    wanted = unicodedata.normalize("NFKC", str(name)).strip()
    if wanted == SAMPLE:
        return sample_library()
    if wanted and "/" not in wanted and "\\" not in wanted and not wanted.startswith("."):
        found = _read_info(libraries_dir(data) / wanted)
        if found is not None:
            return found
    names = ", ".join(lib.name for lib in list_libraries(data))
    raise UnknownLibrary(
        f"No library named {wanted!r} in {libraries_dir(data)}. Libraries: {names}. "
        f"Create one with: python -m index library create {shlex.quote(wanted) if wanted else 'NAME'}"
    )


# ---------------------------------------------------------------- creating and deleting


def create_library(data: Path, name: str, description: str = "", source: Path | None = None) -> Library:
    """A new, empty library; with ``source``, its corpus starts as a copy of that folder's documents.
    (Its index is built by ``build_library``; a library with no documents has none.)"""
    name = validate_name(name)
    if name.casefold() == SAMPLE:
        raise LibraryError(f"{SAMPLE!r} is the built-in sample library; choose another name.")
    folder = libraries_dir(data)
    taken = {lib.name.casefold(): lib.name for lib in list_libraries(data)}
    if name.casefold() in taken:
        raise LibraryError(f"A library named {taken[name.casefold()]!r} already exists.")
    files = _documents_in(Path(source)) if source is not None else []
    folder.mkdir(parents=True, exist_ok=True)
    # Made complete in a hidden folder, then renamed into place: a library is listed whole or not at all.
    scratch = Path(tempfile.mkdtemp(prefix=f".new-{len(name)}-", dir=folder))
    try:
        (scratch / "corpus").mkdir()
        for relative, path in files:
            target = scratch / "corpus" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        info = {
            "name": name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "description": description.strip(),
            "source": str(Path(source).resolve()) if source is not None else "",
        }
        _write_json(scratch / INFO, info)
        root = folder / name
        try:
            root.mkdir()  # claims the name (fails if it appeared meanwhile), then the finished folder takes it
        except FileExistsError:
            raise LibraryError(f"A library named {name!r} already exists.") from None
        os.replace(scratch, root)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    created = _read_info(root)
    assert created is not None
    return created


def _documents_in(source: Path) -> list[tuple[str, Path]]:
    """(relative path, file) for each document file under ``source`` that ingest would read."""
    from ingest.readers import SUPPORTED_SUFFIXES, iter_corpus_files, outside_link

    if not source.is_dir():
        raise LibraryError(f"{source} is not a folder.")
    # a link leading out of the folder is not copied: copying would read what ingest refuses to follow
    files = [
        (path.relative_to(source).as_posix(), path)
        for path in iter_corpus_files(source)
        if not outside_link(path, source)
    ]
    if not files:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LibraryError(f"{source} holds no documents ({kinds}).")
    return files


def delete_library(data: Path, name: str) -> Library:
    """Remove a user library: its files and its index. The sample cannot be deleted."""
    found = library(data, name)
    found.require_writable()
    root = found.root
    if root is None or root.parent.resolve() != libraries_dir(data).resolve() or not (root / INFO).is_file():
        raise LibraryError(f"{name!r} is not a library folder of {libraries_dir(data)}.")
    # Renamed out of the way first, so a half-deleted folder is never listed as a library.
    doomed = root.parent / f".deleting-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
    from index.writer_lock import IndexBusy, writer_lock

    try:
        with writer_lock(found.index, "library delete", timeout=0):  # never under a running build
            os.replace(root, doomed)
    except IndexBusy as busy:
        raise LibraryError(str(busy)) from None
    shutil.rmtree(doomed, ignore_errors=True)
    if remembered(data) == found.name:
        forget(data)
    return found


def build_library(
    lib: Library,
    encoder,
    build_settings=None,
    progress: bool | Callable[[int, int], None] = True,
    log: Callable[[str], None] | None = None,
    vector_store: str | None = None,
):
    """Build or update the library's index from its corpus folder (incremental: only changed files are
    embedded). The sample's index is a build product of the bundled corpus and may be built too."""
    from index.build import BuildSettings, build_index

    kwargs = {} if log is None else {"log": log}
    return build_index(
        lib.corpus, lib.index, encoder, build_settings or BuildSettings(), progress, vector_store=vector_store, **kwargs
    )


# ---------------------------------------------------------------- the app's remembered choice


def remembered(data: Path) -> str | None:
    """The library the app showed last (None if never chosen, or unreadable)."""
    try:
        value = json.loads((Path(data) / STATE).read_text(encoding="utf-8")).get("library")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def remember(data: Path, name: str) -> None:
    """Remember the app's library choice for its next start (best effort: a read-only data folder is fine)."""
    try:
        Path(data).mkdir(parents=True, exist_ok=True)
        _write_json(Path(data) / STATE, {"library": name})
    except OSError:
        pass


def forget(data: Path) -> None:
    (Path(data) / STATE).unlink(missing_ok=True)
