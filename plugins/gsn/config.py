"""Named GSN configurations (plain dicts of `GSN.__init__` keyword arguments; no torch).

``sample_steps`` is the sampler's default chain length: part of the config so that it travels
with the weights it was chosen for.
"""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's MNIST model (Bengio et al. 2014, section 4; the authors' run_dsn.py): two tanh
# hidden layers of 1500 units, salt-and-pepper input noise 0.4, Gaussian noise of std 2 added
# before and after the non-linearity of every hidden layer but the one next to x, 4 walkback steps,
# Bernoulli visible units, 28x28 inputs. (In this feed-forward form the layer next to x, the
# paper's noiseless h1, is the last one: noise goes into the first.)
PAPER: dict[str, Any] = {"image_size": 28, "channels": 1, "hidden": [1500, 1500],
                         "corruption": "salt_and_pepper", "corruption_level": 0.4,
                         "hidden_noise": 2.0, "walkback": 4, "sample_steps": 100}

# 16x16 grey digits, trained here on CPU: the same recipe, narrower (~1.5 MB of weights). The
# grey digits are noisier than MNIST once sampled to binary, so the input corruption is milder;
# and no hidden noise: with 400 units, the paper's std 2 kept the model at the mean image, and
# std 0.5 gave blurrier samples and a lower Parzen estimate (165 vs 174 nats) than none.
SMALL: dict[str, Any] = {"image_size": 16, "channels": 1, "hidden": [400, 400],
                         "corruption": "salt_and_pepper", "corruption_level": 0.25,
                         "hidden_noise": 0.0, "walkback": 4, "sample_steps": 100}

# For tests.
TINY: dict[str, Any] = {"image_size": 8, "channels": 1, "hidden": [16, 16],
                        "corruption": "salt_and_pepper", "corruption_level": 0.4,
                        "hidden_noise": 2.0, "walkback": 3, "sample_steps": 5}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# The paper trains with SGD (lr 0.25, momentum 0.5, lr x 0.995 per epoch), batches of 100,
# for 1000 epochs; SMALL uses Adam, which gets there in CPU minutes, after a warm-up of plain
# denoising (walkback from the first epoch tends to sit at the mean image for a long while).
TRAINING: dict[str, Any] = {"optimizer": "sgd", "lr": 0.25, "momentum": 0.5, "annealing": 0.995,
                            "batch_size": 100, "epochs": 1000, "warmup_epochs": 0}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    "small": {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "annealing": 0.99,
              "batch_size": 100, "epochs": 300, "warmup_epochs": 10},
    "tiny": {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "annealing": 1.0,
             "batch_size": 8, "epochs": 1, "warmup_epochs": 0},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("gsn", CONFIGS, name_or_config)
