"""Seeded structural fuzzing of every file ce-drill reads, and the exit-2 promise it must keep.

Each case is one bundled input — a playbook, a world, an incident timeline, a
tabletop scenario, an answers file or a drill experiment — with one mutation
at one of its key/value positions: nesting thousands deep, a date that does
not exist, an integer past 64 bits or 4,300 digits, ``.nan``/``.inf``, bytes
that are not UTF-8, UTF-16 with its byte-order mark, a control character, a
key holding a newline, a key or block scalar given twice, a wrong type, an
unknown enum value, a deleted field, a truncated file.  Every command that
reads that kind of file then runs on it, in-process.  The promise: exit 0, 1
or 2, never a traceback; and exit 2 with exactly one line on stderr,
``ce-drill: FILE:LINE: ...``.

An experiment is only ever checked, never run: ``ce-drill run`` is called on
one that fails its check (with the stack's start replaced by a failure, to
prove none starts), and a mutated experiment that passes is left at that.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from unittest import mock

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SOURCES: dict[str, tuple[Path, ...]] = {
    "playbook": tuple(sorted((ROOT / "sim" / "playbooks").glob("*.yaml"))),
    "world": tuple(sorted((ROOT / "sim" / "worlds").glob("*.yaml"))),
    "timeline": tuple(sorted((ROOT / "ce_drill" / "tabletop" / "timelines").glob("*.yaml"))),
    "scenario": tuple(sorted((ROOT / "ce_drill" / "tabletop" / "scenarios").glob("*.yaml"))),
    "answers": (),  # written below: none is bundled
    "experiment": tuple(sorted((ROOT / "experiments" / "local").glob("*.json"))),
}
KINDS = tuple(SOURCES)
ANSWERS = (
    "severity: P1\npage: [incident_commander, backend]\ntell_users: status_page_and_email\n"
    "action: restart\nnext_action: [escalate, rollback]\n",
    "# scripted answers for the memory-leak exercise\nseverity: P2\npage:\n  - incident_commander\n"
    "  - devops\ntell_users: status_page\naction: rollback\n",
)
TIMEOUT_S = 60
"""A command that takes longer than this on a one-day run is stuck: counted as a hang."""

# --- mutations ----------------------------------------------------------------------------------

_YAML_VALUE = re.compile(
    r"(?m)(?P<key>[A-Za-z_][\w-]*): (?P<value>[^\s,{}\[\]#&*!|>'\"][^,{}\[\]\n#]*|\"[^\"\n]*\")"
)
_JSON_VALUE = re.compile(
    r'"(?P<key>[^"\\\n]+)": (?P<value>"(?:[^"\\\n]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)'
)
_YAML_LINE = re.compile(r"(?m)^(?P<indent> *)(?:- )?(?P<key>[A-Za-z_][\w-]*):(?: .*)?$")
ENUM_KEYS = frozenset({
    "kind", "mode", "team", "category", "op", "unit", "group", "stage", "priority", "when", "slot",
    "severity", "shape", "dist", "reported_severity", "failure_mode", "expected_severity", "rule",
    "tell_users", "action", "type", "func", "module", "phase", "service",
})  # fmt: skip


@dataclass(frozen=True)
class Doc:
    """A text to mutate and how its values are written."""

    text: str
    json: bool

    def values(self) -> list[re.Match[str]]:
        return list((_JSON_VALUE if self.json else _YAML_VALUE).finditer(self.text))

    def at_value(self, rng: random.Random, new: str, keys: frozenset[str] | None = None) -> str:
        """The text with one value (of one of ``keys``, when there is one) replaced by ``new``."""
        found = self.values()
        preferred = [m for m in found if keys is None or m.group("key") in keys] or found
        if not preferred:
            return self.text + new
        m = rng.choice(preferred)
        return self.text[: m.start("value")] + new + self.text[m.end("value") :]


def _deep(rng: random.Random, doc: Doc) -> bytes:
    depth = rng.choice((100, 1_000, 5_000, 50_000))
    if doc.json or rng.random() < 0.7:
        if rng.random() < 0.5:
            nested = "[" * depth + "]" * depth
        else:
            nested = ('{"a": ' if doc.json else "{a: ") * depth + "1" + "}" * depth
        return doc.at_value(rng, nested).encode()
    block = "".join("  " * i + "- \n" for i in range(min(depth, 3_000)))
    return (doc.text + "\nextra:\n" + block).encode()


def _date(rng: random.Random, doc: Doc) -> bytes:
    if doc.json:
        return doc.at_value(rng, rng.choice(('"2023-02-29"', '"24:00:00"', "20230229"))).encode()
    values = ["2023-02-29", "24:00:00", "2024-01-01 24:00:00", "2024-13-01", "9999-12-31T23:59:59-01:00",
              "0001-01-01T00:00:00+01:00", "2024-02-30T10:00:00Z", '"2023-02-29"', '"23:59+99999999d"',
              '"00:10+3000000d"', '"00:00+' + "9" * 5000 + 'd"', '"25:61"', "9999-12-31", "1000-01-01"]  # fmt: skip
    keys = frozenset({"date", "start", "at", "last_updated", "due", "published", "next_review", "started"})
    return doc.at_value(rng, rng.choice(values), keys if rng.random() < 0.7 else None).encode()


def _huge(rng: random.Random, doc: Doc) -> bytes:
    digits = rng.choice((19, 20, 400, 4_300, 4_301, 5_000, 20_000))
    sign = rng.choice(("", "-"))
    number = sign + "9" * digits
    if not doc.json and rng.random() < 0.2:
        number = "0x" + "f" * digits
    return doc.at_value(rng, number).encode()


def _non_finite(rng: random.Random, doc: Doc) -> bytes:
    spellings = (
        ("NaN", "Infinity", "-Infinity", "1e999")
        if doc.json
        else (".nan", ".inf", "-.inf", ".NaN", "1e999", '"nan"', '"inf%"')
    )
    return doc.at_value(rng, rng.choice(spellings)).encode()


def _bad_utf8(rng: random.Random, doc: Doc) -> bytes:
    raw = doc.text.encode()
    at = rng.randrange(len(raw))
    return raw[:at] + rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\x80")) + raw[at:]


def _utf16(rng: random.Random, doc: Doc) -> bytes:
    return doc.text.encode(rng.choice(("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig")))


def _control(rng: random.Random, doc: Doc) -> bytes:
    ch = rng.choice(("\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe", "\x0c", "\x85\x01"))
    if rng.random() < 0.5:
        return doc.at_value(rng, '"a' + ch + 'b"').encode()
    at = rng.randrange(len(doc.text))
    return (doc.text[:at] + ch + doc.text[at:]).encode()


def _newline_key(rng: random.Random, doc: Doc) -> bytes:
    if doc.json:
        opening = [m.end() for m in re.finditer(r"\{", doc.text)]
        at = rng.choice(opening)
        key = rng.choice(('"bad\\nkey": 1, ', '"a\\u2028b": 2, ', '"x\\r\\ny": "z\\nw", '))
        return (doc.text[:at] + key + doc.text[at:]).encode()
    lines = list(_YAML_LINE.finditer(doc.text))
    m = rng.choice(lines)
    indent = m.group("indent") + ("  " if doc.text[m.start() : m.end()].lstrip().startswith("- ") else "")
    key = rng.choice((f'{indent}"bad\\nkey": 1\n', f"{indent}? |\n{indent}  two\n{indent}  lines\n{indent}: 1\n",
                      f'{indent}"tab\\tand\\u2028sep": x\n'))  # fmt: skip
    return (doc.text[: m.end() + 1] + key + doc.text[m.end() + 1 :]).encode()


def _duplicate(rng: random.Random, doc: Doc) -> bytes:
    if doc.json:
        m = rng.choice(doc.values())
        pair = doc.text[m.start() : m.end()]
        return (doc.text[: m.end()] + ", " + pair + doc.text[m.end() :]).encode()
    blocks = list(
        re.finditer(r"(?m)^(?P<indent> *)[A-Za-z_]\w*: [|>][-+]?\n(?:(?P=indent) +.*\n)+", doc.text)
    )
    if blocks and rng.random() < 0.5:
        b = rng.choice(blocks)
        return (doc.text[: b.end()] + b.group() + doc.text[b.end() :]).encode()
    m = rng.choice(list(_YAML_LINE.finditer(doc.text)))
    line = doc.text[m.start() : m.end()]
    if line.lstrip().startswith("- "):
        line = line.replace("- ", "  ", 1)
    return (doc.text[: m.end() + 1] + line + "\n" + doc.text[m.end() + 1 :]).encode()


def _wrong_type(rng: random.Random, doc: Doc) -> bytes:
    choices = ('[1, 2]', '{"a": 1}', "true", "42", "-3.5", "null", '""', "[]", "{}") if doc.json else (
        "[1, 2]", "{a: 1}", "true", "42", "-3.5", "null", "''", "~", "[]", "{}", "-1", "0")  # fmt: skip
    return doc.at_value(rng, rng.choice(choices)).encode()


def _unknown_enum(rng: random.Random, doc: Doc) -> bytes:
    value = rng.choice(("no_such_thing", "P9", "Bogus", "memory_leek", "x" * 80))
    return doc.at_value(rng, f'"{value}"' if doc.json else value, ENUM_KEYS).encode()


def _delete(rng: random.Random, doc: Doc) -> bytes:
    if doc.json:
        m = rng.choice(doc.values())
        end = m.end() + (1 if doc.text[m.end() : m.end() + 1] == "," else 0)
        return (doc.text[: m.start()] + doc.text[end:]).encode()
    if rng.random() < 0.5:
        m = rng.choice(doc.values())
        end = m.end() + (2 if doc.text[m.end() : m.end() + 2] == ", " else 0)
        return (doc.text[: m.start()] + doc.text[end:]).encode()
    m = rng.choice(list(_YAML_LINE.finditer(doc.text)))
    return (doc.text[: m.start()] + doc.text[m.end() + 1 :]).encode()


def _truncate(rng: random.Random, doc: Doc) -> bytes:
    raw = doc.text.encode()
    return raw[: rng.randrange(len(raw))]


MUTATIONS: dict[str, Callable[[random.Random, Doc], bytes]] = {
    "deep-nesting": _deep,
    "impossible-date": _date,
    "huge-int": _huge,
    "non-finite": _non_finite,
    "invalid-utf8": _bad_utf8,
    "utf16-bom": _utf16,
    "control-char": _control,
    "newline-key": _newline_key,
    "duplicate": _duplicate,
    "wrong-type": _wrong_type,
    "unknown-enum": _unknown_enum,
    "delete-field": _delete,
    "truncate": _truncate,
}


@dataclass(frozen=True)
class Case:
    number: int
    kind: str
    source: str
    mutation: str
    data: bytes = field(repr=False)

    @property
    def suffix(self) -> str:
        return ".json" if self.kind == "experiment" else ".yaml"


def _texts(kind: str) -> list[tuple[str, str]]:
    if kind == "answers":
        return [(f"answers-{i}", text) for i, text in enumerate(ANSWERS)]
    return [(p.name, p.read_text(encoding="utf-8")) for p in SOURCES[kind]]


def cases(count: int, seed: int = 0) -> list[Case]:
    """``count`` cases, every kind and mutation in turn, each from its own seeded generator."""
    texts = {kind: _texts(kind) for kind in KINDS}
    names = list(MUTATIONS)
    out = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        mutation = names[(n // len(KINDS)) % len(names)]
        out.append(_case(n, kind, mutation, texts[kind], random.Random(f"{seed}:{n}")))
    return out


def cases_of(kind: str, count: int, seed: int = 0, first: int = 0) -> list[Case]:
    """``count`` cases of one kind, every mutation in turn; numbered from ``first``."""
    texts = _texts(kind)
    names = list(MUTATIONS)
    return [
        _case(first + i, kind, names[i % len(names)], texts, random.Random(f"{seed}:{kind}:{i}"))
        for i in range(count)
    ]


def _case(number: int, kind: str, mutation: str, texts: list[tuple[str, str]], rng: random.Random) -> Case:
    source, text = rng.choice(texts)
    return Case(number, kind, source, mutation, MUTATIONS[mutation](rng, Doc(text, kind == "experiment")))


# --- running a case -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    case: Case
    command: str
    exit_code: int
    stderr: str
    problem: str | None
    """``traceback``, ``unlocated``, ``bad-exit``, ``hang`` or ``stack-started``; None when the promise held."""
    detail: str = ""


class StackStartedError(AssertionError):
    """Raised in place of starting a stack: an invalid experiment must never get that far."""


class Hang(Exception):  # noqa: N818 - the name is the verdict
    pass


_LOCATED = re.compile(r"^ce-drill: .+?:\d+: \S.*\n$")


def _scenario_answers(scenario_text: str) -> str:
    working = re.search(r"(?m)^  (\w+): \{[^\n]*works: true", scenario_text)
    action = working.group(1) if working else "rollback"
    return f"severity: P1\npage: [incident_commander]\ntell_users: nothing\naction: {action}\n"


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _commands(case: Case, path: Path, tmp: Path) -> list[list[str]]:
    f = str(path)
    if case.kind == "playbook":
        return [["playbook", "validate", f], ["playbook", "show", f], ["playbook", "lint", f]]
    if case.kind == "world":
        return [
            ["simulate", "--world", f, "--days", "1"],
            ["forecast", "--compare", f, "--days", "1", "--replications", "2", "--tornado-replications", "0",
             "--workers", "1", "--out", str(tmp / "forecast"), "--json"],
        ]  # fmt: skip
    if case.kind == "timeline":
        return [["tabletop", "replay", f]]
    if case.kind == "scenario":
        answers = tmp / "answers.yaml"
        source = SOURCES["scenario"][[p.name for p in SOURCES["scenario"]].index(case.source)]
        answers.write_text(_scenario_answers(source.read_text(encoding="utf-8")), encoding="utf-8")
        return [["tabletop", "run", f, "--answers", str(answers), "--out", str(tmp / "out"), "--json"]]
    if case.kind == "answers":
        return [["tabletop", "run", "memory-leak", "--answers", f, "--out", str(tmp / "out"), "--json"]]
    return [["run", f, "--quiet"]]


def _judge(case: Case, command: str, result: Any) -> Outcome:
    exc = result.exception
    code = int(result.exit_code)
    if isinstance(exc, Hang):
        return Outcome(case, command, code, result.stderr, "hang", str(exc))
    if isinstance(exc, StackStartedError):
        return Outcome(case, command, code, result.stderr, "stack-started")
    if exc is not None and not isinstance(exc, SystemExit):
        return Outcome(case, command, code, result.stderr, "traceback", f"{type(exc).__name__}: {exc}"[:300])
    if code not in (0, 1, 2) or (case.kind == "experiment" and code != 2):
        # ``run`` is only called on an experiment that failed its check: it must refuse it.
        return Outcome(case, command, code, result.stderr, "bad-exit")
    if code == 2 and not _LOCATED.match(result.stderr):
        return Outcome(case, command, code, result.stderr, "unlocated", result.stderr[:300])
    return Outcome(case, command, code, result.stderr, None)


def run_case(case: Case, runner: CliRunner | None = None) -> list[Outcome]:
    """Run every command that reads this kind of file on the case; one outcome per command."""
    from ce_drill.cli import cli

    runner = runner or CliRunner()
    with tempfile.TemporaryDirectory(prefix="ce-drill-fuzz-") as folder:
        tmp = Path(folder)
        path = tmp / f"{case.kind}-{case.number}{case.suffix}"
        path.write_bytes(case.data)
        commands = _commands(case, path, tmp)
        if case.kind == "experiment":
            outcome = _check_experiment(case, path)
            if outcome is not None:
                return [outcome]
        outcomes = []
        for args in commands:
            with _no_stack(), _deadline(TIMEOUT_S):
                result = runner.invoke(cli, args)
            outcomes.append(_judge(case, " ".join(args[:2]), result))
        return outcomes


def _check_experiment(case: Case, path: Path) -> Outcome | None:
    """Check the experiment; an outcome when it passes (it is not run), None when ``run`` must refuse it."""
    from ce_drill.drill import scenarios
    from sim.errors import InputError

    try:
        with _deadline(TIMEOUT_S):
            scenarios.load(str(path))
    except InputError:
        return None
    except Exception as exc:
        return Outcome(case, "experiment check", 1, "", "traceback", f"{type(exc).__name__}: {exc}"[:300])
    return Outcome(case, "experiment check", 0, "", None)


@contextlib.contextmanager
def _no_stack() -> Iterator[None]:
    from ce_drill.stack.stack import Stack

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise StackStartedError("a stack was started")

    with mock.patch.object(Stack, "up", refuse):
        yield
