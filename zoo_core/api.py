"""Small catalog helpers for code: list, look up, pull (no torch)."""
from __future__ import annotations

from pathlib import Path

from .catalog import get_catalog
from .spec import ModelSpec


def list_models(pattern: str | None = None, *, task: str | None = None,
                family: str | None = None, pulled: bool | None = None) -> list[str]:
    """Catalog names matching a glob (e.g. "*gan*"), optionally filtered."""
    from . import hub

    specs = get_catalog().list(pattern, task=task, family=family)
    if pulled is not None:
        specs = [s for s in specs if hub.is_pulled(s) == pulled]
    return [s.name for s in specs]


def get_spec(name: str) -> ModelSpec:
    """The catalog entry for a name ("dcgan" resolves to its default tag)."""
    return get_catalog().resolve(name)


def pull(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Download and verify a model's files; returns the snapshot folder."""
    from . import hub

    return hub.pull(get_spec(name), force=force, progress=progress)
