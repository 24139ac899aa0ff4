"""WGAN-GP generator (the published model) and critic (training state).

The generator is DCGAN's (the model subclasses plugins.dcgan.model's DCGANGeneratorModel: a 4x4
projection, then fractionally-strided convolutions with batch norm and ReLU, tanh output). The critic is DCGAN's
discriminator without batch norm, which the gradient penalty forbids (it makes each critic
output depend on the whole batch): layer normalisation over (C, H, W) per sample, as the paper
recommends, or no normalisation. It outputs an unbounded score, not a probability.
"""
from __future__ import annotations

import torch
from torch import nn

from plugins.dcgan.model import DCGANGeneratorModel, _num_upsamplings, init_weights

CRITIC_NORMS = ("layernorm", "none")


class Critic(nn.Module):
    """Strided k4 s2 convolutions down to 4x4 with LeakyReLU(0.2), then a 4x4 convolution to
    one score per image; layer norm (or nothing) in place of batch norm."""

    def __init__(self, image_size: int = 32, channels: int = 1, ndf: int = 64,
                 critic_norm: str = "layernorm", **_: object) -> None:
        super().__init__()
        if critic_norm not in CRITIC_NORMS:
            raise ValueError(f"critic_norm must be one of {CRITIC_NORMS}, got {critic_norm!r}")
        k = _num_upsamplings(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(k - 1):
            layers.append(nn.Conv2d(width, width * 2, 4, 2, 1))
            if critic_norm == "layernorm":
                layers.append(nn.GroupNorm(1, width * 2))  # one group: layer norm over (C, H, W)
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))
        self.main = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Critic scores (n,)."""
        return self.main(x).flatten(1).squeeze(1)


class WGANGP(DCGANGeneratorModel):
    """The WGAN-GP generator; the critic's sizes are recorded so the trainer can rebuild it."""

    family = "wgan-gp"

    def __init__(self, image_size: int = 32, channels: int = 1, nz: int = 100, ngf: int = 64,
                 ndf: int = 64, critic_norm: str = "layernorm") -> None:
        if critic_norm not in CRITIC_NORMS:  # before building: a bad name fails fast
            raise ValueError(f"critic_norm must be one of {CRITIC_NORMS}, got {critic_norm!r}")
        super().__init__(image_size, channels, nz, ngf)
        self.ndf, self.critic_norm = ndf, critic_norm

    def make_critic(self) -> Critic:
        return Critic(self.image_size, self.channels, self.ndf, self.critic_norm)
