"""``ce-drill tabletop``: replay incident timelines against the manual; run facilitated exercises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ce_drill.cli.common import EXIT_FAILED, echo_json
from ce_drill.tabletop import whatif
from ce_drill.tabletop.timeline import (
    Timeline,
    bundled,
    bundled_names,
    check_judgeable,
    check_references,
    load_timeline,
)
from ce_drill.tabletop.verdicts import Status, Verdict, counts, judge
from sim.errors import InputError
from sim.playbook import Playbook, bundled_path
from sim.units import format_duration
from sim.world import World
from sim.world import bundled_path as bundled_world

_STYLE = {"broken": "bold red", "met": "green", "not_due": "cyan", "not_evidenced": "yellow"}


@click.group("tabletop")
def group() -> None:
    """Replay a real incident against the manual, or run a facilitated exercise."""


def resolve_timeline(name: str) -> tuple[Path, Timeline]:
    path = Path(name)
    if not path.exists():
        found = bundled(name)
        if found is None:
            known = ", ".join(bundled_names())
            raise InputError(name, None, "", f"no such timeline file or bundled incident (bundled: {known})")
        path = found
    return path, load_timeline(path)


@group.command()
@click.argument("timeline")
@click.option("--playbook", "playbook_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option(
    "--what-if", "what_if", help="Re-run the rest from another decision, e.g. rollback_decided=14:40."
)
@click.option(
    "--world", "world_file", type=click.Path(dir_okay=False, path_type=Path), help="World for --what-if."
)
@click.option("--replications", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def replay(
    *,
    timeline: str,
    playbook_file: Path | None,
    as_json: bool,
    what_if: str | None,
    world_file: Path | None,
    replications: int,
    seed: int,
) -> None:
    """Score TIMELINE (a YAML file or a bundled incident such as INC-2024-001) against the playbook.

    Exits 1 when the timeline broke any promise.
    """
    path, tl = resolve_timeline(timeline)
    pb = Playbook.load(playbook_file or bundled_path())
    check_judgeable(path, tl)
    check_references(path, tl, pb)
    verdicts = judge(pb, tl)
    extra: dict[str, Any] = {}
    if what_if is not None:
        world = World.load(world_file or bundled_world())
        extra = whatif.run(pb, world, tl, what_if, where=str(path), replications=replications, seed=seed)
    broken = [v for v in verdicts if v.status == "broken"]
    if as_json:
        payload: dict[str, Any] = {
            "incident": tl.incident,
            "severity": tl.severity(),
            "verdicts": [v.to_json() for v in verdicts],
            **counts(verdicts),
        }
        if extra:
            payload["what_if"] = extra
        echo_json(payload)
    else:
        console = Console()
        console.print(f"[bold]{tl.incident}[/] {tl.title} — confirmed {tl.severity()}")
        console.print(verdict_table(verdicts))
        if extra:
            console.print(_what_if_text(extra))
    if broken:
        raise click.exceptions.Exit(EXIT_FAILED)


def verdict_table(verdicts: list[Verdict]) -> Table:
    table = Table(show_lines=False)
    for col in ("verdict", "promise", "target", "measured", "manual"):
        table.add_column(col)
    for v in verdicts:
        note = f" ({v.detail})" if v.detail else ""
        table.add_row(
            f"[{_STYLE[v.status]}]{v.status.replace('_', ' ')}[/]",
            v.promise + note,
            v.target,
            v.measured,
            _lines(v),
        )
    table.caption = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts(verdicts).items())
    return table


def _lines(v: Verdict) -> str:
    first, last = v.source.first_line, v.source.last_line
    return f"L{first}" if first == last else f"L{first}-{last}"


def _what_if_text(extra: dict[str, Any]) -> str:
    lines = [f"\n[bold]What if {extra['decision']} had been at {extra['at']}?[/]"]
    for s in extra["scenarios"]:
        lo, hi = s["ci95"]
        lines.append(
            f"  {s['label']:>10} (T+{format_duration(round(s['decision_s']))}): "
            f"P(RTO {format_duration(round(extra['rto_s']))} met) = {s['p_rto_met']:.1%} "
            f"[{lo:.1%}, {hi:.1%}] over {s['replications']} runs; restored p50 "
            f"{format_duration(round(s['restore_p50_s']))}, p90 {format_duration(round(s['restore_p90_s']))}"
        )
    if extra["actual_restore_s"] is not None:
        lines.append(f"  actually restored at T+{format_duration(round(extra['actual_restore_s']))}")
    return "\n".join(lines)


@group.command("run")
@click.argument("scenario")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Scripted answers (YAML) instead of asking at the terminal.")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--playbook", "playbook_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--world", "world_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the timeline, verdicts and post-mortem draft go (default reports/tabletop/…).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def run_command(
    *,
    scenario: str,
    answers_file: Path | None,
    seed: int,
    playbook_file: Path | None,
    world_file: Path | None,
    out_dir: Path | None,
    as_json: bool,
) -> None:
    """Run a facilitated exercise: SCENARIO is memory-leak, db-lock-contention, oom, security-exploit or a file."""
    from ce_drill.tabletop import exercise, postmortem, runner
    from ce_drill.tabletop import scenario as scenarios

    path = Path(scenario)
    if not path.exists():
        found = scenarios.bundled(scenario)
        if found is None:
            known = ", ".join(scenarios.bundled_names())
            raise InputError(
                scenario, None, "", f"no such scenario file or bundled scenario (bundled: {known})"
            )
        path = found
    scn = scenarios.load_scenario(path)
    pb = Playbook.load(playbook_file or bundled_path())
    world = World.load(world_file or bundled_world())
    scenarios.check_references(path, scn, pb, world)
    # Every input is checked before the exercise plays or anything is written.
    answers = runner.load_answers(answers_file) if answers_file is not None else None
    steps = exercise.play(scn, pb, world, seed)
    console = Console(stderr=as_json)
    if answers is not None and answers_file is not None:
        played = runner.run_scripted(steps, answers[0], answers_file, answers[1])
    else:
        console.print(f"[bold]Tabletop exercise: {scn.title}[/] (seed {seed})\n")
        try:
            played = runner.run_interactive(steps, console, scn.start)
        except (KeyboardInterrupt, EOFError):
            console.print("\n[yellow]Exercise abandoned.[/]")
            raise click.exceptions.Exit(130) from None
    verdicts = [severity_verdict(pb, played), *judge(pb, played.timeline)]
    out = out_dir or Path("reports") / "tabletop" / f"{scn.id}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "postmortem.md").write_text(postmortem.draft(played, verdicts), encoding="utf-8")
    (out / "timeline.yaml").write_text(timeline_yaml(played.timeline), encoding="utf-8")
    payload = {
        "scenario": scn.id,
        "seed": seed,
        "answers": played.answers,
        "verdicts": [v.to_json() for v in verdicts],
        **counts(verdicts),
        "out": str(out),
    }
    (out / "verdicts.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        echo_json(payload)
    else:
        console.print(verdict_table(verdicts))
        console.print(
            f"Post-mortem draft: {out / 'postmortem.md'}   replay: ce-drill tabletop replay {out / 'timeline.yaml'}"
        )
    if payload["broken"]:
        raise click.exceptions.Exit(EXIT_FAILED)


def severity_verdict(pb: Playbook, played: Any) -> Verdict:
    expected = pb.severity(played.expected_severity)
    status: Status = "met" if played.declared_severity == played.expected_severity else "broken"
    return Verdict(
        "severity declared as the manual defines it",
        status,
        played.expected_severity,
        played.declared_severity,
        expected.source,
    )


def timeline_yaml(tl: Timeline) -> str:
    from ce_drill.rules.yamltext import dump

    return dump(tl.model_dump(mode="json", by_alias=True, exclude_none=True))
