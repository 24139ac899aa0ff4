"""WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, 2017) as a zoo plugin.

A DCGAN-shaped generator trained against a critic (no batch norm) on the Wasserstein loss with
a gradient penalty. Registering the family must stay cheap: nothing here imports torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1704.00028"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="wgan-gp",
            model_class="plugins.wgan_gp.model:WGANGP",
            tasks=("unconditional-image",),
            paper=PAPER_URL,
            description=("Wasserstein GAN with gradient penalty: a DCGAN generator trained against "
                         "a critic without batch norm (layer norm), penalising the critic's "
                         "gradient norm away from 1 on real-fake interpolates (lambda 10, 5 critic "
                         "steps per generator step)"),
            trainer="plugins.wgan_gp.train:train",
        )
    ]
