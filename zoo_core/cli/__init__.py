"""The `zoo` command line. Importing it, `zoo --help` and `zoo list` never import torch."""
from __future__ import annotations

import os
import sys

import click

from ..errors import ZooError
from .catalog_cmds import info_command, list_command, plugins_command
from .convert_cmd import convert_command
from .hub_cmds import cache_group, hub_group, pull_command, push_command
from .pip_cmds import install_command, uninstall_command
from .sample_cmd import sample_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zoo-models", prog_name="zoo")
def cli() -> None:
    """zoo: generative models with pretrained weights.

    \b
    zoo list                      models in the catalog
    zoo pull dcgan                download and verify weights
    zoo sample dcgan -n 64 -o digits.png
    """


for command in (list_command, info_command, pull_command, sample_command, plugins_command,
                cache_group, install_command, uninstall_command, push_command, hub_group, convert_command):
    cli.add_command(command)


def _add_lazy_commands() -> None:
    """The eval command and any plugin commands (via the zoo_commands hook)."""
    try:
        from .eval_cmd import eval_command
    except ImportError:
        pass
    else:
        cli.add_command(eval_command)
    from ..plugins import get_plugin_manager

    for _record, _ in get_plugin_manager().call("zoo_commands", cli=cli):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear line on stderr and a non-zero exit for every failure."""
    _add_lazy_commands()
    try:
        cli.main(args=argv, prog_name="zoo", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        click.echo(f"Error: {' '.join(exc.format_message().split())}{where}", err=True)
        return exc.exit_code
    except ZooError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("ZOO_DEBUG"):
            raise
        msg = " ".join(str(exc).split())
        click.echo(f"Error: unexpected {type(exc).__name__}: {msg} (set ZOO_DEBUG=1 for the traceback "
                   "and please report it)", err=True)
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
