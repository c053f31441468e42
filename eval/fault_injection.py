"""The faults the store checks inject: damaged index files and builds that kill themselves at named points.

Used by ``eval.reliability_store`` (and its tests); the kill hook is installed only in the build subprocesses
that module starts, never by CiteLens itself.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

KILL_POINTS = [
    "lock-taken",  # the writer lock held, nothing read yet
    "ingested",  # the corpus read
    "embedded",  # the changed documents embedded
    "segment-written",  # a new segment's files written to its .partial folder, not renamed
    "segment-saved",  # the segment renamed into place, no version names it yet
    "version-written",  # the new version's files written to its .partial folder
    "pointer-written",  # the new CURRENT written beside the old one, not switched
    "switched",  # CURRENT switched to the new version, nothing pruned yet
    "pruning",  # one old version or segment removed, the others not yet
]
# (kind, path relative to the index folder; "*" is the live version or the one segment)
FILE_KINDS = [
    ("faiss vectors", "v*/vectors.faiss"),
    ("vector labels", "v*/vector_labels.npy"),
    ("manifest", "v*/manifest.json"),
    ("translation", "v*/translation.json"),
    ("CURRENT pointer", "CURRENT"),
    ("sentence vectors", "segments/*/sentence_vectors.npy"),
    ("sentence offsets", "segments/*/sentence_offsets.npy"),
    ("chunks", "segments/*/chunks.jsonl"),
    ("chunk offsets", "segments/*/chunks_offsets.npy"),
    ("documents", "segments/*/documents.jsonl"),
    ("keyword postings", "segments/*/keyword/data.csc.index.npy"),
    ("keyword vocabulary", "segments/*/keyword/vocab.index.json"),
    ("segment.json", "segments/*/segment.json"),
]
MODES = ["truncate", "flip", "delete"]


def damage(path: Path, mode: str) -> None:
    """Truncate to half, flip 8 bytes in the middle, or delete a file."""
    if mode == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if mode == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    middle = len(data) // 2
    for i in range(middle, min(middle + 8, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def file_of(index_dir: Path, pattern: str) -> Path:
    return sorted(p for p in Path(index_dir).glob(pattern) if not p.parent.name.endswith(".partial"))[-1]


def install_kill_point(point: str, pause: float = 0.0) -> None:
    """Patch the build so that this process SIGKILLs itself at ``point`` (see KILL_POINTS), or with
    ``pause`` sleeps there that many seconds and goes on (a writer that surely holds the lock a while)."""
    import time

    import index.build as build
    import index.segments as segments
    import index.versions as versions

    def die() -> None:
        if pause:
            time.sleep(pause)
            return
        os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner, name: str, before: bool = False, when=lambda *a, **k: True) -> None:
        real = getattr(owner, name)

        def hooked(*args, **kwargs):
            if before and when(*args, **kwargs):
                die()
            out = real(*args, **kwargs)
            if not before and when(*args, **kwargs):
                die()
            return out

        setattr(owner, name, hooked)

    def to_current(src, dst, *a, **k) -> bool:
        return Path(dst).name == "CURRENT"

    if point == "lock-taken":
        wrap(build, "_build", before=True)
    elif point == "ingested":
        wrap(build, "load_corpus")
    elif point == "embedded":
        wrap(build, "embed_parts")
    elif point == "segment-written":
        wrap(segments, "fsync_tree")
    elif point == "segment-saved":
        wrap(segments.Segment, "save")
    elif point == "version-written":
        wrap(versions, "fsync_tree")
    elif point in ("pointer-written", "switched"):
        wrap(os, "replace", before=point == "pointer-written", when=to_current)
    elif point == "pruning":
        real_prune = versions.prune

        def prune(*args, **kwargs):
            wrap(shutil, "rmtree")  # armed only now: the first removal of the prune is the last thing done
            return real_prune(*args, **kwargs)

        versions.prune = prune
    else:
        raise ValueError(f"unknown kill point {point!r}")
