"""Data sets: named loaders that plugins add through `zoo_datasets` (no torch at import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import BadInputError
from .lazy import import_object

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """A data set: ``loader(split, **kwargs)`` returns a float tensor of examples."""

    name: str
    loader: str  # "pkg.module:function"
    kind: str = "image"
    description: str = ""
    license: str = ""

    def load(self, split: str = "train", **kwargs: Any) -> Any:
        if split not in SPLITS:
            raise BadInputError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        return import_object(self.loader)(split, **kwargs)


def get_dataset(name: str) -> DatasetInfo:
    """Look a data set up by name in the catalog."""
    from .catalog import get_catalog

    datasets = get_catalog().datasets
    if name not in datasets:
        known = ", ".join(sorted(datasets)) or "none"
        raise BadInputError(f"unknown data set {name!r}; installed data sets: {known}")
    return datasets[name]


def load_dataset(name: str, split: str = "train", **kwargs: Any) -> Any:
    """Load split `split` of data set `name`."""
    return get_dataset(name).load(split, **kwargs)
