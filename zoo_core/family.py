"""Family: what a plugin contributes for one model family, by import path (no torch here)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .lazy import import_object


@dataclass(frozen=True)
class Family:
    """A model family: its model class and the samplers that fit it.

    ``model_class`` is an import path ("pkg.module:Class") to a `GenerativeModel` subclass;
    ``trainer`` and ``converter`` are optional import paths to callables.
    """

    name: str
    model_class: str
    tasks: tuple[str, ...] = ()
    description: str = ""
    paper: str = ""
    trainer: str | None = None
    converter: str | None = None
    plugin: str = ""  # filled in by the plugin manager
    extra: dict[str, Any] = field(default_factory=dict)

    def load_class(self) -> Any:
        """Import and return the model class (this imports torch)."""
        return import_object(self.model_class)
