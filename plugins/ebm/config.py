"""Named EBM configurations (plain dicts of `EBM.__init__` keyword arguments; no torch).

The Langevin settings (``sample_steps``, ``step_size``, ``noise``, ``grad_clip``) are part of the
config: they are what the energy was trained with, and the sampler's defaults.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's CIFAR-10 model (Du & Mordatch 2019, appendix, "ResNet32"): a 3x3 conv with 128
# filters, then residual blocks [128 down, 128, 256 down, 256, 256 down, 256], ReLU, global sum
# pooling and a dense layer to one energy; spectral norm on every layer, LeakyReLU. Langevin:
# 60 steps of size 10 with noise 0.005 on [0, 1] images, gradient clipped to +-0.01 per pixel.
PAPER: dict[str, Any] = {"image_size": 32, "channels": 3, "energy_size": 32, "arch": "resnet", "width": 128,
                         "spectral_norm": True, "activation": "lrelu", "sample_steps": 60,
                         "step_size": 10.0, "noise": 0.005, "grad_clip": 0.01}

# Grey digits, trained here on CPU. The energy works at the digits' native 8x8 (their 16x16 and
# 32x32 versions are bilinear upsamplings of it, so nothing is lost) and samples are upsampled
# to 32x32 the same way; a small strided conv net with Swish (as in the short-run EBMs of
# Nijkamp et al. 2019), no spectral norm; 25 Langevin steps from uniform noise.
SMALL: dict[str, Any] = {"image_size": 32, "channels": 1, "energy_size": 8, "arch": "conv",
                         "width": 32, "spectral_norm": False, "activation": "swish",
                         "sample_steps": 25, "step_size": 10.0, "noise": 0.005, "grad_clip": 0.01}

# For tests.
TINY: dict[str, Any] = {"image_size": 8, "channels": 1, "energy_size": 8, "arch": "conv", "width": 4,
                        "spectral_norm": False, "activation": "swish", "sample_steps": 3,
                        "step_size": 10.0, "noise": 0.005, "grad_clip": 0.01}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# Training recipe (Du & Mordatch, section 3 and appendix): contrastive divergence
# E(x+) - E(x-) + alpha (E(x+)^2 + E(x-)^2) with alpha = 1, Adam(beta1 0, beta2 0.999),
# negatives from K = ``train_steps`` Langevin steps started from a replay buffer, except a
# fraction ``reinit`` (5% in the paper) restarted from uniform noise. ``max_age`` (not in the
# paper; None there) restarts a buffer chain after that many runs.
# SMALL is the short-run regime of Nijkamp et al. (2019): the published sampler cannot use the
# buffer, so every negative is a fresh K-step chain from uniform noise (reinit 1), exactly the
# chain the sampler runs. At 30 epochs this gave FID 7.9 on the digits, against 10.3 with half
# the negatives from the buffer and 24-34 for buffer-based runs (95% reuse, chains capped at 100
# steps, sampled with 100 steps from noise) of similar CPU time; 120 epochs reach FID 2.7.
TRAINING: dict[str, Any] = {"lr": 1e-4, "beta1": 0.0, "beta2": 0.999, "batch_size": 128,
                            "epochs": 100, "alpha": 1.0, "buffer_size": 10000, "reinit": 0.05,
                            "max_age": None, "train_steps": 60}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    "small": {**TRAINING, "lr": 2e-3, "batch_size": 64, "epochs": 120, "train_steps": 25,
              "reinit": 1.0, "buffer_size": 64},
    "tiny": {**TRAINING, "batch_size": 8, "epochs": 1, "train_steps": 3, "max_age": 2,
             "buffer_size": 64},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("ebm", CONFIGS, name_or_config)
