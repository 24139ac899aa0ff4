"""AttnGAN (Xu et al., CVPR 2018) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch. The model, trainer and
converter are named by import path and imported only when used.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1711.10485"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="attngan",
            model_class="plugins.attngan.model:AttnGAN",
            tasks=("text-to-image",),
            paper=PAPER_URL,
            description=("Attentional GAN: a multi-stage generator whose later stages let every image "
                         "region attend over the caption's words, trained with the DAMSM image-text "
                         "matching loss"),
            trainer="plugins.attngan.train:train",
            converter="plugins.attngan.convert:convert",
        )
    ]
