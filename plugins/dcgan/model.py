"""DCGAN generator (the published model) and discriminator (training state).

Architecture as in Radford et al. (2016): z is projected to a 4x4 feature map (a 4x4 transposed
convolution, the same map as the paper's projection and reshape), then fractionally-strided
convolutions (ConvTranspose2d k4 s2 p1) with batch norm and ReLU double the resolution up to
the image, with a tanh output. The discriminator mirrors it with strided convolutions, batch
norm on every layer but the first, LeakyReLU(0.2), no pooling and no fully connected hidden
layers. All weights are initialised from N(0, 0.02) (batch-norm scales from N(1, 0.02)).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from zoo_core.model import GenerativeModel

from .samplers import AncestralSampler, TruncationSampler


def _num_upsamplings(image_size: int) -> int:
    k = math.log2(image_size / 4) if image_size >= 8 else 0
    if image_size < 8 or k != int(k):
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return int(k)


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation: every weight from N(0, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def generator_layers(image_size: int, channels: int, nz: int, ngf: int) -> nn.Sequential:
    """z (nz x 1 x 1) -> image (channels x image_size x image_size) in [-1, 1]."""
    k = _num_upsamplings(image_size)
    width = ngf * 2 ** (k - 1)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False),  # project and reshape: 4x4
        nn.BatchNorm2d(width),
        nn.ReLU(True),
    ]
    for _ in range(k - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """Strided convolutions down to 4x4, then a 4x4 convolution to one logit per image."""

    def __init__(self, image_size: int = 32, channels: int = 1, ndf: int = 64, **_: object) -> None:
        super().__init__()
        k = _num_upsamplings(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True)]  # no batch norm on layer 1
        width = ndf
        for _ in range(k - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n,) that x is real."""
        return self.main(x).flatten(1).squeeze(1)


class DCGANGeneratorModel(GenerativeModel):
    """DCGAN's generator network (``generator_layers``, under the key prefix ``generator.``) as a
    zoo model: latents (nz, 1, 1) to images in [-1, 1], with the ancestral and truncation samplers.

    DCGAN and WGAN-GP publish exactly this network and differ only in training and in the
    discriminator or critic they rebuild, so both subclass it (keeping their own family and config).
    """

    kind = "image"
    value_range = (-1.0, 1.0)
    samplers = {"ancestral": AncestralSampler, "truncation": TruncationSampler}

    def __init__(self, image_size: int, channels: int, nz: int, ngf: int) -> None:
        super().__init__()
        self.image_size, self.channels, self.nz, self.ngf = image_size, channels, nz, ngf
        self.generator = generator_layers(image_size, channels, nz, ngf)
        init_weights(self)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.nz, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images (n, C, H, W) in [-1, 1] from latents (n, nz) or (n, nz, 1, 1)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.generator(z)


class DCGAN(DCGANGeneratorModel):
    """The DCGAN generator; `ndf` is recorded so the trainer can rebuild the discriminator."""

    family = "dcgan"
    card_notes = (
        "The repo holds the generator only; the discriminator is training state and is not "
        "published. Samples are in [-1, 1] (tanh). Batch norm runs in eval mode with statistics "
        "recomputed after training, so a sample never depends on the rest of its batch. "
        "The `truncation` sampler draws z from a normal truncated to +-`threshold` (resampled, not "
        "clipped): smaller thresholds give less varied digits and, since batch norm uses statistics "
        "of untruncated z, lower contrast (threshold 0.5 visibly greys the background). DCGAN has "
        "no tractable likelihood.")

    def __init__(self, image_size: int = 32, channels: int = 1, nz: int = 100, ngf: int = 64,
                 ndf: int = 64) -> None:
        super().__init__(image_size, channels, nz, ngf)
        self.ndf = ndf

    def make_discriminator(self) -> Discriminator:
        return Discriminator(self.image_size, self.channels, self.ndf)
