"""Named StackGAN configurations (plain dicts of `StackGAN.__init__` keyword arguments; no
torch).

Sizes follow hanzhanggit/StackGAN-Pytorch's names: ``z_dim`` (Z_DIM), ``condition_dim``
(GAN.CONDITION_DIM, the conditioning augmentation's size), ``gf_dim`` (GAN.GF_DIM: Stage-II's
width; Stage-I is 8 * ``stage1_gf_dim`` wide at 4x4, and ``stage1_gf_dim`` defaults to
``gf_dim`` as in the original, where both stages read one config), ``df_dim`` (GAN.DF_DIM, the
discriminators; training state only), ``r_num`` (GAN.R_NUM, Stage-II residual blocks),
``text_dim`` (TEXT.DIMENSION, the sentence embedding read without a text encoder),
``stage1_size`` (Stage-I's image size) and ``image_size`` (Stage-II's).
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The DAMSM text encoder of the shapes line (zoo_core.blocks.text_encoder.SMALL, the size of the
# published damsm-shapes encoders), spelled out so config.json does not depend on a name.
SHAPES_TEXT_ENCODER: dict[str, Any] = {"ninput": 128, "nhidden": 128, "nlayers": 1, "drop_prob": 0.1,
                                       "bidirectional": True, "rnn_type": "LSTM"}

# The original's CUB birds (and COCO) models: cfg/birds_s2.yml / coco_s2.yml -- Z_DIM 100,
# CONDITION_DIM 128, GF_DIM 192, DF_DIM 96, R_NUM 2, char-CNN-RNN embeddings of 1024 values,
# Stage-I 64x64 -> Stage-II 256x256. The char-CNN-RNN encoder is not a PyTorch module, so this
# config reads sentence embeddings (``--embeddings FILE.npy``).
PAPER_BIRDS: dict[str, Any] = {"text_encoder": None, "text_dim": 1024, "z_dim": 100, "condition_dim": 128,
                               "gf_dim": 192, "df_dim": 96, "r_num": 2, "stage1_size": 64, "image_size": 256}
PAPER_COCO: dict[str, Any] = dict(PAPER_BIRDS)

# Trained here on the shapes data, conditioned on the frozen DAMSM sentence feature (128 values):
# Stage-I 32x32 (4x4x128 -> 8x8x64 -> 16x16x32 -> 32x32x16) and Stage-II 64x64 (the Stage-I
# image encoded to 8x8x64, joined with the condition, two residual blocks, then 16x16x32 ->
# 32x32x16 -> 64x64x8); z 64 and a 64-value condition, to fit the CPU budget and ~3 MB.
SMALL: dict[str, Any] = {"text_encoder": SHAPES_TEXT_ENCODER, "z_dim": 64, "condition_dim": 64, "gf_dim": 16,
                         "df_dim": 16, "r_num": 2, "stage1_size": 32, "image_size": 64}

# For tests: seconds to build and train a step (Stage-I 16x16 -> Stage-II 32x32).
TINY: dict[str, Any] = {"text_encoder": "tiny", "z_dim": 8, "condition_dim": 8, "gf_dim": 4, "df_dim": 4,
                        "r_num": 1, "stage1_size": 16, "image_size": 32}

CONFIGS: dict[str, dict[str, Any]] = {"paper-birds": PAPER_BIRDS, "paper-coco": PAPER_COCO, "paper": PAPER_BIRDS,
                                      "small": SMALL, "tiny": TINY}

# The original recipe (trainer.py, cfg/birds_s1.yml / birds_s2.yml): Adam lr 2e-4 for G and D,
# beta1 0.5, KL coefficient 2.0, lr halved every LR_DECAY_EPOCH, Stage-I trained first, then
# Stage-II with Stage-I frozen. The shapes run splits a wall-clock budget between the stages.
TRAINING: dict[str, Any] = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "kl_coeff": 2.0, "batch_size": 64,
                            "stage1_epochs": 120, "stage2_epochs": 120, "stage1_seconds": None,
                            "stage2_seconds": None}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper-birds": TRAINING, "paper-coco": TRAINING, "paper": TRAINING,
    # KL weight 0.1, ramped up from 0 over the first 1,500 steps of each stage: with ~30 CPU
    # minutes, the original 2.0 from the first step drove the CA means (a ReLU output) to 0 before
    # the discriminator had learnt to tell matching pairs, and once at 0 they stay there, so the
    # condition was noise and the samples ignored their captions
    "small": {**TRAINING, "kl_coeff": 0.1, "kl_warmup": 1500, "batch_size": 32, "stage1_epochs": 60, "stage2_epochs": 60,
              "stage1_seconds": 12 * 60, "stage2_seconds": 15 * 60},
    "tiny": {**TRAINING, "batch_size": 8, "stage1_epochs": 1, "stage2_epochs": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("stackgan", CONFIGS, name_or_config)
