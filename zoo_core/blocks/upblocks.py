"""Generator building blocks of StackGAN, StackGAN++, AttnGAN and MirrorGAN.

Names and layouts follow the original code so converted state dicts map key for key:

- ``GLU`` (gated linear unit over channels: the first half times the sigmoid of the second;
  StackGAN++/AttnGAN ``GLU``), ``conv1x1`` / ``conv3x3`` (bias-free, as the originals');
- ``upBlock(in, out)``: nearest x2 upsampling, conv3x3, BatchNorm, GLU (StackGAN++ and AttnGAN
  ``upBlock``; keys ``1.weight`` conv, ``2.*`` batch norm). With ``activation="relu"`` it is
  StackGAN's (Zhang et al. 2017, the PyTorch port hanzhanggit/StackGAN-Pytorch) ``upBlock``:
  conv to ``out`` channels, BatchNorm, ReLU;
- ``Block3x3_relu(in, out)``: conv3x3, BatchNorm, GLU at the same size (StackGAN++'s
  ``jointConv``; the name is the original's, though the activation is a GLU);
- ``ResBlock(c)``: conv3x3 (c -> 2c), BN, GLU, conv3x3, BN, plus the input (StackGAN++ and
  AttnGAN ``ResBlock``, keys ``block.0``, ``block.1``, ``block.3``, ``block.4``); with
  ``activation="relu"``: StackGAN's ``ResBlock`` (conv, BN, ReLU, conv, BN, add, ReLU);
- ``InitStageG``: the first stage, noise and condition -> ngf/16 x 64 x 64 (StackGAN++, AttnGAN
  and MirrorGAN ``INIT_STAGE_G``: ``fc`` = Linear (no bias) + BatchNorm1d + GLU to ngf x 4 x 4,
  then ``upsample1``..``upsample4``; with ``activation="relu"`` StackGAN's Stage-I trunk);
- ``GetImageG``: conv3x3 to RGB and tanh (``GET_IMAGE_G``, key ``img.0.weight``).
"""
from __future__ import annotations

import torch
from torch import nn


class GLU(nn.Module):
    """x[:, :c/2] * sigmoid(x[:, c/2:]) (Dauphin et al. 2017), over the channel dimension."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nc = x.size(1)
        if nc % 2:
            raise ValueError(f"GLU needs an even number of channels, got {nc}")
        return x[:, : nc // 2] * torch.sigmoid(x[:, nc // 2:])


def conv1x1(in_planes: int, out_planes: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, padding=0, bias=bias)


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _check(activation: str) -> bool:
    if activation not in ("glu", "relu"):
        raise ValueError(f"activation must be 'glu' or 'relu', got {activation!r}")
    return activation == "glu"


def upBlock(in_planes: int, out_planes: int, activation: str = "glu") -> nn.Sequential:
    """Double the spatial size: nearest upsampling, conv3x3, BatchNorm, GLU (or ReLU)."""
    glu = _check(activation)
    width = out_planes * 2 if glu else out_planes
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(in_planes, width),
                         nn.BatchNorm2d(width), GLU() if glu else nn.ReLU(True))


def Block3x3_relu(in_planes: int, out_planes: int) -> nn.Sequential:
    """Keep the spatial size: conv3x3, BatchNorm, GLU."""
    return nn.Sequential(conv3x3(in_planes, out_planes * 2), nn.BatchNorm2d(out_planes * 2), GLU())


class ResBlock(nn.Module):
    """Residual block at constant width (GLU variant by default)."""

    def __init__(self, channel_num: int, activation: str = "glu") -> None:
        super().__init__()
        glu = _check(activation)
        c = channel_num
        mid = [conv3x3(c, 2 * c), nn.BatchNorm2d(2 * c), GLU()] if glu else \
              [conv3x3(c, c), nn.BatchNorm2d(c), nn.ReLU(True)]
        self.block = nn.Sequential(*mid, conv3x3(c, c), nn.BatchNorm2d(c))
        self.relu = None if glu else nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x) + x
        return self.relu(out) if self.relu is not None else out


class InitStageG(nn.Module):
    """(z, c) -> ngf/16 x 64 x 64 features: fc to ngf x 4 x 4, then four upBlocks.

    ``ngf`` is the width at 4x4 (the originals pass 16 * GF_DIM; StackGAN's Stage-I 8 * GF_DIM).
    ``condition_first``: the input is cat(c, z) (StackGAN++, AttnGAN) or cat(z, c) (StackGAN).
    """

    def __init__(self, ngf: int, in_dim: int, activation: str = "glu", condition_first: bool = True) -> None:
        super().__init__()
        glu = _check(activation)
        self.gf_dim, self.in_dim, self.condition_first = ngf, in_dim, condition_first
        width = ngf * 4 * 4 * (2 if glu else 1)
        self.fc = nn.Sequential(nn.Linear(in_dim, width, bias=False), nn.BatchNorm1d(width),
                                GLU() if glu else nn.ReLU(True))
        self.upsample1 = upBlock(ngf, ngf // 2, activation)
        self.upsample2 = upBlock(ngf // 2, ngf // 4, activation)
        self.upsample3 = upBlock(ngf // 4, ngf // 8, activation)
        self.upsample4 = upBlock(ngf // 8, ngf // 16, activation)

    def forward(self, z_code: torch.Tensor, c_code: torch.Tensor | None = None) -> torch.Tensor:
        if c_code is None:
            x = z_code
        else:
            x = torch.cat((c_code, z_code) if self.condition_first else (z_code, c_code), 1)
        h = self.fc(x).view(-1, self.gf_dim, 4, 4)
        return self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))


class GetImageG(nn.Module):
    """Features -> RGB image in [-1, 1]: conv3x3 and tanh."""

    def __init__(self, ngf: int, channels: int = 3) -> None:
        super().__init__()
        self.gf_dim = ngf
        self.img = nn.Sequential(conv3x3(ngf, channels), nn.Tanh())

    def forward(self, h_code: torch.Tensor) -> torch.Tensor:
        return self.img(h_code)


# the originals' class names, for readers following the papers' code
INIT_STAGE_G = InitStageG
GET_IMAGE_G = GetImageG
