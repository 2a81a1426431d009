"""The ``ce-drill`` command line: one thin module per command group.

Exit codes are a contract other tools rely on: 0 when every check is met,
1 when a check or drill failed, 2 for bad input or usage (one line naming the
file, line and field; a traceback only with ``--debug``).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ce_drill import __version__
from ce_drill.cli.common import EXIT_BAD_INPUT, CliState
from sim.errors import InputError


class _Root(click.Group):
    """Turns bad input into one line on stderr and exit 2, unless --debug asks for the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            state = ctx.find_object(CliState)
            if state is not None and state.debug:
                raise
            click.echo(f"ce-drill: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ce-drill")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Check an incident-response manual's promises: simulated and for real."""
    ctx.obj = CliState(debug=debug)


def _register() -> None:
    from ce_drill.cli import forecast, playbook, rules, run, simulate, tabletop
    from ce_drill.cli.gameday import command as gameday_command
    from ce_drill.cli.stack import group as stack_group

    cli.add_command(playbook.group)
    cli.add_command(rules.group)
    cli.add_command(simulate.command)
    cli.add_command(tabletop.group)
    cli.add_command(stack_group)
    cli.add_command(forecast.command)
    cli.add_command(run.command)
    cli.add_command(gameday_command)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="ce-drill", standalone_mode=True))
