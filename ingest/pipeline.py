"""Files → Documents: read, clean, structure. One bad file never stops the others."""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.clean import clean_text
from ingest.documents import Document
from ingest.errors import display_name, is_valid_utf8_name
from ingest.readers import IngestError, iter_corpus_files, outside_link, read_document_file
from ingest.structure import build_document

# What ingest makes of a file changes with its code (readers, cleaning, structure), not only with the file:
# an index records the version that read its documents, and one read by another version is read again.
# 2: PDF layout reader and pages, weak file properties, compatibility characters folded.
INGEST_VERSION = 2

log = logging.getLogger(__name__)


def ingest_file(path: Path, doc_id: str, max_bytes: int | None = None) -> Document:
    """One file → Document, or IngestError with a reason. ``max_bytes``: default ``max_file_bytes()``."""
    raw = read_document_file(path, doc_id, max_bytes=max_bytes)
    title, source = raw.metadata.get("title", ""), raw.metadata.get("source", "")
    # A reader that built the paragraphs from the layout (PDF) has decided where they end.
    cleaned = clean_text(raw.text, title=title, source=source, hard_wrapped=False if raw.paragraphs_known else None)
    if not cleaned.text.strip():
        raise IngestError(path, "no text left after removing page boilerplate and markup")
    return build_document(raw, cleaned)


def check_corpus_path(path: Path, directory: Path) -> str:
    """Why the file at ``path`` must be refused before it is opened (a link out of the corpus, a name that
    is not UTF-8, which could not be stored or printed), or ""."""
    reason = outside_link(path, directory)
    if reason:
        return reason
    if not is_valid_utf8_name(path.relative_to(directory)):
        return "file name is not valid UTF-8 (an old GBK/Big5 name?): rename it, e.g. convmv -f gbk -t utf-8 --notest"
    return ""


def load_corpus(directory: Path, max_bytes: int | None = None) -> tuple[list[Document], list[IngestError]]:
    """Every file under ``directory`` → (documents, problems). doc_id = path relative to the folder.

    Unsupported file types are reported as problems too, so a user sees why a file is missing. Any failure
    while reading one file becomes that file's problem; the others are read all the same.
    """
    directory = Path(directory)
    documents: list[Document] = []
    problems: list[IngestError] = []
    for path in iter_corpus_files(directory, include_unsupported=True):
        read = read_corpus_file(path, directory, max_bytes)
        (documents if isinstance(read, Document) else problems).append(read)
    return documents, problems


def read_corpus_file(path: Path, directory: Path, max_bytes: int | None = None) -> Document | IngestError:
    """One file of the corpus ``directory`` → its Document, or the IngestError saying why it was refused (any
    failure while reading it: it is this file's problem, never the corpus's). doc_id = path relative to the
    folder. ``load_corpus`` reads each file with it, and so does a Ray build (index/ray_build.py)."""
    doc_id = path.relative_to(directory).as_posix()
    try:
        reason = check_corpus_path(path, directory)
        if reason:
            raise IngestError(path, reason)
        return ingest_file(path, doc_id, max_bytes=max_bytes)
    except IngestError as error:
        return error
    except MemoryError:
        return IngestError(path, "could not be read: it needs more memory than there is")
    except Exception as error:  # last resort: a reader library failing on a malformed file
        log.debug("reading %s failed", display_name(path), exc_info=True)  # the traceback, for debugging only
        return IngestError(path, f"could not be read ({type(error).__name__}: {error})")
