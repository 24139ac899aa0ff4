"""Generative stochastic network (Bengio, Thibodeau-Laufer, Alain & Yosinski, 2014) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1306.1091"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="gsn",
            model_class="plugins.gsn.model:GSN",
            tasks=("unconditional-image",),
            paper=PAPER_URL,
            description=("Generative stochastic network: a denoising auto-encoder p(x | x~) trained "
                         "with walkback, whose Markov chain (corrupt, reconstruct, sample) is run "
                         "to draw samples"),
            trainer="plugins.gsn.train:train",
        )
    ]
