"""Named hyperparameter configs ("paper", "small", "tiny") as every plugin's config.py keeps them."""
from __future__ import annotations

import copy
from typing import Any, Mapping

from .errors import BadInputError


def pick_config(family: str, configs: Mapping[str, Mapping[str, Any]],
                name_or_config: str | Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the named config, or of the dict given; a clear error lists the names."""
    if isinstance(name_or_config, Mapping):
        return copy.deepcopy(dict(name_or_config))
    try:
        return copy.deepcopy(dict(configs[name_or_config]))
    except KeyError:
        raise BadInputError(f"unknown {family} config {name_or_config!r}; choose one of: "
                            f"{', '.join(configs)}") from None
