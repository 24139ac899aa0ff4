"""StackGAN++ (Zhang et al. 2018, "StackGAN++: Realistic Image Synthesis with Stacked Generative
Adversarial Networks", StackGAN-v2) as a zoo plugin.

A tree of generators: one trunk (``h_net1``) and two more branches (``h_net2``, ``h_net3``),
each emitting an image at twice the previous scale (``img_net1..3``), trained jointly against
one discriminator per scale with conditional and unconditional logits, the colour-consistency
regulariser between consecutive scales and conditioning augmentation.

Nothing here imports torch: the model, trainer and converter are named by import path.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1710.10916"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="stackgan-pp",
            model_class="plugins.stackgan_pp.model:StackGANpp",
            tasks=("text-to-image",),
            paper=PAPER_URL,
            description=("StackGAN++ (StackGAN-v2): a tree of generators producing the image at three "
                         "scales from one noise vector and a conditioning-augmented caption embedding, "
                         "trained with joint conditional and unconditional discriminators per scale and "
                         "a colour-consistency regulariser"),
            trainer="plugins.stackgan_pp.train:train",
            converter="plugins.stackgan_pp.convert:convert",
        )
    ]
