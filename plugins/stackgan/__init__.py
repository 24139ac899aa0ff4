"""StackGAN (Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks") as a zoo plugin, laid out as hanzhanggit/StackGAN-Pytorch.

Registering the family must stay cheap: nothing here imports torch. The model, trainer and
converter are named by import path and imported only when used.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1612.03242"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="stackgan",
            model_class="plugins.stackgan.model:StackGAN",
            tasks=("text-to-image",),
            paper=PAPER_URL,
            description=("Two-stage text-to-image GAN: conditioning augmentation, a Stage-I generator "
                         "sketching a low-resolution image, and a Stage-II generator (residual blocks over "
                         "the encoded Stage-I image joined with the text condition) refining it"),
            trainer="plugins.stackgan.train:train",
            converter="plugins.stackgan.convert:convert",
        )
    ]
