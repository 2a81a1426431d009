"""The one error that bad input raises.

Every file ce-drill reads (playbooks, worlds, timelines, answer files) reports
a problem the same way, so a user can jump straight to it:

    FILE:LINE: path.to.field: what is wrong (got VALUE)
"""

from __future__ import annotations


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
        return f"{where}: {field}{self.message}{got}"
