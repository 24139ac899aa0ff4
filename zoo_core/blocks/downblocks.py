"""Discriminator building blocks of StackGAN++, AttnGAN and MirrorGAN (names as in
hanzhanggit/StackGAN-v2 and taoxugit/AttnGAN code/model.py, so state dicts map key for key):

- ``downBlock(in, out)``: Conv2d 4x4 stride 2 (no bias), BatchNorm, LeakyReLU(0.2);
- ``Block3x3_leakRelu(in, out)``: conv3x3, BatchNorm, LeakyReLU(0.2);
- ``encode_image_by_16times(ndf)``: four 4x4 stride-2 convolutions (3 -> ndf -> 2ndf -> 4ndf
  -> 8ndf; no batch norm after the first): a 64x64 image becomes 8ndf x 4 x 4;
- ``D_GET_LOGITS(ndf, nef, bcondition)``: AttnGAN's head: with a condition, the code is tiled
  to 4x4, concatenated after the image code and fused by ``jointConv``; ``outlogits`` is a 4x4
  stride-4 conv and a sigmoid (probabilities, as the originals train with BCELoss). Pass
  ``sigmoid=False`` for logits (numerically safer BCE-with-logits training); the key names
  do not change.
"""
from __future__ import annotations

import torch
from torch import nn

from .upblocks import conv3x3


def downBlock(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(out_planes), nn.LeakyReLU(0.2, inplace=True))


def Block3x3_leakRelu(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(in_planes, out_planes), nn.BatchNorm2d(out_planes),
                         nn.LeakyReLU(0.2, inplace=True))


def encode_image_by_16times(ndf: int, in_channels: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True))


class D_GET_LOGITS(nn.Module):
    """Conditional or unconditional real/fake score from an 8ndf x 4 x 4 image code."""

    def __init__(self, ndf: int, nef: int, bcondition: bool = False, sigmoid: bool = True) -> None:
        super().__init__()
        self.df_dim, self.ef_dim, self.bcondition = ndf, nef, bcondition
        if bcondition:
            self.jointConv = Block3x3_leakRelu(ndf * 8 + nef, ndf * 8)
        head: list[nn.Module] = [nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4)]
        self.outlogits = nn.Sequential(*head, *([nn.Sigmoid()] if sigmoid else []))

    def forward(self, h_code: torch.Tensor, c_code: torch.Tensor | None = None) -> torch.Tensor:
        if self.bcondition and c_code is not None:
            c = c_code.view(-1, self.ef_dim, 1, 1).expand(-1, -1, h_code.size(2), h_code.size(3))
            h_code = self.jointConv(torch.cat((h_code, c), 1))
        return self.outlogits(h_code).view(-1)
