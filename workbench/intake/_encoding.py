"""Which text encoding an export file is in: BOMs, strict UTF-8, then GB18030 if plausible."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from workbench.errors import InvalidFileError

HEAD_BYTES = 1 << 24  # 16 MiB decide UTF-8; Arrow checks the rest as it reads


def detect_encoding(path: Path, declared: str | None = None, *, whole: bool = True) -> str:
    """The text encoding of a file: BOM first, then strict UTF-8, then GB18030 (GBK).

    The whole file is checked in blocks (a bad byte late in a file is found), or with
    ``whole=False`` its first ``HEAD_BYTES``: a reader that validates UTF-8 itself (Arrow's
    CSV reader) then calls :func:`not_utf8` when it meets a bad byte later. A file that is
    neither, or whose GB18030 decoding looks like mojibake, is an error that says how to
    declare the encoding in the mapping.
    """
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise InvalidFileError(f"{path}: unknown encoding {declared!r} in the mapping") from exc
        return declared
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # UTF-32's little-endian mark begins with UTF-16's: test it first
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bad_at = _first_undecodable(path, "utf-8", None if whole else HEAD_BYTES)
    if bad_at is None:
        return "utf-8"
    if _first_undecodable(path, "gb18030") is None and _looks_chinese(path):
        return "gb18030"
    raise not_utf8(path, bad_at)


def not_utf8(path: Path, bad_at: int | None = None) -> InvalidFileError:
    """The error for a file read as UTF-8 that is not, naming the line of its first bad
    byte (found now when not given) and how to name the encoding."""
    if bad_at is None:
        bad_at = _first_undecodable(path, "utf-8") or 0
    line = _line_of_offset(path, bad_at)
    if _first_undecodable(path, "gb18030") is None and _looks_chinese(path):
        return InvalidFileError(
            f"{path}: line {line} is not valid UTF-8 (the lines before it are); the file reads "
            "as GB18030/GBK: name its encoding in the mapping (`encoding: gb18030`)"
        )
    return InvalidFileError(
        f"{path}: line {line} is not valid UTF-8, and the file does not read as GB18030/GBK "
        "either; re-export it as UTF-8, or name its encoding in the mapping "
        "(for example `encoding: big5`)"
    )


def _first_undecodable(path: Path, encoding: str, limit: int | None = None) -> int | None:
    """Offset of the first byte that does not decode (in the first ``limit`` bytes)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22 if limit is None else min(1 << 22, limit - offset)):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(block)
            if limit is not None and offset >= limit:
                return None  # a character cut at the limit is not an error
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _looks_chinese(path: Path) -> bool:
    """GB18030 decodes almost any bytes: accept it only when the text is plausible: common
    Chinese (GB2312), or characters that only GB18030's four-byte sequences carry and that
    real exports hold (format characters such as U+202E, punctuation, symbols and emoji).
    Mojibake decodes to rare two-byte ideographs instead."""
    with open(path, "rb") as fh:
        text = fh.read(1 << 20).decode("gb18030", errors="ignore")
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return True
    plausible = sum(1 for ch in wide if _in_gb2312(ch) or _four_byte_text(ch))
    return plausible / len(wide) >= 0.9


def _four_byte_text(ch: str) -> bool:
    if len(ch.encode("gb18030")) != 4:
        return False
    return unicodedata.category(ch)[0] in "CPSZ"  # format, punctuation, symbols, spaces


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _line_of_offset(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1
