"""Named VAE configurations (plain dicts of `VAE.__init__` keyword arguments; no torch)."""
from __future__ import annotations

from typing import Any

from zoo_core.configs import pick_config

# The paper's MNIST model (section 5, appendix C): one tanh hidden layer of 500 units in both
# encoder and decoder, a 20-d latent, a Bernoulli decoder, 28x28 inputs.
PAPER: dict[str, Any] = {"image_size": 28, "channels": 1, "hidden": 500, "latent": 20,
                         "likelihood": "bernoulli"}

# 32x32 grey digits, trained here on CPU: the same MLP, narrower (3.3 MB), with a 10-d latent
# (on 1,437 images, prior samples from a 20-d latent fall more often in the posterior's holes).
SMALL: dict[str, Any] = {"image_size": 32, "channels": 1, "hidden": 400, "latent": 10,
                         "likelihood": "bernoulli"}

# For tests.
TINY: dict[str, Any] = {"image_size": 8, "channels": 1, "hidden": 32, "latent": 4,
                        "likelihood": "bernoulli"}

CONFIGS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL, "tiny": TINY}

# The paper trains with minibatches of M = 100 and L = 1 sample per datapoint using Adagrad;
# we use Adam (lr 1e-3), which reaches the same bound in far fewer CPU minutes.
TRAINING: dict[str, Any] = {"lr": 1e-3, "batch_size": 100, "epochs": 100, "num_samples": 1}
TRAINING_FOR: dict[str, dict[str, Any]] = {
    "paper": TRAINING,
    "small": {**TRAINING, "epochs": 300},
    "tiny": {**TRAINING, "batch_size": 16, "epochs": 1},
}


def get_config(name_or_config: str | dict[str, Any]) -> dict[str, Any]:
    """A copy of the named config (or of the dict given)."""
    return pick_config("vae", CONFIGS, name_or_config)
