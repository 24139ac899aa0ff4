"""Named MirrorGAN configurations (plain dicts of `MirrorGAN.__init__` keyword arguments; no torch).

The generator (GLAM) has AttnGAN's layout with ``GLAttentionGeneral`` stages, so the sizes are
AttnGAN's; STREAM (the captioner) is training state with its own sizes below.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's CUB birds model (qiaott/MirrorGAN cfg/train_bird.yml: 3 stages, GF_DIM 32, Z_DIM
# 100, CONDITION_DIM 100, EMBEDDING_DIM 256, R_NUM 2, DF_DIM 64).
# Its G_NET has 7,105,392 parameters (the paper's "7.11M"), derived from the original layers:
#   AttnGAN's G_NET at the same sizes                                   7,084,592
#   + per attentional stage (2 of them, ngf = 32, CA size 100):
#       GLAttentionGeneral.conv_sentence_vis  1x1 conv 32 -> 32, no bias    1,024
#       GLAttentionGeneral.linear             Linear(100, 32) with bias     3,232
#       NEXT_STAGE_G.conv                     1x1 conv 96 -> 64, no bias    6,144
#                                                                  = 10,400 x 2 = 20,800
#   = 7,105,392.
PAPER: dict[str, Any] = {"text_encoder": "paper-cub", "max_words": 18, "z_dim": 100, "ncf": 100, "ngf": 32,
                         "branch_num": 3, "r_num": 2, "init_size": 64, "ndf": 64}

# Trained here on CPU (64x64 shapes): AttnGAN's SMALL layout (32x32 then 64x64, ngf 16, two
# residual blocks, CA 64, text features x8), so it can start from a trained AttnGAN generator.
SMALL: dict[str, Any] = {"text_encoder": "small", "max_words": 18, "z_dim": 64, "ncf": 64, "ngf": 16,
                         "branch_num": 2, "r_num": 2, "init_size": 32, "ndf": 16, "text_scale": 8.0}

# For tests: the original layout (64x64, then 128x128) at toy widths.
TINY: dict[str, Any] = {"text_encoder": "tiny", "max_words": 18, "z_dim": 8, "ncf": 8, "ngf": 4,
                        "branch_num": 2, "r_num": 1, "init_size": 64, "ndf": 4}

CONFIGS: dict[str, dict[str, Any]] = {"paper-cub": PAPER, "small": SMALL, "tiny": TINY}

# STREAM, the re-description model. The paper's: a ResNet-152 (ImageNet-pretrained, frozen) with
# a linear layer and batch norm to a 256-d image feature (CAPTION_CNN), and an LSTM decoder of 512
# units (CAPTION_RNN). Here the frozen pretrained trunk is the DAMSM-shapes image encoder's
# convolutional trunk (64x64 -> 64 x 4 x 4), with a trainable linear + BN to 128 and an LSTM of
# 256 units, trained on the real shapes pairs. (The attribute classifier that scores the
# generator is a separate network.)
STREAM: dict[str, dict[str, Any]] = {
    "paper-cub": {"backbone": "resnet152", "embed_size": 256, "hidden_size": 512, "num_layers": 1},
    "small": {"trunk": "damsm", "widths": [32, 64, 128, 64], "embed_size": 128, "hidden_size": 256, "num_layers": 1},
    "tiny": {"trunk": "conv", "widths": [4, 4, 8, 8], "embed_size": 8, "hidden_size": 8, "num_layers": 1},
}

# Recipe (cfg/train_bird.yml): Adam lr 2e-4 (G and D), betas (0.5, 0.999), KL weight 1, STREAM
# caption loss weight LAMBDA1 = 10, no DAMSM term (LAMBDA 0), generator weights averaged.
TRAINING: dict[str, Any] = {"batch_size": 12, "lr_g": 2e-4, "lr_d": 2e-4, "caption_lambda": 10.0,
                            "kl_weight": 1.0, "ema": 0.999, "steps": None, "minutes": None, "bn_batches": 20,
                            "stream_steps": 1500, "stream_batch_size": 64, "stream_lr": 1e-3, "init_from": None,
                            "mode_seeking": 0.0, "d_warmup": 0,
                            "d_aux": 0.0, "g_aux": 0.0, "d_aux_pretrain": 0,
                            "soften": False}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper-cub": {**TRAINING, "steps": 650 * 738},  # 650 epochs of CUB at batch 12
    # CPU budget: about 28 minutes for GLAM, from scratch (a first run started from the first
    # AttnGAN run, init_from="runs/attngan-shapes", before text_scale was introduced)
    "small": {**TRAINING, "batch_size": 12, "minutes": 28.0, "ema": 0.99, "stream_steps": 3000,
              "init_from": None},
    "tiny": {**TRAINING, "batch_size": 4, "steps": 2, "ema": 0.5, "bn_batches": 1, "stream_steps": 2,
             "stream_batch_size": 8},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("mirrorgan", CONFIGS, name_or_config)
