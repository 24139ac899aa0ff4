"""Reference modules in the original StackGAN-v2 / AttnGAN layout, for converter-equivalence tests.

Class, function and attribute names follow the originals (GLU, conv3x3, upBlock, CA_NET,
INIT_STAGE_G, GET_IMAGE_G) so that a state dict saved from them has the originals' keys; the
converters under test must turn exactly those keys into zoo models. Both originals define these
pieces the same way, so one copy serves the StackGAN++ and AttnGAN tests.
Import them into a test module (``from .original_layouts import CA_NET, ...``).
"""
from __future__ import annotations

import torch
from torch import nn


class GLU(nn.Module):
    """Gated linear unit over channels: first half times the sigmoid of the second half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nc = x.size(1) // 2
        return x[:, :nc] * torch.sigmoid(x[:, nc:])


def conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    """3x3 convolution, stride 1, padding 1, no bias (StackGAN v1 defines it the same way)."""
    return nn.Conv2d(in_planes, out_planes, 3, 1, 1, bias=False)


def upBlock(in_planes: int, out_planes: int) -> nn.Sequential:  # noqa: N802  (the original's name)
    """Nearest 2x upsampling, then conv3x3 to twice the channels, batch norm and GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(in_planes, out_planes * 2),
                         nn.BatchNorm2d(out_planes * 2), GLU())


class ResBlock(nn.Module):
    """Residual block: conv3x3-BN-GLU-conv3x3-BN plus the input."""

    def __init__(self, channel_num: int):
        super().__init__()
        self.block = nn.Sequential(conv3x3(channel_num, channel_num * 2), nn.BatchNorm2d(channel_num * 2), GLU(),
                                   conv3x3(channel_num, channel_num), nn.BatchNorm2d(channel_num))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x


class CA_NET(nn.Module):  # noqa: N801  (the original's name)
    """Conditioning augmentation; ``eps`` is passed in (the original draws it from the global RNG)."""

    def __init__(self, t_dim: int, ef_dim: int):
        super().__init__()
        self.ef_dim = ef_dim
        self.fc = nn.Linear(t_dim, ef_dim * 4, bias=True)
        self.relu = GLU()  # the original calls its GLU "relu"

    def forward(self, text_embedding: torch.Tensor,
                eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.relu(self.fc(text_embedding))
        mu, logvar = x[:, :self.ef_dim], x[:, self.ef_dim:]
        return eps * logvar.mul(0.5).exp() + mu, mu, logvar


class INIT_STAGE_G(nn.Module):  # noqa: N801  (the original's name)
    """First stage: [c, z] through a linear layer to 4x4, then four upBlocks to 64x64."""

    def __init__(self, ngf: int, in_dim: int):
        super().__init__()
        self.gf_dim = ngf
        self.fc = nn.Sequential(nn.Linear(in_dim, ngf * 4 * 4 * 2, bias=False), nn.BatchNorm1d(ngf * 4 * 4 * 2), GLU())
        self.upsample1 = upBlock(ngf, ngf // 2)
        self.upsample2 = upBlock(ngf // 2, ngf // 4)
        self.upsample3 = upBlock(ngf // 4, ngf // 8)
        self.upsample4 = upBlock(ngf // 8, ngf // 16)

    def forward(self, z_code: torch.Tensor, c_code: torch.Tensor) -> torch.Tensor:
        out = self.fc(torch.cat((c_code, z_code), 1)).view(-1, self.gf_dim, 4, 4)
        return self.upsample4(self.upsample3(self.upsample2(self.upsample1(out))))


class GET_IMAGE_G(nn.Module):  # noqa: N801  (the original's name)
    """Stage features to an RGB image in [-1, 1]."""

    def __init__(self, ngf: int):
        super().__init__()
        self.img = nn.Sequential(conv3x3(ngf, 3), nn.Tanh())

    def forward(self, h_code: torch.Tensor) -> torch.Tensor:
        return self.img(h_code)
