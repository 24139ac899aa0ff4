"""Named WGAN-GP configurations (plain dicts of `WGANGP.__init__` keyword arguments; no torch).

``ndf`` and ``critic_norm`` size the critic, which is training state only: the published model
holds the generator, and the trainer builds the critic from the same config.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's CIFAR-10 DCGAN-style model (its released gan_cifar.py, DIM = 128):
# z (128) -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x3; critic 3 -> 128 -> 256 -> 512 -> 1.
# The paper recommends layer normalisation in the critic as a drop-in for batch norm.
PAPER: dict[str, Any] = {"image_size": 32, "channels": 3, "nz": 128, "ngf": 128, "ndf": 128,
                         "critic_norm": "layernorm"}

# 16x16 grey digits (the 8x8 originals upsampled; 32x32 is too slow to train on a shared CPU
# core with 5 critic steps per generator step): z (100) -> 4x4x64 -> 8x8x32 -> 16x16x1;
# critic 1 -> 32 -> 64 (layer norm) -> 1.
SMALL: dict[str, Any] = {"image_size": 16, "channels": 1, "nz": 100, "ngf": 32, "ndf": 32,
                         "critic_norm": "layernorm"}

# For tests: seconds to build and train a step.
TINY: dict[str, Any] = {"image_size": 16, "channels": 1, "nz": 8, "ngf": 8, "ndf": 8,
                        "critic_norm": "layernorm"}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# Algorithm 1 of the paper: lambda = 10, n_critic = 5, Adam(1e-4, beta1 0, beta2 0.9), batch 64,
# 200k generator iterations (gan_cifar.py: 1,280 passes of the critic over CIFAR-10). An epoch
# here is one pass of the critic over the data, i.e. N / (batch * n_critic) generator iterations.
TRAINING: dict[str, Any] = {"lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "batch_size": 64,
                            "n_critic": 5, "gp_lambda": 10.0, "epochs": 1280}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    # a few minutes of CPU: twice the paper's learning rate and half its batch for more updates
    "small": {**TRAINING, "lr": 2e-4, "batch_size": 32, "epochs": 300},
    "tiny": {**TRAINING, "batch_size": 4, "epochs": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("wgan-gp", CONFIGS, name_or_config)
