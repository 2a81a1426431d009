"""Check a drill's Chaos Toolkit experiment completely before any stack starts.

A drill that fails on its experiment after the stack is up has cost minutes
and left faults to clean up; a drill whose expectations are misspelt judges
the wrong thing.  So an experiment file is read like every other input: its
bytes decoded (UTF-8, no control characters), its JSON parsed with every
number finite and every key unique, its nesting bounded; then its structure
checked against the Chaos Toolkit format (activities, providers,
configuration, secrets, controls) and by Chaos Toolkit's own validation
(the activity modules import, the functions exist, the arguments fit their
signatures), and the ``ce-drill`` extension — what the judge expects: the
alerts the manual raises for the fault, the severity when none fires, the
safety path exercised — against the playbook.  The first problem comes out as
one located line, ``FILE:LINE: path.to.field: what is wrong (got VALUE)``.

Configuration values and activity arguments may be ``${name}`` substitutions
that ``chaos run`` fills in (from the environment or ``--var``): they are
accepted wherever a value is.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import os
import re
import typing
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUserError,
    StrictBool,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from sim.errors import InputError
from sim.fields import Frozen
from sim.loader import MAX_DEPTH, Loc, Unreadable, check_values, first_error, format_loc
from sim.playbook import Playbook

M = TypeVar("M", bound=BaseModel)

EXTENSION = "ce-drill"
RUNNER_ENVIRONMENT = ("CE_DRILL_RUN_DIR", "CE_DRILL_BREAKS", "CE_DRILL_PLAYBOOK")
"""Variables ``ce-drill run`` sets for ``chaos run``: the experiment may read them without a default."""

NonEmpty = Annotated[StrictStr, StringConstraints(pattern=r"\S")]
ModuleName = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")]
FunctionName = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z_]\w*$")]
Substitution = Annotated[StrictStr, StringConstraints(pattern=r"^\$\{[^}]+\}$")]


# --- where each value is: a JSON position index ---------------------------------------------

_REFERENCE = re.compile(r"\$\{([^}]+)\}")
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+|"')


@dataclass
class _Frame:
    loc: Loc
    is_object: bool
    key: str | None = None
    index: int = 0
    expect_key: bool = True
    keys: set[str] = field(default_factory=set)


class JsonIndex:
    """The line of every key and array item of a JSON text, found by one pass over its tokens.

    The scan needs no valid JSON (syntax errors are the parser's to report) and
    no recursion: it also finds nesting too deep for the parser and keys given
    twice, which the standard parser would silently keep the last of.
    """

    def __init__(self, name: str, text: str) -> None:
        self.lines: dict[Loc, int] = {(): 1}
        self.duplicate: tuple[Loc, int] | None = None
        stack: list[_Frame] = []
        line, last = 1, 0
        for match in _TOKEN.finditer(text):
            line += text.count("\n", last, match.start())
            last = match.start()
            token = match.group()
            top = stack[-1] if stack else None
            if token in ("{", "["):
                loc = self._value(top, line)
                stack.append(_Frame(loc, token == "{"))
                if len(stack) > MAX_DEPTH:
                    raise InputError(name, line, format_loc(loc), f"nested deeper than {MAX_DEPTH} levels")
            elif token in ("}", "]"):
                if stack:
                    stack.pop()
            elif token == ":":
                if top is not None:
                    top.expect_key = False
            elif token == ",":
                if top is not None and top.is_object:
                    top.expect_key, top.key = True, None
                elif top is not None:
                    top.index += 1
            elif top is not None and top.is_object and top.expect_key and token.startswith('"'):
                self._key(top, token, line)
            else:
                self._value(top, line)

    def _key(self, frame: _Frame, token: str, line: int) -> None:
        try:
            key = str(json.loads(token))
        except ValueError:
            key = token.strip('"')
        frame.key, frame.expect_key = key, False
        loc = (*frame.loc, key)
        if key in frame.keys and self.duplicate is None:
            self.duplicate = (loc, line)
        frame.keys.add(key)
        self.lines.setdefault(loc, line)

    def _value(self, frame: _Frame | None, line: int) -> Loc:
        if frame is None:
            return ()
        if frame.is_object:
            return frame.loc if frame.key is None else (*frame.loc, frame.key)
        loc = (*frame.loc, frame.index)
        self.lines.setdefault(loc, line)
        return loc

    def line(self, loc: Loc) -> int:
        """Line of the deepest part of ``loc`` that is in the text."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return 1


def _integer(text: str) -> int | Unreadable:
    # Python refuses int() of more than 4,300 digits; 64 bits is the limit anyway.
    if len(text.lstrip("-")) > 20:
        return Unreadable(text, "integer too large (more than 64 bits)")
    return int(text)


def _float(text: str) -> float | Unreadable:
    number = float(text)
    return number if math.isfinite(number) else Unreadable(text, "not a finite number")


def parse_json(name: str, text: str) -> tuple[Any, JsonIndex]:
    """The JSON document and its index, or a located InputError."""
    index = JsonIndex(name, text)
    try:
        data = json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=lambda constant: Unreadable(constant, "not a finite number"),
        )
    except json.JSONDecodeError as exc:
        raise InputError(name, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if index.duplicate is not None:
        loc, line = index.duplicate
        raise InputError(name, line, format_loc(loc), "duplicate key")
    check_values(name, data, index.line)
    return data, index


# --- the Chaos Toolkit format, as far as a drill depends on it --------------------------------


class _Open(BaseModel):
    """A Chaos Toolkit object: the fields ce-drill relies on are typed, others pass through."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)


class _Closed(_Open):
    model_config = ConfigDict(extra="forbid")


class PythonProvider(_Closed):
    type: Literal["python"]
    module: ModuleName
    func: FunctionName
    arguments: dict[str, Any] = Field(default_factory=dict)
    secrets: list[NonEmpty] | NonEmpty | None = None


class ProcessProvider(_Closed):
    type: Literal["process"]
    path: NonEmpty
    arguments: list[Any] | StrictStr | dict[str, Any] | None = None
    secrets: list[NonEmpty] | NonEmpty | None = None


class HttpProvider(_Open):
    type: Literal["http"]
    url: NonEmpty
    method: NonEmpty = "GET"
    timeout: float | list[float] | Substitution | None = None


_PROVIDERS: dict[str, type[_Open]] = {
    "python": PythonProvider,
    "process": ProcessProvider,
    "http": HttpProvider,
}


Seconds = Annotated[float, Field(ge=0)]


class Pauses(_Closed):
    before: Seconds | Substitution | None = None
    after: Seconds | Substitution | None = None


class Activity(_Open):
    type: Literal["action", "probe"]
    name: NonEmpty
    provider: dict[str, Any]
    background: StrictBool = False
    timeout: float | None = Field(default=None, gt=0)
    pauses: Pauses | None = None


class ActivityRef(_Closed):
    ref: NonEmpty


class SteadyStateHypothesis(_Open):
    title: NonEmpty
    probes: list[dict[str, Any]] = Field(default_factory=list)


class ControlProvider(_Closed):
    type: Literal["python"]
    module: ModuleName
    arguments: dict[str, Any] = Field(default_factory=dict)


class Control(_Open):
    name: NonEmpty
    provider: ControlProvider
    scope: Literal["before", "after"] | None = None
    automatic: StrictBool = True


class FromEnvironment(_Closed):
    type: Literal["env"]
    key: NonEmpty
    default: Any = None
    env_var_type: (
        Literal["str", "string", "int", "integer", "float", "number", "bytes", "bool", "json"] | None
    ) = None


class SecretFromEnvironment(_Closed):
    type: Literal["env"]
    key: NonEmpty


class Extension(_Open):
    name: NonEmpty


class Experiment(_Open):
    version: NonEmpty | None = None
    title: NonEmpty
    description: NonEmpty
    tags: list[NonEmpty] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    steady_state_hypothesis: SteadyStateHypothesis | None = Field(
        default=None, alias="steady-state-hypothesis"
    )
    method: list[dict[str, Any]]
    rollbacks: list[dict[str, Any]] = Field(default_factory=list)
    controls: list[dict[str, Any]] = Field(default_factory=list)
    extensions: list[Extension] = Field(default_factory=list)


# --- what the judge expects: the ce-drill extension -------------------------------------------


class Expect(Frozen):
    """The judge's expectations of a drill (strict types: the judge reads them as they are written)."""

    alerts: tuple[StrictStr, ...] = ()
    """Alerts the manual raises for this fault: names of the rules generated from the playbook."""
    service: StrictStr | None = None
    """The playbook service the fault hits: its own RTO binds where stricter than the severity's."""
    severity: Annotated[StrictStr, StringConstraints(pattern=r"^P[1-9]$")] = "P1"
    """The severity to hold recovery to when no alert fires."""
    auto_rollback: StrictBool = False
    runbook_names_blocker: StrictBool = False
    oom_restart: StrictBool = False
    audit_writes: StrictBool = True
    """False where the target has no load generator whose writes could be audited (a cluster)."""


class CeDrillExtension(Frozen):
    name: Literal["ce-drill"]
    scenario: NonEmpty
    expect: Expect = Expect()


# --- the check ---------------------------------------------------------------------------------


class _Checker:
    def __init__(self, name: str, data: Any, index: JsonIndex) -> None:
        self.name, self.data, self.index = name, data, index

    def fail(self, loc: Loc, message: str, value: object = None) -> InputError:
        shown = None if value is None else _shown(value)
        return InputError(self.name, self.index.line(loc), format_loc(loc), message, shown)

    def model(self, model: type[M], value: Any, loc: Loc) -> M:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            errors = exc.errors()
            for error in errors:
                error["loc"] = (*loc, *error["loc"])
            raise first_error(self.name, value, errors, self.index.line) from None

    def activity(self, value: Any, loc: Loc, *, probe: bool = False) -> None:
        if isinstance(value, dict) and "ref" in value:
            self.model(ActivityRef, value, loc)
            return
        activity = self.model(Activity, value, loc)
        if probe and activity.type != "probe":
            raise self.fail((*loc, "type"), "must be 'probe' here", activity.type)
        kind = activity.provider.get("type")
        if kind not in _PROVIDERS:
            raise self.fail((*loc, "provider", "type"), "must be 'python', 'process' or 'http'", kind)
        provider = self.model(_PROVIDERS[kind], activity.provider, (*loc, "provider"))
        self.chaoslib(loc, "ensure_activity_is_valid", value)
        if isinstance(provider, PythonProvider):
            self.arguments(provider, loc)

    def control(self, value: Any, loc: Loc) -> None:
        if isinstance(value, dict) and "ref" in value:
            self.model(ActivityRef, value, loc)
            return
        control = self.model(Control, value, loc)
        module = (*loc, "provider", "module")
        try:
            importlib.import_module(control.provider.module)
        except ImportError:
            raise self.fail(module, "no such Python module", control.provider.module) from None
        probes = control.provider.arguments.get("probes")
        if probes is not None:
            where = (*loc, "provider", "arguments", "probes")
            if not isinstance(probes, list):
                raise self.fail(where, "must be a list of probes", probes)
            for i, item in enumerate(probes):
                self.activity(item, (*where, i), probe=True)
        self.chaoslib(loc, "validate_python_control", value)

    def chaoslib(self, loc: Loc, check: str, *args: Any) -> None:
        """Chaos Toolkit's own validation of one part; its complaint is located at that part."""
        from chaoslib.exceptions import ChaosException

        functions = _chaoslib()
        try:
            with _quiet_chaoslib():
                functions[check](*args)
        except ChaosException as exc:
            raise self.fail(loc, str(exc).strip() or type(exc).__name__) from None
        except (ValueError, TypeError) as exc:
            # chaoslib converts env_var_type defaults with int()/float()/json.loads().
            raise self.fail(loc, f"Chaos Toolkit cannot load this: {exc}") from None

    def experiment(self) -> Experiment:
        if not isinstance(self.data, dict):
            raise self.fail((), "expected a JSON object at the top level", self.data)
        experiment = self.model(Experiment, self.data, ())
        self.settings(experiment)
        hypothesis = experiment.steady_state_hypothesis
        for i, probe in enumerate(hypothesis.probes if hypothesis else []):
            loc: Loc = ("steady-state-hypothesis", "probes", i)
            self.activity(probe, loc, probe=True)
            if "tolerance" not in probe:
                raise self.fail(loc, "a steady-state probe needs a tolerance")
        for part in ("method", "rollbacks"):
            for i, item in enumerate(getattr(experiment, part)):
                self.activity(item, (part, i))
        for i, control in enumerate(experiment.controls):
            self.control(control, ("controls", i))
        self.references(experiment)
        self.extension(experiment)
        # Whatever spans the whole experiment (references between activities, deprecations).
        self.chaoslib((), "ensure_experiment_is_valid", self.data)
        return experiment

    def settings(self, experiment: Experiment) -> None:
        """Configuration and secrets: plain values or from the environment, loaded as chaos will."""
        for key, value in experiment.configuration.items():
            loc: Loc = ("configuration", key)
            if isinstance(value, dict) and "type" not in value:
                # chaoslib would pass the object itself on as the value: an env entry that lost its type.
                raise self.fail(loc, "a configuration object needs a 'type' (\"env\")", value)
            if isinstance(value, dict):
                if value["type"] != "env":
                    message = "ce-drill takes configuration from values or the environment only"
                    raise self.fail((*loc, "type"), message, value["type"])
                self.model(FromEnvironment, value, loc)
            self.chaoslib(loc, "load_configuration", {key: value})
        for target, secrets in experiment.secrets.items():
            for key, value in secrets.items():
                if isinstance(value, dict):
                    self.model(SecretFromEnvironment, value, ("secrets", target, key))
            self.chaoslib(("secrets", target), "load_secrets", {target: secrets})

    def references(self, experiment: Experiment) -> None:
        """Every ``${name}`` names a configuration key or a secret: chaos leaves others as literal text."""
        known = set(experiment.configuration)
        for secrets in experiment.secrets.values():
            known |= set(secrets)
        parts = ("steady-state-hypothesis", "method", "rollbacks", "controls")
        stack: list[tuple[Any, Loc]] = [(self.data.get(part), (part,)) for part in reversed(parts)]
        while stack:
            node, loc = stack.pop()
            if isinstance(node, dict):
                stack.extend((value, (*loc, key)) for key, value in reversed(node.items()))
            elif isinstance(node, list):
                stack.extend((item, (*loc, i)) for i, item in reversed(list(enumerate(node))))
            elif isinstance(node, str):
                for name in _REFERENCE.findall(node):
                    if name not in known:
                        raise self.fail(loc, f"no configuration key or secret named {name!r}", node)

    def arguments(self, provider: PythonProvider, loc: Loc) -> None:
        """Literal arguments fit the types the activity's function declares (``${...}`` are filled in later)."""
        function = getattr(importlib.import_module(provider.module), provider.func, None)
        try:
            hints = typing.get_type_hints(function)
        except (NameError, TypeError, AttributeError):
            return  # annotations that do not resolve here say nothing either way
        for name, value in provider.arguments.items():
            if name not in hints or (isinstance(value, str) and "${" in value):
                continue
            try:
                adapter: TypeAdapter[Any] = TypeAdapter(hints[name])
            except PydanticUserError:
                continue  # a type pydantic cannot check: chaos passes JSON values through anyway
            try:
                adapter.validate_python(value, strict=True)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                where = (*loc, "provider", "arguments", name)
                raise self.fail(
                    where,
                    f"{provider.func}() takes {_type_name(hints[name])}: {reason[:1].lower()}{reason[1:]}",
                    value,
                ) from None

    def extension(self, experiment: Experiment) -> None:
        ours = [i for i, ext in enumerate(experiment.extensions) if ext.name == EXTENSION]
        if len(ours) > 1:
            raise self.fail(("extensions", ours[1], "name"), f"a second '{EXTENSION}' extension", EXTENSION)
        if not ours:
            return
        loc: Loc = ("extensions", ours[0])
        ext = self.model(CeDrillExtension, self.data["extensions"][ours[0]], loc)
        playbook = Playbook.default()
        severities = [s.id for s in playbook.severities]
        if ext.expect.severity not in severities:
            raise self.fail(
                (*loc, "expect", "severity"),
                f"no such severity; the playbook defines {', '.join(severities)}",
                ext.expect.severity,
            )
        services = [s.id for s in playbook.services]
        if ext.expect.service is not None and ext.expect.service not in services:
            raise self.fail(
                (*loc, "expect", "service"),
                f"no such service; the playbook defines {', '.join(services)}",
                ext.expect.service,
            )
        known = _alert_names(playbook)
        for i, alert in enumerate(ext.expect.alerts):
            if alert not in known:
                raise self.fail(
                    (*loc, "expect", "alerts", i),
                    "no alert of that name is generated from the playbook",
                    alert,
                )


def _type_name(hint: object) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _alert_names(playbook: Playbook) -> set[str]:
    from ce_drill.rules.generate import build

    return {alert.name for alert in build(playbook).alerts}


def _chaoslib() -> dict[str, Callable[..., Any]]:
    from chaoslib.activity import ensure_activity_is_valid
    from chaoslib.configuration import load_configuration
    from chaoslib.control.python import validate_python_control
    from chaoslib.experiment import ensure_experiment_is_valid
    from chaoslib.secret import load_secrets

    return {
        "ensure_activity_is_valid": ensure_activity_is_valid,
        "load_configuration": load_configuration,
        "load_secrets": load_secrets,
        "validate_python_control": validate_python_control,
        "ensure_experiment_is_valid": ensure_experiment_is_valid,
    }


@contextlib.contextmanager
def _quiet_chaoslib() -> Iterator[None]:
    """chaoslib as ``ce-drill run`` will call it: the runner's variables set, its log and warnings muted.

    Its logger would otherwise print to stderr, next to the one line of an error.
    """
    logger = logging.getLogger("chaostoolkit")
    disabled = logger.disabled
    added = [key for key in RUNNER_ENVIRONMENT if key not in os.environ]
    logger.disabled = True
    os.environ.update(dict.fromkeys(added, ""))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        logger.disabled = disabled


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_experiment(path: Path) -> dict[str, Any]:
    """The experiment at ``path``, fully checked; an InputError names the first problem."""
    from sim.loader import read_text

    name = str(path)
    data, index = parse_json(name, read_text(path))
    _Checker(name, data, index).experiment()
    result: dict[str, Any] = data
    return result
