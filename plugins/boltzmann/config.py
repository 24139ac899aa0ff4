"""Named configurations of the Boltzmann families (plain dicts of `__init__` keyword arguments)
and their training recipes. No torch here.

SMALL configs are what the bundled weights were trained with, on the digits train split at
16x16 (bilinear upsampling of the 8x8 originals; the ssRBM uses the 8x8 originals): binarised at 0.5 for Bernoulli visibles,
standardised (per-pixel mean, one global scale) for the Gaussian ones. PAPER configs are the
papers' MNIST-sized models; they instantiate but were not trained here.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "rbm": {
        # Salakhutdinov & Murray 2008 / Hinton 2002: 784-500 on MNIST
        "paper": {"image_size": 28, "hidden": 500},
        "small": {"image_size": 16, "hidden": 500},
        "tiny": {"image_size": 4, "hidden": 6},
    },
    "gbrbm": {
        # Cho, Ilin & Raiko 2011 train on 28x28-ish natural image patches with hundreds of hiddens
        "paper": {"image_size": 28, "hidden": 500},
        "small": {"image_size": 16, "hidden": 256},
        "tiny": {"image_size": 4, "hidden": 6},
    },
    "crbm": {
        "paper": {"image_size": 28, "hidden": 500, "num_classes": 10},
        "small": {"image_size": 16, "hidden": 400, "num_classes": 10},
        "tiny": {"image_size": 4, "hidden": 6, "num_classes": 10},
    },
    "ssrbm": {
        # Courville et al. 2011 (CIFAR-10 patches): a few hundred spike/slab pairs
        "paper": {"image_size": 28, "hidden": 500},
        # 8x8: the Gaussian solve per sample stays cheap; slab precisions fixed at 1, slab means
        # started at 1 (at mu = 0 the model is symmetric under v -> -v and the spikes stay idle)
        "small": {"image_size": 8, "hidden": 128, "init_precision": 5.0, "init_std": 0.05,
                  "learn_alpha": False, "init_mu": 1.0},
        "tiny": {"image_size": 4, "hidden": 6},
    },
    "convrbm": {
        # Lee et al. 2009, first layer: 24 groups of 10x10 filters, pooling 2x2 (here on 28x28 images
        # to keep the paper's shapes: 19x19 maps would not pool by 2, so 11x11 filters -> 18x18)
        "paper": {"image_size": 28, "filters": 24, "filter_size": 11, "pool": 2},
        "small": {"image_size": 16, "filters": 32, "filter_size": 9, "pool": 2},
        "tiny": {"image_size": 4, "filters": 2, "filter_size": 3, "pool": 2},
    },
    "dbm": {
        # Salakhutdinov & Hinton 2009: 784-500-1000 on MNIST
        "paper": {"image_size": 28, "hidden1": 500, "hidden2": 1000},
        "small": {"image_size": 16, "hidden1": 300, "hidden2": 300},
        "tiny": {"image_size": 3, "hidden1": 4, "hidden2": 3},
    },
    "dbn": {
        # Hinton, Osindero & Teh 2006: 784-500-500-2000 (without the label units)
        "paper": {"image_size": 28, "hidden": [500, 500, 2000]},
        "small": {"image_size": 16, "hidden": [256, 200, 400]},
        "tiny": {"image_size": 3, "hidden": [4, 3, 3]},
    },
}

# Adam on the CD/PCD gradient of the free energy; `k` Gibbs sweeps per update; `persistent`
# keeps `chains` fantasy particles between updates (Tieleman 2008). AIS: chains x betas.
BASE_RECIPE: dict[str, Any] = {"lr": 1e-3, "batch_size": 64, "epochs": 200, "k": 1, "persistent": True,
                               "chains": 100, "weight_decay": 1e-4, "ais_chains": 100, "ais_betas": 10000}
TINY_RECIPE: dict[str, Any] = {**BASE_RECIPE, "epochs": 1, "batch_size": 16, "chains": 8,
                               "ais_chains": 8, "ais_betas": 50}

RECIPES: dict[str, dict[str, Any]] = {
    "rbm": {**BASE_RECIPE, "epochs": 300},
    "gbrbm": {**BASE_RECIPE, "lr": 5e-4, "epochs": 300},
    "crbm": {**BASE_RECIPE, "epochs": 300},
    "ssrbm": {**BASE_RECIPE, "epochs": 150},
    "convrbm": {**BASE_RECIPE, "epochs": 100, "sparsity": 0.0, "sparsity_target": 0.05},
    "dbm": {**BASE_RECIPE, "pretrain_epochs": 60, "epochs": 120, "lr": 5e-4, "mean_field_steps": 10},
    "dbn": {**BASE_RECIPE, "epochs": 200},
}


def get_config(family: str, name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config(family, CONFIGS.get(family, {}), name_or_config)


def get_recipe(family: str, name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    if name_or_config == "tiny":
        return dict(TINY_RECIPE)
    return dict(RECIPES[family])
