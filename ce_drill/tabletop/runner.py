"""Drive an exercise: from a scripted answers file, or with a team at a terminal.

Both runners feed the same :func:`~ce_drill.tabletop.exercise.play`
generator.  The terminal runner shows a running simulated clock, numbered
options and re-asks on a bad answer; the scripted runner rejects a bad
answer with the file, line and field, like every other input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from rich.console import Console

from ce_drill.tabletop.exercise import Ask, Played, Say, Step
from sim.errors import InputError
from sim.fields import Frozen, Identifier, SeverityId
from sim.loader import format_loc, line_of, read_yaml, validate

_KIND_STYLE = {
    "alert": "bold red",
    "user_report": "magenta",
    "dashboard": "cyan",
    "log": "blue",
    "inject": "bold yellow",
    "decision": "green",
    "briefing": "bold",
    "note": "white",
}


class Answers(Frozen):
    """A scripted exercise: one answer per decision; ``next_action`` answers each retry in turn."""

    severity: SeverityId
    page: tuple[Identifier, ...] = Field(min_length=1)
    tell_users: Identifier
    action: Identifier
    next_action: tuple[Identifier, ...] = ()


def load_answers(path: Path) -> tuple[Answers, Any]:
    data = read_yaml(path)
    return validate(path, Answers, data), data


def run_scripted(steps: Step, answers: Answers, path: Path, data: Any) -> Played:
    retries = iter(enumerate(answers.next_action))
    step = next(steps)
    while True:
        try:
            if isinstance(step, Ask):
                loc: tuple[str | int, ...]
                if step.decision == "next_action":
                    try:
                        index, value = next(retries)
                    except StopIteration:
                        raise InputError(
                            str(path), line_of(data, ("next_action",)), "next_action",
                            "the action did not restore service and no further answer is scripted",
                        ) from None  # fmt: skip
                    answer: Any = value
                    loc = ("next_action", index)
                else:
                    answer = getattr(answers, step.decision)
                    loc = (step.decision,)
                _check(step, answer, path, data, loc)
                step = steps.send(list(answer) if step.multi else answer)
            else:
                step = next(steps)
        except StopIteration as done:
            played: Played = done.value
            return played


def _check(step: Ask, answer: Any, path: Path, data: Any, loc: tuple[str | int, ...]) -> None:
    values = list(answer) if step.multi else [answer]
    for i, value in enumerate(values):
        if value not in step.options:
            where = (*loc, i) if step.multi else loc
            raise InputError(
                str(path), line_of(data, where), format_loc(where),
                f"not an option here; choose from {', '.join(step.options)}", repr(value),
            )  # fmt: skip


def clock_text(t: float) -> str:
    minutes, seconds = divmod(round(t), 60)
    return f"T+{minutes:02d}:{seconds:02d}"


def run_interactive(steps: Step, console: Console, start: Any) -> Played:
    import datetime as dt

    step = next(steps)
    while True:
        try:
            if isinstance(step, Say):
                wall = (start + dt.timedelta(seconds=step.t_s)).strftime("%H:%M")
                style = _KIND_STYLE.get(step.kind, "white")
                console.print(
                    f"[dim]{clock_text(step.t_s)} {wall}[/] [{style}]{step.kind.upper():>11}[/] {step.text}"
                )
                step = next(steps)
            else:
                step = steps.send(_ask(console, step, start))
        except StopIteration as done:
            played: Played = done.value
            return played


def _ask(console: Console, step: Ask, start: Any) -> Any:
    import datetime as dt

    wall = (start + dt.timedelta(seconds=step.t_s)).strftime("%H:%M UTC")
    console.print(f"\n[bold]⏱  {clock_text(step.t_s)} ({wall}) — {step.prompt}[/]")
    keys = list(step.options)
    for number, key in enumerate(keys, start=1):
        console.print(f"  [bold]{number}[/]. {key} — {step.options[key]}")
    hint = "numbers or names, comma-separated" if step.multi else "a number or a name"
    while True:
        raw = console.input(f"[bold]> [/]([dim]{hint}[/]) ").strip()
        picked = [_pick(part.strip(), keys) for part in raw.split(",")] if step.multi else [_pick(raw, keys)]
        if raw and all(p is not None for p in picked):
            chosen = [p for p in picked if p is not None]
            return chosen if step.multi else chosen[0]
        console.print(f"[red]Not an option: {raw!r}.[/] Choose {hint}.")


def _pick(text: str, keys: list[str]) -> str | None:
    if text.isdigit() and 1 <= int(text) <= len(keys):
        return keys[int(text) - 1]
    return text if text in keys else None
