"""DCGAN-style initialisation shared by the GAN families that follow it (Radford et al. 2016, as
in reedscot/icml2016 and hanzhanggit/StackGAN-Pytorch)."""
from __future__ import annotations

from torch import nn


def normal_init(module: nn.Module, *, linear: bool = False) -> None:
    """Convolutions (and linears when ``linear``) from N(0, 0.02) with zero bias; batch-norm
    scales from N(1, 0.02), shifts zero. Modules are visited in ``module.modules()`` order, so a
    seeded call draws the same numbers every time."""
    weighted = (nn.Conv2d, nn.ConvTranspose2d) + ((nn.Linear,) if linear else ())
    for m in module.modules():
        if isinstance(m, weighted):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
