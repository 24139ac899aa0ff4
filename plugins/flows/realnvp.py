"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017): affine couplings with checkerboard and
channel-wise masks in a multi-scale architecture.

Each scale but the last (sec. 3.6): 3 checkerboard couplings (alternating masks), a 2x2 squeeze,
3 channel-wise couplings (alternating halves), then half the channels are factored out as
latents. The last scale: 4 checkerboard couplings. Coupling networks are residual conv nets
(``num_blocks`` blocks of ``hidden`` features) whose log-scale is ``scale * tanh(.)``; their
output convolution starts at zero so the untrained flow is the identity. The paper's nets also
use batch and weight normalisation and the flow has batch-norm layers; we leave those out
(the zero-initialised couplings train stably without them on this data).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .base import FlowModel
from .dequantize import DIGITS_BINS, REALNVP_ALPHA
from .layers import AffineCoupling, squeeze2d, unsqueeze2d


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet(hidden: int, num_blocks: int) -> Callable[[int, int], nn.Module]:
    """A factory of coupling networks: conv in, residual blocks, zero-initialised conv out."""
    def build(c_in: int, c_out: int) -> nn.Module:
        out = nn.Conv2d(hidden, c_out, 3, padding=1)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1),
                             *[ResBlock(hidden) for _ in range(num_blocks)], nn.ReLU(), out)
    return build


class Scale(nn.Module):
    """One scale of the multi-scale architecture."""

    def __init__(self, channels: int, net_fn: Callable[[int, int], nn.Module], last: bool) -> None:
        super().__init__()
        self.last = last
        n_checker = 4 if last else 3
        self.checker = nn.ModuleList(AffineCoupling(channels, net_fn, "checkerboard", i % 2, "tanh")
                                     for i in range(n_checker))
        self.channel = nn.ModuleList(() if last else (
            AffineCoupling(4 * channels, net_fn, "channel", i % 2, "tanh") for i in range(3)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """x -> (kept, factored-out z or None, logdet)."""
        logdet = torch.zeros(len(x), device=x.device)
        for layer in self.checker:
            x, ld = layer(x)
            logdet = logdet + ld
        if self.last:
            return x, None, logdet
        x = squeeze2d(x)
        for layer in self.channel:
            x, ld = layer(x)
            logdet = logdet + ld
        half = x.shape[1] // 2
        return x[:, :half], x[:, half:], logdet

    def inverse(self, kept: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        x = kept
        if not self.last:
            x = torch.cat([kept, z], 1)
            for layer in reversed(self.channel):
                x = layer.inverse(x)
            x = unsqueeze2d(x)
        for layer in reversed(self.checker):
            x = layer.inverse(x)
        return x


class RealNVP(FlowModel):
    """Multi-scale RealNVP over (channels, image_size, image_size) pixels in [0, 1]."""

    family = "realnvp"

    def __init__(self, image_size: int = 8, channels: int = 1, num_scales: int = 2, hidden: int = 32,
                 num_blocks: int = 2, alpha: float = REALNVP_ALPHA, num_bins: int = DIGITS_BINS) -> None:
        super().__init__()
        if num_scales < 1 or image_size % 2 ** (num_scales - 1):
            raise ValueError(f"image_size {image_size} must be divisible by 2^(num_scales-1)")
        self.image_shape = (channels, image_size, image_size)
        self.alpha, self.num_bins, self.num_scales = alpha, num_bins, num_scales
        net_fn = resnet(hidden, num_blocks)
        self.scales = nn.ModuleList()
        self.z_shapes: list[tuple[int, int, int]] = []  # factored-out latents, then the last scale's
        c, s = channels, image_size
        for i in range(num_scales):
            last = i == num_scales - 1
            self.scales.append(Scale(c, net_fn, last))
            if not last:
                c, s = 2 * c, s // 2  # squeeze (4c) and factor out half (2c kept, 2c out)
            self.z_shapes.append((c, s, s))

    def flow_forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zs, logdet, x = [], torch.zeros(len(v), device=v.device), v
        for scale in self.scales:
            x, z, ld = scale(x)
            logdet = logdet + ld
            zs.append((x if z is None else z).flatten(1))
        return torch.cat(zs, 1), logdet

    def flow_inverse(self, eps: torch.Tensor) -> torch.Tensor:
        sizes = [c * h * w for c, h, w in self.z_shapes]
        parts = [p.reshape(len(eps), *shape) for p, shape in zip(eps.split(sizes, 1), self.z_shapes)]
        x = parts[-1]
        for scale, z in zip(reversed(self.scales), [None, *reversed(parts[:-1])]):
            x = scale.inverse(x, z)
        return x
