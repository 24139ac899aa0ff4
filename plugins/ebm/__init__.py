"""Energy-based model (Du & Mordatch, 2019) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch. The model, the Langevin
sampler and the trainer are named by import path and imported only when a model is built.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1903.08689"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="ebm",
            model_class="plugins.ebm.model:EBM",
            tasks=("unconditional-image",),
            paper=PAPER_URL,
            description=("Energy-based model: a convolutional energy E(x) trained by contrastive "
                         "divergence with short-run Langevin dynamics and a replay buffer; sampled "
                         "by Langevin dynamics from uniform noise"),
            trainer="plugins.ebm.train:train",
        )
    ]
