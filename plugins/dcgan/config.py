"""Named DCGAN configurations (plain dicts of `DCGAN.__init__` keyword arguments; no torch).

``ndf`` sizes the discriminator, which is training state only: the published model holds the
generator, and the trainer builds the discriminator from the same config.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's LSUN bedrooms model (Fig. 1): z (100) -> 4x4x1024 -> 8x8x512 -> 16x16x256
# -> 32x32x128 -> 64x64x3.
PAPER: dict[str, Any] = {"image_size": 64, "channels": 3, "nz": 100, "ngf": 128, "ndf": 128}

# 32x32 grey digits, trained here on CPU: z (100) -> 4x4x128 -> 8x8x64 -> 16x16x32 -> 32x32x1.
SMALL: dict[str, Any] = {"image_size": 32, "channels": 1, "nz": 100, "ngf": 32, "ndf": 32}

# For tests: seconds to build and train a step.
TINY: dict[str, Any] = {"image_size": 16, "channels": 1, "nz": 8, "ngf": 8, "ndf": 8}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# Training recipe from the paper (section 4): Adam, lr 2e-4, beta1 0.5, batch 128. The digits
# split has only 1,437 images, so SMALL uses batches of 64 for more updates per epoch.
TRAINING: dict[str, Any] = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 128, "epochs": 25}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    "small": {**TRAINING, "batch_size": 64, "epochs": 100},
    "tiny": {**TRAINING, "batch_size": 8, "epochs": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("dcgan", CONFIGS, name_or_config)
