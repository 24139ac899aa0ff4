"""Named GAN-INT-CLS configurations (plain dicts of `GANINTCLS.__init__` keyword arguments; no
torch).

``ndf`` sizes the matching-aware discriminator, which is training state only: the published
model holds the generator (and its frozen text encoder); the trainer builds the discriminator
from the same config.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The DAMSM text encoder of the shapes line (zoo_core.blocks.text_encoder.SMALL, the size of the
# published damsm-shapes encoders), spelled out so config.json does not depend on a name.
SHAPES_TEXT_ENCODER: dict[str, Any] = {"ninput": 128, "nhidden": 128, "nlayers": 1, "drop_prob": 0.1,
                                       "bidirectional": True, "rnn_type": "LSTM"}

# reedscot/icml2016 main_cls_int.lua (CUB / Oxford flowers): char-CNN-RNN embedding of 1024
# values projected to nt = 128, z of 100, ngf 128, ndf 64, 64x64 images. No text encoder here:
# the original's char-CNN-RNN is a Torch7 model, so this config reads sentence embeddings.
PAPER: dict[str, Any] = {"text_encoder": None, "text_dim": 1024, "image_size": 64, "nz": 100, "nt": 128,
                         "ngf": 128, "ndf": 64}

# Trained here on the shapes data (64x64 RGB), conditioned on the frozen DAMSM sentence feature
# (128 values) instead of char-CNN-RNN. Narrower everywhere to fit a CPU budget and a ~3 MB
# weights file: z 64, text projection 64, ngf 16 (4x4x128 -> 8x8x64 -> 16x16x32 -> 32x32x16).
SMALL: dict[str, Any] = {"text_encoder": SHAPES_TEXT_ENCODER, "image_size": 64, "nz": 64, "nt": 64,
                         "ngf": 16, "ndf": 16}

# For tests: seconds to build and train a step.
TINY: dict[str, Any] = {"text_encoder": "tiny", "image_size": 64, "nz": 8, "nt": 8, "ngf": 4, "ndf": 4}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# The original recipe (main_cls_int.lua, scripts/train_cub.sh): Adam lr 2e-4, beta1 0.5,
# batch 64, cls_weight 0.5 (D: real/right + 0.5 (real/wrong + fake/right)), interp_weight 1 with
# beta 0.5 (the mean of two captions' embeddings), lr halved every 100 epochs, 600 epochs.
TRAINING: dict[str, Any] = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 64, "epochs": 600,
                            "cls_weight": 0.5, "interp_weight": 1.0, "interp_beta": 0.5,
                            "max_seconds": None}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    # the shapes set has 8,000 images; on a shared CPU, batches of 32 give more updates and a
    # wall-clock cap keeps the run inside the budget
    "small": {**TRAINING, "batch_size": 32, "epochs": 60, "max_seconds": 27 * 60},
    "tiny": {**TRAINING, "batch_size": 8, "epochs": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("gan-int-cls", CONFIGS, name_or_config)
