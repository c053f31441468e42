"""``python -m index search --batch FILE``: reading a JSONL file of questions in any encoding.

The file is decoded as a whole (BOM, UTF-16 with or without BOM, UTF-8, GBK/GB18030, Big5… through
ingest.encodings); a UTF-8 file with a few undecodable lines keeps its other lines. A file that cannot be
read at all (missing, a folder, binary) is one ``BatchFileError``; a bad line (not JSON, no question, a lone
surrogate) is an error for that line only, and the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.integrity import IndexDamaged
from ingest.encodings import decode_text
from ingest.errors import IngestError, display_name

MAX_BATCH_BYTES = 256 * 2**20  # a question file is small; a bigger one is almost surely the wrong file


class BatchFileError(ValueError):
    """A batch file that cannot be read at all; the message is for the person who gave it."""


@dataclass
class BatchLine:
    number: int  # 1-based line number in the file
    record: dict | None  # the question's JSON object, when the line is good
    error: str = ""  # why the line cannot be asked ("" when it can)

    @property
    def id(self):
        return self.record.get("id") if isinstance(self.record, dict) else None


def _is_text(value: str) -> bool:
    """False for a string holding a lone surrogate (undecodable bytes, or a JSON "\\ud800" escape)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_batch(data: bytes, path: Path) -> str:
    """The file's text. A UTF-8 file with some bad lines stays UTF-8 (bad bytes kept as surrogates, so those
    lines are reported); otherwise the whole file's encoding is detected."""
    if b"\x00" in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16/32: NULs are valid UTF-8
        return _detected(data, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = [line for line in data.splitlines() if not line.isascii()]
    good = 0
    for line in lines:
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            pass
    if good * 2 > len(lines):
        return data.decode("utf-8", "surrogateescape")
    return _detected(data, path)


def _detected(data: bytes, path: Path) -> str:
    try:
        return decode_text(data, path)[0].lstrip("\ufeff")
    except IngestError as error:
        raise BatchFileError(f"batch file {display_name(path)} cannot be read: {error.reason}") from error


def parse_line(number: int, line: str) -> BatchLine:
    """One line → a question record, or the reason it is not one."""
    if not _is_text(line):
        return BatchLine(number, None, f"line {number}: not valid text (bytes that are not UTF-8)")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return BatchLine(number, None, f"line {number}: not JSON ({error.msg})")
    if not isinstance(record, dict):
        return BatchLine(number, None, f"line {number}: not a JSON object with a question")
    if not _is_text(json.dumps(record, ensure_ascii=False)):
        safe = {key: value for key, value in record.items() if key == "id" and _is_text(json.dumps(value))}
        return BatchLine(number, safe, f"line {number}: holds a lone surrogate (\\ud800…), not valid text")
    if "question" not in record:
        return BatchLine(number, record, f"line {number}: missing field 'question'")
    if not isinstance(record["question"], str):
        return BatchLine(number, record, f"line {number}: the question is not text")
    return BatchLine(number, record)


def read_batch(path: Path) -> list[BatchLine]:
    """Every non-blank line of a batch file, parsed; BatchFileError when the file cannot be read at all."""
    path = Path(path)
    name = display_name(path)
    if not path.exists():
        raise BatchFileError(f"batch file {name} does not exist")
    if path.is_dir():
        raise BatchFileError(f"batch file {name} is a folder; give a JSONL file of questions")
    try:
        if path.stat().st_size > MAX_BATCH_BYTES:
            raise BatchFileError(f"batch file {name} is over {MAX_BATCH_BYTES // 2**20} MB; split it")
        data = path.read_bytes()
    except OSError as error:
        raise BatchFileError(f"batch file {name} cannot be read ({error.strerror or error})") from error
    text = decode_batch(data, path)
    return [parse_line(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def run_batch(lines: list[BatchLine], answer: Callable[[str], dict]) -> Iterator[dict]:
    """One output object per line: ``{"id", **answer(question)}``, or ``{"id", "hits": [], "error", "line"}``."""
    for line in lines:
        error = line.error
        if not error:
            try:
                yield {"id": line.id, **answer(line.record["question"])}
                continue
            except IndexDamaged:  # the index's fault, not this line's: one message for the run
                raise
            except Exception as failure:  # a bad question (BadQuestion) or anything else: this line only
                error = f"line {line.number}: {failure}"
        yield {"id": line.id, "hits": [], "error": error, "line": line.number}
