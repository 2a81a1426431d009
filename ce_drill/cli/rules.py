"""``ce-drill rules``: Prometheus rules, promtool tests and Alertmanager routes from the playbook."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ce_drill.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, echo_json
from ce_drill.cli.timescale import rules_time_scale
from ce_drill.plan.timing import MIN_SCRAPE_INTERVAL_S
from ce_drill.rules.config import CHANNEL_PLACEHOLDER, DEFAULT_WEBHOOK_URL
from ce_drill.rules.generate import RULE_FILES, RuleSet, build, write
from ce_drill.rules.promtool import ToolMissingError, check_generated
from sim.playbook import Playbook, bundled_path
from sim.units import parse_duration

DEFAULT_OUT = Path("build/rules")
F = TypeVar("F", bound=Callable[..., Any])


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A wall-time duration option (``1s``, ``500ms``, ``15``) in seconds."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}", ctx, param) from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r}: must be positive", ctx, param)
    return seconds


def _common(command: F) -> F:
    options = [
        click.option(
            "--playbook",
            "playbook_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Playbook to generate from (default: the bundled manual).",
        ),
        rules_time_scale(),
        click.option(
            "--scrape-interval",
            callback=_duration,
            metavar="DURATION",
            help="Scrape/evaluation interval in wall time, e.g. 1s "
            f"(default: the world's evaluation interval divided by the time scale, at least {MIN_SCRAPE_INTERVAL_S:g}s).",
        ),
        click.option(
            "--webhook-url",
            default=DEFAULT_WEBHOOK_URL,
            metavar="URL",
            show_default=True,
            help=f"Where every receiver posts; {CHANNEL_PLACEHOLDER} is replaced by the channel name.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _build(
    playbook_file: Path | None, time_scale: float, scrape_interval: float | None, webhook_url: str
) -> RuleSet:
    path = playbook_file if playbook_file is not None else bundled_path()
    return build(
        Playbook.load(path),
        scale=time_scale,
        scrape_interval_s=scrape_interval,
        webhook_url=webhook_url,
        origin=str(path),
    )


@click.group("rules")
def group() -> None:
    """Prometheus rules, their promtool tests and Alertmanager routes, from the playbook."""


@group.command()
@_common
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Directory to write into.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest instead of a summary.")
def generate(
    *,
    playbook_file: Path | None,
    time_scale: float,
    scrape_interval: float | None,
    webhook_url: str,
    out: Path,
    as_json: bool,
) -> None:
    """Write recording and alerting rules, their promtool tests, an Alertmanager
    config and a PrometheusRule manifest into --out."""
    ruleset = _build(playbook_file, time_scale, scrape_interval, webhook_url)
    paths = write(ruleset.files(), out)
    if as_json:
        echo_json(ruleset.manifest())
        return
    counts = ruleset.counts()
    click.echo(
        f"{counts['recording_rules']} recording rules, {counts['alerting_rules']} alerting rules "
        f"({counts['detection_alerts']} detection, {counts['matrix_alerts']} matrix), "
        f"{counts['alert_tests'] + counts['recording_tests']} promtool test groups, "
        f"{counts['routes']} routes to {counts['receivers']} receivers "
        f"(time scale {time_scale:g}, evaluation every {ruleset.timing.scrape_ms / 1000:g}s)"
    )
    for path in paths:
        click.echo(f"  {path}")


@group.command("test")
@_common
@click.option(
    "--rules-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Test the rule files in DIR (e.g. deployed or edited ones) instead of freshly generated "
    "ones, against tests generated from the playbook.",
)
@click.pass_context
def test_rules(
    ctx: click.Context,
    *,
    playbook_file: Path | None,
    time_scale: float,
    scrape_interval: float | None,
    webhook_url: str,
    rules_dir: Path | None,
) -> None:
    """Generate afresh into a temporary directory and run promtool check rules,
    promtool test rules and amtool check-config; exit 1 if any fails."""
    ruleset = _build(playbook_file, time_scale, scrape_interval, webhook_url)
    with tempfile.TemporaryDirectory(prefix="ce-drill-rules-") as tmp:
        work = Path(tmp)
        write(ruleset.files(), work)
        if rules_dir is not None:
            for name in RULE_FILES:
                if not (rules_dir / name).is_file():
                    raise click.BadParameter(f"{rules_dir / name} does not exist", param_hint="--rules-dir")
                shutil.copyfile(rules_dir / name, work / name)
        try:
            results = check_generated(work)
        except ToolMissingError as exc:
            click.echo(f"ce-drill: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
    failed = False
    for result in results:
        click.echo(f"{result.title}: {'ok' if result.ok else 'FAILED'}")
        if not result.ok:
            failed = True
            click.echo(result.output, err=True)
    if failed:
        ctx.exit(EXIT_FAILED)
