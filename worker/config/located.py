"""Config data as read from one file, with the line and column where each value starts.

Both readers produce this shape (the CSV reader as if its rows were written in pairings.yaml),
so a problem found later, by pydantic or by the cross-pairing checks, is located the same way
whatever the file format: its `loc` is walked back to the nearest value the file really has.

Both readers also get their text the same way, from `read_text`, which is where any bytes at all
become either text or located problems: a file larger than `MAX_FILE_BYTES` is refused before it
is parsed (config files are a few kilobytes; a megabyte of pairings would take seconds to check);
UTF-8 is read with or without a byte order mark, and UTF-16 or UTF-32 only with one (the YAML
spec's rule, and what a spreadsheet's "Unicode text" export writes), since without a mark
their bytes could be anything; NUL and other control characters are refused at their line and
column, as YAML refuses them and as no name, address or date contains them.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from worker.config.problems import ConfigProblem

# A location inside the config data (as in pydantic's `loc`): keys and list indexes.
Loc = tuple[str | int, ...]

Position = tuple[int, int]  # 1-based line, column

# Room for a program of 10,000 pairings and more (about 100 bytes and ten values each).
MAX_FILE_BYTES = 4 * 1024 * 1024
# Values in one file, keys included and each use of a YAML alias counted as the values it
# repeats: what bounds an alias bomb, which is refused as soon as it passes this count.
MAX_VALUES = 400_000

# The characters YAML 1.1 allows in a stream (PyYAML's reader uses the same set), applied to
# CSV too: tab and line breaks, printable ASCII, NEL, and the rest of Unicode minus the C1
# controls, surrogates and the two non-characters U+FFFE, U+FFFF.
NOT_ALLOWED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_SAVE_AS = "save the file as UTF-8 (a spreadsheet's \"CSV UTF-8\" export) and try again"
# Longest mark first: UTF-32-LE's mark begins with UTF-16-LE's.
_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


class Source:
    """Parsed data of one file plus where each value (and each mapping key) starts."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.data: Any = None
        self.values: dict[Loc, Position] = {}
        self.keys: dict[Loc, Position] = {}

    def problem(self, loc: Loc, message: str, hint: str | None = None, *,
                at_key: bool = False) -> ConfigProblem:
        line, column = self.position(loc, at_key=at_key)
        return ConfigProblem(self.file, line, column, message, hint)

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int | None, int | None]:
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return None, None


def position_in(text: str, index: int) -> Position:
    """Line and column (1-based, in characters) of `text[index]`, counting line breaks as YAML
    does."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


def character_at(text: str, line: int, column: int) -> str | None:
    """The character at a 1-based line and column, None past the end."""
    lines = _LINE_BREAK.split(text, maxsplit=line)
    if line > len(lines) or column > len(lines[line - 1]):
        return None
    return lines[line - 1][column - 1]


def character_name(char: str) -> str:
    """`U+0007`, for messages: the character itself may not print, or may move the cursor."""
    return f"U+{ord(char):04X}"


def read_text(path: Path, problems: list[ConfigProblem]) -> str | None:
    """The file's text without its byte order mark, or None with the reason in `problems`."""
    file = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        problems.append(ConfigProblem(file, None, None, f"cannot read file: {exc}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        problems.append(ConfigProblem(
            file, None, None, f"file is larger than {MAX_FILE_BYTES // 1024:,} KiB",
            "a config file holds a few kilobytes per hundred pairings; is this the right file?"))
        return None
    encoding, name, body = "utf-8", "UTF-8", raw
    for mark, codec, label in _MARKS:
        if raw.startswith(mark):
            encoding, name, body = codec, label, raw[len(mark):]
            break
    else:
        if _looks_like_utf16(raw):
            problems.append(ConfigProblem(
                file, None, None, "file looks like UTF-16 text without a byte order mark",
                _SAVE_AS))
            return None
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        problems.append(_undecodable(file, body, encoding, name, exc))
        return None
    bad = NOT_ALLOWED.search(text)
    if bad is not None:
        problems.append(_not_allowed(file, text, bad))
        return None
    return text


def _looks_like_utf16(raw: bytes) -> bool:
    """Every other byte zero, and only every other: mostly-ASCII text as UTF-16 (the zeros
    would otherwise read as NUL characters, and the file as binary)."""
    half = len(raw) // 2
    zeros = sorted((raw[0::2].count(0), raw[1::2].count(0)))
    return half >= 2 and zeros[1] > 0.4 * half and zeros[0] < 0.05 * half


def _undecodable(file: str, body: bytes, encoding: str, name: str,
                 exc: UnicodeDecodeError) -> ConfigProblem:
    prefix = body[:exc.start].decode(encoding, "replace")
    line, column = position_in(prefix, len(prefix))
    shown = body[exc.start:exc.end].hex(" ")
    return ConfigProblem(file, line, column, f"not {name} text: bytes {shown} cannot be read",
                         _SAVE_AS)


def _not_allowed(file: str, text: str, bad: re.Match[str]) -> ConfigProblem:
    line, column = position_in(text, bad.start())
    others = len(NOT_ALLOWED.findall(text)) - 1
    more = f" (and {others} more control characters)" if others else ""
    if bad.group() == "\0":
        return ConfigProblem(file, line, column, f"NUL character{more}",
                             "this looks like a binary file, not text; " + _SAVE_AS)
    return ConfigProblem(file, line, column,
                         f"control character {character_name(bad.group())} is not allowed{more}",
                         "remove it; config files hold plain text only")
