"""Named StackGAN++ configurations (plain dicts of `StackGANpp.__init__` keyword arguments; no
torch).

Sizes follow hanzhanggit/StackGAN-v2 (code/cfg/birds_3stages.yml and code/miscc/config.py):
``gf_dim`` is GAN.GF_DIM (the trunk starts at 16 * gf_dim channels at 4x4 and each branch
halves the width), ``c_dim`` GAN.EMBEDDING_DIM (the conditioning augmentation size), ``z_dim``
GAN.Z_DIM, ``r_num`` GAN.R_NUM (residual blocks per branch), ``text_dim`` TEXT.DIMENSION and
``base_size`` TREE.BASE_SIZE (the first branch's image side; the original fixes 64 and its
trunk has four up-sampling blocks; a smaller base drops the last ones). ``df_dim`` (GAN.DF_DIM)
sizes the discriminators, which are training state only: the published model is the
generator (and the frozen text encoder).
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The CUB birds model of the paper: 64/128/256 branches, char-CNN-RNN sentence embeddings
# (1024-d, no PyTorch encoder: such a model samples from --embeddings). G_NET: 21,239,696
# parameters.
PAPER_BIRDS: dict[str, Any] = {
    "text_encoder": None, "text_dim": 1024, "z_dim": 100, "c_dim": 128, "gf_dim": 64, "df_dim": 64,
    "r_num": 2, "branch_num": 3, "base_size": 64,
}

# Trained here on the shapes data (CPU): 16/32/64 branches (final 64x64), the DAMSM shapes
# text encoder (sentence features, nef 128) instead of char-CNN-RNN, narrower (gf_dim 16: 64 / 32
# / 16 channels in the branches), one residual block per branch instead of two and a smaller z
# (32) and CA (32), so that a step (batch 16) costs under a second on one CPU thread and the
# weights stay under 8 MB. The published tree was grown to this width from a gf_dim 8 one
# (scripts/widen_stackgan_pp.py), which learns faster from scratch; the narrow 16- and 8-channel
# fine branches had capped its shapes. The trainer adds text_scale (1 / RMS of the DAMSM
# sentence features) so the text is not drowned by CA noise.
SMALL: dict[str, Any] = {
    "text_encoder": "small", "z_dim": 32, "c_dim": 32, "gf_dim": 16, "df_dim": 16,
    "r_num": 1, "branch_num": 3, "base_size": 16,
}

# For tests: seconds to build and train a step (16/32/64 too, tiny widths).
TINY: dict[str, Any] = {
    "text_encoder": "tiny", "z_dim": 8, "c_dim": 8, "gf_dim": 4, "df_dim": 4,
    "r_num": 1, "branch_num": 3, "base_size": 16,
}

# The paper's layout (64/128/256, four trunk up-samplings, two residual blocks) at tiny widths:
# what the converter test builds an "original" checkpoint of.
PAPER_TINY: dict[str, Any] = {
    "text_encoder": None, "text_dim": 16, "z_dim": 8, "c_dim": 8, "gf_dim": 8, "df_dim": 4,
    "r_num": 2, "branch_num": 3, "base_size": 64,
}

CONFIGS: dict[str, dict[str, Any]] = {"paper-birds": PAPER_BIRDS, "small": SMALL, "tiny": TINY,
                                      "paper-tiny": PAPER_TINY}

# The original's recipe (StackGAN-v2 code/trainer.py condGANTrainer and cfg): Adam lr 2e-4,
# betas (0.5, 0.999) for G and every D; BCE; TRAIN.COEFF.UNCOND_LOSS 1 (birds) for the
# unconditional terms; TRAIN.COEFF.KL 2 on the (mean) KL; colour consistency lambda_1 = 1 on the
# means and lambda_2 = 5 on the covariances (paper section 4.3); G parameters averaged with decay
# 0.999 for the saved model.
TRAINING: dict[str, Any] = {
    "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 24, "epochs": 600,
    "uncond": 1.0, "kl": 2.0, "color": 1.0, "color_mu": 1.0, "color_cov": 5.0, "ema": 0.999,
}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper-birds": TRAINING,
    "small": {**TRAINING, "batch_size": 16, "epochs": 8, "minutes": 28.0},
    "tiny": {**TRAINING, "batch_size": 8, "epochs": 1, "bn_batches": 2},
    "paper-tiny": {**TRAINING, "batch_size": 4, "epochs": 1, "bn_batches": 2},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("stackgan-pp", CONFIGS, name_or_config)
