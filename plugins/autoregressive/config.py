"""Named configurations of the three autoregressive families (plain dicts; no torch).

Each family has PAPER / SMALL / TINY model configs (keyword arguments of the model's
``__init__``) and a training recipe per config. SMALL is what the published weights use.
"""
from __future__ import annotations

import copy
from typing import Any

# -- gru-lm: embedding -> GRU -> linear head over characters or tokens ---------------------
# `vocab` is filled in by the trainer from the corpus (it is saved in config.json); the recipe's
# `words` adds that many frequent words/space runs to the characters (0: character-level).
GRU_LM = {
    # GRU (Cho et al. 2014) at the scale of a classic char-RNN: two layers of 512 units.
    "paper": {"embed_dim": 128, "hidden": 512, "layers": 2},
    # One layer of 128 units over characters + 1,000 frequent words (sized for a few minutes of
    # a shared CPU): ~330k parameters.
    "small": {"embed_dim": 64, "hidden": 128, "layers": 1},
    "tiny": {"embed_dim": 8, "hidden": 16, "layers": 1},
}
GRU_LM_TRAINING = {
    "paper": {"lr": 2e-3, "batch_size": 64, "seq_len": 256, "steps": 20000, "minutes": None, "words": 0},
    "small": {"lr": 4e-3, "batch_size": 32, "seq_len": 64, "steps": 6000, "minutes": 7.0, "words": 1000},
    "tiny": {"lr": 1e-2, "batch_size": 4, "seq_len": 16, "steps": 3, "minutes": None, "words": 0},
}

# -- pixelcnn: 7x7 mask-A conv, residual blocks of 3x3 mask-B convs, 1x1 head ----------------
PIXELCNN = {
    # Pixel RNN paper, PixelCNN: 15 residual mask-B blocks of h = 128 (2h = 256 channels
    # between blocks), two 1x1 ReLU layers of 1024, a 256-way softmax; one grey channel here.
    "paper": {"image_size": 32, "levels": 256, "hidden": 128, "blocks": 15, "head": 1024, "gated": False,
              "num_classes": 0, "coords": False, "class_maps": False},
    # 16x16 digits at 4 grey levels; the paper's masked residual stack, narrower, told the digit
    # class (drawn uniformly when none is given) and its row/column; sampling 16 images takes seconds.
    "small": {"image_size": 16, "levels": 4, "hidden": 24, "blocks": 6, "head": 64, "gated": False,
              "num_classes": 10, "coords": True, "class_maps": True},
    "tiny": {"image_size": 8, "levels": 4, "hidden": 4, "blocks": 2, "head": 8, "gated": False,
             "num_classes": 0, "coords": False, "class_maps": False},
}
PIXELCNN_TRAINING = {
    "paper": {"lr": 1e-3, "batch_size": 16, "epochs": 100, "minutes": None},
    "small": {"lr": 2e-3, "batch_size": 16, "epochs": 60, "minutes": 7.0},
    "tiny": {"lr": 1e-3, "batch_size": 8, "epochs": 1, "minutes": None},
}

# -- wavenet: dilated causal convs, gated units, residual + skip, mu-law softmax --------------
WAVENET = {
    # The paper's shape: dilations 1..512 repeated, 256-way mu-law output, 16 kHz.
    "paper": {"sample_rate": 16000, "clip_seconds": 1.0, "residual": 64, "dilation_channels": 64,
              "skip": 256, "dilations": [2 ** i for i in range(10)] * 3, "num_classes": 11},
    # 8 kHz, 0.5 s clips, dilations 1..128 then 1..32 (receptive field 320 samples = 40 ms),
    # narrow channels: sized for a few CPU minutes of training.
    "small": {"sample_rate": 8000, "clip_seconds": 0.5, "residual": 16, "dilation_channels": 16,
              "skip": 32, "dilations": [2 ** i for i in range(8)] + [2 ** i for i in range(6)],
              "num_classes": 11},
    "tiny": {"sample_rate": 8000, "clip_seconds": 0.01, "residual": 4, "dilation_channels": 4,
             "skip": 8, "dilations": [1, 2, 4], "num_classes": 3},
}
WAVENET_TRAINING = {
    "paper": {"lr": 1e-3, "batch_size": 8, "window": 4096, "clips": 2000, "steps": 50000, "minutes": None},
    "small": {"lr": 3e-3, "batch_size": 8, "window": 512, "clips": 440, "steps": 3000, "minutes": 7.0},
    "tiny": {"lr": 1e-3, "batch_size": 2, "window": 16, "clips": 6, "steps": 2, "minutes": None},
}

FAMILIES = {"gru-lm": (GRU_LM, GRU_LM_TRAINING), "pixelcnn": (PIXELCNN, PIXELCNN_TRAINING),
            "wavenet": (WAVENET, WAVENET_TRAINING)}


def get_config(family: str, name_or_config: str | dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config, training recipe): copies of the named ones, or the dict given with the
    SMALL recipe."""
    configs, recipes = FAMILIES[family]
    if isinstance(name_or_config, dict):
        return copy.deepcopy(dict(name_or_config)), dict(recipes["small"])
    try:
        return copy.deepcopy(configs[name_or_config]), dict(recipes[name_or_config])
    except KeyError:
        raise ValueError(f"unknown {family} config {name_or_config!r}; choose one of: "
                         f"{', '.join(configs)}") from None
