"""DCGAN (Radford, Metz & Chintala, 2016) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch. The model, samplers and
trainer are named by import path and imported only when a model is built.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1511.06434"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="dcgan",
            model_class="plugins.dcgan.model:DCGAN",
            tasks=("unconditional-image",),
            paper=PAPER_URL,
            description=("Deep convolutional GAN: a fractionally-strided convolutional generator "
                         "with batch norm, trained against a strided convolutional discriminator"),
            trainer="plugins.dcgan.train:train",
        )
    ]
