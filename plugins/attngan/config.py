"""Named AttnGAN configurations (plain dicts of `AttnGAN.__init__` keyword arguments; no torch).

``ndf`` sizes the discriminators, which are training state only (not published).
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's CUB birds model (code/cfg/bird_attn2.yml): 3 stages (64, 128, 256), GF_DIM 32,
# Z_DIM 100, CONDITION_DIM 100, DAMSM text features of 256, R_NUM 2, DF_DIM 64, 18 words.
# Its G_NET has 7,084,592 parameters (the text encoder, 5450-word vocabulary, is separate).
PAPER: dict[str, Any] = {"text_encoder": "paper-cub", "max_words": 18, "z_dim": 100, "ncf": 100, "ngf": 32,
                         "branch_num": 3, "r_num": 2, "init_size": 64, "ndf": 64}

# Trained here on CPU for 64x64 shapes: two stages, 32x32 (4x4 and three upBlocks) then one
# attentional stage to 64x64, GF_DIM 16, two residual blocks (R_NUM as in the paper; the
# published weights had one until their last round, which grew the second with -K r_num=2),
# CA 64, DF_DIM 16, text features x8 (their norms are near 1; CUB DAMSM features are several
# times larger); the text encoder is the zoo's DAMSM-shapes encoder (nef 128) and `vocab` its
# vocabulary.
SMALL: dict[str, Any] = {"text_encoder": "small", "max_words": 18, "z_dim": 64, "ncf": 64, "ngf": 16,
                         "branch_num": 2, "r_num": 2, "init_size": 32, "ndf": 16, "text_scale": 8.0}

# For tests: the original layout (first stage 64x64, then 128x128) at toy widths.
TINY: dict[str, Any] = {"text_encoder": "tiny", "max_words": 18, "z_dim": 8, "ncf": 8, "ngf": 4,
                        "branch_num": 2, "r_num": 1, "init_size": 64, "ndf": 4}

CONFIGS: dict[str, dict[str, Any]] = {"paper-cub": PAPER, "small": SMALL, "tiny": TINY}

# Training recipe (code/cfg/bird_attn2.yml): Adam lr 2e-4 (G and D), betas (0.5, 0.999),
# batch 20, DAMSM weight LAMBDA 5, KL weight 1, generator weights averaged with 0.999.
TRAINING: dict[str, Any] = {"batch_size": 20, "lr_g": 2e-4, "lr_d": 2e-4, "damsm_lambda": 5.0,
                            "kl_weight": 1.0, "ema": 0.999, "steps": None, "minutes": None,
                            "bn_batches": 20, "mode_seeking": 0.0, "d_warmup": 0,
                            "d_aux": 0.0, "g_aux": 0.0, "d_aux_pretrain": 0,
                            "soften": False, "damsm_soften": False, "damsm_first": 0.0}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper-cub": {**TRAINING, "steps": 600 * 442},  # 600 epochs of CUB's 8,855 images
    # CPU budget: about 28 minutes of wall time; a shorter horizon for the weight average
    "small": {**TRAINING, "batch_size": 12, "minutes": 28.0, "ema": 0.99},
    "tiny": {**TRAINING, "batch_size": 4, "steps": 2, "ema": 0.5, "bn_batches": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("attngan", CONFIGS, name_or_config)
