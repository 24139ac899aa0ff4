"""`zoo list`, `zoo info`, `zoo plugins`: read the catalog, never import torch."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import click

from .output import human_size, print_json, print_table


def _catalog():
    from ..catalog import get_catalog

    return get_catalog()


def _pulled(spec) -> bool:
    from .. import hub

    return hub.snapshot_path(spec) is not None


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--task", help="Only models of this task, e.g. unconditional-image.")
@click.option("--family", help="Only models of this family, e.g. dcgan.")
@click.option("--pulled", is_flag=True, help="Only models whose files are in the local cache.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(pattern: str | None, task: str | None, family: str | None, pulled: bool,
                 as_json: bool) -> None:
    """List catalog models, optionally matching a glob PATTERN (e.g. '*gan*')."""
    rows = []
    for spec in _catalog().list(pattern, task=task, family=family):
        is_pulled = _pulled(spec)
        if pulled and not is_pulled:
            continue
        rows.append({"name": spec.name, "family": spec.family, "task": spec.task,
                     "dataset": spec.dataset, "size": spec.total_size, "default": spec.default,
                     "pulled": is_pulled})
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no models match", err=True)
        return
    print_table(["name", "family", "task", "dataset", "size", "pulled"],
                [[r["name"], r["family"], r["task"], r["dataset"], human_size(r["size"]),
                  "yes" if r["pulled"] else "no"] for r in rows])


BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def count_parameters(safetensors_file: Path) -> int | None:
    """Parameter count from a safetensors header (no torch, no weights read).

    Normalisation statistics are buffers, not parameters, and are left out.
    """
    try:
        with open(safetensors_file, "rb") as fh:
            (header_len,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(header_len))
    except (OSError, ValueError, struct.error):
        return None
    total = 0
    for key, meta in header.items():
        if key == "__metadata__" or key.endswith(BUFFER_SUFFIXES):
            continue
        count = 1
        for dim in meta.get("shape", []):
            count *= int(dim)
        total += count
    return total


def model_card(name: str) -> dict[str, Any]:
    """Everything `zoo info` shows about one model."""
    from .. import hub

    spec = _catalog().resolve(name)
    path = hub.snapshot_path(spec)
    params = None
    if path is not None and (path / "model.safetensors").exists():
        params = count_parameters(path / "model.safetensors")
    card = spec.to_dict()
    card.update(pulled=path is not None, path=str(path) if path else None, parameters=params,
                size=spec.total_size)
    return card


@click.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def info_command(name: str, as_json: bool) -> None:
    """Show the model card of NAME: family, paper, data, files, metrics."""
    card = model_card(name)
    if as_json:
        print_json(card)
        return
    params = f"{card['parameters']:,}" if card["parameters"] is not None else "unknown until pulled"
    lines = [
        ("name", card["name"]), ("family", card["family"]), ("task", card["task"]),
        ("description", card["description"]), ("paper", card["paper"]),
        ("dataset", card["dataset"]), ("license", card["license"]), ("parameters", params),
        ("repo", f"{card['repo_id']} @ {card['revision']}"),
        ("pulled", f"yes ({card['path']})" if card["pulled"] else "no"),
    ]
    for key, value in lines:
        if value:
            click.echo(f"{key + ':':<13}{value}")
    click.echo("files:")
    for fname, meta in card["files"].items():
        click.echo(f"  {fname:<22}{human_size(meta['size']):>10}  sha256:{meta['sha256']}")
    click.echo("metrics:" + ("" if card["metrics"] else " none measured yet"))
    for key, value in card["metrics"].items():
        click.echo(f"  {key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins: distribution, version, families, models and load errors."""
    records = _catalog().plugins
    data = [r.to_dict() for r in records]
    if as_json:
        print_json(data)
        return
    for r in data:
        head = f"{r['name']}  ({r['distribution'] or '?'} {r['version']})".rstrip()
        click.echo(head + ("  [built-in]" if r["builtin"] else ""))
        if r["families"]:
            click.echo(f"  families: {', '.join(r['families'])}")
        if r["models"]:
            click.echo(f"  models:   {', '.join(r['models'])}")
        for err in r["errors"]:
            click.echo(f"  error:    {err}")
