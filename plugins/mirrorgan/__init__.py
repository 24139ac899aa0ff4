"""MirrorGAN (Qiao et al., CVPR 2019) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1903.05854"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="mirrorgan",
            model_class="plugins.mirrorgan.model:MirrorGAN",
            tasks=("text-to-image",),
            paper=PAPER_URL,
            description=("MirrorGAN: text-to-image-to-text. STEM embeds the caption, GLAM generates with "
                         "word and sentence attention, and STREAM, a frozen image captioner, must "
                         "re-describe the generated image with the original caption"),
            trainer="plugins.mirrorgan.train:train",
        )
    ]
