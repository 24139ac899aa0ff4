"""The noise-prediction U-Net of Ho et al. (2020), Appendix B (a PixelCNN++-style backbone).

Sinusoidal timestep embedding -> MLP; at each resolution `num_res_blocks` ResBlocks (GroupNorm,
SiLU, 3x3 conv, the embedding added in between, dropout) with self-attention at the
resolutions in `attn_resolutions`; a middle ResBlock-attention-ResBlock at the lowest
resolution; the up path mirrors the down path with skip connections (num_res_blocks + 1 blocks
per level). With ch=128, ch_mult=(1, 2, 2, 2), 2 blocks and attention at 16x16 this is the
paper's 35.7M-parameter CIFAR-10 model.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sinusoids of the (integer) timesteps, shape (n, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / (half - 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, ch), ch, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2, self.drop = _norm(cout, groups), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # the paper zero-initialises each block's last conv
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions, residual."""

    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(ch, groups)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)
        attn = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # (n, hw, hw)
        out = (v @ attn.transpose(1, 2)).reshape(n, c, h, w)
        return x + self.proj(out)


class UNet(nn.Module):
    """eps_theta(x_t, t): predicts the noise in x_t at integer timestep t."""

    def __init__(self, image_size: int = 32, channels: int = 3, ch: int = 128,
                 ch_mult: Sequence[int] = (1, 2, 2, 2), num_res_blocks: int = 2,
                 attn_resolutions: Sequence[int] = (16,), dropout: float = 0.1, groups: int = 32) -> None:
        super().__init__()
        self.ch = ch
        temb = 4 * ch
        self.temb = nn.Sequential(nn.Linear(ch, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)

        self.down = nn.ModuleList()
        widths, width, res = [ch], ch, image_size
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(self._level(width, ch * mult, temb, dropout, groups, res in attn_resolutions))
                width = ch * mult
                widths.append(width)
            if level != len(ch_mult) - 1:
                self.down.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
                widths.append(width)
                res //= 2
        self.mid = nn.ModuleList([ResBlock(width, width, temb, dropout, groups), AttnBlock(width, groups),
                                  ResBlock(width, width, temb, dropout, groups)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(self._level(width + widths.pop(), ch * mult, temb, dropout, groups,
                                           res in attn_resolutions))
                width = ch * mult
            if level != 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(width, width, 3, padding=1)))
                res *= 2
        self.out = nn.Sequential(_norm(width, groups), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @staticmethod
    def _level(cin: int, cout: int, temb: int, dropout: float, groups: int, attn: bool) -> nn.ModuleList:
        blocks = [ResBlock(cin, cout, temb, dropout, groups)]
        if attn:
            blocks.append(AttnBlock(cout, groups))
        return nn.ModuleList(blocks)

    @staticmethod
    def _run(block: nn.Module, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if isinstance(block, nn.ModuleList):  # ResBlock (+ attention)
            h = block[0](h, emb)
            for extra in block[1:]:
                h = extra(h)
            return h
        return block(h)  # down- or upsampling

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.temb(timestep_embedding(t, self.ch))
        hs = [self.conv_in(x)]
        for block in self.down:
            hs.append(self._run(block, hs[-1], emb))
        h = self.mid[2](self.mid[1](self.mid[0](hs[-1], emb)), emb)
        for block in self.up:
            if isinstance(block, nn.ModuleList):
                h = torch.cat([h, hs.pop()], dim=1)
            h = self._run(block, h, emb)
        return self.out(h)
