"""`zoo install` / `zoo uninstall`: pip in zoo's own environment, as `llm install` does."""
from __future__ import annotations

import subprocess
import sys

import click


def _pip(args: list[str]) -> None:
    from ..errors import ZooError

    code = subprocess.call([sys.executable, "-m", "pip", *args])
    if code != 0:
        raise ZooError(f"pip {args[0]} failed (exit {code}); see pip's output above")


@click.command("install", context_settings={"ignore_unknown_options": True})
@click.argument("packages", nargs=-1, required=True)
@click.option("-e", "--editable", is_flag=True, help="Install a local plugin folder in editable mode.")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade if already installed.")
def install_command(packages: tuple[str, ...], editable: bool, upgrade: bool) -> None:
    """Install plugin PACKAGES into the environment zoo runs in."""
    args = ["install", *(["--upgrade"] if upgrade else [])]
    for p in packages:
        args += ["-e", p] if editable else [p]
    _pip(args)


@click.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall_command(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugin PACKAGES from the environment zoo runs in."""
    _pip(["uninstall", *(["-y"] if yes else []), *packages])
