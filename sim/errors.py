"""The one error that bad input raises.

Every file ce-drill reads (playbooks, worlds, timelines, scenarios, answer
files, experiments) reports a problem the same way, so a user can jump
straight to it:

    FILE:LINE: path.to.field: what is wrong (got VALUE)

It is always one line: a key, value or file name that holds a newline or
another control character is shown escaped, so tools that read the message
line by line see the whole of it.
"""

from __future__ import annotations

import unicodedata

# Control characters, lone surrogates, and the Unicode line and paragraph separators that some
# terminals and editors break lines on.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x00``, ``\\u2028``)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            code = ord(ch)
            out.append(_NAMED_ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(ch)
    return "".join(out)


class InputError(Exception):
    """Bad input, located in its file.  The CLI prints it on one line and exits 2."""

    def __init__(
        self, file: str, line: int | None, path: str, message: str, value: str | None = None
    ) -> None:
        super().__init__(file, line, path, message, value)
        self.file = file
        self.line = line
        self.path = path
        self.message = message
        self.value = value

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        got = "" if self.value is None else f" (got {self.value})"
        field = f"{self.path}: " if self.path else ""
        return one_line(f"{where}: {field}{self.message}{got}")
