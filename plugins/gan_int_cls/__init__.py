"""GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis") as a zoo
plugin.

Registering the family must stay cheap: nothing here imports torch. The model, samplers and
trainer are named by import path and imported only when a model is built.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1605.05396"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="gan-int-cls",
            model_class="plugins.gan_int_cls.model:GANINTCLS",
            tasks=("text-to-image",),
            paper=PAPER_URL,
            description=("Text-conditional DCGAN: the sentence embedding is projected and joined with z; "
                         "trained against a matching-aware discriminator (GAN-CLS) with interpolated "
                         "text embeddings (GAN-INT)"),
            trainer="plugins.gan_int_cls.train:train",
        )
    ]
