"""Read a YAML file into a validated model, or fail with one located line.

Parsing happens once, at the boundary.  Whatever goes wrong — an encoding
that is not UTF-8, a control character, YAML syntax, a document nested too
deep, a date that does not exist (``2023-02-29``), a number that is not finite
(``.nan``, ``.inf``) or does not fit in 64 bits, an empty file, a wrong type,
an unknown or missing key, a bad duration, a rule naming a severity that does
not exist — comes out as an :class:`InputError` that names the file, the
line, the field path and the offending value.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.errors import InputError
from sim.playbook import Playbook

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str, object]
"""A semantic problem: where (path into the document), what is wrong, and the value."""

MAX_DEPTH = 64
"""Deepest nesting accepted.  The bundled documents nest eight levels; a
thousand-deep list is an attack or an accident and would exhaust the stack."""
MAX_VALUES = 200_000
"""Most values one document may hold once aliases are expanded (a "billion laughs" stops here)."""
_SHOWN_DEPTH = 12
INT_LIMIT = 2**63
"""Integers must fit in 64 bits: the model and its numpy arrays cannot hold more."""

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# Everything YAML 1.2 does not count as printable (JSON is stricter still):
# C0 controls but tab and line breaks, DEL, C1 controls but NEL, U+FFFE/U+FFFF.
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def read_text(path: Path) -> str:
    """The file's text, or an InputError at the line of the first byte that is not clean UTF-8 text."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(name, None, "", "no such file") from None
    except OSError as exc:
        raise InputError(name, None, "", f"cannot read file: {exc.strerror or exc}") from None
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise InputError(name, 1, "", f"the file is {encoding}; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        # NUL bytes all through a file are the mark of UTF-16 or UTF-32 without a byte-order mark.
        line = raw.count(b"\n", 0, nul) + 1
        column = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        raise InputError(name, line, "", f"NUL byte at column {column}; is the file UTF-16? save it as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            name, line, "", f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {column} ({exc.reason})"
        ) from None
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        at = bad.start()
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        line = text.count("\n", 0, at) + 1
        raise InputError(name, line, "", f"control character U+{ord(bad.group()):04X} at column {column}")
    return text


@dataclass(frozen=True)
class Unreadable:
    """A scalar that YAML types as a number or a date but Python cannot hold (``2023-02-29``)."""

    text: str
    reason: str


class _Constructor(RoundTripConstructor):
    """Round-trip construction that keeps going past scalars Python cannot represent.

    They become :class:`Unreadable` markers, reported with their field path once
    the document is built, instead of a ValueError from deep inside the parser.
    """

    def construct_yaml_int(self, node: Any) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:
            too_big = "limit" in str(exc)
            reason = "integer too large (more than 64 bits)" if too_big else "not a valid integer"
            return Unreadable(node.value, reason)

    def construct_yaml_float(self, node: Any) -> Any:
        try:
            return super().construct_yaml_float(node)
        except (ValueError, OverflowError):
            return Unreadable(node.value, "not a valid number")

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except (ValueError, OverflowError) as exc:
            return Unreadable(node.value, f"not a valid date or time: {exc}")

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # Explicit tags (``!!bool maybe``, ``!!set``) reach constructors that
        # fail with plain Python errors; give them the node's position.
        try:
            return super().construct_object(node, deep)
        except YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read this value ({exc})", node.start_mark) from None


for _tag, _method in (
    ("tag:yaml.org,2002:int", _Constructor.construct_yaml_int),
    ("tag:yaml.org,2002:float", _Constructor.construct_yaml_float),
    ("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp),
):
    _Constructor.add_constructor(_tag, _method)


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path`` with line information, or an InputError."""
    name = str(path)
    text = read_text(path)
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.max_depth = MAX_DEPTH
    try:
        data = yaml.load(text)
    except MaxDepthExceededError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InputError(name, line, "", f"nested deeper than {MAX_DEPTH} levels") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if isinstance(exc, DuplicateKeyError):
            # ruamel quotes both values in full: a block scalar would fill the screen.
            problem = problem.split(" with value ", 1)[0]
        raise InputError(name, line, "", f"YAML syntax error: {problem}") from None
    except YAMLError as exc:
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        raise InputError(name, line, "", f"YAML syntax error: {str(exc).splitlines()[0]}") from None
    if data is None:
        raise InputError(name, 1, "", "file is empty")
    check_values(name, data)
    return data


def check_values(name: str, data: Any, lines: Callable[[Loc], int | None] | None = None) -> None:
    """Reject what no field may hold: unreadable scalars, non-finite numbers, integers past 64 bits.

    Also bounds the document once aliases are expanded, in depth and in size.
    ``lines`` maps a path to its line (YAML documents carry their own).
    """
    locate = lines or (lambda loc: line_of(data, loc))
    stack: list[tuple[Any, Loc]] = [(data, ())]
    seen = 0
    while stack:
        node, loc = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise InputError(
                name, locate(loc), format_loc(loc), f"more than {MAX_VALUES:,} values (aliases expanded)"
            )
        if len(loc) > MAX_DEPTH:
            raise InputError(name, locate(loc), format_loc(loc), f"nested deeper than {MAX_DEPTH} levels")
        # Children go on the stack last first, so problems come out in document order.
        if isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                problem = _bad_scalar(key)
                if problem is not None:
                    raise InputError(name, locate(loc), format_loc(loc), f"a key is {problem}", _show(key))
                part = key if isinstance(key, str | int) and not isinstance(key, bool) else str(key)
                stack.append((value, (*loc, part)))
        elif isinstance(node, list):
            stack.extend((item, (*loc, i)) for i, item in reversed(list(enumerate(node))))
        else:
            problem = _bad_scalar(node)
            if problem is not None:
                raise InputError(name, locate(loc), format_loc(loc), problem, _show(node))


def _bad_scalar(value: object) -> str | None:
    if isinstance(value, str):
        # "\ud800" escapes decode to lone surrogates, which no output encoding can write.
        return "contains a lone surrogate (not a character)" if _SURROGATE.search(value) else None
    if isinstance(value, Unreadable):
        return value.reason
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and not -INT_LIMIT <= value < INT_LIMIT:
        return "integer too large (more than 64 bits)"
    return None


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
        raise first_error(name, data, exc.errors()) from None
    if checks is not None:
        raise_first(path, checks(result), data)
    return result


def raise_first(path: Path, problems: Iterable[Problem], data: Any = None) -> None:
    """Raise the first of ``problems`` as a located InputError (re-reading the file for its lines if need be)."""
    for loc, message, value in problems:
        document = read_yaml(path) if data is None else data
        shown = None if value is None else _show(value)
        raise InputError(str(path), line_of(document, loc), format_loc(loc), message, shown)


_LOADED: dict[tuple[str, bytes, type[BaseModel], object], BaseModel | InputError] = {}
_LOADED_MAX = 16


def load_model(path: Path, model: type[M], checks: Callable[[M], Iterable[Problem]] | None = None) -> M:
    """Read and validate ``path``.  A file loaded before with the same content is not parsed again.

    Parsing the playbook's YAML is most of what a quick command costs, and a
    forecast, a game day or a test loads the same files over and over; the
    models are frozen, so one instance can serve every caller (and a file that
    failed fails the same way again).
    """
    try:
        digest = hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return validate(path, model, read_yaml(path), checks)
    key = (str(path.resolve()), digest, model, checks)
    cached = _LOADED.get(key)
    if isinstance(cached, InputError):
        raise InputError(cached.file, cached.line, cached.path, cached.message, cached.value)
    if isinstance(cached, model):
        return cached
    try:
        result = validate(path, model, read_yaml(path), checks)
    except InputError as exc:
        _remember(key, exc)
        raise
    _remember(key, result)
    return result


def _remember(key: tuple[str, bytes, type[BaseModel], object], outcome: BaseModel | InputError) -> None:
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = outcome


def load_playbook(path: str | Path) -> Playbook:
    """Load and fully check a playbook file."""
    from sim.playbook_checks import playbook_problems

    return load_model(Path(path), Playbook, playbook_problems)


def first_error(
    name: str, data: Any, errors: list[ErrorDetails], lines: Callable[[Loc], int | None] | None = None
) -> InputError:
    """The most useful of pydantic's errors, located: a misspelt key explains the "missing" one that comes with it."""
    locate = lines or (lambda loc: line_of(data, loc))
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
            return InputError(name, locate(loc), format_loc(loc), "unknown key" + hint)
    return _locate(name, errors[0], locate)


def _locate(name: str, error: ErrorDetails, locate: Callable[[Loc], int | None]) -> InputError:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return InputError(name, locate(loc), format_loc(loc), "missing required key")
    # YAML users write lists; the models store them as tuples.
    message = error["msg"].replace("a valid tuple", "a list")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return InputError(
        name,
        locate(loc),
        format_loc(loc),
        message[:1].lower() + message[1:],
        _show(error.get("input")),
    )


def format_loc(loc: Sequence[str | int]) -> str:
    """``('severities', 0, 'rto')`` → ``severities[0].rto``."""
    out = ""
    if len(loc) > _SHOWN_DEPTH:
        return format_loc(loc[:_SHOWN_DEPTH]) + "..."
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # A key is user text: keep a pasted paragraph from swamping the message.
            key = part if len(part) <= 60 else part[:57] + "..."
            out += f".{key}" if out else key
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
    if isinstance(value, Unreadable):
        text = value.text
    elif isinstance(value, float) and not math.isfinite(value):
        text = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= INT_LIMIT:
        # str() of an integer past 4,300 digits raises; nobody reads that many anyway.
        text = f"an integer of {value.bit_length()} bits"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
