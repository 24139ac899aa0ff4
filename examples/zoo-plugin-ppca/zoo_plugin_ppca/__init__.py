"""zoo-plugin-ppca: probabilistic PCA (Tipping & Bishop, 1999) as a third-party zoo plugin.

zoo finds this module through the ``zoo.plugins`` entry point in pyproject.toml and calls the
hooks below. They must stay cheap and must not import torch: `zoo list` and `zoo plugins` load
every plugin. The model code is named by import path ("zoo_plugin_ppca.model:PPCA") and
imported only when a model is built.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

__version__ = "0.1.0"

PAPER_URL = "https://doi.org/10.1111/1467-9868.00196"  # Tipping & Bishop, JRSS B 61(3), 1999
MODELS_FILE = "models.json"  # written by publish.py; pins the published weights by content


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="ppca",
            model_class="zoo_plugin_ppca.model:PPCA",
            tasks=("unconditional-image", "density-estimation"),
            paper=PAPER_URL,
            description=("Probabilistic PCA: a linear-Gaussian latent variable model "
                         "x = W z + mu + sigma eps, fitted in closed form; exact log-likelihood"),
            trainer="zoo_plugin_ppca.fit:train",
        )
    ]


@hookimpl
def zoo_models() -> dict[str, dict[str, Any]]:
    """Catalog entries, read from the JSON file shipped in this package (nothing computed here)."""
    text = resources.files(__name__).joinpath(MODELS_FILE).read_text(encoding="utf-8")
    return json.loads(text)
