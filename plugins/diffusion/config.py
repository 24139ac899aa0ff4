"""Named DDPM and NCSN configurations (plain dicts of the models' `__init__` kwargs; no torch).

CPU training here is a few minutes per model, so SMALL configs work on 16x16 digits (the 8x8
originals upsampled); PAPER configs are the papers' CIFAR-10 models (32x32x3) and only need to
instantiate.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# --- DDPM (Ho, Jain & Abbeel 2020) ------------------------------------------------------------
# CIFAR-10 (Appendix B): ch 128, multipliers (1, 2, 2, 2), 2 ResBlocks per resolution,
# self-attention at 16x16, dropout 0.1, T = 1000, linear betas 1e-4 -> 0.02: 35.7M parameters.
DDPM_PAPER: dict[str, Any] = {
    "image_size": 32, "channels": 3, "ch": 128, "ch_mult": [1, 2, 2, 2], "num_res_blocks": 2,
    "attn_resolutions": [16], "dropout": 0.1, "groups": 32, "T": 1000, "schedule": "linear",
}
# 16x16 grey digits: two resolutions (16, 8), one ResBlock each, the single attention block
# in the middle at the lowest resolution (8x8); the paper's T = 1000 but the cosine schedule
# (Nichol & Dhariwal 2021): on images this small the linear one leaves almost pure noise over
# the last few hundred steps. No dropout (a short run does not overfit).
DDPM_SMALL: dict[str, Any] = {
    "image_size": 16, "channels": 1, "ch": 24, "ch_mult": [1, 2], "num_res_blocks": 1,
    "attn_resolutions": [], "dropout": 0.0, "groups": 8, "T": 1000, "schedule": "cosine",
}
DDPM_TINY: dict[str, Any] = {
    "image_size": 8, "channels": 1, "ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1,
    "attn_resolutions": [], "dropout": 0.0, "groups": 4, "T": 20, "schedule": "cosine",
}

# --- NCSN (Song & Ermon 2019) ------------------------------------------------------------------
# CIFAR-10 (Appendix B): a 4-cascaded RefineNet with conditional instance norm++ and dilated
# convolutions, ngf 128; L = 10 geometric noise levels from 1 to 0.01; annealed Langevin with
# T = 100 steps per level and eps = 2e-5.
NCSN_PAPER: dict[str, Any] = {
    "image_size": 32, "channels": 3, "ngf": 128, "num_classes": 10, "sigma_begin": 1.0,
    "sigma_end": 0.01, "steps_per_level": 100, "step_eps": 2e-5,
}
NCSN_SMALL: dict[str, Any] = {
    "image_size": 16, "channels": 1, "ngf": 12, "num_classes": 10, "sigma_begin": 1.0,
    "sigma_end": 0.01, "steps_per_level": 100, "step_eps": 2e-5,
}
NCSN_TINY: dict[str, Any] = {
    "image_size": 8, "channels": 1, "ngf": 4, "num_classes": 4, "sigma_begin": 1.0,
    "sigma_end": 0.05, "steps_per_level": 3, "step_eps": 2e-5,
}

CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "ddpm": {"paper": DDPM_PAPER, "small": DDPM_SMALL, "tiny": DDPM_TINY},
    "ncsn": {"paper": NCSN_PAPER, "small": NCSN_SMALL, "tiny": NCSN_TINY},
}

# Training recipes. DDPM paper: Adam lr 2e-4, batch 128, EMA 0.9999, 800k steps, grad clip 1,
# 5000 warm-up steps (800k steps of 128 on CIFAR-10's 50k images: 2048 epochs). NCSN paper:
# Adam lr 1e-3, batch 128, 200k steps (512 epochs). SMALL runs about a thousand steps on one
# CPU core, so it uses a higher learning rate, a shorter warm-up and a shorter EMA horizon.
TRAINING: dict[str, dict[str, Any]] = {
    "ddpm": {"lr": 2e-4, "batch_size": 128, "epochs": 2048, "ema": 0.9999, "warmup": 5000, "grad_clip": 1.0},
    "ncsn": {"lr": 1e-3, "batch_size": 128, "epochs": 512, "ema": 0.0, "warmup": 0, "grad_clip": 0.0},
}
TRAINING_FOR: dict[str, dict[str, dict[str, Any]]] = {
    "ddpm": {
        "paper": TRAINING["ddpm"],
        "small": {**TRAINING["ddpm"], "lr": 1e-3, "batch_size": 32, "epochs": 50, "ema": 0.995,
                  "warmup": 100},
        "tiny": {**TRAINING["ddpm"], "batch_size": 8, "epochs": 1, "ema": 0.9, "warmup": 0},
    },
    "ncsn": {
        "paper": TRAINING["ncsn"],
        "small": {**TRAINING["ncsn"], "batch_size": 32, "epochs": 32, "ema": 0.995},
        "tiny": {**TRAINING["ncsn"], "batch_size": 8, "epochs": 1},
    },
}


def get_config(family: str, name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config of `family` ("ddpm" or "ncsn"), or of the dict given."""
    return pick_config(family, CONFIGS.get(family, {}), name_or_config)


def get_recipe(family: str, config: str | dict[str, Any]) -> dict[str, Any]:
    table = TRAINING_FOR[family]
    return dict(table.get(config, TRAINING[family]) if isinstance(config, str) else TRAINING[family])
