"""Read a YAML file into a validated model, or fail with one located line.

Parsing happens once, at the boundary.  Whatever goes wrong — YAML syntax, an
empty file, a wrong type, an unknown or missing key, a bad duration, a rule
naming a severity that does not exist — comes out as an :class:`InputError`
that names the file, the line, the field path and the offending value.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.errors import InputError
from sim.playbook import Playbook

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str, object]
"""A semantic problem: where (path into the document), what is wrong, and the value."""


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path`` with line information, or an InputError."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(name, None, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(name, None, "", f"cannot read file: {exc}") from None
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InputError(name, line, "", f"YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise InputError(name, None, "", f"YAML syntax error: {exc}") from None
    if data is None:
        raise InputError(name, 1, "", "file is empty")
    return data


def validate(
    path: Path,
    model: type[M],
    data: Any,
    checks: Callable[[M], Iterable[Problem]] | None = None,
) -> M:
    """Validate a parsed document into ``model``; the first problem becomes an InputError."""
    name = str(path)
    if not isinstance(data, dict):
        raise InputError(name, 1, "", "expected a mapping at the top level", _show(data))
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        raise _first(name, data, exc.errors()) from None
    if checks is not None:
        for loc, message, value in checks(result):
            shown = None if value is None else _show(value)
            raise InputError(name, line_of(data, loc), format_loc(loc), message, shown)
    return result


def load_model(path: Path, model: type[M], checks: Callable[[M], Iterable[Problem]] | None = None) -> M:
    return validate(path, model, read_yaml(path), checks)


def load_playbook(path: str | Path) -> Playbook:
    """Load and fully check a playbook file."""
    from sim.playbook_checks import playbook_problems

    return load_model(Path(path), Playbook, playbook_problems)


def _first(name: str, data: Any, errors: list[ErrorDetails]) -> InputError:
    """The most useful error: a misspelt key explains the "missing" one that comes with it."""
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc: Loc = tuple(error["loc"])
            missing = [
                str(e["loc"][-1])
                for e in errors
                if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]
            ]
            close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
            hint = f", did you mean '{close[0]}'?" if close else ""
            return InputError(name, line_of(data, loc), format_loc(loc), "unknown key" + hint)
    return _locate(name, data, errors[0])


def _locate(name: str, data: Any, error: ErrorDetails) -> InputError:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return InputError(name, line_of(data, loc), format_loc(loc), "missing required key")
    # YAML users write lists; the models store them as tuples.
    message = error["msg"].replace("a valid tuple", "a list")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return InputError(
        name,
        line_of(data, loc),
        format_loc(loc),
        message[:1].lower() + message[1:],
        _show(error.get("input")),
    )


def format_loc(loc: Sequence[str | int]) -> str:
    """``('severities', 0, 'rto')`` → ``severities[0].rto``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def line_of(data: Any, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node of ``loc`` that exists in the document."""
    node = data
    line: int | None = 1
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _show(value: object) -> str:
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
