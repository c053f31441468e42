"""Files → Documents: read, clean, structure. One bad file never stops the others."""

from __future__ import annotations

from pathlib import Path

from ingest.clean import clean_text
from ingest.documents import Document
from ingest.readers import DEFAULT_MAX_BYTES, IngestError, iter_corpus_files, read_document_file
from ingest.structure import build_document

# What ingest makes of a file changes with its code (readers, cleaning, structure), not only with the file:
# an index records the version that read its documents, and one read by another version is read again.
# 2: PDF layout reader and pages, weak file properties, compatibility characters folded.
INGEST_VERSION = 2


def ingest_file(path: Path, doc_id: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """One file → Document, or IngestError with a reason."""
    raw = read_document_file(path, doc_id, max_bytes=max_bytes)
    title, source = raw.metadata.get("title", ""), raw.metadata.get("source", "")
    # A reader that built the paragraphs from the layout (PDF) has decided where they end.
    cleaned = clean_text(raw.text, title=title, source=source, hard_wrapped=False if raw.paragraphs_known else None)
    if not cleaned.strip():
        raise IngestError(path, "no text left after removing page boilerplate and markup")
    return build_document(raw, cleaned)


def load_corpus(directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Document], list[IngestError]]:
    """Every file under ``directory`` → (documents, problems). doc_id = path relative to the folder.

    Unsupported file types are reported as problems too, so a user sees why a file is missing.
    """
    directory = Path(directory)
    documents: list[Document] = []
    problems: list[IngestError] = []
    for path in iter_corpus_files(directory, include_unsupported=True):
        doc_id = path.relative_to(directory).as_posix()
        try:
            documents.append(ingest_file(path, doc_id, max_bytes=max_bytes))
        except IngestError as error:
            problems.append(error)
        except (RecursionError, MemoryError, UnicodeError, ValueError) as error:
            # A reader library failing on a malformed file must not take the whole corpus down.
            problems.append(IngestError(path, f"could not be processed ({type(error).__name__}: {error})"))
    return documents, problems
