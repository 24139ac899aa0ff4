"""The variational auto-encoder (Kingma & Welling, 2014) as a zoo plugin.

Registering the family must stay cheap: nothing here imports torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPER_URL = "https://arxiv.org/abs/1312.6114"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="vae",
            model_class="plugins.vae.model:VAE",
            tasks=("unconditional-image",),
            paper=PAPER_URL,
            description=("Variational auto-encoder: a Gaussian encoder q(z|x) and a decoder p(x|z) "
                         "trained on the ELBO with the reparameterisation trick; explicit density "
                         "bound (log_prob)"),
            trainer="plugins.vae.train:train",
        )
    ]
