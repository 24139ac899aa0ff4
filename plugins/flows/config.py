"""Named flow configurations (plain dicts of each model's ``__init__`` keyword arguments; no torch).

PAPER: the papers' CIFAR-10 / MNIST models, 8-bit pixels (they instantiate; not trained here).
SMALL: trained here on CPU, on the digits at their native 8x8 resolution with their native
K = 17 grey levels (dequantize.py). We tried 16x16 (bilinearly upsampled) for RealNVP and Glow
first: within the 8-minute CPU budget their samples stayed blurry blobs, while 8x8 models
learn recognisable digits in the same time.
TINY: for tests (1x4x4 images).
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "realnvp": {
        # Dinh et al. (2017) sec. 4.1: CIFAR-10 with 8 residual blocks of 64 feature maps,
        # downscaling once (two scales), logit alpha 0.05.
        "paper": {"image_size": 32, "channels": 3, "num_scales": 2, "hidden": 64, "num_blocks": 8,
                  "alpha": 0.05, "num_bins": 256},
        "small": {"image_size": 8, "channels": 1, "num_scales": 2, "hidden": 32, "num_blocks": 2,
                  "alpha": 0.05, "num_bins": 17},
        "tiny": {"image_size": 4, "channels": 1, "num_scales": 2, "hidden": 8, "num_blocks": 1,
                 "alpha": 0.05, "num_bins": 17},
    },
    "glow": {
        # Kingma & Dhariwal (2018) sec. 5 / their code for CIFAR-10: L = 3 levels of K = 32 steps,
        # 512-channel coupling networks, affine coupling, LU 1x1 convolutions, learned top prior.
        "paper": {"image_size": 32, "channels": 3, "num_levels": 3, "depth": 32, "hidden": 512,
                  "coupling": "affine", "lu_decomposed": True, "learn_prior": True,
                  "alpha": 0.05, "num_bins": 256},
        "small": {"image_size": 8, "channels": 1, "num_levels": 2, "depth": 8, "hidden": 128,
                  "coupling": "affine", "lu_decomposed": True, "learn_prior": True,
                  "alpha": 0.05, "num_bins": 17},
        "tiny": {"image_size": 4, "channels": 1, "num_levels": 2, "depth": 2, "hidden": 8,
                 "coupling": "affine", "lu_decomposed": True, "learn_prior": True,
                 "alpha": 0.05, "num_bins": 17},
    },
    "maf": {
        # Papamakarios et al. (2017) MNIST, the authors' code: 5 MADEs of 2 hidden layers of 1024
        # ReLU units, batch norm between them, logit lambda 1e-6.
        "paper": {"image_size": 28, "channels": 1, "num_layers": 5, "hidden_sizes": [1024, 1024],
                  "batch_norm": True, "alpha": 1e-6, "num_bins": 256},
        "small": {"image_size": 8, "channels": 1, "num_layers": 5, "hidden_sizes": [192, 192],
                  "batch_norm": True, "alpha": 0.05, "num_bins": 17},
        "tiny": {"image_size": 4, "channels": 1, "num_layers": 2, "hidden_sizes": [16],
                 "batch_norm": True, "alpha": 0.05, "num_bins": 17},
    },
}

# Adam for all; RealNVP uses L2 5e-5 (sec. 4.1). RealNVP and Glow use lr 2e-3 here (both papers:
# 1e-3): in our runs the higher rate reached lower bits/dim within the CPU budget. ``max_seconds`` stops training at the end of the
# epoch that passes it (the machine is shared; the report records the epochs actually run, and
# `--epochs N` runs exactly N, reproducibly).
TRAINING: dict[str, dict[str, Any]] = {
    "realnvp": {"lr": 2e-3, "weight_decay": 5e-5, "batch_size": 64, "epochs": 40, "warmup_steps": 50,
                "grad_clip": 100.0, "max_seconds": 450},
    "glow": {"lr": 2e-3, "weight_decay": 0.0, "batch_size": 64, "epochs": 40, "warmup_steps": 50,
             "grad_clip": 50.0, "max_seconds": 450},
    "maf": {"lr": 1e-3, "weight_decay": 1e-6, "batch_size": 100, "epochs": 60, "warmup_steps": 0,
            "grad_clip": 100.0, "max_seconds": 450},
}
TINY_TRAINING: dict[str, Any] = {"batch_size": 8, "epochs": 1, "warmup_steps": 0, "max_seconds": None}


def get_config(family: str, name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config of `family` (or of the dict given)."""
    return pick_config(family, CONFIGS.get(family, {}), name_or_config)


def get_training(family: str, name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """The training recipe for a named config (a dict config gets the family's SMALL recipe)."""
    recipe = dict(TRAINING[family])
    if name_or_config == "tiny":
        recipe.update(TINY_TRAINING)
    return recipe
