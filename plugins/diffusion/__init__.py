"""Score-based and diffusion models as a zoo plugin: DDPM (Ho, Jain & Abbeel 2020) with
ancestral and DDIM samplers, and NCSN (Song & Ermon 2019) with annealed Langevin dynamics.

Registering the families must stay cheap: nothing here imports torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

DDPM_URL = "https://arxiv.org/abs/2006.11239"
NCSN_URL = "https://arxiv.org/abs/1907.05600"


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="ddpm",
            model_class="plugins.diffusion.ddpm:DDPM",
            tasks=("unconditional-image",),
            paper=DDPM_URL,
            description=("Denoising diffusion probabilistic model: a U-Net predicts the noise added "
                         "by a fixed T-step Gaussian forward process; sampled by ancestral DDPM "
                         "steps or by DDIM in fewer steps (eta 0: deterministic)"),
            trainer="plugins.diffusion.train:train_ddpm",
        ),
        Family(
            name="ncsn",
            model_class="plugins.diffusion.ncsn:NCSN",
            tasks=("unconditional-image",),
            paper=NCSN_URL,
            description=("Noise-conditional score network: a RefineNet with conditional instance "
                         "norm++ estimates the score of the data blurred at L geometric noise "
                         "levels; sampled by annealed Langevin dynamics"),
            trainer="plugins.diffusion.train:train_ncsn",
        ),
    ]
