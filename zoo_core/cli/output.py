"""Terminal output helpers: tables, JSON, sizes, progress bars (no torch)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import click


def human_size(n: int | float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def show_progress(quiet: bool) -> bool:
    """Bars only for a person watching: not with --quiet, not when stderr is piped."""
    return not quiet and sys.stderr.isatty()


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr (a no-op object when disabled)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, file=sys.stderr,
                leave=False)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically (see zoo_core.atomic)."""
    from ..atomic import write_bytes_atomic

    write_bytes_atomic(path, text.encode("utf-8"))
